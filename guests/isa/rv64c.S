/* C extension: every RV64C (+D) instruction form with edge immediates:
 * quadrant 0: c.addi4spn c.fld c.lw c.ld c.fsd c.sw c.sd
 * quadrant 1: c.nop c.addi c.addiw c.li c.addi16sp c.lui c.srli c.srai
 *             c.andi c.sub c.xor c.or c.and c.subw c.addw c.j c.beqz c.bnez
 * quadrant 2: c.slli c.fldsp c.lwsp c.ldsp c.jr c.mv c.ebreak c.jalr c.add
 *             c.fsdsp c.swsp c.sdsp
 * c.ebreak traps with cause 3 and mepc = its address (the handler resumes
 * 2 bytes later). */
#include "isa.h"
TEST_NAME rv64c

  .text
  .globl test_main
test_main:
  TRAP_RESET
  .option push
  .option rvc

  /* ---- quadrant 0 ---- */
  c.addi4spn a0, sp, 4
  addi a1, sp, 4
  CHECKR 1, a0, a1
  c.addi4spn a0, sp, 1020
  addi a1, sp, 1020
  CHECKR 2, a0, a1

  la a1, cbuf
  li t0, 0x80000000
  sw t0, 124(a1)
  c.lw a0, 124(a1)
  CHECK 3, a0, 0xffffffff80000000
  li t0, 0x1122334455667788
  sd t0, 248(a1)
  c.ld a0, 248(a1)
  CHECK 4, a0, 0x1122334455667788
  li a2, 0x123456789abcdef0
  c.sw a2, 0(a1)
  c.sd a2, 8(a1)
  ld a0, 0(a1)
  CHECK 5, a0, 0x9abcdef0
  ld a0, 8(a1)
  CHECK 6, a0, 0x123456789abcdef0
  li a2, -1
  sd zero, 120(a1)
  c.sw a2, 124(a1)
  ld a0, 120(a1)
  CHECK 7, a0, 0xffffffff00000000
  /* c.fld / c.fsd (bit patterns through fmv) */
  li t0, 0x400921fb54442d18
  sd t0, 16(a1)
  c.fld fa0, 16(a1)
  fmv.x.d a0, fa0
  CHECK 8, a0, 0x400921fb54442d18
  c.fsd fa0, 240(a1)
  ld a0, 240(a1)
  CHECK 9, a0, 0x400921fb54442d18

  /* ---- quadrant 1 ---- */
  li a0, 7
  c.nop
  CHECK 10, a0, 7
  li a0, 100
  c.addi a0, -32
  CHECK 11, a0, 68
  c.addi a0, 31
  CHECK 12, a0, 99
  li a0, 0x7fffffff
  c.addiw a0, 1
  CHECK 13, a0, 0xffffffff80000000
  li a0, 0x1ffffffff
  c.addiw a0, 0
  CHECK 14, a0, -1
  li a0, 0
  c.addiw a0, -1
  CHECK 15, a0, -1
  c.li a0, -32
  CHECK 16, a0, -32
  c.li t0, 31
  CHECK 17, t0, 31
  mv s1, sp
  c.addi16sp sp, -512
  addi s2, s1, -512
  CHECKR 18, sp, s2
  c.addi16sp sp, 496
  addi s2, s1, -16
  CHECKR 19, sp, s2
  c.addi16sp sp, 16
  CHECKR 20, sp, s1
  c.lui a0, 1
  CHECK 21, a0, 0x1000
  c.lui a0, 31
  CHECK 22, a0, 0x1f000
  c.lui t0, 0xfffff
  CHECK 23, t0, 0xfffffffffffff000
  c.lui a0, 0xfffe0
  CHECK 24, a0, 0xfffffffffffe0000
  li a0, 0x8000000000000000
  c.srli a0, 63
  CHECK 25, a0, 1
  li a0, -1
  c.srli a0, 32
  CHECK 26, a0, 0xffffffff
  li a0, 0x8000000000000000
  c.srai a0, 63
  CHECK 27, a0, -1
  li a0, 0x8000000000000000
  c.srai a0, 32
  CHECK 28, a0, 0xffffffff80000000
  li a0, 0x40
  c.srai a0, 1
  CHECK 29, a0, 0x20
  li a0, -1
  c.andi a0, -16
  CHECK 30, a0, 0xfffffffffffffff0
  c.andi a0, 31
  CHECK 31, a0, 16
  li a0, 10
  li a1, 25
  c.sub a0, a1
  CHECK 32, a0, -15
  li a0, 0xff00ff00ff00ff00
  li a1, 0x0ff00ff00ff00ff0
  mv a2, a0
  c.xor a2, a1
  CHECK 33, a2, 0xf0f0f0f0f0f0f0f0
  mv a2, a0
  c.or a2, a1
  CHECK 34, a2, 0xfff0fff0fff0fff0
  mv a2, a0
  c.and a2, a1
  CHECK 35, a2, 0x0f000f000f000f00
  li a0, 0x80000000
  li a1, 1
  c.subw a0, a1
  CHECK 36, a0, 0x7fffffff
  li a0, 0x7fffffff
  c.addw a0, a1
  CHECK 37, a0, 0xffffffff80000000
  li a0, 0x100000000
  li a1, 5
  c.subw a1, a0
  CHECK 38, a1, 5
  /* c.j forward and backward */
  li a0, 0
  c.j 1f
  li a0, 39
  j fail
