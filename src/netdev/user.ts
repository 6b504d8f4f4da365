/**
 * `-netdev user`: user-mode networking through passt (no root needed).
 *
 * wkvm runs `passt -f -1 -q -s SOCK [-t|-u SPEC]...` with SOCK in a private
 * temporary folder of mode 1777 (passt started as root drops to `nobody`,
 * which must be able to create its socket there), waits for the socket, and
 * connects to it: passt then speaks the 4-byte length framing. Checks that
 * the socket belongs to passt's user (the folder is world-writable). passt
 * serves one connection (-1) and exits when it closes, so it also goes away
 * if wkvm is killed; close() and process exit also kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, lstat, mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WkvmError } from '../errors.js';
import { settle } from './netdev.js';
import { FramedStreamBackend, describeError } from './stream.js';

export interface Hostfwd {
  proto: 'tcp' | 'udp';
  /** Host address to bind; undefined = all. */
  hostAddr?: string;
  hostPort: number;
  /** QEMU's guest address; passt always forwards to the guest's one address, so it is only checked. */
  guestAddr?: string;
  guestPort: number;
}

const HOSTFWD_FORM = '[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp::8080-:80';

function parsePort(s: string, what: string, ctx: string): number {
  if (!/^\d{1,5}$/.test(s)) throw new WkvmError(`hostfwd '${ctx}': ${what} port '${s}' is not a number`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw new WkvmError(`hostfwd '${ctx}': ${what} port ${n} is out of range (1-65535)`);
  return n;
}

/** QEMU's `hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT` (HOSTADDR may be an IPv6 address in brackets). */
export function parseHostfwd(s: string): Hostfwd {
  const m = /^([^:]*):(\[[^\]]*\]|[^:[\]]*):([^:-]*)-([^:]*):([^:]*)$/.exec(s);
  if (!m) throw new WkvmError(`bad hostfwd '${s}' (expected ${HOSTFWD_FORM})`);
  const [, proto, rawHost, hport, gaddr, gport] = m;
  if (proto !== '' && proto !== 'tcp' && proto !== 'udp') {
    throw new WkvmError(`hostfwd '${s}': unknown protocol '${proto}' (expected tcp or udp)`);
  }
  const hostAddr = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (hostAddr !== '' && net.isIP(hostAddr) === 0) {
    throw new WkvmError(`hostfwd '${s}': host address '${hostAddr}' is not an IP address`);
  }
  if (gaddr !== '' && !net.isIPv4(gaddr)) {
    throw new WkvmError(`hostfwd '${s}': guest address '${gaddr}' is not an IPv4 address`);
  }
  const r: Hostfwd = {
    proto: proto === 'udp' ? 'udp' : 'tcp',
    hostPort: parsePort(hport, 'host', s),
    guestPort: parsePort(gport, 'guest', s),
  };
  if (hostAddr !== '') r.hostAddr = hostAddr;
  if (gaddr !== '') r.guestAddr = gaddr;
  return r;
}

export interface UserBackendOptions {
  id: string;
  hostfwd?: readonly Hostfwd[];
  /** ipv4=off / ipv6=off (QEMU's options): passt -6 / -4. */
  ipv4?: boolean;
  ipv6?: boolean;
  /** The passt binary (default `passt`, looked up in env.PATH). */
  passt?: string;
  /** Environment for passt (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra passt arguments (e.g. ['--mtu', '1500']). */
  passtArgs?: readonly string[];
  /** How long passt may take to create its socket (default 5000 ms). */
  startTimeoutMs?: number;
}

