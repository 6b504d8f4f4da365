/*
 * wkvm demo guest: the default guest embedded in wkvm.
 *
 * All harts start here.  Hart 0 counts the harts in the device tree
 * (cpu@... nodes under /cpus) and releases the others; every hart prints
 * "hart N: hello" (lines serialized by an LR/SC spinlock); then all harts
 * run a parallel workload: each adds ITEMS numbers into a shared sum under
 * the spinlock, adds the same numbers into a second sum with AMOADD, and
 * counts every item with AMOADD on a shared counter.  Hart 0 waits for all
 * (AMO barrier), checks the three results against values it computes
 * itself, prints them with the elapsed time (CLINT mtime, microseconds)
 * and powers off through the test device: 0x5555 if correct, else fail
 * code 1 (wrong sum) or 2 (wrong counter).
 */
#include "lib.h"

#define ITEMS 1000           /* numbers per hart */

static barrier_t barrier;
static spinlock_t sum_lock;
static volatile u64 locked_sum;     /* protected by sum_lock */
static volatile u64 atomic_sum;     /* updated with amoadd.d */
static volatile u64 item_count;     /* updated with amoadd.d */
static volatile u32 done;           /* harts finished */

static u64 item(u64 hart, u64 i)
{
    u64 x = (hart + 1) * 0x9e3779b97f4a7c15UL ^ (i * 0xbf58476d1ce4e5b9UL);
    x ^= x >> 29;
    return x & 0xfffff;
}

int main(u64 hartid, const void *fdt)
{
    u32 sense = 0;

    u32 n;
    if (hartid == 0) {
        struct fdt_info info;
        spin_lock(&print_lock); /* the banner comes before any hart's hello */
        n = harts_release(fdt_parse(fdt, &info) == 0 ? info.ncpus : 1);
        puts("wkvm demo: ");
        put_dec(n);
        puts(n == 1 ? " hart\n" : " harts\n");
        spin_unlock(&print_lock);
    } else {
        n = harts_join(hartid);
    }

    spin_lock(&print_lock);
    puts("hart ");
    put_dec(hartid);
    puts(": hello\n");
    spin_unlock(&print_lock);

    barrier_wait(&barrier, n, &sense);
    u64 t0 = mtime();
    barrier_wait(&barrier, n, &sense);

    for (u64 i = 0; i < ITEMS; i++) {
        u64 v = item(hartid, i);
        spin_lock(&sum_lock);
        locked_sum += v;
        spin_unlock(&sum_lock);
        amoadd64(&atomic_sum, v);
        amoadd64(&item_count, 1);
    }

    amoadd32(&done, 1);
    if (hartid != 0)
        park();
    while (load_acquire32(&done) != n)
        cpu_relax();
    u64 t1 = mtime();

    u64 expect = 0;
    for (u64 h = 0; h < n; h++)
        for (u64 i = 0; i < ITEMS; i++)
            expect += item(h, i);

    int code = 0;
    if (locked_sum != expect || atomic_sum != expect)
        code = 1;
    else if (item_count != (u64)n * ITEMS)
        code = 2;

    puts("sum: ");
    put_dec(locked_sum);
    puts(" (amoadd ");
    put_dec(atomic_sum);
    puts(", expected ");
    put_dec(expect);
    puts(")\ncount: ");
    put_dec(item_count);
    puts(" (expected ");
    put_dec((u64)n * ITEMS);
    puts(")\ntime: ");
    put_dec(ticks_to_us(t1 - t0));
    puts(" us\n");
    puts(code ? "demo: FAIL\n" : "demo: PASS\n");
    return code;
}
