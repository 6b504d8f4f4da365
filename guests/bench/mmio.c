/*
 * wkvm MMIO round-trip benchmark: hart 0 performs `iters` 32-bit reads of
 * the virtio-mmio MagicValue register at 0x10001000 (0x74726976, "virt"),
 * prints the time per read and powers off: 0x5555 if every read returned
 * the magic value, fail code 4 otherwise.  Other harts sleep in WFI.
 * Boot arguments: iters=N (default DEFAULT_ITERS).
 */
#include "lib.h"

#define DEFAULT_ITERS 100000
#define VIRTIO_MAGIC 0x74726976

int main(u64 hartid, const void *fdt)
{
    if (hartid != 0) {
        __asm__ volatile("csrw mie, zero");
        for (;;)
            __asm__ volatile("wfi");
    }
    struct fdt_info info;
    u64 n = DEFAULT_ITERS;
    if (fdt_parse(fdt, &info) == 0)
        n = bootarg_u64(info.bootargs, info.bootargs_len, "iters", DEFAULT_ITERS);
    u64 bad = 0;
    u32 last = 0;
    u64 t0 = mtime();
    for (u64 i = 0; i < n; i++) {
        last = MMIO32(VIRTIO0);
        bad += last != VIRTIO_MAGIC;
    }
    u64 t1 = mtime();
    puts("mmio: iters=");
    put_dec(n);
    puts(" time=");
    put_dec(ticks_to_us(t1 - t0));
    puts(" us per_read=");
    put_dec(n ? (t1 - t0) * 100 / n : 0);
    puts(" ns\n");
    if (bad) {
        puts("mmio: FAIL, ");
        put_dec(bad);
        puts(" bad reads, last 0x");
        put_hex(last, 8);
        puts("\n");
        return 4;
    }
    return 0;
}
