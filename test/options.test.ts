import { describe, expect, it } from 'vitest';
import { isHelpRequest, parseRunArgs, runHelp, type RunOptions } from '../src/cli/options.js';
import { WkvmError } from '../src/errors.js';
import { formatSize, parseSize } from '../src/machine/size.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;

function expectError(fn: () => unknown, message: string) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected WkvmError '${message}'`).toBeInstanceOf(WkvmError);
  expect((err as Error).message).toBe(message);
  expect((err as Error).message).not.toMatch(/\n|\.$/);
}

describe('parseSize', () => {
  const ok: [string, bigint][] = [
    ['128M', 128n * MiB],
    ['128m', 128n * MiB],
    ['1G', GiB],
    ['2g', 2n * GiB],
    ['512', 512n * MiB],
    ['1.5G', 1536n * MiB],
    ['0.5', MiB / 2n],
    ['64K', 64n * 1024n],
    ['64KB', 64n * 1024n],
    ['64KiB', 64n * 1024n],
    ['64kib', 64n * 1024n],
    ['256MB', 256n * MiB],
    ['256MiB', 256n * MiB],
    ['1T', 1n << 40n],
    ['4096B', 4096n],
    ['1.5K', 1536n],
    [' 128M ', 128n * MiB],
    ['007', 7n * MiB],
  ];
  for (const [text, bytes] of ok) {
    it(`accepts '${text}'`, () => expect(parseSize(text, 'memory size')).toBe(bytes));
  }

  const bad: [string, string][] = [
    ['abc', "invalid memory size 'abc'"],
    ['', "invalid memory size ''"],
    ['-128M', "invalid memory size '-128M'"],
    ['+128M', "invalid memory size '+128M'"],
    ['128X', "invalid memory size '128X'"],
    ['M', "invalid memory size 'M'"],
    ['1.', "invalid memory size '1.'"],
    ['.5G', "invalid memory size '.5G'"],
    ['1e3', "invalid memory size '1e3'"],
    ['0x100', "invalid memory size '0x100'"],
    ['128MM', "invalid memory size '128MM'"],
    ['12 8M', "invalid memory size '12 8M'"],
    ['1.3K', "invalid memory size '1.3K' (not a whole number of bytes)"],
    ['0.5B', "invalid memory size '0.5B' (not a whole number of bytes)"],
    ['0', "invalid memory size '0' (must be greater than zero)"],
    ['0.0G', "invalid memory size '0.0G' (must be greater than zero)"],
  ];
  for (const [text, message] of bad) {
    it(`rejects '${text}'`, () => expectError(() => parseSize(text, 'memory size'), message));
  }

  it('names what it parses', () => expectError(() => parseSize('x', 'initrd size'), "invalid initrd size 'x'"));
});

describe('formatSize', () => {
  it('uses the largest exact binary unit', () => {
    expect(formatSize(3n * GiB)).toBe('3 GiB');
    expect(formatSize(1536n * MiB)).toBe('1536 MiB');
    expect(formatSize(128n * MiB)).toBe('128 MiB');
    expect(formatSize(1536n)).toBe('1536 bytes');
    expect(formatSize(2048n)).toBe('2 KiB');
    expect(formatSize(1n << 40n)).toBe('1 TiB');
  });
});

const NO_DEVICES = { drives: [], nics: [], rng: false, snapshot: false, paused: false, qmp: [] };
const defaults: RunOptions = { machine: 'virt', memory: 128n * MiB, smp: 1, bios: 'default', noReboot: false, ...NO_DEVICES };

describe('parseRunArgs', () => {
  it('has defaults', () => {
    expect(parseRunArgs([])).toEqual(defaults);
  });

  it("accepts wkvm's spellings", () => {
    expect(
      parseRunArgs([
        '--machine', 'virt', '--memory', '256M', '--smp', '4', '--bios', 'none', '--kernel', 'k.elf',
        '--initrd', 'rd.cpio', '--append', 'console=ttyS0 quiet', '--nographic', '--no-reboot', '--dump-dtb', 'out.dtb',
      ]),
    ).toEqual({
      machine: 'virt', memory: 256n * MiB, smp: 4, bios: 'none', kernel: 'k.elf', initrd: 'rd.cpio',
      append: 'console=ttyS0 quiet', noReboot: true, dumpDtb: 'out.dtb', ...NO_DEVICES,
    });
  });

  it("accepts QEMU's single-dash spellings", () => {
    expect(
      parseRunArgs([
        '-m', '256M', '-smp', '4', '-kernel', 'x', '-bios', 'none', '-nographic', '-append', 'console=ttyS0',
        '-initrd', 'y', '-no-reboot', '-machine', 'virt', '-M', 'virt', '-dumpdtb', 'f',
      ]),
    ).toEqual({
      machine: 'virt', memory: 256n * MiB, smp: 4, bios: 'none', kernel: 'x', initrd: 'y', append: 'console=ttyS0',
      noReboot: true, dumpDtb: 'f', ...NO_DEVICES,
    });
  });

  it('accepts short options and --opt=value forms', () => {
    expect(parseRunArgs(['-M', 'virt', '-m', '1G']).memory).toBe(GiB);
    expect(parseRunArgs(['--memory=1G', '--smp=2', '--kernel=k']).memory).toBe(GiB);
    expect(parseRunArgs(['-smp=3']).smp).toBe(3);
    expect(parseRunArgs(['--dumpdtb', 'a.dtb']).dumpDtb).toBe('a.dtb');
    expect(parseRunArgs(['-memory', '64']).memory).toBe(64n * MiB);
  });

  it('-S starts paused (QEMU spelling; also --start-paused)', () => {
    expect(parseRunArgs(['-S']).paused).toBe(true);
    expect(parseRunArgs(['--start-paused']).paused).toBe(true);
  });

  it('lets the last occurrence win, as QEMU does', () => {
    expect(parseRunArgs(['-m', '64M', '-m', '256M']).memory).toBe(256n * MiB);
    expect(parseRunArgs(['-smp', '2', '--smp', '3']).smp).toBe(3);
  });

  it('takes option values that start with a dash literally', () => {
    expect(parseRunArgs(['-kernel', 'k', '-append', '-v --foo']).append).toBe('-v --foo');
    expect(parseRunArgs(['--kernel', '-k.elf']).kernel).toBe('-k.elf');
    expect(parseRunArgs(['-kernel', 'k', '-append', '-smp']).smp).toBe(1);
  });

  it('reads --bios', () => {
    expect(parseRunArgs(['-bios', 'default']).bios).toBe('default');
    expect(parseRunArgs(['-bios', 'none']).bios).toBe('none');
    expect(parseRunArgs(['-bios', 'fw_jump.bin']).bios).toEqual({ file: 'fw_jump.bin' });
    expect(parseRunArgs(['-bios', './none']).bios).toEqual({ file: './none' });
  });

  it("reads QEMU's -machine properties it knows", () => {
    expect(parseRunArgs(['-machine', 'virt,dumpdtb=q.dtb']).dumpDtb).toBe('q.dtb');
    expect(parseRunArgs(['-machine', 'type=virt']).machine).toBe('virt');
    expect(parseRunArgs(['-machine', 'virt,dumpdtb=a', '-dumpdtb', 'b']).dumpDtb).toBe('b');
  });

  it("reads QEMU's -m forms", () => {
    expect(parseRunArgs(['-m', 'size=512M']).memory).toBe(512n * MiB);
    expect(parseRunArgs(['-m', '2G']).memory).toBe(2n * GiB);
    expect(parseRunArgs(['-m', '3G']).memory).toBe(3n * GiB);
    expect(parseRunArgs(['-m', '8G'], { maxMemory: 8n * GiB }).memory).toBe(8n * GiB);
  });

  it("reads QEMU's -smp forms", () => {
    expect(parseRunArgs(['-smp', '4']).smp).toBe(4);
    expect(parseRunArgs(['-smp', 'cpus=4']).smp).toBe(4);
    expect(parseRunArgs(['-smp', '4,sockets=1']).smp).toBe(4);
    expect(parseRunArgs(['-smp', '4,sockets=1,cores=4,threads=1']).smp).toBe(4);
    expect(parseRunArgs(['-smp', 'cores=2,threads=2']).smp).toBe(4);
    expect(parseRunArgs(['-smp', '8,maxcpus=8']).smp).toBe(8);
    expect(parseRunArgs(['-smp', '128']).smp).toBe(128);
    expect(parseRunArgs(['-smp', '200'], { maxSmp: 256 }).smp).toBe(200);
  });

  const errors: [string[], string][] = [
    [['-foo'], "unknown option '-foo'"],
    [['--foo'], "unknown option '--foo'"],
    [['-x'], "unknown option '-x'"],
    [['-S=1'], "unknown option '-S=1'"],
    [['-start-paused=on'], "option '-start-paused' takes no value"],
    [['-m256M'], "unknown option '-m256M'"],
    [['-h'], "unknown option '-h'"],
    [['--nographic=1'], "option '--nographic' takes no value"],
    [['-no-reboot=yes'], "option '-no-reboot' takes no value"],
    [['kernel.elf'], "unexpected argument 'kernel.elf'"],
    [['-'], "unexpected argument '-'"],
    [['--', 'x'], "unexpected argument 'x'"],
    [['-m'], "option '-m' needs a value"],
    [['-kernel'], "option '-kernel' needs a value"],
    [['--smp'], "option '--smp' needs a value"],
    [['-M', 'pc'], "--machine: unsupported machine 'pc' (wkvm has only 'virt')"],
    [['-machine', 'sifive_u'], "--machine: unsupported machine 'sifive_u' (wkvm has only 'virt')"],
    [['-M', 'virt,foo=bar'], "--machine: property 'foo' is not supported (supported: type, dumpdtb)"],
    [['-M', 'virt,aclint=on'], "--machine: property 'aclint' is not supported (supported: type, dumpdtb)"],
    [['-M', 'virt,x'], "--machine: invalid 'virt,x' (expected key=value after the first comma)"],
    [['-M', ''], "--machine: no machine name in ''"],
    [['-M', 'virt,type=virt'], "--machine: machine given twice in 'virt,type=virt'"],
    [['-M', 'virt,dumpdtb='], '--machine: dumpdtb needs a file name'],
    [['-M', 'virt,dumpdtb=a,dumpdtb=b'], "--machine: property 'dumpdtb' given twice"],
    [['-m', 'abc'], "invalid memory size 'abc'"],
    [['-m', '0'], "invalid memory size '0' (must be greater than zero)"],
    [['-m', '-5'], "invalid memory size '-5'"],
    [['-m', '1.3K'], "invalid memory size '1.3K' (not a whole number of bytes)"],
    [['-m', '4G'], '--memory: 4G (4 GiB) exceeds the maximum of 3 GiB'],
    [['-m', '3073'], '--memory: 3073 (3073 MiB) exceeds the maximum of 3 GiB'],
    [['-m', '256M,slots=2'], "--memory: property 'slots' is not supported (supported: size)"],
    [['-m', 'size=1G,size=2G'], "--memory: property 'size' given twice"],
    [['-m', '1G,size=2G'], "--memory: size given twice in '1G,size=2G'"],
    [['--memory='], "invalid memory size ''"],
    [['-smp', '0'], '--smp: CPU count must be at least 1'],
    [['-smp', '129'], '--smp: 129 CPUs exceeds the maximum of 128'],
    [['-smp', 'four'], "--smp: invalid CPU count 'four'"],
    [['-smp', '-1'], "--smp: invalid CPU count '-1'"],
    [['-smp', '1.5'], "--smp: invalid CPU count '1.5'"],
    [['-smp', ''], "--smp: invalid CPU count ''"],
    [['-smp', 'cpus=x'], "--smp: invalid cpus 'x'"],
    [['-smp', '4,cpus=4'], "--smp: cpus given twice in '4,cpus=4'"],
    [['-smp', '4,sockets=2'], '--smp: sockets=2 is not supported (the virt board has one socket)'],
    [['-smp', '4,cores=2'], '--smp: cores*threads is 2, not 4'],
    [['-smp', '4,maxcpus=8'], '--smp: maxcpus=8 differs from 4; CPU hot-plug is not supported'],
    [['-smp', '4,dies=1'], "--smp: property 'dies' is not supported (supported: cpus, sockets, cores, threads, maxcpus)"],
    [['-smp', 'sockets=1'], "--smp: no CPU count in 'sockets=1'"],
    [['-smp', '4,5'], "--smp: invalid '4,5' (expected key=value after the first comma)"],
    [['-bios', ''], '--bios: empty file name'],
    [['-kernel', ''], '--kernel: empty file name'],
    [['-dumpdtb', ''], '--dump-dtb: empty file name'],
    [['-initrd', 'rd'], '--initrd needs --kernel'],
    [['-append', 'quiet'], '--append needs --kernel'],
  ];
  for (const [argv, message] of errors) {
    it(`rejects ${JSON.stringify(argv)}`, () => expectError(() => parseRunArgs(argv), message));
  }

  it('takes its limits as parameters', () => {
    expectError(() => parseRunArgs(['-m', '2G'], { maxMemory: GiB }), '--memory: 2G (2 GiB) exceeds the maximum of 1 GiB');
    expectError(() => parseRunArgs(['-smp', '5'], { maxSmp: 4 }), '--smp: 5 CPUs exceeds the maximum of 4');
  });
});

describe('help', () => {
  it('detects help requests before the terminator', () => {
    expect(isHelpRequest(['-h'])).toBe(true);
    expect(isHelpRequest(['-m', '1G', '--help'])).toBe(true);
    expect(isHelpRequest(['-help'])).toBe(true);
    expect(isHelpRequest(['-m', '1G'])).toBe(false);
    expect(isHelpRequest(['--', '--help'])).toBe(false);
  });

  it('lists every option', () => {
    const text = runHelp();
    for (const opt of ['--machine', '--memory', '--smp', '--bios', '--kernel', '--initrd', '--append', '--nographic', '--no-reboot', '--dump-dtb']) {
      expect(text).toContain(opt);
    }
  });

  it('says how to use the console escapes and how the exit status is set', () => {
    const text = runHelp();
    expect(text).toMatch(/Ctrl-A X quits/);
    expect(text).toMatch(/Ctrl-A H/);
    expect(text).toMatch(/Exit status:/);
    expect(text).toMatch(/SIGHUP 129/);
    expect(text).toMatch(/node_modules\/\.bin\/wkvm/);
  });
});

describe('devices (QEMU spellings)', () => {
  it('-drive if=virtio and the long form, in command-line order', () => {
    const o = parseRunArgs([
      '-drive', 'file=a.img,format=raw,if=virtio',
      '-drive', 'file=b.img,format=raw,if=none,id=d1,readonly=on,cache=unsafe',
      '-device', 'virtio-blk-device,drive=d1,serial=disk-b',
      '-drive', 'file=c.img,snapshot=on',
    ]);
    expect(o.drives).toEqual([
      { file: 'a.img', readonly: false, snapshot: false, cache: 'writeback' },
      { file: 'c.img', readonly: false, snapshot: true, cache: 'writeback' },
      { file: 'b.img', readonly: true, snapshot: false, cache: 'unsafe', id: 'd1', serial: 'disk-b' },
    ]);
    expect(parseRunArgs(['-snapshot', '-drive', 'file=a.img']).snapshot).toBe(true);
  });

  it('-netdev with -device, and -nic', () => {
    const o = parseRunArgs([
      '-netdev', 'user,id=n0,hostfwd=tcp::8080-:80', '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:00:07',
      '-nic', 'socket,listen=:5555',
    ]);
    expect(o.nics).toHaveLength(2);
    expect(o.nics[0]!.mac).toBe('52:54:00:00:00:07');
    expect(o.nics[0]!.netdev).toMatchObject({ type: 'user', id: 'n0' });
    expect(o.nics[1]!.netdev).toMatchObject({ type: 'socket' });
    expect(parseRunArgs(['-nic', 'none']).nics).toEqual([]);
  });

  it('-device virtio-rng-device and a virtconsole on a chardev', () => {
    const o = parseRunArgs(['-device', 'virtio-rng-device', '-chardev', 'socket,id=c0,path=/tmp/s,server=on,wait=off',
      '-device', 'virtio-serial-device', '-device', 'virtconsole,chardev=c0']);
    expect(o.rng).toBe(true);
    expect(o.console).toEqual({ backend: 'socket', id: 'c0', server: true, path: '/tmp/s' });
    expect(parseRunArgs(['-chardev', 'stdio,id=t', '-device', 'virtconsole,chardev=t']).console).toEqual({ backend: 'stdio', id: 't' });
  });

  const bad: [string[], RegExp][] = [
    [['-drive', 'file=a.qcow2,format=qcow2'], /format=qcow2 is not supported: wkvm takes raw images/],
    [['-drive', 'format=raw'], /-drive: needs file=IMAGE/],
    [['-drive', 'file=a,if=ide'], /if=ide is not supported/],
    [['-drive', 'file=a,if=none'], /if=none needs id=/],
    [['-drive', 'file=a,cache=sometimes'], /cache=sometimes is not supported/],
    [['-drive', 'file=a,readonly=perhaps'], /readonly=perhaps: expected on or off/],
    [['-drive', 'file=a,bogus=1'], /property 'bogus' is not supported/],
    [['-device', 'virtio-blk-device,drive=nope'], /no -drive with id=nope/],
    [['-device', 'virtio-blk-pci'], /'virtio-blk-pci' is not supported/],
    [['-device', 'virtio-net-device,netdev=n9'], /no -netdev with id=n9/],
    [['-netdev', 'user,id=n0', '-netdev', 'user,id=n0'], /id 'n0' is used twice/],
    [['-netdev', 'tap,id=t0'], /tap/],
    [['-nic', 'user,model=e1000'], /model=e1000 is not supported/],
    [['-device', 'virtconsole,chardev=c9'], /no -chardev with id=c9/],
    [['-chardev', 'socket,id=c0,path=/tmp/s,server=on,wait=on'], /wait=on is not supported/],
    [['-chardev', 'pty,id=c0'], /backend 'pty' is not supported/],
    [['-chardev', 'stdio'], /needs id=NAME/],
  ];
  for (const [argv, msg] of bad) {
    it(`rejects ${argv.join(' ')}`, () => {
      expect(() => parseRunArgs(argv)).toThrow(msg);
    });
  }
});
