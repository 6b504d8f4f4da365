/**
 * Snapshots: save a running VM (vm.save, QMP migrate to file:), restore it
 * (VirtualMachine.restore, wkvm run -incoming file:) and check the guest
 * goes on as if nothing happened: a parallel job saved in the middle ends
 * with the same checksums as one that ran through, at 1 and 4 vCPUs; the
 * console mid-line; a Linux guest with a virtio disk being written, its
 * clock monotonic, saved again after the restore. Bad snapshots and
 * mismatched machines are one-line errors; the loader is fuzzed.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { createConnection } from 'node:net';
import { QmpServer, VirtualMachine, WkvmError, type VmOptions } from '../dist/src/index.js';
import { decodeSnapshot, fileInput, ramRunsAhead, readSnapshotHeader, readSnapshotSections } from '../dist/src/snapshot/format.js';
import { prefaultPages } from '../dist/src/workers/prefault.js';
import { LINUX_TOO_SLOW, ROOT, runWkvm, warnLinuxTooSlow, LINUX_GUEST as GUEST } from './helpers.js';

const BENCH_ELF = join(ROOT, 'guests', 'bench', 'bench.elf');
const CONSOLE_ELF = join(ROOT, 'guests', 'console', 'console.elf');
const dir = mkdtempSync(join(tmpdir(), 'wkvm-snap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The console guest (64M, and `opts`) started and at its prompt. */
async function consoleAtPrompt(opts: VmOptions = {}): Promise<VirtualMachine> {
  const vm = await VirtualMachine.create({ kernel: CONSOLE_ELF, memory: '64M', ...opts });
  vm.start();
  await vm.console.expect('> ');
  return vm;
}

/** bench.elf's checksum lines (deterministic; its timing lines are not). */
const checksums = (out: string) => out.split('\n').filter((l) => /^[a-z]+ [0-9a-f]{16}$/.test(l.trim())).map((l) => l.trim());

describe.each([1, 4])('a parallel job saved in the middle, at %i vCPUs', (smp) => {
  it('ends after the restore with the checksums of a run that was never interrupted', async () => {
    const opts = { bios: 'none' as const, kernel: BENCH_ELF, smp, memory: '64M', append: 'iters=100' };
    const ref = await VirtualMachine.create(opts);
    let refOut = '';
    ref.serial.on('data', (d: Buffer) => { refOut += d.toString(); });
    ref.start();
    expect(await ref.exited).toBe(0);
    expect(checksums(refOut)).toHaveLength(9);

    const vm = await VirtualMachine.create(opts);
    let out = '';
    vm.on('output', (d: Buffer) => { out += d.toString(); });
    vm.start();
    // in the middle: save once the harts have retired half the instructions the whole run takes
    const total = ref.stats().reduce((n, x) => n + x.instructions, 0n);
    const done = () => vm.stats().reduce((n, x) => n + x.instructions, 0n);
    for (let i = 0; i < 6000 && done() < total / 2n; i++) await sleep(5);
    const before = checksums(out);
    const file = join(dir, `bench-${smp}.snap`);
    const saved = await vm.save(file);
    const atSave = done();
    expect(atSave).toBeGreaterThanOrEqual(total / 2n);
    expect(atSave).toBeLessThan(total);
    expect(vm.runState).toBe('postmigrate');
    expect(saved.bytes).toBe(readFileSync(file).length);
    await vm.stop();

    const back = await VirtualMachine.restore(file);
    expect(back.runState).toBe('running');
    expect(back.harts).toBe(smp);
    let after = '';
    back.serial.on('data', (d: Buffer) => { after += d.toString(); });
    expect(await back.exited).toBe(0);
    const all = [...new Set([...before, ...checksums(after)])];
    expect(all).toEqual(checksums(refOut));
    expect(checksums(after).length).toBeGreaterThan(0); // the restored VM did the rest of the work
    const rest = back.stats().reduce((n, x) => n + x.instructions, 0n);
    expect(rest).toBeGreaterThan(0n);
  }, 120_000);
});

