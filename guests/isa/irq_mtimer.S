/* Machine timer interrupt through the CLINT: mtime advances; mip.MTIP
 * follows mtime >= mtimecmp; with mie.MTIE and mstatus.MIE the hart traps
 * with mcause = 0x8000000000000007 (not before mtimecmp is reached);
 * writing mtimecmp into the future clears MTIP. */
#include "isa.h"
TEST_NAME irq_mtimer

  .text
  .globl test_main
test_main:
  TRAP_RESET
  li s0, CLINT_MTIME
  li s1, CLINT_MTIMECMP0
  /* mtime advances */
  ld a1, 0(s0)
  li a5, 10000000
1:
  ld a2, 0(s0)
  bne a2, a1, 2f
  addi a5, a5, -1
  bnez a5, 1b
  li a0, 1
  j fail
2:
  bltu a2, a1, .Lbad2
  /* mtimecmp readable/writable */
  li t0, 0x123456789abcdef0
  sd t0, 0(s1)
  ld a0, 0(s1)
  CHECK 3, a0, 0x123456789abcdef0
  /* MTIP follows mtimecmp */
  li t0, -1
  sd t0, 0(s1)
  WAIT_MIP 4, MIP_MTIP, 0
  sd zero, 0(s1)
  WAIT_MIP 5, MIP_MTIP, MIP_MTIP
  li t0, -1
  sd t0, 0(s1)
  WAIT_MIP 6, MIP_MTIP, 0
  CHECK_NOTRAP 7

  /* timer interrupt 100 us from now */
  li t0, MIE_MTIE
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  ld a1, 0(s0)
  li t0, 1000
  add s2, a1, t0            /* s2 = deadline */
  sd s2, 0(s1)
  li t0, 1000000            /* give up after 100 ms of mtime */
  add s3, a1, t0
1:
  ld t0, TF_COUNT(gp)
  bnez t0, 2f
  ld t0, 0(s0)
  bltu t0, s3, 1b
  li a0, 8
  j fail
2:
  ld a3, 0(s0)              /* mtime after the interrupt */
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 9, CAUSE_IRQ_MTI
  CHECK_TVAL 10, 0
  bltu a3, s2, .Lbad11      /* taken before mtimecmp */
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  CHECK 12, a0, 0
  ld a0, 0(s1)
  CHECK 13, a0, -1
  csrw mie, zero
  j pass
.Lbad2:
  li a0, 2
  j fail
.Lbad11:
  li a0, 11
  j fail
