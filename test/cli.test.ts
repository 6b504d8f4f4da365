/**
 * The CLI: bad input gets one clear line on stderr and a non-zero status,
 * never a stack trace or a hang; exit statuses are the guest's.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestFiles, runWkvm, which } from './helpers.js';

let dir: string;
const elf = guestFiles('isa')[0];

/** A valid RISC-V ELF with one byte changed in its header. */
function patched(offset: number, value: number): string {
  const b = Buffer.from(readFileSync(elf));
  b[offset] = value;
  const p = join(dir, `patched-${offset}-${value}.elf`);
  writeFileSync(p, b);
  return p;
}

/** The same ELF with its first segment moved to guest-physical 0x4000_0000_0000 (no RAM there). */
function outsideRam(): string {
  const b = Buffer.from(readFileSync(elf));
  const phoff = Number(b.readBigUInt64LE(0x20));
  const size = b.readUInt16LE(0x36), count = b.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) {
    if (b.readUInt32LE(phoff + i * size) === 1) b.writeBigUInt64LE(0x4000_0000_0000n, phoff + i * size + 0x18); // PT_LOAD p_paddr
  }
  const p = join(dir, 'outside.elf');
  writeFileSync(p, b);
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wkvm-cli-'));
  writeFileSync(join(dir, 'garbage.bin'), Buffer.from('this is not a kernel at all'));
  writeFileSync(join(dir, 'trunc.elf'), readFileSync(elf).subarray(0, 40));
  writeFileSync(join(dir, 'empty.bin'), '');
  writeFileSync(join(dir, 'disk.qcow2'), Buffer.concat([Buffer.from('QFI\xfb\0\0\0\x03', 'latin1'), Buffer.alloc(1 << 16)]));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  execFileSync('truncate', ['-s', '3G', join(dir, 'sparse-3g')]); // sparse: no disk space used
  // `j .`: a guest that loops forever
  writeFileSync(join(dir, 'loop.bin'), Buffer.from([0x6f, 0x00, 0x00, 0x00]));
  // jumps to address 0 (nothing there): instruction access fault, then mtvec = 0 again -> loop of faults
  writeFileSync(join(dir, 'jump0.bin'), Buffer.from([0x67, 0x00, 0x00, 0x00]));
});

function oneLineError(r: { stderr: string; code: number | null; signal?: NodeJS.Signals | null }): void {
  expect(r.code).not.toBe(0);
  expect(r.code, `ended by ${r.signal}; stderr: ${r.stderr}`).not.toBeNull(); // a crash (once: Node aborting at exit) says how
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^wkvm: /);
  expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
}

describe('bad input', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['missing kernel file', () => ['run', '-bios', 'none', '-kernel', join(dir, 'nope.elf')], /no such file/],
    ['kernel is a directory', () => ['run', '-bios', 'none', '-kernel', dir], /directory/],
    ['not a kernel (default boot)', () => ['run', '-kernel', join(dir, 'garbage.bin')], /not a RISC-V Linux Image or ELF/],
    ['truncated ELF', () => ['run', '-bios', 'none', '-kernel', join(dir, 'trunc.elf')], /truncat/i],
    ['32-bit ELF', () => ['run', '-bios', 'none', '-kernel', patched(4, 1)], /32-bit/],
    ['ELF for another machine', () => ['run', '-bios', 'none', '-kernel', patched(18, 62)], /x86-64|machine/],
    ['malformed -m', () => ['run', '-m', 'lots'], /memory/],
    ['-m larger than Wasm memory', () => ['run', '-m', '8G'], /exceeds the maximum|too large/],
    ['-smp 0', () => ['run', '-smp', '0'], /smp|vCPU/i],
    ['-smp above the maximum', () => ['run', '-smp', '1000'], /128/],
    ['unknown option', () => ['run', '-frobnicate'], /unknown option/],
    ['unknown command', () => ['frob'], /unknown command/],
    ['missing firmware', () => ['run', '-bios', join(dir, 'nofw.bin'), '-kernel', elf], /no such file/],
    ['segment outside RAM', () => ['run', '-bios', 'none', '-kernel', outsideRam()], /outside RAM/],
    ['RAM too small for the guest', () => ['run', '-bios', 'none', '-m', '1M', '-kernel', elf], /too small|larger -m/],
    ['an empty kernel', () => ['run', '-bios', 'none', '-kernel', join(dir, 'empty.bin')], /kernel .*empty/],
    ['an empty kernel (default boot)', () => ['run', '-kernel', join(dir, 'empty.bin')], /kernel .*empty/],
    ['an empty firmware', () => ['run', '-bios', join(dir, 'empty.bin')], /firmware .*empty/],
    ['an empty initrd', () => ['run', '-kernel', elf, '-initrd', join(dir, 'empty.bin')], /initrd .*empty/],
    ['a kernel that is a character device', () => ['run', '-bios', 'none', '-kernel', '/dev/zero'], /not a regular file/],
    ['a kernel that is a FIFO', () => ['run', '-bios', 'none', '-kernel', join(dir, 'fifo')], /not a regular file/],
    ['an initrd larger than RAM', () => ['run', '-m', '64M', '-kernel', elf, '-initrd', join(dir, 'sparse-3g')], /does not fit in 64 MiB of guest RAM/],
    ['an initrd over 2 GiB', () => ['run', '-m', '3G', '-kernel', elf, '-initrd', join(dir, 'sparse-3g')], /over the 2 GiB/],
    ['-m 1M names the RAM, not a file the user never gave', () => ['run', '-m', '1M'], /^wkvm: RAM too small: the demo guest needs .*use a larger -m/],
    ['--dump-dtb into a missing folder', () => ['run', '--dump-dtb', join(dir, 'nope', 'x.dtb')], /cannot write .*: no such file or directory$/m],
    ['--dump-dtb onto a folder', () => ['run', '--dump-dtb', dir], /cannot write .*: is a directory$/m],
    ['--dump-dtb that fails with a passt running (it must end with the VM, not hang)', () => (which('passt') ? ['run', '-nic', 'user', '--dump-dtb', dir] : ['run', '--dump-dtb', dir]), /cannot write .*: is a directory$/m],
    ['a missing disk image', () => ['run', '-drive', `file=${join(dir, 'nope.img')},format=raw,if=virtio`], /cannot open disk image .*: no such file/],
    ['a qcow2 image given as raw', () => ['run', '-drive', `file=${join(dir, 'disk.qcow2')},format=raw,if=virtio`], /is a qcow2 image, not raw/],
    ['an unknown disk format', () => ['run', '-drive', `file=${join(dir, 'disk.qcow2')},format=vmdk`], /format=vmdk is not supported/],
    ['an unknown -drive option', () => ['run', '-drive', 'file=x.img,frob=1'], /property 'frob' is not supported/],
    ['a bad hostfwd', () => ['run', '-nic', 'user,hostfwd=tcp::99999-:80'], /out of range/],
    ['too many virtio devices', () => ['run', ...Array.from({ length: 9 }, () => ['-drive', `file=${join(dir, 'empty.bin')},snapshot=on`]).flat()], /8 virtio-mmio slots/],
  ];
  for (const [name, args, msg] of cases) {
    it(name, async () => {
      const r = await runWkvm(args(), { timeoutMs: 20_000 });
      oneLineError(r);
      expect(r.stderr).toMatch(msg);
    });
  }
});

