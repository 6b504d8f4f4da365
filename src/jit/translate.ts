/**
 * The translator: hot guest code to WebAssembly.
 *
 * A translation unit starts at a hot block's first instruction and runs on
 * through conditional branches inside the same 4 KiB page, up to a size cap;
 * it ends at a call or an indirect jump, and before an instruction it does
 * not translate (CSR, SYSTEM, FENCE.I, LR/SC, AMOMIN/MAX, a 32-bit instruction across
 * the page end); it takes in warm code its branches go to (discover()). Its
 * loops become Wasm loops and its forward branches Wasm blocks (structure();
 * a `loop` + `br_table` dispatcher where the control flow is not reducible),
 * so branches inside the unit, loops included, never leave Wasm; a backward branch checks
 * the budget, so a loop returns to the interpreter's interrupt and request
 * checks in bounded time. Guest registers live in Wasm locals for the whole
 * call and are written back on the way out.
 *
 * Exactness: a load or store the TLB does not hit calls the vCPU module's
 * slow path (jit_load/jit_store) with the instruction's pc, which takes a
 * fault's trap or sets up an MMIO exit exactly as the interpreter would; the
 * translation then returns with the instructions retired so far. A store
 * that hit a code page returns right after the store (it may have changed
 * the code that follows). The protocol is in assembly/jit.ts.
 */
import * as L from '../../assembly/layout.js';
import * as O from '../../assembly/ops.js';
import { Bytes, Hint, Op, Simd, T, assemble, type FuncType, type Import } from './wasm.js';

/** One decoded instruction (the vCPU module's own decoder fills it: jit_decode). */
export interface Insn { op: number; rd: number; rs1: number; rs2: number; imm: number; len: number }
/** The instruction at a page offset of the page being translated. */
export type Decoder = (off: number) => Insn;

/** The most instructions one unit takes in (Liftoff compiles ~1 us per guest instruction). */
export const UNIT_CAP = 96;
/**
 * The most a unit that holds a switch takes in: room for its cases, so that
 * the dispatch loop stays in one unit. Measured on the interp kernel (a
 * bytecode interpreter's switch; 3 alternating runs of 4000 rounds): 96,
 * 290-308 ms; 160, 179-241 (it was 390-483 with no switch taken in); the
 * fsm kernel the same at both (317-346).
 */
export const SWITCH_CAP = 160;


// translation return statuses (assembly/jit.ts)
const JUMP = 0, CONTINUE = 3;

// the module's imports, by index
const F_LOAD = 0, F_STORE = 1, F_MULH = 2, F_MULHU = 3, F_MULHSU = 4, F_FP = 5, F_FLOAD = 6, F_FSTORE = 7, F_CHAIN = 8;
const G_EPOCH_LOAD = 0, G_EPOCH_STORE = 1, G_STORED = 2, G_STATUS = 3;

export const TYPES: FuncType[] = [
  { params: [T.i32, T.i64, T.i32, T.i32], results: [T.i32] },   // 0: a translation, and jit_chain
  { params: [T.i64, T.i32, T.i64], results: [T.i64] },          // 1: jit_load(addr, size | dest << 8 | len << 16, pc)
  { params: [T.i64, T.i32, T.i64, T.i64], results: [] },        // 2: jit_store(addr, size | len << 16, value, pc)
  { params: [T.i64, T.i64], results: [T.i64] },                 // 3: mulh*
  { params: [T.i32, T.i64], results: [] },                      // 4: jit_fp(insn, pc)
  { params: [T.i64, T.i32, T.i64], results: [] },               // 5: jit_fload/jit_fstore(addr, 8|4 | f << 8 | len << 16, pc)
];
export const IMPORTS: Import[] = [
  { module: 'env', name: 'memory', kind: 'memory', min: 0, max: 65536, shared: true },
  { module: 'env', name: 'jit_load', kind: 'func', type: 1 },
  { module: 'env', name: 'jit_store', kind: 'func', type: 2 },
  { module: 'env', name: 'jit_mulh', kind: 'func', type: 3 },
  { module: 'env', name: 'jit_mulhu', kind: 'func', type: 3 },
  { module: 'env', name: 'jit_mulhsu', kind: 'func', type: 3 },
  { module: 'env', name: 'jit_fp', kind: 'func', type: 4 },
  { module: 'env', name: 'jit_fload', kind: 'func', type: 5 },
  { module: 'env', name: 'jit_fstore', kind: 'func', type: 5 },
  { module: 'env', name: 'jit_chain', kind: 'func', type: 0 },
  { module: 'env', name: 'epoch_load', kind: 'global', type: T.i64, mutable: true },
  { module: 'env', name: 'epoch_store', kind: 'global', type: T.i64, mutable: true },
  { module: 'env', name: 'spin_stored', kind: 'global', type: T.i32, mutable: true },
  { module: 'env', name: 'jit_status', kind: 'global', type: T.i32, mutable: true },
];
/** The imported functions: a module's own translations come after them in its function index space. */
const FUNC_IMPORTS = IMPORTS.filter((im) => im.kind === 'func').length;


const ALU_OPS = new Map<number, Op>([[O.OP_ADD, Op.i64_add], [O.OP_SUB, Op.i64_sub], [O.OP_SLL, Op.i64_shl],
  [O.OP_XOR, Op.i64_xor], [O.OP_SRL, Op.i64_shr_u], [O.OP_SRA, Op.i64_shr_s], [O.OP_OR, Op.i64_or],
  [O.OP_AND, Op.i64_and], [O.OP_MUL, Op.i64_mul]]);
const LOAD_OPS = [Op.i64_load8_s, Op.i64_load16_s, Op.i64_load32_s, Op.i64_load, Op.i64_load8_u, Op.i64_load16_u, Op.i64_load32_u];
const STORE_OPS = [Op.i64_store8, Op.i64_store16, Op.i64_store32, Op.i64_store];
const STORE_OLD_OPS = [Op.i64_load8_u, Op.i64_load16_u, Op.i64_load32_u, Op.i64_load];
const BRANCHES = new Set([O.OP_BEQ, O.OP_BNE, O.OP_BLT, O.OP_BGE, O.OP_BLTU, O.OP_BGEU]);
const STORES = new Set([O.OP_SB, O.OP_SH, O.OP_SW, O.OP_SD]);

/** Whether the translator handles `op` (everything else ends a unit before it). */
export function translatable(op: number): boolean {
  return (op >= O.OP_LUI && op <= O.OP_REMUW) || op === O.OP_FENCE || (op >= O.OP_FLW && op <= O.OP_FP);
}

/**
 * An AMO a translation runs inline, as a Wasm atomic read-modify-write (the
 * others, AMOMIN/MAX, and LR/SC end a unit): AMOADD, AMOSWAP, AMOXOR, AMOOR,
 * AMOAND (their funct5, the decoder's immediate: 0, 1, 4, 8, 12).
 */
const AMO_RMW = new Map<number, [Op32: number, Op64: number]>([[0, [0x1e, 0x1f]], [1, [0x41, 0x42]], [4, [0x3a, 0x3b]], [8, [0x33, 0x34]], [12, [0x2c, 0x2d]]]);
export const amoInline = (i: Insn): boolean => (i.op === O.OP_AMO_W || i.op === O.OP_AMO_D) && AMO_RMW.has(i.imm);

/** An F/D instruction (OP_FP, raw bits) that reads integer register rs1 (FCVT.*.W/L, FMV.*.X). */
function fpReadsX(insn: number): boolean {
  const f5 = insn >>> 27;
  return (insn & 0x7f) === 0x53 && (f5 === 0x1a || f5 === 0x1e);
}
/** An F/D instruction that writes integer register rd (compares, FCVT.W/L.*, FMV.X.*, FCLASS). */
function fpWritesX(insn: number): boolean {
  const f5 = insn >>> 27;
  return (insn & 0x7f) === 0x53 && (f5 === 0x14 || f5 === 0x18 || f5 === 0x1c);
}

/**
 * Whether an F/D instruction (raw bits) has an inline fast path: IEEE
 * arithmetic in Wasm, which rounds to nearest-even as RISC-V's RNE does.
 * It applies while mstatus.FS is dirty, frm is RNE and fflags.NX is set
 * (sticky: what an inexact result would raise is raised already); a result
 * that could raise another flag (overflow, underflow, NaN, division by zero)
 * or take a NaN-boxing or NaN rule falls back to jit_fp, as does everything
 * this does not list (FMIN/FMAX, FCLASS, unsigned conversions to integers,
 * single-precision fused multiply-adds without the host's fused multiply-add
 * (`fusedMadd`), static rounding modes but RTZ, RDN, RUP in FCVT to integers).
 */
function fpFast(insn: number, fusedMadd: boolean): boolean {
  const opc = insn & 0x7f, fmt = (insn >>> 25) & 3, rm = (insn >>> 12) & 7, f5 = insn >>> 27, r2 = (insn >>> 20) & 31;
  const rne = rm === 0 || rm === 7;
  if (fmt > 1) return false;
  if (opc !== 0x53) return (fmt === 1 || fusedMadd) && rne; // FMADD/FMSUB/FNMSUB/FNMADD.D (.S with the host's)
  switch (f5) {
    case 0x00: case 0x01: case 0x02: case 0x03: return rne;  // FADD FSUB FMUL FDIV
    case 0x0b: return rne && r2 === 0;                        // FSQRT
    case 0x04: case 0x14: return rm <= 2;                     // FSGNJ[N|X], FLE FLT FEQ
    case 0x18: return (r2 === 0 || r2 === 2) && (rm <= 3 || rm === 7); // FCVT.W/L.{S,D}
    case 0x1a: return r2 <= 3 && rne;                         // FCVT.{S,D}.W/WU/L/LU
    case 0x1c: case 0x1e: return rm === 0 && r2 === 0;        // FMV.X.{W,D}, FMV.{W,D}.X
    case 0x08: return rne && r2 === (fmt === 0 ? 1 : 0);     // FCVT.S.D, FCVT.D.S
  }
  return false;
}

/**
 * A module whose `f(a, b, c)` is f64x2.relaxed_madd's lane 0: Wasm's relaxed
 * multiply-add, fused on hosts with an FMA unit (x86 FMA3, Arm), unfused
 * elsewhere. Translations use it only where it is fused: then it is the
 * correctly rounded a*b + c that FMADD is.
 */
