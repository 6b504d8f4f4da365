/**
 * The vCPU thread (qemu-kvm's ap_main_loop / kvm_main_loop_cpu): one piscina
 * task per vCPU, alive for the vCPU's whole life. It instantiates the vCPU
 * module on the VM's shared memory and loops run() -> exit -> handle.
 */
import { readlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { vcpuImports, type Layout, type VcpuExports } from '../accel/module.js';
import { Jit, type JitShared } from '../jit/jit.js';
import { nextHaltPoll } from './halt-poll.js';

// the VM's signal thread, and a restore's page faults, are tasks of the same pool (piscina runs them by name)
export { signalThread } from './signal.js';
export { blkIoThread } from '../devices/virtio/blk/iothread.js';
export { jitThread } from '../jit/thread.js';
export { prefaultPages } from './prefault.js';

export interface VcpuTask {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  layout: Layout;
  hart: number;
  harts: number;
  epochMs: number;
  boot: { pc: bigint; a0: bigint; a1: bigint; priv: number; started: boolean };
  /** Go on from the architectural state in the vCPU block (a restored snapshot) instead of a reset. */
  resume?: boolean;
  /** The JIT's per-process parts (jitShared()), when the VM's JIT is on. */
  jit?: JitShared;
  /** This vCPU's channel to the VM's translator thread (src/jit/thread.ts), if it has one. */
  jitPort?: MessagePort;
}

/** Instructions per run() call: the loop re-enters Wasm often enough for V8 to tier it up. */
const SLICE = 1 << 18;
/**
 * Instructions per run() call while a batch of translations is being made
 * (here, with its result coming through this thread's event loop, which turns
 * between slices; or by another thread, whose answer is looked for between
 * slices). Measured on the fp kernel: 13 ms from a batch to its installation
 * with full slices, 4 ms with eighths.
 */
const SLICE_AWAITING = SLICE >> 3;
/** Polls of the completion word before sleeping on it: only worth it when this thread has a core of its own. */
const SPIN_WITH_SPARE_CORE = 50_000;
const SPIN_CONTENDED = 100;
/** Sleep after a spin-loop exit: doubling from MIN while the hart keeps spinning. */
const SPIN_YIELD_MIN_MS = 0.05;
const SPIN_YIELD_MAX_MS = 2;

/** This thread's OS thread id (Linux names it in /proc/thread-self), for monitors (QMP's thread-id); 0 where unknown. */
function osThreadId(): number {
  try { return Number(readlinkSync('/proc/thread-self').split('/').pop()) || 0; } catch { return 0; }
}

export default async function vcpuThread(task: VcpuTask): Promise<number> {
  const made: { jit?: Jit } = {};
  try {
    return await runVcpu(task, made);
  } finally {
    // its channels to whoever translates for it (that ends once the VM stops)
    if (made.jit) made.jit.close(); else task.jitPort?.close();
  }
}

async function runVcpu(task: VcpuTask, made: { jit?: Jit }): Promise<number> {
  const { layout: L, hart } = task;
  const i32 = new Int32Array(task.memory.buffer as unknown as SharedArrayBuffer);
  const jitThreshold = i32[(L.MACHINE_BASE + L.M_JIT_THRESHOLD) >> 2];
  if (jitThreshold !== 0 && !task.jit) throw new Error(`vCPU ${hart}: the JIT is on but the task lacks its shared parts`);
  const jit = jitThreshold !== 0 ? new Jit(L, jitThreshold, task.jit!, task.jitPort) : undefined;
  made.jit = jit;
  const inst = new WebAssembly.Instance(task.module, vcpuImports(task.memory, task.epochMs, jit?.table));
  const cpu = inst.exports as unknown as VcpuExports;
  jit?.bind(cpu, inst.exports, task.memory, hart);
  const base = L.VCPU_BASE + hart * L.VCPU_STRIDE;
  const pendingIdx = (base + L.V_PENDING) >> 2;
  const hsmIdx = (base + L.V_HSM) >> 2;
  const ackIdx = (base + L.V_RUN + L.R_ACK) >> 2;
  const doorbellIdx = (L.MACHINE_BASE + L.M_IO_DOORBELL) >> 2;
  const parkedIdx = (L.MACHINE_BASE + L.M_VCPUS_PARKED) >> 2;
  const stepIdx = (base + L.V_DBG_STEP) >> 2;
  const runView = new DataView(task.memory.buffer as unknown as SharedArrayBuffer, base + L.V_RUN, L.RUN_BYTES);
  const REQ_ANY = L.REQ_STOP | L.REQ_PAUSE | L.REQ_EXIT;
  const pauseWord = new Int32Array(new SharedArrayBuffer(4));
  const cores = availableParallelism();
  const SPIN = task.harts < cores ? SPIN_WITH_SPARE_CORE : SPIN_CONTENDED;
  // halt polling (./halt-poll.ts) only where every vCPU and the I/O loop have a core each: polling holds the core
  const haltPoll = task.harts < cores;
  let haltPollMs = 0;
  let spinStreak = 0;

  cpu.vcpu_bind(hart);
  Atomics.store(i32, (base + L.V_RUN + L.R_THREAD_ID) >> 2, osThreadId());
  // time accounting for load tests: only the waits are timed (running = since the start - waits),
  // so the exit round trip pays nothing for it
  const view = new DataView(task.memory.buffer as unknown as ArrayBuffer);
  const run = base + L.V_RUN;
  // cumulative over the VM's life, like the other counters: a reboot's new thread goes on from the first one's start
  if (view.getFloat64(run + L.R_THREAD_START_MS, true) === 0) view.setFloat64(run + L.R_THREAD_START_MS, performance.timeOrigin + performance.now(), true);
  const waitKindIdx = (run + L.R_WAIT_KIND) >> 2;
  /** A wait of kind `field` (R_TIME_*) begins: readers see it while it lasts. Returns its start for waited(). */
  const waiting = (field: number): number => {
    const t0 = performance.now();
    view.setFloat64(run + L.R_WAIT_SINCE_MS, performance.timeOrigin + t0, true);
    Atomics.store(i32, waitKindIdx, field);
    return t0;
  };
  /** The wait that began at t0 ended: add it to its counter. Returns how long it was (ms). */
  const waited = (field: number, t0: number): number => {
    const ms = performance.now() - t0;
    view.setFloat64(run + field, view.getFloat64(run + field, true) + ms, true); // no BigInt: waits can be frequent
    Atomics.store(i32, waitKindIdx, 0);
    return ms;
  };
  const b = task.boot;
  if (task.resume) cpu.vcpu_resume(); else cpu.vcpu_reset(b.pc, b.a0, b.a1, b.priv);
  const upIdx = (L.MACHINE_BASE + L.M_THREADS_UP) >> 2;
  Atomics.add(i32, upIdx, 1); // the VM starts the next thread once this one is up
  Atomics.notify(i32, upIdx);

  /** Hand the exit in the run struct to the I/O loop and wait for its answer. */
  const post = (wait: boolean): void => {
    Atomics.store(i32, ackIdx, 1);
    Atomics.add(i32, doorbellIdx, 1);
    Atomics.notify(i32, doorbellIdx, 1);
    if (!wait) return;
    for (let k = 0; k < SPIN; k++) if (Atomics.load(i32, ackIdx) === 2) break;
    while (Atomics.load(i32, ackIdx) !== 2) {
      if ((Atomics.load(i32, pendingIdx) & L.REQ_STOP) !== 0) return;
      Atomics.wait(i32, ackIdx, 1, 100);
    }
    Atomics.store(i32, ackIdx, 0);
  };

  /**
   * Sleep until an enabled interrupt is pending or the host asks for the
   * thread (the signal thread raises timer bits; devices, IPIs and requests
   * change the word too, and every waker notifies it).
   */
  const sleepUntilInterrupt = (): void => {
    for (;;) {
      const w = Atomics.load(i32, pendingIdx);
      // the hart wakes itself at its own next deadline: a VM of one vCPU has no signal thread, and one of
      // several starts it only once a deadline is set (vm.ts), then it takes a while to come up. Asked before
      // the check: a deadline that passes between the two is then raised by the check, not missed by both
      // (asked after, it read as past, so as none: a 10 s sleep, 1 run of guests/isa/wfi.elf in ~8)
      const ms = cpu.vcpu_deadline_ms();
      if (!cpu.wfi_should_sleep()) return;
      const t0 = waiting(L.R_TIME_HALT_MS);
      let woken = false;
      let polled = 0;
      if (haltPollMs > 0) {
        const end = t0 + Math.min(haltPollMs, ms);
        while (!(woken = Atomics.load(i32, pendingIdx) !== w) && performance.now() < end);
        polled = performance.now() - t0;
      }
      if (!woken && ms + 0.05 - polled > 0) Atomics.wait(i32, pendingIdx, w, Math.min(ms + 0.05 - polled, 10_000));
      const halted = waited(L.R_TIME_HALT_MS, t0);
      if (haltPoll) haltPollMs = nextHaltPoll(haltPollMs, halted, woken);
    }
  };

  /** Handle host requests; returns false when the vCPU must end. */
  const requests = (): boolean => {
    let parked = false;
    for (;;) {
      const w = Atomics.load(i32, pendingIdx);
      const paused = (w & L.REQ_PAUSE) !== 0 && (w & L.REQ_STOP) === 0;
      if (paused !== parked) {
        // the VM's pause() waits until every thread is parked (its registers are then still)
        Atomics.add(i32, parkedIdx, paused ? 1 : -1);
        Atomics.notify(i32, parkedIdx);
        parked = paused;
      }
      if ((w & L.REQ_STOP) !== 0) return false;
      if ((w & L.REQ_EXIT) !== 0) Atomics.and(i32, pendingIdx, ~L.REQ_EXIT);
      if (!paused) return true;
      const t0 = waiting(L.R_TIME_PAUSED_MS);
      Atomics.wait(i32, pendingIdx, w); // paused: sleep until resumed or stopped
      waited(L.R_TIME_PAUSED_MS, t0);
    }
  };

  /**
   * Run one instruction for the debugger and report it as a debug stop (or
   * as the watchpoint it hit first); false when the vCPU must end.
   */
  const step = (): boolean | undefined => {
    const exit = cpu.run_step();
    switch (exit) {
      case L.EXIT_REQUEST: return undefined; // nothing ran: a host request first, then the step again
      case L.EXIT_SHUTDOWN:
      case L.EXIT_RESET:
        Atomics.store(i32, stepIdx, 0);
        post(false);
        return false;
      case L.EXIT_MMIO:
        post(true);
        cpu.run(0); // completes the access (a load's register) without running further
        break;
      case L.EXIT_HSM_SUSPEND:
        cpu.hsm_resume(); // the debugger sees it stopped at the next instruction; it runs on when continued
        break;
    }
    Atomics.store(i32, stepIdx, 0);
    if (exit !== L.EXIT_DEBUG) {
      runView.setUint32(L.R_EXIT, L.EXIT_DEBUG, true);
      runView.setUint32(L.R_DBG, L.DBG_STOP_STEP, true);
    }
    post(true);
    return true;
  };

  for (;;) {
    // a stopped hart (SBI HSM) sleeps until hart_start
    while (Atomics.load(i32, hsmIdx) !== L.HSM_STARTED) {
      if (!requests()) return 0;
      const s = Atomics.load(i32, hsmIdx);
      if (s === L.HSM_START_PENDING) { cpu.hsm_start(); break; }
      if (s !== L.HSM_STARTED) {
        const t0 = waiting(L.R_TIME_HALT_MS);
        Atomics.wait(i32, hsmIdx, s, 10_000); // hart_start and stop notify this word
        waited(L.R_TIME_HALT_MS, t0);
      }
    }
    // the debugger's single step (src/debug): one instruction, then a debug stop for the I/O loop
    if (Atomics.load(i32, stepIdx) !== 0) {
      const r = step();
      if (r === false) return 0;
      if ((Atomics.load(i32, pendingIdx) & REQ_ANY) !== 0 && !requests()) return 0;
      continue;
    }
    const exit = cpu.run(jit?.awaiting ? SLICE_AWAITING : SLICE);
    if (jit && !jit.idle) {
      // V8 compiles translations on its background threads and reports back through this thread's event
      // loop: let it turn first, so that a batch compiled meanwhile is installed now rather than after
      // another slice (a full one: the compile is over). On sort (1000 rounds) from a batch compiled to
      // installed: 0.6-2.4 ms (~11 ms a run) -> 0-0.7 ms (~3.5)
      if (jit.compiling) await new Promise((resolve) => setImmediate(resolve));
      jit.service();
    }
    if (exit !== L.EXIT_SPIN) spinStreak = 0;
    switch (exit) {
      case L.EXIT_NONE:
        break;
      case L.EXIT_MMIO:
        post(true);
        break;
      case L.EXIT_WFI:
        sleepUntilInterrupt();
        break;
      case L.EXIT_HSM_SUSPEND: // SBI HSM suspend: a WFI that other harts see as SUSPENDED
        sleepUntilInterrupt();
        cpu.hsm_resume();
        break;
      case L.EXIT_PAUSE: {
        const t0 = waiting(L.R_TIME_SPIN_MS);
        Atomics.wait(pauseWord, 0, 0, 0.02); // spin-wait hint: give the core away briefly
        waited(L.R_TIME_SPIN_MS, t0);
        break;
      }
      case L.EXIT_SPIN: {
        // a loop waiting on another hart: when the running vCPUs outnumber the
        // cores, let the others (the lock holder) run; an interrupt or request
        // wakes it early
        if (cpu.others_in_run() < cores) { spinStreak = 0; break; }
        const w = Atomics.load(i32, pendingIdx);
        const t0 = waiting(L.R_TIME_SPIN_MS);
        Atomics.wait(i32, pendingIdx, w, Math.min(SPIN_YIELD_MIN_MS * 2 ** spinStreak, SPIN_YIELD_MAX_MS));
        waited(L.R_TIME_SPIN_MS, t0);
        spinStreak++;
        break;
      }
      case L.EXIT_HSM_STOP:
        break;
      case L.EXIT_SHUTDOWN:
      case L.EXIT_RESET:
        post(false);
        return 0;
      case L.EXIT_REQUEST:
        break;
      case L.EXIT_DEBUG: // a breakpoint or watchpoint: the I/O loop pauses every vCPU (all-stop) and tells the debugger
        post(true);
        break;
      default:
        throw new Error(`vCPU ${hart}: unknown exit ${exit}`);
    }
    if ((Atomics.load(i32, pendingIdx) & REQ_ANY) !== 0 && !requests()) return 0;
  }
}
