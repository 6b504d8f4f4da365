/**
 * The package as a user gets it: `npm pack`, the tarball installed into a
 * fresh project, `import { VirtualMachine } from 'wkvm'` (ESM) booting the
 * demo guest at 2 vCPUs, its `wkvm` command doing the same, and the types checked by tsc as a TypeScript
 * consumer would.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCmd, type RunResult } from './helpers.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project: string;
/** The environment without the npm_* variables of the `npm test` this runs under (they would point npm at our project). */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
let install: RunResult;

const tail = (r: RunResult) => `status ${r.code}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wkvm-pack-'));
  // `npm test` has built dist/ and build/ already: pack what is there
  const pack = await runCmd(NPM, ['pack', '--ignore-scripts', '--pack-destination', dir], { timeoutMs: 120_000, env: cleanEnv, cwd: ROOT });
  expect(pack.code, tail(pack)).toBe(0);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  project = join(dir, 'consumer');
  await runCmd('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  install = await runCmd(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball!)],
    { timeoutMs: 300_000, env: cleanEnv, cwd: project });
}, 600_000);

describe('the packed package', () => {
  it('installs from the tarball', () => {
    expect(install.code, tail(install)).toBe(0);
  });

  it("boots the demo guest at 2 vCPUs through import { VirtualMachine } from 'wkvm'", async () => {
    writeFileSync(join(project, 'boot.mjs'), `
import { VirtualMachine, WkvmError } from 'wkvm';
const vm = await VirtualMachine.create({ smp: 2 });
let out = '';
vm.serial.on('data', (b) => { out += b.toString('latin1'); });
vm.start();
const status = await vm.exited;
console.log(JSON.stringify({ status, out, harts: vm.harts, wkvmError: typeof WkvmError }));
`);
    const r = await runCmd(process.execPath, ['boot.mjs'], { cwd: project, timeoutMs: 60_000 });
    expect(r.code, tail(r)).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.status).toBe(0);
    expect(result.harts).toBe(2);
    expect(result.wkvmError).toBe('function');
    expect(result.out).toMatch(/hart 0/);
    expect(result.out).toMatch(/hart 1/);
  });

  it('runs the demo guest at 2 vCPUs through its wkvm command (the CLI in one file, its files found from there)', async () => {
    const r = await runCmd(join(project, 'node_modules', '.bin', 'wkvm'), ['run', '-smp', '2'], { cwd: project, timeoutMs: 60_000 });
    expect(r.code, tail(r)).toBe(0);
    expect(r.stdout).toMatch(/hart 0/);
    expect(r.stdout).toMatch(/hart 1/);
    const bad = await runCmd(join(project, 'node_modules', '.bin', 'wkvm'), ['run', '-m', 'lots'], { cwd: project, timeoutMs: 30_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^wkvm: [^\n]*memory size[^\n]*$/);
  });

  it("loads its pool threads' file with require() alone: no ES module instantiated synchronously, which aborted Node when the process exited meanwhile", async () => {
    // with require(esm) turned off, an ES module here would throw ERR_REQUIRE_ESM
    writeFileSync(join(project, 'thread-file.mjs'), `
import { createRequire } from 'node:module';
import { join } from 'node:path';
const dist = join(process.cwd(), 'node_modules', 'wkvm', 'dist');
const { POOL_THREAD_FILE } = await import(join(dist, 'pool.js'));
const m = createRequire(import.meta.url)(POOL_THREAD_FILE);
console.log(JSON.stringify({ inPackage: POOL_THREAD_FILE.startsWith(dist), exports: [typeof m.default, typeof m.signalThread, typeof m.prefaultPages] }));
`);
    const r = await runCmd(process.execPath, ['--no-experimental-require-module', 'thread-file.mjs'], { cwd: project, timeoutMs: 30_000 });
    expect(r.code, tail(r)).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ inPackage: true, exports: ['function', 'function', 'function'] });
  });

  it('type-checks for a TypeScript consumer, and the internals are not public', async () => {
    writeFileSync(join(project, 'use.ts'), `
import { VirtualMachine, type VmOptions, type VmEvents } from 'wkvm';
const opts: VmOptions = { smp: 2, memory: '64M' };
export async function run(): Promise<number> {
  const vm = await VirtualMachine.create(opts);
  vm.on('output', (b: Buffer) => { b.length; });
  vm.on('reset', () => {});
  const first: VmEvents['warning'][0] = new Error('x');
  void first;
  vm.start();
  return vm.exited;
}
`);
    writeFileSync(join(project, 'bad.ts'), `
import { VirtualMachine } from 'wkvm';
export async function peek(): Promise<unknown> {
  const vm = await VirtualMachine.create();
  vm.on('no-such-event', () => {});
  return vm.mem;
}
`);
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const common = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node'];
    const good = await runCmd(process.execPath, [tsc, ...common, 'use.ts'], { cwd: project, timeoutMs: 120_000 });
    expect(good.code, tail(good)).toBe(0);
    const bad = await runCmd(process.execPath, [tsc, ...common, 'bad.ts'], { cwd: project, timeoutMs: 120_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/'mem' is private/);
    expect(bad.stdout).toMatch(/bad.ts\(5,\d+\): error/); // the unknown event's listener
  });
});
