/** Network backends (src/netdev): framing, socket/stream/udp/inprocess pairs, passt, option parsing. */
import { describe, it, expect, afterEach } from 'vitest';
import * as net from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  FrameParser, FramingError, MAX_FRAME_LEN, encodeFrame, RX_QUEUE_LIMIT,
  StreamNetBackend, UdpNetBackend, UserNetBackend, InprocessNetBackend,
  parseNetdev, parseNic, parseHostfwd, passtCommandLine, createNetBackend,
  type NetBackend,
} from '../src/netdev/index.js';
import { exitHookInstalled } from '../src/netdev/user.js';
import { WkvmError } from '../src/errors.js';
import { which, QEMU, ROOT, runCmd } from './helpers.js';

const PASST = which('passt');

// ---- helpers ----

const open: NetBackend[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});
function keep<T extends NetBackend>(b: T): T {
  open.push(b);
  b.onWarning(() => {}); // tests look at warnings themselves
  return b;
}

/** Collects a backend's frames; `next()` waits for the next one. */
function collector(b: NetBackend) {
  const frames: Buffer[] = [];
  const waiters: (() => void)[] = [];
  b.onFrame((f) => { frames.push(Buffer.from(f)); waiters.splice(0).forEach((w) => w()); });
  return {
    frames,
    async waitFor(n: number, ms = 5000): Promise<Buffer[]> {
      const t0 = Date.now();
      while (frames.length < n) {
        if (Date.now() - t0 > ms) throw new Error(`timed out with ${frames.length}/${n} frames`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 50); });
      }
      return frames;
    },
    async waitMatch(pred: (f: Buffer) => boolean, ms = 5000): Promise<Buffer> {
      const t0 = Date.now();
      for (;;) {
        const f = frames.find(pred);
        if (f) return f;
        if (Date.now() - t0 > ms) throw new Error(`timed out; ${frames.length} frames seen`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 50); });
      }
    },
  };
}

/** Frame lists equal (Buffer.equals: vitest's deep equality is slow on 64 KiB buffers). */
function expectFrames(actual: Buffer[], expected: Buffer[]): void {
  expect(actual.map((f) => f.length)).toEqual(expected.map((f) => f.length));
  actual.forEach((f, i) => expect(f.equals(expected[i]), `frame ${i}`).toBe(true));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function frameOf(n: number, len = 60): Buffer {
  const f = Buffer.alloc(len, n & 0xff);
  f.writeUInt32BE(n, 0);
  return f;
}

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

function thrown(f: () => unknown): Error {
  try { f(); } catch (e) { return e as Error; }
  throw new Error('expected an exception');
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function socketPair(): Promise<[StreamNetBackend, StreamNetBackend]> {
  const server = keep(new StreamNetBackend({ id: 's', type: 'socket', server: true, addr: { type: 'inet', host: '127.0.0.1', port: 0 } }));
  await server.ready;
  const port = (server.localAddress as { port: number }).port;
  const client = keep(createNetBackend(parseNetdev(`socket,id=c,connect=127.0.0.1:${port}`)) as StreamNetBackend);
  await client.ready;
  await waitUntil(() => server.linkUp);
  return [server, client];
}

// ---- framing ----

describe('framing', () => {
  it('parses frames split across chunks and coalesced in one', () => {
    const frames = [frameOf(1, 60), frameOf(2, 1514), frameOf(3, 14), frameOf(4, 65534)];
    const bytes = Buffer.concat(frames.map(encodeFrame));
    // one byte at a time
    const p = new FrameParser();
    const out: Buffer[] = [];
    for (const b of bytes) { p.push(Buffer.of(b)); out.push(...p.drain()); }
    expectFrames(out, frames);
    expect(p.buffered).toBe(0);
    // all in one chunk
    const q = new FrameParser();
    q.push(bytes);
    expectFrames(q.drain(), frames);
    // length header split 2+2, then frame and the next header together
    const r = new FrameParser();
    r.push(bytes.subarray(0, 2));
    expect(r.next()).toBeUndefined();
    r.push(bytes.subarray(2, 4));
    expect(r.next()).toBeUndefined();
    r.push(bytes.subarray(4, 4 + 60 + 4 + 10));
    expect(r.next()).toEqual(frames[0]);
    expect(r.next()).toBeUndefined();
    r.push(bytes.subarray(4 + 60 + 4 + 10));
    expectFrames(r.drain(), frames.slice(1));
  });

  it('any chunking gives back the same frames (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }),
      (frames, cuts) => {
        const bytes = Buffer.concat(frames.map(encodeFrame));
        const p = new FrameParser();
        const out: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length];
          p.push(bytes.subarray(at, at + n));
          at += n;
          out.push(...p.drain());
        }
        expect(out.map((b) => [...b])).toEqual(frames.map((f) => [...f]));
      }), { numRuns: 200 });
  });

  it('skips zero-length frames', () => {
    const p = new FrameParser();
    p.push(Buffer.concat([Buffer.alloc(4), encodeFrame(frameOf(7)), Buffer.alloc(4)]));
    expect(p.drain()).toEqual([frameOf(7)]);
  });

  it('rejects absurd lengths without allocating, and keeps rejecting until reset', () => {
    const p = new FrameParser();
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(0xffffffff);
    p.push(hdr);
    expect(() => p.next()).toThrow(FramingError);
    expect(() => p.next()).toThrow(/4294967295 bytes/);
    expect(p.buffered).toBe(0);
    p.push(encodeFrame(frameOf(1))); // ignored once failed
    expect(() => p.next()).toThrow(FramingError);
    p.reset();
    hdr.writeUInt32BE(MAX_FRAME_LEN);
    p.push(hdr);
    expect(p.next()).toBeUndefined(); // the limit itself is fine: waits for the bytes
    p.reset();
    hdr.writeUInt32BE(MAX_FRAME_LEN + 1);
    p.push(hdr);
    expect(() => p.next()).toThrow(FramingError);
  });
});

