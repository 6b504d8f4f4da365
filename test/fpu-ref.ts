// Exact reference model of IEEE 754 binary32/binary64 arithmetic with RISC-V
// semantics, on BigInt rationals. Slow and simple on purpose: every operation
// computes the exact mathematical result and rounds it once with roundQ,
// which follows the definitions in IEEE 754-2019 (rounding-direction
// attributes, overflow, underflow with tininess detected after rounding) and
// the RISC-V F/D chapters (canonical NaN, NaN inputs, conversion clipping).

export interface Fmt {
  w: number;      // total width
  p: number;      // precision (significand bits incl. hidden)
  mbits: number;  // stored significand bits
  ebits: number;
  emin: number;
  emax: number;
  bias: number;
}

export const F32: Fmt = { w: 32, p: 24, mbits: 23, ebits: 8, emin: -126, emax: 127, bias: 127 };
export const F64: Fmt = { w: 64, p: 53, mbits: 52, ebits: 11, emin: -1022, emax: 1023, bias: 1023 };

export const NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
export const RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;

export interface Res { bits: bigint; flags: number }

export type Val =
  | { k: "nan"; snan: boolean }
  | { k: "inf"; neg: boolean }
  | { k: "fin"; neg: boolean; m: bigint; e: number }; // value (-1)^neg * m * 2^e, m may be 0

const B = (n: number) => BigInt(n);

export function signBit(f: Fmt): bigint { return 1n << B(f.w - 1); }
export function canonNaN(f: Fmt): bigint { return f.w === 32 ? 0x7fc00000n : 0x7ff8000000000000n; }
export function infBits(f: Fmt, neg: boolean): bigint {
  return (neg ? signBit(f) : 0n) | (((1n << B(f.ebits)) - 1n) << B(f.mbits));
}
export function maxBits(f: Fmt, neg: boolean): bigint { return infBits(f, neg) - 1n; }
export function zeroBits(f: Fmt, neg: boolean): bigint { return neg ? signBit(f) : 0n; }

export function decode(bits: bigint, f: Fmt): Val {
  const neg = ((bits >> B(f.w - 1)) & 1n) === 1n;
  const E = Number((bits >> B(f.mbits)) & ((1n << B(f.ebits)) - 1n));
  const M = bits & ((1n << B(f.mbits)) - 1n);
  if (E === (1 << f.ebits) - 1) {
    if (M === 0n) return { k: "inf", neg };
    return { k: "nan", snan: ((M >> B(f.mbits - 1)) & 1n) === 0n };
  }
  if (E === 0) return { k: "fin", neg, m: M, e: f.emin - f.mbits };
  return { k: "fin", neg, m: M | (1n << B(f.mbits)), e: E - f.bias - f.mbits };
}

function bitlen(x: bigint): number { return x === 0n ? 0 : x.toString(2).length; }

/** Rounds (-1)^neg * num/den (num, den > 0) to the format. */
export function roundQ(neg: boolean, num: bigint, den: bigint, f: Fmt, rm: number): Res {
  let E = bitlen(num) - bitlen(den);
  // want 2^E <= num/den < 2^(E+1)
  const ge = (e: number) => (e >= 0 ? num >= den << B(e) : num << B(-e) >= den);
  if (!ge(E)) E -= 1;
  const roundAt = (lsb: number): [bigint, boolean] => {
    let N = num, D = den;
    if (lsb >= 0) D = den << B(lsb); else N = num << B(-lsb);
    const q = N / D, r = N - q * D;
    if (r === 0n) return [q, false];
    const c = 2n * r > D ? 1 : 2n * r === D ? 0 : -1;
    let inc = false;
    switch (rm) {
      case RNE: inc = c > 0 || (c === 0 && (q & 1n) === 1n); break;
      case RTZ: inc = false; break;
      case RDN: inc = neg; break;
      case RUP: inc = !neg; break;
      case RMM: inc = c >= 0; break;
      default: throw new Error("rm");
    }
    return [inc ? q + 1n : q, true];
  };
  const P = 1n << B(f.p);
  // rounding with an unbounded exponent range: overflow and tininess
  const [Mu] = roundAt(E - (f.p - 1));
  const Eu = Mu === P ? E + 1 : E;
  if (Eu > f.emax) {
    const toInf = rm === RNE || rm === RMM || (rm === RUP && !neg) || (rm === RDN && neg);
    return { bits: toInf ? infBits(f, neg) : maxBits(f, neg), flags: OF | NX };
  }
  const tiny = Eu < f.emin;
  let lsb = Math.max(E, f.emin) - (f.p - 1);
  let [M, inexact] = roundAt(lsb);
  let flags = 0;
  if (inexact) { flags |= NX; if (tiny) flags |= UF; }
  if (M === 0n) return { bits: zeroBits(f, neg), flags };
  if (M === P) { M >>= 1n; lsb += 1; }
  let bits: bigint;
  const H = 1n << B(f.p - 1);
  if (M < H) {
    if (lsb !== f.emin - (f.p - 1)) throw new Error("ref: bad subnormal");
    bits = M;
  } else {
    const ex = lsb + f.p - 1;
    if (ex > f.emax) throw new Error("ref: overflow missed");
    bits = (B(ex + f.bias) << B(f.mbits)) | (M - H);
  }
  return { bits: (neg ? signBit(f) : 0n) | bits, flags };
}

