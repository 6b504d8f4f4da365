/**
 * The gdb stub's listener (`-s`, `-gdb tcp:HOST:PORT`): a TCP server with one
 * debugger at a time, as QEMU's. A client that connects while another is
 * attached waits for it to leave (one such; more are turned away); whatever
 * a client sends or however it leaves, the VM keeps running and the next
 * client is served.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { WkvmError } from '../errors.js';
import { GdbSession, type SessionHost } from './session.js';
import type { GdbEndpoint } from './spec.js';

export class GdbServer {
  private current: { socket: Socket; session: GdbSession } | undefined;
  /** The last client's cleanup (the next one starts after it). */
  private cleanup: Promise<void> = Promise.resolve();
  /** A client that connected while another was attached. */
  private next: Socket | undefined;
  private closed = false;

  private constructor(private readonly server: Server, private readonly host: SessionHost) {
    server.on('connection', (s) => this.accept(s));
  }

  /** Listen on `at` (QEMU's default host: every interface); rejects with a one-line WkvmError. */
  static listen(host: SessionHost, at: GdbEndpoint): Promise<GdbServer> {
    const server = createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const where = `${at.host ?? ''}:${at.port}`;
        reject(new WkvmError(e.code === 'EADDRINUSE' ? `-gdb: port ${where} is already in use`
          : e.code === 'EACCES' ? `-gdb: no permission to listen on ${where}`
          : `-gdb: cannot listen on ${where}: ${e.code ?? e.message}`));
      });
      server.listen({ port: at.port, host: at.host }, () => {
        server.removeAllListeners('error');
        server.on('error', () => {}); // after listening, errors belong to connections
        resolve(new GdbServer(server, host));
      });
    });
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {});
    if (this.current) {
      // one debugger at a time: the next one waits (unread) until this one leaves; any more are turned away
      if (this.next) { socket.destroy(); return; }
      this.next = socket;
      socket.pause();
      socket.once('close', () => { if (this.next === socket) this.next = undefined; });
      return;
    }
    const session = new GdbSession(this.host, {
      write: (b) => { if (!socket.destroyed) socket.write(b); },
      end: () => socket.end(),
    });
    this.current = { socket, session };
    socket.on('data', (d) => session.input(d));
    socket.on('close', () => {
      if (this.current?.socket === socket) this.current = undefined;
      this.cleanup = session.close().catch(() => {});
      const next = this.next;
      this.next = undefined;
      if (next && !next.destroyed && !this.closed) { this.accept(next); next.resume(); }
    });
    session.start(this.cleanup);
  }

  /** Stop listening; the client gets what is on its way (the guest's exit: W) before its connection ends. */
  close(): void {
    this.closed = true;
    this.server.close();
    this.next?.destroy();
    const c = this.current;
    setImmediate(() => c?.socket.end());
  }
}
