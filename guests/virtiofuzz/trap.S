/* The virtio fuzz guest's M-mode trap handler: count the trap in vf_traps
 * and step over the instruction (a misaligned or faulting MMIO access of
 * the register fuzzing); interrupts stay disabled. */
#include "trap_skip.h"

  .text
  .globl vf_trap
  .balign 4
vf_trap:
  addi sp, sp, -32
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  la t0, vf_traps
  ld t1, 0(t0)
  addi t1, t1, 1
  sd t1, 0(t0)
  SKIP_TRAPPED_INSN mepc, t1, t2
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  mret
