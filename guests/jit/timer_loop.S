/* JIT exactness: a machine timer interrupt must be taken while a hot
 * tight loop runs.  Each loop is first run to completion with interrupts
 * off (3000 iterations: hot), then started with a count that would take
 * hours, with mtimecmp set 5 ms ahead and MTIE/MIE on; the handler records
 * mtime, mcause, mepc and the loop counter and resumes after the loop (a
 * round whose interrupt came before the loop began, the host having paused
 * for 5 ms, is run again, up to 5 times).
 * Checked per round: exactly one interrupt, cause 0x8000000000000007, mepc
 * inside the loop, not before mtimecmp, within 1 s of it, the loop made
 * progress and did not finish.  Loops (3 rounds each):
 *   1  `addi a0, a0, -1; bnez a0, 1b`
 *   2  `j .` (never ends without the interrupt; no warm-up run)
 *   3  `c.addi a0, -1; c.bnez a0, 1b` (compressed)
 *   4  a call to a leaf function and back, and the count
 *   5  MIE cleared for 8 instructions, then set again: the interrupt
 *      arrives while masked and must be taken right after the csrsi
 *      (mepc = the next instruction) or while unmasked, never in between
 *   6  a load, a store and the count
 * Prints one line per loop with its rounds' latencies (mtime ticks, 10
 * MHz, from mtimecmp to the handler's read of mtime; they vary: lines
 * start with `#`), then PASS.  Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME timer_loop

#define BIG      (1 << 40)
#define WARM     3000
#define DELAY    50000           /* 5 ms of mtime */
#define LIMIT    10000000        /* 1 s */
#define ROUNDS   3

/* the handler's record (s0 and mscratch point to it) */
#define T_COUNT  0
#define T_CAUSE  8
#define T_EPC    16
#define T_MTIME  24
#define T_A0     32
#define T_RESUME 40
#define T_SAVE1  48
#define T_SAVE2  56
#define T_SIZE   64

/* ROUNDS rounds of one loop: `body` is the loop's function (a0 = count;
 * `body`_end marks its end), `name` the title of its line; warm = 1:
 * first run it to the end with interrupts off; chk = its first check */
.macro ROUND_SET name, body, warm, chk, prog=0
  la a0, \name
  call puts
  li s4, ROUNDS
  li s9, 5                   /* retries left (an interrupt before the loop began) */
.Lround\@:
  .if \warm
  li a0, WARM
  li s7, 0
  call \body                 /* interrupts off: runs to the end */
  csrci mstatus, MSTATUS_MIE /* (loop_masked sets MIE) */
  .endif
  sd zero, T_COUNT(s0)
  la t0, .Lresume\@
  sd t0, T_RESUME(s0)
  li a0, BIG
  li s7, 0
  li t0, MIE_MTIE
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE /* mtimecmp is still ~0: nothing pending yet */
  li t0, CLINT_MTIME
  ld t0, 0(t0)
  li t1, DELAY
  add s5, t0, t1             /* s5 = deadline */
  li t0, CLINT_MTIMECMP0
  sd s5, 0(t0)
.Ljal\@:
  jal \body
  /* the loop ended: the interrupt did not come */
  csrci mstatus, MSTATUS_MIE
  li a0, \chk
  j fail
.Lresume\@:
  csrci mstatus, MSTATUS_MIE
  csrw mie, zero
  ld t0, T_COUNT(s0)
  CHECK (\chk + 1), t0, 1
  ld t0, T_CAUSE(s0)
  CHECK (\chk + 2), t0, CAUSE_IRQ_MTI
  /* taken at the jal: the host paused for longer than DELAY between
   * mtimecmp and the loop; not the loop's doing, run the round again */
  ld t0, T_EPC(s0)
  la t1, .Ljal\@
  bne t0, t1, 1f
  addi s9, s9, -1
  bnez s9, .Lround\@
1:
  .if \prog
  /* taken before the loop's first iteration (the host paused as long): run it again too */
  ld t0, T_A0(s0)
  li t1, BIG
  bltu t0, t1, 2f
  addi s9, s9, -1
  bnez s9, .Lround\@
2:
  .endif
  /* mepc inside [body, body_end) */
  ld t0, T_EPC(s0)
  la t1, \body
  bltu t0, t1, .Lbad_epc\@
  la t1, \body\()_end
  bltu t0, t1, .Lepc_ok\@
.Lbad_epc\@:
  li a0, \chk + 3
  j bad_epc
.Lepc_ok\@:
  /* not before mtimecmp, not 1 s after it */
  ld t0, T_MTIME(s0)
  sub s6, t0, s5
  bltz s6, .Lbad_lat\@
  li t1, LIMIT
  bltu s6, t1, .Llat_ok\@
