/**
 * Differential fuzzing against QEMU: blocks of random instructions (integer,
 * M, A, F, D, C, loads and stores, FENCE, the FP CSRs; every field random
 * within an opcode, so reserved encodings come too) run in the fuzzdiff guest
 * (guests/fuzzdiff) on QEMU and on wkvm; the registers, the scratch memory
 * and the traps after each block must be the same. No control flow and no
 * writes to x1..x4 (the guest's frame), memory only through gp.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf } from '../src/machine/elf.js';
import { QEMU, ROOT, runCmd, runWkvm } from './helpers.js';

const NBLOCKS = 64;
// the witness offers what wkvm does, RV64GC: QEMU 7.2's default rv64 CPU adds Zba, Zbb, Zbc, Zbs and H
const QEMU_CPU = 'rv64,zba=false,zbb=false,zbc=false,zbs=false,h=false';
const BLOCK_WORDS = 64;
const RUNS = Number(process.env.WKVM_FUZZ_RUNS ?? 6);
const ELF = join(ROOT, 'guests', 'fuzzdiff', 'fuzzdiff.elf');
if (!QEMU) console.warn('qemu-fuzz.test.ts: qemu-system-riscv64 not found; skipping the differential fuzzing against QEMU');

const int = (min: number, max: number) => fc.integer({ min, max });
const rd = int(5, 31);   // never x1..x4
const reg = int(0, 31);
const GP = 3;
const u = (v: number) => v >>> 0;
const rType = (op: number, rd: number, f3: number, rs1: number, rs2: number, f7: number) =>
  u((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op);
const iType = (op: number, rd: number, f3: number, rs1: number, imm: number) =>
  u(((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op);
const sType = (op: number, f3: number, rs1: number, rs2: number, imm: number) =>
  u((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op);

const opImm = fc.tuple(fc.constantFrom(0x13, 0x1b), rd, int(0, 7), reg, int(0, 0xfff))
  .map(([op, d, f3, s, imm]) => iType(op, d, f3, s, imm));
const op = fc.tuple(fc.constantFrom(0x33, 0x3b), rd, int(0, 7), reg, reg, fc.oneof(fc.constantFrom(0, 0x20, 0x01), int(0, 0x7f)))
  .map(([o, d, f3, s1, s2, f7]) => rType(o, d, f3, s1, s2, f7));
const upper = fc.tuple(fc.constantFrom(0x37, 0x17), rd, int(0, 0xfffff)).map(([o, d, imm]) => u((imm << 12) | (d << 7) | o));
const load = fc.tuple(fc.constantFrom(0x03, 0x07), rd, int(0, 7), int(-2048, 2047)).map(([o, d, f3, imm]) => iType(o, d, f3, GP, imm));
const store = fc.tuple(fc.constantFrom(0x23, 0x27), int(0, 7), reg, int(-2048, 2047)).map(([o, f3, s, imm]) => sType(o, f3, GP, s, imm));
const amo = fc.tuple(rd, fc.oneof(fc.constantFrom(2, 3), int(0, 7)), reg, fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 8, 12, 16, 20, 24, 28), int(0, 31)), int(0, 3))
  .map(([d, f3, s, f5, aqrl]) => rType(0x2f, d, f3, GP, s, (f5 << 2) | aqrl));
// OP-FP: the defined funct7 values mostly (random rs2 picks fcvt's types), any rounding mode
const FP_F7 = [0x00, 0x01, 0x04, 0x05, 0x08, 0x09, 0x0c, 0x0d, 0x2c, 0x2d, 0x10, 0x11, 0x14, 0x15, 0x20, 0x21, 0x50, 0x51, 0x60, 0x61, 0x68, 0x69, 0x70, 0x71, 0x78, 0x79];
const fpOp = fc.tuple(rd, int(0, 7), reg, fc.oneof({ arbitrary: int(0, 3), weight: 4 }, { arbitrary: reg, weight: 1 }),
  fc.oneof({ arbitrary: fc.constantFrom(...FP_F7), weight: 6 }, { arbitrary: int(0, 0x7f), weight: 1 }))
  .map(([d, rm, s1, s2, f7]) => rType(0x53, d, rm, s1, s2, f7));
const fma = fc.tuple(fc.constantFrom(0x43, 0x47, 0x4b, 0x4f), rd, int(0, 7), reg, reg, reg, fc.oneof({ arbitrary: int(0, 1), weight: 5 }, { arbitrary: int(2, 3), weight: 1 }))
  .map(([o, d, rm, s1, s2, s3, fmt]) => rType(o, d, rm, s1, s2, (s3 << 2) | fmt));
const fence = fc.tuple(int(0, 1), int(0, 0xfffff)).map(([f3, bits]) => u((bits << 12 & 0xfff00000) | (f3 << 12) | 0x0f));
const fpCsr = fc.tuple(rd, fc.constantFrom(1, 2, 3, 5, 6, 7), rd, int(1, 3)).map(([d, f3, s, csr]) => iType(0x73, d, f3, s, csr));
// compressed: the forms that neither branch nor touch x1..x4 (two per word)
const c = {
  ci: (f3: number, d: number, imm: number, q: number) => ((f3 << 13) | (((imm >> 5) & 1) << 12) | (d << 7) | ((imm & 0x1f) << 2) | q),
};
const compressed16 = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1, 2, 3), rd, int(0, 63)).map(([f3, d, imm]) => c.ci(f3, d, imm, 1)),      // addi addiw li lui
  fc.tuple(int(0, 2), int(0, 7), int(0, 63)).map(([f2, d, imm]) => (4 << 13) | (((imm >> 5) & 1) << 12) | (f2 << 10) | (d << 7) | ((imm & 0x1f) << 2) | 1), // srli srai andi
  fc.tuple(int(0, 1), int(0, 7), int(0, 3), int(0, 7)).map(([w, d, f2, s]) => (0x23 << 10) | (w << 12) | (d << 7) | (f2 << 5) | (s << 2) | 1), // sub xor or and subw addw
  fc.tuple(rd, int(0, 63)).map(([d, imm]) => c.ci(0, d, imm, 2)),                                         // slli
  fc.tuple(int(0, 1), rd, int(1, 31)).map(([add, d, s]) => (4 << 13) | (add << 12) | (d << 7) | (s << 2) | 2), // mv add
);
const compressed = fc.tuple(compressed16, compressed16).map(([a, b]) => u(a | (b << 16)));

const insn = fc.oneof(
  { arbitrary: opImm, weight: 4 }, { arbitrary: op, weight: 4 }, { arbitrary: upper, weight: 1 },
  { arbitrary: load, weight: 2 }, { arbitrary: store, weight: 2 }, { arbitrary: amo, weight: 2 },
  { arbitrary: fpOp, weight: 5 }, { arbitrary: fma, weight: 2 }, { arbitrary: fence, weight: 1 },
  { arbitrary: fpCsr, weight: 1 }, { arbitrary: compressed, weight: 3 });
const block = fc.array(insn, { minLength: BLOCK_WORDS - 1, maxLength: BLOCK_WORDS - 1 });

/** The fuzzdiff guest with these blocks written into its fuzz_blocks (each ends with its `ret`). */
function withBlocks(blocks: number[][]): Uint8Array {
  const img = new Uint8Array(readFileSync(ELF));
  const elf = parseElf(img, ELF);
  const at = elf.symbols.get('fuzz_blocks');
  const seg = at === undefined ? undefined : elf.segments.find((s) => at >= s.vaddr && at < s.vaddr + BigInt(s.data.length));
  if (at === undefined || !seg) throw new Error('fuzzdiff.elf has no fuzz_blocks in a loaded segment');
  const view = new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength);
  blocks.forEach((b, i) => b.forEach((w, j) => view.setUint32(Number(at - seg.vaddr) + 4 * (i * BLOCK_WORDS + j), w, true)));
  return img;
}

