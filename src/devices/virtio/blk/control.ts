/**
 * The words a drive's device model (main thread) and its I/O thread
 * (./iothread.ts) share: a lock, the hand-over of the queue, and the ring
 * positions. The lock is held only around writes to the guest's rings (the
 * I/O thread's pop and push) and the main thread's stop: once the main
 * thread has set STOP under it, the I/O thread never writes the rings again,
 * so that a device reset can hand the rings back to the driver at once,
 * without waiting for host I/O in flight.
 */
export const C_LOCK = 0;
/** The main thread asked the I/O thread to end (set under the lock). */
export const C_STOP = 1;
/** The I/O thread is up and waits for the queue. */
export const C_READY = 2;
/** The main thread handed the queue over (at C_LAST_AVAIL, C_USED_IDX): its notifies go to the I/O thread. */
export const C_OWNED = 3;
/** The I/O thread has a request in hand (popped, not yet pushed). */
export const C_BUSY = 4;
/** The queue's positions: at the hand-over, and as the I/O thread leaves them whenever it goes idle. */
export const C_LAST_AVAIL = 5;
export const C_USED_IDX = 6;
export const CONTROL_WORDS = 8;

/** Take the lock: it is held for a ring's pop or push (microseconds). */
export function lock(c: Int32Array): void {
  while (Atomics.compareExchange(c, C_LOCK, 0, 1) !== 0) Atomics.wait(c, C_LOCK, 1, 1);
}

export function unlock(c: Int32Array): void {
  Atomics.store(c, C_LOCK, 0);
  Atomics.notify(c, C_LOCK, 1);
}
