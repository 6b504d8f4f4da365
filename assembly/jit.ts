// The JIT tier's runtime in the vCPU module: finding hot blocks, installing
// the translations the vCPU worker compiled (src/jit), and the slow paths
// translated code calls (Wasm to Wasm, through the translation module's
// imports). The translations themselves are made by host code.
//
// Protocol of a translation (src/jit/translate.ts):
//   (vcpu block base i32, pc of its first instruction i64, budget i32) -> i32
// It keeps guest registers in locals, writes them back and stores the next pc
// at V_PC before it returns (instructions retired << 2) | JIT_* status. It
// retires at least one instruction, and runs loops until `budget`
// instructions are retired, so interrupts and host requests wait at most one
// loop iteration or one straight block longer than in the interpreter.
import {
  V_PC, V_F, CSR_MSTATUS, V_JIT_COUNTS, V_JIT_QUEUE, JIT_COUNTERS, JIT_QUEUE_MAX, TLB_ENTRIES, V_SCRATCH_INSN,
} from "./layout";
import { V, JIT_THRESHOLD, csr, setCsr } from "./state";
import {
  ev, EV_NONE, EV_FAULT, faultCause, faultTval, loadSlow, storeSlow, loadDest, icacheGen, epochFetch, markCodePage,
  codeStored, flushIcache, EXC_ILLEGAL,
} from "./mmu";
import { trap, fpEnabled } from "./csr";
import { execFp } from "./fpexec";
import { stored } from "./spin";
import { decode32, decode16 } from "./decode";
import { mulh, mulhu, mulhsu } from "./alu";
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
 * A taken branch or jump to `pc` (JIT on): count it, and once its block is hot
 * queue it for the worker to translate after this slice. The counters are
 * hashed by virtual address: a collision only makes a block hot sooner.
 */
// @ts-ignore: decorator
@inline export function jitCount(pc: u64, TF: usize): bool {
  const c = V + V_JIT_COUNTS + ((<usize>(pc >> 1) & (JIT_COUNTERS - 1)) << 2);
  const k = load<u32>(c) + 1;
  store<u32>(c, k);
  return k >= JIT_THRESHOLD && jitHot(pc, TF, c);
}

/**
 * Queue the block at `pc`. With threshold 1 (everything translated at once,
 * how the tests run) it returns true: the hart leaves run() at once (the
 * caller forces a check, which ends the slice), so that the worker
 * translates the block before it runs again.
 */
function jitHot(pc: u64, TF: usize, counter: usize): bool {
  // the fetch TLB names its host address (when it does not, the next branch here tries again)
  const t = TF + ((<usize>(pc >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(t) != ((pc & ~(<u64>0xfff)) | epochFetch)) return false;
  store<u32>(counter, 0);
  const host = <usize>(pc + load<u64>(t, 8));
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
 * Decode the instruction at host address `host` (in RAM, 2-aligned, its page
 * holds all of it) for the translator: returns the entry's word (decode.ts)
 * and leaves the immediate at V_JIT_QUEUE + 4.
 */
export function jitDecode(host: usize): u32 {
  const e = V + V_SCRATCH_INSN;
  const lo = <u32>load<u16>(host);
  if ((lo & 3) != 3) decode16(e, lo); else decode32(e, load<u32>(host));
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
  } else {
    store<u64>(V + V_PC, pc + len);
    jitStatus = JIT_EXIT;
  }
}

/** A load the TLB did not hit: `info` = size | R_DEST << 8 (for an MMIO exit) | instruction length << 16. */
export function jitLoad(a: u64, info: u32, pc: u64): u64 {
  jitStatus = 0;
  loadDest = (info >> 8) & 0xff;
  const v = loadSlow(a, info & 15);
  if (ev != EV_NONE) jitEvent(pc, info >> 16);
  return v;
}

/** A store the TLB did not hit (`info` = size | instruction length << 8); a store to code ends the translation after it. */
export function jitStore(a: u64, info: u32, v: u64, pc: u64): void {
  jitStatus = 0;
  codeStored = false;
  stored = true;
  storeSlow(a, info & 15, v);
  if (ev != EV_NONE) jitEvent(pc, info >> 8);
  else if (codeStored) {
    store<u64>(V + V_PC, pc + (info >> 8));
    jitStatus = JIT_CONTINUE;
  }
}

/** An F/D computational instruction (`insn`, its raw bits): it traps as illegal where the interpreter's would. */
export function jitFp(insn: u32, pc: u64): void {
  jitStatus = 0;
  if (fpEnabled() && execFp(insn)) return;
  store<u64>(V + V_PC, trap(EXC_ILLEGAL, <u64>insn, pc, false));
  jitStatus = JIT_TRAP;
}

/** FLW/FLD (`info` = 8 for FLD | f register << 8 | instruction length << 16). */
export function jitFload(a: u64, info: u32, pc: u64): void {
  jitStatus = 0;
  if (!fpEnabled()) { store<u64>(V + V_PC, trap(EXC_ILLEGAL, 0, pc, false)); jitStatus = JIT_TRAP; return; }
  const rd = (info >> 8) & 31;
  const size = info & 15;
  loadDest = rd | 0x20;
  let v = loadSlow(a, size);
  if (ev != EV_NONE) { jitEvent(pc, info >> 16); return; }
  if (size == 4) v |= 0xffff_ffff_0000_0000; // NaN-boxed
  store<u64>(V + V_F + (<usize>rd << 3), v);
  setCsr(CSR_MSTATUS, csr(CSR_MSTATUS) | (3 << 13));
}

/** FSW/FSD (`info` = 8 for FSD | f register << 8 | instruction length << 16). */
export function jitFstore(a: u64, info: u32, pc: u64): void {
  jitStatus = 0;
  if (!fpEnabled()) { store<u64>(V + V_PC, trap(EXC_ILLEGAL, 0, pc, false)); jitStatus = JIT_TRAP; return; }
  codeStored = false;
  stored = true;
  storeSlow(a, info & 15, load<u64>(V + V_F + (<usize>((info >> 8) & 31) << 3)));
  if (ev != EV_NONE) jitEvent(pc, info >> 16);
  else if (codeStored) {
    store<u64>(V + V_PC, pc + (info >> 16));
    jitStatus = JIT_CONTINUE;
  }
}

// 64x64 -> high 64 multiplies (Wasm has no 128-bit product)
export function jitMulhu(a: u64, b: u64): u64 { return mulhu(a, b); }
export function jitMulh(a: u64, b: u64): u64 { return mulh(a, b); }
export function jitMulhsu(a: u64, b: u64): u64 { return mulhsu(a, b); }
