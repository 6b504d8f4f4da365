// Boot the Linux guest through wkvm's Node API, log in on its serial
// console (the guest's init opens a root shell there: the prompt is the
// login), run `uname -a`, read the answer, and power the guest off.
//
//   node examples/linux-shell.mjs [KERNEL_IMAGE INITRD]
//
// Without arguments it uses the guest `npm run guest:linux` builds
// (~/.cache/wkvm/linux-current). Exits with the guest's status.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VirtualMachine } from 'wkvm';

const guest = join(process.env.WKVM_CACHE ?? join(homedir(), '.cache', 'wkvm'), 'linux-current');
const [kernel = join(guest, 'Image'), initrd = join(guest, 'rootfs.cpio.gz')] = process.argv.slice(2);

const vm = await VirtualMachine.create({ kernel, initrd, append: 'console=ttyS0', memory: '256M', smp: 2 });
try {
  vm.on('stateChange', (state) => console.error(`[vm] ${state}`));
  const shell = vm.console;
  vm.start({ signal: AbortSignal.timeout(120_000) }); // a hung guest is stopped

  await shell.expect(/# $/, { timeout: 60_000 });        // logged in: the root prompt
  shell.sendLine('uname -a');
  const answer = await shell.expect(/\n(Linux [^\r\n]*)\r?\n/);
  console.log(answer[1]);
  await shell.expect(/# $/);
  shell.sendLine('poweroff');
  process.exitCode = await vm.exited;
} finally {
  await vm[Symbol.asyncDispose](); // `await using vm = ...` where the runtime has it (Node 22+)
}
