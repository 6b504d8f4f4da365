/**
 * Linux-level acceptance tests of the virtio devices: the guest built by
 * `npm run guest:linux` (scripts/build-linux.sh) drives virtio-blk (a data
 * disk made on the host, a crash after sync, readonly, snapshot, the root
 * file system on /dev/vda across a reboot), virtio-net (user networking
 * through passt with DHCP and hostfwd, two wkvm guests and a wkvm and a QEMU
 * guest over `-netdev socket`), virtio-rng and virtio-console, and the host
 * checks the results (debugfs reads what the guest wrote, image hashes, TCP).
 *
 * Skipped with a warning when the image is not built; single tests are
 * skipped with a warning when a host tool (passt, mke2fs, debugfs, e2fsck,
 * qemu-system-riscv64) is missing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WKVM, QEMU, which, LINUX_GUEST as GUEST } from './helpers.js';
import { Console, PROMPT } from './guest-console.js';

const KERNEL = join(GUEST, 'Image');
const INITRD = join(GUEST, 'rootfs.cpio.gz');
const ROOT_IMG = join(GUEST, 'root.img');
const haveImage = existsSync(KERNEL) && existsSync(INITRD);
const haveRootImg = existsSync(ROOT_IMG);

const FILE = 'test/linux-io.test.ts';
if (!haveImage) {
  console.warn(`${FILE}: the Linux guest image is not built (no ${KERNEL} or ${INITRD}): ` +
    'skipping the Linux virtio tests. Build it with `npm run guest:linux`.');
} else if (!haveRootImg) {
  console.warn(`${FILE}: no ${ROOT_IMG} (an older guest build): skipping the root-on-/dev/vda test. Rebuild with \`npm run guest:linux\`.`);
}

/** Whether the host tools are there; warns once per missing tool (only when the image is there, else all is skipped anyway). */
const warned = new Set<string>();
function have(...tools: string[]): boolean {
  const missing = tools.filter((t) => !which(t));
  if (haveImage) {
    for (const t of missing) {
      if (warned.has(t)) continue;
      warned.add(t);
      console.warn(`${FILE}: '${t}' is not installed: skipping the tests that need it ` +
        `(Debian: ${({ passt: 'passt', mke2fs: 'e2fsprogs', debugfs: 'e2fsprogs', e2fsck: 'e2fsprogs', 'qemu-system-riscv64': 'qemu-system-misc' } as Record<string, string>)[t] ?? t}).`);
    }
  }
  return missing.length === 0;
}
const haveE2fs = have('mke2fs', 'debugfs', 'e2fsck');
const havePasst = have('passt');
const haveQemu = QEMU !== undefined && have('qemu-system-riscv64');

const T = 120_000;        // per test
const BOOT_MS = 90_000;   // to the first shell prompt
const EXIT_MS = 30_000;   // from poweroff to the process exit

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sha256File = (path: string): string => sha256(readFileSync(path));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The first sha256sum line in a guest's output. */
function guestHash(out: string, what: string): string {
  const m = /^([0-9a-f]{64}) /m.exec(out);
  if (!m) throw new Error(`no sha256sum output for ${what} in:\n${out}`);
  return m[1];
}

/** A running VM (wkvm or QEMU) with its serial console. */
interface Vm {
  name: string;
  proc: ChildProcessWithoutNullStreams;
  con: Console;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcessWithoutNullStreams[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

function startProcess(name: string, cmd: string, args: string[]): Vm {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
  proc.stdin.on('error', () => { /* the VM went away while we typed */ });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.on('close', (code, signal) => res({ code, signal }));
  });
  return { name, proc, con: new Console(proc.stdout, proc.stdin, name), stderr: () => stderr, exited };
}

