/*
 * wkvm differential-test guest.  Runs many instructions on pseudo-random
 * operands (xorshift64, mixed with edge values such as 0, -1, INT64_MIN,
 * 0x80000000) and prints one line per group with a 64-bit hash of all
 * results, e.g. "alu 0123456789abcdef", then "diff: done", and passes
 * through the test device.  The output must be identical on QEMU and on
 * wkvm.  Only hart 0 runs; the others sleep in WFI.
 *
 * Groups: alu, shift, mul (M extension), word (32-bit W forms), branch,
 * mem (loads/stores of every width, incl. misaligned within a page),
 * amo (every AMO .W/.D and LR/SC), rvc (compressed instructions).
 * Non-rvc groups force 32-bit encodings (.option norvc).
 */
#include "lib.h"

#define ROUNDS 2000

static u64 rng = 0x2545f4914f6cdd1dUL;
static u64 hash;

static u64 rnd(void) { return xorshift64(&rng); }

static const u64 specials[] = {
    0, 1, 2, 3, (u64)-1, (u64)-2, 0x7fffffffffffffffUL, 0x8000000000000000UL,
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000UL, 0xffffffff80000000UL,
    0xffffffff7fffffffUL, 31, 32, 63, 64, 0x5555555555555555UL, 0xaaaaaaaaaaaaaaaaUL,
};
#define NSPECIALS (sizeof(specials) / sizeof(specials[0]))

static u64 operand(void)
{
    u64 r = rnd();
    switch (r & 7) {
    case 0:
    case 1: return specials[(r >> 8) % NSPECIALS];
    case 2: return (r >> 8) & 0xff;                       /* small */
    case 3: return (u64)(i64)(i32)(r >> 16);              /* sign-extended 32-bit */
    case 4: return (u64)-(i64)((r >> 8) & 0xff);          /* small negative */
    default: return rnd();
    }
}

static void mix(u64 v) { hash = hash_mix(hash, v); }

static void report(const char *name)
{
    puts(name);
    puts(" ");
    put_hex(hash, 16);
    puts("\n");
    hash = HASH_INIT;
}

#define NORVC(s) ".option push\n.option norvc\n" s "\n.option pop"

#define RR(op, a, b) ({ u64 _r; __asm__ volatile(NORVC(op " %0, %1, %2") : "=r"(_r) : "r"(a), "r"(b)); _r; })
#define RI(op, a, imm) ({ u64 _r; __asm__ volatile(NORVC(op " %0, %1, %2") : "=r"(_r) : "r"(a), "i"(imm)); _r; })

/* ------------------------------------------------------------------ alu */

static void g_alu(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        u64 a = operand(), b = operand();
        mix(RR("add", a, b));
        mix(RR("sub", a, b));
        mix(RR("and", a, b));
        mix(RR("or", a, b));
        mix(RR("xor", a, b));
        mix(RR("slt", a, b));
        mix(RR("sltu", a, b));
        mix(RI("addi", a, 0));
        mix(RI("addi", a, -2048));
        mix(RI("addi", a, 2047));
        mix(RI("slti", a, -1));
        mix(RI("slti", a, 100));
        mix(RI("sltiu", a, -1));
        mix(RI("sltiu", a, 1));
        mix(RI("andi", a, -16));
        mix(RI("andi", a, 0x555));
        mix(RI("ori", a, -2048));
        mix(RI("ori", a, 0x0f0));
        mix(RI("xori", a, -1));
        mix(RI("xori", a, 0x7ff));
    }
}

/* ---------------------------------------------------------------- shift */

static void g_shift(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        u64 a = operand(), b = operand();
        mix(RR("sll", a, b));
        mix(RR("srl", a, b));
        mix(RR("sra", a, b));
        mix(RI("slli", a, 0));
        mix(RI("slli", a, 1));
        mix(RI("slli", a, 31));
        mix(RI("slli", a, 32));
        mix(RI("slli", a, 63));
        mix(RI("srli", a, 1));
        mix(RI("srli", a, 32));
        mix(RI("srli", a, 33));
        mix(RI("srli", a, 63));
        mix(RI("srai", a, 0));
        mix(RI("srai", a, 13));
        mix(RI("srai", a, 32));
        mix(RI("srai", a, 63));
    }
}

