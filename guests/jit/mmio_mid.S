/* JIT exactness: device accesses in the middle of a hot block.  One loop
 * of 4000 iterations (its body two blocks) writes registers, reads
 * and writes devices between RAM accesses and register updates, and uses
 * each value it read at once:
 *   virtio-mmio slot 0 MagicValue (0x10001000, served by the host on wkvm:
 *     an exit in the middle of the block) = 0x74726976, also tested by a
 *     branch inside the loop;
 *   the UART's LSR (0x10000005): THRE (0x20) is set (nothing is being sent);
 *   the UART's scratch register (0x10000007): a byte written, read back;
 *   the goldfish RTC (0x101000, host-served): TIME_LOW then TIME_HIGH,
 *     nanoseconds that never go backwards (every other iteration);
 *   the CLINT: mtimecmp of hart 0 written and read back (its interrupt is
 *     disabled), mtime never goes backwards.
 * After the loop every sum and count is checked against what the loop
 * must have computed.  Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME mmio_mid

#define COUNT  4000
#define VIRTIO0 0x10001000
#define RTC     0x101000
#define MAGIC   0x74726976

  .text
  .globl test_main
test_main:
  TRAP_RESET
  csrw mie, zero
  li a1, VIRTIO0
  li a2, UART_BASE
  li a3, RTC
  li a4, CLINT_MTIMECMP0
  li a5, CLINT_MTIME
  li a6, MAGIC
  la a7, ram_words
  li s1, COUNT
  li s2, 0                   /* iterations, counted before the device accesses */
  li s3, 0                   /* sum of MagicValue */
  li s4, 0                   /* sum of LSR & THRE */
  li s5, 0                   /* last RTC time */
  li s6, 0                   /* RTC went backwards: count */
  li s7, 0                   /* scratch / mtimecmp read back wrong: count */
  li s8, 0                   /* iterations, counted after them */
  li s9, 0                   /* last mtime */
  li s10, 0                  /* mtime went backwards: count */
  li s11, 0                  /* MagicValue wrong (the branch): count */
  li s0, 0                   /* RTC reads */
  .balign 4
.Lloop:
  addi s2, s2, 1
  sd s2, 0(a7)
  lw t0, 0(a1)               /* MagicValue: a host exit on wkvm */
  add s3, s3, t0
  beq t0, a6, 1f
  addi s11, s11, 1
1:
  lbu t1, 5(a2)              /* LSR */
  andi t1, t1, 0x20
  add s4, s4, t1
  ld t2, 0(a7)
  sub t2, t2, s2             /* the RAM word still holds s2: 0 */
  add s7, s7, t2
  andi t3, s1, 1
  bnez t3, 2f                /* the RTC on even iterations (a slow exit on wkvm) */
  addi s0, s0, 1
  lwu t2, 0(a3)              /* RTC TIME_LOW (latches TIME_HIGH) */
  lwu t3, 4(a3)              /* RTC TIME_HIGH */
  slli t3, t3, 32
  or t2, t2, t3
  sltu t3, t2, s5
  add s6, s6, t3
  mv s5, t2
2:
  sb s1, 7(a2)               /* UART scratch register */
  lbu t3, 7(a2)
  andi t4, s1, 0xff
  xor t3, t3, t4
  snez t3, t3
  add s7, s7, t3
  sd s1, 0(a4)               /* mtimecmp (MTIE off) */
  ld t3, 0(a4)
  xor t3, t3, s1
  snez t3, t3
  add s7, s7, t3
  ld t2, 0(a5)               /* mtime */
  sltu t3, t2, s9
  add s10, s10, t3
  mv s9, t2
  addi s8, s8, 1
  sd s8, 8(a7)
  addi s1, s1, -1
  bnez s1, .Lloop

  li t0, -1
  sd t0, 0(a4)
  CHECK 1, s2, COUNT
  CHECK 2, s8, COUNT
  CHECK 3, s3, MAGIC * COUNT
  CHECK 4, s11, 0
  CHECK 5, s4, 0x20 * COUNT
  CHECK 6, s6, 0
  CHECK 7, s7, 0
  CHECK 8, s10, 0
  CHECK 13, s0, COUNT / 2
  ld t0, 8(a7)
  CHECK 9, t0, COUNT
  ld t0, 0(a7)
  CHECK 10, t0, COUNT
  /* the RTC is wall-clock time: after 2020 (1.58e18 ns) */
  li t0, 1577836800000000000
  sltu t0, s5, t0
  CHECK 11, t0, 0
  CHECK_NOTRAP 12
  j pass

  .data
  .balign 8
ram_words:
  .dword 0, 0
