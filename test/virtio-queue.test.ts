/**
 * The split virtqueue (src/devices/virtio/queue.ts) on real guest RAM:
 * chains as views, every descriptor check, the used ring, interrupt
 * suppression (EVENT_IDX and NO_INTERRUPT) and 16-bit index wrap-around.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import {
  Virtqueue, VirtqueueError, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
  VIRTQ_AVAIL_F_NO_INTERRUPT, type VirtqueueFeatures,
} from '../src/devices/virtio/queue.js';
import { SegmentCursor, copyFromSegments, dropBytes, subSegments } from '../src/devices/virtio/segments.js';
import { DriverQueue, GuestHeap, RAM_BASE, RAM_END, newMemory } from './virtio-driver.js';

const mem: VmMemory = newMemory();
const PLAIN: VirtqueueFeatures = { eventIdx: false, indirect: false };
const ALL: VirtqueueFeatures = { eventIdx: true, indirect: true };

let heap: GuestHeap;
beforeEach(() => {
  heap = new GuestHeap();
  mem.clearRam();
});

function setup(size: number, features: VirtqueueFeatures = ALL, indices?: { lastAvail: number; usedIdx: number }) {
  const dq = new DriverQueue(mem, heap, size);
  const vq = new Virtqueue(mem.guest, { size, descAddr: dq.desc, driverAddr: dq.avail, deviceAddr: dq.used }, features, indices);
  return { dq, vq };
}

function fill(addr: bigint, bytes: number[]): void {
  mem.ram(addr, bytes.length).set(bytes);
}

function popError(vq: Virtqueue): string {
  try {
    vq.pop();
  } catch (e) {
    expect(e).toBeInstanceOf(VirtqueueError);
    return (e as Error).message;
  }
  throw new Error('pop() did not throw');
}

/** pop() throws a VirtqueueError matching `pattern`, and the queue stays quiet after it. */
function expectError(vq: Virtqueue, pattern: RegExp): void {
  expect(popError(vq)).toMatch(pattern);
  expect(vq.isDetached).toBe(true);
  expect(vq.pop()).toBeNull();
}

describe('pop', () => {
  it('gives readable then writable views that alias guest RAM, and totals', () => {
    const { dq, vq } = setup(8);
    const a = heap.alloc(4), b = heap.alloc(3), w = heap.alloc(10);
    fill(a, [1, 2, 3, 4]);
    fill(b, [5, 6, 7]);
    const head = dq.post([{ addr: a, len: 4 }, { addr: b, len: 3 }, { addr: w, len: 10, write: true }]);
    const chain = vq.pop()!;
    expect(chain.head).toBe(head);
    expect(chain.readableLength).toBe(7);
    expect(chain.writableLength).toBe(10);
    const out = new Uint8Array(5);
    expect(chain.readInto(out, 2)).toBe(5);
    expect([...out]).toEqual([3, 4, 5, 6, 7]);
    expect(chain.writeFrom(Uint8Array.of(9, 8, 7), 8)).toBe(2); // clipped at the end
    expect([...mem.ram(w + 8n, 2)]).toEqual([9, 8]);
    chain.writable[0]![0] = 0x55; // a view, not a copy
    expect(mem.ram(w, 1)[0]).toBe(0x55);
    expect(vq.pop()).toBeNull();
  });

  it('follows an indirect table when INDIRECT_DESC was negotiated', () => {
    const { dq, vq } = setup(4);
    const r = heap.alloc(16), w = heap.alloc(32);
    fill(r, Array.from({ length: 16 }, (_, i) => i));
    dq.post([{ addr: r, len: 16 }, { addr: w, len: 32, write: true }], heap);
    const chain = vq.pop()!;
    expect(chain.readable.map((v) => v.length)).toEqual([16]);
    expect(chain.writableLength).toBe(32);
    expect(chain.readable[0]![15]).toBe(15);
  });

  it('skips zero-length descriptors wherever they point', () => {
    const { dq, vq } = setup(4, PLAIN);
    const w = heap.alloc(8);
    dq.post([{ addr: 0xdead_beefn, len: 0 }, { addr: w, len: 8, write: true }]);
    const chain = vq.pop()!;
    expect(chain.readable).toHaveLength(0);
    expect(chain.writableLength).toBe(8);
  });

  it('keeps working across the 16-bit wrap of the ring indices', () => {
    const { dq, vq } = setup(4, ALL, { lastAvail: 0xfffe, usedIdx: 0xfffe });
    dq.availIdx = 0xfffe;
    mem.guest.storeU16Atomic(dq.used + 2n, 0xfffe);
    dq.lastUsed = 0xfffe;
    const w = heap.alloc(4);
    const heads = [0, 1, 2].map(() => dq.post([{ addr: w, len: 4, write: true }]));
    expect(dq.availIdx).toBe(1);
    for (const h of heads) {
      const c = vq.pop()!;
      expect(c.head).toBe(h);
      expect(vq.push(c, 4)).toBe(true);
    }
    expect(vq.pop()).toBeNull();
    expect(dq.takeUsed().map((u) => u.id)).toEqual(heads);
    expect(vq.indices).toEqual({ lastAvail: 1, usedIdx: 1 });
  });
});

