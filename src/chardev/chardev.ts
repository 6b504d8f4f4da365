/**
 * Character devices (QEMU's -chardev) for the virtio console: a byte stream
 * between a guest port and the host. `socket` listens on or connects to a
 * unix or TCP socket, `file` writes the guest's output to a file, `null`
 * swallows it, `stdio` is the terminal (the CLI connects it: stdin goes to
 * this port instead of the serial console, and both print on stdout, as
 * QEMU's multiplexed stdio). Each is a Duplex: what the guest writes goes to the peer
 * (with the peer's backpressure), what the peer sends comes out for the
 * guest. A listening socket takes one peer at a time, as QEMU's does.
 */
import { Duplex } from 'node:stream';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { WkvmError, describeFsError } from '../errors.js';

export type ChardevSpec =
  | { backend: 'socket'; id: string; server: boolean; path?: string; host?: string; port?: number }
  | { backend: 'file'; id: string; path: string }
  | { backend: 'null'; id: string }
  | { backend: 'stdio'; id: string };

const ON = new Set(['on', 'yes', 'true']);
const OFF = new Set(['off', 'no', 'false']);

function flag(key: string, value: string): boolean {
  if (ON.has(value)) return true;
  if (OFF.has(value)) return false;
  throw new WkvmError(`-chardev: ${key}=${value}: expected on or off`);
}

/** Parse QEMU's -chardev value: `socket,id=c0,path=/tmp/s,server=on,wait=off`, `socket,id=c0,host=127.0.0.1,port=4555,server=on`, `file,id=c0,path=out.log`, `null,id=c0`. */
export function parseChardev(text: string): ChardevSpec {
  const [backend, ...parts] = text.split(',');
  const props = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? 'on' : p.slice(eq + 1);
    if (props.has(key)) throw new WkvmError(`-chardev: '${key}' given twice`);
    props.set(key, value);
  }
  const id = props.get('id');
  if (!id) throw new WkvmError(`-chardev ${backend}: needs id=NAME`);
  const allowed: Record<string, string[]> = {
    socket: ['id', 'path', 'host', 'port', 'server', 'wait', 'nodelay'],
    file: ['id', 'path'],
    null: ['id'],
    stdio: ['id', 'signal'],
  };
  const keys = allowed[backend ?? ''];
  if (!keys) throw new WkvmError(`-chardev: backend '${backend}' is not supported (supported: socket, file, null, stdio)`);
  for (const k of props.keys()) {
    if (!keys.includes(k)) throw new WkvmError(`-chardev ${backend}: property '${k}' is not supported (supported: ${keys.join(', ')})`);
  }
  if (backend === 'null') return { backend: 'null', id };
  if (backend === 'stdio') return { backend: 'stdio', id };
  if (backend === 'file') {
    const path = props.get('path');
    if (!path) throw new WkvmError('-chardev file: needs path=FILE');
    return { backend: 'file', id, path };
  }
  const server = flag('server', props.get('server') ?? 'off');
  if (props.has('wait') && flag('wait', props.get('wait')!)) {
    throw new WkvmError('-chardev socket: wait=on is not supported (the VM starts without waiting for a peer): use wait=off');
  }
  const path = props.get('path');
  if (path !== undefined) {
    if (props.has('host') || props.has('port')) throw new WkvmError('-chardev socket: give path= or host=/port=, not both');
    return { backend: 'socket', id, server, path };
  }
  const port = Number(props.get('port'));
  if (!props.has('port') || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new WkvmError('-chardev socket: needs path=SOCKET or port=N (0..65535)');
  }
  return { backend: 'socket', id, server, host: props.get('host') ?? '127.0.0.1', port };
}

/** A chardev as a Duplex, plus the address it listens on (a TCP server on port 0 gets one). */
export interface Chardev { stream: Duplex; ready: Promise<void>; address?: string }

class SocketChardev extends Duplex {
  private peer: Socket | undefined;
  private server: Server | undefined;
  private waitingWrite: (() => void) | undefined;
  readonly ready: Promise<void>;
  address: string | undefined;

  constructor(private readonly spec: Extract<ChardevSpec, { backend: 'socket' }>) {
    super();
    const where = spec.path ?? `${spec.host}:${spec.port}`;
    this.ready = new Promise<void>((resolve, reject) => {
      const fail = (e: NodeJS.ErrnoException) => reject(new WkvmError(`-chardev ${spec.id}: ${spec.server ? 'cannot listen on' : 'cannot connect to'} ${where}: ${describeFsError(e)}`));
      if (spec.server) {
        this.server = createServer((s) => {
          if (this.peer) { s.destroy(); return; } // one peer at a time
          this.attach(s);
        });
        this.server.once('error', fail);
        const onListening = () => {
          const a = this.server!.address();
          this.address = typeof a === 'string' ? a : a ? `${a.address}:${a.port}` : where;
          resolve();
        };
        if (spec.path !== undefined) this.server.listen(spec.path, onListening);
        else this.server.listen(spec.port, spec.host, onListening);
      } else {
        const s = spec.path !== undefined ? createConnection(spec.path) : createConnection(spec.port!, spec.host);
        s.once('error', fail);
        s.once('connect', () => { s.off('error', fail); this.attach(s); this.address = where; resolve(); });
      }
    });
    this.ready.catch(() => {});
  }

  private attach(s: Socket): void {
    this.peer = s;
    s.on('data', (b: Buffer) => { if (!this.push(b)) s.pause(); });
    s.on('drain', () => { const w = this.waitingWrite; this.waitingWrite = undefined; w?.(); });
    s.on('error', () => {});
    s.on('close', () => {
      if (this.peer === s) this.peer = undefined;
      const w = this.waitingWrite; this.waitingWrite = undefined; w?.();
    });
  }

  override _read(): void { this.peer?.resume(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    // nobody connected: the guest's output is dropped, as with an unplugged cable
    if (!this.peer || this.peer.destroyed) { cb(); return; }
    if (this.peer.write(chunk)) cb(); else this.waitingWrite = () => cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.peer?.destroy();
    this.server?.close();
    if (this.spec.server && this.spec.path !== undefined) rmSync(this.spec.path, { force: true });
    cb(err);
  }
}

class FileChardev extends Duplex {
  private readonly out: WriteStream;
  constructor(path: string) {
    super();
    this.out = createWriteStream(path);
    this.out.on('error', (e) => this.destroy(new WkvmError(`-chardev file: cannot write '${path}': ${describeFsError(e)}`)));
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void { this.out.write(chunk, () => cb()); }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void { this.out.end(() => cb(err)); }
}

/** A chardev; `stdio` is the CLI's to connect (see stdioChardev in src/cli). */
export function openChardev(spec: Exclude<ChardevSpec, { backend: 'stdio' }>): Chardev {
  if (spec.backend === 'socket') {
    const s = new SocketChardev(spec);
    return { stream: s, ready: s.ready.then(() => undefined), get address() { return s.address; } };
  }
  if (spec.backend === 'file') return { stream: new FileChardev(spec.path), ready: Promise.resolve() };
  const sink = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  return { stream: sink, ready: Promise.resolve() };
}
