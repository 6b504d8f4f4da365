/**
 * A hart's current address translation, walked on the host side for the
 * debugger (QEMU's cpu_get_phys_page_debug): bare in M-mode or with satp
 * off, else Sv39 or Sv48, reading the page tables from guest RAM. It checks
 * no permission (a debugger sees every mapped page) and sets no A/D bit.
 */
import type { VmMemory } from '../accel/memory.js';

const PTE_V = 1n, PTE_R = 2n, PTE_W = 4n, PTE_X = 8n;

/** The guest-physical address `va` maps to for `hart` now, or undefined when it is not mapped. */
export function debugTranslate(mem: VmMemory, hart: number, va: bigint): bigint | undefined {
  const L = mem.layout;
  const base = mem.vcpu(hart);
  va = BigInt.asUintN(64, va);
  const priv = mem.view.getUint32(base + L.V_PRIV, true);
  const satp = mem.view.getBigUint64(base + L.V_CSR + 8 * L.CSR_SATP, true);
  const mode = Number(satp >> 60n);
  if (priv === 3 || mode === 0) return va;
  if (mode !== 8 && mode !== 9) return undefined;
  const levels = mode === 8 ? 3 : 4;
  const vaBits = BigInt(12 + 9 * levels);
  // the bits above the VA must all equal its top bit
  if (BigInt.asUintN(64, BigInt.asIntN(Number(vaBits), va)) !== va) return undefined;
  let table = (satp & 0xfff_ffff_ffffn) << 12n;
  for (let i = levels - 1; i >= 0; i--) {
    const vpn = (va >> BigInt(12 + 9 * i)) & 0x1ffn;
    const off = mem.hostOffset(table + vpn * 8n, 8);
    if (off < 0) return undefined;
    const pte = mem.view.getBigUint64(off, true);
    if ((pte & PTE_V) === 0n || ((pte & PTE_R) === 0n && (pte & PTE_W) !== 0n)) return undefined;
    const ppn = (pte >> 10n) & 0xfff_ffff_ffffn;
    if ((pte & (PTE_R | PTE_X)) === 0n) { table = ppn << 12n; continue; } // pointer to the next level
    const low = (1n << BigInt(9 * i)) - 1n;
    if ((ppn & low) !== 0n) return undefined; // misaligned superpage
    return ((ppn & ~low) << 12n) | (va & ((low << 12n) | 0xfffn));
  }
  return undefined;
}
