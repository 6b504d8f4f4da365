// CLINT (SiFive core-local interruptor) at 0x2000000, served in Wasm:
// msip[h] at +4h, mtimecmp[h] at +0x4000+8h, mtime at +0xbff8 (10 MHz).
import { V_MTIMECMP, V_PENDING } from "./layout";
import { NHARTS, vcpuBase, mtimeNow } from "./state";
import { setPendingLevel, MIP_MSIP, MIP_MTIP, ringSignal } from "./irq";

export function clintLoad(off: u32, size: u32): u64 {
  if (off < 0x4000) {
    const h = off >> 2;
    if (h >= NHARTS || (off & 3) != 0) return 0;
    return <u64>((atomic.load<u32>(vcpuBase(h) + V_PENDING) >> 3) & 1);
  }
  if (off >= 0x4000 && off < 0xbff8) {
    const h = (off - 0x4000) >> 3;
    if (h >= NHARTS) return 0;
    const v = atomic.load<u64>(vcpuBase(h) + V_MTIMECMP);
    return (off & 4) != 0 ? v >> 32 : (size == 8 ? v : v & 0xffff_ffff);
  }
  if (off >= 0xbff8 && off < 0xc000) {
    const t = mtimeNow();
    return (off & 4) != 0 ? t >> 32 : (size == 8 ? t : t & 0xffff_ffff);
  }
  return 0;
}

export function clintStore(off: u32, size: u32, v: u64): void {
  if (off < 0x4000) {
    const h = off >> 2;
    if (h >= NHARTS || (off & 3) != 0) return;
    setPendingLevel(h, MIP_MSIP, (v & 1) != 0);
    return;
  }
  if (off >= 0x4000 && off < 0xbff8) {
    const h = (off - 0x4000) >> 3;
    if (h >= NHARTS) return;
    const p = vcpuBase(h) + V_MTIMECMP;
    let cur = atomic.load<u64>(p);
    if (size == 8) cur = v;
    else if ((off & 4) != 0) cur = (cur & 0xffff_ffff) | (v << 32);
    else cur = (cur & 0xffff_ffff_0000_0000) | (v & 0xffff_ffff);
    atomic.store<u64>(p, cur);
    // the new deadline decides MTIP now; the signal worker re-arms its alarm
    setPendingLevel(h, MIP_MTIP, mtimeNow() >= cur);
    ringSignal(cur);
  }
  // writes to mtime are ignored: it follows the host clock
}
