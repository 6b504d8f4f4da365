/**
 * The GDB remote serial protocol's framing: `$payload#cs` packets (cs = the
 * sum of the payload bytes mod 256, two hex digits), `+`/`-` acks, and the
 * 0x03 interrupt byte between packets. The client is not trusted: a packet
 * longer than the limit is dropped (reported as 'bad', the caller answers
 * `-`), bytes outside packets are skipped, and nothing a client sends can
 * make the reader hold more than the limit.
 */

export type Frame =
  | { kind: 'packet'; data: Buffer }
  | { kind: 'bad'; reason: 'checksum' | 'too-long' }
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' };

const enum State { Idle, Body, Sum1, Sum2 }

export class PacketReader {
  private state = State.Idle;
  private body: Buffer;
  private len = 0;
  private overflow = false;
  private sum = 0;
  private given = 0;

  /** `maxPacket`: the largest payload accepted (what qSupported's PacketSize announces). */
  constructor(readonly maxPacket: number) {
    this.body = Buffer.alloc(maxPacket);
  }

  /** Feed bytes from the client; returns the frames they complete. */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    for (const c of chunk) {
      switch (this.state) {
        case State.Idle:
          if (c === 0x24) { this.state = State.Body; this.len = 0; this.sum = 0; this.overflow = false; } // $
          else if (c === 0x03) out.push({ kind: 'interrupt' });
          else if (c === 0x2b) out.push({ kind: 'ack' });    // +
          else if (c === 0x2d) out.push({ kind: 'nack' });   // -
          break; // anything else between packets is noise
        case State.Body:
          if (c === 0x23) { this.state = State.Sum1; break; } // #
          if (c === 0x24) { this.len = 0; this.sum = 0; this.overflow = false; break; } // a new start: the old packet was cut off
          this.sum = (this.sum + c) & 0xff;
          if (this.len < this.maxPacket) this.body[this.len++] = c; else this.overflow = true;
          break;
        case State.Sum1: {
          const d = hexDigit(c);
          this.given = d < 0 ? -1 : d << 4;
          this.state = State.Sum2;
          break;
        }
        case State.Sum2: {
          const d = hexDigit(c);
          this.state = State.Idle;
          if (this.overflow) out.push({ kind: 'bad', reason: 'too-long' });
          else if (this.given < 0 || d < 0 || (this.given | d) !== this.sum) out.push({ kind: 'bad', reason: 'checksum' });
          else out.push({ kind: 'packet', data: unescape(this.body.subarray(0, this.len)) });
          break;
        }
      }
    }
    return out;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Undo the binary escape (`}` then the byte xor 0x20), used by X packets; returns a copy. */
function unescape(raw: Buffer): Buffer {
  if (!raw.includes(0x7d)) return Buffer.from(raw);
  const out = Buffer.alloc(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x7d && i + 1 < raw.length) out[n++] = raw[++i]! ^ 0x20;
    else out[n++] = raw[i]!;
  }
  return out.subarray(0, n);
}

/** Frame a reply: `$payload#cs`, with `#`, `$`, `}` and `*` escaped (binary-safe, and never read as run-length encoding). */
export function encodePacket(payload: string | Uint8Array): Buffer {
  const src = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const bytes: number[] = [0x24];
  let sum = 0;
  for (const c of src) {
    if (c === 0x23 || c === 0x24 || c === 0x7d || c === 0x2a) {
      bytes.push(0x7d, c ^ 0x20);
      sum += 0x7d + (c ^ 0x20);
    } else {
      bytes.push(c);
      sum += c;
    }
  }
  bytes.push(0x23, ...Buffer.from((sum & 0xff).toString(16).padStart(2, '0'), 'latin1'));
  return Buffer.from(bytes);
}
