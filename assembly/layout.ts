// The shared-memory layout: the one source of truth.
//
// Everything the vCPU workers, the signal worker and the I/O loop share lives
// at these fixed offsets of the one shared WebAssembly.Memory. The constants
// are exported as Wasm globals (assembly/index.ts); the TypeScript side reads
// them from an instance (src/accel/layout.ts) and never hard-codes an offset.
//
//   [0, MACHINE_BASE)              AssemblyScript's own (no data segments, stub runtime)
//   [MACHINE_BASE, +MACHINE_SIZE)  machine block: header, doorbells, UART, PLIC, MMIO table
//   [VCPU_BASE, +n*VCPU_STRIDE)    one block per vCPU: registers, CSRs, run struct, TLB, decode cache
//   [ramHost, +ramSize)            guest RAM (guest physical RAM_BASE..)

export const LAYOUT_VERSION: u32 = 1;
/** mtime ticks per second (the device tree's timebase-frequency): the host's monotonic clock scaled. */
export const MTIME_HZ: u32 = 10_000_000;

// ---- machine block --------------------------------------------------------
export const MACHINE_BASE: u32 = 0x10000;
export const MACHINE_SIZE: u32 = 0x10000;

// header (written once by the accel layer before any vCPU starts)
export const M_MAGIC: u32 = 0x000;        // u32 'WKVM'
export const M_NHARTS: u32 = 0x004;       // u32
export const M_RAM_BASE: u32 = 0x008;     // u64 guest-physical start of RAM
export const M_RAM_SIZE: u32 = 0x010;     // u64 bytes
export const M_RAM_HOST: u32 = 0x018;     // u64 linear-memory offset of RAM
export const M_TOHOST: u32 = 0x020;       // u64 guest-physical HTIF tohost (0 = none)
export const M_FROMHOST: u32 = 0x028;     // u64 guest-physical HTIF fromhost (0 = none)
export const M_BOOT_FLAGS: u32 = 0x030;   // u32 BOOT_* flags
export const M_JIT_THRESHOLD: u32 = 0x034; // u32 block entries before translation (0 = the JIT is off)
export const M_TIME_BASE: u32 = 0x038;    // f64 ms: host performance clock at mtime 0 (per-process epoch)
// doorbells (i32, Atomics.wait/notify targets)
export const M_IO_DOORBELL: u32 = 0x040;  // bumped by a vCPU that left an exit for the I/O loop
export const M_SIG_DOORBELL: u32 = 0x044; // bumped when a timer deadline changes (signal worker)
export const M_UART_DOORBELL: u32 = 0x048;// bumped when the UART TX ring goes non-empty
export const M_RUNSTATE: u32 = 0x04c;     // i32 machine run state (RUNSTATE_*)
export const M_EXIT_CODE: u32 = 0x050;    // i32 guest exit status once RUNSTATE_SHUTDOWN
export const M_THREADS_UP: u32 = 0x054;   // i32 count of vCPU threads that have bound their vCPU (notified)
export const M_SIG_ARMED: u32 = 0x058;   // u64 deadline the signal worker sleeps until (U64_MAX while it scans)
export const M_TOUCHED_MAP: u32 = 0x068;  // u32 linear address of the touched-page map (TOUCHED_MAP_BYTES after the vCPU blocks)
export const TOUCHED_MAP_BYTES: u32 = 0x20000; // 1 bit per 4 KiB RAM page that may be non-zero (written by the guest or the host): a snapshot reads only those
export const M_SIG_TASK: u32 = 0x06c;     // i32 the signal worker's task: its id until it starts, -id once it runs, 0 once a stop cancelled it
export const M_JIT_BATCHES: u32 = 0x070;  // i32 batches of translations the vCPU threads made themselves (notified: the VM starts its translator thread after a few)
export const M_VIRTIO_OWNED: u32 = 0x074; // u32 bit per virtio-mmio slot: its queue notifies go to a thread of its own (a drive's I/O thread, waiting on the slot's M_VIRTIO_NOTIFY word), not to the I/O loop
export const M_VCPUS_PARKED: u32 = 0x064; // i32 vCPU threads parked by REQ_PAUSE (notified: pause() waits for all of them)
export const M_VIRTIO_DOORBELL: u32 = 0x060; // bumped when a vCPU rang a virtio queue notify (the I/O loop waits on it)
export const M_VIRTIO_NOTIFY: u32 = 0x080;   // u32 per virtio-mmio slot: bit q = queue q notified (the I/O loop takes them with exchange)
export const VIRTIO_NOTIFY_SLOTS: u32 = 8;   // words at M_VIRTIO_NOTIFY (board.ts VIRTIO_SLOTS must fit: checked by src/accel/module.ts)
export const M_VIRTIO_ISR: u32 = 0x0a0;      // u32 per virtio-mmio slot: its InterruptStatus (VIRTIO_NOTIFY_SLOTS words), changed with the slot's PLIC line under the PLIC lock

