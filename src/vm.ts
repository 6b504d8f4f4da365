/**
 * VirtualMachine: the public, embeddable VM (qemu-kvm's main() and vl.c).
 * create() = KVM_CREATE_VM + machine init; start() = the vCPU threads, the
 * signal thread and the I/O loop; the serial console is a Duplex stream;
 * `exited` resolves to the guest's exit status.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { takePool, givePool, prewarmPool } from './workers/pool.js';
import { WkvmError, describeFsError } from './errors.js';
import * as BOARD from '../assembly/board.js';
import { loadVcpuModule, vcpuImports, newEpoch, type VcpuExports, type Layout } from './accel/module.js';
import { jitThreshold, jitShared } from './jit/jit.js';
import { IoThreadTranslation } from './jit/service.js';
import { VmMemory, maxRamSize } from './accel/memory.js';
import { planBoot, VIRT_MEMMAP, readGuestFile, guestBytes, type Bios, type BootPlan, type BootSpec, type GuestFile } from './machine/virt.js';
import { parseSize } from './machine/size.js';
import { UartHost } from './devices/uart.js';
import { DeviceManager, openDevices, type DeviceOptions } from './machine/devices.js';
import { VirtioBlock, VirtioNet, type VirtioDevice } from './devices/virtio/index.js';
import type { QueueThreads } from './devices/virtio/device.js';
import type { NetStats } from './netdev/index.js';
import * as LAYOUT from '../assembly/layout.js';
import { IoLoop, type ExitEvent } from './io/main-loop.js';
import type { VcpuTask } from './workers/vcpu-worker.js';
import type { SignalTask } from './workers/signal.js';
import type { JitThreadTask } from './jit/thread.js';
import type { PrefaultTask } from './workers/prefault.js';
import { GuestConsole } from './console.js';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { WKVM_VERSION } from './version.js';
import { SNAPSHOT_FORMAT, PAGE, bufferInput, fileInput, ramRunsAhead, readSnapshotHeader, readSnapshotSections, encodeSnapshot, sparsePages, type SnapshotContents, type SnapshotInput } from './snapshot/format.js';
import { VmDebugger } from './debug/debugger.js';
import type { VmDebug } from './debug/types.js';

/** Most vCPUs a VM can have (the board's hart limit). */
export const MAX_VCPUS: number = BOARD.MAX_HARTS;
const STOP_GRACE_MS = 5000;
/** Unread console output the serial stream holds before the guest's UART stalls. */
const SERIAL_HIGH_WATER_MARK = 64 * 1024;
/** Signal tasks of this process, numbered (M_SIG_TASK): a VM's memory may go to another VM while its task waits for a thread. */
let signalTasks = 0;
/**
 * Batches of translations the vCPUs make before the VM starts its translator
 * thread (startTranslation): 256, or WKVM_JIT_THREAD_AFTER (the tests' way to
 * have it start early).
 */
function jitThreadAfter(): number {
  const v = Number(process.env.WKVM_JIT_THREAD_AFTER);
  return Number.isInteger(v) && v > 0 ? v : 256;
}
const nextSignalTask = (): number => (signalTasks = (signalTasks % 0x3fff_ffff) + 1);
/** Call `then` once the word at `index` is no longer `from` (notified), or at once if it is not now. */
function onChange(i32: Int32Array, index: number, from: number, then: () => void): void {
  const w = Atomics.waitAsync(i32, index, from);
  if (w.async) void w.value.then(then); else then();
}

export interface MachineOptions {
  /** Guest RAM: bytes, or a QEMU-style size such as '128M' (default 128 MiB). */
  memory?: bigint | number | string;
  /** vCPU count, 1..MAX_VCPUS (default 1). */
  smp?: number;
  /** 'default' (built-in SBI, no firmware), 'none' (M-mode bare metal) or a firmware file. */
  bios?: Bios | string;
  /** Kernel (path or bytes): Linux Image, ELF or raw binary. */
  kernel?: string | Uint8Array;
  initrd?: string | Uint8Array;
  append?: string;
  /** A guest reset ends the run instead of rebooting (QEMU's -no-reboot). */
  noReboot?: boolean;
  /** The JIT tier: translate hot guest code to WebAssembly (default on; environment WKVM_JIT=on|off). */
  jit?: boolean | 'on' | 'off';
  /** Entries of a block from interpreted code before it is translated (default 16384 times the vCPUs per host core, rounded up; environment WKVM_JIT_THRESHOLD). */
  jitThreshold?: number;
  /** The VM's name (QEMU's -name; QMP's query-name). */
  name?: string;
}

/** The options of `VirtualMachine.create()`: the machine, and the devices on it. */
export interface VmOptions extends MachineOptions, DeviceOptions {
  /** Abandon the creation (opening images, connecting netdevs): create() rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * A stopped VM of the same vCPU count and RAM size whose memory this one
   * takes over, cleared (a service that restores VM after VM: a new memory
   * costs a page fault per page the guest's state fills, ~35 ms for a small
   * Linux guest here). The stopped VM can then no longer be read.
   */
  recycle?: VirtualMachine;
}

export interface StartOptions {
  /** Start with the vCPUs paused, in 'prelaunch' until resume() (QEMU's -S). */
  paused?: boolean;
  /** Aborting it stops the VM (as stop()). */
  signal?: AbortSignal;
}

/**
 * Where the VM is, as QMP's query-status names it: 'prelaunch' (created, or
 * started paused), 'running', 'paused', 'shutdown' (stopped; `exited` has
 * resolved), 'internal-error' (a host-side failure stopped it), and the
 * migration states 'inmigrate' and 'postmigrate'.
 */
export type RunState = 'prelaunch' | 'running' | 'paused' | 'shutdown' | 'inmigrate' | 'postmigrate' | 'internal-error';

/** Why the VM stopped or reset, as QMP's SHUTDOWN and RESET events name it. */
export type ShutdownCause = 'host-error' | 'host-qmp-quit' | 'host-qmp-system-reset' | 'host-signal' | 'host-ui' |
  'guest-shutdown' | 'guest-reset' | 'guest-panic';

/** A vCPU's architectural registers (read with the vCPUs held still). */
export interface VcpuRegisters {
  hart: number;
  pc: bigint;
  /** x0..x31 */
  x: bigint[];
  /** f0..f31, raw 64-bit (single precision NaN-boxed) */
  f: bigint[];
  /** privilege level: 0 U, 1 S, 3 M */
  priv: number;
  /** the machine and supervisor CSRs by name (mstatus, mie, mip, mtvec, ..., satp, fcsr) */
  csr: Record<string, bigint>;
}

/** A vCPU thread (QMP's query-cpus-fast). */
export interface VcpuInfo {
  hart: number;
  /** The host OS thread running it (0 before it started, or where the OS does not say). */
  threadId: number;
}

/** Device I/O since the VM was created. */
export interface DeviceStats {
  /** `ioThread`: the drive's queue is served on its I/O thread now (src/devices/virtio/blk/iothread.ts; from soon after the driver starts it). */
  blocks: ({ id: string; reads: number; readBytes: number; writes: number; writeBytes: number; flushes: number; discards: number; errors: number; ioThread: boolean })[];
  nics: ({ mac: string; netdev: string } & NetStats)[];
}

