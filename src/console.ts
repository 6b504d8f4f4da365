/**
 * Scripting a guest's serial console, expect(1)-style: wait for what the
 * guest prints, type lines. `vm.console` is one over the VM's serial port.
 */
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { WkvmError } from './errors.js';

export interface ExpectOptions {
  /** Milliseconds to wait (default 30000; Infinity waits for ever). */
  timeout?: number;
  /** Stop waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Output kept for expect() at most (the oldest goes first): a guest that prints without end must not fill the host. */
const MAX_BUFFERED = 1 << 20;
const DEFAULT_TIMEOUT_MS = 30_000;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class GuestConsole {
  private text = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(private readonly port: Duplex) {
    // reading the port keeps the guest's output flowing (an unread port stalls the guest's UART)
    port.on('data', (d: Buffer) => this.add(this.decoder.write(d)));
    port.on('end', () => { this.add(this.decoder.end()); this.closed = true; this.wake(); });
    if (port.readableEnded) this.closed = true;
  }

  /** What the guest printed that expect() has not yet consumed. */
  get buffered(): string { return this.text; }

  private add(s: string): void {
    if (s === '') return;
    this.text += s;
    if (this.text.length > MAX_BUFFERED) this.text = this.text.slice(-MAX_BUFFERED);
    this.wake();
  }

  private wake(): void { for (const w of [...this.waiters]) w(); }

  /**
   * Wait until the output holds `pattern` (a string is matched literally) and
   * consume the output up to the end of the match, so the next expect()
   * looks only at what follows. Resolves with the match; rejects with a
   * WkvmError on timeout or when the console closes (the VM stopped) first.
   */
  expect(pattern: string | RegExp, opts: ExpectOptions = {}): Promise<RegExpExecArray> {
    const re = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT_MS;
    if (!(timeout >= 0)) return Promise.reject(new WkvmError(`invalid expect timeout '${timeout}': must be a number of milliseconds`));
    const { signal } = opts;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        this.waiters.delete(check);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => { done(); reject(signal!.reason); };
      const check = (): void => {
        const m = re.exec(this.text);
        if (m) {
          done();
          this.text = this.text.slice(m.index + m[0].length);
          resolve(m);
        } else if (this.closed) {
          done();
          reject(new WkvmError(`console closed (the VM stopped) before ${re} appeared; last output: ${JSON.stringify(this.text.slice(-200))}`));
        }
      };
      if (signal?.aborted) { reject(signal.reason); return; }
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== Infinity) {
        timer = setTimeout(() => {
          done();
          reject(new WkvmError(`timed out after ${timeout} ms waiting for ${re} on the console; last output: ${JSON.stringify(this.text.slice(-200))}`));
        }, timeout);
      }
      this.waiters.add(check);
      check();
    });
  }

  /** Type `text` (no newline added). */
  send(text: string | Uint8Array): void {
    if (this.closed) throw new WkvmError('console closed: the VM has stopped');
    this.port.write(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  }

  /** Type a line: `text` and Enter. */
  sendLine(text: string): void { this.send(text + '\n'); }
}
