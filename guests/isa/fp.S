/* F and D extensions through the instruction layer (unprivileged spec,
 * "F" and "D" chapters; privileged spec, mstatus.FS):
 *  - FS = 0 (Off): FP instructions and fcsr accesses are illegal;
 *  - FS becomes Dirty (3) after an FP register write, SD reads 1;
 *  - arithmetic with fflags (NX = 1, DZ = 8, NV = 16), canonical NaN;
 *  - rounding via the rm field and via frm; rm 5/6 and frm 5 illegal;
 *  - NaN boxing of single values, fmv.x.w sign extension;
 *  - fclass, comparisons with NaN, fmin/fmax with NaN and signed zeros;
 *  - fcvt.s.d / fcvt.d.s; fmadd.d rounds once;
 *  - compressed c.fld/c.fsd/c.fldsp/c.fsdsp. */
#include "isa.h"
TEST_NAME fp

#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

#define D_1    0x3ff0000000000000
#define D_2    0x4000000000000000
#define D_3    0x4008000000000000
#define D_M1   0xbff0000000000000
#define D_2_5  0x4004000000000000
#define D_M2_5 0xc004000000000000
#define D_INF  0x7ff0000000000000
#define D_QNAN 0x7ff8000000000000
#define D_SNAN 0x7ff0000000000001
#define D_M0   0x8000000000000000
#define D_THIRD 0x3fd5555555555555

/* freg = 64-bit pattern */
.macro LDD freg, imm
  li t0, \imm
  fmv.d.x \freg, t0
.endm
/* freg = 32-bit pattern, NaN-boxed */
.macro LDS freg, imm
  li t0, \imm
  fmv.w.x \freg, t0
.endm
/* fail n unless the 64 bits of freg == imm */
.macro CHKD n, freg, imm
  fmv.x.d a0, \freg
  CHECK \n, a0, \imm
.endm
/* fail n unless fflags == imm; then clear fflags */
.macro CHKF n, imm
  csrr a0, fflags
  CHECK \n, a0, \imm
  csrw fflags, zero
.endm

  .text
  .globl test_main
test_main:
  /* ---- FS = 0: FP instructions and fcsr are illegal ---- */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  TRAP_RESET
.Lfadd_off:
  fadd.d f1, f2, f3
  CHECK_TRAP 1, CAUSE_ILLEGAL
  CHECK_EPC 2, .Lfadd_off
  TRAP_RESET
  li a0, 0x55
.Lfcsr_off:
  csrr a0, fcsr
  CHECK_TRAP 3, CAUSE_ILLEGAL
  CHECK_EPC 4, .Lfcsr_off
  CHECK 5, a0, 0x55
  TRAP_RESET
  la a1, fbuf
.Lfld_off:
  fld f1, 0(a1)
  CHECK_TRAP 6, CAUSE_ILLEGAL
  TRAP_RESET
