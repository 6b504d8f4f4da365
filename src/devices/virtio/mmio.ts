/**
 * virtio-mmio transport, version 2 (virtio 1.2, 4.2.2). The register file
 * of one slot: feature negotiation, the device status state machine, queue
 * setup, interrupts, and config space delegated to the backend. A slot
 * without a backend answers like QEMU's empty slots: the magic value,
 * version 2, device id 0, and nothing else.
 *
 * Queue notifications reach the backend through notify(): the I/O loop
 * calls it when a vCPU rings the slot's doorbell in shared memory (the vCPU
 * does not exit for QueueNotify), and a QueueNotify write that does reach
 * write() is treated the same way.
 *
 * The guest is not trusted: a malformed queue, or a backend error while
 * serving one, sets DEVICE_NEEDS_RESET, raises a config interrupt and warns
 * once; nothing escapes to the caller.
 */
import { GuestMemoryError, type GuestMemory, type InterruptStatus, type MmioDevice } from '../device.js';
import {
  DEVICE_FEATURE_MASK, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1,
  type QueueThreads, type VirtioContext, type VirtioDevice,
} from './device.js';
import { MAX_QUEUE_SIZE, Virtqueue, VirtqueueError, type VirtqueueIndices } from './queue.js';

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_MMIO_VENDOR = 0x554d4551; // "QEMU": what guests are used to

/** Register offsets (4.2.2). */
export const VirtioMmioReg = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

/** Device status bits (2.1). */
export const VirtioStatus = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** InterruptStatus bits. */
export const VIRTIO_MMIO_INT_VRING = 1;
export const VIRTIO_MMIO_INT_CONFIG = 2;

/** Features every device behind this transport offers. */
export const TRANSPORT_FEATURES = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX | VIRTIO_F_INDIRECT_DESC;

const R = VirtioMmioReg;
const S = VirtioStatus;
const U32 = 0xffff_ffffn;

export type WarnFn = (message: string) => void;

interface QueueRegisters {
  num: number;
  ready: boolean;
  desc: bigint;
  driver: bigint;
  device: bigint;
}

/** Transport state as plain, JSON-friendly data (64-bit values as decimal strings). */
export interface VirtioMmioState {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: string;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  queues: { num: number; ready: boolean; desc: string; driver: string; device: string; lastAvail: number; usedIdx: number }[];
  device?: unknown;
}

function setLow(v: bigint, lo: number): bigint { return (v & ~U32) | BigInt(lo >>> 0); }
function setHigh(v: bigint, hi: number): bigint { return (v & U32) | (BigInt(hi >>> 0) << 32n); }

function describe(e: unknown): string {
  if (e instanceof VirtqueueError || e instanceof GuestMemoryError) return e.message;
  return `internal error: ${e instanceof Error ? e.message : String(e)}`;
}

/** One DRIVER_OK-to-reset period of a device: what its backend sees as VirtioContext. */
class Activation implements VirtioContext {
  active = true;
  constructor(
    private readonly transport: VirtioMmioTransport,
    readonly queues: readonly Virtqueue[],
    readonly driverFeatures: bigint,
    readonly mem: GuestMemory,
  ) {}
  get slot(): number { return this.transport.index; }
  get queueThreads(): QueueThreads | undefined { return this.transport.threads; }
  signalUsed(queue: number): void {
    if (!this.active) return;
    const q = this.queues[queue];
    if (q && q.needsInterrupt()) this.transport.raiseInterrupt(VIRTIO_MMIO_INT_VRING);
  }
  needsReset(reason: string): void {
    if (this.active) this.transport.deviceError(reason);
  }
  configChanged(): void {
    if (this.active) this.transport.configChanged();
  }
  warn(message: string): void {
    this.transport.warnOnce(message);
  }
  end(): void {
    this.active = false;
    for (const q of this.queues) q.detach();
  }
}

export class VirtioMmioTransport implements MmioDevice {
  readonly name: string;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private configGeneration = 0;
  private readonly queueRegs: QueueRegisters[];
  private activation: Activation | null = null;
  private readonly offered: bigint;
  /** Backend warnings given since the last reset (each once; a bounded set). */
  private readonly warned = new Set<string>();

