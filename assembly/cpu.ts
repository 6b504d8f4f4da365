// The vCPU interpreter: run(budget) executes guest instructions until an exit.
//
// Hot path: fetch through a cached page translation, look the instruction up
// in the decode cache (by host address), dispatch with one br_table, access
// registers in linear memory and RAM through the TLB. No allocation, no calls
// into JS. Slow paths (TLB misses, MMIO, CSRs, traps) live in other files.
import {
  V_X, V_F, V_PC, V_PRIV, JIT_TABLE_BASE, R_JIT_INSNS, V_PENDING, V_RUN, V_ICACHE, ICACHE_ENTRIES, V_SCRATCH_INSN, V_RFENCE, V_HSM,
  R_EXIT, R_DATA, R_WRITE, R_DEST, R_INSNS, R_EXITS, R_EXIT_COUNTS, EXIT_KINDS, R_DECODE_MISSES, EXIT_NONE, EXIT_MMIO, EXIT_WFI, EXIT_REQUEST, EXIT_PAUSE,
  EXIT_SPIN, EXIT_DEBUG, R_DBG, DBG_STOP_BREAK,
  REQ_STOP, REQ_PAUSE, REQ_EXIT, CSR_RETIRED, CSR_MSTATUS, CSR_FCSR, RFENCE_FENCE_I, RFENCE_SFENCE_VMA,
  BOOT_SBI, TLB_ENTRIES, HSM_STARTED,
} from "./layout";
import { V, BOOT_FLAGS, RAM_DELTA, JIT_THRESHOLD, csr, setCsr } from "./state";
import { cold } from "./hint";
import { pmpAllows } from "./pmp";
import { spinning, stored } from "./spin";
import {
  ev, EV_NONE, EV_FAULT, faultCause, faultTval, raise, priv, loadSlow, storeSlow, fetchHost, tlbBase,
  epochLoad, epochStore, epochFetch, tlbHost, icacheGen, markCodePage, flushIcache, flushAllTlb, amoHost, lrHost,
  loadDest, ACC_LOAD, ACC_STORE, ACC_FETCH, EXC_ILLEGAL, EXC_BREAKPOINT, EXC_ECALL_U, EXC_ECALL_S,
  EXC_ECALL_M, EXC_LOAD_MISALIGNED, EXC_STORE_MISALIGNED, exitWith, setPriv, privChanged, EV_DEBUG,
} from "./mmu";
import { breakAt, dbgStepping } from "./debug";
import { mipSoftwareView, trap, mret, sret, csrRead, csrWrite, csrWritable, pendingInterrupt, setRetired, wfiWake,
  MSTATUS_TW, MSTATUS_TSR, MSTATUS_TVM, fpEnabled } from "./csr";
import { checkTimers } from "./irq";
import { sbiCall } from "./sbi";
import { execFp } from "./fpexec";
import { mulh, mulhu, mulhsu } from "./alu";
import { jitCount, jitEndSlice, JIT_CONTINUE, JIT_EXIT, JIT_JUMP } from "./jit";
import { jitAny, jitLookup, setJitEntry } from "./jitcache";
import {
  OP_ILLEGAL, OP_LUI, OP_AUIPC, OP_JAL, OP_JALR, OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
  OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_SB, OP_SH, OP_SW, OP_SD, OP_ADDI, OP_SLTI,
  OP_SLTIU, OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI, OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU,
  OP_XOR, OP_SRL, OP_SRA, OP_OR, OP_AND, OP_ADDIW, OP_SLLIW, OP_SRLIW, OP_SRAIW, OP_ADDW, OP_SUBW,
  OP_SLLW, OP_SRLW, OP_SRAW, OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU,
  OP_MULW, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW, OP_FENCE, OP_FENCE_I, OP_PAUSE, OP_SYSTEM, OP_CSR,
  OP_LR_W, OP_SC_W, OP_AMO_W, OP_LR_D, OP_SC_D, OP_AMO_D, OP_FLW, OP_FLD, OP_FSW, OP_FSD, OP_FP,
  OP_C_EBREAK, OP_JIT, OP_DEBUG,
} from "./ops";
import { decode32, decode16 } from "./decode";

const NO_PAGE: u64 = 1; // never equal to a page-aligned address
const CHECK_INTERVAL: i32 = 4096;

// LR/SC reservation: host address and the value LR saw (SC is a compare-exchange against it)
let resAddr: usize = 0;
let resValue: u64 = 0;
export function clearReservation(): void { resAddr = 0; }

// @ts-ignore: decorator
@inline function sx32(v: u64): u64 { return <u64><i64><i32>v; }

