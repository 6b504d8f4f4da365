/**
 * The guest is hostile: random code must not crash or hang the host.
 *
 * fast-check writes guests of random instructions, biased towards what can
 * hurt: loads, stores and AMOs aimed at every device and at the ends of RAM,
 * writes of random values to the CSRs that change translation, protection,
 * delegation and timers (satp, PMP, mstatus, ...), Sv39 page tables of
 * random entries walked by loads and stores (M-mode with MPRV) or by
 * everything (S-mode), and, in S-mode, SBI calls
 * with random arguments (hart_start at random addresses, fences with random
 * masks, console writes of random buffers). A prologue points registers at
 * the devices, and a trap handler skips each trapping instruction, so the
 * random code runs on past its faults, while random bytes arrive on the
 * serial console. Each guest runs on two vCPUs for a moment, in M-mode
 * (-bios none) and in S-mode under the built-in SBI; then the VM is stopped.
 * The host must report no error, stop promptly and give an exit status.
 */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { VirtualMachine } from '../dist/src/index.js';
import { makeElf } from './make-elf.js';
import { ECALL, addi, bType, bytesOf, csrw, iType, jal, li, rType, sd, slli } from './rv-encode.js';

const RUN_MS = 150;
const RUNS = Number(process.env.WKVM_FUZZ_RUNS ?? 20); // more for a longer hunt
// replay a failure: WKVM_FUZZ_SEED=<the seed fast-check printed> generates the same guests again
const SEED = process.env.WKVM_FUZZ_SEED === undefined ? undefined : Number(process.env.WKVM_FUZZ_SEED);

const HANDLER_WORDS = 20;

