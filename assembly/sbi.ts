// The built-in SBI (boot without firmware): S-mode ecalls served in Wasm,
// like KVM's in-kernel SBI. Extensions: BASE, TIME, IPI, RFENCE, HSM, SRST,
// DBCN and the legacy console/timer/IPI calls. Everything else answers
// SBI_ERR_NOT_SUPPORTED.
import {
  V_X, V_HSM, V_HSM_ADDR, V_HSM_ARG, V_STIMECMP, V_RFENCE, V_IN_RUN, V_RUN, R_FAILURE,
  HSM_STARTED, HSM_STOPPED, HSM_START_PENDING, HSM_START_CLAIMED, HSM_SUSPENDED, EXIT_HSM_STOP,
  EXIT_HSM_SUSPEND, EXIT_RESET,
  RFENCE_FENCE_I, RFENCE_SFENCE_VMA, CSR_SATP, CSR_MSTATUS,
} from "./layout";
import { V, HART, NHARTS, vcpuBase, setCsr, csr, hostYield, xreg } from "./state";
import { exitShutdown, exitWith, ramHost, flushIcache, flushAllTlb, setPriv, privChanged } from "./mmu";
import { setPending, clearPending, MIP_SSIP, MIP_STIP, checkTimers, ringSignal } from "./irq";
import { uartPutc, uartGetc, uartWrite } from "./uart";

const ERR_FAILED: i64 = -1;
const ERR_NOT_SUPPORTED: i64 = -2;
const ERR_INVALID_PARAM: i64 = -3;
const ERR_INVALID_ADDRESS: i64 = -5;
const ERR_ALREADY_AVAILABLE: i64 = -6;

const EXT_BASE: u64 = 0x10;
const EXT_TIME: u64 = 0x54494d45;
const EXT_IPI: u64 = 0x735049;
const EXT_RFENCE: u64 = 0x52464e43;
const EXT_HSM: u64 = 0x48534d;
const EXT_SRST: u64 = 0x53525354;
const EXT_DBCN: u64 = 0x4442434e;

// @ts-ignore: decorator
@inline function a(i: u32): u64 { return xreg(10 + i); } // SBI arguments a0..a5
// @ts-ignore: decorator
@inline function setA0(v: u64): void { store<u64>(V + V_X + (10 << 3), v); } // legacy calls return in a0 only
// @ts-ignore: decorator
@inline function ret(err: i64, val: u64): void {
  store<i64>(V + V_X + (10 << 3), err);
  store<u64>(V + V_X + (11 << 3), val);
}

function probe(ext: u64): u64 {
  if (ext == EXT_BASE || ext == EXT_TIME || ext == EXT_IPI || ext == EXT_RFENCE || ext == EXT_HSM ||
      ext == EXT_SRST || ext == EXT_DBCN) return 1;
  if (ext <= 8) return 1; // legacy extensions
  return 0;
}

function setTimer(t: u64): void {
  atomic.store<u64>(V + V_STIMECMP, t);
  clearPending(HART, MIP_STIP);
  checkTimers();
  ringSignal(t);
}

/**
 * Apply `what` to every hart selected by (mask, base); returns an SBI error.
 * A remote fence is posted to every target before waiting for any, so the
 * targets act on it in parallel.
 */
function forHarts(mask: u64, base: u64, what: u32): i64 {
  if (base != U64.MAX_VALUE) {
    for (let i: u64 = 0; i < 64; i++) {
      // base + i >= NHARTS, written so that a base near 2^64 cannot wrap to a low hart
      if (((mask >> i) & 1) != 0 && (base >= <u64>NHARTS || i >= <u64>NHARTS - base)) return ERR_INVALID_PARAM;
    }
  }
  for (let pass: u32 = 0; pass < (what == ACT_IPI ? 1 : 2); pass++) {
    for (let h: u32 = 0; h < NHARTS; h++) {
      if (!selected(h, mask, base)) continue;
      if (pass == 0) hartAction(h, what); else awaitFence(h, what);
    }
  }
  return 0;
}

/** Whether (mask, base) selects hart h (base = -1: every hart). */
// @ts-ignore: decorator
@inline function selected(h: u32, mask: u64, base: u64): bool {
  if (base == U64.MAX_VALUE) return true;
  const i = <u64>h - base; // wraps for h < base
  return i < 64 && ((mask >> i) & 1) != 0;
}

const ACT_IPI: u32 = 0;
const ACT_FENCE_I: u32 = 1;
const ACT_SFENCE: u32 = 2;

