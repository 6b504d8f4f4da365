/*
 * wkvm virtio fuzz guest: a hostile virtio-mmio driver. Hart 0 scans the 8
 * virtio-mmio slots and, for `rounds` rounds (0 = forever), picks one of the
 * devices it found and drives it with a seeded mix of the right thing and
 * the wrong thing:
 *   - the status handshake done right, or wrongly: FEATURES_OK with features
 *     that were not offered or without VERSION_1, DRIVER_OK without
 *     FEATURES_OK, random status values, bits cleared, FAILED, NEEDS_RESET;
 *   - queue registers: sizes that are no power of two, zero or too big,
 *     rings outside RAM, near 2^64, straddling the end of RAM, misaligned or
 *     overlapping each other, QueueReady without addresses;
 *   - descriptor chains made for the device (block requests with headers
 *     and status bytes, frames, entropy and console buffers), then mutated:
 *     addresses outside RAM or near 2^64, huge lengths, next-loops, next out
 *     of the table, WRITE/NEXT/INDIRECT flags flipped, readable after
 *     writable, chains through the whole table and past it, indirect tables
 *     (nested, with NEXT, lengths 0 / odd / huge, outside RAM, of 32768
 *     entries), heads out of range, available index jumps (backwards, by
 *     more than the queue, by 0x8000) and a legal wrap of the 16-bit index
 *     (65536+ chains, taken back as they are used);
 *   - notifies one at a time or in storms of thousands (valid and invalid
 *     queue numbers, 8/16-bit stores, values that exit to the transport);
 *   - queue registers and features rewritten after DRIVER_OK, resets
 *     (Status = 0) right after requests were posted (also many in a row,
 *     each with a queue's worth of block requests of up to 8 MiB, or zeroing
 *     up to the whole disk), config space read and written at random
 *     offsets and widths, random registers written.
 * With -smp 2, hart 1 rings random doorbells of every slot meanwhile, in
 * bursts, or (one seed in four) without a pause. Finally hart 0 prints
 * "virtiofuzz: done" and powers off (sifive_test 0x5555); with rounds=0 it
 * runs until the host stops it, and one seed in four ends its rounds in a
 * notify storm that never stops.
 * A trap (say a misaligned MMIO access) is counted and skipped.
 *
 * Boot arguments: seed=N rounds=N. Guest RAM must be 64 MiB: rings live at
 * RINGS, buffers at BUFS..RAM_END; the devices write only there.
 */
#include "lib.h"

#define RAM_BASE  0x80000000UL
#define RAM_SIZE  (64UL << 20)
#define RAM_END   (RAM_BASE + RAM_SIZE)
#define RINGS     0x80400000UL          /* 1 MiB per slot: rings, indirect tables */
#define SLOT_AREA 0x100000UL
#define BUFS      0x80c00000UL          /* data buffers */
#define BUFS_END  (RAM_END - 0x200000UL) /* below where the device tree may lie */
#define SLOTS     8

/* per queue q of a slot's area: descriptors, available ring, used ring, indirect tables */
#define Q_STRIDE  0x80000UL
#define Q_DESC    0x0UL
#define Q_AVAIL   0x8000UL
#define Q_USED    0x10000UL
#define Q_IND     0x20000UL             /* 0x60000: up to 24576 entries, or 6 tables of 0x10000 */
#define IND_TABLE 0x10000UL

/* registers */
#define MAGIC      0x000
#define VERSION    0x004
#define DEVICE_ID  0x008
#define DEV_FEAT   0x010
#define DEV_FSEL   0x014
#define DRV_FEAT   0x020
#define DRV_FSEL   0x024
#define QSEL       0x030
#define QNUM_MAX   0x034
#define QNUM       0x038
#define QREADY     0x044
#define QNOTIFY    0x050
#define INT_STATUS 0x060
#define INT_ACK    0x064
#define STATUS     0x070
#define QDESC_LO   0x080
#define QDESC_HI   0x084
#define QDRV_LO    0x090
#define QDRV_HI    0x094
#define QDEV_LO    0x0a0
#define QDEV_HI    0x0a4
#define CONFIG     0x100

#define S_ACK         1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64
#define S_FAILED      128

#define F_INDIRECT  (1UL << 28)
#define F_EVENT_IDX (1UL << 29)
#define F_VERSION_1 (1UL << 32)

#define D_NEXT     1
#define D_WRITE    2
#define D_INDIRECT 4

struct desc { u64 addr; u32 len; u16 flags; u16 next; };

