/**
 * virtio-mmio transport (version 2). A slot without a backend answers like
 * QEMU's empty slots: the magic value, version 2, device id 0.
 */
import type { MmioDevice } from '../device.js';

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_MMIO_VENDOR = 0x554d4551; // "QEMU": what guests are used to

const MAGIC_VALUE = 0x000;
const VERSION = 0x004;
const DEVICE_ID = 0x008;
const VENDOR_ID = 0x00c;

export class VirtioMmioSlot implements MmioDevice {
  readonly name: string;
  constructor(readonly index: number) {
    this.name = `virtio-mmio.${index}`;
  }

  read(offset: number, size: number): number {
    if (size !== 4) return 0;
    switch (offset) {
      case MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
      case VERSION: return 2;
      case DEVICE_ID: return 0;
      case VENDOR_ID: return VIRTIO_MMIO_VENDOR;
      default: return 0;
    }
  }

  write(): void {
    // no device behind this slot: writes are ignored
  }
}