  /**
   * @param index   slot number (names the device in warnings)
   * @param device  the backend, or undefined for an empty slot
   * @param mem     guest RAM, every range checked
   * @param isr     this slot's InterruptStatus and PLIC line (high while it is non-zero)
   * @param warn    one line per problem worth telling the user about
   * @param threads queue threads the VM offers its devices, if any
   */
  constructor(
    readonly index: number,
    private readonly device: VirtioDevice | undefined,
    private readonly mem: GuestMemory,
    private readonly isr: InterruptStatus,
    private readonly warn: WarnFn = () => {},
    readonly threads?: QueueThreads,
  ) {
    this.name = device ? `virtio-mmio.${index} (${device.name})` : `virtio-mmio.${index}`;
    for (const n of device?.queueSizes ?? []) {
      if (!Number.isInteger(n) || n < 1 || n > MAX_QUEUE_SIZE || (n & (n - 1)) !== 0) {
        throw new Error(`${this.name}: queue size ${n} is not a power of two from 1 to ${MAX_QUEUE_SIZE}`);
      }
    }
    this.offered = device ? (device.features & DEVICE_FEATURE_MASK) | TRANSPORT_FEATURES : 0n;
    this.queueRegs = (device?.queueSizes ?? []).map((n) => ({ num: n, ready: false, desc: 0n, driver: 0n, device: 0n }));
  }

  /** The features this slot offers the driver. */
  get deviceFeatures(): bigint { return this.offered; }

