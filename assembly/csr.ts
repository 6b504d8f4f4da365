// Control and status registers, trap entry, xRET and interrupt selection,
// per the RISC-V privileged spec (machine, supervisor and user modes).
import {
  CSR_MSTATUS, CSR_MISA, CSR_MEDELEG, CSR_MIDELEG, CSR_MIE, CSR_MTVEC, CSR_MCOUNTEREN, CSR_MSCRATCH,
  CSR_MEPC, CSR_MCAUSE, CSR_MTVAL, CSR_STVEC, CSR_SCOUNTEREN, CSR_SSCRATCH, CSR_SEPC, CSR_SCAUSE,
  CSR_STVAL, CSR_SATP, CSR_FCSR, CSR_RETIRED, CSR_COUNTER, CSR_MHPMEVENT, HPM_COUNTERS, CSR_MENVCFG, CSR_SENVCFG, CSR_STIMECMP,
  CSR_MCOUNTINHIBIT, CSR_MSECCFG, CSR_PMPCFG, CSR_PMPADDR, V_PENDING, V_STIMECMP, PENDING_SW_SEIP,
  MIP_MASK, V_PRIV, CSR_SLOTS, V_RUN, R_IRQS,
} from "./layout";
import { V, HART, csr, setCsr, mtimeNow } from "./state";
import { priv, setPriv, raise, EXC_ILLEGAL, flushAllTlb, privChanged } from "./mmu";
import { MIP_SSIP, MIP_STIP, MIP_SEIP, MENVCFG_STCE, checkTimers, ringSignal } from "./irq";
import { pmpUpdate } from "./pmp";

export const MSTATUS_SIE: u64 = 1 << 1;
export const MSTATUS_MIE: u64 = 1 << 3;
export const MSTATUS_SPIE: u64 = 1 << 5;
export const MSTATUS_MPIE: u64 = 1 << 7;
export const MSTATUS_SPP: u64 = 1 << 8;
export const MSTATUS_MPP: u64 = 3 << 11;
export const MSTATUS_FS: u64 = 3 << 13;
export const MSTATUS_MPRV: u64 = 1 << 17;
export const MSTATUS_SUM: u64 = 1 << 18;
export const MSTATUS_MXR: u64 = 1 << 19;
export const MSTATUS_TVM: u64 = 1 << 20;
export const MSTATUS_TW: u64 = 1 << 21;
export const MSTATUS_TSR: u64 = 1 << 22;
const MSTATUS_UXL_SXL: u64 = (<u64>2 << 32) | (<u64>2 << 34);
const MSTATUS_SD: u64 = <u64>1 << 63;
const MSTATUS_WMASK: u64 = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP |
  MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
const SSTATUS_MASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM |
  MSTATUS_MXR | (<u64>3 << 32) | MSTATUS_SD;

// RV64 I M A F D C S U
export const MISA: u64 = (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) |
  (1 << 12) | (1 << 18) | (1 << 20);
const MEDELEG_MASK: u64 = 0xb3ff;
const MIDELEG_MASK: u64 = 0x222;
const MIE_MASK: u64 = 0xaaa;

/** Instructions retired since CSR_RETIRED was last brought up to date (kept by cpu.ts). */
export let retiredInSlice: u64 = 0;
export function setRetired(n: u64): void { retiredInSlice = n; }

export function resetCsrs(): void {
  for (let i: u32 = 0; i < CSR_SLOTS; i++) setCsr(i, 0);
  setCsr(CSR_MSTATUS, MSTATUS_UXL_SXL);
  setCsr(CSR_MISA, MISA);
  store<u64>(V + V_STIMECMP, U64.MAX_VALUE);
  setCsr(CSR_STIMECMP, U64.MAX_VALUE);
  pmpUpdate();
}

function fsDirty(): void {
  setCsr(CSR_MSTATUS, csr(CSR_MSTATUS) | MSTATUS_FS);
}
export function fpEnabled(): bool { return (csr(CSR_MSTATUS) & MSTATUS_FS) != 0; }

function readMstatus(): u64 {
  const m = csr(CSR_MSTATUS);
  return (m & MSTATUS_FS) == MSTATUS_FS ? m | MSTATUS_SD : m;
}

/** mip as the guest sees it. */
export function readMip(): u64 {
  const w = atomic.load<u32>(V + V_PENDING);
  let m = <u64>(w & MIP_MASK);
  if ((w & PENDING_SW_SEIP) != 0) m |= MIP_SEIP;
  return m;
}

