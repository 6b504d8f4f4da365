/**
 * Where a virtio-blk device's sectors live: a raw image file (I/O through
 * libuv's thread pool, straight into and out of guest RAM; or, on the
 * drive's I/O thread, synchronous calls on its descriptor), or, in snapshot
 * mode, that file read-only under an in-memory copy-on-write overlay.
 */
import { fdatasyncSync, readvSync, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dropBytes, SegmentCursor, segmentsLength } from '../segments.js';

export interface BlockStore {
  /** Bytes the guest can address: a multiple of 512. */
  readonly size: number;
  /** Fill `segments` with the bytes at `position` (all of them, or throw). */
  read(segments: readonly Uint8Array[], position: number): Promise<void>;
  /** Store `segments` at `position` (all of them, or throw). */
  write(segments: readonly Uint8Array[], position: number): Promise<void>;
  writeZeroes(position: number, length: number): Promise<void>;
  /** Make every completed write durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** The image's file descriptor, where a thread of the drive's own may do its I/O (./iothread.ts). */
  readonly fd?: number;
}

/** Largest single write of zeroes (WRITE_ZEROES is done in pieces of this). */
const ZERO_PIECE = 1 << 20;
let zeroPiece: Uint8Array | undefined;
function zeroes(length: number): Uint8Array {
  zeroPiece ??= new Uint8Array(ZERO_PIECE);
  return zeroPiece.subarray(0, Math.min(length, ZERO_PIECE));
}

/**
 * A vectored transfer to its end: readv and writev may stop short (IOV_MAX
 * segments, signals), so carry on from where each one stopped.
 */
async function transferAll(
  segments: readonly Uint8Array[], position: number,
  once: (rest: Uint8Array[], at: number) => Promise<number>, stuck: string,
): Promise<void> {
  let rest = segments.filter((s) => s.length > 0);
  while (rest.length > 0) {
    const n = await once(rest, position);
    if (n === 0) throw new Error(stuck);
    position += n;
    rest = dropBytes(rest, n);
  }
}

/**
 * A raw image: sector n is bytes [512n, 512n+512) of the file. How one
 * vectored read or write reaches the file is the subclass's.
 */
abstract class RawImage implements BlockStore {
  constructor(readonly size: number) {}

  abstract readonly fd: number;
  /** One readv/writev at `at`: the bytes it moved. */
  protected abstract readOnce(segments: Uint8Array[], at: number): Promise<number>;
  protected abstract writeOnce(segments: Uint8Array[], at: number): Promise<number>;
  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;

  read(segments: readonly Uint8Array[], position: number): Promise<void> {
    return transferAll(segments, position, (rest, at) => this.readOnce(rest, at), 'unexpected end of the image file (was it truncated?)');
  }

  write(segments: readonly Uint8Array[], position: number): Promise<void> {
    return transferAll(segments, position, (rest, at) => this.writeOnce(rest, at), 'the image file accepted no bytes');
  }

  async writeZeroes(position: number, length: number): Promise<void> {
    while (length > 0) {
      const piece = zeroes(length);
      await this.write([piece], position);
      position += piece.length;
      length -= piece.length;
    }
  }
}

/** A raw image through its FileHandle (libuv's thread pool). */
export class RawFileStore extends RawImage {
  constructor(private readonly fh: FileHandle, size: number) { super(size); }

  get fd(): number { return this.fh.fd; }

  protected async readOnce(segments: Uint8Array[], at: number): Promise<number> { return (await this.fh.readv(segments, at)).bytesRead; }
  protected async writeOnce(segments: Uint8Array[], at: number): Promise<number> { return (await this.fh.writev(segments, at)).bytesWritten; }