/** A disk (QMP's query-block). */
export interface BlockDeviceInfo {
  /** The drive's id (-drive id=ID), else virtio0, virtio1, ... in order. */
  id: string;
  file: string;
  /** Bytes the guest sees. */
  size: number;
  readonly: boolean;
  snapshot: boolean;
  cache: string;
}

/** Why a vCPU left its run loop (the names of VcpuStats.exitsByReason). */
export const EXIT_REASONS = ['slice', 'mmio', 'wfi', 'request', 'shutdown', 'reset', 'pause', 'hsm-stop', 'hsm-suspend', 'spin', 'debug'] as const;
export type ExitReason = typeof EXIT_REASONS[number];

export interface VcpuStats {
  hart: number;
  instructions: bigint;
  /** Exits to the host (a slice ending is not one). */
  exits: bigint;
  /** Returns from the run loop by reason, slice ends included. */
  exitsByReason: Record<ExitReason, bigint>;
  /** Interrupts taken. */
  interrupts: bigint;
  /** TLB fills (each after a page-table walk, or a bare-mode lookup). */
  tlbMisses: bigint;
  /** Instructions decoded into the decode cache. */
  decodeMisses: bigint;
  /** The vCPU thread's life so far, in milliseconds: running guest code (its MMIO exits included), halted (WFI,
   * SBI HSM suspend or stop), yielding on spin loops and pause hints, parked by pause(). */
  time: { runningMs: number; haltedMs: number; spinningMs: number; pausedMs: number };
  /** The JIT tier: instructions retired inside translations, translations installed, Wasm modules compiled,
   * microseconds spent translating (on whichever thread) and installing, the part of them on the vCPU's own
   * thread (its guest stopped meanwhile), whole-cache flushes (its memory bound), and batches the translator
   * thread made (docs/jit.md). */
  jit: { instructions: bigint; blocks: bigint; modules: bigint; compileUs: bigint; stalledUs: bigint; flushes: bigint; offloaded: bigint };
}

/** The events a VirtualMachine emits, with their arguments. */
export interface VmEvents {
  /** Bytes the guest wrote to its serial console (also readable from `serial`). */
  output: [data: Buffer];
  /** The VM was reset (by the guest, or by `reset()`) and boots again. */
  reset: [info: { guest: boolean; reason: ShutdownCause }];
  /** The VM is stopping: who asked and why (QMP's SHUTDOWN); `exit` follows. */
  shutdown: [info: { guest: boolean; reason: ShutdownCause }];
  /** The run state changed (`runState` is already the new one). */
  stateChange: [state: RunState, previous: RunState];
  /** The VM stopped: the guest's exit status (1 after a host-side failure), as `exited` resolves. */
  exit: [code: number];
  /** The guest reported a failure: an SBI system reset or shutdown with reason "system failure", or a Linux
   * "Kernel panic - not syncing" line on the console. */
  guestPanicked: [info: { source: 'sbi' | 'console'; action: 'poweroff' | 'run'; message?: string }];
  /** A host-side problem that did not stop the VM. */
  warning: [error: Error];
  /** A host-side failure that stopped the VM (`exited` rejects with it too); emitted only to listeners. */
  error: [error: Error];
}

type State = 'created' | 'running' | 'paused' | 'stopping' | 'stopped';

/** The CSRs registers() reports, by their slot in the vCPU's CSR file (assembly/layout.ts). */
const CSR_NAMES: readonly [string, number][] = [
  ['mstatus', LAYOUT.CSR_MSTATUS], ['misa', LAYOUT.CSR_MISA], ['medeleg', LAYOUT.CSR_MEDELEG], ['mideleg', LAYOUT.CSR_MIDELEG],
  ['mie', LAYOUT.CSR_MIE], ['mtvec', LAYOUT.CSR_MTVEC], ['mcounteren', LAYOUT.CSR_MCOUNTEREN], ['mscratch', LAYOUT.CSR_MSCRATCH],
  ['mepc', LAYOUT.CSR_MEPC], ['mcause', LAYOUT.CSR_MCAUSE], ['mtval', LAYOUT.CSR_MTVAL], ['stvec', LAYOUT.CSR_STVEC],
  ['scounteren', LAYOUT.CSR_SCOUNTEREN], ['sscratch', LAYOUT.CSR_SSCRATCH], ['sepc', LAYOUT.CSR_SEPC], ['scause', LAYOUT.CSR_SCAUSE],
  ['stval', LAYOUT.CSR_STVAL], ['satp', LAYOUT.CSR_SATP], ['fcsr', LAYOUT.CSR_FCSR], ['menvcfg', LAYOUT.CSR_MENVCFG],
  ['senvcfg', LAYOUT.CSR_SENVCFG], ['stimecmp', LAYOUT.CSR_STIMECMP],
];

/**
 * The bytes of a vCPU block a snapshot keeps: its architectural state, and
 * the run struct's exit fields (an MMIO load the I/O loop answered just
 * before the pause is completed by the vCPU's next run(): its value is there).
 */
function vcpuStateBytes(L: Layout): number { return L.V_RUN + L.R_CODE; }

/** A virtio device's kind, as a snapshot's machine description lists it. */
function deviceKind(d: VirtioDevice): string {
  return ({ 1: 'virtio-net', 2: 'virtio-blk', 3: 'virtio-console', 4: 'virtio-rng' } as Record<number, string>)[d.deviceId] ?? `virtio-${d.deviceId}`;
}

/** Write `chunks` to a file (created or truncated) or a stream, with its backpressure; resolves with the bytes. */
async function writeChunks(target: string | NodeJS.WritableStream, chunks: Uint8Array[]): Promise<number> {
  const out: NodeJS.WritableStream = typeof target === 'string' ? createWriteStream(target) : target;
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    out.once('error', onError);
    let i = 0;
    const pump = (): void => {
      while (i < chunks.length) {
        const c = chunks[i++]!;
        bytes += c.byteLength;
        if (!out.write(c)) { out.once('drain', pump); return; }
      }
      if (typeof target === 'string') out.end(() => { out.off('error', onError); resolve(); });
      else { out.off('error', onError); resolve(); }
    };
    pump();
  });
  return bytes;
}

function asFile(v: string | Uint8Array | undefined, what: string, ramSize: bigint): GuestFile | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return readGuestFile(v, what, ramSize);
  return guestBytes(v, what, ramSize);
}

export class VirtualMachine extends EventEmitter<VmEvents> {
  /** The guest's serial console (UART0): write to type, read what the guest prints. */
  readonly serial: Duplex;
  /** Resolves with the guest's exit status once the VM has stopped. */
  readonly exited: Promise<number>;

