// The vCPU's IEEE 754 unit (assembly/fpu.ts) against an exact BigInt
// reference (test/fpu-ref.ts): property tests over operands biased toward the
// hard cases, every rounding mode, plus hand-written cases from the RISC-V
// F/D chapters and IEEE 754.
import { describe, it, expect, beforeAll } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as R from './fpu-ref.js';
import { F32, F64, type Fmt, type Res } from './fpu-ref.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WASM = join(ROOT, 'build', 'fpu-test.wasm');
const SOURCES = [join(ROOT, 'assembly', 'fpu.ts'), join(ROOT, 'assembly', 'fpu_test.ts')];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let W: any;

beforeAll(() => {
  const stale = !existsSync(WASM) || SOURCES.some((s) => statSync(s).mtimeMs > statSync(WASM).mtimeMs);
  if (stale) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js'),
      'assembly/fpu_test.ts', '--runtime', 'stub', '-O3',
      '--outFile', 'build/fpu-test.wasm', '--textFile', 'build/fpu-test.wat'], { cwd: ROOT, stdio: 'inherit' });
  }
  const mod = new WebAssembly.Module(readFileSync(WASM));
  // the project's asconfig makes the module import a shared memory
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  W = new WebAssembly.Instance(mod, { env: { memory, abort: () => { throw new Error('abort'); } } }).exports;
}, 120_000);

// property-test runs per operation; FPU_RUNS=200000 for a long soak
const RUNS = Number(process.env.FPU_RUNS ?? 25000);
const hex = (x: bigint) => '0x' + x.toString(16);

function call(name: string, args: bigint[], rm?: number): Res {
  W.resetFlags();
  const r = rm === undefined ? W[name](...args) : W[name](...args, rm);
  return { bits: BigInt.asUintN(64, BigInt(r)), flags: W.getFlags() >>> 0 };
}

function check(name: string, args: bigint[], rm: number | undefined, exp: Res): void {
  const got = call(name, args, rm);
  if (got.bits !== exp.bits || got.flags !== exp.flags) {
    throw new Error(`${name}(${args.map(hex).join(', ')}${rm !== undefined ? `, rm=${rm}` : ''}): ` +
      `got ${hex(got.bits)} flags ${got.flags}, expected ${hex(exp.bits)} flags ${exp.flags}`);
  }
}

const sfx = (f: Fmt) => (f.w === 64 ? '_d' : '_s');
const rmArb = fc.integer({ min: 0, max: 4 });

// ---------------------------------------------------------------------------
// operand generators

function build(f: Fmt, neg: boolean, e: number, m: bigint): bigint {
  const mm = (1n << BigInt(f.mbits)) - 1n;
  return (neg ? R.signBit(f) : 0n) | (BigInt(e) << BigInt(f.mbits)) | (m & mm);
}
const expField = (f: Fmt, a: bigint) => Number((a >> BigInt(f.mbits)) & ((1n << BigInt(f.ebits)) - 1n));

function specials(f: Fmt): bigint[] {
  const MB = BigInt(f.mbits), mm = (1n << MB) - 1n, maxE = (1 << f.ebits) - 1;
  const out: bigint[] = [];
  const pos = [
    build(f, false, 0, 0n),                 // 0
    build(f, false, maxE, 0n),              // inf
    build(f, false, 0, 1n),                 // min subnormal
    build(f, false, 0, mm),                 // max subnormal
    build(f, false, 0, 1n << (MB - 1n)),    // 2^(emin-1)
    build(f, false, 1, 0n),                 // min normal
    build(f, false, 1, 1n),
    build(f, false, maxE - 1, mm),          // max finite
    build(f, false, maxE - 1, mm - 1n),
    build(f, false, maxE - 1, 0n),
    build(f, false, f.bias, 0n),            // 1
    build(f, false, f.bias, 1n),            // 1 + ulp
    build(f, false, f.bias - 1, mm),        // 1 - ulp/2
    build(f, false, f.bias + 1, 0n),        // 2
    build(f, false, f.bias - 1, 0n),        // 0.5
    build(f, false, f.bias, 1n << (MB - 1n)), // 1.5
    build(f, false, f.bias + 1, 1n << (MB - 1n)), // 3
  ];
  for (const p of pos) out.push(p, p | R.signBit(f));
  out.push(
    build(f, false, maxE, 1n << (MB - 1n)),        // canonical qNaN
    build(f, true, maxE, 1n << (MB - 1n)),
    build(f, false, maxE, (1n << (MB - 1n)) | 0x123n), // qNaN with payload
    build(f, false, maxE, 1n),                     // sNaN
    build(f, true, maxE, mm >> 1n),                // sNaN
  );
  return out;
}

