/**
 * Statistics for load tests: per vCPU (instructions, exits by reason,
 * interrupts, TLB and decode-cache misses, time running / halted /
 * spinning / paused), per device (virtio-blk requests and bytes), from
 * vm.stats(), vm.deviceStats(), QMP's query-stats and `wkvm run --stats`.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { VirtualMachine, EXIT_REASONS } from '../dist/src/index.js';
import { LINUX_TOO_SLOW, ROOT, WKVM, runWkvm, warnLinuxTooSlow, LINUX_GUEST as GUEST } from './helpers.js';

const CONSOLE_ELF = join(ROOT, 'guests', 'console', 'console.elf');
const IRQ_ELF = join(ROOT, 'guests', 'isa', 'irq_mtimer.elf');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const life = (t: { runningMs: number; haltedMs: number; spinningMs: number; pausedMs: number }) => t.runningMs + t.haltedMs + t.spinningMs + t.pausedMs;

describe('vm.stats()', () => {
  it('counts interrupts, TLB and decode misses and exits by reason (a timer-interrupt test guest)', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: IRQ_ELF, memory: '64M' });
    vm.start();
    expect(await vm.exited).toBe(0);
    const [s] = vm.stats();
    expect(s!.interrupts).toBeGreaterThan(0n);
    expect(s!.tlbMisses).toBeGreaterThan(0n);
    expect(s!.decodeMisses).toBeGreaterThan(10n);
    expect(Object.keys(s!.exitsByReason)).toEqual([...EXIT_REASONS]);
    expect(s!.exitsByReason.shutdown).toBe(1n);
    // every exit to the host is one of the reasons; slices are counted apart
    const byReason = Object.entries(s!.exitsByReason).filter(([r]) => r !== 'slice').reduce((a, [, v]) => a + v, 0n);
    expect(byReason).toBe(s!.exits);
    expect(s!.time.runningMs).toBeGreaterThan(0);
  });

  it('splits each vCPU thread\'s time: stopped harts are halted, a paused VM is paused', async () => {
    const vm = await VirtualMachine.create({ kernel: CONSOLE_ELF, smp: 3, memory: '64M' });
    const con = vm.console;
    vm.start();
    await con.expect('> ');
    con.sendLine('spin');
    await sleep(600);
    // the other harts' threads come up while the boot hart runs (new pool threads, ~100 ms each here and
    // more under load: a pool kept from a 1-vCPU VM has one warm thread): judge each after 300 ms of life
    let a = vm.stats();
    for (const until = Date.now() + 10_000; a.slice(1).some((s) => life(s.time) < 300) && Date.now() < until; a = vm.stats()) await sleep(100);
    for (const h of [1, 2]) { // never started (SBI HSM): asleep the whole time
      const t = a[h]!.time;
      expect(t.haltedMs / life(t)).toBeGreaterThan(0.7);
      expect(a[h]!.instructions).toBe(0n);
    }
    expect(a[0]!.time.runningMs / life(a[0]!.time)).toBeGreaterThan(0.7); // the spinning hart
    await vm.pause();
    await sleep(400);
    const b = vm.stats();
    for (const s of b) expect(s.time.pausedMs).toBeGreaterThan(300);
    vm.resume();
    await vm.stop();
    const c = vm.stats();
    await sleep(100);
    expect(vm.stats()[0]!.time).toEqual(c[0]!.time); // a stopped VM's clocks stand still
  });
});

const haveLinux = existsSync(join(GUEST, 'Image')) && existsSync(join(GUEST, 'rootfs.cpio.gz'));
if (!haveLinux) console.warn(`test/stats.test.ts: no Linux guest in ${GUEST}: skipping the disk statistics (build it with npm run guest:linux)`);
warnLinuxTooSlow('test/stats.test.ts');

describe('vm.deviceStats()', () => {
  it.skipIf(!haveLinux || LINUX_TOO_SLOW)('counts a Linux guest\'s virtio-blk reads, writes and flushes with their bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-stats-'));
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(4 << 20));
    try {
      const vm = await VirtualMachine.create({
        kernel: join(GUEST, 'Image'), initrd: join(GUEST, 'rootfs.cpio.gz'), append: 'console=ttyS0', memory: '256M',
        drives: [{ file: disk, id: 'data' }],
      });
      const con = vm.console;
      vm.start({ signal: AbortSignal.timeout(120_000) });
      await con.expect(/# $/, { timeout: 60_000 });
      const before = vm.deviceStats().blocks[0]!;
      con.sendLine('dd if=/dev/vda of=/dev/null bs=64k count=32 iflag=direct 2>/dev/null; dd if=/dev/zero of=/dev/vda bs=64k count=8 oflag=direct conv=fsync 2>/dev/null; echo done-$((6*7))');
      await con.expect('done-42', { timeout: 60_000 });
      const s = vm.deviceStats().blocks[0]!;
      expect(s.id).toBe('data');
      expect(s.readBytes - before.readBytes).toBeGreaterThanOrEqual(2 << 20);
      expect(s.reads).toBeGreaterThan(before.reads);
      expect(s.writeBytes - before.writeBytes).toBeGreaterThanOrEqual(512 << 10);
      expect(s.writes).toBeGreaterThan(before.writes);
      expect(s.flushes).toBeGreaterThan(0);
      expect(s.errors).toBe(0);
      con.sendLine('poweroff');
      expect(await vm.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('wkvm run --stats', () => {
  it('writes a JSON line per interval and a last one at exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-stats-'));
    const file = join(dir, 'stats.jsonl');
    try {
      const p = spawn(process.execPath, [WKVM, 'run', '-smp', '2', '-kernel', CONSOLE_ELF, '--stats', `${file},interval=100`], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      for (let i = 0; i < 100 && !out.includes('> '); i++) await sleep(50);
      // hart 1's thread may come up late on a loaded host (no life yet, all times 0): wait until the
      // interval lines show it 300 ms old, as the in-process test above does
      const hart1Life = (): number => {
        const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
        const line = text === '' ? undefined : text.split('\n').at(-1);
        try {
          const v = line === undefined ? undefined : (JSON.parse(line) as { vcpus: { time: Parameters<typeof life>[0] }[] }).vcpus[1];
          return v === undefined ? 0 : life(v.time);
        } catch {
          return 0; // a line being written
        }
      };
      for (const until = Date.now() + 15_000; hart1Life() < 300 && Date.now() < until;) await sleep(100);
      await sleep(200);
      p.stdin.write('poweroff\r');
      const code = await new Promise((r) => p.once('exit', r));
      expect(code).toBe(0);
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.length).toBeGreaterThanOrEqual(4);
      const last = lines.at(-1)!;
      expect(last.runState).toBe('shutdown');
      const vcpus = last.vcpus as { hart: number; instructions: number; time: { runningMs: number; haltedMs: number; spinningMs: number; pausedMs: number }; exitsByReason: Record<string, number> }[];
      expect(vcpus.map((v) => v.hart)).toEqual([0, 1]);
      expect(vcpus[0]!.instructions).toBeGreaterThan(1000);
      expect(vcpus[0]!.exitsByReason.shutdown).toBe(1);
      expect(vcpus[1]!.time.haltedMs / life(vcpus[1]!.time)).toBeGreaterThan(0.7); // never started: asleep
      // the counters only grow
      const insns = lines.map((l) => (l.vcpus as { instructions: number }[])[0]!.instructions);
      for (let i = 1; i < insns.length; i++) expect(insns[i]).toBeGreaterThanOrEqual(insns[i - 1]!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  for (const [arg, re] of [
    ['/nonexistent-dir/s.jsonl', /^wkvm: --stats: cannot write '\/nonexistent-dir\/s.jsonl': /],
    ['s.jsonl,interval=5', /^wkvm: --stats: interval=5: must be a whole number of milliseconds/],
    ['s.jsonl,every=5', /^wkvm: --stats: property 'every' is not supported/],
    [',interval=100', /^wkvm: --stats: needs a file name/],
  ] as const) {
    it(`rejects --stats ${arg} with one line`, async () => {
      const r = await runWkvm(['run', '-kernel', CONSOLE_ELF, '--stats', arg], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});
