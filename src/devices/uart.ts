/**
 * UART0 (ns16550a), host half. The register file lives in the vCPU module
 * (assembly/uart.ts) so that guest polling and transmits never stop a vCPU;
 * this side drains the transmit ring to the console stream and fills the
 * receive ring from it.
 */
import type { VmMemory } from '../accel/memory.js';

export class UartHost {
  private readonly head: number;
  private readonly tail: number;
  private readonly rxHead: number;
  private readonly rxTail: number;
  private readonly tx: number;
  private readonly rx: number;
  private readonly txSize: number;
  private readonly rxSize: number;
  private backlog: Buffer[] = [];

  constructor(
    private readonly mem: VmMemory,
    private readonly rxNotify: () => void,
    /** Tells the vCPU side the TX ring has room again (THR-empty and its interrupt). */
    private readonly txNotify: () => void,
  ) {
    const L = mem.layout;
    const u = L.MACHINE_BASE + L.M_UART;
    this.head = (u + L.U_TX_HEAD) >> 2;
    this.tail = (u + L.U_TX_TAIL) >> 2;
    this.rxHead = (u + L.U_RX_HEAD) >> 2;
    this.rxTail = (u + L.U_RX_TAIL) >> 2;
    this.tx = L.MACHINE_BASE + L.M_UART_TX;
    this.rx = L.MACHINE_BASE + L.M_UART_RX;
    this.txSize = L.UART_TX_SIZE;
    this.rxSize = L.UART_RX_SIZE;
  }

  /** Take everything the guest transmitted so far (empty buffer when nothing); the vCPU side hears of the room. */
  drain(): Buffer {
    const i32 = this.mem.i32;
    const head = Atomics.load(i32, this.head) >>> 0;
    let tail = Atomics.load(i32, this.tail) >>> 0;
    const n = (head - tail) >>> 0;
    if (n === 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++, tail++) out[i] = this.mem.bytes[this.tx + (tail & (this.txSize - 1))];
    Atomics.store(i32, this.tail, tail | 0);
    this.txNotify();
    return out;
  }

  /** Queue bytes typed at the console; they enter the receive ring as it has room. */
  input(data: Buffer): void {
    if (data.length) this.backlog.push(Buffer.from(data));
    this.pump();
  }

  /** Whether input is still waiting for room in the receive ring. */
  get pending(): boolean { return this.backlog.length > 0; }

  /** Move queued input into the ring; returns true if anything moved. */
  pump(): boolean {
    const i32 = this.mem.i32;
    let head = Atomics.load(i32, this.rxHead) >>> 0;
    const tail = Atomics.load(i32, this.rxTail) >>> 0;
    let moved = false;
    while (this.backlog.length && ((head - tail) >>> 0) < this.rxSize) {
      const chunk = this.backlog[0];
      let i = 0;
      while (i < chunk.length && ((head - tail) >>> 0) < this.rxSize) {
        this.mem.bytes[this.rx + (head & (this.rxSize - 1))] = chunk[i++];
        head++;
      }
      if (i === chunk.length) this.backlog.shift(); else this.backlog[0] = chunk.subarray(i);
      moved = true;
    }
    if (moved) {
      Atomics.store(i32, this.rxHead, head | 0);
      this.rxNotify();
    }
    return moved;
  }
}
