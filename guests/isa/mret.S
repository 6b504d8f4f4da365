/* MRET: pc = mepc, MIE = MPIE, MPIE = 1, MPP = U (least privileged
 * supported mode), privilege = old MPP; a pending enabled interrupt is
 * taken right after the MRET that enables it (mepc = MRET's target). */
#include "isa.h"
TEST_NAME mret

  .text
  .globl test_main
test_main:
  TRAP_RESET
  csrw mie, zero
  /* MPIE = 1, MIE = 0, MPP = M -> MIE = 1, MPIE = 1, MPP = U */
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  li t0, MSTATUS_MPIE | MSTATUS_MPP
  csrs mstatus, t0
  la t0, 1f
  csrw mepc, t0
  mret
  li a0, 1
  j fail
1:
  csrr a1, mstatus
  csrci mstatus, MSTATUS_MIE
  li t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
  and a1, a1, t0
  CHECK 2, a1, MSTATUS_MIE | MSTATUS_MPIE
  /* MPIE = 0, MIE = 1 -> MIE = 0, MPIE = 1 */
  li t0, MSTATUS_MPIE
  csrc mstatus, t0
  li t0, MSTATUS_MPP | MSTATUS_MIE
  csrs mstatus, t0
  la t0, 1f
  csrw mepc, t0
  mret
  li a0, 3
  j fail
1:
  csrr a1, mstatus
  li t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
  and a1, a1, t0
  CHECK 4, a1, MSTATUS_MPIE
  /* still in M-mode (MPP was M): M CSRs accessible */
  csrr a1, mscratch
  CHECK_NOTRAP 5

  /* MPP = U: mret enters U-mode */
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  SET_RESUME .Lback
  la t0, .Lu
  csrw mepc, t0
  mret
.Lu:
  csrr a0, mscratch        /* illegal in U-mode */
  ecall
.Lback:
  CHECK_TRAP 6, CAUSE_ILLEGAL
  CHECK_EPC 7, .Lu
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP
  and a1, a1, t0
  CHECK 8, a1, 0

  /* mret with MPIE = 1 and a pending, enabled interrupt: taken right
   * after mret, at the target instruction */
  csrci mstatus, MSTATUS_MIE   /* the U-mode round trip left MIE = 1 */
  TRAP_RESET
  li t0, MIE_MSIE
  csrw mie, t0
  li t0, CLINT_MSIP0
  li t1, 1
  sw t1, 0(t0)
  li a2, 100000
1:
  csrr t1, mip
  andi t1, t1, MIP_MSIP
  bnez t1, 2f
  addi a2, a2, -1
  bnez a2, 1b
  li a0, 9
  j fail
2:
  CHECK_NOTRAP 10
  li t0, MSTATUS_MPIE | MSTATUS_MPP
  csrs mstatus, t0
  la t0, .Ltarget
  csrw mepc, t0
  mret
.Ltarget:
  nop
  csrci mstatus, MSTATUS_MIE
  csrw mie, zero
  CHECK_TRAP 11, CAUSE_IRQ_MSI
  CHECK_EPC 12, .Ltarget
  j pass
