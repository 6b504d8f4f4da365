/* A extension: every AMO in .W and .D form (rd = old value, .W results
 * sign-extended, .W touches only its word, rs2 upper bits ignored by .W),
 * aq/rl variants, rd = x0, LR/SC success and failure semantics.
 * (Misaligned AMOs are in amo_misaligned.S.)
 * Check numbers: n = wrong rd, n + 100 = wrong memory after the AMO. */
#include "isa.h"
TEST_NAME rv64a

.macro TAMO n, op, init, src, exp_rd, exp_mem
  la a1, amo_buf
  li t0, \init
  sd t0, 0(a1)
  li a2, \src
  \op a0, a2, (a1)
  CHECK \n, a0, \exp_rd
  ld a3, 0(a1)
  CHECK \n + 100, a3, \exp_mem
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  TAMO 1, amoswap.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a57ffffffe
  TAMO 2, amoadd.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a500000003
  TAMO 3, amoxor.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a5fffffffb
  TAMO 4, amoand.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a500000004
  TAMO 5, amoor.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a5ffffffff
  TAMO 6, amomin.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a580000005
  TAMO 7, amomax.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a57ffffffe
  TAMO 8, amominu.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a57ffffffe
  TAMO 9, amomaxu.w, 0xa5a5a5a580000005, 0x123456787ffffffe, 0xffffffff80000005, 0xa5a5a5a580000005
  TAMO 10, amoswap.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a5fffffff0
  TAMO 11, amoadd.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a5fffffff3
  TAMO 12, amoxor.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a5fffffff3
  TAMO 13, amoand.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a500000000
  TAMO 14, amoor.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a5fffffff3
  TAMO 15, amomin.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a5fffffff0
  TAMO 16, amomax.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a500000003
  TAMO 17, amominu.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a500000003
  TAMO 18, amomaxu.w, 0xa5a5a5a500000003, 0xfffffffffffffff0, 0x3, 0xa5a5a5a5fffffff0
  TAMO 19, amoswap.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x7ffffffffffffffe
  TAMO 20, amoadd.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x3
  TAMO 21, amoxor.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0xfffffffffffffffb
  TAMO 22, amoand.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x4
  TAMO 23, amoor.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0xffffffffffffffff
  TAMO 24, amomin.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x8000000000000005
  TAMO 25, amomax.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x7ffffffffffffffe
  TAMO 26, amominu.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x7ffffffffffffffe
  TAMO 27, amomaxu.d, 0x8000000000000005, 0x7ffffffffffffffe, 0x8000000000000005, 0x8000000000000005
  TAMO 28, amoswap.d, 0x3, 0xfffffffffffffff0, 0x3, 0xfffffffffffffff0
  TAMO 29, amoadd.d, 0x3, 0xfffffffffffffff0, 0x3, 0xfffffffffffffff3
  TAMO 30, amoxor.d, 0x3, 0xfffffffffffffff0, 0x3, 0xfffffffffffffff3
  TAMO 31, amoand.d, 0x3, 0xfffffffffffffff0, 0x3, 0x0
  TAMO 32, amoor.d, 0x3, 0xfffffffffffffff0, 0x3, 0xfffffffffffffff3
  TAMO 33, amomin.d, 0x3, 0xfffffffffffffff0, 0x3, 0xfffffffffffffff0
  TAMO 34, amomax.d, 0x3, 0xfffffffffffffff0, 0x3, 0x3
  TAMO 35, amominu.d, 0x3, 0xfffffffffffffff0, 0x3, 0x3
  TAMO 36, amomaxu.d, 0x3, 0xfffffffffffffff0, 0x3, 0xfffffffffffffff0

  /* a .W AMO on the upper word of a doubleword */
  la a1, amo_buf
  li t0, 0x00000010fffffff0
  sd t0, 0(a1)
  li a2, 0x20
  addi a3, a1, 4
  amoadd.w a0, a2, (a3)
  CHECK 37, a0, 0x10
  ld a0, 0(a1)
  CHECK 38, a0, 0x00000030fffffff0

  /* aq/rl variants, rd = x0, rd == rs2 */
  li t0, 100
  sd t0, 0(a1)
  li a2, 5
  amoadd.d.aq a0, a2, (a1)
  amoadd.d.rl a0, a2, (a1)
  amoadd.d.aqrl zero, a2, (a1)
  CHECK 39, zero, 0
  amoadd.w.aqrl a0, a2, (a1)
  CHECK 40, a0, 115
  ld a0, 0(a1)
  CHECK 41, a0, 120
  li a2, 7
  amoswap.d a2, a2, (a1)
  CHECK 42, a2, 120
  ld a0, 0(a1)
  CHECK 43, a0, 7

  /* LR/SC: success writes and returns 0 */
  la a1, amo_buf
  li t0, 0x1111111111111111
  sd t0, 0(a1)
  lr.d a0, (a1)
  CHECK 44, a0, 0x1111111111111111
  li a2, 0x2222222222222222
  sc.d a3, a2, (a1)
  CHECK 45, a3, 0
  ld a0, 0(a1)
  CHECK 46, a0, 0x2222222222222222
  /* any SC invalidates the reservation: a second SC fails, no write */
  li a2, 0x3333333333333333
  sc.d a3, a2, (a1)
  CHECK_NZ 47, a3
  ld a0, 0(a1)
  CHECK 48, a0, 0x2222222222222222
  /* LR.W sign-extends; SC.W writes only its word */
  li t0, 0xa5a5a5a580000001
  sd t0, 0(a1)
  lr.w.aq a0, (a1)
  CHECK 49, a0, 0xffffffff80000001
  li a2, 0xffffffff7ffffff0
  sc.w.rl a3, a2, (a1)
  CHECK 50, a3, 0
  ld a0, 0(a1)
  CHECK 51, a0, 0xa5a5a5a57ffffff0
  li a2, 5
  sc.w a3, a2, (a1)
  CHECK_NZ 52, a3
  ld a0, 0(a1)
  CHECK 53, a0, 0xa5a5a5a57ffffff0
  /* LR/SC increment loop */
  sd zero, 0(a1)
  li a4, 100
1:
  lr.d.aqrl a0, (a1)
  addi a0, a0, 3
  sc.d.aqrl a3, a0, (a1)
  bnez a3, 1b
  addi a4, a4, -1
  bnez a4, 1b
  ld a0, 0(a1)
  CHECK 54, a0, 300
  /* an SC after an AMO with no LR in between fails */
  lr.d a0, (a1)
  sc.d a3, a0, (a1)
  CHECK 55, a3, 0
  amoadd.d zero, a4, (a1)
  sc.d a3, a0, (a1)
  CHECK_NZ 56, a3
  CHECK_NOTRAP 57

  j pass

  .bss
  .balign 64
amo_buf:
  .space 64
