/**
 * virtio-blk (virtio 1.2, 5.2): one request queue. A request is a 16-byte
 * header {type u32, reserved u32, sector u64} in driver-readable buffers,
 * then data, then one status byte, the last writable byte of the chain.
 *
 * Requests run concurrently on the host (libuv's thread pool) and are
 * given back as each finishes; the used ring's order may differ from the
 * available ring's, which the spec allows. At most one queue's worth of
 * requests is in flight on the host: beyond that the device stops taking
 * requests until one completes. A device reset drops the completions of
 * requests started before it (a generation counter); their host I/O still
 * finishes, counts against that limit until it has (so resets cannot pile
 * up host I/O without bound), and drain() waits for it.
 */
import type { VirtioContext, VirtioDevice } from '../device.js';
import { readConfigBytes } from '../device.js';
import { VirtqueueError, type DescriptorChain, type Virtqueue } from '../queue.js';
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

interface Outcome { status: number; written: number }
const done = (status: number, written = 0): Outcome => ({ status, written });

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

export class VirtioBlock implements VirtioDevice {
  readonly name: string;
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  readonly readonly: boolean;
  readonly cache: BlockCacheMode;
  /** Requests served, for load tests (vm.deviceStats(), QMP query-stats target vm). */
  readonly ioStats = { reads: 0, readBytes: 0, writes: 0, writeBytes: 0, flushes: 0, discards: 0, errors: 0 };
  /** The drive as a monitor shows it (QMP's query-block). */
  readonly info: { id: string; file: string; size: number; readonly: boolean; snapshot: boolean; cache: BlockCacheMode };
  private readonly config = new Uint8Array(CFG_SIZE);
  private readonly id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  private readonly header = new DataView(new ArrayBuffer(16));
  private readonly segment = new DataView(new ArrayBuffer(16));
  private ctx: VirtioContext | null = null;
  /** Bumped at every reset: completions of an older generation are dropped. */
  private generation = 0;
  /** The queue had more requests when host I/O in flight hit its cap: take them as host I/O completes. */
  private throttled = false;
  private readonly hostIo = new Set<Promise<void>>();
  private ioErrorReported = false;

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
    this.id.set(new TextEncoder().encode(options.serial).subarray(0, VIRTIO_BLK_ID_BYTES));
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

  readConfig(offset: number, size: number): number {
    return readConfigBytes(this.config, offset, size);
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
    this.ioErrorReported = false;
  }

  notify(): void {
    this.takeRequests();
  }

  reset(): void {
    this.generation++;
    this.ctx = null;
    this.throttled = false;
  }

  async drain(): Promise<void> {
    while (this.hostIo.size > 0) await Promise.allSettled([...this.hostIo]);
  }

