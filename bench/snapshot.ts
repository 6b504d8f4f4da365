/**
 * The snapshot section of `npm run bench` (`--only snapshot`): a 256 MB
 * Linux guest at its shell prompt, saved and restored, side by side with
 * QEMU (migrate to `exec:cat > FILE`, `-incoming exec:cat FILE`):
 *  - save time and snapshot size;
 *  - time from launching the restoring process to the guest's answer on the
 *    console (`echo $((6*7))` typed at once);
 *  - time for VirtualMachine.restore from a Buffer to a guest that answers,
 *    and how many VMs per second one process restores that way.
 * Also the cost of the control plane when unused: bench.elf's time with a
 * gdb stub and a QMP monitor listening, and without.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualMachine } from '../src/index.js';
import { medianOf, timeTo } from './timing.js';

export interface SnapshotBenchContext { root: string; linuxDir: string; qemu?: string; quick: boolean; wkvm: string }

const fmt = (n: number | undefined, d = 1): string => (n === undefined ? 'n/a' : n.toFixed(d));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Boot QEMU to the prompt, migrate to a file through QMP; the save's time and the file's size. */
async function qemuSave(qemu: string, common: string[], file: string, dir: string): Promise<{ ms: number; bytes: number } | undefined> {
  const sock = join(dir, 'qemu.qmp');
  const p = spawn(qemu, ['-M', 'virt', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-qmp', `unix:${sock},server=on,wait=off`, ...common],
    { stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out = (out + d.toString('latin1')).slice(-4096); });
    for (let i = 0; i < 1200 && !/# $/.test(out); i++) await sleep(50);
    if (!/# $/.test(out)) return undefined;
    await sleep(500);
    const c = createConnection(sock);
    let buf = '';
    c.on('data', (d) => { buf += d.toString(); });
    const send = (cmd: object) => c.write(JSON.stringify(cmd) + '\n');
    send({ execute: 'qmp_capabilities' });
    await sleep(200);
    const t0 = performance.now();
    send({ execute: 'migrate', arguments: { uri: `exec:cat > ${file}` } });
    for (let i = 0; i < 2000; i++) {
      send({ execute: 'query-migrate' });
      await sleep(10);
      if (buf.includes('"status": "completed"')) break;
      if (buf.includes('"status": "failed"')) return undefined;
    }
    const ms = performance.now() - t0;
    c.destroy();
    return { ms, bytes: statSync(file).size };
  } finally {
    p.kill('SIGKILL');
  }
}

/** Launch a VMM that resumes a guest at its shell prompt, type a line at once; ms until `answer` shows. */
function launchToAnswer(cmd: string, args: string[], answer: RegExp): Promise<number | undefined> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    let text = '';
    p.stdin.on('error', () => {});
    // typed again every 20 ms until answered: QEMU drops what arrives while it still loads the machine
    const type = setInterval(() => p.stdin.write('echo $((6*7))\n'), 20);
    p.stdin.write('echo $((6*7))\n');
    const end = (v: number | undefined): void => { clearInterval(type); clearTimeout(timer); p.kill('SIGKILL'); resolve(v); };
    const timer = setTimeout(() => end(undefined), 60_000);
    p.stdout.on('data', (d: Buffer) => {
      text = (text + d.toString('latin1')).slice(-4096);
      if (answer.test(text)) end(performance.now() - t0);
    });
    p.on('close', () => end(undefined));
  });
}