describe('the console guest', () => {
  it('a restore reads its boot files only when the guest reboots; one gone by then is a one-line error', async () => {
    const initrd = join(dir, 'initrd.bin');
    writeFileSync(initrd, Buffer.alloc(64 << 10, 7));
    const opts = { kernel: CONSOLE_ELF, initrd, memory: '64M' };
    const vm = await consoleAtPrompt(opts);
    const file = join(dir, 'console-files.snap');
    await vm.save(file);
    await vm.stop();

    // the files are there at the restore (checked), so a reset boots from them
    const back = await VirtualMachine.restore(file, opts);
    back.console.sendLine('count');
    await back.console.expect(/\n\d+\n/, { timeout: 10_000 });
    await back.reset();
    await back.console.expect('> ', { timeout: 10_000 });
    back.console.sendLine('poweroff');
    expect(await back.exited).toBe(0);

    // the initrd goes after the restore: the guest runs on, and a reset is an error that ends the VM
    const gone = await VirtualMachine.restore(file, opts);
    rmSync(initrd);
    gone.console.sendLine('count');
    await gone.console.expect(/\n\d+\n/, { timeout: 10_000 });
    void gone.reset();
    await expect(gone.exited).rejects.toThrow(/^cannot read initrd '.*initrd\.bin': no such file or directory$/);
    expect(gone.runState).toBe('internal-error');
    await expect(VirtualMachine.restore(file, opts)).rejects.toThrow(/^cannot read initrd '.*initrd\.bin': no such file or directory$/);
  }, 60_000);

  it('a line half typed before the save is finished after the restore; a paused VM restores paused; a restored VM saves again', async () => {
    const vm = await VirtualMachine.create({ kernel: CONSOLE_ELF, memory: '64M' });
    const con = vm.console;
    vm.start();
    await con.expect('> ');
    con.send('echo hel');
    await con.expect('echo hel');
    await vm.pause();
    const file = join(dir, 'console.snap');
    await vm.save(file);
    await vm.stop();

    const back = await VirtualMachine.restore(file);
    expect(back.runState).toBe('paused'); // it was paused when saved
    back.resume();
    back.console.sendLine('lo');
    await back.console.expect('\nhello\n', { timeout: 10_000 });
    const again = join(dir, 'console-2.snap');
    await back.save(again);
    await back.stop();

    const third = await VirtualMachine.restore(readFileSync(again), { paused: false });
    third.resume();
    third.console.sendLine('count');
    expect((await third.console.expect(/\n(\d+)\n/, { timeout: 10_000 }))[1]).toBe('2');
    third.console.sendLine('poweroff');
    expect(await third.exited).toBe(0);
  }, 60_000);

  it('saves taken while the guest loops on MMIO loads lose no load\'s answer (the run struct\'s exit fields are kept)', async () => {
    let vm = await consoleAtPrompt();
    vm.console.sendLine('mmio 150000');
    await vm.console.expect('mmio 150000\n');
    for (let round = 0; round < 6; round++) {
      await sleep(60);
      const file = join(dir, `mmio-${round}.snap`);
      await vm.save(file);
      await vm.stop();
      vm = await VirtualMachine.restore(file);
    }
    expect((await vm.console.expect(/mmio (ok|bad at \d+)\n/, { timeout: 60_000 }))[1]).toBe('ok');
    await vm.stop();
  }, 120_000);

  it('restore({ paused: true }) holds a running snapshot until resume()', async () => {
    const vm = await consoleAtPrompt();
    const file = join(dir, 'run.snap');
    await vm.save(file);
    await vm.stop();
    const back = await VirtualMachine.restore(file, { paused: true });
    expect(back.runState).toBe('paused');
    expect(back.stats()[0]!.instructions).toBe(0n);
    back.resume();
    back.console.sendLine('echo up');
    await back.console.expect('up\n');
    await back.stop();
  });
});

describe('many VMs from one snapshot in memory', () => {
  it('restores independent copies, each with its own RAM and vCPUs', async () => {
    const vm = await consoleAtPrompt();
    const file = join(dir, 'many.snap');
    await vm.save(file);
    await vm.stop();
    const snap = readFileSync(file);
    const copies = await Promise.all([1, 2, 3].map(() => VirtualMachine.restore(snap)));
    // copy k runs k lines: each counts only its own
    await Promise.all(copies.map(async (c, k) => {
      for (let i = 0; i <= k; i++) { c.console.sendLine(`echo copy${k}-${i}`); await c.console.expect(`copy${k}-${i}\n`); }
      c.console.sendLine('count');
      expect((await c.console.expect(/\n(\d+)\n/))[1]).toBe(String(k + 2));
    }));
    await Promise.all(copies.map((c) => c.stop()));
  }, 60_000);
});