export function fusedMaddProbe(): Uint8Array<ArrayBuffer> {
  const b = new Bytes();
  b.u32(0);
  for (let i = 0; i < 3; i++) { b.byte(Op.local_get); b.u32(i); b.byte(Op.simd); b.u32(Simd.f64x2_splat); }
  b.byte(Op.simd); b.u32(Simd.f64x2_relaxed_madd);
  b.byte(Op.simd); b.u32(Simd.f64x2_extract_lane); b.byte(0);
  b.byte(Op.end);
  return assemble([{ params: [T.f64, T.f64, T.f64], results: [T.f64] }], [], 0, [b]);
}
/** The probe's arguments, whose product plus addend is -2^-104 fused and 0 if the product is rounded first. */
export const FUSED_PROBE_ARGS = [1 + 2 ** -52, 1 - 2 ** -52, -1] as const;

/**
 * A block of a unit: its page offset and instructions; `switchTo`, for a
 * block that ends in an indirect jump through a table (a switch), the page
 * offsets of the unit's blocks it may go to (see discover()).
 */
export interface Block { start: number; insns: { off: number; i: Insn }[]; switchTo?: number[] }

/** An indirect jump that is neither a call nor a return (jalr x0 through a register other than ra or t0): a switch's. */
const switchJump = (i: Insn): boolean => i.op === O.OP_JALR && (i.rd === 0 || i.rd === 32) && i.rs1 !== 1 && i.rs1 !== 5;

/** A JAL that links nothing (its rd is x0, which the decoder names 32 when written). */
const plainJump = (i: Insn): boolean => i.op === O.OP_JAL && (i.rd === 0 || i.rd === 32);

/**
 * The unit that starts at page offset `entry`: the run of translated
 * instructions from it (through conditional branches) up to a call or an
 * indirect jump, an instruction it does not translate, the page end, code
 * the unit holds already, or the size cap. A plain jump (JAL x0) to code in
 * the same page that the run does not hold yet is followed: the run goes on
 * at its target, as the code does (a loop entered at its condition, a
 * switch's case jumping back to the loop's tail), so blocks are in the run's
 * order, not always in address order. Then, while the cap allows, the
 * targets of its branches and jumps in the page that `warm` names (code the
 * guest ran often: a loop's other arm, a swap before the loop goes on) are
 * taken in, each as a run of its own, so that a branch there stays inside
 * the unit instead of leaving it for another translation. Branches into the
 * unit stay inside it (loops). A switch's jump (an indirect jump that is
 * neither a call nor a return) takes in the targets `switchTargets` names
 * (the warm code after it in the page: its likely cases), up to SWITCH_CAP
 * instructions in all, and the translation compares the jump's target with
 * each: a case stays inside the unit (on the interp and fsm kernels every
 * character or bytecode went through two units, chained at the jump and
 * back). Null if its first instruction is not translated.
 */
export function discover(entry: number, decode: Decoder, warm: (off: number) => boolean = () => false,
  switchTargets: (jump: number) => number[] = () => []): Block[] | null {
  const run: { off: number; i: Insn }[] = [];
  const held = new Set<number>();
  let cap = UNIT_CAP; // a unit that holds a switch may hold more: its cases (SWITCH_CAP)
  /** Take in the run from `from`; returns where it stopped. */
  const take = (from: number): number => {
    let off = from;
    while (off >= 0 && off < 0x1000 && run.length < cap && !held.has(off)) {
      const i = decode(off);
      // an AMO may not start a unit: one whose atomic goes to the interpreter returns at it (see translate())
      if (!(translatable(i.op) || (amoInline(i) && run.length > 0)) || off + i.len > 0x1000) break;
      run.push({ off, i });
      held.add(off);
      // a call or an indirect jump ends the run: running on past a call made units with more registers to
      // load and store on every entry, slower on the benchmark kernels (sort 1.5x) than the dispatches it saved
      if (i.op === O.OP_JALR || (i.op === O.OP_JAL && !plainJump(i))) return -1;
      off += i.op === O.OP_JAL ? i.imm : i.len;
    }
    return off;
  };
  const targets = new Set<number>([entry]);
  const ranInto = (stop: number): void => { if (held.has(stop)) targets.add(stop); }; // it goes on there: a block starts
  ranInto(take(entry));
  if (run.length === 0) return null;
  const switches = new Map<number, number[]>(); // a switch's jump -> the targets the unit holds
  for (let k = 0; k < run.length && run.length < cap; k++) {
    const { off, i } = run[k];
    if (switchJump(i)) {
      cap = SWITCH_CAP;
      const inUnit: number[] = [];
      for (const t of switchTargets(off)) {
        if (t < 0 || t >= 0x1000 || (t & 1) !== 0) continue;
        if (!held.has(t)) {
          const before = run.length;
          const stop = take(t);
          if (run.length === before) continue;
          ranInto(stop);
        }
        targets.add(t);
        inUnit.push(t);
      }
      if (inUnit.length > 0) switches.set(off, inUnit);
      continue;
    }
    if (!BRANCHES.has(i.op) && !plainJump(i)) continue;
    const t = off + i.imm;
    if (t < 0 || t >= 0x1000 || held.has(t) || !warm(t)) continue;
    const before = run.length;
    const stop = take(t);
    if (run.length > before) { targets.add(t); ranInto(stop); }
  }
  for (const { off, i } of run) {
    if ((BRANCHES.has(i.op) || i.op === O.OP_JAL) && held.has(off + i.imm)) targets.add(off + i.imm);
  }
  // basic blocks: split at branch targets and after control transfers
  const blocks: Block[] = [];
  let cur: Block | undefined;
  for (const { off, i } of run) {
    if (!cur || targets.has(off)) { cur = { start: off, insns: [] }; blocks.push(cur); }
    cur.insns.push({ off, i });
    const to = switches.get(off);
    if (to) cur.switchTo = to;
    if (BRANCHES.has(i.op) || i.op === O.OP_JAL || i.op === O.OP_JALR) cur = undefined;
  }
  return layOut(blocks);
}

/**
 * The blocks in the order they are emitted in: the entry first, every block
 * after the blocks that branch forward to it, and each loop's blocks
 * together (then translate() makes its loops and forward branches Wasm
 * `loop`s and `block`s: structure()). Where they can, a block's successor
 * without a branch (the code that follows it, a jump's target) comes next.
 * Control flow that is not reducible (a loop entered other than at its
 * head) keeps the run's order: translate() gives it a dispatcher.
 */
function layOut(blocks: Block[]): Block[] {
  const n = blocks.length;
  const index = new Map(blocks.map((bl, k) => [bl.start, k]));
  // the successors of each block inside the unit; `next`: the one that follows without a branch, if any
  const succ: number[][] = [], next: (number | undefined)[] = [];
  for (const bl of blocks) {
    const { taken, onward } = exitsOf(bl, index);
    succ.push([...new Set([taken, onward, ...switchesOf(bl, index)])].filter((t): t is number => t !== undefined));
    next.push(plainJump(bl.insns[bl.insns.length - 1].i) ? taken : onward);
  }
  // depth-first from the entry: the branches back (to a block on the path), and the predecessors
  // a branch back from block u to v is u * 1024 + v (a unit has at most SWITCH_CAP blocks)
  const back = new Set<number>(), preds: number[][] = blocks.map(() => []), rpo: number[] = [];
  const state = new Uint8Array(n); // 0 new, 1 on the path, 2 done
  const visit = (u: number): void => {
    state[u] = 1;
    for (const v of succ[u]) {
      preds[v].push(u);
      if (state[v] === 1) back.add(u * 1024 + v); else if (state[v] === 0) visit(v);
    }
    state[u] = 2;
    rpo.unshift(u);
  };
  visit(0);
  if (rpo.length !== n) return blocks; // not all reachable from the entry (cannot happen: discover() reaches them)
  // immediate dominators (Cooper, Harvey and Kennedy: iterated in reverse postorder, no sets: sets of
  // dominators made layOut a third of a cold thread's translation time): reducible if every branch back
  // goes to a dominator of its source
  const order = new Int32Array(n);
  rpo.forEach((v, k) => { order[v] = k; });
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (order[a] > order[b]) a = idom[a];
      while (order[b] > order[a]) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const v of rpo) {
      if (v === 0) continue;
      let d = -1;
      for (const p of preds[v]) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d);
      if (d !== idom[v]) { idom[v] = d; changed = true; }
    }
  }
  const dominates = (a: number, b: number): boolean => {
    for (let x = b; ; x = idom[x]) { if (x === a) return true; if (x === 0) return false; }
  };
  for (const e of back) if (!dominates(e & 1023, e >> 10)) return blocks;
  // each loop's blocks: its head and what reaches a branch back to it without passing the head
  const body = new Map<number, Set<number>>();
  for (const e of back) {
    const u = e >> 10, h = e & 1023;
    const set = body.get(h) ?? new Set([h]);
    body.set(h, set);
    const work = [u];
    while (work.length > 0) { const x = work.pop()!; if (set.has(x)) continue; set.add(x); work.push(...preds[x]); }
  }
  // place blocks whose forward predecessors are placed, staying in the innermost loop begun until it is done
  const pending = blocks.map((_, v) => preds[v].filter((u) => !back.has(u * 1024 + v)).length);
  const ready = new Set<number>([0]), placed: number[] = [], done = new Uint8Array(n), loops: Set<number>[] = [];
  const allDone = (loop: Set<number>): boolean => { for (const x of loop) if (done[x] === 0) return false; return true; };
  while (placed.length < n) {
    while (loops.length > 0 && allDone(loops[loops.length - 1])) loops.pop();
    const inLoop = (v: number): boolean => loops.length === 0 || loops[loops.length - 1].has(v);
    const last = placed[placed.length - 1];
    const nx = last === undefined ? undefined : next[last];
    let v = nx !== undefined && ready.has(nx) && inLoop(nx) ? nx : undefined;
    if (v === undefined) for (const r of ready) if (inLoop(r) && (v === undefined || r < v)) v = r;
    if (v === undefined) return blocks;
    ready.delete(v);
    placed.push(v);
    done[v] = 1;
    const loop = body.get(v);
    if (loop) loops.push(loop);
    for (const w of succ[v]) if (!back.has(v * 1024 + w) && --pending[w] === 0) ready.add(w);
  }
  return placed.map((k) => blocks[k]);
}