function floatArb(f: Fmt): fc.Arbitrary<bigint> {
  const MB = BigInt(f.mbits), mm = (1n << MB) - 1n, maxE = (1 << f.ebits) - 1;
  const exp = fc.oneof(
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: maxE - 3, max: maxE }),
    fc.integer({ min: f.bias - 3, max: f.bias + 3 }),
    fc.integer({ min: 0, max: maxE }),
    fc.integer({ min: f.bias - f.p - 3, max: f.bias + f.p + 3 }),
  );
  const man = fc.oneof(
    fc.bigInt({ min: 0n, max: mm }),
    fc.constantFrom(0n, 1n, 2n, 3n, mm, mm - 1n, 1n << (MB - 1n), (1n << (MB - 1n)) + 1n, (1n << (MB - 1n)) - 1n),
    // short significands: exact results and exact ties
    fc.tuple(fc.integer({ min: 0, max: (f.p >> 1) + 1 }), fc.bigInt({ min: 0n, max: mm }))
      .map(([k, r]) => (r >> BigInt(f.mbits - k)) << BigInt(f.mbits - k)),
    // trailing ones
    fc.tuple(fc.integer({ min: 1, max: f.mbits }), fc.bigInt({ min: 0n, max: mm }))
      .map(([k, r]) => r | ((1n << BigInt(k)) - 1n)),
    // one or two bits set: sparse exact products, halfway cases far apart
    fc.tuple(fc.integer({ min: 0, max: f.mbits - 1 }), fc.integer({ min: -1, max: f.mbits - 1 }))
      .map(([i, j]) => (1n << BigInt(i)) | (j >= 0 ? 1n << BigInt(j) : 0n)),
  );
  return fc.oneof(
    { arbitrary: fc.bigInt({ min: 0n, max: (1n << BigInt(f.w)) - 1n }), weight: 3 },
    { arbitrary: fc.constantFrom(...specials(f)), weight: 2 },
    { arbitrary: fc.tuple(fc.boolean(), exp, man).map(([s, e, m]) => build(f, s, e, m)), weight: 6 },
  );
}

type PairKind = 'add' | 'mul' | 'div';

function pairArb(f: Fmt, kind: PairKind): fc.Arbitrary<[bigint, bigint]> {
  const g = floatArb(f);
  const S = R.signBit(f), ABS = S - 1n, maxE = (1 << f.ebits) - 1;
  const MB = BigInt(f.mbits), EM = ((1n << BigInt(f.ebits)) - 1n) << MB;
  const clampE = (e: number) => Math.max(0, Math.min(maxE, e));
  const mm = (1n << MB) - 1n;
  const nearOne = [0n, 1n, 2n, 3n, mm, mm - 1n, mm - 2n];
  const withExp = (x: bigint, e: number) => (x & ~EM) | (BigInt(clampE(e)) << MB);
  return fc.oneof(
    { arbitrary: fc.tuple(g, g), weight: 6 },
    // equal magnitudes
    { arbitrary: fc.tuple(g, fc.boolean()).map(([a, s]): [bigint, bigint] => [a, s ? a ^ S : a]), weight: 1 },
    // nearly equal magnitudes (cancellation)
    {
      arbitrary: fc.tuple(g, fc.integer({ min: -4, max: 4 }), fc.boolean()).map(([a, d, s]): [bigint, bigint] => {
        let m = (a & ABS) + BigInt(d);
        if (m < 0n) m = 0n;
        if (m > ABS) m = ABS;
        return [a, ((a & S) ^ (s ? S : 0n)) | m];
      }),
      weight: 2,
    },
    // exponents a small distance apart
    {
      arbitrary: fc.tuple(g, g, fc.integer({ min: -(f.p + 4), max: f.p + 4 }))
        .map(([a, b, k]): [bigint, bigint] => [a, withExp(b, expField(f, a) + k)]),
      weight: 3,
    },
    // results near the overflow and underflow thresholds
    {
      arbitrary: fc.tuple(g, g, fc.integer({ min: 1, max: maxE - 1 }),
        fc.oneof(fc.integer({ min: f.emin - f.p - 2, max: f.emin + 2 }), fc.integer({ min: f.emax - 2, max: f.emax + 1 })))
        .map(([a, b, ea, t]): [bigint, bigint] => {
          const ua = ea - f.bias;
          const ub = kind === 'div' ? ua - t : kind === 'mul' ? t - ua : t;
          return kind === 'add' ? [withExp(a, t + f.bias), withExp(b, t + f.bias - 1)] : [withExp(a, ea), withExp(b, ub + f.bias)];
        }),
      weight: 3,
    },
    // significands near 1 or 2 and exponents at the thresholds: results just
    // below/above a power of two at the underflow and overflow boundaries
    {
      arbitrary: fc.tuple(fc.boolean(), fc.boolean(), fc.constantFrom(...nearOne), fc.constantFrom(...nearOne),
        fc.integer({ min: 1, max: maxE - 1 }), fc.constantFrom(f.emin - 2, f.emin - 1, f.emin, f.emax, f.emax + 1),
        fc.integer({ min: -1, max: 1 }))
        .map(([sa, sb, ma, mb, ea, t, k]): [bigint, bigint] => {
          const ua = ea - f.bias;
          const ub = kind === 'div' ? ua - t + k : kind === 'mul' ? t - ua + k : t + k;
          const eaa = kind === 'add' ? t + f.bias : ea;
          return [build(f, sa, clampE(eaa), ma), build(f, sb, clampE(ub + f.bias), mb)];
        }),
      weight: 2,
    },
  );
}