struct queue {
    u32 size;       /* what the guest uses for its own ring arithmetic */
    u16 idx;        /* next available index */
    u16 next_desc;  /* next free descriptor */
    struct desc *desc;
    volatile u16 *avail;   /* flags, idx, ring[size], used_event */
    volatile u16 *used;    /* flags, idx, ... */
};

struct dev {
    u64 base;
    u32 slot, id, nq;
    u64 offered, features;
    u64 capacity;   /* virtio-blk sectors */
    struct queue q[2];
};

static struct dev devs[SLOTS];
static u32 ndevs;
static u64 rng;
volatile u64 vf_traps;           /* counted by the trap handler (trap.S) */
void vf_trap(void);
static volatile u32 go_hart1;
static u64 hart1_seed;

static u64 rnd(void) { return xorshift64(&rng); }
static u32 below(u32 n) { return n ? (u32)(rnd() % n) : 0; }
static int one_in(u32 n) { return below(n) == 0; }

static inline u32 rd32(const struct dev *d, u32 off) { return MMIO32(d->base + off); }
static inline void wr32(const struct dev *d, u32 off, u32 v) { MMIO32(d->base + off) = v; }
static inline void fence(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }

static u64 area(const struct dev *d, u32 q) { return RINGS + SLOT_AREA * d->slot + Q_STRIDE * q; }

/* ------------------------------------------------------------ addresses */

/* somewhere that is not RAM, or only partly */
static u64 wild_addr(void)
{
    static const u64 w[] = {
        0, 0x1000, 0x100000, 0x0c000000, 0x10000000, 0x10001000, 0x10008050,
        RAM_BASE - 8, RAM_BASE - 0x1000, RAM_END - 8, RAM_END - 1, RAM_END, RAM_END + 0x1000,
        0x7ffffffffffff000UL, 0xfffffffffffff000UL, 0xfffffffffffffff0UL, 0xffffffffffffffffUL,
        0x100000000UL, 0x180000000UL,
    };
    if (one_in(4)) return rnd();
    return w[below(sizeof w / sizeof w[0])];
}

static u32 huge_len(void)
{
    static const u32 l[] = { 0xffffffffu, 0xfffffff0u, 0x80000000u, 0x7fffffffu, (u32)RAM_SIZE, (u32)RAM_SIZE + 1, 0x10000000u, 0x1000001u };
    return l[below(sizeof l / sizeof l[0])];
}

/* a buffer of len bytes in the buffer area */
static u64 buf_addr(u32 len)
{
    u64 room = BUFS_END - BUFS - len;
    u64 a = BUFS + rnd() % room;
    return one_in(2) ? a & ~0xfUL : a;
}

static void fill(u64 addr, u32 len)
{
    u8 *p = (u8 *)addr;
    u64 v = rnd();
    for (u32 i = 0; i < len && i < 64; i++)
        p[i] = (u8)(v >> (8 * (i & 7))) ^ (u8)i;
}

/* ------------------------------------------------------------ chains */

struct seg { u64 addr; u32 len; u16 flags; };
static int heavy; /* block requests: only the largest WRITE_ZEROES */
#define MAX_SEGS 8