/** The page offsets a unit's guest code spans (what is compared before it is installed). */
export function unitSpan(blocks: Block[]): { from: number; to: number } {
  let from = 0x1000, to = 0;
  for (const bl of blocks) for (const { off, i } of bl.insns) { from = Math.min(from, off); to = Math.max(to, off + i.len); }
  return { from, to };
}

// the parameters (v, pc0, budget, n: instructions retired before this call, by the translations chained to it)
const P_V = 0, P_PC0 = 1, P_BUDGET = 2, L_N = 3;
// fixed locals
const L_VPAGE = 4, L_RETPC = 5, L_A = 6, L_EPOCH_LOAD = 7, L_EPOCH_STORE = 8;    // i64
const L_BB = 9, L_RET = 10, L_T = 11, L_K = 12, L_STORED = 13, L_CHAIN = 14;     // i32
const L_FPOK = 15; // i32: the F/D fast paths apply (fpFast)
const L_FS = 16;   // i32: mstatus.FS (0 off ... 3 dirty), for FLW/FLD/FSW/FSD
const FIRST_REG_LOCAL = 17; // then the guest registers' i64 locals, then two f64 and an f32 temporary

/** The integer registers an instruction reads, and the one it writes (0: none; x0 is never either). */
function regUse(i: Insn): { reads: number[]; write: number } {
  const reads: number[] = [];
  const read = (r: number): void => { if (r !== 0 && r !== 32) reads.push(r); };
  let write = 0;
  if (i.op === O.OP_FP) {
    if (fpReadsX(i.imm)) read(i.rs1);
    if (fpWritesX(i.imm)) write = i.rd;
  } else {
    const reads2 = BRANCHES.has(i.op) || STORES.has(i.op) || (i.op >= O.OP_ADD && i.op <= O.OP_AND) ||
      (i.op >= O.OP_ADDW && i.op <= O.OP_SRAW) || (i.op >= O.OP_MUL && i.op <= O.OP_REMUW) || amoInline(i);
    if (i.op !== O.OP_LUI && i.op !== O.OP_AUIPC && i.op !== O.OP_JAL && i.op !== O.OP_FENCE) read(i.rs1);
    if (reads2) read(i.rs2);
    if (!BRANCHES.has(i.op) && !STORES.has(i.op) && i.op !== O.OP_FENCE && i.op < O.OP_FLW) write = i.rd;
  }
  return { reads, write: write === 32 ? 0 : write };
}

/** A plain jump that discover() followed: its target is the next block (no branch is emitted). */
function followedJump(blocks: Block[], k: number, i: Insn, off: number): boolean {
  return plainJump(i) && k + 1 < blocks.length && blocks[k + 1].start === off + i.imm;
}

/**
 * Where a block's last instruction leaves for inside the unit (block
 * indices): `taken`, its branch's or jump's target; `onward`, the block
 * that starts where the code goes on without a branch (a branch not taken, a
 * block that does not end in one; none after a jump).
 */
function exitsOf(bl: Block, index: Map<number, number>): { taken?: number; onward?: number } {
  const { off, i } = bl.insns[bl.insns.length - 1];
  return {
    taken: BRANCHES.has(i.op) || i.op === O.OP_JAL ? index.get(off + i.imm) : undefined,
    onward: i.op === O.OP_JAL || i.op === O.OP_JALR ? undefined : index.get(off + i.len),
  };
}

/** The blocks (indices) a block's switch jump may go to inside the unit. */
function switchesOf(bl: Block, index: Map<number, number>): number[] {
  return (bl.switchTo ?? []).map((t) => index.get(t)).filter((t): t is number => t !== undefined);
}

/**
 * The branches between a unit's blocks, by block index: each block's taken
 * branch or jump inside the unit (not a followed jump) and where it goes on
 * when that is not the next block (what structure() lays out).
 */
export function unitBranches(blocks: Block[]): number[][] {
  const index = new Map(blocks.map((bl, k) => [bl.start, k]));
  return blocks.map((bl, k) => {
    const { off, i } = bl.insns[bl.insns.length - 1];
    const { taken, onward } = exitsOf(bl, index);
    const out: number[] = [];
    if (taken !== undefined && !followedJump(blocks, k, i, off)) out.push(taken);
    if (onward !== undefined && onward !== k + 1) out.push(onward);
    for (const t of switchesOf(bl, index)) if (!out.includes(t)) out.push(t);
    return out;
  });
}

/**
 * Structured control flow for a unit of n blocks (in the order they are
 * emitted: layOut()) whose branches (taken branches and jumps, and a block
 * going on into one that does not follow it) are `succ` (block indices;
 * running on into block k + 1 needs no branch): each branch back (to a
 * block at or before its source) makes its target the head of a Wasm `loop`
 * that runs to the last block branching back there; each branch forward
 * targets a `block` that ends just before its target and opens at the head
 * of the innermost loop holding the target (at the unit's start when none
 * does). Wasm needs these nested: loops that overlap are stretched to end
 * together, and a branch into the middle of a loop from outside it (control
 * flow that is not reducible) cannot be structured: null, and the unit gets
 * the `br_table` dispatcher instead. V8 compiles loops and blocks as the
 * code's own control flow; a dispatcher merges every register at its head,
 * which V8 spills, and a unit's loops went around it.
 */
export interface Construct { /** the last block inside it */ end: number; /** a loop: its head */ loopHead?: number; /** a block: the block a branch to it goes to */ target?: number }
export function structure(n: number, succ: number[][]): Construct[][] | null {
  const loopEnd = new Map<number, number>();
  for (let k = 0; k < n; k++) for (const t of succ[k]) if (t <= k) loopEnd.set(t, Math.max(loopEnd.get(t) ?? t, k));
  // overlapping loops end together (a loop may run on past its last branch back: control falls out of it)
  for (let changed = true; changed;) {
    changed = false;
    for (const [h1, e1] of loopEnd) for (const [h2, e2] of loopEnd) {
      if (h1 < h2 && h2 <= e1 && e1 < e2) { loopEnd.set(h1, e2); changed = true; }
    }
  }
  /** The innermost loop holding block j other than one it heads: its head, or -1. */
  const innermost = (j: number): number => {
    let head = -1;
    for (const [h, e] of loopEnd) if (h < j && j <= e && h > head) head = h;
    return head;
  };
  // what opens before each block, outer first: the one that ends last; a block ending where a loop does holds it
  const opens: Construct[][] = Array.from({ length: n }, () => []);
  for (const [h, e] of loopEnd) opens[h].push({ end: e, loopHead: h });
  const targets = new Set<number>();
  for (let k = 0; k < n; k++) {
    for (const t of succ[k]) {
      if (t <= k || targets.has(t)) { if (t > k && k < innermost(t)) return null; continue; }
      const head = innermost(t);
      if (k < head) return null; // into a loop other than at its head
      targets.add(t);
      opens[Math.max(head, 0)].push({ end: t - 1, target: t });
    }
  }
  for (const list of opens) list.sort((a, b) => b.end - a.end || (a.target !== undefined ? -1 : 1));
  // nested, as emitted: each opens inside the innermost one still open and ends no later than it
  const stack: number[] = [];
  for (let k = 0; k < n; k++) {
    while (stack.length > 0 && stack[stack.length - 1] < k) stack.pop();
    for (const c of opens[k]) {
      if (stack.length > 0 && c.end > stack[stack.length - 1]) return null;
      stack.push(c.end);
    }
  }
  return opens;
}

/** The body translate() writes, then copies out at its size (src/jit/wasm.ts: scratch writers). */
const bodyScratch = new Bytes(1 << 14);

/**
 * Emit one translation's function body for `blocks` (entry at page offset
 * `entry`). `direct` names the function (its index among the module's
 * translations) of another unit of the same module that starts at a page
 * offset, if any: an exit there tail-calls it directly, not through
 * jit_chain's lookup (see `chainTo`).
 */
