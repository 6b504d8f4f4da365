/**
 * The `virt` board, compatible with QEMU's riscv64 `virt` machine: the memory
 * map (one table), the devices that exit to the I/O loop, and the boot plan
 * (where kernel, initrd, firmware and device tree go, and how each hart starts).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WkvmError, describeFsError } from '../errors.js';
import { formatSize } from './size.js';
import type { VmMemory } from '../accel/memory.js';
import type { Layout } from '../accel/module.js';
import { VIRT_FDT_MAP, buildVirtFdt } from './virt-fdt.js';
import * as BOARD from '../../assembly/board.js';
import { parseElf, type ElfImage } from './elf.js';
import { IMAGE_HEADER_SIZE, detectKernelFormat, parseLinuxImage } from './image.js';

/** Guest-physical memory map (QEMU hw/riscv/virt.c's virt_memmap). */
export const VIRT_MEMMAP = {
  ...VIRT_FDT_MAP,
  virtioSlots: BOARD.VIRTIO_SLOTS as number,
  dram: { base: BigInt(BOARD.DRAM_BASE) },
} as const;

/** What the FDT advertises: RV64GC plus what the vCPU implements of the later extensions. */
export const VIRT_ISA = 'rv64imafdc_zicntr_zicsr_zifencei_zihintpause_zihpm_sstc';
export const VIRT_MMU = 'riscv,sv39';

/** Kernel load address without firmware, and with it (2 MiB above RAM base, as QEMU with OpenSBI). */
const KERNEL_OFFSET = 0x20_0000n;
/** Room the device tree may grow into (OpenSBI edits it in place). */
const FDT_PAD = 16 * 1024;

export type Bios = 'default' | 'none' | { file: string };

/**
 * A kernel, initrd or firmware to load: its size, and its bytes. A file
 * given by path is read when its bytes are first asked for: `head` reads
 * its start alone, `readInto` reads it straight into guest RAM (each boot,
 * a reboot included, with no copy of it kept on the side).
 */
export interface GuestFile {
  readonly name: string; readonly size: number; readonly data: Uint8Array;
  readonly head?: (n: number) => Uint8Array;
  readonly readInto?: (dst: Uint8Array) => void;
}

export interface BootSpec {
  bios: Bios;
  kernel?: GuestFile;
  initrd?: GuestFile;
  append?: string;
}

export interface HartBoot { pc: bigint; a0: bigint; a1: bigint; priv: number; started: boolean }

export interface BootPlan {
  harts: HartBoot[];
  tohost: bigint;
  fromhost: bigint;
  bootFlags: number;
  fdt: Uint8Array;
  fdtAddr: bigint;
}

/** The embedded demo guest `wkvm run` boots when no kernel is given. */
export function defaultGuestPath(): string {
  return fileURLToPath(new URL('../../../guests/demo/demo.elf', import.meta.url));
}

/** Largest file wkvm loads (Node's kIoMaxLength: what one buffer of a file may hold). */
const MAX_READ = 2 ** 31 - 1;

/**
 * A kernel, initrd or firmware file: a non-empty regular file of at most
 * `maxBytes` (what fits in guest RAM), checked now, before a byte is read,
 * so that /dev/zero or a FIFO cannot make us read forever; its bytes are
 * read when they are first asked for (GuestFile). A Linux Image or an
 * initrd goes straight into guest RAM: reading a 3.7 MiB Image into a
 * buffer of its own first took 18-40 ms of a VM's start here (its pages
 * newly touched, then a garbage collection), before the copy into RAM.
 */
