/**
 * A tiny virtio driver for the virtio tests: it plays the guest, laying out
 * split rings in real guest RAM (a VmMemory), negotiating through the MMIO
 * registers of a VirtioMmioTransport, posting chains and reading the used
 * ring back.
 */
import { loadVcpuModule } from '../dist/src/accel/module.js';
import { VmMemory } from '../src/accel/memory.js';
import { hostInterruptStatus, type IrqLine } from '../src/devices/device.js';
import { VirtioMmioReg as R, VirtioMmioTransport, VirtioStatus as S } from '../src/devices/virtio/mmio.js';
import type { VirtioDevice } from '../src/devices/virtio/device.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../src/devices/virtio/queue.js';

export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 16n << 20n;
export const RAM_END = RAM_BASE + RAM_SIZE;

export function newMemory(): VmMemory {
  const { layout } = loadVcpuModule();
  return new VmMemory(layout, 1, RAM_BASE, RAM_SIZE);
}

export class TestIrq implements IrqLine {
  level = false;
  /** Rising edges seen. */
  raised = 0;
  set(level: boolean): void {
    if (level && !this.level) this.raised++;
    this.level = level;
  }
}

/** Bump allocator over guest RAM, from `base`. */
export class GuestHeap {
  constructor(private next: bigint = RAM_BASE + 0x1000n) {}
  alloc(len: number, align = 16): bigint {
    const a = BigInt(align);
    const addr = (this.next + a - 1n) / a * a;
    this.next = addr + BigInt(Math.max(len, 1));
    if (this.next > RAM_END) throw new Error('test heap exhausted');
    return addr;
  }
}

export interface Buf { addr: bigint; len: number; write?: boolean }

/** The driver's half of one split queue. */
export class DriverQueue {
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  private nextDesc = 0;
  availIdx = 0;
  lastUsed = 0;

  constructor(private readonly mem: VmMemory, heap: GuestHeap, readonly size: number) {
    this.desc = heap.alloc(16 * size, 16);
    this.avail = heap.alloc(6 + 2 * size, 2);
    this.used = heap.alloc(6 + 8 * size, 4);
    mem.ram(this.desc, 16 * size).fill(0);
    mem.ram(this.avail, 6 + 2 * size).fill(0);
    mem.ram(this.used, 6 + 8 * size).fill(0);
  }

  /** Write descriptor `i` of the table at `table`. */
  writeDesc(table: bigint, i: number, addr: bigint, len: number, flags: number, next: number): void {
    const v = this.mem.view;
    const at = this.mem.hostOffset(table + BigInt(16 * i), 16);
    if (at < 0) throw new Error('descriptor outside RAM');
    v.setBigUint64(at, BigInt.asUintN(64, addr), true);
    v.setUint32(at + 8, len >>> 0, true);
    v.setUint16(at + 12, flags, true);
    v.setUint16(at + 14, next, true);
  }

  /** Put `bufs` in descriptors (or in an indirect table from `heap`) and return the head index. */
  chain(bufs: Buf[], indirectHeap?: GuestHeap): number {
    if (indirectHeap) {
      const table = indirectHeap.alloc(16 * bufs.length, 16);
      bufs.forEach((b, i) => this.writeDesc(table, i, b.addr, b.len,
        (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0), i + 1));
      const head = this.take();
      this.writeDesc(this.desc, head, table, 16 * bufs.length, VIRTQ_DESC_F_INDIRECT, 0);
      return head;
    }
    const ids = bufs.map(() => this.take());
    bufs.forEach((b, i) => this.writeDesc(this.desc, ids[i]!, b.addr, b.len,
      (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0), ids[i + 1] ?? 0));
    return ids[0]!;
  }

  private take(): number {
    const i = this.nextDesc;
    this.nextDesc = (this.nextDesc + 1) % this.size;
    return i;
  }

