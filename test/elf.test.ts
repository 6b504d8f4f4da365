import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WkvmError } from '../src/errors.js';
import { isElf, parseElf } from '../src/machine/elf.js';
import { makeElf } from './make-elf.js';

const sample = makeElf({
  entry: 0x8000_0004n,
  segments: [
    { vaddr: 0x8000_0000n, data: [1, 2, 3, 4, 5, 6, 7, 8], memsz: 0x1000n },
    { type: 0x6474e551, vaddr: 0n, data: [] }, // PT_GNU_STACK: ignored
    { vaddr: 0xffff_ffff_8000_2000n, paddr: 0x8000_2000n, data: [9, 9] },
  ],
  symbols: [
    { name: 'tohost', value: 0x8000_1000n, type: 1 },
    { name: 'fromhost', value: 0x8000_1040n, type: 1 },
    { name: 'loop', value: 0x8000_0010n, bind: 0 },
    { name: 'loop', value: 0x8000_0020n, bind: 1 }, // the global one wins
    { name: 'start', value: 0x8000_0000n, bind: 1 },
    { name: 'start', value: 0x9000_0000n, bind: 0 }, // a later local does not replace a global
    { name: 'undefined_ref', value: 0n, shndx: 0 },
    { name: 'a_section', value: 0x8000_0000n, type: 3, bind: 0 },
    { name: 'file.c', value: 0n, type: 4, bind: 0, shndx: 0xfff1 },
  ],
});

function expectWkvmError(fn: () => unknown, message: string | RegExp) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WkvmError);
  const msg = (err as Error).message;
  if (typeof message === 'string') expect(msg).toBe(message);
  else expect(msg).toMatch(message);
  expect(msg).not.toContain('\n');
  expect(msg).not.toMatch(/\.$/);
}

describe('parseElf', () => {
  it('reads entry, PT_LOAD segments (at p_paddr) and symbols', () => {
    const elf = parseElf(sample, 'sample.elf');
    expect(elf.entry).toBe(0x8000_0004n);
    expect(elf.segments).toHaveLength(2);
    expect(elf.segments[0]!.paddr).toBe(0x8000_0000n);
    expect([...elf.segments[0]!.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(elf.segments[0]!.memsz).toBe(0x1000n);
    expect(elf.segments[1]!.vaddr).toBe(0xffff_ffff_8000_2000n);
    expect(elf.segments[1]!.paddr).toBe(0x8000_2000n);
    expect([...elf.segments[1]!.data]).toEqual([9, 9]);
    expect(elf.symbols.get('tohost')).toBe(0x8000_1000n);
    expect(elf.symbols.get('fromhost')).toBe(0x8000_1040n);
    expect(elf.symbols.get('loop')).toBe(0x8000_0020n);
    expect(elf.symbols.get('start')).toBe(0x8000_0000n);
    expect(elf.symbols.has('undefined_ref')).toBe(false);
    expect(elf.symbols.has('a_section')).toBe(false);
    expect(elf.symbols.has('file.c')).toBe(false);
  });

  it('accepts ET_DYN and files without section headers', () => {
    const elf = parseElf(makeElf({ type: 3 }), 'pie.elf');
    expect(elf.segments).toHaveLength(1);
    expect(elf.symbols.size).toBe(0);
  });

  it('skips empty PT_LOAD segments', () => {
    const elf = parseElf(makeElf({ segments: [{ vaddr: 0n, data: [] }, { vaddr: 0x8000_0000n, data: [1] }] }), 'x');
    expect(elf.segments.map((s) => s.paddr)).toEqual([0x8000_0000n]);
  });

  it('rejects what it cannot run with one-line messages naming the file', () => {
    expectWkvmError(() => parseElf(new TextEncoder().encode('#!/bin/sh\n'), 'run.sh'), 'run.sh: not an ELF file');
    expectWkvmError(() => parseElf(new Uint8Array(0), 'empty'), 'empty: not an ELF file');
    expectWkvmError(() => parseElf(sample.subarray(0, 5), 'x.elf'), 'x.elf: truncated ELF header');
    expectWkvmError(() => parseElf(sample.subarray(0, 40), 'x.elf'), 'x.elf: truncated ELF header (40 bytes)');
    expectWkvmError(() => parseElf(makeElf({ cls: 1 }), 'rv32.elf'), 'rv32.elf: 32-bit ELF; wkvm runs RV64 only');
    expectWkvmError(() => parseElf(makeElf({ cls: 9 }), 'x.elf'), 'x.elf: unknown ELF class 9');
    expectWkvmError(() => parseElf(makeElf({ data: 2 }), 'be.elf'), 'be.elf: big-endian ELF; RISC-V is little-endian');
    expectWkvmError(() => parseElf(makeElf({ data: 0 }), 'x.elf'), 'x.elf: unknown ELF data encoding 0');
    expectWkvmError(() => parseElf(makeElf({ machine: 62 }), 'amd64.elf'), 'amd64.elf: ELF machine 62 (x86-64), not RISC-V (243)');
    expectWkvmError(() => parseElf(makeElf({ machine: 999 }), 'x.elf'), 'x.elf: ELF machine 999, not RISC-V (243)');
    expectWkvmError(() => parseElf(makeElf({ type: 1 }), 'x.o'), 'x.o: not an executable ELF (type 1: relocatable object)');
    expectWkvmError(() => parseElf(makeElf({ type: 4 }), 'core'), 'core: not an executable ELF (type 4: core dump)');
    expectWkvmError(() => parseElf(makeElf({ segments: [] }), 'x.elf'), 'x.elf: no loadable segments');
    expectWkvmError(() => parseElf(makeElf({ segments: [{ type: 4, vaddr: 0n, data: [1] }] }), 'x.elf'), 'x.elf: no loadable segments');
    expectWkvmError(
      () => parseElf(makeElf({ segments: [{ vaddr: 0x8000_0000n, data: [1, 2, 3], memsz: 2n }] }), 'x.elf'),
      'x.elf: segment 0: file size 0x3 exceeds memory size 0x2',
    );
    expectWkvmError(
      () => parseElf(makeElf({ segments: [{ vaddr: 0xffff_ffff_ffff_f000n, data: [1], memsz: 0x2000n }] }), 'x.elf'),
      'x.elf: segment 0: address range wraps around',
    );
  });

  it('rejects truncated program headers, segment data and symbol tables', () => {
    const plain = makeElf();
    expectWkvmError(() => parseElf(plain.subarray(0, 100), 'x.elf'), /^x\.elf: truncated program headers/);
    expectWkvmError(() => parseElf(plain.subarray(0, plain.length - 1), 'x.elf'), /^x\.elf: truncated segment 0 data/);
    const dv = new DataView(sample.buffer.slice(0));
    const shoff = Number(dv.getBigUint64(40, true));
    const cut = (n: number) => new Uint8Array(dv.buffer.slice(0, n));
    expectWkvmError(() => parseElf(cut(shoff + 100), 'x.elf'), /^x\.elf: truncated section headers/);
    const withBadSym = new Uint8Array(dv.buffer.slice(0));
    new DataView(withBadSym.buffer).setBigUint64(shoff + 64 + 32, 1n << 40n, true); // .symtab size
    expectWkvmError(() => parseElf(withBadSym, 'x.elf'), /^x\.elf: truncated symbol table/);
    const badLink = new Uint8Array(dv.buffer.slice(0));
    new DataView(badLink.buffer).setUint32(shoff + 64 + 40, 7, true);
    expectWkvmError(() => parseElf(badLink, 'x.elf'), "x.elf: symbol table's string table index 7 is out of range");
  });

  it('never throws anything but WkvmError on garbage', () => {
    const check = (bytes: Uint8Array) => {
      try {
        parseElf(bytes, 'fuzz.elf');
      } catch (e) {
        if (!(e instanceof WkvmError)) throw e;
        expect(e.message.startsWith('fuzz.elf: ')).toBe(true);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)), { numRuns: 500 });
    // Random bytes behind a valid ELF64 RISC-V identification get past the first checks.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (tail) => {
        const b = new Uint8Array(sample.length + tail.length);
        b.set(sample.subarray(0, 20));
        b.set(tail, 20);
        check(b);
      }),
      { numRuns: 500 },
    );
    const files = realElfs();
    const picked = [...files.filter((f) => f.includes('/guests/')).slice(0, 1), ...files.filter((f) => f.includes('opensbi')).slice(0, 1)];
    const real = [sample, ...picked.map((f) => new Uint8Array(readFileSync(f)))];
    for (const base of real) {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(Math.min(base.length - 1, 4095)), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
          fc.nat(base.length),
          (edits, len) => {
            const b = base.slice(0, len);
            for (const [at, v] of edits) if (at < b.length) b[at] = v;
            check(b);
          },
        ),
        { numRuns: 1000 },
      );
      // Mutations anywhere in the file (section headers and symbol tables sit near the end).
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
          const b = base.slice();
          for (const [at, v] of edits) b[at] = v;
          check(b);
        }),
        { numRuns: 1000 },
      );
    }
  });
});

