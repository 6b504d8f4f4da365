/**
 * Backends on a byte stream with 4-byte length framing: QEMU's
 * `-netdev stream` (unix or inet, server or client) and `-netdev socket`
 * (listen= / connect=, TCP). As in QEMU, a server takes one peer at a time
 * and waits for the next one when it leaves; a client connects once
 * (optionally reconnecting every `reconnect` seconds).
 */
import * as net from 'node:net';
import { WkvmError } from '../errors.js';
import { FrameParser, FramingError, MAX_FRAME_LEN, encodeFrame } from './framing.js';
import { NetBackendBase, settle } from './netdev.js';

export type SocketAddress =
  | { type: 'inet'; host: string; port: number }
  | { type: 'unix'; path: string; abstract?: boolean };

/** Bytes queued in Node for a peer beyond which frames from the VM are dropped (send() already said "congested" long before). */
const MAX_PENDING_TX = 4 << 20;
/** Time a connect may take before `ready` rejects. */
const CONNECT_TIMEOUT_MS = 10_000;

export function formatAddress(a: SocketAddress): string {
  if (a.type === 'unix') return `unix:${a.abstract ? '@' : ''}${a.path}`;
  const h = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${h}:${a.port}`;
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOENT: 'no such socket',
  EACCES: 'permission denied',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host (DNS lookup failed)',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'connection closed by peer',
  ENOTSOCK: 'not a socket',
  ENAMETOOLONG: 'socket path too long',
};

/** "connection refused" for ECONNREFUSED, else the error's first line. */
export function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && ERRNO_TEXT[err.code]) return ERRNO_TEXT[err.code];
  const msg = err instanceof Error ? err.message : String(e);
  return msg.split('\n')[0];
}

function socketPath(a: { path: string; abstract?: boolean }): string {
  return a.abstract ? `\0${a.path}` : a.path;
}

/** A backend that carries framed traffic over one net.Socket at a time. */
export abstract class FramedStreamBackend extends NetBackendBase {
  protected sock: net.Socket | undefined;
  private readonly parser = new FrameParser();
  private framingClosed = false;

  send(frame: Uint8Array): boolean {
    const s = this.sock;
    if (!s || this.closed || s.destroyed || !s.writable) {
      this.stats.txDropped++;
      return true;
    }
    if (frame.length > MAX_FRAME_LEN || s.writableLength > MAX_PENDING_TX) {
      this.stats.txDropped++;
      return s.writableLength <= MAX_PENDING_TX;
    }
    this.countTx(frame);
    return s.write(encodeFrame(frame));
  }

  /** Take `sock` as the connected peer. */
  protected attach(sock: net.Socket): void {
    this.sock = sock;
    this.parser.reset();
    if (sock.remoteFamily !== undefined) sock.setNoDelay(true);
    let error: Error | undefined;
    this.framingClosed = false;
    sock.on('data', (chunk: Buffer) => {
      if (this.sock !== sock) return;
      this.parser.push(chunk);
      this.drain();
    });
    sock.on('drain', () => this.notifyWritable());
    sock.on('error', (e) => { error = e; });
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.sock = undefined;
      this.parser.reset();
      this.setLink(false);
      if (!this.closed) {
        this.notifyWritable(); // a device waiting for room: frames are dropped now, not stuck
        this.peerGone(error, this.framingClosed);
      }
    });
    if (this.paused) sock.pause();
    this.setLink(true);
    this.scheduleDrain();
  }

  /** The peer left (closed, reset, or dropped for bad framing: `warned` says that was reported already). */
  protected abstract peerGone(error: Error | undefined, warned: boolean): void;

  protected override pull(): Buffer | undefined {
    const s = this.sock;
    if (!s) return undefined;
    try {
      return this.parser.next();
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      this.warn(`${e.message}: closing the connection`);
      this.framingClosed = true;
      s.destroy();
      return undefined;
    }
  }

  protected override pauseInput(): void {
    if (this.sock && !this.sock.isPaused()) this.sock.pause();
  }

  protected override resumeInput(): void {
    if (this.sock && this.sock.isPaused()) this.sock.resume();
  }

  protected dropPeer(): void {
    const s = this.sock;
    this.sock = undefined;
    s?.destroy();
  }
}

export interface StreamBackendOptions {
  id: string;
  /** 'stream' or 'socket': only names the backend in messages. */
  type?: 'stream' | 'socket';
  /** Listen for one peer at a time (server=on / listen=), or connect. */
  server: boolean;
  addr: SocketAddress;
  /** Client only: seconds between reconnect attempts; 0 = give up (the default). */
  reconnect?: number;
  connectTimeoutMs?: number;
}

export class StreamNetBackend extends FramedStreamBackend {
  readonly ready: Promise<void>;
  private server: net.Server | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly where: string;

  constructor(private readonly opts: StreamBackendOptions) {
    super(opts.id, opts.type ?? 'stream');
    this.where = formatAddress(opts.addr);
    this.ready = settle(opts.server ? this.listen() : this.connect(true));
  }

  /** The bound address of a server (e.g. the port chosen for port 0). */
  get localAddress(): SocketAddress | undefined {
    const a = this.server?.address();
    if (!a) return undefined;
    if (typeof a === 'string') return this.opts.addr;
    return { type: 'inet', host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.markClosed();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.dropPeer();
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  protected peerGone(error: Error | undefined, warned: boolean): void {
    const why = error ? describeError(error) : 'closed';
    const say = (m: string) => { if (!warned) this.warn(m); };
    if (this.opts.server) {
      say(`peer on ${this.where} disconnected (${why}); waiting for a new one`);
    } else if (this.opts.reconnect) {
      say(`connection to ${this.where} lost (${why}); reconnecting in ${this.opts.reconnect} s`);
      this.scheduleReconnect();
    } else {
      say(`connection to ${this.where} lost (${why})`);
    }
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ pauseOnConnect: true });
      this.server = srv;
      srv.on('connection', (s) => {
        if (this.closed) { s.destroy(); return; }
        if (this.sock) {
          // QEMU stops accepting while it has a peer; the newcomer is turned away
          this.warn(`refused a second peer on ${this.where}: one is already connected`);
          s.destroy();
          return;
        }
        s.resume();
        this.attach(s);
      });
      srv.once('error', (e) => {
        this.server = undefined;
        reject(new WkvmError(`netdev ${this.id}: cannot listen on ${this.where}: ${describeError(e)}`));
      });
      srv.once('listening', () => {
        srv.removeAllListeners('error');
        srv.on('error', (e) => this.warn(`listening socket ${this.where}: ${describeError(e)}`));
        resolve();
      });
      const a = this.opts.addr;
      if (a.type === 'unix') srv.listen({ path: socketPath(a) });
      else srv.listen({ host: a.host || '0.0.0.0', port: a.port });
    });
  }

  /** One connection attempt; `first` = the one `ready` waits for. */
  private connect(first: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const a = this.opts.addr;
      const s = a.type === 'unix'
        ? net.createConnection({ path: socketPath(a) })
        : net.createConnection({ host: a.host || 'localhost', port: a.port });
      const timer = setTimeout(() => s.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
        this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      s.once('error', (e) => {
        clearTimeout(timer);
        if (this.closed) { resolve(); return; }
        const msg = `netdev ${this.id}: cannot connect to ${this.where}: ${describeError(e)}`;
        if (this.opts.reconnect) {
          // with reconnect=, QEMU keeps trying rather than failing
          if (first) this.warn(`${msg.slice(`netdev ${this.id}: `.length)}; retrying every ${this.opts.reconnect} s`);
          this.scheduleReconnect();
          resolve();
        } else {
          reject(new WkvmError(msg));
        }
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        if (this.closed) { s.destroy(); resolve(); return; }
        this.attach(s);
        resolve();
      });
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && !this.sock) void this.connect(false);
    }, (this.opts.reconnect ?? 1) * 1000);
    this.reconnectTimer.unref();
  }
}