const RAM = 0x8000_0000;
const RAM_SIZE = 64 << 20;
// registers the prologue points at devices and the edges of RAM; the random accesses use them as bases
const BASES: [number, number][] = [
  [5, 0x1000_0000],            // UART
  [6, 0x0200_0000],            // CLINT msip
  [7, 0x0200_4000],            // CLINT mtimecmp
  [8, 0x0c00_0000],            // PLIC priorities
  [9, 0x0c20_0000],            // PLIC context 0
  [18, 0x1000_1000],           // virtio-mmio slot 0
  [19, 0x0010_1000],           // RTC
  [20, 0x0010_0000],           // test device (exit, reset)
  [21, RAM + 0x10_0000],       // RAM (above the code)
  [22, RAM + RAM_SIZE - 0x800], // the end of RAM
  [23, RAM + RAM_SIZE],         // just past it
];
const CSRS = [
  0x180, 0x100, 0x104, 0x105, 0x106, 0x10a, 0x141, 0x144, 0x14d, // S: satp sstatus sie stvec scounteren senvcfg sepc sip stimecmp
  0x300, 0x302, 0x303, 0x304, 0x305, 0x306, 0x30a, 0x320, 0x341, 0x344, 0x747, // M: mstatus medeleg mideleg mie mtvec mcounteren menvcfg mcountinhibit mepc mip mseccfg
  0x3a0, 0x3a2, 0x3b0, 0x3b1, 0x3b2, 0x3ef, // pmpcfg0/2, pmpaddr0-2, pmpaddr63
  0xb00, 0xb02, 0xb03, 0x323, 0x001, 0x002, 0x003, 0x7a0, 0xc00, 0xc01, // counters, events, fflags frm fcsr, tselect
];
// SBI extensions for random calls; not SRST, the legacy shutdown or HSM (hart_stop and suspend
// would end a run early: HSM gets its own hart_start template below)
const SBI_EXTS = [0x10, 0x54494d45, 0x735049, 0x52464e43, 0x4442434e, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
const MAJOR = [0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x53, 0x63, 0x67, 0x6f, 0x73];

const reg = fc.integer({ min: 0, max: 31 });
const word = fc.integer({ min: 0, max: 0xffff_ffff });
const imm12 = fc.integer({ min: -2048, max: 2047 });
const anyWord = word.map((w) => [w]);
const majorOp = fc.tuple(fc.constantFrom(...MAJOR), word).map(([op, w]) => [((w & ~0x7f) | op) >>> 0]);
const memAccess = fc.tuple(fc.constantFrom(0x03, 0x07, 0x23, 0x27, 0x2f), fc.constantFrom(...BASES.map(([r]) => r)), reg,
  fc.integer({ min: 0, max: 7 }), imm12, word).map(([op, base, r, f3, imm, w]) => [
  op === 0x23 || op === 0x27
    ? (((imm >> 5) & 0x7f) << 25 | r << 20 | base << 15 | f3 << 12 | (imm & 0x1f) << 7 | op) >>> 0
    : op === 0x2f ? ((w & 0xfe000000) | r << 20 | base << 15 | (2 + (f3 & 1)) << 12 | (r << 7) | op) >>> 0
    : iType(op, r, f3, base, imm),
]);
const csrOp = fc.tuple(fc.constantFrom(...CSRS), reg, reg, fc.integer({ min: 1, max: 7 }).filter((f) => f !== 4))
  .map(([csr, rd, rs1, f3]) => [iType(0x73, rd, f3, rs1, csr)]);
const setReg = fc.tuple(fc.integer({ min: 1, max: 31 }), word).map(([rd, v]) => li(rd, v));
const compressed = word.map((w) => [w]); // two 16-bit instructions
// SBI arguments: hart ids and masks that name real harts or not, addresses in RAM (the code, the
// end of RAM, just past it) or anywhere; a2 is one of the base registers
const sbiHart = fc.oneof(fc.constantFrom(0, 1, 2, 3, 0xff, 0xffff_ffff), word);
const sbiAddr = fc.oneof(fc.constantFrom(RAM + 0x20_0000, RAM + 0x10_0000, RAM + RAM_SIZE - 8, RAM + RAM_SIZE, 0), word);
const sbiCall = fc.tuple(fc.constantFrom(...SBI_EXTS), fc.integer({ min: 0, max: 7 }), sbiHart, sbiAddr, fc.constantFrom(...BASES.map(([r]) => r)))
  .map(([ext, fid, a0, a1, base]) => [...li(17, ext), ...li(16, fid), ...li(10, a0), ...li(11, a1),
    addi(12, base, 0), ECALL]);

// Sv39 with the root page table in RAM at x21, PTEs stored there (leaves and pointers, into RAM,
// back at the root, or anywhere), and in M-mode MPRV with MPP = S, so that loads and stores
// walk those tables while fetches do not
const ROOT = RAM + 0x10_0000;
// Sv39 on, the root first mapping the devices (VA 0..1G) and RAM (2G..3G) as gigapages at the same
// addresses, so that the code goes on running until random PTEs take its mapping away
const sv39 = fc.constant([...li(28, 0xc7), sd(28, 21, 0), ...li(28, ((RAM >>> 12) << 10 | 0xcf) >>> 0), sd(28, 21, 16),
  ...li(28, ROOT >>> 12), ...li(29, 8), slli(29, 29, 60), rType(0x33, 28, 6, 28, 29, 0) /* or */, csrw(0x180, 28)]);
const mprv = fc.constant([...li(28, 0x2_0800), iType(0x73, 0, 2, 28, 0x300) /* csrs mstatus */]);
const ptePage = fc.oneof(fc.constantFrom(ROOT >>> 12, (ROOT >>> 12) + 1, RAM >>> 12), fc.integer({ min: RAM >>> 12, max: (RAM + RAM_SIZE) / 4096 - 1 }), word);
const pte = fc.tuple(ptePage, fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 255 }))
  .map(([ppn, flags, i]) => [...li(28, ((ppn << 10) | flags) >>> 0), sd(28, 21, 8 * i)]);

// the debug console with lengths that are small, huge or wrap past 2^64, addresses anywhere
const dbcn = fc.tuple(fc.constantFrom(0, 1, 2), fc.oneof(fc.constantFrom(1, 64, 0x1_0000, 0x7fff_ffff), fc.constantFrom(-1, -8, -4096)),
  sbiAddr, fc.constantFrom(0, 0, 1))
  .map(([fid, len, addr, hi]) => [...li(17, 0x4442434e), ...li(16, fid),
    ...(len < 0 ? [addi(10, 0, len)] /* sign-extended */ : li(10, len)), ...li(11, addr), ...li(12, hi), ECALL]);

const hartStart = fc.tuple(fc.constantFrom(0, 1, 2, 3), sbiAddr, word)
  .map(([hart, addr, opaque]) => [...li(17, 0x48534d), ...li(16, 0), ...li(10, hart), ...li(11, addr), ...li(12, opaque), ECALL]);

const mOps = fc.oneof(
  { arbitrary: anyWord, weight: 1 }, { arbitrary: majorOp, weight: 3 }, { arbitrary: memAccess, weight: 4 },
  { arbitrary: csrOp, weight: 3 }, { arbitrary: setReg, weight: 1 }, { arbitrary: compressed, weight: 1 },
  { arbitrary: pte, weight: 2 }, { arbitrary: sv39, weight: 1 }, { arbitrary: mprv, weight: 1 });
