/**
 * Differential fuzzing against QEMU, run as the RV64GC that wkvm implements.
 *
 * guests/fuzzdiff: blocks of random instructions (integer, M, A, F, D, C,
 * loads and stores, FENCE, the FP CSRs; every field random within an opcode,
 * so reserved encodings too) and forward branches and jumps (32- and 16-bit)
 * must leave the same registers, scratch memory and traps. No backward
 * control flow, no writes to x1..x4 (the guest's frame), memory only
 * through gp.
 *
 * guests/fuzzmmu: blocks of loads, stores and LR run in S- or U-mode through random
 * Sv39 page tables (pointers, leaves at every level, any flags, reserved bits,
 * addresses outside RAM, non-canonical addresses), toggling SUM and MXR and
 * issuing SFENCE.VMA; the results, the A/D bits written into the tables and
 * the faults must be the same.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf } from '../src/machine/elf.js';
import { QEMU, ROOT, runCmd, runWkvm } from './helpers.js';
import { bType, iType, jal, rType, sType, uType } from './rv-encode.js';

const NBLOCKS = 64;
const BLOCK_WORDS = 64;
// the witness offers what wkvm does, RV64GC: QEMU 7.2's default rv64 CPU adds Zba, Zbb, Zbc, Zbs and H
const QEMU_CPU = 'rv64,zba=false,zbb=false,zbc=false,zbs=false,h=false';
const RUNS = Number(process.env.WKVM_FUZZ_RUNS ?? 6);
// replay a failure: WKVM_FUZZ_SEED=<the seed fast-check printed> generates the same guests again
const SEED = process.env.WKVM_FUZZ_SEED === undefined ? undefined : Number(process.env.WKVM_FUZZ_SEED);
const ELF = join(ROOT, 'guests', 'fuzzdiff', 'fuzzdiff.elf');
if (!QEMU) console.warn('qemu-fuzz.test.ts: qemu-system-riscv64 not found; skipping the differential fuzzing against QEMU');

const int = (min: number, max: number) => fc.integer({ min, max });
const rd = int(5, 31);   // never x1..x4
const reg = int(0, 31);
const GP = 3;
const u = (v: number) => v >>> 0;

const opImm = fc.tuple(fc.constantFrom(0x13, 0x1b), rd, int(0, 7), reg, int(0, 0xfff))
  .map(([op, d, f3, s, imm]) => iType(op, d, f3, s, imm));
const op = fc.tuple(fc.constantFrom(0x33, 0x3b), rd, int(0, 7), reg, reg, fc.oneof(fc.constantFrom(0, 0x20, 0x01), int(0, 0x7f)))
  .map(([o, d, f3, s1, s2, f7]) => rType(o, d, f3, s1, s2, f7));
const upper = fc.tuple(fc.constantFrom(0x37, 0x17), rd, int(0, 0xfffff)).map(([o, d, imm]) => uType(o, d, imm));
const load = fc.tuple(fc.constantFrom(0x03, 0x07), rd, int(0, 7), int(-2048, 2047)).map(([o, d, f3, imm]) => iType(o, d, f3, GP, imm));
const store = fc.tuple(fc.constantFrom(0x23, 0x27), int(0, 7), reg, int(-2048, 2047)).map(([o, f3, s, imm]) => sType(o, f3, GP, s, imm));
// AMOs and LR, but no SC of a valid width: whether an SC succeeds after an LR of the other width,
// or after the reserved word changed, differs between implementations (reserved widths still come)
const amo = fc.tuple(rd, fc.oneof(fc.constantFrom(2, 3), int(0, 7)), reg, fc.oneof(fc.constantFrom(0, 1, 2, 4, 8, 12, 16, 20, 24, 28), int(0, 31)), int(0, 3))
  .filter(([, f3, , f5]) => f5 !== 3 || (f3 !== 2 && f3 !== 3))
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
const cI = (f3: number, d: number, imm: number, q: number) => (f3 << 13) | (((imm >> 5) & 1) << 12) | (d << 7) | ((imm & 0x1f) << 2) | q;
const compressed16 = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1, 2, 3), rd, int(0, 63)).map(([f3, d, imm]) => cI(f3, d, imm, 1)),      // addi addiw li lui
  fc.tuple(int(0, 2), int(0, 7), int(0, 63)).map(([f2, d, imm]) => (4 << 13) | (((imm >> 5) & 1) << 12) | (f2 << 10) | (d << 7) | ((imm & 0x1f) << 2) | 1), // srli srai andi
  fc.tuple(int(0, 1), int(0, 7), int(0, 3), int(0, 7)).map(([w, d, f2, s]) => (0x23 << 10) | (w << 12) | (d << 7) | (f2 << 5) | (s << 2) | 1), // sub xor or and subw addw
  fc.tuple(rd, int(0, 63)).map(([d, imm]) => cI(0, d, imm, 2)),                                         // slli
  fc.tuple(int(0, 1), rd, int(1, 31)).map(([add, d, s]) => (4 << 13) | (add << 12) | (d << 7) | (s << 2) | 2), // mv add
);
const compressed = fc.tuple(compressed16, compressed16).map(([a, b]) => u(a | (b << 16)));

const insn = fc.oneof(
  { arbitrary: opImm, weight: 4 }, { arbitrary: op, weight: 4 }, { arbitrary: upper, weight: 1 },
  { arbitrary: load, weight: 2 }, { arbitrary: store, weight: 2 }, { arbitrary: amo, weight: 2 },
  { arbitrary: fpOp, weight: 5 }, { arbitrary: fma, weight: 2 }, { arbitrary: fence, weight: 1 },
  { arbitrary: fpCsr, weight: 1 }, { arbitrary: compressed, weight: 3 });
// forward control flow, to a word boundary 1..8 words ahead (clamped to the block's closing `ret`):
// branches of every condition (and the reserved ones), JAL with or without a link, and c.beqz,
// c.bnez and c.j in the first half of a word
const cBranch = (f3: number, s: number, off: number) => (f3 << 13) | (((off >> 8) & 1) << 12) | (((off >> 3) & 3) << 10) | (s << 7) |
  (((off >> 6) & 3) << 5) | (((off >> 1) & 3) << 3) | (((off >> 5) & 1) << 2) | 1;
const cJump = (off: number) => (5 << 13) | (((off >> 11) & 1) << 12) | (((off >> 4) & 1) << 11) | (((off >> 8) & 3) << 9) |
  (((off >> 10) & 1) << 8) | (((off >> 6) & 1) << 7) | (((off >> 7) & 1) << 6) | (((off >> 1) & 7) << 3) | (((off >> 5) & 1) << 2) | 1;
type Forward = { k: number; encode: (off: number) => number };
const forward: fc.Arbitrary<Forward> = fc.oneof(
  fc.tuple(int(0, 7), reg, reg, int(1, 8)).map(([f3, a, b, k]) => ({ k, encode: (off: number) => bType(f3, a, b, off) })),
  fc.tuple(fc.constantFrom(0, 5, 17, 31), int(1, 8)).map(([d, k]) => ({ k, encode: (off: number) => jal(d, off) })),
  fc.tuple(fc.constantFrom(6, 7), int(0, 7), int(1, 8), compressed16).map(([f3, s, k, next]) => ({ k, encode: (off: number) => u(cBranch(f3, s, off) | (next << 16)) })),
  fc.tuple(int(1, 8), compressed16).map(([k, next]) => ({ k, encode: (off: number) => u(cJump(off) | (next << 16)) })),
);
const block = fc.array(fc.oneof({ arbitrary: insn, weight: 10 }, { arbitrary: forward, weight: 1 }), { minLength: BLOCK_WORDS - 1, maxLength: BLOCK_WORDS - 1 })
  .map((items) => items.map((it, i) => (typeof it === 'number' ? it : it.encode(4 * Math.min(it.k, BLOCK_WORDS - 1 - i)))));

type Sym = (name: string) => { view: DataView; at: number };
/** A copy of a guest ELF whose loaded data `write` patches (`sym`: where a symbol's bytes are; `addr`: its address). */
function patched(file: string, write: (sym: Sym, addr: (name: string) => bigint) => void): Uint8Array {
  const img = new Uint8Array(readFileSync(file));
  const elf = parseElf(img, file);
  const addr = (name: string): bigint => {
    const a = elf.symbols.get(name);
    if (a === undefined) throw new Error(`${file} has no symbol ${name}`);
    return a;
  };
  write((name) => {
    const a = addr(name);
    const seg = elf.segments.find((s) => a >= s.vaddr && a < s.vaddr + BigInt(s.data.length));
    if (!seg) throw new Error(`${file}: ${name} is not in a loaded segment`);
    return { view: new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength), at: Number(a - seg.vaddr) };
  }, addr);
  return img;
}

