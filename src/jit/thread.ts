/**
 * The VM's translator thread: it translates the vCPUs' batches of hot blocks
 * and compiles them, once a guest keeps finding hot code (./service.ts has
 * the protocol: until this thread is up, a pool thread taking ~50-200 ms to
 * come up, the I/O thread does it; with threshold 1, the tests'
 * deterministic mode, each vCPU thread translates for itself). It takes the
 * work off the I/O thread, which runs the devices, and compiles
 * synchronously: it is this thread's only work.
 *
 * A task of the VM's thread pool, like the signal thread (vcpu-worker.ts
 * exports it for piscina); it ends when the VM stops (`control`).
 */
import type { MessagePort } from 'node:worker_threads';
import { compileOptimized, type Layout } from '../accel/module.js';
import type { ThreadAnswer, BatchRequest } from './jit.js';
import { offThreadTranslator, serveBatch } from './service.js';
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
  const translator = offThreadTranslator(module, memory, L, fused);
  warmUp(); // V8 compiles the translator's functions before the first batch needs them

  // compiled here, synchronously: it is this thread's only work
  const who = 'the JIT\'s translator thread';
  const serve = (port: MessagePort, req: BatchRequest): void => {
    const { answer, bytes, transfer } = serveBatch(req, translator, who, true);
    if (bytes) {
      try { answer.module = compileOptimized(bytes); } catch (e) { answer.failed = `${who}: ${(e as Error).message}`; }
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
