/**
 * Options of `wkvm run`, in wkvm's own spelling (`--smp 4`) and in QEMU's
 * (`-smp 4`, `-machine virt`, `-dumpdtb f`), parsed with commander.
 *
 * Single-dash long names are rewritten to double-dash before commander sees
 * them; every problem becomes a one-line `WkvmError`; nothing here prints or
 * exits.
 */

import { parseQmpSpec, type QmpListen } from '../qmp/spec.js';
import { Command, CommanderError } from 'commander';
import { WkvmError } from '../errors.js';
import { formatSize, parseSize } from '../machine/size.js';
import type { DriveOptions } from '../machine/devices.js';
import { BLOCK_CACHE_MODES, type BlockCacheMode } from '../devices/virtio/index.js';
import { parseNetdev, parseNic, type NetdevSpec } from '../netdev/index.js';
import { parseChardev, type ChardevSpec } from '../chardev/chardev.js';
import { parseGdbSpec, type GdbEndpoint } from '../gdb/spec.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
import * as BOARD from '../../assembly/board.js';

export interface RunOptions {
  machine: 'virt';
  /** Guest RAM in bytes. */
  memory: bigint;
  smp: number;
  bios: 'default' | 'none' | { file: string };
  kernel?: string;
  initrd?: string;
  append?: string;
  dumpDtb?: string;
  noReboot: boolean;
  /** Disks, in the order the guest sees them (vda, vdb, ...). */
  drives: DriveOptions[];
  /** NICs, in the order the guest sees them (eth0, ...). */
  nics: { netdev: NetdevSpec; mac?: string }[];
  rng: boolean;
  /** The chardev of a virtio console (hvc0). */
  console?: ChardevSpec;
  /** Every drive in snapshot mode. */
  snapshot: boolean;
  /** -S: start with the vCPUs paused (QMP's cont, or a debugger's continue, starts them). */
  paused: boolean;
  /** -name */
  name?: string;
  /** QMP monitors to listen on (-qmp, and -mon on a -chardev socket). */
  qmp: QmpListen[];
  /** --stats FILE[,interval=MS] */
  stats?: { file: string; intervalMs: number };
  /** -incoming file:PATH: the snapshot to resume */
  incoming?: string;
  /** -gdb / -s: where the gdb stub listens (no host: every interface, as QEMU). */
  gdb?: GdbEndpoint;
  /** The JIT tier on or off (unset: the environment's WKVM_JIT, else on). */
  jit?: 'on' | 'off';
  /** Block entries before translation (unset: WKVM_JIT_THRESHOLD, else the default). */
  jitThreshold?: number;
}

export interface RunLimits {
  /** Largest `-m` accepted; default 3 GiB. */
  maxMemory?: bigint;
  /** Largest `--smp` accepted; default 128. */
  maxSmp?: number;
}

export const DEFAULT_MEMORY = 128n << 20n;
export const DEFAULT_MAX_MEMORY = 3n << 30n;
export const DEFAULT_MAX_SMP: number = BOARD.MAX_HARTS;

/** Long option names and whether each takes a value. */
const LONG_OPTIONS: ReadonlyMap<string, boolean> = new Map([
  ['machine', true],
  ['memory', true],
  ['smp', true],
  ['bios', true],
  ['kernel', true],
  ['initrd', true],
  ['append', true],
  ['nographic', false],
  ['no-reboot', false],
  ['dump-dtb', true],
  ['drive', true],
  ['device', true],
  ['netdev', true],
  ['nic', true],
  ['chardev', true],
  ['snapshot', false],
  ['jit', true],
  ['jit-threshold', true],
  ['start-paused', false],
  ['name', true],
  ['qmp', true],
  ['mon', true],
  ['stats', true],
  ['incoming', true],
  ['gdb', true],
]);
/** QEMU spellings that differ from wkvm's. */
const ALIASES: ReadonlyMap<string, string> = new Map([['dumpdtb', 'dump-dtb']]);
const SHORT_OPTIONS: ReadonlyMap<string, boolean> = new Map([
  ['M', true],
  ['m', true],
  ['S', false],
  ['s', false],
]);

