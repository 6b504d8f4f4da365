/** A little ELF64 writer for tests: the ELF loader's own tests and guests assembled by tests. */

export interface Seg {
  type?: number;
  vaddr: bigint;
  paddr?: bigint;
  data: number[];
  memsz?: bigint;
}
export interface Sym {
  name: string;
  value: bigint;
  bind?: number; // 0 local, 1 global, 2 weak
  type?: number; // 0 notype, 1 object, 2 func, 3 section, 4 file
  shndx?: number;
}
export interface ElfSpec {
  cls?: number;
  data?: number;
  type?: number;
  machine?: number;
  entry?: bigint;
  segments?: Seg[];
  symbols?: Sym[];
}

/** Assembles a little ELF64 file by hand: header, program headers, segment bytes, .strtab, .symtab, section headers. */
export function makeElf(spec: ElfSpec = {}): Uint8Array {
  const segments = spec.segments ?? [{ vaddr: 0x8000_0000n, data: [0x13, 0, 0, 0, 0x6f, 0, 0, 0], memsz: 0x100n }];
  const symbols = spec.symbols;
  const bytes: number[] = [];
  const put = (at: number, v: bigint, n: number) => {
    while (bytes.length < at + n) bytes.push(0);
    for (let i = 0; i < n; i++) bytes[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  };
  const align = (n: number) => {
    while (bytes.length % n) bytes.push(0);
  };
  put(0, 0x464c457fn, 4);
  bytes[4] = spec.cls ?? 2;
  bytes[5] = spec.data ?? 1;
  bytes[6] = 1;
  put(16, BigInt(spec.type ?? 2), 2);
  put(18, BigInt(spec.machine ?? 243), 2);
  put(20, 1n, 4);
  put(24, spec.entry ?? 0x8000_0000n, 8);
  put(32, 64n, 8); // phoff
  put(52, 64n, 2);
  put(54, 56n, 2);
  put(56, BigInt(segments.length), 2);
  const phoff = 64;
  const dataStart = phoff + segments.length * 56;
  put(dataStart - 1, 0n, 1);
  segments.forEach((s, i) => {
    align(8);
    const off = bytes.length;
    bytes.push(...s.data);
    const ph = phoff + i * 56;
    put(ph, BigInt(s.type ?? 1), 4);
    put(ph + 4, 7n, 4);
    put(ph + 8, BigInt(off), 8);
    put(ph + 16, s.vaddr, 8);
    put(ph + 24, s.paddr ?? s.vaddr, 8);
    put(ph + 32, BigInt(s.data.length), 8);
    put(ph + 40, s.memsz ?? BigInt(s.data.length), 8);
    put(ph + 48, 8n, 8);
  });
  if (symbols) {
    const strtab: number[] = [0];
    const names = symbols.map((s) => {
      const off = strtab.length;
      strtab.push(...new TextEncoder().encode(s.name), 0);
      return off;
    });
    const strOff = bytes.length;
    bytes.push(...strtab);
    align(8);
    const symOff = bytes.length;
    bytes.push(...new Array(24).fill(0)); // symbol 0
    symbols.forEach((s, i) => {
      const at = bytes.length;
      put(at, BigInt(names[i]!), 4);
      bytes[at + 4] = ((s.bind ?? 1) << 4) | (s.type ?? 0);
      bytes[at + 5] = 0;
      put(at + 6, BigInt(s.shndx ?? 1), 2);
      put(at + 8, s.value, 8);
      put(at + 16, 0n, 8);
    });
    const symSize = bytes.length - symOff;
    align(8);
    const shoff = bytes.length;
    put(40, BigInt(shoff), 8);
    put(58, 64n, 2);
    put(60, 3n, 2);
    // section 0: null; 1: .symtab (link 2); 2: .strtab
    put(shoff + 64 + 4, 2n, 4);
    put(shoff + 64 + 24, BigInt(symOff), 8);
    put(shoff + 64 + 32, BigInt(symSize), 8);
    put(shoff + 64 + 40, 2n, 4);
    put(shoff + 64 + 56, 24n, 8);
    put(shoff + 128 + 4, 3n, 4);
    put(shoff + 128 + 24, BigInt(strOff), 8);
    put(shoff + 128 + 32, BigInt(strtab.length), 8);
    put(shoff + 128 + 63, 0n, 1);
  }
  return Uint8Array.from(bytes);
}
