/* JIT exactness: a fault in the middle of a hot block.  A loop of 4000
 * iterations whose body is one block computes several registers, then
 * accesses memory at an address that is good on every iteration but the
 * 3000th (branch-free), then computes more.  On the faulting iteration the
 * M-mode handler records mcause, mepc, mtval, minstret and the registers;
 * it "emulates" a faulting load (t3 = a5 = 0x77) and resumes after the
 * instruction, in the middle of the block.  Checked: exactly one trap; the
 * cause, mepc and mtval; the registers written before the faulting
 * instruction in that iteration hold their new values and those after it
 * still hold the previous iteration's; the faulting store did not write;
 * the loop's final results; and, where minstret counts instructions
 * exactly (a write to it is what the next read sees, as on wkvm; QEMU's
 * runs on host ticks and is not checked), that it advanced by exactly the
 * instructions executed before the fault: the spec says the faulting
 * instruction does not retire, wkvm's interpreter counts it; either is
 * accepted (one more or less), a count off by any other amount (the whole
 * block, or only up to the block's start) is not.
 *   A (1-19)  S-mode under Sv39, load page fault (unmapped page)
 *   B (20-39) S-mode under Sv39, store page fault (read-only alias of the page)
 *   C (40-59) M-mode, load access fault (physical 0) by a compressed c.ld
 *   D (60-62) a hot function entered at its start, in its middle, and at
 *             the upper half of a 4-byte instruction (which is itself a
 *             valid 2-byte instruction: overlapping instruction streams)
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
#include "smode.h"
TEST_NAME fault_mid

#define N       3000          /* the faulting iteration (0-based) */
#define COUNT   4000
#define VA_DATA 0x40000000    /* -> page0, RW */
#define VA_HOLE 0x40001000    /* not mapped */
#define VA_RO   0x40002000    /* -> page0, read-only */
#define DATA    5             /* page0 word 0 */
#define EMUL    0x77          /* what the handler puts in t3 and a5 */

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_A 0x40
#define PTE_D 0x80

/* the handler's record */
#define R_COUNT   0
#define R_CAUSE   8
#define R_EPC     16
#define R_TVAL    24
#define R_INSTRET 32
#define R_S2      40
#define R_S6      48
#define R_S7      56
#define R_S9      64
#define R_S10     72
#define R_T1      80
#define R_T2      88
#define R_T3      96
#define R_A4      104
#define R_A5      112
#define R_MEM     120          /* page0 word 1 at the fault */
#define R_BACK    128          /* where an ECALL from S returns to, in M-mode */
#define R_SAVE1   136
#define R_SAVE2   144
#define R_TMPI    152          /* minstret at handler entry, any trap */
#define R_SIZE    160

/* fail n unless record field == imm */
.macro CHECK_REC n, field, imm
  la t0, rec
  ld t0, \field(t0)
  CHECK \n, t0, \imm
.endm

/* fail n unless record field == the address of label */
.macro CHECK_REC_LABEL n, field, label
  la t0, rec
  ld t0, \field(t0)
  la t1, \label
  CHECKR \n, t0, t1
.endm

/* fail n unless (exact minstret) rec.instret - base is imm or imm + 1
 * (the faulting instruction counted as retired or not: see the top) */
.macro CHECK_INSTRET n, base, imm
  la t0, exact_instret
  ld t0, 0(t0)
  beqz t0, .Lskip\@
  la t0, rec
  ld t0, R_INSTRET(t0)
  sub t0, t0, \base
  li t1, \imm
  sub t0, t0, t1
  sltiu t0, t0, 2
  CHECK \n, t0, 1
.Lskip\@:
.endm

/* clear the record; the next ECALL from S/U resumes at label in M-mode */
.macro REC_RESET label
  la t0, rec
  .irp off, R_COUNT, R_CAUSE, R_EPC, R_TVAL, R_INSTRET, R_S2, R_S6, R_S7, R_S9, R_S10, R_T1, R_T2, R_T3, R_A4, R_A5, R_MEM
  sd zero, \off(t0)
  .endr
  la t1, \label
  sd t1, R_BACK(t0)
  csrw mscratch, t0
  la t0, page0
  sd zero, 8(t0)
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  /* exact instruction counting?  a written value is what the next read
   * sees, and two reads in a row differ by one */
  li t0, 1000
  csrw minstret, t0
  csrr t1, minstret
  csrr t2, minstret
  li a0, 0
  bne t1, t0, 1f
  sub t2, t2, t1
  li t0, 1
  bne t2, t0, 1f
  li a0, 1
