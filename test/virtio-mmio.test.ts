/**
 * The virtio-mmio transport (src/devices/virtio/mmio.ts): the register
 * file, feature negotiation, the status state machine, interrupts,
 * DEVICE_NEEDS_RESET on a malformed queue, config space, save/restore.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import {
  VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VENDOR, VirtioMmioReg as R, VirtioStatus as S, VirtioMmioTransport,
  VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING, type VirtioMmioState,
} from '../src/devices/virtio/mmio.js';
import {
  VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1, readConfigBytes,
  type VirtioContext, type VirtioDevice,
} from '../src/devices/virtio/device.js';
import { VirtioRng } from '../src/devices/virtio/rng/rng.js';
import { hostInterruptStatus } from '../src/devices/device.js';
import { GuestHeap, TestDriver, TestIrq, newMemory } from './virtio-driver.js';

const mem: VmMemory = newMemory();
beforeEach(() => mem.clearRam());

const STARTED = S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK;

/** A backend that records what the transport does to it. */
class ProbeDevice implements VirtioDevice {
  readonly name = 'probe';
  readonly deviceId = 42;
  readonly features = (1n << 3n) | (1n << 40n); // bit 40 is not the device's to offer
  readonly queueSizes = [8, 16];
  readonly config = Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55, 0x66);
  ctx: VirtioContext | null = null;
  notified: number[] = [];
  resets = 0;
  throwOnNotify: Error | null = null;
  readConfig(offset: number, size: number): number { return readConfigBytes(this.config, offset, size); }
  writeConfig(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) if (offset + i < this.config.length) this.config[offset + i] = (value >>> (8 * i)) & 0xff;
  }
  activate(ctx: VirtioContext): void { this.ctx = ctx; }
  notify(q: number): void {
    this.notified.push(q);
    if (this.throwOnNotify) throw this.throwOnNotify;
  }
  reset(): void { this.resets++; this.ctx = null; }
}

describe('registers', () => {
  it('an empty slot: magic, version 2, device id 0, vendor; nothing else', () => {
    const t = new VirtioMmioTransport(3, undefined, mem.guest, hostInterruptStatus(new TestIrq()));
    expect(t.read(R.MagicValue, 4)).toBe(VIRTIO_MMIO_MAGIC);
    expect(t.read(R.Version, 4)).toBe(2);
    expect(t.read(R.DeviceID, 4)).toBe(0);
    expect(t.read(R.VendorID, 4)).toBe(VIRTIO_MMIO_VENDOR);
    t.write(R.Status, 4, S.ACKNOWLEDGE);
    expect(t.read(R.Status, 4)).toBe(0);
    expect(t.read(R.QueueNumMax, 4)).toBe(0);
    expect(t.read(R.Config, 4)).toBe(0);
    t.notify(0); // nothing behind it: no effect, no throw
  });

  it('identifies the backend and offers its features plus VERSION_1, EVENT_IDX and INDIRECT_DESC', () => {
    const probe = new ProbeDevice();
    const d = new TestDriver(mem, probe);
    expect(d.read(R.DeviceID)).toBe(42);
    expect(d.deviceFeatures()).toBe((1n << 3n) | VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX | VIRTIO_F_INDIRECT_DESC);
    d.write(R.DeviceFeaturesSel, 2);
    expect(d.read(R.DeviceFeatures)).toBe(0);
    d.write(R.QueueSel, 1);
    expect(d.read(R.QueueNumMax)).toBe(16);
    d.write(R.QueueSel, 2);
    expect(d.read(R.QueueNumMax)).toBe(0);
    expect(d.read(R.SHMLenLow)).toBe(0xffff_ffff); // no shared memory regions
    // registers are 32-bit: narrower accesses read 0 and write nothing
    expect(d.transport.read(R.MagicValue, 2)).toBe(0);
    d.transport.write(R.Status, 1, S.ACKNOWLEDGE);
    expect(d.status).toBe(0);
  });

  it('config space: byte, halfword and word reads and writes go to the backend', () => {
    const probe = new ProbeDevice();
    const t = new TestDriver(mem, probe).transport;
    expect(t.read(R.Config, 1)).toBe(0x11);
    expect(t.read(R.Config + 1, 2)).toBe(0x3322);
    expect(t.read(R.Config + 2, 4)).toBe(0x66554433);
    expect(t.read(R.Config + 4, 4)).toBe(0x6655); // past the end reads 0
    expect(t.read(R.Config, 8)).toBe(0); // no such width
    t.write(R.Config + 1, 2, 0xbeef);
    expect([...probe.config.subarray(0, 4)]).toEqual([0x11, 0xef, 0xbe, 0x44]);
  });
});