  async flush(): Promise<void> {
    await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * A raw image's file descriptor, on a thread that does nothing but its I/O
 * (the drive's I/O thread): each call is synchronous (a failure still a
 * rejected promise, as from the other store). The descriptor stays its
 * opener's to close.
 */
export class SyncFileStore extends RawImage {
  constructor(readonly fd: number, size: number) { super(size); }

  protected async readOnce(segments: Uint8Array[], at: number): Promise<number> { return readvSync(this.fd, segments, at); }
  protected async writeOnce(segments: Uint8Array[], at: number): Promise<number> { return writevSync(this.fd, segments, at); }

  async flush(): Promise<void> {
    fdatasyncSync(this.fd);
  }

  async close(): Promise<void> {}
}

/** Overlay granularity: a guest write copies at most two partial chunks from the image. */
export const SNAPSHOT_CHUNK = 4096;

/**
 * Snapshot mode (QEMU's -snapshot): the image stays byte-identical; the
 * guest's writes go to 4 KiB chunks in memory that its reads see. A chunk
 * the guest zeroed whole is kept as a marker, not as 4 KiB of zeroes. The
 * overlay grows with what the guest writes, up to the disk's size.
 */
export class SnapshotStore implements BlockStore {
  /** chunk number -> its contents, or null for a chunk that is all zeroes */
  private readonly chunks = new Map<number, Uint8Array | null>();

  constructor(private readonly base: BlockStore) {}

  get size(): number { return this.base.size; }

  /** Bytes of memory the overlay holds. */
  get overlayBytes(): number {
    let n = 0;
    for (const c of this.chunks.values()) if (c) n += c.length;
    return n;
  }

  async read(segments: readonly Uint8Array[], position: number): Promise<void> {
    await this.base.read(segments, position);
    // the image's bytes first, then what the guest wrote over them
    const length = segmentsLength(segments);
    if (length === 0 || this.chunks.size === 0) return;
    const cursor = new SegmentCursor(segments);
    const end = position + length;
    for (let n = Math.floor(position / SNAPSHOT_CHUNK); n * SNAPSHOT_CHUNK < end; n++) {
      const chunk = this.chunks.get(n);
      if (chunk === undefined) continue;
      const from = Math.max(n * SNAPSHOT_CHUNK, position);
      const to = Math.min((n + 1) * SNAPSHOT_CHUNK, end);
      cursor.seek(from - position);
      if (chunk) cursor.write(chunk.subarray(from - n * SNAPSHOT_CHUNK, to - n * SNAPSHOT_CHUNK));
      else cursor.write(zeroes(to - from));
    }
  }

  async write(segments: readonly Uint8Array[], position: number): Promise<void> {
    const length = segmentsLength(segments);
    if (length === 0) return;
    await this.loadEdges(position, length);
    // no await from here on: the copy into the overlay is atomic for other requests
    const cursor = new SegmentCursor(segments);
    const end = position + length;
    for (let n = Math.floor(position / SNAPSHOT_CHUNK); n * SNAPSHOT_CHUNK < end; n++) {
      const from = Math.max(n * SNAPSHOT_CHUNK, position);
      const to = Math.min((n + 1) * SNAPSHOT_CHUNK, end);
      const chunk = this.ownChunk(n);
      cursor.read(chunk.subarray(from - n * SNAPSHOT_CHUNK, to - n * SNAPSHOT_CHUNK));
    }
  }

  async writeZeroes(position: number, length: number): Promise<void> {
    if (length === 0) return;
    await this.loadEdges(position, length);
    const end = position + length;
    for (let n = Math.floor(position / SNAPSHOT_CHUNK); n * SNAPSHOT_CHUNK < end; n++) {
      const from = Math.max(n * SNAPSHOT_CHUNK, position);
      const to = Math.min((n + 1) * SNAPSHOT_CHUNK, end);
      if (to - from === SNAPSHOT_CHUNK) this.chunks.set(n, null);
      else this.ownChunk(n).fill(0, from - n * SNAPSHOT_CHUNK, to - n * SNAPSHOT_CHUNK);
    }
  }

  /** The chunk as a buffer of its own (made from the zero marker, or fresh if the write covers it). */
  private ownChunk(n: number): Uint8Array {
    let chunk = this.chunks.get(n);
    if (!chunk) {
      chunk = new Uint8Array(SNAPSHOT_CHUNK);
      this.chunks.set(n, chunk);
    }
    return chunk;
  }

  /** Bring in from the image the chunks a write covers only in part (the first and the last). */
  private async loadEdges(position: number, length: number): Promise<void> {
    const end = position + length;
    const edges = new Set<number>();
    if (position % SNAPSHOT_CHUNK !== 0) edges.add(Math.floor(position / SNAPSHOT_CHUNK));
    if (end % SNAPSHOT_CHUNK !== 0) edges.add(Math.floor(end / SNAPSHOT_CHUNK));
    for (const n of edges) {
      if (this.chunks.has(n)) continue;
      const chunk = new Uint8Array(SNAPSHOT_CHUNK);
      const start = n * SNAPSHOT_CHUNK;
      // the last chunk of a disk whose size is not a multiple of 4 KiB is partly outside it
      await this.base.read([chunk.subarray(0, Math.min(SNAPSHOT_CHUNK, this.size - start))], start);
      if (!this.chunks.has(n)) this.chunks.set(n, chunk); // another write may have got there first
    }
  }

  async flush(): Promise<void> {
    // nothing the guest writes is meant to outlive the run
  }

  async close(): Promise<void> {
    this.chunks.clear();
    await this.base.close();
  }
}
