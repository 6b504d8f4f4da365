/* Sv39 paging (privileged spec, "Sv39: Page-Based 39-bit Virtual-Memory
 * System" and "Virtual Address Translation Process"):
 *   root[2]: 1 GiB leaf, identity map of 0x80000000 (RWX, A, D; no U)
 *   root[1] -> l1 -> l0: 4 KiB pages at VA 0x40000000 + i * 4 KiB:
 *     0: page0 RW A D          1: page1 R A (read-only)
 *     2: not valid             3: page0 RW A D, no X
 *     4: page2 RW, A = D = 0   5: page0 RW U A D
 *     6: page0 X A (exec-only) 7: page0 RW A D, later -> page1
 * Page faults are delegated to S (medeleg 12, 13, 15) except in the
 * "undelegated" case.  S-mode code runs through the identity gigapage
 * and returns to M with ECALL (not delegated). */
#include "isa.h"
#include "smode.h"
TEST_NAME sv39

#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM  (1 << 18)
#define MSTATUS_MXR  (1 << 19)

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_A 0x40
#define PTE_D 0x80

#define CAUSE_FETCH_PF 12
#define CAUSE_LOAD_PF  13
#define CAUSE_STORE_PF 15

#define VA(i) (0x40000000 + (i) * 4096)


/* fail n unless exactly one S trap with scause = cause and stval = tval */
.macro CHECK_STRAP n, cause, tval
  SLD t5, SF_COUNT
  CHECK \n, t5, 1
  SLD t5, SF_CAUSE
  CHECK \n, t5, \cause
  SLD t5, SF_TVAL
  CHECK \n, t5, \tval
.endm

.macro CHECK_NOSTRAP n
  SLD t5, SF_COUNT
  CHECK_Z \n, t5
.endm

/* l0[idx] = leaf for page `label` with flags */
.macro SETPTE idx, label, flags
  la t0, \label
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, \flags
  la t1, l0_table
  sd t0, (\idx * 8)(t1)
.endm

/* both resets, and the next M-mode exception (ECALL from S) resumes at label */
.macro BEGIN label
  TRAP_RESET
  S_RESET
  SET_RESUME \label
.endm

  .text
  .globl test_main