/* ------------------------------------------------------------------ mul */

static void g_mul(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        u64 a = operand(), b = operand();
        mix(RR("mul", a, b));
        mix(RR("mulh", a, b));
        mix(RR("mulhsu", a, b));
        mix(RR("mulhu", a, b));
        mix(RR("div", a, b));
        mix(RR("divu", a, b));
        mix(RR("rem", a, b));
        mix(RR("remu", a, b));
        mix(RR("mulw", a, b));
        mix(RR("divw", a, b));
        mix(RR("divuw", a, b));
        mix(RR("remw", a, b));
        mix(RR("remuw", a, b));
    }
}

/* ----------------------------------------------------------------- word */

static void g_word(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        u64 a = operand(), b = operand();
        mix(RR("addw", a, b));
        mix(RR("subw", a, b));
        mix(RR("sllw", a, b));
        mix(RR("srlw", a, b));
        mix(RR("sraw", a, b));
        mix(RI("addiw", a, 0));
        mix(RI("addiw", a, -1));
        mix(RI("addiw", a, 2047));
        mix(RI("addiw", a, -2048));
        mix(RI("slliw", a, 0));
        mix(RI("slliw", a, 1));
        mix(RI("slliw", a, 31));
        mix(RI("srliw", a, 0));
        mix(RI("srliw", a, 15));
        mix(RI("srliw", a, 31));
        mix(RI("sraiw", a, 0));
        mix(RI("sraiw", a, 1));
        mix(RI("sraiw", a, 31));
    }
}

/* --------------------------------------------------------------- branch */

#define BR(op, a, b) ({ u64 _t; __asm__ volatile(NORVC( \
    "li %0, 1\n" op " %1, %2, 1f\nli %0, 0\n1:") : "=&r"(_t) : "r"(a), "r"(b)); _t; })

static void g_branch(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        u64 a = operand(), b = (rnd() & 3) == 0 ? a : operand();
        u64 bits = BR("beq", a, b) | BR("bne", a, b) << 1 | BR("blt", a, b) << 2 |
                   BR("bge", a, b) << 3 | BR("bltu", a, b) << 4 | BR("bgeu", a, b) << 5;
        mix(bits);
    }
}

/* ------------------------------------------------------------------ mem */

static u8 membuf[4096] __attribute__((aligned(4096)));

#define LD(op, p) ({ u64 _r; __asm__ volatile(NORVC(op " %0, 0(%1)") : "=r"(_r) : "r"(p) : "memory"); _r; })
#define ST(op, p, v) __asm__ volatile(NORVC(op " %1, 0(%0)") : : "r"(p), "r"(v) : "memory")

static void g_mem(void)
{
    u8 *b = membuf;
    for (int i = 0; i < 4096; i++)
        b[i] = (u8)(i * 7);
    for (int i = 0; i < ROUNDS * 4; i++) {
        u64 r = rnd();
        u8 *p = b + (r >> 8) % (4096 - 8);       /* any alignment, never crossing the page */
        u8 *q = b + (r >> 24) % (4096 - 8);
        u64 v = operand();
        switch (r & 3) {
        case 0: ST("sb", p, v); break;
        case 1: ST("sh", p, v); break;
        case 2: ST("sw", p, v); break;
        case 3: ST("sd", p, v); break;
        }
        switch ((r >> 2) & 7) {
        case 0: mix(LD("lb", q)); break;
        case 1: mix(LD("lbu", q)); break;
        case 2: mix(LD("lh", q)); break;
        case 3: mix(LD("lhu", q)); break;
        case 4: mix(LD("lw", q)); break;
        case 5: mix(LD("lwu", q)); break;
        default: mix(LD("ld", q)); break;
        }
        mix(LD("ld", p));
    }
    for (int i = 0; i < 4096; i += 8)
        mix(LD("ld", b + i));
}

/* ------------------------------------------------------------------ amo */

static u64 amobuf[16] __attribute__((aligned(64)));

#define AMO(op, p, v) ({ u64 _r; __asm__ volatile(op " %0, %2, (%1)" : "=r"(_r) : "r"(p), "r"(v) : "memory"); _r; })