function hartAction(h: u32, what: u32): void {
  if (what == ACT_IPI) { setPending(h, MIP_SSIP); return; }
  const bit = what == ACT_FENCE_I ? RFENCE_FENCE_I : RFENCE_SFENCE_VMA;
  if (h == HART) {
    if (what == ACT_FENCE_I) flushIcache(); else flushAllTlb();
    return;
  }
  atomic.or<u32>(vcpuBase(h) + V_RFENCE, bit);
}

/** Wait until a running target has acted on a posted fence (an idle one acts on entry to run()). */
function awaitFence(h: u32, what: u32): void {
  if (h == HART) return;
  const bit = what == ACT_FENCE_I ? RFENCE_FENCE_I : RFENCE_SFENCE_VMA;
  const hb = vcpuBase(h);
  let spins = 0;
  while ((atomic.load<u32>(hb + V_RFENCE) & bit) != 0 && atomic.load<u32>(hb + V_IN_RUN) != 0) {
    // serve fences aimed at us meanwhile, so two harts fencing each other cannot deadlock
    const mine = atomic.xchg<u32>(V + V_RFENCE, 0);
    if ((mine & RFENCE_FENCE_I) != 0) flushIcache();
    if ((mine & RFENCE_SFENCE_VMA) != 0) flushAllTlb();
    if (++spins > 64) hostYield();
  }
}

/** Serve an S-mode ecall; returns the pc to continue at (ev set for exits). */
export function sbiCall(pc: u64): u64 {
  const ext = load<u64>(V + V_X + (17 << 3)); // a7
  const fid = load<u64>(V + V_X + (16 << 3)); // a6
  const next = pc + 4;
  if (ext <= 8) { // legacy
    switch (<u32>ext) {
      case 0: setTimer(a(0)); setA0(0); break;
      case 1: uartPutc(<u32>a(0) & 0xff); setA0(0); break;
      case 2: setA0(<u64><i64>uartGetc()); break;
      case 3: clearPending(HART, MIP_SSIP); setA0(0); break;
      case 4: case 5: case 6: case 7: {
        const mp = ramHost(a(0), 8);
        const mask: u64 = mp != 0 ? load<u64>(mp) : U64.MAX_VALUE;
        forHarts(mask, mp != 0 ? 0 : U64.MAX_VALUE, ext == 4 ? ACT_IPI : ext == 5 ? ACT_FENCE_I : ACT_SFENCE);
        setA0(0);
        break;
      }
      case 8: exitShutdown(0); break;
    }
    return next;
  }
  if (ext == EXT_BASE) {
    switch (<u32>fid) {
      case 0: ret(0, 2 << 24); break;           // SBI spec v2.0
      case 1: ret(0, 0x574b); break;            // implementation id ("WK")
      case 2: ret(0, 1); break;
      case 3: ret(0, probe(a(0))); break;
      case 4: case 5: case 6: ret(0, 0); break; // mvendorid, marchid, mimpid
      default: ret(ERR_NOT_SUPPORTED, 0);
    }
  } else if (ext == EXT_TIME && fid == 0) {
    setTimer(a(0)); ret(0, 0);
  } else if (ext == EXT_IPI && fid == 0) {
    ret(forHarts(a(0), a(1), ACT_IPI), 0);
  } else if (ext == EXT_RFENCE) {
    if (fid == 0) ret(forHarts(a(0), a(1), ACT_FENCE_I), 0);
    else if (fid == 1 || fid == 2) ret(forHarts(a(0), a(1), ACT_SFENCE), 0);
    else ret(ERR_NOT_SUPPORTED, 0);
  } else if (ext == EXT_HSM) {
    return hsm(fid, next);
  } else if (ext == EXT_SRST && fid == 0) {
    const type = a(0), reason = a(1);
    // the host reports a system failure (QMP's GUEST_PANICKED); other exits leave the word 0
    if (type <= 2) store<u32>(V + V_RUN + R_FAILURE, reason == 1 ? 1 : 0);
    if (type == 0) { ret(0, 0); exitShutdown(reason == 1 ? 1 : 0); }
    else if (type == 1 || type == 2) { ret(0, 0); exitWith(EXIT_RESET); }
    else ret(ERR_INVALID_PARAM, 0);
  } else if (ext == EXT_DBCN) {
    if (fid == 0 || fid == 1) {
      // (num_bytes, base_addr_lo, base_addr_hi): on RV64 the address is a1 and a2 must be 0
      const n = a(0), base = a(1);
      const h = ramHost(base, n);
      if ((h == 0 && n != 0) || a(2) != 0) { ret(ERR_INVALID_PARAM, 0); return next; }
      if (fid == 0) {
        ret(0, uartWrite(h, n)); // non-blocking: as many bytes as the ring takes
      } else {
        let got: u64 = 0;
        while (got < n) {
          const c = uartGetc();
          if (c < 0) break;
          store<u8>(h + <usize>got, <u8>c);
          got++;
        }
        ret(0, got);
      }
    } else if (fid == 2) { uartPutc(<u32>a(0) & 0xff); ret(0, 0); }
    else ret(ERR_NOT_SUPPORTED, 0);
  } else {
    ret(ERR_NOT_SUPPORTED, 0);
  }
  return next;
}

