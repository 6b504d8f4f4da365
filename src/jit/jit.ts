/**
 * The JIT tier's host half in a vCPU worker: between slices it takes the
 * blocks the vCPU module found hot, has them translated (translate.ts) into
 * one module per batch (a module has a fixed cost of ~0.5 ms) and compiled
 * while the vCPU goes on interpreting (by the VM's translator thread once it
 * is up, ./thread.ts; until then, and with threshold 1, here, with V8
 * compiling in the background), then puts each function in this worker's
 * table and tells the vCPU module to call it. Translated code calls back into
 * the vCPU module Wasm to Wasm; no JavaScript runs on the hot path.
 */
import { availableParallelism } from 'node:os';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { compileEager, compileWithFlags, type Layout, type VcpuExports } from '../accel/module.js';
import { needCompileFlag } from '../accel/compile-flags.js';
import { CHAIN_IMPORTS, FUSED_PROBE_ARGS, IMPORTS, chainModule, discover, fusedMaddProbe, translate, translationModule, unitSpan, type Block,
  type Decoder, type Insn } from './translate.js';
import type { Bytes } from './wasm.js';
import { WkvmError } from '../errors.js';

/** Compiled Wasm bytes a worker keeps before it drops every translation (V8 shares identical modules across workers). */
const CODE_LIMIT = 8 << 20;

export interface JitOptions {
  /** Taken branches to a block before it is translated; 0 turns the JIT off. */
  threshold: number;
}

/**
 * The default: a block is translated once it was entered this many times from
 * interpreted code. Measured on 2 cores: a Linux boot at 4096 made ~450
 * translations and was ~10% slower than the interpreter alone at 8 vCPUs
 * (V8's compile threads take the cores); at 16384 it is no slower, and the
 * benchmark kernels run as fast (they are hot for millions of entries).
 */
export const DEFAULT_THRESHOLD = 16384;
const MAX_THRESHOLD = 1e9;

/**
 * The JIT's threshold for a VM (0 = off) from its options, else from the
 * environment (WKVM_JIT=on|off, WKVM_JIT_THRESHOLD=N: how tests run the whole
 * suite each way), else the default times the VM's vCPUs per host core
 * (rounded up). V8 compiles translations on the host's cores, so with more
 * vCPUs than cores every compile takes time from a vCPU: a 64-vCPU Linux boot
 * on 2 cores (alternating in-process runs, 4 each) took 5.50-5.67 s with the
 * JIT off, 6.09-7.02 s at 16384 (~230 translations), 5.82-6.71 s at 32
 * times that (4-5 translations; what is left is counting and each thread's
 * set-up). A threshold given explicitly is taken as it is.
 */
export function jitThreshold(jit: boolean | 'on' | 'off' | undefined, threshold: number | undefined,
  env: NodeJS.ProcessEnv = process.env, vcpus = 1, cores = availableParallelism()): number {
  let on: boolean;
  if (jit === undefined) {
    const e = env.WKVM_JIT;
    if (e !== undefined && e !== '' && e !== 'on' && e !== 'off') throw new WkvmError(`invalid WKVM_JIT '${e}': must be on or off`);
    on = e !== 'off';
  } else if (jit === true || jit === 'on') on = true;
  else if (jit === false || jit === 'off') on = false;
  else throw new WkvmError(`invalid jit option '${String(jit)}': must be on or off`);
  if (threshold === undefined && env.WKVM_JIT_THRESHOLD !== undefined && env.WKVM_JIT_THRESHOLD !== '') {
    const e = env.WKVM_JIT_THRESHOLD;
    if (!/^\d+$/.test(e)) throw new WkvmError(`invalid WKVM_JIT_THRESHOLD '${e}': must be a whole number from 1 to ${MAX_THRESHOLD}`);
    threshold = Number(e);
  }
  if (threshold !== undefined && (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_THRESHOLD)) {
    throw new WkvmError(`invalid JIT threshold '${threshold}': must be a whole number from 1 to ${MAX_THRESHOLD}`);
  }
  if (!on) return 0;
  return threshold ?? Math.min(MAX_THRESHOLD, DEFAULT_THRESHOLD * Math.ceil(vcpus / Math.max(1, cores)));
}