/** The fuzzdiff guest with these blocks written into its fuzz_blocks (each ends with its `ret`). */
function withBlocks(blocks: number[][]): Uint8Array {
  return patched(ELF, (sym) => {
    const { view, at } = sym('fuzz_blocks');
    blocks.forEach((b, i) => b.forEach((w, j) => view.setUint32(at + 4 * (i * BLOCK_WORDS + j), w, true)));
  });
}

/** Run a guest on QEMU (the RV64GC witness) and on wkvm; the first line that differs, or -1. */
async function compare(dir: string, img: Uint8Array, done: string, env?: NodeJS.ProcessEnv): Promise<{ bad: number; q: string[]; w: string[] }> {
  const file = join(dir, 'fuzz.elf'), qout = join(dir, 'qemu.out');
  writeFileSync(file, img);
  const [q, w] = await Promise.all([
    // QEMU's serial drops bytes when a pipe to it fills up: its console goes to a file
    runCmd(QEMU!, ['-M', 'virt', '-cpu', QEMU_CPU, '-display', 'none', '-monitor', 'none', '-serial', `file:${qout}`, '-bios', 'none', '-kernel', file], { timeoutMs: 20_000 })
      .then((r) => ({ ...r, stdout: readFileSync(qout, 'latin1') })),
    runWkvm(['run', '-bios', 'none', '-kernel', file], { timeoutMs: 20_000, env }),
  ]);
  expect(q.stdout).toContain(done);
  expect(w.code).toBe(q.code);
  const ql = q.stdout.split('\n'), wl = w.stdout.split('\n');
  return { bad: ql.findIndex((l, i) => l !== wl[i]), q: ql, w: wl };
}

