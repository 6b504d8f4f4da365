/** Host-side network backends (QEMU's -netdev / -nic): see netdev.ts for the contract. */
export { type NetBackend, type NetStats, NetBackendBase, RX_QUEUE_LIMIT, copyFrame } from './netdev.js';
export { FrameParser, FramingError, MAX_FRAME_LEN, encodeFrame } from './framing.js';
export { StreamNetBackend, FramedStreamBackend, type StreamBackendOptions, type SocketAddress, formatAddress } from './stream.js';
export { UdpNetBackend, type UdpBackendOptions } from './udp.js';
export { UserNetBackend, type UserBackendOptions, type Hostfwd, parseHostfwd, passtCommandLine } from './user.js';
export { InprocessNetBackend } from './inprocess.js';
export {
  parseNetdev, parseNic, parseMac, createNetBackend, NETDEV_TYPES,
  type NetdevSpec, type NicSpec, type UserNetdevSpec, type StreamNetdevSpec, type SocketNetdevSpec,
  type InprocessNetdevSpec, type InetAddress, type CreateOptions,
} from './spec.js';
