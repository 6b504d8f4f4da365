/**
 * Linux guest tests: boot the kernel + busybox initramfs built by
 * `npm run guest:linux` (scripts/build-linux.sh) through the CLI and the API,
 * drive the shell on the serial console, SMP, OpenSBI firmware, a kernel
 * panic, and bad input. Skipped (with a warning) when the image is not built.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { WKVM, runWkvm, LINUX_GUEST as GUEST } from './helpers.js';
import { Console, PROMPT } from './guest-console.js';

const KERNEL = join(GUEST, 'Image');
const INITRD = join(GUEST, 'rootfs.cpio.gz');
const haveImage = existsSync(KERNEL) && existsSync(INITRD);
const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const haveOpensbi = existsSync(OPENSBI);

if (!haveImage) {
  console.warn(`test/linux.test.ts: the Linux guest image is not built (no ${KERNEL} or ${INITRD}): ` +
    'skipping the Linux tests. Build it with `npm run guest:linux`.');
}
if (haveImage && !haveOpensbi) {
  console.warn(`test/linux.test.ts: ${OPENSBI} is missing (Debian package 'opensbi'): skipping the OpenSBI boot test.`);
}

const T = 120_000;      // per test
const BOOT_MS = 60_000; // one boot with wkvm.poweroff takes 1-3 s; kill a hung run well before T

/** The end of a run's output, to explain a failed expectation. */
const tail = (r: { code: number | null; signal: string | null; stdout: string; stderr: string }): string =>
  `exit ${r.code} signal ${r.signal}; stderr: ${r.stderr.trim() || '(empty)'}; console tail:\n${r.stdout.slice(-1200)}`;

function linuxArgs(smp: number, append: string, extra: string[] = []): string[] {
  return ['run', '-smp', String(smp), '-m', '256M', '-kernel', KERNEL, '-initrd', INITRD, '-append', append, ...extra];
}

/** The shell session both the CLI and the API test run. */
async function shellSession(con: Console, smp: number): Promise<void> {
  await con.waitFor(PROMPT, 90_000);
  expect(con.out).toContain('Linux version');
  expect((await con.run('grep -c processor /proc/cpuinfo')).trim()).toBe(String(smp));
  expect((await con.run('cat /sys/devices/system/cpu/online')).trim()).toBe(smp === 1 ? '0' : `0-${smp - 1}`);
  expect((await con.run('echo $((6*7))')).trim()).toBe('42');
  // the vDSO's clock_gettime reads the time CSR in U-mode (scounteren.TM, which OpenSBI sets)
  const timed = await con.run('time true');
  expect(timed).toMatch(/^real\s+\d+m [\d.]+s$/m);
  expect(timed).not.toContain('Illegal instruction');
  const jobs = Array.from({ length: smp }, (_, k) => k + 1).join(' ');
  const par = await con.run(`for i in ${jobs}; do (i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo done$i) & done; wait`, 90_000);
  expect(par.match(/^done3000$/gm)).toHaveLength(smp);
}

