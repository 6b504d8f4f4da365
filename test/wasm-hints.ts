/**
 * Reading a module's branch hints (the branch-hinting proposal's
 * metadata.code.branch_hint section), for the tests of the JIT's modules
 * and of the vCPU module's post-build step (scripts/branch-hints.mjs).
 */
import { expect } from 'vitest';

/**
 * The branch hints of a module (the metadata.code.branch_hint custom section,
 * before the code section), checked well-formed: functions in increasing
 * order, offsets increasing within one, each of size 1 with value 0 or 1,
 * and each at an `if` (0x04) or `br_if` (0x0d) of its function's body.
 */
export function branchHints(bytes: Uint8Array): { func: number; offset: number; value: number; opcode: number }[] {
  let at = 8;
  const u32 = (): number => { let v = 0, shift = 0, b: number; do { b = bytes[at++]!; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return v; };
  const raw: { func: number; offset: number; value: number }[] = [];
  const bodies: number[] = []; // where each defined function's body starts (its locals)
  let imports = 0, sawHints = false;
  while (at < bytes.length) {
    const id = bytes[at++]!, size = u32(), end = at + size;
    if (id === 2) { // imports: count the functions
      const skipName = (): void => { const len = u32(); at += len; };
      for (let n = u32(); n > 0; n--) { skipName(); skipName(); const kind = bytes[at++]!; if (kind === 0) { imports++; u32(); } else if (kind === 1) { at++; const f = bytes[at++]!; u32(); if (f & 1) u32(); } else if (kind === 2) { const f = bytes[at++]!; u32(); if (f & 1) u32(); } else at += 2; }
    } else if (id === 0) {
      const name = new TextDecoder().decode(bytes.subarray(at + 1, at + 1 + bytes[at]!));
      if (name === 'metadata.code.branch_hint') {
        expect(bodies.length).toBe(0); // before the code section
        sawHints = true;
        at += 1 + name.length;
        let last = -1;
        for (let n = u32(); n > 0; n--) {
          const func = u32();
          expect(func).toBeGreaterThan(last);
          last = func;
          let prev = -1;
          for (let k = u32(); k > 0; k--) {
            const offset = u32();
            expect(offset).toBeGreaterThan(prev);
            prev = offset;
            expect(u32()).toBe(1);
            raw.push({ func, offset, value: bytes[at++]! });
          }
        }
        expect(at).toBe(end);
      }
    } else if (id === 10) {
      for (let n = u32(); n > 0; n--) { const len = u32(); bodies.push(at); at += len; }
    }
    at = end;
  }
  expect(sawHints).toBe(raw.length > 0);
  return raw.map((h) => {
    expect(h.func).toBeGreaterThanOrEqual(imports);
    expect(h.func - imports).toBeLessThan(bodies.length);
    expect([0, 1]).toContain(h.value);
    const opcode = bytes[bodies[h.func - imports]! + h.offset]!;
    expect([0x04, 0x0d]).toContain(opcode);
    return { ...h, opcode };
  });
}
