/**
 * The split virtqueue (virtio 1.2, 2.7): the one place where guest ring
 * memory is read and every descriptor is checked. Devices get whole
 * descriptor chains as views of guest RAM and give them back with push().
 *
 * Layout in guest RAM (all little-endian):
 *   descriptor table  16 bytes per entry {addr u64, len u32, flags u16, next u16}, 16-aligned
 *   available ring    {flags u16, idx u16, ring[size] u16, used_event u16}, 2-aligned
 *   used ring         {flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16}, 4-aligned
 *
 * The ring indices are shared with vCPU threads, so they are read and
 * written with sequentially consistent atomics: the used element is written
 * before the used index is published, and avail_event is published before
 * the available index is looked at again.
 */
import { GuestMemoryError, type GuestMemory } from '../device.js';
import { copyFromSegments, copyToSegments, subSegments } from './segments.js';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

/** Largest split queue the spec allows. */
export const MAX_QUEUE_SIZE = 32768;
/**
 * Largest indirect table we follow. The spec bounds chains by the queue
 * size; drivers size indirect tables by their segment limit (seg_max + 2).
 */
export const MAX_INDIRECT_ENTRIES = MAX_QUEUE_SIZE;

const DESC_SIZE = 16;

/** A queue the guest set up wrongly: the device must stop using it (DEVICE_NEEDS_RESET). */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}

/** Where the driver put the three parts of a queue (the transport's queue registers). */
export interface VirtqueueLayout {
  size: number;
  descAddr: bigint;
  driverAddr: bigint;
  deviceAddr: bigint;
}

/** The negotiated ring features that change how the queue behaves. */
export interface VirtqueueFeatures {
  eventIdx: boolean;
  indirect: boolean;
}

/** The device's ring positions (saved and restored with the transport). */
export interface VirtqueueIndices {
  lastAvail: number;
  usedIdx: number;
}

/**
 * One available buffer: the driver-readable segments, then the
 * device-writable ones, as views aliasing guest RAM (each one checked to lie
 * in RAM). Zero-length descriptors carry nothing and are left out.
 */
export class DescriptorChain {
  constructor(
    /** Index of the head descriptor: the id the used ring reports. */
    readonly head: number,
    readonly readable: readonly Uint8Array[],
    readonly writable: readonly Uint8Array[],
    readonly readableLength: number,
    readonly writableLength: number,
    /** The queue this chain came from (push() refuses chains of another queue). */
    readonly owner: Virtqueue,
  ) {}