/** Guest ELFs of this repository and OpenSBI's, where present. */
function realElfs(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.elf')) found.push(p);
    }
  };
  walk(join(import.meta.dirname, '..', 'guests'));
  for (const f of ['/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf', '/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.elf']) {
    if (existsSync(f)) found.push(f);
  }
  return found;
}

describe('real RISC-V ELF files', () => {
  const files = realElfs();
  if (files.length === 0) console.warn('elf.test: no guests/**/*.elf or OpenSBI ELF found; skipping real-file checks');
  it.skipIf(files.length === 0)(`parse (${files.length} found)`, () => {
    for (const f of files) {
      const buf = new Uint8Array(readFileSync(f));
      expect(isElf(buf)).toBe(true);
      const elf = parseElf(buf, f);
      expect(elf.segments.length, f).toBeGreaterThan(0);
      const inside = elf.segments.some((s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + s.memsz);
      expect(inside, `${f}: entry inside a segment`).toBe(true);
      for (const s of elf.segments) expect(BigInt(s.data.length) <= s.memsz).toBe(true);
      if (f.includes('/guests/')) expect(elf.symbols.size, f).toBeGreaterThan(0);
    }
  });
});

describe('loading an ELF into guest RAM', () => {
  it('writes the file bytes and leaves zero where a later segment\'s .bss overlaps them', async () => {
    const { VirtualMachine } = await import('../dist/src/index.js');
    const elf = makeElf({
      entry: 0x8000_0000n,
      segments: [
        { vaddr: 0x8000_0000n, data: [0x6f, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8], memsz: 0x10n }, // j . then data
        { vaddr: 0x8000_0008n, data: [], memsz: 0x20n }, // zero from 0x8000_0008, over the last 4 bytes above
        { vaddr: 0x8010_0000n, data: [9, 9], memsz: 0x40_0000n }, // a large .bss (never written by the loader)
      ],
    });
    const vm = await VirtualMachine.create({ bios: 'none', kernel: elf, memory: '16M' });
    try {
      expect([...vm.readPhysical(0x8000_0000n, 16)]).toEqual([0x6f, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect([...vm.readPhysical(0x8010_0000n, 4)]).toEqual([9, 9, 0, 0]);
      expect(vm.readPhysical(0x8010_0000n + 0x40_0000n - 8n, 8).every((x) => x === 0)).toBe(true);
    } finally {
      await vm.stop();
    }
  });
});