let fusedMaddFound: boolean | undefined;
/**
 * Whether translations can use the host's fused multiply-add (Wasm's relaxed
 * SIMD madd, behind a V8 flag in Node 20, set during compiles:
 * src/accel/compile-flags.ts): it must give the
 * fused result on the probe. WKVM_JIT_FMA=soft keeps to the exact
 * multiply-add in integer and float steps (how the tests cover that path).
 */
export function fusedMadd(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.WKVM_JIT_FMA === 'soft') return false;
  if (fusedMaddFound === undefined) {
    try {
      const probe = fusedMaddProbe();
      if (!WebAssembly.validate(probe)) needCompileFlag('experimental-wasm-relaxed-simd');
      const f = new WebAssembly.Instance(compileWithFlags(probe)).exports.f0 as (a: number, b: number, c: number) => number;
      fusedMaddFound = f(...FUSED_PROBE_ARGS) === -(2 ** -104);
    } catch {
      fusedMaddFound = false;
    }
  }
  return fusedMaddFound;
}

/** Guest code a translation was made from: `code`, at host address `at`. */
interface Span { at: number; code: Uint8Array }

/**
 * A unit translated and being compiled: installed only if its guest code
 * (its own span) is still what was translated, and so are the units it calls
 * directly (`links`: indices in its batch, units of its page).
 */
export interface Unit extends Span { host: number; slot: number; links: number[] }

/** A hot block to translate: its host address and its guest virtual pc (low 32 bits). */
export interface Item { host: number; pc: number }

/**
 * What a thread translates with: the VM's memory (its guest RAM and the
 * vCPUs' counters), the shared-memory layout, the vCPU module's decoder and
 * slot hash (jit_decode, jit_slot: any instance of it) and where its decoder
 * leaves an immediate, and whether the blocks are translated at threshold 1
 * (`eager`: all code counts as warm).
 */
export interface Translator {
  ram: Uint8Array;
  view: DataView;
  L: Layout;
  cpu: Pick<VcpuExports, 'jit_decode' | 'jit_slot'>;
  /** The immediate of the instruction jit_decode decoded last (it leaves it in its vCPU block). */
  imm: () => number;
  fused: boolean;
  eager: boolean;
}

/** How far after a switch's jump (bytes) its warm targets are looked for, and how many at most. */
const SWITCH_REACH = 0x400;
const SWITCH_MAX = 16;
/**
 * A switch's case is code jumped to a sixteenth as often as warm code (a
 * switch divides its runs among its cases): with the warm count, the fsm
 * kernel's hot loop was translated before half its cases were warm, and the
 * others left the unit (4000 rounds, 3 alternating runs: 363-382 ms with
 * the warm count, 263-292 with an eighth of it; at 1000 rounds a sixteenth
 * ran as an eighth, 89-131 ms against 91-130).
 */
const SWITCH_WARM_SHIFT = 4;

/** A batch translated: its units (compiled as one module, `bytes`), and the blocks that cannot be translated. */
export interface Translated { units: Unit[]; bytes: Uint8Array<ArrayBuffer> | undefined; refused: number[] }

/**
 * A vCPU's batch (for the translator thread, ./thread.ts, or its own): the
 * blocks, its vCPU block (the counters that say which code is warm), the
 * translation starts on their pages, and the count that makes code warm.
 */
export interface BatchRequest { items: Item[]; base: number; entries: number[]; warmCount: number }
/**
 * The translator thread's answer: it is up, or a batch (its module compiled,
 * if any unit was translated; `size`: its bytes; `us`: the time translating).
 */
export type ThreadAnswer =
  | { kind: 'ready' }
  | { kind: 'moved'; port: MessagePort }
  | { kind: 'batch'; units: Unit[]; module?: WebAssembly.Module; size: number; refused: number[]; us: number; failed?: string; byThread: boolean };