2:
  addi a0, a0, 1
  c.j 3f
1:
  addi a0, a0, 1
  c.j 2b
3:
  CHECK 39, a0, 2
  /* c.beqz / c.bnez */
  li a1, 0x100000000
  li a0, 1
  c.beqz a1, 1f
  li a0, 2
1:
  CHECK 40, a0, 2
  li a0, 1
  c.bnez a1, 1f
  li a0, 2
1:
  CHECK 41, a0, 1
  li a1, 0
  li a0, 1
  c.beqz a1, 1f
  li a0, 2
1:
  CHECK 42, a0, 1
  li a0, 1
  c.bnez a1, 1f
  li a0, 2
1:
  CHECK 43, a0, 2
  /* backward c.bnez loop */
  li a1, 5
  li a0, 0
1:
  addi a0, a0, 3
  addi a1, a1, -1
  c.bnez a1, 1b
  CHECK 44, a0, 15

  /* ---- quadrant 2 ---- */
  li t0, 1
  c.slli t0, 63
  CHECK 45, t0, 0x8000000000000000
  li t0, 0xff
  c.slli t0, 32
  CHECK 46, t0, 0xff00000000
  li t0, 3
  c.slli t0, 1
  CHECK 47, t0, 6
  /* sp-relative forms on a scratch area */
  mv s1, sp
  la sp, cbuf
  li t0, 0x80000001
  sw t0, 252(sp)
  c.lwsp a0, 252(sp)
  CHECK 48, a0, 0xffffffff80000001
  li t0, 0x0102030405060708
  sd t0, 504(sp)
  c.ldsp a0, 504(sp)
  CHECK 49, a0, 0x0102030405060708
  li a2, 0xfedcba9876543210
  sd zero, 0(sp)
  c.swsp a2, 4(sp)
  ld a0, 0(sp)
  CHECK 50, a0, 0x7654321000000000
  c.sdsp a2, 496(sp)
  ld a0, 496(sp)
  CHECK 51, a0, 0xfedcba9876543210
  li t0, 0xc000000000000000
  sd t0, 488(sp)
  c.fldsp fa1, 488(sp)
  fmv.x.d a0, fa1
  CHECK 52, a0, 0xc000000000000000
  c.fsdsp fa1, 504(sp)
  ld a0, 504(sp)
  CHECK 53, a0, 0xc000000000000000
  c.lwsp t1, 0(sp)
  CHECK 54, t1, 0
  mv sp, s1
  /* c.jr */
  la a1, 1f
  c.jr a1
  li a0, 55
  j fail
1:
  /* c.jalr: link = pc + 2 */
  la a1, 1f
  c.jalr a1
.Lcjalr_ret:
  li a0, 56
  j fail
1:
  la a2, .Lcjalr_ret
  CHECKR 56, ra, a2
  /* c.jalr ra: target is the old ra */
  la ra, 1f
  c.jalr ra
.Lcjalr_ret2:
  li a0, 57
  j fail
1:
  la a2, .Lcjalr_ret2
  CHECKR 57, ra, a2
  /* c.jr ra (ret) from a 2-byte-aligned call site */
  jal ra, .Lsub
  CHECK 58, a0, 0x39
  /* c.mv, c.add */
  li a1, 0x123456789
  c.mv t0, a1
  CHECKR 59, t0, a1
  li a0, 0x7fffffffffffffff
  li a1, 1
  c.add a0, a1
  CHECK 60, a0, 0x8000000000000000
  li t0, 40
  c.add t0, t0
  CHECK 61, t0, 80
  /* c.ebreak */
  CHECK_NOTRAP 62
.Lcebreak:
  c.ebreak
  CHECK_TRAP 63, CAUSE_BREAKPOINT
  CHECK_EPC 64, .Lcebreak
  ld t5, TF_TVAL(gp)
  beqz t5, 1f
  la t6, .Lcebreak
  CHECKR 65, t5, t6
1:
  .option pop
  j pass

  .option push
  .option rvc
.Lsub:
  c.li a0, 0x1a
  c.addi a0, 0x1f
  c.jr ra
  .option pop

  .bss
  .balign 16
cbuf:
  .space 1024
