/**
 * `wkvm run --stats FILE[,interval=MS]`: the VM's counters as one JSON line
 * per interval (and a last one when the VM stops), for load tests to plot.
 * Each line: { time, uptimeMs, runState, vcpus: [VcpuStats...], devices }.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import type { VirtualMachine } from '../vm.js';
import { WkvmError, describeFsError } from '../errors.js';

/** JSON with bigints as numbers (counters stay far below 2^53 in any real run). */
const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));

export class StatsFile {
  private readonly fd: number;
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = performance.now();
  private failed = false;

  /** Opens (truncates) the file now: a bad path is a one-line error before the VM runs. */
  constructor(private readonly vm: VirtualMachine, private readonly file: string, intervalMs: number) {
    try {
      this.fd = openSync(file, 'w');
    } catch (e) {
      throw new WkvmError(`--stats: cannot write '${file}': ${describeFsError(e)}`);
    }
    this.timer = setInterval(() => this.write(), intervalMs);
    this.timer.unref();
  }

  private write(): void {
    if (this.failed) return;
    const line = toJson({
      time: new Date().toISOString(), uptimeMs: Math.round(performance.now() - this.t0), runState: this.vm.runState,
      vcpus: this.vm.stats(), devices: this.vm.deviceStats(),
    });
    try {
      writeSync(this.fd, line + '\n');
    } catch (e) {
      this.failed = true; // a full disk must not stop the VM: say so once
      this.vm.emit('warning', new Error(`--stats: cannot write '${this.file}': ${describeFsError(e)}; no more statistics`));
    }
  }

  /** The last line, then close. */
  close(): void {
    clearInterval(this.timer);
    this.write();
    try { closeSync(this.fd); } catch { /* closed already */ }
  }
}