/** Complete an MMIO load the I/O loop answered (kvm_run's mmio.data). */
function completeMmio(): void {
  const r = V + V_RUN;
  if (load<u32>(r + R_EXIT) != EXIT_MMIO) return;
  store<u32>(r + R_EXIT, EXIT_NONE);
  if (load<u32>(r + R_WRITE) != 0) return;
  const dest = load<u32>(r + R_DEST);
  const size = load<u32>(r + 4);
  let v = load<u64>(r + R_DATA);
  if (size < 8) {
    const sh: u64 = 64 - 8 * <u64>size;
    v = (dest & 0x40) != 0 ? <u64>((<i64>(v << sh)) >> sh) : (v << sh) >> sh;
  }
  const reg = dest & 31;
  if ((dest & 0x20) != 0) {
    store<u64>(V + V_F + (reg << 3), size == 4 ? v | 0xffff_ffff_0000_0000 : v);
  } else if (reg != 0) store<u64>(V + V_X + (reg << 3), v);
}

/** Act on remote-fence requests from other harts (SBI RFENCE). */
function serviceRfence(): void {
  const p = V + V_RFENCE;
  const req = atomic.xchg<u32>(p, 0);
  if ((req & RFENCE_FENCE_I) != 0) flushIcache();
  if ((req & RFENCE_SFENCE_VMA) != 0) flushAllTlb();
}

/**
 * Run until an exit or until `budget` instructions retired; returns EXIT_*.
 * The worker calls it in slices (V8 has no on-stack replacement for Wasm).
 */
// the pc after a 32-bit instruction across the page end while it runs (a global, not one of run()'s locals:
// it is used on slow paths only)
let afterCross: u64 = NO_PAGE;

