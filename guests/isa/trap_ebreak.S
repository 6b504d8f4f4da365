/* EBREAK: mcause 3, mepc = the ebreak (not the next instruction),
 * mtval = 0 or the ebreak's address, handler resumes after it.
 * (C.EBREAK is covered in rv64c.S.) */
#include "isa.h"
TEST_NAME trap_ebreak

  .text
  .globl test_main
test_main:
  TRAP_RESET
  li a0, 5
.Lebreak:
  ebreak
  addi a0, a0, 1
  CHECK_TRAP 1, CAUSE_BREAKPOINT
  CHECK_EPC 2, .Lebreak
  ld t5, TF_TVAL(gp)
  beqz t5, 1f
  la t6, .Lebreak
  CHECKR 3, t5, t6
1:
  CHECK 4, a0, 6
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP
  and a1, a1, t0
  CHECK 5, a1, MSTATUS_MPP

  /* from U-mode */
  TRAP_RESET
  SET_RESUME .Lback
  la t0, .Lu
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  mret
.Lu:
  ebreak
  ecall
.Lback:
  CHECK_TRAP 6, CAUSE_BREAKPOINT
  CHECK_EPC 7, .Lu
  j pass
