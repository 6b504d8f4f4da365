/**
 * The snapshot file: a versioned header that names the machine it was taken
 * of, then sections, then a checksum of everything before it.
 *
 *   "WKVMSNAP" | u32 format version | u32 header length | header (JSON, UTF-8)
 *   sections: u32 tag | u32 reserved | u64 length | bytes
 *   "END\0" section, then u32 CRC-32 of all the bytes before it
 *
 * Sections: MACH (the machine block's device state: UART, PLIC), VCPU (one
 * per hart: u32 hart, then its architectural state), RAM (runs of non-zero
 * 4 KiB pages: u32 first page, u32 count, the pages; pages never touched or
 * all zero are not stored), DEVS (the devices' save() states, JSON). The
 * loader trusts nothing: every length is checked against what remains and
 * what the header allows, and a file that does not add up is a one-line
 * WkvmError.
 */
import { fstatSync, readSync } from 'node:fs';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { WkvmError, describeFsError } from '../errors.js';

export const SNAPSHOT_MAGIC = 'WKVMSNAP';
/** Bumped when the file's structure changes. */
export const SNAPSHOT_FORMAT = 1;
export const PAGE = 4096;

export const TAG = { MACH: 0x4843414d, VCPU: 0x55504356, RAM: 0x204d4152, DEVS: 0x53564544, END: 0x00444e45 } as const;

/** What the snapshot was taken of: a restore must match it. */
export interface SnapshotHeader {
  format: number;
  /** The shared-memory layout version (assembly/layout.ts LAYOUT_VERSION): the vCPU state's meaning. */
  layout: number;
  wkvm: string;
  savedAt: string;
  machine: { ramSize: string; smp: number; devices: string[] };
  /** The guest's clock (mtime ticks) when it was saved: it goes on from here. */
  mtime: string;
  /** Whether the VM was running (a restore resumes it) or paused. */
  running: boolean;
  /** The boot header fields that are not in RAM (HTIF addresses, boot flags). */
  boot: { tohost: string; fromhost: string; bootFlags: number };
}

export interface SnapshotContents {
  header: SnapshotHeader;
  machine: Uint8Array;
  vcpus: Uint8Array[];
  /** Runs of non-zero pages: [first page index, bytes (a whole number of pages)]. */
  ram: { page: number; data: Uint8Array }[];
  devices: unknown;
  /** The RAM runs were read into the restoring machine's RAM, where they belong (readSnapshotSections). */
  inPlace?: boolean;
}

/** CRC-32 (IEEE, zlib's) of the chunks. */
function crc32(chunks: Iterable<Uint8Array>): number {
  let c = 0;
  for (const b of chunks) c = zlibCrc32(b, c);
  return c >>> 0;
}

/**
 * The non-zero pages of `ram` as runs (a zero page costs nothing in the
 * file). With `touched` (1 bit per page that may be non-zero) the others are
 * not even read: reading a never-touched page of shared memory costs a page
 * fault and makes it resident.
 */
export function sparsePages(ram: Uint8Array, touched?: Uint8Array): { page: number; data: Uint8Array }[] {
  const zero = Buffer.alloc(PAGE);
  const buf = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength);
  const runs: { page: number; data: Uint8Array }[] = [];
  const pages = Math.floor(ram.byteLength / PAGE);
  let start = -1;
  for (let p = 0; p <= pages; p++) {
    const maybe = p < pages && (!touched || (touched[p >> 3]! & (1 << (p & 7))) !== 0);
    const nonZero = maybe && buf.compare(zero, 0, PAGE, p * PAGE, (p + 1) * PAGE) !== 0;
    if (nonZero && start < 0) start = p;
    else if (!nonZero && start >= 0) {
      runs.push({ page: start, data: ram.subarray(start * PAGE, p * PAGE) });
      start = -1;
    }
  }
  return runs;
}

/** The file's bytes, as chunks (the RAM runs are views, not copies). */
export function encodeSnapshot(s: SnapshotContents): Uint8Array[] {
  const out: Uint8Array[] = [];
  const u32 = (v: number): Uint8Array => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
  const section = (tag: number, parts: Uint8Array[]): void => {
    const len = parts.reduce((n, p) => n + p.byteLength, 0);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(tag, 0);
    h.writeBigUInt64LE(BigInt(len), 8);
    out.push(h, ...parts);
  };
  const header = Buffer.from(JSON.stringify(s.header), 'utf8');
  out.push(Buffer.from(SNAPSHOT_MAGIC, 'latin1'), u32(SNAPSHOT_FORMAT), u32(header.length), header);
  section(TAG.MACH, [s.machine]);
  s.vcpus.forEach((v, hart) => section(TAG.VCPU, [u32(hart), v]));
  for (const r of s.ram) section(TAG.RAM, [u32(r.page), u32(r.data.byteLength / PAGE), r.data]);
  section(TAG.DEVS, [Buffer.from(JSON.stringify(s.devices), 'utf8')]);
  section(TAG.END, []);
  out.push(u32(crc32(out)));
  return out;
}