export function run(budget: i32): u32 {
  completeMmio();
  const R = V + V_RUN;
  store<u32>(R + R_EXIT, EXIT_NONE);
  ev = EV_NONE;
  const X = V + V_X;
  const IC = V + V_ICACHE;
  const TL = tlbBase(ACC_LOAD), TS = tlbBase(ACC_STORE), TF = tlbBase(ACC_FETCH);
  let pc = load<u64>(V + V_PC);
  let fetchPage: u64 = NO_PAGE;
  let fetchDelta: u64 = 0;
  let n: i32 = 0;
  let nextCheck: i32 = 0; // the next check of either kind
  let nextSlice: i32 = 0; // the next full check
  let exit: u32 = EXIT_NONE;
  stored = true;

  while (true) {
    if (n >= nextCheck) {
      cold();
      // at a slice boundary, and after an instruction that may have unmasked
      // or raised an interrupt (CSR write, xRET, SBI call): host requests,
      // remote fences, interrupts, spins. The timers only at slice boundaries:
      // reading the host clock is a call out of Wasm, and Linux writes
      // sstatus.SIE around every spinlock.
      const slice = n >= nextSlice;
      if (slice) {
        if (n >= budget) break;
        nextSlice = budget - n < CHECK_INTERVAL ? budget : n + CHECK_INTERVAL;
      }
      if (jitEndSlice) { jitEndSlice = false; break; } // threshold 1: the worker translates what was queued
      const w = atomic.load<u32>(V + V_PENDING);
      if ((w & (REQ_STOP | REQ_PAUSE | REQ_EXIT)) != 0) { exit = EXIT_REQUEST; break; }
      if (atomic.load<u32>(V + V_RFENCE) != 0) { serviceRfence(); fetchPage = NO_PAGE; }
      if (slice) checkTimers();
      // a debugger's single step runs the instruction at pc, not an interrupt handler (as QEMU's gdbstub)
      const irq = dbgStepping ? -1 : pendingInterrupt();
      if (irq >= 0) {
        pc = trap(<u64>irq, 0, pc, true);
        clearReservation();
        fetchPage = NO_PAGE;
      } else if (!dbgStepping && spinning(pc, stored)) { exit = EXIT_SPIN; break; }
      stored = false;
      nextCheck = nextSlice;
    }

    // ---- fetch ----
    if ((pc & ~(<u64>0xfff)) != fetchPage) {
      const t = TF + ((<usize>(pc >> 12) & (TLB_ENTRIES - 1)) << 4);
      if (load<u64>(t) == ((pc & ~(<u64>0xfff)) | epochFetch)) {
        fetchDelta = load<u64>(t, 8);
      } else {
        cold();
        const h = fetchHost(pc);
        // a faulting fetch still counts against the budget: a guest that traps in a loop cannot hold run() forever
        if (ev != EV_NONE) { n++; pc = takeFault(pc); continue; }
        fetchDelta = <u64>h - pc;
        // cache the translation for later fetches from this page (when PMP treats the page as one)
        if (pmpAllows((<u64>h - RAM_DELTA) & ~(<u64>0xfff), 0x1000, ACC_FETCH, priv)) {
          store<u64>(t, (pc & ~(<u64>0xfff)) | epochFetch);
          store<u64>(t, fetchDelta, 8);
        }
      }
      fetchPage = pc & ~(<u64>0xfff);
      // after a 32-bit instruction across the page end (no translation holds one): the code it runs into is a
      // block start, else it ran interpreted up to the next taken branch (in a loop of disk reads,
      // follow_page_mask's hot path after one was 7.6% of the instructions interpreted)
      if (pc == afterCross && jitCount(pc, TF)) nextCheck = n;
      afterCross = NO_PAGE;
    }
    const host = <usize>(pc + fetchDelta);
    let e = IC + (((host >> 1) & (ICACHE_ENTRIES - 1)) << 4);
    if (load<u64>(e) != (<u64>host | icacheGen)) {
      cold();
      const lo = <u32>load<u16>(host);
      if ((lo & 3) != 3) decode16(e, lo);
      else if ((host & 0xfff) != 0xffe) decode32(e, load<u32>(host));
      else {
        // a 32-bit instruction across a page boundary: fetch the upper half separately, do not cache
        const h2 = fetchHost(pc + 2);
        if (ev != EV_NONE) { n++; pc = takeFault(pc); fetchPage = NO_PAGE; continue; } // mtval = pc + 2, the missing half
        e = V + V_SCRATCH_INSN;
        decode32(e, lo | (<u32>load<u16>(h2) << 16));
        afterCross = pc + 4;
      }
      store<u64>(V + V_RUN + R_DECODE_MISSES, load<u64>(V + V_RUN + R_DECODE_MISSES) + 1);
      if (e != V + V_SCRATCH_INSN) {
        markCodePage(host);
        store<u64>(e, <u64>host | icacheGen);
        // the entry of a translated block calls its translation
        if (jitAny) { const s = jitLookup(host, icacheGen); if (s >= 0) setJitEntry(e, host, icacheGen, <u32>s); }
      }
      // a debugger's breakpoint: the entry leaves run() instead (only looked up here, on a decode-cache miss)
      if (breakAt(pc)) store<u32>(e, OP_DEBUG, 8);
    }
    const w = load<u32>(e, 8);
    const imm = load<i32>(e, 12);
    const rd = (w >> 8) & 63, rs1 = (w >> 16) & 31, rs2 = (w >> 24) & 31;
    const len: u64 = 4 - <u64>((w >> 13) & 2);
    n++;

    switch (w & 0xff) {
      case OP_LUI: store<u64>(X + (rd << 3), <u64><i64>imm); pc += len; break;
      case OP_AUIPC: store<u64>(X + (rd << 3), pc + <u64><i64>imm); pc += len; break;
      // taken branches and jumps count their targets for the JIT (block starts)
      case OP_JAL:
        store<u64>(X + (rd << 3), pc + len); pc += <u64><i64>imm;
        if (jitCount(pc, TF)) nextCheck = n;
        break;
      case OP_JALR: {
        const t = (load<u64>(X + (rs1 << 3)) + <u64><i64>imm) & ~(<u64>1);
        store<u64>(X + (rd << 3), pc + len);
        pc = t;
        if (jitCount(pc, TF)) nextCheck = n;
        break;
      }
      case OP_BEQ: { const t = load<u64>(X + (rs1 << 3)) == load<u64>(X + (rs2 << 3)); pc += t ? <u64><i64>imm : len; if (t && jitCount(pc, TF)) nextCheck = n; break; }
      case OP_BNE: { const t = load<u64>(X + (rs1 << 3)) != load<u64>(X + (rs2 << 3)); pc += t ? <u64><i64>imm : len; if (t && jitCount(pc, TF)) nextCheck = n; break; }
      case OP_BLT: { const t = load<i64>(X + (rs1 << 3)) < load<i64>(X + (rs2 << 3)); pc += t ? <u64><i64>imm : len; if (t && jitCount(pc, TF)) nextCheck = n; break; }
      case OP_BGE: { const t = load<i64>(X + (rs1 << 3)) >= load<i64>(X + (rs2 << 3)); pc += t ? <u64><i64>imm : len; if (t && jitCount(pc, TF)) nextCheck = n; break; }
      case OP_BLTU: { const t = load<u64>(X + (rs1 << 3)) < load<u64>(X + (rs2 << 3)); pc += t ? <u64><i64>imm : len; if (t && jitCount(pc, TF)) nextCheck = n; break; }
      case OP_BGEU: { const t = load<u64>(X + (rs1 << 3)) >= load<u64>(X + (rs2 << 3)); pc += t ? <u64><i64>imm : len; if (t && jitCount(pc, TF)) nextCheck = n; break; }

      case OP_DEBUG: return debugStop(pc, n, DBG_STOP_BREAK);

      case OP_JIT: {
        // a translated block (assembly/jit.ts has the protocol); n already counts its first instruction
        const r = call_indirect<u32>(JIT_TABLE_BASE + <u32>imm, V, pc, nextCheck - n + 1, <i32>0);
        const k = <i32>(r >> 2) - 1;
        n += k;
        const ji = V + V_RUN + R_JIT_INSNS;
        store<u64>(ji, load<u64>(ji) + <u64>(k + 1));
        pc = load<u64>(V + V_PC);
        const st = r & 3;
        if (st == JIT_JUMP) { if (jitCount(pc, TF)) nextCheck = n; }
        else if (st == JIT_EXIT) return exitAfter(pc, n);
        else {
          fetchPage = NO_PAGE; // a trap (the privilege may have changed) or code it stored to
          // where a translation ran out (its size cap, the page end, a branch not taken out of it, an
          // instruction it does not translate) is a block start too: counted, or it stays interpreted
          if (st == JIT_CONTINUE && jitCount(pc, TF)) nextCheck = n;
        }
        break;
      }

      case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU: {
        const op = w & 0xff;
        const f3 = op - OP_LB;
        const size: u32 = 1 << (f3 & 3);
        const a = load<u64>(X + (rs1 << 3)) + <u64><i64>imm;
        const ha = tlbHost(TL, a, size, epochLoad);
        let v: u64;
        if (ha != 0) {
          switch (op) {
            case OP_LB: v = <u64><i64>load<i8>(ha); break;
            case OP_LH: v = <u64><i64>load<i16>(ha); break;
            case OP_LW: v = <u64><i64>load<i32>(ha); break;
            case OP_LD: v = load<u64>(ha); break;
            case OP_LBU: v = <u64>load<u8>(ha); break;
            case OP_LHU: v = <u64>load<u16>(ha); break;
            default: v = <u64>load<u32>(ha); break;
          }
        } else {
          cold();
          loadDest = (rd & 31) | (f3 < 4 ? 0x40 : 0);
          v = loadSlow(a, size);
          if (ev != EV_NONE) {
            if (ev == EV_DEBUG) return debugStop(pc, n, 0);
            if (ev == EV_FAULT) { pc = takeFault(pc); fetchPage = NO_PAGE; break; }
            return exitAfter(pc + len, n); // MMIO: the load completes on resume
          }
          if (f3 < 3) { const sh: u64 = 64 - 8 * <u64>size; v = <u64>((<i64>(v << sh)) >> sh); }
        }
        store<u64>(X + (rd << 3), v);
        pc += len;
        break;
      }
      case OP_SB: case OP_SH: case OP_SW: case OP_SD: {
        const op = w & 0xff;
        const size: u32 = 1 << (op - OP_SB);
        const a = load<u64>(X + (rs1 << 3)) + <u64><i64>imm;
        const v = load<u64>(X + (rs2 << 3));
        const ha = tlbHost(TS, a, size, epochStore);
        if (ha != 0) {
          // spin detection counts only stores that change memory (a spin loop may save the same registers)
          if (size == 8) { stored |= load<u64>(ha) != v; store<u64>(ha, v); }
          else if (size == 4) { stored |= load<u32>(ha) != <u32>v; store<u32>(ha, <u32>v); }
          else if (size == 2) { stored |= load<u16>(ha) != <u16>v; store<u16>(ha, <u16>v); }
          else { stored |= load<u8>(ha) != <u8>v; store<u8>(ha, <u8>v); }
        } else {
          cold();
          stored = true;
          storeSlow(a, size, v);
          if (ev != EV_NONE) {
            if (ev == EV_DEBUG) return debugStop(pc, n, 0);
            if (ev == EV_FAULT) { pc = takeFault(pc); fetchPage = NO_PAGE; break; }
            return exitAfter(pc + len, n);
          }
        }
        pc += len;
        break;
      }

      case OP_ADDI: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) + <u64><i64>imm); pc += len; break;
      case OP_SLTI: store<u64>(X + (rd << 3), load<i64>(X + (rs1 << 3)) < <i64>imm ? 1 : 0); pc += len; break;
      case OP_SLTIU: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) < <u64><i64>imm ? 1 : 0); pc += len; break;
      case OP_XORI: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) ^ <u64><i64>imm); pc += len; break;
      case OP_ORI: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) | <u64><i64>imm); pc += len; break;
      case OP_ANDI: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) & <u64><i64>imm); pc += len; break;
      case OP_SLLI: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) << <u64>imm); pc += len; break;
      case OP_SRLI: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) >> <u64>imm); pc += len; break;
      case OP_SRAI: store<u64>(X + (rd << 3), <u64>(load<i64>(X + (rs1 << 3)) >> <i64>imm)); pc += len; break;
      case OP_ADD: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) + load<u64>(X + (rs2 << 3))); pc += len; break;
      case OP_SUB: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) - load<u64>(X + (rs2 << 3))); pc += len; break;
      case OP_SLL: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) << (load<u64>(X + (rs2 << 3)) & 63)); pc += len; break;
      case OP_SLT: store<u64>(X + (rd << 3), load<i64>(X + (rs1 << 3)) < load<i64>(X + (rs2 << 3)) ? 1 : 0); pc += len; break;
      case OP_SLTU: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) < load<u64>(X + (rs2 << 3)) ? 1 : 0); pc += len; break;
      case OP_XOR: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) ^ load<u64>(X + (rs2 << 3))); pc += len; break;
      case OP_SRL: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) >> (load<u64>(X + (rs2 << 3)) & 63)); pc += len; break;
      case OP_SRA: store<u64>(X + (rd << 3), <u64>(load<i64>(X + (rs1 << 3)) >> (load<i64>(X + (rs2 << 3)) & 63))); pc += len; break;
      case OP_OR: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) | load<u64>(X + (rs2 << 3))); pc += len; break;
      case OP_AND: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) & load<u64>(X + (rs2 << 3))); pc += len; break;
      case OP_ADDIW: store<u64>(X + (rd << 3), sx32(load<u64>(X + (rs1 << 3)) + <u64><i64>imm)); pc += len; break;
      case OP_SLLIW: store<u64>(X + (rd << 3), sx32(<u64>(load<u32>(X + (rs1 << 3)) << <u32>imm))); pc += len; break;
      case OP_SRLIW: store<u64>(X + (rd << 3), sx32(<u64>(load<u32>(X + (rs1 << 3)) >> <u32>imm))); pc += len; break;
      case OP_SRAIW: store<u64>(X + (rd << 3), <u64><i64>(load<i32>(X + (rs1 << 3)) >> imm)); pc += len; break;
      case OP_ADDW: store<u64>(X + (rd << 3), sx32(load<u64>(X + (rs1 << 3)) + load<u64>(X + (rs2 << 3)))); pc += len; break;
      case OP_SUBW: store<u64>(X + (rd << 3), sx32(load<u64>(X + (rs1 << 3)) - load<u64>(X + (rs2 << 3)))); pc += len; break;
      case OP_SLLW: store<u64>(X + (rd << 3), sx32(<u64>(load<u32>(X + (rs1 << 3)) << (load<u32>(X + (rs2 << 3)) & 31)))); pc += len; break;
      case OP_SRLW: store<u64>(X + (rd << 3), sx32(<u64>(load<u32>(X + (rs1 << 3)) >> (load<u32>(X + (rs2 << 3)) & 31)))); pc += len; break;
      case OP_SRAW: store<u64>(X + (rd << 3), <u64><i64>(load<i32>(X + (rs1 << 3)) >> (load<i32>(X + (rs2 << 3)) & 31))); pc += len; break;

      case OP_MUL: store<u64>(X + (rd << 3), load<u64>(X + (rs1 << 3)) * load<u64>(X + (rs2 << 3))); pc += len; break;
      case OP_MULH: store<u64>(X + (rd << 3), mulh(load<u64>(X + (rs1 << 3)), load<u64>(X + (rs2 << 3)))); pc += len; break;
      case OP_MULHSU: store<u64>(X + (rd << 3), mulhsu(load<u64>(X + (rs1 << 3)), load<u64>(X + (rs2 << 3)))); pc += len; break;
      case OP_MULHU: store<u64>(X + (rd << 3), mulhu(load<u64>(X + (rs1 << 3)), load<u64>(X + (rs2 << 3)))); pc += len; break;
      case OP_DIV: {
        const a = load<i64>(X + (rs1 << 3)), b = load<i64>(X + (rs2 << 3));
        store<i64>(X + (rd << 3), b == 0 ? -1 : (b == -1 ? -a : a / b)); pc += len; break;
      }
      case OP_DIVU: {
        const a = load<u64>(X + (rs1 << 3)), b = load<u64>(X + (rs2 << 3));
        store<u64>(X + (rd << 3), b == 0 ? U64.MAX_VALUE : a / b); pc += len; break;
      }
      case OP_REM: {
        const a = load<i64>(X + (rs1 << 3)), b = load<i64>(X + (rs2 << 3));
        store<i64>(X + (rd << 3), b == 0 ? a : (b == -1 ? 0 : a % b)); pc += len; break;
      }
      case OP_REMU: {
        const a = load<u64>(X + (rs1 << 3)), b = load<u64>(X + (rs2 << 3));
        store<u64>(X + (rd << 3), b == 0 ? a : a % b); pc += len; break;
      }
      case OP_MULW: store<u64>(X + (rd << 3), sx32(load<u64>(X + (rs1 << 3)) * load<u64>(X + (rs2 << 3)))); pc += len; break;
      case OP_DIVW: {
        const a = load<i32>(X + (rs1 << 3)), b = load<i32>(X + (rs2 << 3));
        store<i64>(X + (rd << 3), <i64>(b == 0 ? -1 : (b == -1 ? -a : a / b))); pc += len; break;
      }
      case OP_DIVUW: {
        const a = load<u32>(X + (rs1 << 3)), b = load<u32>(X + (rs2 << 3));
        store<u64>(X + (rd << 3), b == 0 ? U64.MAX_VALUE : sx32(<u64>(a / b))); pc += len; break;
      }
      case OP_REMW: {
        const a = load<i32>(X + (rs1 << 3)), b = load<i32>(X + (rs2 << 3));
        store<i64>(X + (rd << 3), <i64>(b == 0 ? a : (b == -1 ? 0 : a % b))); pc += len; break;
      }
      case OP_REMUW: {
        const a = load<u32>(X + (rs1 << 3)), b = load<u32>(X + (rs2 << 3));
        store<u64>(X + (rd << 3), sx32(<u64>(b == 0 ? a : a % b))); pc += len; break;
      }

      case OP_FENCE: pc += len; break;
      case OP_FENCE_I: flushIcache(); fetchPage = NO_PAGE; pc += len; break;
      case OP_PAUSE:
        pc += len;
        store<u64>(V + V_PC, pc);
        return leave(n, EXIT_PAUSE);

      case OP_LR_W: case OP_LR_D: {
        const d = (w & 0xff) == OP_LR_D;
        const a = load<u64>(X + (rs1 << 3));
        const h = lrHost(a, d ? 8 : 4);
        if (ev != EV_NONE) { if (ev == EV_DEBUG) return debugStop(pc, n, 0); pc = takeFault(pc); fetchPage = NO_PAGE; break; }
        const v = d ? atomic.load<u64>(h) : sx32(<u64>atomic.load<u32>(h));
        resAddr = h; resValue = v;
        store<u64>(X + (rd << 3), v);
        pc += len;
        if (jitCount(pc, TF)) nextCheck = n; // see OP_CSR
        break;
      }
      case OP_SC_W: case OP_SC_D: {
        const d = (w & 0xff) == OP_SC_D;
        const a = load<u64>(X + (rs1 << 3));
        const h = amoHost(a, d ? 8 : 4);
        if (ev != EV_NONE) { if (ev == EV_DEBUG) return debugStop(pc, n, 0); pc = takeFault(pc); fetchPage = NO_PAGE; break; }
        const nv = load<u64>(X + (rs2 << 3));
        let ok = false;
        if (resAddr == h) {
          ok = d ? atomic.cmpxchg<u64>(h, resValue, nv) == resValue
                 : atomic.cmpxchg<u32>(h, <u32>resValue, <u32>nv) == <u32>resValue;
        }
        resAddr = 0;
        store<u64>(X + (rd << 3), ok ? 0 : 1);
        pc += len;
        if (jitCount(pc, TF)) nextCheck = n;
        break;
      }
      case OP_AMO_W: {
        const a = load<u64>(X + (rs1 << 3));
        const h = amoHost(a, 4);
        if (ev != EV_NONE) { if (ev == EV_DEBUG) return debugStop(pc, n, 0); pc = takeFault(pc); fetchPage = NO_PAGE; break; }
        const s = load<u32>(X + (rs2 << 3));
        let old: u32;
        switch (imm) {
          case 1: old = atomic.xchg<u32>(h, s); break;
          case 0: old = atomic.add<u32>(h, s); break;
          case 4: old = atomic.xor<u32>(h, s); break;
          case 12: old = atomic.and<u32>(h, s); break;
          case 8: old = atomic.or<u32>(h, s); break;
          default: {
            old = atomic.load<u32>(h);
            while (true) {
              let r: u32;
              if (imm == 16) r = <i32>old < <i32>s ? old : s;
              else if (imm == 20) r = <i32>old > <i32>s ? old : s;
              else if (imm == 24) r = old < s ? old : s;
              else r = old > s ? old : s;
              const seen = atomic.cmpxchg<u32>(h, old, r);
              if (seen == old) break;
              old = seen;
            }
          }
        }
        store<u64>(X + (rd << 3), sx32(<u64>old));
        pc += len;
        if (jitCount(pc, TF)) nextCheck = n;
        break;
      }
      case OP_AMO_D: {
        const a = load<u64>(X + (rs1 << 3));
        const h = amoHost(a, 8);
        if (ev != EV_NONE) { if (ev == EV_DEBUG) return debugStop(pc, n, 0); pc = takeFault(pc); fetchPage = NO_PAGE; break; }
        const s = load<u64>(X + (rs2 << 3));
        let old: u64;
        switch (imm) {
          case 1: old = atomic.xchg<u64>(h, s); break;
          case 0: old = atomic.add<u64>(h, s); break;
          case 4: old = atomic.xor<u64>(h, s); break;
          case 12: old = atomic.and<u64>(h, s); break;
          case 8: old = atomic.or<u64>(h, s); break;
          default: {
            old = atomic.load<u64>(h);
            while (true) {
              let r: u64;
              if (imm == 16) r = <i64>old < <i64>s ? old : s;
              else if (imm == 20) r = <i64>old > <i64>s ? old : s;
              else if (imm == 24) r = old < s ? old : s;
              else r = old > s ? old : s;
              const seen = atomic.cmpxchg<u64>(h, old, r);
              if (seen == old) break;
              old = seen;
            }
          }
        }
        store<u64>(X + (rd << 3), old);
        pc += len;
        if (jitCount(pc, TF)) nextCheck = n;
        break;
      }

      case OP_FLW: case OP_FLD: {
        if (!fpEnabled()) { pc = trap(EXC_ILLEGAL, 0, pc, false); fetchPage = NO_PAGE; break; }
        const d = (w & 0xff) == OP_FLD;
        const a = load<u64>(X + (rs1 << 3)) + <u64><i64>imm;
        loadDest = rd | 0x20;
        let v = loadSlowFast(a, d ? 8 : 4, TL);
        if (ev != EV_NONE) {
          if (ev == EV_DEBUG) return debugStop(pc, n, 0);
          if (ev == EV_FAULT) { pc = takeFault(pc); fetchPage = NO_PAGE; break; }
          return exitAfter(pc + len, n);
        }
        if (!d) v |= 0xffff_ffff_0000_0000;
        store<u64>(V + V_F + ((rd & 31) << 3), v);
        setCsr(CSR_MSTATUS, csr(CSR_MSTATUS) | (3 << 13));
        pc += len;
        break;
      }
      case OP_FSW: case OP_FSD: {
        if (!fpEnabled()) { pc = trap(EXC_ILLEGAL, 0, pc, false); fetchPage = NO_PAGE; break; }
        const d = (w & 0xff) == OP_FSD;
        const a = load<u64>(X + (rs1 << 3)) + <u64><i64>imm;
        stored = true;
        storeSlowFast(a, d ? 8 : 4, load<u64>(V + V_F + (rs2 << 3)), TS);
        if (ev != EV_NONE) {
          if (ev == EV_DEBUG) return debugStop(pc, n, 0);
          if (ev == EV_FAULT) { pc = takeFault(pc); fetchPage = NO_PAGE; break; }
          return exitAfter(pc + len, n);
        }
        pc += len;
        break;
      }
      case OP_FP: {
        if (!fpEnabled() || !execFp(<u32>imm)) {
          pc = trap(EXC_ILLEGAL, <u64><u32>imm, pc, false); fetchPage = NO_PAGE; break;
        }
        pc += len;
        break;
      }

      case OP_CSR: {
        const insn = <u32>imm;
        const f3 = (insn >> 12) & 3;
        const isImm = (insn & 0x4000) != 0;
        const a = insn >> 20;
        const src: u64 = isImm ? <u64>rs1 : load<u64>(X + (rs1 << 3));
        // csrrw always writes; csrrs/c write only when rs1/uimm != 0
        const doWrite = f3 == 1 || rs1 != 0;
        const doRead = f3 != 1 || (rd & 31) != 0;
        if (doWrite && !csrWritable(a)) { pc = trap(EXC_ILLEGAL, <u64>insn, pc, false); fetchPage = NO_PAGE; break; }
        setRetired(<u64>n); // counters read by this instruction
        let old: u64 = 0;
        if (doRead) { // (csrrw with rd = x0 skips the read; csrWritable checked its privilege)
          old = csrRead(a, insn);
          if (ev != EV_NONE) { pc = takeFault(pc); fetchPage = NO_PAGE; break; }
        }
        if (doWrite) {
          // mip.SEIP read-modify-writes see only the software-written bit, not the PLIC's line
          const base = a == 0x344 ? mipSoftwareView() : old;
          const nv = f3 == 1 ? src : f3 == 2 ? base | src : base & ~src;
          csrWrite(a, nv, insn);
          if (ev != EV_NONE) { pc = takeFault(pc); fetchPage = NO_PAGE; break; }
          // state that the fast path caches may have changed: re-check now
          fetchPage = NO_PAGE;
          nextCheck = n;
        }
        store<u64>(X + (rd << 3), old);
        pc += len;
        // a translation ends before an instruction it does not translate (CSR, LR/SC): the code after it
        // is a block start too, else it ran interpreted up to the next taken branch (the rest of an
        // irqsave path, of a compare-and-swap loop)
        if (jitCount(pc, TF)) nextCheck = n;
        break;
      }

      case OP_SYSTEM: {
        const insn = <u32>imm;
        if (insn == 0x00000073) { // ECALL
          if (priv == 1 && (BOOT_FLAGS & BOOT_SBI) != 0) {
            // the built-in SBI answers S-mode ecalls (boot without firmware)
            pc = sbiCall(pc);
            if (ev != EV_NONE) { ev = EV_NONE; return exitAfter(pc, n); }
            fetchPage = NO_PAGE;
            nextCheck = n;
            break;
          }
          pc = trap(priv == 0 ? EXC_ECALL_U : priv == 1 ? EXC_ECALL_S : EXC_ECALL_M, 0, pc, false);
          fetchPage = NO_PAGE;
          break;
        }
        if (insn == 0x00100073) { pc = trap(EXC_BREAKPOINT, pc, pc, false); fetchPage = NO_PAGE; break; }
        if (insn == 0x30200073 && priv == 3) { pc = mret(); clearReservation(); fetchPage = NO_PAGE; nextCheck = n; break; }
        if (insn == 0x10200073 && priv >= 1 && !(priv == 1 && (csr(CSR_MSTATUS) & MSTATUS_TSR) != 0)) {
          pc = sret(); clearReservation(); fetchPage = NO_PAGE; nextCheck = n; break;
        }
        if (insn == 0x10500073) { // WFI
          if (priv == 0 || (priv == 1 && (csr(CSR_MSTATUS) & MSTATUS_TW) != 0)) {
            pc = trap(EXC_ILLEGAL, <u64>insn, pc, false); fetchPage = NO_PAGE; break;
          }
          pc += len;
          checkTimers();
          if (wfiWake()) { nextCheck = n; break; }
          store<u64>(V + V_PC, pc);
          return leave(n, EXIT_WFI);
        }
        if ((insn & 0xfe007fff) == 0x12000073 && priv >= 1 && !(priv == 1 && (csr(CSR_MSTATUS) & MSTATUS_TVM) != 0)) {
          flushAllTlb(); // SFENCE.VMA (any address/ASID: flush everything)
          fetchPage = NO_PAGE;
          pc += len;
          break;
        }
        pc = trap(EXC_ILLEGAL, <u64>insn, pc, false);
        fetchPage = NO_PAGE;
        break;
      }
      case OP_C_EBREAK: pc = trap(EXC_BREAKPOINT, pc, pc, false); fetchPage = NO_PAGE; break;
      default: { // OP_ILLEGAL
        pc = trap(EXC_ILLEGAL, <u64><u32>imm, pc, false);
        fetchPage = NO_PAGE;
        break;
      }
    }
  }
  store<u64>(V + V_PC, pc);
  return leave(n, exit);
}

