// Execution of the F and D instructions (OP-FP and the fused multiply-adds).
// The arithmetic itself (rounding modes, exception flags) is in fpu.ts; this
// file does register access, NaN boxing, rounding-mode selection and fflags.
import { V_F, CSR_FCSR, CSR_MSTATUS } from "./layout";
import { V, csr, setCsr, freg as fget, xreg as xget, setXreg as xset } from "./state";
import {
  fpFlags,
  fadd_s, fsub_s, fmul_s, fdiv_s, fsqrt_s, fmadd_s, fmsub_s, fnmsub_s, fnmadd_s, fmin_s, fmax_s,
  feq_s, flt_s, fle_s, fclass_s, fcvt_w_s, fcvt_wu_s, fcvt_l_s, fcvt_lu_s, fcvt_s_w, fcvt_s_wu,
  fcvt_s_l, fcvt_s_lu,
  fadd_d, fsub_d, fmul_d, fdiv_d, fsqrt_d, fmadd_d, fmsub_d, fnmsub_d, fnmadd_d, fmin_d, fmax_d,
  feq_d, flt_d, fle_d, fclass_d, fcvt_w_d, fcvt_wu_d, fcvt_l_d, fcvt_lu_d, fcvt_d_w, fcvt_d_wu,
  fcvt_d_l, fcvt_d_lu, fcvt_s_d, fcvt_d_s,
} from "./fpu";

const BOX: u64 = 0xffff_ffff_0000_0000;
const CANON_S: u64 = 0x7fc0_0000;

// @ts-ignore: decorator
@inline function fgetS(r: u32): u64 {
  const v = load<u64>(V + V_F + (r << 3));
  return (v & BOX) == BOX ? v & 0xffff_ffff : CANON_S; // improperly boxed = canonical NaN
}
// @ts-ignore: decorator
@inline function fset(r: u32, v: u64): void { store<u64>(V + V_F + (r << 3), v); }
// @ts-ignore: decorator
@inline function fsetS(r: u32, v: u64): void { store<u64>(V + V_F + (r << 3), BOX | (v & 0xffff_ffff)); }

function done(): void {
  const f = fpFlags;
  if (f != 0) { setCsr(CSR_FCSR, csr(CSR_FCSR) | <u64>f); fpFlags = 0; }
  setCsr(CSR_MSTATUS, csr(CSR_MSTATUS) | (3 << 13)); // FS = dirty
}