export function translate(blocks: Block[], entry: number, fusedMadd = false, direct: (off: number) => number | undefined = () => undefined): Bytes {
  const b = bodyScratch.clear();
  const index = new Map<number, number>();
  blocks.forEach((bl, k) => index.set(bl.start, k));
  // a plain jump that discover() followed goes on in the next block: no branch at all
  const followed = (k: number, off: number, i: Insn): boolean => followedJump(blocks, k, i, off);
  /** Where block k goes on without a branch: k + 1 (the next block), another block, or out (undefined). */
  const onward = (k: number): number | undefined => exitsOf(blocks[k], index).onward;
  // the unit's control flow as Wasm loops and blocks, or (not reducible) a dispatcher
  const succ = unitBranches(blocks);
  const opens = structure(blocks.length, succ);
  const dispatch = opens === null;

  // Guest registers live in locals. Those the code uses up to the unit's last branch inside it (from or to
  // there) are loaded on entry and the written ones stored on every way out. The code after that runs at most
  // once per call, straight through: a register it alone uses is loaded at its first read there and stored
  // as it is written, so that a cold tail (a loop's exit path, a function's epilogue) costs its registers
  // only when it runs, not on every entry.
  const regLocal = new Array<number>(33).fill(-1);
  const written = new Set<number>();
  const lazy = new Set<number>();
  let nRegs = 0;
  // lastBack: the last position a branch inside the unit leaves from or (just before) arrives at
  let pos = 0, lastBack = -1;
  const firstUse = new Array<number>(33).fill(-1);
  const blockPos: number[] = [];
  blocks.forEach((bl) => { blockPos.push(pos); pos += bl.insns.length; });
  pos = 0;
  const use = (r: number): void => {
    if (r === 0 || r === 32) return;
    if (regLocal[r] < 0) { regLocal[r] = FIRST_REG_LOCAL + nRegs++; firstUse[r] = pos; }
  };
  const uses: ReturnType<typeof regUse>[] = []; // by position
  blocks.forEach((bl, k) => bl.insns.forEach(({ off, i }) => {
    const u = regUse(i);
    uses.push(u);
    for (const r of u.reads) use(r);
    if (u.write !== 0) use(u.write);
    if (off === bl.insns[bl.insns.length - 1].off) for (const t of succ[k]) lastBack = Math.max(lastBack, pos, blockPos[t] - 1);
    pos++;
  }));
  for (let r = 1; r < 32; r++) if (regLocal[r] >= 0 && firstUse[r] > lastBack) lazy.add(r);
  for (const { write } of uses) if (write !== 0 && !lazy.has(write)) written.add(write);
  // F/D temporaries: two f64 and an f32; a fused multiply-add's inline path takes eight more f64 and four i64
  const hasFma = !fusedMadd && blocks.some((bl) => bl.insns.some(({ i }) => i.op === O.OP_FP && (i.imm & 0x7f) !== 0x53 && fpFast(i.imm, false)));
  b.u32(6);
  b.u32(5); b.byte(T.i64);
  b.u32(8); b.byte(T.i32);
  b.u32(nRegs); b.byte(T.i64);
  b.u32(hasFma ? 10 : 2); b.byte(T.f64);
  b.u32(1); b.byte(T.f32);
  b.u32(hasFma ? 4 : 0); b.byte(T.i64);
  const L_D = FIRST_REG_LOCAL + nRegs, L_D2 = L_D + 1, L_FMA_F = L_D + 2;
  const L_S = L_D + (hasFma ? 10 : 2), L_FMA_I = L_S + 1;


  // structured-control bookkeeping: labels are the depth they were opened at
  let depth = 0;
  const open = (op: Op, type: T = T.void_): number => { b.byte(op); b.byte(type); return depth++; };
  const end = (): void => { b.byte(Op.end); depth--; };
  const br = (label: number, op: Op = Op.br): void => { b.byte(op); b.u32(depth - 1 - label); };
  /** To `label` (a slow path: soft-float, a helper's reported status) if the condition holds, which it rarely does. */
  const slowIf = (label: number): void => { b.hint(Hint.unlikely); br(label, Op.br_if); };
  const i32c = (v: number): void => { b.byte(Op.i32_const); b.sNum(v | 0); };
  const i64c = (v: number): void => { b.byte(Op.i64_const); b.sNum(v); };
  const get = (l: number): void => { b.byte(Op.local_get); b.u32(l); };
  const set = (l: number): void => { b.byte(Op.local_set); b.u32(l); };
  const tee = (l: number): void => { b.byte(Op.local_tee); b.u32(l); };
  const mem = (op: Op, offset: number, align: number): void => { b.byte(op); b.u32(align); b.u32(offset); };
  const reg = (r: number): void => { if (r === 0) i64c(0); else get(regLocal[r]); };
  // a lazy register is stored as it is written (memory always has its value: no way out stores it)
  const setReg = (rd: number): void => {
    if (rd === 0 || rd === 32) { b.byte(Op.drop); return; }
    set(regLocal[rd]);
    if (lazy.has(rd)) { get(P_V); get(regLocal[rd]); mem(Op.i64_store, L.V_X + 8 * rd, 3); }
  };
  /** Before the instruction at position `p`: the lazy registers it reads that are not in their locals yet. */
  const loaded = new Set<number>();
  const loadLazy = (p: number): void => {
    if (p <= lastBack) return;
    const { reads, write } = uses[p];
    for (const r of reads) if (lazy.has(r) && !loaded.has(r)) { get(P_V); mem(Op.i64_load, L.V_X + 8 * r, 3); set(regLocal[r]); loaded.add(r); }
    if (write !== 0) loaded.add(write); // written before it is read: nothing to load
  };
  const pcAt = (off: number): void => { get(L_VPAGE); i64c(off); b.byte(Op.i64_add); };
  /** The offset of F register `r` in the vCPU block (F registers stay in memory). */
  const F = (r: number): number => L.V_F + 8 * r;
  /** ret = (n + extra) << 2 | status */
  const setRet = (extra: number, status: number): void => {
    get(L_N); if (extra !== 0) { i32c(extra); b.byte(Op.i32_add); }
    i32c(2); b.byte(Op.i32_shl); if (status !== 0) { i32c(status); b.byte(Op.i32_or); }
    set(L_RET);
  };

  // the TLB epochs in locals: only a trap (which ends the call) changes them; reloaded after slow paths anyway
  const loadEpochs = (): void => {
    b.byte(Op.global_get); b.u32(G_EPOCH_LOAD); set(L_EPOCH_LOAD);
    b.byte(Op.global_get); b.u32(G_EPOCH_STORE); set(L_EPOCH_STORE);
  };
  // prologue: the page's virtual base, the epochs, registers into locals
  get(P_PC0); i64c(-4096); b.byte(Op.i64_and); set(L_VPAGE);
  loadEpochs();
  for (let r = 1; r < 32; r++) if (regLocal[r] >= 0 && !lazy.has(r)) { get(P_V); mem(Op.i64_load, L.V_X + 8 * r, 3); set(regLocal[r]); }
  if (dispatch) { i32c(index.get(entry)!); set(L_BB); }
  // fpFast's condition: mstatus.FS dirty, frm RNE, fflags.NX set. Within a call only a jit_fp can change
  // it (FS and frm change by CSR writes and traps, which end a translation; flags only accumulate)
  const MSTATUS = L.V_CSR + 8 * L.CSR_MSTATUS, FCSR = L.V_CSR + 8 * L.CSR_FCSR;
  const fpOk = (): void => {
    get(P_V); mem(Op.i64_load, MSTATUS, 3); i64c(13); b.byte(Op.i64_shr_u); b.byte(Op.i32_wrap_i64); i32c(3); b.byte(Op.i32_and);
    tee(L_FS); i32c(3); b.byte(Op.i32_eq);
    get(P_V); mem(Op.i64_load, FCSR, 3); i64c(0xe1); b.byte(Op.i64_and); i64c(1); b.byte(Op.i64_eq);
    b.byte(Op.i32_and); set(L_FPOK);
  };
  if (blocks.some((bl) => bl.insns.some(({ i }) => i.op >= O.OP_FLW && i.op <= O.OP_FP))) fpOk();

  // how an exit to page offset `off` goes on: 1 through jit_chain, 2 + j the j-th unit of this module it
  // calls directly (linked: same page, translated from the same copy of it, installed together)
  const linked: number[] = [];
  const chainTo = (off: number): number => {
    const f = off >= 0 && off < 0x1000 ? direct(off) : undefined;
    if (f === undefined) return 1;
    let j = linked.indexOf(f);
    if (j < 0) { j = linked.length; linked.push(f); }
    return 2 + j;
  };
  const EXIT = open(Op.block);
  const HEXIT = open(Op.block); // a slow path's exit: its status is in jit_status
  const LOOP = dispatch ? open(Op.loop) : -1;
  // leaving for a block start at page offset `off`: the epilogue chains to its translation if it has one
  const exitTo = (off: number, extra: number, status: number): void => {
    pcAt(off); set(L_RETPC); setRet(extra, status); i32c(chainTo(off)); set(L_CHAIN); br(EXIT);
  };
  if (dispatch) {
    for (let k = blocks.length - 1; k >= 0; k--) open(Op.block);
    get(L_BB);
    b.byte(Op.br_table); b.u32(blocks.length);
    for (let k = 0; k < blocks.length; k++) b.u32(k);
    b.u32(blocks.length - 1);
  }

  /** Control goes to page offset `t` from block `from` (n already counts the branch): inside the unit, or out with status JUMP. */
  const goTo = (t: number, from: number): void => {
    const k = index.get(t);
    if (k === undefined) { exitTo(t, 0, JUMP); return; }
    if (k <= from) { // a branch back (in the unit's order, which a followed jump makes differ from the address order): leave when the budget is spent
      get(L_N); get(P_BUDGET); b.byte(Op.i32_ge_s);
      b.hint(Hint.unlikely); open(Op.if_); exitTo(t, 0, JUMP); end();
    }
    if (!dispatch) { br(k <= from ? loopLabel.get(k)! : blockLabel.get(k)!); return; }
    if (selfLoop !== undefined && k === from) { br(selfLoop); return; }
    i32c(k); set(L_BB);
    br(LOOP);
  };
  // structured: the labels of the loops and blocks open where a branch is emitted
  const loopLabel = new Map<number, number>(), blockLabel = new Map<number, number>();
  const openStack: number[] = []; // the ends of the open loops and blocks, innermost last
  // a block that branches back to its own start is a Wasm loop of its own: the br_table of the dispatcher
  // makes every register a phi of every arm, which V8 spills, and the tightest loops then go around it
  let selfLoop: number | undefined;

  /** The TLB check of a `size`-byte access at local A; leaves the condition, local T = the entry's address. */
  const tlbHit = (tlb: number, size: number, epochLocal: number): void => {
    // entry (va >> 12) & (TLB_ENTRIES - 1), 16 bytes each
    get(L_A); i64c(8); b.byte(Op.i64_shr_u); b.byte(Op.i32_wrap_i64);
    i32c((L.TLB_ENTRIES - 1) << 4); b.byte(Op.i32_and); get(P_V); b.byte(Op.i32_add); tee(L_T);
    mem(Op.i64_load, tlb, 3);
    // the page of the access's last byte: an access that crosses into the next page misses (the
    // entry at va's index never holds the next page: that page has the next index)
    get(L_A); if (size > 1) { i64c(size - 1); b.byte(Op.i64_add); }
    i64c(-4096); b.byte(Op.i64_and); get(epochLocal); b.byte(Op.i64_or);
    b.byte(Op.i64_eq);
  };
  /** The host address of the access at local A through the TLB entry at local T (32-bit: host addresses are). */
  const hostAddress = (tlb: number): void => {
    get(L_A); b.byte(Op.i32_wrap_i64); get(L_T); mem(Op.i32_load, tlb + 8, 2); b.byte(Op.i32_add);
  };
  /** Before a slow-path call: the instructions retired if the helper reports a status (it sets V_PC). */
  const slowExit = (idx: number): void => { i32c(idx + 1); set(L_K); };
  const afterSlow = (): void => { b.byte(Op.global_get); b.u32(G_STATUS); slowIf(HEXIT); loadEpochs(); };

  const LOAD_TLB = L.V_TLB, STORE_TLB = L.V_TLB + L.TLB_ENTRIES * 16;

  /**
   * FMADD.D (FMSUB, FNMSUB, FNMADD: signs flipped first) rounded to nearest-even, exactly: the vCPU
   * module's fma64 fast path (assembly/fpu.ts, where the argument is) for normal a, b with a*b and c
   * well inside the exponent range, where only NX can be raised; to `slow` otherwise.
   */
  const fmaInline = (negProduct: boolean, negAddend: boolean, fd: number, f1: number, f2: number, f3: number, slow: number): void => {
    const [P, Z, EP, S, T1, T2, U, V] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => L_FMA_F + k);
    const [IA, IB, IC, IP] = [0, 1, 2, 3].map((k) => L_FMA_I + k);
    const E = EP, R0 = T2; // reused once ep and bu are dead
    const SIGN = -(2 ** 63), MAN = 2 ** 52 - 1, HID = 2 ** 52;
    const bits = (r: number, neg: boolean, to: number): void => {
      get(P_V); mem(Op.i64_load, F(r), 3); if (neg) { i64c(SIGN); b.byte(Op.i64_xor); } set(to);
    };
    const expOf = (l: number): void => { get(l); i64c(52); b.byte(Op.i64_shr_u); i64c(0x7ff); b.byte(Op.i64_and); };
    const sig = (l: number): void => { get(l); i64c(MAN); b.byte(Op.i64_and); i64c(HID); b.byte(Op.i64_or); };
    const f = (l: number): void => { get(l); b.byte(Op.f64_reinterpret_i64); };
    const f0 = (): void => { b.byte(Op.f64_const); b.f64(0); };
    bits(f1, negProduct, IA);
    bits(f2, false, IB);
    bits(f3, negAddend, IC);
    expOf(IA); b.byte(Op.i64_eqz); slowIf(slow);
    expOf(IB); b.byte(Op.i64_eqz); slowIf(slow);
    expOf(IC); i64c(2043); b.byte(Op.i64_gt_u); slowIf(slow);
    f(IA); f(IB); b.byte(Op.f64_mul); b.byte(Op.local_tee); b.u32(P); b.byte(Op.i64_reinterpret_f64); set(IP);
    expOf(IP); i64c(111); b.byte(Op.i64_sub); i64c(2043 - 111); b.byte(Op.i64_gt_u); slowIf(slow);
    // ep = a*b - p exactly: the significands' integer residual, scaled to the product's lsb, with p's sign
    sig(IA); sig(IB); b.byte(Op.i64_mul);
    sig(IP); expOf(IP); expOf(IA); b.byte(Op.i64_sub); expOf(IB); b.byte(Op.i64_sub); i64c(1075); b.byte(Op.i64_add); b.byte(Op.i64_shl);
    b.byte(Op.i64_sub); b.byte(Op.f64_convert_i64_s);
    expOf(IA); expOf(IB); b.byte(Op.i64_add); i64c(1127); b.byte(Op.i64_sub); i64c(52); b.byte(Op.i64_shl);
    get(IP); i64c(SIGN); b.byte(Op.i64_and); b.byte(Op.i64_or); b.byte(Op.f64_reinterpret_i64);
    b.byte(Op.f64_mul); set(EP);
    f(IC); set(Z);
    // s = p + z, no massive cancellation and no overflow
    get(P); get(Z); b.byte(Op.f64_add); tee(S); b.byte(Op.i64_reinterpret_f64); set(IC);
    expOf(IC); expOf(IP); i64c(1); b.byte(Op.i64_sub); b.byte(Op.i64_lt_s);
    expOf(IC); i64c(2044); b.byte(Op.i64_gt_u); b.byte(Op.i32_or); slowIf(slow);
    // TwoSum(p, z) = s + t; TwoSum(t, ep) = u + v; r0 = s + u, e = u - (r0 - s)
    get(S); get(P); b.byte(Op.f64_sub); set(T2);
    get(P); get(S); get(T2); b.byte(Op.f64_sub); b.byte(Op.f64_sub); get(Z); get(T2); b.byte(Op.f64_sub); b.byte(Op.f64_add); set(T1);
    get(T1); get(EP); b.byte(Op.f64_add); set(U);
    get(U); get(T1); b.byte(Op.f64_sub); set(T2);
    get(T1); get(U); get(T2); b.byte(Op.f64_sub); b.byte(Op.f64_sub); get(EP); get(T2); b.byte(Op.f64_sub); b.byte(Op.f64_add); set(V);
    get(S); get(U); b.byte(Op.f64_add); set(R0);
    get(U); get(R0); get(S); b.byte(Op.f64_sub); b.byte(Op.f64_sub); set(E);
    get(R0); b.byte(Op.i64_reinterpret_f64); set(IA);
    // r0 is RN(a*b + c) unless s + u is a midpoint and v is on e's side: then the neighbour toward e
    get(E); f0(); b.byte(Op.f64_ne); get(V); f0(); b.byte(Op.f64_ne); b.byte(Op.i32_and);
    open(Op.if_);
    get(IA); i64c(1); b.byte(Op.i64_add);
    get(E); b.byte(Op.i64_reinterpret_f64); get(IA); b.byte(Op.i64_xor); i64c(63); b.byte(Op.i64_shr_u); i64c(1); b.byte(Op.i64_shl);
    b.byte(Op.i64_sub); set(IB);
    get(E); f(IB); get(R0); b.byte(Op.f64_sub); b.byte(Op.f64_const); b.f64(0.5); b.byte(Op.f64_mul); b.byte(Op.f64_eq);
    get(V); f0(); b.byte(Op.f64_gt); get(E); f0(); b.byte(Op.f64_gt); b.byte(Op.i32_eq); b.byte(Op.i32_and);
    open(Op.if_); get(IB); set(IA); end();
    end();
    get(P_V); get(IA); mem(Op.i64_store, F(fd), 3);
  };

  /** fpFast's inline path of `insn` (rd/rs1: its integer registers); branches to `slow` where it does not apply. */
  const fpInline = (insn: number, rd: number, rs1: number, slow: number): void => {
    const opc = insn & 0x7f, dbl = ((insn >>> 25) & 3) === 1, rm = (insn >>> 12) & 7, f5 = insn >>> 27;
    const fd = (insn >>> 7) & 31, f1 = (insn >>> 15) & 31, f2 = (insn >>> 20) & 31, f3 = insn >>> 27;
    get(L_FPOK); b.byte(Op.i32_eqz); slowIf(slow);
    const loadD = (r: number): void => { get(P_V); mem(Op.f64_load, F(r), 3); };
    // a single is NaN-boxed (upper half all ones); anything else reads as the canonical NaN: jit_fp's case
    const boxed = (r: number): void => { get(P_V); mem(Op.i32_load, F(r) + 4, 2); i32c(-1); b.byte(Op.i32_ne); slowIf(slow); };
    const loadS = (r: number): void => { get(P_V); mem(Op.f32_load, F(r), 2); };
    const storeD = (): void => { get(P_V); get(L_D); mem(Op.f64_store, F(fd), 3); };
    const storeS = (): void => { get(P_V); get(L_S); mem(Op.f32_store, F(fd), 2); get(P_V); i32c(-1); mem(Op.i32_store, F(fd) + 4, 2); };
    /** To `slow` unless the result's biased exponent is below the maximum (finite) or, `normal`, at least 2 (no underflow). */
    const expCheck = (normal: boolean): void => {
      if (dbl) { get(L_D); b.byte(Op.i64_reinterpret_f64); i64c(52); b.byte(Op.i64_shr_u); b.byte(Op.i32_wrap_i64); i32c(0x7ff); }
      else { get(L_S); b.byte(Op.i32_reinterpret_f32); i32c(23); b.byte(Op.i32_shr_u); i32c(0xff); }
      b.byte(Op.i32_and);
      if (normal) { i32c(2); b.byte(Op.i32_sub); i32c(dbl ? 0x7fc : 0xfc); b.byte(Op.i32_gt_u); }
      else { i32c(dbl ? 0x7ff : 0xff); b.byte(Op.i32_eq); }
      slowIf(slow);
    };
    if (opc !== 0x53) {
      const negProduct = opc === 0x4b || opc === 0x4f, negAddend = opc === 0x47 || opc === 0x4f;
      if (!fusedMadd) { fmaInline(negProduct, negAddend, fd, f1, f2, f3, slow); return; }
      // the host's fused multiply-add (relaxed_madd, found fused by fusedMaddProbe): one rounding, RNE
      if (!dbl) { boxed(f1); boxed(f2); boxed(f3); }
      const operand = (r: number, neg: boolean): void => {
        if (dbl) loadD(r); else loadS(r);
        if (neg) b.byte(dbl ? Op.f64_neg : Op.f32_neg);
        b.byte(Op.simd); b.u32(dbl ? Simd.f64x2_splat : Simd.f32x4_splat);
      };
      operand(f1, negProduct); operand(f2, false); operand(f3, negAddend);
      b.byte(Op.simd); b.u32(dbl ? Simd.f64x2_relaxed_madd : Simd.f32x4_relaxed_madd);
      b.byte(Op.simd); b.u32(dbl ? Simd.f64x2_extract_lane : Simd.f32x4_extract_lane); b.byte(0);
      set(dbl ? L_D : L_S);
      expCheck(true); // also NaN (NV, canonical NaN), infinity (OF), zero (its sign) and tiny (UF)
      if (dbl) storeD(); else storeS();
      return;
    }
    switch (f5) {
      case 0x00: case 0x01: case 0x02: case 0x03: case 0x0b: {
        const op = f5 === 0x0b ? (dbl ? Op.f64_sqrt : Op.f32_sqrt) : ([dbl ? Op.f64_add : Op.f32_add,
          dbl ? Op.f64_sub : Op.f32_sub, dbl ? Op.f64_mul : Op.f32_mul, dbl ? Op.f64_div : Op.f32_div])[f5];
        const two = f5 !== 0x0b;
        if (dbl) { loadD(f1); if (two) loadD(f2); b.byte(op); set(L_D); }
        else { boxed(f1); if (two) boxed(f2); loadS(f1); if (two) loadS(f2); b.byte(op); set(L_S); }
        // a sum that is tiny is exact; a product or quotient may underflow
        expCheck(f5 === 0x02 || f5 === 0x03);
        if (dbl) storeD(); else storeS();
        return;
      }
      case 0x04: { // sign injection: |rs1| with the sign of rs2, ~rs2 or rs1 ^ rs2
        if (dbl) {
          get(P_V);
          get(P_V); mem(Op.i64_load, F(f1), 3); i64c(1); b.byte(Op.i64_shl); i64c(1); b.byte(Op.i64_shr_u);
          get(P_V); mem(Op.i64_load, F(f2), 3);
          if (rm === 1) { i64c(-1); b.byte(Op.i64_xor); }
          if (rm === 2) { get(P_V); mem(Op.i64_load, F(f1), 3); b.byte(Op.i64_xor); }
          i64c(63); b.byte(Op.i64_shr_u); i64c(63); b.byte(Op.i64_shl);
          b.byte(Op.i64_or);
          mem(Op.i64_store, F(fd), 3);
        } else {
          boxed(f1); boxed(f2);
          get(P_V);
          get(P_V); mem(Op.i32_load, F(f1), 2); i32c(0x7fffffff); b.byte(Op.i32_and);
          get(P_V); mem(Op.i32_load, F(f2), 2);
          if (rm === 1) { i32c(-1); b.byte(Op.i32_xor); }
          if (rm === 2) { get(P_V); mem(Op.i32_load, F(f1), 2); b.byte(Op.i32_xor); }
          i32c(-0x80000000); b.byte(Op.i32_and);
          b.byte(Op.i32_or);
          mem(Op.i32_store, F(fd), 2);
          get(P_V); i32c(-1); mem(Op.i32_store, F(fd) + 4, 2);
        }
        return;
      }
      case 0x14: { // FLE FLT FEQ: no NaN operand (which may raise NV)
        if (dbl) { loadD(f1); set(L_D); loadD(f2); set(L_D2); }
        else { boxed(f1); boxed(f2); loadS(f1); b.byte(Op.f64_promote_f32); set(L_D); loadS(f2); b.byte(Op.f64_promote_f32); set(L_D2); }
        get(L_D); get(L_D); b.byte(Op.f64_eq); get(L_D2); get(L_D2); b.byte(Op.f64_eq); b.byte(Op.i32_and);
        b.byte(Op.i32_eqz); slowIf(slow);
        get(L_D); get(L_D2); b.byte(rm === 0 ? Op.f64_le : rm === 1 ? Op.f64_lt : Op.f64_eq);
        b.byte(Op.i64_extend_i32_u); setReg(rd);
        return;
      }
      case 0x18: { // FCVT.W/L: rounded in f64 (a single widens exactly), then in range (NaN is not)
        if (dbl) loadD(f1); else { boxed(f1); loadS(f1); b.byte(Op.f64_promote_f32); }
        b.byte(rm === 1 ? Op.f64_trunc : rm === 2 ? Op.f64_floor : rm === 3 ? Op.f64_ceil : Op.f64_nearest);
        set(L_D);
        const w = f2 === 0;
        get(L_D); b.byte(Op.f64_const); b.f64(w ? -(2 ** 31) : -(2 ** 63)); b.byte(Op.f64_ge);
        get(L_D); b.byte(Op.f64_const); b.f64(w ? 2 ** 31 : 2 ** 63); b.byte(Op.f64_lt);
        b.byte(Op.i32_and); b.byte(Op.i32_eqz); slowIf(slow);
        get(L_D); b.byte(Op.i64_trunc_f64_s); setReg(rd);
        return;
      }
      case 0x1a: { // FCVT.S/D.W/WU/L/LU: Wasm's conversions round to nearest-even
        reg(rs1);
        if (f2 <= 1) b.byte(Op.i32_wrap_i64);
        if (dbl) { b.byte([Op.f64_convert_i32_s, Op.f64_convert_i32_u, Op.f64_convert_i64_s, Op.f64_convert_i64_u][f2]); set(L_D); storeD(); }
        else { b.byte([Op.f32_convert_i32_s, Op.f32_convert_i32_u, Op.f32_convert_i64_s, Op.f32_convert_i64_u][f2]); set(L_S); storeS(); }
        return;
      }
      case 0x1c: // FMV.X.D, FMV.X.W (the raw low 32 bits, sign-extended)
        get(P_V); mem(dbl ? Op.i64_load : Op.i64_load32_s, F(f1), dbl ? 3 : 2); setReg(rd);
        return;
      case 0x1e: // FMV.D.X, FMV.W.X (NaN-boxed)
        get(P_V); reg(rs1); if (!dbl) { i64c(-0x100000000); b.byte(Op.i64_or); } mem(Op.i64_store, F(fd), 3);
        return;
      case 0x08: // FCVT.S.D (may round, overflow, underflow), FCVT.D.S (exact but for NaN)
        if (dbl) {
          boxed(f1); loadS(f1); b.byte(Op.f64_promote_f32); set(L_D);
          get(L_D); get(L_D); b.byte(Op.f64_eq); b.byte(Op.i32_eqz); slowIf(slow);
          storeD();
        } else {
          loadD(f1); b.byte(Op.f32_demote_f64); set(L_S);
          expCheck(true);
          storeS();
        }
        return;
    }
    throw new Error(`translate: no inline path for F/D instruction ${insn >>> 0}`);
  };

  pos = 0;
  for (let k = 0; k < blocks.length; k++) {
    if (dispatch) end(); // arm k starts here
    while (openStack.length > 0 && openStack[openStack.length - 1] < k) { end(); openStack.pop(); }
    for (const c of opens?.[k] ?? []) {
      openStack.push(c.end);
      if (c.loopHead !== undefined) loopLabel.set(c.loopHead, open(Op.loop)); else blockLabel.set(c.target!, open(Op.block));
    }
    const bl = blocks[k];
    let terminated = false;
    const tail = bl.insns[bl.insns.length - 1];
    const loops = dispatch && (BRANCHES.has(tail.i.op) || tail.i.op === O.OP_JAL) && tail.off + tail.i.imm === bl.start;
    selfLoop = loops ? open(Op.loop) : undefined;
    bl.insns.forEach(({ off, i }, idx) => {
      loadLazy(pos++);
      const op = i.op;
      const { rd, rs1, rs2, imm, len } = i;
      const count = idx + 1; // instructions of this block up to and including this one
      switch (op) {
        case O.OP_LUI: i64c(imm); setReg(rd); break;
        case O.OP_AUIPC: pcAt(off + imm); setReg(rd); break;
        case O.OP_JAL:
          pcAt(off + len); setReg(rd);
          get(L_N); i32c(count); b.byte(Op.i32_add); set(L_N);
          if (followed(k, off, i)) { /* the target is the next block */ }
          else if (off + imm >= 0 && off + imm < 0x1000) goTo(off + imm, k);
          else exitTo(off + imm, 0, JUMP);
          terminated = true;
          break;
        case O.OP_JALR: {
          reg(rs1); i64c(imm); b.byte(Op.i64_add); i64c(-2); b.byte(Op.i64_and); set(L_RETPC);
          pcAt(off + len); setReg(rd);
          get(L_N); i32c(count); b.byte(Op.i32_add); set(L_N);
          // a switch: the targets the unit holds stay inside it
          for (const t of bl.switchTo ?? []) {
            if (!index.has(t)) continue;
            get(L_RETPC); pcAt(t); b.byte(Op.i64_eq);
            open(Op.if_); goTo(t, k); end();
          }
          setRet(0, JUMP); i32c(1); set(L_CHAIN); br(EXIT);
          terminated = true;
          break;
        }
        case O.OP_BEQ: case O.OP_BNE: case O.OP_BLT: case O.OP_BGE: case O.OP_BLTU: case O.OP_BGEU: {
          get(L_N); i32c(count); b.byte(Op.i32_add); set(L_N);
          reg(rs1); reg(rs2);
          b.byte(op === O.OP_BEQ ? Op.i64_eq : op === O.OP_BNE ? Op.i64_ne : op === O.OP_BLT ? Op.i64_lt_s
            : op === O.OP_BGE ? Op.i64_ge_s : op === O.OP_BLTU ? Op.i64_lt_u : Op.i64_ge_u);
          open(Op.if_);
          const t = off + imm;
          if (t >= 0 && t < 0x1000) goTo(t, k); else exitTo(t, 0, JUMP);
          end();
          // not taken: the next block in address order, another block of the unit, or out
          const o = onward(k);
          if (o === k + 1) { /* falls through */ } else if (o !== undefined) goTo(off + len, k); else exitTo(off + len, 0, CONTINUE);
          terminated = true;
          break;
        }
        case O.OP_LB: case O.OP_LH: case O.OP_LW: case O.OP_LD: case O.OP_LBU: case O.OP_LHU: case O.OP_LWU: {
          const f3 = op - O.OP_LB;
          const size = 1 << (f3 & 3);
          reg(rs1); i64c(imm); b.byte(Op.i64_add); set(L_A);
          tlbHit(LOAD_TLB, size, L_EPOCH_LOAD);
          b.hint(Hint.likely); open(Op.if_, T.i64);
          hostAddress(LOAD_TLB);
          mem(LOAD_OPS[f3], 0, 0);
          b.byte(Op.else_);
          slowExit(idx);
          get(L_A); i32c(size | (((rd & 31) | (f3 < 4 ? 0x40 : 0)) << 8) | (len << 16)); pcAt(off);
          b.byte(Op.call); b.u32(F_LOAD);
          afterSlow();
          if (f3 === 0) b.byte(Op.i64_extend8_s);
          else if (f3 === 1) b.byte(Op.i64_extend16_s);
          else if (f3 === 2) b.byte(Op.i64_extend32_s);
          end();
          setReg(rd);
          break;
        }
        case O.OP_SB: case O.OP_SH: case O.OP_SW: case O.OP_SD: {
          const size = 1 << (op - O.OP_SB);
          reg(rs1); i64c(imm); b.byte(Op.i64_add); set(L_A);
          tlbHit(STORE_TLB, size, L_EPOCH_STORE);
          b.hint(Hint.likely); open(Op.if_);
          hostAddress(STORE_TLB); set(L_T);
          // spin detection counts stores that change memory (spin_stored is set on the way out)
          get(L_STORED);
          get(L_T); mem(STORE_OLD_OPS[op - O.OP_SB], 0, 0);
          reg(rs2); if (size < 8) { i64c(2 ** (8 * size) - 1); b.byte(Op.i64_and); }
          b.byte(Op.i64_ne); b.byte(Op.i32_or); set(L_STORED);
          get(L_T); reg(rs2); mem(STORE_OPS[op - O.OP_SB], 0, 0);
          b.byte(Op.else_);
          slowExit(idx);
          get(L_A); i32c(size | (len << 16)); reg(rs2); pcAt(off);
          b.byte(Op.call); b.u32(F_STORE);
          afterSlow();
          end();
          break;
        }
        case O.OP_ADDI: reg(rs1); i64c(imm); b.byte(Op.i64_add); setReg(rd); break;
        case O.OP_SLTI: reg(rs1); i64c(imm); b.byte(Op.i64_lt_s); b.byte(Op.i64_extend_i32_u); setReg(rd); break;
        case O.OP_SLTIU: reg(rs1); i64c(imm); b.byte(Op.i64_lt_u); b.byte(Op.i64_extend_i32_u); setReg(rd); break;
        case O.OP_XORI: reg(rs1); i64c(imm); b.byte(Op.i64_xor); setReg(rd); break;
        case O.OP_ORI: reg(rs1); i64c(imm); b.byte(Op.i64_or); setReg(rd); break;
        case O.OP_ANDI: reg(rs1); i64c(imm); b.byte(Op.i64_and); setReg(rd); break;
        case O.OP_SLLI: reg(rs1); i64c(imm); b.byte(Op.i64_shl); setReg(rd); break;
        case O.OP_SRLI: reg(rs1); i64c(imm); b.byte(Op.i64_shr_u); setReg(rd); break;
        case O.OP_SRAI: reg(rs1); i64c(imm); b.byte(Op.i64_shr_s); setReg(rd); break;
        case O.OP_ADD: case O.OP_SUB: case O.OP_SLL: case O.OP_XOR: case O.OP_SRL: case O.OP_SRA: case O.OP_OR:
        case O.OP_AND: case O.OP_MUL: {
          reg(rs1); reg(rs2);
          b.byte(ALU_OPS.get(op)!);
          setReg(rd);
          break;
        }
        case O.OP_SLT: reg(rs1); reg(rs2); b.byte(Op.i64_lt_s); b.byte(Op.i64_extend_i32_u); setReg(rd); break;
        case O.OP_SLTU: reg(rs1); reg(rs2); b.byte(Op.i64_lt_u); b.byte(Op.i64_extend_i32_u); setReg(rd); break;
        case O.OP_ADDIW: reg(rs1); i64c(imm); b.byte(Op.i64_add); b.byte(Op.i64_extend32_s); setReg(rd); break;
        case O.OP_SLLIW: case O.OP_SRLIW: case O.OP_SRAIW:
          reg(rs1); b.byte(Op.i32_wrap_i64); i32c(imm);
          b.byte(op === O.OP_SLLIW ? Op.i32_shl : op === O.OP_SRLIW ? Op.i32_shr_u : Op.i32_shr_s);
          b.byte(Op.i64_extend_i32_s); setReg(rd);
          break;
        case O.OP_ADDW: reg(rs1); reg(rs2); b.byte(Op.i64_add); b.byte(Op.i64_extend32_s); setReg(rd); break;
        case O.OP_SUBW: reg(rs1); reg(rs2); b.byte(Op.i64_sub); b.byte(Op.i64_extend32_s); setReg(rd); break;
        case O.OP_MULW: reg(rs1); reg(rs2); b.byte(Op.i64_mul); b.byte(Op.i64_extend32_s); setReg(rd); break;
        case O.OP_SLLW: case O.OP_SRLW: case O.OP_SRAW:
          reg(rs1); b.byte(Op.i32_wrap_i64); reg(rs2); b.byte(Op.i32_wrap_i64);
          b.byte(op === O.OP_SLLW ? Op.i32_shl : op === O.OP_SRLW ? Op.i32_shr_u : Op.i32_shr_s);
          b.byte(Op.i64_extend_i32_s); setReg(rd);
          break;
        case O.OP_MULH: case O.OP_MULHU: case O.OP_MULHSU:
          reg(rs1); reg(rs2); b.byte(Op.call); b.u32(op === O.OP_MULH ? F_MULH : op === O.OP_MULHU ? F_MULHU : F_MULHSU);
          setReg(rd);
          break;
        case O.OP_DIV: case O.OP_REM: // x/0 = -1, x%0 = x; MIN/-1 = MIN, MIN%-1 = 0 (Wasm traps on both)
          reg(rs2); b.byte(Op.i64_eqz);
          open(Op.if_, T.i64); if (op === O.OP_DIV) i64c(-1); else reg(rs1);
          b.byte(Op.else_);
          reg(rs2); i64c(-1); b.byte(Op.i64_eq);
          open(Op.if_, T.i64); if (op === O.OP_DIV) { i64c(0); reg(rs1); b.byte(Op.i64_sub); } else i64c(0);
          b.byte(Op.else_); reg(rs1); reg(rs2); b.byte(op === O.OP_DIV ? Op.i64_div_s : Op.i64_rem_s); end();
          end();
          setReg(rd);
          break;
        case O.OP_DIVU: case O.OP_REMU:
          reg(rs2); b.byte(Op.i64_eqz);
          open(Op.if_, T.i64); if (op === O.OP_DIVU) i64c(-1); else reg(rs1);
          b.byte(Op.else_); reg(rs1); reg(rs2); b.byte(op === O.OP_DIVU ? Op.i64_div_u : Op.i64_rem_u); end();
          setReg(rd);
          break;
        case O.OP_DIVW: case O.OP_REMW:
          reg(rs2); b.byte(Op.i32_wrap_i64); b.byte(Op.i32_eqz);
          open(Op.if_, T.i64); if (op === O.OP_DIVW) i64c(-1); else { reg(rs1); b.byte(Op.i64_extend32_s); }
          b.byte(Op.else_);
          reg(rs2); b.byte(Op.i32_wrap_i64); i32c(-1); b.byte(Op.i32_eq);
          open(Op.if_, T.i32);
          if (op === O.OP_DIVW) { i32c(0); reg(rs1); b.byte(Op.i32_wrap_i64); b.byte(Op.i32_sub); } else i32c(0);
          b.byte(Op.else_);
          reg(rs1); b.byte(Op.i32_wrap_i64); reg(rs2); b.byte(Op.i32_wrap_i64); b.byte(op === O.OP_DIVW ? Op.i32_div_s : Op.i32_rem_s);
          end();
          b.byte(Op.i64_extend_i32_s);
          end();
          setReg(rd);
          break;
        case O.OP_DIVUW: case O.OP_REMUW:
          reg(rs2); b.byte(Op.i32_wrap_i64); b.byte(Op.i32_eqz);
          open(Op.if_, T.i64); if (op === O.OP_DIVUW) i64c(-1); else { reg(rs1); b.byte(Op.i64_extend32_s); }
          b.byte(Op.else_);
          reg(rs1); b.byte(Op.i32_wrap_i64); reg(rs2); b.byte(Op.i32_wrap_i64); b.byte(op === O.OP_DIVUW ? Op.i32_div_u : Op.i32_rem_u);
          b.byte(Op.i64_extend_i32_s);
          end();
          setReg(rd);
          break;
        case O.OP_FENCE: break; // the shared memory's atomics are sequentially consistent already
        case O.OP_AMO_W: case O.OP_AMO_D: {
          // aligned, and its page in the store TLB (RAM the hart may write, not code): a Wasm atomic on it,
          // sequentially consistent (aq/rl hold); anything else (a fault, MMIO, a code page, a debugger's
          // watchpoint) goes to the interpreter, which runs the AMO: the translation returns at it
          const size = op === O.OP_AMO_W ? 4 : 8;
          reg(rs1); set(L_A);
          tlbHit(STORE_TLB, size, L_EPOCH_STORE);
          get(L_A); b.byte(Op.i32_wrap_i64); i32c(size - 1); b.byte(Op.i32_and); b.byte(Op.i32_eqz);
          b.byte(Op.i32_and);
          b.hint(Hint.likely); open(Op.if_, T.i64);
          hostAddress(STORE_TLB);
          reg(rs2); if (size === 4) b.byte(Op.i32_wrap_i64);
          b.byte(Op.atomic); b.u32(AMO_RMW.get(imm)![size === 4 ? 0 : 1]); b.u32(size === 4 ? 2 : 3); b.u32(0);
          if (size === 4) b.byte(Op.i64_extend_i32_s);
          b.byte(Op.else_);
          pcAt(off); set(L_RETPC); setRet(idx, CONTINUE); i32c(0); set(L_CHAIN); br(EXIT);
          end();
          setReg(rd);
          break;
        }
        case O.OP_FLW: case O.OP_FLD: case O.OP_FSW: case O.OP_FSD: {
          // F registers stay in memory
          const d = op === O.OP_FLD || op === O.OP_FSD ? 8 : 4;
          const isLoad = op === O.OP_FLW || op === O.OP_FLD;
          const fr = isLoad ? rd & 31 : rs2;
          reg(rs1); i64c(imm); b.byte(Op.i64_add); set(L_A);
          tlbHit(isLoad ? LOAD_TLB : STORE_TLB, d, isLoad ? L_EPOCH_LOAD : L_EPOCH_STORE);
          // inline: a load with FS dirty already, a store with FS on; otherwise the helper raises the
          // illegal-instruction trap (FS off) or makes FS dirty, as the interpreter does
          get(L_FS); if (isLoad) { i32c(3); b.byte(Op.i32_eq); } else { b.byte(Op.i32_eqz); b.byte(Op.i32_eqz); }
          b.byte(Op.i32_and);
          b.hint(Hint.likely); open(Op.if_);
          if (isLoad) {
            get(P_V);
            hostAddress(LOAD_TLB);
            if (d === 8) mem(Op.i64_load, 0, 0);
            else { mem(Op.i64_load32_u, 0, 0); i64c(-0x100000000); b.byte(Op.i64_or); } // NaN-boxed
            mem(Op.i64_store, F(fr), 3);
          } else {
            i32c(1); set(L_STORED); // as the interpreter counts FP stores
            hostAddress(STORE_TLB);
            get(P_V); mem(Op.i64_load, F(fr), 3);
            mem(d === 8 ? Op.i64_store : Op.i64_store32, 0, 0);
          }
          b.byte(Op.else_);
          slowExit(idx);
          get(L_A); i32c(d | (fr << 8) | (len << 16)); pcAt(off);
          b.byte(Op.call); b.u32(isLoad ? F_FLOAD : F_FSTORE);
          afterSlow();
          fpOk(); // FS may be dirty now
          end();
          break;
        }
        case O.OP_FP: {
          const fast = fpFast(imm, fusedMadd);
          const DONE = fast ? open(Op.block) : 0;
          if (fast) { const SLOW = open(Op.block); fpInline(imm, rd, rs1, SLOW); br(DONE); end(); }
          // soft-float in the vCPU module, on the F registers in memory; integer operands go through memory
          if (fpReadsX(imm) && rs1 !== 0) { get(P_V); get(regLocal[rs1]); mem(Op.i64_store, L.V_X + 8 * rs1, 3); }
          slowExit(idx);
          i32c(imm); pcAt(off); b.byte(Op.call); b.u32(F_FP);
          afterSlow();
          if (fpWritesX(imm) && rd !== 0 && rd !== 32) { get(P_V); mem(Op.i64_load, L.V_X + 8 * rd, 3); set(regLocal[rd]); }
          fpOk(); // it may have set NX or made FS dirty
          if (fast) end();
          break;
        }
        default: throw new Error(`translate: op ${op} is not translated`);
      }
    });
    if (!terminated) {
      // the block runs into the next one in address order, or out of the unit
      const last = bl.insns[bl.insns.length - 1];
      const next = last.off + last.i.len;
      get(L_N); i32c(bl.insns.length); b.byte(Op.i32_add); set(L_N);
      const o = onward(k);
      if (o === k + 1) { /* falls through */ } else if (o !== undefined) goTo(next, k); else exitTo(next, 0, CONTINUE);
    }
    if (loops) end();
  }
  while (openStack.length > 0) { end(); openStack.pop(); }
  b.byte(Op.unreachable); // every block ended in a branch
  if (dispatch) end(); // the dispatcher's loop
  end(); // HEXIT: a slow path reported a status and set V_PC (the trap handler, or the next instruction)
  get(P_V); mem(Op.i64_load, L.V_PC, 3); set(L_RETPC);
  get(L_N); get(L_K); b.byte(Op.i32_add); i32c(2); b.byte(Op.i32_shl); b.byte(Op.global_get); b.u32(G_STATUS); b.byte(Op.i32_or);
  set(L_RET);
  end(); // EXIT
  b.byte(Op.global_get); b.u32(G_STORED); get(L_STORED); b.byte(Op.i32_or); b.byte(Op.global_set); b.u32(G_STORED);
  for (const r of [...written].sort((x, y) => x - y)) { get(P_V); get(regLocal[r]); mem(Op.i64_store, L.V_X + 8 * r, 3); }
  get(P_V); get(L_RETPC); mem(Op.i64_store, L.V_PC, 3);
  // a jump or a block's end goes on in the next translation without the interpreter: jit_chain finds it, or
  // (a unit of this module, linked) it is called directly: while the budget lasts, as jit_chain does
  b.byte(Op.block); b.byte(T.void_); // L_CHAIN 0: back to the interpreter
  b.byte(Op.block); b.byte(T.void_); // 1: jit_chain
  for (let j = 0; j < linked.length; j++) { b.byte(Op.block); b.byte(T.void_); }
  get(L_CHAIN);
  b.byte(Op.br_table); b.u32(linked.length + 2);
  b.u32(linked.length + 1); b.u32(linked.length);
  for (let j = 0; j < linked.length; j++) b.u32(j);
  b.u32(linked.length + 1);
  for (let j = 0; j < linked.length; j++) {
    b.byte(Op.end);
    get(L_RET); i32c(2); b.byte(Op.i32_shr_u); get(P_BUDGET); b.byte(Op.i32_ge_s);
    b.hint(Hint.unlikely); b.byte(Op.if_); b.byte(T.void_); get(L_RET); b.byte(Op.return_); b.byte(Op.end);
    get(P_V); get(L_RETPC); get(P_BUDGET); get(L_RET); i32c(2); b.byte(Op.i32_shr_u);
    b.byte(Op.return_call); b.u32(FUNC_IMPORTS + linked[j]!);
  }
  b.byte(Op.end);
  get(P_V); get(L_RETPC); get(P_BUDGET); get(L_RET); b.byte(Op.return_call); b.u32(F_CHAIN);
  b.byte(Op.end);
  get(L_RET);
  b.byte(Op.end);
  return b.trimmed();
}