  /** Copy readable bytes from `offset` on into `dst`; returns how many. */
  readInto(dst: Uint8Array, offset = 0): number { return copyFromSegments(this.readable, offset, dst); }
  /** Copy `src` into the writable bytes from `offset` on; returns how many fitted. */
  writeFrom(src: Uint8Array, offset = 0): number { return copyToSegments(this.writable, offset, src); }
  /** Views of readable bytes [offset, offset+length). */
  readableRange(offset: number, length: number): Uint8Array[] { return subSegments(this.readable, offset, length); }
  /** Views of writable bytes [offset, offset+length). */
  writableRange(offset: number, length: number): Uint8Array[] { return subSegments(this.writable, offset, length); }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class Virtqueue {
  /** False for a queue the driver did not enable: pop() gives nothing. */
  readonly ready: boolean;
  /** Where the driver put the rings (null: a queue it did not enable). */
  readonly layout: VirtqueueLayout | null;
  readonly features: VirtqueueFeatures;
  readonly size: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly desc: DataView;
  private readonly avail: DataView;
  private readonly used: DataView;
  private readonly availFlagsAddr: bigint;
  private readonly availIdxAddr: bigint;
  private readonly usedEventAddr: bigint;
  private readonly usedIdxAddr: bigint;
  private readonly availEventAddr: bigint;
  private nextAvail: number;
  private nextUsed: number;
  /** Used index when the driver was last considered for an interrupt. */
  private signalledUsed: number;
  private detached = false;

  /**
   * A queue over the rings at `layout` (null: a queue the driver left
   * disabled). Throws VirtqueueError unless the size is a power of two up to
   * MAX_QUEUE_SIZE and the three areas are aligned and lie in RAM.
   */
  constructor(
    private readonly mem: GuestMemory,
    layout: VirtqueueLayout | null,
    features: VirtqueueFeatures,
    indices: VirtqueueIndices = { lastAvail: 0, usedIdx: 0 },
  ) {
    this.layout = layout;
    this.features = { ...features };
    this.eventIdx = features.eventIdx;
    this.indirect = features.indirect;
    this.nextAvail = indices.lastAvail & 0xffff;
    this.nextUsed = indices.usedIdx & 0xffff;
    this.signalledUsed = this.nextUsed;
    if (!layout) {
      this.ready = false;
      this.size = 0;
      const empty = new DataView(new ArrayBuffer(0));
      this.desc = this.avail = this.used = empty;
      this.availFlagsAddr = this.availIdxAddr = this.usedEventAddr = this.usedIdxAddr = this.availEventAddr = 0n;
      return;
    }
    const { size, descAddr, driverAddr, deviceAddr } = layout;
    if (!isPowerOfTwo(size) || size > MAX_QUEUE_SIZE) {
      throw new VirtqueueError(`queue size ${size} is not a power of two from 1 to ${MAX_QUEUE_SIZE}`);
    }
    if (descAddr % 16n !== 0n || driverAddr % 2n !== 0n || deviceAddr % 4n !== 0n) {
      throw new VirtqueueError('queue rings are misaligned (descriptors 16, available 2, used 4 bytes)');
    }
    const event = this.eventIdx ? 2 : 0;
    this.ready = true;
    this.size = size;
    this.desc = viewOf(this.area('descriptor table', descAddr, DESC_SIZE * size));
    this.avail = viewOf(this.area('available ring', driverAddr, 4 + 2 * size + event));
    this.used = viewOf(this.area('used ring', deviceAddr, 4 + 8 * size + event));
    const n = BigInt(size);
    this.availFlagsAddr = driverAddr;
    this.availIdxAddr = driverAddr + 2n;
    this.usedEventAddr = driverAddr + 4n + 2n * n;
    this.usedIdxAddr = deviceAddr + 2n;
    this.availEventAddr = deviceAddr + 4n + 8n * n;
  }

  private area(what: string, addr: bigint, len: number): Uint8Array {
    try {
      return this.mem.slice(addr, len);
    } catch (e) {
      if (e instanceof GuestMemoryError) throw new VirtqueueError(`${what} at 0x${addr.toString(16)} is outside RAM`);
      throw e;
    }
  }

  /** The device's positions: next available entry to take, next used entry to fill. */
  get indices(): VirtqueueIndices {
    return { lastAvail: this.nextAvail, usedIdx: this.nextUsed };
  }

  /**
   * Go on from positions another thread reached on these rings (a device's
   * I/O thread, which served them meanwhile: ./blk/iothread.ts).
   */
  adopt(indices: VirtqueueIndices): void {
    this.nextAvail = indices.lastAvail & 0xffff;
    this.nextUsed = indices.usedIdx & 0xffff;
    this.signalledUsed = this.nextUsed;
  }

  /**
   * Stop using the rings (device reset, or the queue was found malformed):
   * pop() gives nothing and push() drops, so a late completion can never
   * land in rings the driver has reset or reused.
   */
  detach(): void {
    this.detached = true;
  }

  get isDetached(): boolean {
    return this.detached;
  }

  private fail(reason: string): never {
    this.detached = true;
    throw new VirtqueueError(reason);
  }

  /** Entries the driver has made available that the device has not taken yet. */
  private pending(): number {
    const availIdx = this.mem.loadU16Atomic(this.availIdxAddr);
    const ahead = (availIdx - this.nextAvail) & 0xffff;
    if (ahead > this.size) {
      this.fail(`available index ${availIdx} is ${ahead} entries ahead of ${this.nextAvail} in a queue of ${this.size}`);
    }
    return ahead;
  }

  /**
   * The next available chain, or null if there is none. Throws
   * VirtqueueError (and detaches the queue) if the driver broke the rules.
   */
  pop(): DescriptorChain | null {
    if (!this.ready || this.detached) return null;
    if (this.pending() === 0) {
      if (!this.eventIdx) return null;
      // ask for a notification at the next entry, then look again: the
      // driver may have added one before it could see our avail_event
      this.mem.storeU16Atomic(this.availEventAddr, this.nextAvail);
      if (this.pending() === 0) return null;
    }
    const head = this.avail.getUint16(4 + 2 * (this.nextAvail % this.size), true);
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx) this.mem.storeU16Atomic(this.availEventAddr, this.nextAvail);
    return this.walk(head);
  }