  private state: State = 'created';
  private publicState: RunState = 'prelaunch';
  private guestConsole: GuestConsole | undefined;
  private resolveExit!: (code: number) => void;
  private rejectExit!: (e: Error) => void;
  private pool: Piscina | undefined;
  private onPoolError = (_e: Error): void => {};
  /** The signal thread's task (src/workers/signal.ts), on a thread of the pool. */
  private signal: Promise<unknown> | undefined;
  /** Its id in M_SIG_TASK. */
  private signalId = 0;
  /** Every vCPU thread ended by itself at the stop: no thread can still touch the memory (recycle). */
  private stoppedCleanly = false;
  private tasks: Promise<unknown>[] = [];
  /** The translator thread's task (src/jit/thread.ts) and the port that stops it, while the vCPUs run. */
  private jitTask: { done: Promise<unknown>; control: MessagePort } | undefined;
  /** The I/O thread's translation of the vCPUs' batches, until the translator thread takes over. */
  private ioTranslation: IoThreadTranslation | undefined;
  private launches = 0;
  private readonly io: IoLoop;
  private readonly devices: DeviceManager;
  private readonly main: VcpuExports;
  private plan: BootPlan;
  private consoleTail = '';
  private panicSeen = false;
  /** Set by restore(): the first launch resumes the vCPUs from their saved state. */
  private resumeFrom: SnapshotContents | undefined;
  /** QMP's query-migrate: the last save's outcome. */
  private lastSave: { status: 'completed' | 'failed'; error?: string; bytes?: number; ms?: number } | undefined;
  /** When the vCPU threads ended (their time stops there). */
  private stoppedAt: number | undefined;
  /** Host-side reads holding the vCPUs still (held()). */
  private holds = 0;
  private readonly epochMs: number;

  private constructor(
    private readonly layout: Layout,
    private readonly module: WebAssembly.Module,
    private readonly mem: VmMemory,
    private readonly spec: BootSpec,
    private readonly noReboot: boolean,
    private readonly jitThreshold: number,
    private readonly virtio: readonly VirtioDevice[],
    private readonly vmName: string | undefined,
    /** Given for a restore: the guest clock goes on from its snapshot. */
    epochMs?: number,
  ) {
    super();
    this.exited = new Promise<number>((res, rej) => { this.resolveExit = res; this.rejectExit = rej; });
    this.exited.catch(() => {}); // observed through the promise by callers
    this.epochMs = epochMs ?? newEpoch();
    // the devices served on the main thread; their ranges are also the vCPUs' MMIO-exit table
    // a virtio slot's InterruptStatus lives in shared memory, where the vCPUs read and acknowledge it
    const isrWord = (slot: number): number => (layout.MACHINE_BASE + layout.M_VIRTIO_ISR + 4 * slot) >> 2;
    // a drive's queue is served on a thread of its own (src/devices/virtio/blk/iothread.ts), a task of the pool
    const queueThreads: QueueThreads = {
      vm: { module, memory: mem.memory, layout, epochMs: this.epochMs, harts: mem.harts, ramBase: mem.ramBase, ramSize: mem.ramSize },
      run: (name, task, transferList) => {
        if (!this.pool) throw new Error('the VM has no thread pool now');
        return this.pool.run(task, { name, transferList: transferList as never });
      },
      own: (slot, owned) => this.io.own(slot, owned),
      wake: (slot) => this.io.wakeOwner(slot),
    };
    this.devices = new DeviceManager(mem, virtio, (slot) => ({
      read: () => Atomics.load(mem.i32, isrWord(slot)) >>> 0,
      update: (set, clear) => this.main.virtio_interrupt(slot, set, clear),
    }), (message) => this.emit('warning', new Error(message)), queueThreads);
    // a restore's RAM comes from its snapshot: the boot files are only checked (and read if it reboots)
    this.plan = this.load(epochMs === undefined);
    const inst = new WebAssembly.Instance(module, vcpuImports(mem.memory, this.epochMs));
    this.main = inst.exports as unknown as VcpuExports;
    this.main.machine_bind();
    const uart = new UartHost(mem, () => this.main.uart_rx_notify(), () => this.main.uart_tx_notify());
    this.serial = new Duplex({
      // bounded: once the reader has this much unread, the guest's console output stalls
      readableHighWaterMark: SERIAL_HIGH_WATER_MARK,
      read: () => this.io.resumeOutput(),
      write: (chunk: Buffer, _enc, cb) => { this.io.input(chunk); cb(); },
    });
    this.io = new IoLoop(mem, this.devices.bus, uart, (b) => this.output(b), (e) => this.onGuestExit(e),
      (slot, queues) => this.devices.notify(slot, queues));
  }

  /** Build a VM: compile (once) the vCPU module, allocate memory, load the guest. */
  static async create(opts: VmOptions = {}): Promise<VirtualMachine> {
    prewarmPool(); // the boot hart's thread comes up while the machine is built (~60 ms here)
    return VirtualMachine.build(opts);
  }

  /**
   * create(), or with the machine's clock epoch given a restore's machine (its
   * guest clock goes on from its snapshot, and its RAM comes from there).
   */
  private static async build(opts: VmOptions, epochMs?: number): Promise<VirtualMachine> {
    const { module, layout } = loadVcpuModule();
    const smp = opts.smp ?? 1;
    if (!Number.isInteger(smp) || smp < 1 || smp > MAX_VCPUS) {
      throw new WkvmError(`invalid vCPU count ${smp}: must be 1 to ${MAX_VCPUS}`);
    }
    let memory: bigint;
    if (opts.memory === undefined) memory = 128n << 20n;
    else if (typeof opts.memory === 'string') memory = parseSize(opts.memory, 'memory size');
    else memory = BigInt(opts.memory);
    if (memory < 1n << 20n) throw new WkvmError(`memory size ${memory} is too small: at least 1M`);
    const max = maxRamSize(layout, smp);
    if (memory > max) throw new WkvmError(`memory size ${memory >> 20n}M is too large: at most ${max >> 20n}M with ${smp} vCPUs`);
    let bios: Bios = 'default';
    if (opts.bios === 'none' || opts.bios === 'default') bios = opts.bios;
    else if (typeof opts.bios === 'string') bios = { file: opts.bios };
    else if (opts.bios) bios = opts.bios;
    const spec: BootSpec = {
      bios,
      kernel: asFile(opts.kernel, 'kernel', memory),
      initrd: asFile(opts.initrd, 'initrd', memory),
      append: opts.append,
    };
    if (spec.bios === 'default' && !spec.kernel) spec.bios = 'none'; // the embedded demo guest
    const threshold = jitThreshold(opts.jit, opts.jitThreshold, process.env, smp);
    opts.signal?.throwIfAborted();
    const from = opts.recycle;
    if (from !== undefined) {
      if (!(from instanceof VirtualMachine)) throw new WkvmError('recycle: not a VirtualMachine');
      if (from.state !== 'stopped' || !from.stoppedCleanly) throw new WkvmError('recycle: the VM to take memory from has not stopped (await its stop())');
    }
    const mem = new VmMemory(layout, smp, VIRT_MEMMAP.dram.base, memory, from?.mem);
    const virtio = await openDevices(opts);
    try {
      opts.signal?.throwIfAborted();
      return new VirtualMachine(layout, module, mem, spec, opts.noReboot ?? false, threshold, virtio, opts.name, epochMs);
    } catch (e) {
      await Promise.allSettled(virtio.map((d) => d.close?.()));
      throw e;
    }
  }

