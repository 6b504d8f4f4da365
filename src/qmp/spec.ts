/**
 * The -qmp option's value (QEMU's spelling), apart from the server so that
 * parsing the command line does not load the monitor.
 */
import { WkvmError } from '../errors.js';

/** Where a QMP server listens. */
export type QmpListen = { transport: 'unix'; path: string } | { transport: 'tcp'; host: string; port: number };

/**
 * Parse QEMU's -qmp value: `unix:PATH[,server=on][,wait=off]` or
 * `tcp:[HOST]:PORT[,server=on][,wait=off]` (also the old `server` and
 * `nowait` flags). wkvm's monitor is always a server that does not wait.
 */
export function parseQmpSpec(text: string): QmpListen {
  const [target = '', ...opts] = text.split(',');
  for (const o of opts) {
    const [k, v = 'on'] = o.split('=');
    if (k === 'server' && (v === 'on' || v === 'true' || v === 'yes')) continue;
    if (k === 'nowait' && v === 'on') continue;
    if (k === 'wait' && (v === 'off' || v === 'false' || v === 'no')) continue;
    if (k === 'server') throw new WkvmError(`-qmp: server=${v} is not supported: the monitor listens (server=on)`);
    if (k === 'wait') throw new WkvmError(`-qmp: wait=${v} is not supported: the VM starts without waiting for a client (wait=off)`);
    throw new WkvmError(`-qmp: option '${k}' is not supported (supported: server=on, wait=off)`);
  }
  if (target.startsWith('unix:')) {
    const path = target.slice(5);
    if (path === '') throw new WkvmError('-qmp unix: needs a socket path (unix:PATH)');
    return { transport: 'unix', path };
  }
  const tcp = /^tcp:(.*):(\d+)$/.exec(target);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port > 65535) throw new WkvmError(`-qmp: invalid port ${tcp[2]}`);
    const host = tcp[1]!.replace(/^\[(.*)\]$/, '$1');
    return { transport: 'tcp', host: host === '' ? '0.0.0.0' : host, port };
  }
  throw new WkvmError(`-qmp: unsupported '${target}' (use unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off)`);
}
