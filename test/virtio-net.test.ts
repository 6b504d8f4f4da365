/** virtio-net (src/devices/virtio/net/net.ts) over the in-process netdev: frames both ways, header, backpressure, link status. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import { VirtioMmioReg as R } from '../src/devices/virtio/mmio.js';
import { VirtioNet, parseMacAddress } from '../src/devices/virtio/net/net.js';
import { InprocessNetBackend } from '../src/netdev/index.js';
import { TestDriver, newMemory, waitFor } from './virtio-driver.js';

const mem: VmMemory = newMemory();
beforeEach(() => mem.clearRam());
const HDR = 12;
const MAC = parseMacAddress('52:54:00:12:34:56')!;

function frame(n: number, tag: number): Buffer {
  const f = Buffer.alloc(n);
  for (let i = 0; i < n; i++) f[i] = (i * 7 + tag) & 0xff;
  return f;
}

describe('virtio-net', () => {
  it('is device 1, offers MAC and STATUS, and shows the MAC and link in config space', () => {
    const backend = new InprocessNetBackend('n0');
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    expect(d.read(R.DeviceID)).toBe(1);
    expect(d.deviceFeatures() & ((1n << 5n) | (1n << 16n))).toBe((1n << 5n) | (1n << 16n));
    const cfg = Array.from({ length: 8 }, (_, i) => d.transport.read(0x100 + i, 1));
    expect(cfg.slice(0, 6)).toEqual([...MAC]);
    expect(cfg[6]! & 1).toBe(1); // VIRTIO_NET_S_LINK_UP
    expect(parseMacAddress('52:54:00:12:34')).toBeUndefined();
  });

  it('transmits frames after the 12-byte header and receives with num_buffers = 1', async () => {
    const backend = new InprocessNetBackend('n0');
    const sent: Buffer[] = [];
    backend.on('frame', (f: Buffer) => sent.push(f));
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    d.start({ queueSize: 16 });
    const [rx, tx] = [d.queues[0]!, d.queues[1]!];

    const out = frame(60, 1);
    const hdr = d.put(new Uint8Array(HDR));
    const body = d.put(out);
    const h = tx.post([{ addr: hdr, len: HDR }, { addr: body, len: out.length }]);
    d.transport.notify(1);
    expect(tx.takeUsed()).toEqual([{ id: h, len: 0 }]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.equals(out)).toBe(true);

    const buf = d.buffer(HDR + 1514);
    const rh = rx.post([{ addr: buf, len: HDR + 1514, write: true }]);
    d.transport.notify(0);
    const incoming = frame(98, 2);
    backend.inject(incoming);
    await waitFor(() => rx.usedIdx() === 1, 2000, 'a used receive buffer');
    const used = rx.takeUsed();
    expect(used).toEqual([{ id: rh, len: HDR + incoming.length }]);
    const got = d.bytes(buf, HDR + incoming.length);
    expect([...got.subarray(0, HDR)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(Buffer.from(got.subarray(HDR)).equals(incoming)).toBe(true);
    expect(d.irq.level).toBe(true);
  });

  it('holds frames (and pauses the backend) while the guest has no receive buffer, then delivers them in order', async () => {
    const backend = new InprocessNetBackend('n0');
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    d.start({ queueSize: 16 });
    const rx = d.queues[0]!;
    const frames = [frame(64, 3), frame(65, 4), frame(66, 5)];
    for (const f of frames) backend.inject(f);
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.takeUsed()).toEqual([]);
    const bufs = frames.map(() => d.buffer(HDR + 1514));
    const heads = bufs.map((b) => rx.post([{ addr: b, len: HDR + 1514, write: true }]));
    d.transport.notify(0);
    await waitFor(() => rx.usedIdx() === 3, 2000, 'three used receive buffers');
    expect(rx.takeUsed()).toEqual(heads.map((id, i) => ({ id, len: HDR + frames[i]!.length })));
    frames.forEach((f, i) => expect(Buffer.from(d.bytes(bufs[i]! + BigInt(HDR), f.length)).equals(f)).toBe(true));
  });

  it('drops frames for a device the driver has not started, and a frame too big for the buffer', async () => {
    const backend = new InprocessNetBackend('n0');
    const net = new VirtioNet(backend, MAC);
    const d = new TestDriver(mem, net);
    backend.inject(frame(60, 6));
    await new Promise((r) => setTimeout(r, 20));
    expect(net.rxDropped).toBe(1);
    d.start({ queueSize: 16 });
    const rx = d.queues[0]!;
    const small = d.buffer(HDR + 32);
    const h = rx.post([{ addr: small, len: HDR + 32, write: true }]);
    d.transport.notify(0);
    backend.inject(frame(200, 7));
    await waitFor(() => rx.usedIdx() === 1, 2000, 'the small buffer returned');
    expect(rx.takeUsed()).toEqual([{ id: h, len: 0 }]);
    expect(net.rxDropped).toBe(2);
  });
});
