// IEEE 754 binary32/binary64 arithmetic with RISC-V semantics, on raw bit
// patterns. Written from the IEEE 754-2019 and RISC-V F/D specifications.
//
// Wasm float arithmetic rounds to nearest-even and exposes no exception flags,
// so every operation here produces its own flags and the other rounding modes:
//
//  - fast path (the common case: normal operands and results): the native Wasm
//    operation gives the round-to-nearest-even result r; the exact error of r
//    is found cheaply (Fast2Sum for add/sub; for mul, div and sqrt the low 64
//    bits of an integer product of the significands, which hold the exact
//    residual because the residual is smaller than 2^63); if r is inexact, NX
//    is raised and the directed modes step r by one unit in the last place
//    (an integer increment/decrement of the bit pattern).
//  - exact path (zeros, infinities, NaNs, subnormal operands, results near
//    overflow or underflow, fused multiply-add): integer significands with a
//    sticky bit and one generic rounding routine, roundPack, that implements
//    the five rounding modes, overflow, and underflow with tininess detected
//    after rounding (as RISC-V requires).
//  - binary32: operands are widened to f64, where the operation is either
//    exact (mul, fma product) or carries a known error sign (Fast2Sum), or is
//    a correctly rounded f64 value that can never sit on a binary32 rounding
//    boundary unless it is exact (div, sqrt); narrowS then rounds once to
//    binary32 with the requested mode and flags.
//
// NaN results are always the canonical NaN; signaling NaN operands raise NV.
// Rounding modes: 0 RNE, 1 RTZ, 2 RDN, 3 RUP, 4 RMM. The caller resolves DYN
// and rejects the reserved modes 5 and 6 (they behave as RNE here).
//
// Constraints of the vCPU build: no allocation, no arrays, no strings, no
// top-level side effects; the only state is the scalar global fpFlags and two
// scratch globals for 128-bit results (per Wasm instance = per vCPU).

/** Accrued exception flags (RISC-V fflags layout); operations OR into it. */
export let fpFlags: u32 = 0;

export const FLAG_NV: u32 = 16;
export const FLAG_DZ: u32 = 8;
export const FLAG_OF: u32 = 4;
export const FLAG_UF: u32 = 2;
export const FLAG_NX: u32 = 1;

const RTZ: u32 = 1;
const RDN: u32 = 2;
const RUP: u32 = 3;
const RMM: u32 = 4;

const SIGN64: u64 = 0x8000_0000_0000_0000;
const ABS64: u64 = 0x7fff_ffff_ffff_ffff;
const EXP64: u64 = 0x7ff0_0000_0000_0000;
const MAN64: u64 = 0x000f_ffff_ffff_ffff;
const HID64: u64 = 0x0010_0000_0000_0000;
const QUIET64: u64 = 0x0008_0000_0000_0000;
const CNAN64: u64 = 0x7ff8_0000_0000_0000;

const SIGN32: u32 = 0x8000_0000;
const ABS32: u32 = 0x7fff_ffff;
const EXP32: u32 = 0x7f80_0000;
const QUIET32: u32 = 0x0040_0000;
const CNAN32: u32 = 0x7fc0_0000;

// scratch for 128-bit results (high halves)
let hi128: u64 = 0;
let shift128: i32 = 0;

// ---------------------------------------------------------------------------
// classification helpers

// @ts-ignore: decorator
@inline function isNaN64(a: u64): bool { return (a & ABS64) > EXP64; }
// @ts-ignore: decorator
@inline function isSNaN64(a: u64): bool { return (a & ABS64) > EXP64 && (a & QUIET64) == 0; }
// @ts-ignore: decorator
@inline function isInf64(a: u64): bool { return (a & ABS64) == EXP64; }
// @ts-ignore: decorator
@inline function isZero64(a: u64): bool { return (a & ABS64) == 0; }
// @ts-ignore: decorator
@inline function isNaN32(a: u32): bool { return (a & ABS32) > EXP32; }
// @ts-ignore: decorator
@inline function isSNaN32(a: u32): bool { return (a & ABS32) > EXP32 && (a & QUIET32) == 0; }
// @ts-ignore: decorator
@inline function isInf32(a: u32): bool { return (a & ABS32) == EXP32; }
// @ts-ignore: decorator
@inline function isZero32(a: u32): bool { return (a & ABS32) == 0; }

// @ts-ignore: decorator
@inline function f32of(a: u64): f64 { return <f64>reinterpret<f32>(<u32>a); }

/** Significand of a finite nonzero binary64 (with the hidden bit for normals). */
// @ts-ignore: decorator
@inline function sig64(a: u64): u64 {
  return (a & EXP64) != 0 ? (a & MAN64) | HID64 : a & MAN64;
}
/** Exponent of the significand's lsb: value = sig64(a) * 2^lsbExp64(a). */
// @ts-ignore: decorator
@inline function lsbExp64(a: u64): i32 {
  const f = <i32>((a >> 52) & 0x7ff);
  return (f != 0 ? f : 1) - 1075;
}

// ---------------------------------------------------------------------------
// rounding

/** Round increment (0 or 1) for a truncated magnitude with lsb, round bit and sticky bit. */
// @ts-ignore: decorator
@inline function roundInc(neg: bool, rm: u32, lsb: u64, rb: u64, st: u64): u64 {
  if (rm == RTZ) return 0;
  if (rm == RDN) return neg ? (rb | st) : 0;
  if (rm == RUP) return neg ? 0 : (rb | st);
  if (rm == RMM) return rb;
  return rb & (st | lsb);
}

/** Overflow: ±inf or ±max finite depending on the mode, OF|NX. */
function overflow(neg: bool, rm: u32, inf: u64, maxf: u64): u64 {
  fpFlags |= FLAG_OF | FLAG_NX;
  let toInf = true;
  if (rm == RTZ) toInf = false;
  else if (rm == RDN) toInf = neg;
  else if (rm == RUP) toInf = !neg;
  return toInf ? inf : maxf;
}

