/* Access faults for addresses where nothing is mapped:
 * instruction fetch from 0x0 and from 0x2_0000_0000 -> mcause 1,
 * mepc = the target (mtval = the target if non-zero);
 * load from 0x2_0000_0000 (and 0x0) -> mcause 5, mtval = the address,
 * rd not written; store -> mcause 7.  (AMO access faults: amo_traps.S.)
 * The handler returns to the test through TF_RESUME. */
#include "isa.h"
TEST_NAME trap_access

#define UNMAPPED 0x200000000

  .text
  .globl test_main
test_main:
  /* fetch from 0 */
  TRAP_RESET
  SET_RESUME .Lback1
  li a1, 0
  jalr ra, 0(a1)
.Lret1:
  j .Lbad
.Lback1:
  CHECK_TRAP 1, CAUSE_FETCH_ACCESS
  ld t5, TF_EPC(gp)
  CHECK 2, t5, 0
  CHECK_TVAL 3, 0
  la t0, .Lret1
  CHECKR 4, ra, t0

  /* fetch from an unmapped high address */
  TRAP_RESET
  SET_RESUME .Lback2
  li a1, UNMAPPED
  jalr ra, 0(a1)
  j .Lbad
.Lback2:
  CHECK_TRAP 5, CAUSE_FETCH_ACCESS
  ld t5, TF_EPC(gp)
  CHECK 6, t5, UNMAPPED
  ld t5, TF_TVAL(gp)
  beqz t5, 1f
  CHECK 7, t5, UNMAPPED
1:

  /* loads */
  TRAP_RESET
  li a1, UNMAPPED
  li a0, 0x77
.Lld1:
  ld a0, 0(a1)
  CHECK_TRAP 8, CAUSE_LOAD_ACCESS
  CHECK_EPC 9, .Lld1
  CHECK_TVAL 10, UNMAPPED
  CHECK 11, a0, 0x77
  TRAP_RESET
.Lld2:
  lbu a0, 0x123(a1)
  CHECK_TRAP 12, CAUSE_LOAD_ACCESS
  CHECK_EPC 13, .Lld2
  CHECK_TVAL 14, UNMAPPED + 0x123
  CHECK 15, a0, 0x77
  TRAP_RESET
  li a2, 8
  lw a0, 0(a2)
  CHECK_TRAP 16, CAUSE_LOAD_ACCESS
  CHECK_TVAL 17, 8

  /* stores */
  TRAP_RESET
.Lsd1:
  sd a0, 8(a1)
  CHECK_TRAP 18, CAUSE_STORE_ACCESS
  CHECK_EPC 19, .Lsd1
  CHECK_TVAL 20, UNMAPPED + 8
  TRAP_RESET
  sb a0, 3(a1)
  CHECK_TRAP 21, CAUSE_STORE_ACCESS
  CHECK_TVAL 22, UNMAPPED + 3

  j pass
.Lbad:
  li a0, 99
  j fail
