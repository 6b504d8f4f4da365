/* Zicsr: CSRRW/CSRRS/CSRRC and the immediate forms (old value returned,
 * 5-bit zero-extended immediates), rs1 = x0 / uimm = 0 means no write (so
 * it is allowed on read-only CSRs), rd = x0, writes to read-only CSRs and
 * accesses to non-existent CSRs -> illegal instruction (mcause 2, mtval =
 * the instruction, rd not written), mscratch, misa (MXL = 2 and the I, M,
 * A, F, D, C, S, U bits), mhartid = 0, minstret counting. */
#include "isa.h"
TEST_NAME zicsr

  .text
  .globl test_main
test_main:
  TRAP_RESET
  /* mscratch holds all 64 bits */
  li a1, 0xfedcba9876543210
  csrw mscratch, a1
  csrr a0, mscratch
  CHECK 1, a0, 0xfedcba9876543210
  /* csrrw returns the old value */
  li a1, 0x0123456789abcdef
  csrrw a0, mscratch, a1
  CHECK 2, a0, 0xfedcba9876543210
  csrr a0, mscratch
  CHECK 3, a0, 0x0123456789abcdef
  /* csrrs / csrrc */
  li a1, 0xf000000000000010
  csrrs a0, mscratch, a1
  CHECK 4, a0, 0x0123456789abcdef
  csrr a0, mscratch
  CHECK 5, a0, 0xf123456789abcdff
  li a1, 0x00000000000000ff
  csrrc a0, mscratch, a1
  CHECK 6, a0, 0xf123456789abcdff
  csrr a0, mscratch
  CHECK 7, a0, 0xf123456789abcd00
  /* rs1 = x0: no write */
  csrrs a0, mscratch, zero
  CHECK 8, a0, 0xf123456789abcd00
  csrrc a0, mscratch, zero
  csrr a0, mscratch
  CHECK 9, a0, 0xf123456789abcd00
  /* immediate forms, zero-extended 5-bit immediates */
  csrrwi a0, mscratch, 31
  CHECK 10, a0, 0xf123456789abcd00
  csrr a0, mscratch
  CHECK 11, a0, 31
  csrrci a0, mscratch, 0x15
  CHECK 12, a0, 31
  csrr a0, mscratch
  CHECK 13, a0, 0x0a
  csrrsi a0, mscratch, 0x10
  CHECK 14, a0, 0x0a
  csrr a0, mscratch
  CHECK 15, a0, 0x1a
  csrrsi a0, mscratch, 0
  CHECK 16, a0, 0x1a
  csrrci a0, mscratch, 0
  CHECK 17, a0, 0x1a
  /* rd = x0 still writes */
  li a1, 77
  csrrw zero, mscratch, a1
  csrr a0, mscratch
  CHECK 18, a0, 77
  /* rd == rs1 */
  li a0, 99
  csrrw a0, mscratch, a0
  CHECK 19, a0, 77
  csrr a0, mscratch
  CHECK 20, a0, 99
  CHECK_NOTRAP 21

  /* mstatus.MIE through the immediate forms (bit 3) */
  csrrsi zero, mstatus, MSTATUS_MIE
  csrr a0, mstatus
  andi a0, a0, MSTATUS_MIE
  CHECK 22, a0, MSTATUS_MIE
  csrrci zero, mstatus, MSTATUS_MIE
  csrr a0, mstatus
  andi a0, a0, MSTATUS_MIE
  CHECK 23, a0, 0

  /* misa */
  csrr a0, misa
  srli a1, a0, 62
  CHECK 24, a1, 2
  li a2, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
  and a1, a0, a2
  CHECKR 25, a1, a2

  /* read-only CSRs: reads, and set/clear with x0 / uimm 0, do not trap */
  csrr a0, mhartid
  CHECK 26, a0, 0
  csrrs a0, mhartid, zero
  csrrc a0, mhartid, zero
  csrrsi a0, mhartid, 0
  csrrci a0, mhartid, 0
  csrr a0, mvendorid
  csrr a0, marchid
  csrr a0, mimpid
  CHECK_NOTRAP 27

  /* writes to read-only CSRs are illegal (even with a zero value);
   * CSRRS/CSRRC with a zero-valued rs1 != x0: see csr_ro_nonx0.S */
  li t1, 0
  ILLEGAL 28, csrrw zero, mhartid, t1
  ILLEGAL 29, csrrw a0, mhartid, t1
  li t1, 4
  ILLEGAL 30, csrrs a0, mhartid, t1
  ILLEGAL 31, csrrc a0, mvendorid, t1
  ILLEGAL 32, csrrwi a0, mimpid, 0
  ILLEGAL 33, csrrsi a0, marchid, 1
  ILLEGAL 34, csrrci a0, mhartid, 2
  /* RV32-only and unimplemented CSRs are illegal */
  ILLEGAL 35, csrr a0, 0xb80       /* mcycleh */
  ILLEGAL 36, csrr a0, 0xc80       /* cycleh */

  /* minstret counts */
  TRAP_RESET
  csrr a1, minstret
  li a2, 100
1:
  addi a2, a2, -1
  bnez a2, 1b
  csrr a3, minstret
  sub a0, a3, a1
  CHECK_NZ 37, a0
  bltu a3, a1, 2f
  csrr a1, mcycle
  csrr a3, mcycle
  bltu a3, a1, 2f
  CHECK_NOTRAP 38
  j pass
2:
  li a0, 39
  j fail
