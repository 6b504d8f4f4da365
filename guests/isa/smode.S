/* S-mode and trap delegation (privileged spec, "Supervisor-Level ISA",
 * "Machine Trap Delegation Registers", mstatus TSR/TW/TVM):
 *  - MRET with MPP = S enters S-mode; ECALL from S traps to M, cause 9;
 *  - medeleg bit 8: ECALL from U goes to S (stvec, scause 8, sepc);
 *  - SRET: pc = sepc, SIE = SPIE, SPIE = 1, SPP = U;
 *  - sstatus is a restricted view of mstatus; sie/sip are views of
 *    mie/mip masked by mideleg;
 *  - TSR = 1: SRET in S is illegal; TW = 1: WFI in S is illegal;
 *    TVM = 1: satp access and SFENCE.VMA in S are illegal;
 *  - a delegated supervisor software interrupt is taken in S with
 *    scause = (1 << 63) | 1;
 *  - an S-mode access to an M-only CSR is illegal (to M). */
#include "isa.h"
#include "smode.h"
TEST_NAME smode

#define SSTATUS_SIE  0x2
#define SSTATUS_SPIE 0x20
#define MSTATUS_TVM  (1 << 20)
#define MSTATUS_TW   (1 << 21)
#define MSTATUS_TSR  (1 << 22)

  .text
  .globl test_main
test_main:
  la t0, s_handler
  csrw stvec, t0
  csrr t1, stvec
  CHECKR 1, t0, t1

  /* 1. ECALL from S traps to M, cause 9, MPP = S */
  TRAP_RESET
  SET_RESUME .Lb1
  li a0, 0
  ENTER_S .Ls1
.Ls1:
  li a0, 0x55
.Lecall_s1:
  ecall
  ebreak
.Lb1:
  CHECK_TRAP 2, CAUSE_ECALL_S
  CHECK_EPC 3, .Lecall_s1
  CHECK 4, a0, 0x55
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP
  and a1, a1, t0
  CHECK 5, a1, MPP_S

  /* 2. SRET from S to S: SIE = SPIE, SPIE = 1, SPP = U */
  TRAP_RESET
  SET_RESUME .Lb2
  ENTER_S .Ls2
.Ls2:
  csrci sstatus, SSTATUS_SIE
  li t0, SSTATUS_SPIE | SSTATUS_SPP
  csrs sstatus, t0
  la t0, .Ls2b
  csrw sepc, t0
  sret
  ebreak
.Ls2b:
  csrr a1, sstatus
  csrci sstatus, SSTATUS_SIE
  csrr a2, sscratch          /* S CSR: legal */
  ecall
.Lb2:
  CHECK_TRAP 6, CAUSE_ECALL_S
  andi a1, a1, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP
  CHECK 7, a1, SSTATUS_SIE | SSTATUS_SPIE

  /* 3. medeleg bit 8: ECALL from U (entered from S by SRET, SPP = 0)
   * goes to S; the handler resumes in S, S's own ECALL goes to M. */
  li t0, 1 << 8
  csrw medeleg, t0
  csrr t1, medeleg
  CHECK 8, t1, 1 << 8
  TRAP_RESET
  S_RESET
  SET_RESUME .Lb3
  ENTER_S .Ls3
.Ls3:
  S_SET_RESUME .Ls3back
  li t0, SSTATUS_SPP
  csrc sstatus, t0
  li t0, SSTATUS_SPIE
  csrs sstatus, t0
  la t0, .Lu3
  csrw sepc, t0
  li a0, 0
  sret
.Lu3:
  li a0, 0x77
.Lecall_u3:
  ecall
  ebreak
.Ls3back:
  csrr a3, sstatus           /* still S: S CSR legal */
  ecall
.Lb3:
  csrw medeleg, zero
  CHECK_TRAP 9, CAUSE_ECALL_S
  CHECK 10, a0, 0x77
  SLD a1, SF_COUNT
  CHECK 11, a1, 1
  SLD a1, SF_CAUSE
  CHECK 12, a1, CAUSE_ECALL_U
  SLD a1, SF_EPC
  la t0, .Lecall_u3
  CHECKR 13, a1, t0
  SLD a1, SF_TVAL
  CHECK 14, a1, 0
  /* on S trap entry from U: SPP = 0, SPIE = old SIE (1 after sret), SIE = 0 */
  SLD a1, SF_STATUS
  andi a1, a1, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP
  CHECK 15, a1, SSTATUS_SPIE

  /* 4. sstatus is a view of mstatus */
  TRAP_RESET
  csrci mstatus, SSTATUS_SIE
  csrsi sstatus, SSTATUS_SIE
  csrr a1, mstatus
  andi a1, a1, SSTATUS_SIE
  CHECK 16, a1, SSTATUS_SIE
  csrci mstatus, SSTATUS_SIE
  csrr a1, sstatus
  andi a1, a1, SSTATUS_SIE
  CHECK 17, a1, 0
  /* M-only fields are not visible in sstatus */
  li t0, MSTATUS_MPP | MSTATUS_MPIE
  csrs mstatus, t0
  csrr a1, sstatus
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
  and a1, a1, t0
  CHECK 18, a1, 0
  /* writing sstatus leaves MPP alone */
  csrr a2, sstatus
  csrw sstatus, a2
  csrr a1, mstatus
  li t0, MSTATUS_MPP
  and a1, a1, t0
  CHECK 19, a1, MSTATUS_MPP
  CHECK_NOTRAP 20

  /* 5. sie/sip are masked by mideleg */
  csrw mie, zero
  csrw mideleg, zero
  li t0, 0x222
  csrw sie, t0
  csrr a1, sie
  CHECK 21, a1, 0
  csrr a1, mie
  CHECK 22, a1, 0
  li t0, 0x222
  csrw mideleg, t0
  csrr a1, mideleg
  andi a1, a1, 0x222       /* other bits may be hard-wired (H) */
  CHECK 23, a1, 0x222
  li t0, 0x222
  csrw sie, t0
  csrr a1, sie
  CHECK 24, a1, 0x222
  csrr a1, mie
  andi a1, a1, 0x222
  CHECK 25, a1, 0x222
  csrw sie, zero
  csrr a1, mie
  CHECK 26, a1, 0
  /* SSIP through sip (delegated) reaches mip */
  csrsi sip, 2
  csrr a1, mip
  andi a1, a1, 2
  CHECK 27, a1, 2
  csrr a1, sip
  andi a1, a1, 2
  CHECK 28, a1, 2
  csrci sip, 2
  csrr a1, mip
  andi a1, a1, 2
  CHECK 29, a1, 0
  /* not delegated: sip.SSIP reads 0 and ignores writes */
  csrw mideleg, zero
  csrsi mip, 2
  csrr a1, sip
  andi a1, a1, 2
  CHECK 30, a1, 0
  csrci sip, 2
  csrr a1, mip
  andi a1, a1, 2
  CHECK 31, a1, 2
  csrci mip, 2
  CHECK_NOTRAP 32

  /* 6. TSR = 1: SRET in S is illegal (to M) */
  TRAP_RESET
  SET_RESUME .Lb6
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  ENTER_S .Ls6
.Ls6:
  la t0, .Ls6
  csrw sepc, t0
