/**
 * The translator's unit formation and control flow, on made-up code: random
 * pages of branches, jumps, calls and plain instructions, with random code
 * counted warm. Every unit discover() forms must be well-formed (its entry
 * first, its blocks straight runs, no instruction twice, within the size
 * cap), and the function translate() makes of it must be valid Wasm, laid
 * out as loops and blocks where the control flow is reducible (checked here
 * by T1/T2 reduction) and with the dispatcher where it is not. (What the translations do is checked against
 * the interpreter and QEMU by the guests: jit.test.ts, qemu-fuzz.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as O from '../assembly/ops.js';
import { SWITCH_CAP, UNIT_CAP, discover, structure, translate, translationModule, unitBranches, warmUp, type Insn } from '../src/jit/translate.js';
import { branchHints } from './wasm-hints.js';

/** One made-up instruction of a 4-byte-aligned page: kind and operand. */
type Made = { kind: 'alu' | 'branch' | 'jump' | 'call' | 'ret' | 'switch' | 'csr'; to: number; reg: number };

const madeInsn = (m: Made, off: number): Insn => {
  const rel = m.to * 4 - off;
  switch (m.kind) {
    case 'alu': return { op: O.OP_ADDI, rd: m.reg, rs1: m.reg, rs2: 0, imm: 1, len: 4 };
    case 'branch': return { op: [O.OP_BEQ, O.OP_BNE, O.OP_BLT, O.OP_BGEU][m.reg & 3], rd: 0, rs1: m.reg, rs2: 5, imm: rel, len: 4 };
    case 'jump': return { op: O.OP_JAL, rd: 32, rs1: 0, rs2: 0, imm: rel, len: 4 };
    case 'call': return { op: O.OP_JAL, rd: 1, rs1: 0, rs2: 0, imm: rel, len: 4 };
    case 'ret': return { op: O.OP_JALR, rd: 32, rs1: 1, rs2: 0, imm: 0, len: 4 };
    case 'switch': return { op: O.OP_JALR, rd: 32, rs1: m.reg === 1 || m.reg === 5 ? 6 : m.reg, rs2: 0, imm: 0, len: 4 }; // jr through a table
    case 'csr': return { op: O.OP_CSR, rd: m.reg, rs1: 0, rs2: 0, imm: 0, len: 4 };
  }
};

/** A page of `n` made-up instructions (the rest of the page is ALU code), and which offsets are warm. */
const page = (n: number) => fc.record({
  code: fc.array(fc.record({
    kind: fc.constantFrom<Made['kind']>('alu', 'alu', 'alu', 'branch', 'branch', 'branch', 'jump', 'call', 'ret', 'switch', 'csr'),
    to: fc.integer({ min: 0, max: n - 1 }),
    reg: fc.integer({ min: 1, max: 31 }),
  }), { minLength: n, maxLength: n }),
  warm: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  entry: fc.integer({ min: 0, max: n - 1 }),
});

/**
 * Whether control flow is reducible (every loop entered only at its head), by
 * T1/T2 reduction: drop self loops, merge a node with one predecessor into it;
 * reducible if one node is left.
 */
function reducible(succ: number[][]): boolean {
  const edges = new Map<number, Set<number>>(succ.map((s, k) => [k, new Set(s)]));
  for (let changed = true; changed;) {
    changed = false;
    for (const [k, out] of edges) out.delete(k); // T1
    for (const [v] of edges) {
      if (v === 0) continue;
      const preds = [...edges].filter(([, out]) => out.has(v)).map(([u]) => u);
      if (preds.length !== 1) continue;
      const u = preds[0]; // T2: v into u
      for (const w of edges.get(v)!) edges.get(u)!.add(w);
      edges.get(u)!.delete(v);
      edges.delete(v);
      changed = true;
      break;
    }
  }
  return edges.size === 1;
}

/** A unit's control flow, worked out here from its instructions: each block's successors inside it. */
function controlFlow(blocks: { start: number; insns: { off: number; i: Insn }[]; switchTo?: number[] }[]): number[][] {
  const index = new Map(blocks.map((bl, k) => [bl.start, k]));
  return blocks.map((bl) => {
    const { off, i } = bl.insns[bl.insns.length - 1];
    const out: (number | undefined)[] = [];
    if (i.op === O.OP_JAL || (i.op >= O.OP_BEQ && i.op <= O.OP_BGEU)) out.push(index.get(off + i.imm));
    if (i.op !== O.OP_JAL && i.op !== O.OP_JALR) out.push(index.get(off + i.len));
    // a switch's jump goes to the cases the unit took in
    if (bl.switchTo) { expect(i.op).toBe(O.OP_JALR); for (const t of bl.switchTo) out.push(index.get(t)); }
    return out.filter((t): t is number => t !== undefined);
  });
}

