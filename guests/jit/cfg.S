/* JIT exactness: control flow inside a unit.  A unit takes in the warm
 * targets of its branches in the same page (code placed out of line that
 * the guest runs often), lays its blocks out so that its loops and forward
 * branches are Wasm loops and blocks, and keeps a `br_table` dispatcher for
 * control flow that is not reducible.  Each case runs COUNT times (hot at
 * the default threshold) and checks its sums:
 *   E (1-3)   a loop whose odd iterations take an arm placed out of line
 *             that jumps back into the loop
 *   F (4-6)   a loop entered in its middle on odd rounds (not reducible)
 *   G (7-9)   nested loops with a branch out of both (a break), in a
 *             function called COUNT times with changing limits
 *   H (10-12) an out-of-line arm that runs on, without a jump, into the
 *             loop's join point
 *   I (13-19) an out-of-line arm whose load faults on its last round (of
 *             ICOUNT):
 *             the registers the arm and the loop wrote before the load
 *             hold their new values, mepc and mtval are the load's
 *   J (20-29) AMOs (add, swap, xor, or, and; .W and .D) in a hot loop, the
 *             last round's last one misaligned: the memory and registers
 *             the AMOs before it wrote, and the trap at it (store/AMO
 *             address misaligned; QEMU 7.2 says load: exit 29 there)
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME cfg

#define COUNT 20000
#define ICOUNT 60000       /* I's rounds: more, so that its loop runs translated when it faults */
#define GSUM  1912432       /* the sum over rounds of min(round & 255, 128) */

  .text
  .globl test_main
test_main:
  TRAP_RESET
  li s1, COUNT

  /* ---- E: an out-of-line arm that jumps back into the loop ---- */
  li s0, 0
  li s2, 0
  li s3, 0
.LE_loop:
  andi t0, s0, 1
  bnez t0, .LE_odd
.LE_back:
  add s2, s2, s0
  addi s0, s0, 1
  bne s0, s1, .LE_loop
  CHECK_NOTRAP 1
  li t4, 199990000            /* sum of 0..19999 */
  CHECKR 2, s2, t4
  li t4, 300000000            /* 3 * (1 + 3 + ... + 19999) */
  CHECKR 3, s3, t4

  /* ---- F: a loop entered in its middle (not reducible) ---- */
  li s0, 0
  li s4, 0
  li s5, 0
.LF_outer:
  andi t0, s0, 1
  li t1, 3
  bnez t0, .LF_mid
.LF_top:
  addi s4, s4, 1
.LF_mid:
  addi s5, s5, 2
  addi t1, t1, -1
  bnez t1, .LF_top
  addi s0, s0, 1
  bne s0, s1, .LF_outer
  CHECK_NOTRAP 4
  li t4, 50000                /* 3 per even round, 2 per odd one */
  CHECKR 5, s4, t4
  li t4, 120000               /* 3 rounds of the middle, 2 each */
  CHECKR 6, s5, t4

  /* ---- G: nested loops with a break out of both ---- */
  li s0, 0
  li s6, 0
.LG_call:
  andi a0, s0, 255            /* the break's limit: 0..255 (128 and up: no break) */
  call gfunc
  add s6, s6, a0
  addi s0, s0, 1
  bne s0, s1, .LG_call
  CHECK_NOTRAP 7
  li t4, GSUM
  CHECKR 8, s6, t4
  CHECK 9, s0, COUNT

  /* ---- H: an out-of-line arm that runs on into the join ---- */
  li s0, 0
  li s2, 0
  li s3, 0
.LH_loop:
  andi t0, s0, 3
  beqz t0, .LH_side
  addi s2, s2, 1
  j .LH_join
  /* I's loop sits here, between H's loop and its arm */
  j .LI_start
.LH_side:
  addi s3, s3, 5
.LH_join:
  addi s0, s0, 1
  bne s0, s1, .LH_loop
  CHECK_NOTRAP 10
  CHECK 11, s2, 15000
  CHECK 12, s3, 25000
  j .LI_start

  /* ---- I: a fault in an out-of-line arm ---- */
.LI_start:
  TRAP_RESET
  SET_RESUME .LI_fault
  la s3, word
  li s0, 0
  li s1, ICOUNT
  li s2, 0
  li s4, 0
  li s7, ICOUNT - 1
.LI_loop:
  andi t0, s0, 1
  bnez t0, .LI_odd
