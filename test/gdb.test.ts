/**
 * The gdb stub, driven by Debian's real gdb-multiarch (batch mode) against
 * `wkvm run -gdb tcp::PORT` processes, plus hostile raw clients and a
 * property test of the packet parser.
 */
import { describe, expect, it, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ROOT, WKVM, runCmd, runWkvm, which, LINUX_GUEST as LINUX } from './helpers.js';
import { PacketReader, encodePacket } from '../src/gdb/packet.js';

const GDB = which('gdb-multiarch');
const CONSOLE = join(ROOT, 'guests/console/console.elf');
const DEMO = join(ROOT, 'guests/demo/demo.elf');

/** A free TCP port (the kernel's pick, released for the VM to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

interface Vm { proc: ChildProcess; port: number; out: () => string; exit: Promise<number | null> }
const vms: Vm[] = [];
afterEach(() => { for (const v of vms.splice(0)) if (v.proc.exitCode === null) v.proc.kill('SIGKILL'); });

/** Start `wkvm run -gdb tcp::PORT ...args` and wait until its stub listens. */
async function startVm(args: string[]): Promise<Vm> {
  const port = await freePort();
  const proc = spawn(process.execPath, [WKVM, 'run', '-gdb', `tcp::${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const vm: Vm = { proc, port, out: () => out, exit };
  vms.push(vm);
  // wait for the listener without connecting (a connection is a debugger: it would stop the guest)
  for (let i = 0; i < 200; i++) {
    const r = await runCmd('ss', ['-Htln', `sport = :${port}`]);
    if (r.stdout.includes(`:${port}`)) return vm;
    if (proc.exitCode !== null) throw new Error(`wkvm ended: ${out}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`the gdb stub did not listen on ${port}: ${out}`);
}

/** gdb-multiarch in batch mode: the ELF's symbols, `target remote`, then the commands. */
function gdb(port: number, elf: string, cmds: string[], timeoutMs = 60_000): Promise<{ stdout: string; code: number | null }> {
  const args = ['-nx', '-batch', '-ex', 'set confirm off', '-ex', elf ? `file ${elf}` : 'set architecture riscv:rv64', '-ex', `target remote 127.0.0.1:${port}`];
  for (const c of cmds) args.push('-ex', c);
  return runCmd(GDB!, args, { timeoutMs }).then((r) => ({ stdout: r.stdout + r.stderr, code: r.code }));
}

/** The values gdb printed for `p` commands, in order ($1 = ..., $2 = ...). */
function values(out: string): string[] {
  return [...out.matchAll(/\$\d+ = (.*)$/gm)].map((m) => m[1]!);
}

async function waitFor(get: () => string, re: RegExp, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${get().slice(-300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A raw protocol client: what it receives, and a way to send. */
function rawClient(port: number): Promise<{ sock: Socket; got: () => string }> {
  return new Promise((resolve, reject) => {
    let got = '';
    const sock = connect(port, '127.0.0.1', () => resolve({ sock, got: () => got }));
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('error', reject);
  });
}

describe.skipIf(!GDB)('gdb stub with gdb-multiarch (bare-metal console guest)', () => {
  it('breaks on a symbol, reads and writes registers and memory, steps, and kills', async () => {
    const vm = await startVm(['-S', '-kernel', CONSOLE]);
    const r = await gdb(vm.port, CONSOLE, [
      'p/x $pc',
      'break *console_main', 'continue',
      'p/x $pc', 'p/x &console_main',
      'set $a5 = 0x1234abcd', 'p/x $a5',
      'set {long}&spin_counter = 42', 'p {long}&spin_counter',
      'x/2xw 0x10',
      'p $priv', 'p/x $satp',
      'stepi', 'p/x $pc',
      'kill',
    ]);
    const v = values(r.stdout);
    if (v.length !== 8) console.log(r.stdout);
    expect(v[0]).toBe('0x80200000'); // -S: the first instruction, not run yet
    expect(r.stdout).toMatch(/Breakpoint 1, 0x0*8020[0-9a-f]+ in console_main/);
    expect(v[1]).toBe(v[2]); // stopped exactly at the symbol
    expect(v[3]).toBe('0x1234abcd');
    expect(v[4]).toBe('42');
    expect(r.stdout).toContain('Cannot access memory at address 0x10'); // unmapped: an E reply, no crash
    expect(v[5]).toBe('1'); // S-mode under the built-in SBI
    expect(v[6]).toBe('0x0');
    const stepped = BigInt(v[7]!) - BigInt(v[1]!);
    expect([2n, 4n]).toContain(stepped); // one instruction
    expect(r.stdout).toContain('killed');
    expect(await vm.exit).toBe(0);
  });

  it('watches spin_counter, is interrupted by Ctrl-C, detaches, and serves the next client', async () => {
    const vm = await startVm(['-kernel', CONSOLE]);
    await waitFor(vm.out, /> $/);
    vm.proc.stdin!.write('spin\n');
    await waitFor(vm.out, /spin\n/);
    const r = await gdb(vm.port, CONSOLE, [
      'p {long}&spin_counter',
      'watch *(long*)&spin_counter',
      'continue',
      'p {long}&spin_counter',
      'delete',
      'detach',
    ]);
    const v = values(r.stdout).map(Number);
    expect(v[0]).toBeGreaterThan(0); // it was counting before gdb stopped it
    const m = /Old value = (\d+)\s+New value = (\d+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]) + 1);
    expect(Number(m![1])).toBe(v[0]);
    expect(v[1]).toBe(Number(m![2]));
    expect(r.stdout).toContain('detached');

    // detached: the guest counts on; a second debugger attaches, and Ctrl-C (SIGINT to gdb -> 0x03) stops it
    const args = ['-nx', '-batch', '-ex', `file ${CONSOLE}`, '-ex', `target remote 127.0.0.1:${vm.port}`,
      '-ex', 'p {long}&spin_counter', '-ex', 'continue', '-ex', 'p {long}&spin_counter', '-ex', 'detach'];
    const g = spawn(GDB!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    g.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    g.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const done = new Promise((res) => g.on('exit', res));
    await waitFor(() => out, /\$1 = \d+/);
    await new Promise((res) => setTimeout(res, 1000));
    g.kill('SIGINT');
    await done;
    expect(out).toContain('Program received signal SIGINT');
    const w = values(out).map(Number);
    expect(w[0]).toBeGreaterThan(v[1]!); // ran on after the detach
    expect(w[1]).toBeGreaterThan(w[0]!); // and while continued
    vm.proc.stdin!.write('x'); // ends the spin
    await waitFor(vm.out, /spun/);
    vm.proc.kill('SIGTERM');
    await vm.exit;
  });
});

describe.skipIf(!GDB)('gdb stub with gdb-multiarch (demo guest, -smp 2)', () => {
  it('lists the harts as threads and continues to the guest\'s end', async () => {
    const vm = await startVm(['-S', '-bios', 'none', '-smp', '2', '-kernel', DEMO]);
    const r = await gdb(vm.port, DEMO, [
      'info threads',
      'break *poweroff', 'continue',
      'p/x $pc', 'p/x &poweroff',
      'thread 2', 'p $_thread',
      'delete', 'continue',
    ]);
    expect(r.stdout).toMatch(/1\s+Thread 1 \(hart 0\)/);
    expect(r.stdout).toMatch(/2\s+Thread 2 \(hart 1\)/);
    expect(r.stdout).toMatch(/hit Breakpoint 1, 0x0*800[0-9a-f]+ in poweroff/);
    const v = values(r.stdout);
    expect(v[0]).toBe(v[1]);
    expect(v[2]).toBe('2');
    expect(r.stdout).toContain('exited normally'); // the W packet
    expect(await vm.exit).toBe(0);
    expect(vm.out()).toContain('demo: PASS');
  });
});

describe('gdb stub: hostile clients and user errors', () => {
  it('answers bad checksums and oversized packets with -, survives a disconnect mid-packet, and serves the next client', async () => {
    const vm = await startVm(['-S', '-kernel', CONSOLE]);
    const a = await rawClient(vm.port);
    a.sock.write('garbage\x00\xff$qSupported#00');          // wrong checksum
    a.sock.write('$' + 'A'.repeat(100_000) + '#00');           // longer than PacketSize
    a.sock.write('$m80200000,zz#' + sum('m80200000,zz'));       // malformed arguments
    a.sock.write('$m0,ffffffff#' + sum('m0,ffffffff'));          // unmapped, huge length
    a.sock.write(encodePacket('g'));
    await waitFor(a.got, /\$[0-9a-f]{528}#/); // the g reply: 33 registers
    expect(a.got().match(/-/g)?.length).toBeGreaterThanOrEqual(2);
    expect(a.got()).toContain('$E01#');
    expect(a.got()).toContain('$E14#');
    a.sock.write('$m8020');                                     // ... and gone mid-packet
    a.sock.destroy();
    // a second client while none is attached any more is served
    const b = await rawClient(vm.port);
    b.sock.write(encodePacket('qfThreadInfo'));
    await waitFor(b.got, /\$m1#/);
    b.sock.write(encodePacket('p20'));
    await waitFor(b.got, /\$0000208000000000#/); // pc = 0x80200000, little-endian
    b.sock.destroy();
    expect(vm.proc.exitCode).toBeNull();
    vm.proc.kill('SIGTERM');
    await vm.exit;
  });

  it('reports a port in use and a bad -gdb spec in one line, with a non-zero status', async () => {
    const vm = await startVm(['-S', '-kernel', CONSOLE]);
    const busy = await runWkvm(['run', '-gdb', `tcp::${vm.port}`, '-kernel', CONSOLE], { timeoutMs: 20_000 });
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/^wkvm: -gdb: port :\d+ is already in use\n$/);
    const bad = await runWkvm(['run', '-gdb', 'udp::1', '-kernel', CONSOLE], { timeoutMs: 20_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toBe('wkvm: -gdb udp::1: expected tcp::PORT or tcp:HOST:PORT\n');
    vm.proc.kill('SIGTERM');
    await vm.exit;
  });
});

function sum(s: string): string {
  let n = 0;
  for (const c of Buffer.from(s, 'latin1')) n = (n + c) & 0xff;
  return n.toString(16).padStart(2, '0');
}

describe('gdb packet parser (property test)', () => {
  it('never throws, never holds more than its limit, and reads back every packet it frames', () => {
    let cases = 0;
    const max = 256;
    fc.assert(fc.property(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 300 }).map((p) => encodePacket(p))), { maxLength: 8 }),
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      fc.integer({ min: 1, max: 17 }),
      (noise, payload, split) => {
        cases++;
        const r = new PacketReader(max);
        // arbitrary bytes (noise and valid packets mixed): every frame is well formed and bounded
        for (const chunk of noise) {
          for (const f of r.push(chunk)) if (f.kind === 'packet') expect(f.data.length).toBeLessThanOrEqual(max);
        }
        // then a clean packet after a resynchronising '#xx' tail reads back exactly, however it is split
        const fresh = new PacketReader(max);
        const wire = encodePacket(payload);
        const frames = [];
        for (let i = 0; i < wire.length; i += split) frames.push(...fresh.push(wire.subarray(i, i + split)));
        expect(frames).toHaveLength(1);
        expect(frames[0]!.kind).toBe('packet');
        expect([...(frames[0] as { data: Buffer }).data]).toEqual([...payload]);
      },
    ), { numRuns: 2000 });
    console.log(`gdb packet parser: ${cases} fast-check cases`);
    expect(cases).toBeGreaterThanOrEqual(2000);
  });
});

describe.skipIf(!GDB || !existsSync(join(LINUX, 'Image')))('gdb stub on the Linux guest', () => {
  it('stops the kernel and reads init_task.comm by address', async () => {
    const map = readFileSync(join(LINUX, 'System.map'), 'latin1');
    const initTask = /^([0-9a-f]+) [Dd] init_task$/m.exec(map)?.[1];
    if (!initTask) throw new Error('System.map has no init_task');
    const vm = await startVm(['-m', '256M', '-kernel', join(LINUX, 'Image'), '-initrd', join(LINUX, 'rootfs.cpio.gz'), '-append', 'console=ttyS0']);
    await waitFor(vm.out, /Run \/init|Freeing unused kernel/, 120_000);
    // task_struct.comm: look for "swapper" in the first 4 KiB of init_task (its offset depends on the config)
    const r = await gdb(vm.port, '', [`p $priv`, `x/4096xb 0x${initTask}`, 'detach'], 120_000);
    const bytes = [...r.stdout.matchAll(/0x([0-9a-f]{2})\b/g)].map((m) => parseInt(m[1]!, 16));
    expect(Buffer.from(bytes).toString('latin1')).toContain('swapper');
    vm.proc.kill('SIGTERM');
    await vm.exit;
  }, 240_000);
});
