/*
 * Block runner and trap handler of the fuzzdiff guest.
 *
 * run_block(state, block): loads x5..x31, f0..f31 and fcsr from the state,
 * calls the block (which ends with `ret`), stores them back. The random
 * blocks never write x1..x4: ra returns here, sp is the C stack, gp points
 * at the middle of the scratch page they load from and store to, tp holds
 * the state. A trap records its cause and mtval and skips the instruction.
 */
#define ST_F     256   /* f0..f31 after x0..x31 */
#define ST_FCSR  512
#define ST_BLOCK 520

  .text
  .globl run_block
  .balign 4
run_block:
  addi sp, sp, -128
  sd ra, 0(sp)
  sd s0, 8(sp)
  sd s1, 16(sp)
  sd s2, 24(sp)
  sd s3, 32(sp)
  sd s4, 40(sp)
  sd s5, 48(sp)
  sd s6, 56(sp)
  sd s7, 64(sp)
  sd s8, 72(sp)
  sd s9, 80(sp)
  sd s10, 88(sp)
  sd s11, 96(sp)
  sd gp, 104(sp)
  sd tp, 112(sp)
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
  ld ra, 0(sp)
  ld s0, 8(sp)
  ld s1, 16(sp)
  ld s2, 24(sp)
  ld s3, 32(sp)
  ld s4, 40(sp)
  ld s5, 48(sp)
  ld s6, 56(sp)
  ld s7, 64(sp)
  ld s8, 72(sp)
  ld s9, 80(sp)
  ld s10, 88(sp)
  ld s11, 96(sp)
  ld gp, 104(sp)
  ld tp, 112(sp)
  addi sp, sp, 128
  ret

  /* fuzz_traps: [0] count, [1] xor of mcause, [2] xor of mtval, [3..4] saved t1, t2 */
  .balign 4
fuzz_trap:
  csrrw t0, mscratch, t0
  sd t1, 24(t0)
  sd t2, 32(t0)
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
  csrr t1, mepc             /* skip the instruction: 2 or 4 bytes */
  lhu t2, 0(t1)
  andi t2, t2, 3
  addi t1, t1, 2
  xori t2, t2, 3
  bnez t2, 1f
  addi t1, t1, 2
1:
  csrw mepc, t1
  ld t1, 24(t0)
  ld t2, 32(t0)
  csrrw t0, mscratch, t0
  mret
