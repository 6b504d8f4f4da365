/* JIT exactness: a switch, an indirect jump through a table of addresses.
 * A unit that holds the jump takes in the warm code after it in its page
 * (the cases) and compares the jump's target with each of them, so that
 * those stay inside the unit (src/jit/translate.ts, discover() and
 * OP_JALR); any other target leaves the unit as before. `swloop` runs the
 * switch COUNT times over eight table entries: cases 0-5 after the jump
 * (case 3 runs on into case 4), case 6 before it and case 7 in another page
 * (those two leave the unit); `refloop` computes the same sums with
 * compares and branches from a table of case numbers.
 *   1-3    the sums of swloop and refloop agree
 *   4-6    the table rewritten (a data store, no FENCE.I): entry 1 goes to
 *          case 5 from now on, the translated switch follows it
 *   7-9    case 2 faults once (a load from address 0, armed to fire at its
 *          1000th run): the sums still agree (the handler skips the load)
 *   10-12  exactly one trap: a load access fault at the load, mtval 0
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME switch

#define COUNT 40000          /* rounds per call: hot at the default threshold (16384) */

/* t0 = the table index of round s0: (5 * i + (i >> 3)) & 7 */
.macro INDEX
  slli t0, s0, 2
  add t0, t0, s0
  srli t1, s0, 3
  add t0, t0, t1
  andi t0, t0, 7
.endm

  .text
  .globl test_main
test_main:                   /* ends at pass or fail: its ra is not kept */
  TRAP_RESET
  li s10, 0                  /* no fault armed */
  li s11, 0                  /* the faulting load's address */

  call swloop
  mv a3, s2
  mv a4, s3
  mv a5, s4
  call refloop
  CHECKR 1, a3, s2
  CHECKR 2, a4, s3
  CHECKR 3, a5, s4

  /* entry 1 -> case 5, in both tables */
  la t0, table
  la t1, .Lcase5
  sd t1, 8(t0)
  la t0, cases
  li t1, 5
  sb t1, 1(t0)
  call swloop
  mv a3, s2
  mv a4, s3
  mv a5, s4
  call refloop
  CHECKR 4, a3, s2
  CHECKR 5, a4, s3
  CHECKR 6, a5, s4
  CHECK_NOTRAP 6

  /* case 2 faults at its 1000th run */
  li s10, 1000
  call swloop
  mv a3, s2
  mv a4, s3
  mv a5, s4
  call refloop
  CHECKR 7, a3, s2
  CHECKR 8, a4, s3
  CHECKR 9, a5, s4
  CHECK_TRAP 10, CAUSE_LOAD_ACCESS
  CHECK_EPC 11, .Lfault_ld
  CHECK_TVAL 12, 0
  j pass

/* case 6, placed before the jump: the unit does not take it in */
.Lcase6:
  addi s4, s4, 3
  j .Ltail

/* s2, s3, s4 = the sums of COUNT rounds of the switch */
swloop:
  li s0, 0
  li s1, COUNT
  li s2, 0
  li s3, 0
  li s4, 0
  la s5, table
.Lloop:
  INDEX
  slli t0, t0, 3
  add t0, t0, s5
  ld t1, 0(t0)
  jr t1
.Lcase0:
  addi s2, s2, 1
  j .Ltail
.Lcase1:
  add s2, s2, s0
  j .Ltail
.Lcase2:
  xor s3, s3, s0
  beqz s10, .Ltail           /* no fault armed */
  addi s10, s10, -1
  bnez s10, .Ltail
.Lfault_ld:
  ld t3, 0(s11)
  j .Ltail
.Lcase3:
  addi s3, s3, 2             /* runs on into case 4 */
.Lcase4:
  addi s3, s3, 5
  j .Ltail
.Lcase5:
  slli t2, s0, 1
  add s4, s4, t2
.Ltail:
  addi s0, s0, 1
  bne s0, s1, .Lloop
  ret

/* the same sums from the case numbers, with compares and branches */
refloop:
  li s0, 0
  li s1, COUNT
  li s2, 0
  li s3, 0
  li s4, 0
  la s5, cases
.Lrloop:
  INDEX
  add t0, t0, s5
  lbu t1, 0(t0)
  li t2, 0
  beq t1, t2, .Lr0
  li t2, 1
  beq t1, t2, .Lr1
  li t2, 2
  beq t1, t2, .Lr2
  li t2, 3
  beq t1, t2, .Lr3
  li t2, 4
  beq t1, t2, .Lr4
  li t2, 5
  beq t1, t2, .Lr5
  li t2, 6
  beq t1, t2, .Lr6
  xor s4, s4, s0             /* case 7 */
  j .Lrtail
.Lr0:
  addi s2, s2, 1
  j .Lrtail
.Lr1:
  add s2, s2, s0
  j .Lrtail
.Lr2:
  xor s3, s3, s0
  j .Lrtail
.Lr3:
  addi s3, s3, 7
  j .Lrtail
.Lr4:
  addi s3, s3, 5
  j .Lrtail
.Lr5:
  slli t2, s0, 1
  add s4, s4, t2
  j .Lrtail
.Lr6:
  addi s4, s4, 3
.Lrtail:
  addi s0, s0, 1
  bne s0, s1, .Lrloop
  ret

/* case 7, in another page: the unit does not take it in */
  .balign 4096
.Lcase7:
  xor s4, s4, s0
  j .Ltail

  .data
  .balign 8
table:
  .dword .Lcase0, .Lcase1, .Lcase2, .Lcase3, .Lcase4, .Lcase5, .Lcase6, .Lcase7
cases:
  .byte 0, 1, 2, 3, 4, 5, 6, 7
