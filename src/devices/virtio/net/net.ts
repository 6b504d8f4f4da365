/**
 * virtio-net (virtio 1.2, 5.1): one receive and one transmit queue, frames
 * to and from a netdev backend (src/netdev: passt, QEMU's stream and socket
 * netdevs, in-process). Every buffer starts with the 12-byte
 * virtio_net_hdr_v1; we offer no offloads, so it is all zeros but for
 * num_buffers = 1 on receive.
 */
import type { NetBackend } from '../../../netdev/netdev.js';
import type { VirtioContext, VirtioDevice } from '../device.js';

export const VIRTIO_ID_NET = 1;
const VIRTIO_NET_F_MAC = 1n << 5n;
const VIRTIO_NET_F_STATUS = 1n << 16n;
const VIRTIO_NET_S_LINK_UP = 1;
const HEADER_LEN = 12;
const RX = 0, TX = 1;
const QUEUE_SIZE = 256;
/** Largest frame taken from the guest: an Ethernet frame with room for a 64 KiB payload. */
const MAX_FRAME = 65550;
/** The header of a received frame: no offloads, num_buffers = 1. */
const RX_HEADER = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0);
/** Frames held while the guest has no receive buffer (the backend is paused; this bounds what was in flight). */
const MAX_WAITING = 256;
/** Frames handled per turn of the event loop before yielding to other events. */
const BATCH = 64;

/** Parse "52:54:00:12:34:56"; returns undefined for anything else. */
export function parseMacAddress(text: string): Uint8Array | undefined {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  return m ? Uint8Array.from(m.slice(1), (h) => parseInt(h, 16)) : undefined;
}

export class VirtioNet implements VirtioDevice {
  readonly name = 'virtio-net';
  readonly deviceId = VIRTIO_ID_NET;
  readonly features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  private ctx: VirtioContext | null = null;
  /** Frames that arrived while the guest had no receive buffer (the backend is paused meanwhile). */
  private waiting: Buffer[] = [];
  private txBlocked = false;
  private txScheduled = false;
  /** Frames dropped because the device was not running or a receive buffer was too small. */
  rxDropped = 0;

  constructor(readonly backend: NetBackend, readonly mac: Uint8Array) {
    backend.onFrame((frame) => this.receive(frame));
    backend.onWritable(() => { this.txBlocked = false; this.transmit(); });
    backend.onLinkChange(() => this.ctx?.configChanged());
  }

  readConfig(offset: number, size: number): number {
    const config = new Uint8Array(8);
    config.set(this.mac, 0);
    config[6] = this.backend.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (config[offset + i] ?? 0);
    return v >>> 0;
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
    this.backend.resume();
  }

  notify(queue: number): void {
    if (!this.ctx?.active) return;
    if (queue === TX) this.transmit();
    else if (queue === RX && this.waiting.length > 0) {
      while (this.waiting.length > 0 && this.deliver(this.waiting[0]!)) this.waiting.shift();
      if (this.waiting.length === 0) this.backend.resume();
    }
  }

  reset(): void {
    this.ctx = null;
    this.waiting = [];
    this.backend.resume(); // frames for a stopped device are dropped, not held
  }

  async close(): Promise<void> {
    this.ctx = null;
    await this.backend.close();
  }

  /** A frame from the backend for the guest. */
  private receive(frame: Buffer): void {
    const ctx = this.ctx;
    if (!ctx?.active || !ctx.queues[RX]?.ready) { this.rxDropped++; return; }
    if (this.waiting.length > 0) { // keep the order; a NIC's buffer is bounded too
      if (this.waiting.length < MAX_WAITING) this.waiting.push(frame); else this.rxDropped++;
      return;
    }
    if (!this.deliver(frame)) { // no buffer posted: hold the frame, and the backend, until the guest posts more
      this.waiting.push(frame);
      this.backend.pause();
    }
  }

  /** Put a frame into the next receive buffer; false if the guest has posted none. */
  private deliver(frame: Buffer): boolean {
    const ctx = this.ctx!;
    const queue = ctx.queues[RX]!;
    let chain;
    try {
      chain = queue.pop();
    } catch (e) { // a malformed queue: this runs from the backend's callbacks, where nothing may be thrown
      ctx.needsReset(e instanceof Error ? e.message : String(e));
      this.rxDropped++;
      return true;
    }
    if (!chain) return false;
    if (chain.writableLength < HEADER_LEN + frame.length) {
      this.rxDropped++;
      queue.push(chain, 0);
    } else {
      chain.writeFrom(RX_HEADER, 0);
      chain.writeFrom(frame, HEADER_LEN);
      queue.push(chain, HEADER_LEN + frame.length);
    }
    ctx.signalUsed(RX);
    return true;
  }

  /** Send what the guest queued for transmission, while the backend takes it. */
  private transmit(): void {
    const ctx = this.ctx;
    const queue = ctx?.queues[TX];
    if (!ctx?.active || !queue?.ready || this.txBlocked) return;
    let sent = 0;
    try {
      for (; sent < BATCH; sent++) {
        const chain = queue.pop();
        if (!chain) break;
        const len = Math.min(chain.readableLength - HEADER_LEN, MAX_FRAME);
        if (len > 0) {
          const frame = Buffer.allocUnsafe(len);
          chain.readInto(frame, HEADER_LEN);
          if (!this.backend.send(frame)) this.txBlocked = true;
        }
        queue.push(chain, 0);
        if (this.txBlocked) break;
      }
    } catch (e) { // a malformed queue; this also runs from setImmediate and the backend's onWritable
      ctx.needsReset(e instanceof Error ? e.message : String(e));
      return;
    }
    ctx.signalUsed(TX);
    if (sent === BATCH && !this.txBlocked && !this.txScheduled) {
      this.txScheduled = true;
      setImmediate(() => { this.txScheduled = false; this.transmit(); });
    }
  }
}
