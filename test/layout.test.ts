// The shared-memory layout (assembly/layout.ts): the regions of the machine block and of a vCPU's block
// must not overlap. They did once: the run struct's fields grew past 0x100
// bytes into the spin-detection ring, so the ring's entries and the thread's
// wait and debug-stop fields were written over each other.
import { describe, expect, it } from 'vitest';
import * as L from '../assembly/layout.js';
import { MAX_HARTS } from '../assembly/board.js';

/** Sorted by offset, each region ends before the next begins, and the last within `limit`. */
function expectDisjoint(list: [string, number, number][], limit: number, limitName: string): void {
  const sorted = [...list].sort((a, b) => a[1] - b[1]);
  sorted.forEach(([name, at, bytes], i) => {
    const next = sorted[i + 1];
    const end = next ? next[1] : limit;
    expect(at + bytes, `${name} (0x${at.toString(16)}, ${bytes} bytes) runs into ${next ? next[0] : limitName} (0x${end.toString(16)})`)
      .toBeLessThanOrEqual(end);
  });
}

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

/** [name, offset, bytes] of every region of the machine block. */
const machine: [string, number, number][] = [
  ['M_MAGIC', L.M_MAGIC, 4], ['M_NHARTS', L.M_NHARTS, 4], ['M_RAM_BASE', L.M_RAM_BASE, 8], ['M_RAM_SIZE', L.M_RAM_SIZE, 8],
  ['M_RAM_HOST', L.M_RAM_HOST, 8], ['M_TOHOST', L.M_TOHOST, 8], ['M_FROMHOST', L.M_FROMHOST, 8],
  ['M_BOOT_FLAGS', L.M_BOOT_FLAGS, 4], ['M_JIT_THRESHOLD', L.M_JIT_THRESHOLD, 4], ['M_TIME_BASE', L.M_TIME_BASE, 8],
  ['M_IO_DOORBELL', L.M_IO_DOORBELL, 4], ['M_SIG_DOORBELL', L.M_SIG_DOORBELL, 4], ['M_UART_DOORBELL', L.M_UART_DOORBELL, 4],
  ['M_RUNSTATE', L.M_RUNSTATE, 4], ['M_EXIT_CODE', L.M_EXIT_CODE, 4], ['M_THREADS_UP', L.M_THREADS_UP, 4],
  ['M_SIG_ARMED', L.M_SIG_ARMED, 8], ['M_VIRTIO_DOORBELL', L.M_VIRTIO_DOORBELL, 4], ['M_VCPUS_PARKED', L.M_VCPUS_PARKED, 4],
  ['M_TOUCHED_MAP', L.M_TOUCHED_MAP, 4], ['M_SIG_TASK', L.M_SIG_TASK, 4], ['M_JIT_BATCHES', L.M_JIT_BATCHES, 4], ['M_VIRTIO_OWNED', L.M_VIRTIO_OWNED, 4], ['M_VIRTIO_NOTIFY', L.M_VIRTIO_NOTIFY, L.VIRTIO_NOTIFY_SLOTS * 4], ['M_VIRTIO_ISR', L.M_VIRTIO_ISR, L.VIRTIO_NOTIFY_SLOTS * 4],
  ['M_MMIO_TABLE', L.M_MMIO_TABLE, 8 + L.MMIO_TABLE_MAX * 16],
  ['M_UART', L.M_UART, L.U_TX_WAIT + 4], ['M_UART_TX', L.M_UART_TX, L.UART_TX_SIZE], ['M_UART_RX', L.M_UART_RX, L.UART_RX_SIZE],
  ['M_PLIC_PRIORITY', L.M_PLIC_PRIORITY, L.PLIC_SOURCES * 4], ['M_PLIC_PENDING', L.M_PLIC_PENDING, L.PLIC_SOURCES / 8],
  ['M_PLIC_LEVEL', L.M_PLIC_LEVEL, L.PLIC_SOURCES / 8], ['M_PLIC_CLAIMED', L.M_PLIC_CLAIMED, L.PLIC_SOURCES / 8],
  ['M_PLIC_LOCK', L.M_PLIC_LOCK, 4], ['M_PLIC_CTX', L.M_PLIC_CTX, 2 * MAX_HARTS * L.PLIC_CTX_STRIDE],
  ['M_DBG_FLAGS', L.M_DBG_FLAGS, 4], ['M_DBG_NBP', L.M_DBG_NBP, 4], ['M_DBG_NWP', L.M_DBG_NWP, 4],
  ['M_DBG_BP', L.M_DBG_BP, L.DBG_BP_MAX * 8], ['M_DBG_WP', L.M_DBG_WP, L.DBG_WP_MAX * L.DBG_WP_STRIDE],
];

const blocks = [
  { block: 'the per-vCPU block', prefix: 'V_', list: regions, limit: L.VCPU_STRIDE, limitName: 'VCPU_STRIDE' },
  { block: 'the machine block', prefix: 'M_', list: machine, limit: L.MACHINE_SIZE, limitName: 'MACHINE_SIZE' },
];

describe.each(blocks)('shared-memory layout: $block', ({ prefix, list, limit, limitName }) => {
  it(`lists every ${prefix} region of assembly/layout.ts`, () => {
    const named = Object.keys(L).filter((k) => k.startsWith(prefix)).sort();
    expect(list.map(([n]) => n).sort()).toEqual(named);
  });

  it(`has no two regions overlapping, and all of them inside ${limitName}`, () => {
    expectDisjoint(list, limit, limitName);
  });
});

describe('shared-memory layout: the run struct', () => {
  it('keeps every run-struct field (R_*) inside RUN_BYTES', () => {
    const fields = Object.entries(L).filter(([k]) => k.startsWith('R_')) as [string, number][];
    expect(fields.length).toBeGreaterThan(20);
    for (const [name, at] of fields) {
      const bytes = name === 'R_EXIT_COUNTS' ? L.EXIT_KINDS * 8 : 8; // every field is at most 8 bytes but the exit counts
      expect(at + bytes, `${name} at 0x${at.toString(16)}`).toBeLessThanOrEqual(L.RUN_BYTES);
    }
  });
});
