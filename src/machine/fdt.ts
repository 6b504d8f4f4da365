/**
 * Flattened device tree (DTB, version 17): a small writer and a small reader.
 *
 * Blob layout written by `FdtBuilder.finish()`:
 *
 *   header (40 bytes) | memory reservation block | structure block | strings block
 *
 * Every integer is big-endian. The structure block is a token stream:
 * BEGIN_NODE name\0 (padded to 4) ... PROP len nameoff value (padded to 4) ...
 * END_NODE, closed by END. Property names live once each in the strings block.
 */

import { WkvmError } from '../errors.js';

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;

const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;

const HEADER_SIZE = 40;
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** A growable big-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length = need;
    return at;
  }

  // reserve() may replace buf/view: call it before reading them.
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, false);
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }

  /** Zero bytes up to a multiple of `align`. */
  pad(align: number): void {
    const rem = this.length % align;
    if (rem !== 0) this.reserve(align - rem); // new bytes are already zero
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function checkU32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw new Error(`FDT: ${what}: ${v} is not a 32-bit cell value`);
  }
  return v;
}

function checkU64(what: string, v: bigint): bigint {
  if (v < 0n || v > U64_MAX) throw new Error(`FDT: ${what}: ${v} is not a 64-bit value`);
  return v;
}

/** Encodes cells (32-bit each) big-endian. */
export function encodeU32(values: readonly number[], what = 'value'): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, checkU32(what, v), false));
  return out;
}

/** Encodes 64-bit values big-endian (two cells each, high cell first). */
export function encodeU64(values: readonly bigint[], what = 'value'): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigUint64(i * 8, checkU64(what, v), false));
  return out;
}

