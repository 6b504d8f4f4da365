/** The device manager (src/machine/devices.ts): slots, IRQ lines, the bus from the board table, notify routing, save/restore. */
import { describe, expect, it } from 'vitest';
import * as BOARD from '../assembly/board.js';
import { DeviceManager } from '../src/machine/devices.js';
import { VirtioRng } from '../src/devices/virtio/rng/rng.js';
import { VirtioMmioReg as R } from '../src/devices/virtio/mmio.js';
import { newMemory } from './virtio-driver.js';
import { hostInterruptStatus, type InterruptStatus } from '../src/devices/device.js';

const mem = newMemory();
const noLine = (): InterruptStatus => hostInterruptStatus({ set: () => {} });

describe('DeviceManager', () => {
  it('puts the RTC and the eight virtio-mmio slots on the bus at the board addresses, devices from the top slot down', () => {
    const dm = new DeviceManager(mem, [new VirtioRng(), new VirtioRng()], noLine, () => {});
    expect(dm.bus.map((r) => Number(r.base))).toEqual([
      BOARD.RTC_BASE, ...Array.from({ length: BOARD.VIRTIO_SLOTS }, (_, i) => BOARD.VIRTIO_BASE + i * BOARD.VIRTIO_SIZE),
    ]);
    const ids = dm.transports.map((t) => t.read(R.DeviceID, 4));
    expect(ids).toEqual([0, 0, 0, 0, 0, 0, 4, 4]);
    expect(dm.transports.map((t) => t.read(R.MagicValue, 4))).toEqual(Array(8).fill(0x74726976));
  });

  it('routes doorbell bits to the slot and saves and restores every device as plain data', () => {
    const dm = new DeviceManager(mem, [new VirtioRng()], noLine, () => {});
    const t = dm.transports[BOARD.VIRTIO_SLOTS - 1]!;
    t.write(R.Status, 4, 1);
    t.write(R.Status, 4, 1 | 2);
    const rtc = dm.bus[0]!.device;
    rtc.write(4, 4, 0x1234);  // TIME_HIGH, then TIME_LOW sets the clock
    rtc.write(0, 4, 0);
    const saved = JSON.parse(JSON.stringify(dm.save())) as unknown[];
    const copy = new DeviceManager(mem, [new VirtioRng()], noLine, () => {});
    copy.restore(saved);
    expect(copy.transports[BOARD.VIRTIO_SLOTS - 1]!.read(R.Status, 4)).toBe(3);
    copy.bus[0]!.device.read(0, 4); // TIME_LOW latches TIME_HIGH of the clock the guest set
    expect(copy.bus[0]!.device.read(4, 4)).toBe(0x1234);
    expect(() => copy.restore([])).toThrow(/device state for 0 devices/);
    dm.notify(BOARD.VIRTIO_SLOTS - 1, 0b1); // a queue that is not ready: ignored, no throw
    dm.notify(99, 0b1);
  });
});
