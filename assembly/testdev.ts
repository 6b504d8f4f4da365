// sifive_test at 0x100000: 0x5555 = pass (power off), 0x3333 | code << 16 =
// fail with that exit status, 0x7777 = reset.
import { EXIT_RESET } from "./layout";
import { exitShutdown, exitWith } from "./mmu";

export function testStore(off: u32, size: u32, v: u64): void {
  if (off != 0) return;
  const val = <u32>v;
  const kind = val & 0xffff;
  if (kind == 0x5555) exitShutdown(0);
  else if (kind == 0x3333) exitShutdown(val >> 16);
  else if (kind == 0x7777) exitWith(EXIT_RESET);
}
