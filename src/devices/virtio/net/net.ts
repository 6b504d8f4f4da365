/**
 * virtio-net (virtio 1.2, 5.1): one receive and one transmit queue, frames
 * to and from a netdev backend (src/netdev: passt, QEMU's stream and socket
 * netdevs, in-process). Every buffer starts with the 12-byte
 * virtio_net_hdr_v1.
 *
 * The offers are the ones that save the guest CPU work, which is the
 * bottleneck of an interpreted vCPU: checksums are the host's job both ways
 * (CSUM: we complete the guest's partial checksums; GUEST_CSUM: frames we
 * deliver are marked valid, our peers checksum what they send), and
 * mergeable receive buffers let the guest use passt's 65520-byte MTU, so
 * a bulk transfer takes a fraction of the frames.
 */
import type { NetBackend } from '../../../netdev/netdev.js';
import { parseMac } from '../../../netdev/spec.js';
import type { VirtioContext, VirtioDevice } from '../device.js';
import type { DescriptorChain } from '../queue.js';
import { onesComplementSum } from './checksum.js';

export const VIRTIO_ID_NET = 1;
const VIRTIO_NET_F_CSUM = 1n << 0n;
const VIRTIO_NET_F_GUEST_CSUM = 1n << 1n;
const VIRTIO_NET_F_MAC = 1n << 5n;
const VIRTIO_NET_F_MRG_RXBUF = 1n << 15n;
const VIRTIO_NET_F_STATUS = 1n << 16n;
const VIRTIO_NET_S_LINK_UP = 1;
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_F_DATA_VALID = 2;
const VIRTIO_NET_HDR_GSO_NONE = 0;
const HEADER_LEN = 12;
const RX = 0, TX = 1;
const QUEUE_SIZE = 256;
/** Largest frame taken from the guest: an Ethernet frame with room for a 64 KiB payload. */
const MAX_FRAME = 65550;
/** Frames held while the guest has no receive buffer (the backend is paused; this bounds what was in flight). */
const MAX_WAITING = 256;
/** Frames handled per turn of the event loop before yielding to other events. */
const BATCH = 64;

/** A MAC address as the device's config space holds it; throws WkvmError for one that is not a unicast address. */
export function macBytes(text: string): Uint8Array {
  return Uint8Array.from(parseMac(text).split(':'), (h) => parseInt(h, 16));
}

export class VirtioNet implements VirtioDevice {
  readonly name = 'virtio-net';
  readonly deviceId = VIRTIO_ID_NET;
  readonly features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_MRG_RXBUF;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  private ctx: VirtioContext | null = null;
  private mergeable = false;
  private guestCsum = false;
  /** Receive buffers taken for a frame that needs more of them than the guest has posted so far (mergeable). */
  private held: DescriptorChain[] = [];
  private heldBytes = 0;
  /** Frames from the guest dropped: a partial checksum that points outside the frame, or GSO we did not offer. */
  txDropped = 0;
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
    this.mergeable = (ctx.driverFeatures & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
    this.guestCsum = (ctx.driverFeatures & VIRTIO_NET_F_GUEST_CSUM) !== 0n;
    this.held = [];
    this.heldBytes = 0;
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
    this.held = [];
    this.heldBytes = 0;
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

  /**
   * Put a frame into the guest's receive buffers: one chain, or with
   * mergeable buffers as many as it takes (num_buffers says how many).
   * False if the guest has not posted enough yet (chains taken so far are
   * held for the next try).
   */
  private deliver(frame: Buffer): boolean {
    const ctx = this.ctx!;
    const queue = ctx.queues[RX]!;
    const need = HEADER_LEN + frame.length;
    try {
      do {
        const chain = queue.pop();
        if (!chain) return false;
        this.held.push(chain);
        this.heldBytes += chain.writableLength;
      } while (this.mergeable && this.heldBytes < need);
    } catch (e) { // a malformed queue: this runs from the backend's callbacks, where nothing may be thrown
      ctx.needsReset(e instanceof Error ? e.message : String(e));
      this.rxDropped++;
      return true;
    }
    const chains = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (!this.mergeable && chains[0]!.writableLength < need) { // the driver posted a buffer too small for a frame
      this.rxDropped++;
      queue.push(chains[0]!, 0);
    } else {
      const header = Buffer.alloc(HEADER_LEN);
      header[0] = this.guestCsum ? VIRTIO_NET_HDR_F_DATA_VALID : 0;
      header.writeUInt16LE(chains.length, 10); // num_buffers
      const packet = Buffer.concat([header, frame], need);
      let at = 0;
      const used = chains.map((chain) => {
        const n = chain.writeFrom(packet.subarray(at, need), 0);
        at += n;
        return [chain, n] as const;
      });
      queue.pushAll(used); // the packet's buffers together: the driver takes all num_buffers of them at once
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
          const header = Buffer.alloc(HEADER_LEN);
          chain.readInto(header, 0);
          const frame = Buffer.allocUnsafe(len);
          chain.readInto(frame, HEADER_LEN);
          if (!completeChecksum(header, frame)) this.txDropped++;
          else if (!this.backend.send(frame)) this.txBlocked = true;
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

/**
 * Finish what the guest's header asks of a frame it sends: with NEEDS_CSUM,
 * the one's-complement sum of the bytes from csum_start on (the guest put
 * the pseudo-header's sum in the checksum field) goes in at csum_start +
 * csum_offset. False for a frame to drop: a checksum position outside the
 * frame, or a GSO type (we offer none).
 */
export function completeChecksum(header: Buffer, frame: Buffer): boolean {
  if (header[1] !== VIRTIO_NET_HDR_GSO_NONE) return false;
  if ((header[0]! & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0) return true;
  const start = header.readUInt16LE(6);
  const at = start + header.readUInt16LE(8);
  if (at + 2 > frame.length) return false;
  const sum = onesComplementSum(frame, start, frame.length);
  frame.writeUInt16BE(~sum & 0xffff, at);
  return true;
}