  get harts(): number { return this.mem.harts; }
  /** Guest RAM in bytes. */
  get memorySize(): bigint { return this.mem.ramSize; }
  /** The name given to create() (QEMU's -name), if any. */
  get name(): string | undefined { return this.vmName; }
  /** The run state (QMP's query-status). */
  get runState(): RunState { return this.publicState; }
  /** Whether the guest is running (not created-only, paused, or stopped). */
  get running(): boolean { return this.publicState === 'running'; }

  private setRunState(s: RunState): void {
    const previous = this.publicState;
    if (s === previous) return;
    this.publicState = s;
    this.emit('stateChange', s, previous);
  }

  /**
   * The serial console as a script sees it: `expect(pattern)` and
   * `sendLine(text)`. It reads the serial port from its first use on (so the
   * guest's output keeps flowing); take it before start() to see everything.
   */
  get console(): GuestConsole {
    this.guestConsole ??= new GuestConsole(this.serial);
    return this.guestConsole;
  }
  /** The device tree the guest was given. */
  get fdt(): Uint8Array { return this.plan.fdt; }

  /** Plan the boot and load its files into RAM (`write` false: plan only). */
  private load(write = true): BootPlan {
    const plan = planBoot(this.mem, this.layout, this.spec, write);
    this.mem.writeHeader({
      tohost: plan.tohost, fromhost: plan.fromhost, bootFlags: plan.bootFlags, epochMs: this.epochMs, jitThreshold: this.jitThreshold,
    });
    this.mem.writeMmioTable(this.devices.bus);
    return plan;
  }

  /** Console output for the reader; false when the reader has SERIAL_HIGH_WATER_MARK unread. */
  private output(b: Buffer): boolean {
    const before = this.consoleTail.length;
    this.consoleTail = (this.consoleTail + b.toString('latin1')).slice(-512);
    const panic = /(?:^|\n)[^\n]*Kernel panic - not syncing:?([^\n]*)\n/.exec(this.consoleTail.slice(Math.max(0, before - b.length - 80)));
    if (panic && !this.panicSeen) { this.panicSeen = true; this.emit('guestPanicked', { source: 'console', action: 'run', message: panic[1]!.trim() }); }
    this.emit('output', b);
    return this.serial.push(b);
  }

