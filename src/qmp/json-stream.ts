/**
 * Splits a QMP connection's byte stream into JSON values. QMP messages are
 * JSON objects back to back, with or without newlines between them (QEMU's
 * json-streamer); this finds where each top-level value ends without
 * parsing it (braces and brackets outside strings), then hands it to
 * JSON.parse. A bare word or number at the top level is a value too (and an
 * error for the session to report). Input is hostile: a message longer than
 * `maxBytes` or nested deeper than MAX_DEPTH is an error, and the stream
 * skips to the next newline before it looks for the next value.
 */

export type Incoming = { value: unknown } | { error: string };

/** QEMU's limit on nesting (json-parser MAX_NESTING). */
const MAX_DEPTH = 1024;
/** Longest message taken by default (QEMU's is 64 MiB; commands are small). */
export const DEFAULT_MAX_MESSAGE = 1 << 20;

const WS = new Set([' ', '\t', '\r', '\n']);
const DELIM = new Set([' ', '\t', '\r', '\n', '{', '}', '[', ']', ',', ':', '"']);

export class JsonStream {
  private text = '';
  private pos = 0;
  /** Where the value being scanned starts in `text` (-1: between values). */
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** A bare token (keyword or number) at top level is being read. */
  private bare = false;
  /** After an error: drop input up to the next newline. */
  private recovering = false;

  constructor(private readonly maxBytes = DEFAULT_MAX_MESSAGE) {}

  /** Feed text; returns the values (or errors) it completes, in order. */
  push(chunk: string): Incoming[] {
    const out: Incoming[] = [];
    this.text += chunk;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (this.recovering) {
        this.pos++;
        if (c === '\n') { this.recovering = false; this.compact(); }
        continue;
      }
      if (this.start < 0) {
        if (WS.has(c)) { this.pos++; continue; }
        this.start = this.pos;
        this.bare = c !== '{' && c !== '[' && c !== '"';
        if (this.bare && (c === '}' || c === ']' || c === ',' || c === ':')) {
          this.fail(out, `JSON parse error, stray '${c}'`);
          continue;
        }
      }
      if (this.bare) {
        if (DELIM.has(c)) { this.finish(out, this.pos); continue; } // the delimiter starts the next value
        this.pos++;
      } else {
        this.pos++;
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === '\\') this.escaped = true;
          else if (c === '"') { this.inString = false; if (this.depth === 0) { this.finish(out, this.pos); continue; } }
        } else if (c === '"') this.inString = true;
        else if (c === '{' || c === '[') {
          if (++this.depth > MAX_DEPTH) { this.fail(out, 'JSON parse error, nesting too deep'); continue; }
        } else if (c === '}' || c === ']') {
          if (--this.depth === 0) { this.finish(out, this.pos); continue; }
        }
      }
      if (this.pos - this.start > this.maxBytes) this.fail(out, `JSON parse error, message longer than ${this.maxBytes} bytes`);
    }
    this.compact();
    return out;
  }

  /** The value in text[start, end) is complete. */
  private finish(out: Incoming[], end: number): void {
    const src = this.text.slice(this.start, end);
    this.pos = end;
    this.reset();
    try {
      out.push({ value: JSON.parse(src) });
    } catch {
      out.push({ error: this.bareError(src) });
    }
  }

  private bareError(src: string): string {
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src);
    if (word) return `JSON parse error, invalid keyword '${word[0].slice(0, 64)}'`;
    return 'JSON parse error, invalid JSON';
  }

  private fail(out: Incoming[], error: string): void {
    out.push({ error });
    this.reset();
    this.recovering = true;
  }

  private reset(): void {
    this.start = -1;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.bare = false;
  }

  /** Drop consumed text (keep what the current value has so far). */
  private compact(): void {
    const keep = this.start >= 0 ? this.start : this.pos;
    if (keep === 0) return;
    this.text = this.text.slice(keep);
    this.pos -= keep;
    if (this.start >= 0) this.start = 0;
  }
}
