/**
 * The vCPU threads' pools (piscina), kept warm between VMs: a new thread
 * (a Node worker, the vCPU module's instance) takes 50-200 ms of wall time
 * to come up on a busy 2-core host, so a stopped VM's threads serve the next
 * VM, and a VM being restored starts one early. Idle threads are unref'd
 * (they do not keep the process alive) and end after IDLE_THREAD_MS.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { MAX_HARTS, VIRTIO_SLOTS } from '../../assembly/board.js';
import { compileFlagsShared } from '../accel/compile-flags.js';

/**
 * The file each pool thread loads: vcpu-worker.ts and what it imports as one
 * CommonJS file (scripts/bundle.mjs). piscina require()s it, and Node 20
 * require()s an ES module by instantiating it synchronously, which aborted
 * the whole process when it exited meanwhile (a `wkvm run` failing on bad
 * input while the boot hart's thread still started: 1 run in ~300).
 */
export const POOL_THREAD_FILE = fileURLToPath(new URL('../../vcpu-worker.cjs', import.meta.url));

const sparePools: Piscina[] = [];
const SPARE_POOLS = 2;
const IDLE_THREAD_MS = 30_000;

/** A pool for a VM's vCPU threads: a warm one if there is one. */
export function takePool(): Piscina {
  return sparePools.pop() ?? newPool();
}

/** A pool starts its first thread at once (minThreads): made while a VM is being built, it comes up meanwhile. */
export function prewarmPool(): void {
  if (sparePools.length === 0) sparePools.push(newPool());
}

function newPool(): Piscina {
  return new Piscina({
    filename: POOL_THREAD_FILE, // one file: each new thread loads it faster
    minThreads: 1, // the boot hart's, alone: a second one coming up beside it slowed it down; the VM asks for the rest
    maxThreads: MAX_HARTS + 2 + VIRTIO_SLOTS, // the vCPUs', the signal thread, the JIT's translator thread, the drives' I/O threads
    idleTimeout: IDLE_THREAD_MS,
    concurrentTasksPerWorker: 1,
    maxQueue: MAX_HARTS + 2 + VIRTIO_SLOTS,
    workerData: { compileFlags: compileFlagsShared() }, // the V8 flags set during compiles, counted process-wide
  });
}

/** The pool of a VM that stopped cleanly: kept for the next VM (at most SPARE_POOLS), else ended. */
export function givePool(pool: Piscina): void {
  if (sparePools.length < SPARE_POOLS) sparePools.push(pool);
  else void pool.destroy();
}
