/** The types of the VM's debug interface (`vm.debug`; implemented in debugger.ts). */

/** A register of a hart: x0-x31, pc, f0-f31, a CSR by number (fflags, frm, fcsr and a few more), the privilege level. */
export type DebugRegister =
  | { kind: 'x'; index: number }
  | { kind: 'pc' }
  | { kind: 'f'; index: number }
  | { kind: 'csr'; csr: number }
  | { kind: 'priv' };

export type WatchKind = 'write' | 'read' | 'access';

/** Why the harts stopped (all of them are parked when the promise of `resume()` settles). */
export type DebugStop =
  | { reason: 'breakpoint' | 'step' | 'interrupt'; hart: number }
  | { reason: 'watchpoint'; hart: number; address: bigint; kind: WatchKind }
  | { reason: 'exited'; code: number };

/** Per hart: run one instruction, or run on until a stop. */
export interface ResumeActions {
  /** Harts that run exactly one instruction. */
  step?: readonly number[];
  /** Let every other hart run too (gdb's `c`, `vCont;s:1;c`); else only the stepping harts run. */
  continueOthers?: boolean;
}

/**
 * `vm.debug`: stop, inspect and step a guest (the gdb stub's control plane).
 * All-stop: when one hart stops, every hart is parked.
 */
export interface VmDebug {
  readonly harts: number;
  /** Whether the harts run for the debugger (a resume() waits for its stop). */
  readonly running: boolean;
  /** Stop every hart; a pending resume() settles with 'interrupt' for `hart`. */
  interrupt(hart?: number): Promise<void>;
  /** Let the harts run; resolves once they have all stopped again. */
  resume(actions?: ResumeActions): Promise<DebugStop>;
  /** A breakpoint at a guest-virtual address (no guest memory is written); false when the table (64) is full. */
  addBreakpoint(address: bigint): boolean;
  removeBreakpoint(address: bigint): boolean;
  /** A watchpoint on guest-virtual [address, address + length); false when the table (16) is full or the range is bad. */
  addWatchpoint(address: bigint, length: bigint, kind: WatchKind): boolean;
  removeWatchpoint(address: bigint, length: bigint, kind: WatchKind): boolean;
  /** Remove every breakpoint and watchpoint. */
  clearAll(): void;
  /** A register of a stopped hart; undefined when unknown. */
  readRegister(hart: number, reg: DebugRegister): bigint | undefined;
  /** Set x1-x31, pc, f0-f31, fflags/frm/fcsr of a stopped hart; false for other registers. */
  writeRegister(hart: number, reg: DebugRegister, value: bigint): boolean;
  /** The guest-physical address of `va` under the hart's current translation, or undefined. */
  translate(hart: number, va: bigint): bigint | undefined;
  /** Guest-virtual memory through the hart's translation (RAM only); a prefix up to the first unmapped page, undefined if none. */
  readMemory(hart: number, address: bigint, length: number): Uint8Array | undefined;
  /** Write all of `data` or nothing (false). */
  writeMemory(hart: number, address: bigint, data: Uint8Array): boolean;
}
