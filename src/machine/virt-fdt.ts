/**
 * The device tree of the `virt` board, shaped like the one QEMU's riscv64
 * `virt` machine generates (hw/riscv/virt.c), so that Linux, OpenSBI and
 * bare-metal programs see the same hardware description on both.
 *
 * Nodes QEMU has that wkvm does not model (and so leaves out): /pmu,
 * /fw-cfg, /flash, /platform-bus, /soc/pci.
 */

import { WkvmError } from '../errors.js';
import { FdtBuilder } from './fdt.js';
import * as BOARD from '../../assembly/board.js';

/** Memory map of the devices described here: assembly/board.ts, the board's one description. */
export const VIRT_FDT_MAP: { readonly [device in 'test' | 'rtc' | 'clint' | 'plic' | 'uart0' | 'virtio']: { readonly base: number; readonly size: number } } = {
  test: { base: BOARD.TEST_BASE, size: BOARD.TEST_SIZE },
  rtc: { base: BOARD.RTC_BASE, size: BOARD.RTC_SIZE },
  clint: { base: BOARD.CLINT_BASE, size: BOARD.CLINT_SIZE },
  plic: { base: BOARD.PLIC_BASE, size: BOARD.PLIC_SIZE },
  uart0: { base: BOARD.UART0_BASE, size: BOARD.UART0_SIZE },
  virtio: { base: BOARD.VIRTIO_BASE, size: BOARD.VIRTIO_SIZE },
};

export const UART_CLOCK_FREQUENCY = 0x38_4000; // 3.6864 MHz, as QEMU

/** Harts the PLIC register window has room for (two contexts each). */
export const PLIC_MAX_HARTS = (BOARD.PLIC_SIZE - BOARD.PLIC_CONTEXT_BASE) / BOARD.PLIC_CONTEXT_STRIDE / 2;

/** Local interrupt numbers on each hart's `riscv,cpu-intc` (mip bits) that the tree references. */
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;

export const DEFAULT_TIMEBASE_FREQUENCY = 10_000_000;
export const DEFAULT_FDT_MAX_SIZE = 64 * 1024;
/** Longest kernel command line accepted, in bytes (UTF-8). */
export const MAX_BOOTARGS = 4096;

export interface VirtFdtConfig {
  harts: number;
  ramBase: bigint;
  ramSize: bigint;
  /** e.g. "rv64imafdc_zicsr_zifencei" */
  isa: string;
  /** e.g. "riscv,sv39" */
  mmuType: string;
  bootargs?: string;
  initrd?: { start: bigint; end: bigint };
  /** Default 10_000_000 (10 MHz). */
  timebaseFrequency?: number;
  /** Default 8; at most 8 (PLIC sources 1..8, as QEMU). */
  virtioSlots?: number;
  /** Largest blob allowed, in bytes; default 64 KiB. */
  maxSize?: number;
  /** Written as /chosen/rng-seed when given. */
  rngSeed?: Uint8Array;
}

/**
 * Splits an ISA string into the `riscv,isa-base` and `riscv,isa-extensions`
 * values: "rv64imafdc_zicsr_zifencei" -> base "rv64i", extensions
 * [i, m, a, f, d, c, zicsr, zifencei]. "g" expands to imafd_zicsr_zifencei.
 */
export function splitIsa(isa: string): { base: string; extensions: string[] } {
  const m = /^rv(32|64)([a-z]*)((?:_[a-z][a-z0-9]*)*)$/.exec(isa.toLowerCase());
  const single = m?.[2] ?? '';
  if (!m || !/^[ieg]/.test(single)) {
    throw new WkvmError(`invalid ISA string '${isa}' (expected something like rv64imafdc_zicsr_zifencei)`);
  }
  const extensions: string[] = [];
  const add = (e: string): void => {
    if (!extensions.includes(e)) extensions.push(e);
  };
  for (const ch of single) {
    if (ch === 'g') ['i', 'm', 'a', 'f', 'd', 'zicsr', 'zifencei'].forEach(add);
    else add(ch);
  }
  for (const multi of m[3]!.split('_')) if (multi !== '') add(multi);
  // Single-letter extensions first (in the given order), then multi-letter ones.
  extensions.sort((a, b) => Number(a.length > 1) - Number(b.length > 1));
  return { base: `rv${m[1]}${single[0] === 'e' ? 'e' : 'i'}`, extensions };
}

function hex(n: number | bigint): string {
  return n.toString(16);
}

/** `reg` cells for a 2-address-cell, 2-size-cell parent. */
function reg2(base: number | bigint, size: number | bigint): number[] {
  const b = BigInt(base);
  const s = BigInt(size);
  return [Number(b >> 32n), Number(b & 0xffff_ffffn), Number(s >> 32n), Number(s & 0xffff_ffffn)];
}

