/*
 * wkvm benchmark guest: nine kernels shaped like parts of real programs.
 *
 *   hash    FNV-1a, twice over a 16 KiB buffer, perturbing it each round
 *   sort    quicksort (insertion sort below 16) of 512 pseudo-random u32
 *   interp  a register-machine bytecode interpreter running a 6-op loop
 *   memcpy  8 word/byte memcpys of ~16 KiB at shifting offsets
 *   matmul  25x25 integer matrix multiply
 *   list    two laps of a linked list of 4096 nodes linked in shuffled
 *           order (pointer chasing), updating each node's payload
 *   fsm     a table-driven tokenizer (character classes, a transition and
 *           an action table, a switch over the actions) over 2 KiB of
 *           pseudo-random source-like text
 *   crc     CRC-32 bytewise with a 256-entry table over 6 KiB, and bitwise
 *           over 512 bytes of it (the two must agree; both are checked
 *           against the standard check value first)
 *   fp      double precision: 13 n-body steps of 8 bodies (sqrt, divide,
 *           fused multiply-add) and an axpy / dot product / sqrt norm
 *
 * A round of each kernel takes about the same time (40-47 us of QEMU 7.2
 * TCG, one hart, 2-core host).
 * Every hart found in the device tree runs all kernels `iters` times on its
 * own private data (same seeds on every hart), so the checksums do not
 * depend on the number of harts; hart 0 waits for all harts (AMO counter),
 * checks that every hart got the same checksums, prints one line per
 * kernel and powers off (0x5555; fail code 3 if the harts disagree).
 *
 * Boot arguments (/chosen/bootargs, QEMU -append):
 *   iters=N      rounds per kernel (default DEFAULT_ITERS, ~1.2 s of QEMU on 1 hart)
 *   times        also print the hart count and per-kernel times of hart 0 (us)
 *   only=NAME    run only the kernel NAME (exit 8 if there is none of that name)
 */
#include "lib.h"

#define DEFAULT_ITERS 3000

#define HASH_LEN  16384
#define SORT_N    512
#define INTERP_N  450        /* loop count of the bytecode program */
#define CPY_WORDS 2048       /* 16 KiB */
#define MAT_N     25
#define LIST_N    4096
#define LIST_LAPS 2
#define FSM_LEN   2048
#define CRC_LEN   6144
#define CRC_BITS  512        /* bytes also done bitwise */
#define NBODY     8
#define NB_STEPS  13
#define VEC_N     512
#define NKERNELS  9

struct lnode {
    struct lnode *next;
    u64 val;
};

struct body {
    double x, y, z, vx, vy, vz, m;
};

struct hart_data {
    u8  hash_buf[HASH_LEN];
    u32 sort_arr[SORT_N];
    u64 cpy_src[CPY_WORDS];
    u64 cpy_dst[CPY_WORDS];
    i32 ma[MAT_N * MAT_N];
    i32 mb[MAT_N * MAT_N];
    i32 mc[MAT_N * MAT_N];
    struct lnode list[LIST_N];
    u32 list_perm[LIST_N];
    u8  fsm_text[FSM_LEN];
    u8  fsm_class[256];
    u32 crc_table[256];
    u8  crc_buf[CRC_LEN];
    struct body bodies[NBODY];
    double vx[VEC_N], vy[VEC_N];
};

/* not cleared at boot: every hart initialises its own slot */
static struct hart_data hdata[MAX_HARTS] __attribute__((section(".noinit.bench"), aligned(64)));

static const char *const kernel_names[NKERNELS] = {
    "hash", "sort", "interp", "memcpy", "matmul", "list", "fsm", "crc", "fp",
};