function buildRunCommand(): Command {
  return new Command('wkvm run')
    .description('run a RISC-V guest on the virt board (QEMU spellings such as -smp 4, -kernel, -bios none also work)')
    .option('-M, --machine <name>', "board: only 'virt' (QEMU's -machine)", 'virt')
    .option('-m, --memory <size>', 'guest RAM: 128M, 1G, 512 (MiB)', '128M')
    .option('--smp <n>', 'number of vCPUs (QEMU forms: 4, cpus=4, 4,sockets=1)', '1')
    .option('--bios <none|default|FILE>', 'firmware: default (built-in SBI), none (M-mode), or a file such as fw_jump.bin', 'default')
    .option('--kernel <file>', 'ELF, Linux Image or raw binary to boot')
    .option('--initrd <file>', 'initial RAM disk')
    .option('--append <cmdline>', 'kernel command line')
    .option('--nographic', 'accepted for QEMU compatibility (wkvm has no display)')
    .option('--no-reboot', 'exit instead of rebooting when the guest resets')
    .option('--dump-dtb <file>', "write the board's device tree blob to a file and exit")
    .option('--drive <spec>', 'a disk: file=IMG,format=raw,if=virtio|none[,id=ID][,readonly=on][,cache=writeback|none|unsafe][,snapshot=on]', collect, [])
    .option('--device <spec>', 'virtio-blk-device,drive=ID | virtio-net-device,netdev=ID[,mac=M] | virtio-rng-device | virtconsole,chardev=ID', collect, [])
    .option('--netdev <spec>', 'user,id=ID[,hostfwd=tcp::HOSTPORT-:GUESTPORT] (passt) | stream,id=ID,server=on|off,addr.type=unix|inet,... | socket,id=ID,listen=[HOST]:PORT|connect=HOST:PORT', collect, [])
    .option('--nic <spec>', 'a NIC and its netdev in one: user[,hostfwd=...][,mac=M] (or none)', collect, [])
    .option('--chardev <spec>', 'socket,id=ID,path=SOCK,server=on,wait=off | socket,id=ID,host=H,port=N[,server=on] | file,id=ID,path=F | null,id=ID', collect, [])
    .option('--snapshot', "keep every disk's writes in memory, leaving the images untouched")
    .option('-S, --start-paused', "start with the vCPUs paused until a monitor's 'cont' (QEMU's -S)")
    .option('--name <name>', "the VM's name (QMP's query-name): NAME or guest=NAME")
    .option('--qmp <spec>', 'a QMP monitor: unix:PATH,server=on,wait=off | tcp:HOST:PORT,server=on,wait=off', collect, [])
    .option('--mon <spec>', 'a monitor on a -chardev socket: chardev=ID,mode=control (QMP)', collect, [])
    .option('--incoming <uri>', 'resume a saved VM: file:PATH (a snapshot from QMP migrate; give the same machine options)')
    .option('--stats <file>', 'write the vCPU and device counters to FILE as a JSON line per interval: FILE[,interval=MS] (default 1000)')
    .option('--gdb <dev>', "a gdb stub: tcp::PORT or tcp:HOST:PORT (gdb-multiarch -ex 'target remote :PORT'; see docs/gdb.md)")
    .option('-s', 'shorthand for -gdb tcp::1234')
    .option('--jit <on|off>', 'translate hot guest code to WebAssembly (default on; environment WKVM_JIT)')
    .option('--jit-threshold <n>', 'entries of a block before it is translated (default 16384 times the vCPUs per host core, rounded up; environment WKVM_JIT_THRESHOLD)')
    .helpOption(false)
    .allowExcessArguments(false)
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
}

