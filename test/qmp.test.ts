/**
 * QMP: wkvm's monitor against QEMU's. The same command sequence goes to
 * `qemu-system-riscv64 -qmp` and to `wkvm run -qmp` (both running
 * guests/console, paused with -S, with a disk): the replies' shapes (keys
 * and value types), the events and the error classes must agree. Then each
 * command, event and error on its own, hostile clients, the embedder's
 * QmpServer, and a fast-check fuzz of the input parser.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { QmpServer, VirtualMachine } from '../dist/src/index.js';
import { JsonStream } from '../dist/src/qmp/json-stream.js';
import { QEMU, ROOT, WKVM, runWkvm } from './helpers.js';

const CONSOLE_ELF = join(ROOT, 'guests', 'console', 'console.elf');
const dir = mkdtempSync(join(tmpdir(), 'wkvm-qmp-'));
const DISK = join(dir, 'disk.img');
writeFileSync(DISK, Buffer.alloc(1 << 20));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Msg = Record<string, unknown>;

/** A QMP client: sends commands, collects every message it gets. */
class Client {
  readonly messages: Msg[] = [];
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (line) this.messages.push(JSON.parse(line) as Msg);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w(); });
    sock.on('error', () => {});
  }
  static connect(path: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path, () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  /** Wait for a message matching `pred` at index >= from; returns it. */
  async wait(pred: (m: Msg) => boolean, from = 0, timeoutMs = 20_000): Promise<Msg> {
    const t0 = Date.now();
    for (;;) {
      const m = this.messages.slice(from).find(pred);
      if (m) return m;
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(this.messages.slice(from))}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out; got ${JSON.stringify(this.messages.slice(from))}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }
  /** Send raw text; resolve with the next reply (a message with return or error) after it. */
  async raw(text: string): Promise<Msg> {
    const from = this.messages.length;
    this.sock.write(text + '\n');
    return this.wait((m) => 'return' in m || 'error' in m, from);
  }
  cmd(execute: string, args?: Msg): Promise<Msg> {
    return this.raw(JSON.stringify(args ? { execute, arguments: args } : { execute }));
  }
  events(): string[] { return this.messages.filter((m) => 'event' in m).map((m) => m.event as string); }
  close(): void { this.sock.destroy(); }
}

/** Keys and value types of a JSON value, recursively (arrays: the shape of each element). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape((v as Msg)[k])]));
  return typeof v;
}

async function waitForSocket(path: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) {
    if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}`);
    await sleep(50);
  }
}

/** The command sequence both monitors get, by label. */
const SEQUENCE: [string, string][] = [
  ['before negotiation', '{"execute":"query-status"}'],
  ['qmp_capabilities', '{"execute":"qmp_capabilities"}'],
  ['qmp_capabilities again', '{"execute":"qmp_capabilities"}'],
  ['query-version', '{"execute":"query-version"}'],
  ['query-status prelaunch', '{"execute":"query-status"}'],
  ['query-name', '{"execute":"query-name"}'],
  ['query-target', '{"execute":"query-target"}'],
  ['query-cpus-fast', '{"execute":"query-cpus-fast"}'],
  ['query-block', '{"execute":"query-block"}'],
  ['query-stats cryptodev', '{"execute":"query-stats","arguments":{"target":"cryptodev"}}'],
  ['unknown command with id', '{"execute":"no-such-command","id":"x7"}'],
  ['not an object', '[1, 2]'],
  ['not JSON', 'garbage'],
  ['unexpected member', '{"foo":1}'],
  ['lacks execute', '{"id":3}'],
  ['execute not a string', '{"execute":5}'],
  ['arguments not an object', '{"execute":"stop","arguments":[]}'],
  ['unexpected argument', '{"execute":"stop","arguments":{"x":1}}'],
  ['missing argument', '{"execute":"human-monitor-command","arguments":{}}'],
  ['argument of the wrong type', '{"execute":"human-monitor-command","arguments":{"command-line":5}}'],
  ['cont', '{"execute":"cont"}'],
  ['query-status running', '{"execute":"query-status"}'],
  ['stop', '{"execute":"stop"}'],
  ['query-status paused', '{"execute":"query-status"}'],
  ['cont again', '{"execute":"cont"}'],
  ['system_reset', '{"execute":"system_reset"}'],
  ['hmp info status', '{"execute":"human-monitor-command","arguments":{"command-line":"info status"}}'],
  ['hmp info cpus', '{"execute":"human-monitor-command","arguments":{"command-line":"info cpus"}}'],
  ['hmp info registers', '{"execute":"human-monitor-command","arguments":{"command-line":"info registers"}}'],
  ['hmp info mtree', '{"execute":"human-monitor-command","arguments":{"command-line":"info mtree"}}'],
  ['hmp unknown', '{"execute":"human-monitor-command","arguments":{"command-line":"info no-such-thing"}}'],
  ['query-commands', '{"execute":"query-commands"}'],
];

