/* Machine software interrupt through the CLINT msip register:
 * msip = 1 sets mip.MSIP; with mie.MSIE and mstatus.MIE it traps with
 * mcause = 0x8000000000000003, mtval = 0, mepc = the next instruction to
 * run (right after the CSR write that enabled it); MIE is saved in MPIE
 * and cleared; clearing msip clears mip.MSIP; no trap while mie.MSIE = 0. */
#include "isa.h"
TEST_NAME irq_msip

  .text
  .globl test_main
test_main:
  TRAP_RESET
  li s0, CLINT_MSIP0
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  CHECK 1, a0, 0
  lw a0, 0(s0)
  CHECK 2, a0, 0

  /* pending, not enabled globally */
  li t0, MIE_MSIE
  csrw mie, t0
  li t1, 1
  sw t1, 0(s0)
  lw a0, 0(s0)
  CHECK 3, a0, 1
  WAIT_MIP 4, MIP_MSIP, MIP_MSIP
  CHECK_NOTRAP 5

  /* enabling MIE takes it immediately */
  csrsi mstatus, MSTATUS_MIE
.Lafter:
  nop
  CHECK_TRAP 6, CAUSE_IRQ_MSI
  CHECK_EPC 7, .Lafter
  CHECK_TVAL 8, 0
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
  and a1, a1, t0
  CHECK 9, a1, MSTATUS_MPP | MSTATUS_MPIE
  csrr a1, mstatus
  andi a1, a1, MSTATUS_MIE
  CHECK 10, a1, MSTATUS_MIE
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  CHECK 11, a0, 0
  lw a0, 0(s0)
  CHECK 12, a0, 0

  /* with everything enabled, a store to msip interrupts promptly */
  TRAP_RESET
  li t1, 1
  sw t1, 0(s0)
  li a5, 1000000
1:
  ld t0, TF_COUNT(gp)
  bnez t0, 2f
  addi a5, a5, -1
  bnez a5, 1b
2:
  CHECK_TRAP 13, CAUSE_IRQ_MSI

  /* mie.MSIE = 0: pending but never taken */
  TRAP_RESET
  csrw mie, zero
  li t1, 1
  sw t1, 0(s0)
  WAIT_MIP 14, MIP_MSIP, MIP_MSIP
  li a5, 1000
1:
  addi a5, a5, -1
  bnez a5, 1b
  CHECK_NOTRAP 15
  sw zero, 0(s0)
  WAIT_MIP 16, MIP_MSIP, 0
  csrci mstatus, MSTATUS_MIE
  CHECK_NOTRAP 17
  j pass
