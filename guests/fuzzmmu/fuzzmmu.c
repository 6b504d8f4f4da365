/*
 * wkvm MMU fuzz-differential guest: runs blocks of loads, stores and LR in
 * S- or U-mode under Sv39 page tables that test/qemu-fuzz.test.ts writes (random
 * entries: pointers, leaves at every level, every flag, reserved bits) and
 * prints per block a hash of x5..x31, the data pages and the page tables
 * after it (the A and D bits), and its traps. As committed the tables only
 * map the code and every block is just `ecall`. Only hart 0 runs.
 */
#include "lib.h"

#define NBLOCKS     32
#define BLOCK_WORDS 64
#define PAGES       4

struct state { u64 x[32]; };
struct params { u64 gp; u64 status; };
void run_mmu_block(struct state *s, const u32 *block, u64 gp, u64 status);

u32 fuzz_blocks[NBLOCKS][BLOCK_WORDS] __attribute__((aligned(4096))) = {
    [0 ... NBLOCKS - 1] = { 0x00000073 /* ecall */ },
};
/* root (page 0) entry 2: VA 0x80000000.. -> PA 0x80000000.., a gigapage RWX, A, D */
u64 mmu_pt_init[PAGES][512] __attribute__((aligned(4096))) = { [0] = { [2] = 0x200000cfUL } };
/* gp and the mstatus bits (MPP, SUM, MXR) of each block; in .data, as the test writes it */
struct params mmu_params[NBLOCKS] __attribute__((section(".data"))) = { [0 ... NBLOCKS - 1] = { 0, 0x800 } };
u64 mmu_pt[PAGES][512] __attribute__((aligned(4096)));
u64 mmu_data[PAGES][512] __attribute__((aligned(4096)));
u64 fuzz_traps[5];

static u64 rng = 0x2545f4914f6cdd1dUL;
static u64 rnd(void) { return xorshift64(&rng); }

int main(u64 hartid, const void *fdt)
{
    (void)fdt;
    if (hartid != 0)
        for (;;)
            __asm__ volatile("wfi");
    /* PMP entry 0 over everything, RWX: S-mode may access memory (QEMU refuses an mret to S without PMP rules) */
    __asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" :: "r"(-1L), "r"(0x1fL));
    static struct state s;
    const u64 satp = (8UL << 60) | ((u64)mmu_pt >> 12);
    for (int b = 0; b < NBLOCKS; b++) {
        memcpy(mmu_pt, mmu_pt_init, sizeof mmu_pt);
        if ((mmu_params[b].status & 0x1800) == 0)
            mmu_pt[0][2] |= 0x10; /* a U-mode block: its code page is a user page */
        for (int p = 0; p < PAGES; p++)
            for (int i = 0; i < 512; i++)
                mmu_data[p][i] = rnd();
        for (int i = 0; i < 32; i++)
            s.x[i] = rnd();
        for (int i = 0; i < 5; i++)
            fuzz_traps[i] = 0;
        __asm__ volatile("csrw satp, %0; sfence.vma" :: "r"(satp) : "memory");
        run_mmu_block(&s, fuzz_blocks[b], mmu_params[b].gp, mmu_params[b].status);
        __asm__ volatile("csrw satp, zero; sfence.vma" ::: "memory");
        u64 h = HASH_INIT;
        for (int i = 5; i < 32; i++)
            h = hash_mix(h, s.x[i]);
        u64 hd = HASH_INIT, hp = hd;
        for (int p = 0; p < PAGES; p++)
            for (int i = 0; i < 512; i++) {
                hd = hash_mix(hd, mmu_data[p][i]);
                hp = hash_mix(hp, mmu_pt[p][i]);
            }
        puts("b");
        put_dec(b);
        puts(" regs ");
        put_hex(h, 16);
        puts(" data ");
        put_hex(hd, 16);
        puts(" pt ");
        put_hex(hp, 16);
        put_traps(fuzz_traps);
    }
    puts("fuzzmmu: done\n");
    return 0;
}