/** Encodes a string list: each string NUL-terminated, concatenated. */
export function encodeStrings(values: readonly string[], what = 'value'): Uint8Array {
  const parts = values.map((s) => {
    if (s.includes('\0')) throw new Error(`FDT: ${what}: string contains a NUL character`);
    return encoder.encode(s + '\0');
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// Node names: 1..31 characters of [A-Za-z0-9,._+-], then an optional
// "@unit-address". Property names: 1..31 characters of [A-Za-z0-9,._+?#-].
const NODE_NAME = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME = /^[A-Za-z0-9,._+?#-]{1,31}$/;

/**
 * Writes a device tree blob. Usage: `beginNode('')` for the root, properties,
 * nested `beginNode`/`endNode`, `endNode()` for the root, then `finish()`.
 * Misuse (bad names, unbalanced nodes, out-of-range cells) is a programming
 * error and throws a plain `Error`.
 */
export class FdtBuilder {
  private readonly struct = new ByteWriter();
  private readonly strings = new ByteWriter();
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: { address: bigint; size: bigint }[] = [];
  /** Property names of each open node, to catch duplicates. */
  private readonly open: Set<string>[] = [];
  private rootDone = false;
  private nextPhandle = 1;
  private finished = false;

  constructor(private readonly bootCpuid = 0) {
    checkU32('boot cpuid', bootCpuid);
  }

  /** Adds a memory reservation block entry (a range the OS must not use). */
  addReservation(address: bigint, size: bigint): this {
    this.reservations.push({ address: checkU64('reservation address', address), size: checkU64('reservation size', size) });
    return this;
  }

  /** Returns a fresh phandle (1, 2, 3, ...) to reference a node before or after it is written. */
  allocPhandle(): number {
    return this.nextPhandle++;
  }

  /** Writes the `phandle` property of the current node. */
  propPhandle(phandle: number): this {
    return this.propU32('phandle', phandle);
  }

  beginNode(name: string): this {
    this.checkWritable();
    if (this.open.length === 0) {
      if (this.rootDone) throw new Error('FDT: a tree has exactly one root node');
      if (name !== '') throw new Error(`FDT: the root node's name must be empty, not '${name}'`);
    } else if (!NODE_NAME.test(name)) {
      throw new Error(`FDT: invalid node name '${name}'`);
    }
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.bytes(encoder.encode(name + '\0'));
    this.struct.pad(4);
    this.open.push(new Set());
    return this;
  }

  endNode(): this {
    this.checkWritable();
    if (this.open.length === 0) throw new Error('FDT: endNode() without a matching beginNode()');
    this.open.pop();
    this.struct.u32(FDT_END_NODE);
    if (this.open.length === 0) this.rootDone = true;
    return this;
  }

  /** Writes a property with a raw value. */
  prop(name: string, value: Uint8Array): this {
    this.checkWritable();
    const node = this.open[this.open.length - 1];
    if (node === undefined) throw new Error(`FDT: property '${name}' outside of any node`);
    if (!PROP_NAME.test(name)) throw new Error(`FDT: invalid property name '${name}'`);
    if (node.has(name)) throw new Error(`FDT: duplicate property '${name}'`);
    node.add(name);
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.bytes(value);
    this.struct.pad(4);
    return this;
  }

  propU32(name: string, v: number | readonly number[]): this {
    return this.prop(name, encodeU32(typeof v === 'number' ? [v] : v, name));
  }

  propU64(name: string, v: bigint | readonly bigint[]): this {
    return this.prop(name, encodeU64(typeof v === 'bigint' ? [v] : v, name));
  }

  /** A list of 32-bit cells (`reg`, `interrupts-extended`, ...). */
  propCells(name: string, cells: readonly number[]): this {
    return this.prop(name, encodeU32(cells, name));
  }

  propString(name: string, s: string): this {
    return this.prop(name, encodeStrings([s], name));
  }

  propStrings(name: string, s: readonly string[]): this {
    return this.prop(name, encodeStrings(s, name));
  }

  /** A property with no value (a boolean flag such as `interrupt-controller`). */
  propEmpty(name: string): this {
    return this.prop(name, new Uint8Array(0));
  }

  /** Assembles the blob. The builder cannot be used afterwards. */
  finish(): Uint8Array {
    this.checkWritable();
    if (!this.rootDone) {
      throw new Error(this.open.length > 0 ? `FDT: ${this.open.length} node(s) not closed` : 'FDT: no root node');
    }
    this.finished = true;
    this.struct.u32(FDT_END);

    const rsvSize = (this.reservations.length + 1) * 16;
    const offRsv = HEADER_SIZE; // already 8-aligned
    const offStruct = offRsv + rsvSize;
    const offStrings = offStruct + this.struct.length;
    const total = offStrings + this.strings.length;

    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    const header = [
      FDT_MAGIC, total, offStruct, offStrings, offRsv, FDT_VERSION, FDT_LAST_COMP_VERSION,
      this.bootCpuid, this.strings.length, this.struct.length,
    ];
    header.forEach((v, i) => dv.setUint32(i * 4, v, false));
    this.reservations.forEach((r, i) => {
      dv.setBigUint64(offRsv + i * 16, r.address, false);
      dv.setBigUint64(offRsv + i * 16 + 8, r.size, false);
    });
    out.set(this.struct.result(), offStruct);
    out.set(this.strings.result(), offStrings);
    return out;
  }

  private stringOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.length;
      this.strings.bytes(encoder.encode(name + '\0'));
      this.stringOffsets.set(name, off);
    }
    return off;
  }

  private checkWritable(): void {
    if (this.finished) throw new Error('FDT: builder already finished');
  }
}

/** One node of a parsed tree. Property values are views into the blob. */
export class FdtNode {
  readonly props = new Map<string, Uint8Array>();
  readonly children: FdtNode[] = [];

  constructor(readonly name: string) {}

  child(name: string): FdtNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** Looks up a node by absolute-style path relative to this node: "/cpus/cpu@0". */
  find(path: string): FdtNode | undefined {
    let node: FdtNode | undefined = this;
    for (const part of path.split('/')) {
      if (part === '') continue;
      node = node.child(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /** Paths of this node and all its descendants, depth first ("/" for the root). */
  paths(prefix = ''): string[] {
    const me = prefix === '' && this.name === '' ? '/' : `${prefix}/${this.name}`;
    const base = me === '/' ? '' : me;
    return [me, ...this.children.flatMap((c) => c.paths(base))];
  }

  has(name: string): boolean {
    return this.props.has(name);
  }

  /** The property as 32-bit cells. Throws if missing or not a multiple of 4 bytes. */
  u32s(name: string): number[] {
    const v = this.need(name);
    if (v.length % 4 !== 0) throw new Error(`FDT: property '${name}' is not a list of cells`);
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: v.length / 4 }, (_, i) => dv.getUint32(i * 4, false));
  }

  u32(name: string): number {
    const cells = this.u32s(name);
    if (cells.length !== 1) throw new Error(`FDT: property '${name}' has ${cells.length} cells, expected 1`);
    return cells[0]!;
  }

  /** The property as 64-bit values (pairs of cells). */
  u64s(name: string): bigint[] {
    const v = this.need(name);
    if (v.length % 8 !== 0) throw new Error(`FDT: property '${name}' is not a list of 64-bit values`);
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: v.length / 8 }, (_, i) => dv.getBigUint64(i * 8, false));
  }

  u64(name: string): bigint {
    const vals = this.u64s(name);
    if (vals.length !== 1) throw new Error(`FDT: property '${name}' has ${vals.length} 64-bit values, expected 1`);
    return vals[0]!;
  }

  /** The property as a list of NUL-terminated strings. */
  strings(name: string): string[] {
    const v = this.need(name);
    if (v.length === 0 || v[v.length - 1] !== 0) throw new Error(`FDT: property '${name}' is not a string`);
    return decoder.decode(v.subarray(0, v.length - 1)).split('\0');
  }

  string(name: string): string {
    const list = this.strings(name);
    if (list.length !== 1) throw new Error(`FDT: property '${name}' holds ${list.length} strings, expected 1`);
    return list[0]!;
  }

  private need(name: string): Uint8Array {
    const v = this.props.get(name);
    if (v === undefined) throw new Error(`FDT: node '${this.name || '/'}' has no property '${name}'`);
    return v;
  }
}

export interface FdtBlob {
  root: FdtNode;
  reservations: { address: bigint; size: bigint }[];
  version: number;
  bootCpuid: number;
  totalSize: number;
}

/**
 * Parses a DTB (version 16 or 17 layout). Every malformation throws a
 * one-line `WkvmError` naming `name`; no other exception escapes.
 */
export function parseFdtBlob(blob: Uint8Array, name = 'device tree'): FdtBlob {
  const fail: (why: string) => never = (why) => {
    throw new WkvmError(`${name}: invalid device tree blob: ${why}`);
  };
  const align4 = (x: number): number => Math.ceil(x / 4) * 4;
  if (blob.length < HEADER_SIZE) fail('too short for a header');
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const h = (i: number): number => dv.getUint32(i * 4, false);
  if (h(0) !== FDT_MAGIC) fail('bad magic');
  const [totalSize, offStruct, offStrings, offRsv, version, lastComp, bootCpuid, sizeStrings, sizeStruct] =
    [h(1), h(2), h(3), h(4), h(5), h(6), h(7), h(8), h(9)] as const;
  if (version < 16 || lastComp > FDT_VERSION) fail(`unsupported version ${version}`);
  if (totalSize > blob.length) fail(`totalsize ${totalSize} exceeds the ${blob.length} bytes given`);
  const inBlock = (off: number, size: number): boolean => off + size <= totalSize;
  if (!inBlock(offStruct, sizeStruct)) fail('structure block out of bounds');
  if (!inBlock(offStrings, sizeStrings)) fail('strings block out of bounds');
  if (offRsv % 8 !== 0 || offRsv >= totalSize) fail('memory reservation block out of bounds');

  const reservations: { address: bigint; size: bigint }[] = [];
  for (let at = offRsv; ; at += 16) {
    if (at + 16 > totalSize) fail('unterminated memory reservation block');
    const address = dv.getBigUint64(at, false);
    const size = dv.getBigUint64(at + 8, false);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const structEnd = offStruct + sizeStruct;
  let pos = offStruct;
  const token = (): number => {
    if (pos + 4 > structEnd) fail('structure block ends early');
    const t = dv.getUint32(pos, false);
    pos += 4;
    return t;
  };
  /** A NUL-terminated string at `from` (before `end`), and its length in bytes without the NUL. */
  const cstring = (from: number, end: number, what: string): [string, number] => {
    const nul = blob.subarray(from, end).indexOf(0);
    if (nul < 0) fail(`unterminated ${what}`);
    return [decoder.decode(blob.subarray(from, from + nul)), nul];
  };

  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const t = token();
    if (t === FDT_NOP) continue;
    if (t === FDT_BEGIN_NODE) {
      const [nodeName, len] = cstring(pos, structEnd, 'node name');
      pos = align4(pos + len + 1);
      const node = new FdtNode(nodeName);
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(node);
      else if (root) fail('more than one root node');
      else root = node;
      stack.push(node);
    } else if (t === FDT_PROP) {
      const node = stack[stack.length - 1];
      if (!node) fail('property outside of any node');
      const len = token();
      const nameOff = token();
      if (len > structEnd - pos) fail('property value out of bounds');
      if (nameOff >= sizeStrings) fail('property name offset out of bounds');
      const [propName] = cstring(offStrings + nameOff, offStrings + sizeStrings, 'property name');
      node.props.set(propName, blob.subarray(pos, pos + len));
      pos = align4(pos + len);
    } else if (t === FDT_END_NODE) {
      if (stack.length === 0) fail('unbalanced end of node');
      stack.pop();
    } else if (t === FDT_END) {
      break;
    } else {
      fail(`unknown token 0x${t.toString(16)}`);
    }
  }
  if (!root) fail('no root node');
  if (stack.length > 0) fail('unterminated node');
  return { root, reservations, version, bootCpuid, totalSize };
}

/** Parses a DTB and returns its root node (see `parseFdtBlob`). */
export function parseFdt(blob: Uint8Array, name = 'device tree'): FdtNode {
  return parseFdtBlob(blob, name).root;
}
