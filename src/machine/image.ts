/**
 * Kernel file formats: ELF, the RISC-V Linux `Image` (a flat binary with a
 * 64-byte header, Documentation/arch/riscv/boot-image-header.rst), or a raw
 * flat binary.
 *
 * Image header (little-endian):
 *   0  code0, code1 (u32 each)  8  text_offset (u64)  16  image_size (u64)
 *  24  flags (u64)             32  version (u32)      36  res1 (u32)
 *  40  res2 (u64)              48  magic "RISCV\0\0\0" (deprecated)
 *  56  magic2 "RSC\x05"        60  res3 (u32, PE header offset for EFI)
 */

import { WkvmError } from '../errors.js';
import { isElf } from './elf.js';

export const IMAGE_HEADER_SIZE = 64;
const MAGIC = [0x52, 0x49, 0x53, 0x43, 0x56, 0, 0, 0]; // "RISCV\0\0\0"
const MAGIC2 = [0x52, 0x53, 0x43, 0x05]; // "RSC\x05"

export interface LinuxImageInfo {
  /** Offset from the 2 MiB-aligned start of RAM where the Image must be placed (text_offset). */
  loadOffset: bigint;
  /** Bytes the kernel occupies once running, .bss included (at least the file size). */
  imageSize: bigint;
}

function matchAt(buf: Uint8Array, at: number, magic: readonly number[]): boolean {
  return magic.every((b, i) => buf[at + i] === b);
}

function hasImageMagic(buf: Uint8Array): boolean {
  return buf.length >= IMAGE_HEADER_SIZE && (matchAt(buf, 56, MAGIC2) || matchAt(buf, 48, MAGIC));
}

/**
 * Reads the RISC-V Linux Image header; null when `buf` is not an Image.
 * Old kernels leave image_size 0: the file size is used then. `buf` may be
 * the file's start alone, with its size given.
 */
export function parseLinuxImage(buf: Uint8Array, name: string, size = buf.length): LinuxImageInfo | null {
  if (!hasImageMagic(buf)) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const loadOffset = dv.getBigUint64(8, true);
  let imageSize = dv.getBigUint64(16, true);
  const fileSize = BigInt(size);
  if (imageSize === 0n) imageSize = fileSize;
  if (imageSize < fileSize) {
    throw new WkvmError(`${name}: Linux Image header says image_size is ${imageSize} bytes, less than the file's ${fileSize}`);
  }
  if (loadOffset % 4096n !== 0n || loadOffset >= 1n << 32n) {
    throw new WkvmError(`${name}: Linux Image header has an invalid text_offset 0x${loadOffset.toString(16)}`);
  }
  return { loadOffset, imageSize };
}

export type KernelFormat = 'elf' | 'image' | 'raw';

/** Tells an ELF file, a RISC-V Linux Image and a raw binary apart by their magic numbers. */
export function detectKernelFormat(buf: Uint8Array): KernelFormat {
  if (isElf(buf)) return 'elf';
  if (hasImageMagic(buf)) return 'image';
  return 'raw';
}