/** passt's command line for these options and socket path. */
export function passtCommandLine(o: UserBackendOptions, socketPath: string): string[] {
  const args = ['-f', '-1', '-q', '-s', socketPath];
  if (o.ipv4 === false && o.ipv6 === false) throw new WkvmError(`netdev ${o.id}: ipv4=off and ipv6=off leave no network`);
  if (o.ipv4 === false) args.push('-6');
  if (o.ipv6 === false) args.push('-4');
  const fwd = o.hostfwd ?? [];
  for (const f of fwd) {
    const addr = f.hostAddr ? `${f.hostAddr}/` : '';
    args.push(f.proto === 'udp' ? '-u' : '-t', `${addr}${f.hostPort}:${f.guestPort}`);
  }
  // passt mirrors forwarded TCP ports to UDP unless told otherwise; QEMU does not
  if (fwd.some((f) => f.proto === 'tcp') && !fwd.some((f) => f.proto === 'udp')) args.push('-u', 'none');
  args.push(...(o.passtArgs ?? []));
  return args;
}

// ---- passt children that must not outlive this process ----

const liveChildren = new Map<ChildProcess, string>();

function killChildrenOnExit(): void {
  for (const [child, dir] of liveChildren) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  liveChildren.clear();
}

function track(child: ChildProcess, dir: string): void {
  if (liveChildren.size === 0) process.on('exit', killChildrenOnExit);
  liveChildren.set(child, dir);
}

function untrack(child: ChildProcess): void {
  if (!liveChildren.delete(child)) return;
  if (liveChildren.size === 0) process.off('exit', killChildrenOnExit);
}

/** Whether the 'exit' hook is installed (for tests). */
export function exitHookInstalled(): boolean {
  return process.listeners('exit').includes(killChildrenOnExit);
}

/** passt's stderr lines that say nothing: no syslog here, the root notice, its start-up banner. */
const NOISE = [
  /^Failed to send \d+ bytes to syslog/, /^Don't run as root/, /^UNIX domain socket bound at/,
  /^You can now start qemu/, /^kvm \.\.\./, /^or qrap/, /^\.\/qrap /,
];

function meaningful(line: string): boolean {
  const l = line.trim();
  return l !== '' && !NOISE.some((re) => re.test(l));
}