/**
 * Translate hot blocks into one module (the work of a batch, done by the vCPU
 * thread itself or by the VM's translator thread: ./thread.ts). An exit of a
 * unit to the start of another unit of the same page in this batch calls that
 * one directly (no lookup, and an indirect call site of its own rather than
 * jit_chain's one for every exit): both come from the same copy of the page,
 * so they are installed, and reinstalled after a FENCE.I, only together.
 */
export function translateRequest(req: BatchRequest, t: Translator): Translated {
  const decoder = (page: Uint8Array): Decoder => (off: number): Insn => {
    const w = t.cpu.jit_decode((page[off] ?? 0) | (page[off + 1] ?? 0) << 8 | (page[off + 2] ?? 0) << 16 | (page[off + 3] ?? 0) << 24);
    return {
      op: w & 0xff, rd: (w >>> 8) & 63, rs1: (w >>> 16) & 31, rs2: (w >>> 24) & 31,
      imm: t.imm(), len: (w & (1 << 14)) !== 0 ? 2 : 4,
    };
  };
  const entries = new Set(req.entries);
  const warm = warmTest(t, req.base, req.warmCount, (host) => entries.has(host));
  const found: { host: number; blocks: Block[]; copy: Uint8Array }[] = [];
  const copies = new Map<number, Uint8Array>();
  const refused: number[] = [];
  for (const { host, pc } of req.items) {
    // translated from a copy, which is what the guest's code is checked against before the translation is
    // installed: another hart may be rewriting it now (decoding the live page, then copying it, could pair
    // the old code's translation with the new code). One copy per page: linked units must agree.
    const page = host & ~0xfff;
    let copy = copies.get(page);
    if (!copy) { copy = t.ram.slice(page, page + 0x1000); copies.set(page, copy); }
    const vpage = (pc & ~0xfff) >>> 0;
    const likelyCase = warm(vpage, page, SWITCH_WARM_SHIFT);
    // a switch's targets: the warm code after its jump in the page, where compilers put the cases (warm code
    // before it too took in the fsm kernel's set-up code, run once a round: its cases ran no faster)
    const switchTargets = (jump: number): number[] => {
      const out: number[] = [];
      for (let o = jump + 2; o < Math.min(0x1000, jump + SWITCH_REACH) && out.length < SWITCH_MAX; o += 2) if (likelyCase(o)) out.push(o);
      return out;
    };
    const blocks = discover(host & 0xfff, decoder(copy), warm(vpage, page), t.eager ? undefined : switchTargets);
    if (!blocks) { refused.push(host); continue; }
    found.push({ host, blocks, copy });
  }
  const byHost = new Map(found.map((u, i) => [u.host, i]));
  const units: Unit[] = [];
  const bodies: Bytes[] = [];
  for (const { host, blocks, copy } of found) {
    const page = host & ~0xfff;
    const { from, to } = unitSpan(blocks);
    const links: number[] = [];
    const direct = (off: number): number | undefined => {
      const j = byHost.get(page + off);
      if (j !== undefined && !links.includes(j)) links.push(j);
      return j;
    };
    units.push({ host, slot: t.cpu.jit_slot(host), at: page + from, code: copy.slice(from, to), links });
    bodies.push(translate(blocks, host & 0xfff, t.fused, direct));
  }
  return { units, bytes: units.length > 0 ? translationModule(bodies) : undefined, refused };
}

/**
 * Whether discover() takes the code at an offset of the guest page at virtual
 * address `vpage` (host address `page`) into a unit that branches there: it
 * ran often (its count of taken branches, in the counters of the vCPU block
 * at `base` hashed by address, is at least `min`: a sixteenth of the
 * threshold; `>> shift` of that for a switch's cases) and no translation
 * starts there (`isEntry`: a unit chains to that one instead of holding a
 * copy of its code: on the fsm kernel every case of the switch took in the
 * whole loop, and the compiles of those copies outweighed what they saved at
 * 1000 rounds). With threshold 1 (the tests' mode) every target is warm:
 * units take in all they can.
 */