// MMIO regions served on the main thread: count u32 at +0, then (base u64, size u64) pairs
export const M_MMIO_TABLE: u32 = 0x100;
export const MMIO_TABLE_MAX: u32 = 15;

// ns16550a UART0 register file (served in Wasm; the I/O loop drains TX and fills RX)
export const M_UART: u32 = 0x200;
export const U_LOCK: u32 = 0x00;   // i32 spinlock
export const U_IER: u32 = 0x04;
export const U_LCR: u32 = 0x08;
export const U_MCR: u32 = 0x0c;
export const U_SCR: u32 = 0x10;
export const U_DLL: u32 = 0x14;
export const U_DLM: u32 = 0x18;
export const U_FCR: u32 = 0x1c;
export const U_THRE_IP: u32 = 0x20; // THR-empty interrupt pending (cleared by IIR read / THR write)
export const U_TX_HEAD: u32 = 0x24; // u32 producer index (vCPU)
export const U_TX_TAIL: u32 = 0x28; // u32 consumer index (I/O loop)
export const U_RX_HEAD: u32 = 0x2c; // u32 producer index (I/O loop)
export const U_RX_TAIL: u32 = 0x30; // u32 consumer index (vCPU)
export const U_LSR_ERR: u32 = 0x34;
export const U_TX_WAIT: u32 = 0x38; // 1 while THR-empty waits for room in the TX ring (nobody is reading the console)
export const M_UART_TX: u32 = 0x400;  // TX ring bytes
export const UART_TX_SIZE: u32 = 0x1000;
export const M_UART_RX: u32 = 0x1400; // RX ring bytes
export const UART_RX_SIZE: u32 = 0x400;

// PLIC (served in Wasm; devices raise lines through plic_set_level)
export const PLIC_SOURCES: u32 = 128;
export const M_PLIC_PRIORITY: u32 = 0x2000;  // u32[PLIC_SOURCES]
export const M_PLIC_PENDING: u32 = 0x2200;   // u32[PLIC_SOURCES/32]
export const M_PLIC_LEVEL: u32 = 0x2210;     // u32[PLIC_SOURCES/32] current line level
export const M_PLIC_CLAIMED: u32 = 0x2220;   // u32[PLIC_SOURCES/32] in service
export const M_PLIC_LOCK: u32 = 0x2230;      // i32 spinlock
export const M_PLIC_CTX: u32 = 0x2400;       // per context: enable u32[4], threshold u32
export const PLIC_CTX_STRIDE: u32 = 32;      // 2 contexts per hart (M, S) => 256 contexts = 8 KiB

// debugger (src/debug, the gdb stub): breakpoints and watchpoints, written by the host while every vCPU is parked.
// The vCPUs look at them only on slow paths (decode-cache fill, TLB fill, slow loads/stores), and only while
// M_DBG_FLAGS says some are set; the host makes each hart flush its decode cache and TLBs (V_RFENCE) on a change.
export const M_DBG_FLAGS: u32 = 0x8000;   // u32 DBG_* bits: what is active (0 = full speed, the JIT allowed)
export const M_DBG_NBP: u32 = 0x8004;     // u32 breakpoints in M_DBG_BP
export const M_DBG_NWP: u32 = 0x8008;     // u32 watchpoints in M_DBG_WP
export const M_DBG_BP: u32 = 0x8010;      // u64[DBG_BP_MAX] guest-virtual breakpoint addresses
export const DBG_BP_MAX: u32 = 64;
export const M_DBG_WP: u32 = 0x8210;      // DBG_WP_MAX x (va u64, length u64, DBG_WATCH_* u32, pad u32)
export const DBG_WP_MAX: u32 = 16;
export const DBG_WP_STRIDE: u32 = 24;

