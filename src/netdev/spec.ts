/**
 * QEMU's `-netdev` and `-nic` option strings, and the backend for a spec:
 *
 *   user,id=n0[,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,ipv4=on|off][,ipv6=on|off]
 *   stream,id=n0,server=on|off,addr.type=unix,addr.path=PATH[,addr.abstract=on][,reconnect=SECONDS]
 *   stream,id=n0,server=on|off,addr.type=inet,addr.host=HOST,addr.port=PORT[,reconnect=SECONDS]
 *   socket,id=n0,listen=[HOST]:PORT | connect=HOST:PORT | udp=HOST:PORT,localaddr=HOST:PORT
 *   -nic user[,...netdev options][,mac=52:54:00:12:34:56][,model=virtio-net-device]   (id optional)
 *
 * As in QEMU, `,,` stands for a comma inside a value. Every error is a
 * one-line WkvmError.
 */
import { isIP } from 'node:net';
import { WkvmError } from '../errors.js';
import { InprocessNetBackend } from './inprocess.js';
import type { NetBackend } from './netdev.js';
import { StreamNetBackend, type SocketAddress } from './stream.js';
import { UdpNetBackend } from './udp.js';
import { UserNetBackend, parseHostfwd, type Hostfwd } from './user.js';

export interface InetAddress { host: string; port: number }

export interface UserNetdevSpec { type: 'user'; id: string; hostfwd: Hostfwd[]; ipv4?: boolean; ipv6?: boolean }
export interface StreamNetdevSpec { type: 'stream'; id: string; server: boolean; addr: SocketAddress; reconnect?: number }
export interface SocketNetdevSpec {
  type: 'socket';
  id: string;
  listen?: InetAddress;
  connect?: InetAddress;
  udp?: InetAddress;
  localaddr?: InetAddress;
}
/** For embedders only (no option string): frames through inject() / 'frame'. */
export interface InprocessNetdevSpec { type: 'inprocess'; id: string }

export type NetdevSpec = UserNetdevSpec | StreamNetdevSpec | SocketNetdevSpec | InprocessNetdevSpec;

export interface NicSpec {
  netdev: NetdevSpec;
  /** Lower-case aa:bb:cc:dd:ee:ff, if given. */
  mac?: string;
  model?: string;
}

export const NETDEV_TYPES = ['user', 'stream', 'socket'] as const;

/** QEMU -netdev types wkvm does not have, for a better message than "unknown". */
const OTHER_QEMU_TYPES = new Set(['tap', 'bridge', 'l2tpv3', 'vde', 'netmap', 'vhost-user', 'vhost-vdpa', 'hubport', 'dgram', 'af-xdp', 'vmnet-host', 'vmnet-shared', 'vmnet-bridged']);

/** Options of QEMU's slirp `-netdev user` that passt has no equivalent for. */
const SLIRP_ONLY = new Set(['net', 'host', 'restrict', 'hostname', 'dhcpstart', 'dns', 'dnssearch', 'domainname', 'tftp', 'tftp-server-name', 'bootfile', 'smb', 'smbserver', 'guestfwd', 'ipv6-net', 'ipv6-host', 'ipv6-dns', 'ipv6-prefix', 'ipv6-prefixlen', 'vlan', 'name']);

const KNOWN: Record<(typeof NETDEV_TYPES)[number], readonly string[]> = {
  user: ['id', 'hostfwd', 'ipv4', 'ipv6'],
  stream: ['id', 'server', 'addr.type', 'addr.path', 'addr.abstract', 'addr.tight', 'addr.host', 'addr.port', 'reconnect'],
  socket: ['id', 'listen', 'connect', 'udp', 'localaddr'],
};
/** Options that may be given more than once. */
const REPEATABLE = new Set(['hostfwd']);

interface Opt { key: string; value: string }

/** Split QEMU's `a,b=c,d=e,,f` into [type?] and key=value pairs (`,,` is a comma). */
function splitOptions(spec: string, what: string): { type: string | undefined; opts: Opt[] } {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (c === ',') {
      if (spec[i + 1] === ',') { cur += ','; i++; continue; }
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  let type: string | undefined;
  const opts: Opt[] = [];
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (i === 0 && p !== '') { type = p; return; }
      throw new WkvmError(p === '' ? `${what}: empty option in '${spec}'` : `${what}: option '${p}' needs a value (${p}=...)`);
    }
    const key = p.slice(0, eq);
    if (key === 'type' && i === 0) { type = p.slice(eq + 1); return; }
    opts.push({ key, value: p.slice(eq + 1) });
  });
  return { type, opts };
}

function parseBool(v: string, key: string, what: string): boolean {
  switch (v) {
    case 'on': case 'yes': case 'true': return true;
    case 'off': case 'no': case 'false': return false;
    default: throw new WkvmError(`${what}: ${key}=${v}: expected on or off`);
  }
}

function parsePortNumber(v: string, key: string, what: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535 || (!allowZero && Number(v) === 0)) {
    throw new WkvmError(`${what}: ${key}=${v}: expected a port number (${allowZero ? 0 : 1}-65535)`);
  }
  return Number(v);
}

