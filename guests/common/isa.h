/*
 * wkvm ISA test framework (assembly side).
 *
 * A test is one .S file that includes this header, names itself with
 * TEST_NAME, and defines `test_main`.  The runtime (isa_rt.S) parks every
 * hart but hart 0, installs `trap_handler`, and jumps to test_main in
 * M-mode.  The test ends with `j pass` or with a failing CHECK, which jumps
 * to `fail` with a0 = the check number.
 *
 * Register conventions inside tests:
 *   gp     = pointer to the trap frame (never modify it)
 *   sp     = a small stack
 *   t5, t6 = scratch for the CHECK macros (clobbered by every check)
 *
 * Trap handler (all traps go to M-mode; every trap is recorded in the frame):
 *   - counts the trap, stores mcause/mepc/mtval/mstatus in the frame;
 *   - interrupts: machine software -> clears msip[0]; machine timer ->
 *     mtimecmp[0] = ~0; any other interrupt -> clears its mie bit;
 *     then returns to TF_IRQ_RESUME in M-mode if it is non-zero (one-shot,
 *     like TF_RESUME), else to mepc;
 *   - exceptions: if TF_RESUME is non-zero, returns there in M-mode
 *     (MPP := M, TF_RESUME := 0), else skips the trapping instruction
 *     (2 or 4 bytes, read from memory at mepc) and returns to the mode
 *     that trapped.
 *   - more than 64 traps in a row without TRAP_RESET: fail with code 255.
 */
#ifndef WKVM_ISA_H
#define WKVM_ISA_H
#include "trap_skip.h"

/* trap frame layout (offsets from gp) */
#define TF_T0      0
#define TF_T1      8
#define TF_T2      16
#define TF_COUNT   24   /* number of traps since TRAP_RESET */
#define TF_CAUSE   32   /* mcause of the last trap */
#define TF_EPC     40   /* mepc of the last trap */
#define TF_TVAL    48   /* mtval of the last trap */
#define TF_STATUS  56   /* mstatus as seen by the handler (after trap entry) */
#define TF_RESUME  64   /* if non-zero: one-shot resume address after an exception, in M-mode */
#define TF_IRQ_RESUME 72 /* if non-zero: one-shot resume address after an interrupt, in M-mode */
#define TF_SIZE    80

#define MSTATUS_MIE   0x8
#define MSTATUS_MPIE  0x80
#define MSTATUS_MPP   0x1800
#define MSTATUS_FS    0x6000
#define MSTATUS_FS_INITIAL 0x2000

#define MIP_MSIP  0x8
#define MIP_MTIP  0x80
#define MIE_MSIE  0x8
#define MIE_MTIE  0x80

#define CAUSE_MISALIGNED_FETCH   0
#define CAUSE_FETCH_ACCESS       1
#define CAUSE_ILLEGAL            2
#define CAUSE_BREAKPOINT         3
#define CAUSE_MISALIGNED_LOAD    4
#define CAUSE_LOAD_ACCESS        5
#define CAUSE_MISALIGNED_STORE   6
#define CAUSE_STORE_ACCESS       7
#define CAUSE_ECALL_U            8
#define CAUSE_ECALL_S            9
#define CAUSE_ECALL_M            11
#define CAUSE_IRQ_MSI  0x8000000000000003
#define CAUSE_IRQ_MTI  0x8000000000000007

#define CLINT_BASE      0x2000000
#define CLINT_MSIP0     0x2000000
#define CLINT_MTIMECMP0 0x2004000
#define CLINT_MTIME     0x200BFF8

#define UART_BASE   0x10000000
#define TEST_DEV    0x100000

#ifdef __ASSEMBLER__

/* Name printed in the PASS/FAIL line. */
/* the I-type instruction at address t1 gets immediate `imm` (a register,
 * 0..2047): self-modifying code for the JIT guests; clobbers t2-t3 */
