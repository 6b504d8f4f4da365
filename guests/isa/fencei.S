/* FENCE.I and self-modifying code: instructions stored to memory are
 * executed after FENCE.I, both in a separate buffer that has already been
 * executed many times (any decode cache must be invalidated) and in the
 * currently executing code; 16-bit instructions too. */
#include "isa.h"
TEST_NAME fencei

#define ADDI_A0_1   0x00100513
#define ADDI_A0_42  0x02a00513
#define ADDI_A0_43  0x02b00513
#define ADDI_A1_5   0x00500593
#define RET         0x00008067
#define C_LI_A0_7   0x451d
#define C_NOP       0x0001
#define C_JR_RA     0x8082

  .text
  .globl test_main
test_main:
  TRAP_RESET
  la s0, codebuf
  li t0, ADDI_A0_1
  sw t0, 0(s0)
  li t0, RET
  sw t0, 4(s0)
  fence.i
  /* run it many times so it is hot */
  li s1, 200
  li s2, 0
1:
  jalr ra, 0(s0)
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, 1b
  CHECK 1, s2, 200
  /* patch, fence.i, run */
  li t0, ADDI_A0_42
  sw t0, 0(s0)
  fence.i
  jalr ra, 0(s0)
  CHECK 2, a0, 42
  li s1, 100
1:
  jalr ra, 0(s0)
  CHECK 3, a0, 42
  addi s1, s1, -1
  bnez s1, 1b
  li t0, ADDI_A0_43
  sw t0, 0(s0)
  fence.i
  jalr ra, 0(s0)
  CHECK 4, a0, 43
  /* 16-bit instructions: c.li a0, 7; c.jr ra */
  li t0, C_LI_A0_7 | (C_JR_RA << 16)
  sw t0, 0(s0)
  fence.i
  jalr ra, 0(s0)
  CHECK 5, a0, 7
  /* patch with byte stores, one half at a time */
  li t0, ADDI_A0_42
  sh t0, 0(s0)
  srli t0, t0, 16
  sh t0, 2(s0)
  li t0, RET
  sw t0, 4(s0)
  fence.i
  jalr ra, 0(s0)
  CHECK 6, a0, 42

  /* patch the code that is running right now, twice through a loop */
  li s1, 2
  li s2, 0
  la s3, .Lpatch
2:
  li t0, ADDI_A1_5
  sw t0, 0(s3)
  fence.i
  .option push
  .option norvc              /* a 4-byte instruction to patch */
.Lpatch:
  addi a1, zero, 1
  .option pop
  add s2, s2, a1
  addi s1, s1, -1
  bnez s1, 2b
  CHECK 7, s2, 10
  CHECK_NOTRAP 8
  j pass

  .data
  .balign 64
codebuf:
  .space 64