/** `[HOST]:PORT`, HOST an IPv6 address in brackets if it has colons. */
function parseInet(v: string, key: string, what: string, listen: boolean): InetAddress {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d*)$/.exec(v);
  if (!m) throw new WkvmError(`${what}: ${key}=${v}: expected ${listen ? '[HOST]' : 'HOST'}:PORT`);
  const host = m[1] ?? m[2];
  if (m[1] !== undefined && isIP(host) !== 6) throw new WkvmError(`${what}: ${key}=${v}: '${host}' is not an IPv6 address`);
  const port = m[3];
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535 || (!listen && Number(port) === 0)) {
    throw new WkvmError(`${what}: ${key}=${v}: expected a port number (${listen ? 0 : 1}-65535)`);
  }
  return { host, port: Number(port) };
}

function checkId(id: string, what: string): void {
  if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(id)) {
    throw new WkvmError(`${what}: invalid id '${id}' (a letter, then letters, digits, '-', '.', '_')`);
  }
}

function parseWith(spec: string, what: string, type: string | undefined, opts: Opt[], defaultId?: string): NetdevSpec {
  if (type === undefined) throw new WkvmError(`${what} '${spec}': no type (expected ${NETDEV_TYPES.join(', ')}, e.g. user,id=net0)`);
  if (!(NETDEV_TYPES as readonly string[]).includes(type)) {
    if (OTHER_QEMU_TYPES.has(type)) throw new WkvmError(`${what} ${type} is not supported (wkvm has ${NETDEV_TYPES.join(', ')})`);
    throw new WkvmError(`${what}: unknown type '${type}' (expected ${NETDEV_TYPES.join(', ')})`);
  }
  const t = type as (typeof NETDEV_TYPES)[number];
  const w = `${what} ${t}`;
  const known = KNOWN[t];
  const seen = new Map<string, string>();
  const hostfwd: Hostfwd[] = [];
  for (const { key, value } of opts) {
    if (!known.includes(key)) {
      if (t === 'user' && SLIRP_ONLY.has(key)) {
        throw new WkvmError(`${w}: option '${key}' is not supported (wkvm's user networking is passt; it has ${known.join(', ')})`);
      }
      throw new WkvmError(`${w}: unknown option '${key}' (known: ${known.join(', ')})`);
    }
    if (seen.has(key) && !REPEATABLE.has(key)) throw new WkvmError(`${w}: option '${key}' given twice`);
    seen.set(key, value);
    if (key === 'hostfwd') hostfwd.push(parseHostfwd(value));
  }
  const id = seen.get('id') ?? defaultId;
  if (id === undefined) throw new WkvmError(`${w} needs an id (e.g. ${t},id=net0,...)`);
  checkId(id, w);
  const bool = (k: string) => (seen.has(k) ? parseBool(seen.get(k)!, k, w) : undefined);

  switch (t) {
    case 'user': {
      const r: UserNetdevSpec = { type: 'user', id, hostfwd };
      const ipv4 = bool('ipv4');
      const ipv6 = bool('ipv6');
      if (ipv4 === false && ipv6 === false) throw new WkvmError(`${w}: ipv4=off and ipv6=off leave no network`);
      if (ipv4 !== undefined) r.ipv4 = ipv4;
      if (ipv6 !== undefined) r.ipv6 = ipv6;
      return r;
    }
    case 'stream': {
      const server = bool('server') ?? false;
      const at = seen.get('addr.type');
      if (at === undefined) throw new WkvmError(`${w}: needs addr.type=unix (with addr.path=) or addr.type=inet (with addr.host=, addr.port=)`);
      const only = (allowed: string[]) => {
        for (const k of seen.keys()) {
          if (k.startsWith('addr.') && k !== 'addr.type' && !allowed.includes(k)) {
            throw new WkvmError(`${w}: ${k} does not go with addr.type=${at}`);
          }
        }
      };
      let addr: SocketAddress;
      if (at === 'unix') {
        only(['addr.path', 'addr.abstract', 'addr.tight']);
        const path = seen.get('addr.path');
        if (!path) throw new WkvmError(`${w}: addr.type=unix needs addr.path=PATH`);
        if (bool('addr.tight') === false) throw new WkvmError(`${w}: addr.tight=off is not supported`);
        addr = { type: 'unix', path };
        if (bool('addr.abstract')) addr.abstract = true;
      } else if (at === 'inet') {
        only(['addr.host', 'addr.port']);
        const port = seen.get('addr.port');
        if (port === undefined) throw new WkvmError(`${w}: addr.type=inet needs addr.port=PORT`);
        const host = seen.get('addr.host') ?? '';
        if (host.startsWith('[') && host.endsWith(']')) throw new WkvmError(`${w}: addr.host=${host}: give an IPv6 address without brackets`);
        addr = { type: 'inet', host, port: parsePortNumber(port, 'addr.port', w, server) };
      } else if (at === 'fd') {
        throw new WkvmError(`${w}: addr.type=fd is not supported (use unix or inet)`);
      } else {
        throw new WkvmError(`${w}: addr.type=${at}: expected unix or inet`);
      }
      const r: StreamNetdevSpec = { type: 'stream', id, server, addr };
      const rc = seen.get('reconnect');
      if (rc !== undefined) {
        if (server) throw new WkvmError(`${w}: reconnect= is only for server=off`);
        if (!/^\d{1,9}$/.test(rc)) throw new WkvmError(`${w}: reconnect=${rc}: expected seconds`);
        if (Number(rc) > 0) r.reconnect = Number(rc);
      }
      return r;
    }
    case 'socket': {
      const modes = ['listen', 'connect', 'udp'].filter((k) => seen.has(k));
      if (modes.length !== 1) {
        throw new WkvmError(`${w}: needs exactly one of listen=[HOST]:PORT, connect=HOST:PORT, udp=HOST:PORT (mcast= and fd= are not supported)`);
      }
      const r: SocketNetdevSpec = { type: 'socket', id };
      const mode = modes[0];
      if (mode !== 'udp' && seen.has('localaddr')) throw new WkvmError(`${w}: localaddr= goes with udp= only`);
      if (mode === 'listen') r.listen = parseInet(seen.get('listen')!, 'listen', w, true);
      if (mode === 'connect') r.connect = parseInet(seen.get('connect')!, 'connect', w, false);
      if (mode === 'udp') {
        r.udp = parseInet(seen.get('udp')!, 'udp', w, false);
        const la = seen.get('localaddr');
        if (la === undefined) throw new WkvmError(`${w}: udp= needs localaddr=HOST:PORT`);
        r.localaddr = parseInet(la, 'localaddr', w, true);
      }
      return r;
    }
  }
}

