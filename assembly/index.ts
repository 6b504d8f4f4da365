// The vCPU module's exports: the layout (one source of truth for the shared
// memory), the per-vCPU entry points called by a vCPU worker, and the few
// entry points the main thread's own instance uses to drive in-Wasm devices.
export * from "./layout";
export * from "./board";
export * from "./ops";
// the JIT tier: what the vCPU worker calls between slices, and what translations import
export { jitDecode as jit_decode, jitSlotOf as jit_slot, jitInstall as jit_install, jitRefuse as jit_refuse, jitGeneration as jit_generation, jitFlush as jit_flush,
  jitLoad as jit_load, jitStore as jit_store, jitStatus as jit_status, jitFp as jit_fp, jitFload as jit_fload,
  jitFstore as jit_fstore } from "./jit";
// 64x64 -> high 64 multiplies for translated code (Wasm has no 128-bit product)
export { mulh as jit_mulh, mulhu as jit_mulhu, mulhsu as jit_mulhsu } from "./alu";
export { epochLoad as epoch_load, epochStore as epoch_store, epochFetch as epoch_fetch, icacheGen as icache_gen } from "./mmu";
export { stored as spin_stored } from "./spin";
import {
  BOOT_SBI, CSR_MEDELEG, CSR_MIDELEG, CSR_MCOUNTEREN, CSR_SCOUNTEREN, CSR_MENVCFG,
  V_X, V_F, V_PC, V_PRIV, V_PENDING, V_HSM, V_MTIMECMP, V_STIMECMP, V_RFENCE, V_IN_RUN, V_RUN, R_EXIT, R_FAILURE,
  REQ_STOP, REQ_PAUSE, REQ_EXIT, MIP_MASK, PENDING_SW_SEIP, EXIT_NONE, V_ICACHE, ICACHE_ENTRIES,
  HSM_SUSPENDED, HSM_STARTED,
} from "./layout";
import { V, BOOT_FLAGS, NHARTS, bindVcpu, bindMachine, setCsr, vcpuBase } from "./state";
import { setPriv, privChanged, flushIcache, resetTlb, ev, EV_NONE } from "./mmu";
import { resetCsrs, wfiWake } from "./csr";
import { checkTimers, signalScan, deadlineMs, MENVCFG_STCE } from "./irq";
import { run as runCpu, clearReservation } from "./cpu";
import { jitForgetAll } from "./jitcache";
import { plicSetLevel, virtioInterrupt } from "./plic";
import { uartRxNotify, uartTxNotify } from "./uart";
import { hsmStart } from "./sbi";
import { spinForget } from "./spin";
import { setStepping } from "./debug";
import { pmpUpdate } from "./pmp";

/** Where AssemblyScript's own data ends; the host checks it is below MACHINE_BASE. */
export function heap_base(): usize { return __heap_base; }

/** Bind this instance to the machine (main thread, signal worker). */
export function machine_bind(): void { bindMachine(); }

/** Signal worker: raise due timer interrupts; returns ms until the next deadline (Infinity: none). */
export function signal_scan(): f64 { return signalScan(); }
/** vCPU thread: ms until this hart's earliest timer deadline (Infinity: none). */
export function vcpu_deadline_ms(): f64 { return deadlineMs(); }

/**
 * Bind this instance to vCPU `hart` (once, in its worker). The decode cache's
 * 1 MiB is faulted in here, while the thread starts, rather than a page at a
 * time inside run(): a secondary hart's first run during SMP bring-up is on
 * the boot hart's critical path, and host page faults are slow (a 64-vCPU
 * Linux boot took ~6% longer without this).
 */
export function vcpu_bind(hart: u32): void {
  bindVcpu(hart);
  memory.fill(V + V_ICACHE, 0, <usize>ICACHE_ENTRIES << 4);
  // a new thread has an empty table: the translations of an earlier boot (their tags) are gone too
  jitForgetAll();
}

/**
 * Power-on reset of the bound vCPU: pc, a0, a1, privilege. The HSM state is
 * set by the host before any thread starts (a hart_start may reach a hart
 * before its thread is up).
 */
