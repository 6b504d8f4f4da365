// The JIT tier's cache of translations, kept beside the decode cache it
// extends (the translator itself is host code: src/jit).
//
// Slot i of V_JIT_TAGS names the translation installed at WebAssembly.Table
// index JIT_TABLE_BASE + i by the block's host address and the decode-cache
// generation it was made under, so FENCE.I (a new generation) drops every
// translation at once. The decode-cache entry of the block's first
// instruction becomes an OP_JIT entry that calls it. A bit per RAM page
// (V_JITMAP) tells a store to a code page whether any translation starts
// there; the page's translations are then dropped (a translation never leaves
// its page).
import { V_JITMAP, V_JIT_TAGS, JIT_ENTRIES, V_JIT_COUNTS, JIT_COUNTERS, V_JIT_QUEUE, V_ICACHE, ICACHE_ENTRIES } from "./layout";
import { OP_JIT } from "./ops";
import { V, RAM_HOST, RAM_SIZE } from "./state";

// @ts-ignore: decorator
@inline export function jitSlot(host: usize): u32 { return <u32>(host >> 1) & (JIT_ENTRIES - 1); }
// @ts-ignore: decorator
@inline function tagAt(slot: u32): usize { return V + V_JIT_TAGS + (<usize>slot << 3); }
// @ts-ignore: decorator
@inline export function icacheEntry(host: usize): usize { return V + V_ICACHE + (((host >> 1) & (ICACHE_ENTRIES - 1)) << 4); }

/**
 * Whether this hart installed a translation since its translations were last
 * all dropped: until it has, a decode-cache miss does not look for one (a
 * 64-vCPU boot on 2 cores translates little, and each look is a cache miss
 * into the 128 KiB of tags).
 */
export let jitAny = false;

/** The slot of the translation that starts at `host` under decode generation `gen`, or -1. */
export function jitLookup(host: usize, gen: u64): i32 {
  const slot = jitSlot(host);
  return load<u64>(tagAt(slot)) == (<u64>host | gen) ? <i32>slot : -1;
}

/** The block at `host` has no translation (its first instruction is not translated): do not queue it again this generation. */
export function refuseTranslation(host: usize, gen: u64): void {
  const t = tagAt(jitSlot(host));
  const tag = load<u64>(t);
  if (tag != 0 && (tag & ~(<u64>0xffff_ffff)) == gen) return; // the slot holds a live translation (or refusal)
  store<u64>(t, <u64>host | gen | 1); // bit 0: refused (a host address of code is even)
}
/** Whether the block at `host` was refused in generation `gen`. */
export function isRefused(host: usize, gen: u64): bool {
  return load<u64>(tagAt(jitSlot(host))) == (<u64>host | gen | 1);
}

/** Make the decode entry at `host` the entry of translation `slot`. */
export function setJitEntry(e: usize, host: usize, gen: u64, slot: u32): void {
  store<u64>(e, <u64>host | gen);
  store<u32>(e, OP_JIT, 8);
  store<i32>(e, <i32>slot, 12);
}

/** Record translation `slot` for `host` (dropping the slot's previous one). */
export function setTranslation(slot: u32, host: usize, gen: u64): void {
  jitAny = true;
  dropSlot(slot, gen);
  store<u64>(tagAt(slot), <u64>host | gen);
  const pg = <usize>((<u64>host - RAM_HOST) >> 12);
  const p = V + V_JITMAP + (pg >> 3);
  store<u8>(p, load<u8>(p) | <u8>(1 << <u8>(pg & 7)));
}

/** Forget slot's translation; its OP_JIT decode entry goes too (it would call whatever the slot holds next). */
function dropSlot(slot: u32, gen: u64): void {
  const t = tagAt(slot);
  const tag = load<u64>(t);
  if (tag == 0) return;
  store<u64>(t, 0);
  const host = <usize>(<u32>tag & ~1);
  const e = icacheEntry(host);
  if (load<u64>(e) == (<u64>host | gen) && load<u32>(e, 8) == OP_JIT) store<u64>(e, 0);
}

/** A store hit code page `host`: drop the translations that start in it (a no-op when none does). */
export function dropPageTranslations(host: usize, gen: u64): void {
  const pg = <usize>((<u64>host - RAM_HOST) >> 12);
  const p = V + V_JITMAP + (pg >> 3);
  const bit = <u8>(1 << <u8>(pg & 7));
  if ((load<u8>(p) & bit) == 0) return;
  store<u8>(p, load<u8>(p) & ~bit);
  const page = host & ~(<usize>0xfff);
  for (let s: u32 = 0; s < JIT_ENTRIES; s++) {
    const tag = load<u64>(tagAt(s));
    if (tag != 0 && (<usize><u32>tag & ~(<usize>0xfff)) == page && (tag & 1) == 0) dropSlot(s, gen);
  }
}

/** A vCPU thread starts (power-on, a reboot): no translation, count or queued block of an earlier one survives. */
export function jitForgetAll(): void {
  memory.fill(V + V_JIT_TAGS, 0, <usize>JIT_ENTRIES << 3);
  memory.fill(V + V_JIT_COUNTS, 0, <usize>JIT_COUNTERS << 2);
  memory.fill(V + V_JIT_QUEUE, 0, 16);
  clearTranslations();
}

/**
 * A new decode generation: every translation is stale (their tags name the
 * old one); no store needs to look for them any more.
 */
export function clearTranslations(): void {
  memory.fill(V + V_JITMAP, 0, <usize>((RAM_SIZE >> 15) + 1));
  jitAny = false;
}
