/**
 * QEMU's `-netdev socket,udp=HOST:PORT,localaddr=HOST:PORT`: one UDP datagram
 * per Ethernet frame, no length prefix. Datagrams cannot be held back, so
 * while the device is paused they wait in the bounded receive queue.
 */
import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { WkvmError } from '../errors.js';
import { MAX_FRAME_LEN } from './framing.js';
import { NetBackendBase, copyFrame, settle } from './netdev.js';
import { describeError, formatAddress } from './stream.js';

export interface UdpBackendOptions {
  id: string;
  /** Where frames from the VM go. */
  remote: { host: string; port: number };
  /** Where frames for the VM arrive. */
  local: { host: string; port: number };
}

/** Datagrams waiting in Node's send queue beyond which frames are dropped. */
const MAX_PENDING_TX = 1024;

export class UdpNetBackend extends NetBackendBase {
  readonly ready: Promise<void>;
  private readonly sock: dgram.Socket;
  private pending = 0;

  constructor(private readonly opts: UdpBackendOptions) {
    super(opts.id, 'socket');
    const v6 = isIPv6(opts.local.host) || isIPv6(opts.remote.host);
    this.sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    this.ready = settle(new Promise((resolve, reject) => {
      this.sock.once('error', (e) => reject(new WkvmError(
        `netdev ${this.id}: cannot bind ${formatAddress({ type: 'inet', ...opts.local })}: ${describeError(e)}`)));
      this.sock.bind({ address: opts.local.host || undefined, port: opts.local.port }, () => {
        this.sock.removeAllListeners('error');
        this.sock.on('error', (e) => this.warn(`udp: ${describeError(e)}`));
        this.sock.on('message', (msg) => { if (msg.length > 0) this.deliver(msg); });
        this.setLink(true);
        resolve();
      });
    }));
  }

  get localPort(): number | undefined {
    try { return this.sock.address().port; } catch { return undefined; }
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || frame.length > MAX_FRAME_LEN || this.pending >= MAX_PENDING_TX || !this.linkUp) {
      this.stats.txDropped++;
      return true;
    }
    this.countTx(frame);
    this.pending++;
    this.sock.send(copyFrame(frame), this.opts.remote.port, this.opts.remote.host, (e) => {
      this.pending--;
      if (e && !this.closed) this.stats.txDropped++;
    });
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.markClosed();
    await new Promise<void>((resolve) => {
      try { this.sock.close(() => resolve()); } catch { resolve(); }
    });
  }
}
