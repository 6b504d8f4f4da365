/**
 * A drive's I/O thread (src/devices/virtio/blk/iothread.ts) under Linux.
 * Once the device model has handed it the queue, the guest's reads and
 * writes go through it byte for byte, FLUSH reaches the image, the drive's
 * counters count its requests, and the queue carries on across a guest
 * reboot (a device reset while the thread holds the queue) and across a
 * save and restore taken while it holds it.
 */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualMachine } from '../dist/src/index.js';
import { LINUX_GUEST as GUEST } from './helpers.js';

const haveLinux = existsSync(join(GUEST, 'Image')) && existsSync(join(GUEST, 'rootfs.cpio.gz'));
if (!haveLinux) console.warn(`test/linux-blk-iothread.test.ts: no Linux guest in ${GUEST}: skipped (build it with npm run guest:linux)`);

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const MiB = 1 << 20;

describe('virtio-blk on its I/O thread, under Linux', () => {
  it.skipIf(!haveLinux)('reads and writes byte for byte, syncs to the image, counts, and carries on across a reboot and a save/restore', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wkvm-iothread-'));
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, randomBytes(8 * MiB));
    const opts = { kernel: join(GUEST, 'Image'), initrd: join(GUEST, 'rootfs.cpio.gz'), append: 'console=ttyS0', memory: '256M', drives: [{ file: disk }] };
    let vm: VirtualMachine | undefined;
    try {
      vm = await VirtualMachine.create(opts);
      let con = vm.console;
      vm.start({ signal: AbortSignal.timeout(170_000) });
      await con.expect(/# $/, { timeout: 60_000 });
      let n = 0;
      const run = async (cmd: string, ms = 60_000): Promise<string> => {
        const tag = `end-${++n}`;
        con.sendLine(`${cmd}; echo ${tag.slice(0, 4)}""${tag.slice(4)}`);
        return (await con.expect(new RegExp(`\\n${tag}\\r?\\n`), { timeout: ms })).input ?? '';
      };
      // the queue goes to the thread once it is up, between two requests
      const handedOver = async (v: VirtualMachine): Promise<boolean> => {
        for (let i = 0; i < 100 && !v.deviceStats().blocks[0]!.ioThread; i++) {
          await run('dd if=/dev/vda of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null');
        }
        return v.deviceStats().blocks[0]!.ioThread;
      };
      const guestSha = async (what: string): Promise<string> => /([0-9a-f]{64})/.exec(await run(`sha256sum ${what}`))?.[1] ?? 'none';

      expect(await handedOver(vm)).toBe(true);
      const before = vm.deviceStats().blocks[0]!;
      // reads: the whole disk, as the host made it
      expect(await guestSha('/dev/vda')).toBe(sha(readFileSync(disk)));
      // writes: 1 MiB at 2 MiB, synced; the image has it before the guest goes on
      await run('dd if=/dev/urandom of=/tmp/w bs=64k count=16 2>/dev/null; dd if=/tmp/w of=/dev/vda bs=64k seek=32 oflag=direct conv=fsync 2>/dev/null');
      const written = await guestSha('/tmp/w');
      expect(sha(readFileSync(disk).subarray(2 * MiB, 3 * MiB))).toBe(written);
      const after = vm.deviceStats().blocks[0]!;
      expect(after.ioThread).toBe(true);
      expect(after.readBytes - before.readBytes).toBeGreaterThanOrEqual(8 * MiB);
      expect(after.writeBytes - before.writeBytes).toBeGreaterThanOrEqual(MiB);
      expect(after.flushes).toBeGreaterThan(before.flushes);
      expect(after.errors).toBe(0);

      // a reboot resets the device while the thread holds its queue: the new driver's queue works
      con.sendLine('reboot');
      await con.expect('Run /init as init process', { timeout: 60_000 });
      await con.expect(/# $/, { timeout: 60_000 });
      expect(await guestSha('/dev/vda')).toBe(sha(readFileSync(disk)));

      // saved while the thread holds the queue, restored: the queue goes on where it was
      expect(await handedOver(vm)).toBe(true);
      const file = join(dir, 'vm.snap');
      await vm.save(file);
      await vm.stop();
      vm = await VirtualMachine.restore(file, { drives: [{ file: disk }] });
      con = vm.console;
      expect(await guestSha('/dev/vda')).toBe(sha(readFileSync(disk)));
      await run('dd if=/dev/zero of=/dev/vda bs=64k count=4 oflag=direct conv=fsync 2>/dev/null');
      expect(readFileSync(disk).subarray(0, 256 << 10).every((b) => b === 0)).toBe(true);
      con.sendLine('poweroff');
      expect(await vm.exited).toBe(0);
    } finally {
      await vm?.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