describe('recycle: a restore into the memory of a stopped VM', () => {
  it('gets RAM that holds the snapshot and nothing of the stopped guest; the stopped VM can no longer be read', async () => {
    // a guest that wrote all over its RAM (every kernel's data, the stacks) and ended
    const dirty = await VirtualMachine.create({ bios: 'none', kernel: BENCH_ELF, memory: '64M', append: 'iters=2' });
    dirty.start();
    expect(await dirty.exited).toBe(0);
    const live = await consoleAtPrompt();
    await expect(VirtualMachine.create({ kernel: CONSOLE_ELF, memory: '64M', recycle: live }))
      .rejects.toThrow(/^recycle: the VM to take memory from has not stopped/);
    await expect(VirtualMachine.create({ kernel: CONSOLE_ELF, memory: '32M', recycle: dirty }))
      .rejects.toThrow(/^recycle: the VM to take memory from has 1 vCPUs and 64M, this one 1 and 32M$/);
    live.console.sendLine('echo before');
    await live.console.expect('before\n');
    const file = join(dir, 'recycle.snap');
    await live.save(file);
    const snap = readFileSync(file);
    await live.stop();
    const copy = await VirtualMachine.restore(snap, { recycle: dirty, paused: true });
    const fresh = await VirtualMachine.restore(snap, { paused: true });
    try {
      expect(() => dirty.stats()).toThrow(/^the VM's memory went to another VM \(recycle\)$/);
      expect(() => dirty.readPhysical(0x8000_0000n, 16)).toThrow(WkvmError);
      await expect(dirty.registers(0)).rejects.toThrow(/memory went to another VM/);
      await expect(VirtualMachine.restore(snap, { recycle: dirty })).rejects.toThrow(/^recycle: that VM's memory went to another VM already$/);
      // all of RAM as a restore into a new memory has it (bench.elf's data is gone)
      expect(copy.readPhysical(0x8000_0000n, 64 << 20).equals(fresh.readPhysical(0x8000_0000n, 64 << 20))).toBe(true);
      copy.resume();
      copy.console.sendLine('count');
      expect((await copy.console.expect(/\n(\d+)\n/))[1]).toBe('2');
    } finally {
      await Promise.all([copy.stop(), fresh.stop()]);
    }
    // and once more from the recycled one
    const again = await VirtualMachine.restore(snap, { recycle: copy });
    again.console.sendLine('echo again');
    await again.console.expect('again\n');
    await again.stop();
  }, 60_000);
});

describe('bad snapshots and mismatched machines: one-line errors', () => {
  let good: Buffer;
  beforeAll(async () => {
    const vm = await consoleAtPrompt({ smp: 2, rng: true });
    const file = join(dir, 'good.snap');
    await vm.save(file);
    await vm.stop();
    good = readFileSync(file);
  });

  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['more RAM', () => VirtualMachine.restore(good, { memory: '128M', rng: true }), /^snapshot: the machine has 128M of RAM, the snapshot 64M$/],
    ['other vCPU count', () => VirtualMachine.restore(good, { smp: 4, rng: true }), /^snapshot: the machine has 4 vCPUs, the snapshot 2$/],
    ['other devices', () => VirtualMachine.restore(good), /^snapshot: its devices are \[virtio-rng\], the machine's \[\]$/],
    ['not a snapshot', () => VirtualMachine.restore(Buffer.from('hello, world, this is not one')), /^snapshot: not a wkvm snapshot/],
    ['truncated', () => VirtualMachine.restore(good.subarray(0, good.length - 100)), /^snapshot: checksum mismatch/],
    ['a flipped bit', () => { const b = Buffer.from(good); b[b.length >> 1] ^= 1; return VirtualMachine.restore(b); }, /^snapshot: checksum mismatch/],
    ['another format version', () => { const b = Buffer.from(good); b.writeUInt32LE(99, 8); return VirtualMachine.restore(b); }, /^snapshot: format version 99, this wkvm reads version 1$/],
    ['a missing file', () => VirtualMachine.restore(join(dir, 'none.snap')), /^cannot read snapshot '.*none.snap': no such file/],
    // a file is read as the loader goes, its pages straight into the machine's RAM: the same checks, from disk
    ['a truncated file', () => VirtualMachine.restore(onDisk('cut.snap', good.subarray(0, good.length - 100)), { rng: true }), /^snapshot: (truncated section|a section runs past the end of the file)$/],
    ['a file with a flipped bit in its RAM', () => { const b = Buffer.from(good); b[b.length >> 1] ^= 1; return VirtualMachine.restore(onDisk('flip.snap', b), { rng: true }); }, /^snapshot: checksum mismatch/],
    ['a file that is not a snapshot', () => VirtualMachine.restore(onDisk('text.snap', Buffer.from('hello, world, this is not one'))), /^snapshot: not a wkvm snapshot/],
    ['a directory', () => VirtualMachine.restore(dir), /^cannot read snapshot '.*': (is a directory|illegal operation on a directory)/],
  ];
  for (const [name, run, re] of cases) {
    it(`${name}`, async () => {
      const e = await run().then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(WkvmError);
      expect((e as Error).message).toMatch(re);
    });
  }

  it('the loader takes any bytes: a valid result or a WkvmError, never another error, the same from memory and from a file (fast-check, checksum fixed up)', () => {
    const limits = { vcpuBytes: 0x920, machineBytes: 0x10000 - 0x200 };
    expect(() => decodeSnapshot(good, limits)).not.toThrow();
    const ram = new Uint8Array(64 << 20);
    const path = join(dir, 'fuzz.snap');
    /** The file loader's outcome for `b`, its RAM runs read into `ram`: the error's message, or the run list (undefined: more RAM than `ram`). */
    const fromFile = (b: Buffer): string | undefined => {
      writeFileSync(path, b);
      const fd = openSync(path, 'r');
      try {
        const input = fileInput(fd, path);
        const { header, sections } = readSnapshotHeader(input);
        if (BigInt(header.machine.ramSize) > BigInt(ram.length)) return undefined; // a restore would make a machine that large
        // the page-fault hint read from the section headers alone: it never throws, and names the loader's runs
        const ahead = ramRunsAhead(fd, sections, input.size, Number(BigInt(header.machine.ramSize) / 4096n));
        const snap = readSnapshotSections(input, header, sections, limits, ram);
        const runs = JSON.stringify(snap.ram.map((r) => [r.page, r.data.byteLength]));
        expect(JSON.stringify(ahead.map((r) => [r.page, r.count * 4096]))).toBe(runs);
        return runs;
      } catch (e) {
        if (!(e instanceof WkvmError)) throw e;
        return e.message;
      } finally {
        closeSync(fd);
      }
    };
    const runs = Number(process.env.WKVM_FUZZ_RUNS ?? 400);
    let cases = 0;
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.option(fc.nat()), (edits, cut) => {
      cases++;
      let b = Buffer.from(good.subarray(0, 4096 + (cut ?? good.length)));
      if (b.length > good.length) b = Buffer.from(good);
      // aim the edits at the header and section headers, where the structure is
      for (const [at, v] of edits) b[at % Math.min(b.length, 2048)] = v;
      // a valid checksum, so the structure checks are what is tested
      if (b.length >= 4) b.writeUInt32LE(crc(b.subarray(0, b.length - 4)), b.length - 4);
      let outcome: string;
      try {
        const snap = decodeSnapshot(b, limits);
        outcome = JSON.stringify(snap.ram.map((r) => [r.page, r.data.byteLength]));
      } catch (e) {
        if (!(e instanceof WkvmError)) throw e;
        expect(e.message).toMatch(/^snapshot: [^\n]+$/);
        outcome = e.message;
      }
      const file = fromFile(b);
      if (file !== undefined) expect(file).toBe(outcome);
    }), { numRuns: runs });
    console.log(`snapshot loader: ${cases} fast-check cases`);
  });
});