  /** Start the vCPU threads, the signal thread and the I/O loop. */
  start(opts: StartOptions = {}): void {
    if (this.state !== 'created') throw new WkvmError(`cannot start a VM that is ${this.publicState}`);
    opts.signal?.throwIfAborted();
    this.state = opts.paused ? 'paused' : 'running';
    if (opts.signal) {
      const signal = opts.signal;
      const onAbort = (): void => { void this.stop(); };
      signal.addEventListener('abort', onAbort, { once: true });
      void this.exited.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => {});
    }
    this.io.start();
    this.threads();
    this.launch();
    if (!opts.paused) this.setRunState('running');
  }

  private launch(): void {
    const L = this.layout;
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_RUNSTATE) >> 2, L.RUNSTATE_RUNNING);
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_VCPUS_PARKED) >> 2, 0);
    const resume = this.resumeFrom !== undefined;
    for (let h = 0; h < this.harts; h++) {
      const b = this.mem.vcpu(h);
      if (resume) { // a restored snapshot: its pending interrupts, HSM states and timers stand
        const mip = Atomics.load(this.mem.i32, (b + L.V_PENDING) >> 2) & (L.MIP_MASK | L.PENDING_SW_SEIP);
        Atomics.store(this.mem.i32, (b + L.V_PENDING) >> 2, mip | (this.pauseWanted() ? L.REQ_PAUSE : 0));
        Atomics.store(this.mem.i32, (b + L.V_RUN + L.R_ACK) >> 2, 0);
        continue;
      }
      // a paused VM (started paused, or paused while it rebooted) starts its threads parked
      Atomics.store(this.mem.i32, (b + L.V_PENDING) >> 2, this.pauseWanted() ? L.REQ_PAUSE : 0);
      Atomics.store(this.mem.i32, (b + L.V_RUN + L.R_ACK) >> 2, 0);
      Atomics.store(this.mem.i32, (b + L.V_HSM) >> 2, this.plan.harts[h].started ? L.HSM_STARTED : L.HSM_STOPPED);
      // no timer deadlines until the hart's own reset: the signal thread may scan before it
      this.mem.view.setBigUint64(b + L.V_MTIMECMP, 0xffff_ffff_ffff_ffffn, true);
      this.mem.view.setBigUint64(b + L.V_STIMECMP, 0xffff_ffff_ffff_ffffn, true);
    }
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_THREADS_UP) >> 2, 0);
    // A hart going to sleep waits at most until its own earliest deadline, so one vCPU, which alone sets
    // its deadlines, needs no signal thread: its thread takes ~100 ms of a core to come up here, beside
    // the guest's first instructions (a 1-vCPU Linux boot to the prompt: ~8% of it). With more, the
    // signal thread also serves a deadline one hart sets for another: it starts once a vCPU sets its
    // first deadline (the doorbell rings: no alarm is armed until then), so a guest that sets none (a
    // compute kernel: 5-13% faster without it) never has it, or at once for a resumed snapshot.
    const id = nextSignalTask();
    this.signalId = id;
    this.signal = undefined;
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_SIG_TASK) >> 2, id);
    if (this.harts > 1 && resume) this.startSignal(id);
    else if (this.harts > 1) {
      this.mem.view.setBigUint64(L.MACHINE_BASE + L.M_SIG_ARMED, 0xffff_ffff_ffff_ffffn, true);
      const doorbell = (L.MACHINE_BASE + L.M_SIG_DOORBELL) >> 2;
      onChange(this.mem.i32, doorbell, Atomics.load(this.mem.i32, doorbell), () => this.startSignal(id));
    }
    this.tasks = [];
    this.startThreads(++this.launches);
  }

  /** Start the signal task `id`, unless a stop cancelled it (or a later launch replaced it) meanwhile. */
  private startSignal(id: number): void {
    const L = this.layout;
    if (this.signal || Atomics.load(this.mem.i32, (L.MACHINE_BASE + L.M_SIG_TASK) >> 2) !== id || !this.pool) return;
    const task: SignalTask = { module: this.module, memory: this.mem.memory, layout: L, epochMs: this.epochMs, id };
    this.signal = this.pool.run(task, { name: 'signalThread' }).catch((e: Error) => this.fail(e));
  }

  /**
   * Start the vCPU threads. A Node worker costs ~20 ms of CPU to start, and
   * creating 64 at once blocks this thread for half a second before the boot
   * hart runs. So the boot hart's thread starts first; when the other harts
   * wait for SBI HSM hart_start, their threads start a few at a time (one per
   * host core) while it boots; harts that all start at reset get theirs at once.
   */
  private startThreads(launch: number): void {
    const L = this.layout;
    const upIdx = (L.MACHINE_BASE + L.M_THREADS_UP) >> 2;
    const resume = this.resumeFrom !== undefined;
    this.resumeFrom = undefined; // a later reboot boots afresh
    const staggered = !resume && !this.plan.harts.some((b, h) => h > 0 && b.started);
    const jit = this.jitThreshold !== 0 ? jitShared() : undefined;
    // the translator thread (not with threshold 1, whose blocks are translated synchronously, in order):
    // each vCPU gets a channel to it
    const channels = jit && this.jitThreshold !== 1 ? Array.from({ length: this.harts }, () => new MessageChannel()) : undefined;
    const next = (): void => {
      if (launch !== this.launches || this.state !== 'running' && this.state !== 'paused') return;
      const hart = this.tasks.length;
      if (hart === this.harts) return;
      const jitPort = channels?.[hart].port2;
      const task: VcpuTask = { module: this.module, memory: this.mem.memory, layout: L, hart, harts: this.harts, epochMs: this.epochMs, boot: this.plan.harts[hart], resume, jit, jitPort };
      this.tasks.push(this.pool!.run(task, jitPort ? { transferList: [jitPort] } : {}).catch((e: Error) => this.fail(e)));
      const inFlight = hart === 0 ? 1 : availableParallelism(); // the boot hart alone first
      if (!staggered || this.tasks.length - Atomics.load(this.mem.i32, upIdx) < inFlight) return next();
      onChange(this.mem.i32, upIdx, Atomics.load(this.mem.i32, upIdx), next);
    };
    next();
    if (channels && jit) this.startTranslation(launch, channels, jit.fused);
  }

  /**
   * Translate the vCPUs' batches off their threads (src/jit/service.ts): here
   * on the I/O thread from the start, and on the translator thread
   * (src/jit/thread.ts) once jitThreadAfter() batches were made: a guest
   * that keeps finding hot code gets it; a short one does not pay for a pool
   * thread coming up (~50-200 ms of a core) beside it. At 16 batches the
   * benchmark kernels (~10 batches each) were spared but a Linux boot (~50)
   * was not: to the prompt, 1 vCPU, 8 rounds in turns, 829-887 ms against
   * 803-836 with no thread (8 vCPUs 1013-1060 against 981-1045), while the
   * I/O thread translating it all changed neither the awk loop, 64 MiB dd
   * reads, HTTP from the guest nor bench.elf on 8 vCPUs (2026-12-07).
   */
  private startTranslation(launch: number, channels: MessageChannel[], fused: boolean): void {
    const L = this.layout;
    const idx = (L.MACHINE_BASE + L.M_JIT_BATCHES) >> 2;
    Atomics.store(this.mem.i32, idx, 0);
    const io = new IoThreadTranslation(channels.map((c) => c.port1), this.module, this.mem.memory, L, fused, () => {
      Atomics.add(this.mem.i32, idx, 1);
      Atomics.notify(this.mem.i32, idx);
    });
    this.ioTranslation = io;
    const live = (): boolean => launch === this.launches && (this.state === 'running' || this.state === 'paused') && this.pool !== undefined;
    const startThread = (ports: MessagePort[]): void => {
      if (!live()) return;
      const control = new MessageChannel();
      const task: JitThreadTask = { module: this.module, memory: this.mem.memory, layout: L, ports, control: control.port2, fused };
      const done = this.pool!.run(task, { name: 'jitThread', transferList: [...ports, control.port2] }).catch((e: Error) => this.fail(e));
      this.jitTask = { done, control: control.port1 };
    };
    const after = jitThreadAfter();
    const watch = (): void => {
      if (!live()) return;
      const made = Atomics.load(this.mem.i32, idx);
      if (made < after) { onChange(this.mem.i32, idx, made, watch); return; }
      io.handOver(startThread);
    };
    watch();
  }

  private onGuestExit(e: ExitEvent): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (e.failure) this.emit('guestPanicked', { source: 'sbi', action: e.kind === 'shutdown' ? 'poweroff' : 'run' });
    if (e.kind === 'shutdown') {
      void this.halt(e.code, undefined, e.failure ? 'guest-panic' : 'guest-shutdown');
    } else if (this.noReboot) {
      // a reset the user asked not to follow: a panic's reboot is a failure
      void this.halt(/Kernel panic/.test(this.consoleTail) ? 1 : 0, undefined, 'guest-reset');
    } else {
      void this.reboot('guest-reset');
    }
  }

  private fail(e: Error): void {
    if (this.state === 'stopped') return;
    // `exited` rejects with the error; an 'error' event nobody listens to must not also end the process
    if (this.listenerCount('error') > 0) this.emit('error', e);
    void this.halt(1, e, 'host-error');
  }

  /** Ask every vCPU thread to end and wait for them; false if one did not end in time. */
  private async stopVcpus(): Promise<boolean> {
    const L = this.layout;
    const i32 = this.mem.i32;
    Atomics.store(i32, (L.MACHINE_BASE + L.M_RUNSTATE) >> 2, L.RUNSTATE_SHUTDOWN);
    for (let h = 0; h < this.harts; h++) {
      const b = this.mem.vcpu(h);
      Atomics.or(i32, (b + L.V_PENDING) >> 2, L.REQ_STOP);
      Atomics.notify(i32, (b + L.V_PENDING) >> 2);
      Atomics.notify(i32, (b + L.V_HSM) >> 2);
      Atomics.notify(i32, (b + L.V_RUN + L.R_ACK) >> 2);
    }
    const sig = (L.MACHINE_BASE + L.M_SIG_DOORBELL) >> 2;
    Atomics.add(i32, sig, 1);
    Atomics.notify(i32, sig);
    // a signal task whose thread is still coming up (~100 ms of a core here: a short guest can be done by
    // then) is cancelled rather than waited for: it returns at once when it starts
    const sigTask = (L.MACHINE_BASE + L.M_SIG_TASK) >> 2;
    const started = Atomics.compareExchange(i32, sigTask, this.signalId, 0) !== this.signalId;
    // the translator thread ends at once (and one not started yet never starts), as does the I/O thread's translation
    Atomics.notify(i32, (L.MACHINE_BASE + L.M_JIT_BATCHES) >> 2);
    this.ioTranslation?.end();
    this.ioTranslation = undefined;
    const jitTask = this.jitTask;
    this.jitTask = undefined;
    jitTask?.control.postMessage('stop'); // it closes the channel
    // every vCPU sees the stop within a time slice; a thread that does not is ended with its pool
    const settled = await Promise.race([
      Promise.all([...this.tasks, started ? this.signal : undefined, jitTask?.done]).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), STOP_GRACE_MS).unref()),
    ]);
    if (!settled) this.emit('warning', new Error('a vCPU thread did not stop in time; terminating it'));
    this.signal = undefined;
    this.io.serviceExits();
    this.io.serviceVirtio(); // queue notifies rung just before the end (the last console output, say)
    this.io.flushUart(true);
    return settled;
  }

  /** The VM's thread pool (taken at the start, or by a restore for its page faults). */
  private threads(): Piscina {
    if (!this.pool) {
      this.pool = takePool();
      this.onPoolError = (e: Error) => this.fail(e);
      this.pool.on('error', this.onPoolError);
    }
    return this.pool;
  }

  private async reboot(reason: ShutdownCause): Promise<void> {
    this.state = 'stopping';
    await this.stopVcpus();
    await this.devices.drain(); // no host I/O may land in the new boot's RAM
    this.devices.reset();
    this.mem.clearRam();
    try {
      this.plan = this.load();
    } catch (e) { // a restored VM reads its boot files only now: one may be gone
      this.state = 'running';
      this.fail(e as Error);
      return;
    }
    this.state = this.publicState === 'running' ? 'running' : 'paused';
    this.panicSeen = false;
    this.emit('reset', { guest: reason.startsWith('guest-'), reason });
    this.launch();
  }

  private async halt(code: number, err: Error | undefined, reason: ShutdownCause): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.stoppedAt = performance.timeOrigin + performance.now(); // the vCPU threads' clocks stop with the request
    this.emit('shutdown', { guest: reason.startsWith('guest-'), reason });
    const clean = await this.stopVcpus();
    this.stoppedCleanly = clean;
    this.io.stop();
    // first the devices: a drive's I/O thread (a task of the pool) ends with its device
    await this.devices.close();
    if (this.pool) {
      this.pool.off('error', this.onPoolError);
      // threads that all ended cleanly stay warm for the next VM (a new vCPU thread takes ~200 ms to come up)
      if (clean) givePool(this.pool); else await this.pool.destroy();
    }
    this.state = 'stopped';
    this.serial.push(null);
    this.setRunState(err ? 'internal-error' : 'shutdown');
    if (err) this.rejectExit(err); else this.resolveExit(code);
    this.emit('exit', err ? 1 : code);
  }

  /**
   * Pause every vCPU (QMP's stop); resolves once each vCPU thread has parked,
   * so registers and RAM are then still. Devices finish I/O in flight. A
   * no-op unless running.
   */
  async pause(): Promise<void> {
    if (this.publicState !== 'running' || this.state !== 'running') return;
    this.state = 'paused';
    this.syncPause();
    this.setRunState('paused');
    await this.allParked();
  }

  /** Let paused vCPUs go on (QMP's cont): 'paused' or a paused start's 'prelaunch' become 'running'. */
  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.syncPause();
    this.setRunState('running');
  }

  /** The vCPUs must be parked: the VM is paused, or a host-side read holds them still (held()). */
  private pauseWanted(): boolean { return this.state === 'paused' || this.holds > 0; }
  private syncPause(): void { this.request(this.layout.REQ_PAUSE, this.pauseWanted()); }

  /** Run `fn` with every vCPU parked (as KVM's run_on_cpu for a state read), without a run-state change. */
  private async held<T>(fn: () => T): Promise<T> {
    this.holds++;
    try {
      this.syncPause();
      await this.allParked();
      return fn();
    } finally {
      this.holds--;
      this.syncPause();
    }
  }

  /** Wait until every vCPU's thread has started (and reset its vCPU); threads start a few at a time. */
  private async allThreadsUp(): Promise<void> {
    const up = (this.layout.MACHINE_BASE + this.layout.M_THREADS_UP) >> 2;
    if (!await this.waitForCount(up, () => this.harts, () => true)) throw new WkvmError('the VM stopped before it could be saved');
  }

  /** Wait until every vCPU thread that is up has parked (threads still to start park at once). */
  private async allParked(): Promise<void> {
    const L = this.layout;
    const parked = (L.MACHINE_BASE + L.M_VCPUS_PARKED) >> 2, up = (L.MACHINE_BASE + L.M_THREADS_UP) >> 2;
    await this.waitForCount(parked, () => Atomics.load(this.mem.i32, up), () => this.pauseWanted());
  }

  /**
   * Wait until the shared counter at word `idx` reaches `target()`, while the
   * VM is running or paused and `still()` holds; true when it got there.
   */
  private async waitForCount(idx: number, target: () => number, still: () => boolean): Promise<boolean> {
    while (still() && (this.state === 'running' || this.state === 'paused')) {
      const n = Atomics.load(this.mem.i32, idx);
      if (n >= target()) return true;
      const w = Atomics.waitAsync(this.mem.i32, idx, n, 50);
      if (w.async) await w.value;
    }
    return false;
  }

  private request(bit: number, on: boolean): void {
    for (let h = 0; h < this.harts; h++) {
      const b = this.mem.vcpu(h);
      const idx = (b + this.layout.V_PENDING) >> 2;
      if (on) Atomics.or(this.mem.i32, idx, bit); else Atomics.and(this.mem.i32, idx, ~bit);
      Atomics.notify(this.mem.i32, idx);
      Atomics.notify(this.mem.i32, (b + this.layout.V_HSM) >> 2); // a stopped hart sleeps on its HSM word
    }
  }

  /**
   * Stop the VM from the host side (like QEMU's `quit`); resolves with the
   * exit status. `reason` is what the 'shutdown' event (QMP's SHUTDOWN) says.
   */
  async stop(code = 0, reason: ShutdownCause = 'host-ui'): Promise<number> {
    if (this.state === 'created') {
      this.state = 'stopped';
      this.emit('shutdown', { guest: false, reason });
      await this.devices.close();
      this.serial.push(null);
      this.setRunState('shutdown');
      this.resolveExit(code);
      this.emit('exit', code);
      return code;
    }
    await this.halt(code, undefined, reason);
    return this.exited;
  }

  /**
   * Reset the machine from the host side (QMP's system_reset): the guest
   * boots again; a paused VM stays paused. A no-op unless started and not
   * stopped.
   */
  async reset(): Promise<void> {
    if (this.state !== 'running' && this.state !== 'paused') return;
    await this.reboot('host-qmp-system-reset');
  }

  // ==== snapshots (src/snapshot/format.ts is the file) ====

  /**
   * Save the VM to a file or stream (QMP's migrate to file:): the vCPUs stop
   * at an instruction boundary, device I/O in flight completes, and the
   * snapshot is written; the VM is then 'postmigrate' (paused; resume() goes
   * on). Resolves with the bytes written and the time taken.
   */
  async save(target: string | NodeJS.WritableStream): Promise<{ bytes: number; ms: number }> {
    if (this.state !== 'running' && this.state !== 'paused') throw new WkvmError(`cannot save a VM that is ${this.publicState}`);
    const t0 = performance.now();
    const running = this.publicState === 'running';
    try {
      // a vCPU whose thread is not up yet has no state to save (it is reset when its thread starts)
      await this.allThreadsUp();
      if (running) await this.pause(); else await this.allParked();
      this.io.serviceVirtio(); // queue notifies a vCPU rang just before it parked: the devices take them now
      await this.devices.drain();
      const chunks = encodeSnapshot(this.snapshotContents(running));
      const bytes = await writeChunks(target, chunks);
      this.setRunState('postmigrate');
      const ms = performance.now() - t0;
      this.lastSave = { status: 'completed', bytes, ms };
      return { bytes, ms };
    } catch (e) {
      const message = e instanceof WkvmError ? e.message : `cannot write the snapshot: ${describeFsError(e)}`;
      this.lastSave = { status: 'failed', error: message };
      if (running) this.resume(); // a failed save leaves the VM as it was (QEMU's source goes on after a failed migration)
      throw new WkvmError(message);
    }
  }

  /** The last save()'s outcome (QMP's query-migrate). */
  get lastSnapshot(): { status: 'completed' | 'failed'; error?: string; bytes?: number; ms?: number } | undefined { return this.lastSave; }

  private snapshotContents(running: boolean): SnapshotContents {
    const L = this.layout;
    const bytes = this.mem.bytes;
    const mtime = BigInt(Math.floor((performance.timeOrigin + performance.now() - this.epochMs) * (L.MTIME_HZ / 1000)));
    return {
      header: {
        format: SNAPSHOT_FORMAT, layout: L.LAYOUT_VERSION, wkvm: WKVM_VERSION, savedAt: new Date().toISOString(),
        machine: { ramSize: String(this.mem.ramSize), smp: this.harts, devices: this.virtio.map(deviceKind) },
        mtime: String(mtime), running,
        boot: { tohost: String(this.plan.tohost), fromhost: String(this.plan.fromhost), bootFlags: this.plan.bootFlags },
      },
      machine: bytes.slice(L.MACHINE_BASE + L.M_UART, L.MACHINE_BASE + L.MACHINE_SIZE),
      vcpus: Array.from({ length: this.harts }, (_, h) => bytes.slice(this.mem.vcpu(h), this.mem.vcpu(h) + vcpuStateBytes(L))),
      ram: sparsePages(this.mem.rawRam(), this.mem.touched),
      devices: this.devices.save(),
    };
  }

  /**
   * A VM from a snapshot (a file or its bytes), running if it was running
   * when saved, else paused (or paused anyway with `paused: true`). The
   * machine options (RAM, vCPUs, devices) must match the snapshot's (RAM and
   * vCPUs default to them); backends (disk images, netdevs) are opened from
   * `options`, as QEMU's -incoming takes them from its command line.
   */
  static async restore(source: string | Uint8Array, options: VmOptions & { paused?: boolean } = {}): Promise<VirtualMachine> {
    prewarmPool(); // the boot hart's thread comes up while the snapshot is read
    let fd: number | undefined;
    let input: SnapshotInput;
    if (typeof source === 'string') {
      try { fd = openSync(source, 'r'); } catch (e) { throw new WkvmError(`cannot read snapshot '${source}': ${describeFsError(e)}`); }
    }
    try {
      input = fd !== undefined ? fileInput(fd, source as string) : bufferInput(source as Uint8Array);
      const { layout } = loadVcpuModule();
      const { header: h, sections } = readSnapshotHeader(input);
      if (h.layout !== layout.LAYOUT_VERSION) throw new WkvmError(`snapshot: made with vCPU layout ${h.layout}, this wkvm has layout ${layout.LAYOUT_VERSION}`);
      const ramSize = BigInt(h.machine.ramSize);
      const memory = options.memory === undefined ? ramSize
        : typeof options.memory === 'string' ? parseSize(options.memory, 'memory size') : BigInt(options.memory);
      if (memory !== ramSize) throw new WkvmError(`snapshot: the machine has ${memory >> 20n}M of RAM, the snapshot ${ramSize >> 20n}M`);
      const smp = options.smp ?? h.machine.smp;
      if (smp !== h.machine.smp) throw new WkvmError(`snapshot: the machine has ${smp} vCPUs, the snapshot ${h.machine.smp}`);
      const mtimeMs = Number(BigInt(h.mtime)) / (layout.MTIME_HZ / 1000);
      const vm = await VirtualMachine.build({ ...options, memory, smp }, newEpoch() - mtimeMs);
      try {
        const devices = vm.virtio.map(deviceKind);
        if (devices.join(',') !== h.machine.devices.join(',')) {
          throw new WkvmError(`snapshot: its devices are [${h.machine.devices.join(', ')}], the machine's [${devices.join(', ')}]`);
        }
        const limits = { vcpuBytes: vcpuStateBytes(layout), machineBytes: layout.MACHINE_SIZE - layout.M_UART };
        let snap: SnapshotContents;
        if (fd !== undefined) {
          // a file's pages go straight into RAM: their runs, for the page faults, from the section headers
          vm.prefault(() => ramRunsAhead(fd!, sections, input.size, Number(ramSize / BigInt(PAGE))));
          snap = readSnapshotSections(input, h, sections, limits, vm.mem.rawRam());
        } else {
          // a Buffer's are copied from it by applySnapshot
          snap = readSnapshotSections(input, h, sections, limits);
          vm.prefault(() => snap.ram.map((r) => ({ page: r.page, count: r.data.byteLength / PAGE })));
        }
        vm.applySnapshot(snap);
        vm.start({ paused: options.paused === true || !h.running, signal: options.signal });
        if (!vm.running) vm.setRunState('paused');
      } catch (e) {
        await vm.stop().catch(() => {});
        throw e;
      }
      return vm;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * Have a pooled thread take half of the page faults of the RAM runs a
   * restore is about to write, back to front while the main thread writes
   * front to back (src/workers/prefault.ts). A recycled memory has its
   * pages. Only with a second thread up in the pool (a stopped VM's): the one
   * thread of a new pool is the boot hart's, and taking it made the boot
   * hart wait ~90 ms for another (wkvm run -incoming: 326-366 -> 415-465 ms).
   */
  private prefault(runsOf: () => { page: number; count: number }[]): void {
    if (this.mem.recycled || this.threads().threads.length < 2) return;
    const runs = runsOf();
    if (runs.length === 0) return;
    const ranges = runs.flatMap((r) => [this.mem.ramHost + r.page * PAGE, this.mem.ramHost + (r.page + r.count) * PAGE]);
    const task: PrefaultTask = { memory: this.mem.memory, ranges };
    this.threads().run(task, { name: 'prefaultPages' }).catch(() => {}); // a touch changes nothing: no need to wait
  }

  /** Put a snapshot's state into this (created, not started) VM, whose RAM is all zero (a restore plans its boot without loading it). */
  private applySnapshot(snap: SnapshotContents): void {
    const L = this.layout;
    const boot = snap.header.boot;
    this.plan = { ...this.plan, tohost: BigInt(boot.tohost), fromhost: BigInt(boot.fromhost), bootFlags: boot.bootFlags };
    this.mem.writeHeader({ tohost: this.plan.tohost, fromhost: this.plan.fromhost, bootFlags: boot.bootFlags, epochMs: this.epochMs, jitThreshold: this.jitThreshold });
    this.mem.writeMmioTable(this.devices.bus);
    const bytes = this.mem.bytes;
    bytes.set(snap.machine, L.MACHINE_BASE + L.M_UART);
    const ram = this.mem.rawRam();
    for (const r of snap.ram) {
      if (!snap.inPlace) ram.set(r.data, r.page * PAGE);
      this.mem.touch(this.mem.ramHost + r.page * PAGE, r.data.byteLength);
    }
    snap.vcpus.forEach((v, h) => {
      const b = this.mem.vcpu(h);
      bytes.set(v, b);
      Atomics.store(this.mem.i32, (b + L.V_IN_RUN) >> 2, 0);
      Atomics.store(this.mem.i32, (b + L.V_DBG_STEP) >> 2, 0);
    });
    this.main.machine_bind(); // the boot fields it read at creation
    try {
      this.devices.restore(snap.devices as unknown[]);
    } catch (e) {
      throw new WkvmError(`snapshot: the device state does not fit this machine: ${(e as Error).message}`);
    }
    this.resumeFrom = snap;
  }
  // ==== end of snapshots ====

  /** `await using vm = await VirtualMachine.create(...)`: stopped when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop().catch(() => {}); // a failed VM has reported its error already
  }

  /** A copy of guest-physical RAM [addr, addr+length) (QEMU's pmemsave); throws WkvmError outside RAM. */
  readPhysical(addr: bigint, length: number): Buffer {
    return Buffer.from(this.mem.ram(addr, length));
  }

  /** The vCPU threads (QMP's query-cpus-fast). */
  cpus(): VcpuInfo[] {
    this.mem.assertOwned();
    const L = this.layout;
    return Array.from({ length: this.harts }, (_, hart) => ({
      hart, threadId: Atomics.load(this.mem.i32, (this.mem.vcpu(hart) + L.V_RUN + L.R_THREAD_ID) >> 2),
    }));
  }

  /** The disks (QMP's query-block). */
  blockDevices(): BlockDeviceInfo[] {
    return this.virtio.filter((d): d is VirtioBlock => d instanceof VirtioBlock).map((d) => ({ ...d.info }));
  }

  /**
   * A vCPU's registers. While the VM runs, the vCPUs are held still for the
   * read (no run-state change); throws WkvmError before start() or for a
   * hart the VM does not have.
   */
  async registers(hart: number): Promise<VcpuRegisters> {
    if (!Number.isInteger(hart) || hart < 0 || hart >= this.harts) throw new WkvmError(`no vCPU ${hart}: the VM has ${this.harts}`);
    if (this.state === 'created') throw new WkvmError('the VM has not started: its vCPUs have no registers yet');
    this.mem.assertOwned();
    const read = (): VcpuRegisters => {
      const L = this.layout, v = this.mem.view, b = this.mem.vcpu(hart);
      const u64 = (off: number): bigint => v.getBigUint64(b + off, true);
      const csr: Record<string, bigint> = {};
      for (const [name, slot] of CSR_NAMES) csr[name] = u64(L.V_CSR + 8 * slot);
      csr.mip = BigInt(Atomics.load(this.mem.i32, (b + L.V_PENDING) >> 2) & L.MIP_MASK);
      csr.mhartid = BigInt(hart);
      return {
        hart, pc: u64(L.V_PC), priv: v.getUint32(b + L.V_PRIV, true),
        x: Array.from({ length: 32 }, (_, i) => (i === 0 ? 0n : u64(L.V_X + 8 * i))),
        f: Array.from({ length: 32 }, (_, i) => u64(L.V_F + 8 * i)),
        csr,
      };
    };
    return this.state === 'running' ? this.held(read) : read();
  }

  /** Per-device I/O counters (QMP's query-stats for target vm). */
  deviceStats(): DeviceStats {
    return {
      blocks: this.virtio.filter((d): d is VirtioBlock => d instanceof VirtioBlock).map((d) => ({ id: d.info.id, ...d.ioStats, ioThread: d.onIoThread })),
      nics: this.virtio.filter((d): d is VirtioNet => d instanceof VirtioNet).map((d) => ({
        mac: [...d.mac].map((b) => b.toString(16).padStart(2, '0')).join(':'), netdev: d.backend.id, ...d.backend.stats,
      })),
    };
  }

  // ==== debugging: the gdb stub's control plane (src/debug; src/gdb is the protocol) ====
  private debugger_: VmDebugger | undefined;
  /** Stop, inspect and step the guest: registers, memory through a hart's translation, breakpoints, watchpoints. */
  get debug(): VmDebug {
    this.debugger_ ??= new VmDebugger(this, this.mem, this.io);
    return this.debugger_;
  }
  // ==== end of debugging ====

  /** Per-vCPU counters. */
  stats(): VcpuStats[] {
    this.mem.assertOwned();
    const L = this.layout;
    const out: VcpuStats[] = [];
    for (let h = 0; h < this.harts; h++) {
      const run = this.mem.vcpu(h) + L.V_RUN;
      const v = this.mem.view;
      const ms = (field: number): number => v.getFloat64(run + field, true);
      const start = v.getFloat64(run + L.R_THREAD_START_MS, true);
      const now = this.stoppedAt ?? performance.timeOrigin + performance.now();
      // a wait in progress counts up to now
      const kind = this.stoppedAt === undefined ? Atomics.load(this.mem.i32, (run + L.R_WAIT_KIND) >> 2) : 0;
      const inWait = (field: number): number => (kind === field ? Math.max(0, now - v.getFloat64(run + L.R_WAIT_SINCE_MS, true)) : 0);
      const haltedMs = ms(L.R_TIME_HALT_MS) + inWait(L.R_TIME_HALT_MS), spinningMs = ms(L.R_TIME_SPIN_MS) + inWait(L.R_TIME_SPIN_MS);
      const pausedMs = ms(L.R_TIME_PAUSED_MS) + inWait(L.R_TIME_PAUSED_MS);
      const lifeMs = start === 0 ? 0 : now - start;
      out.push({
        hart: h,
        instructions: v.getBigUint64(run + L.R_INSNS, true),
        exits: v.getBigUint64(run + L.R_EXITS, true),
        exitsByReason: Object.fromEntries(EXIT_REASONS.map((r, i) => [r, v.getBigUint64(run + L.R_EXIT_COUNTS + 8 * i, true)])) as Record<ExitReason, bigint>,
        interrupts: v.getBigUint64(run + L.R_IRQS, true),
        tlbMisses: v.getBigUint64(run + L.R_TLB_MISSES, true),
        decodeMisses: v.getBigUint64(run + L.R_DECODE_MISSES, true),
        time: { runningMs: Math.max(0, lifeMs - haltedMs - spinningMs - pausedMs), haltedMs, spinningMs, pausedMs },
        jit: {
          instructions: this.mem.view.getBigUint64(run + L.R_JIT_INSNS, true),
          blocks: this.mem.view.getBigUint64(run + L.R_JIT_BLOCKS, true),
          modules: this.mem.view.getBigUint64(run + L.R_JIT_MODULES, true),
          compileUs: this.mem.view.getBigUint64(run + L.R_JIT_COMPILE_US, true),
          stalledUs: this.mem.view.getBigUint64(run + L.R_JIT_STALLED_US, true),
          flushes: this.mem.view.getBigUint64(run + L.R_JIT_FLUSHES, true),
          offloaded: this.mem.view.getBigUint64(run + L.R_JIT_OFFLOADED, true),
        },
      });
    }
    return out;
  }
}
