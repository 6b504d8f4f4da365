/** virtio-net (src/devices/virtio/net/net.ts) over the in-process netdev: frames both ways, header, backpressure, link status. */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import { VirtioMmioReg as R } from '../src/devices/virtio/mmio.js';
import { onesComplementSum } from '../src/devices/virtio/net/checksum.js';
import { VirtioNet, macBytes, completeChecksum } from '../src/devices/virtio/net/net.js';
import { InprocessNetBackend } from '../src/netdev/index.js';
import { TestDriver, newMemory, waitFor } from './virtio-driver.js';

const mem: VmMemory = newMemory();
beforeEach(() => mem.clearRam());
const HDR = 12;
const MAC = macBytes('52:54:00:12:34:56');
const F_CSUM = 1n << 0n, F_GUEST_CSUM = 1n << 1n, F_MRG_RXBUF = 1n << 15n;
/** The transport's and the device's basic features, without the offloads. */
const PLAIN = (1n << 32n) | (1n << 5n) | (1n << 16n);

function frame(n: number, tag: number): Buffer {
  const f = Buffer.alloc(n);
  for (let i = 0; i < n; i++) f[i] = (i * 7 + tag) & 0xff;
  return f;
}

describe('virtio-net', () => {
  it('is device 1, offers MAC, STATUS, the checksum offloads and mergeable buffers, and shows the MAC and link in config space', () => {
    const backend = new InprocessNetBackend('n0');
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    expect(d.read(R.DeviceID)).toBe(1);
    const want = (1n << 5n) | (1n << 16n) | F_CSUM | F_GUEST_CSUM | F_MRG_RXBUF;
    expect(d.deviceFeatures() & want).toBe(want);
    const cfg = Array.from({ length: 8 }, (_, i) => d.transport.read(0x100 + i, 1));
    expect(cfg.slice(0, 6)).toEqual([...MAC]);
    expect(cfg[6]! & 1).toBe(1); // VIRTIO_NET_S_LINK_UP
    expect(() => macBytes('52:54:00:12:34')).toThrow(/expected six hex bytes/);
    expect(() => macBytes('01:00:5e:00:00:01')).toThrow(/multicast/);
  });

  it('transmits frames after the 12-byte header and receives with num_buffers = 1 (no offloads negotiated)', async () => {
    const backend = new InprocessNetBackend('n0');
    const sent: Buffer[] = [];
    backend.on('frame', (f: Buffer) => sent.push(f));
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    d.start({ queueSize: 16, features: PLAIN });
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
    d.start({ queueSize: 16, features: PLAIN });
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
    d.start({ queueSize: 16, features: PLAIN });
    const rx = d.queues[0]!;
    const small = d.buffer(HDR + 32);
    const h = rx.post([{ addr: small, len: HDR + 32, write: true }]);
    d.transport.notify(0);
    backend.inject(frame(200, 7));
    await waitFor(() => rx.usedIdx() === 1, 2000, 'the small buffer returned');
    expect(rx.takeUsed()).toEqual([{ id: h, len: 0 }]);
    expect(net.rxDropped).toBe(2);
  });

  it('with mergeable buffers, spreads a big frame over as many buffers as it takes, waiting for the guest to post enough', async () => {
    const backend = new InprocessNetBackend('n0');
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    d.start({ queueSize: 64 });
    const rx = d.queues[0]!;
    const big = frame(9000, 8);
    const bufs = Array.from({ length: 3 }, () => d.buffer(2048));
    const heads = bufs.map((b) => rx.post([{ addr: b, len: 2048, write: true }]));
    d.transport.notify(0);
    backend.inject(big); // needs 5 buffers of 2 KiB: 3 posted
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.usedIdx()).toBe(0);
    const more = Array.from({ length: 3 }, () => d.buffer(2048));
    heads.push(...more.map((b) => rx.post([{ addr: b, len: 2048, write: true }])));
    bufs.push(...more);
    d.transport.notify(0);
    await waitFor(() => rx.usedIdx() === 5, 2000, 'five used buffers');
    const used = rx.takeUsed();
    expect(used.map((u) => u.id)).toEqual(heads.slice(0, 5));
    expect(used.map((u) => u.len)).toEqual([2048, 2048, 2048, 2048, HDR + 9000 - 4 * 2048]);
    const packet = Buffer.concat(used.map((u, i) => Buffer.from(d.bytes(bufs[i]!, u.len))));
    expect(packet[0]).toBe(2); // DATA_VALID: GUEST_CSUM was negotiated
    expect(packet.readUInt16LE(10)).toBe(5); // num_buffers
    expect(packet.subarray(HDR).equals(big)).toBe(true);
  });

  it('publishes the buffers of one packet together: the guest never sees a part of its num_buffers', async () => {
    const backend = new InprocessNetBackend('n0');
    const d = new TestDriver(mem, new VirtioNet(backend, MAC));
    d.start({ queueSize: 64 });
    const rx = d.queues[0]!;
    const bufs = Array.from({ length: 8 }, () => d.buffer(2048));
    for (const b of bufs) rx.post([{ addr: b, len: 2048, write: true }]);
    d.transport.notify(0);
    // every value the device stores into the used index (Linux's driver, on another vCPU, may read it between two)
    const seen: number[] = [];
    const guest = mem.guest;
    const store = guest.storeU16Atomic.bind(guest);
    guest.storeU16Atomic = (addr: bigint, v: number) => { if (addr === rx.used + 2n) seen.push(v); store(addr, v); };
    try {
      backend.inject(frame(9000, 3)); // 5 buffers
      backend.inject(frame(100, 4)); // 1 buffer
      await waitFor(() => rx.usedIdx() === 6, 2000, 'six used buffers');
    } finally {
      guest.storeU16Atomic = store;
    }
    expect(seen).toEqual([5, 6]);
    const packet = Buffer.from(d.bytes(bufs[0]!, 2048));
    expect(packet.readUInt16LE(10)).toBe(5); // num_buffers
  });

  it('completes a partial checksum the guest asks for (CSUM) and drops a frame whose checksum lies outside it', () => {
    // an IPv4/UDP frame: the UDP checksum over the pseudo-header, header and payload
    const payload = Buffer.from('hello, checksum offload');
    const f = Buffer.alloc(14 + 20 + 8 + payload.length);
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45; f.writeUInt16BE(20 + 8 + payload.length, 16); f[22] = 64; f[23] = 17;
    Buffer.from([10, 0, 2, 15]).copy(f, 26); Buffer.from([10, 0, 2, 2]).copy(f, 30);
    f.writeUInt16BE(1234, 34); f.writeUInt16BE(5678, 36); f.writeUInt16BE(8 + payload.length, 38);
    payload.copy(f, 42);
    const sum16 = (b: Buffer): number => {
      let s = 0;
      for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) + (b[i + 1] ?? 0);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      return s;
    };
    const pseudo = Buffer.concat([f.subarray(26, 34), Buffer.from([0, 17]), Buffer.from([0, 8 + payload.length])]);
    const full = ~sum16(Buffer.concat([pseudo, f.subarray(34)])) & 0xffff;
    // what a guest with CSUM sends: the pseudo-header's sum (not inverted) in the checksum field
    const partial = Buffer.from(f);
    partial.writeUInt16BE(sum16(pseudo), 40);
    const header = Buffer.alloc(HDR);
    header[0] = 1; // NEEDS_CSUM
    header.writeUInt16LE(34, 6); header.writeUInt16LE(6, 8);
    expect(completeChecksum(header, partial)).toBe(true);
    expect(partial.readUInt16BE(40)).toBe(full);
    const bad = Buffer.from(header);
    bad.writeUInt16LE(f.length - 1, 6);
    expect(completeChecksum(bad, Buffer.from(f))).toBe(false);
    const gso = Buffer.alloc(HDR); gso[1] = 1;
    expect(completeChecksum(gso, Buffer.from(f))).toBe(false);
    expect(completeChecksum(Buffer.alloc(HDR), Buffer.from(f))).toBe(true);
  });

  it('sums like RFC 1071 over any range and alignment (the word-at-a-time path against a byte-pair reference)', () => {
    // reference: big-endian 16-bit words, an odd last byte padded, carries folded back in
    const reference = (b: Uint8Array, start: number, end: number): number => {
      let s = 0;
      for (let i = start; i < end; i += 2) {
        s += (b[i]! << 8) + (i + 1 < end ? b[i + 1]! : 0);
        s = (s & 0xffff) + (s >>> 16);
      }
      return s;
    };
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(7), fc.nat(3000), fc.nat(3000),
      (bytes, shift, x, y) => {
        const backing = new Uint8Array(bytes.length + 8);
        const b = backing.subarray(shift, shift + bytes.length); // every byteOffset alignment
        b.set(bytes);
        const start = Math.min(x, y) % (bytes.length + 1), end = Math.min(bytes.length, start + Math.max(x, y));
        expect(onesComplementSum(b, start, end)).toBe(reference(b, start, end));
      }), { numRuns: 2000 });
    // all-ones words: the sum folds to 0xffff, never to 0; a 64 KiB frame of them
    const big = new Uint8Array(65550).fill(0xff);
    expect(onesComplementSum(big, 34, big.length)).toBe(0xffff);
    expect(onesComplementSum(big, 0, 0)).toBe(0);
    expect(onesComplementSum(new Uint8Array(100), 2, 100)).toBe(0);
    const ramp = Uint8Array.from({ length: 65550 }, (_, i) => (i * 131 + 7) & 0xff);
    expect(onesComplementSum(ramp, 34, ramp.length)).toBe(reference(ramp, 34, ramp.length));
  });
});
