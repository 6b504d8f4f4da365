/*
 * JIT exactness: code patched by another hart.  Hart 0 runs two functions
 * until they are hot; hart 1, on request, rewrites them (an `addi`
 * immediate in .text, and a whole new function body in a buffer,
 * alternately of 4-byte and of 2-byte instructions) and raises a flag;
 * hart 0, after seeing the flag, executes FENCE.I itself (there is no
 * remote FENCE.I in bare-metal M-mode) and calls them again: the results
 * must follow the new code.  Needs two harts (-smp 2; more are parked).
 *
 * Boot arguments: rounds=N (default 200); race=1: while hart 1 rewrites
 * the first function, hart 0 keeps calling it (by default it waits for the
 * flag in a loop of its own), and each of those calls must return the old
 * result, the new one, or a mix (a call that overlapped the store: some
 * iterations of its loop old, the others new), nothing else.
 * NOTE: QEMU 7.2 fails race=1 (exit 6): with multi-threaded TCG, a block
 * translated while the other vCPU stores can keep the old code even after
 * FENCE.I.
 *
 * Prints `smc_remote: rounds=N` and `smc_remote: PASS` (with race=1 also a
 * line starting with `#`, which varies: how many racing calls saw the old
 * and the new code).  Exit 0, or 5 (fewer than 2 harts), 6 (a wrong result:
 * a line says which).
 */
#include "lib.h"

#define DEFAULT_ROUNDS 200
#define HOT 500

typedef u64 (*fn_t)(void);
u64 remote_fn(void);
extern u32 remote_add[];
extern const u16 tmpl_a[], tmpl_a_imm[], tmpl_a_end[];
extern const u16 tmpl_b[], tmpl_b_imm[], tmpl_b_end[];

/* remote_fn: a0 = 10 * the immediate of remote_add.
 * tmpl_a: a0 = 8 * imm (4-byte instructions); tmpl_b: a0 = 8 * imm (2-byte
 * instructions, imm 1..31).  Both are position independent. */
__asm__(
    "  .text\n"
    "  .option push\n"
    "  .option norvc\n"
    "  .balign 8\n"
    "  .globl remote_fn\n"
    "remote_fn:\n"
    "  li a0, 0\n"
    "  li t0, 10\n"
    "1:\n"
    "  .globl remote_add\n"
    "remote_add:\n"
    "  addi a0, a0, 1\n"
    "  addi t0, t0, -1\n"
    "  bnez t0, 1b\n"
    "  ret\n"
    "  .section .rodata\n"
    "  .balign 8\n"
    "  .globl tmpl_a, tmpl_a_imm, tmpl_a_end\n"
    "tmpl_a:\n"
    "  li a0, 0\n"
    "  li t0, 8\n"
    "1:\n"
    "tmpl_a_imm:\n"
    "  addi a0, a0, 1\n"
    "  addi t0, t0, -1\n"
    "  bnez t0, 1b\n"
    "  ret\n"
    "tmpl_a_end:\n"
    "  .option rvc\n"
    "  .balign 8\n"
    "  .globl tmpl_b, tmpl_b_imm, tmpl_b_end\n"
    "tmpl_b:\n"
    "  c.li a0, 0\n"
    "  c.li a1, 8\n"
    "1:\n"
    "tmpl_b_imm:\n"
    "  c.addi a0, 1\n"
    "  c.addi a1, -1\n"
    "  c.bnez a1, 1b\n"
    "  c.jr ra\n"
    "tmpl_b_end:\n"
    "  .option pop\n"
    "  .text\n");

/* the buffer hart 1 writes whole functions into */
static u16 codebuf[32] __attribute__((section(".data"), aligned(64)));

static volatile u32 request;   /* round hart 0 asks hart 1 to patch for */
static volatile u32 patched;   /* round hart 1 has finished patching */
static volatile u32 nrounds;
static volatile u32 race;

static inline void fence_i(void) { __asm__ volatile("fence.i" ::: "memory"); }

static u32 imm_of(u32 k) { return (k * 37) % 2000 + 1; }      /* remote_add's immediate in round k */
static u32 bimm_of(u32 k) { return k % 31 + 1; }               /* the buffer's immediate in round k */

