// The shared-memory layout (assembly/layout.ts): the regions of a vCPU's block
// must not overlap. They did once: the run struct's fields grew past 0x100
// bytes into the spin-detection ring, so the ring's entries and the thread's
// wait and debug-stop fields were written over each other.
import { describe, expect, it } from 'vitest';
import * as L from '../assembly/layout.js';

/** [name, offset, bytes] of every region of the per-vCPU block, sizes from the layout's own constants. */
const regions: [string, number, number][] = [
  ['V_X', L.V_X, 33 * 8],
  ['V_PC', L.V_PC, 8],
  ['V_PRIV', L.V_PRIV, 4],
  ['V_HARTID', L.V_HARTID, 4],
  ['V_F', L.V_F, 32 * 8],
  ['V_CSR', L.V_CSR, L.CSR_SLOTS * 8],
  ['V_PENDING', L.V_PENDING, 4],
  ['V_HSM', L.V_HSM, 4],
  ['V_HSM_ADDR', L.V_HSM_ADDR, 8],
  ['V_HSM_ARG', L.V_HSM_ARG, 8],
  ['V_MTIMECMP', L.V_MTIMECMP, 8],
  ['V_RFENCE', L.V_RFENCE, 4],
  ['V_IN_RUN', L.V_IN_RUN, 4],
  ['V_STIMECMP', L.V_STIMECMP, 8],
  ['V_SPIN_NEXT', L.V_SPIN_NEXT, 4],
  ['V_DBG_STEP', L.V_DBG_STEP, 4],
  ['V_RUN', L.V_RUN, L.RUN_BYTES],
  ['V_SPIN_RING', L.V_SPIN_RING, L.SPIN_RING * 16],
  ['V_TLB_EPOCHS', L.V_TLB_EPOCHS, 3 * (L.TLB_KEYS + 1) * 4],
  ['V_SCRATCH_INSN', L.V_SCRATCH_INSN, 16],
  ['V_TLB', L.V_TLB, 3 * L.TLB_ENTRIES * 16],
  ['V_ICACHE', L.V_ICACHE, L.ICACHE_ENTRIES * 16],
  ['V_CODEMAP', L.V_CODEMAP, L.CODEMAP_BYTES],
  ['V_JITMAP', L.V_JITMAP, L.CODEMAP_BYTES],
  ['V_JIT_TAGS', L.V_JIT_TAGS, L.JIT_ENTRIES * 8],
  ['V_JIT_COUNTS', L.V_JIT_COUNTS, L.JIT_COUNTERS * 4],
  ['V_JIT_QUEUE', L.V_JIT_QUEUE, 16 + L.JIT_QUEUE_MAX * 16],
];

describe('shared-memory layout: the per-vCPU block', () => {
  it('lists every V_ region of assembly/layout.ts', () => {
    const named = Object.keys(L).filter((k) => k.startsWith('V_')).sort();
    expect(regions.map(([n]) => n).sort()).toEqual(named);
  });

  it('has no two regions overlapping, and all of them inside VCPU_STRIDE', () => {
    const sorted = [...regions].sort((a, b) => a[1] - b[1]);
    for (let i = 1; i < sorted.length; i++) {
      const [prev, at, bytes] = sorted[i - 1];
      expect(at + bytes, `${prev} (0x${at.toString(16)}, ${bytes} bytes) runs into ${sorted[i][0]} (0x${sorted[i][1].toString(16)})`)
        .toBeLessThanOrEqual(sorted[i][1]);
    }
    const [lastName, lastAt, lastBytes] = sorted[sorted.length - 1];
    expect(lastAt + lastBytes, `${lastName} ends past VCPU_STRIDE`).toBeLessThanOrEqual(L.VCPU_STRIDE);
  });

  it('keeps every run-struct field (R_*) inside RUN_BYTES', () => {
    const fields = Object.entries(L).filter(([k]) => k.startsWith('R_')) as [string, number][];
    expect(fields.length).toBeGreaterThan(20);
    for (const [name, at] of fields) {
      const bytes = name === 'R_EXIT_COUNTS' ? L.EXIT_KINDS * 8 : 8; // every field is at most 8 bytes but the exit counts
      expect(at + bytes, `${name} at 0x${at.toString(16)}`).toBeLessThanOrEqual(L.RUN_BYTES);
    }
  });
});