function warmTest(t: Translator, base: number, min: number, isEntry: (host: number) => boolean):
  (vpage: number, page: number, shift?: number) => (off: number) => boolean {
  if (t.eager) return () => () => true;
  const counts = base + t.L.V_JIT_COUNTS, mask = t.L.JIT_COUNTERS - 1;
  return (vpage, page, shift = 0) => {
    const least = Math.max(1, min >> shift);
    return (off) => !isEntry(page + off) && t.view.getUint32(counts + ((((vpage + off) >>> 1) & mask) << 2), true) >= least;
  };
}

/**
 * An installed translation and what it depends on: its own span and those of
 * every unit it reaches by direct calls. A FENCE.I reinstalls it only if all
 * of them are unchanged.
 */
interface Installed { host: number; spans: Span[] }

/**
 * What every vCPU thread's JIT shares, made once per process (by the VM, on
 * the main thread) and handed to the threads with their tasks: the chaining
 * module compiled, and the fused multiply-add probe's answer (V8's flags are
 * process-wide, so the relaxed SIMD the probe may turn on holds in every
 * thread). Each thread used to compile and probe for itself: ~3-15 ms of
 * each thread's start, 63 times over in a 64-vCPU boot.
 */
export interface JitShared { chain: WebAssembly.Module; fused: boolean }

let shared: JitShared | undefined;

export function jitShared(): JitShared {
  shared ??= { chain: compileWithFlags(chainModule()), fused: fusedMadd() };
  return shared;
}

/** The most units one module takes (a batch; the rest wait for the next). */
const BATCH_MAX = 256;

export class Jit {
  readonly table: WebAssembly.Table;
  private cpu!: VcpuExports;
  private imports!: WebAssembly.Imports;
  private chainEnv: Record<string, unknown> = {};
  private view!: DataView;
  /** The vCPU module's queue of hot blocks: its count (V_JIT_QUEUE). */
  private queued!: Uint32Array;
  private base = 0;
  /** What this thread translates with, when it does (translateRequest()). */
  private translator!: Translator;
  /** M_JIT_BATCHES: the batches the vCPU threads made themselves (the VM starts its translator thread after a few). */
  private batchesMade!: Int32Array;
  private codeBytes = 0;
  /** Hot blocks taken from the vCPU module's queue, not yet translated: host address -> guest virtual pc (low 32 bits). */
  private pending = new Map<number, number>();
  /** The blocks of the batch being translated or compiled (by this thread or the translator thread). */
  private inFlight: Set<number> | undefined;
  /** Whether this thread's own compile of it is in flight (its result comes through the event loop). */
  private compilingHere = false;
  /** The batch compiled, to be installed. */
  private compiled: { units: Unit[]; module: WebAssembly.Module; size: number } | undefined;
  private failed: unknown;
  /** The installed translations by table slot, with the guest code each was made from. */
  private installed = new Map<number, Installed>();
  private generation = -1;
  /** Channels to whoever translates this vCPU's batches (./service.ts), the I/O thread's, then the translator thread's. */
  private readonly ports: MessagePort[] = [];
  /** The channel whose other end said last that it is up: batches go there (none yet: this thread translates them). */
  private sendTo: MessagePort | undefined;

  /** Threshold 1: translate each block synchronously before it runs again (deterministic, for tests). */
  private readonly eager: boolean;
  /** Taken branches to a block that make it warm: taken into a unit that branches there (discover()). */
  private readonly warmCount: number;