// ---- per-vCPU block -------------------------------------------------------
export const VCPU_BASE: u32 = MACHINE_BASE + MACHINE_SIZE;
export const V_X: u32 = 0x000;        // u64 x[0..31], x[32] = sink for writes to x0
export const V_PC: u32 = 0x110;       // u64
export const V_PRIV: u32 = 0x118;     // u32 0=U 1=S 3=M
export const V_HARTID: u32 = 0x11c;   // u32
export const V_F: u32 = 0x200;        // u64 f[0..31]
export const V_CSR: u32 = 0x300;      // u64 CSR file, indexed by CSR_* below
// cross-thread words (i32, atomics only)
export const V_PENDING: u32 = 0x800;  // mip bits (low 16) | REQ_* bits (high 16); Atomics.wait target
export const V_HSM: u32 = 0x804;      // SBI HSM state (HSM_*); Atomics.wait target of a stopped hart
export const V_HSM_ADDR: u32 = 0x808; // u64 start address for hart_start
export const V_HSM_ARG: u32 = 0x810;  // u64 opaque for hart_start
export const V_MTIMECMP: u32 = 0x818; // u64 CLINT mtimecmp (U64_MAX = never)
export const V_RFENCE: u32 = 0x820;   // i32 remote-fence request bits (RFENCE_*)
export const V_IN_RUN: u32 = 0x824;  // i32 1 while the vCPU is inside run() (remote fences wait only for those)
export const V_STIMECMP: u32 = 0x828; // u64 effective S-timer deadline (Sstc stimecmp or SBI set_timer; U64_MAX = none)
export const V_SPIN_NEXT: u32 = 0x830; // u32 entries of the spin-detection ring recorded since the last store
export const V_DBG_STEP: u32 = 0x834; // i32 1: the debugger asked this hart to run one instruction (the worker clears it)
export const V_SPIN_RING: u32 = 0xc00; // SPIN_RING x (pc u64, state hash u64) seen at slice checks
export const SPIN_RING: u32 = 16;
export const V_TLB_EPOCHS: u32 = 0xb00; // u32[3 TLBs][TLB_KEYS + 1]: each TLB's epoch under each permission key (0 = none yet), then the last one handed out
export const TLB_KEYS: u32 = 16;
export const V_SCRATCH_INSN: u32 = 0xf00; // 16 B decode entry for instructions that are not cached (page-crossing)
// run struct (kvm_run's analog): RUN_BYTES from V_RUN, fields R_* below
export const V_RUN: u32 = 0x900;
export const RUN_BYTES: u32 = 0x200;
export const R_EXIT: u32 = 0x00;      // u32 EXIT_*
export const R_SIZE: u32 = 0x04;      // u32 MMIO access size
export const R_ADDR: u32 = 0x08;      // u64 MMIO guest-physical address
export const R_DATA: u32 = 0x10;      // u64 MMIO data (store value / load result)
export const R_WRITE: u32 = 0x18;     // u32 1 = store
export const R_DEST: u32 = 0x1c;      // u32 load destination (internal): reg | 0x20 for f-reg | 0x40 sign-extend
export const R_CODE: u32 = 0x20;      // u32 shutdown/exit code
export const R_ACK: u32 = 0x24;       // i32 completion word: I/O loop stores 1 + notify
export const R_INSNS: u32 = 0x28;     // u64 instructions retired (statistics)
export const R_EXITS: u32 = 0x30;     // u64 exits taken
export const R_JIT_INSNS: u32 = 0x38; // u64 instructions retired inside translations (statistics)
export const R_JIT_BLOCKS: u32 = 0x40; // u64 translations installed (written by the vCPU worker)
export const R_JIT_COMPILE_US: u32 = 0x48; // u64 microseconds spent translating (on whichever thread: src/jit/service.ts) and installing
export const R_JIT_MODULES: u32 = 0x50; // u64 Wasm modules compiled
export const R_JIT_FLUSHES: u32 = 0x58; // u64 whole-cache flushes (memory bound reached)
export const R_FAILURE: u32 = 0x60;   // u32 1: a shutdown/reset exit came with SBI SRST reason "system failure"
export const R_THREAD_ID: u32 = 0x64; // i32 the host OS thread running the vCPU (its worker writes it; QMP's thread-id)
// statistics for load tests: counted where the work is slow anyway (a trap, a page walk, a decode, an exit)
export const R_IRQS: u32 = 0x68;            // u64 interrupts taken
export const R_TLB_MISSES: u32 = 0x70;      // u64 TLB entries filled after a page-table walk (or a bare-mode lookup)
export const R_DECODE_MISSES: u32 = 0x78;   // u64 instructions decoded into the decode cache
export const R_TIME_HALT_MS: u32 = 0x80;    // f64 milliseconds the thread slept in WFI, HSM suspend or HSM stop (its worker writes it)
export const R_TIME_SPIN_MS: u32 = 0x88;    // f64 milliseconds it gave away on spin loops and pause hints
export const R_TIME_PAUSED_MS: u32 = 0x90;  // f64 milliseconds it was parked by the host (pause())
export const R_THREAD_START_MS: u32 = 0x98; // f64 when the thread started (performance.timeOrigin + now(), ms): running time = since - the three above
export const R_EXIT_COUNTS: u32 = 0xa0;     // u64[EXIT_KINDS]: exits by reason (EXIT_*)
export const EXIT_KINDS: u32 = 16;
export const R_WAIT_KIND: u32 = 0x120;      // i32 the wait the thread is in now (0 none, else one of the R_TIME_* fields above)
export const R_WAIT_SINCE_MS: u32 = 0x128;  // f64 when it began (a reader adds the time so far to that field)
// the debugger (assembly/debug.ts)
export const R_DBG: u32 = 0x130;      // u32 EXIT_DEBUG's cause (DBG_STOP_*)
export const R_DBG_KIND: u32 = 0x134; // u32 DBG_STOP_WATCH: DBG_WATCH_* of the access | index of the watchpoint hit << 8
export const R_DBG_ADDR: u32 = 0x138; // u64 DBG_STOP_WATCH: the data address accessed
export const R_JIT_OFFLOADED: u32 = 0x140; // u64 batches of this vCPU's translations made by the VM's translator thread (src/jit/thread.ts)
export const R_JIT_STALLED_US: u32 = 0x148; // u64 microseconds of that time on the vCPU's own thread (its guest stopped meanwhile)
// translation caches
export const V_TLB: u32 = 0x1000;     // 3 TLBs (load, store, fetch) x TLB_ENTRIES x 16 B
export const TLB_ENTRIES: u32 = 256;
export const V_ICACHE: u32 = 0x10000; // decode cache: ICACHE_ENTRIES x 16 B
export const ICACHE_ENTRIES: u32 = 65536;
export const V_CODEMAP: u32 = 0x110000; // 1 bit per 4 KiB RAM page that holds decoded code
export const CODEMAP_BYTES: u32 = 0x20000; // covers 4 GiB of RAM
// the JIT tier (assembly/jit.ts, src/jit): translations of hot blocks, keyed by host address
export const V_JITMAP: u32 = 0x130000;   // 1 bit per 4 KiB RAM page that holds the start of a translation
export const V_JIT_TAGS: u32 = 0x150000; // u64[JIT_ENTRIES]: host address | decode generation of slot i's translation (0 = none)
export const JIT_ENTRIES: u32 = 16384;   // translation slots per vCPU (slot i is WebAssembly.Table index JIT_TABLE_BASE + i)
export const JIT_TABLE_BASE: u32 = 1;    // the table's first JIT slot (index 0 stays null)
export const V_JIT_COUNTS: u32 = 0x170000; // u32[JIT_COUNTERS]: taken branches to a block start, by virtual address hash
export const JIT_COUNTERS: u32 = 4096;
export const V_JIT_QUEUE: u32 = 0x174000; // u32 count, u32 scratch immediate, then JIT_QUEUE_MAX x (pc u64, host u64): blocks found hot
export const JIT_QUEUE_MAX: u32 = 128;
export const VCPU_STRIDE: u32 = 0x178000;

