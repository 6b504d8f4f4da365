/*
 * Entry of the SBI test guest, which runs in S-mode on an SBI (wkvm's
 * built-in SBI, or OpenSBI under QEMU) like a kernel: a0 = hart id,
 * a1 = FDT (boot hart) or the hart_start opaque value (other harts).
 * Each hart gets a 4 KiB stack indexed by hart id.
 */
#define NSTACKS 8

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  la t0, s_trap               /* any trap is a failure */
  csrw stvec, t0
  la sp, stacks_top
  call boot_main              /* never returns */
  j .

  /* hart_start target: a0 = hart id, a1 = opaque */
  .globl secondary_entry
  .balign 4
secondary_entry:
  la t2, secondary_main       /* ends with hart_stop */
  j hart_entry

  /* non-retentive hart_suspend's resume address: a0 = hart id, a1 = opaque */
  .globl resume_entry
  .balign 4
resume_entry:
  la t2, resume_main          /* never returns */

  /* a hart entering afresh in S-mode: its own stack, then C at t2 */
hart_entry:
  la t0, s_trap
  csrw stvec, t0
  li t0, NSTACKS
  bgeu a0, t0, .
  la sp, stacks_top
  slli t0, a0, 12
  sub sp, sp, t0
  jalr t2
  j .

  .balign 4
s_trap:
  csrr a0, scause
  csrr a1, sepc
  csrr a2, stval
  call trap_fail
  j .

  .section .noinit.stacks, "aw", @nobits
  .balign 16
  .space NSTACKS * 4096
stacks_top:
