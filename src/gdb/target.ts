/**
 * The target description gdb reads (qXfer:features:read:target.xml) and the
 * register numbers it implies: gdb's RISC-V numbering (x0-x31 = 0-31, pc =
 * 32, f0-f31 = 33-64, CSR n = 65 + n, priv = 65 + 4096), named features as
 * gdb's riscv-tdep expects them.
 */
import type { DebugRegister } from '../debug/debugger.js';
import { DEBUG_CSRS } from '../debug/debugger.js';

const X_NAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 'fp', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
const F_NAMES = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3', 'fa4', 'fa5',
  'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9', 'ft10', 'ft11'];
const CSR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x001, 'fflags'], [0x002, 'frm'], [0x003, 'fcsr'], [0x100, 'sstatus'], [0x105, 'stvec'], [0x140, 'sscratch'],
  [0x141, 'sepc'], [0x142, 'scause'], [0x143, 'stval'], [0x180, 'satp'], [0x300, 'mstatus'], [0x301, 'misa'],
  [0x302, 'medeleg'], [0x303, 'mideleg'], [0x304, 'mie'], [0x305, 'mtvec'], [0x340, 'mscratch'], [0x341, 'mepc'],
  [0x342, 'mcause'], [0x343, 'mtval'],
]);
const CSR_BASE = 65;
const PRIV_REGNUM = CSR_BASE + 4096;
/** Registers in the `g` packet: x0-x31 and pc (what gdb expects of a 'g' when it has the description). */
export const G_REGISTERS = 33;

/** The register gdb numbers `n`, or undefined. */
export function registerOf(n: number): DebugRegister | undefined {
  if (n >= 0 && n < 32) return { kind: 'x', index: n };
  if (n === 32) return { kind: 'pc' };
  if (n >= 33 && n < 65) return { kind: 'f', index: n - 33 };
  if (n === PRIV_REGNUM) return { kind: 'priv' };
  if (n >= CSR_BASE && DEBUG_CSRS.includes(n - CSR_BASE)) return { kind: 'csr', csr: n - CSR_BASE };
  return undefined;
}

/** Bytes of register `n` on the wire (fflags/frm/fcsr are 32-bit, as QEMU describes them). */
export function registerSize(n: number): number {
  return n >= CSR_BASE + 1 && n <= CSR_BASE + 3 ? 4 : 8;
}

function reg(name: string, regnum: number, type: string, bits = 64, group?: string): string {
  return `<reg name="${name}" bitsize="${bits}" regnum="${regnum}" type="${type}"${group ? ` group="${group}"` : ''}/>`;
}

export const TARGET_XML = [
  '<?xml version="1.0"?>',
  '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
  '<target version="1.0">',
  '<architecture>riscv:rv64</architecture>',
  '<feature name="org.gnu.gdb.riscv.cpu">',
  ...X_NAMES.map((n, i) => reg(n, i, i === 1 || i === 32 ? 'code_ptr' : i === 2 || i === 8 ? 'data_ptr' : 'int')),
  reg('pc', 32, 'code_ptr'),
  '</feature>',
  '<feature name="org.gnu.gdb.riscv.fpu">',
  ...F_NAMES.map((n, i) => reg(n, 33 + i, 'ieee_double', 64, 'float')),
  reg('fflags', CSR_BASE + 1, 'int', 32, 'float'),
  reg('frm', CSR_BASE + 2, 'int', 32, 'float'),
  reg('fcsr', CSR_BASE + 3, 'int', 32, 'float'),
  '</feature>',
  '<feature name="org.gnu.gdb.riscv.csr">',
  ...[...CSR_NAMES].filter(([n]) => n > 3).map(([n, name]) => reg(name, CSR_BASE + n, 'int', 64, 'csr')),
  '</feature>',
  '<feature name="org.gnu.gdb.riscv.virtual">',
  reg('priv', PRIV_REGNUM, 'int', 64, 'system'),
  '</feature>',
  '</target>',
].join('');