const hex = (ws: number[]) => ws.map((x) => x.toString(16).padStart(8, '0')).join(' ');

// ---- the MMU guest (guests/fuzzmmu): loads, stores and AMOs in S-mode through random Sv39 tables
const MMU_ELF = join(ROOT, 'guests', 'fuzzmmu', 'fuzzmmu.elf');
const MMU_BLOCKS = 32;
const IDX = [0, 1, 3, 7, 255, 256, 511];      // the table indexes that get entries and that the VAs mostly use
const idx = fc.oneof({ arbitrary: fc.constantFrom(...IDX), weight: 6 }, { arbitrary: int(0, 511), weight: 1 });
const bits = (n: number) => fc.integer({ min: 0, max: 2 ** n - 1 });
// a PTE: [kind, target page, flags, RSW, reserved high bits]; the target is resolved once the addresses
// are known. Mostly a path that works: the root points to PT1, PT1 to PT2 or PT3, and those hold leaves
// with good flags (V R W A D, X U G at random), each entry now and then anything else.
const goodFlags = fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()).map(([x, u, g]) => 0xc7 | (x ? 8 : 0) | (u ? 0x10 : 0) | (g ? 0x20 : 0));
const anyFlags = fc.oneof({ arbitrary: goodFlags, weight: 3 }, { arbitrary: bits(8), weight: 1 });
const high = fc.oneof({ arbitrary: fc.constant(0), weight: 20 }, { arbitrary: bits(10), weight: 1 });
const entry = (kinds: [string, number][]) => fc.tuple(
  fc.oneof(...kinds.map(([k, weight]) => ({ arbitrary: fc.constant(k), weight }))), int(0, 3), anyFlags, bits(2), high);