test_main:
  /* page contents */
  la t0, page0
  li t1, 0x1111
  sd t1, 0(t0)
  la t0, page1
  li t1, 0x2222
  sd t1, 0(t0)
  la t0, page2
  li t1, 0x3333
  sd t1, 0(t0)
  /* root[2]: gigapage identity at 0x80000000 */
  la t2, root_table
  li t0, ((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  sd t0, 16(t2)
  /* root[1] -> l1, l1[0] -> l0 */
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
  SETPTE 0, page0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  SETPTE 1, page1, PTE_V | PTE_R | PTE_A
  SETPTE 3, page0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  SETPTE 4, page2, PTE_V | PTE_R | PTE_W
  SETPTE 5, page0, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
  SETPTE 6, page0, PTE_V | PTE_X | PTE_A
  SETPTE 7, page0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D

  la t0, s_handler
  csrw stvec, t0
  li t0, (1 << 12) | (1 << 13) | (1 << 15)
  csrw medeleg, t0
  csrr t1, medeleg
  CHECKR 1, t0, t1
  /* satp: mode 8 (Sv39), ASID 0, root PPN */
  la t0, root_table
  srli t0, t0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw satp, t0
  csrr t1, satp
  CHECKR 2, t0, t1
  sfence.vma
  li t0, MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPRV
  csrc mstatus, t0

  /* 1. load/store through VA(0) reach page0 */
  BEGIN .Lb1
  ENTER_S .Ls1
.Ls1:
  li t0, VA(0)
  ld a1, 0(t0)
  li a2, 0xabcd
  sd a2, 8(t0)
  ecall
.Lb1:
  CHECK_TRAP 3, CAUSE_ECALL_S
  CHECK_NOSTRAP 4
  CHECK 5, a1, 0x1111
  la t0, page0
  ld a1, 8(t0)
  CHECK 6, a1, 0xabcd

  /* 2. store to a read-only page: store page fault, stval = VA;
   * the load works */
  BEGIN .Lb2
  ENTER_S .Ls2
.Ls2:
  li t0, VA(1) + 16
  li a2, 0x5a5a
  sd a2, 0(t0)
  ld a1, -16(t0)
  ecall
.Lb2:
  CHECK_TRAP 7, CAUSE_ECALL_S
  CHECK_STRAP 8, CAUSE_STORE_PF, VA(1) + 16
  CHECK 9, a1, 0x2222
  la t0, page1
  ld a1, 16(t0)
  CHECK 10, a1, 0

  /* 3. load from an invalid PTE: load page fault */
  BEGIN .Lb3
  ENTER_S .Ls3
.Ls3:
  li t0, VA(2) + 8
  li a1, 0x77
  ld a1, 0(t0)
  ecall
.Lb3:
  CHECK_TRAP 11, CAUSE_ECALL_S
  CHECK_STRAP 12, CAUSE_LOAD_PF, VA(2) + 8
  CHECK 13, a1, 0x77

  /* 4. fetch from a page without X: instruction page fault */
  BEGIN .Lb4
  ENTER_S .Ls4
.Ls4:
  S_SET_RESUME .Ls4back
  li t0, VA(3)
  jr t0
.Ls4back:
  ecall
.Lb4:
  CHECK_TRAP 14, CAUSE_ECALL_S
  CHECK_STRAP 15, CAUSE_FETCH_PF, VA(3)
  SLD a1, SF_EPC
  CHECK 16, a1, VA(3)

  /* 5. A and D bits: either set by hardware or a page fault (Svade) */
  BEGIN .Lb5
  ENTER_S .Ls5
.Ls5:
  li t0, VA(4)
  li a1, 0
  ld a1, 0(t0)
  ecall
.Lb5:
  CHECK_TRAP 17, CAUSE_ECALL_S
  la t0, l0_table
  ld a2, 32(t0)
  SLD t0, SF_COUNT
  beqz t0, 1f
  CHECK_STRAP 18, CAUSE_LOAD_PF, VA(4)
  andi a2, a2, PTE_A | PTE_D
  CHECK 19, a2, 0            /* faulted: PTE untouched */
  j 2f
1:
  CHECK 20, a1, 0x3333
  andi a2, a2, PTE_A | PTE_D
  CHECK 21, a2, PTE_A        /* load sets A, not D */
2:
  BEGIN .Lb5b
  ENTER_S .Ls5b
.Ls5b:
  li t0, VA(4)
  li a1, 0x4444
  sd a1, 8(t0)
  ecall
.Lb5b:
  CHECK_TRAP 22, CAUSE_ECALL_S
  la t0, l0_table
  ld a2, 32(t0)
  la t0, page2
  ld a1, 8(t0)
  SLD t0, SF_COUNT
  beqz t0, 1f
  CHECK_STRAP 23, CAUSE_STORE_PF, VA(4) + 8
  andi a2, a2, PTE_D
  CHECK 24, a2, 0
  CHECK 25, a1, 0
  j 2f
1:
  CHECK 26, a1, 0x4444
  andi a2, a2, PTE_A | PTE_D
  CHECK 27, a2, PTE_A | PTE_D
2:

  /* 6. SUM: S access to a U page faults with SUM = 0, works with SUM = 1 */
  BEGIN .Lb6
  ENTER_S .Ls6
.Ls6:
  li t0, VA(5)
  li a1, 0
  li a2, 0
  ld a1, 0(t0)
  li t1, MSTATUS_SUM
  csrs sstatus, t1
  ld a2, 0(t0)
  csrc sstatus, t1
  ecall
.Lb6:
  CHECK_TRAP 28, CAUSE_ECALL_S
  CHECK_STRAP 29, CAUSE_LOAD_PF, VA(5)
  CHECK 30, a1, 0
  CHECK 31, a2, 0x1111
  csrr t0, mstatus
  li t1, MSTATUS_SUM
  and t0, t0, t1
  CHECK 32, t0, 0

  /* 7. MXR: an execute-only page is readable only with MXR = 1 */
  BEGIN .Lb7
  ENTER_S .Ls7
.Ls7:
  li t0, VA(6)
  li a1, 0
  li a2, 0
  ld a1, 0(t0)
  li t1, MSTATUS_MXR
  csrs sstatus, t1
  ld a2, 0(t0)
  csrc sstatus, t1
  ecall
.Lb7:
  CHECK_TRAP 33, CAUSE_ECALL_S
  CHECK_STRAP 34, CAUSE_LOAD_PF, VA(6)
  CHECK 35, a1, 0
  CHECK 36, a2, 0x1111

  /* 8. a PTE change becomes visible after SFENCE.VMA */
  BEGIN .Lb8
  ENTER_S .Ls8
.Ls8:
  li s1, VA(7)
  ld a1, 0(s1)               /* page0, may now be cached */
  la t0, page1
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  la t1, l0_table
  sd t0, 56(t1)
  sfence.vma
  ld a2, 0(s1)
  ecall
.Lb8:
  CHECK_TRAP 37, CAUSE_ECALL_S
  CHECK_NOSTRAP 38
  CHECK 39, a1, 0x1111
  CHECK 40, a2, 0x2222

  /* 9. a VA not sign-extended from bit 38: load page fault */
  BEGIN .Lb9
  ENTER_S .Ls9
.Ls9:
  /* both have bits 38:0 = 0x80000000 (mapped by the gigapage) */
  li t0, 0x0000008080000000  /* bit 39 set, bit 38 clear */
  li a1, 0x99
  ld a1, 0(t0)
  li t0, 0xffffff8080000000  /* bits 63:39 set, bit 38 clear */
  ld a1, 0(t0)
  ecall
.Lb9:
  CHECK_TRAP 41, CAUSE_ECALL_S
  SLD a2, SF_COUNT
  CHECK 42, a2, 2
  SLD a2, SF_CAUSE
  CHECK 43, a2, CAUSE_LOAD_PF
  CHECK 44, a1, 0x99
  SLD a2, SF_TVAL
  CHECK 55, a2, 0xffffff8080000000

  /* 10. not delegated: the page fault goes to M */
  csrw medeleg, zero
  BEGIN .Lb10
  ENTER_S .Ls10
.Ls10:
  li t0, VA(2)
.Lld10:
  ld a1, 0(t0)
  ebreak
.Lb10:
  li t0, (1 << 12) | (1 << 13) | (1 << 15)
  csrw medeleg, t0
  CHECK_TRAP 45, CAUSE_LOAD_PF
  CHECK_EPC 46, .Lld10
  CHECK_TVAL 47, VA(2)
  CHECK_NOSTRAP 48
  ld a1, TF_STATUS(gp)
  li t0, MSTATUS_MPP
  and a1, a1, t0
  CHECK 49, a1, MPP_S

  /* 11. M-mode with MPRV = 1, MPP = S: loads are translated; a store
   * to the read-only page faults in M (traps from M are never delegated) */
  TRAP_RESET
  S_RESET
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MPP_S
  csrs mstatus, t0
  li t1, VA(0)
  li t2, VA(1)
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ld a1, 0(t1)
  sd a1, 8(t2)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK 50, a1, 0x1111
  CHECK_TRAP 51, CAUSE_STORE_PF
  CHECK_TVAL 52, VA(1) + 8
  CHECK_NOSTRAP 53
  /* without MPRV, M-mode is not translated */
  li t0, 0x80000000
  ld a1, 0(t0)
  CHECK_TRAP 54, CAUSE_STORE_PF   /* still only the one trap */

  /* 12. permissions checked under SUM = 1 or MXR = 1 do not outlive the
   * bit: after a successful access, clearing it makes the same access fault */
.macro BIT_CLEARED_FAULTS label, va, bit, n
  BEGIN .Lb\label
  ENTER_S .Ls\label
.Ls\label:
  li t0, \va
  li t1, \bit
  li a1, 0
  li a2, 0
  csrs sstatus, t1
  ld a1, 0(t0)
  csrc sstatus, t1
  ld a2, 0(t0)
  ecall
.Lb\label:
  CHECK_TRAP \n, CAUSE_ECALL_S
  CHECK_STRAP (\n + 1), CAUSE_LOAD_PF, \va
  CHECK (\n + 2), a1, 0x1111
  CHECK (\n + 3), a2, 0
.endm
  BIT_CLEARED_FAULTS 12, VA(5), MSTATUS_SUM, 56
  BIT_CLEARED_FAULTS 13, VA(6), MSTATUS_MXR, 60

  csrw satp, zero
  sfence.vma
  csrw medeleg, zero
  j pass

/* ------------------------------------------------------------------ */
  S_TRAP_HANDLER
  .balign 4096
root_table:
  .space 4096
l1_table:
  .space 4096
l0_table:
  .space 4096
page0:
  .space 4096
page1:
  .space 4096
page2:
  .space 4096