/* the buffers of a well-formed request for this device and queue */
static u32 good_segs(struct dev *d, u32 q, struct seg *s)
{
    u32 n = 0;
    switch (d->id) {
    case 2: { /* block: header, data, status */
        static const u32 types[] = { 0, 0, 1, 1, 4, 8, 11, 13, 0x12345678 };
        u32 type = heavy ? 13 : types[below(sizeof types / sizeof types[0])];
        u64 sectors = one_in(8) ? 1 + below(16384) : 1 + below(8); /* up to 8 MiB */
        u64 cap = d->capacity;
        u64 sector;
        switch (below(6)) {
        case 0: sector = 0; break;
        case 1: sector = cap ? cap - 1 : 0; break;
        case 2: sector = cap; break;
        case 3: sector = rnd(); break;
        case 4: sector = 0xffffffffffffffffUL; break;
        default: sector = cap ? rnd() % cap : 0; break;
        }
        if (one_in(4)) sector = cap > sectors ? cap - sectors : 0; /* the very end of the disk */
        u64 h = buf_addr(16);
        u32 *hdr = (u32 *)h;
        hdr[0] = type;
        hdr[1] = 0;
        *(u64 *)(h + 8) = sector;
        if (one_in(4)) { /* the header split in two */
            s[n++] = (struct seg){ h, 8, 0 };
            s[n++] = (struct seg){ h + 8, 8, 0 };
        } else {
            s[n++] = (struct seg){ h, 16, 0 };
        }
        if (type == 1) {
            u32 len = (u32)sectors * 512 + (one_in(8) ? 1 : 0);
            u64 a = buf_addr(len);
            fill(a, len);
            s[n++] = (struct seg){ a, len, 0 };
        } else if (type == 11 || type == 13) {
            u64 a = buf_addr(16);
            *(u64 *)a = one_in(2) ? sector : rnd() % (cap + 2);
            static const u32 counts[] = { 1, 8, 64, 0x7fffffff, 1 << 17, 1 << 22 };
            u32 count = one_in(3) ? counts[below(6)] : one_in(2) ? (u32)(1 + below(64)) : (u32)(1 + rnd() % (cap + 1));
            if (heavy) count = cap < (1 << 17) ? (u32)cap : 1 << 17; /* as much as one request may zero */
            ((u32 *)a)[2] = count;
            if ((heavy || one_in(2)) && count <= cap) *(u64 *)a = rnd() % (cap - count + 1);
            if (heavy) ((u32 *)a)[3] = 0;
            ((u32 *)a)[3] = one_in(4) ? (u32)rnd() : (u32)below(2);
            s[n++] = (struct seg){ a, 16, 0 };
        } else if (type != 4) {
            u32 len = type == 8 ? 20 : (u32)sectors * 512;
            s[n++] = (struct seg){ buf_addr(len), len, D_WRITE };
        }
        s[n++] = (struct seg){ buf_addr(1), 1, D_WRITE };
        break;
    }
    case 1: /* net: receive buffers, or a header and a frame */
        if (q == 0) {
            u32 len = one_in(4) ? 1 + below(64) : 1526 + below(600);
            s[n++] = (struct seg){ buf_addr(len), len, D_WRITE };
        } else {
            u64 h = buf_addr(12);
            for (int i = 0; i < 12; i++) ((u8 *)h)[i] = 0;
            u32 len = one_in(8) ? 65536 + below(4096) : 14 + below(1500);
            u64 f = buf_addr(len);
            fill(f, len);
            s[n++] = (struct seg){ h, 12, 0 };
            s[n++] = (struct seg){ f, len, 0 };
        }
        break;
    case 3: /* console: q0 receive, q1 transmit */
    default: /* entropy, and whatever else: writable buffers */
        if (d->id == 3 && q == 1) {
            u32 len = 1 + below(one_in(16) ? 200000 : 256);
            u64 a = buf_addr(len);
            fill(a, len);
            s[n++] = (struct seg){ a, len, 0 };
        } else {
            u32 k = 1 + below(3);
            for (u32 i = 0; i < k; i++) {
                u32 len = one_in(8) ? 70000 + below(4096) : 1 + below(512);
                s[n++] = (struct seg){ buf_addr(len), len, D_WRITE };
            }
        }
        break;
    }
    return n;
}

/* wreck a descriptor */
static void mutate_desc(struct desc *t, u32 i, u32 tsize)
{
    struct desc *x = &t[i];
    switch (below(10)) {
    case 0: x->addr = wild_addr(); break;
    case 1: x->len = huge_len(); break;
    case 2: x->addr = wild_addr(); x->len = 1 + below(64); break;
    case 3: x->flags |= D_NEXT; x->next = (u16)i; break;                 /* a loop on itself */
    case 4: x->flags |= D_NEXT; x->next = (u16)(i ? below(i) : 0); break; /* back into the chain */
    case 5: x->flags |= D_NEXT; x->next = one_in(2) ? (u16)tsize : (u16)0xffff; break; /* out of the table */
    case 6: x->flags ^= D_WRITE; break;
    case 7: x->flags = (u16)rnd(); x->next = (u16)below(tsize + 2); break;
    case 8: x->len = 0; break;
    default: x->flags |= D_INDIRECT; break;
    }
}

/* put n segments into table t (size tsize) from index `at` on, linked; returns the first index */
static u32 link_segs(struct desc *t, u32 tsize, u32 at, const struct seg *s, u32 n)
{
    for (u32 i = 0; i < n; i++) {
        u32 k = (at + i) % tsize;
        t[k].addr = s[i].addr;
        t[k].len = s[i].len;
        t[k].flags = s[i].flags | (i + 1 < n ? D_NEXT : 0);
        t[k].next = (u16)((at + i + 1) % tsize);
    }
    return at % tsize;
}

