/**
 * The vCPU module's post-build step (scripts/branch-hints.mjs): the cold()
 * markers in its slow paths become nops and branch hints on the `if` or
 * `br_if` that leads to them. Checked on a made-up module with each shape
 * Binaryen writes (a marker in an if's then-arm or else-arm, behind a br_if
 * out of a block, in a loop, none), and on the module the build made.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Bytes, Op, T, assemble } from '../src/jit/wasm.js';
import { branchHints } from './wasm-hints.js';
import { ROOT } from './helpers.js';

const SCRIPT = join(ROOT, 'scripts', 'branch-hints.mjs');
const COLD = 0; // the import's function index
const NOP = 0x01; // (the JIT writes no nop: not in its Op table)

/** A body of type (i32) -> i32: no locals, `code`, then i32.const 1. */
function body(code: number[]): Bytes {
  const b = new Bytes();
  b.u32(0);
  b.bytes(code);
  b.byte(Op.i32_const); b.byte(1); b.byte(Op.end);
  return b;
}

describe('scripts/branch-hints.mjs', () => {
  it('turns each cold() call into nops and hints the branch that leads to it', () => {
    const call = [Op.call, COLD];
    const bodies = [
      body([Op.local_get, 0, Op.if_, T.void_, ...call, Op.end]), // then-arm: the if is unlikely
      body([Op.local_get, 0, Op.if_, T.void_, NOP, Op.else_, ...call, Op.end]), // else-arm: likely
      body([Op.block, T.void_, Op.local_get, 0, Op.br_if, 0, ...call, Op.end]), // behind a br_if out of its block: likely taken
      body([Op.loop, T.void_, ...call, Op.end]), // in a loop: nothing to hint
      body([Op.local_get, 0, Op.if_, T.void_, NOP, Op.end]), // no marker
    ];
    const module = assemble([{ params: [T.i32], results: [T.i32] }, { params: [], results: [] }],
      [{ module: 'hint', name: 'cold', kind: 'func', type: 1 }], 0, bodies);
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-hints-'));
    const file = join(dir, 'm.wasm');
    try {
      writeFileSync(file, module);
      const r = spawnSync(process.execPath, [SCRIPT, file], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/4 cold\(\) markers, 3 hints in 3 functions, 1 markers with no branch to hint/);
      const out = new Uint8Array(readFileSync(file));
      expect(out.length).toBe(module.length + 2 + 1 + 'metadata.code.branch_hint'.length + 1 + 3 * 5);
      const hints = branchHints(out);
      // function indices count the import; each offset is the branch's opcode from the body's start (locals included)
      expect(hints.map(({ func, value, opcode }) => [func, value, opcode])).toEqual([[1, 0, Op.if_], [2, 1, Op.if_], [3, 1, Op.br_if]]);
      expect(hints.map((h) => h.offset)).toEqual([3, 3, 5]);
      // the markers are gone: a module whose cold() throws runs every function
      const inst = new WebAssembly.Instance(new WebAssembly.Module(out), { hint: { cold: () => { throw new Error('called'); } } });
      for (let i = 0; i < bodies.length; i++) for (const arg of [0, 1]) expect((inst.exports[`f${i}`] as (a: number) => number)(arg)).toBe(1);
      // once per build: a second run refuses, in one line
      const again = spawnSync(process.execPath, [SCRIPT, file], { encoding: 'utf8' });
      expect(again.status).toBe(1);
      expect(again.stderr.trim().split('\n')).toEqual([`branch-hints: ${file}: already has branch hints (run once per build)`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built vCPU module has the interpreter\'s hints, likely and unlikely, all in one function (run)', () => {
    const hints = branchHints(new Uint8Array(readFileSync(join(ROOT, 'build', 'vcpu.wasm'))));
    expect(hints.length).toBeGreaterThanOrEqual(15);
    expect(new Set(hints.map((h) => h.func)).size).toBe(1);
    expect(hints.some((h) => h.value === 0)).toBe(true);
    expect(hints.some((h) => h.value === 1)).toBe(true);
  });
});
