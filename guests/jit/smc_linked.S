/* JIT exactness: translations that call each other directly. A unit whose
 * exit goes to another unit of the same page translated in the same batch
 * tail-calls it without the lookup (src/jit/jit.ts, translateBatch), so it
 * may only run while that unit's code is unchanged too. f calls g; both turn
 * hot together (one batch); then g is rewritten and f called again. h turns
 * hot alone first, then f2, which calls it (a later batch: f2 reaches h
 * through jit_chain); then h is rewritten.
 *   1     f hot: each call adds 1 + 2
 *   2-4   g's immediate becomes 5, 7, 11, each time with FENCE.I, and f
 *         runs hot again: each call adds 1 + the new immediate (after a
 *         FENCE.I the unchanged translations are reinstalled: f's own code
 *         is unchanged, but its direct call would run the old g)
 *   5     g's immediate 11 -> 9 without FENCE.I: 1 + 9 at once
 *   6-7   h hot alone (+2), then f2 hot (+1, then h)
 *   8-9   h's immediate becomes 5, then 7, each with FENCE.I, f2 hot again
 *   10    h's immediate 7 -> 3 without FENCE.I: 1 + 3 at once
 * Exit 0 = pass, n = the failing check. */
#include "isa.h"
TEST_NAME smc_linked
  .option norelax            /* exact offsets of the patched code */

#define HOT 40000            /* above the default threshold (16384) */

/* a0 = sum of n calls of fn; fail with chk unless it is n * per */
.macro CALLS n, per, chk, fn=f
  li s1, \n
  li a0, 0
.Lc\@:
  call \fn
  addi s1, s1, -1
  bnez s1, .Lc\@
  li t0, \n * \per
  beq a0, t0, .Ld\@
  li a0, \chk
  j fail
.Ld\@:
.endm

/* the addi at `label` gets immediate `imm` (0..2047); clobbers t1-t4 */
.macro SET_IMM imm, label=g_add
  la t1, \label
  li t4, \imm
  PATCH_IMM t4
.endm

  .text
  .globl test_main
test_main:
  TRAP_RESET
  addi sp, sp, -16
  sd ra, 8(sp)
  CALLS HOT, 3, 1
  SET_IMM 5
  fence.i
  CALLS HOT, 6, 2
  SET_IMM 7
  fence.i
  CALLS HOT, 8, 3
  SET_IMM 11
  fence.i
  CALLS HOT, 12, 4
  SET_IMM 9
  CALLS 100, 10, 5
  CALLS HOT, 2, 6, h
  CALLS HOT, 3, 7, f2
  SET_IMM 5, h_add
  fence.i
  CALLS HOT, 6, 8, f2
  SET_IMM 7, h_add
  fence.i
  CALLS HOT, 8, 9, f2
  SET_IMM 3, h_add
  CALLS 100, 4, 10, f2
  ld ra, 8(sp)
  addi sp, sp, 16
  j pass

  /* f, g, f2 and h in one page of their own */
  .balign 4096
  .option push
  .option norvc
f:
  addi a0, a0, 1
  addi sp, sp, -16
  sd ra, 8(sp)
  jal ra, g                  /* a direct call: `call` is auipc + jalr without relaxation */
  ld ra, 8(sp)
  addi sp, sp, 16
  ret
g:
g_add:
  addi a0, a0, 2
  ret
f2:
  addi a0, a0, 1
  addi sp, sp, -16
  sd ra, 8(sp)
  jal ra, h
  ld ra, 8(sp)
  addi sp, sp, 16
  ret
h:
h_add:
  addi a0, a0, 2
  ret
  .option pop
