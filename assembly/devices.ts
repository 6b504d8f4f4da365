// The devices served inside the vCPU (the analog of KVM's in-kernel irqchip
// and coalesced MMIO): CLINT, PLIC, UART0 and the sifive_test device.
// Everything else on the bus exits to the I/O loop (mmu.ts, inMmioTable).
import { clintLoad, clintStore } from "./clint";
import { plicLoad, plicStore } from "./plic";
import { uartLoad, uartStore } from "./uart";
import { testStore } from "./testdev";

export const CLINT_BASE: u64 = 0x0200_0000;
export const CLINT_SIZE: u64 = 0x1_0000;
export const PLIC_BASE: u64 = 0x0c00_0000;
export const PLIC_SIZE: u64 = 0x400_0000;
export const UART_BASE: u64 = 0x1000_0000;
export const UART_SIZE: u64 = 0x100;
export const TEST_BASE: u64 = 0x10_0000;
export const TEST_SIZE: u64 = 0x1000;

export function isDevice(pa: u64): bool {
  return pa - CLINT_BASE < CLINT_SIZE || pa - PLIC_BASE < PLIC_SIZE ||
    pa - UART_BASE < UART_SIZE || pa - TEST_BASE < TEST_SIZE;
}

export function deviceLoad(pa: u64, size: u32): u64 {
  if (pa - CLINT_BASE < CLINT_SIZE) return clintLoad(<u32>(pa - CLINT_BASE), size);
  if (pa - PLIC_BASE < PLIC_SIZE) return plicLoad(<u32>(pa - PLIC_BASE), size);
  if (pa - UART_BASE < UART_SIZE) return uartLoad(<u32>(pa - UART_BASE), size);
  return 0; // sifive_test reads as zero
}

export function deviceStore(pa: u64, size: u32, v: u64): void {
  if (pa - CLINT_BASE < CLINT_SIZE) clintStore(<u32>(pa - CLINT_BASE), size, v);
  else if (pa - PLIC_BASE < PLIC_SIZE) plicStore(<u32>(pa - PLIC_BASE), size, v);
  else if (pa - UART_BASE < UART_SIZE) uartStore(<u32>(pa - UART_BASE), size, v);
  else testStore(<u32>(pa - TEST_BASE), size, v);
}
