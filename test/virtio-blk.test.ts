/**
 * virtio-blk (src/devices/virtio/blk/) against temporary raw image files,
 * through the MMIO transport and real guest RAM: reads, writes, flush,
 * GET_ID, DISCARD, WRITE_ZEROES, range checks, readonly and snapshot
 * modes, image validation, host I/O errors, a reset with I/O in flight.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import { WkvmError } from '../src/errors.js';
import { VirtioMmioReg as R, VirtioStatus as S } from '../src/devices/virtio/mmio.js';
import {
  VirtioBlock, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, type BlockCacheMode,
} from '../src/devices/virtio/blk/blk.js';
import { openBlockImage } from '../src/devices/virtio/blk/open.js';
import { RawFileStore, SnapshotStore, SyncFileStore, type BlockStore } from '../src/devices/virtio/blk/store.js';
import { type Buf, type DriverQueue, GuestHeap, TestDriver, newMemory, waitFor } from './virtio-driver.js';

const mem: VmMemory = newMemory();
const dir = mkdtempSync(join(tmpdir(), 'wkvm-blk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => mem.clearRam());

let imageCount = 0;
/** A fresh image of `size` random bytes; returns its path and contents. */
function makeImage(size: number, name?: string): { file: string; data: Buffer } {
  const file = join(dir, name ?? `disk${imageCount++}.img`);
  const data = randomBytes(size);
  writeFileSync(file, data);
  return { file, data };
}
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

interface Request { head: number; status: bigint; data: bigint; dataLen: number }

/** Build a request chain: header, then (OUT/discard) readable data or (IN/GET_ID) writable data, then status. */
function request(d: TestDriver, q: DriverQueue, type: number, sector: bigint,
  opts: { out?: Uint8Array; inLen?: number; split?: number[]; indirect?: GuestHeap } = {}): Request {
  const hdr = new Uint8Array(16);
  const v = new DataView(hdr.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, sector, true);
  const bufs: Buf[] = [{ addr: d.put(hdr), len: 16 }];
  const dataLen = opts.out?.length ?? opts.inLen ?? 0;
  const data = opts.out ? d.put(opts.out) : d.buffer(Math.max(dataLen, 1));
  // data split into descriptors of the given sizes (the last takes the rest)
  const sizes = opts.split ?? [dataLen];
  let off = 0;
  sizes.forEach((n, i) => {
    const len = i === sizes.length - 1 ? dataLen - off : n;
    if (len > 0) bufs.push({ addr: data + BigInt(off), len, write: !opts.out });
    off += len;
  });
  const status = d.buffer(1);
  d.mem.ram(status, 1)[0] = 0xff;
  bufs.push({ addr: status, len: 1, write: true });
  const head = q.post(bufs, opts.indirect);
  return { head, status, data, dataLen };
}

const statusOf = (d: TestDriver, r: Request) => d.mem.ram(r.status, 1)[0];

/** Notify, then wait until `n` more used entries appeared; returns them. */
async function serve(d: TestDriver, q: DriverQueue, n = 1): Promise<{ id: number; len: number }[]> {
  const target = (q.lastUsed + n) & 0xffff;
  d.transport.notify(0);
  await waitFor(() => ((q.usedIdx() - target) & 0xffff) < 0x8000, 5000, 'used entries');
  return q.takeUsed();
}

async function blkDriver(opts: { file: string; readonly?: boolean; snapshot?: boolean; cache?: BlockCacheMode; serial?: string }) {
  const dev = await openBlockImage(opts);
  const d = new TestDriver(mem, dev);
  d.start({ queueSize: 128 });
  return { d, q: d.queues[0]!, dev };
}

