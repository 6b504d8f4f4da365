/* Shared by the block runners of the fuzz guests (fuzzdiff/run.S,
 * fuzzmmu/run.S): the C caller's frame and the M-mode trap record. */
#ifndef WKVM_FUZZ_H
#define WKVM_FUZZ_H
#include "trap_skip.h"

/* ra, s0-s11, gp and tp to a 128-byte frame on the stack (op sd), or back (op ld) */
.macro C_FRAME_REGS op
  \op ra, 0(sp)
  .irp r, 0,1,2,3,4,5,6,7,8,9,10,11
  \op s\r, (8 + 8 * \r)(sp)
  .endr
  \op gp, 104(sp)
  \op tp, 112(sp)
.endm
.macro SAVE_C_FRAME
  addi sp, sp, -128
  C_FRAME_REGS sd
.endm
.macro RESTORE_C_FRAME
  C_FRAME_REGS ld
  addi sp, sp, 128
.endm

/* With t0 = fuzz_traps ([0] count, [1] xor of mcause, [2] xor of mtval) and
 * t1, t2 saved by the caller: count the trap and step over its instruction */
.macro RECORD_AND_SKIP_TRAP
  ld t1, 0(t0)
  addi t1, t1, 1
  sd t1, 0(t0)
  csrr t1, mcause
  ld t2, 8(t0)
  xor t2, t2, t1
  sd t2, 8(t0)
  csrr t1, mtval
  ld t2, 16(t0)
  xor t2, t2, t1
  sd t2, 16(t0)
  SKIP_TRAPPED_INSN mepc, t1, t2
.endm

#endif