/** Rounds (-1)^neg * m * 2^e (m > 0). */
export function roundD(neg: boolean, m: bigint, e: number, f: Fmt, rm: number): Res {
  return e >= 0 ? roundQ(neg, m << B(e), 1n, f, rm) : roundQ(neg, m, 1n << B(-e), f, rm);
}

const nanRes = (f: Fmt, nv: boolean): Res => ({ bits: canonNaN(f), flags: nv ? NV : 0 });
const isSNaN = (v: Val) => v.k === "nan" && v.snan;
const isZero = (v: Val) => v.k === "fin" && v.m === 0n;

/** Exact signed sum of two finite values as (signed integer, exponent). */
function exactSum(sa: boolean, ma: bigint, ea: number, sb: boolean, mb: bigint, eb: number): [bigint, number] {
  const e0 = Math.min(ea, eb);
  const A = (sa ? -ma : ma) << B(ea - e0);
  const Bv = (sb ? -mb : mb) << B(eb - e0);
  return [A + Bv, e0];
}

export function add(f: Fmt, a: bigint, b: bigint, rm: number): Res {
  const A = decode(a, f), Bv = decode(b, f);
  if (A.k === "nan" || Bv.k === "nan") return nanRes(f, isSNaN(A) || isSNaN(Bv));
  if (A.k === "inf") {
    if (Bv.k === "inf" && Bv.neg !== A.neg) return nanRes(f, true);
    return { bits: infBits(f, A.neg), flags: 0 };
  }
  if (Bv.k === "inf") return { bits: infBits(f, Bv.neg), flags: 0 };
  const [s, e] = exactSum(A.neg, A.m, A.e, Bv.neg, Bv.m, Bv.e);
  if (s === 0n) {
    // x + x keeps the sign of x (for zeros); an exact zero sum of opposite
    // signs is +0, or -0 when rounding toward negative
    if (A.m === 0n && Bv.m === 0n && A.neg === Bv.neg) return { bits: zeroBits(f, A.neg), flags: 0 };
    return { bits: zeroBits(f, rm === RDN), flags: 0 };
  }
  return roundD(s < 0n, s < 0n ? -s : s, e, f, rm);
}

export function sub(f: Fmt, a: bigint, b: bigint, rm: number): Res {
  return add(f, a, b ^ signBit(f), rm);
}

export function mul(f: Fmt, a: bigint, b: bigint, rm: number): Res {
  const A = decode(a, f), Bv = decode(b, f);
  if (A.k === "nan" || Bv.k === "nan") return nanRes(f, isSNaN(A) || isSNaN(Bv));
  if (A.k === "inf" || Bv.k === "inf") {
    if (isZero(A) || isZero(Bv)) return nanRes(f, true);
    return { bits: infBits(f, (A as { neg: boolean }).neg !== (Bv as { neg: boolean }).neg), flags: 0 };
  }
  const neg = A.neg !== Bv.neg;
  if (A.m === 0n || Bv.m === 0n) return { bits: zeroBits(f, neg), flags: 0 };
  return roundD(neg, A.m * Bv.m, A.e + Bv.e, f, rm);
}

export function div(f: Fmt, a: bigint, b: bigint, rm: number): Res {
  const A = decode(a, f), Bv = decode(b, f);
  if (A.k === "nan" || Bv.k === "nan") return nanRes(f, isSNaN(A) || isSNaN(Bv));
  const neg = (A as { neg: boolean }).neg !== (Bv as { neg: boolean }).neg;
  if (A.k === "inf") {
    if (Bv.k === "inf") return nanRes(f, true);
    return { bits: infBits(f, neg), flags: 0 };
  }
  if (Bv.k === "inf") return { bits: zeroBits(f, neg), flags: 0 };
  if (Bv.m === 0n) {
    if (A.m === 0n) return nanRes(f, true);
    return { bits: infBits(f, neg), flags: DZ };
  }
  if (A.m === 0n) return { bits: zeroBits(f, neg), flags: 0 };
  const d = A.e - Bv.e;
  const num = d >= 0 ? A.m << B(d) : A.m;
  const den = d >= 0 ? Bv.m : Bv.m << B(-d);
  return roundQ(neg, num, den, f, rm);
}