/** A store that can hold requests at a gate, fail, and count flushes. */
class TestStore implements BlockStore {
  gated = false;
  /** Hold each read at the gate after its file I/O, not before: the thread pool then cannot reorder completions (release them with releaseAt). */
  gateAfterRead = false;
  failing = false;
  flushes = 0;
  active = 0;
  maxActive = 0;
  private gates: { at: number; go: () => void }[] = [];
  constructor(private readonly inner: BlockStore) {}
  get size(): number { return this.inner.size; }
  get waiting(): number { return this.gates.length; }
  /** Let the held operation `i` (in arrival order) go. */
  release(i = 0): void { this.gates.splice(i, 1)[0]!.go(); }
  /** Let the held operation at byte position `at` go (held reads arrive in the order the thread pool ends them). */
  releaseAt(at: number): void {
    const i = this.gates.findIndex((g) => g.at === at);
    if (i < 0) throw new Error(`no operation at ${at} is held`);
    this.release(i);
  }
  private async enter(at = -1): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.gated) await new Promise<void>((r) => this.gates.push({ at, go: r }));
      if (this.failing) throw new Error('EIO: i/o error');
    } finally {
      this.active--;
    }
  }
  async read(s: readonly Uint8Array[], p: number) {
    if (!this.gateAfterRead) { await this.enter(); await this.inner.read(s, p); return; }
    await this.inner.read(s, p);
    await this.enter(p);
  }
  async write(s: readonly Uint8Array[], p: number) { await this.enter(); await this.inner.write(s, p); }
  async writeZeroes(p: number, n: number) { await this.enter(); await this.inner.writeZeroes(p, n); }
  async flush() { await this.enter(); this.flushes++; await this.inner.flush(); }
  async close() { await this.inner.close(); }
}

async function testStoreDriver(size: number, cache: BlockCacheMode = 'writeback', queueSize = 64) {
  const { file, data } = makeImage(size);
  const fh = await open(file, 'r+');
  const store = new TestStore(new RawFileStore(fh, size));
  const dev = new VirtioBlock(store, { serial: 'test', readonly: false, cache });
  const d = new TestDriver(mem, dev);
  d.start({ queueSize });
  return { d, q: d.queues[0]!, dev, store, file, data };
}