  read(offset: number, size: number): number {
    if (offset >= R.Config) {
      if (!this.device || (size !== 1 && size !== 2 && size !== 4)) return 0;
      return this.device.readConfig(offset - R.Config, size) >>> 0;
    }
    if (size !== 4 || (offset & 3) !== 0) return 0;
    switch (offset) {
      case R.MagicValue: return VIRTIO_MMIO_MAGIC;
      case R.Version: return 2;
      case R.DeviceID: return this.device ? this.device.deviceId : 0;
      case R.VendorID: return VIRTIO_MMIO_VENDOR;
    }
    if (!this.device) return 0;
    const q = this.queueRegs[this.queueSel];
    switch (offset) {
      case R.DeviceFeatures:
        if (this.deviceFeaturesSel > 1) return 0;
        return Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & U32);
      case R.QueueNumMax: return q ? this.device.queueSizes[this.queueSel]! : 0;
      case R.QueueReady: return q?.ready ? 1 : 0;
      case R.InterruptStatus: return this.isr.read();
      case R.Status: return this.status;
      case R.SHMLenLow: case R.SHMLenHigh: case R.SHMBaseLow: case R.SHMBaseHigh:
        return 0xffff_ffff; // no shared memory regions: length -1 (4.2.2)
      case R.ConfigGeneration: return this.configGeneration;
      default: return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (!this.device) return;
    if (offset >= R.Config) {
      if (size !== 1 && size !== 2 && size !== 4) return;
      try {
        this.device.writeConfig?.(offset - R.Config, size, value >>> 0);
      } catch (e) {
        this.deviceError(describe(e));
      }
      return;
    }
    if (size !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    switch (offset) {
      case R.DeviceFeaturesSel: this.deviceFeaturesSel = value; return;
      case R.DriverFeatures:
        // fixed once FEATURES_OK is set
        if (this.status & S.FEATURES_OK || this.driverFeaturesSel > 1) return;
        if (this.driverFeaturesSel === 0) this.driverFeatures = setLow(this.driverFeatures, value);
        else this.driverFeatures = setHigh(this.driverFeatures, value);
        return;
      case R.DriverFeaturesSel: this.driverFeaturesSel = value; return;
      case R.QueueSel: this.queueSel = value; return;
      case R.QueueNotify: this.notify(value & 0xffff); return;
      case R.InterruptACK: this.isr.update(0, value); return;
      case R.Status: this.writeStatus(value); return;
    }
    this.writeQueueRegister(offset, value);
  }

  /** Queue setup: only for a queue that is not ready, and never after DRIVER_OK (4.2.3.2). */
  private writeQueueRegister(offset: number, value: number): void {
    const q = this.queueRegs[this.queueSel];
    if (!q || this.status & (S.DRIVER_OK | S.DEVICE_NEEDS_RESET)) return;
    if (offset === R.QueueReady) {
      q.ready = (value & 1) === 1;
      return;
    }
    if (q.ready) return;
    switch (offset) {
      case R.QueueNum: q.num = value; return;
      case R.QueueDescLow: q.desc = setLow(q.desc, value); return;
      case R.QueueDescHigh: q.desc = setHigh(q.desc, value); return;
      case R.QueueDriverLow: q.driver = setLow(q.driver, value); return;
      case R.QueueDriverHigh: q.driver = setHigh(q.driver, value); return;
      case R.QueueDeviceLow: q.device = setLow(q.device, value); return;
      case R.QueueDeviceHigh: q.device = setHigh(q.device, value); return;
    }
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    value &= 0xff; // the defined bits
    const old = this.status;
    // the driver sets bits one step at a time and never clears them (only a
    // write of 0 does); DEVICE_NEEDS_RESET is the device's to set
    let next = (old | value) & ~S.DEVICE_NEEDS_RESET;
    next |= old & S.DEVICE_NEEDS_RESET;
    if (next & S.FEATURES_OK && !(old & S.FEATURES_OK) && !this.featuresAcceptable()) {
      next &= ~S.FEATURES_OK; // the driver reads it back and gives up
    }
    const starting = (next & S.DRIVER_OK) !== 0 && !(old & S.DRIVER_OK);
    if (starting && (!(next & S.FEATURES_OK) || next & S.DEVICE_NEEDS_RESET)) next &= ~S.DRIVER_OK;
    this.status = next;
    if (next & S.DRIVER_OK && starting) this.activate();
  }

  /** FEATURES_OK sticks only for a subset of what was offered that includes VERSION_1. */
  private featuresAcceptable(): boolean {
    return (this.driverFeatures & ~this.offered) === 0n && (this.driverFeatures & VIRTIO_F_VERSION_1) !== 0n;
  }

  private activate(indices?: readonly (VirtqueueIndices | undefined)[]): void {
    const device = this.device;
    if (!device) return;
    const features = {
      eventIdx: (this.driverFeatures & VIRTIO_F_RING_EVENT_IDX) !== 0n,
      indirect: (this.driverFeatures & VIRTIO_F_INDIRECT_DESC) !== 0n,
    };
    const queues: Virtqueue[] = [];
    try {
      this.queueRegs.forEach((q, i) => {
        const layout = q.ready ? { size: q.num, descAddr: q.desc, driverAddr: q.driver, deviceAddr: q.device } : null;
        if (layout && q.num > device.queueSizes[i]!) {
          throw new VirtqueueError(`queue ${i} size ${q.num} is larger than its maximum ${device.queueSizes[i]}`);
        }
        queues.push(new Virtqueue(this.mem, layout, features, indices?.[i]));
      });
    } catch (e) {
      this.deviceError(`queue setup: ${describe(e)}`);
      return;
    }
    const activation = new Activation(this, queues, this.driverFeatures, this.mem);
    this.activation = activation;
    try {
      device.activate(activation);
    } catch (e) {
      this.deviceError(describe(e));
    }
  }

  /**
   * The driver notified queue `queue` (the I/O loop calls this for the
   * slot's doorbell). Ignored unless the device is live and the queue ready.
   */
  notify(queue: number): void {
    const activation = this.activation;
    if (!this.device || !activation?.active) return;
    if (!Number.isInteger(queue) || queue < 0 || queue >= activation.queues.length) return;
    if (!activation.queues[queue]!.ready) return;
    try {
      this.device.notify(queue);
    } catch (e) {
      activation.needsReset(describe(e));
    }
  }

  /** Set DEVICE_NEEDS_RESET: stop the queues, tell the driver (config interrupt), warn once. */
  deviceError(reason: string): void {
    if (this.status & S.DEVICE_NEEDS_RESET) return;
    this.status |= S.DEVICE_NEEDS_RESET;
    this.activation?.end();
    this.warn(`${this.name}: ${reason}; the device needs a reset`);
    this.raiseInterrupt(VIRTIO_MMIO_INT_CONFIG);
  }

  /** A backend's host-side warning, each distinct text once per transport reset. */
  warnOnce(message: string): void {
    if (this.warned.has(message) || this.warned.size >= 16) return;
    this.warned.add(message);
    this.warn(`${this.name}: ${message}`);
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & S.DRIVER_OK) this.raiseInterrupt(VIRTIO_MMIO_INT_CONFIG);
  }