const sOps = fc.oneof(
  { arbitrary: anyWord, weight: 1 }, { arbitrary: majorOp, weight: 3 }, { arbitrary: memAccess, weight: 3 },
  { arbitrary: csrOp, weight: 2 }, { arbitrary: setReg, weight: 1 }, { arbitrary: compressed, weight: 1 },
  { arbitrary: sbiCall, weight: 3 }, { arbitrary: hartStart, weight: 2 }, { arbitrary: dbcn, weight: 1 }, { arbitrary: pte, weight: 2 }, { arbitrary: sv39, weight: 1 });

/**
 * An ELF at `base`: the prologue, a trap handler that skips the trapping
 * instruction (so that the code after it runs too; a trap from outside the
 * code goes back to its start), then the random code, which loops back to
 * its start.
 */
function guest(base: number, mode: 'M' | 'S', body: number[][]): Uint8Array {
  const [tvec, epc, xret] = mode === 'M' ? [0x305, 0x341, 0x30200073] : [0x105, 0x141, 0x10200073];
  const words: number[] = [];
  for (const [r, v] of BASES) words.push(...li(r, v));
  const handlerAt = base + (words.length + 6) * 4; // after li (4 words), csrw, j
  words.push(...li(31, handlerAt), csrw(tvec, 31), jal(0, 4 * HANDLER_WORDS + 4) /* over the handler */);
  const codeAt = handlerAt + 4 * HANDLER_WORDS;
  const codeEnd = codeAt + 4 * (body.reduce((n, ops) => n + ops.length, 0) + 5);
  // the handler: xepc + 4 while that stays inside the code, else the code's start
  const handler = [
    iType(0x73, 31, 2, 0, epc), addi(31, 31, 4), // x31 = xepc + 4
    ...li(30, codeAt), bType(6, 31, 30, 4 * 8), ...li(30, codeEnd), bType(7, 31, 30, 12), // bltu/bgeu: out of the code
    csrw(epc, 31), xret,
    ...li(31, codeAt), csrw(epc, 31), xret,
  ];
  if (handler.length !== HANDLER_WORDS) throw new Error('handler length');
  words.push(...handler);
  for (const ops of body) words.push(...ops);
  words.push(...li(31, codeAt), iType(0x67, 0, 0, 31, 0)); // and again
  const data = bytesOf(words);
  return makeElf({ entry: BigInt(base), segments: [{ vaddr: BigInt(base), data, memsz: BigInt(data.length + 0x1000) }] });
}

async function survive(kernel: Uint8Array, bios: 'none' | 'default', input: Uint8Array): Promise<void> {
  const vm = await VirtualMachine.create({ smp: 2, memory: RAM_SIZE, bios, kernel });
  const problems: string[] = [];
  vm.on('error', (e: Error) => problems.push(`error: ${e.message}`));
  vm.on('warning', (e: Error) => problems.push(`warning: ${e.message}`));
  vm.serial.on('data', () => {}); // whatever it prints
  vm.start();
  vm.serial.write(Buffer.from(input)); // and the console types at it (UART receive, SBI getchar)
  let over = false;
  void vm.exited.catch(() => {}).finally(() => { over = true; });
  // the RUN_MS start once hart 0 runs: its thread may take a while to start on a loaded host
  for (const until = Date.now() + 10_000; !over && vm.stats()[0].instructions === 0n && Date.now() < until;) await sleep(5);
  for (const until = Date.now() + RUN_MS; !over && Date.now() < until;) await sleep(5);
  const t0 = Date.now();
  const status = await vm.stop().catch((e: Error) => { problems.push(`exit: ${e.message}`); return -1; });
  expect(problems).toEqual([]);
  expect(Date.now() - t0, 'stop() took too long').toBeLessThan(3000);
  expect(Number.isInteger(status)).toBe(true);
  expect(vm.stats()[0].instructions).toBeGreaterThan(0n);
}

describe('hostile guests (random code) do not crash or hang the host', () => {
  it('M-mode, -bios none, 2 vCPUs', async () => {
    await fc.assert(fc.asyncProperty(fc.array(mOps, { minLength: 32, maxLength: 256 }), fc.uint8Array({ maxLength: 2048 }), async (body, input) => {
      await survive(guest(RAM, 'M', body), 'none', input);
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true }); // no shrinking: each try boots a VM
  }, 120_000);

  it('S-mode under the built-in SBI, 2 vCPUs', async () => {
    await fc.assert(fc.asyncProperty(fc.array(sOps, { minLength: 32, maxLength: 256 }), fc.uint8Array({ maxLength: 2048 }), async (body, input) => {
      await survive(guest(RAM + 0x20_0000, 'S', body), 'default', input);
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true }); // no shrinking: each try boots a VM
  }, 120_000);
});
