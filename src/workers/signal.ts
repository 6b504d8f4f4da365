/**
 * The signal thread (qemu-kvm's sigwait thread plus the dynticks alarm): one
 * one-shot alarm, re-armed to the earliest timer deadline of all vCPUs. The
 * scan itself (which deadline raises which interrupt, and waking the vCPU)
 * is the vCPU module's `signal_scan`, the same timer rule the vCPUs apply to
 * themselves. vCPUs ring M_SIG_DOORBELL when they set a deadline earlier
 * than the armed alarm (M_SIG_ARMED); the machine's shutdown ends the task.
 *
 * It runs as a task of the VM's thread pool, beside the vCPU tasks
 * (vcpu-worker.ts exports it for piscina): a pooled thread is warm, where a
 * new Node worker for each VM took ~50 ms of CPU to come up and go, beside
 * the guest's first instructions. A VM of several vCPUs starts it with the
 * first timer deadline a vCPU sets (src/vm.ts launch()); one of a single
 * vCPU has none (its hart waits for its own deadlines); a stop cancels it if
 * its thread has not come up yet (M_SIG_TASK).
 */
import { vcpuImports, type Layout, type VcpuExports } from '../accel/module.js';

/** `id`: the task's number in M_SIG_TASK (a stop before the task starts cancels it there). */
export interface SignalTask { module: WebAssembly.Module; memory: WebAssembly.Memory; layout: Layout; epochMs: number; id: number }

const NEVER = 0xffff_ffff_ffff_ffffn;

export function signalThread(task: SignalTask): number {
  const { module, memory, layout: L, epochMs, id } = task;
  const sab = memory.buffer as unknown as SharedArrayBuffer;
  const i32 = new Int32Array(sab);
  // a thread that came up after the VM stopped (or after its memory went to another VM) does nothing
  if (Atomics.compareExchange(i32, (L.MACHINE_BASE + L.M_SIG_TASK) >> 2, id, -id) !== id) return 0;
  const scanner = new WebAssembly.Instance(module, vcpuImports(memory, epochMs)).exports as unknown as VcpuExports;
  scanner.machine_bind();
  const u64 = new BigUint64Array(sab);
  const doorbell = (L.MACHINE_BASE + L.M_SIG_DOORBELL) >> 2;
  const runstate = (L.MACHINE_BASE + L.M_RUNSTATE) >> 2;
  const armed = (L.MACHINE_BASE + L.M_SIG_ARMED) >> 3;
  for (;;) {
    // while scanning every deadline change rings; once armed, only earlier ones
    Atomics.store(u64, armed, NEVER);
    const seq = Atomics.load(i32, doorbell);
    if (Atomics.load(i32, runstate) !== L.RUNSTATE_RUNNING) return 0;
    Atomics.wait(i32, doorbell, seq, scanner.signal_scan());
  }
}
