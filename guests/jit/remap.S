/* JIT exactness: one virtual address, different code.  VA 0x40000000 is
 * mapped by Sv39 to one of three physical pages holding different code
 * (pageA returns 10, pageB 20, pageC 30, the last in 2-byte instructions),
 * and hot code at that VA is called 20 times per round, for hundreds of
 * rounds, while the mapping changes between rounds; every call must run
 * the code of the current mapping.  A translation cache keyed by the
 * virtual address alone, or not dropped on satp writes / SFENCE.VMA, fails.
 *   1-2   S-mode: satp alternates between two roots (ASID 0), SFENCE.VMA each time
 *   3-4   S-mode: two roots with ASIDs 1 and 2, satp alternates WITHOUT
 *         SFENCE.VMA (legal: neither address space's tables change)
 *   5-6   S-mode: one root, the leaf PTE rewritten A -> B -> C ->
 *         A ..., SFENCE.VMA of that VA after each write
 *   7-10  S-mode: the code page rewritten through a second, writable VA
 *         mapping of the same page (VA 0x40001000): with FENCE.I, without,
 *         and before every call without
 *   11-12 U-mode: satp alternates (M-mode switches it between rounds,
 *         entering U by MRET; U returns by ECALL)
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
#include "smode.h"
TEST_NAME remap
  .option norelax            /* exact alignment of the code pages */

#define VA_CODE  0x40000000
#define VA_ALIAS 0x40001000
#define ROUNDS   400
#define CALLS    20

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_A 0x40
#define PTE_D 0x80
#define CODE_S   (PTE_V | PTE_R | PTE_X | PTE_A)
#define CODE_U   (CODE_S | PTE_U)
#define GIGA_S   (((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define GIGA_U   (GIGA_S | PTE_U)

/* table[idx] = a leaf (or pointer, flags = PTE_V) for the page at label; clobbers t0, t1 */
.macro SETPTE table, idx, label, flags
  la t0, \label
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, \flags
  la t1, \table
  sd t0, (\idx * 8)(t1)
.endm

/* both roots: gigapage (code of this test) with flags giga, VA_CODE ->
 * pageA / pageB with flags code; clobbers t0-t2 */
.macro TABLES giga, code
  li t0, \giga
  la t1, root_a
  sd t0, 16(t1)
  la t1, root_b
  sd t0, 16(t1)
  SETPTE root_a, 1, l1_a, PTE_V
  SETPTE root_b, 1, l1_b, PTE_V
  SETPTE l1_a, 0, l0_a, PTE_V
  SETPTE l1_b, 0, l0_b, PTE_V
  SETPTE l0_a, 0, pageA, \code
  SETPTE l0_b, 0, pageB, \code
  sfence.vma
.endm

/* reg = satp for root with asid */
.macro SATP reg, root, asid
  la \reg, \root
  srli \reg, \reg, 12
  li t0, (8 << 60) | (\asid << 44)
  or \reg, \reg, t0
.endm

/* S-mode: CALLS calls of VA_CODE (s11); ecall with a0 = chk unless each returns exp */
.macro S_CALLS exp, chk
  li s3, CALLS
.Lc\@:
  jalr ra, 0(s11)
  beq a0, \exp, .Lok\@
  li a0, \chk
  ecall
.Lok\@:
  addi s3, s3, -1
  bnez s3, .Lc\@
.endm

/* run S-mode code at label; it ends with ecall, a0 = 0 or a failing check */
.macro RUN_S label
  TRAP_RESET
  SET_RESUME .Lb\@
  ENTER_S \label
.Lb\@:
  CHECK_TRAP 90, CAUSE_ECALL_S
  beqz a0, .Lok\@
  j fail
.Lok\@:
.endm

/* the immediate of pageA's addi (at pageA + 8), written through VA_ALIAS (S-mode) */
.macro ALIAS_IMM imm
  li t1, VA_ALIAS + 8
  PATCH_IMM \imm
.endm

  .text
  .globl test_main
test_main:
  li s9, 10
  li s10, 20
  li s6, 30
  li s11, VA_CODE

  /* ---- 1-2: two roots, ASID 0, SFENCE.VMA on every switch ---- */
  TABLES GIGA_S, CODE_S
  SATP s7, root_a, 0
  SATP s8, root_b, 0
  RUN_S .Ls1
  /* ---- 3-4: ASIDs 1 and 2, no SFENCE.VMA on the switches ---- */
  SATP s7, root_a, 1
  SATP s8, root_b, 2
  sfence.vma
  RUN_S .Ls3
  /* ---- 5-6: one root, its leaf rewritten ---- */
  SATP s7, root_a, 0
  sfence.vma
  RUN_S .Ls5
  /* ---- 7-10: the code page rewritten through an alias ---- */
  SETPTE l0_a, 0, pageA, CODE_S
  SETPTE l0_a, 1, pageA, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  sfence.vma
  RUN_S .Ls7
  /* ---- 11-12: U-mode, M switches satp between rounds ---- */
  TABLES GIGA_U, CODE_U
  SATP s7, root_a, 0
  SATP s8, root_b, 0
  li s1, ROUNDS
.Lu_round:
  andi t0, s1, 1
  mv t1, s7
  mv s5, s9
  beqz t0, 1f
  mv t1, s8
  mv s5, s10
1:
  csrw satp, t1
  sfence.vma
  TRAP_RESET
  SET_RESUME .Lu_back
  li t0, MSTATUS_MPP
  csrc mstatus, t0           /* MPP = U */
  la t0, .Lu_wrap
  csrw mepc, t0
  mret
