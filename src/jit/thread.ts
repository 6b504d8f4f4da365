/**
 * The VM's translator thread: it translates the vCPUs' batches of hot blocks
 * and compiles them, so that a vCPU thread neither spends its own time on
 * them (~0.3-0.5 ms a unit in a Linux boot, where V8 runs the translator's
 * JavaScript cold in every vCPU thread) nor turns its event loop in short
 * slices while V8 compiles (the result of an asynchronous compile comes
 * through it). A vCPU sends a batch through its own channel and goes on
 * running; between slices it takes the compiled module with
 * receiveMessageOnPort and installs it (src/jit/jit.ts). Until this thread
 * is up (a pool thread takes ~50-200 ms to come up beside the boot hart), and
 * with threshold 1 (the tests' deterministic mode), the vCPU thread
 * translates for itself.
 *
 * A task of the VM's thread pool, like the signal thread (vcpu-worker.ts
 * exports it for piscina); it ends when the VM stops (`control`).
 */
import type { MessagePort } from 'node:worker_threads';
import { compileOptimized, vcpuImports, type Layout, type VcpuExports } from '../accel/module.js';
import { translateRequest, type ThreadAnswer, type BatchRequest, type Translator } from './jit.js';
import { warmUp } from './translate.js';

export interface JitThreadTask {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  layout: Layout;
  /** One channel per vCPU (its other end is in that vCPU's task). */
  ports: MessagePort[];
  /** The VM's end of it says stop. */
  control: MessagePort;
  fused: boolean;
}

export function jitThread(task: JitThreadTask): Promise<number> {
  const { module, memory, layout: L, ports, control, fused } = task;
  // the vCPU module's decoder and slot hash, in an instance on a memory of its own: jit_decode writes in
  // the vCPU block it is bound to, which must not be a vCPU's of the VM
  const own = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  const cpu = new WebAssembly.Instance(module, vcpuImports(own, 0)).exports as unknown as VcpuExports;
  cpu.vcpu_bind(0);
  const ownView = new DataView(own.buffer as unknown as ArrayBuffer);
  const immAt = L.VCPU_BASE + L.V_JIT_QUEUE + 4;
  const translator: Translator = {
    ram: new Uint8Array(memory.buffer as unknown as ArrayBuffer), view: new DataView(memory.buffer as unknown as ArrayBuffer), L, cpu,
    imm: () => ownView.getInt32(immAt, true), fused, eager: false,
  };
  warmUp(); // V8 compiles the translator's functions before the first batch needs them

  const serve = (port: MessagePort, req: BatchRequest): void => {
    const t0 = performance.now();
    let answer: ThreadAnswer;
    const transfer: ArrayBuffer[] = [];
    try {
      const { units, bytes, refused } = translateRequest(req, translator);
      const us = Math.round((performance.now() - t0) * 1000);
      answer = { kind: 'batch', units, module: bytes && compileOptimized(bytes), size: bytes?.length ?? 0, refused, us };
      for (const u of units) transfer.push(u.code.buffer as ArrayBuffer);
    } catch (e) {
      answer = { kind: 'batch', units: [], size: 0, refused: [], us: 0, failed: `the JIT's translator thread: ${(e as Error).message}` };
    }
    port.postMessage(answer, transfer);
  };

  return new Promise((resolve) => {
    const end = (): void => {
      for (const port of ports) port.close();
      control.close();
      resolve(0);
    };
    control.once('message', end);
    for (const port of ports) {
      port.on('message', (req: BatchRequest) => serve(port, req));
      port.postMessage({ kind: 'ready' } satisfies ThreadAnswer);
    }
  });
}
