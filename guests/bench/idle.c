/*
 * wkvm idle benchmark: measures the host cost of idle vCPUs.
 * Every hart but hart 0 disables all interrupts (mie = 0) and sleeps in
 * WFI forever (with spin=1: first spins on a plain load until hart 0 is
 * done, as a lock waiter without `pause` does).  Hart 0 runs a busy loop of `iters` rounds (2,000
 * instructions per round), prints the time it took and powers off (0x5555).
 * Boot arguments: spin=1, iters=N (default DEFAULT_ITERS: 300 M instructions,
 * ~55 ms of QEMU, about a second of a ~300 MIPS interpreter).
 */
#include "lib.h"

#define DEFAULT_ITERS 150000
#define ROUND 1000              /* loop iterations (2 instructions) per round */

static volatile u32 done;

int main(u64 hartid, const void *fdt)
{
    struct fdt_info info;
    u64 n = DEFAULT_ITERS, spin = 0;
    u32 harts = 1;
    if (fdt_parse(fdt, &info) == 0) {
        n = bootarg_u64(info.bootargs, info.bootargs_len, "iters", DEFAULT_ITERS);
        spin = bootarg_u64(info.bootargs, info.bootargs_len, "spin", 0);
        if (info.ncpus)
            harts = info.ncpus;
    }
    if (hartid != 0) {
        __asm__ volatile("csrw mie, zero");
        while (spin && !done)
            ;
        for (;;)
            __asm__ volatile("wfi");
    }
    u64 t0 = mtime();
    for (u64 r = 0; r < n; r++) {
        u64 c = ROUND;
        __asm__ volatile("1: addi %0, %0, -1\n bnez %0, 1b" : "+r"(c));
    }
    u64 t1 = mtime();
    done = 1;
    puts("idle: iters=");
    put_dec(n);
    puts(" harts=");
    put_dec(harts);
    puts(" time=");
    put_dec(ticks_to_us(t1 - t0));
    puts(" us\n");
    return 0;
}
