/** RV64 instruction encodings for guests that tests assemble themselves (the fuzzers, the riscv-tests runner's test). */

const u = (v: number): number => v >>> 0;

export const rType = (op: number, rd: number, f3: number, rs1: number, rs2: number, f7: number): number =>
  u((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op);
export const iType = (op: number, rd: number, f3: number, rs1: number, imm: number): number =>
  u(((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op);
export const sType = (op: number, f3: number, rs1: number, rs2: number, imm: number): number =>
  u((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op);
/** lui (0x37) or auipc (0x17): rd = imm20 << 12 (+ pc) */
export const uType = (op: number, rd: number, imm20: number): number => u(((imm20 & 0xfffff) << 12) | (rd << 7) | op);
/** bxx rs1, rs2, off (f3: 0 beq, 1 bne, 4 blt, 5 bge, 6 bltu, 7 bgeu) */
export const bType = (f3: number, rs1: number, rs2: number, off: number): number =>
  u((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63);
/** jal rd, off */
export const jal = (rd: number, off: number): number =>
  u((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f);

export const addi = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 0, rs1, imm);
export const slli = (rd: number, rs1: number, sh: number): number => iType(0x13, rd, 1, rs1, sh);
export const srli = (rd: number, rs1: number, sh: number): number => iType(0x13, rd, 5, rs1, sh);
export const sd = (rs2: number, rs1: number, imm: number): number => sType(0x23, 3, rs1, rs2, imm);
/** csrrw x0, csr, rs1 */
export const csrw = (csr: number, rs1: number): number => iType(0x73, 0, 1, rs1, csr);
export const ECALL = 0x0000_0073;

/** rd = v, a 32-bit value zero-extended: lui, addiw, slli 32, srli 32 */
export function li(rd: number, v: number): number[] {
  const lo = (v << 20) >> 20;
  return [uType(0x37, rd, (v - lo) >>> 12), iType(0x1b, rd, 0, rd, lo), slli(rd, rd, 32), srli(rd, rd, 32)];
}

/** Little-endian bytes of instruction words. */
export const bytesOf = (words: number[]): number[] => words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