// ---- socket / stream / udp / inprocess ----

describe('socket backend (TCP, listen + connect)', () => {
  it('exchanges frames both ways', async () => {
    const [server, client] = await socketPair();
    const rs = collector(server);
    const rc = collector(client);
    const big = frameOf(9, 65534);
    expect(client.send(frameOf(1))).toBe(true);
    client.send(big);
    server.send(frameOf(2, 1514));
    expectFrames(await rs.waitFor(2), [frameOf(1), big]);
    expect(await rc.waitFor(1)).toEqual([frameOf(2, 1514)]);
    expect(client.stats).toMatchObject({ txFrames: 2, txBytes: 60 + 65534, rxFrames: 1 });
    expect(server.stats).toMatchObject({ rxFrames: 2, txFrames: 1, rxDropped: 0 });
  });

  it('send() copies the frame (the caller may reuse its buffer)', async () => {
    const [server, client] = await socketPair();
    const rs = collector(server);
    const buf = frameOf(1);
    client.send(buf);
    buf.fill(0xee);
    expect((await rs.waitFor(1))[0]).toEqual(frameOf(1));
  });

  it('while paused holds frames back (no drops), delivers them in order on resume', async () => {
    const [server, client] = await socketPair();
    const got: number[] = [];
    server.pause();
    server.onFrame((f) => got.push(f.readUInt32BE(0)));
    const N = 2000;
    for (let i = 0; i < N; i++) client.send(frameOf(i));
    await sleep(300);
    expect(got).toEqual([]);
    // a device that runs out of buffers again after 100 frames
    let budget = 100;
    server.onFrame((f) => {
      got.push(f.readUInt32BE(0));
      if (--budget === 0) server.pause();
    });
    server.resume();
    await waitUntil(() => got.length === 100);
    await sleep(50);
    expect(got.length).toBe(100);
    budget = Infinity;
    server.resume();
    await waitUntil(() => got.length === N);
    expect(got).toEqual([...Array(N).keys()]);
    expect(server.stats.rxDropped).toBe(0);
  });

  it('reports congestion and calls onWritable when the peer drains', async () => {
    const [server, client] = await socketPair();
    server.pause(); // the receiver stops reading: the sender's buffers fill up
    server.onFrame(() => {});
    let writable = 0;
    client.onWritable(() => { writable++; });
    let sent = 0;
    while (client.send(frameOf(sent, 1514))) sent++;
    expect(sent).toBeLessThan(10_000);
    server.resume();
    await waitUntil(() => writable > 0);
  });

  it('closes the connection on an absurd frame length with one warning, then takes a new peer', async () => {
    const server = keep(new StreamNetBackend({ id: 's', type: 'socket', server: true, addr: { type: 'inet', host: '127.0.0.1', port: 0 } }));
    await server.ready;
    const warnings: string[] = [];
    server.onWarning((w) => warnings.push(w));
    const rs = collector(server);
    const port = (server.localAddress as { port: number }).port;
    const raw = net.createConnection({ host: '127.0.0.1', port });
    await new Promise((r) => raw.once('connect', r));
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(0x7fffffff);
    raw.write(Buffer.concat([encodeFrame(frameOf(1)), bad, Buffer.alloc(1000)]));
    await new Promise((r) => raw.once('close', r));
    expect(rs.frames).toEqual([frameOf(1)]);
    await waitUntil(() => !server.linkUp);
    await sleep(50);
    expect(warnings).toEqual(['netdev s: peer sent a frame length of 2147483647 bytes (limit 69632): closing the connection']);
    // the next peer is welcome
    const c2 = keep(createNetBackend(parseNetdev(`socket,id=c2,connect=127.0.0.1:${port}`)));
    await c2.ready;
    c2.send(frameOf(2));
    await rs.waitFor(2);
    expect(rs.frames[1]).toEqual(frameOf(2));
  });

  it('a server takes one peer at a time', async () => {
    const [server, client] = await socketPair();
    const port = (server.localAddress as { port: number }).port;
    const warnings: string[] = [];
    server.onWarning((w) => warnings.push(w));
    const other = net.createConnection({ host: '127.0.0.1', port });
    other.on('error', () => {});
    await new Promise((r) => other.once('close', r));
    expect(warnings.join('\n')).toMatch(/refused a second peer/);
    const rs = collector(server);
    client.send(frameOf(3));
    await rs.waitFor(1);
  });

  it('connecting to a closed port fails with a one-line error', async () => {
    const port = await freePort();
    const b = keep(createNetBackend(parseNetdev(`socket,id=n1,connect=127.0.0.1:${port}`)));
    const e = await rejection(b.ready);
    expect(e).toBeInstanceOf(WkvmError);
    expect(e.message).toBe(`netdev n1: cannot connect to 127.0.0.1:${port}: connection refused`);
  });

  it('listening on a busy port fails with a one-line error', async () => {
    const [server] = await socketPair();
    const port = (server.localAddress as { port: number }).port;
    const b = keep(createNetBackend(parseNetdev(`socket,id=n2,listen=127.0.0.1:${port}`)));
    expect((await rejection(b.ready)).message).toBe(`netdev n2: cannot listen on 127.0.0.1:${port}: address already in use`);
  });

  it('after the peer leaves, frames from the VM are dropped and counted', async () => {
    const [server, client] = await socketPair();
    const warnings: string[] = [];
    client.onWarning((w) => warnings.push(w));
    const links: boolean[] = [];
    client.onLinkChange((up) => links.push(up));
    await server.close();
    await waitUntil(() => !client.linkUp);
    expect(links).toEqual([false]);
    expect(warnings).toEqual([expect.stringMatching(/^netdev c: connection to 127\.0\.0\.1:\d+ lost \(closed\)$/)]);
    expect(client.send(frameOf(1))).toBe(true);
    expect(client.stats.txDropped).toBe(1);
  });
});