export function vcpu_reset(pc: u64, a0: u64, a1: u64, priv: u32): void {
  memory.fill(V + V_X, 0, 33 * 8);
  memory.fill(V + V_F, 0, 32 * 8);
  resetCsrs();
  store<u64>(V + V_PC, pc);
  store<u64>(V + V_X + 80, a0);
  store<u64>(V + V_X + 88, a1);
  atomic.and<u32>(V + V_PENDING, ~(MIP_MASK | PENDING_SW_SEIP)); // keep host requests (a stop may already be there)
  atomic.store<u64>(V + V_MTIMECMP, U64.MAX_VALUE);
  atomic.store<u64>(V + V_STIMECMP, U64.MAX_VALUE);
  atomic.store<u32>(V + V_RFENCE, 0);
  store<u32>(V + V_RUN + R_EXIT, EXIT_NONE);
  store<u32>(V + V_RUN + R_FAILURE, 0);
  spinForget();
  if ((BOOT_FLAGS & BOOT_SBI) != 0) {
    // no firmware: traps and interrupts of S and U go to S-mode, as OpenSBI
    // would set up (ecalls from S are answered by the built-in SBI)
    setCsr(CSR_MEDELEG, 0xb1ff);
    setCsr(CSR_MIDELEG, 0x222);
    setCsr(CSR_MCOUNTEREN, 0xffff_ffff);
    setCsr(CSR_SCOUNTEREN, 7); // cycle, time, instret readable from U-mode (the vDSO's rdtime)
    setCsr(CSR_MENVCFG, MENVCFG_STCE); // Sstc available to S-mode
  }
  setPriv(priv);
  store<u32>(V + V_PRIV, priv);
  clearReservation();
  flushIcache();
  resetTlb();
  privChanged();
}

/**
 * Resume the bound vCPU from the architectural state already in its block
 * (a restored snapshot): registers, CSRs, privilege, pending interrupts and
 * timers stay as they are; what this instance derives from them (privilege,
 * the data-access key, the PMP summary) is recomputed and its caches (TLBs,
 * decode cache, LR/SC reservation, spin detection) start empty.
 */
export function vcpu_resume(): void {
  setPriv(load<u32>(V + V_PRIV));
  atomic.store<u32>(V + V_IN_RUN, 0);
  // R_EXIT stays: an answered MMIO load is completed by the next run()
  spinForget();
  clearReservation(); // a reservation may be lost at any time: the guest's SC fails and retries
  flushIcache();
  resetTlb();
  pmpUpdate();
  privChanged();
}

/** How many vCPUs other than this one are inside run() now (a spinning hart yields only to those). */
export function others_in_run(): u32 {
  let n: u32 = 0;
  for (let h: u32 = 0; h < NHARTS; h++) n += atomic.load<u32>(vcpuBase(h) + V_IN_RUN);
  return n - atomic.load<u32>(V + V_IN_RUN);
}

/** Run the bound vCPU for up to `budget` instructions; returns an EXIT_* reason. */
export function run(budget: i32): u32 {
  atomic.store<u32>(V + V_IN_RUN, 1);
  const r = runCpu(budget);
  atomic.store<u32>(V + V_IN_RUN, 0);
  return r;
}

/**
 * The debugger's single step: exactly one instruction (or the trap it takes),
 * with no interrupt taken first and no breakpoint at pc; returns an EXIT_*.
 */
export function run_step(): u32 {
  setStepping(true);
  const r = run(1);
  setStepping(false);
  return r;
}

/** After EXIT_WFI: true while the hart has nothing to do (no enabled interrupt pending, no request). */
export function wfi_should_sleep(): bool {
  const w = atomic.load<u32>(V + V_PENDING);
  if ((w & (REQ_STOP | REQ_PAUSE | REQ_EXIT)) != 0) return false;
  checkTimers();
  return !wfiWake();
}

/** After EXIT_HSM_SUSPEND, once wfi_should_sleep() is false: the hart is STARTED again (SBI HSM). */
export function hsm_resume(): void {
  atomic.cmpxchg<u32>(V + V_HSM, HSM_SUSPENDED, HSM_STARTED);
}

/** A stopped hart whose HSM state became START_PENDING: enter S-mode at the start address. */
export function hsm_start(): void {
  const pc = hsmStart();
  store<u64>(V + V_PC, pc);
}

/** Main thread: drive a PLIC interrupt line. */
export function plic_set_level(irq: u32, level: bool): void { plicSetLevel(irq, level); }
/** A virtio-mmio slot's InterruptStatus bits set and cleared, with its line (the I/O thread raises through it). */
export function virtio_interrupt(slot: u32, set: u32, clear: u32): void { virtioInterrupt(slot, set, clear); }

/** Main thread: bytes were added to the UART receive ring. */
export function uart_rx_notify(): void { uartRxNotify(); }
export function uart_tx_notify(): void { uartTxNotify(); }
