/**
 * The `wkvm` command: a thin layer over VirtualMachine. Headless: the guest's
 * serial console is stdin/stdout (raw mode on a TTY, Ctrl-A X quits, Ctrl-A H
 * helps, as QEMU's -nographic). The exit status is the guest's.
 */
import { StatsFile } from './stats-file.js';
import type { QmpServer } from '../qmp/server.js';
import { WKVM_VERSION } from '../version.js';
import { writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { WkvmError, describeFsError } from '../errors.js';
import { VirtualMachine, type VmOptions } from '../vm.js';
import * as LAYOUT from '../../assembly/layout.js';
import { prewarmPool } from '../workers/pool.js';
import { maxRamSize } from '../accel/memory.js';
import { isHelpRequest, parseRunArgs, runHelp } from './options.js';
import { Duplex } from 'node:stream';
import { openChardev, type Chardev } from '../chardev/chardev.js';

const USAGE = `usage: wkvm run [options]     boot a guest (see 'wkvm run --help')
       wkvm --version
With no kernel, 'wkvm run' boots the embedded demo guest.`;

const CTRL_A = 0x01;
const ESCAPE_HELP = 'C-a h    print this help\r\nC-a x    exit emulator\r\nC-a C-a  send C-a\r\n';

/**
 * The CLI. `earlySignals`: signals that arrived while the modules were
 * loading (bin/wkvm.js catches them from its first line; their default
 * action would end wkvm without its clean-up and exit status).
 */
export async function main(argv: string[], earlySignals: readonly NodeJS.Signals[] = []): Promise<void> {
  try {
    process.exitCode = await dispatch(argv, earlySignals);
  } catch (e) {
    const msg = e instanceof WkvmError ? e.message : `internal error: ${(e as Error)?.message ?? e}`;
    const code = e instanceof WkvmError ? e.exitCode : 70;
    process.exitCode = code;
    // exit once the line is out: a thread the pool started for a VM that never ran must not keep the
    // process waiting (an early thread of this kind hung 'wkvm run -kernel EMPTY' once in CI, under load)
    process.stderr.write(`wkvm: ${msg}\n`, () => process.exit(code));
  }
}

async function dispatch(argv: string[], earlySignals: readonly NodeJS.Signals[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`wkvm ${WKVM_VERSION}\n`);
    return 0;
  }
  if (cmd === 'run') return runCommand(rest, earlySignals);
  throw new WkvmError(`unknown command '${cmd}' (try 'wkvm run')`);
}

async function runCommand(argv: string[], earlySignals: readonly NodeJS.Signals[]): Promise<number> {
  if (isHelpRequest(argv)) {
    process.stdout.write(runHelp());
    return 0;
  }
  const signals = new SignalWatch();
  for (const sig of earlySignals) signals.replay(sig);
  const opts = parseRunArgs(argv, { maxMemory: maxRamSize(LAYOUT, 1) });
  // the boot hart's thread (~60 ms to come up here) starts while the vCPU module compiles and the machine is built
  prewarmPool();
  // -chardev stdio: the virtio console takes stdin, and prints on stdout beside the serial console
  const onStdio = opts.console?.backend === 'stdio';
  const chardev = opts.console === undefined ? undefined
    : opts.console.backend === 'stdio' ? stdioPort() : openChardev(opts.console);
  if (chardev) {
    try { await chardev.ready; } catch (e) { chardev.stream.destroy(); throw e; }
  }
  let vm: VirtualMachine;
  try {
    const create = opts.incoming !== undefined
      ? (o: VmOptions) => VirtualMachine.restore(opts.incoming!, { ...o, paused: opts.paused })
      : (o: VmOptions) => VirtualMachine.create(o);
    vm = await create({
      memory: opts.memory, smp: opts.smp, bios: opts.bios, kernel: opts.kernel,
      initrd: opts.initrd, append: opts.append, noReboot: opts.noReboot,
      drives: opts.drives, nics: opts.nics, rng: opts.rng, snapshot: opts.snapshot,
      jit: opts.jit, jitThreshold: opts.jitThreshold, name: opts.name,
      ...(chardev ? { console: chardev.stream } : {}),
    });
  } catch (e) {
    chardev?.stream.destroy();
    throw e;
  }
  vm.on('warning', (e) => process.stderr.write(`wkvm: warning: ${e.message}\n`));
  void vm.exited.finally(() => chardev?.stream.destroy());
  if (opts.dumpDtb) {
    try {
      writeFileSync(opts.dumpDtb, vm.fdt);
    } catch (e) {
      throw new WkvmError(`cannot write '${opts.dumpDtb}': ${describeFsError(e)}`);
    } finally {
      await vm.stop(); // the devices (a passt, sockets) end with it, error or not
    }
    return 0;
  }
  if (opts.gdb) {
    try {
      // the gdb stub and QMP load only when asked for (~10 ms of imports each at every start otherwise)
      const { GdbServer } = await import('../gdb/server.js');
      const gdb = await GdbServer.listen({ debug: vm.debug, get runState() { return vm.runState; }, kill: () => { void vm.stop(0); } }, opts.gdb);
      void vm.exited.finally(() => gdb.close()).catch(() => {});
    } catch (e) {
      await vm.stop();
      throw e;
    }
  }
  if (signals.received !== undefined) { // a signal while the VM was being built: end before it runs
    await vm.stop();
    return signals.received;
  }
  let stats: StatsFile | undefined;
  try {
    if (opts.stats) stats = new StatsFile(vm, opts.stats.file, opts.stats.intervalMs);
  } catch (e) {
    await vm.stop();
    throw e;
  }
  let qmp: QmpServer | undefined;
  if (opts.qmp.length > 0) {
    try {
      const { QmpServer } = await import('../qmp/server.js');
      qmp = await QmpServer.listen(vm, opts.qmp);
    } catch (e) {
      stats?.close();
      await vm.stop();
      throw e;
    }
  }
  let status: number;
  try {
    status = await attachConsole(vm, signals, opts.paused, opts.incoming !== undefined, onStdio ? chardev?.stream : undefined);
  } finally {
    stats?.close();
    await qmp?.close(); // the last replies and the SHUTDOWN event go out first
  }
  // stopped by a signal: output a reader has not taken by now is not waited for
  if (signals.received !== undefined) process.exit(status);
  // the VM has stopped and closed its devices: exit once stdout is out, not once every pool thread has
  // ended (the signal thread of a short run may still be coming up: ~100 ms of its exit here)
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(status);
}