describe('requests', () => {
  it('IN reads sectors byte for byte into a split buffer; used length counts data and status', async () => {
    const { file, data } = makeImage(64 * 1024);
    const { d, q } = await blkDriver({ file });
    const r = request(d, q, VIRTIO_BLK_T_IN, 3n, { inLen: 2048, split: [100, 1000, 948] });
    expect(await serve(d, q)).toEqual([{ id: r.head, len: 2049 }]);
    expect(statusOf(d, r)).toBe(VIRTIO_BLK_S_OK);
    expect(Buffer.from(d.bytes(r.data, 2048))).toEqual(data.subarray(1536, 1536 + 2048));
  });

  it('OUT writes the guest bytes into the image; a read gives them back', async () => {
    const { file } = makeImage(64 * 1024);
    const { d, q, dev } = await blkDriver({ file });
    const bytes = randomBytes(1024);
    const w = request(d, q, VIRTIO_BLK_T_OUT, 10n, { out: bytes, split: [512] });
    expect(await serve(d, q)).toEqual([{ id: w.head, len: 1 }]);
    expect(statusOf(d, w)).toBe(VIRTIO_BLK_S_OK);
    expect(readFileSync(file).subarray(5120, 5120 + 1024)).toEqual(bytes);
    const r = request(d, q, VIRTIO_BLK_T_IN, 10n, { inLen: 1024 });
    await serve(d, q);
    expect(Buffer.from(d.bytes(r.data, 1024))).toEqual(bytes);
    await dev.close();
  });

  it('serves requests from indirect tables, concurrently, completing in the order the host finishes them', async () => {
    const { d, q, store, data } = await testStoreDriver(64 * 1024);
    store.gated = true;
    store.gateAfterRead = true; // the order of completions is the order of release(), not the thread pool's
    const heap = new GuestHeap(0x8080_0000n);
    const reqs = [0n, 8n, 16n].map((s) => request(d, q, VIRTIO_BLK_T_IN, s, { inLen: 4096, indirect: heap }));
    d.transport.notify(0);
    await waitFor(() => store.waiting === 3, 5000, 'three reads in flight');
    store.releaseAt(2 * 4096);
    store.releaseAt(4096);
    store.releaseAt(0);
    await waitFor(() => q.usedIdx() === 3);
    expect(q.takeUsed().map((u) => u.id)).toEqual([reqs[2]!.head, reqs[1]!.head, reqs[0]!.head]);
    reqs.forEach((r, i) => expect(Buffer.from(d.bytes(r.data, 4096))).toEqual(data.subarray(i * 4096, (i + 1) * 4096)));
  });

  it('FLUSH syncs the image (writeback), after every write (writethrough), never (unsafe)', async () => {
    for (const [cache, afterWrite, afterFlush] of [['writeback', 0, 1], ['writethrough', 1, 2], ['unsafe', 0, 0], ['none', 0, 1]] as const) {
      const { d, q, store } = await testStoreDriver(8192, cache);
      request(d, q, VIRTIO_BLK_T_OUT, 0n, { out: new Uint8Array(512) });
      await serve(d, q);
      expect(store.flushes, cache).toBe(afterWrite);
      const f = request(d, q, VIRTIO_BLK_T_FLUSH, 0n);
      await serve(d, q);
      expect(statusOf(d, f)).toBe(VIRTIO_BLK_S_OK);
      expect(store.flushes, cache).toBe(afterFlush);
    }
  });

  it('GET_ID gives the serial, NUL-padded to 20 bytes, or the file name cut to 20', async () => {
    const one = await blkDriver({ file: makeImage(4096).file, serial: 'my-disk-01' });
    const r = request(one.d, one.q, VIRTIO_BLK_T_GET_ID, 0n, { inLen: 20 });
    expect(await serve(one.d, one.q)).toEqual([{ id: r.head, len: 21 }]);
    expect(Buffer.from(one.d.bytes(r.data, 20))).toEqual(Buffer.concat([Buffer.from('my-disk-01'), Buffer.alloc(10)]));
    const two = await blkDriver({ file: makeImage(4096, 'a-rather-long-disk-image-name.img').file });
    const r2 = request(two.d, two.q, VIRTIO_BLK_T_GET_ID, 0n, { inLen: 20 });
    await serve(two.d, two.q);
    expect(Buffer.from(two.d.bytes(r2.data, 20)).toString()).toBe('a-rather-long-disk-i');
  });

  it('IOERR for ranges past the end or partial sectors, UNSUPP for unknown types; the image is untouched', async () => {
    const { file } = makeImage(16 * 512);
    const before = sha(file);
    const { d, q } = await blkDriver({ file });
    const cases: [Request, number][] = [
      [request(d, q, VIRTIO_BLK_T_IN, 15n, { inLen: 1024 }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_IN, 16n, { inLen: 512 }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_IN, 0xffff_ffff_ffff_ffffn, { inLen: 512 }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_OUT, 1n << 55n, { out: new Uint8Array(512) }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_OUT, 0n, { out: new Uint8Array(100) }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_IN, 0n, { inLen: 513 }), VIRTIO_BLK_S_IOERR],
      [request(d, q, 99, 0n, { inLen: 512 }), VIRTIO_BLK_S_UNSUPP],
      [request(d, q, VIRTIO_BLK_T_IN, 15n, { inLen: 512 }), VIRTIO_BLK_S_OK],
    ];
    await serve(d, q, cases.length);
    expect(cases.map(([r]) => statusOf(d, r))).toEqual(cases.map(([, s]) => s));
    expect(sha(file)).toBe(before);
    expect(d.needsReset).toBe(false);
  });

  it('WRITE_ZEROES zeroes the range for real; DISCARD checks its range; flags as the spec says', async () => {
    const { file, data } = makeImage(64 * 1024);
    const { d, q } = await blkDriver({ file });
    const seg = (sector: bigint, count: number, flags: number) => {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      v.setBigUint64(0, sector, true);
      v.setUint32(8, count, true);
      v.setUint32(12, flags, true);
      return b;
    };
    const cases: [Request, number][] = [
      [request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: seg(3n, 5, 0) }), VIRTIO_BLK_S_OK],
      [request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: seg(20n, 1, 1) }), VIRTIO_BLK_S_OK], // unmap allowed
      [request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: seg(30n, 1, 2) }), VIRTIO_BLK_S_UNSUPP],
      [request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: seg(127n, 2, 0) }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: seg(0n, 0xffff_ffff, 0) }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: new Uint8Array([...seg(40n, 1, 0), ...seg(41n, 1, 0)]) }), VIRTIO_BLK_S_IOERR],
      [request(d, q, VIRTIO_BLK_T_DISCARD, 0n, { out: seg(50n, 8, 0) }), VIRTIO_BLK_S_OK],
      [request(d, q, VIRTIO_BLK_T_DISCARD, 0n, { out: seg(50n, 8, 1) }), VIRTIO_BLK_S_UNSUPP],
      [request(d, q, VIRTIO_BLK_T_DISCARD, 0n, { out: seg(125n, 8, 0) }), VIRTIO_BLK_S_IOERR],
    ];
    await serve(d, q, cases.length);
    expect(cases.map(([r]) => statusOf(d, r))).toEqual(cases.map(([, s]) => s));
    const expected = Buffer.from(data);
    expected.fill(0, 3 * 512, 8 * 512);
    expected.fill(0, 20 * 512, 21 * 512);
    expect(readFileSync(file).equals(expected)).toBe(true);
  });
});

