/**
 * The device manager: opens the host side of the devices the user asked for
 * (-drive, -device, -netdev/-nic, or the embedding API's options), hands
 * out the board's virtio-mmio slots and their IRQ lines, and builds the bus
 * of main-thread devices the vCPUs exit to. It also relays queue-notify
 * doorbells to the transports and resets, drains and closes the devices.
 */
import type { Duplex } from 'node:stream';
import { WkvmError } from '../errors.js';
import * as BOARD from '../../assembly/board.js';
import type { VmMemory } from '../accel/memory.js';
import type { BusRange } from '../io/main-loop.js';
import type { InterruptStatus } from '../devices/device.js';
import { GoldfishRtc } from '../devices/goldfish-rtc.js';
import {
  VirtioMmioTransport, openBlockImage, VirtioRng, VirtioConsole, VirtioNet, macBytes,
  type VirtioDevice, type BlockCacheMode,
} from '../devices/virtio/index.js';
import type { QueueThreads } from '../devices/virtio/device.js';
import { createNetBackend, type NetBackend, type NetdevSpec } from '../netdev/index.js';

export interface DriveOptions {
  /** Raw disk image. */
  file: string;
  /** The guest cannot write (VIRTIO_BLK_F_RO); the image is opened read-only. */
  readonly?: boolean;
  /** The guest's writes stay in memory; the image is left untouched (QEMU's -snapshot). */
  snapshot?: boolean;
  /** 'writeback' (default: a guest flush is an fdatasync), 'unsafe' (flushes ignored), 'none', 'writethrough'. */
  cache?: BlockCacheMode;
  /** The disk's serial number (virtio-blk GET_ID), up to 20 characters. */
  serial?: string;
  /** Its name for a monitor (QMP's query-block); default virtio0, virtio1, ... by position. */
  id?: string;
}

export interface NicOptions {
  /** A netdev spec (see `parseNetdev`) or a backend of the embedder's own (e.g. an InprocessNetBackend). */
  netdev: NetdevSpec | NetBackend;
  /** The NIC's MAC address; default 52:54:00:12:34:56 for the first NIC, then upward, as QEMU. */
  mac?: string;
}

export interface DeviceOptions {
  drives?: DriveOptions[];
  nics?: NicOptions[];
  /** A virtio-rng fed from the host's CSPRNG (/dev/hwrng in the guest). */
  rng?: boolean;
  /** A virtio console (hvc0 in the guest) connected to this stream. */
  console?: Duplex;
  /** Every drive in snapshot mode (QEMU's -snapshot). */
  snapshot?: boolean;
}

const DEFAULT_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/** Warnings a device may give before the rest are suppressed (a guest that breaks its queues in a loop must not flood the log). */
const WARNINGS_PER_DEVICE = 16;

function limitWarnings(warn: (message: string) => void): (message: string) => void {
  let count = 0;
  return (message) => {
    if (++count <= WARNINGS_PER_DEVICE) warn(message);
    else if (count === WARNINGS_PER_DEVICE + 1) warn(`${message.split(':')[0]}: further warnings from this device are suppressed`);
  };
}

function isBackend(n: NetdevSpec | NetBackend): n is NetBackend {
  return typeof (n as NetBackend).send === 'function';
}