/** Clear the pending fault and enter its trap handler; returns the new pc. */
function takeFault(pc: u64): u64 {
  ev = EV_NONE;
  return trap(faultCause, faultTval, pc, false);
}

/** Leave run() after an instruction that needs the host (MMIO, shutdown, ...), resuming at `pc`. */
function exitAfter(pc: u64, n: i32): u32 {
  store<u64>(V + V_PC, pc);
  return leave(n, load<u32>(V + V_RUN + R_EXIT));
}

/**
 * A debug stop before the instruction at `pc` (a breakpoint, or a watchpoint
 * whose access has not happened): it does not retire; `cause` 0 keeps the
 * R_DBG the watchpoint check wrote.
 */
function debugStop(pc: u64, n: i32, cause: u32): u32 {
  ev = EV_NONE;
  if (cause != 0) store<u32>(V + V_RUN + R_DBG, cause);
  store<u64>(V + V_PC, pc);
  return leave(n - 1, EXIT_DEBUG);
}

/** A load through the TLB fast path or the slow path (FP loads). */
function loadSlowFast(a: u64, size: u32, TL: usize): u64 {
  const ha = tlbHost(TL, a, size, epochLoad);
  if (ha == 0) return loadSlow(a, size);
  return size == 8 ? load<u64>(ha) : <u64>load<u32>(ha);
}

/** A store through the TLB fast path or the slow path (FP stores: the kernel saves f0-f31 on context switches, setjmp saves fs0-fs11). */
function storeSlowFast(a: u64, size: u32, v: u64, TS: usize): void {
  const ha = tlbHost(TS, a, size, epochStore);
  if (ha == 0) { storeSlow(a, size, v); return; }
  if (size == 8) store<u64>(ha, v); else store<u32>(ha, <u32>v);
}

function leave(n: i32, exit: u32): u32 {
  setCsr(CSR_RETIRED, csr(CSR_RETIRED) + <u64>n);
  setRetired(0);
  const R = V + V_RUN;
  store<u64>(R + R_INSNS, load<u64>(R + R_INSNS) + <u64>n);
  if (exit != EXIT_NONE) store<u64>(R + R_EXITS, load<u64>(R + R_EXITS) + 1);
  const ec = R + R_EXIT_COUNTS + ((<usize>exit & (EXIT_KINDS - 1)) << 3);
  store<u64>(ec, load<u64>(ec) + 1);
  store<u32>(R + R_EXIT, exit);
  store<u32>(V + V_PRIV, priv);
  return exit;
}
