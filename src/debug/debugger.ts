/**
 * The VM's debug interface (`vm.debug`), the control plane of the gdb stub
 * (src/gdb) and of anything else that wants to stop a guest and look at it:
 * registers, memory through a hart's current translation, breakpoints that
 * do not modify guest memory, watchpoints, single step and continue, in
 * all-stop mode (when one hart stops, every hart is parked).
 *
 * The vCPU side (assembly/debug.ts) sees the breakpoint and watchpoint
 * tables in the machine block, and only on its slow paths: the host writes
 * them while every vCPU is parked, then has each hart flush its decode cache
 * and TLBs (V_RFENCE) before it runs again. With none set, the vCPUs run at
 * full speed with the JIT.
 */
import { EventEmitter } from 'node:events';
import type { VmMemory } from '../accel/memory.js';
import type { IoLoop } from '../io/main-loop.js';
import { debugTranslate } from './translate.js';
import type { DebugRegister, DebugStop, ResumeActions, VmDebug, WatchKind } from './types.js';

export type { DebugRegister, DebugStop, ResumeActions, VmDebug, WatchKind } from './types.js';

/** The part of VirtualMachine the debugger drives. */
export interface DebugHost extends EventEmitter {
  readonly runState: string;
  pause(): Promise<void>;
  resume(): void;
}

const CSR_SLOTS: ReadonlyMap<number, string> = new Map([
  [0x105, 'CSR_STVEC'], [0x140, 'CSR_SSCRATCH'], [0x141, 'CSR_SEPC'], [0x142, 'CSR_SCAUSE'], [0x143, 'CSR_STVAL'],
  [0x180, 'CSR_SATP'], [0x300, 'CSR_MSTATUS'], [0x301, 'CSR_MISA'], [0x302, 'CSR_MEDELEG'], [0x303, 'CSR_MIDELEG'],
  [0x304, 'CSR_MIE'], [0x305, 'CSR_MTVEC'], [0x340, 'CSR_MSCRATCH'], [0x341, 'CSR_MEPC'], [0x342, 'CSR_MCAUSE'],
  [0x343, 'CSR_MTVAL'],
]);
/** The CSRs `readRegister` knows (besides fflags 0x001, frm 0x002, fcsr 0x003 and sstatus 0x100). */
export const DEBUG_CSRS: readonly number[] = [0x001, 0x002, 0x003, 0x100, ...CSR_SLOTS.keys()];
const SSTATUS_MASK = 0x8000_0003_000d_e762n;
const U64 = (1n << 64n) - 1n;
/** Largest watched range: gdb splits bigger ones itself; this only bounds what a client can ask. */
const MAX_WATCH_LEN = 1n << 20n;

export class VmDebugger implements VmDebug {
  private readonly breakpoints = new Set<bigint>();
  private readonly watchpoints: { address: bigint; length: bigint; kind: WatchKind }[] = [];
  private lastFlags = 0;
  /** Settles the current resume() with the stop. */
  private waiter: ((s: DebugStop) => void) | undefined;
  private stopping = false;

  constructor(private readonly vm: DebugHost, private readonly mem: VmMemory, io: IoLoop) {
    io.onDebugStop = (hart) => this.onVcpuStop(hart);
    vm.on('exit', (code: number) => this.settle({ reason: 'exited', code }));
  }

  get harts(): number { return this.mem.harts; }
  /** Whether the harts are running for the debugger (a resume() is waiting for its stop). */
  get running(): boolean { return this.waiter !== undefined; }

  private get L() { return this.mem.layout; }
  private vcpuWord(hart: number, off: number): number { return (this.mem.vcpu(hart) + off) >> 2; }
  private machineWord(off: number): number { return (this.L.MACHINE_BASE + off) >> 2; }
  private checkHart(hart: number): void {
    if (!Number.isInteger(hart) || hart < 0 || hart >= this.mem.harts) throw new RangeError(`no hart ${hart}`);
  }

  // ---- stopping and resuming ------------------------------------------------

  /** Stop every hart (if the debugger had them running, that resume() settles with 'interrupt' for `hart`). */
  async interrupt(hart = 0): Promise<void> {
    if (this.waiter) { await this.stopAll({ reason: 'interrupt', hart }); return; }
    await this.vm.pause();
    await this.allParked();
  }