interface Transcript { replies: Map<string, Msg>; events: Msg[]; greeting: Msg; afterQuit: Msg[] }

/** Run SEQUENCE against a monitor at `sock`, then type `reboot` on the guest, then quit. */
async function transcript(sock: string, proc: ChildProcess, typeLine: (s: string) => void): Promise<Transcript> {
  await waitForSocket(sock, proc);
  const c = await Client.connect(sock);
  const greeting = await c.wait((m) => 'QMP' in m);
  const replies = new Map<string, Msg>();
  for (const [label, text] of SEQUENCE) replies.set(label, await c.raw(text));
  await sleep(1500); // the guest boots again after system_reset
  const n = c.messages.length;
  typeLine('reboot');
  await c.wait((m) => m.event === 'RESET', n);
  await sleep(1500);
  const q = c.messages.length;
  replies.set('quit', await c.raw('{"execute":"quit"}'));
  await c.wait((m) => m.event === 'SHUTDOWN', q).catch(() => undefined);
  await new Promise<void>((r) => { if (c.closed) r(); else c.sock.once('close', () => r()); setTimeout(r, 5000); });
  return { replies, events: c.messages.filter((m) => 'event' in m), greeting, afterQuit: c.messages.slice(q) };
}

describe.skipIf(!QEMU)('QMP against QEMU (the same commands to both)', () => {
  let qemu: Transcript, wkvm: Transcript;
  beforeAll(async () => {
    const common = ['-S', '-smp', '2', '-m', '128M', '-kernel', CONSOLE_ELF,
      '-drive', `file=${DISK},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0'];
    // QEMU: the console guest's serial on a socket we type into
    const qsock = join(dir, 'qemu.qmp'), ssock = join(dir, 'qemu.serial');
    const q = spawn(QEMU!, ['-M', 'virt', '-display', 'none', '-monitor', 'none', '-serial', `unix:${ssock},server=on,wait=off`,
      '-qmp', `unix:${qsock},server=on,wait=off`, ...common], { stdio: 'ignore' });
    await waitForSocket(ssock, q);
    const serial = createConnection(ssock);
    serial.on('error', () => {});
    serial.resume();
    qemu = await transcript(qsock, q, (s) => serial.write(s + '\r'));
    serial.destroy();
    q.kill('SIGKILL');
    // wkvm: the serial console is its stdin
    const wsock = join(dir, 'wkvm.qmp');
    const w = spawn(process.execPath, [WKVM, 'run', '-qmp', `unix:${wsock},server=on,wait=off`, ...common], { stdio: ['pipe', 'ignore', 'inherit'] });
    wkvm = await transcript(wsock, w, (s) => w.stdin!.write(s + '\r'));
    await new Promise((r) => { if (w.exitCode !== null) r(null); else w.once('exit', r); setTimeout(r, 5000); });
    expect(w.exitCode).toBe(0);
  }, 120_000);

  it('greets in the same shape, naming wkvm', () => {
    expect(shape(wkvm.greeting)).toEqual(shape({ ...qemu.greeting, QMP: { ...(qemu.greeting.QMP as Msg), capabilities: [] } }));
    expect(((wkvm.greeting.QMP as Msg).version as Msg).package).toMatch(/^wkvm \d/);
  });

  for (const [label] of SEQUENCE) {
    it(`answers '${label}' as QEMU does (shape, error class)`, () => {
      const a = wkvm.replies.get(label)!, b = qemu.replies.get(label)!;
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      if ('error' in b) {
        expect((a.error as Msg).class).toBe((b.error as Msg).class);
        expect(typeof (a.error as Msg).desc).toBe('string');
        return;
      }
      let ra = a.return, rb = b.return;
      if (label === 'query-block') { // QEMU lists the board's empty slots (floppy0, sd0, ...) too
        ra = (ra as Msg[]).filter((d) => d.device === 'd0');
        rb = (rb as Msg[]).filter((d) => d.device === 'd0');
        expect(ra).toHaveLength(1);
        expect(((ra as Msg[])[0]!.inserted as Msg).file).toBe(DISK);
      }
      if (label === 'query-commands') { // every command wkvm offers is a QEMU command
        const qemuNames = new Set((rb as Msg[]).map((c) => c.name));
        for (const c of ra as Msg[]) expect(qemuNames, String(c.name)).toContain(c.name);
        return;
      }
      if (label === 'query-version') { ra = (ra as Msg); rb = (rb as Msg); }
      expect(shape(ra)).toEqual(shape(rb));
    });
  }

  it('agrees on the run states', () => {
    for (const label of ['query-status prelaunch', 'query-status running', 'query-status paused']) {
      expect(wkvm.replies.get(label)!.return).toEqual(qemu.replies.get(label)!.return);
    }
    expect(wkvm.replies.get('hmp info status')!.return).toBe(qemu.replies.get('hmp info status')!.return);
    expect(wkvm.replies.get('hmp unknown')!.return).toBe(qemu.replies.get('hmp unknown')!.return);
  });

  it('sends the same events with the same data: RESUME, STOP, RESET (host and guest), SHUTDOWN on quit', () => {
    const strip = (e: Msg) => ({ event: e.event, data: e.data, ts: shape(e.timestamp) });
    expect(wkvm.events.map(strip)).toEqual(qemu.events.map(strip));
    expect(wkvm.events.map((e) => e.event)).toEqual(['RESUME', 'STOP', 'RESUME', 'RESET', 'RESET', 'SHUTDOWN']);
  });

  it('info registers and info cpus show the same layout', () => {
    const regs = (t: Transcript) => (t.replies.get('hmp info registers')!.return as string);
    for (const name of ['pc', 'mhartid', 'mstatus', 'satp', 'x0/zero', 'x10/a0', 'f31/ft11']) {
      expect(regs(wkvm)).toMatch(new RegExp(` ${name.replace('/', '\\/')} +[0-9a-f]{16}`));
      expect(regs(qemu)).toMatch(new RegExp(` ${name.replace('/', '\\/')} +[0-9a-f]{16}`));
    }
    const cpus = (t: Transcript) => (t.replies.get('hmp info cpus')!.return as string).replace(/thread_id=\d+/g, 'thread_id=N');
    expect(cpus(wkvm)).toBe(cpus(qemu));
  });
});

describe('QMP commands and events (wkvm alone)', () => {
  let vm: VirtualMachine;
  let server: QmpServer;
  let c: Client;
  const sock = join(dir, 'api.qmp');
  beforeAll(async () => {
    vm = await VirtualMachine.create({ kernel: CONSOLE_ELF, smp: 2, memory: '64M', name: 'guest-one', drives: [{ file: DISK, readonly: true, id: 'ro0' }] });
    server = await QmpServer.listen(vm, [{ transport: 'unix', path: sock }]);
    vm.start({ paused: true });
    c = await Client.connect(sock);
    await c.wait((m) => 'QMP' in m);
    expect(await c.cmd('qmp_capabilities')).toEqual({ return: {} });
  });
  afterAll(async () => { c.close(); await vm.stop(); await server.close(); });

  it('query-name, query-block and query-cpus-fast describe this VM', async () => {
    expect((await c.cmd('query-name')).return).toEqual({ name: 'guest-one' });
    const [blk] = (await c.cmd('query-block')).return as Msg[];
    expect(blk!.device).toBe('ro0');
    expect((blk!.inserted as Msg).ro).toBe(true);
    expect(((blk!.inserted as Msg).image as Msg)['virtual-size']).toBe(1 << 20);
    let cpus = (await c.cmd('query-cpus-fast')).return as Msg[];
    // the threads of a paused start come up one after another
    for (let i = 0; i < 100 && cpus.some((x) => x['thread-id'] === 0); i++) { await sleep(50); cpus = (await c.cmd('query-cpus-fast')).return as Msg[]; }
    expect(cpus.map((x) => x['qom-path'])).toEqual(['/machine/soc0/harts[0]', '/machine/soc0/harts[1]']);
    for (const x of cpus) expect(x['thread-id']).toBeGreaterThan(0);
    expect(new Set(cpus.map((x) => x['thread-id'])).size).toBe(2);
  });

  it('cont runs the guest; query-stats counts its instructions per vCPU; stop holds them', async () => {
    expect((await c.cmd('query-status')).return).toMatchObject({ status: 'prelaunch', running: false });
    await c.cmd('cont');
    await vm.console.expect('> ');
    vm.console.sendLine('spin');
    await sleep(200);
    await c.cmd('stop');
    expect((await c.cmd('query-status')).return).toMatchObject({ status: 'paused', running: false });
    const stats = async () => ((await c.cmd('query-stats', { target: 'vcpu' })).return as Msg[]);
    const s1 = await stats();
    expect(s1).toHaveLength(2);
    const insns = (s: Msg[]) => ((s[0]!.stats as Msg[]).find((x) => x.name === 'instructions')!.value as number);
    expect(insns(s1)).toBeGreaterThan(1000);
    await sleep(200);
    expect(insns(await stats())).toBe(insns(s1));
    const only = (await c.cmd('query-stats', { target: 'vcpu', vcpus: ['/machine/soc0/harts[1]'], providers: [{ provider: 'kvm', names: ['exits'] }] })).return as Msg[];
    expect(only).toEqual([{ provider: 'kvm', 'qom-path': '/machine/soc0/harts[1]', stats: [{ name: 'exits', value: expect.any(Number) }] }]);
    expect((await c.cmd('query-stats', { target: 'nonsense' })).error).toMatchObject({ class: 'GenericError' });
    const names = ((s1[1]!.stats as Msg[]).map((x) => x.name));
    for (const n of ['exits-wfi', 'exits-mmio', 'interrupts', 'tlb-misses', 'decode-misses', 'time-running', 'time-halted', 'time-paused']) expect(names).toContain(n);
    const halted = (s1[1]!.stats as Msg[]).find((x) => x.name === 'time-halted')!.value as number;
    expect(halted).toBeGreaterThan(0); // hart 1 was never started: it sleeps
    const vmStats = (await c.cmd('query-stats', { target: 'vm' })).return as Msg[];
    expect(vmStats).toEqual([{ provider: 'kvm', stats: expect.arrayContaining([{ name: 'blk.ro0.reads', value: 0 }, { name: 'blk.ro0.read-bytes', value: 0 }]) }]);
    const schemas = (await c.cmd('query-stats-schemas')).return as Msg[];
    expect(schemas.map((x) => x.target)).toEqual(['vcpu', 'vm']);
    expect((schemas[0]!.stats as Msg[]).find((x) => x.name === 'time-halted')).toEqual({ name: 'time-halted', type: 'cumulative', unit: 'seconds', base: 10, exponent: -6 });
    await c.cmd('cont');
    vm.console.sendLine('');
    await vm.console.expect('spun');
  });

  it('info registers shows the hart the monitor asks for; while running it holds the vCPUs only for the read', async () => {
    const r = (await c.cmd('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': 1 })).return as string;
    expect(r).toMatch(/^CPU#1\r\n pc       [0-9a-f]{16}\r\n mhartid  0000000000000001\r\n/);
    expect(vm.runState).toBe('running');
    const all = (await c.cmd('human-monitor-command', { 'command-line': 'info registers -a' })).return as string;
    expect(all.match(/CPU#\d/g)).toEqual(['CPU#0', 'CPU#1']);
    expect((await c.cmd('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': 9 })).return).toMatch(/does not exist/);
  });

  it('a guest reboot is RESET {guest: true}; a failure report is GUEST_PANICKED then SHUTDOWN guest-panic', async () => {
    const n = c.messages.length;
    vm.console.sendLine('reboot');
    expect(await c.wait((m) => m.event === 'RESET', n)).toMatchObject({ data: { guest: true, reason: 'guest-reset' } });
    await vm.console.expect('> ');
    vm.console.sendLine('fail');
    expect(await c.wait((m) => m.event === 'GUEST_PANICKED', n)).toMatchObject({ data: { action: 'poweroff' } });
    expect(await c.wait((m) => m.event === 'SHUTDOWN', n)).toMatchObject({ data: { guest: true, reason: 'guest-panic' } });
    expect(await vm.exited).toBe(1);
  });
});

describe('hostile QMP clients', () => {
  let vm: VirtualMachine;
  let server: QmpServer;
  const sock = join(dir, 'hostile.qmp');
  beforeAll(async () => {
    vm = await VirtualMachine.create({ kernel: CONSOLE_ELF, memory: '64M' });
    server = await QmpServer.listen(vm, [{ transport: 'unix', path: sock }]);
    vm.start();
  });
  afterAll(async () => { await vm.stop(); await server.close(); });

  async function negotiated(): Promise<Client> {
    const c = await Client.connect(sock);
    await c.wait((m) => 'QMP' in m);
    await c.cmd('qmp_capabilities');
    return c;
  }

  it('a huge message gets one error and the session goes on', async () => {
    const c = await negotiated();
    const from = c.messages.length;
    c.sock.write('{"execute":"query-status","arguments":{"pad":"' + 'x'.repeat(3 << 20) + '"}}\n');
    expect(await c.wait((m) => 'error' in m, from)).toMatchObject({ error: { class: 'GenericError', desc: expect.stringMatching(/longer than/) } });
    expect((await c.cmd('query-status')).return).toMatchObject({ status: 'running' });
    c.close();
  });

  it('garbage, deep nesting and stray brackets get errors; the next command is answered', async () => {
    const c = await negotiated();
    expect((await c.raw('}')).error).toMatchObject({ class: 'GenericError' });
    expect((await c.raw('[' .repeat(5000))).error).toMatchObject({ class: 'GenericError', desc: expect.stringMatching(/nesting/) });
    expect((await c.raw('{"execute": "query-status" "x"}')).error).toMatchObject({ class: 'GenericError' });
    expect((await c.raw('\u0000\u0001\u00ff')).error).toMatchObject({ class: 'GenericError' });
    expect((await c.cmd('query-status')).return).toMatchObject({ status: 'running' });
    c.close();
  });

  it('a client that disconnects mid-command or mid-message leaves the VM and other clients served', async () => {
    const a = await negotiated();
    a.sock.write('{"execute":"stop"}\n{"execute":"query-sta');
    a.sock.destroy();
    const b = await negotiated();
    for (let i = 0; i < 20; i++) {
      const d = await Client.connect(sock);
      d.sock.write('{"execute":"qmp_capabilities"}{"exe');
      d.sock.destroy();
    }
    expect((await b.cmd('query-status')).return).toMatchObject({ status: 'paused' });
    expect(await b.cmd('cont')).toEqual({ return: {} });
    await vm.console.expect('> ', { timeout: 5000 }).catch(() => undefined);
    vm.console.sendLine('echo alive');
    await vm.console.expect('alive\n');
    b.close();
  });

  it('messages split at every byte, or many in one write, are read alike', async () => {
    const c = await negotiated();
    const text = '{"execute":"query-name"}{"execute":"query-target"}\n{"execute":"query-status","id":[1,{"a":"}"}]}';
    const from = c.messages.length;
    for (const ch of text) c.sock.write(ch);
    await c.wait((m) => Array.isArray(m.id), from);
    const replies = c.messages.slice(from);
    expect(replies).toEqual([{ return: {} }, { return: { arch: 'riscv64' } }, { id: [1, { a: '}' }], return: expect.objectContaining({ status: 'running' }) }]);
    c.close();
  });
});

describe('the QMP input parser (fast-check)', () => {
  const RUNS = Number(process.env.WKVM_FUZZ_RUNS ?? 300);

  it('reads the same values however the stream is split', () => {
    const msg = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 });
    let cases = 0;
    fc.assert(fc.property(fc.array(msg, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (msgs, cuts, newlines) => {
      cases++;
      const text = msgs.map((m) => JSON.stringify(m)).join(newlines ? '\n' : ' ');
      const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const s = new JsonStream();
      const out: unknown[] = [];
      let prev = 0;
      for (const k of [...at, text.length]) { out.push(...s.push(text.slice(prev, k))); prev = k; }
      out.push(...s.push('\n'));
      expect(out).toEqual(msgs.map((m) => ({ value: JSON.parse(JSON.stringify(m)) as unknown }))); // -0 is written as 0
    }), { numRuns: RUNS });
    console.log(`QMP parser, split streams: ${cases} cases`);
  });

  it('never throws on arbitrary input, stays bounded, and recovers at the next newline', () => {
    let cases = 0;
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (junk) => {
      cases++;
      const s = new JsonStream(256);
      const out = s.push(junk);
      expect(out.length).toBeLessThanOrEqual(junk.length + 1);
      // after junk and a newline (and a closing of whatever junk left open), a well-formed message is read
      const after = s.push('\n\n{"execute":"x"}\n');
      const last = [...out, ...after].at(-1);
      if (!junk.includes('"') && !/[[{]/.test(junk)) expect(last).toEqual({ value: { execute: 'x' } });
    }), { numRuns: RUNS * 3 });
    console.log(`QMP parser, arbitrary input: ${cases} cases`);
  });
});

describe('wkvm run -qmp (the CLI)', () => {
  it('listens on TCP and on a -chardev socket given to -mon, and quits on quit', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    });
    const monSock = join(dir, 'mon.qmp');
    const p = spawn(process.execPath, [WKVM, 'run', '-kernel', CONSOLE_ELF, '-m', '64M', '-S',
      '-qmp', `tcp:127.0.0.1:${port},server=on,wait=off`,
      '-chardev', `socket,id=mon0,path=${monSock},server=on,wait=off`, '-mon', 'chardev=mon0,mode=control'], { stdio: ['pipe', 'pipe', 'pipe'] });
    await waitForSocket(monSock, p);
    const tcp = await new Promise<Client>((resolve, reject) => {
      const s = createConnection(port, '127.0.0.1', () => resolve(new Client(s)));
      s.once('error', reject);
    });
    await tcp.wait((m) => 'QMP' in m);
    await tcp.cmd('qmp_capabilities');
    const mon = await Client.connect(monSock);
    await mon.wait((m) => 'QMP' in m);
    await mon.cmd('qmp_capabilities');
    expect((await tcp.cmd('query-status')).return).toMatchObject({ status: 'prelaunch' });
    await mon.cmd('cont');
    await tcp.wait((m) => m.event === 'RESUME');
    expect(await tcp.cmd('quit')).toEqual({ return: {} });
    await mon.wait((m) => m.event === 'SHUTDOWN');
    const code = await new Promise((r) => { if (p.exitCode !== null) r(p.exitCode); else p.once('exit', r); });
    expect(code).toBe(0);
    expect(existsSync(monSock)).toBe(false);
  }, 30_000);

  const errors: [string[], RegExp][] = [
    [['-qmp', 'stdio'], /^wkvm: -qmp: unsupported 'stdio'/],
    [['-qmp', 'unix:/tmp/x,server=off'], /^wkvm: -qmp: server=off is not supported/],
    [['-qmp', 'unix:/tmp/x,wait=on'], /^wkvm: -qmp: wait=on is not supported/],
    [['-qmp', 'tcp:127.0.0.1:99999,server=on'], /^wkvm: -qmp: invalid port 99999/],
    [['-qmp', `unix:${join(dir, 'no-such-dir', 'q.sock')},server=on,wait=off`], /^wkvm: QMP: cannot listen on unix:.*: no such directory/],
    [['-qmp', `unix:${DISK},server=on,wait=off`], /^wkvm: QMP: cannot listen on unix:.*: the path exists and is not a socket/],
    [['-mon', 'chardev=nope,mode=control'], /^wkvm: -mon: no -chardev with id=nope/],
    [['-chardev', 'socket,id=m,path=/tmp/m.sock,server=on,wait=off', '-mon', 'chardev=m'], /^wkvm: -mon: mode=readline \(the human monitor\) is not supported/],
    [['-chardev', 'file,id=m,path=/tmp/m.log', '-mon', 'chardev=m,mode=control'], /^wkvm: -mon: chardev m must be a listening socket/],
    [['-name', ''], /^wkvm: -name: needs a name/],
  ];
  for (const [args, re] of errors) {
    it(`rejects ${args.join(' ')} with one line`, async () => {
      const r = await runWkvm(['run', '-kernel', CONSOLE_ELF, ...args], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('a port in use is one line', async () => {
    const s = createServer();
    const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
    const r = await runWkvm(['run', '-kernel', CONSOLE_ELF, '-qmp', `tcp:127.0.0.1:${port},server=on,wait=off`], { timeoutMs: 30_000 });
    s.close();
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`wkvm: QMP: cannot listen on tcp:127.0.0.1:${port}: address in use`);
  });
});
