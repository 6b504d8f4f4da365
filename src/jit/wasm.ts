/**
 * A small WebAssembly binary writer for the JIT: the opcodes translations
 * use, LEB128 immediates, and the module sections around them.
 */

export enum T { i32 = 0x7f, i64 = 0x7e, f32 = 0x7d, f64 = 0x7c, void_ = 0x40 }

/** Opcodes (WebAssembly core spec, binary format). */
export enum Op {
  unreachable = 0x00, block = 0x02, loop = 0x03, if_ = 0x04, else_ = 0x05, end = 0x0b, br = 0x0c, br_if = 0x0d,
  br_table = 0x0e, return_ = 0x0f, call = 0x10, call_indirect = 0x11, return_call = 0x12,
  return_call_indirect = 0x13, drop = 0x1a, select = 0x1b,
  local_get = 0x20, local_set = 0x21, local_tee = 0x22, global_get = 0x23, global_set = 0x24,
  i32_load = 0x28, i64_load = 0x29, i64_load8_s = 0x30, i64_load8_u = 0x31, i64_load16_s = 0x32,
  i64_load16_u = 0x33, i64_load32_s = 0x34, i64_load32_u = 0x35, i32_store = 0x36, i64_store = 0x37,
  i64_store8 = 0x3c, i64_store16 = 0x3d, i64_store32 = 0x3e,
  f32_load = 0x2a, f64_load = 0x2b, f32_store = 0x38, f64_store = 0x39,
  i32_const = 0x41, i64_const = 0x42, f64_const = 0x44,
  i32_eqz = 0x45, i32_eq = 0x46, i32_ne = 0x47, i32_lt_s = 0x48, i32_ge_s = 0x4e, i32_le_u = 0x4d, i32_gt_u = 0x4b,
  i64_eqz = 0x50, i64_eq = 0x51, i64_ne = 0x52, i64_lt_s = 0x53, i64_lt_u = 0x54, i64_ge_s = 0x59, i64_ge_u = 0x5a, i64_gt_u = 0x56,
  i32_add = 0x6a, i32_sub = 0x6b, i32_and = 0x71, i32_or = 0x72, i32_xor = 0x73, i32_shl = 0x74, i32_shr_s = 0x75, i32_shr_u = 0x76,
  i32_mul = 0x6c, i32_div_s = 0x6d, i32_div_u = 0x6e, i32_rem_s = 0x6f, i32_rem_u = 0x70,
  i64_add = 0x7c, i64_sub = 0x7d, i64_mul = 0x7e, i64_div_s = 0x7f, i64_div_u = 0x80, i64_rem_s = 0x81,
  i64_rem_u = 0x82, i64_and = 0x83, i64_or = 0x84, i64_xor = 0x85, i64_shl = 0x86, i64_shr_s = 0x87, i64_shr_u = 0x88,
  i32_wrap_i64 = 0xa7, i64_extend_i32_s = 0xac, i64_extend_i32_u = 0xad,
  i64_extend8_s = 0xc2, i64_extend16_s = 0xc3, i64_extend32_s = 0xc4,
  f64_eq = 0x61, f64_ne = 0x62, f64_lt = 0x63, f64_gt = 0x64, f64_le = 0x65, f64_ge = 0x66,
  f32_sqrt = 0x91, f32_add = 0x92, f32_sub = 0x93, f32_mul = 0x94, f32_div = 0x95,
  f32_neg = 0x8c, f64_neg = 0x9a, f64_ceil = 0x9b, f64_floor = 0x9c, f64_trunc = 0x9d, f64_nearest = 0x9e,
  f64_sqrt = 0x9f, f64_add = 0xa0, f64_sub = 0xa1, f64_mul = 0xa2, f64_div = 0xa3,
  i64_trunc_f64_s = 0xb0,
  f32_convert_i32_s = 0xb2, f32_convert_i32_u = 0xb3, f32_convert_i64_s = 0xb4, f32_convert_i64_u = 0xb5,
  f32_demote_f64 = 0xb6,
  f64_convert_i32_s = 0xb7, f64_convert_i32_u = 0xb8, f64_convert_i64_s = 0xb9, f64_convert_i64_u = 0xba,
  f64_promote_f32 = 0xbb, i32_reinterpret_f32 = 0xbc, i64_reinterpret_f64 = 0xbd, f64_reinterpret_i64 = 0xbf,
  simd = 0xfd, // the prefix of the vector instructions (Simd)
  atomic = 0xfe, // the prefix of the atomic memory instructions (a u32 opcode, then a memarg)
}

/** Vector instructions: the u32 after the 0xfd prefix. */
export enum Simd {
  f32x4_splat = 0x13, f64x2_splat = 0x14, f32x4_extract_lane = 0x1f, f64x2_extract_lane = 0x21,
  f32x4_relaxed_madd = 0x105, f64x2_relaxed_madd = 0x107, // relaxed SIMD
}

/** A branch hint's value (the branch-hinting proposal's metadata.code.branch_hint). */
export const enum Hint { unlikely = 0, likely = 1 }

/** A growable byte buffer with LEB128 writers. */
export class Bytes {
  buf: Uint8Array<ArrayBuffer>;
  len = 0;
  /**
   * A function body's branch hints: pairs of (offset of an `if` or `br_if`
   * from the body's start, Hint), in increasing offsets; assemble() writes
   * them as the module's metadata.code.branch_hint section.
   */
  hints: number[] = [];

  constructor(capacity = 512) { this.buf = new Uint8Array(capacity); }