/* an indirect table of these segments at tab (room for `room` entries); fills in the head's fields */
static void indirect_table(struct desc *head, struct desc *tab, u32 room, const struct seg *s, u32 n, int hostile)
{
    if (n > room) n = room;
    link_segs(tab, room, 0, s, n);
    head->addr = (u64)tab;
    head->len = 16 * n;
    head->flags = D_INDIRECT;
    head->next = 0;
    if (!hostile) return;
    switch (below(9)) {
    case 0: head->flags |= D_NEXT; head->next = (u16)below(4); break;
    case 1: head->len = below(2) ? 0 : 16 * n + 1 + below(15); break;
    case 2: head->len = huge_len(); break;
    case 3: head->addr = wild_addr(); break;
    case 4: { /* nested: an indirect entry inside the table, pointing at a second table */
        struct desc *inner = tab + n + 1;
        link_segs(inner, 4, 0, s, n < 4 ? n : 4);
        tab[below(n)].flags = D_INDIRECT | (one_in(2) ? D_NEXT : 0);
        tab[0].addr = (u64)inner;
        tab[0].len = 64;
        break;
    }
    case 5: /* a loop inside the table */
        tab[n - 1].flags |= D_NEXT;
        tab[n - 1].next = (u16)below(n);
        break;
    case 6: /* next past the table's end */
        tab[n - 1].flags |= D_NEXT;
        tab[n - 1].next = (u16)(n + below(100));
        break;
    case 7: head->addr += 8; break; /* misaligned table */
    default: mutate_desc(tab, below(n), n); break;
    }
}

/* one chain into queue q; returns its head */
static u16 build_chain(struct dev *d, u32 qi, int hostility)
{
    struct queue *q = &d->q[qi];
    struct seg s[MAX_SEGS];
    u32 n = good_segs(d, qi, s);
    u32 size = q->size;
    int hostile = hostility > 0 && one_in(hostility == 1 ? 8 : 2);
    int use_indirect = (d->features & F_INDIRECT) ? one_in(3) : (hostile && one_in(4));
    if (use_indirect) {
        u32 t = below(6);
        struct desc *tab = (struct desc *)(area(d, qi) + Q_IND + IND_TABLE * t);
        u16 head = (u16)(q->next_desc % size);
        q->next_desc = (u16)((q->next_desc + 1) % size);
        indirect_table(&q->desc[head], tab, IND_TABLE / 16 - 8, s, n, hostile);
        return head;
    }
    u32 at = q->next_desc % size;
    if (n > size) n = size;
    u16 head = (u16)link_segs(q->desc, size, at, s, n);
    q->next_desc = (u16)((at + n) % size);
    if (hostile)
        for (u32 k = 1 + below(2); k--;)
            mutate_desc(q->desc, (at + below(n)) % size, size);
    return head;
}

/* ------------------------------------------------------------ the ring */

static u16 used_idx(const struct queue *q) { return q->used[1]; }

/* wait a little (at most ~us microseconds) for the device to use what was made available */
static void wait_used(const struct queue *q, u32 us)
{
    u64 until = mtime() + 10UL * us;
    while (used_idx(q) != q->idx && mtime() < until)
        cpu_relax();
}

static void spin_us(u32 us)
{
    u64 until = mtime() + 10UL * us;
    while (mtime() < until)
        cpu_relax();
}

static void publish(struct queue *q)
{
    fence();
    q->avail[1] = q->idx;
    fence();
}

static void notify(struct dev *d, u32 qi)
{
    switch (below(16)) {
    case 0: MMIO32(d->base + QNOTIFY) = 0x10000 | qi; break;      /* exits: the transport's notify */
    case 1: *(volatile u16 *)(d->base + QNOTIFY) = (u16)qi; break; /* a 16-bit store: ignored */
    case 2: MMIO32(d->base + QNOTIFY) = below(32); break;          /* some queue */
    default: MMIO32(d->base + QNOTIFY) = qi; break;
    }
}

static void storm(struct dev *d, u32 qi)
{
    u32 n = 500 + below(one_in(4) ? 20000 : 3000);
    if (one_in(16)) n = 200000 + below(400000); /* a long one */
    u32 mode = below(3);
    volatile u32 *reg = (volatile u32 *)(d->base + QNOTIFY);
    for (u32 i = 0; i < n; i++) {
        if (mode == 0) *reg = qi;
        else if (mode == 1) *reg = i & 31;
        else *reg = (u32)rnd() & 0x3f;
    }
}

