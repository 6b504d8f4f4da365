/* Conditional branches (signed/unsigned, taken/not taken, backward),
 * JAL and JALR: link values, JALR offsets, JALR clearing bit 0 of the
 * target, rd == rs1, rd = x0, and 2-byte aligned targets (legal with C). */
#include "isa.h"
TEST_NAME branch

/* a0 = 2 if `op a1, a2` is taken, 1 if not; expect 1 + taken */
.macro TBR n, op, a, b, taken
  li a1, \a
  li a2, \b
  li a0, 0
  \op a1, a2, .Lt\@
  li a0, 1
  j .Le\@
.Lt\@:
  li a0, 2
.Le\@:
  CHECK \n, a0, 1 + \taken
.endm

  .text
  .globl test_main
test_main:
  TBR 1,  beq, 1, 1, 1
  TBR 2,  beq, 1, 2, 0
  TBR 3,  beq, -1, -1, 1
  TBR 4,  beq, 0x100000000, 0, 0
  TBR 5,  bne, 1, 2, 1
  TBR 6,  bne, 1, 1, 0
  TBR 7,  bne, 0x100000000, 0, 1
  TBR 8,  blt, -1, 1, 1
  TBR 9,  blt, 1, -1, 0
  TBR 10, blt, 1, 1, 0
  TBR 11, blt, 0x8000000000000000, 0x7fffffffffffffff, 1
  TBR 12, bge, 1, 1, 1
  TBR 13, bge, -1, 1, 0
  TBR 14, bge, 1, -1, 1
  TBR 15, bge, 0x7fffffffffffffff, 0x8000000000000000, 1
  TBR 16, bltu, 1, -1, 1
  TBR 17, bltu, -1, 1, 0
  TBR 18, bltu, 1, 1, 0
  TBR 19, bltu, 0, 0x8000000000000000, 1
  TBR 20, bgeu, -1, 1, 1
  TBR 21, bgeu, 1, -1, 0
  TBR 22, bgeu, 1, 1, 1
  TBR 23, bgeu, 0, 0, 1
  TBR 24, blt, 0xffffffff, 0x100000000, 1
  TBR 25, bge, 0xffffffff80000000, 0x7fffffff, 0

  /* backward branch loop */
  li a0, 0
  li a1, 10
1:
  addi a0, a0, 1
  bne a0, a1, 1b
  CHECK 26, a0, 10

  /* JAL: link = pc + 4 */
  jal ra, 1f
.Ljal_ret:
  li a0, 27
  j fail
1:
  la a1, .Ljal_ret
  CHECKR 27, ra, a1
  /* JAL with another link register */
  jal t0, 1f
.Ljal_ret2:
  li a0, 28
  j fail
1:
  la a1, .Ljal_ret2
  CHECKR 28, t0, a1
  /* JAL backward, and rd = x0 does not write */
  j .Ljal_fwd
.Ljal_back:
  CHECK 29, zero, 0
  j .Ljal_done
.Ljal_fwd:
  jal zero, .Ljal_back
  li a0, 29
  j fail
.Ljal_done:

  /* JALR to a register target */
  la a1, 1f
  jalr ra, 0(a1)
.Ljalr_ret:
  li a0, 30
  j fail
1:
  la a2, .Ljalr_ret
  CHECKR 30, ra, a2
  /* positive offset */
  la a1, 1f
  addi a1, a1, -8
  jalr ra, 8(a1)
  li a0, 31
  j fail
1:
  /* negative offset */
  la a1, 1f
  addi a1, a1, 100
  jalr t1, -100(a1)
.Ljalr_ret3:
  li a0, 32
  j fail
1:
  la a2, .Ljalr_ret3
  CHECKR 32, t1, a2
  /* bit 0 of the target is cleared: odd register value */
  la a1, 1f
  addi a1, a1, 1
  jalr ra, 0(a1)
  li a0, 33
  j fail
1:
  /* bit 0 cleared: odd offset */
  la a1, 1f
  jalr ra, 1(a1)
  li a0, 34
  j fail
1:
  /* bit 0 cleared: odd register + offset -1 => even sum taken as is */
  la a1, 1f
  addi a1, a1, 3
  jalr ra, -3(a1)
  li a0, 35
  j fail
1:
  /* rd == rs1: the target uses the old value, then rd gets the link */
  la ra, 1f
  jalr ra, 0(ra)
.Ljalr_ret4:
  li a0, 36
  j fail
1:
  la a2, .Ljalr_ret4
  CHECKR 36, ra, a2
  /* rd = x0 */
  la a1, 1f
  jalr zero, 0(a1)
  li a0, 37
  j fail
1:
  CHECK 37, zero, 0
  /* a 2-byte aligned (not 4-byte aligned) target is legal with C */
  TRAP_RESET
  la a1, .Lhalf_target
  andi a2, a1, 3
  CHECK 38, a2, 2
  jalr ra, 0(a1)
.Lhalf_ret:
  CHECK_NOTRAP 39
  CHECK 40, a0, 0x1234
  j .Lhalf_done

  .balign 4
  .option push
  .option rvc
  c.nop
  .option pop
.Lhalf_target:
  li a0, 0x1234
  ret
.Lhalf_done:
  CHECK_NOTRAP 41

  j pass