export function readGuestFile(path: string, what: string, maxBytes: bigint): GuestFile {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new WkvmError(`cannot read ${what} '${path}': is a directory`);
    if (!st.isFile()) throw new WkvmError(`cannot read ${what} '${path}': not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof WkvmError) throw e;
    throw new WkvmError(`cannot read ${what} '${path}': ${describeFsError(e)}`);
  }
  checkLoadable(`${what} '${path}'`, size, maxBytes);
  if (size > MAX_READ) throw new WkvmError(`cannot load ${what} '${path}': ${formatSize(BigInt(size))} is over the 2 GiB wkvm can load from one file`);
  /** Fill `dst` from the file's start; with `whole`, the file must be exactly that long (it was checked, then read). */
  const readAt = (dst: Uint8Array, whole: boolean): number => {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      let got = 0;
      while (got < dst.length) {
        const n = readSync(fd, dst, got, dst.length - got, got);
        if (n === 0) break;
        got += n;
      }
      if (whole && (got !== dst.length || readSync(fd, new Uint8Array(1), 0, 1, got) !== 0)) {
        throw new WkvmError(`cannot load ${what} '${path}': it changed size while wkvm was loading it`);
      }
      return got;
    } catch (e) {
      throw e instanceof WkvmError ? e : new WkvmError(`cannot read ${what} '${path}': ${describeFsError(e)}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  let data: Uint8Array | undefined;
  const head = (n: number): Uint8Array => {
    if (data) return data.subarray(0, n);
    const buf = new Uint8Array(Math.min(n, size));
    return buf.subarray(0, readAt(buf, false));
  };
  const read = (): Uint8Array => {
    const buf = new Uint8Array(size);
    readAt(buf, true);
    return buf;
  };
  const readInto = (dst: Uint8Array): void => {
    if (data) dst.set(data.subarray(0, dst.length)); else readAt(dst, true);
  };
  return { name: path, size, head, readInto, get data() { return (data ??= read()); } };
}

/** Check guest bytes given directly (the embedding API's Uint8Array kernel, initrd or firmware). */
export function guestBytes(data: Uint8Array, what: string, maxBytes: bigint): GuestFile {
  checkLoadable(what, data.length, maxBytes);
  return { name: what, size: data.length, data };
}

/** Something to load must have bytes and fit in guest RAM. */
function checkLoadable(label: string, size: number, maxBytes: bigint): void {
  if (size === 0) throw new WkvmError(`cannot load ${label}: it is empty`);
  if (BigInt(size) > maxBytes) {
    throw new WkvmError(`cannot load ${label}: ${formatSize(BigInt(size))} does not fit in ${formatSize(maxBytes)} of guest RAM (use a larger -m)`);
  }
}

function hex(v: bigint): string { return '0x' + v.toString(16); }

/**
 * Load an ELF's segments into RAM, which is all zero here (a new VM, or
 * clearRam() before a reboot): only their file bytes are written, so that a
 * large .bss costs nothing (a 20 MiB one took 75 ms to zero, committing
 * memory the guest may never use). Where a segment's zero part overlaps the
 * file bytes of an earlier one, that part is zeroed.
 */
function loadElf(mem: VmMemory, elf: ElfImage, name: string, write: boolean): void {
  const written: { from: bigint; to: bigint }[] = [];
  for (const s of elf.segments) {
    if (s.memsz === 0n) continue;
    if (!mem.inRam(s.paddr, s.memsz)) {
      const needs = s.paddr + s.memsz - mem.ramBase;
      if (s.paddr >= mem.ramBase && needs <= 1n << 40n) {
        throw new WkvmError(`RAM too small: ${name} needs ${formatSize(needs)} of RAM from ${hex(mem.ramBase)}, -m gives ${formatSize(mem.ramSize)} (use a larger -m)`);
      }
      throw new WkvmError(`${name}: segment at ${hex(s.paddr)}+${hex(s.memsz)} is outside RAM (${hex(mem.ramBase)}+${hex(mem.ramSize)})`);
    }
    if (!write) continue;
    const zeroFrom = s.paddr + BigInt(s.data.length), zeroTo = s.paddr + s.memsz;
    for (const w of written) {
      const from = w.from > zeroFrom ? w.from : zeroFrom, to = w.to < zeroTo ? w.to : zeroTo;
      if (from < to) mem.ram(from, Number(to - from)).fill(0);
    }
    if (s.data.length > 0) {
      mem.ram(s.paddr, s.data.length).set(s.data);
      written.push({ from: s.paddr, to: zeroFrom });
    }
  }
}

/**
 * Put `file` at `at`, where its image takes `extent` bytes of RAM (its size
 * by default); with `write` false only check that it fits (its bytes are
 * then not read).
 */
function loadBlob(mem: VmMemory, at: bigint, file: GuestFile, write: boolean, extent = BigInt(file.size)): void {
  const fits = (n: bigint): void => {
    if (!mem.inRam(at, n)) {
      throw new WkvmError(`${file.name}: ${file.size} bytes at ${hex(at)} do not fit in RAM (${hex(mem.ramBase)}+${hex(mem.ramSize)})`);
    }
  };
  fits(extent);
  if (!write) return;
  if (file.readInto) { fits(BigInt(file.size)); file.readInto(mem.ram(at, file.size)); return; }
  const data = file.data;
  if (data.length > extent) fits(BigInt(data.length));
  mem.ram(at, data.length).set(data);
}

/** Load a kernel (`write` false: only check it); returns its entry point and the end of what it occupies. */
function loadKernel(mem: VmMemory, k: GuestFile, at: bigint, allowRaw: boolean, write: boolean): { entry: bigint; end: bigint; elf?: ElfImage } {
  // a Linux Image's header is all it needs of the file before loading it (or, planning a restore, at all)
  const head = k.head ? k.head(IMAGE_HEADER_SIZE) : undefined;
  const fmt = detectKernelFormat(head ?? k.data);
  if (fmt === 'elf') {
    const elf = parseElf(k.data, k.name);
    loadElf(mem, elf, k.name, write);
    const end = elf.segments.reduce((m, s) => (s.paddr + s.memsz > m ? s.paddr + s.memsz : m), 0n);
    return { entry: elf.entry, end, elf };
  }
  if (fmt === 'image') {
    const info = parseLinuxImage(head ?? k.data, k.name, head ? k.size : undefined)!;
    loadBlob(mem, at, k, write, info.imageSize);
    return { entry: at, end: at + info.imageSize };
  }
  if (!allowRaw) throw new WkvmError(`${k.name}: not a RISC-V Linux Image or ELF file`);
  loadBlob(mem, at, k, write);
  return { entry: at, end: at + BigInt(k.size) };
}

/**
 * Load everything into RAM and decide how each hart starts. With `write`
 * false nothing is written to RAM and the initrd is not read (a restore:
 * the snapshot brings RAM; the plan still names the device tree and the
 * boot addresses, and checks that everything fits).
 */
export function planBoot(mem: VmMemory, layout: Layout, spec: BootSpec, write = true): BootPlan {
  const ramBase = mem.ramBase;
  const ramEnd = mem.ramBase + mem.ramSize;
  let tohost = 0n, fromhost = 0n;
  let entry: bigint;
  let kernelEnd: bigint;
  let startPriv: number;
  let bootFlags = 0;
  let allStart = true;

  if (spec.bios === 'none') {
    const k = spec.kernel ?? { ...readGuestFile(defaultGuestPath(), 'the demo guest', mem.ramSize), name: 'the demo guest' };
    const r = loadKernel(mem, k, ramBase, true, write);
    entry = r.entry; kernelEnd = r.end; startPriv = 3;
    tohost = r.elf?.symbols.get('tohost') ?? 0n;
    fromhost = r.elf?.symbols.get('fromhost') ?? 0n;
  } else if (spec.bios === 'default') {
    if (!spec.kernel) throw new WkvmError('no kernel given: use -kernel FILE (or -bios none for a bare-metal program)');
    const r = loadKernel(mem, spec.kernel, ramBase + KERNEL_OFFSET, false, write);
    entry = r.entry; kernelEnd = r.end; startPriv = 1;
    bootFlags |= layout.BOOT_SBI;
    allStart = false; // secondary harts start through SBI HSM
  } else {
    const fw = readGuestFile(spec.bios.file, 'firmware', mem.ramSize);
    const r = loadKernel(mem, fw, ramBase, true, write);
    entry = r.entry; startPriv = 3;
    kernelEnd = r.end;
    if (spec.kernel) kernelEnd = loadKernel(mem, spec.kernel, ramBase + KERNEL_OFFSET, false, write).end;
  }

  // the device tree goes high in RAM, 2 MiB aligned, below 3 GiB like QEMU
  const top = ramEnd < ramBase + (3n << 30n) ? ramEnd : ramBase + (3n << 30n);
  let initrd: { start: bigint; end: bigint } | undefined;
  if (spec.initrd) {
    const len = BigInt(spec.initrd.size);
    // far enough above the kernel that it is not overwritten when the kernel unpacks
    const half = mem.ramSize / 2n;
    let start = (ramBase + KERNEL_OFFSET) + (half < (128n << 20n) ? half : 128n << 20n);
    if (start < kernelEnd) start = kernelEnd;
    start = (start + 0xfffn) & ~0xfffn;
    if (start + len + (2n << 20n) > top) {
      throw new WkvmError(`initrd '${spec.initrd.name}' (${len} bytes) does not fit in RAM: use a larger -m`);
    }
    loadBlob(mem, start, spec.initrd, write, len);
    initrd = { start, end: start + len };
  }
  const blob = buildVirtFdt({
    harts: mem.harts, ramBase, ramSize: mem.ramSize, isa: VIRT_ISA, mmuType: VIRT_MMU,
    timebaseFrequency: layout.MTIME_HZ, bootargs: spec.append, initrd,
    rngSeed: randomBytes(32), // /chosen/rng-seed, as QEMU's virt board gives: the kernel's RNG is seeded at once
  });
  // leave free space inside the blob for firmware that edits the tree in place
  const fdt = new Uint8Array(blob.length + FDT_PAD);
  fdt.set(blob);
  new DataView(fdt.buffer).setUint32(4, fdt.length, false);
  const fdtAddr = (top - BigInt(fdt.length)) & ~((2n << 20n) - 1n);
  if (fdtAddr < kernelEnd || (initrd && fdtAddr < initrd.end)) {
    throw new WkvmError('RAM too small for the kernel, initrd and device tree: use a larger -m');
  }
  loadBlob(mem, fdtAddr, { name: 'device tree', size: fdt.length, data: fdt }, write);

  const harts: HartBoot[] = [];
  for (let h = 0; h < mem.harts; h++) {
    harts.push({ pc: entry, a0: BigInt(h), a1: fdtAddr, priv: startPriv, started: allStart || h === 0 });
  }
  return { harts, tohost, fromhost, bootFlags, fdt: blob, fdtAddr };
}
