/* Shared by the guests' trap handlers (assembly): step over the instruction
 * that trapped. */
#ifndef WKVM_TRAP_SKIP_H
#define WKVM_TRAP_SKIP_H

/* epc (mepc or sepc) += the length of the instruction there, 2 or 4 bytes
 * (read through the handler's own view of memory); clobbers a and b and
 * defines the local label 1 (a `1f` before it lands inside) */
.macro SKIP_TRAPPED_INSN epc, a, b
  csrr \a, \epc
  lhu \b, 0(\a)
  andi \b, \b, 3
  addi \a, \a, 2
  xori \b, \b, 3
  bnez \b, 1f
  addi \a, \a, 2
1:
  csrw \epc, \a
.endm

#endif
