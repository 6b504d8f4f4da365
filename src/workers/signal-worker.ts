/**
 * The signal thread (qemu-kvm's sigwait thread plus the dynticks alarm): one
 * one-shot alarm, re-armed to the earliest timer deadline of all vCPUs. When
 * a deadline passes it raises MTIP/STIP in that vCPU's pending word and wakes
 * it. vCPUs ring M_SIG_DOORBELL when they set a deadline earlier than the
 * armed alarm (M_SIG_ARMED); the stop flag ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Layout } from '../accel/module.js';

interface SignalData { memory: WebAssembly.Memory; layout: Layout; harts: number; epochMs: number }

const { memory, layout: L, harts, epochMs } = workerData as SignalData;
const sab = memory.buffer as unknown as SharedArrayBuffer;
const i32 = new Int32Array(sab);
const u64 = new BigUint64Array(sab);
const doorbell = (L.MACHINE_BASE + L.M_SIG_DOORBELL) >> 2;
const runstate = (L.MACHINE_BASE + L.M_RUNSTATE) >> 2;
const base = performance.timeOrigin - epochMs;
const MIP_STIP = 1 << 5;
const MIP_MTIP = 1 << 7;
const NEVER = 0xffff_ffff_ffff_ffffn;

const now = (): bigint => BigInt(Math.floor((base + performance.now()) * 10_000));

function raise(hart: number, bit: number): void {
  const idx = (L.VCPU_BASE + hart * L.VCPU_STRIDE + L.V_PENDING) >> 2;
  if ((Atomics.load(i32, idx) & bit) !== 0) return;
  Atomics.or(i32, idx, bit);
  Atomics.notify(i32, idx, 1);
}

const armed = (L.MACHINE_BASE + L.M_SIG_ARMED) >> 3;

for (;;) {
  // while scanning every deadline change rings; once armed, only earlier ones
  Atomics.store(u64, armed, NEVER);
  const seq = Atomics.load(i32, doorbell);
  if (Atomics.load(i32, runstate) !== L.RUNSTATE_RUNNING) break;
  const t = now();
  let earliest = NEVER;
  for (let h = 0; h < harts; h++) {
    const vb = L.VCPU_BASE + h * L.VCPU_STRIDE;
    const m = Atomics.load(u64, (vb + L.V_MTIMECMP) >> 3);
    if (m !== NEVER) { if (t >= m) raise(h, MIP_MTIP); else if (m < earliest) earliest = m; }
    const s = Atomics.load(u64, (vb + L.V_STIMECMP) >> 3);
    if (s !== NEVER) { if (t >= s) raise(h, MIP_STIP); else if (s < earliest) earliest = s; }
  }
  Atomics.store(u64, armed, earliest);
  const timeoutMs = earliest === NEVER ? Infinity : Number(earliest - t) / 10_000;
  Atomics.wait(i32, doorbell, seq, timeoutMs);
}
parentPort?.postMessage('stopped');