/** mip for a CSR read-modify-write: SEIP is the software-written bit alone (privileged spec, mip.SEIP). */
export function mipSoftwareView(): u64 {
  const w = atomic.load<u32>(V + V_PENDING);
  let m = <u64>(w & MIP_MASK & ~MIP_SEIP);
  if ((w & PENDING_SW_SEIP) != 0) m |= MIP_SEIP;
  return m;
}

function counterAllowed(idx: u32): bool {
  const bit: u64 = <u64>1 << idx;
  if (priv < 3 && (csr(CSR_MCOUNTEREN) & bit) == 0) return false;
  if (priv == 0 && (csr(CSR_SCOUNTEREN) & bit) == 0) return false;
  return true;
}

export function instret(): u64 { return csr(CSR_RETIRED) + retiredInSlice; }

// ---- counters: mcycle (counts instructions, as there is no cycle model), minstret, mhpmcounter3..18
const COUNTERS: u32 = 3 + HPM_COUNTERS;
const INHIBIT_MASK: u64 = ((<u64>1 << COUNTERS) - 1) & ~(<u64>2); // time (bit 1) cannot be inhibited
// the SBI PMU hardware events QEMU counts on an mhpmcounter (mhpmevent's low 20 bits)
const EVENT_CYCLES: u64 = 1;
const EVENT_INSTRUCTIONS: u64 = 2;

function counting(n: u32): bool {
  if (((csr(CSR_MCOUNTINHIBIT) >> n) & 1) != 0) return false;
  if (n < 3) return true;
  const e = csr(CSR_MHPMEVENT + n - 3) & 0xfffff;
  return e == EVENT_CYCLES || e == EVENT_INSTRUCTIONS;
}

function counterRead(n: u32): u64 { return csr(CSR_COUNTER + n) + (counting(n) ? instret() : 0); }

function counterWrite(n: u32, v: u64): void {
  setCsr(CSR_COUNTER + n, counting(n) ? v - instret() - 1 : v); // the writing instruction itself does not count
}

function countingMask(): u32 {
  let m: u32 = 0;
  for (let n: u32 = 0; n < COUNTERS; n++) if (n != 1 && counting(n)) m |= 1 << n;
  return m;
}

/** Write mcountinhibit or an mhpmevent (CSR slot `slot`): counters that start or stop keep their value. */
function setCountControl(slot: u32, v: u64): void {
  const before = countingMask();
  setCsr(slot, v);
  const after = countingMask();
  for (let n: u32 = 0; n < COUNTERS; n++) {
    if ((((before ^ after) >> n) & 1) == 0) continue;
    const base = csr(CSR_COUNTER + n);
    setCsr(CSR_COUNTER + n, ((after >> n) & 1) != 0 ? base - instret() : base + instret());
  }
}

function updateStimer(): void {
  const active = (csr(CSR_MENVCFG) & MENVCFG_STCE) != 0;
  const deadline = active ? csr(CSR_STIMECMP) : U64.MAX_VALUE;
  atomic.store<u64>(V + V_STIMECMP, deadline);
  checkTimers();
  ringSignal(deadline);
}

/** Read CSR `a`; on an illegal access sets ev (EXC_ILLEGAL) and returns 0. */
export function csrRead(a: u32, insn: u32): u64 {
  if (priv < ((a >> 8) & 3)) { raise(EXC_ILLEGAL, insn); return 0; }
  switch (a) {
    case 0x001: if (!fpEnabled()) break; return csr(CSR_FCSR) & 0x1f;
    case 0x002: if (!fpEnabled()) break; return (csr(CSR_FCSR) >> 5) & 7;
    case 0x003: if (!fpEnabled()) break; return csr(CSR_FCSR) & 0xff;
    case 0xc01: if (!counterAllowed(1)) break; return mtimeNow();
    case 0x100: return readMstatus() & SSTATUS_MASK;
    case 0x104: return csr(CSR_MIE) & csr(CSR_MIDELEG);
    case 0x105: return csr(CSR_STVEC);
    case 0x106: return csr(CSR_SCOUNTEREN);
    case 0x10a: return csr(CSR_SENVCFG);
    case 0x140: return csr(CSR_SSCRATCH);
    case 0x141: return csr(CSR_SEPC);
    case 0x142: return csr(CSR_SCAUSE);
    case 0x143: return csr(CSR_STVAL);
    case 0x144: return readMip() & csr(CSR_MIDELEG);
    case 0x14d:
      if (priv == 1 && ((csr(CSR_MENVCFG) & MENVCFG_STCE) == 0 || (csr(CSR_MCOUNTEREN) & 2) == 0)) break;
      return csr(CSR_STIMECMP);
    case 0x180:
      if (priv == 1 && (csr(CSR_MSTATUS) & MSTATUS_TVM) != 0) break;
      return csr(CSR_SATP);
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: return 0;
    case 0xf14: return <u64>HART;
    case 0x300: return readMstatus();
    case 0x301: return MISA;
    case 0x302: return csr(CSR_MEDELEG);
    case 0x303: return csr(CSR_MIDELEG);
    case 0x304: return csr(CSR_MIE);
    case 0x305: return csr(CSR_MTVEC);
    case 0x306: return csr(CSR_MCOUNTEREN);
    case 0x30a: return csr(CSR_MENVCFG);
    case 0x320: return csr(CSR_MCOUNTINHIBIT);
    case 0x340: return csr(CSR_MSCRATCH);
    case 0x341: return csr(CSR_MEPC);
    case 0x342: return csr(CSR_MCAUSE);
    case 0x343: return csr(CSR_MTVAL);
    case 0x344: return readMip();
    case 0x34a: case 0x34b: return 0; // mtinst, mtval2
    case 0x747: return csr(CSR_MSECCFG);
    case 0x7a0: case 0x7a1: case 0x7a2: case 0x7a3: return 0; // no debug triggers
    default:
      if (a >= 0x3a0 && a <= 0x3af) { if ((a & 1) != 0) break; return csr(CSR_PMPCFG + (a - 0x3a0)); }
      if (a >= 0x3b0 && a <= 0x3ef) return csr(CSR_PMPADDR + (a - 0x3b0));
      if (a >= 0xb00 && a <= 0xb1f && a != 0xb01) return a - 0xb00 < COUNTERS ? counterRead(a - 0xb00) : 0;
      if (a >= 0xc00 && a <= 0xc1f) { if (!counterAllowed(a - 0xc00)) break; return a - 0xc00 < COUNTERS ? counterRead(a - 0xc00) : 0; }
      if (a >= 0x323 && a <= 0x33f) return a - 0x320 < COUNTERS ? csr(CSR_MHPMEVENT + a - 0x323) : 0;
  }
  raise(EXC_ILLEGAL, insn);
  return 0;
}

/** Whether CSR `a` may be written at all at this privilege (checked before the read-modify-write). */
export function csrWritable(a: u32): bool {
  return (a >> 10) != 3 && priv >= ((a >> 8) & 3);
}

