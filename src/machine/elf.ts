/**
 * ELF64 little-endian RISC-V executable reader: PT_LOAD segments (placed at
 * their physical addresses, as QEMU's loader does) and the symbol table.
 *
 * Any malformed input throws a one-line `WkvmError` naming the file; no
 * other exception escapes (the parser is fuzzed).
 */

import { WkvmError } from '../errors.js';

export interface ElfSegment {
  paddr: bigint;
  vaddr: bigint;
  /** The p_filesz bytes of the file image (a view into the input buffer). */
  data: Uint8Array;
  /** Size in memory; bytes past data.length are zero (.bss). */
  memsz: bigint;
}

export interface ElfImage {
  entry: bigint;
  segments: ElfSegment[];
  /** Named, defined symbols from .symtab (global ones win over locals of the same name). */
  symbols: Map<string, bigint>;
}

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_RISCV = 243;
const PT_LOAD = 1;
const PN_XNUM = 0xffff;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHN_UNDEF = 0;
const STB_LOCAL = 0;
const STT_SECTION = 3;
const STT_FILE = 4;

const U64_LIMIT = 1n << 64n;

const ET_NAMES: Record<number, string> = { 0: 'no file type', 1: 'relocatable object', 4: 'core dump' };

const MACHINE_NAMES: Record<number, string> = {
  2: 'SPARC', 3: 'x86', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 'S/390', 40: 'ARM',
  43: 'SPARC64', 50: 'IA-64', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 247: 'BPF', 258: 'LoongArch',
};

const decoder = new TextDecoder('utf-8', { fatal: false });

export function isElf(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

export function parseElf(buf: Uint8Array, name: string): ElfImage {
  const fail: (why: string) => never = (why) => {
    throw new WkvmError(`${name}: ${why}`);
  };
  if (!isElf(buf)) fail('not an ELF file');
  if (buf.length < 6) fail('truncated ELF header');
  if (buf[4] === ELFCLASS32) fail('32-bit ELF; wkvm runs RV64 only');
  if (buf[4] !== ELFCLASS64) fail(`unknown ELF class ${buf[4]}`);
  if (buf[5] === ELFDATA2MSB) fail('big-endian ELF; RISC-V is little-endian');
  if (buf[5] !== ELFDATA2LSB) fail(`unknown ELF data encoding ${buf[5]}`);
  if (buf.length < EHDR_SIZE) fail(`truncated ELF header (${buf.length} bytes)`);

  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (at: number): number => dv.getUint16(at, true);
  const u32 = (at: number): number => dv.getUint32(at, true);
  const u64 = (at: number): bigint => dv.getBigUint64(at, true);
  const size = BigInt(buf.length);
  /** Checks that [off, off + len) lies inside the file and returns off as a number. */
  const range = (off: bigint, len: bigint, what: string): number => {
    if (off + len > size) fail(`truncated ${what} (needs bytes up to ${off + len}, file has ${size})`);
    return Number(off);
  };

  const type = u16(16);
  const machine = u16(18);
  if (type !== ET_EXEC && type !== ET_DYN) {
    fail(`not an executable ELF (type ${type}: ${ET_NAMES[type] ?? 'unknown'})`);
  }
  if (machine !== EM_RISCV) {
    const m = MACHINE_NAMES[machine];
    fail(`ELF machine ${machine}${m ? ` (${m})` : ''}, not RISC-V (${EM_RISCV})`);
  }
  const entry = u64(24);
  const phoff = u64(32);
  const shoff = u64(40);
  const phentsize = u16(54);
  let phnum = u16(56);
  const shentsize = u16(58);
  let shnum = u16(60);

  // Section headers are optional (stripped files); when present they must be sound.
  let shdrs = 0;
  const haveSections = shoff !== 0n;
  if (haveSections) {
    if (shentsize < SHDR_SIZE) fail(`bad section header size ${shentsize}`);
    shdrs = range(shoff, BigInt(shentsize), 'section headers');
    if (shnum === 0) shnum = Number(u64(shdrs + 32) & 0xffff_ffffn); // extended count lives in sh_size of section 0
    range(shoff, BigInt(shentsize) * BigInt(shnum), 'section headers');
    if (phnum === PN_XNUM) phnum = u32(shdrs + 44); // sh_info of section 0
  } else if (phnum === PN_XNUM) {
    fail('extended program header count without section headers');
  }
  const sh = (i: number) => {
    const at = shdrs + i * shentsize;
    return { type: u32(at + 4), offset: u64(at + 24), size: u64(at + 32), link: u32(at + 40), entsize: u64(at + 56) };
  };

  if (phnum === 0) fail('no loadable segments');
  if (phentsize < PHDR_SIZE) fail(`bad program header size ${phentsize}`);
  const phdrs = range(phoff, BigInt(phentsize) * BigInt(phnum), 'program headers');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phdrs + i * phentsize;
    if (u32(at) !== PT_LOAD) continue;
    const offset = u64(at + 8);
    const vaddr = u64(at + 16);
    const paddr = u64(at + 24);
    const filesz = u64(at + 32);
    const memsz = u64(at + 40);
    if (filesz > memsz) fail(`segment ${i}: file size 0x${filesz.toString(16)} exceeds memory size 0x${memsz.toString(16)}`);
    if (paddr + memsz > U64_LIMIT) fail(`segment ${i}: address range wraps around`);
    if (memsz === 0n) continue;
    const start = range(offset, filesz, `segment ${i} data`);
    segments.push({ paddr, vaddr, data: buf.subarray(start, start + Number(filesz)), memsz });
  }
  if (segments.length === 0) fail('no loadable segments');

  const symbols = new Map<string, bigint>();
  if (haveSections) {
    for (let i = 0; i < shnum; i++) {
      const s = sh(i);
      if (s.type !== SHT_SYMTAB) continue;
      if (s.link >= shnum) fail(`symbol table's string table index ${s.link} is out of range`);
      const str = sh(s.link);
      if (str.type !== SHT_STRTAB) fail("symbol table's string table is not a string table");
      const symAt = range(s.offset, s.size, 'symbol table');
      const strAt = range(str.offset, str.size, 'string table');
      const strEnd = strAt + Number(str.size);
      const entsize = s.entsize === 0n ? SYM_SIZE : Number(s.entsize);
      if (entsize < SYM_SIZE || entsize > 0x1000) fail(`bad symbol entry size ${s.entsize}`);
      const local = new Set<string>();
      for (let at = symAt, end = symAt + Number(s.size); at + SYM_SIZE <= end; at += entsize) {
        const nameOff = u32(at);
        const info = buf[at + 4]!;
        const shndx = u16(at + 6);
        const value = u64(at + 8);
        const kind = info & 0xf;
        if (nameOff === 0 || shndx === SHN_UNDEF || kind === STT_SECTION || kind === STT_FILE) continue;
        if (strAt + nameOff >= strEnd) fail(`symbol name offset ${nameOff} is out of range`);
        const nul = buf.subarray(strAt + nameOff, strEnd).indexOf(0);
        if (nul < 0) fail('unterminated symbol name');
        const sym = decoder.decode(buf.subarray(strAt + nameOff, strAt + nameOff + nul));
        const isLocal = info >> 4 === STB_LOCAL;
        if (!symbols.has(sym) || (local.has(sym) && !isLocal)) {
          symbols.set(sym, value);
          if (isLocal) local.add(sym);
          else local.delete(sym);
        }
      }
    }
  }
  return { entry, segments, symbols };
}