/* make n chains available on queue qi and notify */
static void submit(struct dev *d, u32 qi, u32 n, int hostility)
{
    struct queue *q = &d->q[qi];
    if (!q->size) return;
    /* a chain takes up to 4 descriptors: more chains than fit would overwrite
     * each other before the device reads them (now and then that is the idea) */
    if (n > q->size / 4 && !(hostility > 1 && one_in(4))) n = q->size / 4 ? q->size / 4 : 1;
    for (u32 i = 0; i < n; i++) {
        u16 head = build_chain(d, qi, hostility);
        if (hostility > 1 && one_in(16)) head = one_in(2) ? (u16)q->size : (u16)rnd();
        q->avail[2 + q->idx % q->size] = head;
        q->idx++;
    }
    if (hostility > 1 && one_in(6)) {
        switch (below(5)) {
        case 0: q->idx -= 1 + below(3); break;                 /* backwards */
        case 1: q->idx += q->size + 1 + below(8); break;       /* more than the queue */
        case 2: q->idx += 0x8000; break;
        case 3: q->idx = (u16)rnd(); break;
        default: q->idx = 0xffff; break;
        }
    }
    publish(q);
    notify(d, qi);
}

/* a legal wrap of the 16-bit available index: > 65536 entries, posted as the device uses them */
static void marathon(struct dev *d, u32 qi)
{
    struct queue *q = &d->q[qi];
    if (!q->size) return;
    u32 batch = q->size;
    /* one small chain in descriptor 0, made available over and over */
    struct seg s[MAX_SEGS];
    u32 n = good_segs(d, qi, s);
    if (n > q->size) n = q->size;
    link_segs(q->desc, q->size, 0, s, n);
    for (u32 i = 0; i < q->size; i++) q->avail[2 + i] = 0;
    u32 total = 0x10000 + below(0x1000);
    for (u32 done = 0; done < total; done += batch) {
        q->idx += batch;
        publish(q);
        MMIO32(d->base + QNOTIFY) = qi;
        wait_used(q, 2000);
        if (used_idx(q) != q->idx) return; /* the device gave up (or waits on its host side) */
    }
}

/* ------------------------------------------------------------ setup */

static void set_status(struct dev *d, u32 s) { wr32(d, STATUS, s); }

static void setup_queue(struct dev *d, u32 qi, int hostility)
{
    struct queue *q = &d->q[qi];
    wr32(d, QSEL, qi);
    u32 max = rd32(d, QNUM_MAX);
    (void)rd32(d, QREADY);
    u32 size = max >> below(4);
    if (!size) size = max;
    u64 base = area(d, qi);
    q->size = size;
    q->idx = 0;
    q->next_desc = 0;
    q->desc = (struct desc *)(base + Q_DESC);
    q->avail = (volatile u16 *)(base + Q_AVAIL);
    q->used = (volatile u16 *)(base + Q_USED);
    for (u32 i = 0; i < 2 + size + 1; i++) q->avail[i] = 0;
    for (u32 i = 0; i < 2 + 4 * size + 1; i++) q->used[i] = 0;
    u64 da = base + Q_DESC, aa = base + Q_AVAIL, ua = base + Q_USED;
    u32 num = size;
    int ready = 1;
    if (hostility > 0 && one_in(hostility == 1 ? 12 : 3)) {
        switch (below(12)) {
        case 0: num = below(2) ? 0 : size + 1 + below(3); break; /* zero, or not a power of two */
        case 1: num = max * 2; break;
        case 2: num = below(3) ? 0xffffffffu : 32768; break;
        case 3: da = wild_addr(); break;
        case 4: aa = wild_addr(); break;
        case 5: ua = wild_addr(); break;
        case 6: da += 8; aa += 1; break;                          /* misaligned */
        case 7: ua += 2; break;
        case 8: aa = ua = da; break;                              /* all on top of each other */
        case 9: ua = aa; break;
        case 10: da = RAM_END - 16 * size / 2; break;            /* running off the end of RAM */
        default: ready = 0; break;                                /* never made ready */
        }
    }
    wr32(d, QNUM, num);
    wr32(d, QDESC_LO, (u32)da);
    wr32(d, QDESC_HI, (u32)(da >> 32));
    wr32(d, QDRV_LO, (u32)aa);
    wr32(d, QDRV_HI, (u32)(aa >> 32));
    wr32(d, QDEV_LO, (u32)ua);
    wr32(d, QDEV_HI, (u32)(ua >> 32));
    if (hostility > 1 && one_in(8)) { /* ready first, then the registers (ignored) */
        wr32(d, QREADY, 1);
        wr32(d, QNUM, (u32)rnd());
        wr32(d, QDESC_LO, (u32)rnd());
    }
    if (ready) wr32(d, QREADY, 1);
}

