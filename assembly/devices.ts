// The devices served inside the vCPU (the analog of KVM's in-kernel irqchip
// and coalesced MMIO): CLINT, PLIC, UART0 and the sifive_test device, plus
// the virtio queue-notify doorbell (KVM's ioeventfd). Everything else on the
// bus exits to the I/O loop (mmu.ts, inMmioTable). Addresses: board.ts.
import { clintLoad, clintStore } from "./clint";
import { plicLoad, plicStore } from "./plic";
import { uartLoad, uartStore } from "./uart";
import { testStore } from "./testdev";
import {
  CLINT_BASE, CLINT_SIZE, PLIC_BASE, PLIC_SIZE, UART0_BASE, UART0_SIZE, TEST_BASE, TEST_SIZE,
  VIRTIO_BASE, VIRTIO_SIZE, VIRTIO_SLOTS, VIRTIO_MMIO_QUEUE_NOTIFY,
} from "./board";
import { MACHINE_BASE, M_VIRTIO_DOORBELL, M_VIRTIO_NOTIFY } from "./layout";

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
 * A 32-bit store of queue index 0..31 to a virtio-mmio slot's QueueNotify
 * (a slot the host put in the MMIO table): set the queue's bit and ring the
 * I/O loop's doorbell instead of exiting, so the vCPU goes on at once.
 * Returns false for any other store (it exits as usual).
 */
export function virtioDoorbell(pa: u64, size: u32, v: u64): bool {
  const off = pa - <u64>VIRTIO_BASE;
  if (size != 4 || off >= <u64>(VIRTIO_SLOTS * VIRTIO_SIZE) || v >= 32) return false;
  if ((off & <u64>(VIRTIO_SIZE - 1)) != <u64>VIRTIO_MMIO_QUEUE_NOTIFY) return false;
  const slot = <u32>(off / <u64>VIRTIO_SIZE);
  atomic.or<u32>(MACHINE_BASE + M_VIRTIO_NOTIFY + (slot << 2), <u32>1 << <u32>v);
  atomic.add<i32>(MACHINE_BASE + M_VIRTIO_DOORBELL, 1);
  atomic.notify(MACHINE_BASE + M_VIRTIO_DOORBELL, 1);
  return true;
}
