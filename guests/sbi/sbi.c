/*
 * The SBI as a kernel sees it: BASE, TIME, IPI, RFENCE, HSM (with both
 * default suspend types), SRST and (when
 * probed) DBCN, with the standard error codes for bad input. Runs in S-mode
 * under wkvm's built-in SBI (no -bios) and under QEMU with its OpenSBI, the
 * witness. Prints "sbi: PASS" and shuts down through SRST; on a failure it
 * prints "sbi: FAIL n" and shuts down (SRST with reason "system failure").
 * Uses the secondary hart only when the FDT lists two or more.
 */
#include "lib.h"

#define EXT_BASE   0x10
#define EXT_TIME   0x54494d45
#define EXT_IPI    0x735049
#define EXT_RFENCE 0x52464e43
#define EXT_HSM    0x48534d
#define EXT_SRST   0x53525354
#define EXT_DBCN   0x4442434e
#define EXT_BOGUS  0x0abcdef0

#define ERR_NOT_SUPPORTED     (-2)
#define ERR_INVALID_PARAM     (-3)
#define ERR_ALREADY_AVAILABLE (-6)
#define HSM_STOPPED 1

#define SUSPEND_RETENTIVE     0
#define SUSPEND_NON_RETENTIVE 0x80000000L
#define RESUME_OPAQUE         0x5b00L
#define WATCH_OPAQUE          0x5c00L
#define HSM_SUSPENDED 4
#define SSTATUS_SIE (1UL << 1)
#define SIP_SSIP (1UL << 1)
#define SIP_STIP (1UL << 5)
#define TICKS_PER_MS 10000UL   /* virt: 10 MHz timebase */

struct sbiret { long error; long value; };

static struct sbiret sbi(long ext, long fid, long a0, long a1, long a2, long a3)
{
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r3 __asm__("a3") = a3;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = ext;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r3), "r"(r6), "r"(r7) : "memory");
    return (struct sbiret){ r0, r1 };
}

static inline u64 rdtime(void) { u64 t; __asm__ volatile("rdtime %0" : "=r"(t)); return t; }
static inline u64 read_sip(void) { u64 v; __asm__ volatile("csrr %0, sip" : "=r"(v)); return v; }

