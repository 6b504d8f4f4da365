/* JIT exactness: a store in a hot block rewrites a later instruction of
 * the SAME block, with no FENCE.I.  The RISC-V spec lets the old
 * instruction run; wkvm guarantees that a store to code on the same hart
 * is seen by the next execution, so each iteration must execute the new
 * form.  Loops of 1500 iterations sum what the rewritten instruction
 * produced:
 *   1   the instruction right after the store (a 4-byte addi's immediate)
 *   2   one three instructions further on
 *   3   one twenty instructions further on
 *   4   a 2-byte c.li rewritten by a halfword store
 *   5   a 4-byte addi replaced by two 2-byte instructions and back, in
 *       alternate iterations (the instruction boundaries move)
 *   7   a page stored to before any of it ran (the store TLB holds it),
 *       then run, then rewritten through the same mapping: the next call
 *       runs the new instruction (a page that turns into code leaves the
 *       store TLB)
 * NOTE: QEMU 7.2 fails check 1: it has no precise self-modifying code for
 * RISC-V (the translated block runs on to its end with the old
 * instructions), which the spec allows without FENCE.I.
 * smc.S has the FENCE.I form, which QEMU passes. */
#include "isa.h"
TEST_NAME smc_same
  .option norelax            /* exact alignment of the patched code */

#define HOT 1500

/* sum over i = HOT..1 of (i & 2047) into reg; clobbers t1, t2 */
.macro EXPECTED reg
  li t2, HOT
  li \reg, 0
.Le\@:
  andi t1, t2, 2047
  add \reg, \reg, t1
  addi t2, t2, -1
  bnez t2, .Le\@
.endm

/* a hot loop: store immediate (i & 2047) into the addi `d` instructions
 * after the store, execute it, sum a1 into s2; fail `chk` unless exact */
.macro SAME_BLOCK d, chk
  la s3, .Lt\@
  lwu s8, 0(s3)              /* addi a1, zero, 0 */
  li s1, HOT
  li s2, 0
  .option push
  .option norvc
  .balign 4
.Ll\@:
  andi t1, s1, 2047
  slli t1, t1, 20
  or t1, t1, s8
  sw t1, 0(s3)
  .rept \d
  addi t0, t0, 1
  .endr
.Lt\@:
  addi a1, zero, 0
  add s2, s2, a1
  addi s1, s1, -1
  bnez s1, .Ll\@
  .option pop
  EXPECTED a3
  CHECKR \chk, s2, a3
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  SAME_BLOCK 0, 1
  SAME_BLOCK 3, 2
  SAME_BLOCK 20, 3

  /* 4: c.li a1, imm with imm = i & 31, by a halfword store */
  la s3, .Lc_target
  lhu s8, 0(s3)              /* c.li a1, 0 */
  li s1, HOT
  li s2, 0
  .balign 4
.Lc_loop:
  andi t1, s1, 31
  slli t2, t1, 2             /* imm[4:0] -> bits 6:2 (imm[5] stays 0) */
  or t2, t2, s8
  sh t2, 0(s3)
  c.addi t0, 1
.Lc_target:
  c.li a1, 0
  add s2, s2, a1
  addi s1, s1, -1
  bnez s1, .Lc_loop
  /* expected: sum of i & 31 */
  li t2, HOT
  li a3, 0
1:
  andi t1, t2, 31
  add a3, a3, t1
  addi t2, t2, -1
  bnez t2, 1b
  CHECKR 4, s2, a3

  /* 5: odd iterations run `addi a1, zero, 100` (4 bytes), even ones
   * `c.li a1, 9; c.addi a1, 2` (2 + 2 bytes): 100 * 750 + 11 * 750 */
  la s3, .Lw_target
  lwu s8, 0(s3)              /* the 4-byte form */
  la t1, tmpl_c2
  lwu s9, 0(t1)              /* the two 2-byte instructions */
  li s1, HOT
  li s2, 0
  .balign 4
.Lw_loop:
  andi t1, s1, 1
  mv t2, s9
  beqz t1, 2f
  mv t2, s8
2:
  sw t2, 0(s3)
  .option push
  .option norvc
.Lw_target:
  addi a1, zero, 100
  .option pop
  add s2, s2, a1
  addi s1, s1, -1
  bnez s1, .Lw_loop
  li a3, 100 * (HOT / 2) + 11 * (HOT / 2)
  CHECKR 5, s2, a3

  CHECK_NOTRAP 6

  /* 7: patch_page has not run yet; a store to it (its own first
   * instruction, unchanged) fills the store TLB, a call runs it, a store
   * rewrites `li a0, 1` as `li a0, 2`, and the next call must return 2 */
  la s3, patch_page
  lwu s8, 0(s3)              /* li a0, 1 */
  sw s8, 0(s3)
  call patch_page
  CHECK 7, a0, 1
  li t1, 0x00200513          /* li a0, 2 (addi a0, zero, 2) */
  sw t1, 0(s3)
  call patch_page
  CHECK 8, a0, 2
  j pass

  /* alone in its page: nothing runs there before case 7 */
  .balign 4096
patch_page:
  .option push
  .option norvc
  li a0, 1
  .option pop
  ret
  .balign 4096

  .section .rodata
  .balign 8
tmpl_c2:
  .option push
  .option rvc
  c.li a1, 9
  c.addi a1, 2
  .option pop
