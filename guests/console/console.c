/*
 * The console guest: a tiny line-oriented shell on the serial console, for
 * the tests of the control plane (the Node API, QMP, the gdb stub) that need
 * a guest that stays up, answers input, and can reboot, power off or report
 * a failure through the SBI. It runs in S-mode on an SBI (wkvm's built-in
 * one, OpenSBI under QEMU).
 *
 * Prints "console ready (boot N)" and the prompt "> ", echoes what is
 * typed, and runs each line:
 *   echo TEXT   print TEXT
 *   count       print how many lines were run so far
 *   spin        count in `spin_counter` until input arrives (a busy vCPU)
 *   mmio N      N rounds of loads from virtio-mmio slot 0 (served by the host:
 *               each an MMIO exit), MagicValue and Version alternately, each
 *               checked (Version as first read: 2, or QEMU's legacy 1): prints "mmio ok" or "mmio bad at K" (snapshots taken
 *               meanwhile must not lose a load's answer)
 *   poweroff    SBI system reset: shutdown, no reason
 *   reboot      SBI system reset: cold reboot
 *   fail        SBI system reset: shutdown, reason "system failure"
 *   failreset   SBI system reset: cold reboot, reason "system failure"
 * Anything else prints "?".
 */
#include "lib.h"

#define SBI_EXT_SRST 0x53525354

static long sbi_srst(long type, long reason)
{
    register long a0 __asm__("a0") = type;
    register long a1 __asm__("a1") = reason;
    register long a6 __asm__("a6") = 0;
    register long a7 __asm__("a7") = SBI_EXT_SRST;
    __asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
    return a0;
}

static int uart_ready(void) { return MMIO8(UART0 + 5) & 0x01; }   /* LSR.DR */
static char uart_getc(void)
{
    while (!uart_ready())
        ;
    return (char)MMIO8(UART0);
}

/* boot count: kept across a reboot only by chance; RAM is cleared, so it is always 1 */
static volatile u64 boots;
volatile u64 spin_counter;     /* `spin` counts here (a debugger can watch it) */
static u64 lines;

static u64 parse_dec(const char *s)
{
    u64 v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (u64)(*s++ - '0');
    return v;
}

static void mmio_rounds(u64 n)
{
    u32 v0 = MMIO32(VIRTIO0 + 0x004);           /* 2 (QEMU's default legacy transport: 1) */
    for (u64 i = 0; i < n; i++) {
        /* both loads into the same register: an answer lost between them leaves the other value there */
        u64 magic, version;
        __asm__ volatile("lw t0, 0(%2)\n\tmv %0, t0\n\tlw t0, 4(%2)\n\tmv %1, t0"
                         : "=r"(magic), "=r"(version) : "r"(VIRTIO0) : "t0", "memory");
        if ((u32)magic != 0x74726976 || (u32)version != v0 || (v0 != 1 && v0 != 2)) {
            puts("mmio bad at ");
            put_dec(i);
            putc('\n');
            return;
        }
    }
    puts("mmio ok\n");
}

static int starts_with(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return 0;
    return 1;
}
static int equals(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

void console_main(void)
{
    char line[128];
    boots++;
    puts("console ready (boot ");
    put_dec(boots);
    puts(")\n");
    for (;;) {
        puts("> ");
        u32 n = 0;
        for (;;) {
            char c = uart_getc();
            if (c == '\r' || c == '\n') {
                putc('\n');
                break;
            }
            if ((c == 0x7f || c == 0x08) && n > 0) {
                n--;
                puts("\b \b");
                continue;
            }
            if (n < sizeof line - 1 && c >= ' ') {
                line[n++] = c;
                putc(c);
            }
        }
        line[n] = 0;
        if (n == 0)
            continue;
        lines++;
        if (starts_with(line, "echo "))
            puts(line + 5), putc('\n');
        else if (equals(line, "count"))
            put_dec(lines), putc('\n');
        else if (starts_with(line, "mmio "))
            mmio_rounds(parse_dec(line + 5));
        else if (equals(line, "spin")) {
            while (!uart_ready())
                spin_counter++;
            puts("spun\n");
        } else if (equals(line, "poweroff"))
            sbi_srst(0, 0);
        else if (equals(line, "reboot"))
            sbi_srst(1, 0);
        else if (equals(line, "fail"))
            sbi_srst(0, 1);
        else if (equals(line, "failreset"))
            sbi_srst(1, 1);
        else
            puts("?\n");
    }
}