function hsm(fid: u64, next: u64): u64 {
  switch (<u32>fid) {
    case 0: { // hart_start(hartid, start_addr, opaque)
      const h = a(0);
      if (h >= <u64>NHARTS) { ret(ERR_INVALID_PARAM, 0); break; }
      if (ramHost(a(1), 2) == 0) { ret(ERR_INVALID_ADDRESS, 0); break; }
      const hb = vcpuBase(<u32>h);
      // claim the stopped hart before writing its start address, so that a
      // second hart_start racing for it cannot overwrite the first one's
      if (atomic.cmpxchg<u32>(hb + V_HSM, HSM_STOPPED, HSM_START_CLAIMED) != HSM_STOPPED) {
        ret(ERR_ALREADY_AVAILABLE, 0); break;
      }
      store<u64>(hb + V_HSM_ADDR, a(1));
      store<u64>(hb + V_HSM_ARG, a(2));
      atomic.store<u32>(hb + V_HSM, HSM_START_PENDING);
      atomic.notify(hb + V_HSM, 1);
      ret(0, 0);
      break;
    }
    case 1: // hart_stop()
      atomic.store<u32>(V + V_HSM, HSM_STOPPED);
      exitWith(EXIT_HSM_STOP);
      break;
    case 2: { // hart_get_status(hartid)
      const h = a(0);
      if (h >= <u64>NHARTS) { ret(ERR_INVALID_PARAM, 0); break; }
      const state = atomic.load<u32>(vcpuBase(<u32>h) + V_HSM);
      ret(0, <u64>(state == HSM_START_CLAIMED ? HSM_START_PENDING : state));
      break;
    }
    case 3: { // hart_suspend(type, resume_addr, opaque)
      // the default types only: others are reserved or platform-specific, of which there are none
      const type = <u32>a(0);
      if (type == 0) { // retentive: returns 0 when an interrupt enabled in sie is pending, like WFI
        ret(0, 0);
        suspend();
        break;
      }
      if (type == 0x80000000) {
        if (ramHost(a(1), 2) == 0) { ret(ERR_INVALID_ADDRESS, 0); break; }
        // non-retentive: resume at resume_addr in S-mode as if freshly started
        const resume = a(1), opaque = a(2);
        enterSupervisor(resume, opaque);
        suspend();
        return resume;
      }
      ret(ERR_INVALID_PARAM, 0);
      break;
    }
    default: ret(ERR_NOT_SUPPORTED, 0);
  }
  return next;
}

/** SUSPENDED to other harts until the worker sees an interrupt (EXIT_HSM_SUSPEND -> hsm_resume). */
function suspend(): void {
  atomic.store<u32>(V + V_HSM, HSM_SUSPENDED);
  exitWith(EXIT_HSM_SUSPEND);
}

/** Hart state for an HSM start: S-mode, a0 = hartid, a1 = opaque, MMU off, interrupts off. */
export function enterSupervisor(pc: u64, opaque: u64): void {
  store<u64>(V + V_X + (10 << 3), <u64>HART);
  store<u64>(V + V_X + (11 << 3), opaque);
  setCsr(CSR_SATP, 0);
  setCsr(CSR_MSTATUS, csr(CSR_MSTATUS) & ~(<u64>2)); // SIE = 0
  setPriv(1);
  privChanged();
}

/** Called by a stopped hart's worker once its HSM state is START_PENDING. */
export function hsmStart(): u64 {
  const pc = load<u64>(V + V_HSM_ADDR);
  enterSupervisor(pc, load<u64>(V + V_HSM_ARG));
  atomic.store<u32>(V + V_HSM, HSM_STARTED);
  atomic.notify(V + V_HSM, 1);
  return pc;
}