/** Write CSR `a`; on an illegal access sets ev (the caller re-checks interrupts and translation after any write). */
export function csrWrite(a: u32, v: u64, insn: u32): void {
  switch (a) {
    case 0x001: if (!fpEnabled()) break; setCsr(CSR_FCSR, (csr(CSR_FCSR) & ~(<u64>0x1f)) | (v & 0x1f)); fsDirty(); return;
    case 0x002: if (!fpEnabled()) break; setCsr(CSR_FCSR, (csr(CSR_FCSR) & 0x1f) | ((v & 7) << 5)); fsDirty(); return;
    case 0x003: if (!fpEnabled()) break; setCsr(CSR_FCSR, v & 0xff); fsDirty(); return;
    case 0x100: {
      const m = csr(CSR_MSTATUS);
      const mask = SSTATUS_MASK & MSTATUS_WMASK;
      setCsr(CSR_MSTATUS, (m & ~mask) | (v & mask));
      privChanged();
      return;
    }
    case 0x104: {
      const d = csr(CSR_MIDELEG) & MIE_MASK;
      setCsr(CSR_MIE, (csr(CSR_MIE) & ~d) | (v & d));
      return;
    }
    case 0x105: setCsr(CSR_STVEC, (v & 2) != 0 ? v & ~(<u64>3) : v); return;
    case 0x106: setCsr(CSR_SCOUNTEREN, v & 0xffff_ffff); return;
    case 0x10a: setCsr(CSR_SENVCFG, v & 1); return;
    case 0x140: setCsr(CSR_SSCRATCH, v); return;
    case 0x141: setCsr(CSR_SEPC, v & ~(<u64>1)); return;
    case 0x142: setCsr(CSR_SCAUSE, v); return;
    case 0x143: setCsr(CSR_STVAL, v); return;
    case 0x144:
      if ((csr(CSR_MIDELEG) & MIP_SSIP) != 0) writeMipBits(MIP_SSIP, <u32>v);
      return;
    case 0x14d:
      if (priv == 1 && ((csr(CSR_MENVCFG) & MENVCFG_STCE) == 0 || (csr(CSR_MCOUNTEREN) & 2) == 0)) break;
      setCsr(CSR_STIMECMP, v);
      updateStimer();
      return;
    case 0x180: {
      if (priv == 1 && (csr(CSR_MSTATUS) & MSTATUS_TVM) != 0) break;
      const mode = v >> 60;
      if (mode != 0 && mode != 8) return; // Sv39 only (Sv48 walks exist in mmu.ts; not offered yet)
      setCsr(CSR_SATP, v & 0xf000_ffff_ffff_ffff); // ASID not implemented (reads 0)
      flushAllTlb();
      return;
    }
    case 0x300: {
      let nv = (csr(CSR_MSTATUS) & ~MSTATUS_WMASK) | (v & MSTATUS_WMASK);
      if (((nv >> 11) & 3) == 2) nv &= ~MSTATUS_MPP; // MPP is WARL: no hypervisor mode
      setCsr(CSR_MSTATUS, nv);
      privChanged();
      return;
    }
    case 0x301: return; // misa is read-only here
    case 0x302: setCsr(CSR_MEDELEG, v & MEDELEG_MASK); return;
    case 0x303: setCsr(CSR_MIDELEG, v & MIDELEG_MASK); return;
    case 0x304: setCsr(CSR_MIE, v & MIE_MASK); return;
    case 0x305: setCsr(CSR_MTVEC, (v & 2) != 0 ? v & ~(<u64>3) : v); return;
    case 0x306: setCsr(CSR_MCOUNTEREN, v & 0xffff_ffff); return;
    case 0x30a:
      setCsr(CSR_MENVCFG, v & (MENVCFG_STCE | 1));
      updateStimer();
      return;
    case 0x320: setCountControl(CSR_MCOUNTINHIBIT, v & INHIBIT_MASK); return;
    case 0x340: setCsr(CSR_MSCRATCH, v); return;
    case 0x341: setCsr(CSR_MEPC, v & ~(<u64>1)); return;
    case 0x342: setCsr(CSR_MCAUSE, v); return;
    case 0x343: setCsr(CSR_MTVAL, v); return;
    case 0x344: {
      let mask: u32 = MIP_SSIP | MIP_SEIP;
      if ((csr(CSR_MENVCFG) & MENVCFG_STCE) == 0) mask |= MIP_STIP;
      writeMipBits(mask, <u32>v);
      return;
    }
    case 0x34a: case 0x34b: return;
    case 0x747: setCsr(CSR_MSECCFG, v & 7); return;
    case 0x7a0: case 0x7a1: case 0x7a2: case 0x7a3: return;
    default:
      if (a >= 0x3a0 && a <= 0x3af) {
        if ((a & 1) != 0) break;
        const slot = CSR_PMPCFG + (a - 0x3a0);
        // locked entries keep their value; W without R is reserved
        const old = csr(slot);
        let nv: u64 = 0;
        for (let i: u64 = 0; i < 8; i++) {
          const ob = (old >> (8 * i)) & 0xff;
          let nb = (v >> (8 * i)) & 0xff;
          if ((ob & 0x80) != 0) nb = ob;
          else if ((nb & 3) == 2) nb &= ~(<u64>2);
          nv |= (nb & 0x9f) << (8 * i);
        }
        setCsr(slot, nv);
        pmpUpdate();
        flushAllTlb();
        return;
      }
      if (a >= 0x3b0 && a <= 0x3ef) {
        const idx = a - 0x3b0;
        const cfg = (csr(CSR_PMPCFG + ((idx >> 3) << 1)) >> (8 * <u64>(idx & 7))) & 0xff;
        if ((cfg & 0x80) == 0) setCsr(CSR_PMPADDR + idx, v & 0x3f_ffff_ffff_ffff);
        pmpUpdate();
        flushAllTlb();
        return;
      }
      if (a >= 0xb00 && a <= 0xb1f && a != 0xb01) { if (a - 0xb00 < COUNTERS) counterWrite(a - 0xb00, v); return; }
      if (a >= 0x323 && a <= 0x33f) {
        if (a - 0x320 < COUNTERS) setCountControl(CSR_MHPMEVENT + a - 0x323, v); // mhpmevent19..31: read-only zero
        return;
      }
  }
  raise(EXC_ILLEGAL, insn);
}

function writeMipBits(mask: u32, v: u32): void {
  const p = V + V_PENDING;
  // SEIP as software writes it is kept apart from the PLIC's line
  let set = v & mask, clr = ~v & mask;
  if ((mask & MIP_SEIP) != 0) {
    set = (set & ~MIP_SEIP) | ((v & MIP_SEIP) != 0 ? PENDING_SW_SEIP : 0);
    clr = (clr & ~MIP_SEIP) | ((v & MIP_SEIP) == 0 ? PENDING_SW_SEIP : 0);
  }
  if (set != 0) atomic.or<u32>(p, set);
  if (clr != 0) atomic.and<u32>(p, ~clr);
}

