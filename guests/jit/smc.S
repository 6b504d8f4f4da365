/* JIT exactness: self-modifying code on one hart.  Every piece of code is
 * run thousands of times first (hot: a JIT has translated it), then
 * rewritten, then run again; the result must follow the new code.
 *   1-3   a hot function's `addi` immediate patched, FENCE.I, called again
 *   4-5   the same without FENCE.I (wkvm guarantees that a store to code on
 *         the same hart is seen by the next execution; QEMU sees it too)
 *   6-7   patched before every call, without and with FENCE.I
 *   8-9   stores in a hot block rewrite later instructions of the SAME
 *         block, then FENCE.I (the next instruction, and one three
 *         further): each iteration must execute the new form (without
 *         FENCE.I: smc_same.S)
 *   10-13 a 4-byte instruction replaced by two 2-byte ones and back
 *         (instruction boundaries move inside a hot function)
 *   14-17 code patched by AMOs (amoxor.w, amoswap.w), a byte store and a
 *         doubleword store over two instructions
 *   18    a hot loop storing to a data word in its own code's cache line
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME smc
  .option norelax            /* exact alignment of the patched code */

#define HOT 3000
#define PATCHES 1500             /* loops that rewrite code every iteration */

/* call fn `n` times; fail with `chk` unless every call returns `exp` (a register) */
.macro CALL_HOT n, fn, exp, chk
  li s1, \n
.Lc\@:
  call \fn
  bne a0, \exp, .Lf\@
  addi s1, s1, -1
  bnez s1, .Lc\@
  j .Ld\@
.Lf\@:
  li a0, \chk
  j fail
.Ld\@:
.endm

/* the I-type instruction at `label` gets immediate `imm` (a register,
 * 0..2047); clobbers t1-t3 */
.macro SET_IMM label, imm
  la t1, \label
  PATCH_IMM \imm
.endm

/* reg = 10 * src */
.macro TIMES10 reg, src
  slli \reg, \src, 3
  slli t3, \src, 1
  add \reg, \reg, t3
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET

  /* 1-3: hot, patched, FENCE.I */
  li s4, 10
  CALL_HOT HOT, hot_fn, s4, 1
  li s5, 7
  SET_IMM hot_add, s5
  fence.i
  li s4, 70
  CALL_HOT 1, hot_fn, s4, 2
  CALL_HOT HOT, hot_fn, s4, 3

  /* 4-5: patched without FENCE.I */
  li s5, 3
  SET_IMM hot_add, s5
  li s4, 30
  CALL_HOT 1, hot_fn, s4, 4
  CALL_HOT HOT, hot_fn, s4, 5

  /* 6: patched before every call (immediate = i & 2047), no FENCE.I */
  li s6, PATCHES
1:
  andi s5, s6, 2047
  SET_IMM hot_add, s5
  call hot_fn
  TIMES10 s4, s5
  beq a0, s4, 2f
  li a0, 6
  j fail
2:
  addi s6, s6, -1
  bnez s6, 1b

  /* 7: the same with FENCE.I (immediate = (3 * i) & 2047) */
  li s6, PATCHES
1:
  slli s5, s6, 1
  add s5, s5, s6
  andi s5, s5, 2047
  SET_IMM hot_add, s5
  fence.i
  call hot_fn
  TIMES10 s4, s5
  beq a0, s4, 2f
  li a0, 7
  j fail
2:
  addi s6, s6, -1
  bnez s6, 1b

  /* 8-9: stores in the block rewrite the instruction after the FENCE.I
   * that follows them, and one three further on; sum over the iterations
   * of what they load into a1 and a2 (smc_same.S: the same without FENCE.I) */
  la s3, same_next
  la s7, same_later
  lwu s8, 0(s3)              /* addi a1, zero, 0 */
  lwu s9, 0(s7)              /* addi a2, zero, 0 */
  li s1, PATCHES
  li s2, 0                   /* sum of a1: i & 2047 */
  li s10, 0                  /* sum of a2: (i >> 1) & 2047 */
  .option push
  .option norvc
  .balign 4
same_loop:
  andi t1, s1, 2047
  slli t1, t1, 20
  or t1, t1, s8
  srli t2, s1, 1
  andi t2, t2, 2047
  slli t2, t2, 20
  or t2, t2, s9
  sw t2, 0(s7)               /* the later one first */
  sw t1, 0(s3)               /* then the next one but FENCE.I */
  fence.i
same_next:
  addi a1, zero, 0
  add s2, s2, a1
  addi t0, zero, 1