describe('exit status and stopping', () => {
  it('a guest that jumps into nothing gets an access fault and can still be stopped', async () => {
    const r = await runWkvm(['run', '-bios', 'none', '-kernel', join(dir, 'jump0.bin')], { timeoutMs: 1500 });
    expect(r.signal).toBe('SIGKILL'); // it loops taking faults until killed...
  });

  for (const [sig, status] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
    it(`a guest stuck in a loop is stopped cleanly by ${sig}, exit status ${status}`, async () => {
      const { spawn } = await import('node:child_process');
      const p = spawn(process.execPath, [join(__dirname, '..', 'bin', 'wkvm.js'), 'run', '-bios', 'none', '-kernel', join(dir, 'loop.bin')]);
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      await new Promise((r) => setTimeout(r, 800));
      const t0 = Date.now();
      p.kill(sig);
      const code = await new Promise<number | null>((res) => p.on('close', (c) => res(c)));
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(code).toBe(status);
      expect(err).toBe('');
    });
  }

  it('Ctrl-A X is not special when stdin is not a terminal, and EOF does not stop the guest', async () => {
    const r = await runWkvm(['run', '-bios', 'none', '-kernel', join(dir, 'loop.bin')], { input: '\x01x', timeoutMs: 1500 });
    expect(r.signal).toBe('SIGKILL');
  });

  it('on a terminal, Ctrl-A H prints the escapes and Ctrl-A X quits with status 0', async () => {
    // util-linux `script` gives wkvm a pseudo-terminal as stdin/stdout
    if (!which('script')) { console.warn('script (util-linux) not installed: skipping the terminal test'); return; }
    const cmd = `${process.execPath} ${join(__dirname, '..', 'bin', 'wkvm.js')} run -bios none -kernel ${join(dir, 'loop.bin')}`;
    const { spawn } = await import('node:child_process');
    const p = spawn('script', ['-qec', cmd, '/dev/null']);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    await new Promise((r) => setTimeout(r, 1500));
    p.stdin.write('\x01h');
    await new Promise((r) => setTimeout(r, 300));
    p.stdin.write('\x01x');
    const code = await new Promise<number | null>((res) => p.on('close', (c) => res(c)));
    expect(out).toMatch(/C-a x\s+exit emulator/);
    expect(code).toBe(0);
  });

  it('the demo guest runs with no kernel given', async () => {
    const r = await runWkvm(['run', '-smp', '2'], { timeoutMs: 30_000 });
    expect(r.stdout).toMatch(/hart 0/);
    expect(r.stdout).toMatch(/hart 1/);
    expect(r.code).toBe(0);
  });

  it('--dump-dtb writes a blob dtc accepts', async () => {
    const out = join(dir, 'virt.dtb');
    const r = await runWkvm(['run', '-smp', '4', '-dumpdtb', out], { timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    const blob = readFileSync(out);
    expect(blob.readUInt32BE(0)).toBe(0xd00dfeed);
    const dtc = which('dtc');
    if (!dtc) { console.warn('dtc not installed: skipping the dtc check'); return; }
    const { spawnSync } = await import('node:child_process');
    const d = spawnSync(dtc, ['-I', 'dtb', '-O', 'dts', out], { encoding: 'utf8' });
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(/cpu@3/);
  });
});
