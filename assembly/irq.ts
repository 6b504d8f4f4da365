// Interrupt-pending words: one i32 per hart (V_PENDING) holding its mip bits
// and the host's requests. Any thread may set or clear bits; the owner
// sleeps on the word with Atomics.wait, so every change is followed by a
// notify.
import { V_PENDING, V_MTIMECMP, V_STIMECMP, MACHINE_BASE, M_SIG_DOORBELL, M_SIG_ARMED } from "./layout";
import { vcpuBase, V, mtimeNow } from "./state";

export const MIP_SSIP: u32 = 1 << 1;
export const MIP_MSIP: u32 = 1 << 3;
export const MIP_STIP: u32 = 1 << 5;
export const MIP_MTIP: u32 = 1 << 7;
export const MIP_SEIP: u32 = 1 << 9;
export const MIP_MEIP: u32 = 1 << 11;

export function setPending(hart: u32, bits: u32): void {
  const p = vcpuBase(hart) + V_PENDING;
  const old = atomic.or<u32>(p, bits);
  if ((old & bits) != bits) atomic.notify(p, 1);
}
export function clearPending(hart: u32, bits: u32): void {
  const p = vcpuBase(hart) + V_PENDING;
  const old = atomic.and<u32>(p, ~bits);
  if ((old & bits) != 0) atomic.notify(p, 1);
}
export function setPendingLevel(hart: u32, bits: u32, level: bool): void {
  if (level) setPending(hart, bits); else clearPending(hart, bits);
}

/**
 * A timer deadline was set: wake the signal worker if it is due before the
 * alarm the worker has armed (a later one is seen when that alarm fires).
 */
export function ringSignal(deadline: u64): void {
  if (deadline >= atomic.load<u64>(MACHINE_BASE + M_SIG_ARMED)) return;
  const p = MACHINE_BASE + M_SIG_DOORBELL;
  atomic.add<i32>(p, 1);
  atomic.notify(p, 1);
}

/** Set MTIP/STIP of this hart from its deadlines (called at slice ends and after timer writes). */
export function checkTimers(): void {
  const now = mtimeNow();
  const mcmp = atomic.load<u64>(V + V_MTIMECMP);
  const p = V + V_PENDING;
  const w = atomic.load<u32>(p);
  if (now >= mcmp) { if ((w & MIP_MTIP) == 0) atomic.or<u32>(p, MIP_MTIP); }
  else if ((w & MIP_MTIP) != 0) atomic.and<u32>(p, ~MIP_MTIP);
  const scmp = atomic.load<u64>(V + V_STIMECMP);
  if (scmp != U64.MAX_VALUE) {
    if (now >= scmp) { if ((w & MIP_STIP) == 0) atomic.or<u32>(p, MIP_STIP); }
    else if ((w & MIP_STIP) != 0) atomic.and<u32>(p, ~MIP_STIP);
  }
}
