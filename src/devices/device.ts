/** A device model on the main thread: registers at offsets of its MMIO window. */
export interface MmioDevice {
  readonly name: string;
  /** Read `size` (1, 2 or 4) bytes at `offset`; returns the value zero-extended. */
  read(offset: number, size: number): number;
  /** Write the low `size` (1, 2 or 4) bytes of `value` at `offset`. */
  write(offset: number, size: number, value: number): void;
}
