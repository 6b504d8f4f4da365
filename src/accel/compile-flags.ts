/**
 * The V8 flags our Wasm compiles need, set only while one is in flight (see
 * below). Its own small module: the vCPU pools (src/workers/pool.ts) hand
 * its shared state to their threads.
 */
import v8 from 'node:v8';
import { isMainThread, workerData } from 'node:worker_threads';

/** V8 flags the user gave (node's command line or NODE_OPTIONS): those are left as they are. */
export const userFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].join(' ');

const STATE_KEY = Symbol.for('wkvm.compileFlags');

/**
 * V8 features our modules need at compile time that Node 20's V8 keeps behind
 * flags: the branch hints in every module (a custom section, which V8 ignores
 * without the flag; on by default from V8 13.7), and relaxed SIMD in
 * translations that use the host's fused multiply-add (src/jit/jit.ts,
 * fusedMadd()). V8's flags are process-wide, and a flag set also changes the
 * hash V8 checks code caches against: every Node worker started while one is
 * set compiles Node's own JavaScript afresh instead of taking it from the
 * cache built into Node (measured: ~4 ms more CPU per empty worker; a
 * 64-vCPU boot, JIT off, to the prompt 5.63 -> 5.03 s, medians of 12 in
 * turns, 2026-12-07). So they are set only while a compile is in flight in
 * any of the process's threads, and put back after the last: a count under
 * a lock, in memory every thread of the process shares (the vCPU pools hand
 * it to their threads as workerData: src/workers/pool.ts). Flags the user
 * gave (node's command line or NODE_OPTIONS) are left as they are.
 */
const COMPILE_FLAG_NAMES = ['experimental-wasm-branch-hinting', 'experimental-wasm-relaxed-simd'] as const;
type CompileFlag = (typeof COMPILE_FLAG_NAMES)[number];

/**
 * V8 flags (on by default) that some compiles turn off for themselves:
 * dynamic tiering (so that V8 optimizes from the start: compileEager,
 * compileOptimized) and lazy compilation (every function compiled now:
 * compileOptimized). Counted process-wide like the others: with a count per
 * thread, one thread's compile that ended turned dynamic tiering back on
 * under another thread's compile still setting up.
 */
const OFF_FLAG_NAMES = ['wasm-dynamic-tiering', 'wasm-lazy-compilation'] as const;
export type OffFlag = (typeof OFF_FLAG_NAMES)[number];

/** [lock, compiles in flight, flags needed (a bit each, COMPILE_FLAG_NAMES' order), then per OFF_FLAG_NAMES the compiles holding it off] */
const compileFlagState: Int32Array = (!isMainThread && (workerData as { compileFlags?: Int32Array } | null)?.compileFlags)
  // one per thread even where bundles hold copies of this module (dist/pool.js and dist/cli.js)
  || ((globalThis as Record<symbol, Int32Array | undefined>)[STATE_KEY] ??= new Int32Array(new SharedArrayBuffer(4 * (3 + OFF_FLAG_NAMES.length))));

/** The process's compile-flag state, for its worker threads (their workerData.compileFlags). */
export function compileFlagsShared(): Int32Array {
  return compileFlagState;
}

const LOCK = 0, COUNT = 1, NEEDED = 2, OFF = 3;

/**
 * Run `f` under the lock. It is held for a few flag writes only; a thread
 * ended while it held it (a pool thread terminated) would hold it for ever:
 * after ~1 s of waiting the lock is taken anyway, so that no compile waits
 * longer.
 */
function withFlagLock(f: () => void): void {
  for (let waits = 0; Atomics.compareExchange(compileFlagState, LOCK, 0, 1) !== 0 && waits < 1000; waits++) {
    Atomics.wait(compileFlagState, LOCK, 1, 1);
  }
  try { f(); } finally { Atomics.store(compileFlagState, LOCK, 0); Atomics.notify(compileFlagState, LOCK); }
}

/** Compiles need `flag` (unless the user's flags name it): it is set with the others during each. */
export function needCompileFlag(flag: CompileFlag): void {
  if (userFlags.includes(flag.replace('experimental-', ''))) return;
  const bit = 1 << COMPILE_FLAG_NAMES.indexOf(flag);
  withFlagLock(() => {
    const needed = Atomics.load(compileFlagState, NEEDED);
    if ((needed & bit) !== 0) return;
    Atomics.store(compileFlagState, NEEDED, needed | bit);
    if (Atomics.load(compileFlagState, COUNT) > 0) v8.setFlagsFromString(`--${flag}`); // a compile in flight gets it too
  });
}

/**
 * A compile starts: the flags it needs are set, and those in `off` turned off
 * (flags the user named are left alone); releaseCompileFlags(off) when it has
 * settled.
 */
export function holdCompileFlags(off: readonly OffFlag[] = []): void {
  branchHintsNeeded();
  withFlagLock(() => {
    if (Atomics.add(compileFlagState, COUNT, 1) === 0) setNeeded(true);
    for (const f of off) {
      if (!userFlags.includes(f) && Atomics.add(compileFlagState, OFF + OFF_FLAG_NAMES.indexOf(f), 1) === 0) v8.setFlagsFromString(`--no-${f}`);
    }
  });
}

/** A compile settled: the last one in flight puts the flags back (the last holding one of `off` off, that one). */
export function releaseCompileFlags(off: readonly OffFlag[] = []): void {
  withFlagLock(() => {
    for (const f of off) {
      if (!userFlags.includes(f) && Atomics.sub(compileFlagState, OFF + OFF_FLAG_NAMES.indexOf(f), 1) === 1) v8.setFlagsFromString(`--${f}`);
    }
    if (Atomics.sub(compileFlagState, COUNT, 1) === 1) setNeeded(false);
  });
}

function setNeeded(on: boolean): void {
  const needed = Atomics.load(compileFlagState, NEEDED);
  COMPILE_FLAG_NAMES.forEach((f, k) => { if ((needed & (1 << k)) !== 0) v8.setFlagsFromString(on ? `--${f}` : `--no-${f}`); });
}

let branchHintsChecked = false;
/** V8 before 13.7 reads the branch hints in our modules only with its flag (later it has no such flag: an unknown one makes V8 print an error line). */
function branchHintsNeeded(): void {
  if (branchHintsChecked) return;
  branchHintsChecked = true;
  const [major = 0, minor = 0] = process.versions.v8.split('.').map(Number);
  if (major < 13 || (major === 13 && minor < 7)) needCompileFlag('experimental-wasm-branch-hinting');
}
