/**
 * The QMP commands wkvm answers, each a thin call into the public
 * VirtualMachine API, with QEMU's argument checking and reply shapes
 * (qapi/*.json in QEMU is the reference for names and types).
 */
import { statSync } from 'node:fs';
import { EXIT_REASONS, type VirtualMachine, type VcpuStats, type DeviceStats } from '../vm.js';
import { WKVM_VERSION } from '../version.js';
import { humanMonitorCommand } from './hmp.js';

/** A QMP error: QEMU's error class and its one-line description. */
export class QmpError extends Error {
  constructor(readonly errorClass: 'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'KVMMissingCap', message: string) {
    super(message);
  }
}

type ArgType = 'str' | 'int' | 'bool' | 'array' | 'object';
interface Param { type: ArgType; optional?: boolean; values?: readonly string[] }

export interface QmpCommand {
  params: Readonly<Record<string, Param>>;
  run(vm: VirtualMachine, args: Record<string, unknown>, ctx: CommandContext): unknown;
}

export interface CommandContext {
  /** Called once the reply to `quit` is out: stop the VM. */
  quit(): void;
}

/** The QEMU version wkvm's QMP reports is its own, in QEMU's shape (tools read `package` to tell it apart). */
export function versionInfo(): { qemu: { major: number; minor: number; micro: number }; package: string } {
  const [major = 0, minor = 0, micro = 0] = WKVM_VERSION.split(/[.-]/).map((n) => Number.parseInt(n, 10) || 0);
  return { qemu: { major, minor, micro }, package: `wkvm ${WKVM_VERSION}` };
}

const qomPath = (hart: number): string => `/machine/soc0/harts[${hart}]`;

/** Bytes the image file takes on the host's disk (QEMU's actual-size). */
function allocatedBytes(file: string): number {
  try { return statSync(file).blocks * 512; } catch { return 0; }
}

/** wkvm's per-vCPU counters as QMP stats (query-stats-schemas describes them). */
const us = (ms: number): bigint => BigInt(Math.round(ms * 1000));
const VCPU_STATS: readonly { name: string; unit?: string; read: (s: VcpuStats) => bigint }[] = [
  { name: 'instructions', read: (s) => s.instructions },
  { name: 'exits', read: (s) => s.exits },
  ...EXIT_REASONS.map((r) => ({ name: `exits-${r}`, read: (s: VcpuStats) => s.exitsByReason[r] })),
  { name: 'interrupts', read: (s) => s.interrupts },
  { name: 'tlb-misses', read: (s) => s.tlbMisses },
  { name: 'decode-misses', read: (s) => s.decodeMisses },
  { name: 'time-running', unit: 'seconds', read: (s) => us(s.time.runningMs) },
  { name: 'time-halted', unit: 'seconds', read: (s) => us(s.time.haltedMs) },
  { name: 'time-spinning', unit: 'seconds', read: (s) => us(s.time.spinningMs) },
  { name: 'time-paused', unit: 'seconds', read: (s) => us(s.time.pausedMs) },
  { name: 'jit-instructions', read: (s) => s.jit.instructions },
  { name: 'jit-blocks', read: (s) => s.jit.blocks },
  { name: 'jit-modules', read: (s) => s.jit.modules },
  { name: 'jit-compile-time', unit: 'seconds', read: (s) => s.jit.compileUs },
  { name: 'jit-stall-time', unit: 'seconds', read: (s) => s.jit.stalledUs },
  { name: 'jit-flushes', read: (s) => s.jit.flushes },
  { name: 'jit-offloaded', read: (s) => s.jit.offloaded },
];
/** Device I/O counters as flat QMP stats: `blk.ID.reads`, `net.NETDEV.rx-bytes`, ... */
function deviceStatList(d: DeviceStats): { name: string; value: number }[] {
  const out: { name: string; value: number }[] = [];
  const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  for (const b of d.blocks) for (const [k, v] of Object.entries(b)) if (typeof v === 'number') out.push({ name: `blk.${b.id}.${kebab(k)}`, value: v });
  for (const n of d.nics) for (const [k, v] of Object.entries(n)) if (typeof v === 'number') out.push({ name: `net.${n.netdev}.${kebab(k)}`, value: v });
  return out;
}

