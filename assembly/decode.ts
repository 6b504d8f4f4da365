// Decoder: one RV64GC instruction (32-bit or compressed) into a decode-cache
// entry, so that the interpreter decodes each instruction once.
//
// Entry (16 bytes): +0 u64 tag (host address | generation), +8 u32 word:
// op (bits 0-7), rd (8-13; x0 as a destination becomes the sink x32),
// compressed flag (14), rs1 (16-20), rs2 (24-28); +12 i32 immediate (for the
// SYSTEM, CSR, FP and ILLEGAL ops: the raw instruction bits).

import {
  OP_ILLEGAL, OP_LUI, OP_AUIPC, OP_JAL, OP_JALR, OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU, OP_LB,
  OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_SB, OP_SH, OP_SW, OP_SD, OP_ADDI, OP_SLTI, OP_SLTIU,
  OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI, OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU, OP_XOR,
  OP_SRL, OP_SRA, OP_OR, OP_AND, OP_ADDIW, OP_SLLIW, OP_SRLIW, OP_SRAIW, OP_ADDW, OP_SUBW, OP_SLLW, OP_SRLW,
  OP_SRAW, OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU, OP_MULW, OP_DIVW,
  OP_DIVUW, OP_REMW, OP_REMUW, OP_FENCE, OP_FENCE_I, OP_PAUSE, OP_SYSTEM, OP_CSR, OP_LR_W, OP_SC_W, OP_AMO_W,
  OP_LR_D, OP_SC_D, OP_AMO_D, OP_FLW, OP_FLD, OP_FSW, OP_FSD, OP_FP, OP_C_EBREAK,
} from "./ops";

// @ts-ignore: decorator
@inline function writesX(op: u32): bool {
  return (op >= OP_LUI && op <= OP_JALR) || (op >= OP_LB && op <= OP_LWU) ||
    (op >= OP_ADDI && op <= OP_REMUW) || op == OP_CSR || (op >= OP_LR_W && op <= OP_AMO_D);
}

function emit(e: usize, op: u32, rd: u32, rs1: u32, rs2: u32, imm: i32, compressed: bool): void {
  if (rd == 0 && writesX(op)) rd = 32;
  store<u32>(e, op | (rd << 8) | (compressed ? 1 << 14 : 0) | (rs1 << 16) | (rs2 << 24), 8);
  store<i32>(e, imm, 12);
}

function illegal(e: usize, bits: u32, compressed: bool): void {
  store<u32>(e, OP_ILLEGAL | (compressed ? 1 << 14 : 0), 8);
  store<i32>(e, <i32>bits, 12);
}

// @ts-ignore: decorator
@inline function sext(v: u32, bits: u32): i32 { return (<i32>(v << (32 - bits))) >> (32 - bits); }

