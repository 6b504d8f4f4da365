/**
 * The I/O section of `npm run bench`: virtio-blk and virtio-net throughput of
 * the Linux guest (1 vCPU, 256M) on wkvm and on qemu-system-riscv64 -M virt,
 * same kernel and initramfs, driven through the serial console.
 *
 * - virtio-blk: a fresh 64 MiB raw scratch image as /dev/vda; busybox
 *   `dd bs=1M count=64` with oflag=direct / iflag=direct (or, if the guest's
 *   dd lacks them, conv=fsync and drop_caches between); MiB/s from dd's own
 *   byte count and seconds.
 * - virtio-net through passt (user networking): wkvm runs passt itself
 *   (`-nic user,hostfwd=...`); for QEMU this module starts passt with the
 *   same options and connects QEMU with `-netdev stream`. Guest to host: the
 *   host fetches a 64 MiB file from the guest's busybox httpd through the
 *   hostfwd port (timed on the host). Host to guest: the guest wgets 64 MiB
 *   from a Node HTTP server on the host's 127.0.0.1 through the gateway
 *   address (passt maps it to the host's loopback), timed by busybox `time`.
 * - round trip: the host makes 100 sequential HTTP GETs (a new connection
 *   each, as busybox httpd closes after every reply) of a 3-byte file from
 *   the guest's httpd through hostfwd: mean and median ms.
 *
 * Beside each throughput, the share of the guest's CPU that was busy while it
 * ran (/proc/stat before and after): near 100% the guest's vCPU is the limit
 * (instruction speed), lower the device, the VMM's I/O loop or the host side.
 * QEMU gets `-device virtio-blk-device` (virtio-mmio): its `-drive if=virtio`
 * makes a virtio-blk-pci, and the guest kernel has no PCI. QEMU 7.2's
 * virtio-mmio is the legacy interface by default; wkvm's is virtio 1.x.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { median } from './timing.js';

const MiB = 1 << 20;
const SIZE_MIB = 64;
const GUEST_PORT = 8080;
const RTT_REQUESTS = 100;
/** dd write + read rounds on the disk (the figure is their median). */
const BLK_ROUNDS = 3;
const PROMPT = /\n[^\n]*# $/;

export interface IoOptions {
  root: string;       // the repository (bin/wkvm.js)
  linuxDir: string;   // Image, rootfs.cpio.gz
  qemu?: string;      // qemu-system-riscv64, if installed
}

/** One VMM's figures; null where a measurement failed (see `errors`). */
export interface IoFigures {
  blkMode: string;
  blkWriteMiBs: number | null;
  blkReadMiBs: number | null;
  /** Each round's MiB/s (the figures above are their median). */
  blkWriteSamples: number[];
  blkReadSamples: number[];
  netGuestToHostMiBs: number | null;
  netHostToGuestMiBs: number | null;
  rttMeanMs: number | null;
  rttMedianMs: number | null;
  /**
   * Share of the guest's CPU time not idle (nor in iowait) while each
   * measurement ran, from /proc/stat before and after: near 1 means the
   * guest's one vCPU was the limit, not the device or the host side.
   */
  guestBusy: { blkWrite: number | null; blkRead: number | null; guestToHost: number | null; hostToGuest: number | null };
  bootMs: number | null;
  sectionMs: number;
  errors: string[];
}

const which = (cmd: string): string | undefined =>
  (spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout ?? '').trim() || undefined;

/** A tiny expect(1) over a VMM's serial console (the idea of test/linux.test.ts's Console). */
class Console {
  out = '';
  private waiters: (() => void)[] = [];
  private ended: Error | undefined;
  constructor(output: Readable, private readonly input: Writable, readonly name: string) {
    output.on('data', (d: Buffer) => {
      this.out += d.toString('latin1');
      this.wake();
    });
  }

