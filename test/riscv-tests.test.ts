/**
 * The official riscv-tests rv64 suites (ui, um, ua, uc, uf, ud in the p and v
 * environments; si and mi in p) under `wkvm run -bios none -kernel ELF`.
 * They are another project's code, packaged neither by Debian nor by npm, so
 * they are not in this repository and CI cannot fetch them: this file runs
 * only when WKVM_RISCV_TESTS names a directory of built test binaries
 * (see scripts/riscv-tests.ts), and says so when it skips.
 */
import { describe, expect, it } from 'vitest';
import { SUITES, describeOutcome, findTests, passed, runTests } from '../scripts/riscv-tests.js';

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
