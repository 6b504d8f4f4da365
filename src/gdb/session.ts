/**
 * One gdb connection: the remote protocol's commands mapped onto the VM's
 * debug interface (src/debug). All-stop mode, one thread per hart (thread id
 * = hart + 1). Every number, length and address in a packet comes from the
 * client: each is parsed strictly, and a bad one gets an `E` reply.
 */
import type { VmDebug, DebugStop, WatchKind } from '../debug/types.js';
import { PacketReader, encodePacket, type Frame } from './packet.js';
import { TARGET_XML, G_REGISTERS, registerOf, registerSize } from './target.js';

/** The largest packet either side sends (qSupported's PacketSize). */
export const PACKET_SIZE = 0x4000;
/** Resends of one reply a client may ask for with `-` before it is dropped. */
const MAX_RESENDS = 3;

export interface SessionHost {
  readonly debug: VmDebug;
  /** The VM's run state (QMP's names). */
  readonly runState: string;
  /** `k`: end the VM. */
  kill(): void;
}

type Io = { write(b: Buffer): void; end(): void };

const E_BAD = 'E01';      // malformed arguments
const E_FAULT = 'E14';    // memory not mapped (EFAULT)
const E_NOSPC = 'E1c';    // breakpoint/watchpoint table full

export class GdbSession {
  private readonly reader = new PacketReader(PACKET_SIZE);
  private ack = true;
  private last: Buffer | undefined;
  private resends = 0;
  /** Thread for register/memory commands (Hg) and for step/continue (Hc), as harts. */
  private gHart = 0;
  private cHart = 0;
  private lastStop: DebugStop = { reason: 'interrupt', hart: 0 };
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly host: SessionHost, private readonly io: Io) {}

  private get debug(): VmDebug { return this.host.debug; }

  /** The connection opened: once `after` (the previous client's cleanup) is done, stop the guest (as QEMU does) so gdb finds it stopped. */
  start(after: Promise<void>): void {
    this.queue = after;
    this.enqueue(() => this.debug.interrupt());
  }

  /** Bytes from the client. */
  input(chunk: Uint8Array): void {
    for (const f of this.reader.push(chunk)) this.frame(f);
  }

  /** The connection closed: take the debugger's changes away and let a guest the debugger stopped run on. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    if (this.debug.running) await this.debug.interrupt();
    this.debug.clearAll();
    if (this.host.runState === 'paused') this.debug.resume({ continueOthers: true }).catch(() => {});
    // the resume's stop, if one ever comes, has nobody to go to: the next client's interrupt() settles it
  }

  private frame(f: Frame): void {
    switch (f.kind) {
      case 'interrupt':
        if (this.debug.running) void this.debug.interrupt(this.cHart);
        return;
      case 'ack': return;
      case 'nack':
        if (this.last && this.resends++ < MAX_RESENDS) this.io.write(this.last);
        return;
      case 'bad':
        if (this.ack) this.io.write(Buffer.from('-'));
        return;
      case 'packet':
        if (this.ack) this.io.write(Buffer.from('+'));
        this.enqueue(() => this.command(f.data.toString('latin1')));
    }
  }

  private enqueue(job: () => unknown): void {
    this.queue = this.queue.then(job).then(() => {}, (e: unknown) => {
      // a bug here must not take the VM down: the client gets an error reply and the session goes on
      this.reply(E_BAD);
      process.emitWarning(`gdb stub: ${(e as Error)?.message ?? e}`);
    });
  }

  private reply(payload: string | Uint8Array): void {
    if (this.closed) return;
    const p = encodePacket(payload);
    this.last = p;
    this.resends = 0;
    this.io.write(p);
  }

  private async command(cmd: string): Promise<void> {
    const head = cmd[0];
    switch (head) {
      case '?': return this.reply(this.stopReply(this.lastStop));
      case 'q': return this.query(cmd);
      case 'Q':
        if (cmd === 'QStartNoAckMode') { this.reply('OK'); this.ack = false; return; }
        return this.reply('');
      case 'H': return this.setThread(cmd);
      case 'T': {
        const h = this.thread(cmd.slice(1));
        return this.reply(h !== undefined && h >= 0 ? 'OK' : E_BAD);
      }
      case 'g': return this.reply(this.readAllRegisters());
      case 'G': return this.reply(this.writeAllRegisters(cmd.slice(1)));
      case 'p': return this.reply(this.readRegister(cmd.slice(1)));
      case 'P': return this.reply(this.writeRegister(cmd.slice(1)));
      case 'm': return this.reply(this.readMemory(cmd.slice(1)));
      case 'M': return this.reply(this.writeMemory(cmd.slice(1), 'hex'));
      case 'X': return this.reply(this.writeMemory(cmd.slice(1), 'binary'));
      case 'Z': case 'z': return this.reply(this.point(head === 'Z', cmd.slice(1)));
      case 'c': case 's': {
        if (cmd.length > 1) {
          const pc = hexBig(cmd.slice(1));
          if (pc === undefined) return this.reply(E_BAD);
          this.debug.writeRegister(this.cHart, { kind: 'pc' }, pc);
        }
        return this.run(head === 's' ? [this.cHart] : [], true);
      }
      case 'v': return this.vPacket(cmd);
      case 'k':
        this.host.kill(); // no reply: the VM's end closes the connection
        return;
      case 'D':
        // detach: the breakpoints go, the guest runs on
        this.debug.clearAll();
        this.reply('OK');
        this.closed = true;
        if (!this.debug.running) this.debug.resume({ continueOthers: true }).catch(() => {});
        this.io.end();
        return;
      default: return this.reply(''); // not supported: the empty reply
    }
  }

  private query(cmd: string): void {
    if (cmd.startsWith('qSupported')) {
      return this.reply(`PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;vContSupported+;QStartNoAckMode+`);
    }
    if (cmd.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]+):([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,16})$/.exec(cmd);
      if (!m) return this.reply(E_BAD);
      if (m[1] !== 'target.xml') return this.reply('E00');
      const off = parseInt(m[2]!, 16), len = Math.min(parseInt(m[3]!, 16), PACKET_SIZE - 8);
      const xml = Buffer.from(TARGET_XML, 'latin1');
      if (off > xml.length) return this.reply(E_BAD);
      const part = xml.subarray(off, off + len);
      return this.reply(Buffer.concat([Buffer.from(off + part.length >= xml.length ? 'l' : 'm'), part]));
    }
    if (cmd === 'qfThreadInfo') {
      return this.reply('m' + Array.from({ length: this.debug.harts }, (_, h) => (h + 1).toString(16)).join(','));
    }
    if (cmd === 'qsThreadInfo') return this.reply('l');
    if (cmd === 'qC') return this.reply(`QC${(this.gHart + 1).toString(16)}`);
    if (cmd === 'qAttached') return this.reply('1');
    if (cmd.startsWith('qThreadExtraInfo,')) {
      const h = this.thread(cmd.slice('qThreadExtraInfo,'.length));
      if (h === undefined || h < 0) return this.reply(E_BAD);
      return this.reply(Buffer.from(`hart ${h}`, 'latin1').toString('hex'));
    }
    return this.reply('');
  }

  /** A thread id: a hart, -1 for all, or undefined when it is not one of ours. */
  private thread(text: string): number | undefined {
    if (text === '-1') return -1;
    if (!/^[0-9a-fA-F]{1,8}$/.test(text)) return undefined;
    const id = parseInt(text, 16);
    if (id === 0) return this.gHart; // any thread
    return id <= this.debug.harts ? id - 1 : undefined;
  }

  private setThread(cmd: string): void {
    const h = this.thread(cmd.slice(2));
    if (h === undefined || (cmd[1] !== 'g' && cmd[1] !== 'c')) return this.reply(E_BAD);
    if (cmd[1] === 'g') this.gHart = h < 0 ? 0 : h; else this.cHart = h < 0 ? 0 : h;
    this.reply('OK');
  }

  // ---- registers ---------------------------------------------------------------

  private regHex(n: number): string | undefined {
    const r = registerOf(n);
    const v = r && this.debug.readRegister(this.gHart, r);
    if (v === undefined) return undefined;
    return leHex(v, registerSize(n));
  }

  private readAllRegisters(): string {
    let s = '';
    for (let n = 0; n < G_REGISTERS; n++) s += this.regHex(n)!;
    return s;
  }

  private writeAllRegisters(hex: string): string {
    if (hex.length !== G_REGISTERS * 16 || !/^[0-9a-fA-F]*$/.test(hex)) return E_BAD;
    for (let n = 1; n < G_REGISTERS; n++) this.debug.writeRegister(this.gHart, registerOf(n)!, fromLeHex(hex.slice(n * 16, n * 16 + 16)));
    return 'OK';
  }

  private readRegister(arg: string): string {
    if (!/^[0-9a-fA-F]{1,8}$/.test(arg)) return E_BAD;
    return this.regHex(parseInt(arg, 16)) ?? E_BAD;
  }

  private writeRegister(arg: string): string {
    const m = /^([0-9a-fA-F]{1,8})=([0-9a-fA-F]+)$/.exec(arg);
    if (!m) return E_BAD;
    const n = parseInt(m[1]!, 16);
    const r = registerOf(n);
    if (!r || m[2]!.length !== 2 * registerSize(n)) return E_BAD;
    return this.debug.writeRegister(this.gHart, r, fromLeHex(m[2]!)) ? 'OK' : E_BAD;
  }

  // ---- memory ------------------------------------------------------------------

  private readMemory(arg: string): string {
    const m = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})$/.exec(arg);
    if (!m) return E_BAD;
    const len = Math.min(parseInt(m[2]!, 16), (PACKET_SIZE - 4) >> 1); // a reply fits in a packet
    const data = this.debug.readMemory(this.gHart, BigInt('0x' + m[1]), len);
    return data === undefined ? E_FAULT : Buffer.from(data).toString('hex');
  }

  private writeMemory(arg: string, encoding: 'hex' | 'binary'): string {
    const m = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8}):/s.exec(arg);
    if (!m) return E_BAD;
    const len = parseInt(m[2]!, 16);
    const body = arg.slice(m[0].length);
    let data: Buffer;
    if (encoding === 'hex') {
      if (body.length !== 2 * len || !/^[0-9a-fA-F]*$/.test(body)) return E_BAD;
      data = Buffer.from(body, 'hex');
    } else {
      data = Buffer.from(body, 'latin1');
      if (data.length !== len) return E_BAD;
    }
    if (len === 0) return 'OK'; // gdb's probe for X support
    return this.debug.writeMemory(this.gHart, BigInt('0x' + m[1]), data) ? 'OK' : E_FAULT;
  }

  // ---- breakpoints and watchpoints ----------------------------------------------

  private point(insert: boolean, arg: string): string {
    const m = /^([0-4]),([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})(;.*)?$/s.exec(arg);
    if (!m) return E_BAD;
    const type = Number(m[1]);
    const addr = BigInt('0x' + m[2]);
    const kind = BigInt('0x' + m[3]);
    if (type <= 1) { // software and hardware breakpoints alike: neither touches guest memory
      if (insert) return this.debug.addBreakpoint(addr) ? 'OK' : E_NOSPC;
      this.debug.removeBreakpoint(addr);
      return 'OK';
    }
    const watch: WatchKind = type === 2 ? 'write' : type === 3 ? 'read' : 'access';
    if (insert) return this.debug.addWatchpoint(addr, kind, watch) ? 'OK' : E_NOSPC;
    this.debug.removeWatchpoint(addr, kind, watch);
    return 'OK';
  }

  // ---- running -----------------------------------------------------------------

  private vPacket(cmd: string): void {
    if (cmd === 'vCont?') return this.reply('vCont;c;C;s;S');
    if (cmd === 'vMustReplyEmpty') return this.reply('');
    if (cmd.startsWith('vCont;')) {
      const step: number[] = [];
      let others = false;
      for (const action of cmd.slice(6).split(';')) {
        const m = /^([cCsS])(?:[0-9a-fA-F]{2})?(?::(.+))?$/.exec(action);
        if (!m) return this.reply(E_BAD);
        const h = m[2] === undefined ? -1 : this.thread(m[2]);
        if (h === undefined) return this.reply(E_BAD);
        if (m[1] === 's' || m[1] === 'S') {
          if (h < 0) others = true; // "step every thread": treated as continue for the ones not named before
          else if (!others) step.push(h);
        } else {
          others = true; // a thread-specific continue runs every hart (all-stop: scheduler locking is not offered)
        }
      }
      return this.run(step, others || step.length === 0);
    }
    return this.reply('');
  }

  /** Resume; the stop reply goes out when the harts stop again (later packets are served meanwhile). */
  private run(step: number[], others: boolean): void {
    if (this.debug.running) return this.reply(E_BAD);
    const stop = this.debug.resume({ step, continueOthers: others });
    void stop.then((ev) => {
      if (ev.reason !== 'exited') {
        this.lastStop = ev;
        this.gHart = ev.hart;
        this.cHart = ev.hart;
      }
      this.reply(this.stopReply(ev));
    });
  }

  private stopReply(ev: DebugStop): string {
    if (ev.reason === 'exited') return `W${(ev.code & 0xff).toString(16).padStart(2, '0')}`;
    const thread = `thread:${(ev.hart + 1).toString(16)};`;
    if (ev.reason === 'interrupt') return `T02${thread}`;
    if (ev.reason === 'watchpoint') {
      const name = ev.kind === 'write' ? 'watch' : ev.kind === 'read' ? 'rwatch' : 'awatch';
      return `T05${name}:${ev.address.toString(16)};${thread}`;
    }
    return `T05${thread}`;
  }
}

function hexBig(s: string): bigint | undefined {
  return /^[0-9a-fA-F]{1,16}$/.test(s) ? BigInt('0x' + s) : undefined;
}

/** `v` as `bytes` little-endian bytes in hex (the target's byte order). */
function leHex(v: bigint, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += Number((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0');
  return s;
}

function fromLeHex(hex: string): bigint {
  let v = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(parseInt(hex.slice(i, i + 2), 16));
  return v;
}