/**
 * Rounds (-1)^neg * sig * 2^exp (sig != 0) to a format with precision P,
 * exponent range [EMIN, EMAX], total width W; returns the bit pattern and
 * raises NX/UF/OF. The lsb of sig may be a sticky bit (it stands for "some
 * nonzero amount below") provided sig has at least P+2 significant bits;
 * exact values may have any width.
 */
// @ts-ignore: decorator
@inline function roundPackG(neg: bool, exp: i32, sig: u64, rm: u32, P: i32, EMIN: i32, EMAX: i32, W: i32): u64 {
  const signBit: u64 = neg ? <u64>1 << <u64>(W - 1) : 0;
  const inf: u64 = (<u64>(2 * EMAX + 1)) << <u64>(P - 1);
  const n = <i32>clz(sig);
  sig <<= <u64>n;
  const E = exp + 63 - n;          // exponent of the leading bit
  if (E > EMAX) return overflow(neg, rm, inf, inf - 1) | signBit;
  let s = 64 - P;                   // bits to drop
  let Eenc = E;
  if (E < EMIN) { s += EMIN - E; Eenc = EMIN; }
  let q: u64, rb: u64, st: u64;
  if (s < 64) {
    q = sig >> <u64>s;
    rb = (sig >> <u64>(s - 1)) & 1;
    st = (sig << <u64>(65 - s)) != 0 ? 1 : 0;
  } else if (s == 64) {
    q = 0; rb = 1; st = (sig << 1) != 0 ? 1 : 0;
  } else {
    q = 0; rb = 0; st = 1;
  }
  const bits = ((<u64>(Eenc + EMAX - 1)) << <u64>(P - 1)) + q + roundInc(neg, rm, q & 1, rb, st);
  if (bits >= inf) return overflow(neg, rm, inf, inf - 1) | signBit;
  if ((rb | st) != 0) {
    let f = FLAG_NX;
    if (E < EMIN) {
      // tininess after rounding: tiny unless rounding to P bits with an
      // unbounded exponent range reaches 2^EMIN
      let tiny = true;
      if (E == EMIN - 1) {
        const s0 = 64 - P;
        const q0 = sig >> <u64>s0;
        const r0 = (sig >> <u64>(s0 - 1)) & 1;
        const t0: u64 = (sig << <u64>(65 - s0)) != 0 ? 1 : 0;
        if (q0 + roundInc(neg, rm, q0 & 1, r0, t0) == (<u64>1 << <u64>P)) tiny = false;
      }
      if (tiny) f |= FLAG_UF;
    }
    fpFlags |= f;
  }
  return bits | signBit;
}

function roundPack64(neg: bool, exp: i32, sig: u64, rm: u32): u64 {
  return roundPackG(neg, exp, sig, rm, 53, -1022, 1023, 64);
}
function roundPack32(neg: bool, exp: i32, sig: u64, rm: u32): u64 {
  return roundPackG(neg, exp, sig, rm, 24, -126, 127, 32);
}

/**
 * Directed-mode correction of a round-to-nearest-even result r (finite,
 * normal, inexact). dm: +1 if the exact magnitude is above |r|, -1 if below;
 * tie: the exact value is halfway (only RMM cares). Raises OF if the step
 * reaches infinity.
 */
function adjust64(r: u64, dm: i32, tie: bool, rm: u32): u64 {
  const neg = (r >> 63) != 0;
  if (rm == RTZ) { if (dm < 0) r--; }
  else if (rm == RDN) { if (neg) { if (dm > 0) r++; } else if (dm < 0) r--; }
  else if (rm == RUP) { if (neg) { if (dm < 0) r--; } else if (dm > 0) r++; }
  else if (rm == RMM) { if (tie && dm > 0) r++; }
  if ((r & EXP64) == EXP64) fpFlags |= FLAG_OF;
  return r;
}

function adjust32(r: u32, dm: i32, tie: bool, rm: u32): u64 {
  const neg = (r >> 31) != 0;
  if (rm == RTZ) { if (dm < 0) r--; }
  else if (rm == RDN) { if (neg) { if (dm > 0) r++; } else if (dm < 0) r--; }
  else if (rm == RUP) { if (neg) { if (dm < 0) r--; } else if (dm > 0) r++; }
  else if (rm == RMM) { if (tie && dm > 0) r++; }
  if ((r & EXP32) == EXP32) fpFlags |= FLAG_OF;
  return <u64>r;
}

// ---------------------------------------------------------------------------
// 128-bit helpers (high half in hi128)

/** 64x64 -> 128 unsigned multiply; returns the low half, high half in hi128. */
function mul128(a: u64, b: u64): u64 {
  const a0 = a & 0xffff_ffff, a1 = a >> 32, b0 = b & 0xffff_ffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffff_ffff) + (p10 & 0xffff_ffff);
  hi128 = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return (p00 & 0xffff_ffff) | (mid << 32);
}

/** Compresses hi:lo (nonzero) to 64 bits with a sticky lsb; the dropped bit count goes to shift128. */
function compress128(hi: u64, lo: u64): u64 {
  if (hi == 0) { shift128 = 0; return lo; }
  const n = clz(hi);
  if (n == 0) { shift128 = 64; return hi | (lo != 0 ? 1 : 0); }
  shift128 = 64 - <i32>n;
  return (hi << n) | (lo >> (64 - n)) | ((lo << n) != 0 ? 1 : 0);
}