  async close(): Promise<void> {
    this.reset();
    await this.drain();
    await this.store.close();
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
    // without a header or a status byte the request cannot even be answered
    if (chain.readableLength < 16) throw new VirtqueueError('block request without its 16-byte header');
    if (chain.writableLength < 1) throw new VirtqueueError('block request without a writable status byte');
    const last = chain.writable[chain.writable.length - 1]!;
    const status = last.subarray(last.length - 1);
    chain.readInto(new Uint8Array(this.header.buffer), 0);
    const type = this.header.getUint32(0, true);
    const sector = this.header.getBigUint64(8, true);
    const generation = this.generation;
    // the request's work stops at the next piece once the device is reset, stopped or closed
    const live = (): boolean => generation === this.generation && ctx.active;
    const io = this.execute(type, sector, chain, live)
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
    });
  }

  private hostError(ctx: VirtioContext, e: unknown): Outcome {
    if (!this.ioErrorReported) {
      this.ioErrorReported = true;
      ctx.warn(`host I/O error (the guest gets IOERR; further errors not reported): ${e instanceof Error ? e.message : String(e)}`);
    }
    this.ioStats.errors++;
    return done(VIRTIO_BLK_S_IOERR, 1);
  }

  /** Byte position of `length` bytes at `sector`, or -1 if not whole sectors inside the disk. */
  private range(sector: bigint, length: number): number {
    if (length % SECTOR_SIZE !== 0) return -1;
    const start = sector * BigInt(SECTOR_SIZE);
    if (start + BigInt(length) > BigInt(this.store.size)) return -1;
    return Number(start);
  }

  private async execute(type: number, sector: bigint, chain: DescriptorChain, live: () => boolean): Promise<Outcome> {
    const dataIn = chain.writableLength - 1; // writable bytes before the status byte
    const dataOut = chain.readableLength - 16; // readable bytes after the header
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const at = this.range(sector, dataIn);
        if (at < 0) return done(VIRTIO_BLK_S_IOERR, 1);
        for (let off = 0; off < dataIn && live(); off += IO_PIECE) {
          await this.store.read(chain.writableRange(off, Math.min(IO_PIECE, dataIn - off)), at + off);
        }
        this.ioStats.reads++;
        this.ioStats.readBytes += dataIn;
        return done(VIRTIO_BLK_S_OK, dataIn + 1);
      }
      case VIRTIO_BLK_T_OUT: {
        const at = this.range(sector, dataOut);
        if (this.readonly || at < 0) return done(VIRTIO_BLK_S_IOERR, 1);
        for (let off = 0; off < dataOut && live(); off += IO_PIECE) {
          await this.store.write(chain.readableRange(16 + off, Math.min(IO_PIECE, dataOut - off)), at + off);
        }
        if (this.cache === 'writethrough' && live()) await this.store.flush();
        this.ioStats.writes++;
        this.ioStats.writeBytes += dataOut;
        return done(VIRTIO_BLK_S_OK, 1);
      }
      case VIRTIO_BLK_T_FLUSH:
        if (this.cache !== 'unsafe') await this.store.flush();
        this.ioStats.flushes++;
        return done(VIRTIO_BLK_S_OK, 1);
      case VIRTIO_BLK_T_GET_ID: {
        const n = Math.min(VIRTIO_BLK_ID_BYTES, dataIn);
        chain.writeFrom(this.id.subarray(0, n), 0);
        return done(VIRTIO_BLK_S_OK, n + 1);
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        return this.discardOrZero(type, chain, dataOut, live);
      default:
        return done(VIRTIO_BLK_S_UNSUPP, 1);
    }
  }

  /** One segment {sector u64, num_sectors u32, flags u32} (max_*_seg is 1). */
  private async discardOrZero(type: number, chain: DescriptorChain, dataOut: number, live: () => boolean): Promise<Outcome> {
    const zeroes = type === VIRTIO_BLK_T_WRITE_ZEROES;
    if (this.readonly || dataOut !== 16) return done(VIRTIO_BLK_S_IOERR, 1);
    chain.readInto(new Uint8Array(this.segment.buffer), 16);
    const sector = this.segment.getBigUint64(0, true);
    const count = this.segment.getUint32(8, true);
    const flags = this.segment.getUint32(12, true);
    // unknown flags, or unmap on a discard, are unsupported (5.2.6.2)
    const known = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
    if (flags & ~known) return done(VIRTIO_BLK_S_UNSUPP, 1);
    if (count > (zeroes ? MAX_WRITE_ZEROES_SECTORS : MAX_DISCARD_SECTORS)) return done(VIRTIO_BLK_S_IOERR, 1);
    const at = this.range(sector, count * SECTOR_SIZE);
    if (at < 0) return done(VIRTIO_BLK_S_IOERR, 1);
    // a discard is a hint that the data is no longer needed: keeping it is allowed
    const length = count * SECTOR_SIZE;
    for (let off = 0; zeroes && off < length && live(); off += IO_PIECE) {
      await this.store.writeZeroes(at + off, Math.min(IO_PIECE, length - off));
    }
    this.ioStats.discards++;
    return done(VIRTIO_BLK_S_OK, 1);
  }
}