const bad = (what: string): never => { throw new WkvmError(`snapshot: ${what}`); };

/**
 * Where the loader reads a snapshot from, front to back: the file's bytes in
 * memory (checked whole against the checksum before anything is parsed), or
 * an open file read as the loader goes (the checksum accumulated over what
 * was read, and checked at the end section), so that RAM pages go from the
 * file straight into the machine's memory: a copy of the file first would
 * cost a page fault for each of its pages (~12 us each here).
 */
export interface SnapshotInput {
  readonly size: number;
  /** The `len` bytes at `at`: a view of memory, or new bytes read from the file. */
  bytes(at: number, len: number): Buffer;
  /** The bytes at `at` into all of `target`. */
  copy(at: number, target: Uint8Array): void;
  /** At the end section (at `at`): throws unless the checksum of the bytes before it matches. */
  verify(at: number): void;
}

/** A snapshot's bytes in memory: its checksum is checked here, before the loader trusts any of it. */
export function bufferInput(file: Uint8Array): SnapshotInput {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.length >= 20 && b.toString('latin1', 0, 8) === SNAPSHOT_MAGIC && b.readUInt32LE(8) === SNAPSHOT_FORMAT &&
    crc32([b.subarray(0, b.length - 4)]) !== b.readUInt32LE(b.length - 4)) bad('checksum mismatch (the file is truncated or corrupt)');
  return {
    size: b.length,
    bytes: (at, len) => b.subarray(at, at + len),
    copy: (at, target) => target.set(b.subarray(at, at + target.byteLength)),
    verify: () => {},
  };
}

/** An open snapshot file, read front to back (synchronously: a restore has nothing else to do meanwhile). */
export function fileInput(fd: number, name: string): SnapshotInput {
  const fail = (e: unknown): never => { throw new WkvmError(`cannot read snapshot '${name}': ${describeFsError(e)}`); };
  let size = 0;
  try { size = fstatSync(fd).size; } catch (e) { fail(e); }
  let pos = 0, crc = 0;
  const fill = (at: number, target: Uint8Array): void => {
    if (at !== pos) throw new Error(`snapshot reader: read at ${at}, expected ${pos}`); // the loader reads in order
    let done = 0;
    while (done < target.byteLength) {
      let n = 0;
      try { n = readSync(fd, target, done, target.byteLength - done, at + done); } catch (e) { fail(e); }
      if (n === 0) bad('truncated file (it shrank while it was read)');
      done += n;
    }
    crc = zlibCrc32(target, crc);
    pos += target.byteLength;
  };
  return {
    size,
    bytes: (at, len) => { const b = Buffer.allocUnsafe(len); fill(at, b); return b; },
    copy: fill,
    verify: (at) => {
      if (at !== pos || size - at !== 4) bad('bytes after the end section');
      const sum = Buffer.allocUnsafe(4);
      const before = crc;
      fill(at, sum);
      if (before >>> 0 !== sum.readUInt32LE(0)) bad('checksum mismatch (the file is truncated or corrupt)');
    },
  };
}

/**
 * Where an open snapshot file's RAM runs go, from its section headers alone
 * (`at`: where the sections start): a hint, so that another thread can take
 * the new memory's page faults while the loader reads the file front to
 * back. It checks only that it stays inside the file and the RAM, stops at
 * anything else, and never throws: the loader checks everything as it reads.
 */
export function ramRunsAhead(fd: number, at: number, size: number, ramPages: number): { page: number; count: number }[] {
  const runs: { page: number; count: number }[] = [];
  const head = Buffer.alloc(24);
  try {
    while (at + 16 <= size - 4) {
      const n = readSync(fd, head, 0, Math.min(24, size - 4 - at), at);
      if (n < 16) break;
      const tag = head.readUInt32LE(0), len = Number(head.readBigUInt64LE(8));
      if (tag === TAG.END || len > size - 4 - at - 16) break;
      if (tag === TAG.RAM && n === 24) {
        const page = head.readUInt32LE(16), count = head.readUInt32LE(20);
        if (count > 0 && page + count <= ramPages && len === 8 + count * PAGE) runs.push({ page, count });
      }
      at += 16 + len;
    }
  } catch { /* the loader will say what is wrong */ }
  return runs;
}

/** Parse and check a snapshot held in memory (see readSnapshotHeader and readSnapshotSections). */
export function decodeSnapshot(file: Uint8Array, limits: { vcpuBytes: number; machineBytes: number }): SnapshotContents {
  const input = bufferInput(file);
  const { header, sections } = readSnapshotHeader(input);
  return readSnapshotSections(input, header, sections, limits);
}