describe('stream backend (unix socket)', () => {
  it('server=on and server=off exchange frames; close removes the socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-test-'));
    try {
      const path = join(dir, 'net.sock');
      const server = keep(createNetBackend(parseNetdev(`stream,id=a,server=on,addr.type=unix,addr.path=${path}`)));
      await server.ready;
      expect(existsSync(path)).toBe(true);
      const client = keep(createNetBackend(parseNetdev(`stream,id=b,server=off,addr.type=unix,addr.path=${path}`)));
      await client.ready;
      const ra = collector(server);
      const rb = collector(client);
      for (let i = 0; i < 50; i++) client.send(frameOf(i, 100 + i));
      server.send(frameOf(77, 1514));
      expect(await ra.waitFor(50)).toEqual([...Array(50).keys()].map((i) => frameOf(i, 100 + i)));
      expect(await rb.waitFor(1)).toEqual([frameOf(77, 1514)]);
      expect(server.type).toBe('stream');
      await server.close();
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connecting to a missing socket fails with a one-line error', async () => {
    const b = keep(createNetBackend(parseNetdev('stream,id=x,server=off,addr.type=unix,addr.path=/nonexistent/wkvm.sock')));
    expect((await rejection(b.ready)).message).toBe('netdev x: cannot connect to unix:/nonexistent/wkvm.sock: no such socket');
  });

  it('reconnect= keeps trying until a server appears', async () => {
    const port = await freePort();
    const client = keep(createNetBackend(parseNetdev(`stream,id=r,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${port},reconnect=1`)));
    const warnings: string[] = [];
    client.onWarning((w) => warnings.push(w));
    await client.ready; // does not fail
    expect(client.linkUp).toBe(false);
    const server = keep(createNetBackend(parseNetdev(`stream,id=s,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`)));
    await server.ready;
    await waitUntil(() => client.linkUp, 3000);
    const rs = collector(server);
    client.send(frameOf(5));
    await rs.waitFor(1);
    expect(warnings.join('\n')).toMatch(/connection refused; retrying every 1 s/);
  });
});

