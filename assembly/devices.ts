// The devices served inside the vCPU (the analog of KVM's in-kernel irqchip
// and coalesced MMIO): CLINT, PLIC, UART0 and the sifive_test device, plus
// the virtio queue-notify doorbell (KVM's ioeventfd) and each virtio slot's
// interrupt status and acknowledgement (an interrupt's two accesses, which
// would otherwise wait on a busy I/O loop). Everything else on the
// bus exits to the I/O loop (mmu.ts, inMmioTable). Addresses: board.ts.
import { clintLoad, clintStore } from "./clint";
import { plicLoad, plicStore, virtioInterrupt } from "./plic";
import { uartLoad, uartStore } from "./uart";
import { testStore } from "./testdev";
import {
  CLINT_BASE, CLINT_SIZE, PLIC_BASE, PLIC_SIZE, UART0_BASE, UART0_SIZE, TEST_BASE, TEST_SIZE,
  VIRTIO_BASE, VIRTIO_SIZE, VIRTIO_SLOTS, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_INTERRUPT_ACK,
} from "./board";
import { MACHINE_BASE, M_VIRTIO_DOORBELL, M_VIRTIO_NOTIFY, M_VIRTIO_OWNED, M_VIRTIO_ISR } from "./layout";

export function isDevice(pa: u64): bool {
  return pa - <u64>CLINT_BASE < <u64>CLINT_SIZE || pa - <u64>PLIC_BASE < <u64>PLIC_SIZE ||
    pa - <u64>UART0_BASE < <u64>UART0_SIZE || pa - <u64>TEST_BASE < <u64>TEST_SIZE;
}

export function deviceLoad(pa: u64, size: u32): u64 {
  if (pa - <u64>CLINT_BASE < <u64>CLINT_SIZE) return clintLoad(<u32>(pa - <u64>CLINT_BASE), size);
  if (pa - <u64>PLIC_BASE < <u64>PLIC_SIZE) return plicLoad(<u32>(pa - <u64>PLIC_BASE), size);
  if (pa - <u64>UART0_BASE < <u64>UART0_SIZE) return uartLoad(<u32>(pa - <u64>UART0_BASE), size);
  return 0; // sifive_test reads as zero
}

export function deviceStore(pa: u64, size: u32, v: u64): void {
  if (pa - <u64>CLINT_BASE < <u64>CLINT_SIZE) clintStore(<u32>(pa - <u64>CLINT_BASE), size, v);
  else if (pa - <u64>PLIC_BASE < <u64>PLIC_SIZE) plicStore(<u32>(pa - <u64>PLIC_BASE), size, v);
  else if (pa - <u64>UART0_BASE < <u64>UART0_SIZE) uartStore(<u32>(pa - <u64>UART0_BASE), size, v);
  else testStore(<u32>(pa - <u64>TEST_BASE), size, v);
}

/**
 * The virtio-mmio slot of a 32-bit access at `pa` to register `reg`, or -1:
 * the caller has checked that the slot is in the host's MMIO table (a device
 * is there).
 */
function virtioSlot(pa: u64, size: u32, reg: u32): i32 {
  const off = pa - <u64>VIRTIO_BASE;
  if (size != 4 || off >= <u64>(VIRTIO_SLOTS * VIRTIO_SIZE)) return -1;
  if ((off & <u64>(VIRTIO_SIZE - 1)) != <u64>reg) return -1;
  return <i32>(off / <u64>VIRTIO_SIZE);
}

/**
 * A virtio-mmio register load served here: InterruptStatus (what an
 * interrupt's handler reads first). -1 for any other (it exits as usual).
 */
export function virtioLoad(pa: u64, size: u32): i64 {
  const slot = virtioSlot(pa, size, VIRTIO_MMIO_INTERRUPT_STATUS);
  if (slot < 0) return -1;
  return <i64>atomic.load<u32>(MACHINE_BASE + M_VIRTIO_ISR + (<u32>slot << 2));
}

/**
 * A virtio-mmio register store served here, so the vCPU goes on at once:
 * QueueNotify of queue 0..31 sets the queue's bit and rings the I/O loop's
 * doorbell (KVM's ioeventfd); InterruptACK clears status bits, and the line
 * with the last of them. False for any other store (it exits as usual).
 */
export function virtioStore(pa: u64, size: u32, v: u64): bool {
  let slot = virtioSlot(pa, size, VIRTIO_MMIO_INTERRUPT_ACK);
  if (slot >= 0) {
    virtioInterrupt(<u32>slot, 0, <u32>v);
    return true;
  }
  slot = virtioSlot(pa, size, VIRTIO_MMIO_QUEUE_NOTIFY);
  if (slot < 0 || v >= 32) return false;
  const word = MACHINE_BASE + M_VIRTIO_NOTIFY + (<u32>slot << 2);
  atomic.or<u32>(word, <u32>1 << <u32>v);
  // a slot served on a thread of its own: that thread waits on the slot's word, and the I/O loop sleeps on
  if ((atomic.load<u32>(MACHINE_BASE + M_VIRTIO_OWNED) & (<u32>1 << <u32>slot)) != 0) {
    atomic.notify(word, 1);
    return true;
  }
  atomic.add<i32>(MACHINE_BASE + M_VIRTIO_DOORBELL, 1);
  atomic.notify(MACHINE_BASE + M_VIRTIO_DOORBELL, 1);
  return true;
}
