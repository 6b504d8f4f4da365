/**
 * virtio-console (virtio 1.2, 5.3) with one port and no MULTIPORT:
 * receiveq0 (host -> guest) and transmitq0 (guest -> host), joined to a
 * byte stream the caller gives (a Duplex: what is written to the VM's side
 * of it reaches the guest; what the guest sends is written to it).
 *
 * Both directions apply backpressure: host input waits (the stream paused
 * past RX_HIGH_WATER bytes) until the guest posts receive buffers, and the
 * device stops taking transmit buffers while stream.write() says the
 * reader is behind, until 'drain'.
 */
import type { Duplex } from 'node:stream';
import type { VirtioContext, VirtioDevice } from '../device.js';
import { readConfigBytes } from '../device.js';
import type { DescriptorChain } from '../queue.js';
import { SegmentCursor } from '../segments.js';

export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_CONSOLE_F_SIZE = 1n << 0n;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1n << 1n;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 1n << 2n;

export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;
const QUEUE_SIZE = 128;
/** Bytes copied out of guest RAM per stream write. */
const TX_PIECE = 64 * 1024;
/** Stream writes per turn of the I/O loop before the rest waits for setImmediate. */
const TX_PIECES_PER_TURN = 16;
/** Host input held for the guest before the stream is paused. */
const RX_HIGH_WATER = 64 * 1024;

// config space (5.3.4)
const CFG_COLS = 0;
const CFG_ROWS = 2;
const CFG_MAX_NR_PORTS = 4;
const CFG_EMERG_WR = 8;
const CFG_SIZE = 12;

export interface VirtioConsoleOptions {
  /** Terminal size offered with VIRTIO_CONSOLE_F_SIZE (both or neither). */
  cols?: number;
  rows?: number;
}

export class VirtioConsole implements VirtioDevice {
  readonly name = 'virtio-console';
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features: bigint;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  private readonly config = new Uint8Array(CFG_SIZE);
  private ctx: VirtioContext | null = null;

  // host -> guest
  private readonly input: Buffer[] = [];
  private inputOffset = 0; // into input[0]
  private inputBytes = 0;
  private inputPaused = false;
  private deliverScheduled = false;

  // guest -> host
  private txChain: DescriptorChain | null = null;
  private txCursor: SegmentCursor | null = null;
  private txBlocked = false; // waiting for 'drain'
  private transmitScheduled = false;
  private streamFailed = false;

  private readonly onData = (chunk: Buffer | string): void => this.receive(chunk);
  private readonly onDrain = (): void => {
    this.txBlocked = false;
    this.transmit();
  };
  private readonly onError = (e: Error): void => {
    this.streamFailed = true; // output is discarded from now on
    this.ctx?.warn(`console stream failed: ${e.message}`);
  };

  constructor(private readonly stream: Duplex, options: VirtioConsoleOptions = {}) {
    const sized = options.cols !== undefined && options.rows !== undefined;
    this.features = VIRTIO_CONSOLE_F_EMERG_WRITE | (sized ? VIRTIO_CONSOLE_F_SIZE : 0n);
    const c = new DataView(this.config.buffer);
    c.setUint32(CFG_MAX_NR_PORTS, 1, true);
    if (sized) this.setSize(options.cols!, options.rows!);
    stream.on('data', this.onData);
    stream.on('error', this.onError);
  }

  private setSize(cols: number, rows: number): void {
    const c = new DataView(this.config.buffer);
    c.setUint16(CFG_COLS, Math.max(0, Math.min(0xffff, Math.floor(cols))), true);
    c.setUint16(CFG_ROWS, Math.max(0, Math.min(0xffff, Math.floor(rows))), true);
  }

  /** The terminal was resized (only seen by a driver that negotiated VIRTIO_CONSOLE_F_SIZE). */
  resize(cols: number, rows: number): void {
    this.setSize(cols, rows);
    this.ctx?.configChanged();
  }

  readConfig(offset: number, size: number): number {
    if (offset <= CFG_EMERG_WR + 3 && offset + size > CFG_EMERG_WR) {
      // emerg_wr is write-only: read it as 0
      const copy = this.config.slice();
      copy.fill(0, CFG_EMERG_WR);
      return readConfigBytes(copy, offset, size);
    }
    return readConfigBytes(this.config, offset, size);
  }