const LEVEL_KINDS: [string, number][][] = [
  [['pointer', 8], ['leaf', 1], ['invalid', 1], ['outside', 1]],  // root -> PT1 (a gigapage leaf is misaligned: a fault)
  [['pointer', 8], ['leaf', 1], ['invalid', 1], ['outside', 1]],  // PT1 -> PT2 or PT3
  [['leaf', 8], ['pointer', 1], ['invalid', 1], ['outside', 1]],  // PT2: 4 KiB leaves
  [['leaf', 8], ['pointer', 1], ['invalid', 1], ['outside', 1]],  // PT3: 4 KiB leaves
];
const table = (level: number) => fc.tuple(
  fc.tuple(...IDX.map(() => entry(LEVEL_KINDS[level]))).map((es) => es.map((e, i) => [IDX[i], e] as [number, typeof e])),
  fc.array(fc.tuple(int(0, 511), entry(LEVEL_KINDS[level])), { maxLength: 4 }),
).map(([fixed, extra]) => [...fixed, ...extra]);
const tables = fc.tuple(table(0), table(1), table(2), table(3));
// aligned offsets: whether a misaligned access to a page that also faults reports the misalignment
// or the fault is the implementation's choice (privileged spec, exception priority)
const off8 = int(-256, 255).map((i) => 8 * i);
const mmuOp = fc.oneof(
  { arbitrary: fc.tuple(rd, int(0, 7), off8).map(([d, f3, imm]) => [iType(0x03, d, f3, GP, imm)]), weight: 4 },
  { arbitrary: fc.tuple(int(0, 3), reg, off8).map(([f3, s, imm]) => [sType(0x23, f3, GP, s, imm)]), weight: 4 },
  { arbitrary: fc.tuple(rd, int(2, 3), off8).map(([d, f3, imm]) => [iType(0x07, d, f3, GP, imm)]), weight: 1 },
  { arbitrary: fc.tuple(int(2, 3), reg, off8).map(([f3, s, imm]) => [sType(0x27, f3, GP, s, imm)]), weight: 1 },
  // LR only of the A extension: QEMU 7.2 reports an AMO's page fault as a load's (13, where the
  // spec says store/AMO, 15: see guests/isa/amo_traps.S), and fails an SC to an unmapped page
  // without a fault where wkvm raises one, as Spike does (it translates before it checks the reservation)
  { arbitrary: fc.tuple(rd, int(2, 3), fc.constantFrom(0, 1, 2, 3)).map(([d, f3, aqrl]) => [rType(0x2f, d, f3, GP, 0, (2 << 2) | aqrl)]), weight: 1 },
  { arbitrary: opImm.map((w) => [w]), weight: 2 },
  // toggle sstatus.SUM or MXR: lui x30, bit; csrrs/csrrc x0, sstatus, x30
  { arbitrary: fc.tuple(fc.constantFrom(0x40, 0x80), fc.constantFrom(2, 3)).map(([b, f3]) => [uType(0x37, 30, b), iType(0x73, 0, f3, 30, 0x100)]), weight: 1 },
  { arbitrary: fc.constant([0x12000073]), weight: 1 }, // sfence.vma
);
const mmuBlock = fc.array(mmuOp, { minLength: 20, maxLength: 40 })
  .map((ops) => [...ops.flat().slice(0, BLOCK_WORDS - 1), 0x00000073 /* ecall: back to M-mode */]);
// gp: a VA through the tables (indexes from IDX), in the lower or upper half, now and then not canonical
const gpVa = fc.tuple(idx.filter((r) => r !== 2) /* not the code's gigapage */, idx, idx, fc.oneof({ arbitrary: fc.constant(false), weight: 15 }, { arbitrary: fc.constant(true), weight: 1 }))
  .map(([r, l1, l0, bad]) => {
    let va = (BigInt(r) << 30n) | (BigInt(l1) << 21n) | (BigInt(l0) << 12n) | 0x800n;
    if (r >= 256) va |= 0xffff_ff80_0000_0000n;          // sign-extend bit 38
    if (bad) va ^= 1n << 40n;                             // not canonical: a page fault
    return va;
  });

