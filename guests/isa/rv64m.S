/* M extension: MUL/MULH/MULHU/MULHSU, DIV/DIVU/REM/REMU and the W forms.
 * Division by zero (quotient all ones, remainder = dividend, for W forms
 * sign-extended from 32 bits) and signed overflow (most negative / -1:
 * quotient = dividend, remainder 0) must not trap. */
#include "isa.h"
TEST_NAME rv64m

.macro TRR n, op, a, b, exp
  li a1, \a
  li a2, \b
  \op a0, a1, a2
  CHECK \n, a0, \exp
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  TRR 1, mul, 0x3, 0x7, 0x15
  TRR 2, mul, 0xfffffffffffffffd, 0x7, 0xffffffffffffffeb
  TRR 3, mul, 0x7fffffffffffffff, 0x2, 0xfffffffffffffffe
  TRR 4, mul, 0x100000000, 0x100000000, 0x0
  TRR 5, mul, 0xffffffffffffffff, 0xffffffffffffffff, 0x1
  TRR 6, mul, 0x123456789abcdef, 0xfedcba987654321, 0x22236d88fe5618cf
  TRR 7, mulh, 0xffffffffffffffff, 0xffffffffffffffff, 0x0
  TRR 8, mulh, 0x8000000000000000, 0x8000000000000000, 0x4000000000000000
  TRR 9, mulh, 0x8000000000000000, 0x1, 0xffffffffffffffff
  TRR 10, mulh, 0x7fffffffffffffff, 0x7fffffffffffffff, 0x3fffffffffffffff
  TRR 11, mulh, 0xfffffffffffffffe, 0x3, 0xffffffffffffffff
  TRR 12, mulh, 0x123456789abcdef, 0xfedcba987654321, 0x121fa00ad77d74
  TRR 13, mulhu, 0xffffffffffffffff, 0xffffffffffffffff, 0xfffffffffffffffe
  TRR 14, mulhu, 0x8000000000000000, 0x2, 0x1
  TRR 15, mulhu, 0x123456789abcdef, 0xfedcba987654321, 0x121fa00ad77d74
  TRR 16, mulhu, 0x5, 0x7, 0x0
  TRR 17, mulhsu, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff
  TRR 18, mulhsu, 0xffffffffffffffff, 0x1, 0xffffffffffffffff
  TRR 19, mulhsu, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
  TRR 20, mulhsu, 0x1, 0xffffffffffffffff, 0x0
  TRR 21, mulhsu, 0x123456789abcdef, 0xfedcba987654321, 0x121fa00ad77d74
  TRR 22, div, 0x14, 0x6, 0x3
  TRR 23, div, 0xffffffffffffffec, 0x6, 0xfffffffffffffffd
  TRR 24, div, 0x14, 0xfffffffffffffffa, 0xfffffffffffffffd
  TRR 25, div, 0xffffffffffffffec, 0xfffffffffffffffa, 0x3
  TRR 26, div, 0x7, 0x0, 0xffffffffffffffff
  TRR 27, div, 0xfffffffffffffff9, 0x0, 0xffffffffffffffff
  TRR 28, div, 0x0, 0x0, 0xffffffffffffffff
  TRR 29, div, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
  TRR 30, div, 0x8000000000000000, 0x1, 0x8000000000000000
  TRR 31, divu, 0x14, 0x6, 0x3
  TRR 32, divu, 0xffffffffffffffec, 0x6, 0x2aaaaaaaaaaaaaa7
  TRR 33, divu, 0x7, 0x0, 0xffffffffffffffff
  TRR 34, divu, 0x0, 0x0, 0xffffffffffffffff
  TRR 35, divu, 0x8000000000000000, 0xffffffffffffffff, 0x0
  TRR 36, rem, 0x14, 0x6, 0x2
  TRR 37, rem, 0xffffffffffffffec, 0x6, 0xfffffffffffffffe
  TRR 38, rem, 0x14, 0xfffffffffffffffa, 0x2
  TRR 39, rem, 0xffffffffffffffec, 0xfffffffffffffffa, 0xfffffffffffffffe
  TRR 40, rem, 0x7, 0x0, 0x7
  TRR 41, rem, 0xfffffffffffffff9, 0x0, 0xfffffffffffffff9
  TRR 42, rem, 0x8000000000000000, 0xffffffffffffffff, 0x0
  TRR 43, remu, 0x14, 0x6, 0x2
  TRR 44, remu, 0xffffffffffffffec, 0x6, 0x2
  TRR 45, remu, 0x7, 0x0, 0x7
  TRR 46, remu, 0xfffffffffffffff9, 0x0, 0xfffffffffffffff9
  TRR 47, mulw, 0x3, 0x7, 0x15
  TRR 48, mulw, 0x7fffffff, 0x2, 0xfffffffffffffffe
  TRR 49, mulw, 0x100000003, 0x200000005, 0xf
  TRR 50, mulw, 0xffffffffffffffff, 0xffffffffffffffff, 0x1
  TRR 51, mulw, 0x10000, 0x10000, 0x0
  TRR 52, mulw, 0x12345678, 0x9abcdef0, 0x242d2080
  TRR 53, divw, 0x14, 0x6, 0x3
  TRR 54, divw, 0xffffffffffffffec, 0x6, 0xfffffffffffffffd
  TRR 55, divw, 0x100000014, 0x6, 0x3
  TRR 56, divw, 0x7, 0x0, 0xffffffffffffffff
  TRR 57, divw, 0x7, 0x100000000, 0xffffffffffffffff
  TRR 58, divw, 0x80000000, 0xffffffffffffffff, 0xffffffff80000000
  TRR 59, divw, 0x80000000, 0xffffffff, 0xffffffff80000000
  TRR 60, divw, 0xffffffff80000000, 0x1, 0xffffffff80000000
  TRR 61, divuw, 0x14, 0x6, 0x3
  TRR 62, divuw, 0xffffffff, 0x1, 0xffffffffffffffff
  TRR 63, divuw, 0xfffffffe, 0xffffffff, 0x0
  TRR 64, divuw, 0x7, 0x0, 0xffffffffffffffff
  TRR 65, divuw, 0x80000000, 0x2, 0x40000000
  TRR 66, divuw, 0xffffffffffffffec, 0x6, 0x2aaaaaa7
  TRR 67, remw, 0x14, 0x6, 0x2
  TRR 68, remw, 0xffffffffffffffec, 0x6, 0xfffffffffffffffe
  TRR 69, remw, 0x7, 0x0, 0x7
  TRR 70, remw, 0x1fffffff9, 0x0, 0xfffffffffffffff9
  TRR 71, remw, 0x80000000, 0xffffffffffffffff, 0x0
  TRR 72, remw, 0x123456789, 0x100000007, 0x1
  TRR 73, remuw, 0x14, 0x6, 0x2
  TRR 74, remuw, 0xffffffffffffffec, 0x6, 0x2
  TRR 75, remuw, 0x7, 0x0, 0x7
  TRR 76, remuw, 0x1fffffff9, 0x0, 0xfffffffffffffff9
  TRR 77, remuw, 0xffffffff, 0x10, 0xf
  /* rd == rs1 == rs2, and x0 as rd */
  li a0, -9
  mul a0, a0, a0
  CHECK 78, a0, 81
  li a1, 5
  div zero, a1, zero
  CHECK 79, zero, 0
  li a0, 100
  li a1, 7
  rem a0, a0, a1
  CHECK 80, a0, 2
  CHECK_NOTRAP 81
  j pass
