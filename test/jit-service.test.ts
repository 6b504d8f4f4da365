/**
 * Translation off the vCPU threads (src/jit/service.ts): the I/O thread's end
 * of a vCPU's channel says it is up, translates and compiles a batch of real
 * guest code, and at the hand-over gives the vCPU a new channel (for the
 * translator thread) while it still answers what was sent before. The whole
 * path, with the translator thread taking over, runs in jit-api.test.ts.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { loadVcpuModule } from '../dist/src/accel/module.js';
import { VmMemory } from '../dist/src/accel/memory.js';
import { IoThreadTranslation } from '../dist/src/jit/service.js';
import type { BatchRequest, ThreadAnswer } from '../dist/src/jit/jit.js';
import { ROOT, runCmd, runWkvm } from './helpers.js';

const RAM = 0x8000_0000;
// addi a0, a0, 1; bltu a0, a1, .-4; ret
const LOOP = [0x0015_0513, 0xfeb5_6ee3, 0x0000_8067];

const next = async (port: MessagePort): Promise<ThreadAnswer> => (await once(port, 'message'))[0] as ThreadAnswer;

describe('the I/O thread translates for the vCPUs until the translator thread takes over', () => {
  let io: IoThreadTranslation | undefined;
  afterEach(() => io?.end());

  it('answers ready, then each batch with its module compiled; after the hand-over, a new channel and the old one still served', async () => {
    const { module, layout: L } = loadVcpuModule();
    const mem = new VmMemory(L, 1, BigInt(RAM), 16n << 20n);
    const view = new DataView(mem.memory.buffer as unknown as ArrayBuffer);
    LOOP.forEach((w, i) => view.setUint32(mem.ramHost + 4 * i, w, true));
    const request: BatchRequest = { items: [{ host: mem.ramHost, pc: RAM }], base: mem.vcpu(0), entries: [], warmCount: 1 };
    const channel = new MessageChannel();
    let served = 0;
    io = new IoThreadTranslation([channel.port1], module, mem.memory, L, false, () => { served++; });
    const vcpu = channel.port2;
    expect(await next(vcpu)).toEqual({ kind: 'ready' });

    vcpu.postMessage(request);
    const answer = await next(vcpu);
    if (answer.kind !== 'batch') throw new Error(`a batch answer expected, got ${answer.kind}`);
    expect(answer.failed).toBeUndefined();
    expect(answer.byThread).toBe(false); // not counted as the translator thread's
    expect(answer.units).toHaveLength(1);
    expect(answer.units[0]!.host).toBe(mem.ramHost);
    expect([...answer.units[0]!.code]).toEqual([...new Uint8Array(mem.memory.buffer, mem.ramHost, 12)]);
    expect(answer.module).toBeInstanceOf(WebAssembly.Module);
    expect(WebAssembly.Module.exports(answer.module!).map((e) => e.name)).toContain('f0');
    expect(served).toBe(1);

    // the hand-over: the vCPU learns of its new channel through the old one
    let handed: MessagePort[] = [];
    io.handOver((ports) => { handed = ports; });
    expect(handed).toHaveLength(1);
    const moved = await next(vcpu);
    if (moved.kind !== 'moved') throw new Error(`a move expected, got ${moved.kind}`);
    // what the vCPU sends on the new channel reaches the one it was handed to
    const got = once(handed[0]!, 'message');
    moved.port.postMessage(request);
    expect((await got)[0]).toEqual(request);
    // a batch sent on the old channel before the vCPU saw the move is still answered there
    vcpu.postMessage(request);
    const late = await next(vcpu);
    expect(late.kind === 'batch' && late.module instanceof WebAssembly.Module).toBe(true);
    moved.port.close();
    handed[0]!.close();
    vcpu.close();
  });
});

describe('scripts/jit-replay.mjs', () => {
  it('replays the batches a run captured (WKVM_JIT_CAPTURE) and the translator makes the same bytes on every pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-jit-'));
    try {
      const file = join(dir, 'batches.jsonl');
      const env = { ...process.env, WKVM_JIT: '', WKVM_JIT_THRESHOLD: '64', WKVM_JIT_CAPTURE: file };
      const run = await runWkvm(['run', '-bios', 'none', '-m', '256M', '-kernel', join(ROOT, 'guests/bench/bench.elf'), '-append', 'iters=20 only=fsm'], { env, timeoutMs: 60_000 });
      expect(run.code).toBe(0);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      const first = JSON.parse(lines[0]!) as { req: BatchRequest; pages: Record<string, string> };
      expect(first.req.items.length).toBeGreaterThan(0);
      expect(Object.keys(first.pages).length).toBeGreaterThan(0);
      const replay = await runCmd(process.execPath, [join(ROOT, 'scripts/jit-replay.mjs'), file, '3'], { timeoutMs: 60_000 });
      expect(replay.stderr).toBe('');
      expect(replay.code).toBe(0);
      expect(replay.stdout).toMatch(new RegExp(`^${lines.length} batches, [1-9]\\d* units; .* digest [0-9a-f]{16}\n$`));
      // bad input: one line, a status that says so
      const bad = await runCmd(process.execPath, [join(ROOT, 'scripts/jit-replay.mjs'), join(dir, 'missing.jsonl')]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^jit-replay: cannot read .*missing\.jsonl/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