function withMmu(tables: [number, (string | number)[]][][], blocks: number[][], params: [bigint, number][]): Uint8Array {
  return patched(MMU_ELF, (sym, addr) => {
    const live = addr('mmu_pt'), data = addr('mmu_data');
    const init = sym('mmu_pt_init');
    const ppn = (a: bigint) => a >> 12n;
    for (let t = 0; t < 4; t++) {
      for (let i = 0; i < 512; i++) init.view.setBigUint64(init.at + 8 * (t * 512 + i), 0n, true);
      for (const [i, [kind, target, flags, rsw, high]] of tables[t] as [number, [string, number, number, number, number]][]) {
        let v: bigint;
        // pointers go down a level: the root to PT1, PT1 to PT2 or PT3 (lower ones to any table)
        const next = t === 0 ? 1 : t === 1 ? 2 + (target as number) % 2 : (target as number);
        if (kind === 'pointer') v = (ppn(live + BigInt(4096 * next)) << 10n) | 1n | BigInt((flags as number) & 0x20); // V (+G)
        else if (kind === 'leaf') v = (ppn(data + BigInt(4096 * (target as number))) << 10n) | BigInt(flags as number) | 1n;
        // a leaf (R set) at PA 4 GiB, where neither board has anything: an access fault. (Not a pointer:
        // QEMU 7.2 reports a PTE that cannot be read as a page fault, where the spec says access fault.)
        else if (kind === 'outside') v = (0x10_0000n << 10n) | BigInt(flags as number) | 3n;
        else v = BigInt((flags as number) & ~1);
        v |= BigInt(rsw as number) << 8n | BigInt(high as number) << 54n;
        init.view.setBigUint64(init.at + 8 * (t * 512 + i), v, true);
      }
    }
    init.view.setBigUint64(init.at + 8 * 2, 0x2000_00cfn, true); // the code: VA = PA 0x80000000.., a gigapage RWX
    const blk = sym('fuzz_blocks');
    blocks.forEach((b, i) => b.forEach((w, j) => blk.view.setUint32(blk.at + 4 * (i * BLOCK_WORDS + j), w, true)));
    const par = sym('mmu_params');
    params.forEach(([gp, status], i) => {
      par.view.setBigUint64(par.at + 16 * i, gp, true);
      par.view.setBigUint64(par.at + 16 * i + 8, BigInt(status), true);
    });
  });
}

describe.skipIf(!QEMU)('differential fuzzing against QEMU (guests/fuzzdiff, guests/fuzzmmu)', () => {
  const randomBlocks = async (runs: number, env?: NodeJS.ProcessEnv): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-fuzz-'));
    try {
      await fc.assert(fc.asyncProperty(fc.array(block, { minLength: NBLOCKS, maxLength: NBLOCKS }), async (blocks) => {
        const { bad, q, w } = await compare(dir, withBlocks(blocks), 'fuzzdiff: done', env);
        expect(bad, bad < 0 ? '' : `block ${bad}: qemu '${q[bad]}', wkvm '${w[bad]}'; its words: ${hex(blocks[bad] ?? [])}`).toBe(-1);
      }), { numRuns: runs, seed: SEED, endOnFailure: true }); // no shrinking: the failing block is named
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('random instruction blocks leave the same registers, memory and traps', async () => {
    await randomBlocks(RUNS);
  }, 300_000);

  // every block translated, FMADD and its kin through the translator's own exact multiply-add, which a
  // host with a fused multiply-add (the default path there) does not use
  it('random instruction blocks, translated, without the host\'s fused multiply-add', async () => {
    await randomBlocks(Math.ceil(RUNS / 2), { ...process.env, WKVM_JIT: 'on', WKVM_JIT_THRESHOLD: '1', WKVM_JIT_FMA: 'soft' });
  }, 300_000);

  it('S- and U-mode loads, stores and LR through random Sv39 page tables: same results, A/D bits and faults', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-fuzz-'));
    try {
      await fc.assert(fc.asyncProperty(
        tables,
        fc.array(mmuBlock, { minLength: MMU_BLOCKS, maxLength: MMU_BLOCKS }),
        // per block: gp, and MPP (S 0x800 or U 0) | SUM | MXR
        fc.array(fc.tuple(gpVa, fc.tuple(fc.constantFrom(0x800, 0x800, 0), fc.constantFrom(0, 0x40000, 0x80000, 0xc0000)).map(([m, b]) => m | b)),
          { minLength: MMU_BLOCKS, maxLength: MMU_BLOCKS }),
        async (tables, blocks, params) => {
          const { bad, q, w } = await compare(dir, withMmu(tables, blocks, params), 'fuzzmmu: done');
          expect(bad, bad < 0 ? '' : `block ${bad}: qemu '${q[bad]}', wkvm '${w[bad]}'; gp ${params[bad]?.[0].toString(16)} ` +
            `status ${params[bad]?.[1].toString(16)}; tables ${JSON.stringify(tables)}; words: ${hex(blocks[bad] ?? [])}`).toBe(-1);
        }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
