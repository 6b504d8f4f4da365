/**
 * Device models and the run machinery, through small guests: the UART
 * (host half src/devices/uart.ts + register file assembly/uart.ts), the
 * signal worker's timer alarm, the sifive_test exit device, several VMs in
 * one process, and pause/resume/stop. The raw guests are machine code
 * assembled by the tiny RV64 encoder below and loaded as raw binaries at
 * 0x80000000 (`bios: 'none'`, M-mode).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ROOT, runWkvm, runCmd, which } from './helpers.js';
import { makeElf } from './make-elf.js';
import { addi, bType, bytesOf, iType, jal, rType, sType, slli, srli, uType } from './rv-encode.js';
import * as BOARD from '../assembly/board.js';
import { VirtualMachine } from '../dist/src/index.js';
import { loadVcpuModule } from '../dist/src/accel/module.js';
import { VmMemory } from '../dist/src/accel/memory.js';
import { signalThread } from '../dist/src/workers/signal.js';

// ---------------------------------------------------------------------------
// A minimal RV64 assembler: registers by ABI name, labels resolved in a
// second pass.

const REG: Record<string, number> = {
  zero: 0, ra: 1, sp: 2, gp: 3, tp: 4, t0: 5, t1: 6, t2: 7, s0: 8, s1: 9,
  a0: 10, a1: 11, a2: 12, a3: 13, a4: 14, a5: 15, a6: 16, a7: 17,
  t3: 28, t4: 29, t5: 30, t6: 31,
};
const r = (n: string): number => {
  const v = REG[n];
  if (v === undefined) throw new Error(`bad register ${n}`);
  return v;
};

const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const I = (imm: number, rs1: number, f3: number, rd: number, op: number) => {
  if (imm < -2048 || imm > 2047) throw new Error(`I-immediate ${imm} out of range`);
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
};
const S = (imm: number, rs2: number, rs1: number, f3: number, op: number) => {
  if (imm < -2048 || imm > 2047) throw new Error(`S-immediate ${imm} out of range`);
  return ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op) >>> 0;
};
const B = (off: number, rs2: number, rs1: number, f3: number) => {
  if (off & 1 || off < -4096 || off > 4094) throw new Error(`branch offset ${off} out of range`);
  return ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0;
};
const J = (off: number, rd: number) => {
  if (off & 1 || off < -(1 << 20) || off >= 1 << 20) throw new Error(`jump offset ${off} out of range`);
  return ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) |
    (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;
};
const U = (imm20: number, rd: number, op: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | op) >>> 0;

type Item = number | ((pc: number, labels: Map<string, number>) => number) | { label: string };

class Asm {
  private items: Item[] = [];
  label(name: string): this { this.items.push({ label: name }); return this; }
  private emit(x: Item): this { this.items.push(x); return this; }
  lui(rd: string, imm20: number) { return this.emit(U(imm20, r(rd), 0x37)); }
  auipc(rd: string, imm20: number) { return this.emit(U(imm20, r(rd), 0x17)); }
  addi(rd: string, rs1: string, imm: number) { return this.emit(I(imm, r(rs1), 0, r(rd), 0x13)); }
  andi(rd: string, rs1: string, imm: number) { return this.emit(I(imm, r(rs1), 7, r(rd), 0x13)); }
  add(rd: string, rs1: string, rs2: string) { return this.emit(R(0, r(rs2), r(rs1), 0, r(rd), 0x33)); }
  lbu(rd: string, off: number, rs1: string) { return this.emit(I(off, r(rs1), 4, r(rd), 0x03)); }
  ld(rd: string, off: number, rs1: string) { return this.emit(I(off, r(rs1), 3, r(rd), 0x03)); }
  sb(rs2: string, off: number, rs1: string) { return this.emit(S(off, r(rs2), r(rs1), 0, 0x23)); }
  sw(rs2: string, off: number, rs1: string) { return this.emit(S(off, r(rs2), r(rs1), 2, 0x23)); }
  sd(rs2: string, off: number, rs1: string) { return this.emit(S(off, r(rs2), r(rs1), 3, 0x23)); }
  csrrs(rd: string, csr: number, rs1: string) { return this.emit(I(0, r(rs1), 2, r(rd), 0x73) | (csr << 20)); }
  wfi() { return this.emit(0x10500073); }
  private br(f3: number, rs1: string, rs2: string, target: string) {
    return this.emit((pc, labels) => B(this.resolve(labels, target) - pc, r(rs2), r(rs1), f3));
  }
  beq(rs1: string, rs2: string, target: string) { return this.br(0, rs1, rs2, target); }
  bne(rs1: string, rs2: string, target: string) { return this.br(1, rs1, rs2, target); }
  j(target: string) { return this.emit((pc, labels) => J(this.resolve(labels, target) - pc, 0)); }
  /** li for a value that fits in 32 bits signed (lui + addi). */
  li(rd: string, value: number) {
    if (value >= -2048 && value < 2048) return this.addi(rd, 'zero', value);
    const lo = ((value & 0xfff) << 20) >> 20; // sign-extended low 12 bits
    const hi = ((value - lo) >>> 12) & 0xfffff;
    this.lui(rd, hi);
    return lo ? this.addi(rd, rd, lo) : this;
  }
  private resolve(labels: Map<string, number>, name: string): number {
    const v = labels.get(name);
    if (v === undefined) throw new Error(`undefined label ${name}`);
    return v;
  }
  bytes(): Uint8Array {
    const labels = new Map<string, number>();
    let pc = 0;
    for (const it of this.items) {
      if (typeof it === 'object') labels.set(it.label, pc); else pc += 4;
    }
    const out = new Uint8Array(pc);
    const dv = new DataView(out.buffer);
    pc = 0;
    for (const it of this.items) {
      if (typeof it === 'object') continue;
      dv.setUint32(pc, typeof it === 'number' ? it : it(pc, labels), true);
      pc += 4;
    }
    return out;
  }
}

