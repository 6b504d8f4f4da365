import { describe, expect, it } from 'vitest';
import { WkvmError } from '../src/errors.js';
import { detectKernelFormat, parseLinuxImage } from '../src/machine/image.js';

/** A RISC-V Linux Image header followed by `extra` bytes of "kernel". */
function image(opts: { textOffset?: bigint; imageSize?: bigint; magic?: boolean; magic2?: boolean; extra?: number } = {}): Uint8Array {
  const buf = new Uint8Array(64 + (opts.extra ?? 64));
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, 0x0400006f, true); // j +64 (code0)
  dv.setBigUint64(8, opts.textOffset ?? 0x20_0000n, true);
  dv.setBigUint64(16, opts.imageSize ?? 0x150_0000n, true);
  dv.setUint32(32, 2, true); // version 0.2
  if (opts.magic ?? true) buf.set(new TextEncoder().encode('RISCV\0\0\0'), 48);
  if (opts.magic2 ?? true) buf.set([0x52, 0x53, 0x43, 0x05], 56);
  return buf;
}

describe('parseLinuxImage', () => {
  it('reads text_offset and image_size', () => {
    expect(parseLinuxImage(image(), 'Image')).toEqual({ loadOffset: 0x20_0000n, imageSize: 0x150_0000n });
  });

  it('recognises either magic alone (old kernels have only the first; the first is deprecated)', () => {
    expect(parseLinuxImage(image({ magic2: false }), 'Image')).not.toBeNull();
    expect(parseLinuxImage(image({ magic: false }), 'Image')).not.toBeNull();
  });

  it('uses the file size when image_size is 0', () => {
    expect(parseLinuxImage(image({ imageSize: 0n, extra: 100 }), 'Image')!.imageSize).toBe(164n);
  });

  it('returns null for anything else', () => {
    expect(parseLinuxImage(image({ magic: false, magic2: false }), 'x')).toBeNull();
    expect(parseLinuxImage(image().subarray(0, 63), 'x')).toBeNull();
    expect(parseLinuxImage(new Uint8Array(0), 'x')).toBeNull();
    expect(parseLinuxImage(new Uint8Array(4096), 'x')).toBeNull();
  });

  it('rejects an inconsistent header with one-line errors naming the file', () => {
    expect(() => parseLinuxImage(image({ imageSize: 100n }), 'Image')).toThrow(
      new WkvmError("Image: Linux Image header says image_size is 100 bytes, less than the file's 128"),
    );
    expect(() => parseLinuxImage(image({ textOffset: 0x123n }), 'Image')).toThrow(
      new WkvmError('Image: Linux Image header has an invalid text_offset 0x123'),
    );
  });

  it('works on a view into a larger buffer', () => {
    const big = new Uint8Array(256);
    big.set(image(), 16);
    expect(parseLinuxImage(big.subarray(16, 16 + 128), 'x')).toEqual({ loadOffset: 0x20_0000n, imageSize: 0x150_0000n });
  });
});

describe('detectKernelFormat', () => {
  it('tells ELF, Image and raw binaries apart', () => {
    expect(detectKernelFormat(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]))).toBe('elf');
    expect(detectKernelFormat(image())).toBe('image');
    expect(detectKernelFormat(image({ magic: false }))).toBe('image');
    expect(detectKernelFormat(image({ magic: false, magic2: false }))).toBe('raw');
    expect(detectKernelFormat(new Uint8Array([0x93, 0x00, 0x00, 0x00]))).toBe('raw');
    expect(detectKernelFormat(new Uint8Array(0))).toBe('raw');
  });
});