  /** The VMM is gone: every wait fails at once with `why`. */
  end(why: Error): void {
    this.ended ??= why;
    this.wake();
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** Resolve with the match of `re` in the output from `from` on; reject after timeoutMs or when the VMM ends. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const poll = (): void => {
        const m = re.exec(this.out.slice(from));
        if (m) { clearTimeout(timer); resolve(m); return; }
        if (this.ended) { clearTimeout(timer); reject(this.ended); return; }
        this.waiters.push(poll);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== poll);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${re}; console tail: ${JSON.stringify(this.out.slice(-300))}`));
      }, timeoutMs);
      poll();
    });
  }

  send(line: string): void { if (!this.ended) this.input.write(line + '\n'); }

  /** Type a command and return what it printed up to the next prompt (the echoed command included). */
  async run(cmd: string, timeoutMs = 60_000): Promise<string> {
    const from = this.out.length;
    this.send(cmd);
    await this.waitFor(PROMPT, timeoutMs, from);
    return this.out.slice(from).replace(/\r/g, '');
  }
}

/** A free TCP port on 127.0.0.1 (for hostfwd; passt binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The host's HTTP server for host-to-guest transfers: /big is SIZE_MIB MiB, anything else 3 bytes. */
function hostServer(): Promise<http.Server> {
  const chunk = Buffer.alloc(MiB, 0x61);
  const server = http.createServer((req, res) => {
    if (req.url !== '/big') { res.end('ok\n'); return; }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(SIZE_MIB * MiB) });
    let left = SIZE_MIB;
    const pump = (): void => {
      while (left > 0) {
        left--;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** GET a URL on a new connection; resolves with the body length and the time to the last byte. */
function timedGet(url: string, timeoutMs: number): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => { bytes += d.length; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        else resolve({ bytes, ms: performance.now() - t0 });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no progress for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A folder passt (which drops from root to nobody) can create its socket in. */
function passtDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wkvm-bench-passt-'));
  chmodSync(dir, 0o1777);
  return dir;
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  while (!existsSync(path)) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`passt did not create ${path} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** busybox time's "real\t0m 1.23s" (or "real 1.23" with -p), in seconds. */
function parseReal(text: string): number | undefined {
  const m = /^real\s+(?:(\d+)m\s*)?([\d.]+)s?$/m.exec(text);
  return m ? Number(m[1] ?? 0) * 60 + Number(m[2]) : undefined;
}

/** busybox dd's "67108864 bytes (64.0MB) copied, 0.5238 seconds, 122.2MB/s": MiB/s. */
function parseDd(text: string): number | undefined {
  const m = /(\d+) bytes \([^)]*\) copied, ([\d.]+) seconds/.exec(text);
  if (!m || Number(m[1]) !== SIZE_MIB * MiB) return undefined;
  return Number(m[1]) / MiB / Number(m[2]);
}

/** The busy share of the guest CPU between the first and the last `head -1 /proc/stat` line in `text`. */
function guestBusy(text: string): number | undefined {
  const lines = [...text.matchAll(/^cpu +(\d+(?: +\d+)+)$/gm)].map((m) => m[1].split(/ +/).map(Number));
  if (lines.length < 2) return undefined;
  const a = lines[0], b = lines[lines.length - 1];
  const total = b.reduce((x, y) => x + y, 0) - a.reduce((x, y) => x + y, 0);
  const idle = (b[3] - a[3]) + ((b[4] ?? 0) - (a[4] ?? 0)); // idle + iowait
  return total > 0 ? 1 - idle / total : undefined;
}

const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

const STAT = 'head -1 /proc/stat';

type Vmm = 'wkvm' | 'qemu';

/** Boot one VMM with the scratch disk and a NIC, measure everything in one session. */
async function measure(vmm: Vmm, o: IoOptions, passt: string | undefined, host: http.Server): Promise<IoFigures> {
  const t0 = performance.now();
  const f: IoFigures = {
    blkMode: '', blkWriteMiBs: null, blkReadMiBs: null, blkWriteSamples: [], blkReadSamples: [], netGuestToHostMiBs: null, netHostToGuestMiBs: null,
    rttMeanMs: null, rttMedianMs: null, bootMs: null, sectionMs: 0, errors: [],
    guestBusy: { blkWrite: null, blkRead: null, guestToHost: null, hostToGuest: null },
  };
  const tmp = mkdtempSync(join(tmpdir(), 'wkvm-bench-io-'));
  const disk = join(tmp, 'scratch.img');
  writeFileSync(disk, '');
  truncateSync(disk, SIZE_MIB * MiB);
  const hp = await freePort();
  const image = join(o.linuxDir, 'Image'), initrd = join(o.linuxDir, 'rootfs.cpio.gz');
  const common = ['-smp', '1', '-m', '256M', '-kernel', image, '-initrd', initrd, '-append', 'console=ttyS0'];
  let child: ChildProcessWithoutNullStreams | undefined;
  let passtChild: ChildProcessWithoutNullStreams | undefined;
  let pdir: string | undefined;
  let stderr = '';
  let con: Console | undefined;
  try {
    let cmd: string, args: string[];
    if (vmm === 'wkvm') {
      cmd = process.execPath;
      args = [join(o.root, 'bin', 'wkvm.js'), 'run', ...common, '-drive', `file=${disk},format=raw,if=virtio`];
      if (passt) args.push('-nic', `user,hostfwd=tcp:127.0.0.1:${hp}-:${GUEST_PORT}`);
    } else {
      cmd = o.qemu!;
      // the guest kernel has no PCI: QEMU's if=virtio would make a virtio-blk-pci, so name the virtio-mmio device
      args = ['-M', 'virt', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', ...common,
        '-drive', `file=${disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0'];
      if (passt) {
        // the passt command line wkvm's -nic user,hostfwd=... runs (src/netdev/user.ts)
        pdir = passtDir();
        const sock = join(pdir, 'passt.sock');
        passtChild = spawn(passt, ['-f', '-1', '-q', '-s', sock, '-t', `127.0.0.1/${hp}:${GUEST_PORT}`, '-u', 'none'], { stdio: 'pipe' });
        passtChild.stdout.resume();
        passtChild.stderr.resume();
        await waitForFile(sock, 5000);
        args.push('-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`, '-device', 'virtio-net-device,netdev=n0');
      }
    }
    const tBoot = performance.now();
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = p;
    p.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    const c = new Console(p.stdout, p.stdin, vmm);
    con = c;
    p.stdin.on('error', () => undefined); // EPIPE once it is gone: 'close' says why
    p.on('close', (code, sig) =>
      c.end(new Error(`${vmm} exited (${code ?? sig}): ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no message'}`)));
    const run = (cmd: string, ms?: number): Promise<string> => c.run(cmd, ms);
    await c.waitFor(/# $/, 120_000);
    f.bootMs = performance.now() - tBoot;

    // 1. virtio-blk
    const help = await run('busybox dd --help 2>&1 | grep -o direct | head -1');
    const direct = /^direct$/m.test(help) && /ok0/.test(await run('dd if=/dev/zero of=/dev/vda bs=1M count=1 oflag=direct 2>/dev/null; echo ok$?'));
    f.blkMode = direct ? 'dd oflag=direct / iflag=direct' : 'dd conv=fsync, drop_caches before the read';
    const ddFlags = direct ? ['oflag=direct', 'iflag=direct'] : ['conv=fsync', ''];
    const writes: number[] = [], reads: number[] = [], wBusy: number[] = [], rBusy: number[] = [];
    for (let i = 0; i < BLK_ROUNDS; i++) {
      const wr = await run(`${STAT}; dd if=/dev/zero of=/dev/vda bs=1M count=${SIZE_MIB} ${ddFlags[0]}; ${STAT}`, 300_000);
      const w = parseDd(wr), wb = guestBusy(wr);
      if (w === undefined) f.errors.push(`blk write: ${wr.trim().split('\n').slice(-3).join(' / ')}`); else writes.push(w);
      if (wb !== undefined) wBusy.push(wb);
      await run('sync; echo 3 > /proc/sys/vm/drop_caches');
      const rd = await run(`${STAT}; dd if=/dev/vda of=/dev/null bs=1M count=${SIZE_MIB} ${ddFlags[1]}; ${STAT}`, 300_000);
      const r = parseDd(rd), rb = guestBusy(rd);
      if (r === undefined) f.errors.push(`blk read: ${rd.trim().split('\n').slice(-3).join(' / ')}`); else reads.push(r);
      if (rb !== undefined) rBusy.push(rb);
    }
    f.blkWriteSamples = writes;
    f.blkReadSamples = reads;
    if (writes.length > 0) f.blkWriteMiBs = median(writes);
    if (reads.length > 0) f.blkReadMiBs = median(reads);
    f.guestBusy.blkWrite = mean(wBusy);
    f.guestBusy.blkRead = mean(rBusy);

    // 2. virtio-net through passt
    if (passt) {
      await run('udhcpc -i eth0 -n -q -t 5 -T 2 >/dev/null 2>&1; echo dhcp$?', 60_000);
      const route = await run('ip route');
      const gw = /default via (\d+\.\d+\.\d+\.\d+)/.exec(route)?.[1];
      if (!gw) throw new Error(`${vmm}: no default route after udhcpc: ${route.trim().split('\n').slice(1).join(' / ')}`);
      await run(`mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/big bs=1M count=${SIZE_MIB} 2>/dev/null && echo ok > /tmp/www/tiny`, 120_000);
      await run(`httpd -p ${GUEST_PORT} -h /tmp/www; echo httpd$?`);
      const base = `http://127.0.0.1:${hp}`;
      // guest to host: the host fetches the guest's file through hostfwd
      try {
        await timedGet(`${base}/tiny`, 30_000); // warm up (ARP, passt's flow tables)
        const before = await run(STAT);
        const r = await timedGet(`${base}/big`, 60_000);
        f.guestBusy.guestToHost = guestBusy(before + await run(STAT)) ?? null;
        if (r.bytes !== SIZE_MIB * MiB) throw new Error(`got ${r.bytes} bytes, expected ${SIZE_MIB * MiB}`);
        f.netGuestToHostMiBs = r.bytes / MiB / (r.ms / 1000);
      } catch (e) { f.errors.push(`guest-to-host: ${(e as Error).message}`); }
      // host to guest: the guest fetches the host's file through the gateway address
      const port = (host.address() as net.AddressInfo).port;
      const out = await run(`${STAT}; time wget -q -O /dev/null http://${gw}:${port}/big; echo wget$?; ${STAT}`, 600_000);
      const s = parseReal(out);
      f.guestBusy.hostToGuest = guestBusy(out) ?? null;
      if (/wget0/.test(out) && s) f.netHostToGuestMiBs = SIZE_MIB / s;
      else f.errors.push(`host-to-guest: ${out.trim().split('\n').slice(1, 4).join(' / ')}`);
      // round trip: 100 small GETs, each on a new connection
      try {
        const t: number[] = [];
        for (let i = 0; i < RTT_REQUESTS + 3; i++) {
          const r = await timedGet(`${base}/tiny`, 30_000);
          if (i >= 3) t.push(r.ms); // the first few warm up
        }
        f.rttMeanMs = t.reduce((a, b) => a + b, 0) / t.length;
        f.rttMedianMs = median(t);
      } catch (e) { f.errors.push(`round trip: ${(e as Error).message}`); }
    }
  } catch (e) {
    f.errors.push((e as Error).message);
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      // power off (both VMMs then exit, and wkvm ends its passt); kill what does not
      const closed = new Promise((r) => child!.once('close', r));
      con?.send('poweroff -f');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => { timer = setTimeout(r, 10_000); })]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (passtChild && passtChild.exitCode === null && passtChild.signalCode === null) passtChild.kill('SIGKILL');
    if (pdir) rmSync(pdir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
  f.sectionMs = performance.now() - t0;
  return f;
}

const fmt = (v: number | null, d = 1): string => (v === null ? 'n/a' : v.toFixed(d));
const ratio = (a: number | null, b: number | null | undefined): string => (a && b ? (a / b).toFixed(2) + 'x' : 'n/a');

/**
 * The I/O section: prints "== virtio-blk ..." and "== virtio-net ..." lines
 * (wkvm, qemu and the wkvm/qemu ratio) and returns the figures for the
 * results JSON, or null (with the reason printed) when it cannot run.
 */
export async function ioBench(o: IoOptions): Promise<unknown> {
  const image = join(o.linuxDir, 'Image'), initrd = join(o.linuxDir, 'rootfs.cpio.gz');
  if (!existsSync(image) || !existsSync(initrd)) {
    console.log(`== virtio-blk / virtio-net I/O: skipped (no Linux guest in ${o.linuxDir}; build it with npm run guest:linux)`);
    return null;
  }
  const passt = which('passt');
  if (!passt) console.log('== virtio-net: skipped (no passt on PATH: Debian package passt); virtio-blk only');
  if (!o.qemu) console.log('== I/O: qemu-system-riscv64 is not installed: wkvm figures only, no comparison');
  const t0 = performance.now();
  const host = await hostServer();
  let w: IoFigures, q: IoFigures | undefined;
  try {
    w = await measure('wkvm', o, passt, host);
    if (o.qemu) q = await measure('qemu', o, passt, host);
  } finally {
    await new Promise((r) => host.close(r));
  }
  const sectionMs = performance.now() - t0;
  const pct = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : `${Math.round(v * 100)}%`);
  type Busy = keyof IoFigures['guestBusy'];
  const row = (label: string, key: keyof IoFigures, unit: string, d = 1, busy?: Busy): void => {
    const a = w[key] as number | null, b = q ? (q[key] as number | null) : undefined;
    console.log(`${label}: wkvm ${fmt(a, d)} ${unit}` + (q ? `, qemu ${fmt(b ?? null, d)} ${unit} (wkvm/qemu ${ratio(a, b)})` : '') +
      (busy ? `; guest CPU busy wkvm ${pct(w.guestBusy[busy])}` + (q ? `, qemu ${pct(q.guestBusy[busy])}` : '') : ''));
  };
  console.log(`== virtio-blk sequential I/O, 1 vCPU, ${SIZE_MIB} MiB scratch raw image as /dev/vda (busybox ${w.blkMode}, bs=1M, median of ${BLK_ROUNDS})`);
  row('write', 'blkWriteMiBs', 'MiB/s', 1, 'blkWrite');
  row('read ', 'blkReadMiBs', 'MiB/s', 1, 'blkRead');
  if (passt) {
    console.log(`== virtio-net through passt (user networking), 1 vCPU, ${SIZE_MIB} MiB over HTTP`);
    row('guest to host (host GETs from guest httpd via hostfwd)', 'netGuestToHostMiBs', 'MiB/s', 1, 'guestToHost');
    row('host to guest (guest wget from host via gateway)      ', 'netHostToGuestMiBs', 'MiB/s', 1, 'hostToGuest');
    console.log(`== virtio-net round trip: ${RTT_REQUESTS} sequential HTTP GETs of a 3-byte file from the guest's httpd (new connection each)`);
    row('mean  ', 'rttMeanMs', 'ms', 2);
    row('median', 'rttMedianMs', 'ms', 2);
  }
  for (const [name, f] of [['wkvm', w], ['qemu', q]] as const) {
    for (const e of f?.errors ?? []) console.log(`${name}: ${e}`);
  }
  console.log(`(I/O section: ${(sectionMs / 1000).toFixed(1)} s; boots to prompt wkvm ${fmt(w.bootMs && w.bootMs / 1000, 2)} s` +
    (q ? `, qemu ${fmt(q.bootMs && q.bootMs / 1000, 2)} s)` : ')'));
  return {
    unit: { throughput: 'MiB/s (2^20 bytes per second)', rtt: 'ms' },
    sizeMiB: SIZE_MIB, rttRequests: RTT_REQUESTS, blkMode: w.blkMode, passt: passt ?? null,
    sectionMs, wkvm: w, qemu: q ?? null,
  };
}
