/*
 * wkvm fuzz-differential guest: runs blocks of random instructions, which
 * test/qemu-fuzz.test.ts writes into fuzz_blocks, on QEMU and on wkvm and
 * prints one line per block: a hash of x5..x31, f0..f31 and fcsr after it,
 * and its traps (count, xor of mcause, xor of mtval). The registers start
 * from pseudo-random and edge values, fcsr from random values (every other
 * block: frm = RNE and NX set, as the JIT's inline FP paths need). As
 * committed every block is just `ret`. Only hart 0 runs.
 */
#include "lib.h"

#define NBLOCKS     64
#define BLOCK_WORDS 64

struct state { u64 x[32]; u64 f[32]; u64 fcsr; u64 block; };
void run_block(struct state *s, const u32 *block);

u32 fuzz_blocks[NBLOCKS][BLOCK_WORDS] __attribute__((aligned(4096))) = {
    [0 ... NBLOCKS - 1] = { [0 ... BLOCK_WORDS - 1] = 0x00008067 /* ret */ },
};
u64 fuzz_scratch[4096 / 8 + 2] __attribute__((aligned(4096)));
u64 fuzz_traps[5];

static u64 rng = 0x9e3779b97f4a7c15UL;
static u64 rnd(void) { return xorshift64(&rng); }

static const u64 specials[] = {
    0, 1, (u64)-1, 0x7fffffffffffffffUL, 0x8000000000000000UL, 0x7fffffff, 0x80000000, 0xffffffff,
    0xffffffff7fc00000UL, 0xffffffff7f800000UL, 0xffffffffff800000UL, 0xffffffff00000001UL, /* boxed NaN, +inf, -inf, denormal */
    0x7ff8000000000000UL, 0x7ff0000000000000UL, 0xfff0000000000000UL, 0x0000000000000001UL, 0x3ff0000000000000UL,
    0x7ff4000000000000UL, 0x000fffffffffffffUL, 0x4330000000000000UL, 0x43e0000000000000UL, 0x7fc00000,
};
#define NSPECIALS (sizeof(specials) / sizeof(specials[0]))

static u64 value(void)
{
    u64 r = rnd();
    switch (r & 3) {
    case 0: return specials[(r >> 8) % NSPECIALS];
    case 1: return 0xffffffff00000000UL | (rnd() & 0xffffffff); /* NaN-boxed single */
    default: return rnd();
    }
}

int main(u64 hartid, const void *fdt)
{
    (void)fdt;
    if (hartid != 0)
        for (;;)
            __asm__ volatile("wfi");
    static struct state s;
    for (int b = 0; b < NBLOCKS; b++) {
        for (int i = 0; i < 32; i++) {
            s.x[i] = value();
            s.f[i] = value();
        }
        /* every other block: frm RNE with NX already set, where the JIT's inline F/D paths apply */
        s.fcsr = (b & 1) ? ((rnd() & 0x1f) | 1) : (rnd() & 0xff);
        for (unsigned i = 0; i < sizeof fuzz_scratch / 8; i++)
            fuzz_scratch[i] = value();
        for (int i = 0; i < 5; i++)
            fuzz_traps[i] = 0;
        run_block(&s, fuzz_blocks[b]);
        u64 h = HASH_INIT;
        for (int i = 5; i < 32; i++)
            h = hash_mix(h, s.x[i]);
        for (int i = 0; i < 32; i++)
            h = hash_mix(h, s.f[i]);
        h = hash_mix(h, s.fcsr);
        for (unsigned i = 0; i < sizeof fuzz_scratch / 8; i++)
            h = hash_mix(h, fuzz_scratch[i]);
        puts("b");
        put_dec(b);
        puts(" ");
        put_hex(h, 16);
        put_traps(fuzz_traps);
    }
    puts("fuzzdiff: done\n");
    return 0;
}