describe('modes', () => {
  it('readonly: offers RO, writes get IOERR, the image stays byte-identical, reads work', async () => {
    const { file, data } = makeImage(8192);
    const before = sha(file);
    const { d, q, dev } = await blkDriver({ file, readonly: true });
    expect(dev.features & VIRTIO_BLK_F_RO).toBe(VIRTIO_BLK_F_RO);
    expect(dev.features & VIRTIO_BLK_F_DISCARD).toBe(0n);
    const w = request(d, q, VIRTIO_BLK_T_OUT, 0n, { out: new Uint8Array(512) });
    const z = request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: new Uint8Array(16) });
    const r = request(d, q, VIRTIO_BLK_T_IN, 1n, { inLen: 512 });
    await serve(d, q, 3);
    expect([statusOf(d, w), statusOf(d, z), statusOf(d, r)]).toEqual([VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK]);
    expect(Buffer.from(d.bytes(r.data, 512))).toEqual(data.subarray(512, 1024));
    expect(sha(file)).toBe(before);
  });

  it('snapshot: the guest reads back its own writes (any alignment), the image stays byte-identical', async () => {
    const size = 64 * 1024;
    const { file, data } = makeImage(size);
    const before = sha(file);
    const { d, q, dev } = await blkDriver({ file, snapshot: true });
    const model = Buffer.from(data);
    // disjoint: requests run concurrently, so overlapping writes have no defined order
    const writes: [bigint, number][] = [[1n, 3], [7n, 1], [8n, 8], [30n, 1], [64n, 40], [127n, 1]];
    for (const [sector, count] of writes) {
      const bytes = randomBytes(count * 512);
      request(d, q, VIRTIO_BLK_T_OUT, sector, { out: bytes, split: [300] });
      bytes.copy(model, Number(sector) * 512);
    }
    await serve(d, q, writes.length);
    const zero = new Uint8Array(16);
    new DataView(zero.buffer).setBigUint64(0, 9n, true);
    new DataView(zero.buffer).setUint32(8, 20, true); // sectors 9..28: partial chunks at both ends, whole ones between
    request(d, q, VIRTIO_BLK_T_WRITE_ZEROES, 0n, { out: zero });
    model.fill(0, 9 * 512, 29 * 512);
    await serve(d, q);
    const r = request(d, q, VIRTIO_BLK_T_IN, 0n, { inLen: size, split: [777, 4096, 1] });
    await serve(d, q);
    expect(statusOf(d, r)).toBe(VIRTIO_BLK_S_OK);
    expect(Buffer.from(d.bytes(r.data, size)).equals(model)).toBe(true);
    const f = request(d, q, VIRTIO_BLK_T_FLUSH, 0n);
    await serve(d, q);
    expect(statusOf(d, f)).toBe(VIRTIO_BLK_S_OK);
    await dev.close();
    expect(sha(file)).toBe(before);
  });

  it('snapshot overlay: zeroed chunks are markers, written chunks 4 KiB each', async () => {
    const { file } = makeImage(32 * 1024);
    const fh = await open(file, 'r');
    const store = new SnapshotStore(new RawFileStore(fh, 32 * 1024));
    await store.writeZeroes(0, 16 * 1024);
    expect(store.overlayBytes).toBe(0);
    await store.write([new Uint8Array(10)], 4090); // straddles two chunks
    expect(store.overlayBytes).toBe(8192);
    await store.close();
  });
});

describe('opening images', () => {
  it('refuses missing files, directories, qcow2 images and bad options with one line', async () => {
    const missing = join(dir, 'nope.img');
    await expect(openBlockImage({ file: missing })).rejects.toThrow(new WkvmError(`cannot open disk image '${missing}': no such file`));
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    await expect(openBlockImage({ file: sub })).rejects.toThrow(/not a regular file or block device/);
    const qcow = join(dir, 'x.qcow2');
    writeFileSync(qcow, Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), Buffer.alloc(4088)]));
    await expect(openBlockImage({ file: qcow })).rejects.toThrow(/is a qcow2 image, not raw: convert it with 'qemu-img convert -O raw/);
    const ok = makeImage(4096).file;
    await expect(openBlockImage({ file: ok, cache: 'bogus' as BlockCacheMode })).rejects.toThrow(/invalid cache mode 'bogus'/);
    await expect(openBlockImage({ file: ok, serial: 'x'.repeat(21) })).rejects.toThrow(/at most 20 printable ASCII/);
    for (const e of await Promise.allSettled([openBlockImage({ file: missing }), openBlockImage({ file: qcow })])) {
      expect(e.status === 'rejected' && e.reason instanceof WkvmError && !e.reason.message.includes('\n')).toBe(true);
    }
  });

  it('rounds a size that is not a multiple of 512 down; capacity reads through config space', async () => {
    const { file } = makeImage(10 * 512 + 100);
    const dev = await openBlockImage({ file });
    const d = new TestDriver(mem, dev);
    expect(d.read(R.DeviceID)).toBe(2);
    expect(d.read(R.Config)).toBe(10); // capacity, low word
    expect(d.read(R.Config + 4)).toBe(0);
    expect(d.transport.read(R.Config + 20, 4)).toBe(512); // blk_size
    expect(dev.features & VIRTIO_BLK_F_FLUSH).toBe(VIRTIO_BLK_F_FLUSH);
    await dev.close();
  });
});

