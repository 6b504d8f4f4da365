// The `virt` board: the one description of its memory map, interrupt lines
// and limits (QEMU hw/riscv/virt.c's virt_memmap[] is the model). The vCPU's
// in-Wasm devices (devices.ts), the host's MMIO table and device manager
// (src/machine/devices.ts) and the device tree (src/machine/virt-fdt.ts) all
// derive from these numbers.
//
// This file is both AssemblyScript and TypeScript: plain numeric constants,
// typed with u32 (which the host's TypeScript declares as number), so the
// host imports it directly and a misspelt name is a compile error there too.

/** sifive_test: poweroff/reboot/fail (syscon). */
export const TEST_BASE: u32 = 0x0010_0000;
export const TEST_SIZE: u32 = 0x1000;
export const TEST_POWEROFF: u32 = 0x5555;   // `(code << 16) | TEST_FAIL` fails with code
export const TEST_FAIL: u32 = 0x3333;
export const TEST_REBOOT: u32 = 0x7777;
/** goldfish RTC (a main-thread device). */
export const RTC_BASE: u32 = 0x0010_1000;
export const RTC_SIZE: u32 = 0x1000;
export const RTC_IRQ: u32 = 11;
/** CLINT: msip at +0, mtimecmp at +0x4000, mtime at +0xbff8. */
export const CLINT_BASE: u32 = 0x0200_0000;
export const CLINT_SIZE: u32 = 0x1_0000;
/** PLIC: room for QEMU's maximum of 512 harts x 2 contexts (0x200000 + 1024 * 0x1000). */
export const PLIC_BASE: u32 = 0x0c00_0000;
export const PLIC_SIZE: u32 = 0x60_0000;
export const PLIC_CONTEXT_BASE: u32 = 0x20_0000;
export const PLIC_CONTEXT_STRIDE: u32 = 0x1000;
/** Highest PLIC source number (sources 1..95, as QEMU's 96 with the reserved source 0). */
export const PLIC_NDEV: u32 = 95;
/** ns16550a UART0. */
export const UART0_BASE: u32 = 0x1000_0000;
export const UART0_SIZE: u32 = 0x100;
export const UART0_IRQ: u32 = 10;
/** virtio-mmio slot i at VIRTIO_BASE + i * VIRTIO_SIZE raises PLIC source VIRTIO_IRQ_BASE + i. */
export const VIRTIO_BASE: u32 = 0x1000_1000;
export const VIRTIO_SIZE: u32 = 0x1000;
export const VIRTIO_SLOTS: u32 = 8;
export const VIRTIO_IRQ_BASE: u32 = 1;
/** virtio-mmio QueueNotify register: the vCPU rings a doorbell instead of exiting (ioeventfd). */
export const VIRTIO_MMIO_QUEUE_NOTIFY: u32 = 0x050;
/** virtio-mmio InterruptStatus and InterruptACK: served in Wasm too (an interrupt's handler reads one and writes the other). */
export const VIRTIO_MMIO_INTERRUPT_STATUS: u32 = 0x060;
export const VIRTIO_MMIO_INTERRUPT_ACK: u32 = 0x064;
/** Guest RAM starts here (`-m` bytes of it). */
export const DRAM_BASE: u32 = 0x8000_0000;
/** Most harts the board takes (the shared-memory layout has a block for each). */
export const MAX_HARTS: u32 = 128;