/** Decode a 32-bit instruction into entry e. */
export function decode32(e: usize, insn: u32): void {
  const opc = insn & 0x7f;
  const rd = (insn >> 7) & 31, f3 = (insn >> 12) & 7, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
  const f7 = insn >> 25;
  const immI = (<i32>insn) >> 20;
  const immS = ((<i32>insn >> 25) << 5) | <i32>((insn >> 7) & 31);
  switch (opc) {
    case 0x37: emit(e, OP_LUI, rd, 0, 0, <i32>(insn & 0xfffff000), false); return;
    case 0x17: emit(e, OP_AUIPC, rd, 0, 0, <i32>(insn & 0xfffff000), false); return;
    case 0x6f: {
      const imm = (((<i32>insn) >> 31) << 20) | <i32>(((insn >> 21) & 0x3ff) << 1) |
        <i32>(((insn >> 20) & 1) << 11) | <i32>(insn & 0xff000);
      emit(e, OP_JAL, rd, 0, 0, imm, false); return;
    }
    case 0x67: if (f3 != 0) break; emit(e, OP_JALR, rd, rs1, 0, immI, false); return;
    case 0x63: {
      if (f3 == 2 || f3 == 3) break;
      const imm = (((<i32>insn) >> 31) << 12) | <i32>(((insn >> 25) & 0x3f) << 5) |
        <i32>(((insn >> 8) & 0xf) << 1) | <i32>(((insn >> 7) & 1) << 11);
      const op = f3 == 0 ? OP_BEQ : f3 == 1 ? OP_BNE : f3 == 4 ? OP_BLT : f3 == 5 ? OP_BGE : f3 == 6 ? OP_BLTU : OP_BGEU;
      emit(e, op, 0, rs1, rs2, imm, false); return;
    }
    case 0x03: if (f3 == 7) break; emit(e, OP_LB + f3, rd, rs1, 0, immI, false); return;
    case 0x23: if (f3 > 3) break; emit(e, OP_SB + f3, 0, rs1, rs2, immS, false); return;
    case 0x13: {
      const sh = (insn >> 20) & 63, f6 = insn >> 26;
      switch (f3) {
        case 0: emit(e, OP_ADDI, rd, rs1, 0, immI, false); return;
        case 1: if (f6 != 0) break; emit(e, OP_SLLI, rd, rs1, 0, <i32>sh, false); return;
        case 2: emit(e, OP_SLTI, rd, rs1, 0, immI, false); return;
        case 3: emit(e, OP_SLTIU, rd, rs1, 0, immI, false); return;
        case 4: emit(e, OP_XORI, rd, rs1, 0, immI, false); return;
        case 5:
          if (f6 == 0) { emit(e, OP_SRLI, rd, rs1, 0, <i32>sh, false); return; }
          if (f6 == 0x10) { emit(e, OP_SRAI, rd, rs1, 0, <i32>sh, false); return; }
          break;
        case 6: emit(e, OP_ORI, rd, rs1, 0, immI, false); return;
        case 7: emit(e, OP_ANDI, rd, rs1, 0, immI, false); return;
      }
      break;
    }
    case 0x1b: {
      const sh = <i32>((insn >> 20) & 31);
      if (f3 == 0) { emit(e, OP_ADDIW, rd, rs1, 0, immI, false); return; }
      if (f3 == 1 && f7 == 0) { emit(e, OP_SLLIW, rd, rs1, 0, sh, false); return; }
      if (f3 == 5 && f7 == 0) { emit(e, OP_SRLIW, rd, rs1, 0, sh, false); return; }
      if (f3 == 5 && f7 == 0x20) { emit(e, OP_SRAIW, rd, rs1, 0, sh, false); return; }
      break;
    }
    case 0x33: {
      let op: u32 = OP_ILLEGAL;
      if (f7 == 0) {
        op = f3 == 0 ? OP_ADD : f3 == 1 ? OP_SLL : f3 == 2 ? OP_SLT : f3 == 3 ? OP_SLTU :
          f3 == 4 ? OP_XOR : f3 == 5 ? OP_SRL : f3 == 6 ? OP_OR : OP_AND;
      } else if (f7 == 0x20) {
        if (f3 == 0) op = OP_SUB; else if (f3 == 5) op = OP_SRA;
      } else if (f7 == 1) op = OP_MUL + f3;
      if (op == OP_ILLEGAL) break;
      emit(e, op, rd, rs1, rs2, 0, false); return;
    }
    case 0x3b: {
      let op: u32 = OP_ILLEGAL;
      if (f7 == 0) { if (f3 == 0) op = OP_ADDW; else if (f3 == 1) op = OP_SLLW; else if (f3 == 5) op = OP_SRLW; }
      else if (f7 == 0x20) { if (f3 == 0) op = OP_SUBW; else if (f3 == 5) op = OP_SRAW; }
      else if (f7 == 1) {
        if (f3 == 0) op = OP_MULW; else if (f3 == 4) op = OP_DIVW; else if (f3 == 5) op = OP_DIVUW;
        else if (f3 == 6) op = OP_REMW; else if (f3 == 7) op = OP_REMUW;
      }
      if (op == OP_ILLEGAL) break;
      emit(e, op, rd, rs1, rs2, 0, false); return;
    }
    case 0x0f:
      if (f3 == 0) { emit(e, insn == 0x0100000f ? OP_PAUSE : OP_FENCE, 0, 0, 0, 0, false); return; }
      if (f3 == 1) { emit(e, OP_FENCE_I, 0, 0, 0, 0, false); return; }
      break;
    case 0x73:
      if (f3 == 0) { emit(e, OP_SYSTEM, 0, rs1, rs2, <i32>insn, false); return; }
      if (f3 == 4) break;
      emit(e, OP_CSR, rd, rs1, 0, <i32>insn, false); return;
    case 0x2f: {
      const f5 = insn >> 27;
      if (f3 != 2 && f3 != 3) break;
      const d = f3 == 3;
      if (f5 == 2) { if (rs2 != 0) break; emit(e, d ? OP_LR_D : OP_LR_W, rd, rs1, 0, 0, false); return; }
      if (f5 == 3) { emit(e, d ? OP_SC_D : OP_SC_W, rd, rs1, rs2, 0, false); return; }
      if (f5 == 0 || f5 == 1 || f5 == 4 || f5 == 8 || f5 == 12 || f5 == 16 || f5 == 20 || f5 == 24 || f5 == 28) {
        emit(e, d ? OP_AMO_D : OP_AMO_W, rd, rs1, rs2, <i32>f5, false); return;
      }
      break;
    }
    case 0x07:
      if (f3 == 2) { emit(e, OP_FLW, rd, rs1, 0, immI, false); return; }
      if (f3 == 3) { emit(e, OP_FLD, rd, rs1, 0, immI, false); return; }
      break;
    case 0x27:
      if (f3 == 2) { emit(e, OP_FSW, 0, rs1, rs2, immS, false); return; }
      if (f3 == 3) { emit(e, OP_FSD, 0, rs1, rs2, immS, false); return; }
      break;
    case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
      emit(e, OP_FP, rd, rs1, rs2, <i32>insn, false); return;
  }
  illegal(e, insn, false);
}