static void g_amo(void)
{
    for (int i = 0; i < 16; i++)
        amobuf[i] = rnd();
    for (int i = 0; i < ROUNDS; i++) {
        u64 r = rnd();
        u64 v = operand();
        u64 *pd = &amobuf[(r >> 8) & 15];
        u32 *pw = (u32 *)amobuf + ((r >> 16) & 31);
        switch ((r >> 2) % 19) {
        case 0:  mix(AMO("amoswap.w", pw, v)); break;
        case 1:  mix(AMO("amoadd.w", pw, v)); break;
        case 2:  mix(AMO("amoxor.w", pw, v)); break;
        case 3:  mix(AMO("amoand.w", pw, v)); break;
        case 4:  mix(AMO("amoor.w", pw, v)); break;
        case 5:  mix(AMO("amomin.w", pw, v)); break;
        case 6:  mix(AMO("amomax.w", pw, v)); break;
        case 7:  mix(AMO("amominu.w", pw, v)); break;
        case 8:  mix(AMO("amomaxu.w.aqrl", pw, v)); break;
        case 9:  mix(AMO("amoswap.d", pd, v)); break;
        case 10: mix(AMO("amoadd.d", pd, v)); break;
        case 11: mix(AMO("amoxor.d", pd, v)); break;
        case 12: mix(AMO("amoand.d", pd, v)); break;
        case 13: mix(AMO("amoor.d", pd, v)); break;
        case 14: mix(AMO("amomin.d", pd, v)); break;
        case 15: mix(AMO("amomax.d", pd, v)); break;
        case 16: mix(AMO("amominu.d", pd, v)); break;
        case 17: mix(AMO("amomaxu.d.aq", pd, v)); break;
        default: {
            /* LR/SC read-modify-write, retried until the SC succeeds */
            u64 old, fail;
            if (r & 0x100000) {
                __asm__ volatile("1: lr.w %0, (%2)\n add %1, %0, %3\n sc.w %1, %1, (%2)\n bnez %1, 1b"
                                 : "=&r"(old), "=&r"(fail) : "r"(pw), "r"(v) : "memory");
            } else {
                __asm__ volatile("1: lr.d %0, (%2)\n xor %1, %0, %3\n sc.d %1, %1, (%2)\n bnez %1, 1b"
                                 : "=&r"(old), "=&r"(fail) : "r"(pd), "r"(v) : "memory");
            }
            mix(old);
            break;
        }
        }
        mix(*pd);
        mix(*pw);
    }
    for (int i = 0; i < 16; i++)
        mix(amobuf[i]);
}

/* ------------------------------------------------------------------ rvc */

#define C_RR(fn, insn) static u64 fn(u64 a, u64 b) { \
    register u64 x __asm__("a0") = a; register u64 y __asm__("a1") = b; \
    __asm__ volatile(insn " a0, a1" : "+r"(x) : "r"(y)); return x; }
#define C_RI(fn, insn, imm) static u64 fn(u64 a) { \
    register u64 x __asm__("a0") = a; \
    __asm__ volatile(insn " a0, " #imm : "+r"(x)); return x; }

C_RR(c_add, "c.add")
C_RR(c_mv, "c.mv")
C_RR(c_sub, "c.sub")
C_RR(c_xor, "c.xor")
C_RR(c_or, "c.or")
C_RR(c_and, "c.and")
C_RR(c_addw, "c.addw")
C_RR(c_subw, "c.subw")
C_RI(c_slli1, "c.slli", 1)
C_RI(c_slli31, "c.slli", 31)
C_RI(c_slli32, "c.slli", 32)
C_RI(c_slli63, "c.slli", 63)
C_RI(c_srli1, "c.srli", 1)
C_RI(c_srli32, "c.srli", 32)
C_RI(c_srli63, "c.srli", 63)
C_RI(c_srai1, "c.srai", 1)
C_RI(c_srai31, "c.srai", 31)
C_RI(c_srai63, "c.srai", 63)
C_RI(c_andi_m32, "c.andi", -32)
C_RI(c_andi_31, "c.andi", 31)
C_RI(c_andi_m1, "c.andi", -1)
C_RI(c_addi_m32, "c.addi", -32)
C_RI(c_addi_31, "c.addi", 31)
C_RI(c_addiw_m1, "c.addiw", -1)
C_RI(c_addiw_17, "c.addiw", 17)
C_RI(c_addiw_0, "c.addiw", 0)

static u64 rvcbuf[64] __attribute__((aligned(64)));

/* compressed loads/stores with a base register in x8..x15 */
static void c_mem(u64 v, u64 idx)
{
    register u64 val __asm__("a0") = v;
    register u64 base __asm__("a1") = (u64)&rvcbuf[idx & 31];
    register u64 o1 __asm__("a2");
    register u64 o2 __asm__("a3");
    register u64 o3 __asm__("a4");
    __asm__ volatile(
        "c.sd a0, 8(a1)\n"
        "c.sw a0, 20(a1)\n"
        "c.ld a2, 16(a1)\n"
        "c.lw a3, 8(a1)\n"
        "c.lw a4, 12(a1)\n"
        : "=&r"(o1), "=&r"(o2), "=&r"(o3)
        : "r"(val), "r"(base)
        : "memory");
    mix(o1);
    mix(o2);
    mix(o3);
}

/* sp-relative forms, c.addi16sp and c.addi4spn with sp pointed at a buffer */
static void c_sp(u64 v, u64 idx)
{
    register u64 val __asm__("a0") = v;
    register u64 base __asm__("a1") = (u64)&rvcbuf[(idx & 15) * 2];
    register u64 o1 __asm__("a2");
    register u64 o2 __asm__("a3");
    register u64 o3 __asm__("a4");
    register u64 o4 __asm__("a5");
    __asm__ volatile(
        "mv t0, sp\n"
        "mv sp, a1\n"
        "c.sdsp a0, 0(sp)\n"
        "c.swsp a0, 12(sp)\n"
        "c.ldsp a2, 8(sp)\n"
        "c.lwsp a3, 0(sp)\n"
        "c.lwsp a4, 4(sp)\n"
        "c.addi16sp sp, -64\n"
        "c.addi4spn a5, sp, 72\n"
        "sub a5, a5, a1\n"
        "mv sp, t0\n"
        : "=&r"(o1), "=&r"(o2), "=&r"(o3), "=&r"(o4)
        : "r"(val), "r"(base)
        : "t0", "memory");
    mix(o1);
    mix(o2);
    mix(o3);
    mix(o4);
}

static void g_rvc(void)
{
    for (int i = 0; i < 64; i++)
        rvcbuf[i] = rnd();
    for (int i = 0; i < ROUNDS; i++) {
        u64 a = operand(), b = operand();
        mix(c_add(a, b));
        mix(c_mv(a, b));
        mix(c_sub(a, b));
        mix(c_xor(a, b));
        mix(c_or(a, b));
        mix(c_and(a, b));
        mix(c_addw(a, b));
        mix(c_subw(a, b));
        mix(c_slli1(a));
        mix(c_slli31(a));
        mix(c_slli32(a));
        mix(c_slli63(a));
        mix(c_srli1(a));
        mix(c_srli32(a));
        mix(c_srli63(a));
        mix(c_srai1(a));
        mix(c_srai31(a));
        mix(c_srai63(a));
        mix(c_andi_m32(a));
        mix(c_andi_31(a));
        mix(c_andi_m1(a));
        mix(c_addi_m32(a));
        mix(c_addi_31(a));
        mix(c_addiw_m1(a));
        mix(c_addiw_17(a));
        mix(c_addiw_0(a));
        c_mem(a, b);
        c_sp(b, a);
    }
    for (int i = 0; i < 64; i++)
        mix(rvcbuf[i]);
}

/* ------------------------------------------------------------------ main */

int main(u64 hartid, const void *fdt)
{
    (void)fdt;
    if (hartid != 0) {
        __asm__ volatile("csrw mie, zero");
        for (;;)
            __asm__ volatile("wfi");
    }
    hash = HASH_INIT;
    g_alu();    report("alu");
    g_shift();  report("shift");
    g_mul();    report("mul");
    g_word();   report("word");
    g_branch(); report("branch");
    g_mem();    report("mem");
    g_amo();    report("amo");
    g_rvc();    report("rvc");
    puts("diff: done\n");
    return 0;
}