/* write round k's function into codebuf: tmpl_a in odd rounds, tmpl_b in even ones */
static void write_buf(u32 k)
{
    int wide = k & 1;
    const u16 *t = wide ? tmpl_a : tmpl_b, *end = wide ? tmpl_a_end : tmpl_b_end;
    u32 at = (u32)((wide ? tmpl_a_imm : tmpl_b_imm) - t);
    u32 n = (u32)(end - t);
    for (u32 i = 0; i < n; i++)
        codebuf[i] = t[i];
    if (wide) {   /* addi: imm[11:0] in bits 31:20 (the upper halfword's top 12 bits) */
        codebuf[at + 1] = (u16)((codebuf[at + 1] & 0x000f) | (bimm_of(k) << 4));
    } else {      /* c.addi: nzimm[4:0] in bits 6:2, nzimm[5] (0 here) in bit 12 */
        codebuf[at] = (u16)((codebuf[at] & ~0x107cu) | (bimm_of(k) << 2));
    }
}

static void set_remote_imm(u32 imm)
{
    remote_add[0] = (remote_add[0] & 0xfffff) | (imm << 20);
}

/* a call that overlapped the patch: some of its 10 iterations old, the rest new */
static int mixed(u64 r, u64 old, u64 new)
{
    for (u64 a = 0; a <= 10; a++)
        if (r == a * old + (10 - a) * new)
            return 1;
    return 0;
}

static int wrong(const char *what, u32 k, u64 got, u64 want)
{
    puts("smc_remote: ");
    puts(what);
    puts(" round ");
    put_dec(k);
    puts(": got ");
    put_dec(got);
    puts(", want ");
    put_dec(want);
    puts("\n");
    return 6;
}

static int hart0(void)
{
    u32 rounds = nrounds;
    u64 raced_old = 0, raced_new = 0;
    u64 cur = 1, bcur = bimm_of(0);
    for (u32 k = 1; k <= rounds; k++) {
        /* hot: the two functions as they are now */
        for (u32 i = 0; i < HOT; i++) {
            u64 r = remote_fn();
            if (r != 10 * cur)
                return wrong("remote_fn (hot)", k, r, 10 * cur);
            r = ((fn_t)(void *)codebuf)();
            if (r != 8 * bcur)
                return wrong("codebuf (hot)", k, r, 8 * bcur);
        }
        /* ask hart 1 to patch; run the old code while it does */
        u64 next = imm_of(k);
        store_release32(&request, k);
        while (!race && load_acquire32(&patched) != k)
            ;
        while (patched != k && race) {
            u64 r = remote_fn();
            if (r == 10 * cur)
                raced_old++;
            else if (r == 10 * next)
                raced_new++;
            else if (!mixed(r, cur, next))
                return wrong("remote_fn (while patched)", k, r, 10 * next);
        }
        __asm__ volatile("fence r, rw" ::: "memory");
        fence_i();
        cur = next;
        bcur = bimm_of(k);
        u64 r = remote_fn();
        if (r != 10 * cur)
            return wrong("remote_fn (after fence.i)", k, r, 10 * cur);
        r = ((fn_t)(void *)codebuf)();
        if (r != 8 * bcur)
            return wrong("codebuf (after fence.i)", k, r, 8 * bcur);
    }
    if (race) {
        puts("# raced: old ");
        put_dec(raced_old);
        puts(" new ");
        put_dec(raced_new);
        puts("\n");
    }
    return 0;
}

static void hart1(void)
{
    u32 rounds = nrounds;
    for (u32 k = 1; k <= rounds; k++) {
        while (request != k)          /* plain loads */
            ;
        set_remote_imm(imm_of(k));
        write_buf(k);
        store_release32(&patched, k);
    }
}

int main(u64 hartid, const void *fdt)
{
    if (hartid == 0) {
        struct fdt_info info;
        u32 cpus = 1, rounds = DEFAULT_ROUNDS;
        if (fdt_parse(fdt, &info) == 0) {
            cpus = info.ncpus;
            rounds = (u32)bootarg_u64(info.bootargs, info.bootargs_len, "rounds", DEFAULT_ROUNDS);
            race = (u32)bootarg_u64(info.bootargs, info.bootargs_len, "race", 0);
        }
        if (cpus < 2) {
            puts("smc_remote: needs 2 harts (-smp 2)\n");
            return 5;
        }
        nrounds = rounds;
        set_remote_imm(1);
        write_buf(0);
        fence_i();
        harts_release(2);
        puts("smc_remote: rounds=");
        put_dec(rounds);
        puts("\n");
        int code = hart0();
        puts(code ? "smc_remote: FAIL\n" : "smc_remote: PASS\n");
        return code;
    }
    harts_join(hartid);
    hart1();
    park();
}
