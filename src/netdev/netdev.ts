/**
 * Host-side network backends ("netdevs", as in QEMU's net/): each moves whole
 * Ethernet frames between the VM's network device and the outside world.
 *
 * Delivery rules shared by every backend (implemented once, in NetBackendBase):
 * - onFrame's callback is only ever called from the event loop, never from
 *   inside send(), pause() or resume(), so a device is not re-entered.
 * - While paused (or before onFrame is set) a stream backend stops reading
 *   from its peer (the peer sees TCP/unix backpressure, as with QEMU); frames
 *   that cannot be held back (datagrams, inject()) wait in a queue of at most
 *   RX_QUEUE_LIMIT frames, beyond which they are dropped and counted in
 *   stats.rxDropped, as a NIC with a full ring would.
 * - send() copies the frame: the caller may reuse its buffer once it returns.
 *   It returns false when the backend is congested (wait for onWritable);
 *   without a connected peer it drops the frame (stats.txDropped) and
 *   returns true, like a cable-less NIC.
 */
import { EventEmitter } from 'node:events';

/** Frames a backend holds for a paused device before dropping. */
export const RX_QUEUE_LIMIT = 256;

export interface NetStats {
  txFrames: number;
  txBytes: number;
  /** Frames from the VM dropped: no peer, too long, or the peer hopelessly congested. */
  txDropped: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames for the VM dropped because the receive queue was full. */
  rxDropped: number;
}

export interface NetBackend {
  readonly id: string;
  /** 'user', 'stream', 'socket', 'inprocess'. */
  readonly type: string;
  /** Send one frame out of the VM. Returns false when the backend is congested (the device should stop taking TX buffers until 'writable'). */
  send(frame: Uint8Array): boolean;
  /** Frames for the VM; the device calls this once. While the device has no RX buffers it calls pause(); resume() when it has again. */
  onFrame(cb: (frame: Buffer) => void): void;
  onWritable(cb: () => void): void;
  pause(): void;
  resume(): void;
  /** Ready to carry traffic (e.g. passt started and connected). Rejects with a WkvmError one-line message on failure. */
  ready: Promise<void>;
  close(): Promise<void>;
  /** Whether a peer is connected now (for the device's link status bit). */
  readonly linkUp: boolean;
  onLinkChange(cb: (up: boolean) => void): void;
  /** One-line warnings (peer gone, bad framing, ...). Without a listener they go to stderr as `wkvm: warning: ...`. */
  onWarning(cb: (message: string) => void): void;
  readonly stats: Readonly<NetStats>;
}

/** Copy of a frame as a Buffer that does not alias the caller's memory. */
export function copyFrame(frame: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(frame.length);
  b.set(frame);
  return b;
}

export abstract class NetBackendBase extends EventEmitter implements NetBackend {
  readonly stats: NetStats = { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0 };
  abstract ready: Promise<void>;
  protected paused = false;
  protected closed = false;
  private frameCb: ((frame: Buffer) => void) | undefined;
  private writableCb: (() => void) | undefined;
  private readonly queue: Buffer[] = [];
  private drainPending = false;
  private link = false;

  constructor(readonly id: string, readonly type: string) {
    super();
  }

  abstract send(frame: Uint8Array): boolean;
  abstract close(): Promise<void>;

  get linkUp(): boolean { return this.link; }

  onFrame(cb: (frame: Buffer) => void): void {
    this.frameCb = cb;
    this.scheduleDrain();
  }

  onWritable(cb: () => void): void { this.writableCb = cb; }
  onLinkChange(cb: (up: boolean) => void): void { this.on('link', cb); }
  onWarning(cb: (message: string) => void): void { this.on('warning', cb); }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.pauseInput();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.scheduleDrain();
  }

  /** Frames waiting in the receive queue (not counting bytes a stream backend has not parsed yet). */
  get queuedFrames(): number { return this.queue.length; }

  // ---- for subclasses ----

  /** Stop reading from the peer (stream backends); default: nothing to stop. */
  protected pauseInput(): void {}
  /** Start reading from the peer again. */
  protected resumeInput(): void {}
  /** The next frame a stream backend has already received but not delivered. */
  protected pull(): Buffer | undefined { return undefined; }

  /** Whether a frame can go to the device right now (nothing queued ahead of it). */
  protected get accepting(): boolean {
    return !this.paused && !this.closed && this.frameCb !== undefined && this.queue.length === 0;
  }

  /** A frame that cannot be held back at its source: deliver now or queue (bounded). Returns false if dropped. */
  protected deliver(frame: Buffer): boolean {
    if (this.closed) return false;
    if (this.accepting) {
      this.hand(frame);
      return true;
    }
    return this.enqueue(frame);
  }

  /** Queue a frame (bounded; false if dropped) for delivery from the event loop. */
  protected enqueue(frame: Buffer): boolean {
    if (this.closed) return false;
    if (this.queue.length >= RX_QUEUE_LIMIT) {
      this.stats.rxDropped++;
      return false;
    }
    this.queue.push(frame);
    if (!this.paused && this.frameCb) this.scheduleDrain();
    return true;
  }

  /** Deliver queued and pulled frames until the device pauses or none are left; then (re)start input. */
  protected drain(): void {
    while (!this.paused && !this.closed && this.frameCb) {
      const f = this.queue.length > 0 ? this.queue.shift() : this.pull();
      if (!f) break;
      this.hand(f);
    }
    if (this.closed) return;
    if (!this.paused && this.frameCb) this.resumeInput();
    else this.pauseInput();
  }

  protected scheduleDrain(): void {
    if (this.drainPending) return;
    this.drainPending = true;
    setImmediate(() => {
      this.drainPending = false;
      this.drain();
    });
  }

  protected countTx(frame: Uint8Array): void {
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
  }

  protected notifyWritable(): void { this.writableCb?.(); }

  protected setLink(up: boolean): void {
    if (up === this.link) return;
    this.link = up;
    this.emit('link', up);
  }

  protected warn(message: string): void {
    const m = `netdev ${this.id}: ${message}`;
    if (this.listenerCount('warning') > 0) this.emit('warning', m);
    else process.stderr.write(`wkvm: warning: ${m}\n`);
  }

  /** Mark closed and drop whatever is queued. */
  protected markClosed(): void {
    this.closed = true;
    this.queue.length = 0;
    this.setLink(false);
  }

  private hand(frame: Buffer): void {
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.frameCb!(frame);
  }
}

/** Never leave a rejected `ready` unhandled when the caller does not await it. */
export function settle(p: Promise<void>): Promise<void> {
  p.catch(() => {});
  return p;
}
