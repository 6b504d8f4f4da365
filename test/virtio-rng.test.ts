/** virtio-rng (src/devices/virtio/rng/rng.ts): random bytes into every writable buffer, up to 64 KiB a request. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import { VirtioMmioReg as R } from '../src/devices/virtio/mmio.js';
import { RNG_MAX_REQUEST, VirtioRng } from '../src/devices/virtio/rng/rng.js';
import { GuestHeap, TestDriver, newMemory, waitFor } from './virtio-driver.js';

const mem: VmMemory = newMemory();
beforeEach(() => mem.clearRam());

/** Distinct byte values: 256 random bytes essentially never show fewer than 100. */
const distinct = (b: Uint8Array) => new Set(b).size;

describe('virtio-rng', () => {
  it('is device 4 with one queue and fills each posted buffer, split or indirect', () => {
    const d = new TestDriver(mem, new VirtioRng());
    expect(d.read(R.DeviceID)).toBe(4);
    d.start({ queueSize: 16 });
    const q = d.queues[0]!;
    const a = d.buffer(256), b = d.buffer(100), c = d.buffer(156);
    const h1 = q.post([{ addr: a, len: 256, write: true }]);
    const h2 = q.post([{ addr: b, len: 100, write: true }, { addr: c, len: 156, write: true }], new GuestHeap(0x8090_0000n));
    d.transport.notify(0);
    expect(q.takeUsed()).toEqual([{ id: h1, len: 256 }, { id: h2, len: 256 }]);
    expect(distinct(d.bytes(a, 256))).toBeGreaterThan(100);
    expect(distinct(new Uint8Array([...d.bytes(b, 100), ...d.bytes(c, 156)]))).toBeGreaterThan(100);
    expect(d.irq.level).toBe(true);
  });

  it('gives at most 64 KiB per request and nothing for a chain without writable buffers', () => {
    const d = new TestDriver(mem, new VirtioRng());
    d.start({ queueSize: 16 });
    const q = d.queues[0]!;
    const big = d.buffer(RNG_MAX_REQUEST + 4096);
    const h1 = q.post([{ addr: big, len: RNG_MAX_REQUEST + 4096, write: true }]);
    const h2 = q.post([{ addr: d.buffer(64), len: 64 }]);
    d.transport.notify(0);
    expect(q.takeUsed()).toEqual([{ id: h1, len: RNG_MAX_REQUEST }, { id: h2, len: 0 }]);
    expect(d.bytes(big + BigInt(RNG_MAX_REQUEST), 4096).every((x) => x === 0)).toBe(true);
  });

  it('a driver that keeps posting is served one queue per turn of the event loop', async () => {
    const d = new TestDriver(mem, new VirtioRng());
    d.start({ queueSize: 4 });
    const q = d.queues[0]!;
    const buf = d.buffer(8);
    for (let i = 0; i < 4; i++) q.post([{ addr: buf, len: 8, write: true }]);
    d.transport.notify(0);
    expect(q.usedIdx()).toBe(4);
    // it posted more while the device worked: picked up on the next turn without a notify
    for (let i = 0; i < 4; i++) q.post([{ addr: buf, len: 8, write: true }]);
    await waitFor(() => q.usedIdx() === 8);
  });
});