  /**
   * `port`: this vCPU's channel to whoever translates its batches off its
   * thread (./service.ts), if it has one: batches go there once it says it
   * is up (until then, and without one, this thread translates them).
   */
  constructor(private readonly L: Layout, threshold: number, private readonly shared: JitShared, port?: MessagePort) {
    if (port) this.ports.push(port);
    this.eager = threshold === 1;
    this.warmCount = Math.max(1, threshold >> 4);
    // grown to its JIT_ENTRIES slots at the first installation: V8 sets up each instance that imports a
    // table (the vCPU module's, jit_chain's) in time that grows with its size, 1-5 ms at 16385 entries,
    // paid by every thread, most of which translate nothing in a 64-vCPU boot
    this.table = new WebAssembly.Table({ element: 'anyfunc', initial: L.JIT_TABLE_BASE });
  }

  /** This thread compiles a batch: the worker lets its event loop run so that the result arrives. */
  get compiling(): boolean { return this.compilingHere; }

  /** A batch is being translated or compiled (here or elsewhere): the worker runs short slices, to install it soon. */
  get awaiting(): boolean { return this.inFlight !== undefined; }

  /**
   * Whether service() would find nothing to do: no block queued or pending,
   * no batch on the way, nothing installed that a FENCE.I could make stale.
   * Most harts of a 64-vCPU boot stay so; each slice's service() in their
   * cold threads (its channel polled with receiveMessageOnPort) cost ~2% of
   * the boot's CPU time (perf, threshold 1e9).
   */
  get idle(): boolean {
    return this.inFlight === undefined && this.queued[0] === 0 && this.pending.size === 0 && this.installed.size === 0 && this.failed === undefined;
  }

  /** Bind to the worker's vCPU instance (bound to `hart`). */
  bind(cpu: VcpuExports, exports: WebAssembly.Exports, memory: WebAssembly.Memory, hart: number): void {
    this.cpu = cpu;
    this.view = new DataView(memory.buffer as unknown as ArrayBuffer);
    this.base = this.L.VCPU_BASE + hart * this.L.VCPU_STRIDE;
    this.queued = new Uint32Array(memory.buffer as unknown as ArrayBuffer, this.base + this.L.V_JIT_QUEUE, 1);
    const immAt = this.base + this.L.V_JIT_QUEUE + 4;
    this.translator = {
      ram: new Uint8Array(memory.buffer as unknown as ArrayBuffer), view: this.view, L: this.L, cpu,
      imm: () => this.view.getInt32(immAt, true), fused: this.shared.fused, eager: this.eager,
    };
    this.batchesMade = new Int32Array(memory.buffer as unknown as SharedArrayBuffer, this.L.MACHINE_BASE + this.L.M_JIT_BATCHES, 1);
    const env: Record<string, unknown> = { memory };
    // the translations' imports are the vCPU module's exports of the same names
    this.chainEnv = { memory, table: this.table };
    for (const im of CHAIN_IMPORTS) if (im.kind === 'global') this.chainEnv[im.name] = exports[im.name];
    for (const im of IMPORTS) if (im.kind !== 'memory' && im.name !== 'jit_chain') env[im.name] = exports[im.name];
    this.imports = { env: env as WebAssembly.ModuleImports };
  }

  /**
   * Before the first installation: the table grows to its JIT_ENTRIES slots,
   * and jit_chain (which imports it at that size) is instantiated.
   */
  private ready(): void {
    const size = this.L.JIT_TABLE_BASE + this.L.JIT_ENTRIES;
    if (this.table.length >= size) return;
    this.table.grow(size - this.table.length);
    const chain = new WebAssembly.Instance(this.shared.chain, { env: this.chainEnv as WebAssembly.ModuleImports });
    (this.imports.env as Record<string, unknown>).jit_chain = chain.exports.f0;
  }

  /** Whether a translation starts at host address `host` (installed, being translated or compiled, or queued). */
  private isEntry(host: number): boolean {
    return this.pending.has(host) || this.installed.get(this.cpu.jit_slot(host))?.host === host || (this.inFlight?.has(host) ?? false);
  }