static void handshake(struct dev *d, int hostility)
{
    set_status(d, 0);
    int bad = hostility > 0 && one_in(hostility == 1 ? 10 : 3);
    u32 st = S_ACK;
    set_status(d, st);
    st |= S_DRIVER;
    set_status(d, st);
    wr32(d, DEV_FSEL, 0);
    u64 lo = rd32(d, DEV_FEAT);
    wr32(d, DEV_FSEL, 1);
    u64 hi = rd32(d, DEV_FEAT);
    d->offered = hi << 32 | lo;
    u64 want = (d->offered & (rnd() | F_VERSION_1)) | F_VERSION_1;
    if (bad) {
        switch (below(4)) {
        case 0: want = rnd() | F_VERSION_1; break;      /* features not offered */
        case 1: want &= ~F_VERSION_1; break;            /* a legacy driver */
        case 2: want = 0xffffffffffffffffUL; break;
        default: break;
        }
    }
    wr32(d, DRV_FSEL, 0);
    wr32(d, DRV_FEAT, (u32)want);
    wr32(d, DRV_FSEL, 1);
    wr32(d, DRV_FEAT, (u32)(want >> 32));
    if (bad && one_in(3)) {
        wr32(d, DRV_FSEL, 2 + below(100));
        wr32(d, DRV_FEAT, (u32)rnd());
    }
    d->features = want;
    int skip_fok = bad && one_in(3);
    if (!skip_fok) {
        st |= S_FEATURES_OK;
        set_status(d, st);
        if (!(rd32(d, STATUS) & S_FEATURES_OK)) d->features = 0; /* refused: go on anyway */
    }
    if (d->id == 2) {
        d->capacity = (u64)rd32(d, CONFIG) | (u64)rd32(d, CONFIG + 4) << 32;
        if (d->capacity > 0x100000) d->capacity = 0x100000;
    }
    for (u32 qi = 0; qi < d->nq; qi++) setup_queue(d, qi, hostility);
    if (bad && one_in(2)) {
        /* status writes in odd orders */
        for (u32 k = 1 + below(4); k--;) {
            static const u32 odd[] = { S_DRIVER_OK, S_ACK | S_DRIVER_OK, S_FAILED, S_NEEDS_RESET, 0xff, S_FEATURES_OK, S_DRIVER, 0x100 | S_ACK };
            set_status(d, one_in(4) ? (u32)rnd() : odd[below(sizeof odd / sizeof odd[0])]);
        }
    }
    st |= S_DRIVER_OK;
    set_status(d, st);
}

/* ------------------------------------------------------------ other mischief */

static void config_fuzz(struct dev *d)
{
    for (u32 k = 1 + below(16); k--;) {
        u64 a = d->base + CONFIG + (one_in(4) ? below(0xf00) : below(64));
        u32 w = below(4);
        if (one_in(5)) {
            u32 v = (u32)rnd();
            if (w == 0) MMIO8(a) = (u8)v;
            else if (w == 1) *(volatile u16 *)a = (u16)v;
            else if (w == 2) MMIO32(a) = v;
            else MMIO64(a) = rnd();
        } else {
            if (w == 0) (void)MMIO8(a);
            else if (w == 1) (void)*(volatile u16 *)a;
            else if (w == 2) (void)MMIO32(a);
            else (void)MMIO64(a);
        }
    }
}

static void register_fuzz(struct dev *d)
{
    for (u32 k = 1 + below(8); k--;) {
        u32 off = below(0x100);
        if (!one_in(4)) off &= ~3u;
        u64 a = d->base + off;
        u32 v = one_in(2) ? (u32)rnd() : below(4);
        switch (below(6)) {
        case 0: MMIO8(a) = (u8)v; break;
        case 1: *(volatile u16 *)a = (u16)v; break;
        case 2: MMIO64(a & ~7UL) = rnd(); break;
        case 3: (void)MMIO32(a & ~3UL); break;
        default: MMIO32(a & ~3UL) = v; break;
        }
    }
}

