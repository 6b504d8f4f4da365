/**
 * The one shared WebAssembly.Memory of a VM: machine block, per-vCPU blocks,
 * guest RAM (offsets from assembly/layout.ts through the module's layout).
 */
import { WkvmError } from '../errors.js';
import { GuestMemoryError, type GuestMemory } from '../devices/device.js';
import type { Layout } from './module.js';

const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

/** Linear offset of the touched-page map (right after the vCPU blocks). */
function touchedMapOffset(layout: Layout, harts: number): number {
  return layout.VCPU_BASE + harts * layout.VCPU_STRIDE;
}

/** Linear offset where guest RAM starts for `harts` vCPUs. */
export function ramHostOffset(layout: Layout, harts: number): number {
  const end = touchedMapOffset(layout, harts) + layout.TOUCHED_MAP_BYTES;
  return Math.ceil(end / PAGE) * PAGE;
}

/** Largest guest RAM (bytes, whole MiB) that fits next to `harts` vCPUs. */
export function maxRamSize(layout: Layout, harts: number): bigint {
  const room = MAX_PAGES * PAGE - ramHostOffset(layout, harts);
  return BigInt(Math.floor(room / (1 << 20))) << 20n;
}

export class VmMemory {
  readonly memory: WebAssembly.Memory;
  // views of the memory (of an empty buffer once it went to another VM: handOver())
  bytes: Uint8Array;
  i32: Int32Array;
  u64: BigUint64Array;
  view: DataView;
  readonly ramHost: number;
  /** 1 bit per 4 KiB RAM page that may be non-zero: what the guest (vCPU slow paths) or the host wrote. */
  touched: Uint8Array;
  /** It took over a stopped VM's memory (recycle): its pages are present already. */
  readonly recycled: boolean;
  /** Its memory went to another VM (handOver()). */
  handedOver = false;
  /** Guest RAM as devices see it: every range checked. */
  readonly guest: GuestMemory;
  /** RAM's guest-physical bounds as numbers (exact: RAM lies far below 2^53). */
  private readonly ramBaseN: number;
  private readonly ramEndN: number;

