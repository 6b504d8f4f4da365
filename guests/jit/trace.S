/* JIT exactness: how a unit is formed.  A unit follows plain jumps (JAL
 * x0) inside its page, keeps the registers a cold tail alone uses (the
 * code after its last branch back to its start) out of its entry, loading
 * them at their first read and storing them as they are written, and
 * runs a loop at a block that is not its start as a Wasm loop of its own.
 * Each case runs 20000 times (hot at the default threshold):
 *   A (1-9)   a function whose loop is entered by a jump to its condition
 *             and whose tail, after the loop, writes registers around a
 *             load that faults on the last call: at the fault the tail's
 *             registers written before the load hold their new values,
 *             those written after it the previous call's, and a register
 *             written before the loop (in the unit's head) its new one
 *   B (10-14) a switch: an indirect jump to four cases that each jump to
 *             the loop's shared tail (sums checked)
 *   C (15-16) a loop with an inner loop that starts after the outer one's
 *             start (sums checked)
 *   D (20-27) A's calls and checks through a function whose loop is not
 *             at its start (a unit with a dispatcher, and a tail)
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME trace

#define COUNT 20000
#define MEMV  100            /* what `word` holds */

/* COUNT calls of `fn` (a0 = the call's number, s3 = &word, a5 = 1 on
 * the last call: its tail's load faults and resumes here), then the
 * checks chk..chk+7 of the registers at the fault */
.macro CALLS_FAULT fn, chk
  TRAP_RESET
  la s3, word
  li s0, 0
  li s1, COUNT
  li t2, 0
  li t3, 0
.Lcall\@:
  mv a0, s0
  li a5, 0
  addi t4, s0, 1
  bne t4, s1, .Lgo\@
  la t5, .Lfault\@           /* the last call: the load faults and resumes there */
  sd t5, TF_RESUME(gp)
  li a5, 1
.Lgo\@:
  call \fn
  addi s0, s0, 1
  bne s0, s1, .Lcall\@
  li a0, \chk
  j fail                      /* the fault never came */
.Lfault\@:
  CHECK_TRAP \chk+1, CAUSE_LOAD_ACCESS
  CHECK \chk+2, a1, 10       /* 0+1+2+3+4: the loop's sum */
  CHECK \chk+3, t0, 17       /* a1 + 7: written before the load */
  li t4, (COUNT - 1) << 3
  CHECKR \chk+4, t1, t4      /* a0 << 3: written before the load */
  CHECK \chk+5, t2, MEMV     /* the previous call's load */
  CHECK \chk+6, t3, MEMV + 1 /* the previous call's */
  li t4, COUNT - 1
  CHECKR \chk+7, a0, t4      /* not written yet */
.endm

  .text
  .globl test_main
test_main:
  /* ---- A: 20000 calls; the last one faults in the tail ---- */
  CALLS_FAULT tfunc, 1
  CHECK 9, a6, 0x55           /* the head's: written before the loop */
  /* ---- D: the same through a unit with a dispatcher ---- */
  CALLS_FAULT tfunc2, 20

  /* ---- B: a switch whose cases jump to the loop's tail ---- */
  TRAP_RESET
  li s0, 0
  li s1, COUNT
  li s2, 0
  li s3, 0
  li s4, 0
  li s5, 0
  la s6, cases
.LB_loop:
  andi t0, s0, 3
  slli t0, t0, 3
  add t0, t0, s6
  ld t0, 0(t0)
  jr t0
.LB_case0:
  addi s2, s2, 1
  j .LB_tail
.LB_case1:
  add s3, s3, s0
  j .LB_tail
.LB_case2:
  mul t1, s0, s0
  add s4, s4, t1
  j .LB_tail
.LB_case3:
  slli t1, s5, 1
  add s5, s5, t1
  add s5, s5, s0
  j .LB_tail
.LB_tail:
  addi s0, s0, 1
  bne s0, s1, .LB_loop
  CHECK_NOTRAP 10
  CHECK 11, s2, 5000
  li t4, 49995000
  CHECKR 12, s3, t4
  li t4, 666666660000
  CHECKR 13, s4, t4
  li t4, 0xa77cb67ed442f000
  CHECKR 14, s5, t4

  /* ---- C: an inner loop after the outer loop's start ---- */
  li s6, 0
  li s7, 0
  li s8, COUNT
  li t1, 8
.LC_outer:
  li t0, 0
.LC_inner:
  addi t0, t0, 1
  add s6, s6, t0
  blt t0, t1, .LC_inner
  addi s7, s7, 1
  blt s7, s8, .LC_outer
  li t4, COUNT * 36
  CHECKR 15, s6, t4
  CHECK 16, t0, 8
  j pass

/* a0 = the call's number, a5 = 1: fault in the tail; s3 = &word; clobbers a1-a4, a6, t0-t3 */
tfunc:
  li a6, 0x55
  li a1, 0
  li a2, 0
  li a3, 5
  j 4f                        /* into the loop at its condition */
3:
  add a1, a1, a2
  addi a2, a2, 1
4:
  blt a2, a3, 3b
  /* the tail: the loop is done */
  addi t0, a1, 7
  slli t1, a0, 3
  addi a4, a5, -1             /* a5 = 1: physical 0, where no memory is (branch-free: the tail is straight) */
  and a4, a4, s3
  ld t2, 0(a4)
  addi t3, t2, 1
  add a0, t0, t1
  ret

/* tfunc's work with the loop at a block that is not the unit's start
 * (the unit needs a dispatcher); the same registers, no a6 */
tfunc2:
  li a1, 0
  li a2, 0
  li a3, 5
6:
  add a1, a1, a2
  addi a2, a2, 1
  blt a2, a3, 6b
  addi t0, a1, 7
  slli t1, a0, 3
  addi a4, a5, -1
  and a4, a4, s3
  ld t2, 0(a4)
  addi t3, t2, 1
  add a0, t0, t1
  ret

  .section .rodata
  .balign 8
cases:
  .dword .LB_case0, .LB_case1, .LB_case2, .LB_case3

  .data
  .balign 8
word:
  .dword MEMV