const CSR_MIE = 0x304, CSR_MIP = 0x344;
const UART = 0x1000_0000, TESTDEV = 0x10_0000;
const CLINT_MTIMECMP = 0x200_4000, CLINT_MTIME = 0x200_bff8;

/** Write `value` to the sifive_test device, then spin. */
function exitWith(a: Asm, value: number): Asm {
  return a.li('t4', TESTDEV).li('t5', value).sw('t5', 0, 't4').label('__hang').j('__hang');
}

// ---------------------------------------------------------------------------
// sanity of the encoder against known encodings (from GNU as)

describe('test encoder', () => {
  it('encodes like the GNU assembler', () => {
    const words = (a: Asm) => Array.from(new Uint32Array(a.bytes().buffer));
    expect(words(new Asm().addi('a0', 'a0', 1))).toEqual([0x00150513]);
    expect(words(new Asm().lui('t0', 0x10000))).toEqual([0x100002b7]);
    expect(words(new Asm().lbu('t1', 5, 't0'))).toEqual([0x0052c303]);
    expect(words(new Asm().sb('t2', 0, 't0'))).toEqual([0x00728023]);
    expect(words(new Asm().sd('t1', 0, 't0'))).toEqual([0x0062b023]);
    expect(words(new Asm().csrrs('zero', CSR_MIE, 't4'))).toEqual([0x304ea073]);
    expect(words(new Asm().label('x').beq('t1', 'zero', 'x'))).toEqual([0x00030063]);
    expect(words(new Asm().label('x').addi('zero', 'zero', 0).bne('t2', 't3', 'x'))).toEqual([0x00000013, 0xffc39ee3]);
    expect(words(new Asm().label('x').j('x'))).toEqual([0x0000006f]);
  });
});

// ---------------------------------------------------------------------------
// guests

/** Echo every byte received on the UART until 'q' (echoed too), then power off. */
const echoGuest = (() => {
  const a = new Asm()
    .li('t0', UART)
    .li('t3', 'q'.charCodeAt(0))
    .label('poll')
    .lbu('t1', 5, 't0') // LSR
    .andi('t1', 't1', 1) // DR
    .beq('t1', 'zero', 'poll')
    .lbu('t2', 0, 't0') // RBR
    .sb('t2', 0, 't0') // THR
    .bne('t2', 't3', 'poll');
  return exitWith(a, 0x5555).bytes();
})();