  constructor(
    readonly layout: Layout,
    readonly harts: number,
    readonly ramBase: bigint,
    readonly ramSize: bigint,
    from?: VmMemory,
    /** A VM's memory, seen from another of its threads (a device's I/O thread): nothing is allocated or cleared. */
    attach?: WebAssembly.Memory,
  ) {
    const max = maxRamSize(layout, harts);
    if (ramSize > max) {
      throw new WkvmError(`memory size ${ramSize >> 20n}M is too large: at most ${max >> 20n}M with ${harts} vCPUs`);
    }
    this.ramHost = ramHostOffset(layout, harts);
    this.ramBaseN = Number(ramBase);
    this.ramEndN = Number(ramBase + ramSize);
    const pages = Math.ceil((this.ramHost + Number(ramSize)) / PAGE);
    if (from?.handedOver) throw new WkvmError('recycle: that VM\'s memory went to another VM already');
    if (from && (from.harts !== harts || from.ramSize !== ramSize)) {
      throw new WkvmError(`recycle: the VM to take memory from has ${from.harts} vCPUs and ${from.ramSize >> 20n}M, this one ${harts} and ${ramSize >> 20n}M`);
    }
    // a new memory takes a page fault at the first write to each page (~12 us here: 35 ms for the 12 MiB
    // a Linux snapshot restores); a stopped VM's has its pages already
    this.memory = attach ?? (from ? from.handOver() : new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }));
    this.recycled = from !== undefined;
    const sab = this.memory.buffer as unknown as SharedArrayBuffer;
    this.bytes = new Uint8Array(sab);
    this.i32 = new Int32Array(sab);
    this.u64 = new BigUint64Array(sab);
    this.view = new DataView(sab);
    this.touched = new Uint8Array(sab, touchedMapOffset(layout, harts), layout.TOUCHED_MAP_BYTES);
    this.guest = new CheckedGuestMemory(this);
  }

  /**
   * Give this memory to a new VM (its owner has stopped): cleared where it
   * may be non-zero (the touched RAM pages, then everything below RAM), and
   * this object's views emptied, so that the stopped VM can read nothing of
   * the new one.
   */
  private handOver(): WebAssembly.Memory {
    const first = this.ramHost;
    for (let i = 0; i < this.touched.length; i++) {
      if (this.touched[i] === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((this.touched[i]! >> bit & 1) === 0) continue;
        const at = first + (i * 8 + bit) * 4096;
        if (at < this.bytes.length) this.bytes.fill(0, at, Math.min(at + 4096, this.bytes.length));
      }
    }
    this.bytes.fill(0, 0, this.ramHost); // the machine and vCPU blocks, the touched map
    const empty = new SharedArrayBuffer(0);
    this.bytes = new Uint8Array(empty);
    this.i32 = new Int32Array(empty);
    this.u64 = new BigUint64Array(empty);
    this.view = new DataView(empty);
    this.touched = new Uint8Array(empty);
    this.handedOver = true;
    return this.memory;
  }

  /** Throws once the memory went to another VM (handOver()). */
  assertOwned(): void {
    if (this.handedOver) throw new WkvmError('the VM\'s memory went to another VM (recycle)');
  }

  /** Address of a machine-block field. */
  m(offset: number): number { return this.layout.MACHINE_BASE + offset; }
  /** Address of vCPU `hart`'s block. */
  vcpu(hart: number): number { return this.layout.VCPU_BASE + hart * this.layout.VCPU_STRIDE; }

  writeHeader(h: { tohost: bigint; fromhost: bigint; bootFlags: number; epochMs: number; jitThreshold: number }): void {
    const L = this.layout;
    this.bytes.fill(0, L.MACHINE_BASE, L.MACHINE_BASE + L.MACHINE_SIZE);
    this.view.setUint32(this.m(L.M_MAGIC), 0x4d564b57, true); // 'WKVM'
    this.view.setUint32(this.m(L.M_NHARTS), this.harts, true);
    this.view.setBigUint64(this.m(L.M_RAM_BASE), this.ramBase, true);
    this.view.setBigUint64(this.m(L.M_RAM_SIZE), this.ramSize, true);
    this.view.setBigUint64(this.m(L.M_RAM_HOST), BigInt(this.ramHost), true);
    this.view.setBigUint64(this.m(L.M_TOHOST), h.tohost, true);
    this.view.setBigUint64(this.m(L.M_FROMHOST), h.fromhost, true);
    this.view.setUint32(this.m(L.M_BOOT_FLAGS), h.bootFlags, true);
    this.view.setUint32(this.m(L.M_JIT_THRESHOLD), h.jitThreshold, true);
    this.view.setFloat64(this.m(L.M_TIME_BASE), h.epochMs, true);
    this.view.setUint32(this.m(L.M_TOUCHED_MAP), this.touched.byteOffset, true);
  }

  /** Record the guest-physical ranges whose accesses exit to the I/O loop. */
  writeMmioTable(ranges: readonly { base: bigint; size: bigint }[]): void {
    const L = this.layout;
    if (ranges.length > L.MMIO_TABLE_MAX) throw new Error('too many MMIO regions');
    const t = this.m(L.M_MMIO_TABLE);
    this.view.setUint32(t, ranges.length, true);
    ranges.forEach((r, i) => {
      this.view.setBigUint64(t + 8 + 16 * i, r.base, true);
      this.view.setBigUint64(t + 16 + 16 * i, r.size, true);
    });
  }

  /** Whether [paddr, paddr+len) is guest RAM (bigint arithmetic: nothing wraps). */
  inRam(paddr: bigint, len: bigint): boolean {
    return paddr >= this.ramBase && len >= 0n && paddr + len <= this.ramBase + this.ramSize;
  }

  /**
   * Linear-memory offset of guest-physical [paddr, paddr+len), or -1 unless
   * all of it is RAM. The address may come as a number (a descriptor's, read
   * as two 32-bit halves: no BigInt per descriptor); as a number it is exact
   * below 2^53, and nothing above is RAM, so the check holds either way.
   */
  hostOffset(paddr: bigint | number, len: number): number {
    const a = Number(paddr);
    if (!(len >= 0) || !(a >= this.ramBaseN) || a + len > this.ramEndN) return -1;
    return this.ramHost + (a - this.ramBaseN);
  }

  /** Host view of guest-physical RAM [paddr, paddr+len) (its pages count as touched); throws if outside RAM. */
  ram(paddr: bigint, len: number): Uint8Array {
    this.assertOwned();
    const off = this.hostOffset(paddr, len);
    if (off < 0) throw new WkvmError(`guest-physical range 0x${paddr.toString(16)}+0x${len.toString(16)} is outside RAM`);
    this.touch(off, len);
    return this.bytes.subarray(off, off + len);
  }

  /** Mark the pages of linear [off, off+len) in RAM as touched (they may be written through the view handed out). */
  touch(off: number, len: number): void {
    if (len <= 0) return;
    const first = (off - this.ramHost) >>> 12, last = (off + len - 1 - this.ramHost) >>> 12;
    for (let pg = first; pg <= last; pg++) {
      const bit = 1 << (pg & 7);
      if ((this.touched[pg >> 3]! & bit) === 0) Atomics.or(this.touched, pg >> 3, bit);
    }
  }

  /** All of RAM, for snapshots (without marking it touched). */
  rawRam(): Uint8Array { return this.bytes.subarray(this.ramHost, this.ramHost + Number(this.ramSize)); }

  /** Zero all of guest RAM (reset). */
  clearRam(): void {
    this.bytes.fill(0, this.ramHost, this.ramHost + Number(this.ramSize));
    this.touched.fill(0);
  }
}

/** The GuestMemory every device gets: checks each range against RAM, aliases the shared memory. */
class CheckedGuestMemory implements GuestMemory {
  private readonly u16: Uint16Array;
  constructor(private readonly m: VmMemory) {
    this.u16 = new Uint16Array(m.memory.buffer as unknown as SharedArrayBuffer);
  }
  private at(addr: bigint | number, len: number): number {
    const off = this.m.hostOffset(addr, len);
    if (off < 0) throw new GuestMemoryError(BigInt(addr), len);
    this.m.touch(off, len); // a device may write what it is given
    return off;
  }
  slice(addr: bigint | number, len: number): Uint8Array {
    const off = this.at(addr, len);
    return this.m.bytes.subarray(off, off + len);
  }
  readU16(addr: bigint): number { return this.m.view.getUint16(this.at(addr, 2), true); }
  readU32(addr: bigint): number { return this.m.view.getUint32(this.at(addr, 4), true); }
  readU64(addr: bigint): bigint { return this.m.view.getBigUint64(this.at(addr, 8), true); }
  writeU16(addr: bigint, v: number): void { this.m.view.setUint16(this.at(addr, 2), v, true); }
  writeU32(addr: bigint, v: number): void { this.m.view.setUint32(this.at(addr, 4), v, true); }
  // ring indices: the spec aligns them, so a misaligned one is a malformed queue
  private at16(addr: bigint): number {
    const off = this.at(addr, 2);
    if (off & 1) throw new GuestMemoryError(addr, 2);
    return off >> 1;
  }
  loadU16Atomic(addr: bigint): number { return Atomics.load(this.u16, this.at16(addr)); }
  storeU16Atomic(addr: bigint, v: number): void { Atomics.store(this.u16, this.at16(addr), v); }
}