function tripleArb(f: Fmt): fc.Arbitrary<[bigint, bigint, bigint]> {
  const g = floatArb(f);
  const S = R.signBit(f), ABS = S - 1n, maxE = (1 << f.ebits) - 1;
  const MB = BigInt(f.mbits), EM = ((1n << BigInt(f.ebits)) - 1n) << MB;
  const withExp = (x: bigint, e: number) => (x & ~EM) | (BigInt(Math.max(0, Math.min(maxE, e))) << MB);
  const mp = pairArb(f, 'mul');
  return fc.oneof(
    { arbitrary: fc.tuple(g, g, g), weight: 3 },
    { arbitrary: fc.tuple(mp, g).map(([[a, b], c]): [bigint, bigint, bigint] => [a, b, c]), weight: 2 },
    // addend cancelling the rounded product (massive cancellation)
    {
      arbitrary: fc.tuple(mp, fc.integer({ min: -3, max: 3 }), fc.boolean()).map(([[a, b], d, same]): [bigint, bigint, bigint] => {
        const p = R.mul(f, a, b, 0).bits;
        let m = (p & ABS) + BigInt(d);
        if (m < 0n) m = 0n;
        if (m > ABS) m = ABS;
        return [a, b, ((p & S) ^ (same ? 0n : S)) | m];
      }),
      weight: 3,
    },
    // addend exponent near the product's
    {
      arbitrary: fc.tuple(mp, g, fc.integer({ min: -(2 * f.p + 4), max: 2 * f.p + 4 })).map(([[a, b], c, k]): [bigint, bigint, bigint] => {
        const p = R.mul(f, a, b, 0).bits;
        return [a, b, withExp(c, expField(f, p) + k)];
      }),
      weight: 3,
    },
  );
}

/** binary64 values around the binary32 range and binary32 rounding boundaries. */
const narrowArb: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: floatArb(F64), weight: 2 },
  {
    arbitrary: fc.tuple(fc.boolean(),
      fc.oneof(fc.integer({ min: 1023 - 155, max: 1023 - 120 }), fc.integer({ min: 1023 + 120, max: 1023 + 130 }),
        fc.integer({ min: 1020, max: 1026 }), fc.integer({ min: 0, max: 2047 })),
      fc.oneof(fc.bigInt({ min: 0n, max: (1n << 23n) - 1n }), fc.constantFrom(0n, 1n, (1n << 23n) - 1n, (1n << 23n) - 2n)),
      fc.oneof(fc.constantFrom(0n, 1n << 28n, (1n << 28n) - 1n, (1n << 28n) + 1n, 1n, (1n << 29n) - 1n),
        fc.bigInt({ min: 0n, max: (1n << 29n) - 1n })))
      .map(([s, e, top, low]) => build(F64, s, e, (top << 29n) | low)),
    weight: 5,
  },
);

function bitsOfNumber(f: Fmt, x: number): bigint {
  if (f.w === 64) {
    const b = new BigUint64Array(new Float64Array([x]).buffer);
    return b[0];
  }
  const b = new Uint32Array(new Float32Array([x]).buffer);
  return BigInt(b[0]);
}
function numberOfBits(f: Fmt, a: bigint): number {
  if (f.w === 64) return new Float64Array(new BigUint64Array([a]).buffer)[0];
  return new Float32Array(new Uint32Array([Number(a)]).buffer)[0];
}

/** Values near integer-conversion limits and halfway points. */
function toIntArb(f: Fmt): fc.Arbitrary<bigint> {
  const near = fc.tuple(
    fc.constantFrom(0n, 1n, 2n, 3n, 1n << 23n, 1n << 24n, 1n << 31n, 1n << 32n, 1n << 52n, 1n << 53n, 1n << 63n, 1n << 64n),
    fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, 0.25, 0.5, 0.75, -0.25, -0.5), fc.boolean(),
  ).map(([k, d, frac, neg]) => {
    const v = Number(k + BigInt(d)) + frac;
    return bitsOfNumber(f, neg ? -v : v);
  });
  return fc.oneof({ arbitrary: floatArb(f), weight: 2 }, { arbitrary: near, weight: 3 });
}

