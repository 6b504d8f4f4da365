/**
 * Differential tests against QEMU, the reference: the same guest on
 * `qemu-system-riscv64 -M virt -bios none` and on `wkvm run -bios none`
 * must print the same serial output and exit with the same status.
 * Skipped (with a warning) when QEMU is not installed.
 */
import { describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { QEMU, ROOT, guestFiles, runCmd, runWkvm, type RunResult } from './helpers.js';

if (!QEMU) console.warn('qemu-diff.test.ts: qemu-system-riscv64 not found; skipping the differential tests against QEMU');

const TIMEOUT_MS = 30_000;

interface Guest { elf: string; smp: number; append?: string }

function qemu(g: Guest, timeoutMs = TIMEOUT_MS): Promise<RunResult> {
  const args = ['-M', 'virt', '-bios', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
    '-m', '128M', '-smp', String(g.smp), '-kernel', g.elf];
  if (g.append !== undefined) args.push('-append', g.append);
  return runCmd(QEMU!, args, { timeoutMs });
}

function wkvm(g: Guest, timeoutMs = TIMEOUT_MS): Promise<RunResult> {
  const args = ['run', '-bios', 'none', '-m', '128M', '-smp', String(g.smp), '-kernel', g.elf];
  if (g.append !== undefined) args.push('-append', g.append);
  return runWkvm(args, { timeoutMs });
}

/** Run a guest on both at once. */
async function run(g: Guest, timeoutMs: number): Promise<{ q: RunResult; w: RunResult }> {
  const [q, w] = await Promise.all([qemu(g, timeoutMs), wkvm(g, timeoutMs)]);
  return { q, w };
}

/** Run a guest on both; both must have exited on their own (not killed by the timeout). */
async function both(g: Guest, timeoutMs = TIMEOUT_MS): Promise<{ q: RunResult; w: RunResult }> {
  const r = await run(g, timeoutMs);
  const { q, w } = r;
  expect(q.signal, `QEMU was killed (timeout?); stderr: ${q.stderr}`).toBeNull();
  expect(w.signal, `wkvm was killed (timeout?); stderr: ${w.stderr}`).toBeNull();
  expect(w.stderr).toBe('');
  return r;
}

const guest = (dir: string, name: string) => join(ROOT, 'guests', dir, `${name}.elf`);

describe.skipIf(!QEMU)('wkvm vs QEMU 7.2 (same stdout, same exit status)', () => {
  it('diff.elf: one hash per instruction group', async () => {
    const { q, w } = await both({ elf: guest('diff', 'diff'), smp: 1 });
    expect(q.stdout).toContain('diff: done');
    expect(w.stdout).toBe(q.stdout);
    expect(w.code).toBe(q.code);
    expect(w.code).toBe(0);
  });

  for (const smp of [1, 3]) {
    it(`bench.elf iters=20 -smp ${smp}: per-kernel checksums`, async () => {
      const { q, w } = await both({ elf: guest('bench', 'bench'), smp, append: 'iters=20' });
      expect(q.stdout).toContain('bench: done');
      expect(w.stdout).toBe(q.stdout);
      expect(w.code).toBe(q.code);
      expect(w.code).toBe(0);
    });
  }

  /** The demo's output without timing lines, the hello lines (in varying order) as a sorted set. */
  const normalizeDemo = (out: string) => {
    const lines = out.split('\n').filter((l) => !/time/i.test(l));
    const hello = lines.filter((l) => /^hart \d+: hello/.test(l)).sort();
    const rest = lines.filter((l) => !/^hart \d+: hello/.test(l));
    return { rest, hello };
  };

  for (const smp of [1, 4]) {
    it(`demo.elf -smp ${smp}: same output apart from timing and the order of hello lines`, async () => {
      const { q, w } = await both({ elf: guest('demo', 'demo'), smp });
      expect(q.stdout).toContain('demo: PASS');
      const nq = normalizeDemo(q.stdout);
      expect(nq.hello).toHaveLength(smp);
      expect(normalizeDemo(w.stdout)).toEqual(nq);
      expect(w.code).toBe(q.code);
      expect(w.code).toBe(0);
    });
  }

  // QEMU 7.2 is known-wrong on these (guests/README.md, the NOTE in each source): not a reference there
  const QEMU_WRONG = new Set(['amo_traps', 'csr_ro_nonx0', 'plic', 'counters']);
  const isa = guestFiles('isa').filter((f) => !QEMU_WRONG.has(basename(f, '.elf')));

  it('found the ISA test programs', () => {
    expect(isa.length).toBeGreaterThanOrEqual(15);
  });

  for (const elf of isa) {
    it(`isa/${basename(elf)}`, async () => {
      const r = await run({ elf, smp: 1 }, 10_000);
      const w = r.w;
      let q = r.q;
      // the witness may fail a timing check on a loaded host (irq_mtimer check 8: its interrupt must come within
      // 100 ms of mtime, which QEMU's timer missed once while CI kept both cores busy): QEMU alone runs again, up
      // to twice, where wkvm passed; a FAIL of wkvm's own is never retried
      for (let again = 0; again < 2 && /^FAIL /m.test(q.stdout) && /^PASS /m.test(w.stdout); again++) q = await qemu({ elf, smp: 1 }, 10_000);
      expect(q.signal, `QEMU was killed (timeout?); stderr: ${q.stderr}`).toBeNull();
      expect(w.signal, `wkvm was killed (timeout?); stderr: ${w.stderr}`).toBeNull();
      expect(w.stderr).toBe('');
      expect(w.stdout).toBe(q.stdout);
      expect(w.code).toBe(q.code);
    });
  }
});
