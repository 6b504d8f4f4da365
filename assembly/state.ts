// Per-instance (= per-vCPU worker) globals: cached copies of the machine header
// and the base addresses of this vCPU's block. The state itself is in shared
// memory (layout.ts); these are only addresses and constants.
import {
  MACHINE_BASE, M_NHARTS, M_JIT_THRESHOLD, M_TOUCHED_MAP, M_RAM_BASE, M_RAM_SIZE, M_RAM_HOST, M_TOHOST, M_FROMHOST, M_BOOT_FLAGS,
  VCPU_BASE, VCPU_STRIDE, V_CSR, V_X, V_F, MTIME_HZ,
} from "./layout";

export let V: usize = 0;          // this vCPU's block
export let HART: u32 = 0;
export let NHARTS: u32 = 1;
export let RAM_BASE: u64 = 0x80000000;
export let RAM_SIZE: u64 = 0;
export let RAM_HOST: u64 = 0;     // linear offset of guest RAM
export let RAM_DELTA: u64 = 0;    // host = paddr + RAM_DELTA (mod 2^64)
export let TOHOST: u64 = 0;
export let FROMHOST: u64 = 0;
export let BOOT_FLAGS: u32 = 0;
export let JIT_THRESHOLD: u32 = 0; // taken branches to a block before it is translated (0: no JIT)
export let TOUCHED: usize = 0;     // the touched-page map (layout M_TOUCHED_MAP)

export function bindMachine(): void {
  NHARTS = load<u32>(MACHINE_BASE + M_NHARTS);
  RAM_BASE = load<u64>(MACHINE_BASE + M_RAM_BASE);
  RAM_SIZE = load<u64>(MACHINE_BASE + M_RAM_SIZE);
  RAM_HOST = load<u64>(MACHINE_BASE + M_RAM_HOST);
  RAM_DELTA = RAM_HOST - RAM_BASE;
  TOHOST = load<u64>(MACHINE_BASE + M_TOHOST);
  FROMHOST = load<u64>(MACHINE_BASE + M_FROMHOST);
  BOOT_FLAGS = load<u32>(MACHINE_BASE + M_BOOT_FLAGS);
  JIT_THRESHOLD = load<u32>(MACHINE_BASE + M_JIT_THRESHOLD);
  TOUCHED = <usize>load<u32>(MACHINE_BASE + M_TOUCHED_MAP);
}

export function bindVcpu(hart: u32): void {
  bindMachine();
  HART = hart;
  V = vcpuBase(hart);
}

// @ts-ignore: decorator
@inline export function vcpuBase(hart: u32): usize {
  return <usize>VCPU_BASE + <usize>hart * <usize>VCPU_STRIDE;
}

// @ts-ignore: decorator
@inline export function csr(slot: u32): u64 { return load<u64>(V + V_CSR + (slot << 3)); }
// @ts-ignore: decorator
@inline export function setCsr(slot: u32, v: u64): void { store<u64>(V + V_CSR + (slot << 3), v); }
// @ts-ignore: decorator
@inline export function xreg(r: u32): u64 { return load<u64>(V + V_X + (r << 3)); }
// @ts-ignore: decorator
@inline export function setXreg(r: u32, v: u64): void { if (r != 0) store<u64>(V + V_X + (r << 3), v); }
// @ts-ignore: decorator
@inline export function freg(r: u32): u64 { return load<u64>(V + V_F + (r << 3)); }

// Time: mtime is the host's monotonic clock in MTIME_HZ ticks since the
// machine's epoch (the import gives ms: it is not on the instruction hot
// path, only rdtime, CLINT reads, slice ends and the signal worker's scans).
// @ts-ignore: decorator
@external("env", "now_ms")
export declare function nowMs(): f64;
export const TICKS_PER_MS: f64 = <f64>MTIME_HZ / 1000;
// @ts-ignore: decorator
@inline export function mtimeNow(): u64 { return <u64>(nowMs() * TICKS_PER_MS); }
// Give the host core away for a moment (spin-waits inside SBI calls).
// @ts-ignore: decorator
@external("env", "host_yield")
export declare function hostYield(): void;