  raiseInterrupt(bits: number): void {
    this.isr.update(bits, 0);
  }

  /** Device reset (Status = 0, or a guest reset): back to the power-on state. */
  reset(): void {
    this.activation?.end();
    this.activation = null;
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.isr.update(0, ~0);
    this.warned.clear();
    this.queueRegs.forEach((q, i) => {
      q.num = this.device?.queueSizes[i] ?? 0;
      q.ready = false;
      q.desc = q.driver = q.device = 0n;
    });
    if (!this.device) return;
    try {
      this.device.reset();
    } catch (e) {
      this.warn(`${this.name}: reset failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Resolves once the backend has no host I/O in flight (call before a VM reset or save()). */
  async drain(): Promise<void> {
    await this.device?.drain?.();
  }

  save(): VirtioMmioState {
    const queues = this.activation?.queues;
    return {
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(),
      queueSel: this.queueSel,
      interruptStatus: this.isr.read(),
      configGeneration: this.configGeneration,
      queues: this.queueRegs.map((q, i) => {
        const at = queues?.[i]?.indices ?? { lastAvail: 0, usedIdx: 0 };
        return {
          num: q.num, ready: q.ready,
          desc: q.desc.toString(), driver: q.driver.toString(), device: q.device.toString(),
          lastAvail: at.lastAvail, usedIdx: at.usedIdx,
        };
      }),
      device: this.device?.save?.(),
    };
  }

  restore(state: unknown): void {
    const s = parseState(state, this.queueRegs.length);
    this.reset();
    this.device?.restore?.(s.device);
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = BigInt(s.driverFeatures) & this.offered;
    this.queueSel = s.queueSel;
    this.configGeneration = s.configGeneration;
    s.queues.forEach((q, i) => {
      const r = this.queueRegs[i]!;
      r.num = q.num; r.ready = q.ready;
      r.desc = BigInt(q.desc); r.driver = BigInt(q.driver); r.device = BigInt(q.device);
    });
    this.status = s.status & 0xff;
    if (this.status & S.DRIVER_OK && !(this.status & S.DEVICE_NEEDS_RESET)) {
      this.activate(s.queues.map((q) => ({ lastAvail: q.lastAvail, usedIdx: q.usedIdx })));
    }
    this.isr.update(s.interruptStatus & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG), 0);
  }

  async close(): Promise<void> {
    this.activation?.end();
    this.activation = null;
    await this.device?.close?.();
  }
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}
function isU64String(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9]{1,20}$/.test(v) && BigInt(v) <= 0xffff_ffff_ffff_ffffn;
}

function parseState(state: unknown, queueCount: number): VirtioMmioState {
  const bad = (what: string): never => { throw new Error(`virtio-mmio restore: bad ${what}`); };
  if (typeof state !== 'object' || state === null) return bad('state');
  const s = state as Record<string, unknown>;
  for (const k of ['status', 'deviceFeaturesSel', 'driverFeaturesSel', 'queueSel', 'interruptStatus', 'configGeneration']) {
    if (!isU32(s[k])) bad(k);
  }
  if (!isU64String(s.driverFeatures)) bad('driverFeatures');
  if (!Array.isArray(s.queues) || s.queues.length !== queueCount) bad('queue count');
  for (const q of s.queues as unknown[]) {
    if (typeof q !== 'object' || q === null) bad('queue');
    const r = q as Record<string, unknown>;
    if (!isU32(r.num) || typeof r.ready !== 'boolean' || !isU64String(r.desc) || !isU64String(r.driver) || !isU64String(r.device)) bad('queue registers');
    if (!isU32(r.lastAvail) || !isU32(r.usedIdx)) bad('queue indices');
  }
  return s as unknown as VirtioMmioState;
}
