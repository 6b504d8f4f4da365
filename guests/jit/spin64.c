/*
 * JIT exactness: every hart spins in a hot loop of plain loads.  A barrier
 * repeated `rounds` times: in round r each hart adds r * (hartid + 1) to
 * its own slot, arrives with an AMO on a shared counter, and waits with
 * plain loads until hart 0 publishes r; hart 0 waits (plain loads) until
 * the counter reaches harts * r, checks every hart's slot, then publishes
 * r with a plain store.  The wait loops are tight (`lw; bne` and, in odd
 * rounds, `lw; pause; bne`), so a translated loop that does not re-read
 * memory, or that never lets the other vCPUs run, hangs here.  For -smp 64
 * (works with any count up to 128).
 *
 * Boot arguments: rounds=N (default 200).
 * Prints `spin64: harts=H rounds=N` and `spin64: PASS`; exit 0, or 7 (a hart's slot
 * or the counter is wrong: a line says which).
 */
#include "lib.h"

#define DEFAULT_ROUNDS 200

static volatile u32 arrived;            /* AMO counter: harts * rounds so far */
static volatile u32 go;                 /* the round hart 0 has released */
static volatile u64 slot[MAX_HARTS];
static volatile u32 nrounds;

/* spin until *p == v: plain loads only */
static inline void wait_eq(volatile u32 *p, u32 v)
{
    __asm__ volatile(
        "1: lw t0, 0(%0)\n"
        "   bne t0, %1, 1b\n"
        : : "r"(p), "r"((u64)(i64)(i32)v) : "t0", "memory");
    __asm__ volatile("fence r, rw" ::: "memory");
}

/* the same with a PAUSE hint in the loop */
static inline void wait_eq_pause(volatile u32 *p, u32 v)
{
    __asm__ volatile(
        "1: lw t0, 0(%0)\n"
        "   .word 0x0100000f\n"
        "   bne t0, %1, 1b\n"
        : : "r"(p), "r"((u64)(i64)(i32)v) : "t0", "memory");
    __asm__ volatile("fence r, rw" ::: "memory");
}

int main(u64 hartid, const void *fdt)
{
    u32 n;
    if (hartid == 0) {
        struct fdt_info info;
        u32 cpus = 1, rounds = DEFAULT_ROUNDS;
        if (fdt_parse(fdt, &info) == 0) {
            cpus = info.ncpus;
            rounds = (u32)bootarg_u64(info.bootargs, info.bootargs_len, "rounds", DEFAULT_ROUNDS);
        }
        nrounds = rounds;
        n = harts_release(cpus);
    } else {
        n = harts_join(hartid);
    }
    u32 rounds = nrounds;
    u64 mine = 0;
    for (u32 r = 1; r <= rounds; r++) {
        mine += (u64)r * (hartid + 1);
        slot[hartid] = mine;
        amoadd32(&arrived, 1);          /* release: the slot before the count */
        if (hartid == 0) {
            if (r & 1)
                wait_eq_pause(&arrived, n * r);
            else
                wait_eq(&arrived, n * r);
            u64 want_base = (u64)r * (r + 1) / 2;
            for (u32 h = 0; h < n; h++) {
                if (slot[h] != want_base * (h + 1)) {
                    puts("spin64: round ");
                    put_dec(r);
                    puts(" hart ");
                    put_dec(h);
                    puts(": slot ");
                    put_dec(slot[h]);
                    puts(", want ");
                    put_dec(want_base * (h + 1));
                    puts("\n");
                    return 7;
                }
            }
            store_release32(&go, r);
        } else {
            if (r & 1)
                wait_eq_pause(&go, r);
            else
                wait_eq(&go, r);
        }
    }
    if (hartid != 0)
        park();
    if (arrived != n * rounds) {
        puts("spin64: counter wrong\n");
        return 7;
    }
    puts("spin64: harts=");
    put_dec(n);
    puts(" rounds=");
    put_dec(rounds);
    puts("\nspin64: PASS\n");
    return 0;
}