1:
  la t0, exact_instret
  sd a0, 0(t0)

  /* page tables: root[2] identity gigapage at 0x80000000 (the code);
   * root[1] -> l1 -> l0: VA_DATA -> page0 RW, VA_HOLE invalid, VA_RO -> page0 R */
  la t0, page0
  li t1, DATA
  sd t1, 0(t0)
  la t2, root_table
  li t0, ((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  sd t0, 16(t2)
  la t0, l1_table
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, PTE_V
  sd t0, 8(t2)
  la t0, l0_table
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, PTE_V
  la t1, l1_table
  sd t0, 0(t1)
  la t0, page0
  srli t0, t0, 12
  slli t0, t0, 10
  la t1, l0_table
  ori t2, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  sd t2, 0(t1)
  sd zero, 8(t1)
  ori t2, t0, PTE_V | PTE_R | PTE_A
  sd t2, 16(t1)
  la t0, root_table
  srli t0, t0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  li t0, 7
  csrw mcounteren, t0        /* S-mode may read instret */
  la t0, fm_handler
  csrw mtvec, t0

  /* ---- A: S-mode, load page fault in the middle of the block ---- */
  REC_RESET .LbackA
  ENTER_S .LsA
.LsA:
  li s2, 0
  li s3, N
  li s4, COUNT
  li s5, VA_DATA
  li s6, 0
  li s7, 0
  li s9, 0
  li s10, 0
  li t3, 0
  rdinstret s0
.LloopA:
  addi s6, s6, 3
  xor s9, s6, s2
  sub t1, s2, s3
  seqz t1, t1
  slli t1, t1, 12            /* VA_HOLE - VA_DATA on iteration N */
  add t2, s5, t1
.LfaultA:
  ld t3, 0(t2)
  add s7, s7, t3
  addi s10, s10, 1
  sd s2, 8(s5)
  addi s2, s2, 1
  bne s2, s4, .LloopA
  ecall
.LbackA:
  CHECK_REC 1, R_COUNT, 1
  CHECK_REC 2, R_CAUSE, 13
  CHECK_REC_LABEL 3, R_EPC, .LfaultA
  CHECK_REC 4, R_TVAL, VA_HOLE
  CHECK_REC 5, R_S2, N
  CHECK_REC 6, R_S6, 3 * (N + 1)
  CHECK_REC 7, R_S9, (3 * (N + 1)) ^ N
  CHECK_REC 8, R_T1, 4096
  CHECK_REC 9, R_T2, VA_HOLE
  CHECK_REC 10, R_S7, DATA * N          /* after the fault: not yet */
  CHECK_REC 11, R_S10, N
  CHECK_REC 12, R_T3, DATA
  CHECK_REC 13, R_MEM, N - 1
  CHECK_INSTRET 14, s0, 1 + 12 * N + 6 + 2
  CHECK 15, s2, COUNT
  CHECK 16, s7, DATA * (COUNT - 1) + EMUL
  CHECK 17, s10, COUNT
  CHECK 18, s6, 3 * COUNT
  la t0, page0
  ld t0, 8(t0)
  CHECK 19, t0, COUNT - 1

  /* ---- B: S-mode, store page fault in the middle of the block ---- */
  REC_RESET .LbackB
  ENTER_S .LsB
.LsB:
  li s2, 0
  li s3, N
  li s4, COUNT
  li s5, VA_DATA
  li s6, 0
  li s7, 0
  li s9, 0
  li s10, 0
  li t3, 0
  rdinstret s0
.LloopB:
  addi s6, s6, 3
  xor s9, s6, s2
  ld t3, 0(s5)
  add s7, s7, t3
  sub t1, s2, s3
  seqz t1, t1
  slli t1, t1, 13            /* VA_RO - VA_DATA on iteration N */
  add t2, s5, t1
.LfaultB:
  sd s2, 8(t2)
  addi s10, s10, 1
  addi s2, s2, 1
  bne s2, s4, .LloopB
  ecall
.LbackB:
  CHECK_REC 20, R_COUNT, 1
  CHECK_REC 21, R_CAUSE, 15
  CHECK_REC_LABEL 22, R_EPC, .LfaultB
  CHECK_REC 23, R_TVAL, VA_RO + 8
  CHECK_REC 24, R_S2, N
  CHECK_REC 25, R_S6, 3 * (N + 1)
  CHECK_REC 26, R_S9, (3 * (N + 1)) ^ N
  CHECK_REC 27, R_S7, DATA * (N + 1)    /* the load before the fault: done */
  CHECK_REC 28, R_T1, 8192
  CHECK_REC 29, R_T2, VA_RO
  CHECK_REC 30, R_S10, N
  CHECK_REC 31, R_MEM, N - 1           /* the faulting store did not write */
  CHECK_INSTRET 32, s0, 1 + 12 * N + 8 + 2
  CHECK 33, s2, COUNT
  CHECK 34, s10, COUNT
  CHECK 35, s7, DATA * COUNT
  la t0, page0
  ld t0, 8(t0)
  CHECK 36, t0, COUNT - 1

  /* ---- C: M-mode, load access fault of a c.ld in the middle ---- */
  csrw satp, zero
  sfence.vma
  REC_RESET .LbackC
  li s2, 0
  li s3, N
  li s4, COUNT
  la s5, page0
  li s6, 0
  li s7, 0
  li s9, 0
  li s10, 0
  li a5, 0
  csrr s0, minstret
.LloopC:
  addi s6, s6, 3
  xor s9, s6, s2
  sub t1, s2, s3
  seqz t1, t1
  addi t1, t1, -1            /* 0 on iteration N, else all ones */
  and a4, s5, t1             /* address 0 on iteration N */
.LfaultC:
  c.ld a5, 0(a4)
  add s7, s7, a5
  addi s10, s10, 1
  sd s2, 8(s5)
  addi s2, s2, 1
  bne s2, s4, .LloopC
.LbackC:
  CHECK_REC 40, R_COUNT, 1
  CHECK_REC 41, R_CAUSE, CAUSE_LOAD_ACCESS
  CHECK_REC_LABEL 42, R_EPC, .LfaultC
  CHECK_REC 43, R_TVAL, 0
  CHECK_REC 44, R_S2, N
  CHECK_REC 45, R_S6, 3 * (N + 1)
  CHECK_REC 46, R_S9, (3 * (N + 1)) ^ N
  CHECK_REC 47, R_T1, 0
  CHECK_REC 48, R_A4, 0
  CHECK_REC 49, R_A5, DATA
  CHECK_REC 50, R_S7, DATA * N
  CHECK_REC 51, R_S10, N
  CHECK_REC 52, R_MEM, N - 1
  CHECK_INSTRET 53, s0, 1 + 12 * N + 6 + 2
  CHECK 54, s2, COUNT
  CHECK 55, s7, DATA * (COUNT - 1) + EMUL
  CHECK 56, s10, COUNT
  la t0, page0
  ld t0, 8(t0)
  CHECK 57, t0, COUNT - 1

  /* ---- D: entries into the middle of hot code ---- */
  la t0, trap_handler
  csrw mtvec, t0
  li s1, 3000
  li s2, 0
1:
  call mid_fn                /* a0 = (1 + 2 + 4) * 2 = 14 */
  add s2, s2, a0
  li a0, 100
  call mid_fn_mid            /* a0 = (100 + 4) * 2 = 208 */
  add s2, s2, a0
  li a0, 1000
  call ovl_fn                /* a0 = 1000 + 81 */
  add s2, s2, a0
  li a0, 1000
  call ovl_fn_half           /* a0 = 1000 + 5 (c.addi a0, 5) */
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, 1b
  li t0, 3000 * (14 + 208 + 1081 + 1005)
  CHECKR 60, s2, t0
  li a0, 1000
  call ovl_fn_half
  CHECK 61, a0, 1005
  CHECK_NOTRAP 62
  j pass

  .option push
  .option norvc
  .balign 4
mid_fn:
  li a0, 1
  addi a0, a0, 2
mid_fn_mid:
  addi a0, a0, 4
  slli a0, a0, 1
  ret
  .balign 4
ovl_fn:
  addi a0, a0, 81            /* 0x05150513: its upper half 0x0515 is c.addi a0, 5 */
  ret
  .option pop
  .set ovl_fn_half, ovl_fn + 2

/* ------------------------------------------------------------------ */
/* M-mode handler of parts A-C (mscratch = rec): an ECALL from S/U returns
 * to R_BACK in M-mode; anything else is recorded and skipped */
  .balign 4
fm_handler:
  csrrw t0, mscratch, t0
  sd t1, R_SAVE1(t0)
  csrr t1, minstret          /* 2 handler instructions after the fault */
  sd t1, R_TMPI(t0)
  csrr t1, mcause
  addi t1, t1, -8
  sltiu t1, t1, 2
  bnez t1, .Lfm_back
  ld t1, R_TMPI(t0)
  sd t1, R_INSTRET(t0)
  csrr t1, mcause
  sd t1, R_CAUSE(t0)
  csrr t1, mepc
  sd t1, R_EPC(t0)
  csrr t1, mtval
  sd t1, R_TVAL(t0)
  ld t1, R_COUNT(t0)
  addi t1, t1, 1
  sd t1, R_COUNT(t0)
  sd s2, R_S2(t0)
  sd s6, R_S6(t0)
  sd s7, R_S7(t0)
  sd s9, R_S9(t0)
  sd s10, R_S10(t0)
  sd t2, R_T2(t0)
  sd t3, R_T3(t0)
  sd a4, R_A4(t0)
  sd a5, R_A5(t0)
  ld t1, R_SAVE1(t0)
  sd t1, R_T1(t0)
  sd t2, R_SAVE2(t0)
  la t1, page0
  ld t1, 8(t1)
  sd t1, R_MEM(t0)
  li t3, EMUL
  li a5, EMUL
  SKIP_TRAPPED_INSN mepc, t1, t2
  ld t1, R_SAVE1(t0)
  ld t2, R_SAVE2(t0)
  csrrw t0, mscratch, t0
  mret
.Lfm_back:
  ld t1, R_BACK(t0)
  csrw mepc, t1
  li t1, MSTATUS_MPP
  csrs mstatus, t1
  ld t1, R_SAVE1(t0)
  csrrw t0, mscratch, t0
  mret

  .data
  .balign 8
exact_instret:
  .dword 0
rec:
  .space R_SIZE
  .balign 4096
root_table:
  .space 4096
l1_table:
  .space 4096
l0_table:
  .space 4096
page0:
  .space 4096
