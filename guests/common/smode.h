/* S-mode test support shared by the ISA tests that run code in S-mode
 * (smode.S, sv39.S): entering S with MRET, an S trap frame, and an S-mode
 * trap handler that records scause/sepc/stval/sstatus.
 * Include after isa.h; place S_TRAP_HANDLER once, after the test's code. */
#ifndef WKVM_SMODE_H
#define WKVM_SMODE_H

#define SSTATUS_SPP  0x100
#define MPP_S        0x800

/* S trap frame offsets (s_frame) */
#define SF_COUNT  0
#define SF_T1     8
#define SF_CAUSE  16
#define SF_EPC    24
#define SF_TVAL   32
#define SF_STATUS 40
#define SF_RESUME 48
#define SF_T2     56

/* mret into S-mode at label */
.macro ENTER_S label
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MPP_S
  csrs mstatus, t0
  la t0, \label
  csrw mepc, t0
  mret
.endm

.macro S_RESET
  la t0, s_frame
  sd zero, SF_COUNT(t0)
  sd zero, SF_RESUME(t0)
  li t1, -1
  sd t1, SF_CAUSE(t0)
  sd t1, SF_EPC(t0)
  sd t1, SF_TVAL(t0)
.endm

.macro S_SET_RESUME label
  la t0, s_frame
  la t1, \label
  sd t1, SF_RESUME(t0)
.endm

/* load s_frame field into reg */
.macro SLD reg, off
  la \reg, s_frame
  ld \reg, \off(\reg)
.endm

/* The S-mode trap handler (s_handler) and its frame (s_frame):
 * interrupts clear sip.SSIP and return to sepc; exceptions resume at
 * SF_RESUME in S-mode if set, else skip the instruction (read through
 * sepc, so S code must be mapped readable). A trap storm fails with 253
 * after turning translation off. */
.macro S_TRAP_HANDLER
  .text
  .balign 4
s_handler:
  csrw sscratch, t0
  la t0, s_frame
  sd t1, SF_T1(t0)
  sd t2, SF_T2(t0)
  csrr t1, scause
  sd t1, SF_CAUSE(t0)
  csrr t1, sepc
  sd t1, SF_EPC(t0)
  csrr t1, stval
  sd t1, SF_TVAL(t0)
  csrr t1, sstatus
  sd t1, SF_STATUS(t0)
  ld t1, SF_COUNT(t0)
  addi t1, t1, 1
  sd t1, SF_COUNT(t0)
  li t2, 16
  bgeu t1, t2, s_storm
  csrr t1, scause
  bltz t1, .Lsirq
  ld t1, SF_RESUME(t0)
  beqz t1, .Lsskip
  sd zero, SF_RESUME(t0)
  csrw sepc, t1
  li t1, SSTATUS_SPP
  csrs sstatus, t1
  j .Lsout
.Lsskip:
  SKIP_TRAPPED_INSN sepc, t1, t2
  j .Lsout
.Lsirq:
  csrci sip, 2
.Lsout:
  ld t1, SF_T1(t0)
  ld t2, SF_T2(t0)
  csrr t0, sscratch
  sret
s_storm:
  csrw satp, zero
  li a0, 253
  j fail

  .data
  .balign 64
s_frame:
  .space 64
.endm

#endif
