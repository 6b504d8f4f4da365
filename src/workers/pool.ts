/**
 * The vCPU threads' pools (piscina), kept warm between VMs: a new thread
 * (a Node worker, the vCPU module's instance) takes 50-200 ms of wall time
 * to come up on a busy 2-core host, so a stopped VM's threads serve the next
 * VM, and a VM being restored starts one early. Idle threads are unref'd
 * (they do not keep the process alive) and end after IDLE_THREAD_MS.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { MAX_HARTS } from '../../assembly/board.js';

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
    // vcpu-worker.ts and what it imports, as one file (scripts/bundle.mjs): each new thread loads it faster
    filename: fileURLToPath(new URL('../../vcpu-worker.js', import.meta.url)),
    minThreads: 1, // the boot hart's, alone: a second one coming up beside it slowed it down; the VM asks for the rest
    maxThreads: MAX_HARTS + 1,
    idleTimeout: IDLE_THREAD_MS,
    concurrentTasksPerWorker: 1,
    maxQueue: MAX_HARTS + 1,
  });
}

/** The pool of a VM that stopped cleanly: kept for the next VM (at most SPARE_POOLS), else ended. */
export function givePool(pool: Piscina): void {
  if (sparePools.length < SPARE_POOLS) sparePools.push(pool);
  else void pool.destroy();
}