  /** Follow a chain from `head`, checking every descriptor once, as it is read. */
  private walk(head: number): DescriptorChain {
    let table = this.desc;
    let tableSize = this.size;
    let inIndirect = false;
    // each table is walked at most once per entry: a longer walk is a loop
    let budget = tableSize;
    let index = head;
    if (index >= tableSize) this.fail(`head descriptor ${index} is outside the queue of ${tableSize}`);
    const readable: Uint8Array[] = [];
    const writable: Uint8Array[] = [];
    let readableLength = 0;
    let writableLength = 0;
    for (;;) {
      if (budget-- === 0) {
        this.fail(`descriptor chain from head ${head} is longer than its table of ${tableSize} (a loop?)`);
      }
      const at = index * DESC_SIZE;
      // the address in two halves: a BigInt per descriptor was a third of a 1 MiB read's walk (256 descriptors)
      const addrLo = table.getUint32(at, true), addrHi = table.getUint32(at + 4, true);
      const len = table.getUint32(at + 8, true);
      const flags = table.getUint16(at + 12, true);
      const next = table.getUint16(at + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) this.fail('indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated');
        if (inIndirect) this.fail('indirect descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) this.fail('indirect descriptor with the NEXT flag');
        if (len === 0 || len % DESC_SIZE !== 0) this.fail(`indirect table length ${len} is not a non-zero multiple of 16`);
        if (len / DESC_SIZE > MAX_INDIRECT_ENTRIES) this.fail(`indirect table of ${len / DESC_SIZE} entries (at most ${MAX_INDIRECT_ENTRIES})`);
        table = viewOf(this.buffer(addrHi, addrLo, len));
        tableSize = len / DESC_SIZE;
        budget = tableSize;
        inIndirect = true;
        index = 0;
        continue;
      }
      if (len > 0) {
        const view = this.buffer(addrHi, addrLo, len);
        if (flags & VIRTQ_DESC_F_WRITE) {
          writable.push(view);
          writableLength += len;
        } else {
          if (writable.length > 0) this.fail(`descriptor chain from head ${head} has a readable buffer after a writable one`);
          readable.push(view);
          readableLength += len;
        }
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      if (next >= tableSize) this.fail(`next descriptor ${next} is outside its table of ${tableSize}`);
      index = next;
    }
    return new DescriptorChain(head, readable, writable, readableLength, writableLength, this);
  }

  private buffer(addrHi: number, addrLo: number, len: number): Uint8Array {
    try {
      // at or above 2^53 a number is not exact, and nothing is RAM there
      if (addrHi < 0x20_0000) return this.mem.slice(addrHi * 0x1_0000_0000 + addrLo, len);
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
    }
    this.fail(`buffer 0x${((BigInt(addrHi) << 32n) | BigInt(addrLo)).toString(16)}+0x${len.toString(16)} is outside RAM`);
  }

  /**
   * Give a chain back to the driver, reporting `bytesWritten` bytes written
   * into its writable part (clamped to that part). Returns false (and does
   * nothing) if the queue was detached or the chain is not from this queue.
   */
  push(chain: DescriptorChain, bytesWritten: number): boolean {
    return this.pushAll([[chain, bytesWritten]]);
  }

  /**
   * Give several chains back at once: the driver sees all of them or none
   * (the used index moves once, after the last element). A packet spread
   * over mergeable receive buffers needs that: Linux's virtio-net reads
   * num_buffers from the first and takes the rest from the used ring at
   * once, dropping the packet if they are not there yet. Returns false (and
   * gives back nothing) if the queue was detached or a chain is not from it.
   */
  pushAll(chains: readonly (readonly [DescriptorChain, number])[]): boolean {
    if (!this.ready || this.detached || chains.some(([c]) => c.owner !== this)) return false;
    let next = this.nextUsed;
    for (const [chain, bytesWritten] of chains) {
      const len = Math.max(0, Math.min(Math.floor(bytesWritten) || 0, chain.writableLength, 0xffff_ffff));
      const at = 4 + 8 * (next % this.size);
      this.used.setUint32(at, chain.head, true);
      this.used.setUint32(at + 4, len, true);
      next = (next + 1) & 0xffff;
    }
    this.nextUsed = next;
    this.mem.storeU16Atomic(this.usedIdxAddr, next); // after the elements: publishes them
    return true;
  }

  /**
   * Whether the driver wants an interrupt for what was pushed since the last
   * call: with VIRTIO_F_EVENT_IDX, once the used index passes used_event
   * (vring_need_event); without it, unless VIRTQ_AVAIL_F_NO_INTERRUPT is set.
   */
  needsInterrupt(): boolean {
    if (!this.ready || this.detached) return false;
    const previous = this.signalledUsed;
    const current = this.nextUsed;
    this.signalledUsed = current;
    if (previous === current) return false;
    if (this.eventIdx) {
      const usedEvent = this.mem.loadU16Atomic(this.usedEventAddr);
      return ((current - usedEvent - 1) & 0xffff) < ((current - previous) & 0xffff);
    }
    return (this.mem.loadU16Atomic(this.availFlagsAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }
}