describe('socket backend (udp=)', () => {
  it('one datagram per frame, both ways', async () => {
    const pa = await freePort();
    const pb = await freePort();
    const a = keep(createNetBackend(parseNetdev(`socket,id=a,udp=127.0.0.1:${pb},localaddr=127.0.0.1:${pa}`)));
    const b = keep(createNetBackend(parseNetdev(`socket,id=b,udp=127.0.0.1:${pa},localaddr=127.0.0.1:${pb}`)));
    await Promise.all([a.ready, b.ready]);
    expect(a).toBeInstanceOf(UdpNetBackend);
    const ra = collector(a);
    const rb = collector(b);
    a.send(frameOf(1));
    b.send(frameOf(2, 1514));
    expect(await rb.waitFor(1)).toEqual([frameOf(1)]);
    expect(await ra.waitFor(1)).toEqual([frameOf(2, 1514)]);
  });
});

describe('inprocess backend', () => {
  it('inject() feeds the VM, send() emits frame', async () => {
    const b = keep(new InprocessNetBackend('emb'));
    await b.ready;
    const out: Buffer[] = [];
    b.on('frame', (f: Buffer) => out.push(f));
    const rx = collector(b);
    expect(b.inject(frameOf(1))).toBe(true);
    const src = frameOf(2);
    b.send(src);
    src.fill(0);
    expect(out).toEqual([frameOf(2)]);
    expect(await rx.waitFor(1)).toEqual([frameOf(1)]);
  });

  it('never re-enters the device from send(); bounded queue while paused', async () => {
    const b = keep(new InprocessNetBackend('emb'));
    let inSend = false;
    let reentered = false;
    const got: number[] = [];
    b.onFrame((f) => { if (inSend) reentered = true; got.push(f.readUInt32BE(0)); });
    b.on('frame', (f: Buffer) => b.inject(f)); // an echoing embedder
    inSend = true;
    b.send(frameOf(42));
    inSend = false;
    expect(got).toEqual([]);
    await waitUntil(() => got.length === 1);
    expect(reentered).toBe(false);

    b.pause();
    let accepted = 0;
    for (let i = 0; i < RX_QUEUE_LIMIT + 50; i++) if (b.inject(frameOf(i))) accepted++;
    expect(accepted).toBe(RX_QUEUE_LIMIT);
    expect(b.stats.rxDropped).toBe(50);
    await sleep(20);
    expect(got.length).toBe(1);
    b.resume();
    await waitUntil(() => got.length === 1 + RX_QUEUE_LIMIT);
    expect(got.slice(1)).toEqual([...Array(RX_QUEUE_LIMIT).keys()]);
  });
});

// ---- option strings ----

