/**
 * Hostile drivers, generated: random mixes of well-formed and broken
 * descriptor chains (loops, addresses outside RAM and near 2^64, huge
 * lengths, chains longer than the queue, nested indirect tables, INDIRECT
 * with NEXT, wrapping and huge available indices), notify storms, register
 * writes after DRIVER_OK, resets with block I/O in flight, thrown at
 * virtio-rng, virtio-blk (plain, snapshot, readonly) and virtio-console
 * through the MMIO transport. For every case: nothing throws out of the
 * transport, the case finishes, and the device either used every available
 * chain or set DEVICE_NEEDS_RESET; rings the driver reset are never written
 * again.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import { VirtioMmioReg as R, VirtioStatus as S } from '../src/devices/virtio/mmio.js';
import { VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1, type VirtioDevice } from '../src/devices/virtio/device.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../src/devices/virtio/queue.js';
import { VirtioRng } from '../src/devices/virtio/rng/rng.js';
import { VirtioConsole } from '../src/devices/virtio/console/console.js';
import { openBlockImage } from '../src/devices/virtio/blk/open.js';
import { RAM_BASE, RAM_END, TestDriver, newMemory } from './virtio-driver.js';

/** Cases per device (WKVM_FUZZ_RUNS, as the other fuzzers); WKVM_FUZZ_SEED replays a failing run's seed. */
const RUNS = Number(process.env.WKVM_FUZZ_RUNS ?? 300);
const SEED = process.env.WKVM_FUZZ_SEED === undefined ? undefined : Number(process.env.WKVM_FUZZ_SEED);
const mem: VmMemory = newMemory();
const dir = mkdtempSync(join(tmpdir(), 'wkvm-virtio-fuzz-'));
const image = join(dir, 'disk.img');
writeFileSync(image, randomBytes(64 * 1024));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Guest RAM map of a case. Phase p (a DRIVER_OK-to-reset period) has its
// descriptor table, indirect tables and available ring in the 1 MiB at
// phaseBase(p) (queue 1 half-way up); its used ring lies below all that,
// where no generated buffer reaches (data buffers start at DATA and grow
// up), so a write into it after a reset could only be the device's.
const phaseBase = (p: number) => RAM_BASE + 0x10_0000n * BigInt(p + 1);
const QUEUE_STRIDE = 0x8_0000n;
const availOf = (p: number, q = 0) => phaseBase(p) + 0x4_0000n + QUEUE_STRIDE * BigInt(q);
const indirectOf = (p: number, i: number) => phaseBase(p) + 0x2000n + 0x400n * BigInt(i);
const usedOf = (p: number, q = 0) => RAM_BASE + 0x8000n + 0x1000n * BigInt(p) + 0x800n * BigInt(q);
const DATA = RAM_BASE + 0x40_0000n;
const INDIRECT_TABLES = 8;
const INDIRECT_MAX = 64;

type Kind = 'rng' | 'blk' | 'console';

interface BufferPlan { where: 'data' | 'ring' | 'wild'; offset: bigint; len: number; write: boolean }
interface ChainPlan {
  bufs: BufferPlan[];
  indirect: boolean;
  /** Also use an indirect table when INDIRECT_DESC was not negotiated. */
  rogueIndirect: boolean;
  /** Keep the buffers' order even if a readable one follows a writable one. */
  unordered: boolean;
  header?: { type: number; sector: bigint };
}
interface Mutation { table: 'direct' | 'indirect' | 'avail-idx'; index: number; field: number; value: bigint }
type Action =
  | { kind: 'notify'; queue: number }
  | { kind: 'storm'; queue: number; count: number }
  | { kind: 'register'; offset: number; size: number; value: number }
  | { kind: 'wait' };
interface Phase { chains: ChainPlan[]; mutations: Mutation[]; actions: Action[] }
interface Case { size: number; eventIdx: boolean; indirect: boolean; blkMode: 'plain' | 'snapshot' | 'readonly'; phases: Phase[] }

