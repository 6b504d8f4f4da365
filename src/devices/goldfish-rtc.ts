/**
 * Goldfish RTC at 0x101000 (as QEMU's virt): nanoseconds since the Unix epoch.
 * Reading TIME_LOW latches TIME_HIGH, as the Linux driver expects.
 */
import type { MmioDevice } from './device.js';

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;

export class GoldfishRtc implements MmioDevice {
  readonly name = 'goldfish-rtc';
  private latchedHigh = 0;
  private offsetNs = 0n;

  private nowNs(): bigint {
    return BigInt(Date.now()) * 1_000_000n + this.offsetNs;
  }

  read(offset: number): number {
    if (offset === TIME_LOW) {
      const t = this.nowNs();
      this.latchedHigh = Number((t >> 32n) & 0xffff_ffffn);
      return Number(t & 0xffff_ffffn);
    }
    if (offset === TIME_HIGH) return this.latchedHigh;
    return 0;
  }

  write(offset: number, _size: number, value: number): void {
    // setting the clock moves our offset against the host clock
    if (offset === TIME_HIGH) this.latchedHigh = value >>> 0;
    if (offset === TIME_LOW) {
      const want = (BigInt(this.latchedHigh) << 32n) | BigInt(value >>> 0);
      this.offsetNs = want - BigInt(Date.now()) * 1_000_000n;
    }
  }
}
