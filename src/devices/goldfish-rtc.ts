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

  reset(): void {
    this.latchedHigh = 0; // a set clock survives a reset, as on hardware with a battery
  }

  save(): { offsetNs: string; latchedHigh: number } {
    return { offsetNs: this.offsetNs.toString(), latchedHigh: this.latchedHigh };
  }

  restore(state: unknown): void {
    const s = state as { offsetNs?: unknown; latchedHigh?: unknown } | null;
    if (typeof s?.offsetNs !== 'string' || !/^-?\d+$/.test(s.offsetNs) || typeof s.latchedHigh !== 'number') {
      throw new Error('goldfish-rtc: malformed saved state');
    }
    this.offsetNs = BigInt(s.offsetNs);
    this.latchedHigh = s.latchedHigh >>> 0;
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
