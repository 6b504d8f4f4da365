/*
 * Block runner and trap handler of the fuzzdiff guest.
 *
 * run_block(state, block): loads x5..x31, f0..f31 and fcsr from the state,
 * calls the block (which ends with `ret`), stores them back. The random
 * blocks never write x1..x4: ra returns here, sp is the C stack, gp points
 * at the middle of the scratch page they load from and store to, tp holds
 * the state. A trap records its cause and mtval and skips the instruction.
 */
#include "fuzz.h"

#define ST_F     256   /* f0..f31 after x0..x31 */
#define ST_FCSR  512
#define ST_BLOCK 520

  .text
  .globl run_block
  .balign 4
run_block:
  SAVE_C_FRAME
  sd a1, ST_BLOCK(a0)
  mv tp, a0
  la gp, fuzz_scratch + 2048
  la t0, fuzz_trap
  csrw mtvec, t0
  la t0, fuzz_traps
  csrw mscratch, t0
  .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  fld f\r, (ST_F + 8 * \r)(tp)
  .endr
  ld t0, ST_FCSR(tp)
  csrw fcsr, t0
  .irp r, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  ld x\r, (8 * \r)(tp)
  .endr
  ld ra, ST_BLOCK(tp)
  jalr ra, 0(ra)
  .irp r, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  sd x\r, (8 * \r)(tp)
  .endr
  .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  fsd f\r, (ST_F + 8 * \r)(tp)
  .endr
  csrr t0, fcsr
  sd t0, ST_FCSR(tp)
  RESTORE_C_FRAME
  ret

  /* fuzz_traps: [0] count, [1] xor of mcause, [2] xor of mtval, [3..4] saved t1, t2 */
  .balign 4
fuzz_trap:
  csrrw t0, mscratch, t0
  sd t1, 24(t0)
  sd t2, 32(t0)
  RECORD_AND_SKIP_TRAP
  ld t1, 24(t0)
  ld t2, 32(t0)
  csrrw t0, mscratch, t0
  mret
