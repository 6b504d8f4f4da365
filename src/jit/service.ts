/**
 * Translation off the vCPU threads. A vCPU sends each batch of hot blocks
 * through a channel of its own and goes on running; the other end translates
 * it, compiles the module and answers (src/jit/jit.ts takes the answer between
 * slices). The other end is the VM's I/O thread (the main thread) from the
 * start, and the VM's translator thread (./thread.ts) once the guest has
 * made enough batches to be worth a thread of its own.
 *
 * Why the I/O thread first: a vCPU thread that translates for itself stops
 * running its guest meanwhile (1-1.5 ms a unit of the bench kernels, 0.3-0.5
 * in a Linux boot, with V8 running the translator's JavaScript cold in every
 * thread), and a translator thread costs ~100 ms of a core to come up beside
 * the guest's first milliseconds. The I/O thread is up already and mostly
 * idle while a guest boots or computes.
 */
import { appendFileSync } from 'node:fs';
import { MessageChannel, type MessagePort, type Transferable } from 'node:worker_threads';
import { VCPU_MODULE_MIN_PAGES, compileEager, vcpuImports, type Layout, type VcpuExports } from '../accel/module.js';
import { translateRequest, type BatchRequest, type ThreadAnswer, type Translator } from './jit.js';

const WASM_PAGE = 0x10000;

/**
 * A translator for batches of any vCPU of a VM, on a thread that is none of
 * theirs: the vCPU module's decoder and slot hash, in an instance on a memory
 * of its own (jit_decode writes in the vCPU block it is bound to, which must
 * not be a vCPU's of the VM), reading the VM's memory.
 */
export function offThreadTranslator(module: WebAssembly.Module, memory: WebAssembly.Memory, L: Layout, fused: boolean): Translator {
  const pages = Math.max(VCPU_MODULE_MIN_PAGES, Math.ceil((L.VCPU_BASE + L.VCPU_STRIDE) / WASM_PAGE));
  const own = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const cpu = new WebAssembly.Instance(module, vcpuImports(own, 0)).exports as unknown as VcpuExports;
  cpu.vcpu_bind(0);
  const ownView = new DataView(own.buffer as unknown as ArrayBuffer);
  const immAt = L.VCPU_BASE + L.V_JIT_QUEUE + 4;
  return {
    ram: new Uint8Array(memory.buffer as unknown as ArrayBuffer), view: new DataView(memory.buffer as unknown as ArrayBuffer), L, cpu,
    imm: () => ownView.getInt32(immAt, true), fused, eager: false,
  };
}

/** A batch translated for a vCPU: the answer (its module still to compile from `bytes`) and what it transfers. */
export interface Served { answer: Extract<ThreadAnswer, { kind: 'batch' }>; bytes: Uint8Array<ArrayBuffer> | undefined; transfer: ArrayBuffer[] }

/**
 * WKVM_JIT_CAPTURE=FILE: every batch served off a vCPU thread is appended to
 * FILE as a line of JSON (the request, its pages, the vCPU's warm counters),
 * for scripts/jit-replay.mjs, which times the translator on real batches and
 * checks that a change to it leaves its output the same.
 */
const CAPTURE = process.env.WKVM_JIT_CAPTURE;

function capture(file: string, req: BatchRequest, t: Translator): void {
  const pages: Record<number, string> = {};
  for (const { host } of req.items) {
    const page = host & ~0xfff;
    pages[page] = Buffer.from(t.ram.subarray(page, page + 0x1000)).toString('base64');
  }
  const at = req.base + t.L.V_JIT_COUNTS;
  const counters = Buffer.from(t.ram.subarray(at, at + 4 * t.L.JIT_COUNTERS)).toString('base64');
  appendFileSync(file, JSON.stringify({ req, pages, counters, fused: t.fused }) + '\n');
}

/** Translate a vCPU's batch (`who` names the translator in an error; `byThread`: the translator thread's). */
export function serveBatch(req: BatchRequest, t: Translator, who: string, byThread: boolean): Served {
  if (CAPTURE) capture(CAPTURE, req, t);
  const t0 = performance.now();
  try {
    const { units, bytes, refused } = translateRequest(req, t);
    const us = Math.round((performance.now() - t0) * 1000);
    return { answer: { kind: 'batch', units, size: bytes?.length ?? 0, refused, us, byThread }, bytes, transfer: units.map((u) => u.code.buffer as ArrayBuffer) };
  } catch (e) {
    return { answer: { kind: 'batch', units: [], size: 0, refused: [], us: 0, failed: `${who}: ${(e as Error).message}`, byThread }, bytes: undefined, transfer: [] };
  }
}

/**
 * The I/O thread's end of the vCPUs' channels, until the translator thread
 * takes them (handOver). It compiles on V8's background threads
 * (compileEager), so that this thread goes on with the devices meanwhile.
 */
export class IoThreadTranslation {
  private readonly translator: Translator;
  private ended = false;

  /** `served`: called for every batch translated here (the VM counts them: handOver). */
  constructor(private readonly ports: MessagePort[], module: WebAssembly.Module, memory: WebAssembly.Memory, L: Layout, fused: boolean,
    private readonly served: () => void) {
    this.translator = offThreadTranslator(module, memory, L, fused);
    for (const port of ports) {
      port.on('message', (req: BatchRequest) => this.serve(port, req));
      port.unref(); // the vCPU threads keep the VM alive, not their channels
      port.postMessage({ kind: 'ready' } satisfies ThreadAnswer);
    }
  }

  /**
   * Batches go to the translator thread from now on: each vCPU gets a new
   * channel (through its old one, so that it sees the move after every answer
   * sent before it), and `to` gives their other ends to the thread. Batches
   * already sent here are still translated and answered here.
   */
  handOver(to: (ports: MessagePort[]) => void): void {
    if (this.ended) return;
    const moved = this.ports.map((port) => {
      const channel = new MessageChannel();
      this.send(port, { kind: 'moved', port: channel.port2 }, [channel.port2]);
      return channel.port1;
    });
    to(moved);
  }

  /** The VM stopped: its channels close (answers still compiling are dropped). */
  end(): void {
    this.ended = true;
    for (const port of this.ports) port.close();
  }

  private serve(port: MessagePort, req: BatchRequest): void {
    this.served();
    const who = 'the JIT\'s translator (I/O thread)';
    const { answer, bytes, transfer } = serveBatch(req, this.translator, who, false);
    if (!bytes) { this.send(port, answer, transfer); return; }
    compileEager(bytes).then((module) => { answer.module = module; }, (e: unknown) => { answer.failed = `${who}: ${(e as Error).message}`; })
      .finally(() => this.send(port, answer, transfer));
  }

  private send(port: MessagePort, answer: ThreadAnswer, transfer: Transferable[]): void {
    if (this.ended) return;
    try { port.postMessage(answer, transfer); } catch { /* the vCPU ended: its channel is closed */ }
  }
}
