/**
 * The -gdb option's value (QEMU's spelling), apart from the server so that
 * parsing the command line does not load the gdb stub.
 */
import { WkvmError } from '../errors.js';

export interface GdbEndpoint { host?: string; port: number }

/** Parse QEMU's `-gdb` device: `tcp::PORT`, `tcp:HOST:PORT` (or `none`: undefined). */
export function parseGdbSpec(spec: string): GdbEndpoint | undefined {
  if (spec === 'none') return undefined;
  const m = /^tcp:(\[[0-9a-fA-F:.]+\]|[^:,]*):(\d{1,5})$/.exec(spec);
  if (!m) throw new WkvmError(`-gdb ${spec}: expected tcp::PORT or tcp:HOST:PORT`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new WkvmError(`-gdb ${spec}: port ${m[2]} is not 1 to 65535`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  return host === '' ? { port } : { host, port };
}
