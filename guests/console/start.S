/*
 * Entry of the console guest: S-mode on an SBI (wkvm's built-in one, or
 * OpenSBI under QEMU), loaded where a kernel goes. Only the boot hart
 * runs; its stack is below stack_top.
 */
  .section .text.init, "ax", @progbits
  .globl _start
_start:
  la t0, s_trap
  csrw stvec, t0
  la sp, stack_top
  call console_main
  j .

  .balign 4
s_trap:
  j s_trap          /* no trap is expected: a debugger or a pause finds it here */

  .section .noinit.stack, "aw", @nobits
  .balign 16
  .space 8192
stack_top:
