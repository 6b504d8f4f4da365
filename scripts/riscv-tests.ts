/**
 * Run the official riscv-tests suites (riscv-software-src/riscv-tests) under
 * `wkvm run -bios none -kernel ELF` and report each test's HTIF exit status.
 *
 * The suites are not in this repository (they are another project's code) and
 * neither Debian nor npm packages them; build them with the suite's own
 * Makefile (its isa/ directory, XLEN=64, RISCV_PREFIX=riscv64-unknown-elf-)
 * and point this at the directory holding the binaries:
 *
 *   npm run riscv-tests -- /path/to/riscv-tests/isa [--qemu]
 *
 * A test passes when the guest writes tohost = 1 (exit status 0); a failing
 * p-env test exits with its TESTNUM. With --qemu each test also runs on
 * `qemu-system-riscv64 -M spike` (the virt board has no HTIF) as a witness.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

/** The suites issue 3 asks for: RV64GC user level, supervisor and machine mode. */
export const SUITES = ['rv64ui', 'rv64um', 'rv64ua', 'rv64uc', 'rv64uf', 'rv64ud', 'rv64si', 'rv64mi'] as const;
const TEST_NAME = new RegExp(`^(${SUITES.join('|')})-(p|v)-([A-Za-z0-9_-]+)$`);

export interface TestBinary { path: string; name: string; suite: string; env: string }
export interface Outcome { status: number | null; timedOut: boolean }
export interface TestResult extends TestBinary { wkvm: Outcome; qemu?: Outcome }

// scripts/ in the source tree, dist/scripts/ once compiled: bin/ is at the project root either way
const HERE = fileURLToPath(new URL('.', import.meta.url));
const WKVM = join(HERE, HERE.includes(`${sep}dist${sep}`) ? '../..' : '..', 'bin', 'wkvm.js');

function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally { closeSync(fd); }
}

/** The test binaries in `dir` (or its isa/ subdirectory): files named like rv64ui-p-add that are ELF. */
export function findTests(dir: string): TestBinary[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const dirs = [dir, join(dir, 'isa')].filter((d) => existsSync(d) && statSync(d).isDirectory());
  const tests: TestBinary[] = [];
  for (const d of dirs) {
    for (const name of readdirSync(d).sort()) {
      const m = TEST_NAME.exec(name);
      const path = join(d, name);
      if (m && statSync(path).isFile() && isElf(path)) tests.push({ path, name, suite: m[1], env: m[2] });
    }
    if (tests.length) break;
  }
  return tests;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<Outcome> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', () => { clearTimeout(timer); done({ status: null, timedOut: false }); });
    child.on('close', (status) => { clearTimeout(timer); done({ status, timedOut }); });
  });
}

export function runOnWkvm(path: string, timeoutMs: number): Promise<Outcome> {
  return run(process.execPath, [WKVM, 'run', '-bios', 'none', '-kernel', path], timeoutMs);
}

export function runOnQemu(path: string, timeoutMs: number): Promise<Outcome> {
  return run('qemu-system-riscv64', ['-M', 'spike', '-nographic', '-bios', 'none', '-kernel', path], timeoutMs);
}

/** Run every test, `jobs` at a time; `onResult` sees each as it finishes. */
export async function runTests(tests: TestBinary[], opts: { jobs: number; timeoutMs: number; qemu: boolean },
  onResult: (r: TestResult) => void = () => {}): Promise<TestResult[]> {
  const results: TestResult[] = new Array(tests.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tests.length; i = next++) {
      const t = tests[i];
      const r: TestResult = { ...t, wkvm: await runOnWkvm(t.path, opts.timeoutMs) };
      if (opts.qemu) r.qemu = await runOnQemu(t.path, opts.timeoutMs);
      results[i] = r;
      onResult(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
  return results;
}

export const passed = (o: Outcome) => o.status === 0 && !o.timedOut;
export const describeOutcome = (o: Outcome) =>
  o.timedOut ? 'timed out' : o.status === null ? 'did not run' : o.status === 0 ? 'pass' : `fail (exit ${o.status})`;

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('riscv-tests')
    .description('run the official riscv-tests rv64 suites under wkvm (-bios none -kernel ELF)')
    .argument('<dir>', 'directory holding the built test binaries (riscv-tests/isa, or an installed share/riscv-tests/isa)')
    .option('--qemu', 'also run each test on qemu-system-riscv64 -M spike as a witness')
    .option('-j, --jobs <n>', 'tests run at once', positive, Math.max(1, availableParallelism()))
    .option('--timeout <s>', 'seconds before a test counts as hung', positive, 30)
    .option('--filter <regex>', 'only tests whose name matches')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try { program.parse(argv, { from: 'user' }); } catch (e) { return (e as { exitCode?: number }).exitCode ?? 2; }
  const opts = program.opts<{ qemu?: boolean; jobs: number; timeout: number; filter?: string }>();
  let filter: RegExp | undefined;
  try { filter = opts.filter ? new RegExp(opts.filter) : undefined; } catch {
    console.error(`riscv-tests: --filter ${opts.filter}: not a regular expression`); return 2;
  }
  let tests: TestBinary[];
  try { tests = findTests(resolve(program.args[0])); } catch (e) {
    console.error(`riscv-tests: ${(e as Error).message}`); return 2;
  }
  if (filter) tests = tests.filter((t) => filter.test(t.name));
  if (tests.length === 0) {
    console.error(`riscv-tests: no rv64 test binaries (named like rv64ui-p-add) in ${program.args[0]}`);
    return 2;
  }
  const results = await runTests(tests, { jobs: opts.jobs, timeoutMs: opts.timeout * 1000, qemu: !!opts.qemu }, (r) => {
    if (!passed(r.wkvm) || (r.qemu && !passed(r.qemu)))
      console.log(`${r.name}: wkvm ${describeOutcome(r.wkvm)}` + (r.qemu ? `, qemu ${describeOutcome(r.qemu)}` : ''));
  });
  const groups = new Map<string, TestResult[]>();
  for (const r of results) {
    const key = `${r.suite}-${r.env}`;
    groups.set(key, groups.get(key) ?? []);
    groups.get(key)!.push(r);
  }
  const order = (g: string) => SUITES.indexOf(g.slice(0, 6) as typeof SUITES[number]) * 2 + (g.endsWith('-v') ? 1 : 0);
  for (const [group, rs] of [...groups].sort(([a], [b]) => order(a) - order(b))) {
    const w = rs.filter((r) => passed(r.wkvm)).length;
    const q = opts.qemu ? `  (qemu ${rs.filter((r) => r.qemu && passed(r.qemu)).length}/${rs.length})` : '';
    console.log(`${group.padEnd(9)} ${w}/${rs.length}${q}`);
  }
  const ok = results.filter((r) => passed(r.wkvm)).length;
  console.log(`${ok} passed, ${results.length - ok} failed`);
  return ok === results.length ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
