/**
 * The I/O thread's main loop (qemu-kvm's main_loop_wait), on Node's event
 * loop: it wakes on vCPU exits (Atomics.waitAsync on the exit doorbell), on
 * UART transmit (the TX ring's doorbell) and on console input, and runs the
 * device models. It never blocks and never polls in a busy loop.
 */
import type { VmMemory } from '../accel/memory.js';
import type { MmioDevice } from '../devices/device.js';
import type { UartHost } from '../devices/uart.js';

/** How long to keep looking for the next exit after one was served. */
const POLL_WINDOW_MS = 0.03;
/** Doorbell rings served back to back before the event loop gets its turn. */
const WATCH_ROUNDS = 64;
/** Longest stretch of polling before the event loop gets its turn. */
const POLL_BUDGET_MS = 2;

export interface BusRange { base: bigint; size: bigint; device: MmioDevice }

export type ExitEvent =
  | { kind: 'shutdown'; hart: number; code: number; failure: boolean }
  | { kind: 'reset'; hart: number; failure: boolean };

export class IoLoop {
  private running = false;
  private readonly doorbell: number;
  private readonly uartDoorbell: number;
  private readonly virtioDoorbell: number;
  private readonly virtioNotify: number;
  /** M_VIRTIO_OWNED: bit per slot whose queue notifies a thread of its own serves (a drive's I/O thread), left to it. */
  private readonly virtioOwned: number;
  private rxTimer: NodeJS.Timeout | undefined;
  /** The console's reader is full: leave output in the TX ring (the guest stalls on a full ring). */
  private outputPaused = false;
  /** A vCPU stopped for the debugger (EXIT_DEBUG; src/debug sets this while it is attached). */
  onDebugStop: ((hart: number) => void) | undefined;

  constructor(
    private readonly mem: VmMemory,
    private readonly bus: readonly BusRange[],
    private readonly uart: UartHost,
    /** Takes console output; returns false when its reader is full (the loop stops draining until resumeOutput()). */
    private readonly onOutput: (b: Buffer) => boolean,
    private readonly onExit: (e: ExitEvent) => void,
    /** A vCPU rang slot `slot`'s queue-notify doorbell for the queues in `queues` (bit q = queue q). */
    private readonly onVirtioNotify: (slot: number, queues: number) => void,
  ) {
    const L = mem.layout;
    this.doorbell = (L.MACHINE_BASE + L.M_IO_DOORBELL) >> 2;
    this.uartDoorbell = (L.MACHINE_BASE + L.M_UART_DOORBELL) >> 2;
    this.virtioDoorbell = (L.MACHINE_BASE + L.M_VIRTIO_DOORBELL) >> 2;
    this.virtioNotify = (L.MACHINE_BASE + L.M_VIRTIO_NOTIFY) >> 2;
    this.virtioOwned = (L.MACHINE_BASE + L.M_VIRTIO_OWNED) >> 2;
  }

  start(): void {
    this.running = true;
    this.armExits();
    this.watch(this.uartDoorbell, () => this.flushUart());
    this.watch(this.virtioDoorbell, () => this.serviceVirtio());
  }

  stop(): void {
    this.running = false;
    if (this.rxTimer) clearTimeout(this.rxTimer);
    // wake our own pending waits so they settle
    Atomics.add(this.mem.i32, this.doorbell, 1);
    Atomics.notify(this.mem.i32, this.doorbell);
    Atomics.add(this.mem.i32, this.uartDoorbell, 1);
    Atomics.notify(this.mem.i32, this.uartDoorbell);
    Atomics.add(this.mem.i32, this.virtioDoorbell, 1);
    Atomics.notify(this.mem.i32, this.virtioDoorbell);
    this.flushUart(true);
  }

  /** The console's reader wants more: drain the TX ring again. */
  resumeOutput(): void {
    if (!this.outputPaused) return;
    this.outputPaused = false;
    this.flushUart();
  }

  /** Console input for the guest's UART. */
  input(data: Buffer): void {
    this.uart.input(data);
    this.scheduleRx();
  }

  private scheduleRx(): void {
    // input waits for room in the receive ring: look again shortly (only while input is pending)
    if (!this.uart.pending || this.rxTimer || !this.running) return;
    this.rxTimer = setTimeout(() => {
      this.rxTimer = undefined;
      this.uart.pump();
      this.scheduleRx();
    }, 2);
  }

  private armExits(): void {
    while (this.running) {
      let seq = Atomics.load(this.mem.i32, this.doorbell);
      if (this.serviceExits() > 0) seq = this.pollExits(seq);
      if (seq < 0) { setImmediate(() => this.armExits()); return; } // let other events in
      const w = Atomics.waitAsync(this.mem.i32, this.doorbell, seq);
      if (w.async) {
        w.value.then(() => this.armExits());
        return;
      }
    }
  }

  /** Run `service` now and again each time the doorbell word at index `doorbell` rings, while the loop runs. */
  private watch(doorbell: number, service: () => void): void {
    // a doorbell that never stops ringing (a guest's notify storm) must not starve the event loop
    for (let rounds = 0; this.running; rounds++) {
      if (rounds === WATCH_ROUNDS) { setImmediate(() => this.watch(doorbell, service)); return; }
      const seq = Atomics.load(this.mem.i32, doorbell);
      service();
      const w = Atomics.waitAsync(this.mem.i32, doorbell, seq);
      if (w.async) {
        w.value.then(() => this.watch(doorbell, service));
        return;
      }
    }
  }

