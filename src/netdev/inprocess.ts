/**
 * A backend for embedders: the program itself is the network.
 *
 *   const net = new InprocessNetBackend('n0');
 *   net.on('frame', (f) => ...);   // each frame the VM sends (a copy)
 *   net.inject(frame);             // a frame for the VM
 *
 * inject() hands the frame to the device at once when it can take it, else
 * queues it (at most RX_QUEUE_LIMIT frames; beyond that it returns false and
 * counts stats.rxDropped). 'frame' listeners run synchronously inside the
 * device's send(); an inject() from such a listener is queued, never
 * re-entering the device.
 */
import { NetBackendBase, copyFrame } from './netdev.js';

export class InprocessNetBackend extends NetBackendBase {
  readonly ready: Promise<void> = Promise.resolve();
  private inSend = false;

  constructor(id: string) {
    super(id, 'inprocess');
    this.setLink(true);
  }

  /** Put one frame into the VM. Returns false if it was dropped (queue full or closed). */
  inject(frame: Uint8Array): boolean {
    if (this.closed) return false;
    const f = copyFrame(frame);
    return this.inSend ? this.enqueue(f) : this.deliver(f);
  }

  send(frame: Uint8Array): boolean {
    if (this.closed) {
      this.stats.txDropped++;
      return true;
    }
    this.countTx(frame);
    this.inSend = true;
    try {
      this.emit('frame', copyFrame(frame));
    } finally {
      this.inSend = false;
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.markClosed();
    this.emit('close');
  }
}