.LI_back:
  add s2, s2, s0
  addi s0, s0, 1
  bne s0, s1, .LI_loop
  li a0, 13
  j fail                      /* the fault never came */
.LI_fault:
  CHECK_TRAP 14, CAUSE_LOAD_ACCESS
  li t4, 1799910001           /* sum of 0..59998: the last round's add comes after the arm */
  CHECKR 15, s2, t4
  li t4, ICOUNT - 1
  CHECKR 16, s0, t4           /* not incremented yet */
  li t4, 900029999            /* odd rounds before: s0 + 1 each (29999 of them: 29999^2 + 29999); this one's s0 */
  CHECKR 17, s4, t4
  CHECK 18, t2, 1             /* the previous round's load */
  CHECK_EPC 19, .LI_load

  /* ---- J: AMOs in a hot loop; the last round's last one is misaligned ---- */
  TRAP_RESET
  SET_RESUME .LJ_fault
  la s3, amow
  addi s4, s3, 8
  addi s5, s3, 16
  addi s6, s3, 24
  li s0, 0
  li s1, ICOUNT
  li s2, 0
  li s7, ICOUNT - 1
  li s8, 0
  li t0, 3
.LJ_loop:
  amoadd.w t1, t0, (s3)       /* w += 3 */
  add s2, s2, t1
  amoswap.d.aqrl t2, s0, (s4) /* d = the round */
  add s2, s2, t2
  amoxor.w t3, s0, (s5)       /* x ^= the round */
  add s8, s8, t3
  amoor.d zero, s0, (s6)      /* y |= the round */
  sub t5, s0, s7              /* 0 on the last round */
  seqz t5, t5
  slli t5, t5, 1
  add a5, s3, t5              /* &w, or &w + 2 on the last round */
.LJ_and:
  amoand.w t4, t0, (a5)       /* w &= 3, or misaligned */
  addi s0, s0, 1
  bne s0, s1, .LJ_loop
  li a0, 20
  j fail                      /* the fault never came */
.LJ_fault:
  li t6, 1800000001           /* the old values of w and d (the round before) */
  CHECKR 21, s2, t6
  li t6, 900000000            /* the old values of x */
  CHECKR 22, s8, t6
  lwu t6, 0(s3)
  CHECK 23, t6, 4             /* w: this round's add, not its and */
  ld t6, 0(s4)
  CHECK 24, t6, ICOUNT - 1
  lwu t6, 0(s5)
  CHECK 25, t6, 0             /* x: 0 ^ 1 ^ ... ^ 59999 */
  ld t6, 0(s6)
  CHECK 26, t6, 65535
  li t6, ICOUNT - 1
  CHECKR 27, s0, t6
  CHECK_EPC 28, .LJ_and
  /* NOTE: QEMU 7.2 raises a misaligned AMO as a load's (4): it fails here */
  CHECK_TRAP 29, CAUSE_MISALIGNED_STORE
  j pass

  /* the out-of-line arms (same page as their loops) */
.LE_odd:
  add s3, s3, s0
  slli t1, s0, 1
  add s3, s3, t1
  j .LE_back

.LI_odd:
  add s4, s4, s0              /* s0 odd */
  sub t3, s0, s7              /* 0 on the last round */
  snez t3, t3
  neg t3, t3
  and t3, t3, s3              /* &word, or physical 0 (no memory) on the last round */
.LI_load:
  ld t2, 0(t3)
  add s4, s4, t2
  addi s4, s4, -1             /* word = 1: s4 += s0 + 1 in all */
  sub s4, s4, s0
  add s4, s4, s0
  add s4, s4, t2
  addi s4, s4, -1
  sub s4, s4, s0
  add s4, s4, s0
  add s4, s4, t2
  j .LI_back

/* a0 = the break's limit; returns how many inner rounds ran before it
 * (an inner loop of 8 inside an outer loop of 16, left when the count
 * reaches the limit, or at the end) */
gfunc:
  li t0, 0                    /* count */
  li t1, 0                    /* outer */
  li t3, 16
  li t4, 8
.LG_outer:
  li t2, 0
.LG_inner:
  beq t0, a0, .LG_out
  addi t0, t0, 1
  addi t2, t2, 1
  blt t2, t4, .LG_inner
  addi t1, t1, 1
  blt t1, t3, .LG_outer
.LG_out:
  mv a0, t0
  ret

  .data
  .balign 8
word:
  .dword 1
  .balign 4096               /* a page of its own: AMOs to a page that holds code drop its translations */
amow:
  .dword 0, 0, 0, 0