  /**
   * After a slice: take the blocks the vCPU module queued, install a batch
   * compiled meanwhile, and start on the next one.
   */
  service(): void {
    // first the translations a FENCE.I made stale: those whose code changed are no longer entries
    const gen = this.cpu.jit_generation();
    if (gen !== this.generation) { this.generation = gen; this.revalidate(); }
    const q = this.base + this.L.V_JIT_QUEUE;
    const count = this.view.getUint32(q, true);
    for (let i = 0; i < count; i++) {
      const host = Number(this.view.getBigUint64(q + 16 + 16 * i + 8, true));
      // a block queued again while its translation was being compiled (or before a FENCE.I reinstated it)
      // is not translated twice: 14 of a Linux boot's 785 translations at threshold 2048 were such copies
      if (!this.isEntry(host)) this.pending.set(host, this.view.getUint32(q + 16 + 16 * i, true));
    }
    this.view.setUint32(q, 0, true);
    if (this.inFlight) this.receive(); // answers come only for a batch on the way (the rest: translateBatch())
    if (this.compiled) this.install();
    else if (this.failed !== undefined) throw this.failed;
    if (!this.inFlight && this.pending.size > 0) this.translateBatch();
  }

  /**
   * The answers of whoever translates this vCPU's batches (./service.ts):
   * that it is up, that batches go to another channel from now on (the
   * translator thread's: answers to batches sent before still come here), or
   * a batch compiled.
   */
  private receive(): void {
    for (const port of this.ports) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) this.take(m.message as ThreadAnswer, port);
    }
  }

  private take(answer: ThreadAnswer, from: MessagePort): void {
    if (answer.kind === 'ready') { this.sendTo = from; return; }
    if (answer.kind === 'moved') { this.ports.push(answer.port); return; } // batches go there once it is up
    for (const host of answer.refused) this.cpu.jit_refuse(host);
    this.bump(this.L.R_JIT_COMPILE_US, answer.us);
    if (answer.byThread) this.bump(this.L.R_JIT_OFFLOADED, 1);
    if (answer.failed !== undefined) { this.failed = new Error(answer.failed); this.inFlight = undefined; return; }
    if (answer.module) this.compiled = { units: answer.units, module: answer.module, size: answer.size };
    else this.inFlight = undefined;
  }

  /** The VM stopped: close the channels (whoever translates ends with them). */
  close(): void {
    for (const port of this.ports) port.close();
  }

  /**
   * Translate pending blocks into one module: off this thread once the other
   * end of its channel is up (the I/O thread, later the translator thread:
   * ./service.ts; either has it compiled too), else here, and V8 compiles it
   * on its background threads.
   */
  private translateBatch(): void {
    const t0 = performance.now();
    const items: Item[] = [];
    for (const [host, pc] of this.pending) {
      if (items.length === BATCH_MAX) break;
      this.pending.delete(host);
      items.push({ host, pc });
    }
    this.inFlight = new Set(items.map((it) => it.host));
    // the translation starts on the batch's pages: code a unit does not take in as warm (all code is warm
    // with threshold 1)
    const pages = new Set(items.map((it) => it.host & ~0xfff));
    const entries = this.eager ? []
      : [...this.pending.keys(), ...this.inFlight, ...[...this.installed.values()].map((t) => t.host)].filter((h) => pages.has(h & ~0xfff));
    const request: BatchRequest = { items, base: this.base, entries, warmCount: this.warmCount };
    this.receive(); // that the other end is up, or moved
    if (this.sendTo && !this.eager) {
      this.sendTo.postMessage(request);
      this.time(t0);
      return;
    }
    const { units, bytes, refused } = translateRequest(request, this.translator);
    for (const host of refused) this.cpu.jit_refuse(host); // the vCPU module stops queueing it
    if (!bytes) { this.inFlight = undefined; this.time(t0); return; }
    if (this.eager) {
      this.compiled = { units, module: compileWithFlags(bytes), size: bytes.length };
      this.time(t0);
      this.install();
      return;
    }
    this.time(t0);
    if (this.ports.length > 0) { // the VM starts its translator thread once the vCPUs have made a few batches (src/vm.ts)
      Atomics.add(this.batchesMade, 0, 1);
      Atomics.notify(this.batchesMade, 0);
    }
    this.compilingHere = true;
    compileEager(bytes).then((module) => { this.compiled = { units, module, size: bytes.length }; this.compilingHere = false; },
      (e: unknown) => { this.failed = e; this.inFlight = undefined; this.compilingHere = false; });
  }

  /**
   * Install the compiled batch: each unit whose guest code did not change
   * since it was translated goes into its table slot and becomes its block's
   * translation (the guest rewrote the others meanwhile: they may be found
   * hot again).
   */
  private install(): void {
    const t0 = performance.now();
    const { units, module, size } = this.compiled!;
    this.inFlight = undefined;
    this.compiled = undefined;
    // the memory bound: every translation goes (their modules with them) before one too many comes in
    if (this.codeBytes + size > CODE_LIMIT) this.flush();
    this.codeBytes += size;
    this.ready();
    const exports = new WebAssembly.Instance(module, this.imports).exports;
    // a unit is valid if its code is unchanged and so is every unit it calls directly, transitively
    const valid = units.map((u) => this.unchanged(u.at, u.code));
    for (let again = true; again;) {
      again = false;
      units.forEach((u, i) => { if (valid[i] && u.links.some((j) => !valid[j])) { valid[i] = false; again = true; } });
    }
    let installed = 0;
    units.forEach(({ host, slot }, i) => {
      if (!valid[i]) return;
      const reach = new Set([i]);
      for (const j of reach) for (const k of units[j]!.links) reach.add(k); // a Set iterates what is added meanwhile
      this.table.set(this.L.JIT_TABLE_BASE + slot, exports[`f${i}`] as () => void);
      this.cpu.jit_install(host);
      this.installed.set(slot, { host, spans: [...reach].map((j) => units[j]!) });
      installed++;
    });
    this.bump(this.L.R_JIT_BLOCKS, installed);
    this.bump(this.L.R_JIT_MODULES, 1);
    this.time(t0);
  }

  /**
   * A FENCE.I made every translation stale (Linux runs one, on every hart,
   * each time it maps a page of code). Those whose guest code is still the
   * same are valid again: reinstall them rather than translate them again.
   */
  private revalidate(): void {
    const t0 = performance.now();
    // linked units share their spans (the same objects): each is compared once
    const same = new Map<Span, boolean>();
    const check = (s: Span): boolean => {
      let v = same.get(s);
      if (v === undefined) { v = this.unchanged(s.at, s.code); same.set(s, v); }
      return v;
    };
    for (const [slot, { host, spans }] of this.installed) {
      if (spans.every(check)) this.cpu.jit_install(host); else this.installed.delete(slot);
    }
    this.time(t0);
  }

  /** Whether the guest code at host address `at` is still `code` (what a unit was translated from). */
  private unchanged(at: number, code: Uint8Array): boolean {
    const ram = this.translator.ram;
    for (let k = 0; k < code.length; k++) if (ram[at + k] !== code[k]) return false;
    return true;
  }

  /** Drop every translation (and with them the modules they keep alive). */
  private flush(): void {
    this.installed.clear();
    this.cpu.jit_flush();
    for (let i = this.L.JIT_TABLE_BASE; i < this.table.length; i++) this.table.set(i, null);
    this.codeBytes = 0;
    this.bump(this.L.R_JIT_FLUSHES, 1);
  }

  /** Time this thread spent translating and installing since t0. */
  private time(t0: number): void {
    const us = Math.round((performance.now() - t0) * 1000);
    this.bump(this.L.R_JIT_COMPILE_US, us);
    this.bump(this.L.R_JIT_STALLED_US, us);
  }

  private bump(field: number, by: number): void {
    const a = this.base + this.L.V_RUN + field;
    this.view.setBigUint64(a, this.view.getBigUint64(a, true) + BigInt(by), true);
  }
}
