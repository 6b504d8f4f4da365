// The JIT tier's runtime in the vCPU module: finding hot blocks, installing
// the translations the vCPU worker compiled (src/jit), and the slow paths
// translated code calls (Wasm to Wasm, through the translation module's
// imports). The translations themselves are made by host code.
//
// Protocol of a translation (src/jit/translate.ts):
//   (vcpu block base i32, pc of its first instruction i64, budget i32, n i32) -> i32
// It keeps guest registers in locals, writes them back and stores the next pc
// at V_PC before it returns (n + instructions retired) << 2 | JIT_* status
// (n: retired by the translations that chained to it, 0 from here). It
// retires at least one instruction, and runs loops (and chains) until
// `budget` instructions are retired, so interrupts and host requests wait at
// most one loop iteration or one straight block longer than in the
// interpreter.
import {
  V_PC, V_F, CSR_MSTATUS, V_JIT_COUNTS, V_JIT_QUEUE, JIT_COUNTERS, JIT_QUEUE_MAX, V_SCRATCH_INSN, V_RUN, R_EXIT, EXIT_DEBUG,
} from "./layout";
import { dbgFlags } from "./debug";
import { V, JIT_THRESHOLD, csr, setCsr } from "./state";
import { cold } from "./hint";
import {
  ev, EV_NONE, EV_FAULT, EV_DEBUG, faultCause, faultTval, loadSlow, storeSlow, loadDest, icacheGen, epochFetch, markCodePage, tlbHost,
  codeStored, flushIcache, EXC_ILLEGAL,
} from "./mmu";
import { trap, fpEnabled } from "./csr";
import { execFp } from "./fpexec";
import { stored } from "./spin";
import { decode32, decode16 } from "./decode";
import { jitSlot, jitLookup, setTranslation, setJitEntry, icacheEntry, refuseTranslation, isRefused } from "./jitcache";

/** The statuses of a translation's return value (its low 2 bits). */
export const JIT_JUMP: u32 = 0;     // ended at a jump or branch: V_PC is a block start
export const JIT_TRAP: u32 = 1;     // an instruction trapped: V_PC is the handler
export const JIT_EXIT: u32 = 2;     // leave run(): the run struct holds the exit (MMIO, HTIF, ...)
export const JIT_CONTINUE: u32 = 3; // go on interpreting at V_PC (an instruction it does not translate, or code it stored to)

// set by the slow-path helpers for the translation that called them
export let jitStatus: u32 = 0;
// threshold 1: a block was queued; run() ends its slice (EXIT_NONE) at its next check
export let jitEndSlice = false;

/**
 * A taken branch or jump to `pc`: with the JIT on, count it, and once its
 * block is hot queue it for the worker to translate after this slice (true:
 * the caller forces a check, see jitHot). The counters are hashed by virtual
 * address: a collision only makes a block hot sooner.
 */
// @ts-ignore: decorator
@inline export function jitCount(pc: u64, TF: usize): bool {
  if (JIT_THRESHOLD == 0) return false;
  const c = V + V_JIT_COUNTS + ((<usize>(pc >> 1) & (JIT_COUNTERS - 1)) << 2);
  const k = load<u32>(c) + 1;
  store<u32>(c, k);
  if (k < JIT_THRESHOLD) return false;
  cold();
  return jitHot(pc, TF, c);
}

/**
 * Queue the block at `pc`. With threshold 1 (everything translated at once,
 * how the tests run) it returns true: the hart leaves run() at once (the
 * caller forces a check, which ends the slice), so that the worker
 * translates the block before it runs again.
 */
function jitHot(pc: u64, TF: usize, counter: usize): bool {
  if (dbgFlags() != 0) return false; // a debugger's breakpoints, watchpoints and steps need the interpreter
  // the fetch TLB names its host address (when it does not, the next branch here tries again)
  const host = tlbHost(TF, pc, 1, epochFetch);
  if (host == 0) return false;
  store<u32>(counter, 0);
  // reached from interpreted code but translated already, or not translatable
  if (jitLookup(host, icacheGen) >= 0 || isRefused(host, icacheGen)) return false;
  const q = V + V_JIT_QUEUE;
  const n = load<u32>(q);
  if (n >= JIT_QUEUE_MAX) return false;
  for (let i: u32 = 0; i < n; i++) if (load<u64>(q + 16 + (<usize>i << 4), 8) == <u64>host) return false;
  store<u64>(q + 16 + (<usize>n << 4), pc);
  store<u64>(q + 16 + (<usize>n << 4), <u64>host, 8);
  store<u32>(q, n + 1);
  if (JIT_THRESHOLD != 1) return false;
  jitEndSlice = true;
  return true;
}

// ---- called by the vCPU worker between slices --------------------------------

/**
 * Decode the instruction `insn` (its bits; a 16-bit one in the low half) for
 * the translator, which reads them from its own copy of the page (what it
 * checks the guest's code against before it installs the translation):
 * returns the entry's word (decode.ts) and leaves the immediate at
 * V_JIT_QUEUE + 4.
 */
