/**
 * virtio-blk (virtio 1.2, 5.2): one request queue. A request is a 16-byte
 * header {type u32, reserved u32, sector u64} in driver-readable buffers,
 * then data, then one status byte, the last writable byte of the chain.
 *
 * Where the VM offers it (a VM does; a device model alone in a test does
 * not), the queue is served on the drive's own I/O thread (./iothread.ts,
 * QEMU's dataplane) from soon after the driver starts the device: the I/O
 * loop serves the first requests while that thread comes up, then hands the
 * queue over between two requests. The thread does one request at a time
 * with synchronous calls.
 *
 * On the I/O loop (snapshot mode's overlay, or before the hand-over),
 * requests run concurrently on the host (libuv's thread pool) and are given
 * back as each finishes; the used ring's order may differ from the
 * available ring's, which the spec allows. At most one queue's worth of
 * requests is in flight on the host: beyond that the device stops taking
 * requests until one completes. A device reset drops the completions of
 * requests started before it (a generation counter); their host I/O still
 * finishes, counts against that limit until it has (so resets cannot pile
 * up host I/O without bound), and drain() waits for it.
 */
import { MessageChannel } from 'node:worker_threads';
import type { QueueThreads, VirtioContext, VirtioDevice } from '../device.js';
import { readConfigBytes } from '../device.js';
import { VirtqueueError, type DescriptorChain, type Virtqueue } from '../queue.js';
import { CONTROL_WORDS, C_BUSY, C_LAST_AVAIL, C_OWNED, C_READY, C_STOP, C_USED_IDX, lock, unlock } from './control.js';
import type { BlkIoTask } from './iothread.js';
import type { BlockStore } from './store.js';

export const VIRTIO_ID_BLOCK = 2;
export const SECTOR_SIZE = 512;

/** Request types (5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

/** Status byte values. */
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Feature bits (5.2.3). */
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;
export const VIRTIO_BLK_F_DISCARD = 1n << 13n;
export const VIRTIO_BLK_F_WRITE_ZEROES = 1n << 14n;

export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
export const VIRTIO_BLK_ID_BYTES = 20;

export const BLK_QUEUE_SIZE = 256;
/** Limits advertised in config space (and enforced: a larger request gets IOERR). */
export const MAX_DISCARD_SECTORS = 1 << 22; // 2 GiB: discard is only a hint here
export const MAX_WRITE_ZEROES_SECTORS = 1 << 17; // 64 MiB of zeroes written per request
/**
 * Host I/O of a request is done in pieces of at most this many bytes. The
 * rest of a request whose device was reset, stopped or closed meanwhile is
 * dropped (its completion would be), so a VM stop waits for at most one
 * piece per request in flight, not a queue's worth of 64 MiB requests.
 */
export const IO_PIECE = 1 << 20;

/**
 * How the host caches the image: 'writeback' (FLUSH makes completed writes
 * durable with fdatasync), 'writethrough' (every write is made durable
 * before it completes), 'unsafe' (FLUSH does nothing), 'none' (QEMU's
 * O_DIRECT mode; here the same as writeback: guest buffers are not
 * sector-aligned, so O_DIRECT would need bounce buffers).
 */
export type BlockCacheMode = 'writeback' | 'writethrough' | 'unsafe' | 'none';
export const BLOCK_CACHE_MODES: readonly BlockCacheMode[] = ['writeback', 'writethrough', 'unsafe', 'none'];

export interface VirtioBlockOptions {
  /** Device id string for GET_ID: ASCII, up to 20 bytes. */
  serial: string;
  readonly: boolean;
  cache: BlockCacheMode;
  /** Names the device in warnings (e.g. the image file). */
  label?: string;
  /** What a monitor shows of the drive (QMP's query-block). */
  info?: { id: string; file: string; snapshot: boolean };
}

export interface Outcome { status: number; written: number }
const done = (status: number, written = 0): Outcome => ({ status, written });

/** A drive's counters (vm.deviceStats(), QMP), in shared memory: its I/O thread counts in them too. */
export const BLOCK_STAT_NAMES = ['reads', 'readBytes', 'writes', 'writeBytes', 'flushes', 'discards', 'errors'] as const;
export type BlockIoStats = Record<(typeof BLOCK_STAT_NAMES)[number], number>;
const READS = 0, READ_BYTES = 1, WRITES = 2, WRITE_BYTES = 3, FLUSHES = 4, DISCARDS = 5, ERRORS = 6;