/* queue registers and features rewritten after DRIVER_OK */
static void reconfigure(struct dev *d)
{
    u32 qi = below(d->nq + 1);
    wr32(d, QSEL, qi);
    switch (below(6)) {
    case 0: wr32(d, QREADY, 0); break;
    case 1: wr32(d, QNUM, (u32)rnd()); break;
    case 2: wr32(d, QDESC_LO, (u32)wild_addr()); wr32(d, QDESC_HI, (u32)rnd()); break;
    case 3: wr32(d, QDEV_LO, (u32)rnd()); wr32(d, QREADY, 1); break;
    case 4: wr32(d, DRV_FSEL, 0); wr32(d, DRV_FEAT, (u32)rnd()); break;
    default: wr32(d, QSEL, (u32)rnd()); (void)rd32(d, QNUM_MAX); break;
    }
    notify(d, qi < d->nq ? qi : 0);
}

/* a chain that runs through the whole descriptor table (and round again) */
static void long_chain(struct dev *d, u32 qi)
{
    struct queue *q = &d->q[qi];
    if (!q->size) return;
    u32 w = (d->id == 2 || (d->id == 1 && qi == 1) || (d->id == 3 && qi == 1)) ? 0 : D_WRITE;
    for (u32 i = 0; i < q->size; i++) {
        q->desc[i].addr = buf_addr(64);
        q->desc[i].len = 64;
        q->desc[i].flags = (u16)(w | D_NEXT);
        q->desc[i].next = (u16)((i + 1) % q->size);
    }
    if (one_in(2)) q->desc[q->size - 1].flags = (u16)w; /* exactly the table: legal */
    q->avail[2 + q->idx % q->size] = (u16)below(q->size);
    q->idx++;
    publish(q);
    notify(d, qi);
}

/* a legal indirect table longer than the queue (up to 24576 entries), or a loop through it */
static void big_indirect(struct dev *d, u32 qi)
{
    struct queue *q = &d->q[qi];
    if (!q->size) return;
    u32 n = q->size + 1 + below(one_in(4) ? 24000 : 600);
    struct desc *tab = (struct desc *)(area(d, qi) + Q_IND);
    u32 w = (d->id == 4 || (qi == 0 && d->id != 2)) ? D_WRITE : 0;
    u64 b = buf_addr(4096);
    for (u32 i = 0; i < n; i++) {
        tab[i].addr = b + (i & 63) * 64;
        tab[i].len = one_in(64) ? huge_len() & 0xffff : 64;
        tab[i].flags = (u16)(w | (i + 1 < n ? D_NEXT : 0));
        tab[i].next = (u16)(i + 1);
    }
    if (one_in(3)) { tab[n - 1].flags |= D_NEXT; tab[n - 1].next = 0; }
    u16 head = (u16)(q->next_desc % q->size);
    q->desc[head] = (struct desc){ (u64)tab, 16 * n, D_INDIRECT, 0 };
    q->avail[2 + q->idx % q->size] = head;
    q->idx++;
    publish(q);
    notify(d, qi);
}

/* resets, each with a queue's worth of requests just posted */
static void reset_storm(struct dev *d, int hostility)
{
    heavy = one_in(3);
    for (u32 k = 2 + below(30); k--;) {
        handshake(d, hostility);
        for (u32 qi = 0; qi < d->nq; qi++)
            submit(d, qi, d->q[qi].size, hostility);
        spin_us(one_in(3) ? 0 : below(2000)); /* the device has taken them by now, or not */
        set_status(d, 0);
    }
    heavy = 0;
}

/* ------------------------------------------------------------ main */

static void round_of(struct dev *d)
{
    int hostility = (int)below(3); /* 0 well-behaved, 1 now and then, 2 often */
    if (one_in(3) || !(rd32(d, STATUS) & S_DRIVER_OK)) handshake(d, hostility);
    for (u32 k = 1 + below(6); k--;) {
        u32 qi = below(d->nq);
        struct queue *q = &d->q[qi];
        switch (below(24)) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: {
            u32 room = (u16)(q->idx - used_idx(q));
            u32 n = 1 + below(q->size ? q->size : 1);
            if (hostility == 0 && room + n > q->size) { wait_used(q, 1000); n = 1; }
            submit(d, qi, n, hostility);
            if (one_in(2)) wait_used(q, 200);
            break;
        }
        case 7: case 8: submit(d, qi, 1 + below(4), hostility); storm(d, qi); break;
        case 9: storm(d, qi); break;
        case 10: case 11: /* reset with requests just posted, then start again */
            submit(d, qi, 1 + below(8), hostility);
            if (one_in(2)) storm(d, qi);
            set_status(d, 0);
            if (one_in(2)) handshake(d, hostility);
            break;
        case 12: reconfigure(d); break;
        case 13: case 14: config_fuzz(d); break;
        case 15: register_fuzz(d); break;
        case 16: long_chain(d, qi); break;
        case 17: big_indirect(d, qi); break;
        case 18: if (one_in(8)) marathon(d, qi); else if (one_in(2)) reset_storm(d, hostility); break;
        case 19: wr32(d, INT_ACK, rd32(d, INT_STATUS)); break;
        case 20: (void)rd32(d, STATUS); (void)rd32(d, INT_STATUS); wr32(d, INT_ACK, (u32)rnd()); break;
        case 21: set_status(d, rd32(d, STATUS) | (one_in(2) ? S_FAILED : S_NEEDS_RESET)); break;
        default: wait_used(q, 500); break;
        }
    }
}