  /**
   * Let the harts run; resolves when they have all stopped again (a
   * breakpoint, a watchpoint, a step's end, interrupt(), or the guest's end).
   */
  resume(actions: ResumeActions = { continueOthers: true }): Promise<DebugStop> {
    if (this.waiter) return Promise.reject(new Error('the harts are already running'));
    if (this.vm.runState === 'shutdown' || this.vm.runState === 'internal-error') return Promise.resolve({ reason: 'exited', code: 0 });
    const L = this.L, i32 = this.mem.i32;
    const step = [...new Set(actions.step ?? [])];
    step.forEach((h) => this.checkHart(h));
    // a hart that is not started (SBI HSM) or has no thread yet has no instruction to step: it stops where it is
    const idle = step.find((h) => Atomics.load(i32, this.vcpuWord(h, L.V_HSM)) !== L.HSM_STARTED
      || h >= Atomics.load(i32, this.machineWord(L.M_THREADS_UP)));
    if (idle !== undefined) return Promise.resolve({ reason: 'step', hart: idle });
    this.sync(step.length > 0);
    const stop = new Promise<DebugStop>((resolve) => { this.waiter = resolve; });
    for (const h of step) Atomics.store(i32, this.vcpuWord(h, L.V_DBG_STEP), 1);
    if (actions.continueOthers !== false || step.length === 0) {
      this.vm.resume();
    } else {
      for (const h of step) {
        Atomics.and(i32, this.vcpuWord(h, L.V_PENDING), ~L.REQ_PAUSE);
        Atomics.notify(i32, this.vcpuWord(h, L.V_PENDING));
      }
    }
    return stop;
  }

  /** A vCPU left run() with EXIT_DEBUG (called by the I/O loop before it lets the vCPU go on). */
  private onVcpuStop(hart: number): void {
    const L = this.L;
    const run = this.mem.vcpu(hart) + L.V_RUN;
    // park it at once: it must not run on while the others are being stopped
    Atomics.or(this.mem.i32, this.vcpuWord(hart, L.V_PENDING), L.REQ_PAUSE);
    if (!this.waiter || this.stopping) return; // a stop is on its way already; this hart stays where it is
    const cause = this.mem.view.getUint32(run + L.R_DBG, true);
    let ev: DebugStop;
    if (cause === L.DBG_STOP_WATCH) {
      // the watchpoint hit (R_DBG_KIND's high bits: its index in the table sync() wrote); an access that starts
      // before it is reported at its start, which is the address gdb knows
      const info = this.mem.view.getUint32(run + L.R_DBG_KIND, true);
      const w = this.watchpoints[info >>> 8];
      const address = this.mem.view.getBigUint64(run + L.R_DBG_ADDR, true);
      ev = {
        reason: 'watchpoint', hart,
        address: w && w.address > address ? w.address : address,
        kind: w?.kind ?? ((info & 0xff) === L.DBG_WATCH_WRITE ? 'write' : 'read'),
      };
    } else {
      ev = { reason: cause === L.DBG_STOP_STEP ? 'step' : 'breakpoint', hart };
    }
    void this.stopAll(ev);
  }

  private async stopAll(ev: DebugStop): Promise<void> {
    this.stopping = true;
    const L = this.L, i32 = this.mem.i32;
    for (let h = 0; h < this.mem.harts; h++) {
      Atomics.or(i32, this.vcpuWord(h, L.V_PENDING), L.REQ_PAUSE);
      Atomics.notify(i32, this.vcpuWord(h, L.V_PENDING));
    }
    if (this.vm.runState === 'running') await this.vm.pause(); // the VM's state follows (paused)
    await this.allParked();
    // a step that did not get to run is not kept for the next resume
    for (let h = 0; h < this.mem.harts; h++) Atomics.store(i32, this.vcpuWord(h, L.V_DBG_STEP), 0);
    this.stopping = false;
    this.settle(ev);
  }

