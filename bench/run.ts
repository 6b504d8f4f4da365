/**
 * `npm run bench`: wkvm's performance figures, printed and recorded as JSON
 * and an SVG chart in bench/results/. Figures: guest MIPS on one vCPU,
 * aggregate MIPS at 1..64 vCPUs, the MMIO exit round trip (median, p99), the
 * host CPU used by 63 idle vCPUs next to a busy one, and, where QEMU is
 * installed, QEMU's wall time on the same guests with the ratio; the Linux
 * boot time; and the I/O section (bench/io.ts: virtio-blk and virtio-net
 * throughput and round trip, wkvm vs QEMU).
 *
 * Also the JIT section (bench/jit.ts): each kernel, Linux boots and a
 * user-space loop with the JIT tier off and on, vs QEMU, and the compile cost.
 *
 * And the snapshot section (bench/snapshot.ts): save and restore of a Linux
 * guest vs QEMU's migration to a file, and the gdb stub's and QMP's cost
 * when unused.
 *
 * Options: --quick (fewer iterations and vCPU counts); --only io|jit|snapshot
 * (just that section: its figures replace the section's in
 * bench/results/latest.json, the other sections' figures stay).
 */
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { VirtualMachine } from '../src/index.js';
import { ioBench } from './io.js';
import { jitBench } from './jit.js';
import { snapshotBench } from './snapshot.js';
import { medianOf, timeTo } from './timing.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const guest = (name: string): string => join(ROOT, 'guests', 'bench', name);
const QEMU = spawnSync('sh', ['-c', 'command -v qemu-system-riscv64'], { encoding: 'utf8' }).stdout.trim() || undefined;
const quick = process.argv.includes('--quick');
/** `--only io` / `--only=io`: run one section. */
const only = ((): 'io' | 'jit' | 'snapshot' | undefined => {
  const i = process.argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return undefined;
  const v = process.argv[i].startsWith('--only=') ? process.argv[i].slice(7) : process.argv[i + 1];
  if (v !== 'io' && v !== 'jit' && v !== 'snapshot') {
    console.error(`bench: --only ${v ?? ''}: the sections that run alone are 'io', 'jit' and 'snapshot'`);
    process.exit(2);
  }
  return v;
})();

/**
 * The VMMs the bench launches run without NODE_EXTRA_CA_CERTS: a host may
 * set it for its own tools (this development machine does), and Node then
 * parses that certificate file at every start, before any of wkvm runs
 * (50-70 ms here, more than Node's whole start without it), while wkvm makes
 * no TLS connection. The bench says so, with what it costs on this host.
 */
function withoutExtraCaCerts(): void {
  if (!process.env.NODE_EXTRA_CA_CERTS) return;
  const start = (env: NodeJS.ProcessEnv): number => {
    const t = [0, 1, 2].map(() => { const t0 = performance.now(); spawnSync(process.execPath, ['-e', '0'], { env }); return performance.now() - t0; });
    return t.sort((a, b) => a - b)[1]!;
  };
  const withIt = start(process.env);
  delete process.env.NODE_EXTRA_CA_CERTS;
  console.log(`(NODE_EXTRA_CA_CERTS is set: the VMMs launched run without it; 'node -e 0' takes ${withIt.toFixed(0)} ms with it, ` +
    `${start(process.env).toFixed(0)} ms without)`);
}
withoutExtraCaCerts();

interface GuestRun { wallMs: number; instructions: number; code: number; output: string; cpuMs: number; vm: VirtualMachine }

async function runGuest(elf: string, smp: number, append?: string): Promise<GuestRun> {
  const vm = await VirtualMachine.create({ bios: 'none', kernel: elf, smp, append, memory: '256M' });
  let output = '';
  vm.serial.on('data', (b: Buffer) => { output += b.toString(); });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  vm.start();
  const code = await vm.exited;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const instructions = vm.stats().reduce((s, v) => s + Number(v.instructions), 0);
  return { wallMs, instructions, code, output, cpuMs: (cpu.user + cpu.system) / 1000, vm };
}

