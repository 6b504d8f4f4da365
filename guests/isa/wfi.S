/* WFI: with mstatus.MIE = 0 and mie.MTIE = 1, WFI returns once the timer
 * interrupt is pending (no trap is taken); with MIE = 1 the interrupt is
 * taken after the WFI (mepc past the WFI, never the WFI itself). */
#include "isa.h"
TEST_NAME wfi

  .text
  .globl test_main
test_main:
  TRAP_RESET
  li s0, CLINT_MTIME
  li s1, CLINT_MTIMECMP0
  csrci mstatus, MSTATUS_MIE
  li t0, MIE_MTIE
  csrw mie, t0

  /* 1: MIE = 0 */
  ld a1, 0(s0)
  li t0, 2000               /* 200 us */
  add s2, a1, t0
  sd s2, 0(s1)
  li t0, 2000000            /* give up after 200 ms */
  add s3, a1, t0
1:
  wfi
  csrr t0, mip
  andi t0, t0, MIP_MTIP
  bnez t0, 2f
  ld t0, 0(s0)
  bltu t0, s3, 1b
  li a0, 1
  j fail
2:
  ld a2, 0(s0)
  bltu a2, s2, .Lbad2
  CHECK_NOTRAP 3
  li t0, -1
  sd t0, 0(s1)

  /* 2: a pending software interrupt makes WFI return at once (MIE = 0) */
  li t0, MIE_MSIE
  csrw mie, t0
  li t0, CLINT_MSIP0
  li t1, 1
  sw t1, 0(t0)
  li a5, 1000000
1:
  csrr t0, mip
  andi t0, t0, MIP_MSIP
  bnez t0, 2f
  addi a5, a5, -1
  bnez a5, 1b
  li a0, 4
  j fail
2:
  wfi
  CHECK_NOTRAP 5
  li t0, CLINT_MSIP0
  sw zero, 0(t0)

  /* 3: MIE = 1: the interrupt is taken after the WFI */
  TRAP_RESET
  li t0, MIE_MTIE
  csrw mie, t0
  ld a1, 0(s0)
  li t0, 2000
  add s2, a1, t0
  sd s2, 0(s1)
  li t0, 2000000
  add s3, a1, t0
  /* the interrupt resumes at 2f whatever it interrupted: if the host was
   * slow (a first-time code path being compiled, say) and the deadline passed
   * before MIE was set, the interrupt is (rightly) taken before the WFI, and
   * returning to the WFI, with the timer now off, would sleep forever */
  SET_IRQ_RESUME 2f
  csrsi mstatus, MSTATUS_MIE
.Lwfi:
  wfi
.Lspin:
  ld t0, TF_COUNT(gp)
  bnez t0, 2f
  ld t0, 0(s0)
  bltu t0, s3, .Lspin
.Lspin_end:
  li a0, 6
  j fail
2:
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 7, CAUSE_IRQ_MTI
  ld t5, TF_EPC(gp)
  la t6, .Lwfi
  beq t5, t6, 3f           /* taken before the WFI: the deadline had passed */
  la t6, .Lspin
  bltu t5, t6, .Lbad8
  la t6, .Lspin_end
  bgeu t5, t6, .Lbad8
3:
  csrw mie, zero
  j pass
.Lbad2:
  li a0, 2
  j fail
.Lbad8:
  li a0, 8
  j fail
