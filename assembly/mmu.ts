// Address translation (bare, Sv39, Sv48), the per-vCPU TLBs, and the slow
// paths of guest memory accesses: page walks, page-crossing accesses, MMIO
// (in-Wasm devices or an exit to the I/O loop), HTIF, and code-page tracking
// for the decode cache.
//
// Fast path (in cpu.ts): tlb[kind][(va>>12)&255] holds tag = page(va) | epoch
// and addend, so host = va + addend. A hit implies the permission check for
// that kind of access was done at fill time under the current privilege.
import {
  V_TLB, TLB_ENTRIES, V_TLB_EPOCHS, TLB_KEYS, V_CODEMAP, V_RUN, R_TLB_MISSES, R_EXIT, R_SIZE, R_ADDR, R_DATA, R_WRITE, R_DEST, R_CODE,
  EXIT_MMIO, EXIT_SHUTDOWN, CSR_SATP, CSR_MSTATUS, MACHINE_BASE, M_MMIO_TABLE, V_ICACHE, ICACHE_ENTRIES,
} from "./layout";
import { V, RAM_BASE, RAM_SIZE, RAM_DELTA, TOHOST, FROMHOST, TOUCHED, csr } from "./state";
import { deviceLoad, deviceStore, isDevice, virtioLoad, virtioStore } from "./devices";
import { uartPutc } from "./uart";
import { pmpAllows } from "./pmp";
import { dropPageTranslations, clearTranslations } from "./jitcache";
import { watchHit, watchAllowsFill } from "./debug";
import { DBG_WATCH_READ, DBG_WATCH_WRITE } from "./layout";

export const ACC_LOAD: u32 = 0;
export const ACC_STORE: u32 = 1;
export const ACC_FETCH: u32 = 2;

// exception causes
export const EXC_INSN_MISALIGNED: u64 = 0;
export const EXC_INSN_ACCESS: u64 = 1;
export const EXC_ILLEGAL: u64 = 2;
export const EXC_BREAKPOINT: u64 = 3;
export const EXC_LOAD_MISALIGNED: u64 = 4;
export const EXC_LOAD_ACCESS: u64 = 5;
export const EXC_STORE_MISALIGNED: u64 = 6;
export const EXC_STORE_ACCESS: u64 = 7;
export const EXC_ECALL_U: u64 = 8;
export const EXC_ECALL_S: u64 = 9;
export const EXC_ECALL_M: u64 = 11;
export const EXC_INSN_PAGE: u64 = 12;
export const EXC_LOAD_PAGE: u64 = 13;
export const EXC_STORE_PAGE: u64 = 15;

// Events raised by slow paths for the interpreter loop to act on.
export const EV_NONE: u32 = 0;
export const EV_FAULT: u32 = 1;  // faultCause/faultTval describe a synchronous exception
export const EV_EXIT: u32 = 2;   // leave run() after this instruction (run struct filled)
export const EV_DEBUG: u32 = 3;  // a watchpoint: leave run() before this instruction (R_DBG filled)
export let ev: u32 = EV_NONE;
export let faultCause: u64 = 0;
export let faultTval: u64 = 0;

export function raise(cause: u64, tval: u64): void {
  ev = EV_FAULT;
  faultCause = cause;
  faultTval = tval;
}

// current privilege and the effective privilege of data accesses (MPRV)
export let priv: u32 = 3;
export let dataPriv: u32 = 3;
export function setPriv(p: u32): void { priv = p; }

// TLB epochs. An entry's tag is its page | the epoch it was filled under, so
// a new epoch invalidates a whole TLB in O(1). Each permission key (what the
// entries' checks assumed: privilege, SUM, MXR) has an epoch of its own, so
// a syscall's U -> S -> U trip keeps both sides' translations; a flush drops
// every key's epoch. Epochs count up to 0xfff, then the table is cleared.
export let epochLoad: u64 = 1;
export let epochStore: u64 = 1;
export let epochFetch: u64 = 1;

// @ts-ignore: decorator
@inline export function tlbBase(kind: u32): usize { return V + V_TLB + (<usize>kind) * (TLB_ENTRIES << 4); }

/**
 * The load/store TLB fast path: the host address of a `size`-byte access at
 * `va` when table `T` holds its page under `epoch` and the access stays inside
 * the page; 0 (never a RAM address) when the slow path must handle it.
 */