.Lbad_lat\@:
  li a0, \chk + 4
  j fail
.Llat_ok\@:
  li a0, ' '
  call putc
  mv a0, s6
  call putdec
  addi s4, s4, -1
  bnez s4, .Lround\@
  la a0, str_ticks
  call puts
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  la s0, trec
  csrw mscratch, s0
  la t0, tl_handler
  csrw mtvec, t0

  ROUND_SET str_k1, loop_count, 1, 10, 1
  ld t0, T_A0(s0)
  li t1, BIG
  bgeu t0, t1, .Lno_progress
  beqz t0, .Lno_progress
  ROUND_SET str_k2, loop_self, 0, 20
  ROUND_SET str_k3, loop_rvc, 1, 30, 1
  ld t0, T_A0(s0)
  li t1, BIG
  bgeu t0, t1, .Lno_progress
  ROUND_SET str_k4, loop_call, 1, 40
  ROUND_SET str_k5, loop_masked, 1, 50
  /* mepc: right after the csrsi, at the bnez, or at the loop head (csrci) */
  ld t0, T_EPC(s0)
  la t1, loop_masked_unmasked
  beq t0, t1, 1f
  la t1, loop_masked_bnez
  beq t0, t1, 1f
  la t1, loop_masked
  beq t0, t1, 1f
  li a0, 56
  j bad_epc
1:
  ROUND_SET str_k6, loop_mem, 1, 60, 1
  ld t0, T_A0(s0)
  li t1, BIG
  bgeu t0, t1, .Lno_progress

  la t0, trap_handler
  csrw mtvec, t0
  j pass
.Lno_progress:
  li a0, 9
  j fail

/* a0 = check: print the recorded mepc, then fail */
bad_epc:
  mv s1, a0
  la a0, str_epc
  call puts
  ld a0, T_EPC(s0)
  call puthex
  li a0, '\n'
  call putc
  mv a0, s1
  j fail

/* ------------------------------------------------------------------ */
/* the loops: a0 = count; return when it reaches 0 */
  .balign 4
loop_count:
1:
  addi a0, a0, -1
  bnez a0, 1b
  ret
loop_count_end:

  .balign 4
loop_self:
  j loop_self
loop_self_end:

  .balign 4
loop_rvc:
  .option push
  .option rvc
1:
  c.addi a0, -1
  c.bnez a0, 1b
  c.jr ra
  .option pop
loop_rvc_end:

  .balign 4
loop_call:
  mv s8, ra
1:
  call leaf
  addi a0, a0, -1
  bnez a0, 1b
  mv ra, s8
  ret
leaf:
  addi s7, s7, 1
  ret
loop_call_end:

  .balign 4
loop_masked:
  csrci mstatus, MSTATUS_MIE
  .rept 8
  addi s7, s7, 1
  .endr
  csrsi mstatus, MSTATUS_MIE
loop_masked_unmasked:
  addi a0, a0, -1
loop_masked_bnez:
  bnez a0, loop_masked
  ret
loop_masked_end:

  .balign 4
loop_mem:
  la t3, mem_word
1:
  ld t4, 0(t3)
  addi t4, t4, 1
  sd t4, 0(t3)
  addi a0, a0, -1
  bnez a0, 1b
  ret
loop_mem_end:

/* M-mode handler: record, silence the timer, resume at T_RESUME */
  .balign 4
tl_handler:
  csrrw t0, mscratch, t0
  sd t1, T_SAVE1(t0)
  li t1, CLINT_MTIME
  ld t1, 0(t1)
  sd t1, T_MTIME(t0)
  csrr t1, mcause
  sd t1, T_CAUSE(t0)
  csrr t1, mepc
  sd t1, T_EPC(t0)
  sd a0, T_A0(t0)
  ld t1, T_COUNT(t0)
  addi t1, t1, 1
  sd t1, T_COUNT(t0)
  sd t2, T_SAVE2(t0)
  li t1, CLINT_MTIMECMP0
  li t2, -1
  sd t2, 0(t1)
  ld t1, T_RESUME(t0)
  csrw mepc, t1
  ld t1, T_SAVE1(t0)
  ld t2, T_SAVE2(t0)
  csrrw t0, mscratch, t0
  mret

  .section .rodata
str_k1: .asciz "# countdown loop, latency:"
str_k2: .asciz "# j . loop, latency:"
str_k3: .asciz "# compressed loop, latency:"
str_k4: .asciz "# loop with a call, latency:"
str_k5: .asciz "# loop masking MIE, latency:"
str_k6: .asciz "# loop with memory, latency:"
str_ticks: .asciz " ticks\n"
str_epc: .asciz "\ninterrupt taken at mepc = "

  .data
  .balign 8
trec:
  .space T_SIZE
mem_word:
  .dword 0