/** A module of translations: function i (export `f${i}`) is `bodies[i]`. */
export function translationModule(bodies: Bytes[]): Uint8Array<ArrayBuffer> {
  return assemble(TYPES, IMPORTS, 0, bodies);
}

/**
 * jit_chain(v, pc, budget, ret), which a translation tail-calls on its way
 * out to a block start `pc` (ret = its return value: retired << 2 | status):
 * while the budget lasts, and if the fetch TLB maps `pc` and a translation of
 * that block is installed, it tail-calls it (the retired count goes on);
 * otherwise it returns `ret` to the interpreter. One instance per worker: a
 * module importing the 16K-entry table costs ~1.5 ms to instantiate, too
 * much for every batch.
 */
export function chainModule(): Uint8Array<ArrayBuffer> {
  const b = new Bytes();
  const V = 0, PC = 1, BUDGET = 2, RET = 3, E = 4, HOST = 5;
  const FETCH_TLB = L.V_TLB + 2 * L.TLB_ENTRIES * 16;
  b.u32(1); b.u32(2); b.byte(T.i32);
  const get = (l: number): void => { b.byte(Op.local_get); b.u32(l); };
  const tee = (l: number): void => { b.byte(Op.local_tee); b.u32(l); };
  const i32c = (v: number): void => { b.byte(Op.i32_const); b.sNum(v | 0); };
  const i64c = (v: number): void => { b.byte(Op.i64_const); b.sNum(v); };
  const mem = (op: Op, offset: number, align: number): void => { b.byte(op); b.u32(align); b.u32(offset); };
  const orReturn = (): void => { b.hint(Hint.unlikely); b.byte(Op.if_); b.byte(T.void_); get(RET); b.byte(Op.return_); b.byte(Op.end); };
  // the budget is spent: back to the interpreter's checks
  get(RET); i32c(2); b.byte(Op.i32_shr_u); get(BUDGET); b.byte(Op.i32_ge_s); orReturn();
  // the fetch TLB entry of pc (as the interpreter's fetch finds it)
  get(PC); i64c(8); b.byte(Op.i64_shr_u); b.byte(Op.i32_wrap_i64); i32c((L.TLB_ENTRIES - 1) << 4); b.byte(Op.i32_and);
  get(V); b.byte(Op.i32_add); tee(E);
  mem(Op.i64_load, FETCH_TLB, 3);
  get(PC); i64c(-4096); b.byte(Op.i64_and); b.byte(Op.global_get); b.u32(0); b.byte(Op.i64_or);
  b.byte(Op.i64_ne); orReturn();
  // its host address, and the slot a translation of it would be in (jitcache.ts's jitSlot)
  get(PC); b.byte(Op.i32_wrap_i64); get(E); mem(Op.i32_load, FETCH_TLB + 8, 2); b.byte(Op.i32_add); tee(HOST);
  i32c(1); b.byte(Op.i32_shr_u); i32c(L.JIT_ENTRIES - 1); b.byte(Op.i32_and); tee(E);
  i32c(3); b.byte(Op.i32_shl); get(V); b.byte(Op.i32_add);
  mem(Op.i64_load, L.V_JIT_TAGS, 3);
  get(HOST); b.byte(Op.i64_extend_i32_u); b.byte(Op.global_get); b.u32(1); b.byte(Op.i64_or);
  b.byte(Op.i64_ne); orReturn();
  get(V); get(PC); get(BUDGET); get(RET); i32c(2); b.byte(Op.i32_shr_u);
  get(E); i32c(L.JIT_TABLE_BASE); b.byte(Op.i32_add);
  b.byte(Op.return_call_indirect); b.u32(0); b.u32(0);
  b.byte(Op.end);
  return assemble([TYPES[0]], CHAIN_IMPORTS, 0, [b]);
}
/** What jit_chain's module imports (the worker's table, the vCPU module's globals). */
export const CHAIN_IMPORTS: Import[] = [
  { module: 'env', name: 'memory', kind: 'memory', min: 0, max: 65536, shared: true },
  { module: 'env', name: 'table', kind: 'table', min: L.JIT_TABLE_BASE + L.JIT_ENTRIES },
  { module: 'env', name: 'epoch_fetch', kind: 'global', type: T.i64, mutable: true },
  { module: 'env', name: 'icache_gen', kind: 'global', type: T.i64, mutable: true },
];