same_later:
  addi a2, zero, 0
  add s10, s10, a2
  addi s1, s1, -1
  bnez s1, same_loop
  .option pop
  /* the expected sums, computed plainly */
  li s1, PATCHES
  li a3, 0
  li a4, 0
1:
  andi t1, s1, 2047
  add a3, a3, t1
  srli t1, s1, 1
  andi t1, t1, 2047
  add a4, a4, t1
  addi s1, s1, -1
  bnez s1, 1b
  CHECKR 8, s2, a3
  CHECKR 9, s10, a4

  /* 10-13: a 4-byte instruction becomes two 2-byte ones (no FENCE.I), and back (FENCE.I) */
  li s4, 101
  CALL_HOT HOT, hot_fn2, s4, 10
  la t1, hot2_first
  lwu s11, 0(t1)             /* the original word, for later */
  la t2, tmpl_c2
  lwu t2, 0(t2)
  sw t2, 0(t1)
  li s4, 111
  CALL_HOT 1, hot_fn2, s4, 11
  CALL_HOT HOT, hot_fn2, s4, 12
  la t1, hot2_first
  sw s11, 0(t1)
  fence.i
  li s4, 101
  CALL_HOT HOT, hot_fn2, s4, 13

  /* 14: amoxor.w flips immediate bits of hot_add: 3 -> 3 ^ 0x50 = 0x53 */
  li s5, 3
  SET_IMM hot_add, s5
  fence.i
  li s4, 30
  CALL_HOT HOT, hot_fn, s4, 14
  la t1, hot_add
  li t2, 0x50 << 20
  amoxor.w zero, t2, (t1)
  li s4, 0x53 * 10
  CALL_HOT 1, hot_fn, s4, 14
  CALL_HOT HOT, hot_fn, s4, 14

  /* 15: amoswap.w writes a whole new instruction (immediate 9) */
  la t1, tmpl_addi9
  lwu t2, 0(t1)
  la t1, hot_add
  amoswap.w s6, t2, (t1)
  li s4, 90
  CALL_HOT 1, hot_fn, s4, 15
  CALL_HOT HOT, hot_fn, s4, 15

  /* 16: a byte store into the immediate: imm[11:4] = 2, so 9 -> 0x29 */
  la t1, hot_add
  li t2, 2
  sb t2, 3(t1)
  li s4, 0x29 * 10
  CALL_HOT 1, hot_fn, s4, 16
  CALL_HOT HOT, hot_fn, s4, 16

  /* 17: one doubleword store replaces two instructions of hot_fn3 */
  li s4, 12
  CALL_HOT HOT, hot_fn3, s4, 17
  la t1, tmpl_pair
  ld t2, 0(t1)
  la t1, hot3_pair
  sd t2, 0(t1)
  li s4, 0x700 + 0x55
  CALL_HOT 1, hot_fn3, s4, 17
  CALL_HOT HOT, hot_fn3, s4, 17

  /* 18: a hot loop whose data word shares the cache line with its code */
  la t1, line_word
  li s1, HOT
  li s2, 0
  call line_loop
  li t1, (HOT * (HOT + 1)) / 2
  CHECKR 18, s2, t1

  CHECK_NOTRAP 19
  j pass

/* ------------------------------------------------------------------ */
  .option push
  .option norvc
  .balign 8
/* a0 = 10 * the immediate of hot_add */
hot_fn:
  li a0, 0
  li t0, 10
1:
hot_add:
  addi a0, a0, 1
  addi t0, t0, -1
  bnez t0, 1b
  ret

/* a0 = 1 + 100; hot2_first becomes c.li a0, 9; c.addi a0, 2 (a0 = 111) */
  .balign 8
hot_fn2:
hot2_first:
  addi a0, zero, 1
  addi a0, a0, 100
  ret

/* a0 = 5 + 7 = 12; the pair becomes li a0, 0x700; addi a0, a0, 0x55 */
  .balign 8
hot_fn3:
hot3_pair:
  addi a0, zero, 5
  addi a0, a0, 7
  ret

/* s2 += s1 through line_word (t1), for s1 = s1..1 */
  .balign 64
line_loop:
  sd s1, 0(t1)
  ld t2, 0(t1)
  add s2, s2, t2
  addi s1, s1, -1
  bnez s1, line_loop
  ret
  .balign 8
line_word:
  .dword 0
  .option pop

  .section .rodata
  .balign 8
tmpl_c2:
  .option push
  .option rvc
  c.li a0, 9
  c.addi a0, 2
  .option pop
  .balign 8
tmpl_addi9:
  .option push
  .option norvc
  addi a0, a0, 9
  .balign 8
tmpl_pair:
  addi a0, zero, 0x700
  addi a0, a0, 0x55
  .option pop