const M64 = (1n << 64n) - 1n;
const intArb: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: -3, max: 3 }), fc.boolean())
    .map(([k, d, neg]) => BigInt.asUintN(64, (neg ? -1n : 1n) * ((1n << BigInt(k)) + BigInt(d)))),
  fc.tuple(fc.integer({ min: 1, max: 64 }), fc.bigInt({ min: 0n, max: M64 })).map(([k, r]) => r >> BigInt(64 - k)),
  fc.bigInt({ min: 0n, max: M64 }).map((r) => BigInt.asUintN(64, BigInt.asIntN(32, r))),
  // short significands at any position (exact, ties)
  fc.tuple(fc.bigInt({ min: 0n, max: (1n << 27n) - 1n }), fc.integer({ min: 0, max: 40 }), fc.boolean())
    .map(([m, s, neg]) => BigInt.asUintN(64, (neg ? -1n : 1n) * (m << BigInt(s)))),
);

/** Binary32 operands get random junk in the upper half (the FPU must ignore it). */
const junk = (f: Fmt, a: bigint, j: bigint) => (f.w === 32 ? a | (j << 32n) : a);
const junkArb = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 0xffffffffn }));

// ---------------------------------------------------------------------------

describe('fpu reference model', () => {
  it('agrees with the host (round to nearest even) on binary64 and binary32', () => {
    for (const f of [F64, F32]) {
      const host = (op: string, x: number, y: number) => {
        const r = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : op === 'div' ? x / y : Math.sqrt(x);
        return f.w === 32 ? Math.fround(r) : r; // double rounding is innocuous for these ops
      };
      fc.assert(fc.property(pairArb(f, 'mul'), fc.constantFrom('add', 'sub', 'mul', 'div', 'sqrt'), ([a, b], op) => {
        const x = numberOfBits(f, a), y = numberOfBits(f, b);
        const h = host(op, x, y);
        if (Number.isNaN(h)) return;
        const ref = op === 'sqrt' ? R.sqrt(f, a, 0) : (R as unknown as Record<string, (f: Fmt, a: bigint, b: bigint, rm: number) => Res>)[op](f, a, b, 0);
        expect(hex(ref.bits)).toBe(hex(bitsOfNumber(f, h)));
      }), { numRuns: 3000 });
    }
    fc.assert(fc.property(narrowArb, (a) => {
      const x = numberOfBits(F64, a);
      if (Number.isNaN(x)) return;
      expect(hex(R.convert(F64, F32, a, 0).bits)).toBe(hex(bitsOfNumber(F32, Math.fround(x))));
    }), { numRuns: 2000 });
    fc.assert(fc.property(intArb, (x) => {
      expect(hex(R.fromInt(F64, x, 'l', 0).bits)).toBe(hex(bitsOfNumber(F64, Number(BigInt.asIntN(64, x)))));
    }), { numRuns: 1000 });
  });
});

