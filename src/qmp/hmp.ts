/**
 * The human monitor commands QMP's human-monitor-command runs (QEMU's HMP),
 * as far as scripts use them: `info status|cpus|registers|mtree|version|name`
 * and `stop`, `cont`, `system_reset`. The text follows QEMU's layout.
 */
import type { VirtualMachine, VcpuRegisters } from '../vm.js';
import * as BOARD from '../../assembly/board.js';
import { WKVM_VERSION } from '../version.js';

const NL = '\r\n';
const hex16 = (v: bigint | number): string => BigInt(v).toString(16).padStart(16, '0');

const ABI = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7',
  's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
const FABI = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3', 'fa4', 'fa5',
  'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9', 'ft10', 'ft11'];
/** The CSRs `info registers` lists, in QEMU's order (its hypervisor ones left out: wkvm has no H extension). */
const SHOWN_CSRS = ['mhartid', 'mstatus', 'mip', 'mie', 'mideleg', 'medeleg', 'mtvec', 'stvec', 'mepc', 'sepc', 'mcause',
  'scause', 'mtval', 'stval', 'mscratch', 'sscratch', 'satp'];

function formatRegisters(r: VcpuRegisters): string {
  let s = `CPU#${r.hart}${NL} pc       ${hex16(r.pc)}${NL}`;
  for (const name of SHOWN_CSRS) s += ` ${name.padEnd(8)} ${hex16(r.csr[name] ?? 0n)}${NL}`;
  const table = (names: string[], prefix: string, values: bigint[]): string => {
    let t = '';
    for (let i = 0; i < 32; i++) {
      t += ` ${`${prefix}${i}/${names[i]}`.padEnd(8)} ${hex16(values[i]!)}`;
      if (i % 4 === 3) t += NL;
    }
    return t;
  };
  return s + table(ABI, 'x', r.x) + table(FABI, 'f', r.f);
}

/** The board's address space in `info mtree`'s layout. */
function formatMtree(vm: VirtualMachine): string {
  const span = (base: number | bigint, size: number | bigint): string =>
    `${hex16(base)}-${hex16(BigInt(base) + BigInt(size) - 1n)}`;
  const lines = [
    [BOARD.TEST_BASE, BOARD.TEST_SIZE, 'i/o', 'riscv.sifive.test'],
    [BOARD.RTC_BASE, BOARD.RTC_SIZE, 'i/o', 'goldfish_rtc'],
    [BOARD.CLINT_BASE, BOARD.CLINT_SIZE, 'i/o', 'riscv.sifive.clint'],
    [BOARD.PLIC_BASE, BOARD.PLIC_SIZE, 'i/o', 'riscv.sifive.plic'],
    [BOARD.UART0_BASE, BOARD.UART0_SIZE, 'i/o', 'serial'],
    ...Array.from({ length: BOARD.VIRTIO_SLOTS }, (_, i) => [BOARD.VIRTIO_BASE + i * BOARD.VIRTIO_SIZE, BOARD.VIRTIO_SIZE, 'i/o', 'virtio-mmio'] as const),
    [BOARD.DRAM_BASE, vm.memorySize, 'ram', 'riscv_virt_board.ram'],
  ] as const;
  let s = `address-space: memory${NL}  ${span(0, 1n << 64n)} (prio 0, i/o): system${NL}`;
  for (const [base, size, kind, name] of lines) s += `    ${span(base, size)} (prio 0, ${kind}): ${name}${NL}`;
  return s + NL;
}

const STATUS_TEXT: Record<string, string> = {
  running: 'running', paused: 'paused', prelaunch: 'paused (prelaunch)', shutdown: 'paused (shutdown)',
  'internal-error': 'paused (internal-error)', inmigrate: 'paused (inmigrate)', postmigrate: 'paused (postmigrate)',
};

/** Run one HMP command line; the reply is its text (errors are text too, as in QEMU). */
export async function humanMonitorCommand(vm: VirtualMachine, line: string, cpuIndex?: number): Promise<string> {
  const words = line.trim().split(/\s+/).filter((w) => w !== '');
  const [cmd, sub, ...rest] = words;
  if (cmd === undefined) return '';
  if (cmd === 'info') {
    switch (sub) {
      case 'status': return `VM status: ${STATUS_TEXT[vm.runState] ?? vm.runState}${NL}`;
      case 'cpus': {
        const current = cpuIndex ?? 0;
        return vm.cpus().map((c) => `${c.hart === current ? '*' : ' '} CPU #${c.hart}: thread_id=${c.threadId}${NL}`).join('');
      }
      case 'registers': {
        const all = rest.includes('-a');
        const harts = all ? Array.from({ length: vm.harts }, (_, i) => i) : [cpuIndex ?? 0];
        if (harts.some((h) => h < 0 || h >= vm.harts)) return `CPU ${cpuIndex} does not exist${NL}`;
        let out = '';
        try {
          for (const h of harts) out += formatRegisters(await vm.registers(h)) + (all ? NL : '');
        } catch (e) {
          return `${(e as Error).message}${NL}`; // not started yet, or stopped
        }
        return out;
      }
      case 'mtree': return formatMtree(vm);
      case 'version': return `${WKVM_VERSION} (wkvm)${NL}`;
      case 'name': return vm.name === undefined ? '' : `${vm.name}${NL}`;
      case undefined: return `info status|cpus|registers|mtree|version|name${NL}`;
      default: return `unknown command: 'info ${sub}'${NL}`;
    }
  }
  switch (cmd) {
    case 'stop': await vm.pause(); return '';
    case 'cont': case 'c': vm.resume(); return '';
    case 'system_reset': await vm.reset(); return '';
    default: return `unknown command: '${cmd}'${NL}`;
  }
}