/** A `-netdev` option string. */
export function parseNetdev(spec: string): NetdevSpec {
  const { type, opts } = splitOptions(spec, '-netdev');
  return parseWith(spec, '-netdev', type, opts);
}

/**
 * A `-nic` option string: a netdev (id optional: defaults to `defaultId`)
 * plus the device's `mac=` and `model=`. `-nic none` gives null.
 */
export function parseNic(spec: string, defaultId = 'nic0'): NicSpec | null {
  const { type, opts } = splitOptions(spec, '-nic');
  if (type === 'none' && opts.length === 0) return null;
  const rest: Opt[] = [];
  let mac: string | undefined;
  let model: string | undefined;
  for (const o of opts) {
    if (o.key === 'mac') {
      if (mac !== undefined) throw new WkvmError(`-nic: option 'mac' given twice`);
      mac = parseMac(o.value);
    } else if (o.key === 'model') {
      if (model !== undefined) throw new WkvmError(`-nic: option 'model' given twice`);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.value)) throw new WkvmError(`-nic: model=${o.value}: not a device model name`);
      model = o.value;
    } else {
      rest.push(o);
    }
  }
  const r: NicSpec = { netdev: parseWith(spec, '-nic', type, rest, defaultId) };
  if (mac !== undefined) r.mac = mac;
  if (model !== undefined) r.model = model;
  return r;
}

/** `52:54:00:12:34:56` (also with '-'), lower-cased; multicast addresses are refused. */
export function parseMac(s: string): string {
  if (!/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(s)) throw new WkvmError(`mac=${s}: expected six hex bytes, e.g. 52:54:00:12:34:56`);
  const mac = s.toLowerCase().replaceAll('-', ':');
  if (parseInt(mac.slice(0, 2), 16) & 1) throw new WkvmError(`mac=${s}: a multicast address cannot be a NIC's address`);
  return mac;
}

export interface CreateOptions {
  /** passt binary for `user` (default `passt` from PATH). */
  passt?: string;
  /** Environment for passt. */
  env?: NodeJS.ProcessEnv;
}

/** The backend for a spec; await its `ready` before starting the VM. */
export function createNetBackend(spec: NetdevSpec, opts: CreateOptions = {}): NetBackend {
  switch (spec.type) {
    case 'user': {
      const o: ConstructorParameters<typeof UserNetBackend>[0] = { id: spec.id, hostfwd: spec.hostfwd };
      if (spec.ipv4 !== undefined) o.ipv4 = spec.ipv4;
      if (spec.ipv6 !== undefined) o.ipv6 = spec.ipv6;
      if (opts.passt !== undefined) o.passt = opts.passt;
      if (opts.env !== undefined) o.env = opts.env;
      return new UserNetBackend(o);
    }
    case 'stream':
      return new StreamNetBackend({ id: spec.id, type: 'stream', server: spec.server, addr: spec.addr, reconnect: spec.reconnect ?? 0 });
    case 'socket':
      if (spec.udp) return new UdpNetBackend({ id: spec.id, remote: spec.udp, local: spec.localaddr ?? { host: '', port: 0 } });
      if (spec.listen) return new StreamNetBackend({ id: spec.id, type: 'socket', server: true, addr: { type: 'inet', ...spec.listen } });
      if (spec.connect) return new StreamNetBackend({ id: spec.id, type: 'socket', server: false, addr: { type: 'inet', ...spec.connect } });
      throw new WkvmError(`-netdev socket ${spec.id}: needs listen=, connect= or udp=`);
    case 'inprocess':
      return new InprocessNetBackend(spec.id);
  }
}