const WILD = [0n, 0x1000n, RAM_BASE - 1n, RAM_END - 1n, RAM_END, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_f000n, 1n << 63n];
const bufferArb: fc.Arbitrary<BufferPlan> = fc.record({
  // mostly what a driver does; each buffer now and then hostile, so cases mix good chains and bad
  where: fc.oneof(
    { weight: 40, arbitrary: fc.constant<BufferPlan['where']>('data') },
    { weight: 1, arbitrary: fc.constant<BufferPlan['where']>('ring') },
    { weight: 1, arbitrary: fc.constant<BufferPlan['where']>('wild') },
  ),
  offset: fc.oneof(
    { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 0xf_0000n }) },
    { weight: 1, arbitrary: fc.constantFrom(...WILD) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
  ),
  len: fc.oneof(
    { weight: 40, arbitrary: fc.integer({ min: 0, max: 4096 }) },
    { weight: 1, arbitrary: fc.constantFrom(0xffff_ffff, 16 << 20, 0x10_0001, 65536, 512) },
    { weight: 1, arbitrary: fc.nat(0xffff_ffff) },
  ),
  write: fc.boolean(),
});

const BLK_TYPES = [0, 0, 1, 1, 4, 8, 11, 13, 99];
const rarely = fc.integer({ min: 0, max: 29 }).map((n) => n === 0);
const chainArb: fc.Arbitrary<ChainPlan> = fc.record({
  bufs: fc.array(bufferArb, { minLength: 1, maxLength: 6 }),
  indirect: fc.boolean(),
  rogueIndirect: rarely,
  unordered: rarely,
  header: fc.option(fc.record({
    type: fc.constantFrom(...BLK_TYPES),
    sector: fc.oneof(fc.bigInt({ min: 0n, max: 130n }), fc.constantFrom(127n, 128n, 1n << 55n, (1n << 64n) - 1n)),
  }), { nil: undefined, freq: 10 }),
});

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  table: fc.constantFrom<Mutation['table']>('direct', 'direct', 'direct', 'indirect', 'indirect', 'avail-idx'),
  index: fc.nat(40),
  field: fc.nat(3),
  value: fc.oneof(fc.bigInt({ min: 0n, max: 40n }), fc.constantFrom(...WILD), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
});

const QUEUE_REGS = [R.QueueSel, R.QueueNum, R.QueueReady, R.QueueDescLow, R.QueueDescHigh, R.QueueDriverLow,
  R.QueueDriverHigh, R.QueueDeviceLow, R.QueueDeviceHigh, R.DriverFeatures, R.DriverFeaturesSel, R.Status,
  R.InterruptACK, R.QueueNotify, R.Config, R.Config + 8, R.Config + 0x40, 0x0ff];
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('notify' as const), queue: fc.integer({ min: -2, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('storm' as const), queue: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('register' as const), offset: fc.constantFrom(...QUEUE_REGS), size: fc.constantFrom(1, 2, 4, 4, 4), value: fc.nat(0xffff_ffff) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const) }) },
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  size: fc.constantFrom(1, 2, 4, 8, 16),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
  blkMode: fc.constantFrom<Case['blkMode']>('plain', 'snapshot', 'readonly'),
  phases: fc.array(fc.record({
    chains: fc.array(chainArb, { maxLength: 10 }),
    mutations: fc.oneof({ weight: 2, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 1, arbitrary: fc.array(mutationArb, { maxLength: 3 }) }),
    actions: fc.array(actionArb, { minLength: 1, maxLength: 8 }),
  }), { minLength: 1, maxLength: 3 }),
});

function bufferAddress(p: number, b: BufferPlan): bigint {
  if (b.where === 'data') return DATA + (b.offset % 0xf_0000n);
  if (b.where === 'ring') return phaseBase(p) + (b.offset % 0x1000n); // the descriptor table itself
  return b.offset;
}

function writeDesc(table: bigint, i: number, addr: bigint, len: number, flags: number, next: number): void {
  const at = mem.hostOffset(table + BigInt(16 * i), 16);
  mem.view.setBigUint64(at, BigInt.asUintN(64, addr), true);
  mem.view.setUint32(at + 8, len >>> 0, true);
  mem.view.setUint16(at + 12, flags & 0xffff, true);
  mem.view.setUint16(at + 14, next & 0xffff, true);
}

/**
 * Lay out a phase's rings and chains as a driver would, then apply the
 * mutations. Returns whether a buffer overlaps an available ring (the
 * device may then rewrite the ring, and what is available is anyone's guess).
 */
