/*
 * wkvm ISA test runtime: start-up, trap handler, pass/fail reporting.
 * See isa.h for the conventions.  Reporting: the result is written to
 * `tohost` ((code << 1) | 1, HTIF) and then to the sifive_test device
 * (0x5555 = pass, (code << 16) | 0x3333 = fail), after a line on the UART:
 *   "PASS <name>"  or  "FAIL <name> check <n> (traps=.. mcause=.. mepc=.. mtval=..)"
 */
#include "isa.h"

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  csrr t0, mhartid
  bnez t0, park
  la sp, isa_stack_top
  la gp, trap_frame
  la t0, trap_handler
  csrw mtvec, t0
  csrw mie, zero
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  /* Optional pieces: if an implementation traps on them, the handler
   * skips the instruction and TRAP_RESET below forgets it. */
  csrw medeleg, zero
  csrw mideleg, zero
  li t0, -1                /* PMP entry 0: NAPOT over everything, RWX, */
  csrw pmpaddr0, t0        /* so that U-mode may fetch and access memory */
  li t0, 0x1f
  csrw pmpcfg0, t0
  /* no pending CLINT interrupts for hart 0 */
  li t0, CLINT_MTIMECMP0
  li t1, -1
  sd t1, 0(t0)
  li t0, CLINT_MSIP0
  sw zero, 0(t0)
  TRAP_RESET
  li ra, 0
  j test_main

  /* harts other than 0 sleep with interrupts off */
park:
  csrw mie, zero
1:
  wfi
  j 1b

/* ------------------------------------------------------------------ */
  .text
  .balign 4
  .globl trap_handler
trap_handler:
  sd t0, TF_T0(gp)
  sd t1, TF_T1(gp)
  sd t2, TF_T2(gp)
  csrr t0, mcause
  sd t0, TF_CAUSE(gp)
  csrr t0, mepc
  sd t0, TF_EPC(gp)
  csrr t0, mtval
  sd t0, TF_TVAL(gp)
  csrr t0, mstatus
  sd t0, TF_STATUS(gp)
  ld t0, TF_COUNT(gp)
  addi t0, t0, 1
  sd t0, TF_COUNT(gp)
  li t1, 64
  bgeu t0, t1, trap_storm
  csrr t0, mcause
  bltz t0, .Lirq
  /* exception */
  ld t1, TF_RESUME(gp)
  beqz t1, .Lskip
  sd zero, TF_RESUME(gp)
  csrw mepc, t1
  li t1, MSTATUS_MPP
  csrs mstatus, t1
  j .Lout
.Lskip:
  SKIP_TRAPPED_INSN mepc, t0, t1
  j .Lout
.Lirq:
  slli t0, t0, 1
  srli t0, t0, 1
  li t1, 3
  bne t0, t1, 1f
  li t1, CLINT_MSIP0
  sw zero, 0(t1)
  j .Lirq_out
1:
  li t1, 7
  bne t0, t1, 2f
  li t1, CLINT_MTIMECMP0
  li t2, -1
  sd t2, 0(t1)
  j .Lirq_out
2:
  li t1, 1
  sll t1, t1, t0
  csrc mie, t1
.Lirq_out:
  ld t1, TF_IRQ_RESUME(gp)
  beqz t1, .Lout
  sd zero, TF_IRQ_RESUME(gp)
  csrw mepc, t1
  li t1, MSTATUS_MPP
  csrs mstatus, t1
.Lout:
  ld t0, TF_T0(gp)
  ld t1, TF_T1(gp)
  ld t2, TF_T2(gp)
  mret

trap_storm:
  li a0, 255
  j fail

/* ------------------------------------------------------------------ */
  .globl pass
pass:
  la sp, isa_stack_top
  la a0, str_pass
  call puts
  la a0, test_name
  call puts
  li a0, '\n'
  call putc
  li a0, 0
  j exit

  /* a0 = check number */
  .globl fail
