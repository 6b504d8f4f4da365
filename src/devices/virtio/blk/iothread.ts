/**
 * A drive's I/O thread (QEMU's virtio-blk dataplane, KVM's ioeventfd and
 * irqfd on one thread): once the device model hands it the queue
 * (./blk.ts), it waits on the vCPUs' queue-notify doorbell, takes the
 * requests, does their I/O on the image with synchronous calls, gives them
 * back and raises the interrupt itself, through the vCPU module's own code
 * for it (an instance of its own on the VM's memory, as the signal thread
 * has). The I/O loop no longer wakes for the drive.
 *
 * Why: served on the I/O loop, each 1 MiB read made two hops between
 * threads (to libuv's pool and back) at ~50 µs each, and a third runnable
 * thread on a two-core host; a test build reading synchronously on the I/O
 * loop read ~15% faster, but that stalls every device for as long as the
 * disk takes. This thread may block on the disk: it serves nothing else.
 *
 * The same queue (Virtqueue) and request code (executeRequest) as on the
 * I/O loop. Writes to the guest's rings happen under the control block's
 * lock and only while the device model has not asked the thread to stop
 * (./control.ts), so that a device reset returns the rings to the driver at
 * once. A malformed queue ends the thread with its reason, and the device
 * model sets DEVICE_NEEDS_RESET.
 *
 * A task of the VM's thread pool (vcpu-worker.ts exports it for piscina).
 */
import type { MessagePort } from 'node:worker_threads';
import { VmMemory } from '../../../accel/memory.js';
import { vcpuImports, type VcpuExports } from '../../../accel/module.js';
import { GuestMemoryError } from '../../device.js';
import type { QueueThreadVm } from '../device.js';
import { VIRTIO_MMIO_INT_VRING } from '../mmio.js';
import { Virtqueue, VirtqueueError, type VirtqueueFeatures, type VirtqueueLayout } from '../queue.js';
import { executeRequest, hostIoWarning, ioErrorOutcome, parseRequest, type BlockBackend, type BlockCacheMode, type Outcome } from './blk.js';
import { C_BUSY, C_LAST_AVAIL, C_OWNED, C_READY, C_STOP, C_USED_IDX, lock, unlock } from './control.js';
import { SyncFileStore } from './store.js';

export interface BlkIoTask {
  vm: QueueThreadVm;
  slot: number;
  control: Int32Array;
  fd: number;
  size: number;
  readonly: boolean;
  cache: BlockCacheMode;
  id: Uint8Array;
  stats: Float64Array;
  queue: { layout: VirtqueueLayout; features: VirtqueueFeatures };
  /** Host I/O warnings for the device model ({ warn }). */
  warnings: MessagePort;
}

/** Resolves when the device model stops the thread (0), or with the reason the queue is malformed. */
export async function blkIoThread(task: BlkIoTask): Promise<0 | { needsReset: string }> {
  const { vm, slot, control: c, warnings } = task;
  const L = vm.layout;
  const i32 = new Int32Array(vm.memory.buffer as unknown as SharedArrayBuffer);
  const notifyWord = ((L.MACHINE_BASE + L.M_VIRTIO_NOTIFY) >> 2) + slot;
  /** The notify bits this thread took last: given back if it stops before serving them (they may be the next driver's). */
  let taken = 0;
  try {
    const cpu = new WebAssembly.Instance(vm.module, vcpuImports(vm.memory, vm.epochMs)).exports as unknown as VcpuExports;
    cpu.machine_bind();
    const mem = new VmMemory(L, vm.harts, vm.ramBase, vm.ramSize, undefined, vm.memory).guest;
    const backend: BlockBackend = {
      store: new SyncFileStore(task.fd, task.size), readonly: task.readonly, cache: task.cache, id: task.id, stats: task.stats,
    };
    const stopped = (): boolean => Atomics.load(c, C_STOP) !== 0;

    // up: wait for the queue (the device model serves it until then)
    Atomics.store(c, C_READY, 1);
    while (Atomics.load(c, C_OWNED) === 0) {
      if (stopped()) return 0;
      Atomics.wait(c, C_OWNED, 0, 1000);
    }
    const queue = new Virtqueue(mem, task.queue.layout, task.queue.features,
      { lastAvail: Atomics.load(c, C_LAST_AVAIL), usedIdx: Atomics.load(c, C_USED_IDX) });
    let warned = false;
    const hostError = (e: unknown): Outcome => {
      if (!warned) {
        warned = true;
        warnings.postMessage({ warn: hostIoWarning(e) });
      }
      return ioErrorOutcome(backend.stats);
    };
    const live = (): boolean => !stopped();

    for (;;) {
      // the vCPUs ring this slot's word alone while the queue is handed over (M_VIRTIO_OWNED)
      if (stopped()) return 0;
      taken = Atomics.exchange(i32, notifyWord, 0);
      // every request the queue holds, one at a time: this thread's I/O is synchronous
      for (;;) {
        lock(c);
        if (stopped()) { unlock(c); return 0; }
        let chain;
        try {
          chain = queue.pop();
        } finally {
          if (!chain) {
            const { lastAvail, usedIdx } = queue.indices;
            Atomics.store(c, C_LAST_AVAIL, lastAvail);
            Atomics.store(c, C_USED_IDX, usedIdx);
            Atomics.store(c, C_BUSY, 0);
            Atomics.notify(c, C_BUSY);
          } else {
            Atomics.store(c, C_BUSY, 1);
          }
          unlock(c);
        }
        if (!chain) break;
        taken = 0;
        const { type, sector, status } = parseRequest(chain);
        const outcome = await executeRequest(backend, type, sector, chain, live).catch(hostError);
        lock(c);
        if (stopped()) { unlock(c); return 0; }
        status[0] = outcome.status;
        queue.push(chain, outcome.written);
        if (queue.needsInterrupt()) cpu.virtio_interrupt(slot, VIRTIO_MMIO_INT_VRING, 0);
        unlock(c);
      }
      taken = 0; // the queue was empty after them: they were served
      if (stopped()) return 0;
      Atomics.wait(i32, notifyWord, 0, 1000);
    }
  } catch (e) {
    if (e instanceof VirtqueueError || e instanceof GuestMemoryError) return { needsReset: e.message };
    throw e;
  } finally {
    if (taken !== 0) Atomics.or(i32, notifyWord, taken);
    Atomics.store(c, C_BUSY, 0);
    Atomics.notify(c, C_BUSY);
    warnings.close();
  }
}
