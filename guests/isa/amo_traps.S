/* A-extension exceptions.  An AMO to an unmapped address -> store/AMO
 * access fault (cause 7, mtval = address, rd not written).
 * Misaligned A-extension accesses trap (no Zam): AMOs and SC ->
 * store/AMO address misaligned (cause 6); LR -> load address misaligned
 * (cause 4); mepc = the instruction, mtval = the address, no memory change,
 * rd not written.  A misaligned SC without a matching reservation may
 * instead just fail; both outcomes are accepted.
 * NOTE: QEMU 7.2 reports AMO exceptions as load exceptions (cause 5 for
 * the access fault: check 23 fails there; cause 4 when misaligned: check 58);
 * the privileged spec files AMOs under "Store/AMO" exceptions, as Spike does. */
#include "isa.h"
TEST_NAME amo_traps

#define UNMAPPED 0x200000000

  .text
  .globl test_main
test_main:
  /* AMO to an unmapped address */
  li a1, UNMAPPED
  TRAP_RESET
  li a0, 0x55
.Lamo:
  amoadd.d a0, a0, (a1)
  CHECK_TRAP 23, CAUSE_STORE_ACCESS
  CHECK_EPC 24, .Lamo
  CHECK_TVAL 25, UNMAPPED
  CHECK 26, a0, 0x55


  /* misaligned AMOs: cause 6, mtval = address, memory unchanged */
  TRAP_RESET
  la a1, amo_buf
  li t0, 0x0123456789abcdef
  sd t0, 0(a1)
  sd t0, 8(a1)
  li a0, 0x77
  li a2, 1
  addi a3, a1, 2
.Lmis1:
  amoadd.w a0, a2, (a3)
  CHECK_TRAP 58, CAUSE_MISALIGNED_STORE
  CHECK_EPC 59, .Lmis1
  ld t5, TF_TVAL(gp)
  CHECKR 60, t5, a3
  CHECK 61, a0, 0x77
  TRAP_RESET
  addi a3, a1, 4
.Lmis2:
  amoswap.d a0, a2, (a3)
  CHECK_TRAP 62, CAUSE_MISALIGNED_STORE
  CHECK_EPC 63, .Lmis2
  ld t5, TF_TVAL(gp)
  CHECKR 64, t5, a3
  TRAP_RESET
  addi a3, a1, 1
  amomaxu.d a0, a2, (a3)
  CHECK_TRAP 65, CAUSE_MISALIGNED_STORE
  TRAP_RESET
  addi a3, a1, 6
  amoor.w zero, a2, (a3)
  CHECK_TRAP 66, CAUSE_MISALIGNED_STORE
  ld a0, 0(a1)
  CHECK 67, a0, 0x0123456789abcdef
  ld a0, 8(a1)
  CHECK 68, a0, 0x0123456789abcdef
  /* misaligned LR: load address misaligned */
  TRAP_RESET
  addi a3, a1, 4
.Lmis3:
  lr.d a0, (a3)
  CHECK_TRAP 69, CAUSE_MISALIGNED_LOAD
  CHECK_EPC 70, .Lmis3
  ld t5, TF_TVAL(gp)
  CHECKR 71, t5, a3
  /* misaligned SC: either traps with cause 6, or (no reservation for that
   * address) simply fails; memory is unchanged in both cases */
  TRAP_RESET
  addi a3, a1, 2
  li a0, 0
  sc.w a0, a2, (a3)
  ld t5, TF_COUNT(gp)
  bnez t5, 1f
  CHECK_NZ 72, a0
  j 2f
1:
  CHECK_TRAP 73, CAUSE_MISALIGNED_STORE
2:
  ld a0, 0(a1)
  CHECK 74, a0, 0x0123456789abcdef
  ld a0, 8(a1)
  CHECK 75, a0, 0x0123456789abcdef

  j pass

  .bss
  .balign 64
amo_buf:
  .space 64