.Lsret6:
  sret
  ebreak
.Lb6:
  li t0, MSTATUS_TSR
  csrc mstatus, t0
  CHECK_TRAP 33, CAUSE_ILLEGAL
  CHECK_EPC 34, .Lsret6

  /* 7. TW = 1: WFI in S is illegal */
  TRAP_RESET
  SET_RESUME .Lb7
  li t0, MSTATUS_TW
  csrs mstatus, t0
  ENTER_S .Ls7
.Ls7:
.Lwfi7:
  wfi
  ebreak
.Lb7:
  li t0, MSTATUS_TW
  csrc mstatus, t0
  CHECK_TRAP 35, CAUSE_ILLEGAL
  CHECK_EPC 36, .Lwfi7

  /* 8. TVM = 1: satp access and SFENCE.VMA in S are illegal */
  TRAP_RESET
  SET_RESUME .Lb8
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  ENTER_S .Ls8
.Ls8:
.Lsatp8:
  csrr a1, satp
  ebreak
.Lb8:
  CHECK_TRAP 37, CAUSE_ILLEGAL
  CHECK_EPC 38, .Lsatp8
  TRAP_RESET
  SET_RESUME .Lb8b
  ENTER_S .Ls8b
.Ls8b:
.Lsfence8:
  sfence.vma
  ebreak
.Lb8b:
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  CHECK_TRAP 39, CAUSE_ILLEGAL
  CHECK_EPC 40, .Lsfence8
  /* TVM = 0: satp is accessible from S */
  TRAP_RESET
  SET_RESUME .Lb8c
  ENTER_S .Ls8c
.Ls8c:
  csrr a1, satp
  ecall
.Lb8c:
  CHECK_TRAP 41, CAUSE_ECALL_S

  /* 9. supervisor software interrupt, delegated, taken in S */
  TRAP_RESET
  S_RESET
  SET_RESUME .Lb9
  csrw mie, zero
  li t0, 2
  csrw mideleg, t0
  csrw sie, t0
  csrci mstatus, SSTATUS_SIE
  csrsi mip, 2             /* pending; M-mode never takes it (delegated) */
  nop
  CHECK_NOTRAP 42
  ENTER_S .Ls9
.Ls9:
  li a0, 0
  nop
  SLD a1, SF_COUNT         /* sstatus.SIE = 0: not taken yet */
  bnez a1, .Ls9bad
  csrsi sstatus, SSTATUS_SIE
.Lirq9:
  li a0, 1
  csrci sstatus, SSTATUS_SIE
  ecall
.Ls9bad:
  li a0, 2
  ecall
.Lb9:
  csrw mideleg, zero
  csrw mie, zero
  CHECK_TRAP 43, CAUSE_ECALL_S
  CHECK 44, a0, 1
  SLD a1, SF_COUNT
  CHECK 45, a1, 1
  SLD a1, SF_CAUSE
  CHECK 46, a1, 0x8000000000000001
  SLD a1, SF_EPC
  la t0, .Lirq9
  CHECKR 47, a1, t0
  csrr a1, mip
  andi a1, a1, 2
  CHECK 48, a1, 0

  /* 10. S-mode access to an M-only CSR is illegal, trap goes to M */
  TRAP_RESET
  S_RESET
  SET_RESUME .Lb10
  ENTER_S .Ls10
.Ls10:
.Lmscratch10:
  csrr a1, mscratch
  ebreak
.Lb10:
  CHECK_TRAP 49, CAUSE_ILLEGAL
  CHECK_EPC 50, .Lmscratch10
  CHECK_TVAL_INSN32 51, .Lmscratch10
  SLD a1, SF_COUNT
  CHECK 52, a1, 0
  j pass

/* ------------------------------------------------------------------ */
  S_TRAP_HANDLER
