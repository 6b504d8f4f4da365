// sifive_test (board.ts TEST_*): TEST_POWEROFF = pass (power off),
// TEST_FAIL | code << 16 = fail with that exit status, TEST_REBOOT = reset.
import { EXIT_RESET } from "./layout";
import { TEST_POWEROFF, TEST_FAIL, TEST_REBOOT } from "./board";
import { exitShutdown, exitWith } from "./mmu";

export function testStore(off: u32, size: u32, v: u64): void {
  if (off != 0) return;
  const val = <u32>v;
  const kind = val & 0xffff;
  if (kind == TEST_POWEROFF) exitShutdown(0);
  else if (kind == TEST_FAIL) exitShutdown(val >> 16);
  else if (kind == TEST_REBOOT) exitWith(EXIT_RESET);
}