/** Right shift with sticky ("jam") of a 64-bit value. */
// @ts-ignore: decorator
@inline function shrJam64(x: u64, d: i32): u64 {
  if (d == 0) return x;
  if (d < 64) return (x >> <u64>d) | ((x << <u64>(64 - d)) != 0 ? 1 : 0);
  return x != 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------
// binary64 add / sub

export function fadd_d(a: u64, b: u64, rm: u32): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  const r = x + y;
  const rb = reinterpret<u64>(r);
  if ((rb & EXP64) != EXP64) {
    // finite result, hence finite operands and no overflow: Fast2Sum error
    const big = (a & ABS64) >= (b & ABS64);
    const h = select<f64>(x, y, big), l = select<f64>(y, x, big);
    const t = l - (r - h);
    if (t != 0) {
      fpFlags |= FLAG_NX;
      if (rm == 0) return rb;
      return addAdjust64(rb, r, t, rm);
    }
    // exact zero sum of operands that are not both +0 is -0 under RDN
    if (rm == RDN && (rb & ABS64) == 0) return (a | b) == 0 ? 0 : SIGN64;
    return rb;
  }
  return faddSlow_d(a, b, rm);
}

export function fsub_d(a: u64, b: u64, rm: u32): u64 {
  return fadd_d(a, b ^ SIGN64, rm);
}

function addAdjust64(rb: u64, r: f64, t: f64, rm: u32): u64 {
  const dm: i32 = ((reinterpret<u64>(t) ^ rb) >> 63) == 0 ? 1 : -1;
  let tie = false;
  if (rm == RMM && dm > 0) {
    const up = reinterpret<f64>((rb & ABS64) + 1) - abs<f64>(r);
    tie = abs<f64>(t) * 2 == up;
  }
  return adjust64(rb, dm, tie, rm);
}

/** Exact-path addition: handles every input (also exported for tests). */
export function faddSlow_d(a: u64, b: u64, rm: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= FLAG_NV;
    return CNAN64;
  }
  if (isInf64(a)) {
    if (isInf64(b) && ((a ^ b) & SIGN64) != 0) { fpFlags |= FLAG_NV; return CNAN64; }
    return a;
  }
  if (isInf64(b)) return b;
  const az = isZero64(a), bz = isZero64(b);
  if (az && bz) return rm == RDN ? (a | b) : (a & b);
  if (az) return b;
  if (bz) return a;
  let A = a, B = b;
  if ((a & ABS64) < (b & ABS64)) { A = b; B = a; }
  const ea = lsbExp64(A), eb = lsbExp64(B);
  const x = sig64(A) << 10;
  const y = shrJam64(sig64(B) << 10, ea - eb);
  let s: u64;
  if (((A ^ B) >> 63) == 0) s = x + y;
  else {
    s = x - y;
    if (s == 0) return rm == RDN ? SIGN64 : 0;
  }
  return roundPack64((A >> 63) != 0, ea - 10, s, rm);
}

// ---------------------------------------------------------------------------
// binary64 mul

export function fmul_d(a: u64, b: u64, rm: u32): u64 {
  const r = reinterpret<f64>(a) * reinterpret<f64>(b);
  const rb = reinterpret<u64>(r);
  const ea = <i32>((a >> 52) & 0x7ff), eb = <i32>((b >> 52) & 0x7ff), er = <i32>((rb >> 52) & 0x7ff);
  // normal operands, finite result >= 2^-1021 (rounded at full precision)
  if (ea != 0 && eb != 0 && <u32>(er - 2) < 0x7fd) {
    const ma = (a & MAN64) | HID64, mb = (b & MAN64) | HID64, mr = (rb & MAN64) | HID64;
    const sh = <u64>(er - ea - eb + 1075); // 52 or 53
    // exact residual ma*mb - mr*2^sh, |.| <= 2^52: the low 64 bits suffice
    const diff = <i64>(ma * mb - (mr << sh));
    if (diff == 0) return rb;
    fpFlags |= FLAG_NX;
    if (rm == 0) return rb;
    const dm: i32 = diff > 0 ? 1 : -1;
    const tie = (diff > 0 ? diff : -diff) == (<i64>1 << <i64>(sh - 1));
    return adjust64(rb, dm, tie, rm);
  }
  return fmulSlow_d(a, b, rm);
}

export function fmulSlow_d(a: u64, b: u64, rm: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= FLAG_NV;
    return CNAN64;
  }
  const sign = (a ^ b) & SIGN64;
  if (isInf64(a) || isInf64(b)) {
    if (isZero64(a) || isZero64(b)) { fpFlags |= FLAG_NV; return CNAN64; }
    return sign | EXP64;
  }
  if (isZero64(a) || isZero64(b)) return sign;
  const lo = mul128(sig64(a), sig64(b));
  const s = compress128(hi128, lo);
  return roundPack64(sign != 0, lsbExp64(a) + lsbExp64(b) + shift128, s, rm);
}

// ---------------------------------------------------------------------------
// binary64 div

export function fdiv_d(a: u64, b: u64, rm: u32): u64 {
  const q = reinterpret<f64>(a) / reinterpret<f64>(b);
  const qb = reinterpret<u64>(q);
  const ea = <i32>((a >> 52) & 0x7ff), eb = <i32>((b >> 52) & 0x7ff), eq = <i32>((qb >> 52) & 0x7ff);
  if (ea != 0 && eb != 0 && <u32>(eq - 2) < 0x7fd) {
    const ma = (a & MAN64) | HID64, mb = (b & MAN64) | HID64, mq = (qb & MAN64) | HID64;
    const k = <u64>(ea - eb - eq + 1075); // 52 or 53
    // exact remainder ma*2^k - mq*mb (scaled), |.| < 2^54
    const diff = <i64>((ma << k) - mq * mb);
    if (diff == 0) return qb;
    fpFlags |= FLAG_NX;
    if (rm == 0 || rm == RMM) return qb; // quotients of normals are never ties
    return adjust64(qb, diff > 0 ? 1 : -1, false, rm);
  }
  return fdivSlow_d(a, b, rm);
}