.Lfmv_off:
  fmv.x.d a0, f1
  CHECK_TRAP 7, CAUSE_ILLEGAL
  csrr a0, mstatus
  li t0, MSTATUS_FS
  and a0, a0, t0
  CHECK 8, a0, 0

  /* ---- FS = Initial -> Dirty after an FP register write; SD = 1 ---- */
  TRAP_RESET
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  csrr a0, mstatus
  li t0, MSTATUS_FS
  and a1, a0, t0
  CHECK 9, a1, MSTATUS_FS_INITIAL
  srli a1, a0, 63
  CHECK 10, a1, 0
  fmv.d.x f1, zero
  csrr a0, mstatus
  li t0, MSTATUS_FS
  and a1, a0, t0
  CHECK 11, a1, MSTATUS_FS
  srli a1, a0, 63
  CHECK 12, a1, 1
  csrr a0, sstatus
  srli a1, a0, 63
  CHECK 13, a1, 1
  CHECK_NOTRAP 14
  csrw fcsr, zero

  /* ---- arithmetic and flags ---- */
  LDD f1, D_1
  LDD f2, D_2
  LDD f3, D_3
  fadd.d f4, f1, f2
  CHKD 20, f4, D_3
  CHKF 21, 0
  fsub.d f4, f3, f1
  CHKD 22, f4, D_2
  CHKF 23, 0
  LDD f5, D_2_5
  fmul.d f4, f5, f5
  CHKD 24, f4, 0x4019000000000000   /* 6.25 */
  CHKF 25, 0
  fdiv.d f4, f1, f3
  CHKD 26, f4, D_THIRD
  CHKF 27, NX
  fsqrt.d f4, f2
  CHKD 28, f4, 0x3ff6a09e667f3bcd
  CHKF 29, NX
  fsqrt.d f4, f5
  fmul.d f6, f2, f2
  fsqrt.d f4, f6                 /* sqrt(4) = 2 exactly */
  CHKD 30, f4, D_2
  csrw fflags, zero
  fmv.d.x f0, zero
  fdiv.d f4, f1, f0
  CHKD 31, f4, D_INF
  CHKF 32, DZ
  LDD f6, D_M1
  fsqrt.d f4, f6
  CHKD 33, f4, D_QNAN
  CHKF 34, NV
  /* flags accumulate; fcsr = frm << 5 | fflags */
  fdiv.d f4, f1, f3
  fdiv.d f4, f1, f0
  csrr a0, fflags
  CHECK 35, a0, NX | DZ
  li t0, (3 << 5) | NV
  csrw fcsr, t0
  csrr a0, frm
  CHECK 36, a0, 3
  csrr a0, fflags
  CHECK 37, a0, NV
  csrw fcsr, zero

  /* ---- rounding: rm field ---- */
  fdiv.d f4, f1, f3, rtz
  CHKD 40, f4, D_THIRD
  fdiv.d f4, f1, f3, rup
  CHKD 41, f4, D_THIRD + 1
  fdiv.d f4, f1, f3, rdn
  CHKD 42, f4, D_THIRD
  csrw fflags, zero
  fcvt.w.d a1, f5, rne
  CHECK 43, a1, 2
  fcvt.w.d a1, f5, rtz
  CHECK 44, a1, 2
  fcvt.w.d a1, f5, rdn
  CHECK 45, a1, 2
  fcvt.w.d a1, f5, rup
  CHECK 46, a1, 3
  fcvt.w.d a1, f5, rmm
  CHECK 47, a1, 3
  CHKF 48, NX
  LDD f7, D_M2_5
  fcvt.w.d a1, f7, rne
  CHECK 49, a1, -2
  fcvt.w.d a1, f7, rtz
  CHECK 50, a1, -2
  fcvt.w.d a1, f7, rdn
  CHECK 51, a1, -3
  fcvt.w.d a1, f7, rup
  CHECK 52, a1, -2
  fcvt.w.d a1, f7, rmm
  CHECK 53, a1, -3
  /* ---- rounding: frm (dynamic) ---- */
  fsrmi 0
  fcvt.w.d a1, f5, dyn
  CHECK 54, a1, 2
  fcvt.w.d a1, f7, dyn
  CHECK 55, a1, -2
  fsrmi 1
  fcvt.w.d a1, f5, dyn
  CHECK 56, a1, 2
  fcvt.w.d a1, f7, dyn
  CHECK 57, a1, -2
  fsrmi 2
  fcvt.w.d a1, f5, dyn
  CHECK 58, a1, 2
  fcvt.w.d a1, f7, dyn
  CHECK 59, a1, -3
  fsrmi 3
  fcvt.w.d a1, f5, dyn
  CHECK 60, a1, 3
  fcvt.w.d a1, f7, dyn
  CHECK 61, a1, -2
  fsrmi 4
  fcvt.w.d a1, f5, dyn
  CHECK 62, a1, 3
  fcvt.w.d a1, f7, dyn
  CHECK 63, a1, -3
  fsrmi 3
  fdiv.d f4, f1, f3, dyn
  CHKD 64, f4, D_THIRD + 1
  fsrmi 0
  CHECK_NOTRAP 65
  /* ---- invalid rm: 5 and 6 in the instruction, frm = 5 with dyn ---- */
  TRAP_RESET
  LDD f4, D_1
