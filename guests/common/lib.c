/* Tiny bare-metal support library for the wkvm C guests. See lib.h. */
#include "lib.h"

spinlock_t print_lock;

/* ---------------------------------------------------------------- console */

void putc(char c)
{
    while (!(MMIO8(UART0 + 5) & 0x20))   /* LSR.THRE */
        ;
    MMIO8(UART0) = (u8)c;
}

void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

void put_hex(u64 v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

void put_dec(u64 v)
{
    char buf[24];
    int i = 0;
    do {
        buf[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        putc(buf[--i]);
}

void put_sdec(i64 v)
{
    if (v < 0) {
        putc('-');
        put_dec((u64)0 - (u64)v);
    } else {
        put_dec((u64)v);
    }
}

/* ---------------------------------------------------------------- power */

void poweroff(int code)
{
    if (code == 0)
        MMIO32(TEST_DEV) = 0x5555;
    else
        MMIO32(TEST_DEV) = ((u32)(code & 0xffff) << 16) | 0x3333;
    for (;;)
        __asm__ volatile("wfi");
}

void unexpected_trap(u64 cause, u64 epc, u64 tval)
{
    puts("unexpected trap on hart ");
    put_dec(read_mhartid());
    puts(": mcause=");
    put_hex(cause, 16);
    puts(" mepc=");
    put_hex(epc, 16);
    puts(" mtval=");
    put_hex(tval, 16);
    puts("\n");
    poweroff(0xee);
}

/* ---------------------------------------------------------------- locks */

void spin_lock(spinlock_t *l)
{
    u32 busy, fail;
    for (;;) {
        while (l->v)               /* wait with plain loads, not LR */
            cpu_relax();
        __asm__ volatile(
            "1: lr.w.aq  %0, (%2)\n"
            "   bnez     %0, 2f\n"
            "   sc.w     %1, %3, (%2)\n"
            "   bnez     %1, 1b\n"
            "2:\n"
            : "=&r"(busy), "=&r"(fail)
            : "r"(&l->v), "r"(1)
            : "memory");
        if (!busy)
            return;
    }
}

void spin_unlock(spinlock_t *l)
{
    __asm__ volatile("amoswap.w.rl zero, zero, (%0)" : : "r"(&l->v) : "memory");
}

void barrier_wait(barrier_t *b, u32 n, u32 *local_sense)
{
    u32 s = !*local_sense;
    *local_sense = s;
    if (amoadd32(&b->count, 1) == n - 1) {
        b->count = 0;
        store_release32(&b->sense, s);
    } else {
        while (load_acquire32(&b->sense) != s)
            cpu_relax();
    }
}

/* ---------------------------------------------------------------- FDT */

#define FDT_MAGIC      0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP        4
#define FDT_END        9
#define FDT_MAX_DEPTH  16

static u32 be32(const u8 *p)
{
    return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | p[3];
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int str_prefix(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

int fdt_parse(const void *fdt, struct fdt_info *out)
{
    const u8 *base = fdt;
    out->ncpus = 0;
    out->bootargs = 0;
    out->bootargs_len = 0;
    if (!base || ((u64)base & 3) || be32(base) != FDT_MAGIC)
        return -1;
    u32 total = be32(base + 4);
    u32 off_struct = be32(base + 8);
    u32 off_strings = be32(base + 12);
    u32 version = be32(base + 20);
    u32 size_struct = version >= 17 ? be32(base + 36) : total - off_struct;
    if (off_struct >= total || off_strings >= total || size_struct > total - off_struct)
        return -1;

    const u8 *p = base + off_struct;
    const u8 *end = p + size_struct;
    const char *strings = (const char *)base + off_strings;
    const char *names[FDT_MAX_DEPTH];
    int depth = 0;   /* number of open nodes; the root node is depth 1 */

    while (p + 4 <= end) {
        u32 tok = be32(p);
        p += 4;
        switch (tok) {
        case FDT_BEGIN_NODE: {
            const char *name = (const char *)p;
            while (p < end && *p)
                p++;
            p = (const u8 *)(((u64)p + 1 + 3) & ~3UL);
            if (depth < FDT_MAX_DEPTH)
                names[depth] = name;
            depth++;
            if (depth == 3 && str_eq(names[1], "cpus") && str_prefix(name, "cpu@"))
                out->ncpus++;
            break;
        }
        case FDT_END_NODE:
            if (--depth < 0)
                return -1;
            break;
        case FDT_PROP: {
            if (p + 8 > end)
                return -1;
            u32 len = be32(p);
            u32 nameoff = be32(p + 4);
            const u8 *val = p + 8;
            p = (const u8 *)(((u64)val + len + 3) & ~3UL);
            if (depth == 2 && str_eq(names[1], "chosen") &&
                str_eq(strings + nameoff, "bootargs")) {
                out->bootargs = (const char *)val;
                out->bootargs_len = len;
            }
            break;
        }
        case FDT_NOP:
            break;
        case FDT_END:
            return 0;
        default:
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- bootargs */

static const char *find_word(const char *args, u32 len, const char *word, int want_eq)
{
    u32 i = 0;
    while (args && i < len && args[i]) {
        while (i < len && args[i] == ' ')
            i++;
        u32 j = 0;
        while (word[j] && i + j < len && args[i + j] == word[j])
            j++;
        if (!word[j]) {
            char next = i + j < len ? args[i + j] : 0;
            if (want_eq ? next == '=' : (next == ' ' || next == 0))
                return args + i + j + (want_eq ? 1 : 0);
        }
        while (i < len && args[i] && args[i] != ' ')
            i++;
    }
    return 0;
}

u64 bootarg_u64(const char *args, u32 len, const char *key, u64 dflt)
{
    const char *v = find_word(args, len, key, 1);
    if (!v)
        return dflt;
    const char *lim = args + len;
    u64 n = 0;
    int any = 0;
    if (v + 1 < lim && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        for (v += 2; v < lim; v++, any = 1) {
            char c = *v;
            if (c >= '0' && c <= '9') n = n * 16 + (u64)(c - '0');
            else if (c >= 'a' && c <= 'f') n = n * 16 + (u64)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') n = n * 16 + (u64)(c - 'A' + 10);
            else break;
        }
    } else {
        for (; v < lim && *v >= '0' && *v <= '9'; v++, any = 1)
            n = n * 10 + (u64)(*v - '0');
    }
    return any ? n : dflt;
}

int bootarg_flag(const char *args, u32 len, const char *word)
{
    return find_word(args, len, word, 0) != 0;
}

/* ---------------------------------------------------------------- libc bits */

void *memset(void *d, int c, size_t n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (u8)*a - (u8)*b;
}

/* ---- start-up rendezvous ---- */
static volatile u32 harts_ready;
static volatile u32 harts_n;

u32 harts_release(u32 n)
{
    if (n == 0)
        n = 1;
    if (n > MAX_HARTS)
        n = MAX_HARTS;
    harts_n = n;
    store_release32(&harts_ready, 1);
    return n;
}

u32 harts_join(u64 hartid)
{
    while (!load_acquire32(&harts_ready))
        cpu_relax();
    if (hartid >= harts_n)
        park();
    return harts_n;
}

void park(void)
{
    for (;;)
        __asm__ volatile("wfi");
}

u64 xorshift64(u64 *state)
{
    u64 x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

u64 hash_mix(u64 h, u64 v)
{
    h ^= v;
    h *= 0x100000001b3UL;
    return h ^ (h >> 29);
}

void put_traps(const u64 traps[3])
{
    puts(" traps ");
    put_dec(traps[0]);
    puts(" ");
    put_hex(traps[1], 16);
    puts(" ");
    put_hex(traps[2], 16);
    puts("\n");
}