export function fdivSlow_d(a: u64, b: u64, rm: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= FLAG_NV;
    return CNAN64;
  }
  const sign = (a ^ b) & SIGN64;
  if (isInf64(a)) {
    if (isInf64(b)) { fpFlags |= FLAG_NV; return CNAN64; }
    return sign | EXP64;
  }
  if (isInf64(b)) return sign;
  if (isZero64(b)) {
    if (isZero64(a)) { fpFlags |= FLAG_NV; return CNAN64; }
    fpFlags |= FLAG_DZ;
    return sign | EXP64;
  }
  if (isZero64(a)) return sign;
  // normalize both significands to [2^52, 2^53)
  let ma = sig64(a), mb = sig64(b);
  let ea = lsbExp64(a), eb = lsbExp64(b);
  const na = <i32>clz(ma) - 11, nb = <i32>clz(mb) - 11;
  ma <<= <u64>na; ea -= na;
  mb <<= <u64>nb; eb -= nb;
  // correctly rounded 53-bit quotient of the integers, then its exact remainder sign
  const qf = <f64>ma / <f64>mb;          // in (1/2, 2)
  const qb = reinterpret<u64>(qf);
  const j: i32 = qf < 1.0 ? 1 : 0;
  const mq = (qb & MAN64) | HID64;       // qf = mq * 2^(-52-j)
  const diff = <i64>((ma << <u64>(52 + j)) - mq * mb);
  let s = mq << 2;
  if (diff > 0) s |= 1; else if (diff < 0) s -= 1;
  return roundPack64(sign != 0, ea - eb - 52 - j - 2, s, rm);
}

// ---------------------------------------------------------------------------
// binary64 sqrt

export function fsqrt_d(a: u64, rm: u32): u64 {
  const ea = a >> 52; // includes the sign: positive normals are 1..0x7fe
  if (ea - 1 < 0x7fe) return sqrtCore64(a, rm);
  return fsqrtSlow_d(a, rm);
}

/** sqrt of a positive normal binary64 (result always normal). */
function sqrtCore64(a: u64, rm: u32): u64 {
  const s = sqrt<f64>(reinterpret<f64>(a));
  const sb = reinterpret<u64>(s);
  const ea = <i32>(a >> 52), es = <i32>(sb >> 52);
  const ma = (a & MAN64) | HID64, ms = (sb & MAN64) | HID64;
  const k = <u64>(ea - 2 * es + 1075); // 52 or 53
  const diff = <i64>((ma << k) - ms * ms);
  if (diff == 0) return sb;
  fpFlags |= FLAG_NX;
  if (rm == 0 || rm == RMM) return sb; // square roots are never ties
  return adjust64(sb, diff > 0 ? 1 : -1, false, rm);
}

function fsqrtSlow_d(a: u64, rm: u32): u64 {
  if (isNaN64(a)) {
    if (isSNaN64(a)) fpFlags |= FLAG_NV;
    return CNAN64;
  }
  if (isZero64(a)) return a;
  if ((a & SIGN64) != 0) { fpFlags |= FLAG_NV; return CNAN64; }
  if (isInf64(a)) return a;
  // positive subnormal: scale by 2^108 (exact), root, scale back by 2^-54 (exact)
  const x = reinterpret<f64>(a) * reinterpret<f64>(<u64>(1023 + 108) << 52);
  return sqrtCore64(reinterpret<u64>(x), rm) - (<u64>54 << 52);
}

// ---------------------------------------------------------------------------
// binary64 fused multiply-add: exact 128-bit integer arithmetic, one rounding

export function fmadd_d(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a, b, c, rm); }
export function fmsub_d(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a, b, c ^ SIGN64, rm); }
export function fnmsub_d(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a ^ SIGN64, b, c, rm); }
export function fnmadd_d(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a ^ SIGN64, b, c ^ SIGN64, rm); }

/**
 * Fast path: a, b normal, |a*b| and |c| in [2^-912, 2^1021), no massive
 * cancellation (|p + c| >= |p|/2 where p = RN(a*b)). Then
 *   a*b = p + ep          (ep exact: integer residual of the significands)
 *   p + c = s + t         (TwoSum)
 *   t + ep = u + v        (TwoSum, |v| <= ulp(u)/2)
 *   s + u = r0 + e        (Fast2Sum, |u| <= 1.5 ulp(s))
 * so a*b + c = r0 + e + v exactly. e and the half-spacing h of r0 are
 * multiples of ulp(u) > 2|v|, hence RN(a*b + c) = r0 and the error has the
 * sign of e, except when |e| = h (s + u is a midpoint), where v != 0 decides;
 * when e = 0 the error is v.
 */
function fma64(a: u64, b: u64, c: u64, rm: u32): u64 {
  const eaf = <i32>((a >> 52) & 0x7ff), ebf = <i32>((b >> 52) & 0x7ff);
  if (eaf != 0 && ebf != 0 && ((c >> 52) & 0x7ff) <= 2043) {
    const x = reinterpret<f64>(a), y = reinterpret<f64>(b), z = reinterpret<f64>(c);
    const p = x * y;
    const pb = reinterpret<u64>(p);
    const pf = <i32>((pb >> 52) & 0x7ff);
    if (<u32>(pf - 111) <= <u32>(2043 - 111)) { // finite, and a, b finite
      const lf = eaf + ebf - 1127;         // biased exponent of the product's lsb (>= 6 here)
      const ma = (a & MAN64) | HID64, mb = (b & MAN64) | HID64, mp = (pb & MAN64) | HID64;
      const sh = <u64>(pf - eaf - ebf + 1075);
      const ep = <f64>(<i64>(ma * mb - (mp << sh))) * reinterpret<f64>((<u64>lf << 52) | (pb & SIGN64));
      const s = p + z;
      const sf = <i32>((reinterpret<u64>(s) >> 52) & 0x7ff);
      if (sf >= pf - 1 && sf <= 2044) {
        const bs = s - p;
        const t = (p - (s - bs)) + (z - bs);
        const u = t + ep;
        const bu = u - t;
        const v = (t - (u - bu)) + (ep - bu);
        const r0 = s + u;
        const e = u - (r0 - s);
        let rb = reinterpret<u64>(r0);
        if (e == 0 && v == 0) return rb;
        fpFlags |= FLAG_NX;
        let err = e;
        let tie = false;
        if (e == 0) err = v;
        else if (v != 0 || rm == RMM) {
          const nb = ((reinterpret<u64>(e) ^ rb) >> 63) == 0 ? rb + 1 : rb - 1; // neighbour toward e
          if (e == (reinterpret<f64>(nb) - r0) * 0.5) {                     // midpoint
            if (v == 0) tie = true;
            else if ((v > 0) == (e > 0)) { rb = nb; err = -e; }
          }
        }
        if (rm == 0) return rb;
        return adjust64(rb, ((reinterpret<u64>(err) ^ rb) >> 63) == 0 ? 1 : -1, tie, rm);
      }
    }
  }
  return fmaSlow_d(a, b, c, rm);
}