for (const f of [F64, F32]) {
  const s = sfx(f);
  const name = f.w === 64 ? 'binary64' : 'binary32';
  describe(`fpu ${name} properties`, () => {
    const ops: [string, PairKind, (f: Fmt, a: bigint, b: bigint, rm: number) => Res][] = [
      ['fadd', 'add', R.add], ['fsub', 'add', R.sub], ['fmul', 'mul', R.mul], ['fdiv', 'div', R.div],
    ];
    for (const [op, kind, ref] of ops) {
      it(`${op}${s}`, () => {
        fc.assert(fc.property(pairArb(f, kind), rmArb, junkArb, ([a, b], rm, j) => {
          check(op + s, [junk(f, a, j), junk(f, b, j)], rm, ref(f, a, b, rm));
        }), { numRuns: RUNS });
      });
    }
    if (f.w === 64) {
      for (const [op, kind, ref] of [['faddSlow_d', 'add', R.add], ['fmulSlow_d', 'mul', R.mul], ['fdivSlow_d', 'div', R.div]] as const) {
        it(`${op} (exact path only)`, () => {
          fc.assert(fc.property(pairArb(f, kind), rmArb, ([a, b], rm) => check(op, [a, b], rm, ref(f, a, b, rm))), { numRuns: RUNS });
        });
      }
    }
    if (f.w === 64) {
      it('fmaSlow_d (exact path only)', () => {
        fc.assert(fc.property(tripleArb(f), rmArb, ([a, b, c], rm) => check('fmaSlow_d', [a, b, c], rm, R.fma(f, a, b, c, rm))), { numRuns: RUNS });
      });
    }
    it(`fsqrt${s}`, () => {
      fc.assert(fc.property(floatArb(f), rmArb, junkArb, (a, rm, j) => {
        check('fsqrt' + s, [junk(f, a, j)], rm, R.sqrt(f, a, rm));
      }), { numRuns: RUNS });
    });
    for (const op of ['madd', 'msub', 'nmsub', 'nmadd'] as const) {
      it(`f${op}${s}`, () => {
        fc.assert(fc.property(tripleArb(f), rmArb, junkArb, ([a, b, c], rm, j) => {
          check(`f${op}${s}`, [junk(f, a, j), junk(f, b, j), junk(f, c, j)], rm, R.fmaVariant(f, op, a, b, c, rm));
        }), { numRuns: op === 'madd' ? 3 * RUNS : RUNS });
      });
    }
    it(`fmin${s} fmax${s} feq${s} flt${s} fle${s}`, () => {
      fc.assert(fc.property(pairArb(f, 'add'), junkArb, ([a, b], j) => {
        const A = junk(f, a, j), B = junk(f, b, j);
        check('fmin' + s, [A, B], undefined, R.minmax(f, a, b, false));
        check('fmax' + s, [A, B], undefined, R.minmax(f, a, b, true));
        check('feq' + s, [A, B], undefined, R.compare(f, 'eq', a, b));
        check('flt' + s, [A, B], undefined, R.compare(f, 'lt', a, b));
        check('fle' + s, [A, B], undefined, R.compare(f, 'le', a, b));
      }), { numRuns: RUNS });
    });
    it(`fclass${s}`, () => {
      fc.assert(fc.property(floatArb(f), junkArb, (a, j) => check('fclass' + s, [junk(f, a, j)], undefined, R.fclass(f, a))), { numRuns: 1000 });
    });
    for (const kind of ['w', 'wu', 'l', 'lu'] as const) {
      it(`fcvt_${kind}${s}`, () => {
        fc.assert(fc.property(toIntArb(f), rmArb, junkArb, (a, rm, j) => {
          check(`fcvt_${kind}${s}`, [junk(f, a, j)], rm, R.toInt(f, a, kind, rm));
        }), { numRuns: RUNS });
      });
      it(`fcvt${s}_${kind}`, () => {
        fc.assert(fc.property(intArb, rmArb, (x, rm) => {
          check(`fcvt${s}_${kind}`, [x], rm, R.fromInt(f, x, kind, rm));
        }), { numRuns: RUNS });
      });
    }
  });
}

describe('fpu format conversions', () => {
  it('fcvt_s_d and its exact path', () => {
    fc.assert(fc.property(narrowArb, rmArb, (a, rm) => {
      const exp = R.convert(F64, F32, a, rm);
      check('fcvt_s_d', [a], rm, exp);
      check('fcvtSlow_s_d', [a], rm, exp);
    }), { numRuns: 2 * RUNS });
  });
  it('fcvt_d_s', () => {
    fc.assert(fc.property(floatArb(F32), rmArb, junkArb, (a, rm, j) => {
      check('fcvt_d_s', [junk(F32, a, j)], rm, R.convert(F32, F64, a, rm));
    }), { numRuns: RUNS });
  });
});

// ---------------------------------------------------------------------------
// hand-written cases (expected values written out, not computed)

const D = {
  one: 0x3ff0000000000000n, two: 0x4000000000000000n, half: 0x3fe0000000000000n,
  pz: 0n, nz: 0x8000000000000000n, inf: 0x7ff0000000000000n, ninf: 0xfff0000000000000n,
  cnan: 0x7ff8000000000000n, qnanP: 0x7ff8000000000123n, snan: 0x7ff0000000000001n,
  max: 0x7fefffffffffffffn, minN: 0x0010000000000000n, minS: 1n,
};
const S32 = {
  one: 0x3f800000n, two: 0x40000000n, pz: 0n, nz: 0x80000000n, inf: 0x7f800000n, ninf: 0xff800000n,
  cnan: 0x7fc00000n, snan: 0x7f800001n, max: 0x7f7fffffn, minN: 0x00800000n,
};
const { NV, DZ, OF, UF, NX } = R;