/** `wkvm run -m 256M -kernel Image ...`: the initramfs unless `root` says the root is a disk. */
function startWkvm(name: string, devices: string[], opts: { rootDisk?: boolean; append?: string } = {}): Vm {
  const boot = opts.rootDisk
    ? ['-append', opts.append ?? 'root=/dev/vda rw console=ttyS0']
    : ['-initrd', INITRD, '-append', opts.append ?? 'console=ttyS0'];
  return startProcess(name, process.execPath, [WKVM, 'run', '-m', '256M', '-kernel', KERNEL, ...boot, ...devices]);
}

/** Wait for the shell; quiet the kernel's console messages so they do not land in command output. */
async function shell(vm: Vm): Promise<void> {
  await Promise.race([
    vm.con.waitFor(PROMPT, BOOT_MS),
    vm.exited.then((e) => { throw new Error(`${vm.name} exited (${e.code ?? e.signal}) before its shell prompt; stderr: ${vm.stderr() || '(empty)'}; console tail:\n${vm.con.out.slice(-1500)}`); }),
  ]);
  await vm.con.ok('dmesg -n 1');
}

/** The end of a VM's output, to explain a failed expectation. */
const tail = (vm: Vm): string => `${vm.name}: stderr: ${vm.stderr().trim() || '(empty)'}; console tail:\n${vm.con.out.slice(-1500)}`;