describe.skipIf(!QEMU)('differential fuzzing against QEMU (guests/fuzzdiff)', () => {
  it('random instruction blocks leave the same registers, memory and traps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-fuzz-'));
    try {
      await fc.assert(fc.asyncProperty(fc.array(block, { minLength: NBLOCKS, maxLength: NBLOCKS }), async (blocks) => {
        const file = join(dir, 'fuzz.elf'), qout = join(dir, 'qemu.out');
        writeFileSync(file, withBlocks(blocks));
        const [q, w] = await Promise.all([
          // QEMU's serial drops bytes when a pipe to it fills up: its console goes to a file
          runCmd(QEMU!, ['-M', 'virt', '-cpu', QEMU_CPU, '-display', 'none', '-monitor', 'none', '-serial', `file:${qout}`, '-bios', 'none', '-kernel', file], { timeoutMs: 20_000 })
            .then((r) => ({ ...r, stdout: readFileSync(qout, 'latin1') })),
          runWkvm(['run', '-bios', 'none', '-kernel', file], { timeoutMs: 20_000 }),
        ]);
        expect(q.stdout).toContain('fuzzdiff: done');
        const ql = q.stdout.split('\n'), wl = w.stdout.split('\n');
        const bad = ql.findIndex((l, i) => l !== wl[i]);
        const detail = bad < 0 ? '' : `block ${bad}: qemu '${ql[bad]}', wkvm '${wl[bad]}'; its words: ` +
          (blocks[bad] ?? []).map((x) => x.toString(16).padStart(8, '0')).join(' ');
        expect(bad, detail).toBe(-1);
        expect(w.code).toBe(q.code);
      }), { numRuns: RUNS, endOnFailure: true }); // no shrinking: the failing block is named
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