export async function snapshotBench(ctx: SnapshotBenchContext): Promise<unknown> {
  const image = join(ctx.linuxDir, 'Image'), initrd = join(ctx.linuxDir, 'rootfs.cpio.gz');
  const out: Record<string, unknown> = {};
  const dir = mkdtempSync(join(tmpdir(), 'wkvm-bench-snap-'));
  try {
    if (!existsSync(image) || !existsSync(initrd)) {
      console.log('== snapshots: skipped (no Linux guest; build it with npm run guest:linux)');
    } else {
      console.log('== snapshots: a 256 MB Linux guest at its shell prompt (wkvm vs QEMU)');
      const file = join(dir, 'linux.snap');
      const vm = await VirtualMachine.create({ kernel: image, initrd, append: 'console=ttyS0', memory: '256M' });
      vm.start();
      await vm.console.expect(/# $/, { timeout: 120_000 });
      await sleep(500);
      const saves: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 3; i++) { const r = await vm.save(file); saves.push(r.ms); bytes = r.bytes; vm.resume(); await sleep(100); }
      await vm.stop();
      saves.sort((a, b) => a - b);
      const save = { medianMs: saves[1]!, firstMs: saves[0]!, bytes };

      // from launching `wkvm run -incoming` to the answer on the console
      const answer = /\n42\r?\n/;
      const launch = await medianOf(ctx.quick ? 1 : 3, () => launchToAnswer(process.execPath, [ctx.wkvm, 'run', '-m', '256M', '-incoming', `file:${file}`], answer));

      // in this process, from a Buffer
      const snap = readFileSync(file);
      const n = ctx.quick ? 3 : 8;
      // n VMs restored one after another, each to its answer; with `recycle` each takes over the memory of the
      // one stopped before it (no page faults), and the first, into a new memory, is not among the samples
      const restores = async (recycle: boolean): Promise<{ medianMs: number; perSecond: number }> => {
        const samples: number[] = [];
        let prev: VirtualMachine | undefined;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          const v = await VirtualMachine.restore(snap, recycle && prev ? { recycle: prev } : {});
          v.console.sendLine('echo $((6*7))');
          await v.console.expect(answer, { timeout: 30_000 });
          if (!recycle || prev) samples.push(performance.now() - t);
          await v.stop();
          prev = v;
        }
        samples.sort((a, b) => a - b);
        return { medianMs: samples[samples.length >> 1]!, perSecond: n / ((performance.now() - t0) / 1000) };
      };
      const { medianMs: restoreMs, perSecond } = await restores(false);
      const { medianMs: recycledMs, perSecond: recycledPerSecond } = await restores(true);

      let qemu: Record<string, number | undefined> | null = null;
      if (ctx.qemu) {
        const qfile = join(dir, 'qemu.mig');
        const common = ['-m', '256M', '-kernel', image, '-initrd', initrd, '-append', 'console=ttyS0'];
        const qs = await qemuSave(ctx.qemu, common, qfile, dir);
        const qLaunch = qs ? await medianOf(ctx.quick ? 1 : 3, () => launchToAnswer(ctx.qemu!, ['-M', 'virt', '-display', 'none', '-serial', 'stdio',
          '-monitor', 'none', ...common, '-incoming', `exec:cat ${qfile}`], answer)) : undefined;
        qemu = { saveMs: qs?.ms, bytes: qs?.bytes, launchToAnswerMs: qLaunch };
      }
      console.log(`save: ${fmt(save.medianMs)} ms (median of 3; first ${fmt(save.firstMs)} ms), ${fmt(bytes / 1048576)} MiB` +
        (qemu ? `; qemu migrate to exec:cat ${fmt(qemu.saveMs)} ms, ${fmt((qemu.bytes ?? 0) / 1048576)} MiB` : ''));
      console.log(`launch -incoming to the answer: ${fmt(launch)} ms` + (qemu ? `; qemu ${fmt(qemu.launchToAnswerMs)} ms` : ''));
      console.log(`VirtualMachine.restore(Buffer) to the answer: ${fmt(restoreMs)} ms (median of ${n}); ${fmt(perSecond, 2)} VMs per second restored one after another`);
      console.log(`  with recycle (the memory of the VM stopped before): ${fmt(recycledMs)} ms (median of ${n - 1}); ${fmt(recycledPerSecond, 2)} VMs per second`);
      out.linux = { save, launchToAnswerMs: launch ?? null, restoreToAnswerMs: restoreMs, vmsPerSecond: perSecond,
        recycledRestoreToAnswerMs: recycledMs, recycledVmsPerSecond: recycledPerSecond, qemu };
    }

    // the control plane unused: a gdb stub and a QMP monitor listening cost the guest nothing
    const elf = join(ctx.root, 'guests', 'bench', 'bench.elf');
    const args = ['run', '-bios', 'none', '-m', '256M', '-kernel', elf, '-append', `iters=${ctx.quick ? 20 : 100}`];
    const runs = ctx.quick ? 1 : 3;
    const plain = await medianOf(runs, () => timeTo(process.execPath, [ctx.wkvm, ...args], null));
    const withStubs = await medianOf(runs, () => timeTo(process.execPath, [ctx.wkvm, ...args, '-gdb', 'tcp:127.0.0.1:41234',
      '-qmp', `unix:${join(dir, 'q.sock')},server=on,wait=off`], null));
    console.log(`bench.elf: ${fmt(plain, 0)} ms alone, ${fmt(withStubs, 0)} ms with a gdb stub and a QMP monitor listening (median of ${runs})`);
    out.controlPlaneUnused = { plainMs: plain ?? null, withStubsMs: withStubs ?? null };
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
