/* PMP enforcement (privileged spec, "Physical Memory Protection"):
 * U-mode needs a matching entry with the permission once an entry is
 * active; the first matching entry decides (priority order); M-mode is
 * bound only by locked entries. Entries used:
 *   0: NAPOT 4 KiB over pmp_page, R only
 *   1: NAPOT over all memory, RWX
 * so a store to pmp_page from U faults (cause 7) while a load works, and
 * after entry 1 is turned off, a U-mode load of another RAM page faults
 * (cause 5, no entry matches). */
#include "isa.h"
TEST_NAME pmp

  .text
  .globl test_main
test_main:
  TRAP_RESET
  /* entry 0: NAPOT 4 KiB at pmp_page, R only; entry 1: everything, RWX */
  la t0, pmp_page
  srli t0, t0, 2
  ori t0, t0, 0x1ff        /* NAPOT size 4 KiB: 9 trailing ones */
  csrw pmpaddr0, t0
  li t0, -1
  csrw pmpaddr1, t0
  li t0, (0x1f << 8) | 0x19 /* cfg1 = NAPOT|RWX, cfg0 = NAPOT|R */
  csrw pmpcfg0, t0
  csrr t1, pmpcfg0
  CHECKR 1, t1, t0

  /* U-mode: load from pmp_page works, store faults with cause 7 */
  TRAP_RESET
  SET_RESUME .Lback1
  la t0, .Lu1
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  la a1, pmp_page
  mret
.Lu1:
  ld a2, 0(a1)
  sd a2, 0(a1)
  ecall
.Lback1:
  CHECK_TRAP 2, CAUSE_STORE_ACCESS
  ld t5, TF_TVAL(gp)
  CHECKR 3, t5, a1

  /* M-mode ignores unlocked entries: the store works */
  la a1, pmp_page
  li t0, 0x1234
  sd t0, 0(a1)
  ld t1, 0(a1)
  CHECK 4, t1, 0x1234

  /* only entry 0 active: a U-mode load elsewhere matches nothing -> cause 5 */
  li t0, 0x19
  csrw pmpcfg0, t0
  TRAP_RESET
  SET_RESUME .Lback2
  la t0, .Lu2
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  la a1, pmp_other
  mret
.Lu2:
  ld a2, 0(a1)
  ecall
.Lback2:
  /* the fetch of .Lu2 itself is outside every entry: cause 1 comes first */
  CHECK_TRAP 5, CAUSE_FETCH_ACCESS

  /* restore: everything RWX for U */
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  j pass

  .data
  .balign 4096
pmp_page:
  .dword 0x55aa
  .balign 4096
pmp_other:
  .dword 0
