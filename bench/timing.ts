/**
 * Timing helpers shared by the bench sections: the median of repeated runs,
 * and the time until a VMM's console shows something.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';

/**
 * The medians of several measurements taken in turns, the order reversed
 * every other round (a, b, b, a, a, b, ...). On a noisy host, all of one and
 * then all of the other can land in different phases of its load (JIT off
 * and on at 64 vCPUs read 5.3 and 7.0 s that way, 4.8-5.0 and 5.3-5.5 s
 * alternating). And a place in the round weighs by itself: the same 64-vCPU
 * boot (JIT off) run three times a round read 6.03, 6.17 and 6.30 s (medians
 * of 8 rounds, 2026-12-07), so a fixed order favoured whatever came first.
 */
export async function mediansInTurn(runs: number, fs: (() => Promise<number | undefined>)[]): Promise<(number | undefined)[]> {
  const t: (number[] | undefined)[] = fs.map(() => []);
  for (let i = 0; i < runs; i++) {
    const order = fs.map((_, k) => (i % 2 === 0 ? k : fs.length - 1 - k));
    for (const k of order) {
      if (!t[k]) continue;
      const v = await fs[k]!();
      if (v === undefined) t[k] = undefined; else t[k]!.push(v);
    }
  }
  return t.map((a) => (a ? median(a) : undefined));
}

/** The median (of an even count, the mean of the middle two). */
export function median(values: number[]): number {
  const a = [...values].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** The median of `runs` timings (a boot varies by several percent from run to run on a shared host); undefined if one fails. */
export async function medianOf(runs: number, f: () => Promise<number | undefined>): Promise<number | undefined> {
  return (await mediansInTurn(runs, [f]))[0];
}

export interface TimeToOptions {
  env?: NodeJS.ProcessEnv;
  /** Type this line at the first shell prompt (`# `) and time from then on. */
  send?: string;
  timeoutMs?: number;
}

/**
 * Spawn a VMM and measure the time until its console matches `until` (then
 * end it), or, with `until` null, until it exits with status 0.
 */
export function timeTo(cmd: string, args: string[], until: RegExp | null, opts: TimeToOptions = {}): Promise<number | undefined> {
  return new Promise((resolve) => {
    let t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'], env: opts.env ?? process.env });
    let out = '';
    let sent = opts.send === undefined;
    let done = false;
    const finish = (v: number | undefined, why?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      p.kill('SIGKILL');
      // a run that gives no figure says why (its figure reads n/a): the last of its output too
      if (v === undefined) console.log(`  (${basename(cmd)}: ${why ?? 'failed'}; its output ended ${JSON.stringify(out.slice(-160))})`);
      resolve(v);
    };
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const timer = setTimeout(() => finish(undefined, `no ${until ?? 'exit'} after ${timeoutMs / 1000} s`), timeoutMs);
    p.stdin.on('error', () => { /* it went away while we typed */ });
    p.stdout.on('data', (d: Buffer) => {
      out = (out + d.toString('latin1')).slice(-4096);
      if (!sent) {
        if (!/# $/.test(out)) return;
        sent = true;
        out = '';
        t0 = performance.now();
        p.stdin.write(opts.send + '\n');
      } else if (until && until.test(out)) finish(performance.now() - t0);
    });
    p.on('close', (code, signal) => finish(!until && code === 0 ? performance.now() - t0 : undefined,
      `exited (${signal ?? `status ${code}`}) ${until ? `before ${until}` : 'with a failure'}`));
  });
}
