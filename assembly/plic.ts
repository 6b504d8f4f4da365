// PLIC at 0xc000000, served in Wasm (the in-kernel irqchip's analog).
// Two contexts per hart as on QEMU's virt: 2h = M-mode (MEIP), 2h+1 = S-mode (SEIP).
// Devices on the main thread drive lines with plicSetLevel through the main
// thread's own instance of this module; it updates shared state and kicks
// the harts whose external-interrupt line changed.
import {
  MACHINE_BASE, M_PLIC_PRIORITY, M_PLIC_PENDING, M_PLIC_LEVEL, M_PLIC_CLAIMED, M_PLIC_LOCK,
  M_PLIC_CTX, PLIC_CTX_STRIDE, PLIC_SOURCES, M_VIRTIO_ISR,
} from "./layout";
import { VIRTIO_SLOTS, VIRTIO_IRQ_BASE } from "./board";
import { NHARTS } from "./state";
import { setPendingLevel, MIP_MEIP, MIP_SEIP } from "./irq";

const PRIO: usize = MACHINE_BASE + M_PLIC_PRIORITY;
const PEND: usize = MACHINE_BASE + M_PLIC_PENDING;
const LEVEL: usize = MACHINE_BASE + M_PLIC_LEVEL;
const CLAIMED: usize = MACHINE_BASE + M_PLIC_CLAIMED;
const CTX: usize = MACHINE_BASE + M_PLIC_CTX;
const WORDS: u32 = PLIC_SOURCES / 32;

function lock(): void { while (atomic.cmpxchg<u32>(MACHINE_BASE + M_PLIC_LOCK, 0, 1) != 0) {} }
function unlock(): void { atomic.store<u32>(MACHINE_BASE + M_PLIC_LOCK, 0); }

// @ts-ignore: decorator
@inline function ctxBase(c: u32): usize { return CTX + <usize>c * PLIC_CTX_STRIDE; }

/** Highest-priority pending, enabled, unclaimed source above the threshold of context c (0 = none). */
function best(c: u32): u32 {
  const cb = ctxBase(c);
  const threshold = load<u32>(cb + 16);
  let bestId: u32 = 0, bestPrio: u32 = 0;
  for (let w: u32 = 0; w < WORDS; w++) {
    let bits = load<u32>(PEND + (w << 2)) & load<u32>(cb + (w << 2)) & ~load<u32>(CLAIMED + (w << 2));
    while (bits != 0) {
      const b = ctz(bits);
      bits &= bits - 1;
      const id = (w << 5) + b;
      const p = load<u32>(PRIO + (id << 2));
      if (p > threshold && p > bestPrio) { bestPrio = p; bestId = id; }
    }
  }
  return bestId;
}

/** Re-derive MEIP or SEIP of context c (lock held). */
function updateContext(c: u32): void {
  setPendingLevel(c >> 1, (c & 1) != 0 ? MIP_SEIP : MIP_MEIP, best(c) != 0);
}

/** Re-derive MEIP/SEIP of every context (lock held). */
function update(): void {
  const n = NHARTS * 2;
  for (let c: u32 = 0; c < n; c++) updateContext(c);
}

/** Drive interrupt line `irq` (1..PLIC_SOURCES-1) to `level`. */
export function plicSetLevel(irq: u32, level: bool): void {
  if (irq == 0 || irq >= PLIC_SOURCES) return;
  lock();
  setLevel(irq, level);
  unlock();
}

/**
 * A virtio-mmio slot's InterruptStatus: set bits (the device, from the I/O
 * thread) and clear bits (the driver's InterruptACK, on a vCPU) in one step
 * with the slot's line, under the lock: a raise racing an acknowledgement
 * must not leave the line low while the status is non-zero.
 */
