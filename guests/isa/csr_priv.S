/* CSR privilege: from U-mode, any access to a machine-level CSR (and MRET)
 * raises an illegal-instruction exception: mcause 2, mepc = the
 * instruction, mtval = its bits, mstatus.MPP = U at the trap, CSR unchanged. */
#include "isa.h"
TEST_NAME csr_priv

/* run `insn` in U-mode; it must trap as illegal.  If it does not, the
 * following ecall traps instead and CHECK_TRAP fails. */
.macro IN_U n, insn:vararg
  TRAP_RESET
  SET_RESUME .Lback\@
  la t0, .Lu\@
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li a0, 0x5a5a
  mret
.Lu\@:
  \insn
  ecall
.Lback\@:
  CHECK_TRAP \n, CAUSE_ILLEGAL
  CHECK_EPC \n, .Lu\@
  CHECK_TVAL_INSN32 \n, .Lu\@
  ld t5, TF_STATUS(gp)
  li t6, MSTATUS_MPP
  and t5, t5, t6
  CHECK \n, t5, 0
  CHECK \n, a0, 0x5a5a
.endm

  .text
  .globl test_main
test_main:
  li t0, 0x1234
  csrw mscratch, t0
  li a1, 0x9999
  IN_U 1, csrr a0, mscratch
  IN_U 2, csrw mscratch, a1
  csrr a2, mscratch
  CHECK 3, a2, 0x1234
  IN_U 4, csrr a0, mstatus
  IN_U 5, csrr a0, mhartid
  IN_U 6, csrr a0, misa
  IN_U 7, csrrs a0, mie, zero
  IN_U 8, csrrwi a0, mtvec, 0
  IN_U 9, csrr a0, mepc
  IN_U 10, csrr a0, sstatus
  IN_U 11, mret
  IN_U 12, sret
  la t0, trap_handler
  csrr a2, mtvec
  CHECKR 13, a2, t0
  j pass
