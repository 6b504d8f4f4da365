/* RV64I integer computational instructions: register-register,
 * register-immediate, LUI/AUIPC, the 32-bit W forms, shift edge cases
 * (shift amounts use only the low 6 bits, or 5 for W forms), x0 as rd. */
#include "isa.h"
TEST_NAME rv64i_alu

/* a0 = a1 op a2 */
.macro TRR n, op, a, b, exp
  li a1, \a
  li a2, \b
  \op a0, a1, a2
  CHECK \n, a0, \exp
.endm
/* a0 = a1 op imm */
.macro TRI n, op, a, imm, exp
  li a1, \a
  \op a0, a1, \imm
  CHECK \n, a0, \exp
.endm

  .text
  .globl test_main
test_main:
  TRR 1,  add, 1, 1, 2
  TRR 2,  add, 0x7fffffffffffffff, 1, 0x8000000000000000
  TRR 3,  add, -1, -1, -2
  TRR 4,  add, 0xffffffff, 1, 0x100000000
  TRR 5,  sub, 0, 1, -1
  TRR 6,  sub, 0x8000000000000000, 1, 0x7fffffffffffffff
  TRR 7,  and, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f, 0x0f000f000f000f00
  TRR 8,  or,  0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f, 0xff0fff0fff0fff0f
  TRR 9,  xor, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f, 0xf00ff00ff00ff00f
  TRR 10, slt,  -1, 1, 1
  TRR 11, sltu, -1, 1, 0
  TRR 12, slt,  1, -1, 0
  TRR 13, sltu, 1, -1, 1
  TRR 14, slt,  5, 5, 0
  TRR 15, slt,  0x8000000000000000, 0x7fffffffffffffff, 1
  TRR 16, sll, 1, 63, 0x8000000000000000
  TRR 17, sll, 1, 64, 1
  TRR 18, sll, 1, 65, 2
  TRR 19, srl, 0x8000000000000000, 63, 1
  TRR 20, srl, -1, 1, 0x7fffffffffffffff
  TRR 21, sra, 0x8000000000000000, 63, -1
  TRR 22, sra, 0x8000000000000000, 0x40, 0x8000000000000000
  TRR 23, sra, 0x7fffffffffffffff, 62, 1
  TRR 24, srl, 0x8000000000000000, -1, 1
  TRR 25, sll, 0x123456789abcdef0, 0xffffffffffffff04, 0x23456789abcdef00
  TRR 26, sra, 0x8000000000000000, 0x7f, -1

  TRI 27, addi, 0, -2048, -2048
  TRI 28, addi, 0, 2047, 2047
  TRI 29, addi, 0x7fffffffffffffff, 1, 0x8000000000000000
  TRI 30, slti, -1, 0, 1
  TRI 31, sltiu, 0, -1, 1
  TRI 32, sltiu, 5, 1, 0
  TRI 33, sltiu, 0, 1, 1
  TRI 34, slti, 0, -2048, 0
  TRI 35, xori, 0x00ff00ff, -1, 0xffffffffff00ff00
  TRI 36, ori, 0, -2048, 0xfffffffffffff800
  TRI 37, andi, -1, 0x7ff, 0x7ff
  TRI 38, andi, -1, -2048, 0xfffffffffffff800
  TRI 39, slli, 1, 63, 0x8000000000000000
  TRI 40, slli, 0xff, 32, 0xff00000000
  TRI 41, srli, -1, 32, 0xffffffff
  TRI 42, srli, -1, 63, 1
  TRI 43, srai, 0x8000000000000000, 32, 0xffffffff80000000
  TRI 44, srai, 0x8000000000000000, 0, 0x8000000000000000
  TRI 45, srli, 0x8000000000000000, 0, 0x8000000000000000
  TRI 46, srai, 0x4000000000000000, 62, 1

  lui a0, 0x80000
  CHECK 47, a0, 0xffffffff80000000
  lui a0, 0x7ffff
  CHECK 48, a0, 0x7ffff000
  lui a0, 0xfffff
  CHECK 49, a0, 0xfffffffffffff000
1:
  auipc a0, 0
  la a1, 1b
  CHECKR 50, a0, a1
2:
  auipc a0, 1
  la a1, 2b
  li a2, 0x1000
  add a1, a1, a2
  CHECKR 51, a0, a1
3:
  auipc a0, 0x80000
  la a1, 3b
  li a2, 0xffffffff80000000
  add a1, a1, a2
  CHECKR 52, a0, a1

  TRR 53, addw, 0x7fffffff, 1, 0xffffffff80000000
  TRR 54, addw, 0xffffffff, 1, 0
  TRR 55, addw, 0x100000005, 0x200000003, 8
  TRR 56, subw, 0, 1, -1
  TRR 57, subw, 0x80000000, 1, 0x7fffffff
  TRR 58, subw, 0x123456700000000, 0x1, -1
  TRI 59, addiw, 0x7fffffff, 1, 0xffffffff80000000
  TRI 60, addiw, 0xffffffff, 0, -1
  TRI 61, addiw, 0x123456789abcdef0, 0, 0xffffffff9abcdef0
  TRI 62, addiw, 0xffffffff00000000, -1, -1
  TRR 63, sllw, 1, 31, 0xffffffff80000000
  TRR 64, sllw, 1, 32, 1
  TRR 65, srlw, 0xffffffff80000000, 31, 1
  TRR 66, srlw, -1, 0, -1
  TRR 67, srlw, 0xffffffff, 1, 0x7fffffff
  TRR 68, sraw, 0x80000000, 31, -1
  TRR 69, sraw, 0x80000000, 32, 0xffffffff80000000
  TRR 70, sraw, 0x7fffffff40000000, 1, 0x20000000
  TRR 71, srlw, 0x80000000, 0x3f, 1
  TRI 72, slliw, 1, 31, 0xffffffff80000000
  TRI 73, slliw, 0xffffffff00000001, 0, 1
  TRI 74, srliw, 0x80000000, 31, 1
  TRI 75, srliw, -1, 0, -1
  TRI 76, srliw, 0x80000000, 0, 0xffffffff80000000
  TRI 77, srliw, -1, 1, 0x7fffffff
  TRI 78, sraiw, 0x80000000, 31, -1
  TRI 79, sraiw, 0x7fffffff, 31, 0
  TRI 80, sraiw, 0xfffffff012345678, 4, 0x01234567
  TRI 81, slliw, 0x00000000c0000001, 1, 0xffffffff80000002

  /* writes to x0 are discarded */
  li a1, 5
  li a2, 7
  add zero, a1, a2
  CHECK 82, zero, 0
  addi zero, a1, 1
  CHECK 83, zero, 0
  /* rd == rs1 == rs2 */
  li a0, 5
  add a0, a0, a0
  CHECK 84, a0, 10
  sub a0, a0, a0
  CHECK 85, a0, 0
  li a0, -16
  srai a0, a0, 2
  CHECK 86, a0, -4
  /* x0 as a source */
  li a1, 5
  sltu a0, zero, a1
  CHECK 87, a0, 1
  sub a0, zero, a1
  CHECK 88, a0, -5
  /* NOP */
  li a0, 9
  nop
  CHECK 89, a0, 9

  j pass
