/*
 * wkvm benchmark guest: five integer kernels.
 *
 *   hash    FNV-1a, twice over a 16 KiB buffer, perturbing it each round
 *   sort    quicksort (insertion sort below 16) of 1024 pseudo-random u32
 *   interp  a register-machine bytecode interpreter running a 6-op loop
 *   memcpy  8 word/byte memcpys of ~16 KiB at shifting offsets
 *   matmul  32x32 integer matrix multiply
 *
 * Every hart found in the device tree runs all kernels `iters` times on its
 * own private data (same seeds on every hart), so the checksums do not
 * depend on the number of harts; hart 0 waits for all harts (AMO counter),
 * checks that every hart got the same checksums, prints one line per
 * kernel and powers off (0x5555; fail code 3 if the harts disagree).
 *
 * Boot arguments (/chosen/bootargs, QEMU -append):
 *   iters=N   rounds per kernel (default DEFAULT_ITERS, ~1 s of QEMU on 1 hart)
 *   times     also print the hart count and per-kernel times of hart 0 (us)
 */
#include "lib.h"

#define DEFAULT_ITERS 3000

#define HASH_LEN  16384
#define SORT_N    1024
#define CPY_WORDS 2048       /* 16 KiB */
#define MAT_N     32
#define NKERNELS  5

struct hart_data {
    u8  hash_buf[HASH_LEN];
    u32 sort_arr[SORT_N];
    u64 cpy_src[CPY_WORDS];
    u64 cpy_dst[CPY_WORDS];
    i32 ma[MAT_N * MAT_N];
    i32 mb[MAT_N * MAT_N];
    i32 mc[MAT_N * MAT_N];
};

/* not cleared at boot: every hart initialises its own slot */
static struct hart_data hdata[MAX_HARTS] __attribute__((section(".noinit.bench"), aligned(64)));

static const char *const kernel_names[NKERNELS] = { "hash", "sort", "interp", "memcpy", "matmul" };

static volatile u64 iters;
static volatile u32 show_times;
static volatile u32 done;
static u64 results[MAX_HARTS][NKERNELS];
static u64 times[MAX_HARTS][NKERNELS];

/* ------------------------------------------------------------------ hash */

static u64 k_hash(struct hart_data *d, u64 n)
{
    u64 seed = 0x1234567887654321UL;
    for (u32 i = 0; i < HASH_LEN; i += 8) {
        u64 r = xorshift64(&seed);
        for (u32 j = 0; j < 8; j++)
            d->hash_buf[i + j] = (u8)(r >> (8 * j));
    }
    u64 h = 0xcbf29ce484222325UL;
    for (u64 it = 0; it < n; it++) {
        const u8 *b = d->hash_buf;
        for (u32 pass = 0; pass < 2; pass++)
            for (u32 i = 0; i < HASH_LEN; i++)
                h = (h ^ b[i]) * 0x100000001b3UL;
        d->hash_buf[(it * 977) % HASH_LEN] ^= (u8)(h >> 7);
        h ^= h >> 31;
    }
    return h;
}

/* ------------------------------------------------------------------ sort */