describe.skipIf(!haveImage)('Linux guest', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  let tmp: string | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  it('boots to userspace and powers off (-smp 1, wkvm.poweroff)', async () => {
    const r = await runWkvm(linuxArgs(1, 'console=ttyS0 wkvm.poweroff'), { timeoutMs: BOOT_MS });
    expect(r.stdout).toContain('Linux version');
    expect(r.stdout, tail(r)).toContain('wkvm: init reached');
    expect(r.stdout, tail(r)).toContain('reboot: Power down');
    expect(r.stderr).toBe('');
    expect(r.code, tail(r)).toBe(0);
  }, T);

  it('runs an interactive shell on the serial console (CLI, -smp 4)', async () => {
    const p = spawn(process.execPath, [WKVM, ...linuxArgs(4, 'console=ttyS0')], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = p;
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const closed = new Promise<number | null>((res) => p.on('close', (code) => res(code)));
    const con = new Console(p.stdout, p.stdin, 'wkvm -smp 4');
    await shellSession(con, 4);
    con.send('poweroff');
    const code = await Promise.race([closed, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 30_000))]);
    expect(con.out).toContain('reboot: Power down');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, T);

  it('runs an interactive shell through the API (VirtualMachine, smp 2)', async () => {
    const { VirtualMachine } = await import('../dist/src/index.js');
    const vm = await VirtualMachine.create({ smp: 2, memory: '256M', kernel: KERNEL, initrd: INITRD, append: 'console=ttyS0' });
    expect(vm.serial).toBeInstanceOf(Readable);
    expect(vm.serial).toBeInstanceOf(Writable); // a Duplex
    const con = new Console(vm.serial, vm.serial, 'VirtualMachine smp 2');
    vm.start();
    try {
      await shellSession(con, 2);
      con.send('poweroff');
      const code = await Promise.race([vm.exited, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 30_000))]);
      expect(con.out).toContain('reboot: Power down');
      expect(code).toBe(0);
    } finally {
      await vm.stop().catch(() => {});
    }
  }, T);

  it('brings up 8 harts (-smp 8)', async () => {
    const r = await runWkvm(linuxArgs(8, 'console=ttyS0 wkvm.poweroff'), { timeoutMs: BOOT_MS });
    expect(r.stdout, tail(r)).toContain('Brought up 1 node, 8 CPUs');
    expect(r.stdout, tail(r)).toMatch(/wkvm: Linux \S+ riscv64, 8 cpu\(s\)/);
    expect(r.stdout, tail(r)).toContain('wkvm: init reached');
    expect(r.code, tail(r)).toBe(0);
  }, T);

  // The boot hart's thread starts first and the rest while it boots, so a
  // hart_start can reach a hart whose thread is not up yet.
  it('brings up 64 harts (-smp 64)', async () => {
    const r = await runWkvm(linuxArgs(64, 'console=ttyS0 wkvm.poweroff'), { timeoutMs: BOOT_MS });
    expect(r.stdout, tail(r)).toContain('Brought up 1 node, 64 CPUs');
    expect(r.stdout, tail(r)).not.toMatch(/failed to (start|come online)/);
    expect(r.stdout, tail(r)).toMatch(/wkvm: Linux \S+ riscv64, 64 cpu\(s\)/);
    expect(r.code, tail(r)).toBe(0);
  }, T);

  // 64 harts under OpenSBI: its secondary harts wait in loops that WFI cannot
  // put to sleep (an IPI stays pending); spin-loop exits give their cores away.
  // A 15-20 s load test that starves the test files running beside it (one CI
  // run saw it and a 1-vCPU test time out together), so it runs on request.
  it.skipIf(!haveOpensbi || !process.env.WKVM_SLOW_TESTS)('boots 64 harts through OpenSBI (-bios fw_jump.bin, -smp 64; set WKVM_SLOW_TESTS=1)', async () => {
    const r = await runWkvm(linuxArgs(64, 'console=ttyS0 wkvm.poweroff', ['-bios', OPENSBI]), { timeoutMs: BOOT_MS });
    expect(r.stdout, tail(r)).toContain('Brought up 1 node, 64 CPUs');
    expect(r.stdout, tail(r)).toContain('reboot: Power down');
    expect(r.code, tail(r)).toBe(0);
  }, T);

  // Two harts, so OpenSBI relays IPIs: it sets mip.SSIP with csrrs, which is
  // where a PLIC line that is up at that moment must not leak into mip.SEIP.
  it.skipIf(!haveOpensbi)('boots through OpenSBI firmware (-bios fw_jump.bin, -smp 2)', async () => {
    const r = await runWkvm(linuxArgs(2, 'console=ttyS0 wkvm.poweroff', ['-bios', OPENSBI]), { timeoutMs: BOOT_MS });
    expect(r.stdout, tail(r)).toContain('OpenSBI v');
    expect(r.stdout, tail(r)).toContain('Linux version');
    expect(r.stdout, tail(r)).toContain('Brought up 1 node, 2 CPUs');
    expect(r.stdout, tail(r)).toContain('wkvm: init reached');
    expect(r.stdout, tail(r)).toContain('reboot: Power down');
    expect(r.code, tail(r)).toBe(0);
  }, T);

  it('a kernel panic ends the run with a failure status (-no-reboot)', async () => {
    const r = await runWkvm(linuxArgs(1, 'console=ttyS0 panic=1 rdinit=/nonexistent', ['-no-reboot']), { timeoutMs: 60_000 });
    expect(r.signal, tail(r)).toBeNull(); // ended by itself, not killed by the timeout
    expect(r.stdout, tail(r)).toContain('Kernel panic');
    expect(r.code, tail(r)).not.toBe(0);
  }, T);

  describe('bad input gives a one-line error', () => {
    const oneLine = (stderr: string): void => {
      expect(stderr).toMatch(/^wkvm: [^\n]+\n$/);
    };

    it('a kernel that is not a kernel', async () => {
      const r = await runWkvm(['run', '-m', '256M', '-kernel', INITRD, '-append', 'console=ttyS0'], { timeoutMs: 30_000 });
      oneLine(r.stderr);
      expect(r.stdout).toBe('');
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
    }, T);

    it('an initrd bigger than RAM', async () => {
      tmp = mkdtempSync(join(tmpdir(), 'wkvm-linux-'));
      const big = join(tmp, 'big.cpio');
      writeFileSync(big, '');
      truncateSync(big, 300 << 20); // sparse
      const r = await runWkvm(['run', '-m', '128M', '-kernel', KERNEL, '-initrd', big], { timeoutMs: 30_000 });
      oneLine(r.stderr);
      expect(r.stderr).toMatch(/initrd/);
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
    }, T);

    it('a kernel command line longer than 4096 bytes', async () => {
      const r = await runWkvm(['run', '-m', '128M', '-kernel', KERNEL, '-initrd', INITRD, '-append', 'console=ttyS0 ' + 'x'.repeat(4100)], { timeoutMs: 30_000 });
      oneLine(r.stderr);
      expect(r.stderr).toMatch(/append|command line/);
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
    }, T);
  });
});
