// Interrupt-pending words: one i32 per hart (V_PENDING) holding its mip bits
// and the host's requests. Any thread may set or clear bits; the owner
// sleeps on the word with Atomics.wait, so every change is followed by a
// notify.
import { V_PENDING, V_MTIMECMP, V_STIMECMP, MACHINE_BASE, M_SIG_DOORBELL, M_SIG_ARMED, CSR_MENVCFG } from "./layout";
import { vcpuBase, V, NHARTS, mtimeNow, TICKS_PER_MS, csr } from "./state";

/** menvcfg.STCE: Sstc's stimecmp is enabled for S-mode. */
export const MENVCFG_STCE: u64 = <u64>1 << 63;

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
  // no read-modify-write of another hart's busy word when nothing changes
  const now = atomic.load<u32>(vcpuBase(hart) + V_PENDING) & bits;
  if (level ? now == bits : now == 0) return;
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

/**
 * The timer rule: which of MTIP and STIP the deadlines `m` (mtimecmp) and `s`
 * (the S deadline: Sstc stimecmp or SBI set_timer; U64_MAX = none) make
 * pending at mtime `now`.
 */
// @ts-ignore: decorator
@inline function timersDue(now: u64, m: u64, s: u64): u32 {
  let bits: u32 = 0;
  if (now >= m) bits |= MIP_MTIP;
  if (s != U64.MAX_VALUE && now >= s) bits |= MIP_STIP;
  return bits;
}

/**
 * Set and clear MTIP/STIP of this hart from its deadlines (at slice ends,
 * before WFI sleeps and after timer writes). When it clears a bit, it makes
 * sure the signal worker will wake the hart for the deadline still ahead:
 * each thread reads the host clock through its own performance.timeOrigin,
 * and the signal worker's may read a tick ahead of this one, so a bit it
 * raised a tick early is cleared here and must be raised again (or a WFI
 * sleeps on). Deadline writes ring the signal worker themselves.
 */
export function checkTimers(): void {
  const now = mtimeNow();
  const m = atomic.load<u64>(V + V_MTIMECMP);
  const s = atomic.load<u64>(V + V_STIMECMP);
  const due = timersDue(now, m, s);
  // with Sstc enabled (always, under the built-in SBI) the S timer drives STIP,
  // also down when there is no deadline; without it M-mode software owns STIP
  const owned = (csr(CSR_MENVCFG) & MENVCFG_STCE) != 0 ? MIP_MTIP | MIP_STIP : MIP_MTIP;
  const p = V + V_PENDING;
  const w = atomic.load<u32>(p);
  if ((due & ~w) != 0) atomic.or<u32>(p, due & ~w);
  const clear = owned & ~due & w;
  if (clear != 0) {
    atomic.and<u32>(p, ~clear);
    let ahead = U64.MAX_VALUE;
    if ((clear & MIP_MTIP) != 0) ahead = m;
    if ((clear & MIP_STIP) != 0 && s < ahead) ahead = s;
    ringSignal(ahead);
  }
}

/**
 * Milliseconds until this hart's earliest timer deadline still ahead
 * (Infinity: none): how long a sleeping hart may wait before its own alarm,
 * whether or not the signal worker is up. A deadline already past is not
 * one: its bit is up, and a hart asleep with it has the interrupt masked
 * (Linux leaves stimecmp in the past while the tick is stopped): waking for
 * it again made every idle hart of a 64-vCPU boot poll every 50 us.
 */
export function deadlineMs(): f64 {
  const now = mtimeNow();
  return msUntil(now, ahead(now, atomic.load<u64>(V + V_MTIMECMP), atomic.load<u64>(V + V_STIMECMP), U64.MAX_VALUE));
}

/** The earliest of `next` and the deadlines `m` and `s` that are still ahead of `now`. */
// @ts-ignore: decorator
@inline function ahead(now: u64, m: u64, s: u64, next: u64): u64 {
  if (m > now && m < next) next = m;
  if (s > now && s < next) next = s;
  return next;
}

/** Milliseconds from `now` to deadline `d` (Infinity: U64_MAX, none). */
// @ts-ignore: decorator
@inline function msUntil(now: u64, d: u64): f64 {
  return d == U64.MAX_VALUE ? Infinity : <f64>(d - now) / TICKS_PER_MS;
}

/**
 * The signal worker's scan: raise the due timer interrupts of every hart
 * (waking a sleeping one; each hart lowers its own), arm M_SIG_ARMED with the
 * next deadline and return the ms until it (Infinity: none).
 */
export function signalScan(): f64 {
  const now = mtimeNow();
  let next = U64.MAX_VALUE;
  for (let h: u32 = 0; h < NHARTS; h++) {
    const b = vcpuBase(h);
    const m = atomic.load<u64>(b + V_MTIMECMP);
    const s = atomic.load<u64>(b + V_STIMECMP);
    // a deadline long past (Linux leaves stimecmp there while the tick is
    // stopped) stays due: setPendingLevel writes nothing when the bits are up
    const due = timersDue(now, m, s);
    if (due != 0) setPendingLevel(h, due, true);
    next = ahead(now, m, s, next);
  }
  atomic.store<u64>(MACHINE_BASE + M_SIG_ARMED, next);
  return msUntil(now, next);
}
