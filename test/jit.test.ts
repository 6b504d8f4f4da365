/**
 * The JIT exactness guests (guests/jit): cases a translator from hot guest
 * blocks to Wasm could get wrong (self-modifying code on one hart and from
 * another, one VA mapped to different code, a fault or a device access in
 * the middle of a block, a timer interrupt in a tight loop, many harts
 * spinning on plain loads, how units follow jumps and load a cold tail's
 * registers, how they take in warm code placed out of line and lay out
 * their loops). Each guest runs on wkvm three ways: the
 * interpreter only (WKVM_JIT=off), the default, and translating every block
 * at once (WKVM_JIT_THRESHOLD=1); each must pass. Their output is also
 * compared with QEMU's where QEMU is installed (lines starting with `#`
 * vary from run to run and are left out).
 */
import { describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { QEMU, ROOT, guestFiles, runCmd, runWkvm, type RunResult } from './helpers.js';

if (!QEMU) console.warn('jit.test.ts: qemu-system-riscv64 not found; skipping the comparisons with QEMU');

interface JitGuest {
  name: string;
  smp?: number;
  append?: string;
  /** the line that says it passed */
  pass: string;
  timeoutMs?: number;
  /** QEMU 7.2 is known to differ (see the guest's NOTE): the exit status it gives; or 'skip': no QEMU run */
  qemu?: { code: number } | 'skip';
  /** the wkvm modes to run it in (default: all) */
  modes?: Mode[];
}

type Mode = 'off' | 'default' | 'eager';

const GUESTS: JitGuest[] = [
  { name: 'smc', pass: 'PASS smc' },
  // translations that call each other directly, one of them rewritten
  { name: 'smc_linked', pass: 'PASS smc_linked' },
  // QEMU has no precise self-modifying code on RISC-V: the old instruction runs (the spec allows that)
  { name: 'smc_same', pass: 'PASS smc_same', qemu: { code: 1 } },
  { name: 'smc_remote', smp: 2, pass: 'smc_remote: PASS' },
  // QEMU's multi-threaded TCG can keep a translation made while the other vCPU stored
  { name: 'smc_remote', smp: 2, append: 'race=1', pass: 'smc_remote: PASS', qemu: 'skip' },
  { name: 'remap', pass: 'PASS remap' },
  { name: 'fault_mid', pass: 'PASS fault_mid' },
  { name: 'mmio_mid', pass: 'PASS mmio_mid' },
  { name: 'timer_loop', pass: 'PASS timer_loop' },
  { name: 'trace', pass: 'PASS trace' },
  // QEMU 7.2 raises a misaligned AMO as a misaligned load (the spec: store/AMO), check 29
  { name: 'cfg', pass: 'PASS cfg', qemu: { code: 29 } },
  // a switch's cases taken into the unit of its jump: the table rewritten, a fault in a case
  { name: 'switch', pass: 'PASS switch' },
  { name: 'spin64', smp: 4, append: 'rounds=100', pass: 'spin64: PASS' },
  // 64 vCPUs take seconds to start, so a few rounds, and not again with the interpreter alone (run at -smp 4
  // above); compared with QEMU at -smp 4 only (64 QEMU vCPUs on 2 cores are slow)
  { name: 'spin64', smp: 64, append: 'rounds=5', pass: 'spin64: PASS', timeoutMs: 60_000, qemu: 'skip', modes: ['default', 'eager'] },
];

const MODES: { mode: Mode; name: string; env: Record<string, string> }[] = [
  { mode: 'off', name: 'interpreter (WKVM_JIT=off)', env: { WKVM_JIT: 'off' } },
  { mode: 'default', name: 'default', env: {} },
  { mode: 'eager', name: 'every block translated (WKVM_JIT_THRESHOLD=1)', env: { WKVM_JIT_THRESHOLD: '1' } },
];

const elf = (g: JitGuest) => join(ROOT, 'guests', 'jit', `${g.name}.elf`);
const label = (g: JitGuest) => `${g.name}${g.smp ? ` -smp ${g.smp}` : ''}${g.append ? ` ${g.append}` : ''}`;
/** The output without the lines that vary (`# ...`: timings, race counts). */
const stable = (out: string) => out.split('\n').filter((l) => !l.startsWith('#')).join('\n');

function wkvm(g: JitGuest, env: Record<string, string>): Promise<RunResult> {
  const e: NodeJS.ProcessEnv = { ...process.env };
  delete e.WKVM_JIT;
  delete e.WKVM_JIT_THRESHOLD;
  const args = ['run', '-bios', 'none', '-m', '128M', '-smp', String(g.smp ?? 1), '-kernel', elf(g)];
  if (g.append !== undefined) args.push('-append', g.append);
  return runWkvm(args, { env: { ...e, ...env }, timeoutMs: g.timeoutMs ?? 30_000 });
}

function qemu(g: JitGuest): Promise<RunResult> {
  const args = ['-M', 'virt', '-bios', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
    '-m', '128M', '-smp', String(g.smp ?? 1), '-kernel', elf(g)];
  if (g.append !== undefined) args.push('-append', g.append);
  return runCmd(QEMU!, args, { timeoutMs: g.timeoutMs ?? 30_000 });
}

describe('JIT exactness guests (guests/jit)', () => {
  it('every guest in guests/jit is run here', () => {
    const found = guestFiles('jit').map((f) => basename(f, '.elf'));
    expect(found.length).toBeGreaterThanOrEqual(8);
    expect([...new Set(GUESTS.map((g) => g.name))].sort()).toEqual(found);
  });

  for (const g of GUESTS) {
    describe(label(g), () => {
      // QEMU runs once per guest, beside the first wkvm run
      let witness: Promise<RunResult> | undefined;
      const fromQemu = () => (witness ??= qemu(g));

      for (const mode of MODES.filter((m) => !g.modes || g.modes.includes(m.mode))) {
        it(`wkvm, ${mode.name}`, async () => {
          if (QEMU && g.qemu !== 'skip') void fromQemu();
          const r = await wkvm(g, mode.env);
          const why = `exit ${r.code} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
          expect(r.signal, why).toBeNull();
          expect(r.stdout, why).toContain(g.pass);
          expect(r.code, why).toBe(0);
          expect(r.stderr).toBe('');
          if (QEMU && g.qemu === undefined) {
            const q = await fromQemu();
            expect(q.signal, `QEMU was killed (timeout?); stderr: ${q.stderr}`).toBeNull();
            expect(q.code, `QEMU: ${q.stdout}`).toBe(0);
            expect(stable(r.stdout)).toBe(stable(q.stdout));
          }
        });
      }

      const known = g.qemu;
      if (typeof known === 'object') {
        it.skipIf(!QEMU)(`QEMU 7.2 gives its known exit status ${known.code}`, async () => {
          const q = await fromQemu();
          expect(q.signal, `QEMU was killed (timeout?); stderr: ${q.stderr}`).toBeNull();
          expect(q.code, q.stdout).toBe(known.code);
        });
      }
    });
  }
});
