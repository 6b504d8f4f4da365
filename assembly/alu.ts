// Arithmetic that Wasm has no instruction for, shared by the interpreter and
// the helpers translated code calls.

/** The high 64 bits of the unsigned 128-bit product (from 32-bit halves). */
// @ts-ignore: decorator
@inline export function mulhu(a: u64, b: u64): u64 {
  const aL = a & 0xffff_ffff, aH = a >> 32, bL = b & 0xffff_ffff, bH = b >> 32;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >> 32) + (lh & 0xffff_ffff) + (hl & 0xffff_ffff);
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}
export function mulh(a: u64, b: u64): u64 {
  let r = mulhu(a, b);
  if (<i64>a < 0) r -= b;
  if (<i64>b < 0) r -= a;
  return r;
}
export function mulhsu(a: u64, b: u64): u64 {
  let r = mulhu(a, b);
  if (<i64>a < 0) r -= b;
  return r;
}