describe('status state machine', () => {
  it('FEATURES_OK sticks only for a subset of the offer that includes VERSION_1', () => {
    const d = new TestDriver(mem, new ProbeDevice());
    expect(d.negotiate(1n << 3n) & S.FEATURES_OK).toBe(0); // no VERSION_1
    expect(d.negotiate(VIRTIO_F_VERSION_1 | (1n << 4n)) & S.FEATURES_OK).toBe(0); // not offered
    expect(d.negotiate(VIRTIO_F_VERSION_1 | (1n << 40n)) & S.FEATURES_OK).toBe(0); // masked from the offer
    expect(d.negotiate(VIRTIO_F_VERSION_1 | (1n << 3n))).toBe(S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    // features are fixed once FEATURES_OK is set
    d.write(R.DriverFeaturesSel, 0);
    d.write(R.DriverFeatures, 0);
    d.setupQueue(0);
    d.write(R.Status, STARTED);
    expect(d.status).toBe(STARTED);
  });

  it('DRIVER_OK without FEATURES_OK does not stick and activates nothing', () => {
    const probe = new ProbeDevice();
    const d = new TestDriver(mem, probe);
    d.write(R.Status, S.ACKNOWLEDGE | S.DRIVER);
    d.write(R.Status, S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK);
    expect(d.status & S.DRIVER_OK).toBe(0);
    expect(probe.ctx).toBeNull();
  });

  it('DRIVER_OK activates the backend with the ready queues and the accepted features', () => {
    const probe = new ProbeDevice();
    const d = new TestDriver(mem, probe);
    d.negotiate(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX);
    d.setupQueue(1, 4); // queue 0 left disabled
    d.write(R.Status, STARTED);
    const ctx = probe.ctx!;
    expect(ctx.driverFeatures).toBe(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX);
    expect(ctx.queues.map((q) => [q.ready, q.size])).toEqual([[false, 0], [true, 4]]);
    d.transport.notify(0); // not ready: ignored
    d.transport.notify(1);
    d.write(R.QueueNotify, 1); // the register path is the same
    d.transport.notify(7);
    d.transport.notify(-1);
    d.transport.notify(1.5);
    expect(probe.notified).toEqual([1, 1]);
  });

  it('writing 0 resets the device, its queues and its interrupt', () => {
    const probe = new ProbeDevice();
    const d = new TestDriver(mem, probe);
    d.start({ queueSize: 4 });
    const ctx = probe.ctx!;
    ctx.configChanged();
    expect(d.irq.level).toBe(true);
    const resets = probe.resets;
    d.write(R.Status, 0);
    expect(d.status).toBe(0);
    expect(probe.resets).toBe(resets + 1);
    expect(ctx.active).toBe(false);
    expect(ctx.queues.every((q) => q.isDetached)).toBe(true);
    expect(d.irq.level).toBe(false);
    expect(d.read(R.InterruptStatus)).toBe(0);
    d.write(R.QueueSel, 0);
    expect(d.read(R.QueueReady)).toBe(0);
    d.transport.notify(0);
    expect(probe.notified).toEqual([]);
    // and it comes back
    d.start({ queueSize: 4 });
    expect(d.status).toBe(STARTED);
    expect(probe.ctx).not.toBe(ctx);
  });

  it('queue registers are fixed while the queue is ready and after DRIVER_OK', () => {
    const d = new TestDriver(mem, new VirtioRng());
    d.negotiate();
    const q = d.setupQueue(0, 8);
    d.write(R.QueueNum, 2); // ready: ignored
    d.write(R.QueueDescLow, 0x1234);
    d.write(R.Status, STARTED);
    d.write(R.QueueReady, 0);
    d.write(R.QueueNum, 4);
    d.write(R.QueueDriverLow, 0x10);
    expect(d.read(R.QueueReady)).toBe(1);
    // the queue still works as first set up
    const buf = d.buffer(32);
    q.post([{ addr: buf, len: 32, write: true }]);
    d.transport.notify(0);
    expect(q.takeUsed()).toEqual([{ id: 0, len: 32 }]);
    expect(d.needsReset).toBe(false);
  });

  it('interrupts: used buffers raise bit 0, InterruptACK lowers the line', () => {
    const d = new TestDriver(mem, new VirtioRng());
    d.start({ features: VIRTIO_F_VERSION_1, queueSize: 8 });
    const q = d.queues[0]!;
    q.post([{ addr: d.buffer(16), len: 16, write: true }]);
    d.transport.notify(0);
    expect(d.read(R.InterruptStatus)).toBe(VIRTIO_MMIO_INT_VRING);
    expect(d.irq.level).toBe(true);
    d.write(R.InterruptACK, VIRTIO_MMIO_INT_VRING);
    expect(d.irq.level).toBe(false);
  });

  it('EVENT_IDX: no interrupt until the used index passes used_event', () => {
    const d = new TestDriver(mem, new VirtioRng());
    d.start({ queueSize: 8 });
    const q = d.queues[0]!;
    const buf = d.buffer(16);
    q.setUsedEvent(1); // interrupt when entry 1 is used
    q.post([{ addr: buf, len: 16, write: true }]);
    d.transport.notify(0);
    expect(q.usedIdx()).toBe(1);
    expect(d.irq.raised).toBe(0);
    q.post([{ addr: buf, len: 16, write: true }]);
    d.transport.notify(0);
    expect(d.irq.raised).toBe(1);
  });
});

describe('a hostile driver', () => {
  it('a malformed queue sets DEVICE_NEEDS_RESET, raises a config interrupt, warns once; notifies are then ignored', () => {
    const d = new TestDriver(mem, new VirtioRng());
    d.start({ queueSize: 4 });
    const q = d.queues[0]!;
    q.writeDesc(q.desc, 0, 0x1000n, 16, 2, 0); // outside RAM
    q.publish(0);
    for (let i = 0; i < 100; i++) d.transport.notify(0);
    expect(d.status).toBe(STARTED | S.DEVICE_NEEDS_RESET);
    expect(d.read(R.InterruptStatus) & VIRTIO_MMIO_INT_CONFIG).toBe(VIRTIO_MMIO_INT_CONFIG);
    expect(d.irq.level).toBe(true);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatch(/virtio-mmio\.0 \(virtio-rng\): buffer 0x1000\+0x10 is outside RAM; the device needs a reset/);
    // the driver cannot clear it except by a reset
    d.write(R.Status, STARTED);
    expect(d.needsReset).toBe(true);
    d.write(R.Status, 0);
    expect(d.status).toBe(0);
    d.start({ queueSize: 4 });
    const q2 = d.queues[0]!;
    q2.post([{ addr: d.buffer(8), len: 8, write: true }]);
    d.transport.notify(0);
    expect(q2.takeUsed()).toHaveLength(1);
  });

  it('rings outside RAM or of a bad size at DRIVER_OK: NEEDS_RESET, not a throw', () => {
    for (const size of [3, 64]) {
      const d = new TestDriver(mem, new ProbeDevice());
      d.negotiate();
      d.setupQueue(0, 8);
      d.write(R.QueueSel, 1);
      d.write(R.QueueReady, 0);
      d.write(R.QueueNum, size); // 3: not a power of two; 64: above QueueNumMax (16)
      d.write(R.QueueReady, 1);
      d.write(R.Status, STARTED);
      expect(d.needsReset).toBe(true);
      expect(d.warnings[0]).toMatch(/queue setup/);
    }
    const d = new TestDriver(mem, new ProbeDevice());
    d.negotiate();
    d.setupQueue(0, 8);
    d.write(R.QueueDescHigh, 0xffff_ffff);
    d.write(R.QueueSel, 0);
    d.write(R.QueueReady, 0);
    d.write(R.QueueDescHigh, 0xffff_ffff);
    d.write(R.QueueReady, 1);
    d.write(R.Status, STARTED);
    expect(d.needsReset).toBe(true);
    expect(d.warnings[0]).toMatch(/descriptor table .* outside RAM/);
  });

  it('a backend that throws while serving a notify: NEEDS_RESET and one warning, nothing escapes', () => {
    const probe = new ProbeDevice();
    const d = new TestDriver(mem, probe);
    d.start({ queueSize: 4 });
    probe.throwOnNotify = new TypeError('boom');
    expect(() => d.transport.notify(0)).not.toThrow();
    expect(() => d.transport.notify(0)).not.toThrow();
    expect(d.needsReset).toBe(true);
    expect(probe.notified).toEqual([0]);
    expect(d.warnings).toEqual(['virtio-mmio.0 (probe): internal error: boom; the device needs a reset']);
  });
});

describe('save and restore', () => {
  it('carries registers and ring positions over to a new transport', () => {
    const heap = new GuestHeap();
    const d = new TestDriver(mem, new VirtioRng(), heap);
    d.start({ queueSize: 8 });
    const q = d.queues[0]!;
    const buf = d.buffer(16);
    q.post([{ addr: buf, len: 16, write: true }]);
    q.post([{ addr: buf, len: 16, write: true }]);
    d.transport.notify(0);
    expect(q.takeUsed()).toHaveLength(2);
    const state: VirtioMmioState = JSON.parse(JSON.stringify(d.transport.save()));
    expect(state.queues[0]).toMatchObject({ num: 8, ready: true, lastAvail: 2, usedIdx: 2 });

    const irq = new TestIrq();
    const t2 = new VirtioMmioTransport(0, new VirtioRng(), mem.guest, hostInterruptStatus(irq));
    t2.restore(state);
    expect(t2.read(R.Status, 4)).toBe(STARTED);
    expect(irq.level).toBe(true); // the pending interrupt is carried too
    q.post([{ addr: buf, len: 16, write: true }]);
    t2.notify(0);
    expect(q.takeUsed()).toEqual([{ id: 2, len: 16 }]);
    expect(() => t2.restore({ ...state, queues: [] })).toThrow(/queue count/);
    expect(() => t2.restore({ ...state, driverFeatures: '-1' })).toThrow(/driverFeatures/);
  });
});