fail:
  la sp, isa_stack_top
  mv s0, a0
  la a0, str_fail
  call puts
  la a0, test_name
  call puts
  la a0, str_check
  call puts
  mv a0, s0
  call putdec
  la a0, str_traps
  call puts
  ld a0, TF_COUNT(gp)
  call putdec
  la a0, str_cause
  call puts
  ld a0, TF_CAUSE(gp)
  call puthex
  la a0, str_epc
  call puts
  ld a0, TF_EPC(gp)
  call puthex
  la a0, str_tval
  call puts
  ld a0, TF_TVAL(gp)
  call puthex
  la a0, str_end
  call puts
  mv a0, s0
  andi a0, a0, 255
  bnez a0, exit
  li a0, 254           /* never report a failure as 0 */
  /* fall through */

  /* a0 = exit code: HTIF first, then the sifive_test device */
  .globl exit
exit:
  slli t0, a0, 1
  ori t0, t0, 1
  la t1, tohost
  sd t0, 0(t1)
  fence
  li t1, TEST_DEV
  bnez a0, 1f
  li t0, 0x5555
  sw t0, 0(t1)
  j 2f
1:
  slli t0, a0, 16
  li t2, 0x3333
  or t0, t0, t2
  sw t0, 0(t1)
2:
  wfi
  j 2b

/* ------------------------------------------------------------------ */
/* putc(a0): clobbers t0, t1 */
  .globl putc
putc:
  li t0, UART_BASE
1:
  lbu t1, 5(t0)
  andi t1, t1, 0x20
  beqz t1, 1b
  sb a0, 0(t0)
  ret

/* puts(a0 = NUL-terminated string) */
  .globl puts
puts:
  addi sp, sp, -16
  sd ra, 8(sp)
  sd s1, 0(sp)
  mv s1, a0
1:
  lbu a0, 0(s1)
  beqz a0, 2f
  call putc
  addi s1, s1, 1
  j 1b
2:
  ld s1, 0(sp)
  ld ra, 8(sp)
  addi sp, sp, 16
  ret

/* puthex(a0): 16 hex digits with 0x prefix */
  .globl puthex
puthex:
  addi sp, sp, -32
  sd ra, 24(sp)
  sd s1, 16(sp)
  sd s2, 8(sp)
  mv s1, a0
  li a0, '0'
  call putc
  li a0, 'x'
  call putc
  li s2, 60
1:
  srl a0, s1, s2
  andi a0, a0, 15
  addi a0, a0, '0'
  li t0, '9'
  ble a0, t0, 2f
  addi a0, a0, 'a' - '0' - 10
2:
  call putc
  addi s2, s2, -4
  bgez s2, 1b
  ld s2, 8(sp)
  ld s1, 16(sp)
  ld ra, 24(sp)
  addi sp, sp, 32
  ret

/* putdec(a0): unsigned decimal */
  .globl putdec
putdec:
  addi sp, sp, -48
  sd ra, 40(sp)
  sd s1, 32(sp)
  mv t0, a0
  addi s1, sp, 31
  sb zero, 0(s1)
  li t1, 10
1:
  remu t2, t0, t1
  divu t0, t0, t1
  addi t2, t2, '0'
  addi s1, s1, -1
  sb t2, 0(s1)
  bnez t0, 1b
  mv a0, s1
  call puts
  ld s1, 32(sp)
  ld ra, 40(sp)
  addi sp, sp, 48
  ret

/* ------------------------------------------------------------------ */
  .section .rodata
str_pass:  .asciz "PASS "
str_fail:  .asciz "FAIL "
str_check: .asciz " check "
str_traps: .asciz " (traps="
str_cause: .asciz " mcause="
str_epc:   .asciz " mepc="
str_tval:  .asciz " mtval="
str_end:   .asciz ")\n"

  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
tohost:
  .dword 0
  .balign 64
  .globl fromhost
fromhost:
  .dword 0

  .bss
  .balign 16
  .globl trap_frame
trap_frame:
  .space TF_SIZE
  .balign 16
isa_stack:
  .space 4096
  .globl isa_stack_top
isa_stack_top:
