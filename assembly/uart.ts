// ns16550a UART0 register file, served in Wasm so that neither a guest's
// polling of LSR nor its THR writes stop the vCPU. Transmitted bytes go into
// a ring the I/O loop drains (the analog of coalesced MMIO); received bytes
// arrive in a ring the I/O loop fills (src/devices/uart.ts).
import {
  MACHINE_BASE, M_UART, U_LOCK, U_IER, U_LCR, U_MCR, U_SCR, U_DLL, U_DLM, U_FCR, U_THRE_IP,
  U_TX_HEAD, U_TX_TAIL, U_TX_WAIT, U_RX_HEAD, U_RX_TAIL, M_UART_TX, UART_TX_SIZE, M_UART_RX, UART_RX_SIZE,
  M_UART_DOORBELL, M_RUNSTATE, RUNSTATE_SHUTDOWN,
} from "./layout";
import { plicSetLevel } from "./plic";
import { UART0_IRQ } from "./board";
import { hostYield } from "./state";

const U: usize = MACHINE_BASE + M_UART;

// @ts-ignore: decorator
@inline function reg(o: u32): u32 { return load<u32>(U + o); }
// @ts-ignore: decorator
@inline function setReg(o: u32, v: u32): void { store<u32>(U + o, v); }

function lock(): void {
  // the holder may be waiting for room in the TX ring: give the core away rather than spin long
  for (let spins = 0; atomic.cmpxchg<u32>(U + U_LOCK, 0, 1) != 0; spins++) {
    if (spins > 1000) hostYield();
  }
}
function unlock(): void { atomic.store<u32>(U + U_LOCK, 0); }

function rxCount(): u32 { return atomic.load<u32>(U + U_RX_HEAD) - atomic.load<u32>(U + U_RX_TAIL); }
function txCount(): u32 { return atomic.load<u32>(U + U_TX_HEAD) - atomic.load<u32>(U + U_TX_TAIL); }

/**
 * THR is empty (lock held): at once while the TX ring has room, else once the
 * I/O loop has drained it (uartTxNotify).
 */
function raiseThreWhenRoom(): void {
  if (txCount() < UART_TX_SIZE) setReg(U_THRE_IP, 1); else setReg(U_TX_WAIT, 1);
}

/** Recompute the interrupt line (lock held). */
function updateIrq(): void {
  const ier = reg(U_IER);
  const level = ((ier & 1) != 0 && rxCount() != 0) || ((ier & 2) != 0 && reg(U_THRE_IP) != 0);
  plicSetLevel(UART0_IRQ, level);
}

/** Append a byte to the TX ring (SBI console, HTIF). */
export function uartPutc(c: u32): void {
  lock();
  putcLocked(c);
  unlock();
}

/**
 * Append a byte (lock held); while the ring is full (nobody reads the
 * console) it waits for the I/O loop with the lock released, so that the
 * I/O loop and other harts are never blocked behind it. Once the VM is
 * stopping, this and every later byte is dropped: the vCPU runs on until it
 * sees the stop, and a byte dropped at a full ring followed by one that
 * found room after the I/O loop's next drain left a gap in the output.
 */
function putcLocked(c: u32): void {
  for (;;) {
    if (atomic.load<u32>(MACHINE_BASE + M_RUNSTATE) == RUNSTATE_SHUTDOWN) return;
    if (txCount() < UART_TX_SIZE) break;
    unlock();
    hostYield();
    lock();
  }
  const head = atomic.load<u32>(U + U_TX_HEAD);
  store<u8>(M_UART_TX + MACHINE_BASE + (head & (UART_TX_SIZE - 1)), <u8>c);
  atomic.store<u32>(U + U_TX_HEAD, head + 1);
  // wake the I/O loop when the ring was empty before this byte
  if (head == atomic.load<u32>(U + U_TX_TAIL)) {
    atomic.add<i32>(MACHINE_BASE + M_UART_DOORBELL, 1);
    atomic.notify(MACHINE_BASE + M_UART_DOORBELL, 1);
  }
}

/**
 * Append up to `n` bytes from host address `h` without blocking (SBI debug
 * console write); returns how many fitted in the ring.
 */
export function uartWrite(h: usize, n: u64): u64 {
  lock();
  const room = <u64>(UART_TX_SIZE - (atomic.load<u32>(U + U_TX_HEAD) - atomic.load<u32>(U + U_TX_TAIL)));
  const count = n < room ? n : room;
  for (let i: u64 = 0; i < count; i++) putcLocked(<u32>load<u8>(h + <usize>i));
  unlock();
  return count;
}

/** Next received byte or -1 (SBI console getchar). */
export function uartGetc(): i32 {
  lock();
  let c: i32 = -1;
  const tail = atomic.load<u32>(U + U_RX_TAIL);
  if (atomic.load<u32>(U + U_RX_HEAD) != tail) {
    c = <i32>load<u8>(MACHINE_BASE + M_UART_RX + (tail & (UART_RX_SIZE - 1)));
    atomic.store<u32>(U + U_RX_TAIL, tail + 1);
    updateIrq();
  }
  unlock();
  return c;
}

export function uartLoad(off: u32, size: u32): u64 {
  lock();
  let v: u32 = 0;
  const dlab = (reg(U_LCR) & 0x80) != 0;
  switch (off) {
    case 0:
      if (dlab) { v = reg(U_DLL); break; }
      {
        const tail = atomic.load<u32>(U + U_RX_TAIL);
        if (atomic.load<u32>(U + U_RX_HEAD) != tail) {
          v = load<u8>(MACHINE_BASE + M_UART_RX + (tail & (UART_RX_SIZE - 1)));
          atomic.store<u32>(U + U_RX_TAIL, tail + 1);
          updateIrq();
        }
      }
      break;
    case 1: v = dlab ? reg(U_DLM) : reg(U_IER); break;
    case 2: { // IIR: received data > THR empty > none; FIFOs enabled bits 6-7
      const ier = reg(U_IER);
      const fifo: u32 = (reg(U_FCR) & 1) != 0 ? 0xc0 : 0;
      if ((ier & 1) != 0 && rxCount() != 0) v = 0x04;
      else if ((ier & 2) != 0 && reg(U_THRE_IP) != 0) { v = 0x02; setReg(U_THRE_IP, 0); updateIrq(); }
      else v = 0x01;
      v |= fifo;
      break;
    }
    case 3: v = reg(U_LCR); break;
    case 4: v = reg(U_MCR); break;
    case 5: {
      // LSR: THR empty and transmitter empty while the TX ring has room (the console reader keeps up): a byte
      // in the ring counts as sent, as QEMU's 16550 is done with a byte once its chardev took it. (TEMT once
      // the ring was drained made Linux's console wait for the I/O loop after every line: 4% of a boot.)
      const queued = txCount();
      v = (queued < UART_TX_SIZE ? 0x60 : 0) | (rxCount() != 0 ? 1 : 0);
      break;
    }
    case 6: v = 0xb0; break; // MSR: DCD, DSR, CTS
    case 7: v = reg(U_SCR); break;
  }
  unlock();
  return <u64>v;
}

export function uartStore(off: u32, size: u32, val: u64): void {
  const v = <u32>val & 0xff;
  lock();
  const dlab = (reg(U_LCR) & 0x80) != 0;
  switch (off) {
    case 0:
      if (dlab) { setReg(U_DLL, v); break; }
      putcLocked(v);
      setReg(U_THRE_IP, 0);
      raiseThreWhenRoom();
      updateIrq();
      break;
    case 1:
      if (dlab) { setReg(U_DLM, v); break; }
      // enabling the THR-empty interrupt with THR empty raises it at once
      if ((v & 2) != 0 && (reg(U_IER) & 2) == 0) raiseThreWhenRoom();
      setReg(U_IER, v & 0x0f);
      updateIrq();
      break;
    case 2:
      setReg(U_FCR, v);
      if ((v & 2) != 0) { // clear the receive FIFO
        atomic.store<u32>(U + U_RX_TAIL, atomic.load<u32>(U + U_RX_HEAD));
        updateIrq();
      }
      break;
    case 3: setReg(U_LCR, v); break;
    case 4: setReg(U_MCR, v & 0x1f); break;
    case 7: setReg(U_SCR, v); break;
  }
  unlock();
}

/** Called by the I/O loop after it drained the TX ring: THR-empty comes back if a write was waiting for room. */
export function uartTxNotify(): void {
  if (atomic.load<u32>(U + U_TX_WAIT) == 0) return;
  lock();
  if (reg(U_TX_WAIT) != 0 && txCount() < UART_TX_SIZE) {
    setReg(U_TX_WAIT, 0);
    setReg(U_THRE_IP, 1);
    updateIrq();
  }
  unlock();
}

/** Called by the I/O loop (through the main thread's instance) after it filled the RX ring. */
export function uartRxNotify(): void {
  lock();
  updateIrq();
  unlock();
}
