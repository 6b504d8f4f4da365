/**
 * The JIT section of `npm run bench`: the same work with the JIT tier off and
 * on, side by side with QEMU (TCG):
 *  - each benchmark kernel of guests/bench/bench.elf alone (`only=NAME`), timed
 *    by the guest itself (rdtime around the kernel: start-up is not in it),
 *    and, JIT on and QEMU, its speed once warm (the time of three times the
 *    rounds less that of the rounds, per rounds);
 *  - Linux to the shell prompt at 1, 8 and 64 vCPUs;
 *  - a user-space loop inside Linux (busybox awk), timed on the host from
 *    sending the command to its answer;
 *  - the compile cost: translations and compile time of a Linux boot.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualMachine } from '../src/index.js';
import { mediansInTurn, timeTo } from './timing.js';

export interface JitBenchContext { root: string; linuxDir: string; qemu?: string; quick: boolean; wkvm: string }

/** The kernels of bench.elf (its `only=` names). */
export const KERNELS = ['hash', 'sort', 'interp', 'memcpy', 'matmul', 'list', 'fsm', 'crc', 'fp'];

type Mode = 'off' | 'on';
const fmt = (n: number | undefined, d = 0): string => (n === undefined ? 'n/a' : n.toFixed(d));

/** Run `elf` with `append` on wkvm (JIT off or on) or QEMU; the guest's own `time NAME: N us` lines. */
function guestTimes(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Map<string, number> | undefined> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env });
    let out = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) { resolve(undefined); return; }
      const m = new Map<string, number>();
      for (const [, k, us] of out.matchAll(/^time (\w+): (\d+) us/gm)) m.set(k, Number(us));
      resolve(m);
    });
  });
}

async function kernels(ctx: JitBenchContext): Promise<unknown> {
  const elf = join(ctx.root, 'guests', 'bench', 'bench.elf');
  const iters = ctx.quick ? 100 : 1000;
  console.log(`== JIT: each kernel of bench.elf alone (iters=${iters}, guest-timed ms; 1 vCPU): JIT off, JIT on, QEMU (on and QEMU: medians of ${ctx.quick ? 1 : 3} runs in turns)`);
  const rows: Record<string, unknown>[] = [];
  // the kernel's time over three times the rounds too (JIT on and QEMU): what the extra rounds take is the
  // translated code's speed once warm, without the warm-up (translating, compiling) that 1000 rounds (~40 ms
  // of QEMU's time) mostly measure
  const steadyIters = iters * 3;
  const ms = (us?: number) => (us === undefined ? undefined : us / 1000);
  for (const k of KERNELS) {
    const append = (n: number) => `iters=${n} only=${k} times`;
    const w = (mode: Mode, n = iters) => guestTimes(process.execPath, [ctx.wkvm, 'run', '-bios', 'none', '-m', '256M', '-kernel', elf, '-append', append(n)],
      { ...process.env, WKVM_JIT: mode, WKVM_JIT_THRESHOLD: '' });
    const qemu = async (n = iters) => (ctx.qemu ? (await guestTimes(ctx.qemu, ['-M', 'virt', '-bios', 'none', '-nographic', '-m', '256M', '-kernel', elf, '-append', append(n)], process.env))?.get(k) : undefined);
    const off = (await w('off'))?.get(k);
    // JIT on and QEMU, at both round counts: medians of runs in turns (one run each read 10-50% off on this host)
    const [on, q, on3, q3] = await mediansInTurn(ctx.quick ? 1 : 3, [
      async () => (await w('on'))?.get(k), () => qemu(), async () => (await w('on', steadyIters))?.get(k), () => qemu(steadyIters)]);
    // ms per `iters` rounds, from the extra rounds alone
    const steady = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > a ? (b - a) / 1000 / (steadyIters / iters - 1) : undefined);
    const sOn = steady(on, on3), sQ = steady(q, q3);
    const r = { kernel: k, offMs: ms(off) ?? null, onMs: ms(on) ?? null, qemuMs: ms(q) ?? null,
      speedup: off && on ? off / on : null, vsQemu: on && q ? q / on : null,
      steadyOnMs: sOn ?? null, steadyQemuMs: sQ ?? null, steadyVsQemu: sOn && sQ ? sQ / sOn : null };
    rows.push(r);
    console.log(`${k.padEnd(7)} off ${fmt(ms(off)).padStart(6)} ms  on ${fmt(ms(on)).padStart(6)} ms  qemu ${fmt(ms(q)).padStart(6)} ms` +
      `  JIT speedup ${r.speedup ? r.speedup.toFixed(2) + 'x' : 'n/a'}, speed vs qemu ${r.vsQemu ? r.vsQemu.toFixed(2) + 'x' : 'n/a'}` +
      `; warm (rounds ${iters + 1}-${steadyIters}, ms per ${iters}): on ${fmt(sOn)} qemu ${fmt(sQ)}, vs qemu ${r.steadyVsQemu ? r.steadyVsQemu.toFixed(2) + 'x' : 'n/a'}`);
  }
  return rows;
}