function qemuTime(elf: string, smp: number, append?: string): number | undefined {
  if (!QEMU) return undefined;
  const args = ['-M', 'virt', '-bios', 'none', '-nographic', '-m', '256M', '-smp', String(smp), '-kernel', elf];
  if (append) args.push('-append', append);
  const t0 = performance.now();
  const r = spawnSync(QEMU, args, { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return undefined;
  return performance.now() - t0;
}

const fmt = (n: number, d = 1): string => n.toFixed(d);

const RESULTS = join(ROOT, 'bench', 'results');

const jitContext = () => ({ root: ROOT, linuxDir: LINUX_DIR, qemu: QEMU, quick, wkvm: join(ROOT, 'bin', 'wkvm.js') });

/** `--only io|jit`: one section alone, merged into the recorded results. */
async function onlySection(section: 'io' | 'jit' | 'snapshot'): Promise<void> {
  const file = join(RESULTS, 'latest.json');
  let results: Record<string, unknown> = {};
  try { results = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch { /* none yet */ }
  const figures = section === 'io' ? await ioBench({ root: ROOT, linuxDir: LINUX_DIR, qemu: QEMU })
    : section === 'jit' ? await jitBench(jitContext()) : await snapshotBench(jitContext());
  if (figures === null) return;
  results[section] = { date: new Date().toISOString(), node: process.version, qemuBinary: QEMU ?? null, ...(figures as object) };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`recorded bench/results/latest.json (${section})`);
}

async function main(): Promise<void> {
  if (only !== undefined) return onlySection(only);
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, qemu: QEMU ?? null };
  const benchElf = guest('bench.elf');
  if (!existsSync(benchElf)) throw new Error(`missing ${benchElf}: run 'make -C guests'`);
  const iters = quick ? 20 : 200;

  // 1. one vCPU: MIPS of the kernels (integer, and one in double precision), and QEMU's time on the same guest
  console.log('== guest MIPS, 1 vCPU (guests/bench/bench.elf)');
  const one = await runGuest(benchElf, 1, `iters=${iters}`);
  if (one.code !== 0) throw new Error(`bench.elf failed with status ${one.code}:\n${one.output}`);
  const mips1 = one.instructions / one.wallMs / 1000;
  const q1 = qemuTime(benchElf, 1, `iters=${iters}`);
  console.log(`wkvm: ${fmt(one.wallMs, 0)} ms, ${(one.instructions / 1e6).toFixed(1)} M instructions, ${fmt(mips1)} MIPS`);
  if (q1 !== undefined) console.log(`qemu: ${fmt(q1, 0)} ms (wkvm/qemu time ratio ${fmt(one.wallMs / q1, 2)}x)`);
  results.mips1 = { wallMs: one.wallMs, instructions: one.instructions, mips: mips1, qemuMs: q1 ?? null };

  // 2. SMP scaling, as a load test: every hart runs the kernels on its own data; throughput, the host CPU
  // the process used, and where the vCPU threads' time went (vm.stats(): running, halted, spinning)
  console.log('== load test: bench.elf by vCPU count (throughput, host CPU, vCPU time)');
  const scaling: LoadRow[] = [];
  for (const n of quick ? [1, 2, 4] : [1, 2, 4, 8, 16, 64]) {
    const r = await runGuest(benchElf, n, `iters=${Math.max(1, Math.floor(iters / 2))}`);
    if (r.code !== 0) throw new Error(`bench.elf -smp ${n} failed with status ${r.code}`);
    const q = n <= 8 ? qemuTime(benchElf, n, `iters=${Math.max(1, Math.floor(iters / 2))}`) : undefined;
    const mips = r.instructions / r.wallMs / 1000;
    const st = r.vm.stats();
    const sum = (f: (s: typeof st[number]) => number): number => st.reduce((a, s) => a + f(s), 0);
    const life = sum((s) => s.time.runningMs + s.time.haltedMs + s.time.spinningMs + s.time.pausedMs);
    // what the counters themselves cost: each is one add where the work is slow anyway (a walk, a decode, a trap, an exit)
    const counted = sum((s) => Number(s.tlbMisses + s.decodeMisses + s.interrupts + s.exits + s.exitsByReason.slice));
    const row: LoadRow = {
      vcpus: n, wallMs: r.wallMs, mips, qemuMs: q ?? null, hostCores: r.cpuMs / r.wallMs,
      haltedShare: sum((s) => s.time.haltedMs) / life, spinningShare: sum((s) => s.time.spinningMs) / life,
      countedPerMillion: (counted / r.instructions) * 1e6,
    };
    scaling.push(row);
    console.log(`${String(n).padStart(3)} vCPUs: ${fmt(mips).padStart(7)} MIPS aggregate (${fmt(mips / scaling[0].mips, 2)}x of 1), ${fmt(r.wallMs, 0)} ms` +
      `, host ${fmt(row.hostCores, 2)} cores, vCPU time halted ${fmt(row.haltedShare * 100)}% spinning ${fmt(row.spinningShare * 100)}%` +
      `, ${fmt(row.countedPerMillion)} counter updates per M instructions` + (q !== undefined ? `, qemu ${fmt(q, 0)} ms` : ''));
  }
  results.scaling = scaling;

  // 3. MMIO exit round trip, sampled by the guest with rdtime (100 ns ticks)
  console.log('== MMIO exit round trip (guests/bench/exitlat.elf)');
  const lat = await runGuest(guest('exitlat.elf'), 1);
  const count = Number(lat.vm.readPhysical(0x800ff000n, 8).readBigUInt64LE(0));
  const sampleBytes = lat.vm.readPhysical(0x80100000n, 4 * count);
  const samples = Array.from({ length: count }, (_, i) => sampleBytes.readUInt32LE(4 * i) / 10).sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)], p99 = samples[Math.floor(samples.length * 0.99)];
  console.log(`median ${fmt(median)} us, p99 ${fmt(p99)} us over ${count} exits`);
  results.exitRoundTrip = { samples: count, medianUs: median, p99Us: p99 };

  // 4. idle vCPUs: 63 sleeping in WFI next to one busy hart. The host CPU is
  // sampled over a window after start-up (worker start-up is not idling)
  console.log('== host CPU of idle vCPUs (guests/bench/idle.elf: hart 0 busy, the others in WFI)');
  // two rounds each, 4 s windows: the difference is small, so average out noise
  const busy1 = (await idleWindow(1) + await idleWindow(1)) / 2;
  const busy64 = (await idleWindow(64) + await idleWindow(64)) / 2;
  const idleCost = Math.max(0, busy64 - busy1);
  console.log(`1 vCPU: ${fmt(busy1 * 100)}% of a core; 64 vCPUs: ${fmt(busy64 * 100)}%; 63 idle vCPUs cost ${fmt(idleCost * 100, 2)}% of a core`);
  results.idle = { oneVcpuCores: busy1, sixtyFourVcpuCores: busy64, idleCorePercent: idleCost * 100 };

  // 5. Linux: start to shell prompt, and to poweroff of a guest that powers off at once
  results.linux = await linuxBoot();

  // 6. I/O: virtio-blk and virtio-net (through passt) on the Linux guest, vs QEMU
  results.io = await ioBench({ root: ROOT, linuxDir: LINUX_DIR, qemu: QEMU });

  // 7. the JIT tier off and on, vs QEMU
  results.jit = await jitBench(jitContext());

  // 8. snapshots (save, restore, vs QEMU's migration to a file), and the control plane's cost when unused
  results.snapshot = await snapshotBench(jitContext());

  const dir = RESULTS;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(dir, 'latest.svg'), loadChart(scaling));
  console.log(`recorded bench/results/latest.json and latest.svg (the load test)`);
}