export function jitDecode(insn: u32): u32 {
  const e = V + V_SCRATCH_INSN;
  if ((insn & 3) != 3) decode16(e, insn & 0xffff); else decode32(e, insn);
  store<i32>(V + V_JIT_QUEUE + 4, load<i32>(e, 12));
  return load<u32>(e, 8);
}

/** The table slot a translation of the block at `host` goes to. */
export function jitSlotOf(host: usize): u32 { return jitSlot(host); }

/**
 * The worker put the translation of the block at `host` into its table slot:
 * record it, and make the block's decode entry call it. Stores to the page
 * now take the slow path, which drops it.
 */
export function jitInstall(host: usize): void {
  if (dbgFlags() != 0) return; // no translation runs while a debugger has breakpoints, watchpoints or a step
  markCodePage(host);
  const slot = jitSlot(host);
  setTranslation(slot, host, icacheGen);
  setJitEntry(icacheEntry(host), host, icacheGen, slot);
}

/** The block at `host` cannot be translated (its first instruction is not): stop queueing it until the next FENCE.I. */
export function jitRefuse(host: usize): void { refuseTranslation(host, icacheGen); }

/** The decode generation (FENCE.I, and remote ones, start a new one: every translation is then stale). */
export function jitGeneration(): u32 { return <u32>(icacheGen >> 32); }

/** Forget every translation (the worker's memory bound for compiled code). */
export function jitFlush(): void { flushIcache(); }

// ---- slow paths of translated code ---------------------------------------------

/**
 * A slow path raised an event: take a fault's trap (V_PC = its handler), or
 * report an exit after the instruction (V_PC = the next one).
 */
function jitEvent(pc: u64, len: u32): void {
  if (ev == EV_FAULT) {
    ev = EV_NONE;
    store<u64>(V + V_PC, trap(faultCause, faultTval, pc, false));
    jitStatus = JIT_TRAP;
  } else if (ev == EV_DEBUG) { // (translations do not run while watchpoints are set: belt and braces)
    ev = EV_NONE;
    store<u64>(V + V_PC, pc);
    store<u32>(V + V_RUN + R_EXIT, EXIT_DEBUG);
    jitStatus = JIT_EXIT;
  } else {
    store<u64>(V + V_PC, pc + len);
    jitStatus = JIT_EXIT;
  }
}

// The slow paths' `info`: access size | (load destination, or F register) << 8 | instruction length << 16.

/** A load through the slow path (R_DEST = `dest` for an MMIO exit). */
function loadVia(a: u64, info: u32, dest: u32, pc: u64): u64 {
  jitStatus = 0;
  loadDest = dest;
  const v = loadSlow(a, info & 15);
  if (ev != EV_NONE) jitEvent(pc, info >> 16);
  return v;
}

/** A store through the slow path; a store to code ends the translation right after it. */
function storeVia(a: u64, info: u32, v: u64, pc: u64): void {
  jitStatus = 0;
  codeStored = false;
  stored = true;
  storeSlow(a, info & 15, v);
  if (ev != EV_NONE) jitEvent(pc, info >> 16);
  else if (codeStored) {
    store<u64>(V + V_PC, pc + (info >> 16));
    jitStatus = JIT_CONTINUE;
  }
}

/** An F/D instruction with mstatus.FS off: the illegal-instruction trap. */
function fpIllegal(tval: u64, pc: u64): void {
  store<u64>(V + V_PC, trap(EXC_ILLEGAL, tval, pc, false));
  jitStatus = JIT_TRAP;
}

/** A load the TLB did not hit (`info` holds R_DEST: register | 0x40 to sign-extend). */
export function jitLoad(a: u64, info: u32, pc: u64): u64 { return loadVia(a, info, (info >> 8) & 0xff, pc); }

/** A store the TLB did not hit. */
export function jitStore(a: u64, info: u32, v: u64, pc: u64): void { storeVia(a, info, v, pc); }

/** An F/D computational instruction (`insn`, its raw bits): it traps as illegal where the interpreter's would. */
export function jitFp(insn: u32, pc: u64): void {
  jitStatus = 0;
  if (!fpEnabled() || !execFp(insn)) fpIllegal(<u64>insn, pc);
}

/** FLW/FLD the TLB did not hit, or with mstatus.FS off. */
export function jitFload(a: u64, info: u32, pc: u64): void {
  jitStatus = 0;
  if (!fpEnabled()) { fpIllegal(0, pc); return; }
  const rd = (info >> 8) & 31;
  let v = loadVia(a, info, rd | 0x20, pc);
  if (jitStatus != 0) return;
  if ((info & 15) == 4) v |= 0xffff_ffff_0000_0000; // NaN-boxed
  store<u64>(V + V_F + (<usize>rd << 3), v);
  setCsr(CSR_MSTATUS, csr(CSR_MSTATUS) | (3 << 13));
}

/** FSW/FSD the TLB did not hit, or with mstatus.FS off. */
export function jitFstore(a: u64, info: u32, pc: u64): void {
  jitStatus = 0;
  if (!fpEnabled()) { fpIllegal(0, pc); return; }
  storeVia(a, info, load<u64>(V + V_F + (<usize>((info >> 8) & 31) << 3)), pc);
}