/** The stats provider wkvm's accelerator answers as: it plays KVM's part (QEMU 7.2 knows no other). */
const PROVIDER = 'kvm';

export const COMMANDS: ReadonlyMap<string, QmpCommand> = new Map<string, QmpCommand>([
  ['qmp_capabilities', {
    params: { enable: { type: 'array', optional: true } },
    run: (_vm, args) => {
      for (const cap of (args.enable as unknown[] | undefined) ?? []) {
        throw new QmpError('GenericError', `Capability '${String(cap)}' not available`);
      }
      return {};
    },
  }],
  ['query-version', { params: {}, run: () => versionInfo() }],
  ['query-commands', { params: {}, run: () => [...COMMANDS.keys()].map((name) => ({ name })) }],
  ['query-target', { params: {}, run: () => ({ arch: 'riscv64' }) }],
  ['query-name', { params: {}, run: (vm) => (vm.name === undefined ? {} : { name: vm.name }) }],
  ['query-status', {
    params: {},
    run: (vm) => ({ status: vm.runState, singlestep: false, running: vm.running }),
  }],
  ['stop', { params: {}, run: async (vm) => { await vm.pause(); return {}; } }],
  ['cont', {
    params: {},
    run: (vm) => {
      if (vm.runState === 'shutdown' || vm.runState === 'internal-error') {
        throw new QmpError('GenericError', `VM is in state '${vm.runState}': it cannot continue`);
      }
      vm.resume();
      return {};
    },
  }],
  ['system_reset', { params: {}, run: async (vm) => { await vm.reset(); return {}; } }],
  ['quit', { params: {}, run: (_vm, _args, ctx) => { ctx.quit(); return {}; } }],
  ['query-cpus-fast', {
    params: {},
    run: (vm) => vm.cpus().map((c) => ({
      'thread-id': c.threadId, props: { 'core-id': c.hart }, 'qom-path': qomPath(c.hart), 'cpu-index': c.hart, target: 'riscv64',
    })),
  }],
  ['query-block', {
    params: {},
    run: (vm) => vm.blockDevices().map((d, i) => ({
      'io-status': 'ok', device: d.id, locked: false, removable: false, type: 'unknown',
      qdev: `/machine/peripheral-anon/device[${i}]`,
      inserted: {
        file: d.file, 'node-name': `#block${i}`, ro: d.readonly, drv: 'raw', encrypted: false, detect_zeroes: 'off',
        backing_file_depth: 0, write_threshold: 0, bps: 0, bps_rd: 0, bps_wr: 0, iops: 0, iops_rd: 0, iops_wr: 0,
        cache: { writeback: d.cache !== 'writethrough', direct: d.cache === 'none', 'no-flush': d.cache === 'unsafe' },
        image: { filename: d.file, format: 'raw', 'virtual-size': d.size, 'actual-size': allocatedBytes(d.file), 'dirty-flag': false },
      },
    })),
  }],
  ['query-stats', {
    params: { target: { type: 'str', values: ['vm', 'vcpu'] }, providers: { type: 'array', optional: true }, vcpus: { type: 'array', optional: true } },
    run: (vm, args) => {
      const providers = args.providers as { provider?: unknown; names?: unknown }[] | undefined;
      if (providers !== undefined && !providers.some((p) => p?.provider === PROVIDER)) return [];
      const names = providers?.find((p) => p?.provider === PROVIDER)?.names;
      const wanted = Array.isArray(names) ? new Set(names.map(String)) : undefined;
      if (args.target === 'vm') {
        const stats = deviceStatList(vm.deviceStats()).filter((d) => !wanted || wanted.has(d.name));
        return [{ provider: PROVIDER, stats }];
      }
      const vcpus = args.vcpus as unknown[] | undefined;
      return vm.stats()
        .filter((s) => vcpus === undefined || vcpus.includes(qomPath(s.hart)))
        .map((s) => ({
          provider: PROVIDER, 'qom-path': qomPath(s.hart),
          stats: VCPU_STATS.filter((d) => !wanted || wanted.has(d.name)).map((d) => ({
            name: d.name, value: Number(d.read(s)),
          })),
        }));
    },
  }],
  ['query-stats-schemas', {
    params: { provider: { type: 'str', optional: true } },
    run: (vm, args) => (args.provider !== undefined && args.provider !== PROVIDER ? [] : [{
      provider: PROVIDER, target: 'vcpu',
      stats: VCPU_STATS.map((d) => (d.unit === 'seconds'
        ? { name: d.name, type: 'cumulative', unit: 'seconds', base: 10, exponent: -6 }
        : { name: d.name, type: 'cumulative', base: 10, exponent: 0 })),
    }, {
      provider: PROVIDER, target: 'vm',
      stats: deviceStatList(vm.deviceStats()).map((d) => ({ name: d.name, type: 'cumulative', ...(d.name.endsWith('bytes') ? { unit: 'bytes' } : {}), base: 10, exponent: 0 })),
    }]),
  }],
  ['migrate', {
    params: { uri: { type: 'str' }, blk: { type: 'bool', optional: true }, inc: { type: 'bool', optional: true }, detach: { type: 'bool', optional: true }, resume: { type: 'bool', optional: true } },
    run: async (vm, args) => {
      const uri = args.uri as string;
      if (!uri.startsWith('file:') || uri.length === 5) {
        throw new QmpError('GenericError', `unsupported migration URI '${uri}': wkvm saves to file:PATH`);
      }
      // QEMU returns at once and migrates in the background; a save takes well under a second, so it is done here
      await vm.save(uri.slice(5)).catch(() => undefined); // the outcome is query-migrate's
      return {};
    },
  }],
  ['query-migrate', {
    params: {},
    run: (vm) => {
      const s = vm.lastSnapshot;
      if (!s) return {};
      return s.status === 'completed'
        ? { status: 'completed', 'total-time': Math.round(s.ms ?? 0), ram: { transferred: s.bytes ?? 0, total: Number(vm.memorySize) } }
        : { status: 'failed', 'error-desc': s.error ?? 'unknown error' };
    },
  }],
  ['human-monitor-command', {
    params: { 'command-line': { type: 'str' }, 'cpu-index': { type: 'int', optional: true } },
    run: (vm, args) => humanMonitorCommand(vm, args['command-line'] as string, args['cpu-index'] as number | undefined),
  }],
]);