/** The virtio console's end of stdio: what the guest writes goes to stdout (with its backpressure), stdin is pushed in. */
function stdioPort(): Chardev {
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      if (process.stdout.write(chunk)) cb(); else process.stdout.once('drain', () => cb());
    },
  });
  return { stream, ready: Promise.resolve() };
}

/**
 * SIGINT, SIGTERM and SIGHUP from the moment `wkvm run` starts: the first
 * one stops the VM (or, while it is still being built, keeps it from
 * running); a second one, or one after the VM has stopped while output
 * still drains, ends the process at once. The status is the shell's
 * convention, 128 + the signal number (SIGHUP 129, SIGINT 130, SIGTERM 143).
 */
class SignalWatch {
  received: number | undefined;
  /** Called on the first signal once the VM runs; unset before and after. */
  onStop: ((code: number) => void) | undefined;
  /** Restores the terminal before an immediate exit. */
  beforeExit: (() => void) | undefined;
  /** The VM has stopped (output may still be draining). */
  done = false;

  constructor() {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, this.handle);
  }

  /** A signal that came before this watch existed. */
  replay(sig: NodeJS.Signals): void { this.handle(sig); }

  private readonly handle = (sig: NodeJS.Signals): void => {
    const code = 128 + (osConstants.signals[sig] ?? 15);
    if (this.received !== undefined || this.done) {
      this.beforeExit?.();
      process.exit(code);
    }
    this.received = code;
    this.onStop?.(code);
  };
}

/** Connect stdin/stdout to the guest's serial console and run until the guest exits. */
async function attachConsole(vm: VirtualMachine, signals: SignalWatch, paused: boolean, started: boolean, stdinPort?: Duplex): Promise<number> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  // pipe() keeps backpressure: a reader that does not drain stdout stalls the guest's console, not our memory
  vm.serial.pipe(process.stdout, { end: false });
  // stdout closed early (e.g. piped into head): stop the guest quietly
  process.stdout.on('error', () => { void vm.stop(0); });
  let escape = false;
  // what is typed goes to the serial console, or to the virtio console on -chardev stdio
  const send = (data: Buffer): void => { if (stdinPort) stdinPort.push(data); else vm.serial.write(data); };
  const onInput = (data: Buffer): void => {
    if (!tty) { send(data); return; }
    const out: number[] = [];
    for (const c of data) {
      if (escape) {
        escape = false;
        if (c === 0x78 || c === 0x58) { void vm.stop(0); return; }        // x: quit
        if (c === 0x68 || c === 0x48) { process.stderr.write(ESCAPE_HELP); continue; } // h
        if (c === CTRL_A) { out.push(CTRL_A); continue; }
        continue;
      }
      if (c === CTRL_A) { escape = true; continue; }
      out.push(c);
    }
    if (out.length) send(Buffer.from(out));
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onInput);
  stdin.on('error', () => {});
  signals.beforeExit = () => { if (tty) stdin.setRawMode(false); };
  signals.onStop = (code) => { void vm.stop(code, 'host-signal'); };
  let status: number;
  try {
    if (!started) vm.start({ paused }); // a restored VM (-incoming) runs already
    status = await vm.exited;
  } finally {
    signals.done = true;
    signals.onStop = undefined;
    if (tty) stdin.setRawMode(false);
    stdin.off('data', onInput);
    stdin.pause();
    stdin.unref?.();
  }
  return status;
}