describe('hostile descriptors', () => {
  it('head index outside the queue', () => {
    const { dq, vq } = setup(4);
    dq.publish(4);
    expect(popError(vq)).toMatch(/head descriptor 4/);
  });

  it('next index outside the queue', () => {
    const { dq, vq } = setup(4, PLAIN);
    const a = heap.alloc(4);
    dq.writeDesc(dq.desc, 0, a, 4, VIRTQ_DESC_F_NEXT, 9);
    dq.publish(0);
    expect(popError(vq)).toMatch(/next descriptor 9/);
  });

  it('a loop in the chain', () => {
    const { dq, vq } = setup(4, PLAIN);
    const a = heap.alloc(4);
    dq.writeDesc(dq.desc, 0, a, 4, VIRTQ_DESC_F_NEXT, 1);
    dq.writeDesc(dq.desc, 1, a, 4, VIRTQ_DESC_F_NEXT, 0);
    dq.publish(0);
    expect(popError(vq)).toMatch(/longer than its table of 4/);
  });

  it('a self-loop in an indirect table', () => {
    const { dq, vq } = setup(4);
    const table = heap.alloc(32);
    const a = heap.alloc(4);
    dq.writeDesc(table, 0, a, 4, VIRTQ_DESC_F_NEXT, 1);
    dq.writeDesc(table, 1, a, 4, VIRTQ_DESC_F_NEXT, 1);
    dq.writeDesc(dq.desc, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    dq.publish(0);
    expect(popError(vq)).toMatch(/longer than its table of 2/);
  });

  it.each([
    ['below RAM', RAM_BASE - 4n, 8],
    ['past the end of RAM', RAM_END - 4n, 8],
    ['near 2^64', 0xffff_ffff_ffff_fff0n, 0x20],
    ['a huge length', RAM_BASE, 0xffff_ffff],
    // the walk reads an address as two 32-bit halves: the high one must count, exactly, past 2^53 too
    ['at RAM plus 2^32', RAM_BASE + (1n << 32n), 8],
    ['at RAM plus 2^53', RAM_BASE + (1n << 53n), 8],
    ['at RAM plus 2^53 + 1 (not a double)', RAM_BASE + (1n << 53n) + 1n, 8],
  ])('a buffer %s', (_what, addr, len) => {
    const { dq, vq } = setup(4, PLAIN);
    dq.writeDesc(dq.desc, 0, addr, len, 0, 0);
    dq.publish(0);
    expect(popError(vq)).toBe(`buffer 0x${addr.toString(16)}+0x${len.toString(16)} is outside RAM`);
  });

  it('a readable buffer after a writable one', () => {
    const { dq, vq } = setup(4, PLAIN);
    const a = heap.alloc(4);
    dq.post([{ addr: a, len: 4, write: true }, { addr: a, len: 4 }]);
    expect(popError(vq)).toMatch(/readable buffer after a writable/);
  });

  it('indirect descriptors: not negotiated, with NEXT, nested, bad length, table outside RAM', () => {
    const a = heap.alloc(4);
    const cases: [VirtqueueFeatures, (dq: DriverQueue) => void, RegExp][] = [
      [PLAIN, (dq) => dq.post([{ addr: a, len: 4 }], heap), /not negotiated/],
      [ALL, (dq) => { dq.writeDesc(dq.desc, 0, heap.alloc(16), 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1); dq.publish(0); }, /NEXT/],
      [ALL, (dq) => {
        const inner = heap.alloc(16), outer = heap.alloc(16);
        dq.writeDesc(inner, 0, a, 4, 0, 0);
        dq.writeDesc(outer, 0, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
        dq.writeDesc(dq.desc, 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
        dq.publish(0);
      }, /inside an indirect table/],
      [ALL, (dq) => { dq.writeDesc(dq.desc, 0, heap.alloc(24), 24, VIRTQ_DESC_F_INDIRECT, 0); dq.publish(0); }, /multiple of 16/],
      [ALL, (dq) => { dq.writeDesc(dq.desc, 0, 0n, 0, VIRTQ_DESC_F_INDIRECT, 0); dq.publish(0); }, /multiple of 16/],
      [ALL, (dq) => { dq.writeDesc(dq.desc, 0, 0x10n, 16, VIRTQ_DESC_F_INDIRECT, 0); dq.publish(0); }, /outside RAM/],
      [ALL, (dq) => { dq.writeDesc(dq.desc, 0, RAM_BASE, 16 * 65536, VIRTQ_DESC_F_INDIRECT, 0); dq.publish(0); }, /at most 32768/],
    ];
    for (const [features, post, pattern] of cases) {
      const { dq, vq } = setup(4, features);
      post(dq);
      expectError(vq, pattern);
    }
  });

  it('an available index further ahead than the queue size', () => {
    const { dq, vq } = setup(4);
    dq.setAvailIdx(5);
    expect(popError(vq)).toMatch(/5 entries ahead/);
    const again = setup(4);
    again.dq.setAvailIdx(0xffff); // "behind" is just as bad: 65535 ahead
    expectError(again.vq, /ahead/);
  });

  it('rejects bad ring layouts when the queue is built', () => {
    const ok = new DriverQueue(mem, heap, 8);
    const build = (size: number, desc = ok.desc, avail = ok.avail, used = ok.used) =>
      () => new Virtqueue(mem.guest, { size, descAddr: desc, driverAddr: avail, deviceAddr: used }, ALL);
    expect(build(8)).not.toThrow();
    for (const size of [0, 3, 6, 65536, 1 << 16]) expect(build(size)).toThrow(/power of two/);
    expect(build(8, ok.desc + 8n)).toThrow(/misaligned/);
    expect(build(8, ok.desc, ok.avail + 1n)).toThrow(/misaligned/);
    expect(build(8, ok.desc, ok.avail, ok.used + 2n)).toThrow(/misaligned/);
    expect(build(8, RAM_END - 64n)).toThrow(/descriptor table .* outside RAM/);
    expect(build(8, ok.desc, 0n)).toThrow(/available ring .* outside RAM/);
    expect(build(32768, ok.desc, ok.avail, 0xffff_ffff_ffff_fff0n)).toThrow(/outside RAM/);
  });
});

describe('push and interrupts', () => {
  it('writes the used element and then publishes the used index', () => {
    const { dq, vq } = setup(4, PLAIN);
    const w = heap.alloc(8);
    const head = dq.post([{ addr: w, len: 8, write: true }]);
    const chain = vq.pop()!;
    expect(vq.push(chain, 100)).toBe(true); // clamped to the writable length
    expect(dq.takeUsed()).toEqual([{ id: head, len: 8 }]);
  });

  it('refuses chains of another queue and pushes nothing once detached', () => {
    const one = setup(4, PLAIN), two = setup(4, PLAIN);
    const w = heap.alloc(8);
    one.dq.post([{ addr: w, len: 8, write: true }]);
    const chain = one.vq.pop()!;
    expect(two.vq.push(chain, 1)).toBe(false);
    one.vq.detach();
    expect(one.vq.push(chain, 1)).toBe(false);
    expect(one.dq.usedIdx()).toBe(0);
  });

  it('without EVENT_IDX: interrupts unless VIRTQ_AVAIL_F_NO_INTERRUPT, and only after a push', () => {
    const { dq, vq } = setup(4, PLAIN);
    const w = heap.alloc(8);
    expect(vq.needsInterrupt()).toBe(false);
    dq.post([{ addr: w, len: 8, write: true }]);
    vq.push(vq.pop()!, 0);
    expect(vq.needsInterrupt()).toBe(true);
    expect(vq.needsInterrupt()).toBe(false);
    dq.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    dq.post([{ addr: w, len: 8, write: true }]);
    vq.push(vq.pop()!, 0);
    expect(vq.needsInterrupt()).toBe(false);
  });

  it('with EVENT_IDX: interrupts only when the used index passes used_event', () => {
    const { dq, vq } = setup(8, ALL);
    const w = heap.alloc(8);
    const serve = (n: number) => {
      for (let i = 0; i < n; i++) dq.post([{ addr: w, len: 8, write: true }]);
      for (let i = 0; i < n; i++) vq.push(vq.pop()!, 0);
    };
    dq.setUsedEvent(2); // "interrupt me when entry 2 is used"
    serve(2); // used idx 0 -> 2: entry 2 not used yet
    expect(vq.needsInterrupt()).toBe(false);
    serve(1); // 2 -> 3 uses entry 2
    expect(vq.needsInterrupt()).toBe(true);
    serve(3); // 3 -> 6; used_event still 2: already passed, no new interrupt
    expect(vq.needsInterrupt()).toBe(false);
    dq.setUsedEvent(7);
    serve(4); // 6 -> 10 passes 7
    expect(vq.needsInterrupt()).toBe(true);
    // the flag is ignored when EVENT_IDX is on
    dq.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    dq.setUsedEvent(10);
    serve(1);
    expect(vq.needsInterrupt()).toBe(true);
  });

  it('with EVENT_IDX: keeps avail_event at the next entry it wants to hear about', () => {
    const { dq, vq } = setup(8, ALL);
    const w = heap.alloc(8);
    expect(vq.pop()).toBeNull();
    expect(dq.availEvent()).toBe(0);
    dq.post([{ addr: w, len: 8, write: true }]);
    dq.post([{ addr: w, len: 8, write: true }]);
    vq.pop();
    expect(dq.availEvent()).toBe(1);
    vq.pop();
    expect(vq.pop()).toBeNull();
    expect(dq.availEvent()).toBe(2);
  });
});

describe('segments', () => {
  const segs = [Uint8Array.of(0, 1, 2), Uint8Array.of(), Uint8Array.of(3), Uint8Array.of(4, 5, 6, 7)];

  it('copies and slices across segment boundaries', () => {
    const out = new Uint8Array(4);
    expect(copyFromSegments(segs, 2, out)).toBe(4);
    expect([...out]).toEqual([2, 3, 4, 5]);
    expect(subSegments(segs, 1, 4).map((s) => [...s])).toEqual([[1, 2], [3], [4]]);
    expect(dropBytes(segs, 4).map((s) => [...s])).toEqual([[4, 5, 6, 7]]);
    expect(dropBytes(segs, 5).map((s) => [...s])).toEqual([[5, 6, 7]]);
  });

  it('a cursor moves forward only and stops at the end', () => {
    const c = new SegmentCursor(segs);
    c.seek(3);
    const two = new Uint8Array(2);
    expect(c.read(two)).toBe(2);
    expect([...two]).toEqual([3, 4]);
    c.seek(1); // backwards: ignored
    expect(c.position).toBe(5);
    expect(c.read(new Uint8Array(10))).toBe(3);
    expect(c.read(new Uint8Array(1))).toBe(0);
  });
});