/* hart 1 (with -smp 2): bursts of doorbells on every slot while hart 0 works */
static void hart1_loop(void)
{
    while (!go_hart1)
        cpu_relax();
    u64 r = hart1_seed | 1;
    int relentless = (hart1_seed & 3) == 0; /* no pauses at all */
    for (;;) {
        u64 x = xorshift64(&r);
        u64 base = 0x10001000UL + 0x1000UL * (x & 7);
        u32 n = (u32)(x >> 8) % 4000;
        for (u32 i = 0; i < n; i++)
            MMIO32(base + QNOTIFY) = (u32)(x >> 24) & 3;
        if (relentless)
            continue;
        u64 until = mtime() + ((x >> 32) % 2000); /* up to 200 us apart */
        while (mtime() < until)
            cpu_relax();
    }
}

int main(u64 hartid, const void *fdt)
{
    __asm__ volatile("csrw mtvec, %0" :: "r"(vf_trap));
    if (hartid == 1)
        hart1_loop();
    if (hartid != 0)
        park();
    struct fdt_info info;
    u64 seed = 1, rounds = 200;
    if (fdt_parse(fdt, &info) == 0 && info.bootargs) {
        seed = bootarg_u64(info.bootargs, info.bootargs_len, "seed", seed);
        rounds = bootarg_u64(info.bootargs, info.bootargs_len, "rounds", rounds);
    }
    rng = seed * 0x9e3779b97f4a7c15UL + 0x2545f4914f6cdd1dUL;
    if (!rng) rng = 1;
    hart1_seed = rnd();
    puts("virtiofuzz: seed ");
    put_dec(seed);
    if ((hart1_seed & 3) == 0)
        puts(" (hart 1 relentless)");
    puts(", devices");
    for (u32 slot = 0; slot < SLOTS; slot++) {
        u64 base = 0x10001000UL + 0x1000UL * slot;
        if (MMIO32(base + MAGIC) != 0x74726976 || MMIO32(base + VERSION) != 2) continue;
        u32 id = MMIO32(base + DEVICE_ID);
        if (!id) continue;
        struct dev *d = &devs[ndevs++];
        d->base = base;
        d->slot = slot;
        d->id = id;
        d->nq = id == 2 || id == 4 ? 1 : 2;
        puts(" ");
        put_dec(slot);
        puts(":");
        put_dec(id);
    }
    puts("\n");
    go_hart1 = 1;
    if (!ndevs) {
        puts("virtiofuzz: no devices\n");
        return 3;
    }
    u64 r = 0;
    /* run forever: now and then the rounds end in a notify storm that never stops */
    u64 endless = rounds == 0 && one_in(4) ? 1 + below(40) : 0;
    for (; rounds == 0 || r < rounds; r++) {
        if (endless && r == endless) {
            puts("virtiofuzz: endless storm\n");
            volatile u32 *reg = (volatile u32 *)(devs[below(ndevs)].base + QNOTIFY);
            for (u32 i = 0;; i++)
                *reg = i & 1;
        }
        round_of(&devs[below(ndevs)]);
        if ((r & 63) == 63) {
            puts("virtiofuzz: round ");
            put_dec(r + 1);
            puts("\n");
        }
    }
    /* leave every device reset, with nothing in flight to land anywhere */
    for (u32 i = 0; i < ndevs; i++) set_status(&devs[i], 0);
    puts("virtiofuzz: done, rounds ");
    put_dec(r);
    puts(", traps ");
    put_dec(vf_traps);
    puts("\n");
    return 0;
}
