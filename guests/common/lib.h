/* Tiny bare-metal support library for the wkvm C guests: UART output,
 * power-off, CLINT time, LR/SC spinlock, atomics, barrier, FDT walker. */
#ifndef WKVM_LIB_H
#define WKVM_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long i64;
typedef int i32;
typedef unsigned long size_t;

#define MAX_HARTS 128

/* virt board addresses */
#define UART0       0x10000000UL
#define TEST_DEV    0x00100000UL
#define CLINT       0x02000000UL
#define CLINT_MTIME (CLINT + 0xBFF8)
#define VIRTIO0     0x10001000UL

#define MMIO8(a)  (*(volatile u8 *)(a))
#define MMIO32(a) (*(volatile u32 *)(a))
#define MMIO64(a) (*(volatile u64 *)(a))

/* ---- console (UART ns16550a, polled) ---- */
void putc(char c);
void puts(const char *s);            /* no newline added */
void put_hex(u64 v, int digits);     /* lowercase, zero-padded, no prefix */
void put_dec(u64 v);
void put_sdec(i64 v);

/* ---- power ---- */
__attribute__((noreturn)) void poweroff(int code);  /* 0 = pass, else fail code */

/* ---- time (CLINT mtime, 10 MHz on virt) ---- */
static inline u64 mtime(void) { return MMIO64(CLINT_MTIME); }
static inline u64 ticks_to_us(u64 t) { return t / 10; }

static inline u64 read_mhartid(void)
{
    u64 v;
    __asm__ volatile("csrr %0, mhartid" : "=r"(v));
    return v;
}

/* ---- atomics (A extension) ---- */
static inline u64 amoadd64(volatile u64 *p, u64 v)
{
    u64 old;
    __asm__ volatile("amoadd.d.aqrl %0, %2, %1" : "=r"(old), "+A"(*p) : "r"(v) : "memory");
    return old;
}
static inline u32 amoadd32(volatile u32 *p, u32 v)
{
    u32 old;
    __asm__ volatile("amoadd.w.aqrl %0, %2, %1" : "=r"(old), "+A"(*p) : "r"(v) : "memory");
    return old;
}
static inline u32 amoswap32(volatile u32 *p, u32 v)
{
    u32 old;
    __asm__ volatile("amoswap.w.aqrl %0, %2, %1" : "=r"(old), "+A"(*p) : "r"(v) : "memory");
    return old;
}
static inline u64 load_acquire64(const volatile u64 *p)
{
    u64 v = *p;
    __asm__ volatile("fence r, rw" ::: "memory");
    return v;
}
static inline u32 load_acquire32(const volatile u32 *p)
{
    u32 v = *p;
    __asm__ volatile("fence r, rw" ::: "memory");
    return v;
}
static inline void store_release32(volatile u32 *p, u32 v)
{
    __asm__ volatile("fence rw, w" ::: "memory");
    *p = v;
}
static inline void cpu_relax(void)
{
    /* PAUSE hint (Zihintpause; an ordinary FENCE encoding elsewhere) */
    __asm__ volatile(".word 0x0100000f" ::: "memory");
}

/* ---- LR/SC spinlock ---- */
typedef struct { volatile u32 v; } spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

/* ---- sense-reversing barrier over n harts (AMO counter) ---- */
typedef struct { volatile u32 count; volatile u32 sense; } barrier_t;
void barrier_wait(barrier_t *b, u32 n, u32 *local_sense);

/* ---- flattened device tree ---- */
struct fdt_info {
    u32 ncpus;               /* nodes named cpu@... directly under /cpus */
    const char *bootargs;    /* /chosen/bootargs or 0 */
    u32 bootargs_len;        /* property length (including the NUL) */
};
/* returns 0 on success, -1 if the blob is not a valid FDT */
int fdt_parse(const void *fdt, struct fdt_info *out);
/* value of `key=N` (decimal or 0x hex) in a bootargs string, or dflt */
u64 bootarg_u64(const char *args, u32 len, const char *key, u64 dflt);
/* 1 if the word `word` appears in bootargs */
int bootarg_flag(const char *args, u32 len, const char *word);

/* ---- start-up of a multi-hart guest ----
 * Hart 0 sets up (parsing the FDT and boot arguments), then releases the
 * first n harts; the others wait in harts_join, and those numbered n or
 * more park in WFI for good. Both return n. */
u32 harts_release(u32 n);                 /* hart 0; n is clamped to 1..MAX_HARTS */
u32 harts_join(u64 hartid);               /* every other hart */
__attribute__((noreturn)) void park(void);

/* ---- misc ---- */
/* ---- pseudo-random numbers and hashing (the differential guests) ---- */
u64 xorshift64(u64 *state);                 /* next value of an xorshift64 sequence */
#define HASH_INIT 0xcbf29ce484222325UL
u64 hash_mix(u64 h, u64 v);                 /* fold v into the running hash h */
void put_traps(const u64 traps[3]);         /* " traps <count> <xor of mcause> <xor of mtval>\n" (fuzz guests) */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int strcmp(const char *a, const char *b);

/* serialize whole lines from several harts */
extern spinlock_t print_lock;

#endif
