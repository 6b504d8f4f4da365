// Physical memory protection (PMP), enforced as QEMU does: S- and U-mode
// accesses need a matching entry with the permission once any entry is
// active; M-mode is bound only by locked entries. Decisions are made per
// access on TLB misses; a page is cached in the TLB only when one entry (or
// none) governs all of it, so TLB hits need no PMP check.
import { CSR_PMPCFG, CSR_PMPADDR } from "./layout";
import { csr } from "./state";

const PMP_R: u64 = 1, PMP_W: u64 = 2, PMP_X: u64 = 4, PMP_L: u64 = 0x80;

/** Number of active (non-OFF) entries; 0 = PMP imposes nothing. Recomputed on writes. */
let activeEntries: u32 = 0;
let lockedEntries: u32 = 0;

// @ts-ignore: decorator
@inline function cfgOf(i: u32): u64 {
  return (csr(CSR_PMPCFG + ((i >> 3) << 1)) >> (8 * <u64>(i & 7))) & 0xff;
}

export function pmpUpdate(): void {
  let a: u32 = 0, l: u32 = 0;
  for (let i: u32 = 0; i < 64; i++) {
    const c = cfgOf(i);
    if (((c >> 3) & 3) != 0) { a++; if ((c & PMP_L) != 0) l++; }
  }
  activeEntries = a;
  lockedEntries = l;
}

// range of entry i: [lo, hi) (hi = 0 means empty)
let rangeLo: u64 = 0;
let rangeHi: u64 = 0;

function range(i: u32, c: u64): void {
  const mode = (c >> 3) & 3;
  const addr = csr(CSR_PMPADDR + i);
  if (mode == 1) { // TOR
    rangeLo = i == 0 ? 0 : csr(CSR_PMPADDR + i - 1) << 2;
    rangeHi = addr << 2;
  } else if (mode == 2) { // NA4
    rangeLo = addr << 2;
    rangeHi = rangeLo + 4;
  } else { // NAPOT: trailing ones of addr give the size
    const t = ctz(~addr);
    const size: u64 = t >= 62 ? 0 : <u64>8 << t;
    rangeLo = (addr & ~((<u64>1 << t) - 1)) << 2;
    rangeHi = size == 0 ? U64.MAX_VALUE : rangeLo + size;
  }
}

/** Permission bit needed by an access kind (0 load, 1 store, 2 fetch). */
// @ts-ignore: decorator
@inline function need(kind: u32): u64 { return kind == 0 ? PMP_R : kind == 1 ? PMP_W : PMP_X; }

/**
 * Whether an access of `kind` at privilege `priv` to [pa, pa+len) is allowed.
 * With `whole` set, also require that the governing entry covers all of it
 * (used to decide whether a page may be cached).
 */
export function pmpAllows(pa: u64, len: u64, kind: u32, priv: u32): bool {
  if (activeEntries == 0) return true;
  if (priv == 3 && lockedEntries == 0) return true;
  const end = pa + len;
  for (let i: u32 = 0; i < 64; i++) {
    const c = cfgOf(i);
    if (((c >> 3) & 3) == 0) continue;
    range(i, c);
    if (rangeHi <= rangeLo || end <= rangeLo || pa >= rangeHi) continue; // no overlap
    // the first overlapping entry decides; a partial overlap fails the access
    if (pa < rangeLo || end > rangeHi) return false;
    if (priv == 3 && (c & PMP_L) == 0) return true;
    return (c & need(kind)) != 0;
  }
  return priv == 3;
}