.Lu_back:
  CHECK_TRAP 11, CAUSE_ECALL_U
  li t0, CALLS
  mul t0, t0, s5
  CHECKR 12, a0, t0
  addi s1, s1, -1
  bnez s1, .Lu_round
  csrw satp, zero
  sfence.vma
  j pass

/* ------------------------------------------------------------------ */
/* S-mode parts; s7/s8 = the satp values, s9/s10/s6 = 10/20/30, s11 = VA_CODE;
 * the code at VA_CODE clobbers a0, a1 and t0 */
.Ls1:
  li s1, ROUNDS
1:
  andi t0, s1, 1
  mv t1, s7
  mv s5, s9
  beqz t0, 2f
  mv t1, s8
  mv s5, s10
2:
  csrw satp, t1
  sfence.vma
  S_CALLS s5, 1
  addi s1, s1, -1
  bnez s1, 1b
  csrr t0, satp
  beq t0, s8, 3f             /* the last round (s1 = 1) ran on root_b */
  li a0, 2
  ecall
3:
  li a0, 0
  ecall

.Ls3:
  li s1, ROUNDS
1:
  andi t0, s1, 1
  mv t1, s7
  mv s5, s9
  beqz t0, 2f
  mv t1, s8
  mv s5, s10
2:
  csrw satp, t1              /* no SFENCE.VMA: another ASID */
  S_CALLS s5, 3
  addi s1, s1, -1
  bnez s1, 1b
  csrr t0, satp
  beq t0, s8, 3f             /* the last round (s1 = 1) ran on root_b */
  li a0, 4
  ecall
3:
  li a0, 0
  ecall

.Ls5:
  csrw satp, s7
  sfence.vma
  la s2, l0_a                /* the leaf of VA_CODE (identity-mapped) */
  la a2, pageA
  srli a2, a2, 12
  slli a2, a2, 10
  ori a2, a2, CODE_S
  la a3, pageB
  srli a3, a3, 12
  slli a3, a3, 10
  ori a3, a3, CODE_S
  la a4, pageC
  srli a4, a4, 12
  slli a4, a4, 10
  ori a4, a4, CODE_S
  li s1, ROUNDS
  li s4, 0                   /* 0, 1, 2: A, B, C */
1:
  mv t1, a2
  mv s5, s9
  beqz s4, 2f
  mv t1, a3
  mv s5, s10
  li t0, 1
  beq s4, t0, 2f
  mv t1, a4
  mv s5, s6
2:
  sd t1, 0(s2)
  sfence.vma s11, zero
  S_CALLS s5, 5
  addi s4, s4, 1
  li t0, 3
  bne s4, t0, 3f
  li s4, 0
3:
  addi s1, s1, -1
  bnez s1, 1b
  li a0, 0
  ld t0, 0(s2)
  beq t0, a2, 4f             /* ROUNDS = 400 = 3 * 133 + 1: ends on A */
  li a0, 6
4:
  ecall

.Ls7:
  csrw satp, s7
  sfence.vma
  li s4, 2000
1:                           /* hot: 10 */
  jalr ra, 0(s11)
  beq a0, s9, 2f
  li a0, 7
  ecall
2:
  addi s4, s4, -1
  bnez s4, 1b
  li s5, 5                   /* through the alias, FENCE.I: 50 */
  ALIAS_IMM s5
  fence.i
  li s4, 2000
1:
  jalr ra, 0(s11)
  li t0, 50
  beq a0, t0, 2f
  li a0, 8
  ecall
2:
  addi s4, s4, -1
  bnez s4, 1b
  li s5, 6                   /* through the alias, no FENCE.I: 60 */
  ALIAS_IMM s5
  li s4, 2000
1:
  jalr ra, 0(s11)
  li t0, 60
  beq a0, t0, 2f
  li a0, 9
  ecall
2:
  addi s4, s4, -1
  bnez s4, 1b
  li s4, 2000                /* before every call: 10 * (i & 2047) */
1:
  andi s5, s4, 2047
  ALIAS_IMM s5
  jalr ra, 0(s11)
  slli t0, s5, 3
  slli t1, s5, 1
  add t0, t0, t1
  beq a0, t0, 2f
  li a0, 10
  ecall
2:
  addi s4, s4, -1
  bnez s4, 1b
  li s5, 1                   /* back to 10 for the U-mode part */
  ALIAS_IMM s5
  fence.i
  li a0, 0
  ecall

/* U-mode: CALLS calls of VA_CODE, a0 = their sum */
.Lu_wrap:
  li s3, CALLS
  li s4, 0
  li s11, VA_CODE
1:
  jalr ra, 0(s11)
  add s4, s4, a0
  addi s3, s3, -1
  bnez s3, 1b
  mv a0, s4
  ecall

/* ------------------------------------------------------------------ */
/* the three code pages (each at VA_CODE in turn; position independent) */
.macro CODE_PAGE inc
  .option push
  .option norvc
  li a0, 0
  li t0, 10
1:
  addi a0, a0, \inc          /* pageA + 8: rewritten through VA_ALIAS */
  addi t0, t0, -1
  bnez t0, 1b
  ret
  .option pop
.endm

  .data
  .balign 4096
pageA:
  CODE_PAGE 1
  .balign 4096
pageB:
  CODE_PAGE 2
  .balign 4096
pageC:
  .option push
  .option rvc
  c.li a0, 0
  c.li a1, 10
1:
  c.addi a0, 3
  c.addi a1, -1
  c.bnez a1, 1b
  c.jr ra
  .option pop
  .balign 4096
root_a:
  .space 4096
root_b:
  .space 4096
l1_a:
  .space 4096
l1_b:
  .space 4096
l0_a:
  .space 4096
l0_b:
  .space 4096
