/**
 * Scatter-gather lists: a request's data as a list of views of guest RAM,
 * read and written as if it were one byte string. All work is linear in the
 * number of segments touched, never per byte.
 */

/** Total length of a list of segments. */
export function segmentsLength(segments: readonly Uint8Array[]): number {
  let n = 0;
  for (const s of segments) n += s.length;
  return n;
}

/**
 * Copy from a list of segments, starting `offset` bytes in, into `dst`;
 * returns how many bytes were copied (fewer at the end of the list).
 */
export function copyFromSegments(segments: readonly Uint8Array[], offset: number, dst: Uint8Array): number {
  const cursor = new SegmentCursor(segments);
  cursor.seek(offset);
  return cursor.read(dst);
}

/** Copy `src` into a list of segments starting `offset` bytes in; returns how many bytes fitted. */
export function copyToSegments(segments: readonly Uint8Array[], offset: number, src: Uint8Array): number {
  const cursor = new SegmentCursor(segments);
  cursor.seek(offset);
  return cursor.write(src);
}

/** Views of bytes [offset, offset+length) of a list of segments (clipped at its end). */
export function subSegments(segments: readonly Uint8Array[], offset: number, length: number): Uint8Array[] {
  // all of them (a request's data in one piece): no new views
  if (offset === 0 && length >= segmentsLength(segments)) return segments.slice();
  const out: Uint8Array[] = [];
  for (const seg of segments) {
    if (length <= 0) break;
    if (offset >= seg.length) { offset -= seg.length; continue; }
    const n = Math.min(seg.length - offset, length);
    out.push(seg.subarray(offset, offset + n));
    length -= n;
    offset = 0;
  }
  return out;
}

/** The list with its first `n` bytes dropped (after a partial readv/writev). */
export function dropBytes(segments: readonly Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < segments.length && n >= segments[i]!.length) n -= segments[i++]!.length;
  const rest = segments.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/**
 * A forward-only position in a list of segments, for copying many pieces
 * in order (e.g. 4 KiB chunks) without rescanning the list each time.
 */
export class SegmentCursor {
  private index = 0;
  private within = 0;
  private at = 0;

  constructor(private readonly segments: readonly Uint8Array[]) {}

  /** Byte position in the list. */
  get position(): number { return this.at; }

  /** Move forward to `position` (never backwards). */
  seek(position: number): void {
    let skip = position - this.at;
    if (skip <= 0) return;
    while (skip > 0 && this.index < this.segments.length) {
      const left = this.segments[this.index]!.length - this.within;
      if (skip < left) { this.within += skip; this.at += skip; return; }
      skip -= left;
      this.at += left;
      this.index++;
      this.within = 0;
    }
  }

  /** Copy into `dst` from here; returns bytes copied. */
  read(dst: Uint8Array): number {
    return this.move(dst, false);
  }

  /** Copy `src` into the segments from here; returns bytes copied. */
  write(src: Uint8Array): number {
    return this.move(src, true);
  }

  private move(buf: Uint8Array, intoSegments: boolean): number {
    let done = 0;
    while (done < buf.length && this.index < this.segments.length) {
      const seg = this.segments[this.index]!;
      const n = Math.min(seg.length - this.within, buf.length - done);
      if (intoSegments) seg.set(buf.subarray(done, done + n), this.within);
      else buf.set(seg.subarray(this.within, this.within + n), done);
      done += n;
      this.at += n;
      this.within += n;
      if (this.within === seg.length) { this.index++; this.within = 0; }
    }
    return done;
  }
}