describe('a restore\'s page faults taken ahead (src/workers/prefault.ts)', () => {
  it('touches every page of the ranges once and changes no byte already copied', () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true }); // 256 KiB
    const bytes = new Uint8Array(memory.buffer as unknown as ArrayBuffer);
    const pattern = Buffer.from(Array.from({ length: bytes.length }, (_, i) => (i * 7 + 3) & 0xff));
    bytes.set(pattern.subarray(0, 0x9000)); // the "main thread" copied the first runs already
    // two runs: [0x1000, 0x9000) and [0x20000, 0x23001), the last one ending inside a page
    const pages = prefaultPages({ memory, ranges: [0x1000, 0x9000, 0x20000, 0x23001] });
    expect(pages).toBe(8 + 4);
    expect(Buffer.from(bytes.subarray(0, 0x9000)).equals(pattern.subarray(0, 0x9000))).toBe(true);
    expect(bytes.subarray(0x9000).every((b) => b === 0)).toBe(true);
    expect(prefaultPages({ memory, ranges: [0x3f000, 0x50000] })).toBe(1); // clamped to the memory
  });
});

/** `bytes` written to `name` in the test's folder: its path. */
function onDisk(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** zlib's CRC-32, as the format uses. */
const crc = (b: Uint8Array): number => crc32(b) >>> 0;

describe('wkvm run -incoming and QMP migrate', () => {
  it('-incoming file: resumes the guest; a machine that does not match is refused in one line', async () => {
    const vm = await consoleAtPrompt();
    vm.console.sendLine('echo saved');
    await vm.console.expect('saved\n');
    const file = join(dir, 'cli.snap');
    await vm.save(file);
    await vm.stop();
    const r = await runWkvm(['run', '-m', '64M', '-kernel', CONSOLE_ELF, '-incoming', `file:${file}`], { input: 'count\rpoweroff\r', timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/count\r?\n2\r?\n/);
    const bad = await runWkvm(['run', '-m', '128M', '-incoming', `file:${file}`], { timeoutMs: 30_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('wkvm: snapshot: the machine has 128M of RAM, the snapshot 64M');
    const scheme = await runWkvm(['run', '-incoming', 'tcp:0:4444'], { timeoutMs: 30_000 });
    expect(scheme.stderr.trim()).toBe("wkvm: -incoming: unsupported 'tcp:0:4444' (wkvm resumes from file:PATH)");
  }, 60_000);
});

describe('QMP migrate', () => {
  it('saves to file:, reports it in query-migrate, leaves the VM postmigrate until cont; other URIs are refused', async () => {
    const vm = await VirtualMachine.create({ kernel: CONSOLE_ELF, memory: '64M' });
    const sock = join(dir, 'mig.qmp');
    const server = await QmpServer.listen(vm, [{ transport: 'unix', path: sock }]);
    vm.start();
    await vm.console.expect('> ');
    const c = createConnection(sock);
    let buf = '';
    c.on('data', (d) => { buf += d.toString(); });
    const reply = async (cmd: object): Promise<Record<string, unknown>> => {
      const n = buf.split('\n').length;
      c.write(JSON.stringify(cmd) + '\n');
      for (let i = 0; i < 400; i++) {
        const lines = buf.split('\n').slice(n - 1).filter((l) => l.includes('"return"') || l.includes('"error"'));
        if (lines.length) return JSON.parse(lines[0]!) as Record<string, unknown>;
        await sleep(25);
      }
      throw new Error(`no reply to ${JSON.stringify(cmd)}: ${buf}`);
    };
    await reply({ execute: 'qmp_capabilities' });
    expect(await reply({ execute: 'query-migrate' })).toEqual({ return: {} });
    const file = join(dir, 'qmp.snap');
    expect(await reply({ execute: 'migrate', arguments: { uri: `file:${file}` } })).toEqual({ return: {} });
    expect((await reply({ execute: 'query-migrate' })).return).toMatchObject({ status: 'completed', ram: { transferred: readFileSync(file).length } });
    expect((await reply({ execute: 'query-status' })).return).toMatchObject({ status: 'postmigrate', running: false });
    expect(buf).toMatch(/"event":"STOP"/);
    expect((await reply({ execute: 'migrate', arguments: { uri: 'exec:cat > /dev/null' } })).error).toMatchObject({ class: 'GenericError' });
    expect((await reply({ execute: 'migrate', arguments: { uri: `file:${join(dir, 'no-such-dir', 'x.snap')}` } })).return).toEqual({});
    expect((await reply({ execute: 'query-migrate' })).return).toMatchObject({ status: 'failed', 'error-desc': expect.stringMatching(/^cannot write the snapshot: /) });
    await reply({ execute: 'cont' });
    expect(vm.runState).toBe('running');
    vm.console.sendLine('echo on');
    await vm.console.expect('on\n');
    c.destroy();
    await vm.stop();
    await server.close();
    const back = await VirtualMachine.restore(file);
    back.console.sendLine('echo restored');
    await back.console.expect('restored\n');
    await back.stop();
  }, 30_000);
});

const haveLinux = existsSync(join(GUEST, 'Image')) && existsSync(join(GUEST, 'rootfs.cpio.gz'));
if (!haveLinux) console.warn(`test/snapshot.test.ts: no Linux guest in ${GUEST}: skipping the Linux round trip (build it with npm run guest:linux)`);
warnLinuxTooSlow('test/snapshot.test.ts');

describe('Linux', () => {
  it.skipIf(!haveLinux || LINUX_TOO_SLOW)('saved right after start (its second vCPU thread not up yet), it boots on after the restore with both harts', async () => {
    const vm = await VirtualMachine.create({ kernel: join(GUEST, 'Image'), initrd: join(GUEST, 'rootfs.cpio.gz'), append: 'console=ttyS0', memory: '256M', smp: 2 });
    vm.start();
    const file = join(dir, 'early.snap');
    await vm.save(file); // waits for every vCPU thread to be up (and reset) before it stops them
    expect(vm.cpus().every((c) => c.threadId !== 0)).toBe(true);
    await vm.stop();
    const back = await VirtualMachine.restore(file);
    await back.console.expect(/# $/, { timeout: 90_000 });
    back.console.sendLine('nproc');
    expect((await back.console.expect(/\n(\d+)\r?\n/))[1]).toBe('2');
    await back.stop();
  }, 120_000);

  it.skipIf(!haveLinux || LINUX_TOO_SLOW)('a write to a virtio disk in flight at the save completes after the restore; the clock goes on; it saves again', async () => {
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(8 << 20));
    const opts = { kernel: join(GUEST, 'Image'), initrd: join(GUEST, 'rootfs.cpio.gz'), append: 'console=ttyS0', memory: '256M', smp: 2, drives: [{ file: disk }] };
    const vm = await VirtualMachine.create(opts);
    const con = vm.console;
    vm.start({ signal: AbortSignal.timeout(120_000) });
    await con.expect(/# $/, { timeout: 60_000 });
    con.sendLine('cat /proc/uptime');
    const up1 = Number((await con.expect(/\n(\d+\.\d+) /))[1]);
    // 3000 numbered lines to the disk, slowly enough that the save lands in the middle
    con.sendLine('(i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done | dd of=/dev/vda bs=4k conv=fsync 2>/dev/null; echo WR""OTE) &');
    await sleep(300);
    const file = join(dir, 'linux.snap');
    const saved = await vm.save(file);
    expect(saved.bytes).toBeLessThan(256 << 20);
    await vm.stop();

    const back = await VirtualMachine.restore(file, { drives: [{ file: disk }] });
    const c2 = back.console;
    await c2.expect('WROTE', { timeout: 60_000 });
    c2.sendLine('cat /proc/uptime');
    const up2 = Number((await c2.expect(/\n(\d+\.\d+) /))[1]);
    expect(up2).toBeGreaterThanOrEqual(up1);
    expect(up2 - up1).toBeLessThan(60); // no jump: the clock went on from where it was saved
    const again = await back.save(join(dir, 'linux-2.snap'));
    expect(again.bytes).toBeGreaterThan(0);
    back.resume();
    c2.sendLine('poweroff');
    expect(await back.exited).toBe(0);
    let text = '';
    for (let i = 0; i < 3000; i++) text += `line ${i}\n`;
    const image = readFileSync(disk);
    expect(createHash('sha256').update(image.subarray(0, text.length)).digest('hex')).toBe(createHash('sha256').update(text).digest('hex'));
  }, 180_000);
});