  /** Make head `head` available (ring entry, then the index). */
  publish(head: number): void {
    this.mem.view.setUint16(this.mem.hostOffset(this.avail + 4n + BigInt(2 * (this.availIdx % this.size)), 2), head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.guest.storeU16Atomic(this.avail + 2n, this.availIdx);
  }

  post(bufs: Buf[], indirectHeap?: GuestHeap): number {
    const head = this.chain(bufs, indirectHeap);
    this.publish(head);
    return head;
  }

  /** Set the available index directly (hostile drivers). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.mem.guest.storeU16Atomic(this.avail + 2n, this.availIdx);
  }

  usedIdx(): number { return this.mem.guest.loadU16Atomic(this.used + 2n); }
  availEvent(): number { return this.mem.guest.readU16(this.used + 4n + BigInt(8 * this.size)); }
  setUsedEvent(v: number): void { this.mem.guest.writeU16(this.avail + 4n + BigInt(2 * this.size), v); }
  setAvailFlags(v: number): void { this.mem.guest.writeU16(this.avail, v); }

  /** Used elements since the last call. */
  takeUsed(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.usedIdx();
    while (this.lastUsed !== idx) {
      const at = this.used + 4n + BigInt(8 * (this.lastUsed % this.size));
      out.push({ id: this.mem.guest.readU32(at), len: this.mem.guest.readU32(at + 4n) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }
}

export class TestDriver {
  readonly irq = new TestIrq();
  readonly warnings: string[] = [];
  readonly transport: VirtioMmioTransport;
  readonly queues: DriverQueue[] = [];

  constructor(readonly mem: VmMemory, readonly device: VirtioDevice | undefined, readonly heap = new GuestHeap()) {
    this.transport = new VirtioMmioTransport(0, device, mem.guest, hostInterruptStatus(this.irq), (m) => this.warnings.push(m));
  }

  read(off: number): number { return this.transport.read(off, 4); }
  write(off: number, v: number): void { this.transport.write(off, 4, v); }
  get status(): number { return this.read(R.Status); }
  get needsReset(): boolean { return (this.status & S.DEVICE_NEEDS_RESET) !== 0; }

  deviceFeatures(): bigint {
    this.write(R.DeviceFeaturesSel, 0);
    const lo = BigInt(this.read(R.DeviceFeatures));
    this.write(R.DeviceFeaturesSel, 1);
    return (BigInt(this.read(R.DeviceFeatures)) << 32n) | lo;
  }

  /** ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns the status read back. */
  negotiate(features?: bigint): number {
    this.write(R.Status, 0);
    this.write(R.Status, S.ACKNOWLEDGE);
    this.write(R.Status, S.ACKNOWLEDGE | S.DRIVER);
    const f = features ?? this.deviceFeatures();
    this.write(R.DriverFeaturesSel, 0);
    this.write(R.DriverFeatures, Number(f & 0xffff_ffffn));
    this.write(R.DriverFeaturesSel, 1);
    this.write(R.DriverFeatures, Number(f >> 32n));
    this.write(R.Status, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    return this.status;
  }

  /** Lay out queue `i` (size: the device's maximum unless given) and mark it ready. */
  setupQueue(i: number, size?: number): DriverQueue {
    this.write(R.QueueSel, i);
    const n = size ?? this.read(R.QueueNumMax);
    const q = new DriverQueue(this.mem, this.heap, n);
    this.write(R.QueueNum, n);
    this.write(R.QueueDescLow, Number(q.desc & 0xffff_ffffn));
    this.write(R.QueueDescHigh, Number(q.desc >> 32n));
    this.write(R.QueueDriverLow, Number(q.avail & 0xffff_ffffn));
    this.write(R.QueueDriverHigh, Number(q.avail >> 32n));
    this.write(R.QueueDeviceLow, Number(q.used & 0xffff_ffffn));
    this.write(R.QueueDeviceHigh, Number(q.used >> 32n));
    this.write(R.QueueReady, 1);
    this.queues[i] = q;
    return q;
  }

  /** Full initialisation: negotiate, set up every queue, DRIVER_OK. */
  start(options: { features?: bigint; queueSize?: number } = {}): void {
    const st = this.negotiate(options.features);
    if (!(st & S.FEATURES_OK)) throw new Error(`FEATURES_OK did not stick (status ${st})`);
    const count = this.device?.queueSizes.length ?? 0;
    for (let i = 0; i < count; i++) this.setupQueue(i, options.queueSize);
    this.write(R.Status, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
  }

  /** Bytes into guest RAM at a fresh address. */
  put(bytes: Uint8Array, align = 16): bigint {
    const addr = this.heap.alloc(bytes.length, align);
    this.mem.ram(addr, bytes.length).set(bytes);
    return addr;
  }

  /** A fresh zeroed buffer in guest RAM. */
  buffer(len: number, align = 16): bigint {
    const addr = this.heap.alloc(len, align);
    this.mem.ram(addr, len).fill(0);
    return addr;
  }

  bytes(addr: bigint, len: number): Uint8Array {
    return this.mem.ram(addr, len).slice();
  }
}

/** Wait (on the event loop, not spinning) until `cond` holds; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
