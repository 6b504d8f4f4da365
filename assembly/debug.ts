// The debugger's side in the vCPU (the gdb stub's breakpoints, watchpoints
// and single step; the tables are written by the host, src/debug).
//
// Nothing here is on the interpreter's hot path: breakpoints are looked up
// when the decode cache is filled (a hit decodes to OP_DEBUG, which leaves
// run() before the instruction), watchpoints when a load or store takes the
// slow path (watched pages are kept out of the load/store TLBs), and only
// while M_DBG_FLAGS says any are set.
import {
  MACHINE_BASE, M_DBG_FLAGS, M_DBG_NBP, M_DBG_BP, DBG_BP_MAX, M_DBG_NWP, M_DBG_WP, DBG_WP_MAX, DBG_WP_STRIDE,
  DBG_BREAK, DBG_WATCH, V_RUN, R_DBG, R_DBG_ADDR, R_DBG_KIND, DBG_STOP_WATCH,
} from "./layout";
import { V } from "./state";

/** Set by run_step (assembly/index.ts): the one instruction of a step runs even where a breakpoint is. */
export let dbgStepping = false;
export function setStepping(on: bool): void { dbgStepping = on; }

// @ts-ignore: decorator
@inline export function dbgFlags(): u32 { return atomic.load<u32>(MACHINE_BASE + M_DBG_FLAGS); }

/** Whether the debugger has a breakpoint at virtual address `pc` (the step's own instruction excepted). */
export function breakAt(pc: u64): bool {
  if ((dbgFlags() & DBG_BREAK) == 0 || dbgStepping) return false;
  let n = load<u32>(MACHINE_BASE + M_DBG_NBP);
  if (n > DBG_BP_MAX) n = DBG_BP_MAX;
  for (let i: u32 = 0; i < n; i++) if (load<u64>(MACHINE_BASE + M_DBG_BP + (i << 3)) == pc) return true;
  return false;
}

/** Whether a watchpoint of kind `kinds` (DBG_WATCH_* bits) overlaps [va, va + size). */
function watchOverlap(va: u64, size: u64, kinds: u32): i32 {
  let n = load<u32>(MACHINE_BASE + M_DBG_NWP);
  if (n > DBG_WP_MAX) n = DBG_WP_MAX;
  for (let i: u32 = 0; i < n; i++) {
    const w = MACHINE_BASE + M_DBG_WP + i * DBG_WP_STRIDE;
    if ((load<u32>(w, 16) & kinds) == 0) continue;
    const a = load<u64>(w), len = load<u64>(w, 8);
    // [a, a+len) and [va, va+size) overlap (differences, so no end wraps around)
    if (va - a < len || a - va < size) return <i32>i;
  }
  return -1;
}

/** A TLB fill for `va`'s page: false while a watchpoint covers part of the page (its accesses must take the slow path). */
export function watchAllowsFill(va: u64): bool {
  if ((dbgFlags() & DBG_WATCH) == 0) return true;
  return watchOverlap(va & ~(<u64>0xfff), 0x1000, 3) < 0;
}

/**
 * A slow-path access of `size` bytes at `va` (DBG_WATCH_* `kind`): true when
 * it hits a watchpoint, with the run struct's R_DBG fields filled; the
 * access must then not happen (the hart stops before the instruction, as
 * RISC-V debug triggers do and gdb expects).
 */
export function watchHit(va: u64, size: u32, kind: u32): bool {
  if ((dbgFlags() & DBG_WATCH) == 0) return false;
  const i = watchOverlap(va, <u64>size, kind);
  if (i < 0) return false;
  const r = V + V_RUN;
  store<u32>(r + R_DBG, DBG_STOP_WATCH);
  store<u64>(r + R_DBG_ADDR, va);
  store<u32>(r + R_DBG_KIND, kind | (<u32>i << 8)); // the access, and which watchpoint it hit
  return true;
}