  private grow(need: number): void {
    let size = this.buf.length * 2;
    while (size < this.len + need) size *= 2;
    const n = new Uint8Array(size);
    n.set(this.buf.subarray(0, this.len));
    this.buf = n;
  }
  byte(b: number): void {
    if (this.len === this.buf.length) this.grow(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array | readonly number[]): void {
    if (this.len + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  u32(v: number): void {
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
  }
  /** An f64 constant's 8 bytes (little-endian). */
  f64(v: number): void {
    F64_VIEW.setFloat64(0, v, true);
    this.bytes(F64_BYTES);
  }
  /** A signed LEB128 of a safe integer (i32 and i64 constants alike; no BigInt while compiling). */
  sNum(v: number): void {
    for (;;) {
      const b = v - Math.floor(v / 128) * 128; // v mod 128, also for negative v
      v = Math.floor(v / 128);
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { this.byte(b); return; }
      this.byte(b | 0x80);
    }
  }

  name(s: string): void { this.u32(s.length); for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i)); }
  /** Append `body` as a section or vector entry: its length, then its bytes. */
  sized(body: Bytes): void { this.u32(body.len); this.bytes(body.buf.subarray(0, body.len)); }
  view(): Uint8Array<ArrayBuffer> { return this.buf.subarray(0, this.len); }
  /** Hint how the `if` or `br_if` written next goes (V8 lays the unlikely side out of line and spills there). */
  hint(h: Hint): void { this.hints.push(this.len, h); }
  /** Start over (the buffer is kept: a scratch writer reused grows once, not on every use). */
  clear(): this { this.len = 0; this.hints.length = 0; return this; }
  /** A writer holding a copy of these bytes in a buffer of their size (one allocation). */
  trimmed(): Bytes {
    const b = new Bytes(0);
    b.buf = this.buf.slice(0, this.len);
    b.len = this.len;
    b.hints = this.hints.slice();
    return b;
  }
}

const F64_BYTES = new Uint8Array(8);
const F64_VIEW = new DataView(F64_BYTES.buffer);

/**
 * Scratch writers reused by every assemble() call of a thread, and by the
 * translator for a function body before it is trimmed to size: the
 * translator's allocations were ~a quarter of its time (garbage collection,
 * and buffers grown by doubling, 512 bytes at a time, for every body and
 * section).
 */
const sectionScratch = new Bytes(1 << 12);
const moduleScratch = new Bytes(1 << 16);

/** The bytes of v as an unsigned LEB128. */
function leb128Size(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}

export interface FuncType { params: T[]; results: T[] }
export type Import =
  | { module: string; name: string; kind: 'func'; type: number }
  | { module: string; name: string; kind: 'memory'; min: number; max: number; shared: boolean }
  | { module: string; name: string; kind: 'global'; type: T; mutable: boolean }
  | { module: string; name: string; kind: 'table'; min: number };

/**
 * Assemble a module: types, imports, functions (all of type `funcType`)
 * exported as f0, f1, ... (Measured: instantiating a module that imports a
 * 16K-entry table costs ~1.5 ms, one that exports its functions for
 * table.set ~0.06 ms.)
 */
export function assemble(types: FuncType[], imports: Import[], funcType: number, bodies: Bytes[]): Uint8Array<ArrayBuffer> {
  const out = moduleScratch.clear();
  out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const section = (id: number, fill: (b: Bytes) => void): void => {
    const b = sectionScratch.clear();
    fill(b);
    out.byte(id);
    out.sized(b);
  };
  section(1, (b) => {
    b.u32(types.length);
    for (const t of types) {
      b.byte(0x60);
      b.u32(t.params.length); for (const p of t.params) b.byte(p);
      b.u32(t.results.length); for (const r of t.results) b.byte(r);
    }
  });
  section(2, (b) => {
    b.u32(imports.length);
    for (const im of imports) {
      b.name(im.module); b.name(im.name);
      if (im.kind === 'func') { b.byte(0x00); b.u32(im.type); }
      else if (im.kind === 'memory') { b.byte(0x02); b.byte(im.shared ? 0x03 : 0x01); b.u32(im.min); b.u32(im.max); }
      else if (im.kind === 'table') { b.byte(0x01); b.byte(0x70); b.byte(0x00); b.u32(im.min); }
      else { b.byte(0x03); b.byte(im.type); b.byte(im.mutable ? 1 : 0); }
    }
  });
  section(3, (b) => { b.u32(bodies.length); for (let i = 0; i < bodies.length; i++) b.u32(funcType); });
  const funcImports = imports.filter((im) => im.kind === 'func').length;
  section(7, (b) => {
    b.u32(bodies.length);
    for (let i = 0; i < bodies.length; i++) { b.name(`f${i}`); b.byte(0x00); b.u32(funcImports + i); }
  });
  // the bodies' branch hints, before the code section (where V8 reads them)
  const hinted = bodies.reduce((n, body) => n + (body.hints.length > 0 ? 1 : 0), 0);
  if (hinted > 0) {
    section(0, (b) => {
      b.name('metadata.code.branch_hint');
      b.u32(hinted);
      bodies.forEach((body, i) => {
        if (body.hints.length === 0) return;
        b.u32(funcImports + i);
        b.u32(body.hints.length / 2);
        for (let k = 0; k < body.hints.length; k += 2) { b.u32(body.hints[k]!); b.u32(1); b.byte(body.hints[k + 1]!); }
      });
    });
  }
  // the code section, most of a module, written in place: its size, then each body's size and bytes
  let size = leb128Size(bodies.length);
  for (const body of bodies) size += leb128Size(body.len) + body.len;
  out.byte(10);
  out.u32(size);
  out.u32(bodies.length);
  for (const body of bodies) { out.u32(body.len); out.bytes(body.view()); }
  return out.view().slice();
}