/**
 * Translate a made-up unit once (a loop with loads, stores, ALU, multiply and
 * F/D code, a forward branch, a return) and return its module's bytes. V8
 * compiles the translator's functions on their first call: a thread's first
 * real translation took 7-11 ms here (a bench kernel's first unit; the next
 * ones 0.4-3 ms). The translator thread does this as it comes up
 * (./thread.ts), so that the first batch it takes over does not pay.
 */
export function warmUp(): Uint8Array<ArrayBuffer> {
  const at = new Map<number, Insn>();
  let off = 0;
  const add = (op: number, rd: number, rs1: number, rs2: number, imm: number, len = 4): number => {
    at.set(off, { op, rd, rs1, rs2, imm, len });
    off += len;
    return off - len;
  };
  const head = add(O.OP_ADDI, 10, 10, 0, 1);
  add(O.OP_LD, 11, 12, 0, 8);
  add(O.OP_LW, 13, 12, 0, 16);
  add(O.OP_ADD, 14, 11, 13, 0);
  add(O.OP_MUL, 15, 14, 10, 0);
  const skip = add(O.OP_BEQ, 0, 15, 0, 0); // to `over` (set below)
  add(O.OP_SD, 0, 12, 15, 24);
  add(O.OP_SLLI, 16, 15, 0, 3);
  const over = add(O.OP_FLD, 1, 12, 0, 32);
  at.get(skip)!.imm = over - skip;
  add(O.OP_FP, 1, 2, 3, 0x0231_00d3); // fadd.d f1, f2, f3
  add(O.OP_FSD, 0, 12, 1, 40);
  add(O.OP_ADDIW, 17, 16, 0, -1, 2);
  const back = add(O.OP_BLTU, 0, 10, 5, 0);
  at.get(back)!.imm = head - back;
  add(O.OP_JALR, 32, 1, 0, 0);
  const blocks = discover(head, (o) => at.get(o) ?? { op: O.OP_ADDI, rd: 7, rs1: 7, rs2: 0, imm: 1, len: 4 }, () => true);
  return translationModule([translate(blocks!, head, false)]);
}

