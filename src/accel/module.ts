/**
 * The accel layer's KVM_CREATE_VM half: compile the Wasm vCPU module once
 * per process and read the shared-memory layout from it (the layout's one
 * source of truth is assembly/layout.ts, exported as Wasm globals).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WkvmError } from '../errors.js';
import { holdCompileFlags, releaseCompileFlags, type OffFlag } from './compile-flags.js';

import * as LAYOUT from '../../assembly/layout.js';
import * as BOARD from '../../assembly/board.js';
import * as OPS from '../../assembly/ops.js';

/** The shared-memory layout: assembly/layout.ts, compiled for the host too (a misspelt name does not compile). */
export type Layout = Readonly<typeof LAYOUT>;

export interface VcpuModule {
  module: WebAssembly.Module;
  layout: Layout;
}

/** The functions the vCPU module exports (assembly/index.ts). */
export interface VcpuExports {
  heap_base(): number;
  machine_bind(): void;
  signal_scan(): number;
  vcpu_deadline_ms(): number;
  vcpu_bind(hart: number): void;
  vcpu_reset(pc: bigint, a0: bigint, a1: bigint, priv: number): void;
  vcpu_resume(): void;
  run(budget: number): number;
  /** The debugger's single step (assembly/debug.ts). */
  run_step(): number;
  wfi_should_sleep(): number;
  others_in_run(): number;
  hsm_start(): void;
  hsm_resume(): void;
  plic_set_level(irq: number, level: number): void;
  virtio_interrupt(slot: number, set: number, clear: number): void;
  uart_rx_notify(): void;
  uart_tx_notify(): void;
  // the JIT tier (assembly/jit.ts)
  jit_decode(insn: number): number;
  jit_slot(host: number): number;
  jit_install(host: number): void;
  jit_generation(): number;
  jit_refuse(host: number): void;
  jit_flush(): void;
}

let cached: VcpuModule | undefined;

export function wasmPath(): string {
  return fileURLToPath(new URL('../../../build/vcpu.wasm', import.meta.url));
}

/**
 * Compile the vCPU module so that V8 optimizes all of it (TurboFan) in the
 * background from the start. By default V8 compiles a function with its
 * baseline compiler (Liftoff) on its first call and optimizes it only once it
 * has run a while; run() never returns within a slice, so the guest's first
 * ~40 ms ran at ~26 MIPS instead of ~250. The two flags are process-wide and
 * read when a module is compiled: they are set for this one module and put
 * back, as are the flags of the features our modules use
 * (./compile-flags.ts).
 */
export function compileOptimized(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  holdCompileFlags(OPTIMIZED);
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    releaseCompileFlags(OPTIMIZED);
  }
}
const OPTIMIZED: OffFlag[] = ['wasm-dynamic-tiering', 'wasm-lazy-compilation'];

/** A compile with the flags our modules need (holdCompileFlags). */
export function compileWithFlags(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  holdCompileFlags();
  try { return new WebAssembly.Module(bytes); } finally { releaseCompileFlags(); }
}

/**
 * Compile a module of JIT translations straight to optimized code (TurboFan)
 * on V8's background threads. With V8's default the translations ran as
 * baseline code (Liftoff) for long after they were installed, until V8
 * optimized them; measured on the benchmark kernels (1000 rounds, 6
 * alternating runs), eager optimization took hash from 97-114 ms to 82-92,
 * list 81-98 to 71-78, sort 159-176 to 135-152, and a Linux boot was no
 * slower. V8 reads the flag when it sets the compile up, after this returns:
 * it stays off until the compile settles (process-wide, like all V8 flags: a
 * module the embedding program compiles meanwhile is optimized eagerly too;
 * counted with the others' in ./compile-flags.ts).
 */
export function compileEager(bytes: Uint8Array<ArrayBuffer>): Promise<WebAssembly.Module> {
  holdCompileFlags(EAGER);
  return WebAssembly.compile(bytes).finally(() => releaseCompileFlags(EAGER));
}
const EAGER: OffFlag[] = ['wasm-dynamic-tiering'];

/** The least memory the vCPU module imports, in 64 KiB pages (asconfig.json's initialMemory). */
export const VCPU_MODULE_MIN_PAGES = 64;

/** Compile build/vcpu.wasm (once per process) and read its layout. */
export function loadVcpuModule(): VcpuModule {
  if (cached) return cached;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(wasmPath()));
  } catch {
    throw new WkvmError(`cannot read ${wasmPath()}: run 'npm run build' first`);
  }
  const module = compileOptimized(bytes);
  // a throwaway instance on a minimal memory, only to read the exported constants
  const memory = new WebAssembly.Memory({ initial: VCPU_MODULE_MIN_PAGES, maximum: VCPU_MODULE_MIN_PAGES, shared: true });
  const instance = new WebAssembly.Instance(module, vcpuImports(memory, 0));
  // the module exports the same constants as globals: they must be the ones this host was built with
  const exported = instance.exports as Record<string, unknown>;
  for (const [name, value] of [...Object.entries(LAYOUT), ...Object.entries(BOARD), ...Object.entries(OPS)]) {
    const g = exported[name];
    if (!(g instanceof WebAssembly.Global) || Number(g.value) >>> 0 !== value) { // u32 globals read back as i32
      throw new WkvmError(`${wasmPath()} does not match assembly/${name in LAYOUT ? 'layout' : name in BOARD ? 'board' : 'ops'}.ts (${name}): run 'npm run build'`);
    }
  }
  if (BOARD.VIRTIO_SLOTS > LAYOUT.VIRTIO_NOTIFY_SLOTS) throw new Error('assembly/layout.ts has fewer virtio doorbell words than the board has slots');
  const layout: Layout = { ...LAYOUT };
  const heapBase = (instance.exports as unknown as VcpuExports).heap_base();
  if (heapBase > layout.MACHINE_BASE) {
    throw new WkvmError(`vCPU module data (${heapBase} bytes) overlaps the machine block at ${layout.MACHINE_BASE}`);
  }
  cached = { module, layout: Object.freeze(layout) };
  return cached;
}

/**
 * The imports of the vCPU module. `table` holds a vCPU worker's translations
 * (src/jit); `now_ms` is the host's monotonic clock in
 * ms since the machine's epoch (a performance.now() value shared by every
 * thread of the VM); the module scales it to mtime ticks.
 */
export function vcpuImports(memory: WebAssembly.Memory, epochMs: number,
  table = new WebAssembly.Table({ element: 'anyfunc', initial: 1 })): WebAssembly.Imports {
  const base = performance.timeOrigin - epochMs;
  const yieldWord = new Int32Array(new SharedArrayBuffer(4));
  return {
    env: {
      memory,
      table, // the JIT's translations (a vCPU worker's own; a minimal one elsewhere)
      now_ms: () => base + performance.now(),
      // give the core away for ~50 µs (a futex wait with timeout)
      host_yield: () => { Atomics.wait(yieldWord, 0, 0, 0.05); },
      abort: () => { throw new Error('vCPU module abort'); },
    },
    // scripts/branch-hints.mjs turned the module's calls of it into branch hints: a call means a build without that step
    hint: { cold: () => { throw new Error('vCPU module built without scripts/branch-hints.mjs (npm run build:wasm)'); } },
  };
}

/** The wall-clock-independent epoch of a new machine (ms, comparable across threads). */
export function newEpoch(): number {
  return performance.timeOrigin + performance.now();
}