/** Usage text of `wkvm run` (parseRunArgs has no --help of its own: see isHelpRequest). */
export function runHelp(): string {
  return buildRunCommand().helpOption(true).helpInformation() + RUN_HELP_FOOTER;
}

const RUN_HELP_FOOTER = `
Console:
  The guest's serial console is stdin/stdout. On a terminal it is in raw
  mode and Ctrl-A is the escape key: Ctrl-A X quits, Ctrl-A H lists the
  escapes, Ctrl-A Ctrl-A sends a Ctrl-A.

Exit status:
  The guest's: 0 for the test device's pass (0x5555) and an SBI shutdown,
  the code of a test-device fail ((code << 16) | 0x3333) or of HTIF tohost;
  128+N when ended by signal N (SIGHUP 129, SIGINT 130, SIGTERM 143);
  1 for an error before the guest runs, with a one-line message.
  A supervisor should signal wkvm itself (node_modules/.bin/wkvm, or exec
  it): signalling an 'npx' process leaves wkvm running.
`;

/** True when argv asks for help (-h, --help, -help), which parseRunArgs would reject. */
export function isHelpRequest(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help' || a === '-help');
}

/**
 * Rewrites QEMU's single-dash long options to commander's double-dash form,
 * leaving option values alone, and rejects unknown options with the user's
 * own spelling.
 */
function normalise(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      const extra = argv[i + 1];
      if (extra !== undefined) throw new WkvmError(`unexpected argument '${extra}'`);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') throw new WkvmError(`unexpected argument '${arg}'`);
    const long = /^--?([^=]+)(=.*)?$/.exec(arg);
    let takesValue: boolean | undefined;
    let inlineValue = false;
    if (arg.length === 2) {
      takesValue = SHORT_OPTIONS.get(arg[1]!);
      out.push(arg);
    } else if (long) {
      const name = ALIASES.get(long[1]!) ?? long[1]!;
      takesValue = LONG_OPTIONS.get(name);
      inlineValue = long[2] !== undefined;
      if (takesValue === false && inlineValue) throw new WkvmError(`option '${arg.split('=')[0]}' takes no value`);
      out.push(`--${name}${long[2] ?? ''}`);
    }
    if (takesValue === undefined) throw new WkvmError(`unknown option '${arg}'`);
    if (takesValue && !inlineValue) {
      if (i + 1 >= argv.length) throw new WkvmError(`option '${arg}' needs a value`);
      out.push(argv[++i]!);
    }
  }
  return out;
}

/** Splits "a,b=c" into a positional head and key=value properties. */
function splitProps(value: string, option: string, allowed: readonly string[]): { head?: string; props: Map<string, string> } {
  const props = new Map<string, string>();
  let head: string | undefined;
  value.split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i !== 0) throw new WkvmError(`${option}: invalid '${value}' (expected key=value after the first comma)`);
      head = part;
      return;
    }
    const key = part.slice(0, eq);
    if (!allowed.includes(key)) {
      throw new WkvmError(`${option}: property '${key}' is not supported (supported: ${allowed.join(', ')})`);
    }
    if (props.has(key)) throw new WkvmError(`${option}: property '${key}' given twice`);
    props.set(key, part.slice(eq + 1));
  });
  return { head, props };
}

function parseMachine(value: string): { dumpDtb?: string } {
  const { head, props } = splitProps(value, '--machine', ['type', 'dumpdtb']);
  const type = props.get('type');
  if (head !== undefined && type !== undefined) throw new WkvmError(`--machine: machine given twice in '${value}'`);
  const name = head ?? type;
  if (name === undefined || name === '') throw new WkvmError(`--machine: no machine name in '${value}'`);
  if (name !== 'virt') throw new WkvmError(`--machine: unsupported machine '${name}' (wkvm has only 'virt')`);
  const dumpDtb = props.get('dumpdtb');
  if (dumpDtb === '') throw new WkvmError('--machine: dumpdtb needs a file name');
  return dumpDtb === undefined ? {} : { dumpDtb };
}