export function virtioInterrupt(slot: u32, set: u32, clear: u32): void {
  if (slot >= VIRTIO_SLOTS) return;
  const isr = MACHINE_BASE + M_VIRTIO_ISR + (slot << 2);
  lock();
  const old = load<u32>(isr);
  const now = (old & ~clear) | set;
  atomic.store<u32>(isr, now);
  if ((old != 0) != (now != 0)) setLevel(VIRTIO_IRQ_BASE + slot, now != 0);
  unlock();
}

/** plicSetLevel with the lock held. */
function setLevel(irq: u32, level: bool): void {
  const w = irq >> 5, bit: u32 = 1 << (irq & 31);
  const lv = load<u32>(LEVEL + (w << 2));
  if (level) {
    store<u32>(LEVEL + (w << 2), lv | bit);
    store<u32>(PEND + (w << 2), load<u32>(PEND + (w << 2)) | bit);
  } else {
    store<u32>(LEVEL + (w << 2), lv & ~bit);
    store<u32>(PEND + (w << 2), load<u32>(PEND + (w << 2)) & ~bit);
  }
  update();
}

export function plicLoad(off: u32, size: u32): u64 {
  if (size != 4) return 0;
  let v: u32 = 0;
  lock();
  if (off < 0x1000) {
    const id = off >> 2;
    if (id < PLIC_SOURCES) v = load<u32>(PRIO + (id << 2));
  } else if (off < 0x2000) {
    const w = (off - 0x1000) >> 2;
    if (w < WORDS) v = load<u32>(PEND + (w << 2));
  } else if (off < 0x200000) {
    const c = (off - 0x2000) >> 7, w = ((off - 0x2000) & 0x7f) >> 2;
    if (c < NHARTS * 2 && w < WORDS) v = load<u32>(ctxBase(c) + (w << 2));
  } else {
    const c = (off - 0x200000) >> 12, r = off & 0xfff;
    if (c < NHARTS * 2) {
      if (r == 0) v = load<u32>(ctxBase(c) + 16);
      else if (r == 4) { // claim
        const id = best(c);
        if (id != 0) {
          const w = id >> 5, bit: u32 = 1 << (id & 31);
          store<u32>(PEND + (w << 2), load<u32>(PEND + (w << 2)) & ~bit);
          store<u32>(CLAIMED + (w << 2), load<u32>(CLAIMED + (w << 2)) | bit);
          update();
        }
        v = id;
      }
    }
  }
  unlock();
  return <u64>v;
}

export function plicStore(off: u32, size: u32, val: u64): void {
  if (size != 4) return;
  const v = <u32>val;
  // an enable word or a threshold concerns its own context only (Linux
  // writes ~100 enable words for each of the 2 x harts contexts at boot)
  let only: i32 = -1;
  lock();
  if (off < 0x1000) {
    const id = off >> 2;
    if (id > 0 && id < PLIC_SOURCES) store<u32>(PRIO + (id << 2), v & 7);
  } else if (off >= 0x2000 && off < 0x200000) {
    const c = (off - 0x2000) >> 7, w = ((off - 0x2000) & 0x7f) >> 2;
    if (c < NHARTS * 2 && w < WORDS) { store<u32>(ctxBase(c) + (w << 2), w == 0 ? v & ~1 : v); only = <i32>c; }
  } else if (off >= 0x200000) {
    const c = (off - 0x200000) >> 12, r = off & 0xfff;
    if (c < NHARTS * 2) {
      if (r == 0) { store<u32>(ctxBase(c) + 16, v & 7); only = <i32>c; }
      else if (r == 4 && v > 0 && v < PLIC_SOURCES) { // complete
        const w = v >> 5, bit: u32 = 1 << (v & 31);
        store<u32>(CLAIMED + (w << 2), load<u32>(CLAIMED + (w << 2)) & ~bit);
        // a level-triggered line still high is pending again
        if ((load<u32>(LEVEL + (w << 2)) & bit) != 0) store<u32>(PEND + (w << 2), load<u32>(PEND + (w << 2)) | bit);
      }
    }
  }
  if (only >= 0) updateContext(<u32>only); else update();
  unlock();
}