describe('parseNetdev / parseNic / parseHostfwd', () => {
  it('parses the QEMU forms', () => {
    expect(parseNetdev('user,id=n0,hostfwd=tcp::8080-:80')).toEqual(
      { type: 'user', id: 'n0', hostfwd: [{ proto: 'tcp', hostPort: 8080, guestPort: 80 }] });
    expect(parseNetdev('user,id=n0,hostfwd=tcp:127.0.0.1:2222-10.0.2.15:22,hostfwd=udp::5353-:53,ipv6=off')).toEqual({
      type: 'user', id: 'n0', ipv6: false, hostfwd: [
        { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 2222, guestAddr: '10.0.2.15', guestPort: 22 },
        { proto: 'udp', hostPort: 5353, guestPort: 53 },
      ],
    });
    expect(parseNetdev('type=user,id=n0')).toEqual({ type: 'user', id: 'n0', hostfwd: [] });
    expect(parseNetdev('stream,id=s0,server=off,addr.type=unix,addr.path=/tmp/a,,b')).toEqual(
      { type: 'stream', id: 's0', server: false, addr: { type: 'unix', path: '/tmp/a,b' } });
    expect(parseNetdev('stream,id=s0,server=on,addr.type=inet,addr.host=::1,addr.port=1234')).toEqual(
      { type: 'stream', id: 's0', server: true, addr: { type: 'inet', host: '::1', port: 1234 } });
    expect(parseNetdev('stream,id=s0,addr.type=unix,addr.path=x,reconnect=2')).toMatchObject({ server: false, reconnect: 2 });
    expect(parseNetdev('socket,id=k,listen=:1234')).toEqual({ type: 'socket', id: 'k', listen: { host: '', port: 1234 } });
    expect(parseNetdev('socket,id=k,connect=[::1]:1234')).toEqual({ type: 'socket', id: 'k', connect: { host: '::1', port: 1234 } });
    expect(parseNetdev('socket,id=k,udp=1.2.3.4:5,localaddr=:6')).toEqual(
      { type: 'socket', id: 'k', udp: { host: '1.2.3.4', port: 5 }, localaddr: { host: '', port: 6 } });
  });

  it('parses -nic', () => {
    expect(parseNic('user,hostfwd=tcp::8080-:80,mac=52:54:00:AB:CD:EF,model=virtio-net-device')).toEqual({
      netdev: { type: 'user', id: 'nic0', hostfwd: [{ proto: 'tcp', hostPort: 8080, guestPort: 80 }] },
      mac: '52:54:00:ab:cd:ef', model: 'virtio-net-device',
    });
    expect(parseNic('user,id=u1', 'nic3')).toEqual({ netdev: { type: 'user', id: 'u1', hostfwd: [] } });
    expect(parseNic('socket,connect=localhost:9', 'nic1')).toEqual({ netdev: { type: 'socket', id: 'nic1', connect: { host: 'localhost', port: 9 } } });
    expect(parseNic('none')).toBeNull();
  });

  it('one-line errors for bad option strings', () => {
    const cases: [string, string][] = [
      ['tap,id=t', '-netdev tap is not supported (wkvm has user, stream, socket)'],
      ['bogus,id=t', "-netdev: unknown type 'bogus' (expected user, stream, socket)"],
      ['id=n0', "-netdev 'id=n0': no type (expected user, stream, socket, e.g. user,id=net0)"],
      ['user', '-netdev user needs an id (e.g. user,id=net0,...)'],
      ['user,id=0x', "-netdev user: invalid id '0x' (a letter, then letters, digits, '-', '.', '_')"],
      ['user,id=n,foo=1', "-netdev user: unknown option 'foo' (known: id, hostfwd, ipv4, ipv6)"],
      ['user,id=n,smb=/srv', "-netdev user: option 'smb' is not supported (wkvm's user networking is passt; it has id, hostfwd, ipv4, ipv6)"],
      ['user,id=n,id=m', "-netdev user: option 'id' given twice"],
      ['user,id=n,ipv4=maybe', '-netdev user: ipv4=maybe: expected on or off'],
      ['user,id=n,hostfwd', "-netdev: option 'hostfwd' needs a value (hostfwd=...)"],
      ['stream,id=s', '-netdev stream: needs addr.type=unix (with addr.path=) or addr.type=inet (with addr.host=, addr.port=)'],
      ['stream,id=s,addr.type=unix', '-netdev stream: addr.type=unix needs addr.path=PATH'],
      ['stream,id=s,addr.type=unix,addr.path=p,addr.port=1', '-netdev stream: addr.port does not go with addr.type=unix'],
      ['stream,id=s,addr.type=inet,addr.host=h,addr.port=99999', '-netdev stream: addr.port=99999: expected a port number (1-65535)'],
      ['stream,id=s,server=on,addr.type=unix,addr.path=p,reconnect=1', '-netdev stream: reconnect= is only for server=off'],
      ['socket,id=k', '-netdev socket: needs exactly one of listen=[HOST]:PORT, connect=HOST:PORT, udp=HOST:PORT (mcast= and fd= are not supported)'],
      ['socket,id=k,connect=1234', '-netdev socket: connect=1234: expected HOST:PORT'],
      ['socket,id=k,connect=h:0', '-netdev socket: connect=h:0: expected a port number (1-65535)'],
      ['socket,id=k,udp=h:1', '-netdev socket: udp= needs localaddr=HOST:PORT'],
    ];
    for (const [spec, msg] of cases) {
      const e = thrown(() => parseNetdev(spec));
      expect(e, spec).toBeInstanceOf(WkvmError);
      expect(e.message, spec).toBe(msg);
    }
    expect(thrown(() => parseNic('user,mac=01:00:00:00:00:01')).message).toBe("mac=01:00:00:00:00:01: a multicast address cannot be a NIC's address");
    expect(thrown(() => parseNic('user,mac=52:54:00')).message).toBe('mac=52:54:00: expected six hex bytes, e.g. 52:54:00:12:34:56');
  });

  it('hostfwd forms and errors', () => {
    expect(parseHostfwd('::8080-:80')).toEqual({ proto: 'tcp', hostPort: 8080, guestPort: 80 });
    expect(parseHostfwd('tcp:[::1]:8080-:80')).toEqual({ proto: 'tcp', hostAddr: '::1', hostPort: 8080, guestPort: 80 });
    const bad: [string, string][] = [
      ['8080-:80', "bad hostfwd '8080-:80' (expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp::8080-:80)"],
      ['tcp::8080:80', "bad hostfwd 'tcp::8080:80' (expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp::8080-:80)"],
      ['sctp::1-:2', "hostfwd 'sctp::1-:2': unknown protocol 'sctp' (expected tcp or udp)"],
      ['tcp::0-:80', "hostfwd 'tcp::0-:80': host port 0 is out of range (1-65535)"],
      ['tcp::http-:80', "hostfwd 'tcp::http-:80': host port 'http' is not a number"],
      ['tcp::80-:70000', "hostfwd 'tcp::80-:70000': guest port 70000 is out of range (1-65535)"],
      ['tcp:localhost:80-:80', "hostfwd 'tcp:localhost:80-:80': host address 'localhost' is not an IP address"],
      ['tcp::80-guest:80', "hostfwd 'tcp::80-guest:80': guest address 'guest' is not an IPv4 address"],
    ];
    for (const [s, msg] of bad) expect(thrown(() => parseHostfwd(s)).message, s).toBe(msg);
    expect(thrown(() => parseNetdev('user,id=n,hostfwd=tcp::1-:2-3')).message).toBe("hostfwd 'tcp::1-:2-3': guest port '2-3' is not a number");
  });

  it('maps options to passt arguments', () => {
    const spec = parseNetdev('user,id=n,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp::8080-:80,ipv6=off') as Parameters<typeof passtCommandLine>[0] & { hostfwd: [] };
    expect(passtCommandLine(spec, '/s')).toEqual(['-f', '-1', '-q', '-s', '/s', '-4', '-t', '127.0.0.1/2222:22', '-t', '8080:80', '-u', 'none']);
    expect(passtCommandLine({ id: 'n', hostfwd: [parseHostfwd('udp::53-:5353')] }, '/s')).toEqual(['-f', '-1', '-q', '-s', '/s', '-u', '53:5353']);
  });
});

