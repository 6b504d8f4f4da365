/**
 * The stream framing of passt, QEMU's `-netdev stream` and QEMU's
 * `-netdev socket` (TCP): each Ethernet frame is sent as a 4-byte big-endian
 * length followed by the frame.
 */

/**
 * Longest frame accepted from a peer: 64 KiB plus slack, QEMU's NET_BUFSIZE
 * (passt's largest frame is 65520 + 14 bytes). A longer length means a
 * broken or hostile peer: the connection is closed.
 */
export const MAX_FRAME_LEN = 65536 + 4096;

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

/** The frame with its 4-byte length prefix, in a fresh buffer. */
export function encodeFrame(frame: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + frame.length);
  b.writeUInt32BE(frame.length, 0);
  b.set(frame, 4);
  return b;
}

/**
 * Streaming parser: push() the chunks as they arrive (frames may be split
 * across chunks or several coalesced in one), pull complete frames with
 * next(). It holds only bytes pushed and not yet taken: a reader that stops
 * reading its socket while frames are not taken bounds it. Zero-length frames
 * are skipped.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  /** Index of the first chunk with unread bytes (chunks before it are spent). */
  private head = 0;
  /** Read offset into chunks[head]. */
  private offset = 0;
  private avail = 0;
  private failed: FramingError | undefined;

  constructor(readonly maxFrameLen = MAX_FRAME_LEN) {}

  /** Bytes received and not yet returned as frames. */
  get buffered(): number { return this.avail; }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.failed) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.avail += chunk.length;
  }

  /**
   * The next complete frame, or undefined until more bytes arrive. Throws a
   * FramingError (and keeps throwing until reset()) when the peer announces
   * a frame longer than maxFrameLen.
   */
  next(): Buffer | undefined {
    if (this.failed) throw this.failed;
    for (;;) {
      if (this.avail < 4) return undefined;
      const len = this.peekLength();
      if (len > this.maxFrameLen) {
        const failed = new FramingError(`peer sent a frame length of ${len} bytes (limit ${this.maxFrameLen})`);
        this.reset();
        this.failed = failed;
        throw failed;
      }
      if (this.avail < 4 + len) return undefined;
      this.take(4);
      if (len === 0) continue;
      return this.take(len);
    }
  }

  /** Every complete frame now available. */
  drain(): Buffer[] {
    const out: Buffer[] = [];
    for (let f = this.next(); f; f = this.next()) out.push(f);
    return out;
  }

  reset(): void {
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.avail = 0;
    this.failed = undefined;
  }

  private peekLength(): number {
    const first = this.chunks[this.head];
    if (first.length - this.offset >= 4) return first.readUInt32BE(this.offset);
    let v = 0;
    let i = this.head;
    let off = this.offset;
    for (let n = 0; n < 4; n++) {
      while (off >= this.chunks[i].length) { i++; off = 0; }
      v = v * 256 + this.chunks[i][off++];
    }
    return v;
  }

  /** Remove n (<= avail) bytes from the front: a view when they lie in one chunk, else a copy. */
  private take(n: number): Buffer {
    const first = this.chunks[this.head];
    let out: Buffer;
    if (first.length - this.offset >= n) {
      out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const c = this.chunks[this.head];
        const k = Math.min(n - got, c.length - this.offset);
        c.copy(out, got, this.offset, this.offset + k);
        got += k;
        this.offset += k;
        if (this.offset === c.length) { this.head++; this.offset = 0; }
      }
    }
    if (this.head < this.chunks.length && this.offset === this.chunks[this.head].length) { this.head++; this.offset = 0; }
    this.avail -= n;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