/** The file's header: magic, format version, and the machine it was taken of (checked); `sections` is where they start. */
export function readSnapshotHeader(input: SnapshotInput): { header: SnapshotHeader; sections: number } {
  if (input.size < 16) bad('not a wkvm snapshot (no WKVMSNAP header)');
  const start = input.bytes(0, 16);
  if (start.toString('latin1', 0, 8) !== SNAPSHOT_MAGIC) bad('not a wkvm snapshot (no WKVMSNAP header)');
  const format = start.readUInt32LE(8);
  if (format !== SNAPSHOT_FORMAT) bad(`format version ${format}, this wkvm reads version ${SNAPSHOT_FORMAT}`);
  if (input.size < 20) bad('truncated file');
  const hlen = start.readUInt32LE(12);
  if (16 + hlen > input.size - 4) bad('truncated header');
  let header: SnapshotHeader;
  try { header = JSON.parse(input.bytes(16, hlen).toString('utf8')) as SnapshotHeader; } catch { return bad('unreadable header'); }
  checkHeader(header);
  return { header, sections: 16 + hlen };
}

/**
 * The sections from `at` on. `limits` are what the restoring machine has
 * room for (its vCPU state size, its machine block). With `ram` (the
 * restoring machine's RAM) every run of pages is read into its place there
 * and the result's runs are views of it (`inPlace`); otherwise they are
 * views of the input.
 */
export function readSnapshotSections(input: SnapshotInput, header: SnapshotHeader, at: number,
  limits: { vcpuBytes: number; machineBytes: number }, ram?: Uint8Array): SnapshotContents {
  const end = input.size - 4;
  const ramPages = Number(BigInt(header.machine.ramSize) / BigInt(PAGE));
  if (ram && ram.byteLength < ramPages * PAGE) throw new Error('snapshot reader: the RAM given is smaller than the header\'s');
  const contents: SnapshotContents = { header, machine: new Uint8Array(0), vcpus: [], ram: [], devices: undefined, inPlace: ram !== undefined };
  let sawEnd = false, sawMach = false, sawDevs = false;
  while (!sawEnd) {
    if (at + 16 > end) bad('truncated section');
    const head = input.bytes(at, 16);
    const tag = head.readUInt32LE(0);
    const len = head.readBigUInt64LE(8);
    at += 16;
    if (len > BigInt(end - at)) bad('a section runs past the end of the file');
    const n = Number(len);
    switch (tag) {
      case TAG.MACH:
        if (sawMach || n !== limits.machineBytes) bad('bad machine section');
        sawMach = true;
        contents.machine = input.bytes(at, n);
        break;
      case TAG.VCPU: {
        if (n !== 4 + limits.vcpuBytes) bad('bad vCPU section size');
        const body = input.bytes(at, n);
        const hart = body.readUInt32LE(0);
        if (hart !== contents.vcpus.length || hart >= header.machine.smp) bad('vCPU sections out of order');
        contents.vcpus.push(body.subarray(4));
        break;
      }
      case TAG.RAM: {
        if (n < 8) bad('bad RAM section');
        const run = input.bytes(at, 8);
        const page = run.readUInt32LE(0), count = run.readUInt32LE(4);
        if (count === 0 || n !== 8 + count * PAGE || page + count > ramPages) bad('a RAM run outside the machine\'s RAM');
        const prev = contents.ram.at(-1);
        if (prev && page < prev.page + prev.data.byteLength / PAGE) bad('RAM runs overlap or are out of order');
        let data: Uint8Array;
        if (ram) {
          data = ram.subarray(page * PAGE, (page + count) * PAGE);
          input.copy(at + 8, data);
        } else data = input.bytes(at + 8, n - 8);
        contents.ram.push({ page, data });
        break;
      }
      case TAG.DEVS:
        if (sawDevs) bad('two device sections');
        sawDevs = true;
        try { contents.devices = JSON.parse(input.bytes(at, n).toString('utf8')); } catch { bad('unreadable device state'); }
        break;
      case TAG.END:
        sawEnd = true;
        break;
      default:
        bad(`unknown section 0x${tag.toString(16)}`);
    }
    at += n;
  }
  if (at !== end) bad('bytes after the end section');
  input.verify(at);
  if (!sawMach || !sawDevs || contents.vcpus.length !== header.machine.smp) bad('missing sections');
  return contents;
}

function checkHeader(h: SnapshotHeader): void {
  const isStr = (v: unknown, re: RegExp): boolean => typeof v === 'string' && re.test(v);
  if (typeof h !== 'object' || h === null) bad('bad header');
  if (typeof h.layout !== 'number' || typeof h.format !== 'number') bad('bad header');
  const m = h.machine;
  if (typeof m !== 'object' || m === null || !isStr(m.ramSize, /^\d{1,15}$/) || !Number.isInteger(m.smp) || m.smp < 1 ||
    !Array.isArray(m.devices) || !m.devices.every((d) => typeof d === 'string')) bad('bad machine description in the header');
  if (BigInt(m.ramSize) % BigInt(PAGE) !== 0n) bad('bad RAM size in the header');
  if (!isStr(h.mtime, /^\d{1,20}$/) || typeof h.running !== 'boolean') bad('bad header');
  const boot = h.boot;
  if (typeof boot !== 'object' || boot === null || !isStr(boot.tohost, /^\d{1,20}$/) || !isStr(boot.fromhost, /^\d{1,20}$/) ||
    !Number.isInteger(boot.bootFlags)) bad('bad boot fields in the header');
}