/** Execute an FP instruction; false = illegal instruction. */
export function execFp(insn: u32): bool {
  const opc = insn & 0x7f;
  const rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
  const fmt = (insn >> 25) & 3;
  if (fmt > 1) return false;
  const d = fmt == 1;
  let rm = (insn >> 12) & 7;
  const rmUsed = rm;
  if (rm == 7) rm = <u32>(csr(CSR_FCSR) >> 5) & 7;
  const rmValid = rm <= 4;

  if (opc != 0x53) { // fused multiply-add family
    if (!rmValid) return false;
    const rs3 = insn >> 27;
    if (d) {
      const x = fget(rs1), y = fget(rs2), z = fget(rs3);
      fset(rd, opc == 0x43 ? fmadd_d(x, y, z, rm) : opc == 0x47 ? fmsub_d(x, y, z, rm) :
        opc == 0x4b ? fnmsub_d(x, y, z, rm) : fnmadd_d(x, y, z, rm));
    } else {
      const x = fgetS(rs1), y = fgetS(rs2), z = fgetS(rs3);
      fsetS(rd, opc == 0x43 ? fmadd_s(x, y, z, rm) : opc == 0x47 ? fmsub_s(x, y, z, rm) :
        opc == 0x4b ? fnmsub_s(x, y, z, rm) : fnmadd_s(x, y, z, rm));
    }
    done();
    return true;
  }

  const f5 = insn >> 27;
  switch (f5) {
    case 0x00: case 0x01: case 0x02: case 0x03: {
      if (!rmValid) return false;
      if (d) {
        const x = fget(rs1), y = fget(rs2);
        fset(rd, f5 == 0 ? fadd_d(x, y, rm) : f5 == 1 ? fsub_d(x, y, rm) : f5 == 2 ? fmul_d(x, y, rm) : fdiv_d(x, y, rm));
      } else {
        const x = fgetS(rs1), y = fgetS(rs2);
        fsetS(rd, f5 == 0 ? fadd_s(x, y, rm) : f5 == 1 ? fsub_s(x, y, rm) : f5 == 2 ? fmul_s(x, y, rm) : fdiv_s(x, y, rm));
      }
      break;
    }
    case 0x0b:
      if (rs2 != 0 || !rmValid) return false;
      if (d) fset(rd, fsqrt_d(fget(rs1), rm)); else fsetS(rd, fsqrt_s(fgetS(rs1), rm));
      break;
    case 0x04: { // sign injection
      if (rmUsed > 2) return false;
      if (d) {
        const x = fget(rs1), y = fget(rs2);
        const s = rmUsed == 0 ? y : rmUsed == 1 ? ~y : x ^ y;
        fset(rd, (x & 0x7fff_ffff_ffff_ffff) | (s & 0x8000_0000_0000_0000));
      } else {
        const x = fgetS(rs1), y = fgetS(rs2);
        const s = rmUsed == 0 ? y : rmUsed == 1 ? ~y : x ^ y;
        fsetS(rd, (x & 0x7fff_ffff) | (s & 0x8000_0000));
      }
      break;
    }
    case 0x05:
      if (rmUsed > 1) return false;
      if (d) fset(rd, rmUsed == 0 ? fmin_d(fget(rs1), fget(rs2)) : fmax_d(fget(rs1), fget(rs2)));
      else fsetS(rd, rmUsed == 0 ? fmin_s(fgetS(rs1), fgetS(rs2)) : fmax_s(fgetS(rs1), fgetS(rs2)));
      break;
    case 0x08:
      if (!rmValid) return false;
      if (!d && rs2 == 1) fsetS(rd, fcvt_s_d(fget(rs1), rm));
      else if (d && rs2 == 0) fset(rd, fcvt_d_s(fgetS(rs1), rm));
      else return false;
      break;
    case 0x14: {
      if (rmUsed > 2) return false;
      let r: u64;
      if (d) r = rmUsed == 2 ? feq_d(fget(rs1), fget(rs2)) : rmUsed == 1 ? flt_d(fget(rs1), fget(rs2)) : fle_d(fget(rs1), fget(rs2));
      else r = rmUsed == 2 ? feq_s(fgetS(rs1), fgetS(rs2)) : rmUsed == 1 ? flt_s(fgetS(rs1), fgetS(rs2)) : fle_s(fgetS(rs1), fgetS(rs2));
      xset(rd, r);
      break;
    }
    case 0x18: {
      if (!rmValid || rs2 > 3) return false;
      let r: u64;
      if (d) {
        const x = fget(rs1);
        r = rs2 == 0 ? fcvt_w_d(x, rm) : rs2 == 1 ? fcvt_wu_d(x, rm) : rs2 == 2 ? fcvt_l_d(x, rm) : fcvt_lu_d(x, rm);
      } else {
        const x = fgetS(rs1);
        r = rs2 == 0 ? fcvt_w_s(x, rm) : rs2 == 1 ? fcvt_wu_s(x, rm) : rs2 == 2 ? fcvt_l_s(x, rm) : fcvt_lu_s(x, rm);
      }
      xset(rd, r);
      break;
    }
    case 0x1a: {
      if (!rmValid || rs2 > 3) return false;
      const x = xget(rs1);
      if (d) fset(rd, rs2 == 0 ? fcvt_d_w(x, rm) : rs2 == 1 ? fcvt_d_wu(x, rm) : rs2 == 2 ? fcvt_d_l(x, rm) : fcvt_d_lu(x, rm));
      else fsetS(rd, rs2 == 0 ? fcvt_s_w(x, rm) : rs2 == 1 ? fcvt_s_wu(x, rm) : rs2 == 2 ? fcvt_s_l(x, rm) : fcvt_s_lu(x, rm));
      break;
    }
    case 0x1c:
      if (rs2 != 0) return false;
      if (rmUsed == 0) xset(rd, d ? fget(rs1) : <u64><i64><i32>fget(rs1)); // FMV.X.W/D: raw bits
      else if (rmUsed == 1) xset(rd, d ? fclass_d(fget(rs1)) : fclass_s(fgetS(rs1)));
      else return false;
      break;
    case 0x1e:
      if (rs2 != 0 || rmUsed != 0) return false;
      if (d) fset(rd, xget(rs1)); else fsetS(rd, xget(rs1));
      break;
    default:
      return false;
  }
  done();
  return true;
}