__attribute__((noreturn)) static void shutdown(long reason)
{
    sbi(EXT_SRST, 0, 0 /* shutdown */, reason, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}

__attribute__((noreturn)) static void fail(int n, struct sbiret r)
{
    puts("sbi: FAIL ");
    put_dec(n);
    puts(" (error ");
    put_sdec(r.error);
    puts(", value 0x");
    put_hex(r.value, 16);
    puts(")\n");
    shutdown(1);
}

__attribute__((noreturn)) void trap_fail(u64 cause, u64 epc, u64 tval)
{
    puts("sbi: FAIL unexpected trap, scause 0x");
    put_hex(cause, 16);
    puts(" sepc 0x");
    put_hex(epc, 16);
    puts(" stval 0x");
    put_hex(tval, 16);
    puts("\n");
    shutdown(1);
}

static void expect(int n, struct sbiret r, long error)
{
    if (r.error != error)
        fail(n, r);
}

/* wait (WFI) until `bits` show in sip, at most 2 s */
static void wait_sip(int n, u64 bits)
{
    u64 until = rdtime() + 2000 * TICKS_PER_MS;
    while ((read_sip() & bits) != bits) {
        if (rdtime() > until)
            fail(n, (struct sbiret){ 0, (long)read_sip() });
        __asm__ volatile("wfi");
    }
}

static volatile u64 secondary_seen;   /* hart id + opaque, written by the secondary */
static volatile u32 secondary_ipi;

static volatile u64 boot_hart;
static char zeros[16384];             /* a long buffer of NULs for the debug console */
static volatile long watcher_saw;     /* the boot hart's HSM state as the watcher last read it */

/* hart_start'ed with WATCH_OPAQUE: wait until the boot hart is SUSPENDED,
 * wake it with an IPI, stop */
static void watch_boot_hart(void)
{
    u64 until = rdtime() + 2000 * TICKS_PER_MS;
    do
        watcher_saw = sbi(EXT_HSM, 2, (long)boot_hart, 0, 0, 0).value;
    while (watcher_saw != HSM_SUSPENDED && rdtime() < until);
    sbi(EXT_IPI, 0, 1, (long)boot_hart, 0, 0);
    sbi(EXT_HSM, 1, 0, 0, 0, 0); /* hart_stop: does not return */
}

void secondary_main(u64 hartid, u64 opaque)
{
    if (opaque == WATCH_OPAQUE)
        watch_boot_hart();
    store_release32(&secondary_ipi, 0);
    secondary_seen = hartid + opaque;
    __asm__ volatile("csrs sie, %0" :: "r"(SIP_SSIP));
    while (!(read_sip() & SIP_SSIP))
        __asm__ volatile("wfi");
    __asm__ volatile("csrc sip, %0" :: "r"(SIP_SSIP));
    store_release32(&secondary_ipi, 1);
    sbi(EXT_HSM, 1, 0, 0, 0, 0); /* hart_stop: does not return */
    for (;;)
        ;
}

extern char secondary_entry[], resume_entry[];

void boot_main(u64 hartid, const void *fdt)
{
    struct fdt_info info;
    u32 ncpus = fdt_parse(fdt, &info) == 0 ? info.ncpus : 1;
    struct sbiret r;

    /* BASE: version 0.2 or later (the extension calls below need it), probes, bad calls */
    r = sbi(EXT_BASE, 0, 0, 0, 0, 0);
    expect(1, r, 0);
    if ((r.value >> 24) == 0 && (r.value & 0xffffff) < 2)
        fail(1, r);
    const long exts[] = { EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST };
    for (int i = 0; i < 5; i++) {
        r = sbi(EXT_BASE, 3, exts[i], 0, 0, 0);
        if (r.error != 0 || r.value == 0)
            fail(2 + i, r);
    }
    r = sbi(EXT_BASE, 3, EXT_BOGUS, 0, 0, 0);
    if (r.error != 0 || r.value != 0)
        fail(7, r);
    expect(8, sbi(EXT_BOGUS, 0, 0, 0, 0, 0), ERR_NOT_SUPPORTED);
    expect(9, sbi(EXT_BASE, 99, 0, 0, 0, 0), ERR_NOT_SUPPORTED);

    /* TIME: the S timer interrupt is pending once the deadline passed, and a
     * deadline far ahead withdraws it */
    __asm__ volatile("csrs sie, %0" :: "r"(SIP_STIP));
    u64 deadline = rdtime() + TICKS_PER_MS;
    expect(10, sbi(EXT_TIME, 0, (long)deadline, 0, 0, 0), 0);
    wait_sip(11, SIP_STIP);
    if (rdtime() < deadline)
        fail(12, (struct sbiret){ 0, (long)rdtime() });
    expect(13, sbi(EXT_TIME, 0, -1, 0, 0, 0), 0);
    if (read_sip() & SIP_STIP)
        fail(14, (struct sbiret){ 0, (long)read_sip() });
    __asm__ volatile("csrc sie, %0" :: "r"(SIP_STIP));

    /* IPI to this hart */
    __asm__ volatile("csrs sie, %0" :: "r"(SIP_SSIP));
    expect(15, sbi(EXT_IPI, 0, 1L << hartid, 0, 0, 0), 0);
    wait_sip(16, SIP_SSIP);
    __asm__ volatile("csrc sip, %0" :: "r"(SIP_SSIP));
    __asm__ volatile("csrc sie, %0" :: "r"(SIP_SSIP));
    expect(17, sbi(EXT_IPI, 0, 1, 4096, 0, 0), ERR_INVALID_PARAM);
    expect(32, sbi(EXT_IPI, 0, 4, -2, 0, 0), ERR_INVALID_PARAM);  /* base + 2 wraps past 2^64 to 0 */

    /* RFENCE to every hart (hart_mask_base = -1), and to a hart that is not there */
    expect(18, sbi(EXT_RFENCE, 0, 0, -1, 0, 0), 0);             /* remote_fence_i */
    expect(19, sbi(EXT_RFENCE, 1, 0, -1, 0, -1), 0);            /* remote_sfence_vma, all */
    expect(20, sbi(EXT_RFENCE, 0, 1, 4096, 0, 0), ERR_INVALID_PARAM);

    /* HSM: this hart is started; a hart that is not there; then start the
     * second hart, which reports in, takes an IPI and stops itself */
    r = sbi(EXT_HSM, 2, (long)hartid, 0, 0, 0);
    if (r.error != 0 || r.value != 0)
        fail(21, r);
    expect(22, sbi(EXT_HSM, 0, (long)hartid, (long)secondary_entry, 0, 0), ERR_ALREADY_AVAILABLE);
    expect(23, sbi(EXT_HSM, 0, 4096, (long)secondary_entry, 0, 0), ERR_INVALID_PARAM);
    expect(24, sbi(EXT_HSM, 2, 4096, 0, 0, 0), ERR_INVALID_PARAM);
    if (ncpus >= 2) {
        u64 other = hartid == 0 ? 1 : 0;
        /* the other hart is stopped, or on its way there: a firmware's
         * secondary harts get to their stop loop on their own after boot
         * (QEMU's OpenSBI on a loaded host answered STARTED at first) */
        u64 until = rdtime() + 2000 * TICKS_PER_MS;
        do {
            r = sbi(EXT_HSM, 2, (long)other, 0, 0, 0);
            if (r.error != 0 || rdtime() > until)
                fail(25, r);
        } while (r.value != HSM_STOPPED);
        expect(26, sbi(EXT_HSM, 0, (long)other, (long)secondary_entry, 0x5a00, 0), 0);
        until = rdtime() + 2000 * TICKS_PER_MS;
        while (secondary_seen != other + 0x5a00)
            if (rdtime() > until)
                fail(27, (struct sbiret){ 0, (long)secondary_seen });
        expect(28, sbi(EXT_IPI, 0, 1, (long)other, 0, 0), 0);
        while (!load_acquire32(&secondary_ipi))
            if (rdtime() > until)
                fail(29, (struct sbiret){ 0, 0 });
        do {
            r = sbi(EXT_HSM, 2, (long)other, 0, 0, 0);
            if (rdtime() > until)
                fail(30, r);
        } while (r.error != 0 || r.value != HSM_STOPPED);
    }

    /* HSM suspend, default retentive: like WFI, returns 0 once an interrupt
     * enabled in sie is pending (the timer; sstatus.SIE stays 0) */
    __asm__ volatile("csrs sie, %0" :: "r"(SIP_STIP));
    deadline = rdtime() + 2 * TICKS_PER_MS;
    expect(33, sbi(EXT_TIME, 0, (long)deadline, 0, 0, 0), 0);
    expect(34, sbi(EXT_HSM, 3, SUSPEND_RETENTIVE, 0, 0, 0), 0);
    if (!(read_sip() & SIP_STIP) || rdtime() < deadline)
        fail(35, (struct sbiret){ 0, (long)read_sip() });
    expect(36, sbi(EXT_TIME, 0, -1, 0, 0, 0), 0);
    expect(37, sbi(EXT_HSM, 3, 1 /* reserved type */, 0, 0, 0), ERR_INVALID_PARAM);
    boot_hart = hartid;
    if (ncpus >= 2) {
        /* another hart sees this one SUSPENDED and wakes it with an IPI */
        u64 other = hartid == 0 ? 1 : 0;
        __asm__ volatile("csrs sie, %0" :: "r"(SIP_SSIP));
        expect(42, sbi(EXT_HSM, 0, (long)other, (long)secondary_entry, WATCH_OPAQUE, 0), 0);
        expect(43, sbi(EXT_HSM, 3, SUSPEND_RETENTIVE, 0, 0, 0), 0);
        if (!(read_sip() & SIP_SSIP) || watcher_saw != HSM_SUSPENDED)
            fail(44, (struct sbiret){ watcher_saw, (long)read_sip() });
        __asm__ volatile("csrc sip, %0" :: "r"(SIP_SSIP));
        __asm__ volatile("csrc sie, %0" :: "r"(SIP_SSIP));
        u64 until = rdtime() + 2000 * TICKS_PER_MS;
        do {
            r = sbi(EXT_HSM, 2, (long)other, 0, 0, 0);
            if (rdtime() > until)
                fail(45, r);
        } while (r.error != 0 || r.value != HSM_STOPPED);
    }
    /* default non-retentive: the hart wakes at resume_entry as if started
     * afresh (a0 = hart id, a1 = opaque); the test goes on in resume_main */
    deadline = rdtime() + 2 * TICKS_PER_MS;
    expect(38, sbi(EXT_TIME, 0, (long)deadline, 0, 0, 0), 0);
    r = sbi(EXT_HSM, 3, SUSPEND_NON_RETENTIVE, (long)resume_entry, RESUME_OPAQUE, 0);
    fail(39, r);
}

void resume_main(u64 hartid, u64 opaque)
{
    struct sbiret r;
    u64 sstatus;
    __asm__ volatile("csrr %0, sstatus" : "=r"(sstatus));
    if (hartid != boot_hart || opaque != RESUME_OPAQUE || (sstatus & SSTATUS_SIE))
        fail(40, (struct sbiret){ (long)hartid, (long)opaque });
    expect(41, sbi(EXT_TIME, 0, -1, 0, 0, 0), 0);
    __asm__ volatile("csrc sie, %0" :: "r"(SIP_STIP));

    /* DBCN, where the SBI offers it (SBI 2.0; QEMU 7.2's OpenSBI does not) */
    r = sbi(EXT_BASE, 3, EXT_DBCN, 0, 0, 0);
    if (r.error == 0 && r.value != 0) {
        static const char msg[] = "sbi: dbcn\n";
        r = sbi(EXT_DBCN, 0, sizeof msg - 1, (long)msg, 0, 0);
        if (r.error != 0 || r.value != (long)(sizeof msg - 1))
            fail(31, r);
        /* a length that wraps past the end of the address space, a high address half on RV64 */
        expect(46, sbi(EXT_DBCN, 0, -8, (long)msg, 0, 0), ERR_INVALID_PARAM);
        expect(47, sbi(EXT_DBCN, 0, 1, (long)msg, 1, 0), ERR_INVALID_PARAM);
        /* the call does not block: a long buffer may be written in part */
        r = sbi(EXT_DBCN, 0, sizeof zeros, (long)zeros, 0, 0);
        if (r.error != 0 || r.value <= 0 || r.value > (long)sizeof zeros)
            fail(48, r);
    }

    puts("sbi: PASS\n");
    shutdown(0);
}
