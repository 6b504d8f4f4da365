/**
 * Page faults taken ahead, on a thread of the VM's pool, while the main
 * thread copies a snapshot's RAM: the first write to each 4 KiB page of a
 * new shared memory costs a fault (~11 us on this host: ~35 ms for the
 * 12 MiB of a Linux snapshot), and two threads take them in parallel. The
 * main thread copies the runs front to back; this task touches them back to
 * front, so the two meet in the middle. A touch is an atomic add of zero: it
 * makes the page present and writable and never changes a byte, whichever
 * thread writes the page first (the vCPUs may even be running).
 */
export interface PrefaultTask { memory: WebAssembly.Memory; /** [start, end) byte ranges of the memory, in copy order */ ranges: number[] }

const PAGE = 4096;

export function prefaultPages(task: PrefaultTask): number {
  const i32 = new Int32Array(task.memory.buffer as unknown as SharedArrayBuffer);
  const r = task.ranges;
  let pages = 0;
  for (let k = r.length - 2; k >= 0; k -= 2) {
    const start = r[k]!, end = Math.min(r[k + 1]!, i32.byteLength);
    for (let a = Math.floor((end - 1) / PAGE) * PAGE; a >= start; a -= PAGE) {
      Atomics.add(i32, a >> 2, 0);
      pages++;
    }
  }
  return pages;
}