/** What serving a request takes: the image, how the drive uses it, its counters. */
export interface BlockBackend {
  store: BlockStore;
  readonly: boolean;
  cache: BlockCacheMode;
  /** GET_ID's answer. */
  id: Uint8Array;
  stats: Float64Array;
}

/** A request's type, sector and status byte; VirtqueueError if it cannot even be answered. */
export function parseRequest(chain: DescriptorChain): { type: number; sector: bigint; status: Uint8Array } {
  if (chain.readableLength < 16) throw new VirtqueueError('block request without its 16-byte header');
  if (chain.writableLength < 1) throw new VirtqueueError('block request without a writable status byte');
  const last = chain.writable[chain.writable.length - 1]!;
  const header = new Uint8Array(16);
  chain.readInto(header, 0);
  const view = new DataView(header.buffer);
  return { type: view.getUint32(0, true), sector: view.getBigUint64(8, true), status: last.subarray(last.length - 1) };
}

/**
 * Serve one request on `b`: its status and the bytes written into the chain.
 * `live` turns false when the device was reset, stopped or closed: the work
 * stops at the next piece. A host I/O error rejects: the caller answers
 * IOERR (ioErrorOutcome) and warns.
 */
export async function executeRequest(
  b: BlockBackend, type: number, sector: bigint, chain: DescriptorChain, live: () => boolean,
): Promise<Outcome> {
  const dataIn = chain.writableLength - 1; // writable bytes before the status byte
  const dataOut = chain.readableLength - 16; // readable bytes after the header
  const { store, stats } = b;
  switch (type) {
    case VIRTIO_BLK_T_IN: {
      const at = byteRange(store, sector, dataIn);
      if (at < 0) return done(VIRTIO_BLK_S_IOERR, 1);
      for (let off = 0; off < dataIn && live(); off += IO_PIECE) {
        await store.read(chain.writableRange(off, Math.min(IO_PIECE, dataIn - off)), at + off);
      }
      stats[READS]++;
      stats[READ_BYTES] += dataIn;
      return done(VIRTIO_BLK_S_OK, dataIn + 1);
    }
    case VIRTIO_BLK_T_OUT: {
      const at = byteRange(store, sector, dataOut);
      if (b.readonly || at < 0) return done(VIRTIO_BLK_S_IOERR, 1);
      for (let off = 0; off < dataOut && live(); off += IO_PIECE) {
        await store.write(chain.readableRange(16 + off, Math.min(IO_PIECE, dataOut - off)), at + off);
      }
      if (b.cache === 'writethrough' && live()) await store.flush();
      stats[WRITES]++;
      stats[WRITE_BYTES] += dataOut;
      return done(VIRTIO_BLK_S_OK, 1);
    }
    case VIRTIO_BLK_T_FLUSH:
      if (b.cache !== 'unsafe') await store.flush();
      stats[FLUSHES]++;
      return done(VIRTIO_BLK_S_OK, 1);
    case VIRTIO_BLK_T_GET_ID: {
      const n = Math.min(VIRTIO_BLK_ID_BYTES, dataIn);
      chain.writeFrom(b.id.subarray(0, n), 0);
      return done(VIRTIO_BLK_S_OK, n + 1);
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      return discardOrZero(b, type, chain, dataOut, live);
    default:
      return done(VIRTIO_BLK_S_UNSUPP, 1);
  }
}

/** The one warning of a drive's host I/O errors (each place that serves its queue warns once). */
export function hostIoWarning(e: unknown): string {
  return `host I/O error (the guest gets IOERR; further errors not reported): ${e instanceof Error ? e.message : String(e)}`;
}

/** A host I/O error: the guest gets IOERR, counted. */
export function ioErrorOutcome(stats: Float64Array): Outcome {
  stats[ERRORS]++;
  return done(VIRTIO_BLK_S_IOERR, 1);
}

/** Byte position of `length` bytes at `sector`, or -1 if not whole sectors inside the disk. */
function byteRange(store: BlockStore, sector: bigint, length: number): number {
  if (length % SECTOR_SIZE !== 0) return -1;
  const start = sector * BigInt(SECTOR_SIZE);
  if (start + BigInt(length) > BigInt(store.size)) return -1;
  return Number(start);
}

/** One segment {sector u64, num_sectors u32, flags u32} (max_*_seg is 1). */
async function discardOrZero(b: BlockBackend, type: number, chain: DescriptorChain, dataOut: number, live: () => boolean): Promise<Outcome> {
  const zeroes = type === VIRTIO_BLK_T_WRITE_ZEROES;
  if (b.readonly || dataOut !== 16) return done(VIRTIO_BLK_S_IOERR, 1);
  const segment = new Uint8Array(16);
  chain.readInto(segment, 16);
  const view = new DataView(segment.buffer);
  const sector = view.getBigUint64(0, true);
  const count = view.getUint32(8, true);
  const flags = view.getUint32(12, true);
  // unknown flags, or unmap on a discard, are unsupported (5.2.6.2)
  const known = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
  if (flags & ~known) return done(VIRTIO_BLK_S_UNSUPP, 1);
  if (count > (zeroes ? MAX_WRITE_ZEROES_SECTORS : MAX_DISCARD_SECTORS)) return done(VIRTIO_BLK_S_IOERR, 1);
  const at = byteRange(b.store, sector, count * SECTOR_SIZE);
  if (at < 0) return done(VIRTIO_BLK_S_IOERR, 1);
  // a discard is a hint that the data is no longer needed: keeping it is allowed
  const length = count * SECTOR_SIZE;
  for (let off = 0; zeroes && off < length && live(); off += IO_PIECE) {
    await b.store.writeZeroes(at + off, Math.min(IO_PIECE, length - off));
  }
  b.stats[DISCARDS]++;
  return done(VIRTIO_BLK_S_OK, 1);
}

// config space layout (5.2.4)
const CFG_CAPACITY = 0;
const CFG_SEG_MAX = 12;
const CFG_BLK_SIZE = 20;
const CFG_MAX_DISCARD_SECTORS = 36;
const CFG_MAX_DISCARD_SEG = 40;
const CFG_DISCARD_SECTOR_ALIGNMENT = 44;
const CFG_MAX_WRITE_ZEROES_SECTORS = 48;
const CFG_MAX_WRITE_ZEROES_SEG = 52;
const CFG_WRITE_ZEROES_MAY_UNMAP = 56;
const CFG_SIZE = 60;

/** A drive's I/O thread (./iothread.ts), from the main thread's side. */
interface IoThread {
  threads: QueueThreads;
  slot: number;
  control: Int32Array;
  /** The queue was handed over: the thread serves it. */
  owned: boolean;
}

export class VirtioBlock implements VirtioDevice {
  readonly name: string;
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  readonly readonly: boolean;
  readonly cache: BlockCacheMode;
  /** The drive as a monitor shows it (QMP's query-block). */
  readonly info: { id: string; file: string; size: number; readonly: boolean; snapshot: boolean; cache: BlockCacheMode };
  private readonly config = new Uint8Array(CFG_SIZE);
  private readonly backend: BlockBackend;
  private ctx: VirtioContext | null = null;
  /** Bumped at every reset: completions of an older generation are dropped. */
  private generation = 0;
  /** The queue had more requests when host I/O in flight hit its cap: take them as host I/O completes. */
  private throttled = false;
  private readonly hostIo = new Set<Promise<void>>();
  private ioErrorReported = false;
  /** The activation's I/O thread, if the VM offers one (QEMU's dataplane): the queue is served there once handed over. */
  private thread: IoThread | undefined;
  /** Each I/O thread's task, until it has ended (a stopped one may still finish a request's host I/O). */
  private readonly threadTasks = new Map<IoThread, Promise<void>>();

  constructor(private readonly store: BlockStore, options: VirtioBlockOptions) {
    this.name = options.label ? `virtio-blk ${options.label}` : 'virtio-blk';
    this.readonly = options.readonly;
    this.cache = options.cache;
    this.info = {
      id: options.info?.id ?? '', file: options.info?.file ?? '', size: store.size - (store.size % SECTOR_SIZE),
      readonly: this.readonly, snapshot: options.info?.snapshot ?? false, cache: this.cache,
    };
    this.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
      (this.readonly ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES);
    const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    id.set(new TextEncoder().encode(options.serial).subarray(0, VIRTIO_BLK_ID_BYTES));
    const stats = new Float64Array(new SharedArrayBuffer(8 * BLOCK_STAT_NAMES.length));
    this.backend = { store, readonly: this.readonly, cache: this.cache, id, stats };
    const c = new DataView(this.config.buffer);
    c.setBigUint64(CFG_CAPACITY, BigInt(Math.floor(store.size / SECTOR_SIZE)), true);
    c.setUint32(CFG_SEG_MAX, BLK_QUEUE_SIZE - 2, true); // room for header and status (as QEMU)
    c.setUint32(CFG_BLK_SIZE, SECTOR_SIZE, true);
    c.setUint32(CFG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS, true);
    c.setUint32(CFG_MAX_DISCARD_SEG, 1, true);
    c.setUint32(CFG_DISCARD_SECTOR_ALIGNMENT, 1, true);
    c.setUint32(CFG_MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SECTORS, true);
    c.setUint32(CFG_MAX_WRITE_ZEROES_SEG, 1, true);
    c.setUint8(CFG_WRITE_ZEROES_MAY_UNMAP, 0);
  }

  /** Disk size in 512-byte sectors. */
  get capacity(): number { return Math.floor(this.store.size / SECTOR_SIZE); }

  /** Requests served, for load tests (vm.deviceStats(), QMP query-stats target vm): the I/O thread's too. */
  get ioStats(): BlockIoStats {
    const s = this.backend.stats;
    return Object.fromEntries(BLOCK_STAT_NAMES.map((name, i) => [name, s[i]!])) as BlockIoStats;
  }

  /** Whether the queue is served on the drive's I/O thread now (tests, stats). */
  get onIoThread(): boolean { return this.thread?.owned ?? false; }

  readConfig(offset: number, size: number): number {
    return readConfigBytes(this.config, offset, size);
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
    this.ioErrorReported = false;
    this.startThread(ctx);
  }

  notify(): void {
    this.handOver();
    if (this.thread?.owned) return; // the thread serves what is in the queue as it takes it over
    this.takeRequests();
  }

  reset(): void {
    this.stopThread();
    this.generation++;
    this.ctx = null;
    this.throttled = false;
  }

  async drain(): Promise<void> {
    while (this.hostIo.size > 0) await Promise.allSettled([...this.hostIo]);
    // a stopped thread's last request may still write guest RAM; one that never came up touches nothing (it
    // sees STOP first), and waiting for it would wait for a pool thread to start
    for (const [t, ended] of this.threadTasks) if (t !== this.thread && Atomics.load(t.control, C_READY) === 1) await ended;
    const t = this.thread;
    if (!t?.owned) return;
    // the thread's request in hand, then the positions it left the queue at, for save()
    while (Atomics.load(t.control, C_BUSY) !== 0) {
      const w = Atomics.waitAsync(t.control, C_BUSY, 1, 100);
      if (w.async) await w.value;
    }
    if (this.thread === t) {
      this.ctx?.queues[0]?.adopt({ lastAvail: Atomics.load(t.control, C_LAST_AVAIL), usedIdx: Atomics.load(t.control, C_USED_IDX) });
    }
  }

  async close(): Promise<void> {
    this.reset();
    await this.drain();
    await this.store.close();
  }

  /**
   * Start the drive's I/O thread for this activation, if the VM offers queue
   * threads and the image is a file (not snapshot mode's overlay, which lives
   * on this thread). Requests are served here until it is up (a pool thread
   * may take ~50-200 ms to come up); then the queue is handed over between
   * two requests (handOver()).
   */
  private startThread(ctx: VirtioContext): void {
    const threads = ctx.queueThreads;
    const queue = ctx.queues[0];
    const fd = this.store.fd;
    if (!threads || fd === undefined || !queue?.ready || !queue.layout) return;
    const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    const { port1, port2 } = new MessageChannel();
    const task: BlkIoTask = {
      vm: threads.vm, slot: ctx.slot, control, fd, size: this.store.size, readonly: this.readonly, cache: this.cache,
      id: this.backend.id, stats: this.backend.stats, queue: { layout: queue.layout, features: queue.features }, warnings: port2,
    };
    let ended: Promise<unknown>;
    try {
      ended = threads.run('blkIoThread', task, [port2]);
    } catch {
      port1.close();
      return; // the VM runs no pool now: served here
    }
    const t: IoThread = { threads, slot: ctx.slot, control, owned: false };
    this.thread = t;
    port1.on('message', (m: { warn?: string }) => { if (m.warn && ctx.active) ctx.warn(m.warn); });
    port1.unref();
    const settled = ended.then((r) => {
      const reason = (r as { needsReset?: string } | undefined)?.needsReset;
      if (reason !== undefined && this.thread === t) ctx.needsReset(reason);
    }, (e: unknown) => {
      if (this.thread === t) ctx.needsReset(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    }).finally(() => {
      port1.close();
      this.threadTasks.delete(t);
      if (this.thread === t) this.thread = undefined;
      // the slot's notifies come back here, unless the next activation's thread holds the queue by now
      if (t.owned && !this.thread?.owned) threads.own(ctx.slot, false);
    });
    this.threadTasks.set(t, settled);
  }

  /** Hand the queue to the I/O thread once it is up and no request is in flight here. */
  private handOver(): void {
    const t = this.thread, ctx = this.ctx, queue = ctx?.queues[0];
    if (!t || t.owned || !ctx?.active || !queue || queue.isDetached || this.hostIo.size > 0) return;
    if (Atomics.load(t.control, C_READY) !== 1) return;
    const { lastAvail, usedIdx } = queue.indices;
    Atomics.store(t.control, C_LAST_AVAIL, lastAvail);
    Atomics.store(t.control, C_USED_IDX, usedIdx);
    t.owned = true;
    ctx.queueThreads!.own(ctx.slot, true);
    Atomics.store(t.control, C_OWNED, 1);
    Atomics.notify(t.control, C_OWNED);
  }

  /** The I/O thread stops touching the rings now (under the lock) and ends (its I/O in flight finishes first). */
  private stopThread(): void {
    const t = this.thread;
    if (!t) return;
    this.thread = undefined;
    lock(t.control);
    Atomics.store(t.control, C_STOP, 1);
    unlock(t.control);
    Atomics.notify(t.control, C_OWNED); // if it waits for the queue
    t.threads.wake(t.slot); // if it waits for a notify
  }

  /** Start every available request, up to one queue's worth in flight. */
  private takeRequests(): void {
    const ctx = this.ctx;
    const queue = ctx?.queues[0];
    if (!ctx?.active || !queue?.ready) return;
    try {
      for (;;) {
        // requests of earlier generations count too: their host I/O is still running
        if (this.hostIo.size >= queue.size) { this.throttled = true; break; }
        const chain = queue.pop();
        if (!chain) break;
        this.start(ctx, queue, chain);
      }
    } catch (e) {
      ctx.needsReset(e instanceof Error ? e.message : String(e));
    }
  }

  private start(ctx: VirtioContext, queue: Virtqueue, chain: DescriptorChain): void {
    const { type, sector, status } = parseRequest(chain);
    const generation = this.generation;
    // the request's work stops at the next piece once the device is reset, stopped or closed
    const live = (): boolean => generation === this.generation && ctx.active;
    const io = executeRequest(this.backend, type, sector, chain, live)
      .catch((e: unknown) => this.hostError(ctx, e))
      .then((outcome) => {
        // the device was reset meanwhile, or stopped (NEEDS_RESET): nothing goes back into guest RAM
        if (generation !== this.generation || !ctx.active) return;
        status[0] = outcome.status;
        queue.push(chain, outcome.written);
        ctx.signalUsed(0);
      })
      .catch((e: unknown) => ctx.needsReset(`internal error: ${e instanceof Error ? e.message : String(e)}`));
    this.hostIo.add(io);
    void io.finally(() => {
      this.hostIo.delete(io);
      // room for one more: take what the queue held back (of the current generation)
      if (this.throttled) {
        this.throttled = false;
        this.takeRequests();
      }
      this.handOver();
    });
  }

  private hostError(ctx: VirtioContext, e: unknown): Outcome {
    if (!this.ioErrorReported) {
      this.ioErrorReported = true;
      ctx.warn(hostIoWarning(e));
    }
    return ioErrorOutcome(this.backend.stats);
  }
}