/** Cores used by the whole process over a 4 s window, 2 s after start, running idle.elf on `smp` vCPUs. */
async function idleWindow(smp: number): Promise<number> {
  const vm = await VirtualMachine.create({ bios: 'none', kernel: guest('idle.elf'), smp, append: 'iters=100000000', memory: '256M' });
  vm.start();
  await new Promise((r) => setTimeout(r, 2000));
  const c0 = process.cpuUsage(), t0 = performance.now();
  await new Promise((r) => setTimeout(r, 4000));
  const c = process.cpuUsage(c0), wall = performance.now() - t0;
  await vm.stop();
  return (c.user + c.system) / 1000 / wall;
}

const LINUX_DIR = join(process.env.WKVM_CACHE ?? join(homedir(), '.cache', 'wkvm'), 'linux-current');

async function linuxBoot(): Promise<unknown> {
  const image = join(LINUX_DIR, 'Image'), initrd = join(LINUX_DIR, 'rootfs.cpio.gz');
  if (!existsSync(image) || !existsSync(initrd)) {
    console.log('== Linux boot: skipped (no guest image; build it with npm run guest:linux)');
    return null;
  }
  console.log('== Linux boot time: start to shell prompt / to poweroff (wkvm.poweroff), vs qemu-system-riscv64 -M virt');
  const rows: Record<string, number | null>[] = [];
  const wkvm = join(ROOT, 'bin', 'wkvm.js');
  for (const n of quick ? [1, 8] : [1, 2, 4, 8, 64]) {
    const mem = n > 8 ? '512M' : '256M';
    const common = ['-smp', String(n), '-m', mem, '-kernel', image, '-initrd', initrd];
    const runs = quick ? 1 : 3; // median of 3
    const wPrompt = await medianOf(runs, () => timeTo(process.execPath, [wkvm, 'run', ...common, '-append', 'console=ttyS0'], /# $/));
    const wOff = await medianOf(runs, () => timeTo(process.execPath, [wkvm, 'run', ...common, '-append', 'console=ttyS0 wkvm.poweroff'], null));
    let qPrompt: number | undefined, qOff: number | undefined;
    if (QEMU) {
      const q = ['-M', 'virt', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', ...common];
      qPrompt = await timeTo(QEMU, [...q, '-append', 'console=ttyS0'], /# $/);
      qOff = await timeTo(QEMU, [...q, '-append', 'console=ttyS0 wkvm.poweroff'], null);
    }
    const r = { vcpus: n, wkvmPromptMs: wPrompt ?? null, wkvmPoweroffMs: wOff ?? null, qemuPromptMs: qPrompt ?? null, qemuPoweroffMs: qOff ?? null };
    rows.push(r);
    const s = (v: number | undefined): string => (v === undefined ? '   n/a' : (v / 1000).toFixed(2).padStart(6) + ' s');
    const ratio = (a?: number, b?: number): string => (a && b ? (a / b).toFixed(2) + 'x' : 'n/a');
    console.log(`${String(n).padStart(3)} vCPUs: prompt wkvm ${s(wPrompt)} qemu ${s(qPrompt)} (${ratio(wPrompt, qPrompt)}); ` +
      `poweroff wkvm ${s(wOff)} qemu ${s(qOff)} (${ratio(wOff, qOff)})`);
  }
  const one = rows.find((r) => r.vcpus === 1), many = rows.find((r) => r.vcpus === 64);
  if (one && many) {
    const x = (a: number | null | undefined, b: number | null | undefined): string => (a && b ? (a / b).toFixed(2) + 'x' : 'n/a');
    console.log(`64 vs 1 vCPU (wkvm): prompt ${x(many.wkvmPromptMs, one.wkvmPromptMs)}, poweroff ${x(many.wkvmPoweroffMs, one.wkvmPoweroffMs)}` +
      ` (qemu: ${x(many.qemuPromptMs, one.qemuPromptMs)}, ${x(many.qemuPoweroffMs, one.qemuPoweroffMs)})`);
  }
  return rows;
}

interface LoadRow {
  vcpus: number; wallMs: number; mips: number; qemuMs: number | null;
  /** host CPU the whole process used, in cores */
  hostCores: number;
  /** shares of the vCPU threads' time */
  haltedShare: number; spinningShare: number;
  /** statistics counter updates per million guest instructions */
  countedPerMillion: number;
}

/** The load test as three bar charts by vCPU count: throughput, host CPU, halted share of vCPU time. */
function loadChart(rows: LoadRow[]): string {
  const w = 560, ph = 220, pad = 50;
  const panel = (top: number, title: string, value: (r: LoadRow) => number, label: (v: number) => string, color: string): string => {
    const bw = (w - 2 * pad) / rows.length;
    const max = Math.max(...rows.map(value), 1e-9) * 1.15;
    const base = top + ph - 30;
    const bars = rows.map((r, i) => {
      const bh = (value(r) / max) * (ph - 70);
      const x = pad + i * bw + 8, y = base - bh;
      return `<rect x="${x}" y="${y}" width="${bw - 16}" height="${bh}" fill="${color}"/>` +
        `<text x="${x + (bw - 16) / 2}" y="${y - 4}" font-size="11" text-anchor="middle">${label(value(r))}</text>` +
        `<text x="${x + (bw - 16) / 2}" y="${base + 14}" font-size="11" text-anchor="middle">${r.vcpus}</text>`;
    }).join('');
    return `<text x="${w / 2}" y="${top + 20}" text-anchor="middle" font-size="14">${title}</text>` +
      `<line x1="${pad}" y1="${base}" x2="${w - pad}" y2="${base}" stroke="#333"/>${bars}`;
  };
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${3 * ph + 20}" font-family="sans-serif">` +
    panel(0, 'wkvm load test (bench.elf): aggregate guest MIPS by vCPU count', (r) => r.mips, (v) => v.toFixed(0), '#4a7') +
    panel(ph, 'host CPU used (cores)', (r) => r.hostCores, (v) => v.toFixed(2), '#47a') +
    panel(2 * ph, 'share of vCPU thread time halted (WFI, stopped)', (r) => r.haltedShare * 100, (v) => `${v.toFixed(0)}%`, '#a74') +
    `<text x="${w / 2}" y="${3 * ph + 10}" text-anchor="middle" font-size="12">vCPUs</text></svg>\n`;
}

main().catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
});
