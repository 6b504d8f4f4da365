/* ECALL from M-mode (mcause 11) and from U-mode (mcause 8, entered by
 * MRET with MPP = 0): mepc = the ecall, mtval = 0, trap entry sets
 * MPP = previous mode, MPIE = previous MIE, MIE = 0. */
#include "isa.h"
TEST_NAME trap_ecall

  .text
  .globl test_main
test_main:
  /* ecall from M-mode, MIE = 0 */
  TRAP_RESET
  li a0, 0x1111
.Lecall_m:
  ecall
  CHECK_TRAP 1, CAUSE_ECALL_M
  CHECK_EPC 2, .Lecall_m
  CHECK_TVAL 3, 0
  CHECK 4, a0, 0x1111
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
  and a1, a1, t0
  CHECK 5, a1, MSTATUS_MPP
  /* ecall from M-mode with MIE = 1 (mie = 0: no interrupt can fire) */
  TRAP_RESET
  csrsi mstatus, MSTATUS_MIE
  ecall
  csrr a2, mstatus
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 6, CAUSE_ECALL_M
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
  and a1, a1, t0
  CHECK 7, a1, MSTATUS_MPP | MSTATUS_MPIE
  /* ... and MRET restored MIE = 1 */
  andi a2, a2, MSTATUS_MIE
  CHECK 8, a2, MSTATUS_MIE

  /* ecall from U-mode */
  TRAP_RESET
  SET_RESUME .Lback_u
  la t0, .Luser
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li a0, 0x2222
  mret
.Luser:
  addi a0, a0, 1
.Lecall_u:
  ecall
  /* not reached: the handler resumes at .Lback_u in M-mode */
  ebreak
.Lback_u:
  CHECK_TRAP 9, CAUSE_ECALL_U
  CHECK_EPC 10, .Lecall_u
  CHECK_TVAL 11, 0
  CHECK 12, a0, 0x2223
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP
  and a1, a1, t0
  CHECK 13, a1, 0
  /* back in M-mode: an M-only CSR is accessible */
  csrr a1, mscratch
  CHECK_TRAP 14, CAUSE_ECALL_U

  /* ecall from U-mode, returning to U-mode with the handler's default
   * skip, then a second ecall comes back to M */
  TRAP_RESET
  la t0, .Luser2
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  mret
.Luser2:
  ecall               /* handler skips it and returns to U-mode */
  li a0, 0x3333
  SET_RESUME .Lback_u2  /* plain stores from U-mode (PMP allows them) */
  ecall
  ebreak
.Lback_u2:
  ld a1, TF_COUNT(gp)
  CHECK 15, a1, 2
  ld a1, TF_CAUSE(gp)
  CHECK 16, a1, CAUSE_ECALL_U
  CHECK 17, a0, 0x3333
  j pass
