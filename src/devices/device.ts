/**
 * The device contract. A device model on the main thread gets its MMIO
 * window (the bus calls read/write with offsets into it), an IRQ line into
 * the in-Wasm PLIC, and a guest-memory view that checks every range; it can
 * be reset and its state saved and restored as plain data (snapshots).
 */
export interface MmioDevice {
  readonly name: string;
  /** Read `size` (1, 2 or 4) bytes at `offset`; returns the value zero-extended. */
  read(offset: number, size: number): number;
  /** Write the low `size` (1, 2 or 4) bytes of `value` at `offset`. */
  write(offset: number, size: number, value: number): void;
  /** Back to the power-on state (guest reset). */
  reset?(): void;
  /** Device state as plain, structured-cloneable data. */
  save?(): unknown;
  restore?(state: unknown): void;
  /** Release host resources (files, sockets, child processes) when the VM ends. */
  close?(): Promise<void> | void;
}

/** A level-triggered interrupt line into the PLIC. */
export interface IrqLine {
  set(level: boolean): void;
}

/**
 * An interrupt status register and the line it drives, high exactly while
 * the status is non-zero (virtio-mmio's InterruptStatus). A VM keeps it in
 * shared memory, where the vCPUs read and acknowledge it without an exit
 * (assembly/devices.ts), and changes it with the line in one step.
 */
export interface InterruptStatus {
  read(): number;
  /** Set bits `set` (the device) and clear bits `clear` (the driver's acknowledgement). */
  update(set: number, clear: number): void;
}

/** An interrupt status held on the host, driving `line`: for a device model outside a VM (tests). */
export function hostInterruptStatus(line: IrqLine): InterruptStatus {
  let status = 0;
  return {
    read: () => status,
    update(set, clear) {
      const was = status;
      status = (status & ~clear) | set;
      if ((was !== 0) !== (status !== 0)) line.set(status !== 0);
    },
  };
}

/** Thrown by GuestMemory for a range a guest gave that is not all RAM. */
export class GuestMemoryError extends Error {
  constructor(readonly addr: bigint, readonly len: number) {
    super(`guest range 0x${addr.toString(16)}+0x${len.toString(16)} is outside RAM`);
    this.name = 'GuestMemoryError';
  }
}

/**
 * Guest-physical RAM as a device sees it: every access is checked against
 * RAM (a range that wraps or leaves RAM throws GuestMemoryError), and the
 * views it hands out alias the shared memory (no copies).
 */
export interface GuestMemory {
  /**
   * A view of [addr, addr+len); throws GuestMemoryError unless all of it is
   * RAM. A number address must be exact (below 2^53; nothing above is RAM).
   */
  slice(addr: bigint | number, len: number): Uint8Array;
  readU16(addr: bigint): number;
  readU32(addr: bigint): number;
  readU64(addr: bigint): bigint;
  writeU16(addr: bigint, v: number): void;
  writeU32(addr: bigint, v: number): void;
  /** Atomic (sequentially consistent) 16-bit accesses, for ring indices shared with vCPU threads. */
  loadU16Atomic(addr: bigint): number;
  storeU16Atomic(addr: bigint, v: number): void;
}