/** Decode a compressed (16-bit) instruction into entry e. */
export function decode16(e: usize, h: u32): void {
  const q = h & 3, f3 = (h >> 13) & 7;
  const rdp = ((h >> 2) & 7) + 8, rs1p = ((h >> 7) & 7) + 8;
  const rd = (h >> 7) & 31, rs2 = (h >> 2) & 31;
  const imm6 = sext(((h >> 7) & 0x20) | ((h >> 2) & 0x1f), 6);
  if (q == 0) {
    switch (f3) {
      case 0: {
        const imm = ((h >> 7) & 0x30) | ((h >> 1) & 0x3c0) | ((h >> 4) & 4) | ((h >> 2) & 8);
        if (imm == 0) break; // includes the all-zero illegal instruction
        emit(e, OP_ADDI, rdp, 2, 0, <i32>imm, true); return;
      }
      case 1: emit(e, OP_FLD, rdp, rs1p, 0, <i32>(((h >> 7) & 0x38) | ((h << 1) & 0xc0)), true); return;
      case 2: emit(e, OP_LW, rdp, rs1p, 0, <i32>(((h >> 7) & 0x38) | ((h >> 4) & 4) | ((h << 1) & 0x40)), true); return;
      case 3: emit(e, OP_LD, rdp, rs1p, 0, <i32>(((h >> 7) & 0x38) | ((h << 1) & 0xc0)), true); return;
      case 5: emit(e, OP_FSD, 0, rs1p, rdp, <i32>(((h >> 7) & 0x38) | ((h << 1) & 0xc0)), true); return;
      case 6: emit(e, OP_SW, 0, rs1p, rdp, <i32>(((h >> 7) & 0x38) | ((h >> 4) & 4) | ((h << 1) & 0x40)), true); return;
      case 7: emit(e, OP_SD, 0, rs1p, rdp, <i32>(((h >> 7) & 0x38) | ((h << 1) & 0xc0)), true); return;
    }
  } else if (q == 1) {
    switch (f3) {
      case 0: emit(e, OP_ADDI, rd, rd, 0, imm6, true); return;
      case 1: if (rd == 0) break; emit(e, OP_ADDIW, rd, rd, 0, imm6, true); return;
      case 2: emit(e, OP_ADDI, rd, 0, 0, imm6, true); return;
      case 3:
        if (rd == 2) {
          const imm = sext(((h >> 3) & 0x200) | ((h >> 2) & 0x10) | ((h << 1) & 0x40) |
            ((h << 4) & 0x180) | ((h << 3) & 0x20), 10);
          if (imm == 0) break;
          emit(e, OP_ADDI, 2, 2, 0, imm, true); return;
        }
        if (imm6 == 0) break;
        emit(e, OP_LUI, rd, 0, 0, imm6 << 12, true); return;
      case 4: {
        const f2 = (h >> 10) & 3;
        const sh = <i32>(((h >> 7) & 0x20) | ((h >> 2) & 0x1f));
        if (f2 == 0) { emit(e, OP_SRLI, rs1p, rs1p, 0, sh, true); return; }
        if (f2 == 1) { emit(e, OP_SRAI, rs1p, rs1p, 0, sh, true); return; }
        if (f2 == 2) { emit(e, OP_ANDI, rs1p, rs1p, 0, imm6, true); return; }
        const f = (h >> 5) & 3;
        if ((h & 0x1000) == 0) {
          const op = f == 0 ? OP_SUB : f == 1 ? OP_XOR : f == 2 ? OP_OR : OP_AND;
          emit(e, op, rs1p, rs1p, rdp, 0, true); return;
        }
        if (f == 0) { emit(e, OP_SUBW, rs1p, rs1p, rdp, 0, true); return; }
        if (f == 1) { emit(e, OP_ADDW, rs1p, rs1p, rdp, 0, true); return; }
        break;
      }
      case 5: {
        const imm = sext(((h >> 1) & 0x800) | ((h >> 7) & 0x10) | ((h >> 1) & 0x300) | ((h << 2) & 0x400) |
          ((h >> 1) & 0x40) | ((h << 1) & 0x80) | ((h >> 2) & 0xe) | ((h << 3) & 0x20), 12);
        emit(e, OP_JAL, 0, 0, 0, imm, true); return;
      }
      case 6: case 7: {
        const imm = sext(((h >> 4) & 0x100) | ((h >> 7) & 0x18) | ((h << 1) & 0xc0) | ((h >> 2) & 6) | ((h << 3) & 0x20), 9);
        emit(e, f3 == 6 ? OP_BEQ : OP_BNE, 0, rs1p, 0, imm, true); return;
      }
    }
  } else if (q == 2) {
    switch (f3) {
      case 0: emit(e, OP_SLLI, rd, rd, 0, <i32>(((h >> 7) & 0x20) | ((h >> 2) & 0x1f)), true); return;
      case 1: emit(e, OP_FLD, rd, 2, 0, <i32>(((h >> 7) & 0x20) | ((h >> 2) & 0x18) | ((h << 4) & 0x1c0)), true); return;
      case 2: if (rd == 0) break;
        emit(e, OP_LW, rd, 2, 0, <i32>(((h >> 7) & 0x20) | ((h >> 2) & 0x1c) | ((h << 4) & 0xc0)), true); return;
      case 3: if (rd == 0) break;
        emit(e, OP_LD, rd, 2, 0, <i32>(((h >> 7) & 0x20) | ((h >> 2) & 0x18) | ((h << 4) & 0x1c0)), true); return;
      case 4:
        if ((h & 0x1000) == 0) {
          if (rs2 == 0) { if (rd == 0) break; emit(e, OP_JALR, 0, rd, 0, 0, true); return; }
          emit(e, OP_ADD, rd, 0, rs2, 0, true); return;
        }
        if (rs2 == 0) {
          if (rd == 0) { emit(e, OP_C_EBREAK, 0, 0, 0, 0, true); return; }
          emit(e, OP_JALR, 1, rd, 0, 0, true); return;
        }
        emit(e, OP_ADD, rd, rd, rs2, 0, true); return;
      case 5: emit(e, OP_FSD, 0, 2, rs2, <i32>(((h >> 7) & 0x38) | ((h >> 1) & 0x1c0)), true); return;
      case 6: emit(e, OP_SW, 0, 2, rs2, <i32>(((h >> 7) & 0x3c) | ((h >> 1) & 0xc0)), true); return;
      case 7: emit(e, OP_SD, 0, 2, rs2, <i32>(((h >> 7) & 0x38) | ((h >> 1) & 0x1c0)), true); return;
    }
  }
  illegal(e, h, true);
}
