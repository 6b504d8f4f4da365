/**
 * The official riscv-tests rv64 suites (ui, um, ua, uc, uf, ud in the p and v
 * environments; si and mi in p) under `wkvm run -bios none -kernel ELF`.
 * They are another project's code, packaged neither by Debian nor by npm, so
 * they are not in this repository and CI cannot fetch them: they run only
 * when WKVM_RISCV_TESTS names a directory of built test binaries (see
 * scripts/riscv-tests.ts), and the file says so when it skips them. The
 * runner itself is tested always, on binaries made here in the suites' manner.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUITES, describeOutcome, findTests, passed, runTests } from '../scripts/riscv-tests.js';
import { makeElf } from './make-elf.js';
import { addi, bytesOf, jal, sd, uType } from './rv-encode.js';
import { ROOT, runCmd } from './helpers.js';

const DIR = process.env.WKVM_RISCV_TESTS;
if (!DIR) {
  console.warn('test/riscv-tests.test.ts: WKVM_RISCV_TESTS is not set: skipping the official riscv-tests ' +
    '(not obtainable through apt or npm; build them from a riscv-tests checkout and set it to their directory).');
}

describe.skipIf(!DIR)('official riscv-tests (WKVM_RISCV_TESTS)', () => {
  it('every rv64 test binary passes under wkvm run -bios none -kernel', async () => {
    const tests = findTests(DIR!);
    const suites = new Set(tests.map((t) => t.suite));
    expect(SUITES.filter((s) => !suites.has(s)), 'suites with no binaries').toEqual([]);
    const results = await runTests(tests, { jobs: 2, timeoutMs: 30_000, qemu: false });
    const failures = results.filter((r) => !passed(r.wkvm)).map((r) => `${r.name}: ${describeOutcome(r.wkvm)}`);
    expect(failures).toEqual([]);
  }, 1_800_000);
});

/** A test binary in the suites' manner: writes `tohost` = value (1 = pass, TESTNUM << 1 | 1 = fail) and spins. */
function htifElf(value: number): Uint8Array {
  const words = [uType(0x17, 5, 1) /* t0 = pc + 0x1000 = tohost */, addi(6, 0, value), sd(6, 5, 0), jal(0, 0) /* j . */];
  return makeElf({ entry: 0x8000_0000n, segments: [{ vaddr: 0x8000_0000n, data: bytesOf(words), memsz: 0x2000n }],
    symbols: [{ name: 'tohost', value: 0x8000_1000n, type: 1 }] });
}

describe('the riscv-tests runner (scripts/riscv-tests.ts)', () => {
  it('finds the suites\' binaries, reads their HTIF status and reports failures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-rvtests-'));
    try {
      writeFileSync(join(dir, 'rv64ui-p-pass'), htifElf(1));
      writeFileSync(join(dir, 'rv64ud-v-fail5'), htifElf((5 << 1) | 1));
      writeFileSync(join(dir, 'rv64um-p-notelf'), 'not an ELF');          // not a test binary
      writeFileSync(join(dir, 'rv64ui-p-pass.dump'), 'a disassembly');    // nor is this
      writeFileSync(join(dir, 'rv32ui-p-add'), htifElf(1));               // not an rv64 suite
      const tests = findTests(dir);
      expect(tests.map((t) => t.name)).toEqual(['rv64ud-v-fail5', 'rv64ui-p-pass']);
      const results = await runTests(tests, { jobs: 2, timeoutMs: 20_000, qemu: false });
      expect(results.map((r) => describeOutcome(r.wkvm))).toEqual(['fail (exit 5)', 'pass']);

      const cli = await runCmd(process.execPath, [join(ROOT, 'dist', 'scripts', 'riscv-tests.js'), dir], { timeoutMs: 30_000 });
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('rv64ud-v-fail5: wkvm fail (exit 5)');
      expect(cli.stdout).toMatch(/^rv64ui-p\s+1\/1$/m);
      expect(cli.stdout).toMatch(/^1 passed, 1 failed$/m);
      const none = await runCmd(process.execPath, [join(ROOT, 'dist', 'scripts', 'riscv-tests.js'), join(dir, 'nope')], { timeoutMs: 30_000 });
      expect(none.code).toBe(2);
      expect(none.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