/** Builds the `virt` board's device tree blob. User errors throw `WkvmError`. */
export function buildVirtFdt(cfg: VirtFdtConfig): Uint8Array {
  const timebase = cfg.timebaseFrequency ?? DEFAULT_TIMEBASE_FREQUENCY;
  const virtioSlots = cfg.virtioSlots ?? BOARD.VIRTIO_SLOTS;
  const maxSize = cfg.maxSize ?? DEFAULT_FDT_MAX_SIZE;
  const { harts } = cfg;

  if (!Number.isInteger(harts) || harts < 1 || harts > PLIC_MAX_HARTS) {
    throw new WkvmError(`device tree: ${harts} harts is out of range (1..${PLIC_MAX_HARTS})`);
  }
  if (!Number.isInteger(virtioSlots) || virtioSlots < 0 || virtioSlots > BOARD.VIRTIO_SLOTS) {
    throw new WkvmError(`device tree: ${virtioSlots} virtio-mmio slots is out of range (0..${BOARD.VIRTIO_SLOTS})`);
  }
  if (!Number.isInteger(timebase) || timebase < 1 || timebase > 0xffff_ffff) {
    throw new WkvmError(`device tree: invalid timebase frequency ${timebase}`);
  }
  if (cfg.ramSize <= 0n || cfg.ramBase < 0n || cfg.ramBase + cfg.ramSize > 1n << 64n) {
    throw new WkvmError(`device tree: invalid RAM range 0x${hex(cfg.ramBase)} + 0x${hex(cfg.ramSize)}`);
  }
  if (cfg.bootargs !== undefined) {
    const bytes = new TextEncoder().encode(cfg.bootargs).length;
    if (bytes > MAX_BOOTARGS) {
      throw new WkvmError(`--append: kernel command line is ${bytes} bytes; the limit is ${MAX_BOOTARGS}`);
    }
    if (cfg.bootargs.includes('\0')) throw new WkvmError('--append: kernel command line contains a NUL character');
  }
  if (cfg.initrd && (cfg.initrd.end < cfg.initrd.start || cfg.initrd.start < 0n)) {
    throw new WkvmError(`device tree: invalid initrd range 0x${hex(cfg.initrd.start)}..0x${hex(cfg.initrd.end)}`);
  }
  const { base: isaBase, extensions } = splitIsa(cfg.isa);

  const fdt = new FdtBuilder();
  const cpuPhandles = Array.from({ length: harts }, () => fdt.allocPhandle());
  const intcPhandles = Array.from({ length: harts }, () => fdt.allocPhandle());
  const plicPhandle = fdt.allocPhandle();
  const testPhandle = fdt.allocPhandle();
  const perHart = (irqs: number[]): number[] => intcPhandles.flatMap((ph) => irqs.flatMap((irq) => [ph, irq]));

  fdt.beginNode('');
  fdt.propU32('#address-cells', 2);
  fdt.propU32('#size-cells', 2);
  fdt.propString('compatible', 'riscv-virtio');
  fdt.propString('model', 'riscv-virtio,qemu');

  fdt.beginNode('chosen');
  if (cfg.bootargs !== undefined) fdt.propString('bootargs', cfg.bootargs);
  fdt.propString('stdout-path', `/soc/serial@${hex(VIRT_FDT_MAP.uart0.base)}`);
  if (cfg.initrd) {
    fdt.propU64('linux,initrd-start', cfg.initrd.start);
    fdt.propU64('linux,initrd-end', cfg.initrd.end);
  }
  if (cfg.rngSeed) fdt.prop('rng-seed', cfg.rngSeed);
  fdt.endNode();

  fdt.beginNode(`memory@${hex(cfg.ramBase)}`);
  fdt.propString('device_type', 'memory');
  fdt.propCells('reg', reg2(cfg.ramBase, cfg.ramSize));
  fdt.endNode();

  fdt.beginNode('cpus');
  fdt.propU32('#address-cells', 1);
  fdt.propU32('#size-cells', 0);
  fdt.propU32('timebase-frequency', timebase);
  for (let hart = 0; hart < harts; hart++) {
    fdt.beginNode(`cpu@${hex(hart)}`);
    fdt.propPhandle(cpuPhandles[hart]!);
    fdt.propString('device_type', 'cpu');
    fdt.propU32('reg', hart);
    fdt.propString('status', 'okay');
    fdt.propString('compatible', 'riscv');
    fdt.propString('riscv,isa', cfg.isa);
    fdt.propString('riscv,isa-base', isaBase);
    fdt.propStrings('riscv,isa-extensions', extensions);
    fdt.propString('mmu-type', cfg.mmuType);
    fdt.beginNode('interrupt-controller');
    fdt.propU32('#interrupt-cells', 1);
    // QEMU 7.2 omits it (dtc then warns); Linux's binding allows 0.
    fdt.propU32('#address-cells', 0);
    fdt.propEmpty('interrupt-controller');
    fdt.propString('compatible', 'riscv,cpu-intc');
    fdt.propPhandle(intcPhandles[hart]!);
    fdt.endNode();
    fdt.endNode();
  }
  fdt.beginNode('cpu-map');
  fdt.beginNode('cluster0');
  for (let hart = 0; hart < harts; hart++) {
    fdt.beginNode(`core${hart}`);
    fdt.propU32('cpu', cpuPhandles[hart]!);
    fdt.endNode();
  }
  fdt.endNode();
  fdt.endNode();
  fdt.endNode(); // cpus

  fdt.beginNode('soc');
  fdt.propU32('#address-cells', 2);
  fdt.propU32('#size-cells', 2);
  fdt.propString('compatible', 'simple-bus');
  fdt.propEmpty('ranges');

  const { clint, plic, uart0, test, rtc, virtio } = VIRT_FDT_MAP;
  fdt.beginNode(`clint@${hex(clint.base)}`);
  fdt.propStrings('compatible', ['sifive,clint0', 'riscv,clint0']);
  fdt.propCells('reg', reg2(clint.base, clint.size));
  fdt.propCells('interrupts-extended', perHart([IRQ_M_SOFT, IRQ_M_TIMER]));
  fdt.endNode();

  fdt.beginNode(`plic@${hex(plic.base)}`);
  fdt.propPhandle(plicPhandle);
  fdt.propStrings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  fdt.propU32('#interrupt-cells', 1);
  fdt.propU32('#address-cells', 0);
  fdt.propEmpty('interrupt-controller');
  fdt.propCells('reg', reg2(plic.base, plic.size));
  fdt.propU32('riscv,ndev', BOARD.PLIC_NDEV);
  // Context 2N is hart N's M-mode external interrupt, 2N+1 its S-mode one.
  fdt.propCells('interrupts-extended', perHart([IRQ_M_EXT, IRQ_S_EXT]));
  fdt.endNode();

  fdt.beginNode(`serial@${hex(uart0.base)}`);
  fdt.propString('compatible', 'ns16550a');
  fdt.propCells('reg', reg2(uart0.base, uart0.size));
  fdt.propU32('clock-frequency', UART_CLOCK_FREQUENCY);
  fdt.propU32('interrupt-parent', plicPhandle);
  fdt.propU32('interrupts', BOARD.UART0_IRQ);
  fdt.endNode();

  fdt.beginNode(`test@${hex(test.base)}`);
  fdt.propPhandle(testPhandle);
  fdt.propStrings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
  fdt.propCells('reg', reg2(test.base, test.size));
  fdt.endNode();

  fdt.beginNode(`rtc@${hex(rtc.base)}`);
  fdt.propString('compatible', 'google,goldfish-rtc');
  fdt.propCells('reg', reg2(rtc.base, rtc.size));
  fdt.propU32('interrupt-parent', plicPhandle);
  fdt.propU32('interrupts', BOARD.RTC_IRQ);
  fdt.endNode();

  // Highest slot first, as in QEMU's tree: Linux probes virtio-mmio devices
  // in tree order, so QEMU's first -device (placed in the last slot) becomes
  // vda/eth0. Keeping the order keeps device naming identical to QEMU's.
  for (let i = virtioSlots - 1; i >= 0; i--) {
    const base = virtio.base + i * virtio.size;
    fdt.beginNode(`virtio_mmio@${hex(base)}`);
    fdt.propString('compatible', 'virtio,mmio');
    fdt.propCells('reg', reg2(base, virtio.size));
    fdt.propU32('interrupt-parent', plicPhandle);
    fdt.propU32('interrupts', BOARD.VIRTIO_IRQ_BASE + i);
    fdt.endNode();
  }
  fdt.endNode(); // soc

  for (const [node, compatible, value] of [
    ['poweroff', 'syscon-poweroff', BOARD.TEST_POWEROFF],
    ['reboot', 'syscon-reboot', BOARD.TEST_REBOOT],
  ] as const) {
    fdt.beginNode(node);
    fdt.propString('compatible', compatible);
    fdt.propU32('regmap', testPhandle);
    fdt.propU32('offset', 0);
    fdt.propU32('value', value);
    fdt.endNode();
  }

  fdt.endNode(); // root
  const blob = fdt.finish();
  if (blob.length > maxSize) {
    throw new WkvmError(
      `device tree is ${blob.length} bytes, more than the ${maxSize}-byte limit (${harts} harts, ${cfg.bootargs?.length ?? 0}-byte command line)`,
    );
  }
  return blob;
}