/** Sleep in WFI until mtime passes mtime + `ticks` (10 MHz), then power off. */
const sleepGuestFor = (ticks: number): Uint8Array => {
  const a = new Asm()
    .li('t0', CLINT_MTIME)
    .ld('t1', 0, 't0')
    .li('t2', ticks)
    .add('t1', 't1', 't2')
    .li('t3', CLINT_MTIMECMP)
    .sd('t1', 0, 't3')
    .li('t4', 0x80) // MTIE
    .csrrs('zero', CSR_MIE, 't4')
    .label('sleep')
    .wfi()
    .csrrs('t5', CSR_MIP, 'zero')
    .andi('t5', 't5', 0x80)
    .beq('t5', 'zero', 'sleep');
  return exitWith(a, 0x5555).bytes();
};
/** Sleep 1 s in WFI, then power off. */
const sleepGuest = sleepGuestFor(10_000_000);

/** Count forever into the doubleword at 0x80001000. */
const COUNTER = 0x8000_1000n;
const counterGuest = new Asm()
  .auipc('t0', 1) // t0 = 0x80001000
  .addi('t1', 'zero', 0)
  .label('loop')
  .addi('t1', 't1', 1)
  .sd('t1', 0, 't0')
  .j('loop')
  .bytes();

const exitGuest = (value: number) => exitWith(new Asm(), value).bytes();

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Poll `cond` every `every` ms until it holds (true) or `ms` pass (false). */
async function until(cond: () => boolean, ms: number, every = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(every);
  }
  return true;
}

async function echo(input: string): Promise<{ status: number; out: string }> {
  const vm = await VirtualMachine.create({ bios: 'none', kernel: echoGuest });
  const chunks: Buffer[] = [];
  vm.serial.on('data', (b: Buffer) => chunks.push(b));
  vm.start();
  vm.serial.write(Buffer.from(input, 'latin1'));
  const status = await vm.exited;
  return { status, out: Buffer.concat(chunks).toString('latin1') };
}

// ---------------------------------------------------------------------------