/** Exact-path fused multiply-add a*b + c: handles every input (exported for tests). */
export function fmaSlow_d(a: u64, b: u64, c: u64, rm: u32): u64 {
  const sp = (a ^ b) & SIGN64;
  if (isNaN64(a) || isNaN64(b) || isNaN64(c)) {
    if (isSNaN64(a) || isSNaN64(b) || isSNaN64(c) ||
        (isInf64(a) && isZero64(b)) || (isZero64(a) && isInf64(b))) fpFlags |= FLAG_NV;
    return CNAN64;
  }
  if (isInf64(a) || isInf64(b)) {
    if (isZero64(a) || isZero64(b)) { fpFlags |= FLAG_NV; return CNAN64; }
    if (isInf64(c) && (c & SIGN64) != sp) { fpFlags |= FLAG_NV; return CNAN64; }
    return sp | EXP64;
  }
  if (isInf64(c)) return c;
  if (isZero64(a) || isZero64(b)) {
    if (isZero64(c)) {
      if ((c & SIGN64) == sp) return c;
      return rm == RDN ? SIGN64 : 0;
    }
    return c;
  }
  // product: P = ma*mb (< 2^106), value P * 2^eP
  let xl = mul128(sig64(a), sig64(b));
  let xh = hi128;
  let ex = lsbExp64(a) + lsbExp64(b);
  if (isZero64(c)) {
    const s = compress128(xh, xl);
    return roundPack64(sp != 0, ex + shift128, s, rm);
  }
  // normalize the product to have its leading bit at 125
  {
    const n = (xh != 0 ? <i32>clz(xh) : 64 + <i32>clz(xl)) - 2;
    if (n >= 64) { xh = xl << <u64>(n - 64); xl = 0; }
    else if (n > 0) { xh = (xh << <u64>n) | (xl >> <u64>(64 - n)); xl <<= <u64>n; }
    ex -= n;
  }
  // addend: leading bit at 125 too
  const mc = sig64(c);
  const nc = <i32>clz(mc) - 2 + 64;      // shift of (0:mc) left, >= 64 + 9
  let yh = mc << <u64>(nc - 64), yl: u64 = 0;
  let ey = lsbExp64(c) - nc;
  // align the operand with the smaller exponent (shift right with sticky)
  let d = ex - ey;
  let eR = ex;
  if (d < 0) {
    d = -d; eR = ey;
    // shift x right by d
    if (d >= 128) { xl = (xh | xl) != 0 ? 1 : 0; xh = 0; }
    else if (d >= 64) {
      const st: u64 = (xl != 0 || (d > 64 && (xh << <u64>(128 - d)) != 0)) ? 1 : 0;
      xl = (d == 64 ? xh : xh >> <u64>(d - 64)) | st; xh = 0;
    } else if (d > 0) {
      const st: u64 = (xl << <u64>(64 - d)) != 0 ? 1 : 0;
      xl = (xl >> <u64>d) | (xh << <u64>(64 - d)) | st; xh >>= <u64>d;
    }
  } else if (d > 0) {
    if (d >= 128) { yl = (yh | yl) != 0 ? 1 : 0; yh = 0; }
    else if (d >= 64) {
      const st: u64 = (yl != 0 || (d > 64 && (yh << <u64>(128 - d)) != 0)) ? 1 : 0;
      yl = (d == 64 ? yh : yh >> <u64>(d - 64)) | st; yh = 0;
    } else {
      const st: u64 = (yl << <u64>(64 - d)) != 0 ? 1 : 0;
      yl = (yl >> <u64>d) | (yh << <u64>(64 - d)) | st; yh >>= <u64>d;
    }
  }
  const sc = c & SIGN64;
  let neg = sp != 0;
  let rh: u64, rl: u64;
  if (sp == sc) {
    rl = xl + yl;
    rh = xh + yh + (rl < xl ? 1 : 0);
  } else if (xh > yh || (xh == yh && xl >= yl)) {
    rl = xl - yl;
    rh = xh - yh - (xl < yl ? 1 : 0);
  } else {
    rl = yl - xl;
    rh = yh - xh - (yl < xl ? 1 : 0);
    neg = sc != 0;
  }
  if ((rh | rl) == 0) return rm == RDN ? SIGN64 : 0;
  const s = compress128(rh, rl);
  return roundPack64(neg, eR + shift128, s, rm);
}

// ---------------------------------------------------------------------------
// binary64 min / max / compare / classify

export function fmin_d(a: u64, b: u64): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  if (x < y) return a;
  if (y < x) return b;
  if (x == y) return a | b; // equal: identical, or zeros (-0 wins)
  return minmaxNaN64(a, b);
}

export function fmax_d(a: u64, b: u64): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  if (x > y) return a;
  if (y > x) return b;
  if (x == y) return a & b; // equal: identical, or zeros (+0 wins)
  return minmaxNaN64(a, b);
}

function minmaxNaN64(a: u64, b: u64): u64 {
  if (isSNaN64(a) || isSNaN64(b)) fpFlags |= FLAG_NV;
  if (isNaN64(a)) return isNaN64(b) ? CNAN64 : b;
  return a;
}

export function feq_d(a: u64, b: u64): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  if (x == y) return 1;
  if (isSNaN64(a) || isSNaN64(b)) fpFlags |= FLAG_NV;
  return 0;
}

