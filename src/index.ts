/** wkvm's public API: embed RISC-V virtual machines in Node.js. */
export { VirtualMachine, MAX_VCPUS, type VmOptions, type VcpuStats, type VmEvents } from './vm.js';
export { WkvmError } from './errors.js';
export { VIRT_MEMMAP, VIRT_ISA } from './machine/virt.js';
