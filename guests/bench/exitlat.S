/* MMIO exit round-trip latency: hart 0 reads the virtio-mmio MagicValue
 * register (served by the I/O loop on the main thread) SAMPLES times and
 * records each read's duration in mtime ticks (100 ns) with rdtime, in
 * u32 samples at 0x80100000; the count goes to 0x800ff000. The host reads
 * them from guest RAM after the guest powers off. Other harts sleep. */
  .equ SAMPLES, 20000
  .section .text.init
  .globl _start
_start:
  csrr t0, mhartid
  bnez t0, park
  li s2, 0x80100000       /* sample array */
  li s3, SAMPLES
  li s4, 0x10001000       /* virtio-mmio slot 0: MagicValue */
  li s5, 0
1:
  rdtime t1
  lw t3, 0(s4)
  rdtime t2
  sub t2, t2, t1
  slli t4, s5, 2
  add t4, t4, s2
  sw t2, 0(t4)
  addi s5, s5, 1
  blt s5, s3, 1b
  li t0, 0x800ff000
  sd s5, 0(t0)
  li t0, 0x74726976        /* check the last value read */
  bne t3, t0, fail
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
fail:
  li t0, 0x100000
  li t1, 0x13333
  sw t1, 0(t0)
park:
  csrw mie, zero
  wfi
  j park