export function flt_d(a: u64, b: u64): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  if (x < y) return 1;
  if (x != x || y != y) fpFlags |= FLAG_NV;
  return 0;
}

export function fle_d(a: u64, b: u64): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  if (x <= y) return 1;
  if (x != x || y != y) fpFlags |= FLAG_NV;
  return 0;
}

export function fclass_d(a: u64): u64 {
  const neg = (a >> 63) != 0;
  const e = (a >> 52) & 0x7ff, m = a & MAN64;
  if (e == 0x7ff) {
    if (m == 0) return neg ? 1 : 1 << 7;
    return (m & QUIET64) != 0 ? 1 << 9 : 1 << 8;
  }
  if (e == 0) {
    if (m == 0) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

// ---------------------------------------------------------------------------
// float -> integer (shared by S and D: binary32 values widen exactly)

/** Rounds a finite or non-finite f64 to an integral f64 with the mode (NaN stays NaN). */
// @ts-ignore: decorator
@inline function roundToInt(x: f64, rm: u32): f64 {
  if (rm == RTZ) return trunc<f64>(x);
  if (rm == RDN) return floor<f64>(x);
  if (rm == RUP) return ceil<f64>(x);
  if (rm == RMM) {
    const t = trunc<f64>(x);
    return abs<f64>(x - t) >= 0.5 ? t + copysign<f64>(1.0, x) : t;
  }
  return nearest<f64>(x);
}

function cvtW(x: f64, rm: u32): u64 {
  const r = roundToInt(x, rm);
  if (r >= -2147483648.0 && r <= 2147483647.0) {
    if (r != x) fpFlags |= FLAG_NX;
    return <u64><i64><i32>r;
  }
  fpFlags |= FLAG_NV;
  return (x != x || r > 0) ? 0x7fff_ffff : 0xffff_ffff_8000_0000;
}

function cvtWU(x: f64, rm: u32): u64 {
  const r = roundToInt(x, rm);
  if (r > -1.0 && r <= 4294967295.0) {
    if (r != x) fpFlags |= FLAG_NX;
    return <u64><i64><i32><u32>r;
  }
  fpFlags |= FLAG_NV;
  return (x != x || r > 0) ? 0xffff_ffff_ffff_ffff : 0;
}

function cvtL(x: f64, rm: u32): u64 {
  const r = roundToInt(x, rm);
  if (r >= -9223372036854775808.0 && r < 9223372036854775808.0) {
    if (r != x) fpFlags |= FLAG_NX;
    return <u64><i64>r;
  }
  fpFlags |= FLAG_NV;
  return (x != x || r > 0) ? 0x7fff_ffff_ffff_ffff : 0x8000_0000_0000_0000;
}

function cvtLU(x: f64, rm: u32): u64 {
  const r = roundToInt(x, rm);
  if (r > -1.0 && r < 18446744073709551616.0) {
    if (r != x) fpFlags |= FLAG_NX;
    return <u64>r;
  }
  fpFlags |= FLAG_NV;
  return (x != x || r > 0) ? 0xffff_ffff_ffff_ffff : 0;
}

/** Result sign-extended from 32 bits. */
export function fcvt_w_d(a: u64, rm: u32): u64 { return cvtW(reinterpret<f64>(a), rm); }
/** The 32-bit unsigned result, sign-extended from bit 31 (RV64 rule). */
export function fcvt_wu_d(a: u64, rm: u32): u64 { return cvtWU(reinterpret<f64>(a), rm); }
export function fcvt_l_d(a: u64, rm: u32): u64 { return cvtL(reinterpret<f64>(a), rm); }
export function fcvt_lu_d(a: u64, rm: u32): u64 { return cvtLU(reinterpret<f64>(a), rm); }

export function fcvt_w_s(a: u64, rm: u32): u64 { return cvtW(f32of(a), rm); }
export function fcvt_wu_s(a: u64, rm: u32): u64 { return cvtWU(f32of(a), rm); }
export function fcvt_l_s(a: u64, rm: u32): u64 { return cvtL(f32of(a), rm); }
export function fcvt_lu_s(a: u64, rm: u32): u64 { return cvtLU(f32of(a), rm); }

// ---------------------------------------------------------------------------
// integer -> float

/** x: low 32 bits as a signed integer (always exact). */
export function fcvt_d_w(x: u64, rm: u32): u64 { return reinterpret<u64>(<f64><i32>x); }
export function fcvt_d_wu(x: u64, rm: u32): u64 { return reinterpret<u64>(<f64><u32>x); }

export function fcvt_d_l(x: u64, rm: u32): u64 {
  const i = <i64>x;
  if (i >= -0x20_0000_0000_0000 && i <= 0x20_0000_0000_0000) return reinterpret<u64>(<f64>i);
  const neg = i < 0;
  return roundPack64(neg, 0, neg ? <u64>(-i) : x, rm);
}

export function fcvt_d_lu(x: u64, rm: u32): u64 {
  if (x <= 0x20_0000_0000_0000) return reinterpret<u64>(<f64>x);
  return roundPack64(false, 0, x, rm);
}

export function fcvt_s_w(x: u64, rm: u32): u64 {
  const i = <i32>x;
  if (i >= -0x100_0000 && i <= 0x100_0000) return <u64>reinterpret<u32>(<f32>i);
  const neg = i < 0;
  return roundPack32(neg, 0, neg ? <u64>(-<i64>i) : <u64>i, rm);
}

export function fcvt_s_wu(x: u64, rm: u32): u64 {
  const u = <u32>x;
  if (u <= 0x100_0000) return <u64>reinterpret<u32>(<f32>u);
  return roundPack32(false, 0, <u64>u, rm);
}

export function fcvt_s_l(x: u64, rm: u32): u64 {
  const i = <i64>x;
  if (i >= -0x100_0000 && i <= 0x100_0000) return <u64>reinterpret<u32>(<f32><i32>i);
  const neg = i < 0;
  return roundPack32(neg, 0, neg ? <u64>(-i) : x, rm);
}

export function fcvt_s_lu(x: u64, rm: u32): u64 {
  if (x <= 0x100_0000) return <u64>reinterpret<u32>(<f32><u32>x);
  return roundPack32(false, 0, x, rm);
}

// ---------------------------------------------------------------------------
// binary32: computed in f64, rounded once by narrowS

/**
 * Rounds x to binary32 with the mode and flags. dir is the sign of
 * (exact - x) on the real axis (0 if x is exact, or if x is known never to
 * sit on a binary32 rounding boundary unless exact, as for div and sqrt).
 * x must be finite, and x with dir must be faithful: no binary32 rounding
 * boundary lies strictly between x and the exact value.
 */
function narrowS(x: f64, dir: i32, rm: u32): u64 {
  const r = <f32>x;
  const rb = reinterpret<u32>(r);
  const d = x - <f64>r;           // exact (r is a binary32 value near x)
  if (d == 0 && dir == 0) return <u64>rb;
  const e = (rb >> 23) & 0xff;
  if (e - 2 < 253 && (d == 0 || dir == 0)) {
    // result >= 2^-125 in magnitude and finite: no underflow, no overflow
    // (unless the directed step reaches infinity, which adjust32 flags)
    fpFlags |= FLAG_NX;
    if (rm == 0) return <u64>rb;
    const rd = d != 0 ? d : <f64>dir;
    const dm: i32 = <u32>(reinterpret<u64>(rd) >> 63) == (rb >> 31) ? 1 : -1;
    let tie = false;
    if (rm == RMM && d != 0 && dm > 0) {
      const up = <f64>reinterpret<f32>((rb & ABS32) + 1) - abs<f64>(<f64>r);
      tie = abs<f64>(d) * 2 == up;
    }
    return adjust32(rb, dm, tie, rm);
  }
  return narrowSlow_s(x, dir, rm);
}

/** Exact-path binary32 rounding of a finite f64 x with the error direction dir. */
function narrowSlow_s(x: f64, dir: i32, rm: u32): u64 {
  const xb = reinterpret<u64>(x);
  const neg = (xb >> 63) != 0;
  if ((xb & ABS64) == 0) return neg ? <u64>SIGN32 : 0;
  let s = sig64(xb) << 2;
  const dm = neg ? -dir : dir;
  if (dm > 0) s |= 1; else if (dm < 0) s -= 1;
  return roundPack32(neg, lsbExp64(xb) - 2, s, rm);
}

/** fcvt.s.d through the exact path only (exported for tests). */
export function fcvtSlow_s_d(a: u64, rm: u32): u64 {
  if (isNaN64(a)) { if (isSNaN64(a)) fpFlags |= FLAG_NV; return CNAN32; }
  if (isInf64(a)) return (a & SIGN64) != 0 ? <u64>(SIGN32 | EXP32) : <u64>EXP32;
  return narrowSlow_s(reinterpret<f64>(a), 0, rm);
}

function nanResult32(a: u32, b: u32): u64 {
  if (isSNaN32(a) || isSNaN32(b)) fpFlags |= FLAG_NV;
  return CNAN32;
}

export function fadd_s(a: u64, b: u64, rm: u32): u64 {
  const x = f32of(a), y = f32of(b);
  const s = x + y;
  if ((reinterpret<u64>(s) & EXP64) != EXP64) {
    const big = (<u32>a & ABS32) >= (<u32>b & ABS32);
    const h = select<f64>(x, y, big), l = select<f64>(y, x, big);
    const t = l - (s - h);
    if (t != 0) return narrowS(s, t > 0 ? 1 : -1, rm);
    if (rm == RDN && s == 0) return (<u32>a | <u32>b) == 0 ? 0 : <u64>SIGN32;
    return narrowS(s, 0, rm);
  }
  const ua = <u32>a, ub = <u32>b;
  if (isNaN32(ua) || isNaN32(ub)) return nanResult32(ua, ub);
  if (isInf32(ua)) {
    if (isInf32(ub) && ((ua ^ ub) & SIGN32) != 0) { fpFlags |= FLAG_NV; return CNAN32; }
    return <u64>ua;
  }
  return <u64>ub;
}

export function fsub_s(a: u64, b: u64, rm: u32): u64 {
  return fadd_s(a, <u64>(<u32>b ^ SIGN32), rm);
}

export function fmul_s(a: u64, b: u64, rm: u32): u64 {
  const p = f32of(a) * f32of(b); // exact: 24x24 bits, exponent well inside f64
  if ((reinterpret<u64>(p) & EXP64) != EXP64) return narrowS(p, 0, rm);
  const ua = <u32>a, ub = <u32>b;
  if (isNaN32(ua) || isNaN32(ub)) return nanResult32(ua, ub);
  if (isZero32(ua) || isZero32(ub)) { fpFlags |= FLAG_NV; return CNAN32; }
  return <u64>(((ua ^ ub) & SIGN32) | EXP32);
}

export function fdiv_s(a: u64, b: u64, rm: u32): u64 {
  // the correctly rounded f64 quotient of two binary32 values is within
  // 2^-53 relative of the exact one, while a non-exact quotient is at least
  // ~2^-50 relative away from any 25-bit number: narrowS with dir 0 is exact
  const q = f32of(a) / f32of(b);
  if ((reinterpret<u64>(q) & EXP64) != EXP64) return narrowS(q, 0, rm);
  const ua = <u32>a, ub = <u32>b;
  if (isNaN32(ua) || isNaN32(ub)) return nanResult32(ua, ub);
  const sign = (ua ^ ub) & SIGN32;
  if (isInf32(ua)) {
    if (isInf32(ub)) { fpFlags |= FLAG_NV; return CNAN32; }
    return <u64>(sign | EXP32);
  }
  // b is zero
  if (isZero32(ua)) { fpFlags |= FLAG_NV; return CNAN32; }
  fpFlags |= FLAG_DZ;
  return <u64>(sign | EXP32);
}

export function fsqrt_s(a: u64, rm: u32): u64 {
  const s = sqrt<f64>(f32of(a)); // same argument as fdiv_s
  if ((reinterpret<u64>(s) & EXP64) != EXP64) return narrowS(s, 0, rm);
  const ua = <u32>a;
  if (isSNaN32(ua) || (ua & SIGN32) != 0 && !isNaN32(ua)) fpFlags |= FLAG_NV;
  if (isNaN32(ua) || (ua & SIGN32) != 0) return CNAN32;
  return <u64>ua; // +inf
}

export function fmadd_s(a: u64, b: u64, c: u64, rm: u32): u64 { return fma32(<u32>a, <u32>b, <u32>c, rm); }
export function fmsub_s(a: u64, b: u64, c: u64, rm: u32): u64 { return fma32(<u32>a, <u32>b, <u32>c ^ SIGN32, rm); }
export function fnmsub_s(a: u64, b: u64, c: u64, rm: u32): u64 { return fma32(<u32>a ^ SIGN32, <u32>b, <u32>c, rm); }
export function fnmadd_s(a: u64, b: u64, c: u64, rm: u32): u64 { return fma32(<u32>a ^ SIGN32, <u32>b, <u32>c ^ SIGN32, rm); }

function fma32(a: u32, b: u32, c: u32, rm: u32): u64 {
  const p = <f64>reinterpret<f32>(a) * <f64>reinterpret<f32>(b); // exact
  const z = <f64>reinterpret<f32>(c);
  const s = p + z;
  if ((reinterpret<u64>(s) & EXP64) != EXP64) {
    const big = abs<f64>(p) >= abs<f64>(z);
    const h = select<f64>(p, z, big), l = select<f64>(z, p, big);
    const t = l - (s - h);           // exact error of s
    if (t != 0) return narrowS(s, t > 0 ? 1 : -1, rm);
    if (rm == RDN && s == 0) {
      return ((reinterpret<u64>(p) | reinterpret<u64>(z)) == 0) ? 0 : <u64>SIGN32;
    }
    return narrowS(s, 0, rm);
  }
  const sp = (a ^ b) & SIGN32;
  if (isNaN32(a) || isNaN32(b) || isNaN32(c)) {
    if (isSNaN32(a) || isSNaN32(b) || isSNaN32(c) ||
        (isInf32(a) && isZero32(b)) || (isZero32(a) && isInf32(b))) fpFlags |= FLAG_NV;
    return CNAN32;
  }
  if (isInf32(a) || isInf32(b)) {
    if (isZero32(a) || isZero32(b)) { fpFlags |= FLAG_NV; return CNAN32; }
    if (isInf32(c) && (c & SIGN32) != sp) { fpFlags |= FLAG_NV; return CNAN32; }
    return <u64>(sp | EXP32);
  }
  return <u64>c; // c infinite
}

export function fmin_s(a: u64, b: u64): u64 {
  const ua = <u32>a, ub = <u32>b;
  const x = reinterpret<f32>(ua), y = reinterpret<f32>(ub);
  if (x < y) return <u64>ua;
  if (y < x) return <u64>ub;
  if (x == y) return <u64>(ua | ub);
  return minmaxNaN32(ua, ub);
}

export function fmax_s(a: u64, b: u64): u64 {
  const ua = <u32>a, ub = <u32>b;
  const x = reinterpret<f32>(ua), y = reinterpret<f32>(ub);
  if (x > y) return <u64>ua;
  if (y > x) return <u64>ub;
  if (x == y) return <u64>(ua & ub);
  return minmaxNaN32(ua, ub);
}

function minmaxNaN32(a: u32, b: u32): u64 {
  if (isSNaN32(a) || isSNaN32(b)) fpFlags |= FLAG_NV;
  if (isNaN32(a)) return isNaN32(b) ? CNAN32 : <u64>b;
  return <u64>a;
}

export function feq_s(a: u64, b: u64): u64 {
  const ua = <u32>a, ub = <u32>b;
  if (reinterpret<f32>(ua) == reinterpret<f32>(ub)) return 1;
  if (isSNaN32(ua) || isSNaN32(ub)) fpFlags |= FLAG_NV;
  return 0;
}

export function flt_s(a: u64, b: u64): u64 {
  const ua = <u32>a, ub = <u32>b;
  if (reinterpret<f32>(ua) < reinterpret<f32>(ub)) return 1;
  if (isNaN32(ua) || isNaN32(ub)) fpFlags |= FLAG_NV;
  return 0;
}

export function fle_s(a: u64, b: u64): u64 {
  const ua = <u32>a, ub = <u32>b;
  if (reinterpret<f32>(ua) <= reinterpret<f32>(ub)) return 1;
  if (isNaN32(ua) || isNaN32(ub)) fpFlags |= FLAG_NV;
  return 0;
}

export function fclass_s(a: u64): u64 {
  const u = <u32>a;
  const neg = (u >> 31) != 0;
  const e = (u >> 23) & 0xff, m = u & 0x7f_ffff;
  if (e == 0xff) {
    if (m == 0) return neg ? 1 : 1 << 7;
    return (m & QUIET32) != 0 ? 1 << 9 : 1 << 8;
  }
  if (e == 0) {
    if (m == 0) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

// ---------------------------------------------------------------------------
// format conversions

/** Returns the binary32 pattern in the low 32 bits. */
export function fcvt_s_d(a: u64, rm: u32): u64 {
  if ((a & EXP64) != EXP64) return narrowS(reinterpret<f64>(a), 0, rm);
  return fcvtSlow_s_d(a, rm);
}

/** Exact widening; the binary32 pattern is taken from the low 32 bits. */
export function fcvt_d_s(a: u64, rm: u32): u64 {
  const u = <u32>a;
  if (isNaN32(u)) {
    if (isSNaN32(u)) fpFlags |= FLAG_NV;
    return CNAN64;
  }
  return reinterpret<u64>(<f64>reinterpret<f32>(u));
}