static volatile u64 iters;
static volatile u32 show_times;
static volatile u32 run_mask;        /* the kernels to run (only=NAME: one) */
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
        acc = run_program(program, INTERP_N + (it & 15), acc);
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
        for (u64 i = 0; i < MAT_N; i++) {
            for (u64 j = 0; j < MAT_N; j++) {
                i32 s = 0;
                for (u64 k = 0; k < MAT_N; k++)
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


/* ------------------------------------------------------------------ list */

static u64 k_list(struct hart_data *d, u64 n)
{
    u64 seed = 0x5851f42d4c957f2dUL;
    u32 *perm = d->list_perm;
    for (u32 i = 0; i < LIST_N; i++)
        perm[i] = i;
    for (u32 i = LIST_N - 1; i > 0; i--) {      /* Fisher-Yates */
        u32 j = (u32)(xorshift64(&seed) % (i + 1));
        u32 t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (u32 i = 0; i < LIST_N; i++) {
        struct lnode *a = &d->list[perm[i]];
        a->next = &d->list[perm[(i + 1) % LIST_N]];
        a->val = xorshift64(&seed) & 0xffff;
    }
    u64 h = 0;
    struct lnode *p = &d->list[perm[0]];
    for (u64 it = 0; it < n; it++) {
        for (u32 k = 0; k < LIST_N * LIST_LAPS; k++) {
            u64 v = p->val;
            h = (h + v) ^ (h >> 3);
            p->val = v + (h & 15);
            p = p->next;
        }
        h *= 0x9e3779b97f4a7c15UL;
        /* start the next walk elsewhere */
        for (u32 k = 0; k < (h & 7); k++)
            p = p->next;
    }
    return h;
}

/* ------------------------------------------------------------------- fsm */

enum { C_SPACE, C_ALPHA, C_DIGIT, C_QUOTE, C_PUNCT, C_NL, NCLASS };
enum { S_START, S_IDENT, S_NUMBER, S_STRING, NSTATE };
enum { A_SKIP, A_ID_BEGIN, A_ID, A_NUM_BEGIN, A_NUM, A_STR_BEGIN, A_STR, A_STR_END, A_STR_BAD, A_PUNCT, A_NL };

static const u8 fsm_next[NSTATE][NCLASS] = {
    /*            space     alpha     digit     quote     punct    newline */
    [S_START]  = { S_START, S_IDENT,  S_NUMBER, S_STRING, S_START, S_START },
    [S_IDENT]  = { S_START, S_IDENT,  S_IDENT,  S_STRING, S_START, S_START },
    [S_NUMBER] = { S_START, S_IDENT,  S_NUMBER, S_STRING, S_START, S_START },
    [S_STRING] = { S_STRING, S_STRING, S_STRING, S_START, S_STRING, S_START },
};
static const u8 fsm_action[NSTATE][NCLASS] = {
    [S_START]  = { A_SKIP, A_ID_BEGIN, A_NUM_BEGIN, A_STR_BEGIN, A_PUNCT, A_NL },
    [S_IDENT]  = { A_SKIP, A_ID,       A_ID,        A_STR_BEGIN, A_PUNCT, A_NL },
    [S_NUMBER] = { A_SKIP, A_ID_BEGIN, A_NUM,       A_STR_BEGIN, A_PUNCT, A_NL },
    [S_STRING] = { A_STR,  A_STR,      A_STR,       A_STR_END,   A_STR,   A_STR_BAD },
};
/* source-like text: letters, digits, blanks, quotes, operators, newlines */
static const char fsm_alphabet[32] = "etaoinsrhdlu_xyz0123456789  \"+(\n";

static u64 k_fsm(struct hart_data *d, u64 n)
{
    u64 seed = 0xda942042e4dd58b5UL;
    u8 *cl = d->fsm_class, *text = d->fsm_text;
    for (u32 c = 0; c < 256; c++) {
        u8 k = C_PUNCT;
        if (c == ' ' || c == '\t') k = C_SPACE;
        else if (c == '\n') k = C_NL;
        else if (c == '"') k = C_QUOTE;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') k = C_ALPHA;
        else if (c >= '0' && c <= '9') k = C_DIGIT;
        cl[c] = k;
    }
    for (u32 i = 0; i < FSM_LEN; i++)
        text[i] = (u8)fsm_alphabet[xorshift64(&seed) & 31];
    u64 h = 0;
    u64 idents = 0, numbers = 0, strings = 0, bad = 0, puncts = 0, lines = 0;
    for (u64 it = 0; it < n; it++) {
        u32 state = S_START;
        u64 tok = 0, len = 0, num = 0;
        for (u32 i = 0; i < FSM_LEN; i++) {
            u32 c = text[i];
            u32 k = cl[c];
            u32 next = fsm_next[state][k];
            /* a token that does not go on ends here */
            if (state == S_IDENT && next != S_IDENT) {
                idents++;
                h = (h ^ tok ^ len) * 0x100000001b3UL;
            } else if (state == S_NUMBER && next != S_NUMBER) {
                numbers++;
                h = (h ^ num) * 0x100000001b3UL;
            }
            switch (fsm_action[state][k]) {
            case A_SKIP: break;
            case A_ID_BEGIN: tok = c; len = 1; break;
            case A_ID: tok = tok * 33 + c; len++; break;
            case A_NUM_BEGIN: num = c - '0'; break;
            case A_NUM: num = num * 10 + (c - '0'); break;
            case A_STR_BEGIN: len = 0; break;
            case A_STR: len++; break;
            case A_STR_END: strings++; h = (h ^ (len << 32)) * 0x100000001b3UL; break;
            case A_STR_BAD: bad++; lines++; break;
            case A_PUNCT: puncts++; h ^= c << (puncts & 31); break;
            case A_NL: lines++; break;
            }
            state = next;
        }
        text[(it * 131) % FSM_LEN] = (u8)fsm_alphabet[(h >> 11) & 31];
    }
    return h ^ (idents << 40) ^ (numbers << 30) ^ (strings << 20) ^ (bad << 10) ^ puncts ^ (lines << 50);
}

/* ------------------------------------------------------------------- crc */

static u32 crc32_table(const u32 *t, const u8 *p, u32 len)
{
    u32 c = 0xffffffffu;
    for (u32 i = 0; i < len; i++)
        c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static u32 crc32_bitwise(const u8 *p, u32 len)
{
    u32 c = 0xffffffffu;
    for (u32 i = 0; i < len; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static u64 k_crc(struct hart_data *d, u64 n)
{
    u32 *t = d->crc_table;
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    static const u8 check[9] = { '1', '2', '3', '4', '5', '6', '7', '8', '9' };
    if (crc32_table(t, check, 9) != 0xcbf43926u || crc32_bitwise(check, 9) != 0xcbf43926u)
        return 0xbadc4c;                      /* the standard check value of CRC-32 */
    u64 seed = 0x2545f4914f6cdd1dUL;
    for (u32 i = 0; i < CRC_LEN; i += 8) {
        u64 r = xorshift64(&seed);
        for (u32 j = 0; j < 8; j++)
            d->crc_buf[i + j] = (u8)(r >> (8 * j));
    }
    u64 h = 0;
    for (u64 it = 0; it < n; it++) {
        u32 c = crc32_table(t, d->crc_buf, CRC_LEN);
        u32 at = (u32)((it * 97) % (CRC_LEN - CRC_BITS));
        u32 bits = crc32_bitwise(d->crc_buf + at, CRC_BITS);
        if (bits != crc32_table(t, d->crc_buf + at, CRC_BITS))
            return 0xbadc5c;
        h = h * 31 + c + ((u64)bits << 32);
        d->crc_buf[(it * 53) % CRC_LEN] ^= (u8)c;
    }
    return h;
}

/* -------------------------------------------------------------------- fp */

static inline double fsqrt(double x)
{
    double r;
    __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(x));
    return r;
}

static inline u64 dbits(double x)
{
    union { double d; u64 u; } v = { .d = x };
    return v.u;
}

/* a double in [-1, 1) from 53 random bits (exact) */
static double rnd_unit(u64 *seed)
{
    return (double)(i64)(xorshift64(seed) >> 11) * (1.0 / 4503599627370496.0) - 1.0;
}

static u64 k_fp(struct hart_data *d, u64 n)
{
    u64 seed = 0x94d049bb133111ebUL;
    struct body *b = d->bodies;
    for (u32 i = 0; i < NBODY; i++) {
        b[i].x = rnd_unit(&seed) * 10.0;
        b[i].y = rnd_unit(&seed) * 10.0;
        b[i].z = rnd_unit(&seed) * 10.0;
        b[i].vx = rnd_unit(&seed) * 0.1;
        b[i].vy = rnd_unit(&seed) * 0.1;
        b[i].vz = rnd_unit(&seed) * 0.1;
        b[i].m = 1.0 + (rnd_unit(&seed) + 1.0);
    }
    for (u32 i = 0; i < VEC_N; i++) {
        d->vx[i] = rnd_unit(&seed);
        d->vy[i] = rnd_unit(&seed);
    }
    const double dt = 0.01;
    u64 h = 0;
    for (u64 it = 0; it < n; it++) {
        for (u32 s = 0; s < NB_STEPS; s++) {
            for (u32 i = 0; i < NBODY; i++) {
                for (u32 j = i + 1; j < NBODY; j++) {
                    double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
                    double d2 = dx * dx + dy * dy + dz * dz + 0.01;   /* softened */
                    double mag = dt / (d2 * fsqrt(d2));
                    double mi = b[i].m * mag, mj = b[j].m * mag;
                    b[i].vx -= dx * mj; b[i].vy -= dy * mj; b[i].vz -= dz * mj;
                    b[j].vx += dx * mi; b[j].vy += dy * mi; b[j].vz += dz * mi;
                }
            }
            for (u32 i = 0; i < NBODY; i++) {
                b[i].x += dt * b[i].vx;
                b[i].y += dt * b[i].vy;
                b[i].z += dt * b[i].vz;
            }
        }
        double e = 0.0;
        for (u32 i = 0; i < NBODY; i++)
            e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        /* axpy, dot product, norm */
        double a = 1.0 / (1.0 + (double)(it & 7)), dot = 0.0;
        for (u32 i = 0; i < VEC_N; i++) {
            d->vy[i] = a * d->vx[i] + d->vy[i] * 0.5;
            dot += d->vx[i] * d->vy[i];
        }
        double norm = fsqrt(dot * dot + e);
        d->vx[it % VEC_N] = norm - (double)(i64)norm;   /* its fraction, in [0, 1) */
        h = (h ^ dbits(e)) * 0x100000001b3UL;
        h = (h ^ dbits(norm)) * 0x100000001b3UL;
    }
    return h;
}

typedef u64 (*kernel_fn)(struct hart_data *, u64);
static const kernel_fn kernels[NKERNELS] = {
    k_hash, k_sort, k_interp, k_memcpy, k_matmul, k_list, k_fsm, k_crc, k_fp,
};

/* only=NAME: the kernel's bit; all kernels without it; 0 if NAME is unknown */
static u32 kernels_to_run(const char *args, u32 len)
{
    static const char key[] = "only=";
    for (u32 i = 0; args && i + 5 <= len && args[i]; i++) {
        if (i > 0 && args[i - 1] != ' ')
            continue;
        u32 j = 0;
        while (j < 5 && args[i + j] == key[j])
            j++;
        if (j < 5)
            continue;
        const char *v = args + i + 5;
        u32 vlen = 0;
        while (i + 5 + vlen < len && v[vlen] && v[vlen] != ' ')
            vlen++;
        for (u32 k = 0; k < NKERNELS; k++) {
            const char *name = kernel_names[k];
            u32 m = 0;
            while (m < vlen && name[m] == v[m])
                m++;
            if (m == vlen && name[m] == 0)
                return 1u << k;
        }
        return 0;
    }
    return (1u << NKERNELS) - 1;
}

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
            run_mask = kernels_to_run(info.bootargs, info.bootargs_len);
        } else {
            run_mask = (1u << NKERNELS) - 1;
        }
        if (run_mask == 0) {
            puts("bench: no such kernel (only=NAME: hash sort interp memcpy matmul list fsm crc fp)\n");
            return 8;
        }
        iters = it;
        n = harts_release(cpus);
    } else {
        n = harts_join(hartid);
    }
    u64 it = iters;
    u64 t_start = mtime();

    struct hart_data *d = &hdata[hartid];
    u32 mask = run_mask;
    for (int k = 0; k < NKERNELS; k++) {
        if (!(mask & (1u << k)))
            continue;
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
        if (!(mask & (1u << k)))
            continue;
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
            if (!(mask & (1u << k)))
                continue;
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