.Lrm5:
  .insn r 0x53, 5, 0x01, f4, f1, f3    /* fadd.d f4, f1, f3 with rm = 5 */
  CHECK_TRAP 66, CAUSE_ILLEGAL
  CHECK_EPC 67, .Lrm5
  CHKD 68, f4, D_1
  TRAP_RESET
.Lrm6:
  .insn r 0x53, 6, 0x01, f4, f1, f3    /* rm = 6 */
  CHECK_TRAP 69, CAUSE_ILLEGAL
  CHECK_EPC 70, .Lrm6
  TRAP_RESET
  fsrmi 5
.Lrm7:
  fadd.d f4, f1, f3, dyn
  CHECK_TRAP 71, CAUSE_ILLEGAL
  CHECK_EPC 72, .Lrm7
  TRAP_RESET
  li a1, 0
.Lrm7b:
  fcvt.w.d a1, f5, dyn
  CHECK_TRAP 73, CAUSE_ILLEGAL
  CHECK 74, a1, 0
  /* an explicit valid rm still works with frm = 5 */
  TRAP_RESET
  fadd.d f4, f1, f2, rne
  CHECK_NOTRAP 75
  CHKD 76, f4, D_3
  csrw fcsr, zero

  /* ---- NaN boxing ---- */
  la a1, fbuf
  li t0, 0x3f800000              /* 1.0f */
  sw t0, 0(a1)
  flw f8, 0(a1)
  CHKD 80, f8, 0xffffffff3f800000
  fadd.s f9, f8, f8
  CHKD 81, f9, 0xffffffff40000000 /* 2.0f, boxed */
  CHKF 82, 0
  li t0, 0x000000003f800000      /* not boxed: treated as canonical NaN */
  fmv.d.x f10, t0
  fadd.s f9, f10, f8
  CHKD 83, f9, 0xffffffff7fc00000
  CHKF 84, 0
  li t0, 0xfffffffe3f800000      /* upper bits not all ones */
  fmv.d.x f10, t0
  fadd.s f9, f8, f10
  CHKD 85, f9, 0xffffffff7fc00000
  csrw fflags, zero
  /* fsw stores the low 32 bits */
  fsw f8, 4(a1)
  lwu a2, 4(a1)
  CHECK 86, a2, 0x3f800000
  /* fmv.x.w sign-extends bit 31 */
  LDS f11, 0x80000000            /* -0.0f */
  fmv.x.w a2, f11
  CHECK 87, a2, 0xffffffff80000000
  fmv.x.w a2, f8
  CHECK 88, a2, 0x3f800000
  CHKD 89, f11, 0xffffffff80000000

  /* ---- fclass ---- */
  LDS f12, 0x7f800000
  fclass.s a2, f12
  CHECK 90, a2, 1 << 7           /* +inf */
  LDS f12, 0x80000000
  fclass.s a2, f12
  CHECK 91, a2, 1 << 3           /* -0 */
  LDS f12, 0x00000001
  fclass.s a2, f12
  CHECK 92, a2, 1 << 5           /* positive subnormal */
  LDS f12, 0x7f800001
  fclass.s a2, f12
  CHECK 93, a2, 1 << 8           /* signaling NaN */
  LDS f12, 0x7fc00000
  fclass.s a2, f12
  CHECK 94, a2, 1 << 9           /* quiet NaN */
  fclass.s a2, f10               /* not boxed: canonical NaN */
  CHECK 95, a2, 1 << 9
  LDD f12, D_INF
  fclass.d a2, f12
  CHECK 96, a2, 1 << 7
  LDD f12, D_M0
  fclass.d a2, f12
  CHECK 97, a2, 1 << 3
  LDD f12, 0x8000000000000001
  fclass.d a2, f12
  CHECK 98, a2, 1 << 2           /* negative subnormal */
  LDD f12, D_SNAN
  fclass.d a2, f12
  CHECK 99, a2, 1 << 8
  LDD f12, 0xfff0000000000000
  fclass.d a2, f12
  CHECK 100, a2, 1 << 0          /* -inf */
  CHKF 101, 0

  /* ---- comparisons with NaN ---- */
  LDD f13, D_QNAN
  LDD f14, D_SNAN
  feq.d a2, f13, f1
  CHECK 110, a2, 0
  CHKF 111, 0
  flt.d a2, f13, f1
  CHECK 112, a2, 0
  CHKF 113, NV
  fle.d a2, f1, f13
  CHECK 114, a2, 0
  CHKF 115, NV
  feq.d a2, f14, f1
  CHECK 116, a2, 0
  CHKF 117, NV
  feq.d a2, f1, f1
  CHECK 118, a2, 1
  flt.d a2, f1, f2
  CHECK 119, a2, 1
  fle.d a2, f2, f1
  CHECK 120, a2, 0
  LDD f12, D_M0
  feq.d a2, f12, f0              /* -0 == +0 */
  CHECK 121, a2, 1
  CHKF 122, 0

  /* ---- fmin / fmax ---- */
  fmin.d f4, f13, f1
  CHKD 130, f4, D_1
  CHKF 131, 0
  fmax.d f4, f1, f13
  CHKD 132, f4, D_1
  CHKF 133, 0
  fmin.d f4, f14, f2
  CHKD 134, f4, D_2
  CHKF 135, NV
  fmax.d f4, f13, f13
  CHKD 136, f4, D_QNAN
  fmin.d f4, f14, f13
  CHKD 137, f4, D_QNAN
  CHKF 138, NV
  fmin.d f4, f0, f12             /* min(+0, -0) = -0 */
  CHKD 139, f4, D_M0
  fmin.d f4, f12, f0
  CHKD 140, f4, D_M0
  fmax.d f4, f12, f0             /* max(-0, +0) = +0 */
  CHKD 141, f4, 0
  fmax.d f4, f0, f12
  CHKD 142, f4, 0
  CHKF 143, 0

  /* ---- fcvt.s.d / fcvt.d.s ---- */
  LDD f4, D_THIRD
  fcvt.s.d f15, f4
  CHKD 150, f15, 0xffffffff3eaaaaab
  CHKF 151, NX
  fcvt.s.d f15, f4, rtz
  CHKD 152, f15, 0xffffffff3eaaaaaa
  CHKF 153, NX
  LDS f15, 0x3eaaaaab
  fcvt.d.s f4, f15
  CHKD 154, f4, 0x3fd5555560000000
  CHKF 155, 0
  fcvt.s.d f15, f3               /* 3.0 exact */
  CHKD 156, f15, 0xffffffff40400000
  CHKF 157, 0

  /* ---- fused multiply-add rounds once ---- */
  LDD f16, 0x3ff0000000000001    /* 1 + 2^-52 */
  LDD f17, 0x3feffffffffffffe    /* 1 - 2^-52 */
  LDD f18, D_M1
  fmadd.d f19, f16, f17, f18     /* exact: -2^-104 */
  CHKD 160, f19, 0xb970000000000000
  CHKF 161, 0
  fmul.d f20, f16, f17           /* rounds to 1.0 */
  fadd.d f20, f20, f18
  CHKD 162, f20, 0
  CHKF 163, NX
  fnmsub.d f19, f16, f17, f18    /* -(a*b) + c = -2 + 2^-104 -> rounds */
  CHKD 164, f19, 0xc000000000000000
  CHKF 165, NX

  /* ---- compressed FP loads/stores ---- */
  la s0, fbuf
  li t0, 0x0123456789abcdef
  sd t0, 8(s0)
  c.fld fs1, 8(s0)
  CHKD 170, fs1, 0x0123456789abcdef
  LDD fa0, 0x4045000000000000
  c.fsd fa0, 16(s0)
  ld a2, 16(s0)
  li t0, 0x4045000000000000
  CHECKR 171, a2, t0
  addi sp, sp, -32
  li t0, 0x7766554433221100
  sd t0, 24(sp)
  c.fldsp ft3, 24(sp)
  CHKD 172, ft3, 0x7766554433221100
  LDD ft4, 0x1122334455667788
  c.fsdsp ft4, 8(sp)
  ld a2, 8(sp)
  addi sp, sp, 32
  li t0, 0x1122334455667788
  CHECKR 173, a2, t0
  CHECK_NOTRAP 174
  j pass

  .data
  .balign 16
fbuf:
  .space 64
