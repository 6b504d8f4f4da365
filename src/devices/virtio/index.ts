/** The host-side virtio layer: the MMIO transport, the shared virtqueue, and the device backends. */
export {
  VirtioMmioTransport, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VENDOR, VirtioMmioReg, VirtioStatus,
  VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INT_CONFIG, TRANSPORT_FEATURES,
  type VirtioMmioState, type WarnFn,
} from './mmio.js';
export {
  type VirtioDevice, type VirtioContext, readConfigBytes,
  VIRTIO_F_VERSION_1, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
} from './device.js';
export { Virtqueue, VirtqueueError, DescriptorChain, type VirtqueueLayout, type VirtqueueFeatures } from './queue.js';
export { VirtioBlock, type BlockCacheMode, BLOCK_CACHE_MODES } from './blk/blk.js';
export { openBlockImage, type BlockImageOptions } from './blk/open.js';
export { VirtioRng } from './rng/rng.js';
export { VirtioConsole, type VirtioConsoleOptions } from './console/console.js';
export { VirtioNet, macBytes } from './net/net.js';