// ---- CSR file slots (V_CSR + 8*slot) --------------------------------------
export const CSR_MSTATUS: u32 = 0;
export const CSR_MISA: u32 = 1;
export const CSR_MEDELEG: u32 = 2;
export const CSR_MIDELEG: u32 = 3;
export const CSR_MIE: u32 = 4;
export const CSR_MTVEC: u32 = 5;
export const CSR_MCOUNTEREN: u32 = 6;
export const CSR_MSCRATCH: u32 = 7;
export const CSR_MEPC: u32 = 8;
export const CSR_MCAUSE: u32 = 9;
export const CSR_MTVAL: u32 = 10;
export const CSR_STVEC: u32 = 11;
export const CSR_SCOUNTEREN: u32 = 12;
export const CSR_SSCRATCH: u32 = 13;
export const CSR_SEPC: u32 = 14;
export const CSR_SCAUSE: u32 = 15;
export const CSR_STVAL: u32 = 16;
export const CSR_SATP: u32 = 17;
export const CSR_FCSR: u32 = 18;
export const CSR_RETIRED: u32 = 19;  // instructions retired since reset (every counter counts from it; slot 20 is free)
export const CSR_MENVCFG: u32 = 21;
export const CSR_SENVCFG: u32 = 22;
export const CSR_STIMECMP: u32 = 23;
export const CSR_MCOUNTINHIBIT: u32 = 24;
export const CSR_MSECCFG: u32 = 25;
export const CSR_PMPCFG: u32 = 32;   // 16 slots: pmpcfg0..15 (only even used on RV64)
export const CSR_PMPADDR: u32 = 48;  // 64 slots
// counter n (0 mcycle, 2 minstret, 3..2+HPM_COUNTERS mhpmcounter): its value
// while it counts is this slot + retired instructions, while stopped the slot itself
export const CSR_COUNTER: u32 = 112; // 3 + HPM_COUNTERS slots (slot 1, time, unused)
export const HPM_COUNTERS: u32 = 16; // mhpmcounter3..18, as QEMU's default rv64 CPU (pmu-num 16)
export const CSR_MHPMEVENT: u32 = 131; // HPM_COUNTERS slots: mhpmevent3..18
export const CSR_SLOTS: u32 = 147;

// ---- enumerations ----------------------------------------------------------
export const EXIT_NONE: u32 = 0;      // time slice ended
export const EXIT_MMIO: u32 = 1;
export const EXIT_WFI: u32 = 2;
export const EXIT_REQUEST: u32 = 3;   // a REQ_* bit is set
export const EXIT_SHUTDOWN: u32 = 4;  // R_CODE = exit status
export const EXIT_RESET: u32 = 5;
export const EXIT_PAUSE: u32 = 6;     // spin-wait hint: give the core away briefly
export const EXIT_HSM_STOP: u32 = 7;  // hart stopped itself (SBI HSM)
export const EXIT_HSM_SUSPEND: u32 = 8;
export const EXIT_SPIN: u32 = 9;      // a loop that changes nothing: waiting on another hart (yield when overcommitted)
export const EXIT_DEBUG: u32 = 10;    // a debug stop (R_DBG): the vCPU stays at V_PC, the instruction there not executed

export const DBG_BREAK: u32 = 1;      // M_DBG_FLAGS: breakpoints set
export const DBG_WATCH: u32 = 2;      // M_DBG_FLAGS: watchpoints set
export const DBG_STEP: u32 = 4;       // M_DBG_FLAGS: a hart is single-stepping
export const DBG_WATCH_WRITE: u32 = 1;
export const DBG_WATCH_READ: u32 = 2;
export const DBG_STOP_BREAK: u32 = 1;
export const DBG_STOP_STEP: u32 = 2;
export const DBG_STOP_WATCH: u32 = 3;

export const REQ_STOP: u32 = 1 << 16;
export const REQ_PAUSE: u32 = 1 << 17;
export const REQ_EXIT: u32 = 1 << 18;  // just leave run() (e.g. to look at HSM state)
export const MIP_MASK: u32 = 0xffff;
export const PENDING_SW_SEIP: u32 = 1 << 24; // mip.SEIP as written by M-mode software (OR-ed with the PLIC's line)

export const HSM_STARTED: u32 = 0;
export const HSM_STOPPED: u32 = 1;
export const HSM_START_PENDING: u32 = 2;
export const HSM_STOP_PENDING: u32 = 3;
export const HSM_SUSPENDED: u32 = 4;
export const HSM_START_CLAIMED: u32 = 5; // wkvm's own: a hart_start is writing the start address (reported as START_PENDING)

export const RFENCE_FENCE_I: u32 = 1;
export const RFENCE_SFENCE_VMA: u32 = 2;

export const BOOT_SBI: u32 = 1;       // serve SBI ecalls from S-mode in Wasm (no firmware)

export const RUNSTATE_RUNNING: u32 = 0;
export const RUNSTATE_SHUTDOWN: u32 = 1;
export const RUNSTATE_RESET: u32 = 2;
