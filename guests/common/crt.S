/*
 * Start-up code for the C guests (demo, bench, diff).
 *
 * Every hart enters _start at the same time in M-mode (a0 = hart id,
 * a1 = FDT address).  Harts with id >= MAX_HARTS sleep forever.  Each hart
 * gets its own 8 KiB stack (indexed by hart id).  Hart 0 clears .bss and
 * then releases the others; every hart then calls
 *     int main(unsigned long hartid, const void *fdt)
 * and a return from main powers the machine off with main's value as the
 * exit code (0 = pass).
 */
#define MAX_HARTS   128
#define STACK_SHIFT 13          /* 8 KiB per hart */

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  csrr a0, mhartid
  li t0, MAX_HARTS
  bgeu a0, t0, .Lpark
  la sp, __stacks_top
  slli t0, a0, STACK_SHIFT
  sub sp, sp, t0
  mv tp, a0
  la t0, crt_trap
  csrw mtvec, t0
  csrw mie, zero
  csrci mstatus, 0x8          /* MIE = 0 */
  li t0, 0x2000               /* FS = Initial: the compiler may use FP regs */
  csrs mstatus, t0
  csrw fcsr, zero
  bnez a0, .Lwait

  /* hart 0: clear .bss, then open the gate */
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  fence rw, rw
  la t0, __boot_gate
  li t1, 1
  amoswap.w.rl zero, t1, (t0)
  j .Lmain

.Lwait:
  la t0, __boot_gate
1:
  lw t1, 0(t0)
  beqz t1, 1b
  fence r, rw

.Lmain:
  call main
  call poweroff              /* a0 = exit code */
.Lpark:
  csrw mie, zero
1:
  wfi
  j 1b

  /* unexpected trap: report it and fail with exit code 0xEE */
  .balign 4
crt_trap:
  csrr a0, mcause
  csrr a1, mepc
  csrr a2, mtval
  call unexpected_trap
  j .Lpark

  .data
  .balign 8
  .globl __boot_gate
__boot_gate:                 /* in .data, not .bss: hart 0 clears .bss */
  .word 0

  .section .noinit.stacks, "aw", @nobits
  .balign 16
__stacks:
  .space MAX_HARTS << STACK_SHIFT
  .globl __stacks_top
__stacks_top:
