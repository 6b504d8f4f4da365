/**
 * Hostile guests, virtio edition: the guest itself drives the virtqueues.
 *
 * guests/virtiofuzz runs in M-mode (-bios none) on a VM with every kind of
 * virtio device (two block devices: one writing through to its image file,
 * one in snapshot or readonly mode; a NIC on an in-process netdev that echoes
 * every frame back and injects more; virtio-rng; a virtio console looped
 * back on itself through a PassThrough, fed extra bytes). For `rounds`
 * rounds of a seed that fast-check chooses it does handshakes right and
 * wrong, sets queue registers right and wrong, and posts descriptor chains
 * mutated every way it knows (loops, addresses outside RAM and near 2^64,
 * huge lengths, chains longer than the queue, nested and broken indirect
 * tables, available index jumps and a legal 16-bit wrap), in notify storms
 * of thousands (from a second vCPU too, with -smp 2), reconfigures queues
 * after DRIVER_OK and resets devices with I/O in flight (see its source).
 * Some cases run to the guest's power-off, others forever until the host
 * stops them mid-storm. For every case the host must: emit no 'error', let
 * `exited` resolve, throw nothing uncaught, keep its event loop turning
 * (no starvation by the guest), stop promptly, warn only in one-line
 * messages, write no byte outside the writable image's size and none into
 * the snapshot or readonly image.
 *
 * WKVM_FUZZ_RUNS=N runs N cases (default below); WKVM_FUZZ_SEED=<the seed
 * fast-check printed> replays them. The last tests pin down, at the device
 * level, what the guest found: virtio-net threw a broken queue's error out
 * of its netdev callbacks (an uncaught exception), and virtio-blk let
 * resets pile up host I/O that stop() then waited for.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InprocessNetBackend, VirtualMachine } from '../dist/src/index.js';
// what the guest found, pinned down at the device level
import { VirtioMmioReg as R } from '../src/devices/virtio/mmio.js';
import { VIRTQ_DESC_F_NEXT } from '../src/devices/virtio/queue.js';
import { VirtioNet, macBytes } from '../src/devices/virtio/net/net.js';
import { VirtioBlock } from '../src/devices/virtio/blk/blk.js';
import type { BlockStore } from '../src/devices/virtio/blk/store.js';
import { InprocessNetBackend as SrcInprocessNetBackend } from '../src/netdev/index.js';
import { TestDriver, newMemory, waitFor } from './virtio-driver.js';

const RUNS = Number(process.env.WKVM_FUZZ_RUNS ?? 50); // more for a longer hunt
const SEED = process.env.WKVM_FUZZ_SEED === undefined ? undefined : Number(process.env.WKVM_FUZZ_SEED);
const ELF = readFileSync(new URL('../guests/virtiofuzz/virtiofuzz.elf', import.meta.url));
const RAM_SIZE = 64 << 20; // the guest's memory map assumes it
/** Longest a case's guest runs before the host stops it. */
const MAX_RUN_MS = 2500;
/** stop() must resolve within this, even mid-storm. */
const STOP_MS = 3000;
/** The host's event loop must get a turn at least this often while the guest storms (generous: the machine may be busy). */
const MAX_LAG_MS = 2000;