function layOut(d: TestDriver, p: number, c: Case, phase: Phase, queues: number): boolean {
  let aliasesAvail = false;
  const overlapsAvail = (addr: bigint, len: number) => {
    for (let q = 0; q < queues; q++) {
      if (addr < availOf(p, q) + 0x1000n && addr + BigInt(len) > availOf(p, q)) return true;
    }
    return false;
  };
  for (let q = 0; q < queues; q++) {
    const desc = phaseBase(p) + QUEUE_STRIDE * BigInt(q), avail = availOf(p, q), used = usedOf(p, q);
    mem.ram(desc, 0x1000).fill(0);
    mem.ram(avail, 0x1000).fill(0);
    mem.ram(used, 0x800).fill(0);
    d.write(R.QueueSel, q);
    d.write(R.QueueNum, c.size);
    d.write(R.QueueDescLow, Number(desc & 0xffff_ffffn));
    d.write(R.QueueDescHigh, Number(desc >> 32n));
    d.write(R.QueueDriverLow, Number(avail & 0xffff_ffffn));
    d.write(R.QueueDriverHigh, Number(avail >> 32n));
    d.write(R.QueueDeviceLow, Number(used & 0xffff_ffffn));
    d.write(R.QueueDeviceHigh, Number(used >> 32n));
    d.write(R.QueueReady, 1);
  }
  // chains go to queue 0 (rng, blk requests) or alternate (console rx/tx)
  const nextFree = new Array<number>(queues).fill(0);
  const availIdx = new Array<number>(queues).fill(0);
  let tables = 0;
  phase.chains.forEach((chain, n) => {
    const q = n % queues;
    const desc = phaseBase(p) + QUEUE_STRIDE * BigInt(q), avail = availOf(p, q);
    const bufs = chain.header ? blkShape(p, chain) : chain.bufs.map((b) => ({ addr: bufferAddress(p, b), len: b.len, write: b.write }));
    if (!chain.unordered) bufs.sort((a, b) => Number(a.write) - Number(b.write));
    if (bufs.some((b) => overlapsAvail(b.addr, b.len))) aliasesAvail = true;
    let head: number;
    if (chain.indirect && (c.indirect || chain.rogueIndirect) && tables < INDIRECT_TABLES && q === 0) {
      const table = indirectOf(p, tables++);
      const entries = bufs.slice(0, INDIRECT_MAX);
      entries.forEach((b, i) => writeDesc(table, i, b.addr, b.len, (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < entries.length ? VIRTQ_DESC_F_NEXT : 0), i + 1));
      if (nextFree[q]! >= c.size) return;
      head = nextFree[q]!++;
      writeDesc(desc, head, table, 16 * entries.length, VIRTQ_DESC_F_INDIRECT, 0);
    } else {
      if (nextFree[q]! + bufs.length > c.size) return; // no room: the driver waits
      const ids = bufs.map(() => nextFree[q]!++);
      bufs.forEach((b, i) => writeDesc(desc, ids[i]!, b.addr, b.len, (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0), ids[i + 1] ?? 0));
      head = ids[0]!;
    }
    mem.view.setUint16(mem.hostOffset(avail + 4n + BigInt(2 * (availIdx[q]! % c.size)), 2), head, true);
    availIdx[q] = availIdx[q]! + 1;
  });
  for (let q = 0; q < queues; q++) mem.guest.storeU16Atomic(availOf(p, q) + 2n, availIdx[q]! & 0xffff);
  for (const m of phase.mutations) {
    if (m.table === 'avail-idx') {
      mem.guest.storeU16Atomic(availOf(p) + 2n, Number(m.value & 0xffffn));
      continue;
    }
    const table = m.table === 'direct' ? phaseBase(p) : indirectOf(p, m.index % INDIRECT_TABLES);
    const at = mem.hostOffset(table + BigInt(16 * (m.index % (m.table === 'direct' ? c.size : INDIRECT_MAX))), 16);
    if (m.field === 0) mem.view.setBigUint64(at, m.value & ((1n << 64n) - 1n), true);
    else if (m.field === 1) mem.view.setUint32(at + 8, Number(m.value & 0xffff_ffffn), true);
    else if (m.field === 2) mem.view.setUint16(at + 12, Number(m.value & 0xffffn), true);
    else mem.view.setUint16(at + 14, Number(m.value & 0xffffn), true);
  }
  return aliasesAvail;
}

