/**
 * Embedding: a Linux guest's NIC on an in-process netdev. The test is the
 * guest's whole network: it answers the guest's ARP request and its ping
 * with Ethernet frames built here, through the public API only.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualMachine, InprocessNetBackend } from '../dist/src/index.js';
import { Console, PROMPT } from './guest-console.js';
import { LINUX_GUEST as GUEST } from './helpers.js';

const KERNEL = join(GUEST, 'Image');
const INITRD = join(GUEST, 'rootfs.cpio.gz');
const haveImage = existsSync(KERNEL) && existsSync(INITRD);
if (!haveImage) console.warn(`test/linux-embed.test.ts: no Linux guest in ${GUEST}: skipping (build it with npm run guest:linux)`);

const HOST_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const HOST_IP = Buffer.from([10, 0, 2, 2]);

/** The Internet checksum of `b`. */
function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Answer ARP requests for HOST_IP and ICMP echo requests to it; returns what was seen. */
function answer(backend: InprocessNetBackend): { arp: number; echo: number; guestMac?: string } {
  const seen: { arp: number; echo: number; guestMac?: string } = { arp: 0, echo: 0 };
  backend.on('frame', (f: Buffer) => {
    const type = f.readUInt16BE(12);
    if (type === 0x0806 && f.readUInt16BE(20) === 1 && f.subarray(38, 42).equals(HOST_IP)) {
      seen.arp++;
      seen.guestMac = [...f.subarray(6, 12)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      const reply = Buffer.from(f.subarray(0, 42));
      f.copy(reply, 0, 6, 12);          // to the asker
      HOST_MAC.copy(reply, 6);          // from us
      reply.writeUInt16BE(2, 20);       // ARP reply
      HOST_MAC.copy(reply, 22); HOST_IP.copy(reply, 28);        // sender: us
      f.copy(reply, 32, 22, 28); f.copy(reply, 38, 28, 32);     // target: the asker
      backend.inject(reply);
    } else if (type === 0x0800 && f[23] === 1 && f.subarray(30, 34).equals(HOST_IP)) {
      const ihl = (f[14]! & 0x0f) * 4;
      const icmp = 14 + ihl;
      if (f[icmp] !== 8) return;
      seen.echo++;
      const reply = Buffer.from(f);
      f.copy(reply, 0, 6, 12); HOST_MAC.copy(reply, 6);
      f.copy(reply, 26, 30, 34); f.copy(reply, 30, 26, 30);    // swap the IP addresses (the header checksum stays right)
      reply[icmp] = 0;                                           // echo reply
      reply.writeUInt16BE(0, icmp + 2);
      const len = f.readUInt16BE(16) - ihl;
      reply.writeUInt16BE(checksum(reply.subarray(icmp, icmp + len)), icmp + 2);
      backend.inject(reply);
    }
  });
  return seen;
}

describe.skipIf(!haveImage)('embedding: Linux on an in-process network', () => {
  it('the guest pings a peer made of Buffers: ARP and ICMP both ways', async () => {
    const backend = new InprocessNetBackend('n0');
    const seen = answer(backend);
    const vm = await VirtualMachine.create({
      memory: '256M', kernel: KERNEL, initrd: INITRD, append: 'console=ttyS0 quiet',
      nics: [{ netdev: backend, mac: '52:54:00:ab:cd:ef' }],
    });
    const con = new Console(vm.serial, vm.serial, 'embed');
    vm.start();
    try {
      await con.waitFor(PROMPT, 90_000);
      await con.ok('ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0');
      const out = await con.ok('ping -c 2 -W 5 10.0.2.2', 30_000);
      expect(out).toMatch(/2 packets transmitted, 2 packets received/);
      expect(seen.arp).toBeGreaterThanOrEqual(1);
      expect(seen.echo).toBe(2);
      expect(seen.guestMac).toBe('52:54:00:ab:cd:ef');
      expect(backend.stats.txFrames).toBeGreaterThanOrEqual(3);
      expect(backend.stats.rxFrames).toBeGreaterThanOrEqual(3);
      // the same counts through the VM's device statistics (load tests read them there)
      const [nic] = vm.deviceStats().nics;
      expect(nic).toMatchObject({ mac: '52:54:00:ab:cd:ef', netdev: 'n0', txFrames: backend.stats.txFrames, rxFrames: backend.stats.rxFrames });
      expect(nic!.txBytes).toBeGreaterThan(2 * 98);
    } finally {
      await vm.stop();
    }
  }, 120_000);
});
