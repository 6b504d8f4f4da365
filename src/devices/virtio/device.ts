/**
 * The contract between the virtio transport and a device backend (blk, rng,
 * console, ...). The transport owns registers, feature negotiation, status
 * and interrupts; the backend owns the device-specific feature bits, the
 * config space and what happens to the buffers of its queues.
 */
import type { Transferable } from 'node:worker_threads';
import type { Layout } from '../../accel/module.js';
import type { GuestMemory } from '../device.js';
import type { Virtqueue } from './queue.js';

/** Device-independent feature bits the transport itself implements. */
export const VIRTIO_F_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_RING_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;
/** Backends offer only device-specific bits (0..23); the rest is the transport's. */
export const DEVICE_FEATURE_MASK = (1n << 24n) - 1n;

/** What a backend gets from the transport when the driver sets DRIVER_OK. */
export interface VirtioContext {
  /** One per queue of the backend's queueSizes; a queue the driver did not enable has ready = false. */
  readonly queues: readonly Virtqueue[];
  /** The features the driver accepted (device-specific and transport bits). */
  readonly driverFeatures: bigint;
  readonly mem: GuestMemory;
  /** The virtio-mmio slot: its queue-notify word and its interrupt. */
  readonly slot: number;
  /** Serving a queue on a thread of its own, where the VM offers it (QEMU's dataplane: ./blk/iothread.ts). */
  readonly queueThreads?: QueueThreads;
  /**
   * False once this activation is over (device reset, NEEDS_RESET, close):
   * work started under it must then be dropped, never pushed.
   */
  readonly active: boolean;
  /** Interrupt the driver if the queue's pushes since the last call call for it. */
  signalUsed(queue: number): void;
  /** The driver broke the rules: set DEVICE_NEEDS_RESET, stop the queues, warn once. */
  needsReset(reason: string): void;
  /** The config space changed: bump ConfigGeneration and raise a config interrupt. */
  configChanged(): void;
  /** A host-side problem worth one line to the user (the backend rate-limits its own). */
  warn(message: string): void;
}

/** What a thread serving a queue needs of the VM: its memory, and the vCPU module to raise interrupts with. */
export interface QueueThreadVm {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  layout: Layout;
  epochMs: number;
  harts: number;
  ramBase: bigint;
  ramSize: bigint;
}

/** The VM's side of queue threads. */
export interface QueueThreads {
  readonly vm: QueueThreadVm;
  /** Run `name` (an export of the VM's pool thread file) with `task` on a thread of the VM's pool. */
  run(name: string, task: object, transferList?: Transferable[]): Promise<unknown>;
  /** Slot `slot`'s queue notifies go to its thread (true; the I/O loop leaves them), or to notify() again (false). */
  own(slot: number, owned: boolean): void;
  /** Wake slot `slot`'s thread where it waits for a notify (on the slot's notify word): one asked to stop sees it. */
  wake(slot: number): void;
}

export interface VirtioDevice {
  readonly name: string;
  /** Virtio device id (2 block, 3 console, 4 entropy). */
  readonly deviceId: number;
  /** Device-specific feature bits offered (the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC). */
  readonly features: bigint;
  /** Maximum size of each queue (QueueNumMax): powers of two up to 32768. */
  readonly queueSizes: readonly number[];
  /** Read `size` (1, 2 or 4) bytes of config space at `offset`; out of range reads 0. */
  readConfig(offset: number, size: number): number;
  writeConfig?(offset: number, size: number, value: number): void;
  /** The driver set DRIVER_OK: start serving the queues through `ctx`. */
  activate(ctx: VirtioContext): void;
  /** The driver notified queue `queue` (a ready queue of the current activation). */
  notify(queue: number): void;
  /** Device reset: forget the activation; in-flight work must not complete into the old queues. */
  reset(): void;
  /** Resolves once no host I/O started by the device is in flight (before a VM reset or snapshot). */
  drain?(): Promise<void>;
  save?(): unknown;
  restore?(state: unknown): void;
  close?(): Promise<void> | void;
}

/**
 * Read `size` bytes little-endian at `offset` of a config space held as
 * bytes; bytes past the end read as 0 (the spec leaves them undefined).
 */
export function readConfigBytes(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) {
    const at = offset + i;
    value = value * 256 + (at >= 0 && at < bytes.length ? bytes[at]! : 0);
  }
  return value >>> 0;
}
