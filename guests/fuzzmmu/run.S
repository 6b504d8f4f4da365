/*
 * S-mode block runner and M-mode trap handler of the fuzzmmu guest.
 *
 * run_mmu_block(state, block, gp, mstatus_bits): loads x5..x31 from the
 * state, sets gp, and enters the block in S- or U-mode (mstatus_bits give
 * MPP, SUM and MXR; satp is already set). The block ends with `ecall`, which comes
 * back here in M-mode; x5..x31 go back to the state. Any other trap records
 * its cause and mtval and skips the instruction (the code is identity-mapped).
 */
#include "fuzz.h"

#define MSTATUS_MPP  0x1800
#define MSTATUS_SUM_MXR 0xc0000

  .text
  .globl run_mmu_block
  .balign 4
run_mmu_block:
  SAVE_C_FRAME
  mv tp, a0
  csrw mepc, a1
  mv gp, a2
  li t0, MSTATUS_MPP | MSTATUS_SUM_MXR
  csrc mstatus, t0
  and a3, a3, t0            /* the block's MPP (S or U), SUM and MXR */
  csrs mstatus, a3
  la t0, mmu_trap
  csrw mtvec, t0
  la t0, fuzz_traps
  csrw mscratch, t0
  .irp r, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  ld x\r, (8 * \r)(tp)
  .endr
  mret

mmu_back:                    /* M-mode, from the block's ecall */
  .irp r, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  sd x\r, (8 * \r)(tp)
  .endr
  RESTORE_C_FRAME
  ret

  /* fuzz_traps: [0] count, [1] xor of mcause, [2] xor of mtval, [3..4] saved t1, t2 */
  .balign 4
mmu_trap:
  csrrw t0, mscratch, t0
  sd t1, 24(t0)
  sd t2, 32(t0)
  csrr t1, mcause
  li t2, 9                  /* ecall from S or U: the block is over */
  beq t1, t2, .Lblock_done
  li t2, 8
  beq t1, t2, .Lblock_done
  RECORD_AND_SKIP_TRAP
  ld t1, 24(t0)
  ld t2, 32(t0)
  csrrw t0, mscratch, t0
  mret
.Lblock_done:
  ld t1, 24(t0)
  ld t2, 32(t0)
  csrrw t0, mscratch, t0
  j mmu_back