function parseMemory(value: string, maxMemory: bigint): bigint {
  const { head, props } = splitProps(value, '--memory', ['size']);
  const sizeProp = props.get('size');
  if (head !== undefined && sizeProp !== undefined) throw new WkvmError(`--memory: size given twice in '${value}'`);
  const text = head ?? sizeProp;
  if (text === undefined) throw new WkvmError(`invalid memory size '${value}'`);
  const bytes = parseSize(text, 'memory size');
  if (bytes > maxMemory) {
    throw new WkvmError(`--memory: ${text} (${formatSize(bytes)}) exceeds the maximum of ${formatSize(maxMemory)}`);
  }
  return bytes;
}

function parseCount(text: string, what: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new WkvmError(`--smp: invalid ${what} '${text}'`);
  const n = Number(text);
  if (n === 0) throw new WkvmError(`--smp: ${what} must be at least 1`);
  return n;
}

function parseSmp(value: string, maxSmp: number): number {
  const { head, props } = splitProps(value, '--smp', ['cpus', 'sockets', 'cores', 'threads', 'maxcpus']);
  if (head !== undefined && props.has('cpus')) throw new WkvmError(`--smp: cpus given twice in '${value}'`);
  const get = (key: string): number | undefined => {
    const v = props.get(key);
    return v === undefined ? undefined : parseCount(v, key);
  };
  let cpus = head !== undefined ? parseCount(head, 'CPU count') : get('cpus');
  const sockets = get('sockets');
  const cores = get('cores');
  const threads = get('threads');
  const maxcpus = get('maxcpus');
  if (sockets !== undefined && sockets !== 1) {
    throw new WkvmError(`--smp: sockets=${sockets} is not supported (the virt board has one socket)`);
  }
  const topology = cores !== undefined || threads !== undefined ? (cores ?? 1) * (threads ?? 1) : undefined;
  if (cpus === undefined) cpus = topology ?? maxcpus;
  if (cpus === undefined) throw new WkvmError(`--smp: no CPU count in '${value}'`);
  if (topology !== undefined && topology !== cpus) {
    throw new WkvmError(`--smp: cores*threads is ${topology}, not ${cpus}`);
  }
  if (maxcpus !== undefined && maxcpus !== cpus) {
    throw new WkvmError(`--smp: maxcpus=${maxcpus} differs from ${cpus}; CPU hot-plug is not supported`);
  }
  if (cpus > maxSmp) throw new WkvmError(`--smp: ${cpus} CPUs exceeds the maximum of ${maxSmp}`);
  return cpus;
}

function nonEmpty(value: string | undefined, option: string): string | undefined {
  if (value === '') throw new WkvmError(`${option}: empty file name`);
  return value;
}

interface RawOptions {
  machine: string;
  memory: string;
  smp: string;
  bios: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  nographic?: boolean;
  reboot: boolean;
  dumpDtb?: string;
  drive: string[];
  device: string[];
  netdev: string[];
  nic: string[];
  chardev: string[];
  snapshot?: boolean;
  startPaused?: boolean;
  name?: string;
  qmp: string[];
  mon: string[];
  stats?: string;
  incoming?: string;
  gdb?: string;
  s?: boolean;
  jit?: string;
  jitThreshold?: string;
}

/**
 * Parses the arguments of `wkvm run` (argv without "wkvm run"). Accepts
 * wkvm's and QEMU's spellings; the last occurrence of an option wins, as
 * in QEMU. Throws `WkvmError` for every problem.
 */
