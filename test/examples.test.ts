/**
 * The examples in examples/ run as a user runs them (a Node process,
 * importing 'wkvm' by name), and do what they say.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCmd, LINUX_GUEST as GUEST } from './helpers.js';

const haveLinux = existsSync(join(GUEST, 'Image')) && existsSync(join(GUEST, 'rootfs.cpio.gz'));
if (!haveLinux) console.warn(`test/examples.test.ts: no Linux guest in ${GUEST}: skipping the Linux example (build it with npm run guest:linux)`);

describe('examples', () => {
  it.skipIf(!haveLinux)('linux-shell.mjs boots Linux, runs uname -a on the console, prints its answer and powers off', async () => {
    const r = await runCmd(process.execPath, [join(ROOT, 'examples', 'linux-shell.mjs')], { cwd: ROOT, timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^Linux wkvm \S+ .* riscv64 GNU\/Linux$/);
    expect(r.stderr).toMatch(/\[vm\] running\n[^]*\[vm\] shutdown/);
  }, 200_000);
});
