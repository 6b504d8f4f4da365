/**
 * One QMP client connection: the greeting, capabilities negotiation, then
 * commands in order (one at a time: `stop` waits for the vCPUs) and events.
 * Clients are not trusted: bad input gets QEMU's error replies and the
 * session goes on; a client that floods or stops reading is cut off, never
 * the VM.
 */
import type { Socket } from 'node:net';
import type { VirtualMachine } from '../vm.js';
import { JsonStream, type Incoming } from './json-stream.js';
import { COMMANDS, QmpError, checkArguments, versionInfo, type CommandContext } from './commands.js';

/** Commands read ahead of the one running before the session stops reading the socket. */
const MAX_QUEUED = 64;
/** Replies and events a client may leave unread before it is disconnected. */
const MAX_UNREAD_BYTES = 8 << 20;

export class QmpSession {
  private negotiated = false;
  private readonly stream = new JsonStream();
  private readonly queue: Incoming[] = [];
  private busy = false;
  private closed = false;

  constructor(private readonly socket: Socket, private readonly vm: VirtualMachine, private readonly ctx: CommandContext,
    private readonly onClose: (s: QmpSession) => void) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.queue.push(...this.stream.push(text));
      if (this.queue.length > MAX_QUEUED) socket.pause();
      void this.pump();
    });
    socket.on('error', () => {}); // a client that vanishes mid-reply ends only its session
    socket.on('close', () => { this.closed = true; this.onClose(this); });
    this.write({ QMP: { version: versionInfo(), capabilities: [] } });
  }

  /** An event, once the client has negotiated capabilities (as QEMU). */
  event(name: string, data?: Record<string, unknown>): void {
    if (!this.negotiated) return;
    const now = Date.now();
    this.write({ timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 }, event: name, ...(data ? { data } : {}) });
  }

  /** End the session once what was written has gone out. */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => { this.socket.destroy(); resolve(); }, 1000).unref();
    });
  }

  private write(msg: unknown): void {
    if (this.closed) return;
    if (this.socket.writableLength > MAX_UNREAD_BYTES) { this.socket.destroy(); return; }
    this.socket.write(JSON.stringify(msg) + '\n');
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let m = this.queue.shift(); m !== undefined && !this.closed; m = this.queue.shift()) {
        await this.handle(m);
        if (this.queue.length <= MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.busy = false;
    }
  }

  private async handle(m: Incoming): Promise<void> {
    if ('error' in m) { this.write({ error: { class: 'GenericError', desc: m.error } }); return; }
    const v = m.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.write({ error: { class: 'GenericError', desc: 'QMP input must be a JSON object' } });
      return;
    }
    const msg = v as Record<string, unknown>;
    const id = msg.id;
    const reply = (body: Record<string, unknown>): void => this.write(id === undefined ? body : { id, ...body });
    try {
      const name = this.checkMessage(msg);
      const cmd = COMMANDS.get(name);
      if (!this.negotiated && name !== 'qmp_capabilities') {
        throw new QmpError('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
      }
      if (this.negotiated && name === 'qmp_capabilities') {
        throw new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored');
      }
      if (!cmd) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
      const args = (msg.arguments ?? {}) as Record<string, unknown>;
      checkArguments(cmd, args);
      const result = await cmd.run(this.vm, args, this.ctx);
      if (name === 'qmp_capabilities') this.negotiated = true;
      reply({ return: result });
    } catch (e) {
      if (e instanceof QmpError) reply({ error: { class: e.errorClass, desc: e.message } });
      else reply({ error: { class: 'GenericError', desc: (e as Error)?.message ?? String(e) } });
    }
  }

  /** The shape checks of a command message (QEMU's qmp_dispatch); returns the command's name. */
  private checkMessage(msg: Record<string, unknown>): string {
    for (const [key, value] of Object.entries(msg)) {
      if (key === 'execute') {
        if (typeof value !== 'string') throw new QmpError('GenericError', "QMP input member 'execute' must be a string");
      } else if (key === 'arguments') {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new QmpError('GenericError', "QMP input member 'arguments' must be an object");
        }
      } else if (key !== 'id') {
        throw new QmpError('GenericError', `QMP input member '${key}' is unexpected`);
      }
    }
    if (msg.execute === undefined) throw new QmpError('GenericError', "QMP input lacks member 'execute'");
    return msg.execute as string;
  }
}
