/** Shared helpers of the test suite: run the CLI, find tools, locate guests. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { homedir } from 'node:os';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WKVM = join(ROOT, 'bin', 'wkvm.js');
/** The Linux guest `npm run guest:linux` builds (scripts/build-linux.sh: its cache, WKVM_CACHE or ~/.cache/wkvm). */
export const LINUX_GUEST = join(process.env.WKVM_CACHE ?? join(homedir(), '.cache', 'wkvm'), 'linux-current');

/**
 * With WKVM_JIT_THRESHOLD=1 (every block translated before it runs again;
 * .ci/run's third pass) a Linux boot takes ~2 minutes: the Linux tests of a
 * file that also holds others skip then, saying why (test/linux-jit.test.ts
 * boots Linux that way; .ci/run leaves out the files that only boot Linux).
 */
export const LINUX_TOO_SLOW = process.env.WKVM_JIT_THRESHOLD === '1';
export function warnLinuxTooSlow(file: string): void {
  if (LINUX_TOO_SLOW) console.warn(`${file}: WKVM_JIT_THRESHOLD=1 makes a Linux boot take minutes: skipping its Linux tests (test/linux-jit.test.ts boots Linux at threshold 1)`);
}

export interface RunResult { code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }

/** Run `wkvm ARGS` with optional stdin text; resolves when it exits (killed after timeoutMs). */
export function runWkvm(args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return runCmd(process.execPath, [WKVM, ...args], opts);
}

export function runCmd(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d.toString('latin1'); });
    p.stderr.on('data', (d) => { stderr += d.toString('latin1'); });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
    if (opts.input !== undefined) p.stdin.end(opts.input); else p.stdin.end();
  });
}

export function guestFiles(dir: string, ext = '.elf'): string[] {
  const d = join(ROOT, 'guests', dir);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f.endsWith(ext)).sort().map((f) => join(d, f));
}

export function which(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const QEMU = which('qemu-system-riscv64');
