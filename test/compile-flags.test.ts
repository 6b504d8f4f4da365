// The V8 flags our Wasm compiles need are set only while a compile is in
// flight (src/accel/compile-flags.ts): a flag left set changes the hash V8
// checks code caches against, and every Node worker started then compiles
// Node's own JavaScript afresh.
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { holdCompileFlags, needCompileFlag, releaseCompileFlags } from '../dist/src/accel/compile-flags.js';
import { VirtualMachine } from '../dist/src/index.js';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

const [major = 0, minor = 0] = process.versions.v8.split('.').map(Number);
const flagged = major < 13 || (major === 13 && minor < 7); // V8 keeps branch hints behind a flag

describe('compile flags', () => {
  it.skipIf(!flagged)('are set while a compile holds them and put back after the last one', () => {
    const before = v8.cachedDataVersionTag();
    holdCompileFlags();
    const held = v8.cachedDataVersionTag();
    expect(held).not.toBe(before);
    holdCompileFlags();
    releaseCompileFlags();
    expect(v8.cachedDataVersionTag()).toBe(held); // one compile still in flight
    needCompileFlag('experimental-wasm-relaxed-simd'); // needed from now on: set at once for the compile in flight
    expect(v8.cachedDataVersionTag()).not.toBe(held);
    releaseCompileFlags();
    expect(v8.cachedDataVersionTag()).toBe(before);
  });

  it('a VM that compiled its vCPU module and JIT translations leaves V8\'s flags as they were', async () => {
    const before = v8.cachedDataVersionTag();
    const vm = await VirtualMachine.create({ bios: 'none', kernel: join(ROOT, 'guests', 'bench', 'bench.elf'), append: 'iters=40 only=fp', memory: '256M', jit: 'on', jitThreshold: 1 }); // translated on the vCPU's thread, before each block runs
    vm.start();
    expect(await vm.exited).toBe(0);
    expect(Number(vm.stats()[0].jit.blocks)).toBeGreaterThan(0); // it translated
    expect(v8.cachedDataVersionTag()).toBe(before);
  });
});

describe('flags a compile turns off (dynamic tiering, lazy compilation)', () => {
  it('stay off until the last compile in any thread that turned them off settles', async () => {
    const { Worker } = await import('node:worker_threads');
    const { compileFlagsShared } = await import('../dist/src/accel/compile-flags.js');
    const before = v8.cachedDataVersionTag();
    holdCompileFlags(['wasm-dynamic-tiering']);
    const eager = v8.cachedDataVersionTag();
    releaseCompileFlags(['wasm-dynamic-tiering']);
    expect(v8.cachedDataVersionTag()).toBe(before);
    expect(eager).not.toBe(before);
    // another thread's compile (as the I/O thread's compileEager) holds tiering off ...
    const url = new URL('../dist/src/accel/compile-flags.js', import.meta.url).href;
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then((m) => {
        m.holdCompileFlags(['wasm-dynamic-tiering']);
        parentPort.postMessage('held');
        parentPort.once('message', () => { m.releaseCompileFlags(['wasm-dynamic-tiering']); parentPort.postMessage('released'); });
      });`, { eval: true, workerData: { compileFlags: compileFlagsShared() } });
    const next = (): Promise<unknown> => new Promise((resolve) => worker.once('message', resolve));
    try {
      expect(await next()).toBe('held');
      expect(v8.cachedDataVersionTag()).toBe(eager);
      // ... while this one's (as the translator thread's compileOptimized) starts and ends: tiering stays off
      holdCompileFlags(['wasm-dynamic-tiering', 'wasm-lazy-compilation']);
      expect(v8.cachedDataVersionTag()).not.toBe(eager);
      releaseCompileFlags(['wasm-dynamic-tiering', 'wasm-lazy-compilation']);
      expect(v8.cachedDataVersionTag()).toBe(eager);
      worker.postMessage('release');
      expect(await next()).toBe('released');
      expect(v8.cachedDataVersionTag()).toBe(before);
    } finally {
      await worker.terminate();
    }
  });
});
