/**
 * virtio-rng, the entropy device (virtio 1.2, 5.4): one queue; every
 * writable buffer the driver posts comes back filled with random bytes from
 * the host's CSPRNG.
 */
import { randomFillSync } from 'node:crypto';
import type { VirtioContext, VirtioDevice } from '../device.js';

export const VIRTIO_ID_ENTROPY = 4;
/** Bytes given per request at most: bounds the work one buffer can ask for. */
export const RNG_MAX_REQUEST = 64 * 1024;
const QUEUE_SIZE = 64;

export class VirtioRng implements VirtioDevice {
  readonly name = 'virtio-rng';
  readonly deviceId = VIRTIO_ID_ENTROPY;
  readonly features = 0n;
  readonly queueSizes = [QUEUE_SIZE];
  private ctx: VirtioContext | null = null;
  private scheduled = false;

  readConfig(): number { return 0; } // no config space

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  notify(): void {
    this.serve();
  }

  /** Fill at most one queue's worth of requests, then let other events run before more. */
  private serve(): void {
    const ctx = this.ctx;
    const queue = ctx?.queues[0];
    if (!ctx?.active || !queue) return;
    let served = 0;
    try {
      for (; served < queue.size; served++) {
        const chain = queue.pop();
        if (!chain) break;
        let filled = 0;
        for (const seg of chain.writable) {
          const n = Math.min(seg.length, RNG_MAX_REQUEST - filled);
          if (n === 0) break;
          randomFillSync(seg, 0, n);
          filled += n;
        }
        queue.push(chain, filled);
      }
    } finally {
      ctx.signalUsed(0);
    }
    if (served === queue.size && !this.scheduled) {
      // the guest keeps posting: carry on after the I/O loop had its turn
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        try {
          this.serve();
        } catch (e) {
          this.ctx?.needsReset(e instanceof Error ? e.message : String(e));
        }
      });
    }
  }

  reset(): void {
    this.ctx = null;
  }
}