// ---- user networking through passt ----

const GUEST_MAC = Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

function ipChecksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + UDP 68->67 + BOOTP DHCPDISCOVER, broadcast. */
function dhcpDiscover(xid: number): Buffer {
  const bootp = Buffer.alloc(300);
  bootp[0] = 1; bootp[1] = 1; bootp[2] = 6; // BOOTREQUEST, Ethernet, hlen 6
  bootp.writeUInt32BE(xid, 4);
  bootp.writeUInt16BE(0x8000, 10); // broadcast flag
  GUEST_MAC.copy(bootp, 28);
  bootp.writeUInt32BE(0x63825363, 236); // magic cookie
  Buffer.from([53, 1, 1, 55, 3, 1, 3, 6, 255]).copy(bootp, 240); // DISCOVER, ask mask/router/dns
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(68, 0); udp.writeUInt16BE(67, 2); udp.writeUInt16BE(8 + bootp.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45; ip.writeUInt16BE(20 + 8 + bootp.length, 2); ip[8] = 64; ip[9] = 17;
  ip.writeUInt32BE(0xffffffff, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  const eth = Buffer.concat([Buffer.alloc(6, 0xff), GUEST_MAC, Buffer.from([0x08, 0x00])]);
  return Buffer.concat([eth, ip, udp, bootp]);
}

interface DhcpReply { type: number; xid: number; yiaddr: string; router?: string }

function parseDhcpReply(f: Buffer): DhcpReply | undefined {
  if (f.length < 14 + 20 + 8 + 240 || f.readUInt16BE(12) !== 0x0800 || f[14 + 9] !== 17) return undefined;
  const ihl = (f[14] & 15) * 4;
  const udp = 14 + ihl;
  if (f.readUInt16BE(udp) !== 67) return undefined;
  const b = f.subarray(udp + 8);
  if (b.readUInt32BE(236) !== 0x63825363) return undefined;
  const r: DhcpReply = { type: 0, xid: b.readUInt32BE(4), yiaddr: [...b.subarray(16, 20)].join('.') };
  for (let i = 240; i < b.length && b[i] !== 255;) {
    if (b[i] === 0) { i++; continue; }
    const [code, len] = [b[i], b[i + 1]];
    if (code === 53) r.type = b[i + 2];
    if (code === 3 && len >= 4) r.router = [...b.subarray(i + 2, i + 6)].join('.');
    i += 2 + len;
  }
  return r;
}

function arpRequest(senderIp: string, targetIp: string): Buffer {
  const ip = (s: string) => Buffer.from(s.split('.').map(Number));
  return Buffer.concat([
    Buffer.alloc(6, 0xff), GUEST_MAC, Buffer.from([0x08, 0x06]),
    Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]), GUEST_MAC, ip(senderIp), Buffer.alloc(6), ip(targetIp),
  ]);
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

describe.skipIf(!PASST)('user backend (passt)', () => {
  it('passt answers DHCP DISCOVER with an OFFER and ARP for the gateway; close() ends passt and cleans up', async () => {
    const hostPort = await freePort();
    const b = keep(createNetBackend(parseNetdev(`user,id=u0,hostfwd=tcp:127.0.0.1:${hostPort}-:80`))) as UserNetBackend;
    await b.ready;
    expect(b.linkUp).toBe(true);
    expect(exitHookInstalled()).toBe(true);
    const pid = b.pid!;
    const sockPath = b.socketPath!;
    expect(isAlive(pid)).toBe(true);
    const rx = collector(b);

    b.send(dhcpDiscover(0x1234abcd));
    const offerFrame = await rx.waitMatch((f) => parseDhcpReply(f)?.xid === 0x1234abcd);
    const offer = parseDhcpReply(offerFrame)!;
    expect(offer.type).toBe(2); // DHCPOFFER
    expect(offer.yiaddr).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(offer.yiaddr).not.toBe('0.0.0.0');
    expect(offer.router).toBeDefined();

    b.send(arpRequest(offer.yiaddr, offer.router!));
    const reply = await rx.waitMatch((f) => f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 2);
    expect([...reply.subarray(28, 32)].join('.')).toBe(offer.router); // sender IP = the gateway
    expect(reply.subarray(32, 38)).toEqual(GUEST_MAC);

    // hostfwd: a connection to the host port becomes a SYN to the guest's port 80
    const conn = net.createConnection({ host: '127.0.0.1', port: hostPort });
    conn.on('error', () => {});
    const syn = await rx.waitMatch((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 6 && f.readUInt16BE(14 + (f[14] & 15) * 4 + 2) === 80);
    expect(syn.subarray(0, 6)).toEqual(GUEST_MAC);
    conn.destroy();

    await b.close();
    expect(b.exited).toBe(true);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(sockPath)).toBe(false);
    expect(exitHookInstalled()).toBe(false);
  });

  it('passt missing: the install hint', async () => {
    const b = keep(createNetBackend(parseNetdev('user,id=u1'), { env: { ...process.env, PATH: '/nonexistent' } }));
    const e = await rejection(b.ready);
    expect(e).toBeInstanceOf(WkvmError);
    expect(e.message).toBe('passt is not installed: apt-get install passt (needed for -netdev user)');
    const c = keep(new UserNetBackend({ id: 'u2', passt: '/nonexistent/passt' }));
    expect((await rejection(c.ready)).message).toBe('passt is not installed (/nonexistent/passt not found): apt-get install passt (needed for -netdev user)');
    expect(exitHookInstalled()).toBe(false);
  });

  it('passt exiting early: its stderr in the error', async () => {
    const b = keep(new UserNetBackend({ id: 'u3', passtArgs: ['-t', 'bogus'] }));
    const e = await rejection(b.ready);
    expect(e).toBeInstanceOf(WkvmError);
    expect(e.message).toBe('netdev u3: passt exited (code 1) before it was ready: Invalid port specifier bogus');
    expect(b.exited).toBe(true);
    expect(exitHookInstalled()).toBe(false);
  });

  it.skipIf(!existsSync(join(ROOT, 'dist/src/netdev/index.js')))('process exit kills passt and removes its folder', async () => {
    const script = `
      import { UserNetBackend } from ${JSON.stringify(join(ROOT, 'dist/src/netdev/index.js'))};
      const b = new UserNetBackend({ id: 'x' });
      await b.ready;
      console.log(JSON.stringify({ pid: b.pid, path: b.socketPath }));
      process.exit(0);`;
    const r = await runCmd(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 10_000 });
    expect(r.code, r.stderr).toBe(0);
    const { pid, path } = JSON.parse(r.stdout) as { pid: number; path: string };
    await waitUntil(() => !isAlive(pid), 2000);
    expect(existsSync(join(path, '..'))).toBe(false);
  });

  it('passt dying is reported once and the link goes down', async () => {
    const b = keep(new UserNetBackend({ id: 'u4' }));
    const warnings: string[] = [];
    b.onWarning((w) => warnings.push(w));
    await b.ready;
    process.kill(b.pid!, 'SIGKILL');
    await waitUntil(() => !b.linkUp && warnings.length > 0);
    await sleep(200);
    expect(warnings).toEqual(['netdev u4: passt exited (signal SIGKILL); the network is down']);
    expect(b.send(frameOf(1))).toBe(true);
    expect(b.stats.txDropped).toBe(1);
  });
});