const dir = mkdtempSync(join(tmpdir(), 'wkvm-virtio-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

interface Case {
  seed: number;
  /** Guest rounds; 0 = forever (the host stops it after runMs). */
  rounds: number;
  runMs: number;
  smp: number;
  /** The second drive: a snapshot of its image, or readonly. */
  second: 'snapshot' | 'readonly';
  /** Size of the write-through image: whole sectors, or not. */
  imageSize: number;
  /** Frames the host injects into the NIC every millisecond or so (0: only the echo). */
  inject: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  seed: fc.integer({ min: 1, max: 0x7fff_ffff }),
  rounds: fc.oneof(fc.constant(0), fc.integer({ min: 5, max: 30 })),
  runMs: fc.integer({ min: 150, max: 700 }),
  smp: fc.constantFrom(1, 1, 2),
  second: fc.constantFrom('snapshot' as const, 'readonly' as const),
  imageSize: fc.oneof(fc.integer({ min: 1, max: 512 }).map((s) => s * 512), fc.integer({ min: 1000, max: 300_000 }),
    fc.integer({ min: 16, max: 256 }).map((m) => m << 20)), // sparse: room for big requests
  inject: fc.constantFrom(0, 1, 4),
});

let images = 0;
const totals = { cases: 0, finished: 0, stoppedMidRun: 0, rounds: 0, warnings: 0, maxStopMs: 0, maxLagMs: 0, ioThread: 0 };

async function runCase(c: Case): Promise<void> {
  const n = images++;
  const disk = join(dir, `rw${n}.img`), second = join(dir, `second${n}.img`);
  writeFileSync(disk, randomBytes(Math.min(c.imageSize, 1 << 20)));
  truncateSync(disk, c.imageSize);
  writeFileSync(second, randomBytes(64 * 1024));
  const secondSha = sha(second);

  const problems: string[] = [];
  const warnings: string[] = [];
  const net = new InprocessNetBackend('n0');
  net.on('frame', (f: Buffer) => net.inject(f)); // the wire loops back
  const con = new PassThrough(); // so does the console: what the guest sends comes back to it
  const vm = await VirtualMachine.create({
    bios: 'none', smp: c.smp, memory: RAM_SIZE, kernel: ELF, append: `seed=${c.seed} rounds=${c.rounds}`,
    drives: [{ file: disk }, c.second === 'snapshot' ? { file: second, snapshot: true } : { file: second, readonly: true }],
    nics: [{ netdev: net }], rng: true, console: con,
  });
  // the host process must survive: nothing may escape to the event loop
  const onUncaught = (e: unknown) => problems.push(`uncaught: ${e instanceof Error ? e.stack : String(e)}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  vm.on('error', (e: Error) => problems.push(`error: ${e.message}`));
  vm.on('warning', (e: Error) => warnings.push(e.message));
  let out = '';
  vm.serial.on('data', (d: Buffer) => { out += d.toString('latin1'); });

  // the event loop's turns: a guest must not be able to starve it
  let lag = 0, last = performance.now();
  const beat = setInterval(() => { const now = performance.now(); lag = Math.max(lag, now - last); last = now; }, 5);
  const feed = c.inject === 0 ? undefined : setInterval(() => {
    for (let i = 0; i < c.inject; i++) net.inject(randomBytes(14 + Math.floor(Math.random() * (Math.random() < 0.1 ? 70_000 : 1600))));
    if (con.writableLength < 64 * 1024) con.write(randomBytes(Math.floor(Math.random() * 512)));
  }, 1);

  let over = false;
  const exited = vm.exited.then((code) => code, (e: Error) => { problems.push(`exited rejected: ${e.message}`); return -1; })
    .finally(() => { over = true; });
  try {
    vm.start();
    for (const until = Date.now() + 10_000; !over && vm.stats()[0]!.instructions === 0n && Date.now() < until;) await sleep(5);
    // and until it said hello (a slow start, WKVM_JIT_THRESHOLD=1 say, is not what runMs is for)
    for (const until = Date.now() + 10_000; !over && !out.includes('virtiofuzz: seed') && Date.now() < until;) await sleep(5);
    const runMs = c.rounds === 0 ? c.runMs : MAX_RUN_MS;
    // whether the writable drive's queue went to its I/O thread (the guest resets it often: it comes and goes)
    let ioThread = false;
    for (const until = Date.now() + runMs; !over && Date.now() < until;) {
      await sleep(5);
      ioThread ||= vm.deviceStats().blocks[0]!.ioThread;
    }
    const finished = over;
    const t0 = performance.now();
    const stopped = vm.stop();
    const stopMs = await Promise.race([stopped.then(() => performance.now() - t0, () => performance.now() - t0), sleep(STOP_MS * 3).then(() => Infinity)]);
    const code = await Promise.race([exited, sleep(1000).then(() => -2)]);
    clearInterval(beat);
    if (feed) clearInterval(feed);
    // ---- the verdict ----
    const what = `seed=${c.seed} rounds=${c.rounds} smp=${c.smp}`;
    expect(problems, what).toEqual([]);
    expect(stopMs, `${what}: stop() took too long`).toBeLessThan(STOP_MS);
    expect(Number.isInteger(code) && code >= 0, `${what}: exit status ${code}`).toBe(true);
    expect(lag, `${what}: the event loop went ${Math.round(lag)} ms without a turn`).toBeLessThan(MAX_LAG_MS);
    for (const w of warnings) {
      expect(w, `${what}: a warning of one line`).not.toMatch(/[\r\n]/);
      expect(w, `${what}: a vCPU ignored the stop`).not.toMatch(/did not stop in time/);
      expect(w.length, `${what}: a short warning`).toBeLessThan(400);
    }
    expect(out, what).toContain('virtiofuzz: seed');
    expect(out, what).not.toContain('unexpected trap');
    if (finished) {
      expect(out, `${what}: the guest powered off without finishing`).toContain('virtiofuzz: done');
      expect(code, what).toBe(0);
    }
    expect(statSync(disk).size, `${what}: the image grew or shrank`).toBe(c.imageSize);
    expect(sha(second), `${what}: the ${c.second} image was written`).toBe(secondSha);
    totals.cases++;
    if (ioThread) totals.ioThread++;
    if (finished) totals.finished++; else totals.stoppedMidRun++;
    totals.rounds += finished ? c.rounds : Number(/.*virtiofuzz: round (\d+)/s.exec(out)?.[1] ?? 0);
    totals.warnings += warnings.length;
    totals.maxStopMs = Math.max(totals.maxStopMs, stopMs);
    totals.maxLagMs = Math.max(totals.maxLagMs, lag);
  } finally {
    clearInterval(beat);
    if (feed) clearInterval(feed);
    await vm.stop().catch(() => {});
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    rmSync(disk, { force: true });
    rmSync(second, { force: true });
  }
}

describe('hostile guests drive the virtqueues', () => {
  it(`survives guests/virtiofuzz (${RUNS} cases)`, async () => {
    const t0 = Date.now();
    await fc.assert(fc.asyncProperty(caseArb, runCase), { numRuns: RUNS, seed: SEED, endOnFailure: true }); // no shrinking: each case boots a VM
    console.log(`virtio-hostile: ${totals.cases} cases (${totals.finished} ran to the guest's power-off, ${totals.stoppedMidRun} stopped mid-run; ` +
      `in ${totals.ioThread} the writable drive's queue went to its I/O thread), ` +
      `${totals.rounds}+ guest rounds, ${totals.warnings} warnings, slowest stop ${Math.round(totals.maxStopMs)} ms, ` +
      `longest event-loop gap ${Math.round(totals.maxLagMs)} ms, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // the thread's path met the hostile guest too (32 of 50 cases here; it comes up ~50-200 ms into a case)
    if (RUNS >= 20) expect(totals.ioThread).toBeGreaterThan(0);
  }, 600_000);
});

describe('found by the hostile guest', () => {
  const mem = newMemory();

  it('virtio-net: a broken queue met by an incoming frame or a transmit batch sets NEEDS_RESET and throws nothing', async () => {
    const backend = new SrcInprocessNetBackend('n0');
    const d = new TestDriver(mem, new VirtioNet(backend, macBytes('52:54:00:12:34:56')));
    d.start({ queueSize: 128 });
    const rx = d.queues[0]!;
    // a receive chain that loops on itself: the frame comes from the backend, outside any notify
    rx.writeDesc(rx.desc, 0, d.buffer(64), 64, VIRTQ_DESC_F_NEXT | 2, 0);
    rx.publish(0);
    expect(() => backend.inject(Buffer.alloc(60))).not.toThrow();
    expect(d.needsReset).toBe(true);
    expect(d.warnings).toHaveLength(1);

    // transmit: more than a batch of good frames, then a loop; the rest is taken from setImmediate
    mem.clearRam();
    d.warnings.length = 0;
    d.start({ queueSize: 256 });
    const tx = d.queues[1]!;
    const hdr = d.put(new Uint8Array(12)), body = d.put(new Uint8Array(60));
    for (let i = 0; i < 70; i++) tx.post([{ addr: hdr, len: 12 }, { addr: body, len: 60 }]); // descriptors 0..139
    tx.writeDesc(tx.desc, 200, hdr, 12, VIRTQ_DESC_F_NEXT, 200); // chain 70, after the first batch: a loop
    tx.publish(200);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      d.write(R.QueueNotify, 1);
      expect(d.needsReset).toBe(false); // the loop is met later, from setImmediate
      await waitFor(() => d.needsReset, 2000, 'NEEDS_RESET');
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(d.warnings).toHaveLength(1);
  });

  it('virtio-blk: resets with requests in flight do not pile up host I/O beyond a queue\'s worth', async () => {
    let running = 0, most = 0;
    const release: (() => void)[] = [];
    const wait = () => new Promise<void>((r) => { running++; most = Math.max(most, running); release.push(() => { running--; r(); }); });
    const store: BlockStore = { size: 8 << 20, read: wait, write: wait, writeZeroes: wait, flush: wait, close: async () => {} };
    const blk = new VirtioBlock(store, { serial: 'x', readonly: false, cache: 'writeback' });
    const d = new TestDriver(mem, blk);
    for (let r = 0; r < 10; r++) {
      mem.clearRam();
      d.start({ queueSize: 8 });
      const q = d.queues[0]!;
      const header = d.put(new Uint8Array(16)); // IN, sector 0
      for (let i = 0; i < 2; i++) q.post([{ addr: header, len: 16 }, { addr: d.buffer(513), len: 513, write: true }]);
      d.write(R.QueueNotify, 0);
      d.write(R.Status, 0); // reset with the requests in flight
    }
    expect(most).toBeLessThanOrEqual(8); // 20 were posted over 10 resets: the rest wait for room
    // a live queue gets its requests once the old I/O finishes
    mem.clearRam();
    d.start({ queueSize: 8 });
    const q = d.queues[0]!;
    q.post([{ addr: d.put(new Uint8Array(16)), len: 16 }, { addr: d.buffer(513), len: 513, write: true }]);
    d.write(R.QueueNotify, 0);
    while (release.length > 0) { release.shift()!(); await new Promise((r) => setImmediate(r)); }
    await waitFor(() => q.usedIdx() === 1, 2000, 'the request after the resets');
    await blk.drain();

    // a big WRITE_ZEROES goes in 1 MiB pieces: once the device is reset (or closed, at a VM stop) the rest is dropped
    let pieces = 0;
    store.writeZeroes = () => { pieces++; return wait(); };
    mem.clearRam();
    d.start({ queueSize: 8 });
    const zq = d.queues[0]!;
    const header = new DataView(new ArrayBuffer(16));
    header.setUint32(0, 13, true); // WRITE_ZEROES
    const segment = new DataView(new ArrayBuffer(16));
    segment.setUint32(8, 1 << 14, true); // 8 MiB: the whole disk
    zq.post([{ addr: d.put(new Uint8Array(header.buffer)), len: 16 }, { addr: d.put(new Uint8Array(segment.buffer)), len: 16 },
      { addr: d.buffer(1), len: 1, write: true }]);
    d.write(R.QueueNotify, 0);
    await waitFor(() => pieces === 1, 2000, 'the first piece');
    d.write(R.Status, 0);
    while (release.length > 0) { release.shift()!(); await new Promise((r) => setImmediate(r)); }
    await blk.drain();
    expect(pieces).toBe(1);
  });
});