  writeConfig(offset: number, size: number, value: number): void {
    // emerg_wr: one byte out, before the queues exist or when they are stuck
    if (offset > CFG_EMERG_WR || offset + size <= CFG_EMERG_WR) return;
    const byte = (value >>> (8 * (CFG_EMERG_WR - offset))) & 0xff;
    // best effort: dropped rather than buffered without bound if the reader is behind
    if (this.writable() && this.stream.writableLength < TX_PIECE) this.stream.write(Buffer.of(byte));
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  notify(queue: number): void {
    if (queue === CONSOLE_RECEIVEQ) this.deliver();
    else if (queue === CONSOLE_TRANSMITQ) this.transmit();
  }

  reset(): void {
    this.ctx = null;
    this.txChain = null;
    this.txCursor = null;
  }

  close(): void {
    this.reset();
    this.stream.off('data', this.onData);
    this.stream.off('drain', this.onDrain);
    // the 'error' listener stays: an error after close must not crash the host
  }

  private writable(): boolean {
    return !this.streamFailed && this.stream.writable;
  }

  private receive(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length === 0) return;
    this.input.push(bytes);
    this.inputBytes += bytes.length;
    if (this.inputBytes >= RX_HIGH_WATER && !this.inputPaused) {
      this.inputPaused = true;
      this.stream.pause();
    }
    this.deliver();
  }

  /** Fill the guest's receive buffers with pending input (one queue's worth per turn). */
  private deliver(): void {
    const ctx = this.ctx;
    const queue = ctx?.queues[CONSOLE_RECEIVEQ];
    if (!ctx?.active || !queue?.ready) return;
    let filled = 0;
    try {
      while (this.inputBytes > 0 && filled < queue.size) {
        const chain = queue.pop();
        if (!chain) break;
        const cursor = new SegmentCursor(chain.writable);
        let written = 0;
        while (this.inputBytes > 0) {
          const head = this.input[0]!;
          const n = cursor.write(head.subarray(this.inputOffset));
          written += n;
          this.inputBytes -= n;
          this.inputOffset += n;
          if (this.inputOffset === head.length) {
            this.input.shift();
            this.inputOffset = 0;
          } else {
            break; // this chain is full
          }
        }
        queue.push(chain, written);
        filled++;
      }
      if (filled > 0) ctx.signalUsed(CONSOLE_RECEIVEQ);
    } catch (e) {
      ctx.needsReset(e instanceof Error ? e.message : String(e));
      return;
    }
    if (this.inputPaused && this.inputBytes < RX_HIGH_WATER / 2) {
      this.inputPaused = false;
      this.stream.resume();
    }
    if (filled === queue.size && this.inputBytes > 0 && !this.deliverScheduled) {
      this.deliverScheduled = true;
      setImmediate(() => { this.deliverScheduled = false; this.deliver(); });
    }
  }

  /** Send the guest's transmit buffers to the stream until it asks us to wait. */
  private transmit(): void {
    const ctx = this.ctx;
    const queue = ctx?.queues[CONSOLE_TRANSMITQ];
    if (!ctx?.active || !queue?.ready) return;
    let pieces = 0;
    let completed = 0;
    try {
      while (!this.txBlocked && pieces < TX_PIECES_PER_TURN && completed < queue.size) {
        if (!this.txChain) {
          this.txChain = queue.pop();
          if (!this.txChain) break;
          this.txCursor = new SegmentCursor(this.txChain.readable);
        }
        const chain = this.txChain;
        const cursor = this.txCursor!;
        const left = chain.readableLength - cursor.position;
        if (left > 0) {
          const piece = Buffer.allocUnsafe(Math.min(TX_PIECE, left));
          cursor.read(piece); // a copy: the guest may reuse its buffer once it is used
          pieces++;
          if (this.writable() && !this.stream.write(piece)) {
            this.txBlocked = true;
            this.stream.once('drain', this.onDrain);
          }
        }
        if (cursor.position >= chain.readableLength) {
          queue.push(chain, 0);
          completed++;
          this.txChain = null;
          this.txCursor = null;
        }
      }
      if (completed > 0) ctx.signalUsed(CONSOLE_TRANSMITQ);
    } catch (e) {
      ctx.needsReset(e instanceof Error ? e.message : String(e));
      return;
    }
    if (!this.txBlocked && (pieces >= TX_PIECES_PER_TURN || completed >= queue.size) && !this.transmitScheduled) {
      this.transmitScheduled = true;
      setImmediate(() => { this.transmitScheduled = false; this.transmit(); });
    }
  }
}