describe.skipIf(!PASST)('stream backend with a passt the user started', () => {
  it('server=off,addr.type=unix connects to `passt -f -1 -s SOCK` and gets a DHCP OFFER', async () => {
    const { spawn } = await import('node:child_process');
    const { chmodSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-test-'));
    chmodSync(dir, 0o1777);
    const path = join(dir, 'passt.sock');
    const passt = spawn(PASST!, ['-f', '-1', '-q', '-s', path], { stdio: 'ignore' });
    const exited = new Promise((r) => passt.once('exit', r));
    try {
      await waitUntil(() => existsSync(path));
      const b = keep(createNetBackend(parseNetdev(`stream,id=p,server=off,addr.type=unix,addr.path=${path},reconnect=1`)));
      await b.ready;
      await waitUntil(() => b.linkUp);
      const rx = collector(b);
      b.send(dhcpDiscover(0x5555));
      const offer = parseDhcpReply(await rx.waitMatch((f) => parseDhcpReply(f)?.xid === 0x5555));
      expect(offer?.type).toBe(2);
      await b.close();
      await Promise.race([exited, sleep(3000)]); // -1: passt leaves with its one client
      expect(passt.exitCode).not.toBeNull();
    } finally {
      passt.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// QEMU's -netdev socket and -netdev stream speak the same framing: a QEMU hub
// between a socket netdev and a stream netdev relays frames between two of ours.
describe.skipIf(!QEMU)('QEMU interoperability', () => {
  // Flaky under load (2 of 5 full runs on 2026-12-06, no VM involved): no frame crossed QEMU's hub in 15 s
  // despite the resends. A retry runs it again with a new QEMU; a real break fails all three.
  it('frames cross a QEMU hub between -netdev socket and -netdev stream', { retry: 2 }, async () => {
    const { spawn } = await import('node:child_process');
    const listenPort = await freePort();
    const ours = keep(new StreamNetBackend({ id: 'ours', type: 'socket', server: true, addr: { type: 'inet', host: '127.0.0.1', port: 0 } }));
    await ours.ready;
    const ourPort = (ours.localAddress as { port: number }).port;
    const qemu = spawn(QEMU!, [
      '-M', 'none', '-nographic', '-nodefaults', '-monitor', 'none', '-serial', 'none',
      '-netdev', `socket,id=a,connect=127.0.0.1:${ourPort}`,
      '-netdev', `stream,id=b,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=${listenPort}`,
      '-netdev', 'hubport,id=ha,hubid=0,netdev=a',
      '-netdev', 'hubport,id=hb,hubid=0,netdev=b',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    qemu.stderr.on('data', (d) => { stderr += d; });
    try {
      await waitUntil(() => ours.linkUp || qemu.exitCode !== null, 10_000);
      expect(qemu.exitCode, stderr).toBeNull();
      const peer = keep(new StreamNetBackend({ id: 'peer', type: 'stream', server: false, addr: { type: 'inet', host: '127.0.0.1', port: listenPort }, reconnect: 1 }));
      await peer.ready;
      await waitUntil(() => peer.linkUp, 10_000);
      const rOurs = collector(ours);
      const rPeer = collector(peer);
      // QEMU may still be wiring its hub when the connections are up, and a hub drops
      // what arrives before: send until a frame gets through (as a NIC's retries would)
      const resend = setInterval(() => {
        if (rOurs.frames.length === 0) peer.send(frameOf(1, 1514));
        if (rPeer.frames.length === 0) ours.send(frameOf(2, 60));
      }, 200);
      try {
        peer.send(frameOf(1, 1514));
        ours.send(frameOf(2, 60));
        expect((await rOurs.waitFor(1, 15_000))[0]).toEqual(frameOf(1, 1514));
        expect((await rPeer.waitFor(1, 15_000))[0]).toEqual(frameOf(2, 60));
      } finally {
        clearInterval(resend);
      }
    } finally {
      qemu.kill('SIGKILL');
    }
  });
});
