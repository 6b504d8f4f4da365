/**
 * The project's own ISA tests (guests/isa): each program checks one
 * instruction group or trap behaviour and reports through HTIF (exit code 0
 * = pass, else the number of the failing check).
 */
import { describe, expect, it } from 'vitest';
import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import { guestFiles, runWkvm } from './helpers.js';
import { VirtualMachine } from '../dist/src/index.js';

const tests = guestFiles('isa');

describe('ISA tests through the CLI (wkvm run -bios none -kernel X)', () => {
  it('found the ISA test programs', () => {
    expect(tests.length).toBeGreaterThanOrEqual(15);
  });
  for (const elf of tests) {
    it(basename(elf, '.elf'), async () => {
      const r = await runWkvm(['run', '-bios', 'none', '-kernel', elf], { timeoutMs: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('PASS');
      expect(r.code).toBe(0);
    });
  }
});

describe('ISA tests through the API', () => {
  for (const elf of tests.slice(0, 6)) {
    it(basename(elf, '.elf'), async () => {
      const vm = await VirtualMachine.create({ bios: 'none', kernel: readFileSync(elf) });
      let out = '';
      vm.serial.on('data', (b: Buffer) => { out += b.toString(); });
      vm.start();
      expect(await vm.exited).toBe(0);
      expect(out).toContain('PASS');
    });
  }
});