/** A block request shaped as a driver makes one (header, data, status), the data buffers from the plan. */
function blkShape(p: number, chain: ChainPlan): { addr: bigint; len: number; write: boolean }[] {
  const h = chain.header!;
  const hdr = DATA + 0xf_8000n + BigInt(32 * (Number(h.sector % 64n)));
  mem.view.setUint32(mem.hostOffset(hdr, 16), h.type, true);
  mem.view.setBigUint64(mem.hostOffset(hdr, 16) + 8, BigInt.asUintN(64, h.sector), true);
  const write = h.type === 0 || h.type === 8;
  // mostly whole sectors, as drivers send; the odd lengths stay
  const data = chain.bufs.slice(0, 4).map((b) => ({
    addr: bufferAddress(p, b), len: b.len <= 4096 && b.len % 3 !== 0 ? Math.max(512, b.len & ~511) : b.len, write,
  }));
  const status = DATA + 0xf_c000n + BigInt(p * 64);
  return [{ addr: hdr, len: 16, write: false }, ...data, { addr: status, len: 1, write: true }];
}

function makeDevice(kind: Kind, c: Case): Promise<VirtioDevice> {
  if (kind === 'rng') return Promise.resolve(new VirtioRng());
  if (kind === 'console') return Promise.resolve(new VirtioConsole(new PassThrough()));
  return openBlockImage({ file: image, snapshot: c.blkMode === 'snapshot', readonly: c.blkMode === 'readonly' });
}

const turn = () => new Promise((r) => setImmediate(r));

/** Runs one case; returns whether the device ended in DEVICE_NEEDS_RESET, and how many chains the last phase got back. */
async function runCase(kind: Kind, c: Case): Promise<{ needsReset: boolean; used: number }> {
  const device = await makeDevice(kind, c);
  const d = new TestDriver(mem, device);
  const queues = device.queueSizes.length;
  const features = VIRTIO_F_VERSION_1 | (c.eventIdx ? VIRTIO_F_RING_EVENT_IDX : 0n) | (c.indirect ? VIRTIO_F_INDIRECT_DESC : 0n);
  const oldUsedRings: { addr: bigint; bytes: Uint8Array }[] = [];
  let aliasesAvail = false;
  for (const [p, phase] of c.phases.entries()) {
    if (p > 0) {
      // reset right after the last phase's actions: block I/O may still be in flight
      d.write(R.Status, 0);
      for (let q = 0; q < queues; q++) {
        const addr = usedOf(p - 1, q);
        oldUsedRings.push({ addr, bytes: mem.ram(addr, 6 + 8 * c.size).slice() });
      }
    }
    d.negotiate(features);
    aliasesAvail = layOut(d, p, c, phase, queues);
    d.write(R.Status, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    for (const a of phase.actions) {
      if (a.kind === 'notify') d.transport.notify(a.queue);
      else if (a.kind === 'storm') for (let i = 0; i < a.count; i++) d.transport.notify(a.queue);
      else if (a.kind === 'wait') await turn();
      else {
        // anything but a reset: that is what phases are for
        const value = a.offset === R.Status ? (a.value | 1) & 0xff : a.value;
        d.transport.write(a.offset, a.size, value);
      }
    }
  }
  // the driver's last word: notify every queue, let the device finish
  const usedIdx = () => mem.guest.loadU16Atomic(usedOf(c.phases.length - 1) + 2n);
  let last = -1;
  for (let round = 0; round < 8 && usedIdx() !== last; round++) {
    last = usedIdx();
    for (let q = 0; q < queues; q++) d.transport.notify(q);
    await d.transport.drain();
    await turn();
  }
  if (kind !== 'console') {
    const availIdx = mem.guest.loadU16Atomic(availOf(c.phases.length - 1) + 2n);
    if (!d.needsReset && !aliasesAvail) expect(usedIdx()).toBe(availIdx);
  }
  for (const ring of oldUsedRings) expect(mem.ram(ring.addr, ring.bytes.length)).toEqual(ring.bytes);
  const outcome = { needsReset: d.needsReset, used: usedIdx() };
  await d.transport.close();
  return outcome;
}

/** Run with a deadline: a case that does not finish is a hang. */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`case did not finish in ${ms} ms`)), ms); });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('hostile drivers', () => {
  const stats = { cases: 0, needsReset: 0, used: 0 };
  afterAll(() => {
    console.log(`virtio fuzz: ${stats.cases} cases, ${stats.needsReset} ended in DEVICE_NEEDS_RESET, ${stats.used} chains used`);
  });

  for (const kind of ['rng', 'blk', 'console'] as const) {
    it(`${kind}: never throws, never hangs, completes or sets NEEDS_RESET`, async () => {
      await fc.assert(fc.asyncProperty(caseArb, async (c) => {
        stats.cases++;
        const outcome = await withDeadline(runCase(kind, c), 10_000);
        if (outcome.needsReset) stats.needsReset++;
        stats.used += outcome.used;
      }), { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) });
    }, 300_000);
  }
});