describe('fpu spec cases', () => {
  const t = (name: string, args: bigint[], rm: number | undefined, bits: bigint, flags: number) =>
    check(name, args, rm, { bits, flags });

  it('addition: rounding modes, ties, signed zeros, invalid', () => {
    const tiny = 0x3ca0000000000000n; // 2^-53: 1 + 2^-53 is a tie
    t('fadd_d', [D.one, tiny], 0, D.one, NX);
    t('fadd_d', [D.one, tiny], 4, 0x3ff0000000000001n, NX);
    t('fadd_d', [D.one, tiny], 3, 0x3ff0000000000001n, NX);
    t('fadd_d', [D.one, tiny], 1, D.one, NX);
    t('fadd_d', [D.one, 0xbc90000000000000n], 2, 0x3fefffffffffffffn, NX); // 1 - 2^-54
    t('fadd_d', [D.one, 0xbc90000000000000n], 0, D.one, NX);
    t('fadd_d', [D.pz, D.nz], 0, D.pz, 0);
    t('fadd_d', [D.pz, D.nz], 2, D.nz, 0);
    t('fadd_d', [D.nz, D.nz], 0, D.nz, 0);
    t('fsub_d', [D.one, D.one], 0, D.pz, 0);
    t('fsub_d', [D.one, D.one], 2, D.nz, 0);
    t('fadd_d', [D.inf, D.ninf], 0, D.cnan, NV);
    t('fadd_d', [D.snan, D.one], 0, D.cnan, NV);
    t('fadd_d', [D.qnanP, D.one], 0, D.cnan, 0);
    t('fadd_d', [D.max, D.max], 0, D.inf, OF | NX);
    t('fadd_d', [D.max, D.max], 1, D.max, OF | NX);
    t('fadd_s', [S32.one, 0x33800000n], 0, S32.one, NX);       // 1 + 2^-24: tie
    t('fadd_s', [S32.one, 0x33800000n], 4, 0x3f800001n, NX);
    t('fsub_s', [S32.one, S32.one], 2, S32.nz, 0);
    t('fadd_s', [S32.inf, S32.ninf], 0, S32.cnan, NV);
  });

  it('multiplication and division: overflow, underflow after rounding, divide by zero', () => {
    t('fmul_d', [D.max, D.two], 0, D.inf, OF | NX);
    t('fmul_d', [D.max, D.two], 1, D.max, OF | NX);
    t('fmul_d', [D.max | D.nz, D.two], 3, D.max | D.nz, OF | NX);
    t('fmul_d', [D.minN, D.half], 0, 0x0008000000000000n, 0);   // exact subnormal: no UF
    // 2^-1022 * (1 - 2^-53): rounds to 2^-1022 but is tiny after rounding
    t('fmul_d', [D.minN, 0x3fefffffffffffffn], 0, D.minN, UF | NX);
    t('fmul_d', [D.minN, 0x3fefffffffffffffn], 1, 0x000fffffffffffffn, UF | NX);
    t('fmul_d', [D.minS, D.half], 0, D.pz, UF | NX);
    t('fmul_d', [D.minS, D.half], 4, D.minS, UF | NX);
    t('fmul_d', [D.minS, D.half], 3, D.minS, UF | NX);
    t('fmul_d', [D.minS | D.nz, D.half], 3, D.nz, UF | NX);
    t('fmul_d', [D.inf, D.pz], 0, D.cnan, NV);
    t('fdiv_d', [D.one, D.pz], 0, D.inf, DZ);
    t('fdiv_d', [D.one | D.nz, D.pz], 0, D.ninf, DZ);
    t('fdiv_d', [D.pz, D.pz], 0, D.cnan, NV);
    t('fdiv_d', [D.inf, D.inf], 0, D.cnan, NV);
    t('fdiv_d', [D.one, D.inf], 0, D.pz, 0);
    t('fdiv_d', [D.one, 0x4008000000000000n], 0, 0x3fd5555555555555n, NX);  // 1/3
    t('fdiv_d', [D.one, 0x4008000000000000n], 3, 0x3fd5555555555556n, NX);
    t('fdiv_s', [S32.one, 0x40400000n], 0, 0x3eaaaaabn, NX);
    t('fdiv_s', [S32.one, 0x40400000n], 1, 0x3eaaaaaan, NX);
    t('fdiv_s', [S32.one, S32.pz], 0, S32.inf, DZ);
    t('fmul_s', [S32.max, S32.two], 0, S32.inf, OF | NX);
    t('fmul_s', [S32.minN, 0x3f7fffffn], 0, S32.minN, UF | NX);
  });

  it('square root', () => {
    t('fsqrt_d', [D.one | D.nz], 0, D.cnan, NV);
    t('fsqrt_d', [D.nz], 0, D.nz, 0);
    t('fsqrt_d', [0x4010000000000000n], 0, D.two, 0);
    t('fsqrt_d', [D.two], 0, 0x3ff6a09e667f3bcdn, NX);
    t('fsqrt_d', [D.two], 1, 0x3ff6a09e667f3bccn, NX);
    t('fsqrt_d', [D.inf], 0, D.inf, 0);
    t('fsqrt_d', [D.ninf], 0, D.cnan, NV);
    t('fsqrt_d', [D.snan], 0, D.cnan, NV);
    t('fsqrt_d', [D.minS], 0, 0x1e60000000000000n, 0);          // sqrt(2^-1074) = 2^-537
    t('fsqrt_s', [S32.one | S32.nz], 0, S32.cnan, NV);
    t('fsqrt_s', [S32.two], 0, 0x3fb504f3n, NX);
    t('fsqrt_s', [S32.two], 2, 0x3fb504f3n, NX);
    t('fsqrt_s', [S32.two], 3, 0x3fb504f4n, NX);
  });

  it('fused multiply-add: single rounding, invalid, signed zeros', () => {
    // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly (unfused: 0)
    t('fmadd_d', [0x3ff0000000000001n, 0x3feffffffffffffen, D.one | D.nz], 0, 0xb970000000000000n, 0);
    t('fmsub_d', [0x3ff0000000000001n, 0x3feffffffffffffen, D.one], 0, 0xb970000000000000n, 0);
    t('fnmsub_d', [0x3ff0000000000001n, 0x3feffffffffffffen, D.one], 0, 0x3970000000000000n, 0);
    t('fnmadd_d', [0x3ff0000000000001n, 0x3feffffffffffffen, D.one | D.nz], 0, 0x3970000000000000n, 0);
    t('fmadd_d', [D.inf, D.pz, D.cnan], 0, D.cnan, NV);        // inf*0 + qNaN still raises NV
    t('fmadd_d', [D.cnan, D.pz, D.one], 0, D.cnan, 0);
    t('fmadd_d', [D.inf, D.one, D.ninf], 0, D.cnan, NV);
    t('fmadd_d', [D.one, D.one, D.one | D.nz], 0, D.pz, 0);
    t('fmadd_d', [D.one, D.one, D.one | D.nz], 2, D.nz, 0);
    t('fmadd_d', [D.pz, D.one | D.nz, D.pz], 0, D.pz, 0);      // -0 + +0
    t('fmadd_d', [D.pz, D.one | D.nz, D.nz], 0, D.nz, 0);      // -0 + -0
    t('fnmadd_d', [D.pz, D.one, D.pz], 0, D.nz, 0);            // -(0) - 0 = -0
    t('fmadd_d', [D.max, D.two, D.max | D.nz], 0, D.max, 0);   // exact despite the huge product
    t('fmadd_s', [0x3f800001n, 0x3f7ffffen, S32.one | S32.nz], 0, 0xa8800000n, 0); // -2^-46
    t('fmadd_s', [S32.inf, S32.pz, S32.cnan], 0, S32.cnan, NV);
  });

  it('min/max, comparisons, classify', () => {
    t('fmin_d', [D.snan, D.one], undefined, D.one, NV);
    t('fmin_d', [D.qnanP, D.one], undefined, D.one, 0);
    t('fmax_d', [D.one, D.qnanP], undefined, D.one, 0);
    t('fmin_d', [D.qnanP, D.qnanP], undefined, D.cnan, 0);
    t('fmin_d', [D.pz, D.nz], undefined, D.nz, 0);
    t('fmin_d', [D.nz, D.pz], undefined, D.nz, 0);
    t('fmax_d', [D.nz, D.pz], undefined, D.pz, 0);
    t('fmin_s', [S32.snan, S32.snan], undefined, S32.cnan, NV);
    t('fmax_s', [S32.nz, S32.pz], undefined, S32.pz, 0);
    t('feq_d', [D.qnanP, D.one], undefined, 0n, 0);
    t('feq_d', [D.snan, D.one], undefined, 0n, NV);
    t('feq_d', [D.pz, D.nz], undefined, 1n, 0);
    t('flt_d', [D.qnanP, D.one], undefined, 0n, NV);
    t('fle_d', [D.nz, D.pz], undefined, 1n, 0);
    t('flt_d', [D.nz, D.pz], undefined, 0n, 0);
    t('fle_s', [S32.cnan, S32.one], undefined, 0n, NV);
    t('feq_s', [S32.cnan, S32.one], undefined, 0n, 0);
    const cls: [bigint, number][] = [[D.ninf, 0], [D.one | D.nz, 1], [D.minS | D.nz, 2], [D.nz, 3], [D.pz, 4],
      [D.minS, 5], [D.one, 6], [D.inf, 7], [D.snan, 8], [D.cnan, 9]];
    for (const [v, bit] of cls) t('fclass_d', [v], undefined, 1n << BigInt(bit), 0);
    const clsS: [bigint, number][] = [[S32.ninf, 0], [S32.one | S32.nz, 1], [0x80000001n, 2], [S32.nz, 3], [S32.pz, 4],
      [1n, 5], [S32.one, 6], [S32.inf, 7], [S32.snan, 8], [S32.cnan, 9]];
    for (const [v, bit] of clsS) t('fclass_s', [v], undefined, 1n << BigInt(bit), 0);
  });

  it('float to integer: rounding, clipping table, flags', () => {
    const d = (x: number) => bitsOfNumber(F64, x);
    t('fcvt_w_d', [D.cnan], 0, 0x7fffffffn, NV);
    t('fcvt_w_d', [D.ninf], 0, 0xffffffff80000000n, NV);
    t('fcvt_w_d', [D.inf], 0, 0x7fffffffn, NV);
    t('fcvt_w_d', [d(2147483648)], 0, 0x7fffffffn, NV);
    t('fcvt_w_d', [d(-2147483648.5)], 1, 0xffffffff80000000n, NX);
    t('fcvt_w_d', [d(-2147483648.5)], 2, 0xffffffff80000000n, NV);
    t('fcvt_w_d', [d(2.5)], 0, 2n, NX);
    t('fcvt_w_d', [d(2.5)], 4, 3n, NX);
    t('fcvt_w_d', [d(-2.5)], 4, 0xfffffffffffffffdn, NX);
    t('fcvt_w_d', [d(-2.5)], 2, 0xfffffffffffffffdn, NX);
    t('fcvt_w_d', [d(-2.5)], 3, 0xfffffffffffffffen, NX);
    t('fcvt_w_d', [d(-0.0)], 0, 0n, 0);
    t('fcvt_wu_d', [d(-0.5)], 1, 0n, NX);
    t('fcvt_wu_d', [d(-0.5)], 2, 0n, NV);
    t('fcvt_wu_d', [d(-1)], 0, 0n, NV);
    t('fcvt_wu_d', [d(4294967295)], 0, 0xffffffffffffffffn, 0);  // 32-bit result sign-extended
    t('fcvt_wu_d', [d(2147483648)], 0, 0xffffffff80000000n, 0);
    t('fcvt_wu_d', [D.cnan], 0, 0xffffffffffffffffn, NV);
    t('fcvt_wu_d', [D.ninf], 0, 0n, NV);
    t('fcvt_l_d', [d(2 ** 63)], 0, 0x7fffffffffffffffn, NV);
    t('fcvt_l_d', [d(-(2 ** 63))], 0, 0x8000000000000000n, 0);
    t('fcvt_l_d', [D.cnan], 0, 0x7fffffffffffffffn, NV);
    t('fcvt_lu_d', [d(-0.0)], 0, 0n, 0);
    t('fcvt_lu_d', [d(2 ** 64)], 0, 0xffffffffffffffffn, NV);
    t('fcvt_lu_d', [d(-(2 ** 64))], 0, 0n, NV);
    t('fcvt_lu_d', [d(2 ** 63)], 0, 0x8000000000000000n, 0);
    t('fcvt_w_s', [0x4f000000n], 0, 0x7fffffffn, NV);         // 2^31
    t('fcvt_w_s', [0xcf000000n], 0, 0xffffffff80000000n, 0);  // -2^31
    t('fcvt_wu_s', [S32.cnan], 0, 0xffffffffffffffffn, NV);
    t('fcvt_l_s', [0x3fc00000n], 0, 2n, NX);                  // 1.5
  });

  it('integer to float and float to float', () => {
    t('fcvt_d_l', [(1n << 53n) + 1n], 0, 0x4340000000000000n, NX);
    t('fcvt_d_l', [(1n << 53n) + 1n], 3, 0x4340000000000001n, NX);
    t('fcvt_d_l', [0x8000000000000000n], 0, 0xc3e0000000000000n, 0);
    t('fcvt_d_lu', [M64], 0, 0x43f0000000000000n, NX);
    t('fcvt_d_lu', [M64], 1, 0x43efffffffffffffn, NX);
    t('fcvt_d_w', [0xffffffffn], 0, 0xbff0000000000000n, 0);   // low 32 bits, signed
    t('fcvt_d_wu', [0xffffffff00000001n], 0, D.one, 0);         // upper bits ignored
    t('fcvt_s_w', [0x7fffffffn], 0, 0x4f000000n, NX);
    t('fcvt_s_w', [0x7fffffffn], 1, 0x4effffffn, NX);
    t('fcvt_s_w', [0n], 0, 0n, 0);
    t('fcvt_s_lu', [M64], 0, 0x5f800000n, NX);
    t('fcvt_s_l', [M64], 0, 0xbf800000n, 0);                    // -1
    t('fcvt_s_d', [D.max], 0, S32.inf, OF | NX);
    t('fcvt_s_d', [D.max], 1, S32.max, OF | NX);
    t('fcvt_s_d', [D.snan], 0, S32.cnan, NV);
    t('fcvt_s_d', [D.qnanP], 0, S32.cnan, 0);
    t('fcvt_s_d', [D.minS], 0, S32.pz, UF | NX);
    t('fcvt_s_d', [D.minS], 3, 1n, UF | NX);
    t('fcvt_s_d', [0x3ff0000010000000n], 0, S32.one, NX);       // 1 + 2^-24: tie to even
    t('fcvt_s_d', [0x3ff0000010000000n], 4, 0x3f800001n, NX);
    t('fcvt_d_s', [S32.snan], 0, D.cnan, NV);
    t('fcvt_d_s', [0x7fc00001n], 0, D.cnan, 0);
    t('fcvt_d_s', [1n], 0, 0x36a0000000000000n, 0);             // 2^-149 exactly
  });
});