async function linux(ctx: JitBenchContext): Promise<unknown> {
  const image = join(ctx.linuxDir, 'Image'), initrd = join(ctx.linuxDir, 'rootfs.cpio.gz');
  if (!existsSync(image) || !existsSync(initrd)) {
    console.log('== JIT: Linux: skipped (no guest image; build it with npm run guest:linux)');
    return null;
  }
  const out: Record<string, unknown> = {};
  const runs = ctx.quick ? 1 : 4; // even: off and on each go first in half the rounds (mediansInTurn)
  console.log('== JIT: Linux to the shell prompt (median of ' + runs + ', in turns): JIT off, JIT on, QEMU');
  const boot: Record<string, unknown>[] = [];
  for (const n of ctx.quick ? [1, 8] : [1, 8, 64]) {
    const common = ['-smp', String(n), '-m', n > 8 ? '512M' : '256M', '-kernel', image, '-initrd', initrd, '-append', 'console=ttyS0'];
    const w = (mode: Mode) => () => timeTo(process.execPath, [ctx.wkvm, 'run', ...common], /# $/,
      { env: { ...process.env, WKVM_JIT: mode, WKVM_JIT_THRESHOLD: '' } });
    const [off, on] = await mediansInTurn(runs, [w('off'), w('on')]);
    const q = ctx.qemu ? await timeTo(ctx.qemu, ['-M', 'virt', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', ...common], /# $/) : undefined;
    boot.push({ vcpus: n, offMs: off ?? null, onMs: on ?? null, qemuMs: q ?? null });
    const s = (v?: number) => (v === undefined ? 'n/a' : (v / 1000).toFixed(2) + ' s');
    console.log(`${String(n).padStart(3)} vCPUs: off ${s(off)}  on ${s(on)}  qemu ${s(q)}  (on/qemu ${on && q ? (on / q).toFixed(2) + 'x' : 'n/a'})`);
  }
  out.boot = boot;

  // a user-space loop: busybox awk summing 200,000 numbers
  const loop = "awk 'BEGIN{s=0;for(i=0;i<200000;i++)s+=i%7;print \"sum=\" s}'";
  console.log('== JIT: a user-space loop inside Linux (busybox awk, 200k iterations; host-timed): JIT off, JIT on, QEMU');
  const common = ['-m', '256M', '-kernel', image, '-initrd', initrd, '-append', 'console=ttyS0 quiet'];
  const w = (mode: Mode) => () => timeTo(process.execPath, [ctx.wkvm, 'run', ...common], /sum=\d+/,
    { env: { ...process.env, WKVM_JIT: mode, WKVM_JIT_THRESHOLD: '' }, send: loop });
  const [off, on] = await mediansInTurn(runs, [w('off'), w('on')]);
  const q = ctx.qemu ? await timeTo(ctx.qemu, ['-M', 'virt', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', ...common], /sum=\d+/, { send: loop }) : undefined;
  out.userLoop = { offMs: off ?? null, onMs: on ?? null, qemuMs: q ?? null };
  console.log(`awk loop: off ${fmt(off)} ms  on ${fmt(on)} ms  qemu ${fmt(q)} ms  (JIT speedup ${off && on ? (off / on).toFixed(2) + 'x' : 'n/a'}, on/qemu time ${on && q ? (on / q).toFixed(2) + 'x' : 'n/a'})`);

  // the compile cost of a boot (API: the per-vCPU JIT counters)
  const vm = await VirtualMachine.create({ kernel: image, initrd, append: 'console=ttyS0', memory: '256M', jit: 'on' });
  let text = '';
  const t0 = performance.now();
  const prompt = new Promise<number>((resolve) => vm.on('output', (b) => {
    text = (text + b.toString('latin1')).slice(-256);
    if (/# $/.test(text)) resolve(performance.now() - t0);
  }));
  vm.start();
  const ms = await prompt;
  const st = vm.stats()[0];
  await vm.stop();
  const compileMs = Number(st.jit.compileUs) / 1000, stalledMs = Number(st.jit.stalledUs) / 1000;
  out.compile = { bootMs: ms, translations: Number(st.jit.blocks), modules: Number(st.jit.modules), compileMs, stalledMs,
    translatedShare: Number(st.jit.instructions) / Number(st.instructions) };
  // translating is off the vCPU's thread (the I/O thread, then the translator thread: docs/jit.md); the vCPU
  // stops for the installing only
  console.log(`Linux boot (1 vCPU, to the prompt ${fmt(ms)} ms): ${st.jit.blocks} translations in ${st.jit.modules} modules, ` +
    `${fmt(compileMs)} ms translating and installing (${fmt(100 * compileMs / ms, 1)}% of the boot), ` +
    `the vCPU stopped for ${fmt(stalledMs)} ms of it (${fmt(100 * stalledMs / ms, 1)}%), ` +
    `${fmt(100 * Number(st.jit.instructions) / Number(st.instructions), 1)}% of instructions run translated`);
  return out;
}

export async function jitBench(ctx: JitBenchContext): Promise<unknown> {
  return { kernels: await kernels(ctx), linux: await linux(ctx) };
}
