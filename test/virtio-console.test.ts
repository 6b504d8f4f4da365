/**
 * virtio-console (src/devices/virtio/console/console.ts): both directions
 * through a host stream, backpressure each way, emerg_wr, config space.
 */
import { Duplex, PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import type { VmMemory } from '../src/accel/memory.js';
import { VirtioMmioReg as R, VIRTIO_MMIO_INT_CONFIG } from '../src/devices/virtio/mmio.js';
import {
  CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ, VirtioConsole, VIRTIO_CONSOLE_F_EMERG_WRITE, VIRTIO_CONSOLE_F_SIZE,
} from '../src/devices/virtio/console/console.js';
import { TestDriver, newMemory, waitFor } from './virtio-driver.js';

const mem: VmMemory = newMemory();
beforeEach(() => mem.clearRam());

const text = (b: Uint8Array) => Buffer.from(b).toString();

function consoleDriver(stream: Duplex, opts = {}) {
  const dev = new VirtioConsole(stream, opts);
  const d = new TestDriver(mem, dev);
  d.start({ queueSize: 16 });
  return { d, dev, rx: d.queues[CONSOLE_RECEIVEQ]!, tx: d.queues[CONSOLE_TRANSMITQ]! };
}

describe('virtio-console', () => {
  it('echoes through a PassThrough: what the guest sends comes back into its receive buffers', async () => {
    const { d, rx, tx } = consoleDriver(new PassThrough());
    expect(d.read(R.DeviceID)).toBe(3);
    const inbuf = d.buffer(64);
    const h = rx.post([{ addr: inbuf, len: 64, write: true }]);
    d.transport.notify(CONSOLE_RECEIVEQ);
    expect(rx.usedIdx()).toBe(0); // nothing to give yet
    const out = d.put(Buffer.from('hello, '));
    const out2 = d.put(Buffer.from('world'));
    const t = tx.post([{ addr: out, len: 7 }, { addr: out2, len: 5 }]);
    d.transport.notify(CONSOLE_TRANSMITQ);
    expect(tx.takeUsed()).toEqual([{ id: t, len: 0 }]);
    await waitFor(() => rx.usedIdx() === 1);
    expect(rx.takeUsed()).toEqual([{ id: h, len: 12 }]);
    expect(text(d.bytes(inbuf, 12))).toBe('hello, world');
  });

  it('host input waits for receive buffers and is split across them', async () => {
    const host = new PassThrough();
    const toGuest = new PassThrough();
    const stream = Duplex.from({ readable: toGuest, writable: host });
    const { d, rx } = consoleDriver(stream);
    toGuest.write('abcdefghij');
    await new Promise((r) => setImmediate(r));
    const a = d.buffer(4), b = d.buffer(16);
    rx.post([{ addr: a, len: 4, write: true }]);
    rx.post([{ addr: b, len: 16, write: true }]);
    d.transport.notify(CONSOLE_RECEIVEQ);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([4, 6]);
    expect(text(d.bytes(a, 4)) + text(d.bytes(b, 6))).toBe('abcdefghij');
  });

  it('pauses host input past 64 KiB until the guest takes it', async () => {
    const toGuest = new PassThrough();
    const stream = Duplex.from({ readable: toGuest, writable: new PassThrough() });
    const { d, rx } = consoleDriver(stream);
    for (let i = 0; i < 40; i++) toGuest.write(Buffer.alloc(4096, 0x41));
    await waitFor(() => stream.isPaused(), 2000, 'the stream to pause');
    const buf = d.buffer(65536);
    for (let i = 0; i < 3; i++) rx.post([{ addr: buf, len: 65536, write: true }]);
    d.transport.notify(CONSOLE_RECEIVEQ);
    await waitFor(() => !stream.isPaused(), 2000, 'the stream to resume');
    await waitFor(() => rx.takeUsed().length > 0 && toGuest.readableLength === 0, 2000, 'all input delivered');
  });

  it('stops taking transmit buffers while the stream is full, until drain', async () => {
    const chunks: Buffer[] = [];
    const callbacks: (() => void)[] = [];
    const stream = new Duplex({
      read() {},
      writableHighWaterMark: 16,
      write(chunk: Buffer, _enc, cb) { chunks.push(chunk); callbacks.push(cb); },
    });
    const { d, tx } = consoleDriver(stream);
    const messages = ['the first message....', 'the second message...', 'the third message....'];
    for (const s of messages) tx.post([{ addr: d.put(Buffer.from(s)), len: s.length }]);
    d.transport.notify(CONSOLE_TRANSMITQ);
    // the first write fills the stream: its chain is used, the next ones wait
    expect(tx.usedIdx()).toBe(1);
    d.transport.notify(CONSOLE_TRANSMITQ);
    expect(tx.usedIdx()).toBe(1);
    while (tx.usedIdx() < 3) {
      await waitFor(() => callbacks.length > 0);
      callbacks.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(chunks).toString()).toBe(messages.join(''));
  });

  it('emerg_wr writes one byte; config space has cols, rows and one port', async () => {
    const sink = new PassThrough();
    const { d, dev } = consoleDriver(Duplex.from({ readable: new PassThrough(), writable: sink }), { cols: 132, rows: 43 });
    expect(dev.features).toBe(VIRTIO_CONSOLE_F_EMERG_WRITE | VIRTIO_CONSOLE_F_SIZE);
    expect(d.transport.read(R.Config, 2)).toBe(132);
    expect(d.transport.read(R.Config + 2, 2)).toBe(43);
    expect(d.transport.read(R.Config + 4, 4)).toBe(1);
    d.transport.write(R.Config + 8, 4, 0x21);
    d.transport.write(R.Config + 8, 1, 0x0a);
    expect(d.transport.read(R.Config + 8, 4)).toBe(0);
    expect(sink.read()?.toString()).toBe('!\n');
    dev.resize(80, 25);
    expect(d.read(R.ConfigGeneration)).toBe(1);
    expect(d.read(R.InterruptStatus) & VIRTIO_MMIO_INT_CONFIG).toBe(VIRTIO_MMIO_INT_CONFIG);
    expect(d.transport.read(R.Config, 4)).toBe(80 | (25 << 16));
    expect(new VirtioConsole(new PassThrough()).features).toBe(VIRTIO_CONSOLE_F_EMERG_WRITE);
  });

  it('a stream that fails or ends does not stop the guest: output is dropped, one warning', async () => {
    const stream = new PassThrough();
    const { d, tx } = consoleDriver(stream);
    stream.destroy(new Error('broken pipe'));
    await new Promise((r) => setImmediate(r));
    const s = d.put(Buffer.from('lost'));
    tx.post([{ addr: s, len: 4 }]);
    tx.post([{ addr: s, len: 4 }]);
    d.transport.notify(CONSOLE_TRANSMITQ);
    expect(tx.usedIdx()).toBe(2);
    expect(d.warnings).toEqual(['virtio-mmio.0 (virtio-console): console stream failed: broken pipe']);
  });
});
