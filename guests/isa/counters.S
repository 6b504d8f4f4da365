/* Zicntr / Zihpm counters as QEMU's default rv64 CPU offers them
 * (privileged spec, "Machine Counter/Timers", "Machine Counter-Inhibit"):
 * a write to minstret is the value the next instruction reads;
 * mcountinhibit holds CY, IR and HPM3..18 (TM and the rest read zero) and
 * freezes an inhibited counter at its value; mhpmcounter3..18 hold what is
 * written while their mhpmevent selects nothing and count while it selects
 * an event they can count (2: instructions); mhpmcounter19..31 and
 * mhpmevent19..31 read zero.
 * NOTE: QEMU 7.2 fails check 1 (minstret and mcycle run on host ticks),
 * and 2-5, 10 and 12-14 after it (mcountinhibit keeps every bit and does
 * not stop mcycle/minstret; mhpmcounter19..31 trap). */
#include "isa.h"
TEST_NAME counters

.macro DELAY n
  li t0, \n
1:
  addi t0, t0, -1
  bnez t0, 1b
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  /* a write to minstret is the value the next instruction reads */
  li a1, 1000
  csrw minstret, a1
  csrr a0, minstret
  CHECK 1, a0, 1000

  /* mcountinhibit: the writable bits */
  li a1, -1
  csrw mcountinhibit, a1
  csrr a0, mcountinhibit
  CHECK 2, a0, 0x7fffd
  csrw mcountinhibit, zero

  /* IR inhibited: minstret stands still, and counts on from there after */
  li a1, 4
  csrw mcountinhibit, a1
  csrr a1, minstret
  DELAY 50
  csrr a2, minstret
  CHECKR 3, a1, a2
  csrw mcountinhibit, zero
  csrr a3, minstret
  sub a0, a3, a2
  sltiu a0, a0, 10
  CHECK 4, a0, 1
  /* CY inhibited: mcycle stands still */
  li a1, 1
  csrw mcountinhibit, a1
  csrr a1, mcycle
  DELAY 50
  csrr a2, mcycle
  CHECKR 5, a1, a2
  csrw mcountinhibit, zero

  /* mhpmcounter3 and 18 hold a written value while no event is selected */
  li a1, 0x123456789
  csrw mhpmcounter3, a1
  li a2, 0xabc
  csrw mhpmcounter18, a2
  DELAY 50
  csrr a0, mhpmcounter3
  CHECKR 6, a0, a1
  csrr a0, mhpmcounter18
  CHECKR 7, a0, a2

  /* mhpmevent3 = 2 (instructions): mhpmcounter3 counts up from its value */
  li a1, 2
  csrw mhpmevent3, a1
  csrr a0, mhpmevent3
  CHECK 8, a0, 2
  csrr a1, mhpmcounter3
  DELAY 50
  csrr a2, mhpmcounter3
  sub a0, a2, a1
  sltiu a0, a0, 100
  CHECK 9, a0, 0
  /* HPM3 inhibited: it stands still */
  li a1, 8
  csrw mcountinhibit, a1
  csrr a1, mhpmcounter3
  DELAY 50
  csrr a2, mhpmcounter3
  CHECKR 10, a1, a2
  csrw mcountinhibit, zero
  /* no event again: it stands still */
  csrw mhpmevent3, zero
  csrr a1, mhpmcounter3
  DELAY 50
  csrr a2, mhpmcounter3
  CHECKR 11, a1, a2

  /* counters and events past 18 read zero */
  li a1, 77
  csrw mhpmcounter19, a1
  csrr a0, mhpmcounter19
  CHECK 12, a0, 0
  csrw mhpmcounter31, a1
  csrr a0, mhpmcounter31
  CHECK 13, a0, 0
  csrw mhpmevent19, a1
  csrr a0, mhpmevent19
  CHECK 14, a0, 0
  /* M-mode reads hpmcounter3 (the user alias) as mhpmcounter3 */
  li a1, 55
  csrw mhpmcounter3, a1
  csrr a0, hpmcounter3
  CHECK 15, a0, 55
  CHECK_NOTRAP 16
  j pass
