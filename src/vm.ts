/**
 * VirtualMachine: the public, embeddable VM (qemu-kvm's main() and vl.c).
 * create() = KVM_CREATE_VM + machine init; start() = the vCPU threads, the
 * signal thread and the I/O loop; the serial console is a Duplex stream;
 * `exited` resolves to the guest's exit status.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { WkvmError } from './errors.js';
import * as BOARD from '../assembly/board.js';
import { loadVcpuModule, vcpuImports, newEpoch, type VcpuExports, type Layout } from './accel/module.js';
import { jitThreshold } from './jit/jit.js';
import { VmMemory, maxRamSize } from './accel/memory.js';
import { planBoot, VIRT_MEMMAP, readGuestFile, guestBytes, type Bios, type BootPlan, type BootSpec } from './machine/virt.js';
import { parseSize } from './machine/size.js';
import { UartHost } from './devices/uart.js';
import { DeviceManager, openDevices, type DeviceOptions } from './machine/devices.js';
import type { VirtioDevice } from './devices/virtio/index.js';
import { IoLoop, type ExitEvent } from './io/main-loop.js';
import type { VcpuTask } from './workers/vcpu-worker.js';
import { GuestConsole } from './console.js';
import { VmDebugger } from './debug/debugger.js';
import type { VmDebug } from './debug/types.js';

/** Most vCPUs a VM can have (the board's hart limit). */
export const MAX_VCPUS: number = BOARD.MAX_HARTS;
const STOP_GRACE_MS = 5000;
/** Unread console output the serial stream holds before the guest's UART stalls. */
const SERIAL_HIGH_WATER_MARK = 64 * 1024;

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
  /** Entries of a block from interpreted code before it is translated (default 16384; environment WKVM_JIT_THRESHOLD). */
  jitThreshold?: number;
}