/** Enter the trap handler; returns the new pc. */
export function trap(cause: u64, tval: u64, pc: u64, interrupt: bool): u64 {
  const code = cause & 63;
  const deleg = interrupt ? csr(CSR_MIDELEG) : csr(CSR_MEDELEG);
  const mcause = interrupt ? cause | (<u64>1 << 63) : cause;
  if (interrupt) store<u64>(V + V_RUN + R_IRQS, load<u64>(V + V_RUN + R_IRQS) + 1);
  const ms = csr(CSR_MSTATUS);
  let npc: u64;
  if (priv <= 1 && ((deleg >> code) & 1) != 0) {
    setCsr(CSR_SCAUSE, mcause);
    setCsr(CSR_SEPC, pc);
    setCsr(CSR_STVAL, tval);
    let s = ms & ~(MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SIE);
    if ((ms & MSTATUS_SIE) != 0) s |= MSTATUS_SPIE;
    if (priv == 1) s |= MSTATUS_SPP;
    setCsr(CSR_MSTATUS, s);
    const tv = csr(CSR_STVEC);
    npc = (tv & ~(<u64>3)) + ((tv & 1) != 0 && interrupt ? 4 * code : 0);
    setPriv(1);
  } else {
    setCsr(CSR_MCAUSE, mcause);
    setCsr(CSR_MEPC, pc);
    setCsr(CSR_MTVAL, tval);
    let s = ms & ~(MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MIE);
    if ((ms & MSTATUS_MIE) != 0) s |= MSTATUS_MPIE;
    s |= <u64>priv << 11;
    setCsr(CSR_MSTATUS, s);
    const tv = csr(CSR_MTVEC);
    npc = (tv & ~(<u64>3)) + ((tv & 1) != 0 && interrupt ? 4 * code : 0);
    setPriv(3);
  }
  privChanged();
  return npc;
}

/** MRET; returns the new pc. */
export function mret(): u64 {
  const ms = csr(CSR_MSTATUS);
  const mpp = <u32>((ms >> 11) & 3);
  let s = ms & ~(MSTATUS_MIE | MSTATUS_MPP);
  if ((ms & MSTATUS_MPIE) != 0) s |= MSTATUS_MIE;
  s |= MSTATUS_MPIE;
  if (mpp != 3) s &= ~MSTATUS_MPRV;
  setCsr(CSR_MSTATUS, s);
  setPriv(mpp);
  privChanged();
  return csr(CSR_MEPC);
}

/** SRET; returns the new pc. */
export function sret(): u64 {
  const ms = csr(CSR_MSTATUS);
  const spp: u32 = (ms & MSTATUS_SPP) != 0 ? 1 : 0;
  let s = ms & ~(MSTATUS_SIE | MSTATUS_SPP);
  if ((ms & MSTATUS_SPIE) != 0) s |= MSTATUS_SIE;
  s |= MSTATUS_SPIE;
  s &= ~MSTATUS_MPRV; // SPP is never M
  setCsr(CSR_MSTATUS, s);
  setPriv(spp);
  privChanged();
  return csr(CSR_SEPC);
}

/** The interrupt to take now (cause, without the top bit), or -1. */
export function pendingInterrupt(): i32 {
  const pend = readMip() & csr(CSR_MIE);
  if (pend == 0) return -1;
  const ms = csr(CSR_MSTATUS);
  const mideleg = csr(CSR_MIDELEG);
  const mEnabled = priv < 3 || (ms & MSTATUS_MIE) != 0;
  const mPend = pend & ~mideleg;
  if (mEnabled && mPend != 0) return pickInterrupt(mPend);
  const sEnabled = priv < 1 || (priv == 1 && (ms & MSTATUS_SIE) != 0);
  const sPend = pend & mideleg;
  if (sEnabled && sPend != 0) return pickInterrupt(sPend);
  return -1;
}

function pickInterrupt(p: u64): i32 {
  // priority: MEI, MSI, MTI, SEI, SSI, STI
  if ((p & (1 << 11)) != 0) return 11;
  if ((p & (1 << 3)) != 0) return 3;
  if ((p & (1 << 7)) != 0) return 7;
  if ((p & (1 << 9)) != 0) return 9;
  if ((p & (1 << 1)) != 0) return 1;
  if ((p & (1 << 5)) != 0) return 5;
  return <i32>ctz(p);
}

/** Whether WFI may complete at once (an interrupt is pending and enabled in mie). */
export function wfiWake(): bool {
  return (readMip() & csr(CSR_MIE)) != 0;
}

export function savePriv(): void { store<u32>(V + V_PRIV, priv); }