/** `poweroff` in the guest; the process must exit with status 0. */
async function powerOff(vm: Vm, kernelConsole = true): Promise<void> {
  vm.con.send('poweroff');
  const e = await Promise.race([vm.exited, sleep(EXIT_MS).then(() => 'timeout' as const)]);
  expect(e, `${vm.name} did not exit within ${EXIT_MS} ms of poweroff; ${tail(vm)}`).not.toBe('timeout');
  // the kernel's last words; not on a virtio console, which the kernel shuts down before it says them
  if (kernelConsole) expect(vm.con.out, tail(vm)).toContain('reboot: Power down');
  if (e !== 'timeout') expect(e.code, `${vm.name}'s exit status after poweroff; ${tail(vm)}`).toBe(0);
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wkvm-linux-io-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A 16 MiB ext2 image (no journal: debugfs sees synced data as is) holding in.bin with random contents. */
function makeDataDisk(dir: string, name = 'data.img'): { img: string; inHash: string } {
  const tree = join(dir, `${name}.d`);
  mkdirSync(tree);
  const data = randomBytes(200_000);
  writeFileSync(join(tree, 'in.bin'), data);
  const img = join(dir, name);
  const r = run('mke2fs', ['-q', '-t', 'ext2', '-d', tree, img, '16M']);
  expect(r.status, `mke2fs: ${r.stderr}`).toBe(0);
  return { img, inHash: sha256(data) };
}

/** `debugfs -R "dump PATH OUT" img` and the dumped file's bytes. */
function debugfsDump(img: string, path: string, out: string): Buffer {
  const r = run('debugfs', ['-R', `dump ${path} ${out}`, img]);
  expect(existsSync(out), `debugfs found no ${path} in ${img}: ${r.stderr}`).toBe(true);
  return readFileSync(out);
}

/** Write 256 KiB of random bytes to DIR/NAME in the guest, sync, and return its sha256 as the guest computed it. */
async function guestWrite(con: Console, path: string): Promise<string> {
  const out = await con.ok(`dd if=/dev/urandom of=${path} bs=4k count=64 2>/dev/null && sync && sha256sum ${path}`);
  return guestHash(out, path);
}

/** Unmount, drop the caches, mount again: the guest reads its data back from the device, not from its page cache. */
async function remount(con: Console, dev: string, mnt: string): Promise<void> {
  await con.ok(`umount ${mnt} && echo 3 > /proc/sys/vm/drop_caches && mount ${dev} ${mnt}`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/** DHCP from passt; returns the gateway's address. */
async function dhcp(con: Console): Promise<string> {
  const lease = await con.exec('udhcpc -i eth0 -n -q -t 5', 60_000);
  expect(lease.rc, `udhcpc got no lease from passt:\n${lease.out}`).toBe(0);
  const addr = await con.ok('ip -4 addr show dev eth0');
  expect(addr, 'eth0 has an IPv4 address after DHCP').toMatch(/inet \d+\.\d+\.\d+\.\d+\/\d+/);
  const route = await con.ok('ip route');
  const gw = /default via (\d+\.\d+\.\d+\.\d+)/.exec(route);
  if (!gw) throw new Error(`no default route after DHCP:\n${route}`);
  return gw[1];
}

/** A static address on eth0 (for the socket netdev tests). */
async function staticIp(con: Console, cidr: string): Promise<void> {
  await con.ok(`ip addr add ${cidr} dev eth0 && ip link set eth0 up`);
}

/** Serve TEXT as /index.html with busybox httpd on port 80. */
async function httpd(con: Console, text: string): Promise<void> {
  await con.ok(`mkdir -p /www && echo ${text} > /www/index.html && httpd -p 80 -h /www`);
}

/** Two guests on one Ethernet: ping both ways, and each fetches the other's web page. */
async function exchange(a: Vm, aIp: string, b: Vm, bIp: string): Promise<void> {
  const ta = `from-${a.name.replace(/\W/g, '')}-${randomBytes(6).toString('hex')}`;
  const tb = `from-${b.name.replace(/\W/g, '')}-${randomBytes(6).toString('hex')}`;
  await httpd(a.con, ta);
  await httpd(b.con, tb);
  const p1 = await b.con.exec(`ping -c 2 -W 5 ${aIp}`, 30_000);
  expect(p1.rc, `${b.name} pings ${a.name}:\n${p1.out}`).toBe(0);
  expect(p1.out).toMatch(/2 packets received/);
  const p2 = await a.con.exec(`ping -c 2 -W 5 ${bIp}`, 30_000);
  expect(p2.rc, `${a.name} pings ${b.name}:\n${p2.out}`).toBe(0);
  const g1 = await b.con.exec(`wget -q -T 10 -O- http://${aIp}/index.html`, 30_000);
  expect(g1, `${b.name} fetches ${a.name}'s page`).toEqual({ out: `${ta}\n`, rc: 0 });
  const g2 = await a.con.exec(`wget -q -T 10 -O- http://${bIp}/index.html`, 30_000);
  expect(g2, `${a.name} fetches ${b.name}'s page`).toEqual({ out: `${tb}\n`, rc: 0 });
}

describe.skipIf(!haveImage)('Linux guest I/O over virtio', () => {
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  describe.skipIf(!haveE2fs)('virtio-blk', () => {
    it('a data disk made on the host: the guest reads its file, writes one, and the host reads it back (debugfs)', async () => {
      const dir = tempDir();
      const { img, inHash } = makeDataDisk(dir);
      const vm = startWkvm('wkvm blk', ['-drive', `file=${img},format=raw,if=virtio`]);
      await shell(vm);
      const { con } = vm;
      expect((await con.ok('cat /sys/block/vda/size')).trim(), 'vda size in sectors').toBe(String((16 << 20) / 512));
      await con.ok('mkdir -p /mnt && mount /dev/vda /mnt');
      expect(guestHash(await con.ok('sha256sum /mnt/in.bin'), 'in.bin'), 'the guest reads the host-made file').toBe(inHash);
      const outHash = await guestWrite(con, '/mnt/out.bin');
      await remount(con, '/dev/vda', '/mnt');
      expect(guestHash(await con.ok('sha256sum /mnt/out.bin'), 'out.bin re-read'), 'the guest reads its file back from the disk').toBe(outHash);
      await con.ok('umount /mnt');
      await powerOff(vm);
      const back = debugfsDump(img, '/out.bin', join(dir, 'out.bin'));
      expect(back.length, 'the size of the file the guest wrote').toBe(256 << 10);
      expect(sha256(back), 'the host reads what the guest wrote').toBe(outHash);
      const fsck = run('e2fsck', ['-fn', img]);
      expect(fsck.status, `e2fsck -fn after a clean unmount:\n${fsck.stdout}${fsck.stderr}`).toBe(0);
    }, T);

    it('data the guest synced survives a SIGKILL of wkvm (FLUSH reaches the image)', async () => {
      const dir = tempDir();
      const { img } = makeDataDisk(dir);
      const vm = startWkvm('wkvm blk kill', ['-drive', `file=${img},format=raw,if=virtio`]);
      await shell(vm);
      const { con } = vm;
      await con.ok('mkdir -p /mnt && mount /dev/vda /mnt');
      const from = con.out.length;
      // SYNC''ED as typed, SYNCED as printed once sync has returned
      con.send("dd if=/dev/urandom of=/mnt/out.bin bs=4k count=64 2>/dev/null && sha256sum /mnt/out.bin && sync && echo SYNC''ED");
      const m = await con.waitFor(/([0-9a-f]{64}) +\/mnt\/out\.bin[\s\S]*SYNCED/, 60_000, from);
      vm.proc.kill('SIGKILL');
      const e = await vm.exited;
      expect(e.signal, 'wkvm was killed').toBe('SIGKILL');
      const back = debugfsDump(img, '/out.bin', join(dir, 'out.bin'));
      expect(back.length, 'the size of the synced file after the crash').toBe(256 << 10);
      expect(sha256(back), 'the synced file after the crash').toBe(m[1]);
    }, T);

    it('readonly=on: the guest cannot write and the image is unchanged', async () => {
      const dir = tempDir();
      const { img, inHash } = makeDataDisk(dir);
      const before = sha256File(img);
      const vm = startWkvm('wkvm blk ro', ['-drive', `file=${img},format=raw,if=virtio,readonly=on`]);
      await shell(vm);
      const { con } = vm;
      expect((await con.ok('cat /sys/block/vda/ro')).trim(), 'the kernel sees a read-only disk').toBe('1');
      const dd = await con.exec('dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync');
      expect(dd.rc, `writing the raw disk must fail:\n${dd.out}`).not.toBe(0);
      expect(dd.out).toMatch(/not permitted|read-only|Permission denied/i);
      await con.exec('mkdir -p /mnt; mount /dev/vda /mnt'); // busybox mount falls back to read-only
      expect(await con.ok('grep " /mnt " /proc/mounts'), 'mounted read-only').toMatch(/ ro[ ,]/);
      expect(guestHash(await con.ok('sha256sum /mnt/in.bin'), 'in.bin'), 'reads still work').toBe(inHash);
      const touch = await con.exec('touch /mnt/new');
      expect(touch.rc, `creating a file must fail:\n${touch.out}`).not.toBe(0);
      await con.ok('umount /mnt');
      await powerOff(vm);
      expect(sha256File(img), 'the read-only image is unchanged').toBe(before);
    }, T);

    it('snapshot=on: the guest reads back what it wrote, the image is unchanged (a drive without it is written)', async () => {
      const dir = tempDir();
      const snap = makeDataDisk(dir, 'snap.img');
      const plain = makeDataDisk(dir, 'plain.img');
      const snapBefore = sha256File(snap.img);
      const plainBefore = sha256File(plain.img);
      // snapshot=on on the first drive only; the second drive is the control that does change
      const vm = startWkvm('wkvm blk snapshot=on', [
        '-drive', `file=${snap.img},format=raw,if=virtio,snapshot=on`,
        '-drive', `file=${plain.img},format=raw,if=virtio`,
      ]);
      await shell(vm);
      await vm.con.ok('mkdir -p /a /b && mount /dev/vda /a && mount /dev/vdb /b');
      const ha = await guestWrite(vm.con, '/a/out.bin');
      const hb = await guestWrite(vm.con, '/b/out.bin');
      await remount(vm.con, '/dev/vda', '/a');
      await remount(vm.con, '/dev/vdb', '/b');
      expect(guestHash(await vm.con.ok('sha256sum /a/out.bin'), '/a/out.bin'), 'the snapshot disk returns what the guest wrote').toBe(ha);
      expect(guestHash(await vm.con.ok('sha256sum /b/out.bin'), '/b/out.bin')).toBe(hb);
      await vm.con.ok('umount /a && umount /b');
      await powerOff(vm);
      expect(sha256File(snap.img), 'the snapshot=on image is unchanged').toBe(snapBefore);
      expect(sha256File(plain.img), 'the drive without snapshot=on was written').not.toBe(plainBefore);
      expect(sha256(debugfsDump(plain.img, '/out.bin', join(dir, 'plain-out.bin'))), 'the file on the drive without snapshot=on').toBe(hb);
    }, T);

    it('-snapshot: every drive keeps its writes in memory', async () => {
      const dir = tempDir();
      const { img, inHash } = makeDataDisk(dir);
      const before = sha256File(img);
      const vm = startWkvm('wkvm -snapshot', ['-snapshot', '-drive', `file=${img},format=raw,if=virtio`]);
      await shell(vm);
      const { con } = vm;
      await con.ok('mkdir -p /mnt && mount /dev/vda /mnt && rm /mnt/in.bin');
      const h = await guestWrite(con, '/mnt/out.bin');
      await remount(con, '/dev/vda', '/mnt');
      expect(guestHash(await con.ok('sha256sum /mnt/out.bin'), '/mnt/out.bin'), 'the snapshot returns what the guest wrote').toBe(h);
      expect((await con.exec('ls /mnt/in.bin')).rc, 'the removed file stays removed in the snapshot').not.toBe(0);
      await con.ok('umount /mnt');
      await powerOff(vm);
      expect(sha256File(img), 'the image under -snapshot is unchanged').toBe(before);
      expect(sha256(debugfsDump(img, '/in.bin', join(dir, 'in.bin'))), 'the removed file is still on the image').toBe(inHash);
    }, T);

    it.skipIf(!haveRootImg)('Linux with its root on /dev/vda (ext4): a file survives a guest reboot and is on the image afterwards', async () => {
      const dir = tempDir();
      const img = join(dir, 'root.img');
      copyFileSync(ROOT_IMG, img);
      const vm = startWkvm('wkvm root=/dev/vda', ['-drive', `file=${img},format=raw,if=virtio`], { rootDisk: true });
      await shell(vm);
      const { con } = vm;
      expect(con.out, 'the boot banner').toMatch(/wkvm: Linux \S+ riscv64, 1 cpu\(s\), root ext4,/);
      expect(await con.ok('grep " / " /proc/mounts'), 'the root file system').toMatch(/^\/dev\/(root|vda) \/ ext4 rw/m);
      const token = randomBytes(12).toString('hex');
      await con.ok(`echo ${token} > /persist.txt && sync`);
      const from = con.out.length;
      con.send('reboot');
      await con.waitFor(/reboot: Restarting system/, EXIT_MS, from);
      const banner = await con.waitFor(/wkvm: Linux [^\n]*root ext4[^\n]*\n/, BOOT_MS, from);
      await con.waitFor(PROMPT, BOOT_MS, from + banner.index + banner[0].length);
      expect(vm.proc.exitCode, 'wkvm still runs after the guest rebooted').toBeNull();
      await con.ok('dmesg -n 1');
      expect((await con.ok('cat /persist.txt')).trim(), 'the file after the reboot').toBe(token);
      await powerOff(vm);
      // busybox init's shutdown remounts / read-only: ext4 checkpoints its journal and marks itself clean
      const fsck = run('e2fsck', ['-fn', img]);
      expect(fsck.status, `e2fsck -fn on the image after poweroff:\n${fsck.stdout}${fsck.stderr}`).toBe(0);
      const cat = run('debugfs', ['-R', 'cat /persist.txt', img]);
      expect(cat.stdout.trim(), `debugfs cat /persist.txt: ${cat.stderr}`).toBe(token);
    }, T);
  });

  describe.skipIf(!havePasst)('virtio-net, user networking (passt)', () => {
    it('DHCP, then the guest fetches files from a host server through the gateway address', async () => {
      const blob = randomBytes(300_000);
      const hello = `hello from the host ${randomBytes(8).toString('hex')}\n`;
      const server: HttpServer = createHttpServer((req, res) => {
        if (req.url === '/blob') res.end(blob);
        else if (req.url === '/hello.txt') res.end(hello);
        else { res.statusCode = 404; res.end(); }
      });
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
      cleanups.push(() => new Promise<void>((res) => { server.closeAllConnections(); server.close(() => res()); }));
      const port = (server.address() as AddressInfo).port;

      const vm = startWkvm('wkvm -nic user', ['-nic', 'user']);
      await shell(vm);
      const { con } = vm;
      const gw = await dhcp(con);
      expect(await con.exec(`wget -q -T 20 -O- http://${gw}:${port}/hello.txt`, 60_000),
        `wget http://${gw}:${port}/hello.txt (the host's 127.0.0.1:${port})`).toEqual({ out: hello, rc: 0 });
      const got = await con.ok(`wget -q -T 20 -O /tmp/blob http://${gw}:${port}/blob && ls -l /tmp/blob && sha256sum /tmp/blob`, 60_000);
      expect(got).toMatch(new RegExp(` ${blob.length} `));
      expect(guestHash(got, '/tmp/blob'), 'the 300 kB file the guest fetched').toBe(sha256(blob));
      await powerOff(vm);
    }, T);

    it('hostfwd: the host reaches a web server in the guest', async () => {
      const hostPort = await freePort();
      const vm = startWkvm('wkvm hostfwd', ['-netdev', `user,id=n0,hostfwd=tcp::${hostPort}-:80`, '-device', 'virtio-net-device,netdev=n0']);
      await shell(vm);
      const { con } = vm;
      await dhcp(con);
      const text = `guest-page-${randomBytes(8).toString('hex')}`;
      await httpd(con, text);
      let body: string | undefined;
      let lastError: unknown;
      for (const t0 = Date.now(); Date.now() - t0 < 20_000;) {
        try {
          const r = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(5000) });
          body = await r.text();
          if (r.ok) break;
          lastError = `HTTP ${r.status}`;
        } catch (e) { lastError = e; }
        await sleep(300);
      }
      expect(body, `GET http://127.0.0.1:${hostPort}/ (forwarded to the guest's port 80): ${String(lastError)}`).toBe(`${text}\n`);
      await powerOff(vm);
    }, T);
  });

  describe('virtio-net, -netdev socket', () => {
    it('two wkvm guests on one Ethernet (listen / connect): ping and HTTP both ways', async () => {
      const port = await freePort();
      const a = startWkvm('wkvm A', ['-netdev', `socket,id=n0,listen=127.0.0.1:${port}`, '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:00:01']);
      await shell(a);
      const b = startWkvm('wkvm B', ['-netdev', `socket,id=n0,connect=127.0.0.1:${port}`, '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:00:02']);
      await shell(b);
      expect((await a.con.ok('cat /sys/class/net/eth0/address')).trim()).toBe('52:54:00:00:00:01');
      expect((await b.con.ok('cat /sys/class/net/eth0/address')).trim()).toBe('52:54:00:00:00:02');
      await staticIp(a.con, '10.0.0.1/24');
      await staticIp(b.con, '10.0.0.2/24');
      await exchange(a, '10.0.0.1', b, '10.0.0.2');
      await powerOff(b);
      await powerOff(a);
    }, T);

    it.skipIf(!haveQemu)('a wkvm guest and a QEMU guest on one Ethernet: ping and HTTP both ways', async () => {
      const port = await freePort();
      const w = startWkvm('wkvm', ['-netdev', `socket,id=n0,listen=127.0.0.1:${port}`, '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:00:11']);
      await shell(w);
      const q = startProcess('qemu', QEMU!, [
        '-M', 'virt', '-nographic', '-m', '256M', '-kernel', KERNEL, '-initrd', INITRD, '-append', 'console=ttyS0',
        '-netdev', `socket,id=n0,connect=127.0.0.1:${port}`, '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:00:12',
      ]);
      await shell(q);
      await staticIp(w.con, '10.0.0.1/24');
      await staticIp(q.con, '10.0.0.2/24');
      await exchange(w, '10.0.0.1', q, '10.0.0.2');
      await powerOff(w);
    }, T);
  });

  it('virtio-rng gives random bytes on /dev/hwrng; virtio-console echoes through a chardev socket (hvc0)', async () => {
    const dir = tempDir();
    const sock = join(dir, 'hvc.sock');
    const vm = startWkvm('wkvm rng+console', [
      '-device', 'virtio-rng-device',
      '-chardev', `socket,id=c0,path=${sock},server=on,wait=off`, '-device', 'virtconsole,chardev=c0',
    ]);
    await shell(vm);
    const { con } = vm;

    expect(await con.ok('cat /sys/class/misc/hw_random/rng_current'), 'the current hwrng').toMatch(/virtio_rng/);
    const read32 = async (): Promise<string> => {
      const out = await con.ok('od -An -tx1 -N32 -v /dev/hwrng');
      const hex = out.replace(/\s+/g, '');
      expect(hex, `32 bytes from /dev/hwrng:\n${out}`).toMatch(/^[0-9a-f]{64}$/);
      return hex;
    };
    const r1 = await read32();
    const r2 = await read32();
    expect(r1, 'all zero').not.toBe('0'.repeat(64));
    expect(r2, 'two reads of /dev/hwrng differ').not.toBe(r1);

    // The virtio console is hvc0 (the guest kernel has no SBI hvc console). The hvc driver resets a tty's termios on its last
    // close, so `stty -F` alone does not stick: stty runs on the descriptor that tr then reads.
    const HVC = '/dev/hvc0';
    const peer: Socket = createConnection(sock);
    cleanups.push(() => { peer.destroy(); });
    await new Promise<void>((res, rej) => { peer.once('connect', res); peer.once('error', rej); });
    let got = '';
    peer.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    const waitGot = (want: string, what: string) => new Promise<void>((res, rej) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        if (got.includes(want)) { clearInterval(poll); res(); }
        else if (Date.now() - t0 > 20_000) { clearInterval(poll); rej(new Error(`${what}: no ${JSON.stringify(want)} from ${HVC} within 20 s; got ${JSON.stringify(got)}`)); }
      }, 20);
    });
    // guest -> host
    const token = `to-host-${randomBytes(6).toString('hex')}`;
    await con.ok(`echo ${token} > ${HVC}`);
    await waitGot(`${token}\r\n`, 'the guest writes to the virtio console');
    expect(got, 'what the guest wrote to the virtio console (the tty turns \\n into \\r\\n)').toBe(`${token}\r\n`);
    got = '';
    // host -> guest -> host
    const from = con.out.length;
    await con.ok(`( (stty raw -echo && echo HVC''RAW >&3 && exec tr a-z A-Z) 3>&1 < ${HVC} > ${HVC} & )`);
    await con.waitFor(/HVCRAW/, 20_000, from);
    peer.write('hello\n');
    await waitGot('HELLO\n', 'the guest echoes through tr');
    expect(got, 'what the guest sent back through the virtio console').toBe('HELLO\n');
    peer.destroy();
    await powerOff(vm);
  }, T);

  it('-chardev stdio puts the virtio console on the terminal: the shell runs on it with console=hvc0', async () => {
    const vm = startWkvm('wkvm-hvc-stdio', ['-chardev', 'stdio,id=c0', '-device', 'virtconsole,chardev=c0'], { append: 'console=hvc0' });
    await shell(vm);
    expect((await vm.con.ok('tty')).trim(), tail(vm)).toBe('/dev/hvc0');
    expect((await vm.con.ok('echo $((6*7))')).trim()).toBe('42');
    await powerOff(vm, false);
  }, T);
});
