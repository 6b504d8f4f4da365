/* Loads and stores of every width: sign/zero extension, offsets (negative,
 * +2047), only the addressed bytes written, rd == rs1, x0 as rd, and
 * misaligned accesses that stay inside one page (must work, no trap). */
#include "isa.h"
TEST_NAME ldst

.macro TLD n, op, off, exp
  \op a0, \off(a1)
  CHECK \n, a0, \exp
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  la a1, pat
  TLD 1,  lb, 0, 0x11
  TLD 2,  lb, 7, 0xffffffffffffff88
  TLD 3,  lbu, 7, 0x88
  TLD 4,  lh, 0, 0x2211
  TLD 5,  lh, 6, 0xffffffffffff8877
  TLD 6,  lhu, 6, 0x8877
  TLD 7,  lw, 0, 0x44332211
  TLD 8,  lw, 4, 0xffffffff88776655
  TLD 9,  lwu, 4, 0x88776655
  TLD 10, ld, 0, 0x8877665544332211
  TLD 11, ld, 8, 0x0123456789abcdef
  TLD 12, lw, 12, 0x01234567
  TLD 13, lb, 8, 0xffffffffffffffef
  TLD 14, lh, 16, 0xffffffffffffba98
  TLD 15, lbu, 23, 0x7f
  TLD 16, lb, 22, 0xffffffffffffff80
  addi a2, a1, 16
  ld a0, -8(a2)
  CHECK 17, a0, 0x0123456789abcdef
  lwu a0, -4(a2)
  CHECK 18, a0, 0x01234567
  mv a3, a1
  ld a3, 0(a3)
  CHECK 19, a3, 0x8877665544332211
  lb zero, 0(a1)
  CHECK 20, zero, 0

  /* misaligned loads within a page */
  TLD 21, lh, 1, 0x3322
  TLD 22, lh, 7, 0xffffffffffffef88
  TLD 23, lhu, 7, 0xef88
  TLD 24, lw, 1, 0x55443322
  TLD 25, lw, 5, 0xffffffffef887766
  TLD 26, lwu, 5, 0xef887766
  TLD 27, lw, 3, 0x77665544
  TLD 28, ld, 1, 0xef88776655443322
  TLD 29, ld, 4, 0x89abcdef88776655
  TLD 30, ld, 7, 0x23456789abcdef88
  TLD 31, lw, 2, 0x66554433
  TLD 32, lh, 3, 0x5544

  /* stores write exactly their bytes */
  la a1, buf
  li t0, -1
  sd t0, 0(a1)
  sd t0, 8(a1)
  sb zero, 1(a1)
  TLD 33, ld, 0, 0xffffffffffff00ff
  li t1, 0x123456789abcde01
  sb t1, 2(a1)
  TLD 34, ld, 0, 0xffffffffff0100ff
  sh t1, 4(a1)
  TLD 35, ld, 0, 0xffffde01ff0100ff
  sw t1, 8(a1)
  TLD 36, ld, 8, 0xffffffff9abcde01
  sd t1, 0(a1)
  TLD 37, ld, 0, 0x123456789abcde01
  addi a2, a1, 16
  li t1, 0x0f1e2d3c4b5a6978
  sd t1, -8(a2)
  TLD 38, ld, 8, 0x0f1e2d3c4b5a6978
  li t1, 0x55
  sb t1, 2047(a1)
  addi a2, a1, 2047
  lbu a0, 0(a2)
  CHECK 39, a0, 0x55

  /* misaligned stores within a page */
  sd zero, 16(a1)
  sd zero, 24(a1)
  sd zero, 32(a1)
  li t1, 0x1122334455667788
  sd t1, 17(a1)
  TLD 40, ld, 16, 0x2233445566778800
  TLD 41, lbu, 24, 0x11
  sw t1, 27(a1)
  TLD 42, ld, 24, 0x0055667788000011
  sh t1, 31(a1)
  TLD 43, lbu, 31, 0x88
  TLD 44, lbu, 32, 0x77
  TLD 45, ld, 24, 0x8855667788000011
  TLD 46, ld, 17, 0x1122334455667788
  TLD 47, lw, 27, 0x55667788
  TLD 48, lh, 31, 0x7788
  TLD 49, lwu, 26, 0x66778800
  /* misaligned, ending one byte before the end of the page */
  li t1, 0x0102030405060708
  li a2, 4096 - 9
  add a2, a1, a2
  sd t1, 0(a2)
  ld a0, 0(a2)
  CHECK 50, a0, 0x0102030405060708
  lbu a0, 4(a2)
  CHECK 51, a0, 0x04
  lw a0, 1(a2)
  CHECK 52, a0, 0x04050607

  CHECK_NOTRAP 53
  j pass

  .data
  .balign 8
pat:
  .dword 0x8877665544332211
  .dword 0x0123456789abcdef
  .dword 0x7f80ff00fedcba98

  .bss
  .balign 4096
buf:
  .space 4096
