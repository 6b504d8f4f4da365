/**
 * The JIT tier's controls and statistics, as a user reaches them: the API's
 * `jit`/`jitThreshold` options, the CLI's --jit/--jit-threshold, the
 * WKVM_JIT/WKVM_JIT_THRESHOLD environment, and `stats().jit`.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { VirtualMachine } from '../dist/src/index.js';
import { jitThreshold } from '../dist/src/jit/jit.js';
import { ROOT, runWkvm } from './helpers.js';

const BENCH = join(ROOT, 'guests', 'bench', 'bench.elf');

async function runBench(opts: { jit?: 'on' | 'off'; jitThreshold?: number }, kernel: string) {
  const vm = await VirtualMachine.create({ bios: 'none', kernel: BENCH, append: `iters=40 only=${kernel}`, memory: '256M', ...opts });
  let out = '';
  vm.serial.on('data', (b: Buffer) => { out += b.toString('latin1'); });
  vm.start();
  const code = await vm.exited;
  return { code, out, stats: vm.stats()[0] };
}

describe('JIT controls', () => {
  it('resolves the threshold from the options, then the environment, then the default', () => {
    expect(jitThreshold(undefined, undefined, {})).toBeGreaterThan(1);
    expect(jitThreshold('off', undefined, {})).toBe(0);
    expect(jitThreshold(false, 5, {})).toBe(0);
    expect(jitThreshold('on', 7, { WKVM_JIT: 'off' })).toBe(7);
    expect(jitThreshold(undefined, undefined, { WKVM_JIT: 'off' })).toBe(0);
    expect(jitThreshold(undefined, undefined, { WKVM_JIT_THRESHOLD: '1' })).toBe(1);
    expect(jitThreshold(undefined, 3, { WKVM_JIT_THRESHOLD: '1' })).toBe(3);
    expect(() => jitThreshold(undefined, undefined, { WKVM_JIT: 'yes please' })).toThrow(/WKVM_JIT/);
    expect(() => jitThreshold(undefined, undefined, { WKVM_JIT_THRESHOLD: '-2' })).toThrow(/WKVM_JIT_THRESHOLD/);
    expect(() => jitThreshold(undefined, 0, {})).toThrow(/threshold/);
    expect(() => jitThreshold(undefined, 1.5, {})).toThrow(/threshold/);
  });

  it('rejects bad API options with one-line errors', async () => {
    await expect(VirtualMachine.create({ bios: 'none', kernel: BENCH, jit: 'maybe' as 'on' })).rejects.toThrow(/^invalid jit option 'maybe'/);
    await expect(VirtualMachine.create({ bios: 'none', kernel: BENCH, jitThreshold: 0 })).rejects.toThrow(/^invalid JIT threshold/);
  });

  it('rejects bad CLI options and environment values with one line and status 1', async () => {
    for (const [args, env, msg] of [
      [['--jit', 'maybe'], {}, /--jit maybe: expected on or off/],
      [['--jit-threshold', 'lots'], {}, /--jit-threshold lots: expected a whole number/],
      [[], { WKVM_JIT: 'sometimes' }, /invalid WKVM_JIT 'sometimes'/],
      [[], { WKVM_JIT_THRESHOLD: '0x10' }, /invalid WKVM_JIT_THRESHOLD '0x10'/],
    ] as const) {
      const r = await runWkvm(['run', '-bios', 'none', '-kernel', BENCH, ...args], { env: { ...process.env, WKVM_JIT: '', WKVM_JIT_THRESHOLD: '', ...env }, timeoutMs: 20_000 });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('JIT statistics', () => {
  it('a hot kernel runs translated (stats().jit), with the same results as the interpreter', async () => {
    const off = await runBench({ jit: 'off' }, 'crc');
    const on = await runBench({ jit: 'on', jitThreshold: 16 }, 'crc');
    expect(off.code).toBe(0);
    expect(on.code).toBe(0);
    expect(on.out).toBe(off.out);
    expect(off.stats.jit).toEqual({ instructions: 0n, blocks: 0n, modules: 0n, compileUs: 0n, flushes: 0n });
    expect(on.stats.instructions).toBe(off.stats.instructions); // the JIT retires exactly what the interpreter does
    expect(on.stats.jit.blocks).toBeGreaterThan(0n);
    expect(on.stats.jit.modules).toBeGreaterThan(0n);
    expect(on.stats.jit.compileUs).toBeGreaterThan(0n);
    // most of the work ran translated
    expect(Number(on.stats.jit.instructions) / Number(on.stats.instructions)).toBeGreaterThan(0.5);
  }, 60_000);

  it('the CLI runs a guest the same way with --jit on and off', async () => {
    const args = ['run', '-bios', 'none', '-m', '256M', '-kernel', BENCH, '-append', 'iters=20 only=fsm'];
    const env = { ...process.env, WKVM_JIT: '', WKVM_JIT_THRESHOLD: '' };
    const off = await runWkvm([...args, '--jit', 'off'], { env, timeoutMs: 60_000 });
    const on = await runWkvm([...args, '--jit', 'on', '--jit-threshold', '8'], { env, timeoutMs: 60_000 });
    expect(off.code).toBe(0);
    expect(on.code).toBe(0);
    expect(on.stdout).toBe(off.stdout);
    expect(on.stdout).toMatch(/^fsm [0-9a-f]{16}$/m);
  }, 120_000);
});