.macro PATCH_IMM imm
  lwu t2, 0(t1)
  slli t2, t2, 44
  srli t2, t2, 44
  slli t3, \imm, 20
  or t2, t2, t3
  sw t2, 0(t1)
.endm

.macro TEST_NAME name
  .pushsection .rodata
  .globl test_name
test_name:
  .asciz "\name"
  .popsection
.endm

/* fail with code n unless reg == imm */
.macro CHECK n, reg, imm
  li t6, \imm
  beq \reg, t6, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* fail with code n unless r1 == r2 */
.macro CHECKR n, r1, r2
  beq \r1, \r2, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* fail with code n unless reg != 0 / reg == 0 */
.macro CHECK_NZ n, reg
  bnez \reg, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm
.macro CHECK_Z n, reg
  beqz \reg, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* forget previous traps */
.macro TRAP_RESET
  sd zero, TF_COUNT(gp)
  sd zero, TF_RESUME(gp)
  sd zero, TF_IRQ_RESUME(gp)
  li t6, -1
  sd t6, TF_CAUSE(gp)
  sd t6, TF_EPC(gp)
  sd t6, TF_TVAL(gp)
.endm

/* the next exception returns to `label` in M-mode */
.macro SET_RESUME label
  la t6, \label
  sd t6, TF_RESUME(gp)
.endm

/* the next interrupt returns to `label` in M-mode */
.macro SET_IRQ_RESUME label
  la t6, \label
  sd t6, TF_IRQ_RESUME(gp)
.endm

/* fail with n unless no trap happened since TRAP_RESET */
.macro CHECK_NOTRAP n
  ld t5, TF_COUNT(gp)
  CHECK_Z \n, t5
.endm

/* fail with n unless exactly one trap with mcause == cause happened */
.macro CHECK_TRAP n, cause
  ld t5, TF_COUNT(gp)
  addi t5, t5, -1
  CHECK_Z \n, t5
  ld t5, TF_CAUSE(gp)
  CHECK \n, t5, \cause
.endm

/* fail with n unless the last trap's mepc == address of label */
.macro CHECK_EPC n, label
  ld t5, TF_EPC(gp)
  la t6, \label
  beq t5, t6, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* fail with n unless the last trap's mtval == imm */
.macro CHECK_TVAL n, imm
  ld t5, TF_TVAL(gp)
  CHECK \n, t5, \imm
.endm

/* fail with n unless the last trap's mtval == address of label */
.macro CHECK_TVAL_LABEL n, label
  ld t5, TF_TVAL(gp)
  la t6, \label
  beq t5, t6, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* fail with n unless the last trap's mtval == the 32-bit instruction at label */
.macro CHECK_TVAL_INSN32 n, label
  ld t5, TF_TVAL(gp)
  la t6, \label
  lwu t6, 0(t6)
  beq t5, t6, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* fail with n unless the last trap's mtval == the 16-bit instruction at label */
.macro CHECK_TVAL_INSN16 n, label
  ld t5, TF_TVAL(gp)
  la t6, \label
  lhu t6, 0(t6)
  beq t5, t6, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

/* wait (bounded) until mip & bits == want (any mask: MEIP is beyond andi's reach) */
.macro WAIT_MIP n, bits, want
  li a5, 1000000
.Lw\@:
  csrr t0, mip
  li t1, \bits
  and t0, t0, t1
  li t1, \want
  beq t0, t1, .Ld\@
  addi a5, a5, -1
  bnez a5, .Lw\@
  li a0, \n
  j fail
.Ld\@:
.endm

/* fail with n unless `insn` traps as an illegal instruction with mtval = its encoding */
.macro ILLEGAL n, insn:vararg
  TRAP_RESET
  li a0, 0x5a5a
.Lins\@:
  \insn
  CHECK_TRAP \n, CAUSE_ILLEGAL
  CHECK_EPC \n, .Lins\@
  CHECK_TVAL_INSN32 \n, .Lins\@
  CHECK \n, a0, 0x5a5a
.endm

#endif /* __ASSEMBLER__ */
#endif
