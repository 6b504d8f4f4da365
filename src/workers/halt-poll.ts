/**
 * Halt polling (KVM's halt_poll_ns): a WFI that waits for a device (a disk
 * read, a packet) is answered sooner by watching the word that wakes it than
 * by sleeping on it. Measured on 1 MiB direct disk reads (1 vCPU): the I/O
 * loop's completion reached the vCPU 52 us (median) later through the futex,
 * 6 us polling, and the vCPU ran the guest's next request faster on the core
 * it had kept (dd 536 -> 643 MB/s, medians of 16 rounds). A read takes
 * ~0.4 ms on the host, so the window goes up to 1 ms (KVM's default is 0.2).
 * Only where every vCPU and the I/O loop have a core each (vcpu-worker.ts):
 * polling holds the core.
 */
export const HALT_POLL_MIN_MS = 0.01;
export const HALT_POLL_MAX_MS = 1;

/**
 * The next window (ms) after a halt of `haltedMs` with a window of
 * `windowMs`, `woken` when the poll saw the wake-up (KVM's adaptation): a
 * halt longer than the largest window shrinks it, to none while the guest's
 * halts stay long (an idle guest polls nothing); a short one the window
 * missed grows it; one it caught keeps it.
 */
export function nextHaltPoll(windowMs: number, haltedMs: number, woken: boolean): number {
  if (haltedMs > HALT_POLL_MAX_MS) return windowMs > HALT_POLL_MIN_MS ? windowMs / 2 : 0;
  if (woken) return windowMs;
  return Math.min(HALT_POLL_MAX_MS, Math.max(HALT_POLL_MIN_MS, windowMs * 2));
}