export function parseRunArgs(argv: readonly string[], limits: RunLimits = {}): RunOptions {
  const maxMemory = limits.maxMemory ?? DEFAULT_MAX_MEMORY;
  const maxSmp = limits.maxSmp ?? DEFAULT_MAX_SMP;
  const cmd = buildRunCommand();
  try {
    cmd.parse(normalise(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Not expected after normalise(), but keep commander's words to one line.
      const line = err.message.replace(/^error: /, '').split('\n')[0]!.replace(/\.$/, '');
      throw new WkvmError(line);
    }
    throw err;
  }
  const raw = cmd.opts<RawOptions>();

  const machine = parseMachine(raw.machine);
  const bios = nonEmpty(raw.bios, '--bios')!;
  const kernel = nonEmpty(raw.kernel, '--kernel');
  const initrd = nonEmpty(raw.initrd, '--initrd');
  const dumpDtb = nonEmpty(raw.dumpDtb, '--dump-dtb') ?? machine.dumpDtb;
  if (initrd !== undefined && kernel === undefined) throw new WkvmError('--initrd needs --kernel');
  if (raw.append !== undefined && kernel === undefined) throw new WkvmError('--append needs --kernel');

  const options: RunOptions = {
    machine: 'virt',
    memory: parseMemory(raw.memory, maxMemory),
    smp: parseSmp(raw.smp, maxSmp),
    bios: bios === 'none' || bios === 'default' ? bios : { file: bios },
    noReboot: raw.reboot === false,
    drives: [],
    nics: [],
    rng: false,
    snapshot: raw.snapshot === true,
    paused: raw.startPaused === true,
    qmp: raw.qmp.map(parseQmpSpec),
  };
  if (raw.name !== undefined) options.name = parseName(raw.name);
  if (raw.stats !== undefined) options.stats = parseStats(raw.stats);
  if (raw.incoming !== undefined) {
    if (!raw.incoming.startsWith('file:') || raw.incoming.length === 5) {
      throw new WkvmError(`-incoming: unsupported '${raw.incoming}' (wkvm resumes from file:PATH)`);
    }
    options.incoming = raw.incoming.slice(5);
  }
  parseDevices(raw, options);
  // -gdb wins over -s (QEMU would open both; one stub is enough)
  const gdb = raw.gdb !== undefined ? parseGdbSpec(raw.gdb) : raw.s ? { port: 1234 } : undefined;
  if (gdb) options.gdb = gdb;
  if (kernel !== undefined) options.kernel = kernel;
  if (initrd !== undefined) options.initrd = initrd;
  if (raw.append !== undefined) options.append = raw.append;
  if (dumpDtb !== undefined) options.dumpDtb = dumpDtb;
  if (raw.jit !== undefined) {
    if (raw.jit !== 'on' && raw.jit !== 'off') throw new WkvmError(`--jit ${raw.jit}: expected on or off`);
    options.jit = raw.jit;
  }
  if (raw.jitThreshold !== undefined) {
    if (!/^\d+$/.test(raw.jitThreshold) || Number(raw.jitThreshold) < 1 || Number(raw.jitThreshold) > 1e9) {
      throw new WkvmError(`--jit-threshold ${raw.jitThreshold}: expected a whole number from 1 to 1000000000`);
    }
    options.jitThreshold = Number(raw.jitThreshold);
  }
  return options;
}

/** --stats FILE[,interval=MS] */
function parseStats(value: string): { file: string; intervalMs: number } {
  const { head, props } = splitProps(value, '--stats', ['interval']);
  if (!head) throw new WkvmError('--stats: needs a file name (--stats FILE[,interval=MS])');
  const text = props.get('interval') ?? '1000';
  const intervalMs = Number(text);
  if (!/^\d+$/.test(text) || intervalMs < 10 || intervalMs > 3_600_000) {
    throw new WkvmError(`--stats: interval=${text}: must be a whole number of milliseconds from 10 to 3600000`);
  }
  return { file: head, intervalMs };
}

/** -name NAME or -name guest=NAME (QEMU's form). */
function parseName(value: string): string {
  const { head, props } = splitProps(value, '-name', ['guest']);
  const name = props.get('guest') ?? head;
  if (head !== undefined && props.has('guest')) throw new WkvmError(`-name: name given twice in '${value}'`);
  if (!name) throw new WkvmError('-name: needs a name');
  return name;
}

function onOff(option: string, key: string, value: string): boolean {
  if (value === 'on' || value === 'true' || value === 'yes') return true;
  if (value === 'off' || value === 'false' || value === 'no') return false;
  throw new WkvmError(`${option}: ${key}=${value}: expected on or off`);
}

/** -drive, -device, -netdev, -nic and -chardev, as QEMU spells them, into the devices of the VM. */
function parseDevices(raw: RawOptions, options: RunOptions): void {
  const drives = new Map<string, { drive: DriveOptions; used: boolean }>();
  for (const text of raw.drive) {
    const { head, props } = splitProps(text, '-drive', ['file', 'format', 'if', 'id', 'readonly', 'cache', 'snapshot', 'serial', 'media']);
    if (head !== undefined) throw new WkvmError(`-drive: invalid '${head}' (expected key=value, e.g. file=disk.img,format=raw,if=virtio)`);
    const file = props.get('file');
    if (!file) throw new WkvmError(`-drive: needs file=IMAGE`);
    const format = props.get('format') ?? 'raw';
    if (format !== 'raw') throw new WkvmError(`-drive: format=${format} is not supported: wkvm takes raw images (convert with qemu-img convert -O raw)`);
    const media = props.get('media') ?? 'disk';
    if (media !== 'disk') throw new WkvmError(`-drive: media=${media} is not supported (only disk)`);
    const cache = props.get('cache') ?? 'writeback';
    if (!(BLOCK_CACHE_MODES as readonly string[]).includes(cache)) {
      throw new WkvmError(`-drive: cache=${cache} is not supported (supported: ${BLOCK_CACHE_MODES.join(', ')})`);
    }
    const drive: DriveOptions = {
      file,
      readonly: onOff('-drive', 'readonly', props.get('readonly') ?? 'off'),
      snapshot: onOff('-drive', 'snapshot', props.get('snapshot') ?? 'off'),
      cache: cache as BlockCacheMode,
    };
    const serial = props.get('serial');
    if (serial !== undefined) drive.serial = serial;
    const id = props.get('id');
    if (id) drive.id = id;
    const iface = props.get('if') ?? 'virtio';
    if (iface === 'virtio') {
      options.drives.push(drive);
      continue;
    }
    if (iface !== 'none') throw new WkvmError(`-drive: if=${iface} is not supported on the virt board (use if=virtio, or if=none with -device virtio-blk-device)`);
    if (!id) throw new WkvmError(`-drive: if=none needs id=ID (for -device virtio-blk-device,drive=ID)`);
    if (drives.has(id)) throw new WkvmError(`-drive: id '${id}' is used twice`);
    drives.set(id, { drive, used: false });
  }

  const netdevs = new Map<string, { spec: NetdevSpec; used: boolean }>();
  for (const text of raw.netdev) {
    const spec = parseNetdev(text);
    if (netdevs.has(spec.id)) throw new WkvmError(`-netdev: id '${spec.id}' is used twice`);
    netdevs.set(spec.id, { spec, used: false });
  }
  const chardevs = new Map<string, ChardevSpec>();
  for (const text of raw.chardev) {
    const spec = parseChardev(text);
    if (chardevs.has(spec.id)) throw new WkvmError(`-chardev: id '${spec.id}' is used twice`);
    chardevs.set(spec.id, spec);
  }

  for (const text of raw.device) {
    const [driver, ...rest] = text.split(',');
    const props = (keys: string[]) => splitProps(rest.join(','), `-device ${driver}`, keys).props;
    switch (driver) {
      case 'virtio-blk-device': {
        const p = props(['drive', 'serial']);
        const id = p.get('drive');
        if (!id) throw new WkvmError('-device virtio-blk-device: needs drive=ID');
        const d = drives.get(id);
        if (!d) throw new WkvmError(`-device virtio-blk-device: no -drive with id=${id} (and if=none)`);
        if (d.used) throw new WkvmError(`-device virtio-blk-device: drive ${id} is already in use`);
        d.used = true;
        const serial = p.get('serial');
        options.drives.push(serial !== undefined ? { ...d.drive, serial } : d.drive);
        break;
      }
      case 'virtio-net-device': {
        const p = props(['netdev', 'mac']);
        const id = p.get('netdev');
        if (!id) throw new WkvmError('-device virtio-net-device: needs netdev=ID');
        const n = netdevs.get(id);
        if (!n) throw new WkvmError(`-device virtio-net-device: no -netdev with id=${id}`);
        if (n.used) throw new WkvmError(`-device virtio-net-device: netdev ${id} is already in use`);
        n.used = true;
        const mac = p.get('mac');
        options.nics.push(mac !== undefined ? { netdev: n.spec, mac } : { netdev: n.spec });
        break;
      }
      case 'virtio-rng-device':
        props([]);
        if (options.rng) throw new WkvmError('-device virtio-rng-device: given twice');
        options.rng = true;
        break;
      case 'virtio-serial-device':
        props([]); // the bus the virtconsole sits on: implied
        break;
      case 'virtconsole': {
        const p = props(['chardev', 'name', 'id']);
        const id = p.get('chardev');
        if (!id) throw new WkvmError('-device virtconsole: needs chardev=ID');
        const c = chardevs.get(id);
        if (!c) throw new WkvmError(`-device virtconsole: no -chardev with id=${id}`);
        if (options.console) throw new WkvmError('-device virtconsole: only one virtio console is supported');
        if (raw.mon.some((m) => m.split(',').includes(`chardev=${id}`))) throw new WkvmError(`-device virtconsole: chardev ${id} is already in use by -mon`);
        options.console = c;
        break;
      }
      default:
        throw new WkvmError(`-device: '${driver}' is not supported (supported: virtio-blk-device, virtio-net-device, virtio-rng-device, virtio-serial-device, virtconsole)`);
    }
  }
  // -mon chardev=ID,mode=control: QMP on a -chardev socket (a server)
  const monitors = new Set<string>();
  for (const text of raw.mon) {
    const { head, props } = splitProps(text, '-mon', ['chardev', 'mode', 'pretty']);
    if (head !== undefined) throw new WkvmError(`-mon: invalid '${head}' (expected chardev=ID,mode=control)`);
    const mode = props.get('mode') ?? 'readline';
    if (mode !== 'control') throw new WkvmError(`-mon: mode=${mode} (the human monitor) is not supported: use mode=control (QMP)`);
    const id = props.get('chardev');
    if (!id) throw new WkvmError('-mon: needs chardev=ID');
    const c = chardevs.get(id);
    if (!c) throw new WkvmError(`-mon: no -chardev with id=${id}`);
    if (c.backend !== 'socket' || !c.server) throw new WkvmError(`-mon: chardev ${id} must be a listening socket (socket,...,server=on,wait=off)`);
    if (monitors.has(id) || options.console === c) throw new WkvmError(`-mon: chardev ${id} is already in use`);
    monitors.add(id);
    options.qmp.push(c.path !== undefined ? { transport: 'unix', path: c.path } : { transport: 'tcp', host: c.host ?? '0.0.0.0', port: c.port ?? 0 });
  }
  raw.nic.forEach((text, i) => {
    const nic = parseNic(text, `nic${i}`);
    if (!nic) return; // -nic none
    if (nic.model !== undefined && nic.model !== 'virtio' && nic.model !== 'virtio-net-device') {
      throw new WkvmError(`-nic: model=${nic.model} is not supported (the virt board's NIC is virtio-net-device)`);
    }
    options.nics.push(nic.mac !== undefined ? { netdev: nic.netdev, mac: nic.mac } : { netdev: nic.netdev });
  });
}
