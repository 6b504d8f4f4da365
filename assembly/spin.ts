// Spin-loop exits: KVM's pause-loop exiting for loops that have no `pause`.
//
// Linux 6.1's RISC-V spinlock, OpenSBI's wait for the boot hart and `j .`
// spin on a plain load. With more vCPUs than host cores such a loop burns the
// core the lock holder needs. At each slice check (every CHECK_INTERVAL
// instructions) the hart's pc and integer registers are hashed; meeting a
// hash seen at an earlier check with no store in between means it went round
// a loop that changed neither registers nor memory: it waits for memory
// another hart (or device) must change. (Without the store condition, loops
// that keep their counters on the stack look the same from the registers.)
// Atomics do not count as stores: a test-and-set spin rewrites the same value.
import { V_X, V_SPIN_NEXT, V_SPIN_RING, SPIN_RING } from "./layout";
import { V } from "./state";

// a store changed memory since the last slice check (translations set it too);
// a global, not a local of run(): one more loop-carried local costs V8 ~5%
export let stored = true;

/** Forget earlier checks (after reset, a store, or a spin exit so the loop runs a while before the next). */
export function spinForget(): void {
  store<u32>(V + V_SPIN_NEXT, 0);
}

/**
 * Record this check; true when the same pc and registers were seen at one of
 * the last SPIN_RING checks and nothing was stored since (`stored`).
 */
export function spinning(pc: u64, stored: bool): bool {
  if (stored) spinForget();
  let h: u64 = pc;
  for (let r: u32 = 1; r < 32; r++) h = rotl<u64>(h, 7) ^ load<u64>(V + V_X + (r << 3));
  h ^= h >> 29; h *= 0xbf58476d1ce4e5b9; h ^= h >> 32;
  // the loop's length need not divide CHECK_INTERVAL: look back over several checks
  const k = load<u32>(V + V_SPIN_NEXT);
  for (let i: u32 = 0; i < k; i++) {
    const e = V + V_SPIN_RING + (i << 4);
    if (load<u64>(e) == pc && load<u64>(e, 8) == h) { spinForget(); return true; }
  }
  // a full ring starts over: a loop longer than that is not a tight spin
  const e = V + V_SPIN_RING + ((k & (SPIN_RING - 1)) << 4);
  store<u64>(e, pc);
  store<u64>(e, h, 8);
  store<u32>(V + V_SPIN_NEXT, k < SPIN_RING ? k + 1 : 1);
  return false;
}