  /**
   * Slot `slot`'s notifies go to a thread of its own (true), or to the device
   * here again (false: what was rung meanwhile is served at once). The vCPUs
   * read the mask as they ring (assembly/devices.ts): an owned slot's thread
   * waits on the slot's notify word (wakeOwner()).
   */
  own(slot: number, owned: boolean): void {
    if (owned) Atomics.or(this.mem.i32, this.virtioOwned, 1 << slot);
    else if (Atomics.and(this.mem.i32, this.virtioOwned, ~(1 << slot)) & (1 << slot)) this.serviceVirtio();
  }

  /** Wake the thread that owns slot `slot` where it waits for a notify (it looks at what its device model asked). */
  wakeOwner(slot: number): void {
    Atomics.notify(this.mem.i32, this.virtioNotify + slot);
  }

  /** Serve virtio queue notifies (KVM's ioeventfd): a vCPU set a queue's bit and rang, without waiting for us. */
  serviceVirtio(): void {
    const slots = this.mem.layout.VIRTIO_NOTIFY_SLOTS;
    const owned = Atomics.load(this.mem.i32, this.virtioOwned);
    for (let slot = 0; slot < slots; slot++) {
      if (owned & (1 << slot)) continue;
      const queues = Atomics.exchange(this.mem.i32, this.virtioNotify + slot, 0);
      if (queues !== 0) this.onVirtioNotify(slot, queues >>> 0);
    }
  }

  /**
   * Halt-polling (KVM's halt_poll_ns, on the I/O side): right after serving an
   * exit another one usually follows within microseconds, and waking through
   * the event loop costs ~10 µs more than looking. Poll the doorbell for a
   * short window; give the event loop back after POLL_BUDGET_MS in any case.
   * Returns the doorbell value to wait on, or -1 to yield to the event loop.
   */
  private pollExits(seq: number): number {
    const start = performance.now();
    let last = start;
    for (;;) {
      const now = performance.now();
      if (now - start > POLL_BUDGET_MS) return -1;
      const cur = Atomics.load(this.mem.i32, this.doorbell);
      if (cur !== seq) {
        seq = cur;
        if (this.serviceExits() > 0) last = now;
        continue;
      }
      if (now - last > POLL_WINDOW_MS) return seq;
    }
  }

  /**
   * Move the guest's console output to the reader while it has room (all of
   * it when `final`: the VM is ending, and the ring holds at most 4 KiB).
   */
  flushUart(final = false): void {
    while (final || !this.outputPaused) {
      const out = this.uart.drain();
      if (out.length === 0) return;
      if (!this.onOutput(out)) this.outputPaused = true;
    }
  }

  /** Answer every vCPU that posted an exit (run struct ack word = 1); returns how many. */
  serviceExits(): number {
    let served = 0;
    const L = this.mem.layout;
    const { i32, view } = this.mem;
    for (let h = 0; h < this.mem.harts; h++) {
      const run = this.mem.vcpu(h) + L.V_RUN;
      const ack = (run + L.R_ACK) >> 2;
      if (Atomics.load(i32, ack) !== 1) continue;
      served++;
      const reason = view.getUint32(run + L.R_EXIT, true);
      if (reason === L.EXIT_MMIO) {
        const addr = view.getBigUint64(run + L.R_ADDR, true);
        const size = view.getUint32(run + L.R_SIZE, true);
        if (view.getUint32(run + L.R_WRITE, true)) {
          this.mmioWrite(addr, size, view.getBigUint64(run + L.R_DATA, true));
        } else {
          view.setBigUint64(run + L.R_DATA, this.mmioRead(addr, size), true);
        }
      } else if (reason === L.EXIT_SHUTDOWN) {
        this.flushUart(true);
        this.onExit({ kind: 'shutdown', hart: h, code: view.getUint32(run + L.R_CODE, true), failure: view.getUint32(run + L.R_FAILURE, true) === 1 });
      } else if (reason === L.EXIT_DEBUG) {
        this.onDebugStop?.(h);
      } else if (reason === L.EXIT_RESET) {
        this.flushUart(true);
        this.onExit({ kind: 'reset', hart: h, failure: view.getUint32(run + L.R_FAILURE, true) === 1 });
      }
      Atomics.store(i32, ack, 2);
      Atomics.notify(i32, ack);
    }
    return served;
  }

  private find(addr: bigint): BusRange | undefined {
    for (const r of this.bus) if (addr >= r.base && addr < r.base + r.size) return r;
    return undefined;
  }

  mmioRead(addr: bigint, size: number): bigint {
    const r = this.find(addr);
    if (!r) return 0n;
    const off = Number(addr - r.base);
    if (size === 8) {
      const lo = r.device.read(off, 4) >>> 0, hi = r.device.read(off + 4, 4) >>> 0;
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    return BigInt(r.device.read(off, size) >>> 0);
  }

  mmioWrite(addr: bigint, size: number, value: bigint): void {
    const r = this.find(addr);
    if (!r) return;
    const off = Number(addr - r.base);
    if (size === 8) {
      r.device.write(off, 4, Number(value & 0xffff_ffffn));
      r.device.write(off + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
    } else {
      r.device.write(off, size, Number(value & 0xffff_ffffn));
    }
  }
}