/** Open the host side of every requested device (files, passt, sockets). Closes what it opened if one fails. */
export async function openDevices(opts: DeviceOptions): Promise<VirtioDevice[]> {
  const opened: VirtioDevice[] = [];
  const count = (opts.drives?.length ?? 0) + (opts.nics?.length ?? 0) + (opts.rng ? 1 : 0) + (opts.console ? 1 : 0);
  if (count > BOARD.VIRTIO_SLOTS) {
    throw new WkvmError(`${count} virtio devices asked for: the virt board has ${BOARD.VIRTIO_SLOTS} virtio-mmio slots`);
  }
  try {
    for (const [i, d] of (opts.drives ?? []).entries()) {
      opened.push(await openBlockImage({
        file: d.file, readonly: d.readonly ?? false, snapshot: (d.snapshot ?? false) || (opts.snapshot ?? false),
        cache: d.cache ?? 'writeback', ...(d.serial !== undefined ? { serial: d.serial } : {}), id: d.id ?? `virtio${i}`,
      }));
    }
    const macs = new Set<string>();
    for (const [i, nic] of (opts.nics ?? []).entries()) {
      const macText = nic.mac ?? DEFAULT_MAC.map((b, k) => (k === 5 ? b + i : b).toString(16).padStart(2, '0')).join(':');
      const mac = macBytes(macText);
      const key = mac.join(':');
      if (macs.has(key)) throw new WkvmError(`two NICs have the MAC address ${macText}`);
      macs.add(key);
      const backend = isBackend(nic.netdev) ? nic.netdev : createNetBackend(nic.netdev);
      const device = new VirtioNet(backend, mac);
      opened.push(device);
      await backend.ready;
    }
    if (opts.rng) opened.push(new VirtioRng());
    if (opts.console) opened.push(new VirtioConsole(opts.console));
  } catch (e) {
    await Promise.allSettled(opened.map((d) => d.close?.()));
    throw e;
  }
  return opened;
}

export class DeviceManager {
  /** The main-thread devices and their guest-physical windows (the vCPUs' MMIO-exit table). */
  readonly bus: BusRange[];
  /** One transport per virtio-mmio slot; slots without a device answer device id 0. */
  readonly transports: VirtioMmioTransport[] = [];

  /**
   * @param devices  virtio devices, placed in the order Linux probes the slots (the first is vda / eth0)
   * @param setIrq   drives a PLIC line (the in-Wasm PLIC, through the main thread's instance)
   * @param warn     one line per host-side problem
   */
  /**
   * @param virtioStatus each slot's InterruptStatus register with its PLIC line (VIRTIO_IRQ_BASE + slot)
   */
  constructor(mem: VmMemory, devices: readonly VirtioDevice[], virtioStatus: (slot: number) => InterruptStatus, warn: (message: string) => void,
    threads?: QueueThreads) {
    this.bus = [{ base: BigInt(BOARD.RTC_BASE), size: BigInt(BOARD.RTC_SIZE), device: new GoldfishRtc() }];
    const bySlot = new Map<number, VirtioDevice>();
    // the device tree lists the slots from the highest address down and Linux probes them in that order
    devices.forEach((d, i) => bySlot.set(BOARD.VIRTIO_SLOTS - 1 - i, d));
    for (let slot = 0; slot < BOARD.VIRTIO_SLOTS; slot++) {
      const t = new VirtioMmioTransport(slot, bySlot.get(slot), mem.guest, virtioStatus(slot), limitWarnings(warn), threads);
      this.transports.push(t);
      this.bus.push({ base: BigInt(BOARD.VIRTIO_BASE + slot * BOARD.VIRTIO_SIZE), size: BigInt(BOARD.VIRTIO_SIZE), device: t });
    }
  }

  /** Queue-notify doorbell bits of one slot (bit q = queue q). */
  notify(slot: number, queues: number): void {
    const t = this.transports[slot];
    if (!t) return;
    for (let q = 0; queues !== 0; q++, queues >>>= 1) if (queues & 1) t.notify(q);
  }

  /** Wait for host I/O in flight (before the guest's RAM is reloaded or saved). */
  async drain(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.drain()));
  }

  /** Guest reset: every device back to its power-on state. */
  reset(): void {
    for (const r of this.bus) r.device.reset?.();
  }

  /** Every main-thread device's state as plain data, by bus order (drain() first: no I/O in flight). */
  save(): unknown[] {
    return this.bus.map((r) => r.device.save?.() ?? null);
  }

  restore(states: readonly unknown[]): void {
    if (states.length !== this.bus.length) throw new Error(`device state for ${states.length} devices, the board has ${this.bus.length}`);
    this.bus.forEach((r, i) => { if (states[i] !== null) r.device.restore?.(states[i]); });
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.transports.map((t) => t.close()));
  }
}
