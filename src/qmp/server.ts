/**
 * QMP servers for a VM (QEMU's -qmp): listen on Unix or TCP sockets, one
 * session per client, the VM's events broadcast to every negotiated client.
 * An adapter over the public VirtualMachine API: an embedder can serve QMP
 * for a VM of its own the same way the CLI does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { VirtualMachine, RunState } from '../vm.js';
import { WkvmError } from '../errors.js';
import { QmpSession } from './session.js';
import type { QmpListen } from './spec.js';

export interface QmpServerOptions {
  /** The client's `quit`: default `vm.stop(0, 'host-qmp-quit')`. */
  onQuit?: () => void;
}

/** Most clients served at once per server (QEMU serves one; more is a convenience, not a flood). */
const MAX_CLIENTS = 16;

function describe(a: QmpListen): string {
  return a.transport === 'unix' ? `unix:${a.path}` : `tcp:${a.host}:${a.port}`;
}

export class QmpServer {
  private readonly sessions = new Set<QmpSession>();
  private readonly unlisten: (() => void)[] = [];

  private constructor(private readonly vm: VirtualMachine, private readonly servers: { server: Server; addr: QmpListen }[]) {}

  /** Listen on every address (all or none: a failure closes the ones opened). Throws WkvmError with one line. */
  static async listen(vm: VirtualMachine, addrs: readonly QmpListen[], opts: QmpServerOptions = {}): Promise<QmpServer> {
    const opened: { server: Server; addr: QmpListen }[] = [];
    const qmp = new QmpServer(vm, opened);
    const quit = opts.onQuit ?? (() => { void vm.stop(0, 'host-qmp-quit'); });
    try {
      for (const addr of addrs) {
        const server = createServer((socket: Socket) => qmp.accept(socket, quit));
        server.maxConnections = MAX_CLIENTS;
        if (addr.transport === 'unix') {
          if (!existsSync(dirname(addr.path))) throw new WkvmError(`QMP: cannot listen on unix:${addr.path}: no such directory`);
          removeStaleSocket(addr.path);
        }
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          if (addr.transport === 'unix') server.listen(addr.path, resolve); else server.listen(addr.port, addr.host, resolve);
        }).catch((e: NodeJS.ErrnoException) => {
          const why = e.code === 'EADDRINUSE' ? 'address in use' : e.code === 'EACCES' ? 'permission denied'
            : e.code === 'ENOENT' ? 'no such directory' : e.code === 'EADDRNOTAVAIL' ? 'address not available' : e.message;
          throw new WkvmError(`QMP: cannot listen on ${describe(addr)}: ${why}`);
        });
        server.on('error', () => {});
        opened.push({ server, addr });
      }
    } catch (e) {
      await qmp.close();
      throw e;
    }
    qmp.subscribe();
    return qmp;
  }

  /** The addresses listened on (a TCP port 0 resolved to the one the system chose). */
  get addresses(): QmpListen[] {
    return this.servers.map(({ server, addr }) => {
      const a = server.address();
      return addr.transport === 'tcp' && a && typeof a === 'object' ? { ...addr, port: a.port } : addr;
    });
  }

  private accept(socket: Socket, quit: () => void): void {
    const session = new QmpSession(socket, this.vm, { quit }, (s) => this.sessions.delete(s));
    this.sessions.add(session);
  }

  private subscribe(): void {
    const on = <A extends unknown[]>(event: string, fn: (...a: A) => void): void => {
      (this.vm.on as (e: string, f: (...a: A) => void) => void)(event, fn);
      this.unlisten.push(() => (this.vm.off as (e: string, f: (...a: A) => void) => void)(event, fn));
    };
    const broadcast = (name: string, data?: Record<string, unknown>): void => { for (const s of this.sessions) s.event(name, data); };
    on('stateChange', (state: RunState, previous: RunState) => {
      if (state === 'paused' && previous === 'running') broadcast('STOP');
      else if (state === 'running') broadcast('RESUME');
    });
    on('reset', (info: { guest: boolean; reason: string }) => broadcast('RESET', { guest: info.guest, reason: info.reason }));
    on('shutdown', (info: { guest: boolean; reason: string }) => broadcast('SHUTDOWN', { guest: info.guest, reason: info.reason }));
    on('guestPanicked', (info: { action: string }) => broadcast('GUEST_PANICKED', { action: info.action }));
  }

  /** Stop listening and end every session once its replies are out (a unix socket file is removed). */
  async close(): Promise<void> {
    for (const u of this.unlisten.splice(0)) u();
    await Promise.all([...this.sessions].map((s) => s.end()));
    await Promise.all(this.servers.map(({ server, addr }) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      if (addr.transport === 'unix') { try { unlinkSync(addr.path); } catch { /* gone already */ } }
    })));
  }
}

/** A socket file left by an earlier run is replaced, as QEMU does; anything else at the path is an error. */
function removeStaleSocket(path: string): void {
  let st;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSocket()) throw new WkvmError(`QMP: cannot listen on unix:${path}: the path exists and is not a socket`);
  unlinkSync(path);
}