const TYPE_NAMES: Record<ArgType, string> = { str: 'string', int: 'integer', bool: 'boolean', array: 'array', object: 'object' };

function hasType(v: unknown, t: ArgType): boolean {
  switch (t) {
    case 'str': return typeof v === 'string';
    case 'int': return typeof v === 'number' && Number.isInteger(v);
    case 'bool': return typeof v === 'boolean';
    case 'array': return Array.isArray(v);
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** Check `args` against a command's parameters with QEMU's messages. */
export function checkArguments(cmd: QmpCommand, args: Record<string, unknown>): void {
  for (const key of Object.keys(args)) {
    if (!(key in cmd.params)) throw new QmpError('GenericError', `Parameter '${key}' is unexpected`);
  }
  for (const [key, p] of Object.entries(cmd.params)) {
    const v = args[key];
    if (v === undefined) {
      if (!p.optional) throw new QmpError('GenericError', `Parameter '${key}' is missing`);
      continue;
    }
    if (!hasType(v, p.type)) throw new QmpError('GenericError', `Invalid parameter type for '${key}', expected: ${TYPE_NAMES[p.type]}`);
    if (p.values && !p.values.includes(v as string)) throw new QmpError('GenericError', `Parameter '${key}' does not accept value '${String(v)}'`);
  }
}