describe('failures', () => {
  it('a chain without a header or a status byte is malformed: NEEDS_RESET', async () => {
    for (const bufs of [(d: TestDriver): Buf[] => [{ addr: d.buffer(8), len: 8 }, { addr: d.buffer(1), len: 1, write: true }],
      (d: TestDriver): Buf[] => [{ addr: d.buffer(16), len: 16 }]]) {
      const { d, q } = await blkDriver({ file: makeImage(4096).file });
      q.post(bufs(d));
      d.transport.notify(0);
      expect(d.needsReset).toBe(true);
      expect(d.warnings).toHaveLength(1);
      expect(q.usedIdx()).toBe(0);
    }
  });

  it('host I/O errors: IOERR to the guest and one warning', async () => {
    const { d, q, store } = await testStoreDriver(8192);
    store.failing = true;
    const reqs = [request(d, q, VIRTIO_BLK_T_IN, 0n, { inLen: 512 }), request(d, q, VIRTIO_BLK_T_OUT, 0n, { out: new Uint8Array(512) })];
    await serve(d, q, 2);
    expect(reqs.map((r) => statusOf(d, r))).toEqual([VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR]);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatch(/host I\/O error .*EIO/);
    expect(d.needsReset).toBe(false);
    store.failing = false;
    const ok = request(d, q, VIRTIO_BLK_T_IN, 0n, { inLen: 512 });
    await serve(d, q);
    expect(statusOf(d, ok)).toBe(VIRTIO_BLK_S_OK);
  });

  it('a reset with I/O in flight: the late completion never reaches the old rings', async () => {
    const { d, q, store, dev } = await testStoreDriver(8192);
    store.gated = true;
    const r = request(d, q, VIRTIO_BLK_T_IN, 0n, { inLen: 512 });
    d.transport.notify(0);
    await waitFor(() => store.waiting === 1);
    d.write(R.Status, 0);
    store.release();
    await dev.drain();
    expect(q.usedIdx()).toBe(0);
    expect(statusOf(d, r)).toBe(0xff);
    // the device works again after the driver sets it up anew
    store.gated = false;
    d.start({ queueSize: 16 });
    const q2 = d.queues[0]!;
    const r2 = request(d, q2, VIRTIO_BLK_T_IN, 0n, { inLen: 512 });
    await serve(d, q2);
    expect(statusOf(d, r2)).toBe(VIRTIO_BLK_S_OK);
  });

  it('at most one queue of requests in flight, even when the driver reuses descriptors it has not got back', async () => {
    const { d, q, store } = await testStoreDriver(8192, 'writeback', 4);
    store.gated = true;
    const heap = new GuestHeap(0x8080_0000n);
    for (let i = 0; i < 4; i++) request(d, q, VIRTIO_BLK_T_IN, BigInt(i), { inLen: 512, indirect: heap });
    d.transport.notify(0);
    await waitFor(() => store.waiting === 4);
    for (let i = 0; i < 4; i++) request(d, q, VIRTIO_BLK_T_IN, BigInt(i), { inLen: 512, indirect: heap });
    d.transport.notify(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.waiting).toBe(4);
    while (q.usedIdx() < 8) {
      if (store.waiting > 0) store.release();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(store.maxActive).toBe(4);
    expect(d.status & S.DEVICE_NEEDS_RESET).toBe(0);
  });
});

describe('the I/O thread\'s synchronous store (SyncFileStore)', () => {
  it('reads and writes the image as the asynchronous store does; failures are rejected promises, never throws', async () => {
    const { file } = makeImage(64 * 1024);
    const fh = await open(file, 'r+');
    try {
      const store = new SyncFileStore(fh.fd, 64 * 1024);
      const data = randomBytes(8192);
      await store.write([data.subarray(0, 100), data.subarray(100)], 4096);
      const back = [new Uint8Array(5000), new Uint8Array(3192)];
      await store.read(back, 4096);
      expect(Buffer.concat(back).equals(data)).toBe(true);
      await store.writeZeroes(4096, 4096);
      await store.flush();
      const image = readFileSync(file);
      expect(image.subarray(4096, 8192).every((b) => b === 0)).toBe(true);
      expect(image.subarray(8192, 12288).equals(data.subarray(4096))).toBe(true);
      // past the end of the file: a rejection that names it
      await expect(store.read([new Uint8Array(512)], 64 * 1024)).rejects.toThrow(/unexpected end of the image file/);
    } finally {
      await fh.close();
    }
    // a descriptor open for reading only: writes, zeroes and flushes fail as rejections
    const ro = await open(file, 'r');
    try {
      const store = new SyncFileStore(ro.fd, 64 * 1024);
      const write = store.write([new Uint8Array(512)], 0);
      const zero = store.writeZeroes(0, 4096);
      expect(write).toBeInstanceOf(Promise);
      await expect(write).rejects.toThrow(/EBADF/);
      await expect(zero).rejects.toThrow(/EBADF/);
    } finally {
      await ro.close();
    }
  });
});
