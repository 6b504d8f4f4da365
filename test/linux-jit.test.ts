/**
 * Linux with every block translated (JIT threshold 1: a block is translated
 * before it runs a second time), the JIT's exactness on a whole operating
 * system: the boot, user space, and results computed in translated code that
 * the host checks. A boot this way takes ~2 minutes on the 2-core machine
 * (each batch is compiled on the vCPU's own thread before the block runs
 * again), so the Linux tests of test/linux.test.ts run with the default
 * threshold and this one alone at 1. Skipped (with a warning) when the
 * image is not built.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LINUX_GUEST as GUEST } from './helpers.js';

const KERNEL = join(GUEST, 'Image');
const INITRD = join(GUEST, 'rootfs.cpio.gz');
const haveImage = existsSync(KERNEL) && existsSync(INITRD);
if (!haveImage) console.warn(`test/linux-jit.test.ts: no Linux guest in ${GUEST}: skipping (build it with npm run guest:linux)`);

const BOOT_MS = 420_000;

describe('Linux, every block translated', () => {
  it.skipIf(!haveImage)('boots to the shell at JIT threshold 1, computes what the host computes, and powers off', async () => {
    const { VirtualMachine } = await import('../dist/src/index.js');
    const vm = await VirtualMachine.create({ memory: '256M', kernel: KERNEL, initrd: INITRD, append: 'console=ttyS0', jit: 'on', jitThreshold: 1 });
    const con = vm.console;
    vm.start({ signal: AbortSignal.timeout(BOOT_MS + 120_000) });
    try {
      await con.expect(/# $/, { timeout: BOOT_MS });
      // a hash over a pipe (seq, sha256sum) and a loop in awk's interpreter: the host computes the same
      const seq = Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join('');
      const want = createHash('sha256').update(seq).digest('hex');
      con.sendLine('seq 1 3000 | sha256sum; awk \'BEGIN { s = 0; for (i = 1; i <= 20000; i++) s += i % 7 * i; print "sum", s }\'');
      const hash = await con.expect(/\n([0-9a-f]{64}) {2}-\r?\n/, { timeout: 120_000 });
      expect(hash[1]).toBe(want);
      let s = 0;
      for (let i = 1; i <= 20000; i++) s += (i % 7) * i;
      const sum = await con.expect(/(?:^|\n)sum (\d+)\r?\n/, { timeout: 120_000 });
      expect(Number(sum[1])).toBe(s);
      await con.expect(/# $/);
      const st = vm.stats()[0]!;
      // at threshold 1 nearly everything runs translated (what does not: CSR and SYSTEM instructions, LR/SC, ...)
      expect(Number(st.jit.instructions) / Number(st.instructions)).toBeGreaterThan(0.8);
      expect(st.jit.blocks).toBeGreaterThan(1000n);
      con.sendLine('poweroff');
      expect(await vm.exited).toBe(0);
    } finally {
      await vm.stop().catch(() => {});
    }
  }, BOOT_MS + 180_000);
});