const STDERR_KEEP = 16 << 10;
const STOP_TIMEOUT_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class UserNetBackend extends FramedStreamBackend {
  readonly ready: Promise<void>;
  private child: ChildProcess | undefined;
  private dir: string | undefined;
  private stderr = '';
  private spawnError: NodeJS.ErrnoException | undefined;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private childExit: Promise<void> = Promise.resolve();
  private reportedLoss = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: UserBackendOptions) {
    super(opts.id, 'user');
    this.ready = settle(this.start());
  }

  /** passt's process id (undefined if it never started). */
  get pid(): number | undefined { return this.child?.pid; }
  /** Whether passt has exited (or never started). */
  get exited(): boolean { return !this.child?.pid || this.exitInfo !== undefined; }
  /** The socket passt listens on. */
  get socketPath(): string | undefined { return this.dir && join(this.dir, 'passt.sock'); }

  /** passt's first informative stderr line ('' if none). */
  stderrLine(): string {
    return this.stderr.split('\n').find(meaningful)?.trim() ?? '';
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  protected peerGone(error: Error | undefined, warned: boolean): void {
    if (warned) this.reportedLoss = true;
    // passt's exit usually follows at once and says more: give it a moment
    setTimeout(() => this.reportLoss(error ? describeError(error) : 'closed'), 100).unref();
  }

  private reportLoss(why: string): void {
    if (this.closed || this.reportedLoss) return;
    this.reportedLoss = true;
    if (this.exitInfo) {
      const line = this.stderrLine();
      this.warn(`passt exited (${this.describeExit()})${line ? `: ${line}` : ''}; the network is down`);
    } else {
      this.warn(`connection to passt lost (${why}); the network is down`);
      void this.stopChild();
    }
  }

  private describeExit(): string {
    const e = this.exitInfo;
    if (!e) return 'running';
    return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
  }

  private fail(message: string): WkvmError {
    return new WkvmError(`netdev ${this.id}: ${message}`);
  }

  private async start(): Promise<void> {
    passtCommandLine(this.opts, 'SOCK'); // validate before creating anything
    try {
      await this.launch();
    } catch (e) {
      await this.cleanup();
      if (e instanceof WkvmError) throw e;
      throw this.fail(describeError(e));
    }
  }

  private async launch(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'wkvm-passt-'));
    this.dir = dir;
    await chmod(dir, 0o1777);
    const path = join(dir, 'passt.sock');
    const bin = this.opts.passt ?? 'passt';
    if (this.closed) throw this.fail('closed while starting passt');
    const child = spawn(bin, passtCommandLine(this.opts, path), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: this.opts.env ?? process.env,
    });
    this.child = child;
    this.childExit = new Promise((resolve) => {
      child.once('error', (e: NodeJS.ErrnoException) => { this.spawnError = e; resolve(); });
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        untrack(child);
        resolve();
        if (this.linkUp || this.sock) setTimeout(() => this.reportLoss('passt exited'), 100).unref();
      });
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < STDERR_KEEP) this.stderr += d.toString('utf8').slice(0, STDERR_KEEP - this.stderr.length);
    });
    if (child.pid !== undefined) track(child, dir);

    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 5000);
    for (;;) {
      await sleep(10);
      if (this.closed) throw this.fail('closed while starting passt');
      if (this.spawnError) {
        if (this.spawnError.code === 'ENOENT') {
          const which = this.opts.passt ? ` (${bin} not found)` : '';
          throw new WkvmError(`passt is not installed${which}: apt-get install passt (needed for -netdev user)`);
        }
        throw this.fail(`cannot run ${bin}: ${describeError(this.spawnError)}`);
      }
      if (this.exitInfo) {
        await sleep(20); // let the rest of its stderr arrive
        const line = this.stderrLine();
        throw this.fail(`passt exited (${this.describeExit()}) before it was ready${line ? `: ${line}` : ''}`);
      }
      if (Date.now() > deadline) {
        throw this.fail(`passt did not create its socket within ${(this.opts.startTimeoutMs ?? 5000) / 1000} s`);
      }
      if (!existsSync(path)) continue;
      const sock = await this.tryConnect(path);
      if (!sock) continue;
      if (!(await this.ownedByPasst(path))) {
        sock.destroy();
        throw this.fail(`${path} does not belong to passt's user: refusing it`);
      }
      if (this.closed) { sock.destroy(); throw this.fail('closed while starting passt'); }
      this.attach(sock);
      return;
    }
  }

  /** A connection, or undefined while passt has not started listening yet. */
  private tryConnect(path: string): Promise<net.Socket | undefined> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ path });
      s.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'EAGAIN') resolve(undefined);
        else reject(this.fail(`cannot connect to passt at ${path}: ${describeError(e)}`));
      });
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
    });
  }

  /** The socket's owner is passt's effective user (Linux: /proc; elsewhere not checked). */
  private async ownedByPasst(path: string): Promise<boolean> {
    const st = await lstat(path);
    if (!st.isSocket()) return false;
    let status: string;
    try {
      status = readFileSync(`/proc/${this.child!.pid}/status`, 'utf8');
    } catch {
      return true;
    }
    const m = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
    return !m || Number(m[1]) === st.uid;
  }

  private async stopChild(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || this.exitInfo || this.spawnError) return;
    child.kill('SIGTERM');
    const t = sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const);
    if ((await Promise.race([this.childExit.then(() => 'exited' as const), t])) === 'timeout') {
      child.kill('SIGKILL');
      await Promise.race([this.childExit, sleep(STOP_TIMEOUT_MS)]);
    }
  }

  private async cleanup(): Promise<void> {
    await this.stopChild();
    if (this.child) untrack(this.child);
    if (this.dir) {
      const d = this.dir;
      await rm(d, { recursive: true, force: true }).catch(() => {});
    }
  }

  private async shutdown(): Promise<void> {
    this.markClosed();
    this.dropPeer();
    await this.ready.catch(() => {});
    await this.cleanup();
  }
}
