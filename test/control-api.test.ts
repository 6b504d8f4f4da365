/**
 * The Node API as the control plane: run states and their events, pause
 * that waits for the vCPUs, start paused, AbortSignal, async disposal, the
 * scriptable console, and the guest's failure reports. The guest is
 * guests/console (a line shell on the serial console, S-mode on the
 * built-in SBI).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { GuestConsole, VirtualMachine, WkvmError, type RunState } from '../dist/src/index.js';
import { ROOT } from './helpers.js';

const CONSOLE_ELF = join(ROOT, 'guests', 'console', 'console.elf');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function consoleVm(smp = 1): Promise<VirtualMachine> {
  return VirtualMachine.create({ kernel: CONSOLE_ELF, smp, memory: '64M' });
}
const instructions = (vm: VirtualMachine): bigint => vm.stats().reduce((n, s) => n + s.instructions, 0n);

describe('run states', () => {
  it('go prelaunch -> running -> paused -> running -> shutdown, each with a stateChange event', async () => {
    const vm = await consoleVm();
    const seen: [RunState, RunState][] = [];
    vm.on('stateChange', (s, prev) => seen.push([s, prev]));
    const exits: number[] = [];
    vm.on('exit', (code) => exits.push(code));
    expect(vm.runState).toBe('prelaunch');
    expect(vm.running).toBe(false);
    const con = vm.console;
    vm.start();
    expect(vm.runState).toBe('running');
    expect(vm.running).toBe(true);
    await con.expect('> ');
    await vm.pause();
    expect(vm.runState).toBe('paused');
    expect(vm.running).toBe(false);
    vm.resume();
    expect(vm.runState).toBe('running');
    con.sendLine('poweroff');
    expect(await vm.exited).toBe(0);
    expect(vm.runState).toBe('shutdown');
    expect(seen).toEqual([['running', 'prelaunch'], ['paused', 'running'], ['running', 'paused'], ['shutdown', 'running']]);
    expect(exits).toEqual([0]);
  });

  it('pause() resolves once every vCPU has stopped: a spinning guest retires nothing while paused', async () => {
    const vm = await consoleVm(4); // the other harts stay stopped (SBI HSM): they must park too
    const con = vm.console;
    vm.start();
    await con.expect('> ');
    con.sendLine('spin');
    await sleep(100);
    await vm.pause();
    const a = instructions(vm);
    await sleep(200);
    expect(instructions(vm)).toBe(a);
    vm.resume();
    await sleep(100);
    expect(instructions(vm)).toBeGreaterThan(a);
    con.sendLine('');
    await con.expect('spun');
    await vm.stop();
  });

  it('start({ paused: true }) stays in prelaunch with nothing run until resume()', async () => {
    const vm = await consoleVm();
    const con = vm.console;
    vm.start({ paused: true });
    expect(vm.runState).toBe('prelaunch');
    await sleep(200);
    expect(con.buffered).toBe('');
    expect(instructions(vm)).toBe(0n);
    vm.resume();
    expect(vm.runState).toBe('running');
    await con.expect('console ready');
    await vm.stop();
    expect(vm.runState).toBe('shutdown');
  });

  it('pause() and resume() outside their states change nothing', async () => {
    const vm = await consoleVm();
    await vm.pause();
    vm.resume();
    expect(vm.runState).toBe('prelaunch');
    await vm.stop();
    expect(vm.runState).toBe('shutdown');
    await vm.pause();
    vm.resume();
    expect(vm.runState).toBe('shutdown');
    expect(() => vm.start()).toThrow(/cannot start a VM that is shutdown/);
  });

  it('a guest reboot emits reset and stays running; a pause across it holds', async () => {
    const vm = await consoleVm();
    const con = vm.console;
    let resets = 0;
    vm.on('reset', () => resets++);
    vm.start();
    await con.expect('> ');
    con.sendLine('reboot');
    await con.expect('console ready');
    expect(resets).toBe(1);
    expect(vm.runState).toBe('running');
    await con.expect('> ');
    await vm.stop();
  });
});

describe('guest failure reports', () => {
  it('an SBI shutdown with reason "system failure" emits guestPanicked and exits with status 1', async () => {
    const vm = await consoleVm();
    const panics: unknown[] = [];
    vm.on('guestPanicked', (info) => panics.push(info));
    vm.start();
    await vm.console.expect('> ');
    vm.console.sendLine('fail');
    expect(await vm.exited).toBe(1);
    expect(panics).toEqual([{ source: 'sbi', action: 'poweroff' }]);
  });

  it('an SBI reboot with reason "system failure" emits guestPanicked, then reset; a plain poweroff emits neither', async () => {
    const vm = await consoleVm();
    const events: string[] = [];
    vm.on('guestPanicked', () => events.push('panicked'));
    vm.on('reset', () => events.push('reset'));
    vm.start();
    await vm.console.expect('> ');
    vm.console.sendLine('failreset');
    await vm.console.expect('console ready');
    await vm.console.expect('> ');
    vm.console.sendLine('poweroff');
    expect(await vm.exited).toBe(0);
    expect(events).toEqual(['panicked', 'reset']);
  });
});

describe('the console', () => {
  it('expect() consumes up to its match; sendLine() types a line', async () => {
    const vm = await consoleVm();
    const con = vm.console;
    vm.start();
    const m = await con.expect(/console ready \(boot (\d+)\)/);
    expect(m[1]).toBe('1');
    await con.expect('> ');
    con.sendLine('echo one');
    con.sendLine('echo two');
    await con.expect('\none\n'); // the guest's answer, not its echo of 'echo one'
    // the first match was consumed: 'one' is not found again, 'two' is next
    const two = await con.expect(/(one|two)\n/);
    expect(two[1]).toBe('two');
    await vm.stop();
  });

  it('expect() rejects on timeout, on abort, and when the VM stops first, with one-line messages', async () => {
    const vm = await consoleVm();
    const con = vm.console;
    vm.start();
    await con.expect('> ');
    const t0 = Date.now();
    await expect(con.expect('never printed', { timeout: 200 })).rejects.toThrow(/^timed out after 200 ms waiting for \/never printed\/ on the console; last output: /);
    expect(Date.now() - t0).toBeLessThan(2000);
    const ac = new AbortController();
    const waiting = con.expect('never printed', { timeout: Infinity, signal: ac.signal });
    ac.abort(new Error('test over'));
    await expect(waiting).rejects.toThrow('test over');
    await expect(con.expect('x', { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
    await expect(con.expect('x', { timeout: -1 })).rejects.toBeInstanceOf(WkvmError);
    const pending = con.expect('never printed', { timeout: Infinity });
    con.sendLine('poweroff');
    await expect(pending).rejects.toThrow(/^console closed \(the VM stopped\) before \/never printed\/ appeared/);
    expect(() => con.sendLine('late')).toThrow(WkvmError);
  });

  it('keeps at most 1 MiB of unconsumed output (a guest that prints without end must not fill the host)', async () => {
    const port = new PassThrough();
    const con = new GuestConsole(port);
    const chunk = 'y'.repeat(64 * 1024);
    for (let i = 0; i < 48; i++) port.write(chunk); // 3 MiB
    port.write('the end\n');
    await expect(con.expect('the end')).resolves.toBeDefined();
    expect(con.buffered).toBe('\n');
    for (let i = 0; i < 48; i++) port.write(chunk);
    await sleep(10);
    expect(con.buffered.length).toBe(1 << 20);
  });

  it('decodes UTF-8 split across chunks', async () => {
    const port = new PassThrough();
    const con = new GuestConsole(port);
    const bytes = Buffer.from('grüß dich\n', 'utf8');
    port.write(bytes.subarray(0, 3)); // 'gr' and half of 'ü'
    port.write(bytes.subarray(3));
    await expect(con.expect('grüß dich')).resolves.toBeDefined();
  });
});

describe('AbortSignal and disposal', () => {
  it('create() with an aborted signal rejects with its reason', async () => {
    const reason = new Error('no longer needed');
    await expect(VirtualMachine.create({ kernel: CONSOLE_ELF, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('aborting start()\'s signal stops the VM', async () => {
    const vm = await consoleVm();
    const ac = new AbortController();
    vm.start({ signal: ac.signal });
    await vm.console.expect('> ');
    ac.abort();
    expect(await vm.exited).toBe(0);
    expect(vm.runState).toBe('shutdown');
  });

  it('start() with an aborted signal throws and leaves the VM in prelaunch', async () => {
    const vm = await consoleVm();
    expect(() => vm.start({ signal: AbortSignal.abort(new Error('stop')) })).toThrow('stop');
    expect(vm.runState).toBe('prelaunch');
    await vm.stop();
  });

  it('Symbol.asyncDispose stops the VM (await using)', async () => {
    const vm = await consoleVm();
    vm.start();
    await vm.console.expect('> ');
    await vm[Symbol.asyncDispose]();
    expect(vm.runState).toBe('shutdown');
    await vm[Symbol.asyncDispose](); // twice is harmless
  });
});