// @ts-ignore: decorator
@inline export function tlbHost(T: usize, va: u64, size: u32, epoch: u64): usize {
  const t = T + ((<usize>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(t) != ((va & ~(<u64>0xfff)) | epoch) || (<u32>va & 0xfff) > 0x1000 - size) return 0;
  return <usize>(va + load<u64>(t, 8));
}

// The permission keys the current epochs belong to.
let tlbDataKey: u32 = 0; // dataPriv | SUM << 2 | MXR << 3 (load and store TLBs)
let tlbFetchKey: u32 = 0; // priv

// TLB `kind`'s epoch under permission key `key`; key TLB_KEYS holds the last epoch handed out.
// @ts-ignore: decorator
@inline function epochSlot(kind: u32, key: u32): usize { return V + V_TLB_EPOCHS + ((kind * (TLB_KEYS + 1) + key) << 2); }

/** A never-used epoch for TLB `kind` (clearing the table when the count wraps). */
function newEpoch(kind: u32): u32 {
  const last = epochSlot(kind, TLB_KEYS);
  let e = load<u32>(last) + 1;
  if (e >= 0x1000) {
    memory.fill(tlbBase(kind), 0, TLB_ENTRIES << 4);
    memory.fill(epochSlot(kind, 0), 0, TLB_KEYS << 2);
    e = 1;
  }
  store<u32>(last, e);
  return e;
}

/** TLB `kind`'s epoch under permission key `key` (a new one if it has none). */
function epochOf(kind: u32, key: u32): u64 {
  const p = epochSlot(kind, key);
  let e = load<u32>(p);
  if (e == 0) { e = newEpoch(kind); store<u32>(p, e); }
  return <u64>e;
}

/** Invalidate every entry of TLB `kind`, under every key; returns the current key's new epoch. */
function flushTlb(kind: u32, key: u32): u64 {
  memory.fill(epochSlot(kind, 0), 0, TLB_KEYS << 2);
  return epochOf(kind, key);
}

export function flushDataTlb(): void {
  epochLoad = flushTlb(ACC_LOAD, tlbDataKey);
  epochStore = flushTlb(ACC_STORE, tlbDataKey);
}
export function flushAllTlb(): void {
  flushDataTlb();
  epochFetch = flushTlb(ACC_FETCH, tlbFetchKey);
}

/** Power-on: empty TLBs, no epochs handed out. */
export function resetTlb(): void {
  memory.fill(V + V_TLB, 0, TLB_ENTRIES * 16 * 3);
  memory.fill(V + V_TLB_EPOCHS, 0, 3 * (TLB_KEYS + 1) * 4);
  tlbDataKey = 0; tlbFetchKey = 0;
  epochLoad = epochOf(ACC_LOAD, 0);
  epochStore = epochOf(ACC_STORE, 0);
  epochFetch = epochOf(ACC_FETCH, 0);
}

/**
 * Recompute dataPriv after priv or mstatus changed, and switch the TLBs to the
 * epochs of the new permission key. Linux writes sstatus (SIE) around every
 * spinlock, which changes no key; a syscall switches keys and back.
 */
export function privChanged(): void {
  const ms = csr(CSR_MSTATUS);
  let dp = priv;
  if (priv == 3 && (ms & (1 << 17)) != 0) dp = <u32>((ms >> 11) & 3); // MPRV: MPP
  dataPriv = dp;
  const key = dp | <u32>((ms >> 16) & 0xc); // SUM (bit 18), MXR (bit 19)
  if (key != tlbDataKey) {
    tlbDataKey = key;
    epochLoad = epochOf(ACC_LOAD, key);
    epochStore = epochOf(ACC_STORE, key);
  }
  if (priv != tlbFetchKey) { tlbFetchKey = priv; epochFetch = epochOf(ACC_FETCH, priv); }
}

// ---- decode-cache tracking -----------------------------------------------
// A bit per 4 KiB RAM page that holds decoded instructions. Stores to such a
// page go through the slow path, which drops the overlapping decode entries.
export let icacheGen: u64 = 1 << 32;

// @ts-ignore: decorator
@inline export function isCodePage(ramOff: u64): bool {
  const pg = <usize>(ramOff >> 12);
  return (load<u8>(V + V_CODEMAP + (pg >> 3)) & (1 << <u8>(pg & 7))) != 0;
}
export function markCodePage(host: usize): void {
  const pg = <usize>((<u64>host - (RAM_BASE + RAM_DELTA)) >> 12);
  const p = V + V_CODEMAP + (pg >> 3);
  const bit = <u8>(1 << <u8>(pg & 7));
  const b = load<u8>(p);
  if ((b & bit) == 0) {
    store<u8>(p, b | bit);
    evictStorePage(host & ~(<usize>0xfff)); // no cached store translation may bypass the check
  }
}
/**
 * Drop the store TLB's entries (under every permission key) that map host
 * page `page`: 256 compares, cheaper than flushing the whole TLB, which cost
 * a page walk for every page the guest stored to next (Linux runs FENCE.I
 * each time it maps code, and each code page run after it came here).
 */
function evictStorePage(page: usize): void {
  const T = tlbBase(ACC_STORE);
  for (let i: u32 = 0; i < TLB_ENTRIES; i++) {
    const e = T + (<usize>i << 4);
    const tag = load<u64>(e);
    if (tag != 0 && <usize>((tag & ~(<u64>0xfff)) + load<u64>(e, 8)) == page) store<u64>(e, 0);
  }
}
/**
 * FENCE.I: forget every decoded instruction and every translation. The store
 * TLB stays: it holds no page of the code map, which is now empty.
 */
export function flushIcache(): void {
  icacheGen += 1 << 32;
  memory.fill(V + V_CODEMAP, 0, <usize>((RAM_SIZE >> 15) + 1));
  clearTranslations();
}
// set by a store to a code page (a translation that made it must not run on into code it may have changed)
export let codeStored = false;
function invalidateCode(host: usize, size: u32): void {
  codeStored = true;
  dropPageTranslations(host, icacheGen);
  // any instruction starting at host-2 .. host+size-1 overlaps the store
  let a = (host - 2) & ~(<usize>1);
  const end = host + size;
  while (a < end) {
    const e = V + V_ICACHE + (((a >> 1) & (ICACHE_ENTRIES - 1)) << 4);
    if (<u32>load<u64>(e) == <u32>a) store<u64>(e, 0);
    a += 2;
  }
}

// ---- translation ------------------------------------------------------------
export const XLATE_FAIL: u64 = 0xffff_ffff_ffff_ffff;

function pageFault(kind: u32, va: u64): u64 {
  raise(kind == ACC_FETCH ? EXC_INSN_PAGE : kind == ACC_LOAD ? EXC_LOAD_PAGE : EXC_STORE_PAGE, va);
  return XLATE_FAIL;
}
function accessFault(kind: u32, va: u64): u64 {
  raise(kind == ACC_FETCH ? EXC_INSN_ACCESS : kind == ACC_LOAD ? EXC_LOAD_ACCESS : EXC_STORE_ACCESS, va);
  return XLATE_FAIL;
}

// @ts-ignore: decorator
@inline function inRam(pa: u64, size: u64): bool {
  const off = pa - RAM_BASE;
  return off < RAM_SIZE && size <= RAM_SIZE - off; // (off + size could wrap for a guest-given size)
}

/**
 * The page of RAM address `pa` may now be non-zero (a store, an AMO, a
 * store TLB fill): a snapshot reads only such pages. Slow paths only: a
 * store through the TLB hits a page its fill marked.
 */
// @ts-ignore: decorator
@inline function markTouched(pa: u64): void {
  const pg = <usize>((pa - RAM_BASE) >> 12);
  const p = TOUCHED + (pg >> 3);
  const bit = <u8>(1 << <u8>(pg & 7));
  if ((load<u8>(p) & bit) == 0) atomic.or<u8>(p, bit);
}

/** Walk the page table; returns the physical address or XLATE_FAIL (ev set). */
export function translate(va: u64, kind: u32): u64 {
  const pa = walk(va, kind);
  if (ev != EV_NONE) return pa;
  const p = kind == ACC_FETCH ? priv : dataPriv;
  if (!pmpAllows(pa, 1, kind, p)) return accessFault(kind, va);
  return pa;
}

function walk(va: u64, kind: u32): u64 {
  const p = kind == ACC_FETCH ? priv : dataPriv;
  const satp = csr(CSR_SATP);
  const mode = <u32>(satp >> 60);
  if (p == 3 || mode == 0) return va;
  const levels: i32 = mode == 8 ? 3 : 4;
  const vaBits: u64 = mode == 8 ? 39 : 48;
  // the upper bits must all equal the top bit of the VA
  if (<u64>((<i64>(va << (64 - vaBits))) >> (64 - vaBits)) != va) return pageFault(kind, va);
  const ms = csr(CSR_MSTATUS);
  const sum = (ms & (1 << 18)) != 0;
  const mxr = (ms & (1 << 19)) != 0;
  let a: u64 = (satp & 0xfff_ffff_ffff) << 12;
  for (let i = levels - 1; i >= 0; i--) {
    const vpn = (va >> (12 + 9 * <u64>i)) & 0x1ff;
    const pteAddr = a + (vpn << 3);
    if (!inRam(pteAddr, 8) || !pmpAllows(pteAddr, 8, ACC_LOAD, 1)) return accessFault(kind, va);
    const host = <usize>(pteAddr + RAM_DELTA);
    let pte = atomic.load<u64>(host);
    if ((pte & 1) == 0 || ((pte & 2) == 0 && (pte & 4) != 0)) return pageFault(kind, va);
    if ((pte >> 54) != 0) return pageFault(kind, va); // reserved / Svpbmt / Svnapot not offered
    if ((pte & 0xa) == 0) { // pointer to next level
      if ((pte & 0xd0) != 0) return pageFault(kind, va); // D, A, U must be clear on non-leaf
      a = ((pte >> 10) & 0xfff_ffff_ffff) << 12;
      continue;
    }
    // leaf
    const r = (pte & 2) != 0, w = (pte & 4) != 0, x = (pte & 8) != 0, u = (pte & 16) != 0;
    if (p == 0 && !u) return pageFault(kind, va);
    if (p == 1 && u && (kind == ACC_FETCH || !sum)) return pageFault(kind, va);
    if (kind == ACC_FETCH) { if (!x) return pageFault(kind, va); }
    else if (kind == ACC_LOAD) { if (!(r || (mxr && x))) return pageFault(kind, va); }
    else if (!w) return pageFault(kind, va);
    const ppn = (pte >> 10) & 0xfff_ffff_ffff;
    const lowMask: u64 = (<u64>1 << (9 * <u64>i)) - 1;
    if ((ppn & lowMask) != 0) return pageFault(kind, va); // misaligned superpage
    // hardware A/D update, atomically (another hart may be editing the PTE)
    const need: u64 = kind == ACC_STORE ? 0xc0 : 0x40;
    if ((pte & need) != need) {
      const old = atomic.cmpxchg<u64>(host, pte, pte | need);
      if (old != pte) { i++; continue; } // changed under us: walk this level again
      pte |= need;
    }
    return ((ppn & ~lowMask) << 12) | (va & ((lowMask << 12) | 0xfff));
  }
  return pageFault(kind, va);
}

/** Fill the TLB of `kind` for va's page; returns host address of va or 0 with ev set / not cacheable. */
function fill(va: u64, kind: u32, pa: u64): void {
  const pagePa = pa & ~(<u64>0xfff);
  if (!inRam(pagePa, 0x1000)) return;
  if (kind == ACC_STORE) markTouched(pagePa);
  if (!pmpAllows(pagePa, 0x1000, kind, kind == ACC_FETCH ? priv : dataPriv)) return; // not uniform: check every access
  if (kind != ACC_FETCH && !watchAllowsFill(va)) return; // a debugger watches this page: every access comes here
  if (kind == ACC_STORE) {
    if (isCodePage(pagePa - RAM_BASE)) return;
    if (TOHOST != 0 && (TOHOST & ~(<u64>0xfff)) == pagePa) return;
  }
  const e = tlbBase(kind) + ((<usize>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  store<u64>(V + V_RUN + R_TLB_MISSES, load<u64>(V + V_RUN + R_TLB_MISSES) + 1);
  const epoch = kind == ACC_LOAD ? epochLoad : kind == ACC_STORE ? epochStore : epochFetch;
  store<u64>(e, (va & ~(<u64>0xfff)) | epoch);
  store<u64>(e + 8, (pagePa + RAM_DELTA) - (va & ~(<u64>0xfff)));
}

/** Translate for an instruction fetch; returns host address or 0 (ev set). */
export function fetchHost(va: u64): usize {
  const pa = translate(va, ACC_FETCH);
  if (ev != EV_NONE) return 0;
  if (!inRam(pa, 2)) { accessFault(ACC_FETCH, va); return 0; }
  return <usize>(pa + RAM_DELTA);
}

// ---- slow loads and stores --------------------------------------------------
// @ts-ignore: decorator
@inline function rawLoad(host: usize, size: u32): u64 {
  if (size == 1) return <u64>load<u8>(host);
  if (size == 2) return <u64>load<u16>(host);
  if (size == 4) return <u64>load<u32>(host);
  return load<u64>(host);
}
// @ts-ignore: decorator
@inline function rawStore(host: usize, size: u32, v: u64): void {
  if (size == 1) store<u8>(host, <u8>v);
  else if (size == 2) store<u16>(host, <u16>v);
  else if (size == 4) store<u32>(host, <u32>v);
  else store<u64>(host, v);
}

// R_DEST for MMIO loads that exit to the I/O loop
export let loadDest: u32 = 0;

/** Load of `size` bytes (zero-extended) at virtual va. On a fault ev is set. */
export function loadSlow(va: u64, size: u32): u64 {
  if (watchHit(va, size, DBG_WATCH_READ)) { ev = EV_DEBUG; return 0; }
  const off = <u32>va & 0xfff;
  if (off + size > 0x1000) {
    // crosses a page: assemble from bytes (each page translated once)
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const b = loadSlow(va + i, 1);
      if (ev != EV_NONE) return 0;
      v |= b << (8 * <u64>i);
    }
    return v;
  }
  const pa = translate(va, ACC_LOAD);
  if (ev != EV_NONE) return 0;
  if (inRam(pa, size)) {
    fill(va, ACC_LOAD, pa);
    return rawLoad(<usize>(pa + RAM_DELTA), size);
  }
  return mmioLoad(pa, size, va);
}

export function storeSlow(va: u64, size: u32, v: u64): void {
  if (watchHit(va, size, DBG_WATCH_WRITE)) { ev = EV_DEBUG; return; }
  const off = <u32>va & 0xfff;
  if (off + size > 0x1000) {
    // check both pages before writing anything
    translate(va, ACC_STORE);
    if (ev != EV_NONE) return;
    translate((va | 0xfff) + 1, ACC_STORE);
    if (ev != EV_NONE) { faultTval = va; return; }
    for (let i: u32 = 0; i < size; i++) {
      storeSlow(va + i, 1, v >> (8 * <u64>i));
      if (ev != EV_NONE) return;
    }
    return;
  }
  const pa = translate(va, ACC_STORE);
  if (ev != EV_NONE) return;
  if (inRam(pa, size)) {
    const host = <usize>(pa + RAM_DELTA);
    markTouched(pa);
    rawStore(host, size, v);
    if (isCodePage(pa - RAM_BASE)) invalidateCode(host, size);
    if (TOHOST != 0 && pa == TOHOST && size >= 4) htifWrite(atomic.load<u64>(host));
    else fill(va, ACC_STORE, pa);
    return;
  }
  mmioStore(pa, size, v, va);
}

function mmioLoad(pa: u64, size: u32, va: u64): u64 {
  if ((pa & (<u64>size - 1)) != 0) { raise(EXC_LOAD_MISALIGNED, va); return 0; }
  if (isDevice(pa)) return deviceLoad(pa, size);
  if (!inMmioTable(pa, size)) { raise(EXC_LOAD_ACCESS, va); return 0; }
  const served = virtioLoad(pa, size);
  if (served >= 0) return <u64>served;
  exitMmio(pa, size, 0, false);
  return 0;
}

function mmioStore(pa: u64, size: u32, v: u64, va: u64): void {
  if ((pa & (<u64>size - 1)) != 0) { raise(EXC_STORE_MISALIGNED, va); return; }
  if (isDevice(pa)) { deviceStore(pa, size, v); return; }
  if (!inMmioTable(pa, size)) { raise(EXC_STORE_ACCESS, va); return; }
  if (virtioStore(pa, size, v)) return;
  exitMmio(pa, size, v, true);
}

function inMmioTable(pa: u64, size: u32): bool {
  const t = MACHINE_BASE + M_MMIO_TABLE;
  const n = load<u32>(t);
  for (let i: u32 = 0; i < n; i++) {
    const base = load<u64>(t + 8 + (i << 4));
    const len = load<u64>(t + 16 + (i << 4));
    if (pa - base < len && pa - base + size <= len) return true;
  }
  return false;
}

function exitMmio(pa: u64, size: u32, v: u64, write: bool): void {
  const r = V + V_RUN;
  store<u32>(r + R_EXIT, EXIT_MMIO);
  store<u64>(r + R_ADDR, pa);
  store<u32>(r + R_SIZE, size);
  store<u64>(r + R_DATA, v);
  store<u32>(r + R_WRITE, write ? 1 : 0);
  store<u32>(r + R_DEST, loadDest);
  ev = EV_EXIT;
}

/** Leave run() after the current instruction with the given exit reason. */
export function exitWith(reason: u32): void {
  store<u32>(V + V_RUN + R_EXIT, reason);
  ev = EV_EXIT;
}

export function exitShutdown(code: u32): void {
  const r = V + V_RUN;
  store<u32>(r + R_EXIT, EXIT_SHUTDOWN);
  store<u32>(r + R_CODE, code);
  ev = EV_EXIT;
}

// HTIF (Spike's host-target interface), as far as test programs use it:
// device 0 command 0 with bit 0 set = exit with code value>>1;
// device 1 command 1 = console putchar (acknowledged through fromhost).
function htifWrite(v: u64): void {
  const dev = v >> 56, cmd = (v >> 48) & 0xff;
  if (dev == 0 && cmd == 0 && (v & 1) != 0) {
    exitShutdown(<u32>((v & 0xffff_ffff_ffff) >> 1));
  } else if (dev == 1 && cmd == 1) {
    uartPutc(<u32>(v & 0xff));
    store<u64>(<usize>(TOHOST + RAM_DELTA), 0);
    if (FROMHOST != 0 && inRam(FROMHOST, 8)) store<u64>(<usize>(FROMHOST + RAM_DELTA), (dev << 56) | (cmd << 48));
  }
}

// ---- physical accesses used by SBI (DBCN) and AMOs ---------------------------
/** Host address of guest-physical [pa, pa+len) if it is all RAM, else 0. */
export function ramHost(pa: u64, len: u64): usize {
  if (!inRam(pa, len)) return 0;
  return <usize>(pa + RAM_DELTA);
}

/** Translate va for LR (load permission, natural alignment); returns host or 0 with ev set. */
export function lrHost(va: u64, size: u32): usize {
  if ((va & (<u64>size - 1)) != 0) { raise(EXC_LOAD_MISALIGNED, va); return 0; }
  if (watchHit(va, size, DBG_WATCH_READ)) { ev = EV_DEBUG; return 0; }
  const pa = translate(va, ACC_LOAD);
  if (ev != EV_NONE) return 0;
  if (!inRam(pa, size)) { raise(EXC_LOAD_ACCESS, va); return 0; }
  return <usize>(pa + RAM_DELTA);
}

/** Translate va for an atomic read-modify-write (store permission); returns host or 0 with ev set. */
export function amoHost(va: u64, size: u32): usize {
  if ((va & (<u64>size - 1)) != 0) { raise(EXC_STORE_MISALIGNED, va); return 0; }
  // the store TLB holds only RAM the hart may write that is not code and that no watchpoint is on (fill())
  const cached = tlbHost(tlbBase(ACC_STORE), va, size, epochStore);
  if (cached != 0) return cached;
  if (watchHit(va, size, DBG_WATCH_READ | DBG_WATCH_WRITE)) { ev = EV_DEBUG; return 0; }
  const pa = translate(va, ACC_STORE);
  if (ev != EV_NONE) return 0;
  if (!inRam(pa, size)) { raise(EXC_STORE_ACCESS, va); return 0; }
  const host = <usize>(pa + RAM_DELTA);
  markTouched(pa);
  if (isCodePage(pa - RAM_BASE)) invalidateCode(host, size);
  // the next AMO to the page finds it there (a translation's AMOs run inline only then): the walk was one
  // per AMO, and kernel code runs one on a page its plain stores may never reach (a reference count)
  else fill(va, ACC_STORE, pa);
  return host;
}