  private settle(ev: DebugStop): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(ev);
  }

  /** Wait until every vCPU thread is up (its registers are reset) and parked. */
  private async allParked(): Promise<void> {
    const L = this.L, i32 = this.mem.i32;
    const parked = this.machineWord(L.M_VCPUS_PARKED), up = this.machineWord(L.M_THREADS_UP);
    while (this.vm.runState !== 'shutdown' && this.vm.runState !== 'internal-error') {
      const n = Atomics.load(i32, parked);
      const u = Atomics.load(i32, up);
      if (n >= u && u >= this.mem.harts) return;
      const w = Atomics.waitAsync(i32, parked, n, 50);
      if (w.async) await w.value;
    }
  }

  // ---- breakpoints and watchpoints -------------------------------------------

  /** A breakpoint at guest-virtual `address` (any hart, any address space); false when the table is full. */
  addBreakpoint(address: bigint): boolean {
    address = BigInt.asUintN(64, address);
    if (this.breakpoints.has(address)) return true;
    if (this.breakpoints.size >= this.L.DBG_BP_MAX) return false;
    this.breakpoints.add(address);
    return true;
  }
  removeBreakpoint(address: bigint): boolean { return this.breakpoints.delete(BigInt.asUintN(64, address)); }

  /** A watchpoint on guest-virtual [address, address + length); false when the table is full or the range is bad. */
  addWatchpoint(address: bigint, length: bigint, kind: WatchKind): boolean {
    address = BigInt.asUintN(64, address);
    if (length < 1n || length > MAX_WATCH_LEN || address + length > U64 + 1n) return false;
    if (this.watchpoints.some((w) => w.address === address && w.length === length && w.kind === kind)) return true;
    if (this.watchpoints.length >= this.L.DBG_WP_MAX) return false;
    this.watchpoints.push({ address, length, kind });
    return true;
  }
  removeWatchpoint(address: bigint, length: bigint, kind: WatchKind): boolean {
    address = BigInt.asUintN(64, address);
    const i = this.watchpoints.findIndex((w) => w.address === address && w.length === length && w.kind === kind);
    if (i < 0) return false;
    this.watchpoints.splice(i, 1);
    return true;
  }

  /** Forget every breakpoint and watchpoint (a debugger detaches). */
  clearAll(): void {
    this.breakpoints.clear();
    this.watchpoints.length = 0;
    this.sync(false);
  }

  /**
   * Publish the tables to the vCPUs (every vCPU is parked): the flags, then
   * a decode-cache and TLB flush on every hart whenever anything was or is
   * set, so no decoded breakpoint, cached translation of a watched page or
   * JIT translation outlives a change.
   */
  private sync(stepping: boolean): void {
    const L = this.L, view = this.mem.view, i32 = this.mem.i32;
    const m = L.MACHINE_BASE;
    let i = 0;
    for (const a of this.breakpoints) view.setBigUint64(m + L.M_DBG_BP + 8 * i++, a, true);
    view.setUint32(m + L.M_DBG_NBP, this.breakpoints.size, true);
    this.watchpoints.forEach((w, j) => {
      const p = m + L.M_DBG_WP + j * L.DBG_WP_STRIDE;
      view.setBigUint64(p, w.address, true);
      view.setBigUint64(p + 8, w.length, true);
      view.setUint32(p + 16, w.kind === 'write' ? L.DBG_WATCH_WRITE : w.kind === 'read' ? L.DBG_WATCH_READ : L.DBG_WATCH_WRITE | L.DBG_WATCH_READ, true);
    });
    view.setUint32(m + L.M_DBG_NWP, this.watchpoints.length, true);
    const flags = (this.breakpoints.size ? L.DBG_BREAK : 0) | (this.watchpoints.length ? L.DBG_WATCH : 0) | (stepping ? L.DBG_STEP : 0);
    Atomics.store(i32, this.machineWord(L.M_DBG_FLAGS), flags);
    if (flags !== 0 || this.lastFlags !== 0) this.fenceAll(L.RFENCE_FENCE_I | L.RFENCE_SFENCE_VMA);
    this.lastFlags = flags;
  }

  private fenceAll(bits: number): void {
    for (let h = 0; h < this.mem.harts; h++) Atomics.or(this.mem.i32, this.vcpuWord(h, this.L.V_RFENCE), bits);
  }

  // ---- registers -------------------------------------------------------------

  /** A register of `hart` (as of its last exit: read it while the harts are stopped); undefined if unknown. */
  readRegister(hart: number, reg: DebugRegister): bigint | undefined {
    this.checkHart(hart);
    const L = this.L, view = this.mem.view, b = this.mem.vcpu(hart);
    const csr = (slot: number): bigint => view.getBigUint64(b + L.V_CSR + 8 * slot, true);
    switch (reg.kind) {
      case 'x': return reg.index === 0 ? 0n : inRange(reg.index, 32) ? view.getBigUint64(b + L.V_X + 8 * reg.index, true) : undefined;
      case 'pc': return view.getBigUint64(b + L.V_PC, true);
      case 'f': return inRange(reg.index, 32) ? view.getBigUint64(b + L.V_F + 8 * reg.index, true) : undefined;
      case 'priv': return BigInt(view.getUint32(b + L.V_PRIV, true));
      case 'csr': {
        const fcsr = csr(L.CSR_FCSR);
        if (reg.csr === 0x001) return fcsr & 0x1fn;
        if (reg.csr === 0x002) return (fcsr >> 5n) & 7n;
        if (reg.csr === 0x003) return fcsr & 0xffn;
        const ms = csr(L.CSR_MSTATUS);
        const mstatus = (ms & (3n << 13n)) === 3n << 13n ? ms | (1n << 63n) : ms; // SD summarises FS dirty
        if (reg.csr === 0x100) return mstatus & SSTATUS_MASK;
        if (reg.csr === 0x300) return mstatus;
        const slot = CSR_SLOTS.get(reg.csr);
        return slot === undefined ? undefined : csr(L[slot as 'CSR_SATP']);
      }
    }
  }

  /** Set a register of a stopped `hart`: x1-x31, pc, f0-f31, fflags/frm/fcsr; false for the others (read-only here). */
  writeRegister(hart: number, reg: DebugRegister, value: bigint): boolean {
    this.checkHart(hart);
    const L = this.L, view = this.mem.view, b = this.mem.vcpu(hart);
    value = BigInt.asUintN(64, value);
    switch (reg.kind) {
      case 'x':
        if (!inRange(reg.index, 32)) return false;
        if (reg.index !== 0) view.setBigUint64(b + L.V_X + 8 * reg.index, value, true);
        return true;
      case 'pc': view.setBigUint64(b + L.V_PC, value & ~1n, true); return true;
      case 'f':
        if (!inRange(reg.index, 32)) return false;
        view.setBigUint64(b + L.V_F + 8 * reg.index, value, true);
        return true;
      case 'csr': {
        const at = b + L.V_CSR + 8 * L.CSR_FCSR;
        const fcsr = view.getBigUint64(at, true);
        let v: bigint;
        if (reg.csr === 0x001) v = (fcsr & ~0x1fn) | (value & 0x1fn);
        else if (reg.csr === 0x002) v = (fcsr & ~0xe0n) | ((value & 7n) << 5n);
        else if (reg.csr === 0x003) v = value & 0xffn;
        else return false;
        view.setBigUint64(at, v, true);
        return true;
      }
      default: return false; // the privilege lives in the vCPU's own state too: not changed from outside
    }
  }

  // ---- memory ----------------------------------------------------------------

  /** The guest-physical address `hart`'s current translation gives `va`, or undefined. */
  translate(hart: number, va: bigint): bigint | undefined {
    this.checkHart(hart);
    return debugTranslate(this.mem, hart, va);
  }

  /**
   * Read `length` bytes at guest-virtual `address` through `hart`'s
   * translation (RAM only: device registers have side effects). Stops at the
   * first page that is not mapped to RAM: undefined when that is the first.
   */
  readMemory(hart: number, address: bigint, length: number): Uint8Array | undefined {
    const parts: Uint8Array[] = [];
    let got = 0;
    for (const { pa, len } of this.pages(hart, address, length)) {
      const off = pa === undefined ? -1 : this.mem.hostOffset(pa, len);
      if (off < 0) break;
      parts.push(this.mem.bytes.slice(off, off + len));
      got += len;
    }
    if (got === 0 && length > 0) return undefined;
    return Buffer.concat(parts);
  }

  /** Write `data` at guest-virtual `address` through `hart`'s translation: all of it, or nothing (false). */
  writeMemory(hart: number, address: bigint, data: Uint8Array): boolean {
    const chunks = this.pages(hart, address, data.length).map(({ pa, len }) => (pa === undefined ? -1 : this.mem.hostOffset(pa, len)));
    if (chunks.some((off) => off < 0)) return false;
    let done = 0;
    this.pages(hart, address, data.length).forEach(({ len }, i) => {
      this.mem.bytes.set(data.subarray(done, done + len), chunks[i]!);
      done += len;
    });
    this.fenceAll(this.L.RFENCE_FENCE_I); // the harts may have decoded (or translated) what changed
    return true;
  }

  /** [address, address + length) split at page boundaries, each piece translated. */
  private pages(hart: number, address: bigint, length: number): { pa: bigint | undefined; len: number }[] {
    this.checkHart(hart);
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad length ${length}`);
    const out: { pa: bigint | undefined; len: number }[] = [];
    let va = BigInt.asUintN(64, address);
    let left = length;
    while (left > 0) {
      const len = Math.min(left, 0x1000 - Number(va & 0xfffn));
      out.push({ pa: debugTranslate(this.mem, hart, va), len });
      left -= len;
      va = BigInt.asUintN(64, va + BigInt(len));
    }
    return out;
  }
}

function inRange(i: number, n: number): boolean { return Number.isInteger(i) && i >= 0 && i < n; }
