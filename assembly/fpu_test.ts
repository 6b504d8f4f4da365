// Test build of the FPU (npm run build:wasm:fputest -> build/fpu-test.wasm):
// the FPU's functions plus access to the accrued flags.
import { fpFlags } from "./fpu";
export * from "./fpu";

export function getFlags(): u32 { return fpFlags; }
export function resetFlags(): void { fpFlags = 0; }