/** The options of `VirtualMachine.create()`: the machine, and the devices on it. */
export interface VmOptions extends MachineOptions, DeviceOptions {
  /** Abandon the creation (opening images, connecting netdevs): create() rejects with the signal's reason. */
  signal?: AbortSignal;
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

export interface VcpuStats {
  hart: number;
  instructions: bigint;
  exits: bigint;
  /** The JIT tier: instructions retired inside translations, translations installed, Wasm modules compiled,
   * microseconds spent translating and compiling, and whole-cache flushes (its memory bound). */
  jit: { instructions: bigint; blocks: bigint; modules: bigint; compileUs: bigint; flushes: bigint };
}

/** The events a VirtualMachine emits, with their arguments. */
export interface VmEvents {
  /** Bytes the guest wrote to its serial console (also readable from `serial`). */
  output: [data: Buffer];
  /** The guest reset and the VM rebooted it. */
  reset: [];
  /** The run state changed (`runState` is already the new one). */
  stateChange: [state: RunState, previous: RunState];
  /** The VM stopped: the guest's exit status (1 after a host-side failure), as `exited` resolves. */
  exit: [code: number];
  /** The guest reported a failure: an SBI system reset or shutdown with reason "system failure", or a Linux
   * "Kernel panic - not syncing" line on the console. */
  guestPanicked: [info: { source: 'sbi' | 'console'; message?: string }];
  /** A host-side problem that did not stop the VM. */
  warning: [error: Error];
  /** A host-side failure that stopped the VM (`exited` rejects with it too); emitted only to listeners. */
  error: [error: Error];
}

type State = 'created' | 'running' | 'paused' | 'stopping' | 'stopped';

function asFile(v: string | Uint8Array | undefined, what: string, ramSize: bigint): { name: string; data: Uint8Array } | undefined {
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
  private signal: Worker | undefined;
  private tasks: Promise<unknown>[] = [];
  private launches = 0;
  private readonly io: IoLoop;
  private readonly devices: DeviceManager;
  private readonly main: VcpuExports;
  private plan: BootPlan;
  private consoleTail = '';
  private panicSeen = false;
  private readonly epochMs: number;

  private constructor(
    private readonly layout: Layout,
    private readonly module: WebAssembly.Module,
    private readonly mem: VmMemory,
    private readonly spec: BootSpec,
    private readonly noReboot: boolean,
    private readonly jitThreshold: number,
    virtio: readonly VirtioDevice[],
  ) {
    super();
    this.exited = new Promise<number>((res, rej) => { this.resolveExit = res; this.rejectExit = rej; });
    this.exited.catch(() => {}); // observed through the promise by callers
    this.epochMs = newEpoch();
    // the devices served on the main thread; their ranges are also the vCPUs' MMIO-exit table
    this.devices = new DeviceManager(mem, virtio, (irq, level) => this.main.plic_set_level(irq, level ? 1 : 0),
      (message) => this.emit('warning', new Error(message)));
    this.plan = this.load();
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
    const threshold = jitThreshold(opts.jit, opts.jitThreshold);
    opts.signal?.throwIfAborted();
    const mem = new VmMemory(layout, smp, VIRT_MEMMAP.dram.base, memory);
    const virtio = await openDevices(opts);
    try {
      opts.signal?.throwIfAborted();
      return new VirtualMachine(layout, module, mem, spec, opts.noReboot ?? false, threshold, virtio);
    } catch (e) {
      await Promise.allSettled(virtio.map((d) => d.close?.()));
      throw e;
    }
  }

  get harts(): number { return this.mem.harts; }
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

  private load(): BootPlan {
    const plan = planBoot(this.mem, this.layout, this.spec);
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
    if (panic && !this.panicSeen) { this.panicSeen = true; this.emit('guestPanicked', { source: 'console', message: panic[1]!.trim() }); }
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
    this.pool = new Piscina({
      filename: fileURLToPath(new URL('./workers/vcpu-worker.js', import.meta.url)),
      minThreads: 1, // startThreads() asks for the rest
      maxThreads: this.harts,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      maxQueue: this.harts,
    });
    this.pool.on('error', (e: Error) => this.fail(e));
    this.launch();
    if (!opts.paused) this.setRunState('running');
  }

  private launch(): void {
    const L = this.layout;
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_RUNSTATE) >> 2, L.RUNSTATE_RUNNING);
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_VCPUS_PARKED) >> 2, 0);
    for (let h = 0; h < this.harts; h++) {
      const b = this.mem.vcpu(h);
      // a paused VM (started paused, or paused while it rebooted) starts its threads parked
      Atomics.store(this.mem.i32, (b + L.V_PENDING) >> 2, this.state === 'paused' ? L.REQ_PAUSE : 0);
      Atomics.store(this.mem.i32, (b + L.V_RUN + L.R_ACK) >> 2, 0);
      Atomics.store(this.mem.i32, (b + L.V_HSM) >> 2, this.plan.harts[h].started ? L.HSM_STARTED : L.HSM_STOPPED);
      // no timer deadlines until the hart's own reset: the signal worker starts first
      this.mem.view.setBigUint64(b + L.V_MTIMECMP, 0xffff_ffff_ffff_ffffn, true);
      this.mem.view.setBigUint64(b + L.V_STIMECMP, 0xffff_ffff_ffff_ffffn, true);
    }
    this.signal = new Worker(fileURLToPath(new URL('./workers/signal-worker.js', import.meta.url)), {
      workerData: { module: this.module, memory: this.mem.memory, layout: L, epochMs: this.epochMs },
    });
    this.signal.on('error', (e) => this.fail(e));
    Atomics.store(this.mem.i32, (L.MACHINE_BASE + L.M_THREADS_UP) >> 2, 0);
    this.tasks = [];
    this.startThreads(++this.launches);
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
    const staggered = !this.plan.harts.some((b, h) => h > 0 && b.started);
    const next = (): void => {
      if (launch !== this.launches || this.state !== 'running' && this.state !== 'paused') return;
      const hart = this.tasks.length;
      if (hart === this.harts) return;
      const task: VcpuTask = { module: this.module, memory: this.mem.memory, layout: L, hart, harts: this.harts, epochMs: this.epochMs, boot: this.plan.harts[hart] };
      this.tasks.push(this.pool!.run(task).catch((e: Error) => this.fail(e)));
      const inFlight = hart === 0 ? 1 : availableParallelism(); // the boot hart alone first
      if (!staggered || this.tasks.length - Atomics.load(this.mem.i32, upIdx) < inFlight) return next();
      const w = Atomics.waitAsync(this.mem.i32, upIdx, Atomics.load(this.mem.i32, upIdx));
      if (w.async) void w.value.then(next); else next();
    };
    next();
  }

  private onGuestExit(e: ExitEvent): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (e.failure) this.emit('guestPanicked', { source: 'sbi' });
    if (e.kind === 'shutdown') {
      void this.halt(e.code);
    } else if (this.noReboot) {
      // a reset the user asked not to follow: a panic's reboot is a failure
      void this.halt(/Kernel panic/.test(this.consoleTail) ? 1 : 0);
    } else {
      void this.reboot();
    }
  }

  private fail(e: Error): void {
    if (this.state === 'stopped') return;
    // `exited` rejects with the error; an 'error' event nobody listens to must not also end the process
    if (this.listenerCount('error') > 0) this.emit('error', e);
    void this.halt(1, e);
  }

  /** Ask every vCPU thread to end and wait for them. */
  private async stopVcpus(): Promise<void> {
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
    // every vCPU sees the stop within a time slice; a thread that does not is ended with its pool
    const settled = await Promise.race([
      Promise.all(this.tasks).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), STOP_GRACE_MS).unref()),
    ]);
    if (!settled) this.emit('warning', new Error('a vCPU thread did not stop in time; terminating it'));
    if (this.signal) await this.signal.terminate();
    this.signal = undefined;
    this.io.serviceExits();
    this.io.serviceVirtio(); // queue notifies rung just before the end (the last console output, say)
    this.io.flushUart(true);
  }

  private async reboot(): Promise<void> {
    this.state = 'stopping';
    await this.stopVcpus();
    await this.devices.drain(); // no host I/O may land in the new boot's RAM
    this.devices.reset();
    this.mem.clearRam();
    this.plan = this.load();
    this.state = this.publicState === 'running' ? 'running' : 'paused';
    this.panicSeen = false;
    this.emit('reset');
    this.launch();
  }

  private async halt(code: number, err?: Error): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    await this.stopVcpus();
    this.io.stop();
    await this.pool?.destroy();
    await this.devices.close();
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
    this.request(this.layout.REQ_PAUSE, true);
    this.state = 'paused';
    this.setRunState('paused');
    await this.allParked();
  }

  /** Let paused vCPUs go on (QMP's cont): 'paused' or a paused start's 'prelaunch' become 'running'. */
  resume(): void {
    if (this.state !== 'paused') return;
    this.request(this.layout.REQ_PAUSE, false);
    this.state = 'running';
    this.setRunState('running');
  }

  /** Wait until every vCPU thread that is up has parked (threads still to start park at once). */
  private async allParked(): Promise<void> {
    const L = this.layout;
    const parked = (L.MACHINE_BASE + L.M_VCPUS_PARKED) >> 2, up = (L.MACHINE_BASE + L.M_THREADS_UP) >> 2;
    while (this.state === 'paused') {
      const n = Atomics.load(this.mem.i32, parked);
      if (n >= Atomics.load(this.mem.i32, up)) return;
      const w = Atomics.waitAsync(this.mem.i32, parked, n, 50);
      if (w.async) await w.value;
    }
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

  /** Stop the VM from the host side (like QEMU's `quit`); resolves with the exit status. */
  async stop(code = 0): Promise<number> {
    if (this.state === 'created') {
      this.state = 'stopped';
      await this.devices.close();
      this.serial.push(null);
      this.setRunState('shutdown');
      this.resolveExit(code);
      this.emit('exit', code);
      return code;
    }
    await this.halt(code);
    return this.exited;
  }

  /** `await using vm = await VirtualMachine.create(...)`: stopped when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop().catch(() => {}); // a failed VM has reported its error already
  }

  /** A copy of guest-physical RAM [addr, addr+length) (QEMU's pmemsave); throws WkvmError outside RAM. */
  readPhysical(addr: bigint, length: number): Buffer {
    return Buffer.from(this.mem.ram(addr, length));
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
    const L = this.layout;
    const out: VcpuStats[] = [];
    for (let h = 0; h < this.harts; h++) {
      const run = this.mem.vcpu(h) + L.V_RUN;
      out.push({
        hart: h,
        instructions: this.mem.view.getBigUint64(run + L.R_INSNS, true),
        exits: this.mem.view.getBigUint64(run + L.R_EXITS, true),
        jit: {
          instructions: this.mem.view.getBigUint64(run + L.R_JIT_INSNS, true),
          blocks: this.mem.view.getBigUint64(run + L.R_JIT_BLOCKS, true),
          modules: this.mem.view.getBigUint64(run + L.R_JIT_MODULES, true),
          compileUs: this.mem.view.getBigUint64(run + L.R_JIT_COMPILE_US, true),
          flushes: this.mem.view.getBigUint64(run + L.R_JIT_FLUSHES, true),
        },
      });
    }
    return out;
  }
}