static void insertion_sort(u32 *a, i64 lo, i64 hi)
{
    for (i64 i = lo + 1; i <= hi; i++) {
        u32 v = a[i];
        i64 j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void quicksort(u32 *a, i64 lo, i64 hi)
{
    while (hi - lo >= 16) {
        i64 mid = lo + (hi - lo) / 2;
        /* median of three into a[mid] */
        if (a[mid] < a[lo]) { u32 t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
        if (a[hi] < a[lo]) { u32 t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
        if (a[hi] < a[mid]) { u32 t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
        u32 pivot = a[mid];
        i64 i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                u32 t = a[i]; a[i] = a[j]; a[j] = t;
                i++;
                j--;
            }
        }
        /* recurse into the smaller half, loop on the larger */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

static u64 k_sort(struct hart_data *d, u64 n)
{
    u64 seed = 0x9e3779b97f4a7c15UL;
    u64 sum = 0;
    u32 *a = d->sort_arr;
    for (u64 it = 0; it < n; it++) {
        for (u32 i = 0; i < SORT_N; i++)
            a[i] = (u32)(xorshift64(&seed) >> 16);
        quicksort(a, 0, SORT_N - 1);
        for (u32 i = 1; i < SORT_N; i++)
            if (a[i - 1] > a[i])
                return 0xbad5047;          /* not sorted */
        for (u32 i = 0; i < SORT_N; i += 64)
            sum = sum * 31 + a[i];
    }
    return sum;
}

/* ---------------------------------------------------------------- interp */

enum { OP_LI, OP_ADD, OP_ADDI, OP_MUL, OP_XOR, OP_SHR, OP_BNZ, OP_HALT };
#define INS(op, a, b, c) ((u32)(op) | ((u32)(a) << 8) | ((u32)(b) << 16) | ((u32)(c) << 24))

/* r0 = count, r1 = acc; loop: r1 = r1 * r2 + ((r1 >> r3) ^ r0); r0-- */
static const u32 program[] = {
    INS(OP_LI, 2, 31, 0),          /* r2 = 31 */
    INS(OP_LI, 3, 7, 0),           /* r3 = 7 */
    INS(OP_MUL, 1, 1, 2),          /* 2: r1 = r1 * r2 */
    INS(OP_SHR, 4, 1, 3),          /*    r4 = r1 >> r3 */
    INS(OP_XOR, 4, 4, 0),          /*    r4 ^= r0 */
    INS(OP_ADD, 1, 1, 4),          /*    r1 += r4 */
    INS(OP_ADDI, 0, 0, 0xff),      /*    r0 += -1 */
    INS(OP_BNZ, 0, 2, 0),          /*    if r0 != 0 goto 2 */
    INS(OP_HALT, 0, 0, 0),
};

static u64 run_program(const u32 *code, u64 count, u64 acc)
{
    u64 r[8] = { count, acc, 0, 0, 0, 0, 0, 0 };
    u32 pc = 0;
    for (;;) {
        u32 ins = code[pc++];
        u32 a = (ins >> 8) & 7, b = (ins >> 16) & 0xff, c = ins >> 24;
        switch (ins & 0xff) {
        case OP_LI:   r[a] = b; break;
        case OP_ADD:  r[a] = r[b & 7] + r[c & 7]; break;
        case OP_ADDI: r[a] = r[b & 7] + (u64)(i64)(signed char)c; break;
        case OP_MUL:  r[a] = r[b & 7] * r[c & 7]; break;
        case OP_XOR:  r[a] = r[b & 7] ^ r[c & 7]; break;
        case OP_SHR:  r[a] = r[b & 7] >> (r[c & 7] & 63); break;
        case OP_BNZ:  if (r[a]) pc = b; break;
        default:      return r[1];
        }
    }
}

static u64 k_interp(struct hart_data *d, u64 n)
{
    (void)d;
    u64 acc = 1;
    for (u64 it = 0; it < n; it++)
        acc = run_program(program, 1000 + (it & 15), acc);
    return acc;
}

/* ---------------------------------------------------------------- memcpy */

static void copy_bytes(u8 *d, const u8 *s, size_t len)
{
    /* aligned body with 4x unrolled 64-bit words when d and s agree mod 8 */
    if ((((u64)d ^ (u64)s) & 7) == 0) {
        while (len && ((u64)d & 7)) {
            *d++ = *s++;
            len--;
        }
        u64 *dw = (u64 *)d;
        const u64 *sw = (const u64 *)s;
        while (len >= 32) {
            u64 a = sw[0], b = sw[1], c = sw[2], e = sw[3];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
            dw += 4;
            sw += 4;
            len -= 32;
        }
        while (len >= 8) {
            *dw++ = *sw++;
            len -= 8;
        }
        d = (u8 *)dw;
        s = (const u8 *)sw;
    }
    while (len--)
        *d++ = *s++;
}

static u64 k_memcpy(struct hart_data *d, u64 n)
{
    u64 seed = 0x0123456789abcdefUL;
    for (u32 i = 0; i < CPY_WORDS; i++) {
        d->cpy_src[i] = xorshift64(&seed);
        d->cpy_dst[i] = 0;
    }
    u64 h = 0;
    u8 *src = (u8 *)d->cpy_src, *dst = (u8 *)d->cpy_dst;
    for (u64 it = 0; it < n; it++) {
        for (u64 c = it * 8; c < it * 8 + 8; c++) {
            u32 so = c & 7;
            u32 dof = (c & 7) == 7 ? (so + 3) & 7 : so;   /* 1 copy in 8 misaligned */
            u32 len = CPY_WORDS * 8 - 16 - (u32)(c & 7);
            copy_bytes(dst + dof, src + so, len);
        }
        for (u32 i = 0; i < CPY_WORDS; i += 61)
            h = (h ^ d->cpy_dst[i]) * 0x100000001b3UL;
        d->cpy_src[(it * 13) % CPY_WORDS] ^= h;
    }
    return h;
}

/* ---------------------------------------------------------------- matmul */

static u64 k_matmul(struct hart_data *d, u64 n)
{
    u64 seed = 0xfeedfacecafebeefUL;
    for (u32 i = 0; i < MAT_N * MAT_N; i++) {
        d->ma[i] = (i32)(xorshift64(&seed) & 0xffff) - 0x8000;
        d->mb[i] = (i32)(xorshift64(&seed) & 0xffff) - 0x8000;
    }
    u64 h = 0;
    for (u64 it = 0; it < n; it++) {
        for (u32 i = 0; i < MAT_N; i++) {
            for (u32 j = 0; j < MAT_N; j++) {
                i32 s = 0;
                for (u32 k = 0; k < MAT_N; k++)
                    s += d->ma[i * MAT_N + k] * d->mb[k * MAT_N + j];
                d->mc[i * MAT_N + j] = s;
            }
        }
        for (u32 i = 0; i < MAT_N * MAT_N; i += 7)
            h = (h ^ (u32)d->mc[i]) * 0x100000001b3UL;
        d->ma[it % (MAT_N * MAT_N)] = d->mc[(it * 5) % (MAT_N * MAT_N)] >> 16;
    }
    return h;
}

typedef u64 (*kernel_fn)(struct hart_data *, u64);
static const kernel_fn kernels[NKERNELS] = { k_hash, k_sort, k_interp, k_memcpy, k_matmul };

/* ------------------------------------------------------------------ main */

int main(u64 hartid, const void *fdt)
{
    u32 n;
    if (hartid == 0) {
        struct fdt_info info;
        u32 cpus = 1;
        u64 it = DEFAULT_ITERS;
        if (fdt_parse(fdt, &info) == 0) {
            cpus = info.ncpus;
            it = bootarg_u64(info.bootargs, info.bootargs_len, "iters", DEFAULT_ITERS);
            show_times = (u32)bootarg_flag(info.bootargs, info.bootargs_len, "times");
        }
        iters = it;
        n = harts_release(cpus);
    } else {
        n = harts_join(hartid);
    }
    u64 it = iters;
    u64 t_start = mtime();

    struct hart_data *d = &hdata[hartid];
    for (int k = 0; k < NKERNELS; k++) {
        u64 t = mtime();
        results[hartid][k] = kernels[k](d, it);
        times[hartid][k] = mtime() - t;
    }
    amoadd32(&done, 1);
    if (hartid != 0)
        park();
    while (load_acquire32(&done) != n)
        cpu_relax();
    u64 t_end = mtime();

    int code = 0;
    puts("bench: iters=");
    put_dec(it);
    puts("\n");
    for (int k = 0; k < NKERNELS; k++) {
        puts(kernel_names[k]);
        puts(" ");
        put_hex(results[0][k], 16);
        puts("\n");
        for (u32 h = 1; h < n; h++) {
            if (results[h][k] != results[0][k]) {
                puts("  mismatch on hart ");
                put_dec(h);
                puts(": ");
                put_hex(results[h][k], 16);
                puts("\n");
                code = 3;
            }
        }
    }
    if (show_times) {
        puts("harts: ");
        put_dec(n);
        puts("\n");
        for (int k = 0; k < NKERNELS; k++) {
            puts("time ");
            puts(kernel_names[k]);
            puts(": ");
            put_dec(ticks_to_us(times[0][k]));
            puts(" us\n");
        }
        puts("time total: ");
        put_dec(ticks_to_us(t_end - t_start));
        puts(" us\n");
    }
    puts(code ? "bench: FAIL\n" : "bench: done\n");
    return code;
}
