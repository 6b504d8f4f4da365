/** wkvm's public API: embed RISC-V virtual machines in Node.js. */
export {
  VirtualMachine, MAX_VCPUS, type VmOptions, type MachineOptions, type StartOptions, type RunState, type VcpuStats, type VmEvents,
  type ShutdownCause, type VcpuRegisters, type VcpuInfo, type BlockDeviceInfo, type DeviceStats, type ExitReason, EXIT_REASONS,
} from './vm.js';
export { QmpServer, type QmpServerOptions } from './qmp/server.js';
export { parseQmpSpec, type QmpListen } from './qmp/spec.js';
export { GuestConsole, type ExpectOptions } from './console.js';
export type { VmDebug, DebugRegister, DebugStop, ResumeActions, WatchKind } from './debug/types.js';
export { WkvmError } from './errors.js';
export { VIRT_MEMMAP, VIRT_ISA } from './machine/virt.js';
export type { DeviceOptions, DriveOptions, NicOptions } from './machine/devices.js';
export type { BlockCacheMode } from './devices/virtio/index.js';
// networks: QEMU's netdev option strings, and an in-process backend (Ethernet frames as Buffers)
export {
  InprocessNetBackend, parseNetdev, parseNic, createNetBackend,
  type NetBackend, type NetStats, type NetdevSpec, type NicSpec,
} from './netdev/index.js';