export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << B((bitlen(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sqrt(f: Fmt, a: bigint, rm: number): Res {
  const A = decode(a, f);
  if (A.k === "nan") return nanRes(f, A.snan);
  if (A.k === "fin" && A.m === 0n) return { bits: a, flags: 0 };
  if (A.neg) return nanRes(f, true);
  if (A.k === "inf") return { bits: a, flags: 0 };
  let m = A.m, e = A.e;
  if (e & 1) { m <<= 1n; e -= 1; }
  const K = 64;
  const N = m << B(2 * K);
  const s = isqrt(N);
  const exact = s * s === N;
  // s has > 64 bits: (2s+1)/2 stands for any value strictly between s and s+1
  return roundD(false, exact ? s : 2n * s + 1n, e / 2 - K - (exact ? 0 : 1), f, rm);
}

export function fma(f: Fmt, a: bigint, b: bigint, c: bigint, rm: number): Res {
  const A = decode(a, f), Bv = decode(b, f), C = decode(c, f);
  const infTimesZero = (A.k === "inf" && isZero(Bv)) || (isZero(A) && Bv.k === "inf");
  if (A.k === "nan" || Bv.k === "nan" || C.k === "nan") {
    return nanRes(f, isSNaN(A) || isSNaN(Bv) || isSNaN(C) || infTimesZero);
  }
  if (infTimesZero) return nanRes(f, true);
  const negP = A.neg !== Bv.neg;
  if (A.k === "inf" || Bv.k === "inf") {
    if (C.k === "inf" && C.neg !== negP) return nanRes(f, true);
    return { bits: infBits(f, negP), flags: 0 };
  }
  if (C.k === "inf") return { bits: infBits(f, C.neg), flags: 0 };
  const [s, e] = exactSum(negP, A.m * Bv.m, A.e + Bv.e, C.neg, C.m, C.e);
  if (s === 0n) {
    const prodZero = A.m === 0n || Bv.m === 0n;
    if (prodZero && C.m === 0n && negP === C.neg) return { bits: zeroBits(f, negP), flags: 0 };
    return { bits: zeroBits(f, rm === RDN), flags: 0 };
  }
  return roundD(s < 0n, s < 0n ? -s : s, e, f, rm);
}

/** fmadd / fmsub / fnmsub / fnmadd as the RISC-V spec defines them. */
export function fmaVariant(f: Fmt, op: "madd" | "msub" | "nmsub" | "nmadd", a: bigint, b: bigint, c: bigint, rm: number): Res {
  const S = signBit(f);
  switch (op) {
    case "madd": return fma(f, a, b, c, rm);
    case "msub": return fma(f, a, b, c ^ S, rm);
    case "nmsub": return fma(f, a ^ S, b, c, rm);
    case "nmadd": return fma(f, a ^ S, b, c ^ S, rm);
  }
}

/** Compares two non-NaN values: -1, 0, 1 (zeros are equal). */
function cmpVal(A: Val, Bv: Val): number {
  const key = (v: Val): [number, bigint, number] => {
    if (v.k === "inf") return [v.neg ? -2 : 2, 0n, 0];
    if (v.k === "fin") return [v.m === 0n ? 0 : v.neg ? -1 : 1, v.m, v.e];
    throw new Error("nan");
  };
  const [ca, ma, ea] = key(A), [cb, mb, eb] = key(Bv);
  if (ca !== cb) return ca < cb ? -1 : 1;
  if (ca !== 1 && ca !== -1) return 0;
  const [s] = exactSum(false, ma, ea, true, mb, eb); // |a| - |b|
  const c = s === 0n ? 0 : s > 0n ? 1 : -1;
  return ca === 1 ? c : -c;
}

export function minmax(f: Fmt, a: bigint, b: bigint, isMax: boolean): Res {
  const A = decode(a, f), Bv = decode(b, f);
  const flags = isSNaN(A) || isSNaN(Bv) ? NV : 0;
  if (A.k === "nan" && Bv.k === "nan") return { bits: canonNaN(f), flags };
  if (A.k === "nan") return { bits: b, flags };
  if (Bv.k === "nan") return { bits: a, flags };
  const c = cmpVal(A, Bv);
  if (c === 0) {
    if (isZero(A)) {
      // -0 < +0 for these instructions
      const aNeg = (A as { neg: boolean }).neg, bNeg = (Bv as { neg: boolean }).neg;
      const neg = isMax ? aNeg && bNeg : aNeg || bNeg;
      return { bits: zeroBits(f, neg), flags };
    }
    return { bits: a, flags };
  }
  return { bits: (c < 0) !== isMax ? a : b, flags };
}

export function compare(f: Fmt, op: "eq" | "lt" | "le", a: bigint, b: bigint): Res {
  const A = decode(a, f), Bv = decode(b, f);
  if (A.k === "nan" || Bv.k === "nan") {
    const nv = op === "eq" ? isSNaN(A) || isSNaN(Bv) : true;
    return { bits: 0n, flags: nv ? NV : 0 };
  }
  const c = cmpVal(A, Bv);
  const r = op === "eq" ? c === 0 : op === "lt" ? c < 0 : c <= 0;
  return { bits: r ? 1n : 0n, flags: 0 };
}

export function fclass(f: Fmt, a: bigint): Res {
  const A = decode(a, f);
  let bit: number;
  if (A.k === "nan") bit = A.snan ? 8 : 9;
  else if (A.k === "inf") bit = A.neg ? 0 : 7;
  else if (A.m === 0n) bit = A.neg ? 3 : 4;
  else {
    const sub = A.m < 1n << B(f.mbits);
    bit = A.neg ? (sub ? 2 : 1) : (sub ? 5 : 6);
  }
  return { bits: 1n << B(bit), flags: 0 };
}

export type IntKind = "w" | "wu" | "l" | "lu";

/** Float to integer with the RISC-V clipping table; result as the 64-bit register value. */
export function toInt(f: Fmt, a: bigint, kind: IntKind, rm: number): Res {
  const A = decode(a, f);
  const lo = kind === "w" ? -(1n << 31n) : kind === "l" ? -(1n << 63n) : 0n;
  const hi = kind === "w" ? (1n << 31n) - 1n : kind === "wu" ? (1n << 32n) - 1n : kind === "l" ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  const reg = (v: bigint) => kind === "w" || kind === "wu"
    ? BigInt.asUintN(64, BigInt.asIntN(32, v)) // 32-bit results are sign-extended
    : BigInt.asUintN(64, v);
  if (A.k === "nan") return { bits: reg(hi), flags: NV };
  if (A.k === "inf") return { bits: reg(A.neg ? lo : hi), flags: NV };
  let R: bigint, inexact = false;
  if (A.e >= 0) R = A.m << B(A.e);
  else {
    const sh = B(-A.e);
    const q = A.m >> sh, r = A.m - (q << sh);
    let inc = false;
    if (r !== 0n) {
      inexact = true;
      const c = 2n * r > 1n << sh ? 1 : 2n * r === 1n << sh ? 0 : -1;
      switch (rm) {
        case RNE: inc = c > 0 || (c === 0 && (q & 1n) === 1n); break;
        case RTZ: inc = false; break;
        case RDN: inc = A.neg; break;
        case RUP: inc = !A.neg; break;
        case RMM: inc = c >= 0; break;
      }
    }
    R = inc ? q + 1n : q;
  }
  if (A.neg) R = -R;
  if (R < lo) return { bits: reg(lo), flags: NV };
  if (R > hi) return { bits: reg(hi), flags: NV };
  return { bits: reg(R), flags: inexact ? NX : 0 };
}

/** Integer (the register value x, interpreted per kind) to float. */
export function fromInt(f: Fmt, x: bigint, kind: IntKind, rm: number): Res {
  const v = kind === "w" ? BigInt.asIntN(32, x) : kind === "wu" ? BigInt.asUintN(32, x)
    : kind === "l" ? BigInt.asIntN(64, x) : BigInt.asUintN(64, x);
  if (v === 0n) return { bits: 0n, flags: 0 };
  return roundD(v < 0n, v < 0n ? -v : v, 0, f, rm);
}

/** Float to float conversion. */
export function convert(from: Fmt, to: Fmt, a: bigint, rm: number): Res {
  const A = decode(a, from);
  if (A.k === "nan") return nanRes(to, A.snan);
  if (A.k === "inf") return { bits: infBits(to, A.neg), flags: 0 };
  if (A.m === 0n) return { bits: zeroBits(to, A.neg), flags: 0 };
  return roundD(A.neg, A.m, A.e, to, rm);
}