describe('UART (UartHost + the in-Wasm ns16550a)', () => {
  it('echoes a short string in order, then exits 0', async () => {
    const s = 'hello, uart! 0123456789 \x00\x01\xff\r\nq';
    const { status, out } = await echo(s);
    expect(out).toBe(s);
    expect(status).toBe(0);
  });

  it('loses no byte of an input longer than the 1 KiB receive ring', async () => {
    let s = '';
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const c = (x >>> 16) & 0xff;
      s += String.fromCharCode(c === 0x71 ? 0x70 : c); // never 'q' before the end
    }
    s += 'q';
    const { status, out } = await echo(s);
    expect(out.length).toBe(s.length);
    expect(out === s).toBe(true);
    expect(status).toBe(0);
  });

  it('takes input written in many small pieces before and after start', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: echoGuest });
    let out = '';
    vm.serial.on('data', (b: Buffer) => { out += b.toString('latin1'); });
    vm.serial.write('ab');
    vm.start();
    let expected = 'ab';
    for (let i = 0; i < 300; i++) {
      const piece = `<${i}>`;
      expected += piece;
      vm.serial.write(piece);
      if (i % 50 === 0) await sleep(5);
    }
    vm.serial.write('q');
    expected += 'q';
    expect(await vm.exited).toBe(0);
    expect(out).toBe(expected);
  });

  it('works through the CLI (stdin to RBR, THR to stdout)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-dev-'));
    try {
      const bin = join(dir, 'echo.bin');
      writeFileSync(bin, echoGuest);
      const input = 'x'.repeat(3000) + 'the end q';
      const r = await runWkvm(['run', '-bios', 'none', '-kernel', bin], { input, timeoutMs: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(input);
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Prints '0123456789' over and over on the UART. `poll`: waits for LSR.THRE
 * before each byte (a polling driver); else writes blindly and relies on THR
 * writes stalling while the transmit ring is full.
 */
const printerGuest = (poll: boolean): Uint8Array => {
  const a = new Asm().li('t0', UART).li('t3', 0x3a).label('restart').li('t1', 0x30).label('next');
  if (poll) a.label('wait').lbu('t2', 5, 't0').andi('t2', 't2', 0x20).beq('t2', 'zero', 'wait');
  return a.sb('t1', 0, 't0').addi('t1', 't1', 1).beq('t1', 't3', 'restart').j('next').bytes();
};
/** Whether `s` is an unbroken run of the printer's cycle: no byte lost or repeated. */
const unbroken = (s: string): boolean => {
  for (let i = 1; i < s.length; i++) {
    if (s.charCodeAt(i) !== (s.charCodeAt(i - 1) === 0x39 ? 0x30 : s.charCodeAt(i - 1) + 1)) return false;
  }
  return true;
};

describe('UART LSR', () => {
  it('reports THR and transmitter empty (0x60) right after a write: a byte the host took counts as sent, as with QEMU\'s 16550', async () => {
    // write 'A', read LSR at once, print 'Y' if THRE and TEMT are both set, else 'N'; 16 times
    const a = new Asm().li('t0', UART).li('t3', 16).label('again')
      .li('t1', 0x41).sb('t1', 0, 't0').lbu('t2', 5, 't0').andi('t2', 't2', 0x60).li('t4', 0x60)
      .li('t1', 0x4e).bne('t2', 't4', 'out').li('t1', 0x59).label('out').sb('t1', 0, 't0')
      .addi('t3', 't3', -1).bne('t3', 'zero', 'again');
    const vm = await VirtualMachine.create({ bios: 'none', kernel: exitWith(a, 0x5555).bytes() });
    let out = '';
    vm.on('output', (b) => { out += b.toString('latin1'); });
    vm.start();
    expect(await vm.exited).toBe(0);
    // (a kernel's console waits for TEMT after every line: it waited for the I/O loop to drain the ring)
    expect(out).toBe('AY'.repeat(16));
  });
});

describe('console backpressure: output nobody reads stalls the guest, never grows without bound', () => {
  for (const poll of [true, false]) {
    it(`an embedder that does not read vm.serial (${poll ? 'polling LSR.THRE' : 'blind THR writes'})`, async () => {
      const vm = await VirtualMachine.create({ bios: 'none', kernel: printerGuest(poll) });
      let emitted = 0;
      vm.on('output', (b) => { emitted += b.length; });
      vm.start();
      await sleep(1500);
      const atFirst = emitted;
      await sleep(1000);
      // bounded by the stream's high-water mark (64 KiB) plus the 4 KiB transmit ring
      expect(vm.serial.readableLength).toBeLessThanOrEqual(72 * 1024);
      expect(emitted).toBe(atFirst); // stalled: nothing new while nobody reads
      expect(vm.stats()[0].instructions).toBeGreaterThan(0n);
      // a reader arrives: everything flows again, and nothing was dropped
      const chunks: Buffer[] = [];
      vm.serial.on('data', (b: Buffer) => chunks.push(b));
      await sleep(1000);
      const t0 = Date.now();
      await vm.stop();
      expect(Date.now() - t0).toBeLessThan(1000);
      const out = Buffer.concat(chunks).toString('latin1');
      expect(out.length).toBeGreaterThan(atFirst + 100_000);
      expect(out.startsWith('0123456789')).toBe(true);
      expect(unbroken(out)).toBe(true);
    });
  }

  it('the CLI with a stdout nobody drains stays bounded, loses nothing, and SIGTERM ends it within a second', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-bp-'));
    try {
      const bin = join(dir, 'printer.bin');
      writeFileSync(bin, printerGuest(false));
      const { spawn } = await import('node:child_process');
      const p = spawn(process.execPath, [join(ROOT, 'bin', 'wkvm.js'), 'run', '-bios', 'none', '-kernel', bin], { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.pause(); // nobody reads: the pipe fills
      const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))![1]) * 1024;
      await sleep(2000);
      const rss1 = rss();
      await sleep(1500);
      const rss2 = rss();
      expect(rss2).toBeLessThan(400 << 20);
      expect(rss2 - rss1).toBeLessThan(32 << 20);
      const chunks: Buffer[] = [];
      p.stdout.on('data', (b: Buffer) => chunks.push(b));
      p.stdout.resume();
      await sleep(800);
      const closed = new Promise<number | null>((res) => p.on('close', (c) => res(c)));
      const t0 = Date.now();
      p.kill('SIGTERM');
      expect(await closed).toBe(143);
      expect(Date.now() - t0).toBeLessThan(1000);
      const out = Buffer.concat(chunks).toString('latin1');
      expect(out.length).toBeGreaterThan(200_000);
      expect(unbroken(out)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGTERM ends the CLI within a second while its stdout is still full', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-bp-'));
    try {
      const bin = join(dir, 'printer.bin');
      writeFileSync(bin, printerGuest(true));
      const { spawn } = await import('node:child_process');
      const p = spawn(process.execPath, [join(ROOT, 'bin', 'wkvm.js'), 'run', '-bios', 'none', '-kernel', bin], { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.pause();
      await sleep(1500);
      const closed = new Promise<number | null>((res) => p.on('close', (c) => res(c)));
      const exitedAt = new Promise<number>((res) => p.on('exit', () => res(Date.now())));
      const t0 = Date.now();
      p.kill('SIGTERM');
      expect(await exitedAt - t0).toBeLessThan(1000);
      p.stdout.resume();
      expect(await closed).toBe(143);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an empty kernel given as bytes is refused', async () => {
    await expect(VirtualMachine.create({ bios: 'none', kernel: new Uint8Array(0) })).rejects.toThrow(/kernel: it is empty/);
    await expect(VirtualMachine.create({ kernel: new Uint8Array(0) })).rejects.toThrow(/kernel: it is empty/);
  });
});

describe('virtio-mmio registers served in the vCPU', () => {
  it('InterruptStatus reads and InterruptACK writes take no exit, and the acknowledgement lowers the PLIC line', async () => {
    const T0 = 5, T1 = 6, T2 = 7, T3 = 28, T4 = 29, T5 = 30, T6 = 31, A0 = 10, A1 = 11;
    const lw = (rd: number, rs1: number, imm: number) => iType(0x03, rd, 2, rs1, imm);
    const sw = (rs2: number, rs1: number, imm: number) => sType(0x23, 2, rs1, rs2, imm);
    const andi = (rd: number, rs1: number, imm: number) => iType(0x13, rd, 7, rs1, imm);
    const or = (rd: number, rs1: number, rs2: number) => rType(0x33, rd, 6, rs1, rs2, 0);
    const slot = BOARD.VIRTIO_SLOTS - 1, irq = BOARD.VIRTIO_IRQ_BASE + slot; // the one device sits in the top slot
    const code = [
      uType(0x37, T0, (BOARD.VIRTIO_BASE + slot * BOARD.VIRTIO_SIZE) >>> 12),
      uType(0x37, A1, (BOARD.PLIC_BASE + 0x1000) >>> 12), // the PLIC's pending bits
      // a0 = status | line pending << 1, before and after the acknowledgement (bits 2, 3)
      lw(T1, T0, 0x060), lw(T3, A1, 0), srli(T3, T3, irq), andi(T3, T3, 1),
      sw(T1, T0, 0x064),
      lw(T5, T0, 0x060), lw(T4, A1, 0), srli(T4, T4, irq), andi(T4, T4, 1),
      slli(T3, T3, 1), or(A0, T1, T3), slli(T5, T5, 2), or(A0, A0, T5), slli(T4, T4, 3), or(A0, A0, T4),
      // 1000 more rounds of an interrupt handler's two accesses
      addi(T2, 0, 1000), lw(T6, T0, 0x060), sw(T6, T0, 0x064), addi(T2, T2, -1), bType(1, T2, 0, -12),
      // exit with a0 as the status: sifive_test (a0 << 16) | FAIL
      uType(0x37, T3, BOARD.TEST_BASE >>> 12), slli(A0, A0, 16), uType(0x37, T4, 3), addi(T4, T4, 0x333), or(A0, A0, T4), sw(A0, T3, 0),
      jal(0, 0),
    ];
    const kernel = makeElf({ entry: 0x8000_0000n, segments: [{ vaddr: 0x8000_0000n, data: bytesOf(code), memsz: 0x1000n }] });
    const vm = await VirtualMachine.create({ bios: 'none', kernel, rng: true });
    // the device raises its used-buffer interrupt before the guest runs (as the I/O thread does)
    (vm as unknown as { devices: { transports: { raiseInterrupt(bits: number): void }[] } }).devices.transports[slot]!.raiseInterrupt(1);
    vm.start();
    expect(await vm.exited).toBe(0b0011); // status 1 with its line pending; after the ack: 0, line low
    const [s] = vm.stats();
    expect(s!.exitsByReason.mmio).toBe(0n);
  });
});

describe('timer alarm (signal worker)', () => {
  for (const name of ['wfi', 'irq_mtimer']) {
    it(`guests/isa/${name}.elf passes (the timer wakes the hart)`, async () => {
      const args = ['run', '-bios', 'none', '-kernel', join(ROOT, 'guests', 'isa', `${name}.elf`)];
      // no retry: a silent hang here was a hart that slept through its own timer (a deadline passing between
      // the WFI's check and the sleep's timeout read as none: 5 hangs in 24 runs under load, 0 since)
      const r = await runWkvm(args, { timeoutMs: 10_000 });
      expect(r.stdout).toContain(`PASS ${name}`);
      expect(r.code).toBe(0);
    });
  }

  // A VM that stops before its signal thread is up (a short guest: the thread takes ~100 ms of a core to
  // come up here) cancels the task instead of waiting for it; the thread, once up, must then do nothing,
  // also when the memory went on to another VM (recycle) that runs with a signal task of its own.
  it('a signal task runs only while it is the machine\'s current one', () => {
    const { module, layout: L } = loadVcpuModule();
    const mem = new VmMemory(L, 1, 0x8000_0000n, 16n << 20n);
    const task = (id: number) => ({ module, memory: mem.memory, layout: L, epochMs: 0, id });
    const word = (L.MACHINE_BASE + L.M_SIG_TASK) >> 2, runstate = (L.MACHINE_BASE + L.M_RUNSTATE) >> 2;
    Atomics.store(mem.i32, runstate, L.RUNSTATE_RUNNING); // a task that scanned would not return
    Atomics.store(mem.i32, word, 0); // cancelled by the stop
    expect(signalThread(task(7))).toBe(0);
    Atomics.store(mem.i32, word, 8); // another VM's task now
    expect(signalThread(task(7))).toBe(0);
    expect(Atomics.load(mem.i32, word)).toBe(8);
    Atomics.store(mem.i32, word, 7); // its own: it claims it and scans until the machine stops
    Atomics.store(mem.i32, runstate, L.RUNSTATE_SHUTDOWN);
    expect(signalThread(task(7))).toBe(0);
    expect(Atomics.load(mem.i32, word)).toBe(-7);
  });

  // With one vCPU no signal thread runs (its hart waits for its own deadlines: the 1 s sleep below wakes
  // that way); with more it starts when a vCPU sets its first timer deadline (the doorbell rings), not
  // with the VM, so a guest that sets none never has one. The task's word tells: 0 once the stop
  // cancelled a task that never ran, minus its id once it ran.
  it('the signal thread runs only with several vCPUs, from the first timer deadline', async () => {
    type Inside = { mem: VmMemory; layout: { MACHINE_BASE: number; M_SIG_TASK: number } };
    const taskWord = (vm: VirtualMachine): number => {
      const { mem, layout: L } = vm as unknown as Inside;
      return Atomics.load(mem.i32, (L.MACHINE_BASE + L.M_SIG_TASK) >> 2);
    };
    const sigTask = async (kernel: Uint8Array, smp: number): Promise<number> => {
      const vm = await VirtualMachine.create({ bios: 'none', kernel, smp });
      vm.start();
      expect(await vm.exited).toBe(0);
      return taskWord(vm);
    };
    const compute = exitWith(new Asm().li('t0', 1), 0x5555).bytes();
    expect(await sigTask(compute, 1)).toBe(0);
    expect(await sigTask(sleepGuest, 1)).toBe(0);
    expect(await sigTask(compute, 2)).toBe(0);
    // two harts sleeping on a deadline 60 s away: the thread comes up (~100 ms of a core here; seconds when
    // the host is busy) and claims its task while they sleep
    const vm = await VirtualMachine.create({ bios: 'none', kernel: sleepGuestFor(600_000_000), smp: 2 });
    vm.start();
    try {
      for (let t0 = Date.now(); taskWord(vm) >= 0 && Date.now() - t0 < 30_000;) await sleep(10);
      expect(taskWord(vm)).toBeLessThan(0);
    } finally {
      await vm.stop();
    }
  });

  it('a VM stopped right after its start stops, and the next VM in its memory keeps time', async () => {
    const first = await VirtualMachine.create({ bios: 'none', kernel: sleepGuest });
    first.start();
    await first.stop();
    const next = await VirtualMachine.create({ bios: 'none', kernel: sleepGuest, recycle: first });
    const t0 = performance.now();
    next.start();
    expect(await next.exited).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(990); // its 1 s sleep: woken by its alarm, not early
  });

  // A hart asleep in WFI wakes itself at its own next deadline (no signal thread with one vCPU). A deadline
  // already past whose interrupt is masked is not one: waking for it made each idle hart of a 64-vCPU Linux
  // boot poll every 50 us (5.8 -> 27-30 s to the prompt) until it was left out.
  it('a vCPU in WFI with a past, masked timer deadline sleeps instead of polling', async () => {
    const guest = new Asm()
      .li('t0', CLINT_MTIMECMP)
      .sd('zero', 0, 't0') // due at once; mie.MTIE stays 0
      .label('sleep')
      .wfi()
      .j('sleep')
      .bytes();
    const vm = await VirtualMachine.create({ bios: 'none', kernel: guest });
    vm.start();
    // the thread up and asleep (it may take a while to come up on a loaded host)
    for (const until = Date.now() + 15_000; vm.stats()[0]!.time.haltedMs < 50 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    const halted0 = vm.stats()[0]!.time.haltedMs;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    await vm.stop();
    expect(vm.stats()[0]!.time.haltedMs - halted0).toBeGreaterThan(900);
    expect((cpu.user + cpu.system) / 1000 / wallMs).toBeLessThan(0.15);
  });

  it('an idle vCPU in WFI does not spin, and the alarm is not early', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: sleepGuest });
    // warm up: compile the module, start the pool (not measured)
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    vm.start();
    const status = await vm.exited;
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    expect(status).toBe(0);
    expect(wallMs).toBeGreaterThanOrEqual(990);
    // the 1 s sleep dominates the wall time; thread start-up costs some CPU (more on a loaded host:
    // with a 300 ms sleep, start-up alone came near the bound while other test files ran)
    expect(cpuMs / wallMs).toBeLessThan(0.3);
  });

  // All but hart 0 spin on a plain load (a lock waiter without `pause`) until
  // hart 0 finishes its busy loop. Spin-loop detection must catch the spin
  // (an EXIT_SPIN every few thousand instructions, where the worker sleeps if
  // the cores are taken) and must not mistake hart 0's counting loop for one.
  it('a vCPU spinning on a load takes spin-loop exits; a counting loop does not', async () => {
    const smp = Math.min(availableParallelism() + 2, 128); // more vCPUs than host cores
    const vm = await VirtualMachine.create({ bios: 'none', kernel: join(ROOT, 'guests/bench/idle.elf'), smp, append: 'spin=1 iters=20000' });
    let out = '';
    vm.serial.on('data', (b: Buffer) => { out += b.toString(); });
    vm.start();
    expect(await vm.exited).toBe(0);
    expect(out).toMatch(/idle: iters=20000 harts=\d+/);
    const [hart0, ...spinners] = vm.stats();
    expect(Number(hart0.instructions)).toBeGreaterThan(40e6); // 20,000 rounds of 2,000 instructions
    expect(Number(hart0.exits)).toBeLessThan(20);
    for (const s of spinners) {
      if (s.instructions < 100_000n) continue; // hardly ran: nothing to judge
      expect(Number(s.exits), `hart ${s.hart}`).toBeGreaterThan(Number(s.instructions) / 20_000);
    }
  });
});

// guests/sbi/sbi.elf runs in S-mode like a kernel and checks the SBI calls a
// kernel makes, with the spec's error codes; OpenSBI (Debian's fw_jump under
// wkvm, QEMU's own under QEMU) is the witness.
describe('SBI (guests/sbi/sbi.elf)', () => {
  const SBI_ELF = join(ROOT, 'guests', 'sbi', 'sbi.elf');
  const FW_JUMP = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
  const QEMU = which('qemu-system-riscv64');
  for (const smp of [1, 2]) {
    it(`the built-in SBI passes (-smp ${smp})`, async () => {
      const r = await runWkvm(['run', '-smp', String(smp), '-kernel', SBI_ELF], { timeoutMs: 30_000 });
      expect(r.stdout, r.stdout + r.stderr).toContain('sbi: PASS');
      expect(r.stdout).toContain('sbi: dbcn'); // SBI 2.0's debug console
      expect(r.code).toBe(0);
    }, 40_000);
  }
  it.skipIf(!existsSync(FW_JUMP))('OpenSBI fw_jump.bin on wkvm passes (-smp 2)', async () => {
    const r = await runWkvm(['run', '-smp', '2', '-bios', FW_JUMP, '-kernel', SBI_ELF], { timeoutMs: 30_000 });
    expect(r.stdout, r.stdout + r.stderr).toContain('sbi: PASS');
    expect(r.code).toBe(0);
  }, 40_000);
  it.skipIf(!QEMU)('QEMU with its OpenSBI passes (-smp 2; the witness)', async () => {
    const r = await runCmd(QEMU!, ['-M', 'virt', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-smp', '2', '-kernel', SBI_ELF], { timeoutMs: 30_000 });
    expect(r.stdout, r.stdout + r.stderr).toContain('sbi: PASS');
  }, 40_000);
});

describe('sifive_test exit device (0x100000)', () => {
  it('(7 << 16) | 0x3333 exits with status 7 (API)', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: exitGuest((7 << 16) | 0x3333) });
    vm.start();
    expect(await vm.exited).toBe(7);
  });

  it('0x5555 exits with status 0 (API)', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: exitGuest(0x5555) });
    vm.start();
    expect(await vm.exited).toBe(0);
  });

  it('the exit status reaches the CLI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-dev-'));
    try {
      const fail = join(dir, 'fail7.bin');
      const pass = join(dir, 'pass.bin');
      writeFileSync(fail, exitGuest((7 << 16) | 0x3333));
      writeFileSync(pass, exitGuest(0x5555));
      const [a, b] = await Promise.all([
        runWkvm(['run', '-bios', 'none', '-kernel', fail], { timeoutMs: 30_000 }),
        runWkvm(['run', '-bios', 'none', '-kernel', pass], { timeoutMs: 30_000 }),
      ]);
      expect(a.code).toBe(7);
      expect(b.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('several VMs in one process', () => {
  it('runs 3 demo VMs (smp 2 each) concurrently, each with its own serial stream', async () => {
    const demo = readFileSync(join(ROOT, 'guests', 'demo', 'demo.elf'));
    const vms = await Promise.all([0, 1, 2].map(() => VirtualMachine.create({ bios: 'none', smp: 2, kernel: demo })));
    const outs = vms.map(() => '');
    vms.forEach((vm, i) => vm.serial.on('data', (b: Buffer) => { outs[i] += b.toString('latin1'); }));
    for (const vm of vms) vm.start();
    const statuses = await Promise.all(vms.map((vm) => vm.exited));
    expect(statuses).toEqual([0, 0, 0]);
    for (const out of outs) {
      const lines = out.split('\n').filter(Boolean);
      expect(lines[0]).toBe('wkvm demo: 2 harts');
      expect(lines.filter((l) => l === 'demo: PASS')).toHaveLength(1);
      expect(lines.filter((l) => / hello$/.test(l)).sort()).toEqual(['hart 0: hello', 'hart 1: hello']);
      expect(out).toContain('count: 2000 (expected 2000)');
    }
  });
});

describe('pause / resume / stop', () => {
  it('pause freezes the guest, resume continues it, stop ends it', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: counterGuest });
    const counter = () => vm.readPhysical(COUNTER, 8).readBigUInt64LE(0);
    vm.start();
    // the vCPU thread may take a while to come up on a loaded host
    expect(await until(() => counter() > 0n, 10_000)).toBe(true);
    await sleep(200);

    vm.pause();
    // let the in-flight slice end (the vCPU sees the request within 4096
    // instructions, but a preempted thread may finish them much later on a
    // loaded host): wait for the counter to hold still for 3 reads 100 ms apart
    let paused = counter();
    let still = 0;
    const settled = await until(() => {
      const c = counter();
      still = c === paused ? still + 1 : 0;
      paused = c;
      return still >= 3;
    }, 10_000, 100);
    expect(settled).toBe(true);
    await sleep(200);
    expect(counter()).toBe(paused);

    vm.resume();
    expect(await until(() => counter() > paused, 5_000)).toBe(true);

    const status = await vm.stop();
    expect(status).toBe(0);
    expect(await vm.exited).toBe(0);
    const stopped = counter();
    await sleep(100);
    expect(counter()).toBe(stopped);
  });

  it('stop() of a paused VM resolves', async () => {
    const vm = await VirtualMachine.create({ bios: 'none', kernel: counterGuest });
    vm.start();
    await sleep(50);
    vm.pause();
    await sleep(50);
    await expect(vm.stop(3)).resolves.toBe(3);
    await expect(vm.exited).resolves.toBe(3);
  });
});