describe('translator: units and their control flow', () => {
  it('forms well-formed units from random code, and translates each to valid Wasm (structured or with the dispatcher)', () => {
    let structured = 0, dispatched = 0, withWarm = 0, withSwitch = 0;
    fc.assert(fc.property(page(48), ({ code, warm, entry }) => {
      const decode = (off: number): Insn => {
        const k = off >> 2;
        return k < code.length ? madeInsn(code[k], off) : madeInsn({ kind: 'alu', to: 0, reg: 7 }, off);
      };
      const isWarm = (off: number): boolean => (off >> 2) < warm.length && warm[off >> 2];
      // a switch's targets: the warm code after its jump (as src/jit/jit.ts names them), odd ones included
      const cases = (jump: number): number[] => [jump + 2, ...Array.from({ length: 16 }, (_, k) => jump + 4 + 4 * k).filter(isWarm)];
      const blocks = discover(entry * 4, decode, isWarm, cases);
      if (code[entry].kind === 'csr') { expect(blocks).toBeNull(); return; }
      expect(blocks).not.toBeNull();
      const bls = blocks!;
      expect(bls[0].start).toBe(entry * 4);
      const offs = bls.flatMap((bl) => bl.insns.map((x) => x.off));
      expect(new Set(offs).size).toBe(offs.length);
      const switches = bls.some((bl) => bl.insns.some(({ i }) => i.op === O.OP_JALR && i.rs1 !== 1));
      expect(offs.length).toBeLessThanOrEqual(switches ? SWITCH_CAP : UNIT_CAP);
      for (const bl of bls) for (const t of bl.switchTo ?? []) expect(bls.some((x) => x.start === t)).toBe(true); // its cases are block starts
      for (const bl of bls) {
        expect(bl.insns[0].off).toBe(bl.start);
        for (let k = 1; k < bl.insns.length; k++) expect(bl.insns[k].off).toBe(bl.insns[k - 1].off + bl.insns[k - 1].i.len);
        for (const { i } of bl.insns.slice(0, -1)) expect([O.OP_ADDI]).toContain(i.op); // control transfers end blocks
      }
      // laid out as loops and blocks exactly when the control flow is reducible
      const opens = structure(bls.length, unitBranches(bls));
      expect(opens !== null).toBe(reducible(controlFlow(bls)));
      if (opens === null) dispatched++; else structured++;
      if (bls.some((bl) => bl.start !== entry * 4 && warm[bl.start >> 2])) withWarm++;
      if (bls.some((bl) => bl.switchTo)) withSwitch++;
      const bytes = translationModule([translate(bls, entry * 4, false)]);
      expect(WebAssembly.validate(bytes)).toBe(true);
      branchHints(bytes); // well-formed, each on an if or a br_if
    }), { numRuns: 400, seed: 20261206 });
    // the runs cover both ways of laying out control flow, and units that took in warm code
    expect(structured).toBeGreaterThan(50);
    expect(dispatched).toBeGreaterThan(0);
    expect(withWarm).toBeGreaterThan(20);
    expect(withSwitch).toBeGreaterThan(20);
  });

  it('structures a loop with an out-of-line arm, and gives a loop entered in its middle the dispatcher', () => {
    // E: 0 loop: branch -> 5 (out of line); 1 back: alu; 2 branch -> 0; 3 csr (out); 5 arm: alu; 6 j -> 1
    const e: Made[] = [
      { kind: 'branch', to: 5, reg: 6 }, { kind: 'alu', to: 0, reg: 8 }, { kind: 'branch', to: 0, reg: 9 },
      { kind: 'csr', to: 0, reg: 1 }, { kind: 'csr', to: 0, reg: 1 }, { kind: 'alu', to: 0, reg: 10 }, { kind: 'jump', to: 1, reg: 0 },
    ];
    const de = (off: number): Insn => madeInsn(e[off >> 2], off);
    const cold = discover(0, de)!;
    expect(cold.map((bl) => bl.start)).toEqual([0, 4]); // the arm is not warm: not taken in
    const hot = discover(0, de, () => true)!;
    expect(hot.map((bl) => bl.start).sort((a, b) => a - b)).toEqual([0, 4, 20]);
    expect(structure(hot.length, unitBranches(hot))).not.toBeNull();
    expect(WebAssembly.validate(translationModule([translate(hot, 0)]))).toBe(true);
    // F: 0 beq -> 2 (into the loop's middle); 1 top: alu; 2 mid: alu; 3 bne -> 1 (the loop); 4 csr
    const f: Made[] = [
      { kind: 'branch', to: 2, reg: 6 }, { kind: 'alu', to: 0, reg: 8 }, { kind: 'alu', to: 0, reg: 9 },
      { kind: 'branch', to: 1, reg: 7 }, { kind: 'csr', to: 0, reg: 1 },
    ];
    const irreducible = discover(0, (off) => madeInsn(f[off >> 2], off))!;
    expect(structure(irreducible.length, unitBranches(irreducible))).toBeNull();
    expect(WebAssembly.validate(translationModule([translate(irreducible, 0)]))).toBe(true);
  });

  // a pool's first thread runs it before its task (src/workers/vcpu-worker.ts): it must translate, and to valid Wasm
  it('the warm-up unit (a loop of loads, stores, ALU, multiply, F/D code) translates to valid Wasm', () => {
    const bytes = warmUp();
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(bytes.length).toBeGreaterThan(600); // the whole loop, not a unit that stopped at its first instruction
  });

  // V8 lays the unlikely side of a hinted branch out of line: the TLB misses' helper calls leave the loops
  it('hints the TLB checks likely and the slow paths and budget checks unlikely, each hint on an if or a br_if', () => {
    const hints = branchHints(warmUp());
    // the loop's loads and stores (TLB hits, likely), the helpers' status checks and the loop's budget check (unlikely)
    expect(hints.filter((h) => h.value === 1 && h.opcode === 0x04).length).toBeGreaterThanOrEqual(4);
    expect(hints.filter((h) => h.value === 0 && h.opcode === 0x0d).length).toBeGreaterThanOrEqual(4);
    expect(hints.filter((h) => h.value === 0 && h.opcode === 0x04).length).toBeGreaterThanOrEqual(1);
  });
});
