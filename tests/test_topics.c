/* Topics (ABI 1.1 part 4): actor_subscribe, actor_unsubscribe,
 * actor_publish. Subject matching (literal, `*`, `>`), each subscriber once
 * per publish, exact delivery counts, order per publisher, subscriptions
 * gone at Done without keeping the actor alive, bad input, subscribers
 * without a handler, bounded mailboxes, and concurrent subscribe /
 * unsubscribe / publish / stop from four threads. */
#include "testutil.h"

/* ---- allocations made by this thread (a counting allocator) ---- */

static _Thread_local long my_allocs;

static void *cnt_malloc(size_t n)
{
    my_allocs++;
    return malloc(n);
}
static void *cnt_calloc(size_t n, size_t s)
{
    my_allocs++;
    return calloc(n, s);
}
static void *cnt_realloc(void *p, size_t n)
{
    my_allocs++;
    return realloc(p, n);
}

/* ---- a sink: counts its events and checks each publisher's order ---- */

#define NPUB 4

typedef struct sink {
    atomic_ulong events;          /* t_ev handled                          */
    atomic_ulong others;          /* t_other handled                       */
    uint64_t last[NPUB];          /* per publisher: the last sequence seen */
    int strict;                   /* sequences must be consecutive         */
    atomic_int finalized;
} sink;

static const actor_msgtype *t_ev, *t_other, *t_opaque;

static int sink_ev(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    sink *s = st;
    if (len == 16) {
        uint64_t pub = tu_get_u64(p), seq = tu_get_u64((const unsigned char *)p + 8);
        if (pub < NPUB && seq != 0) {
            if (s->strict)
                TU_CHECK(seq == s->last[pub] + 1);
            else
                TU_CHECK(seq > s->last[pub]);
            s->last[pub] = seq;
        }
    }
    atomic_fetch_add(&s->events, 1);
    return 0;
}

static int sink_other(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&((sink *)st)->others, 1);
    return 0;
}

static int sink_any(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    if (actor_ctx_msgtype(ctx) == t_ev)
        return sink_ev(ctx, st, p, len);
    atomic_fetch_add(&((sink *)st)->others, 1);
    return 0;
}

static void sink_finalize(actor_ctx *ctx, void *st) { atomic_store(&((sink *)st)->finalized, 1); }

static void define_types(void)
{
    t_ev = tu_type("tp.Ev", "QQ", NULL);
    t_other = tu_type("tp.Other", "q", NULL);
    t_opaque = tu_type("tp.Opaque", NULL, NULL);
}

/* A class with a handler for t_ev (and t_other); capacity 0: unbounded. */
static actor_class *sink_class(const char *name, size_t capacity, int overflow)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_event(c, t_ev, sink_ev));
    assert_ok(actor_class_on_event(c, t_other, sink_other));
    assert_ok(actor_class_on_finalize(c, sink_finalize));
    if (capacity > 0)
        assert_ok(actor_class_set_mailbox(c, capacity, overflow));
    return c;
}

static void ev_payload(unsigned char buf[16], uint64_t pub, uint64_t seq)
{
    tu_put_u64(buf, pub);
    tu_put_u64(buf + 8, seq);
}

/* Publishes t_ev on subject; returns the delivered count (asserting OK). */
static size_t publish(actor_runtime *rt, const char *subject, uint64_t pub, uint64_t seq)
{
    unsigned char buf[16];
    ev_payload(buf, pub, seq);
    size_t n = (size_t)-1;
    assert_ok(actor_publish(rt, subject, t_ev, buf, sizeof buf, &n));
    return n;
}

static actor_runtime *manual(void)
{
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(1, &rt));
    return rt;
}

static void run_all(actor_runtime *rt) { assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL)); }

/* ---- the reference matcher (tests only): token by token ---- */

static int split(const char *s, char tok[][64], int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (n == max || l >= 64)
            return -1;
        memcpy(tok[n], p, l);
        tok[n++][l] = '\0';
        if (!dot)
            return n;
        p = dot + 1;
    }
}

static bool ref_match(const char *pattern, const char *subject)
{
    char pt[32][64], st[32][64];
    int np = split(pattern, pt, 32), ns = split(subject, st, 32);
    for (int i = 0; i < np; i++) {
        if (strcmp(pt[i], ">") == 0)
            return ns > i;
        if (i >= ns)
            return false;
        if (strcmp(pt[i], "*") != 0 && strcmp(pt[i], st[i]) != 0)
            return false;
    }
    return np == ns;
}

/* ------------------------------------------------------------------------ */

static const struct {
    const char *sub, *pub;
    int match;
} table[] = {
    {"a", "a", 1},
    {"a", "b", 0},
    {"a", "A", 0},
    {"ab", "a", 0},
    {"a", "ab", 0},
    {"a.b", "a", 0},
    {"a", "a.b", 0},
    {"a.b.c", "a.b.c", 1},
    {"a.b.c", "a.b.d", 0},
    {"a.b.c", "a.b.c.d", 0},
    {"*", "a", 1},
    {"*", "a.b", 0},
    {"a.*", "a.b", 1},
    {"a.*", "a", 0},
    {"a.*", "a.b.c", 0},
    {"a.*", "ab.c", 0},
    {"*.b", "a.b", 1},
    {"*.b", "a.c", 0},
    {"*.*", "a.b", 1},
    {"*.*", "a", 0},
    {"*.*", "a.b.c", 0},
    {">", "a", 1},
    {">", "a.b.c", 1},
    {"a.>", "a", 0},
    {"a.>", "a.b", 1},
    {"a.>", "a.b.c.d", 1},
    {"a.>", "b.c", 0},
    {"a.*.c.>", "a.b.c.d", 1},
    {"a.*.c.>", "a.b.c.d.e", 1},
    {"a.*.c.>", "a.b.c", 0},
    {"a.*.c.>", "a.b.x.d", 0},
    {"*.b.>", "x.b.y.z", 1},
    {"*.b.>", "x.c.y.z", 0},
    {"a.*.>", "a.b", 0},
    {"a.*.>", "a.b.c", 1},
    {"*.>", "a", 0},
    {"*.>", "a.b", 1},
    {"*.*.*", "a.b.c", 1},
    {"a.*.*", "a.b", 0},
    {"A_b-9:x.*", "A_b-9:x.y", 1},
    {"A_b-9:x.*", "A_b-9:y.y", 0},
    {"orders.*.new", "orders.eu.new", 1},
    {"orders.>", "orders.eu.new", 1},
    {"orders.>", "orders", 0},
};

/* Every row: one actor subscribes, a publish, delivered says whether it
 * matched (and agrees with the reference), the actor got it iff so. */
static void matching_table(void **state)
{
    actor_runtime *rt = manual();
    actor_class *c = sink_class("tp.Match", 0, 0);
    size_t rows = sizeof table / sizeof table[0];
    sink *s = calloc(rows, sizeof *s);
    actor_addr **a = calloc(rows, sizeof *a);
    for (size_t i = 0; i < rows; i++) {
        a[i] = tu_spawn(rt, c, &s[i]);
        assert_ok(actor_subscribe(a[i], table[i].sub));
        assert_int_equal(ref_match(table[i].sub, table[i].pub), table[i].match);
    }
    /* Each row's own subject: the number of actors whose subscription
     * matches it, by the reference. */
    for (size_t i = 0; i < rows; i++) {
        size_t expect = 0;
        for (size_t j = 0; j < rows; j++)
            expect += ref_match(table[j].sub, table[i].pub);
        size_t got = publish(rt, table[i].pub, 0, 0);
        if (got != expect)
            fail_msg("publish %s: delivered %zu, expected %zu", table[i].pub, got, expect);
    }
    run_all(rt);
    for (size_t i = 0; i < rows; i++) {
        unsigned long expect = 0;
        for (size_t j = 0; j < rows; j++)
            expect += ref_match(table[i].sub, table[j].pub);
        if (atomic_load(&s[i].events) != expect)
            fail_msg("subscriber %s: %lu events, expected %lu", table[i].sub,
                     atomic_load(&s[i].events), expect);
    }
    /* And the table's own column, alone. */
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < rows; j++)
            if (j != i)
                assert_ok(actor_unsubscribe(a[j], table[j].sub));
        size_t got = publish(rt, table[i].pub, 0, 0);
        assert_int_equal(got, (size_t)table[i].match);
        for (size_t j = 0; j < rows; j++)
            if (j != i)
                assert_ok(actor_subscribe(a[j], table[j].sub));
    }
    for (size_t i = 0; i < rows; i++)
        addr_release(a[i]);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(a);
    free(s);
}

/* Overlapping subscriptions of one actor: one delivery per publish. */
static void once_per_publish(void **state)
{
    actor_runtime *rt = manual();
    actor_class *c = sink_class("tp.Once", 0, 0);
    sink s1 = {0}, s2 = {0}, s3 = {0};
    actor_addr *a1 = tu_spawn(rt, c, &s1), *a2 = tu_spawn(rt, c, &s2), *a3 = tu_spawn(rt, c, &s3);
    const char *subs[] = {"a.b", "a.*", "a.>", ">", "*.b", "*.*", "*.>"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        assert_ok(actor_subscribe(a1, subs[i]));
    assert_ok(actor_subscribe(a2, "a.b"));
    assert_ok(actor_subscribe(a3, "x"));
    assert_int_equal(publish(rt, "a.b", 0, 0), 2);
    assert_int_equal(publish(rt, "a.c", 0, 0), 1);
    assert_int_equal(publish(rt, "q", 0, 0), 1);   /* ">" */
    assert_int_equal(publish(rt, "x", 0, 0), 2);   /* ">" and "x" */
    assert_int_equal(publish(rt, "y.z.w", 0, 0), 1);
    run_all(rt);
    assert_int_equal(atomic_load(&s1.events), 5);
    assert_int_equal(atomic_load(&s2.events), 1);
    assert_int_equal(atomic_load(&s3.events), 1);

    /* Many actors with several matching subscriptions each, beside many
     * with one: each counted once. */
    enum { N = 300 };
    sink *ss = calloc(N, sizeof *ss);
    actor_addr *as[N];
    size_t expect = 0;
    for (int i = 0; i < N; i++) {
        as[i] = tu_spawn(rt, c, &ss[i]);
        assert_ok(actor_subscribe(as[i], "d.x"));
        if (i % 3 == 0)
            assert_ok(actor_subscribe(as[i], "d.*"));
        if (i % 5 == 0)
            assert_ok(actor_subscribe(as[i], "d.>"));
        expect++;
    }
    assert_int_equal(publish(rt, "d.x", 0, 0), expect + 1 /* a1's ">" */);
    size_t wild = 0; /* those with "d.*" or "d.>" */
    for (int i = 0; i < N; i++)
        wild += i % 3 == 0 || i % 5 == 0;
    assert_int_equal(publish(rt, "d.y", 0, 0), wild + 1);
    run_all(rt);
    for (int i = 0; i < N; i++)
        assert_int_equal(atomic_load(&ss[i].events), 1 + (i % 3 == 0 || i % 5 == 0));
    for (int i = 0; i < N; i++)
        addr_release(as[i]);
    addr_release(a1);
    addr_release(a2);
    addr_release(a3);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(ss);
}

/* *delivered is exact against the reference over a mix of subscriptions;
 * NULL is fine; nothing subscribed: 0. */
static void delivered_exact(void **state)
{
    actor_runtime *rt = manual();
    size_t n = 99;
    unsigned char buf[16] = {0};
    assert_ok(actor_publish(rt, "none.yet", t_ev, buf, sizeof buf, &n));
    assert_int_equal(n, 0);
    actor_class *c = sink_class("tp.Exact", 0, 0);
    static const char *pats[] = {"m.1.1", "m.1.*", "m.*.1", "m.>", "*.1.1", "m.2.2",
                                 "m.*.*", ">",     "x.>",   "m.1",  "*",     "m.1.1.1"};
    static const char *subjects[] = {"m.1.1", "m.1.2", "m.2.1", "m.2.2", "m",
                                     "m.1",   "x.y",   "m.1.1.1", "z.1.1", "q"};
    enum { NA = 40 };
    sink *ss = calloc(NA, sizeof *ss);
    actor_addr *as[NA];
    unsigned masks[NA];
    for (int i = 0; i < NA; i++) {
        as[i] = tu_spawn(rt, c, &ss[i]);
        masks[i] = (unsigned)(i * 2654435761u) >> 20; /* a spread of subsets */
        for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++)
            if (masks[i] & (1u << k))
                assert_ok(actor_subscribe(as[i], pats[k]));
    }
    unsigned long expect_each[NA] = {0};
    for (size_t j = 0; j < sizeof subjects / sizeof subjects[0]; j++) {
        size_t expect = 0;
        for (int i = 0; i < NA; i++) {
            bool m = false;
            for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++)
                if ((masks[i] & (1u << k)) && ref_match(pats[k], subjects[j]))
                    m = true;
            expect += m;
            expect_each[i] += m;
        }
        size_t got = publish(rt, subjects[j], 0, 0);
        if (got != expect)
            fail_msg("%s: delivered %zu, expected %zu", subjects[j], got, expect);
        assert_ok(actor_publish(rt, subjects[j], t_ev, buf, sizeof buf, NULL));
    }
    run_all(rt);
    for (int i = 0; i < NA; i++)
        assert_int_equal(atomic_load(&ss[i].events), 2 * expect_each[i]);
    for (int i = 0; i < NA; i++)
        addr_release(as[i]);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(ss);
}

/* One publisher (this thread) x 10k events: each subscriber (some through
 * wildcards, on two workers) sees them all, consecutively. Then the same
 * from a publisher actor (a worker thread). */
typedef struct pubber {
    actor_runtime *rt;
    long n;
} pubber;

static int pubber_run(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    pubber *pb = st;
    unsigned char buf[16];
    for (long i = 1; i <= pb->n; i++) {
        ev_payload(buf, 1, (uint64_t)i);
        size_t n = 0;
        TU_CHECK_CODE(actor_publish(pb->rt, "ord.x.y", t_ev, buf, sizeof buf, &n), ACTOR_OK);
        TU_CHECK(n == 8);
    }
    return 0;
}

static void order_per_publisher(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *c = sink_class("tp.Order", 0, 0);
    enum { NS = 8 };
    const char *subs[NS] = {"ord.x.y", "ord.*.y", "ord.>", ">", "*.x.y", "ord.x.*", "*.*.*",
                            "ord.x.y"};
    sink ss[NS];
    memset(ss, 0, sizeof ss);
    actor_addr *as[NS];
    for (int i = 0; i < NS; i++) {
        ss[i].strict = 1;
        as[i] = tu_spawn(rt, c, &ss[i]);
        assert_ok(actor_subscribe(as[i], subs[i]));
    }
    long n = tu_scale(10000);
    for (long i = 1; i <= n; i++)
        assert_int_equal(publish(rt, "ord.x.y", 0, (uint64_t)i), NS);
    for (int i = 0; i < NS; i++)
        TU_WAIT_UNTIL(atomic_load(&ss[i].events) == (unsigned long)n, TU_LONG_MS);

    /* From an actor. */
    actor_class *pc = tu_class("tp.Pubber");
    assert_ok(actor_class_on_event(pc, t_other, pubber_run));
    pubber pb = {rt, n};
    actor_addr *p = tu_spawn(rt, pc, &pb);
    unsigned char q[8] = {0};
    assert_ok(addr_send(p, t_other, q, sizeof q));
    for (int i = 0; i < NS; i++)
        TU_WAIT_UNTIL(atomic_load(&ss[i].events) == 2 * (unsigned long)n, TU_LONG_MS);
    for (int i = 0; i < NS; i++)
        assert_int_equal(ss[i].last[1], (uint64_t)n);
    tu_assert_no_failures();
    addr_release(p);
    for (int i = 0; i < NS; i++)
        addr_release(as[i]);
    actor_runtime_free(rt);
    actor_class_free(c);
    actor_class_free(pc);
}

/* Done ends the subscriptions: a stopped actor gets nothing, unsubscribe
 * says ENOENT, subscribe ECLOSED. */
static void gone_at_done(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *c = sink_class("tp.Done", 0, 0);
    sink s1 = {0}, s2 = {0};
    actor_addr *a1 = tu_spawn(rt, c, &s1), *a2 = tu_spawn(rt, c, &s2);
    assert_ok(actor_subscribe(a1, "g.*"));
    assert_ok(actor_subscribe(a1, "g.>"));
    assert_ok(actor_subscribe(a2, "g.x"));
    assert_int_equal(publish(rt, "g.x", 0, 0), 2);
    assert_ok(addr_interrupt(a1));
    assert_ok(addr_join(a1, TU_LONG_MS));
    assert_int_equal(publish(rt, "g.x", 0, 0), 1);
    assert_int_equal(publish(rt, "g.x.y", 0, 0), 0);
    assert_code(actor_unsubscribe(a1, "g.*"), ACTOR_ENOENT);
    assert_code(actor_subscribe(a1, "g.*"), ACTOR_ECLOSED);
    assert_int_equal(publish(rt, "g.y", 0, 0), 0);
    TU_WAIT_UNTIL(atomic_load(&s2.events) == 2, TU_LONG_MS);
    assert_int_equal(atomic_load(&s1.events), 1);
    addr_release(a1);
    addr_release(a2);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* A subscription holds no address: releasing the last one stops the actor. */
static void not_kept_alive(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *c = sink_class("tp.Alive", 0, 0);
    sink s = {0};
    actor_addr *a = tu_spawn(rt, c, &s);
    assert_ok(actor_subscribe(a, "alive.>"));
    assert_ok(actor_subscribe(a, "alive.x"));
    assert_int_equal(publish(rt, "alive.x", 0, 0), 1);
    addr_release(a); /* the last address */
    TU_WAIT_UNTIL(atomic_load(&s.finalized) == 1, TU_LONG_MS);
    /* Done follows finalize; then nothing matches any more. */
    TU_WAIT_UNTIL(publish(rt, "alive.x", 0, 0) == 0, TU_LONG_MS);
    assert_int_equal(atomic_load(&s.events), 1);
    /* The same on a manual runtime, where nothing runs behind our back. */
    actor_runtime *m = manual();
    sink s2 = {0};
    actor_addr *b = tu_spawn(m, c, &s2);
    assert_ok(actor_subscribe(b, "alive.x"));
    run_all(m);
    addr_release(b);
    run_all(m);
    assert_int_equal(atomic_load(&s2.finalized), 1);
    assert_int_equal(publish(m, "alive.x", 0, 0), 0);
    actor_runtime_free(m);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void unsubscribe_enoent(void **state)
{
    actor_runtime *rt = manual();
    actor_class *c = sink_class("tp.Unsub", 0, 0);
    sink s = {0};
    actor_addr *a = tu_spawn(rt, c, &s), *b = tu_spawn(rt, c, &s);
    assert_code(actor_unsubscribe(a, "u.x"), ACTOR_ENOENT); /* nothing ever */
    assert_ok(actor_subscribe(a, "u.x"));
    assert_ok(actor_subscribe(a, "u.*"));
    assert_ok(actor_subscribe(b, "u.y"));
    assert_code(actor_unsubscribe(a, "u.y"), ACTOR_ENOENT);  /* b's, not a's */
    assert_code(actor_unsubscribe(a, "u.>"), ACTOR_ENOENT);  /* never subscribed */
    assert_code(actor_unsubscribe(a, "u"), ACTOR_ENOENT);    /* a prefix node */
    assert_code(actor_unsubscribe(a, "u.x.z"), ACTOR_ENOENT);
    assert_ok(actor_unsubscribe(a, "u.*"));                  /* leaves "u.x" */
    assert_code(actor_unsubscribe(a, "u.*"), ACTOR_ENOENT);
    assert_int_equal(publish(rt, "u.x", 0, 0), 1);
    assert_int_equal(publish(rt, "u.z", 0, 0), 0);
    assert_ok(actor_unsubscribe(a, "u.x"));
    assert_code(actor_unsubscribe(a, "u.x"), ACTOR_ENOENT);
    assert_int_equal(publish(rt, "u.x", 0, 0), 0);
    assert_int_equal(publish(rt, "u.y", 0, 0), 1);
    /* Again after everything went: the trie is pruned and made again. */
    assert_ok(actor_subscribe(a, "u.x"));
    assert_int_equal(publish(rt, "u.x", 0, 0), 1);
    assert_code(actor_unsubscribe(a, "u.*x"), ACTOR_EINVAL);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void bad_inputs(void **state)
{
    actor_runtime *rt = manual();
    actor_class *c = sink_class("tp.Bad", 0, 0);
    sink s = {0};
    actor_addr *a = tu_spawn(rt, c, &s);
    unsigned char buf[16] = {0};
    size_t n = 12345;

    assert_code(actor_subscribe(NULL, "a"), ACTOR_EINVAL);
    assert_code(actor_subscribe(a, NULL), ACTOR_EINVAL);
    assert_code(actor_unsubscribe(NULL, "a"), ACTOR_EINVAL);
    assert_code(actor_unsubscribe(a, NULL), ACTOR_EINVAL);
    assert_code(actor_publish(NULL, "a", t_ev, buf, 16, &n), ACTOR_EINVAL);
    assert_code(actor_publish(rt, NULL, t_ev, buf, 16, &n), ACTOR_EINVAL);
    assert_code(actor_publish(rt, "a", NULL, buf, 16, &n), ACTOR_EINVAL);
    assert_code(actor_publish(rt, "a", t_ev, NULL, 16, &n), ACTOR_EINVAL);
    assert_int_equal(n, 12345); /* untouched on failure */

    static const char *bad[] = {"", ".", "..", "a..b", ".a", "a.", "a.b.", ".a.b", "a b",
                                "a/b", "a\tb", "é", "a.>.b", ">.a", "a*", "*a", "a.b*",
                                "a>", ">a", "**", ">>", "*>", "a.**.b", "a.>>", "a.*>",
                                "a,b", "a+b", "a$", "a#", "a.\x7f", "a.\xff.b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (actor_subscribe(a, bad[i]) != ACTOR_EINVAL)
            fail_msg("subscribe \"%s\" was not refused", bad[i]);
        if (actor_unsubscribe(a, bad[i]) != ACTOR_EINVAL)
            fail_msg("unsubscribe \"%s\" was not refused", bad[i]);
        if (actor_publish(rt, bad[i], t_ev, buf, 16, &n) != ACTOR_EINVAL)
            fail_msg("publish \"%s\" was not refused", bad[i]);
    }
    /* Wildcards are for subscriptions only. */
    static const char *wild[] = {"*", ">", "a.*", "a.>", "*.b", "a.*.c"};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++)
        assert_code(actor_publish(rt, wild[i], t_ev, buf, 16, &n), ACTOR_EINVAL);
    assert_int_equal(n, 12345);

    /* Lengths: 4096 bytes and 256 tokens are fine, one more is not. */
    char *big = malloc(30000);
    memset(big, 'x', 4096);
    big[4096] = '\0';
    assert_ok(actor_subscribe(a, big));
    assert_int_equal(publish(rt, big, 0, 0), 1);
    assert_ok(actor_unsubscribe(a, big));
    big[4096] = 'x';
    big[4097] = '\0';
    assert_code(actor_subscribe(a, big), ACTOR_EINVAL);
    assert_code(actor_publish(rt, big, t_ev, buf, 16, &n), ACTOR_EINVAL);
    for (int k = 0; k < 256; k++) {
        big[2 * k] = (char)('a' + k % 26);
        big[2 * k + 1] = '.';
    }
    big[511] = '\0'; /* 256 tokens */
    assert_ok(actor_subscribe(a, big));
    assert_int_equal(publish(rt, big, 0, 0), 1);
    char last = big[510];
    big[510] = '>'; /* the same with '>' last */
    assert_ok(actor_subscribe(a, big));
    assert_ok(actor_unsubscribe(a, big));
    big[510] = last;
    assert_ok(actor_unsubscribe(a, big));
    assert_int_equal(publish(rt, big, 0, 0), 0);
    big[511] = '.';
    big[512] = 'z';
    big[513] = '\0'; /* 257 tokens */
    assert_code(actor_subscribe(a, big), ACTOR_EINVAL);
    assert_code(actor_publish(rt, big, t_ev, buf, 16, &n), ACTOR_EINVAL);
    /* 10,000 tokens (19,999 bytes): refused at once, without allocating. */
    for (int k = 0; k < 10000; k++) {
        big[2 * k] = 'q';
        big[2 * k + 1] = '.';
    }
    big[19999] = '\0';
    long before = my_allocs;
    assert_code(actor_subscribe(a, big), ACTOR_EINVAL);
    assert_code(actor_unsubscribe(a, big), ACTOR_EINVAL);
    assert_code(actor_publish(rt, big, t_ev, buf, 16, &n), ACTOR_EINVAL);
    assert_int_equal(my_allocs, before);
    free(big);

    /* Twice the same subject: EBUSY (another subject matching the same is
     * a subscription of its own). */
    assert_ok(actor_subscribe(a, "dup.x"));
    assert_code(actor_subscribe(a, "dup.x"), ACTOR_EBUSY);
    assert_ok(actor_subscribe(a, "dup.*"));
    assert_code(actor_subscribe(a, "dup.*"), ACTOR_EBUSY);
    assert_int_equal(publish(rt, "dup.x", 0, 0), 1);

    /* A payload that does not fit t: ETYPE, nothing delivered. */
    run_all(rt);
    unsigned long had = atomic_load(&s.events);
    assert_code(actor_publish(rt, "dup.x", t_ev, buf, 8, &n), ACTOR_ETYPE);
    assert_code(actor_publish(rt, "dup.x", t_ev, NULL, 0, &n), ACTOR_ETYPE);
    assert_int_equal(n, 12345);
    run_all(rt);
    assert_int_equal(atomic_load(&s.events), had);
    actor_stats st = {.size = sizeof st};
    assert_ok(addr_stats(a, &st));
    assert_int_equal(st.received, had);

    /* A stopping or Done actor: ECLOSED. */
    assert_ok(addr_interrupt(a));
    run_all(rt);
    assert_code(actor_subscribe(a, "late"), ACTOR_ECLOSED);

    /* A runtime shutting down: ECLOSED. */
    assert_ok(actor_runtime_shutdown(rt, 1000));
    assert_code(actor_publish(rt, "dup.x", t_ev, buf, 16, &n), ACTOR_ECLOSED);
    assert_int_equal(n, 12345);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* An actor without an event handler for t is skipped (not an error); a
 * catch-all counts as a handler. */
static void no_handler_skipped(void **state)
{
    actor_runtime *rt = manual();
    actor_class *with = sink_class("tp.With", 0, 0);
    actor_class *without = tu_class("tp.Without");
    assert_ok(actor_class_on_event(without, t_other, sink_other));
    actor_class *any = tu_class("tp.Any");
    assert_ok(actor_class_on_any_event(any, sink_any));
    sink s1 = {0}, s2 = {0}, s3 = {0};
    actor_addr *a1 = tu_spawn(rt, with, &s1), *a2 = tu_spawn(rt, without, &s2),
               *a3 = tu_spawn(rt, any, &s3);
    assert_ok(actor_subscribe(a1, "h.x"));
    assert_ok(actor_subscribe(a2, "h.x"));
    assert_ok(actor_subscribe(a3, "h.*"));
    assert_int_equal(publish(rt, "h.x", 0, 0), 2);
    size_t n = 0;
    unsigned char q[8] = {0};
    assert_ok(actor_publish(rt, "h.x", t_other, q, 8, &n));
    assert_int_equal(n, 3); /* all three take t_other */
    assert_ok(actor_publish(rt, "h.x", t_opaque, "abc", 3, &n));
    assert_int_equal(n, 1); /* only the catch-all */
    run_all(rt);
    assert_int_equal(atomic_load(&s1.events), 1);
    assert_int_equal(atomic_load(&s2.events), 0);
    assert_int_equal(atomic_load(&s3.events), 1);
    assert_int_equal(atomic_load(&s3.others), 2);
    actor_stats st = {.size = sizeof st};
    assert_ok(addr_stats(a2, &st));
    assert_int_equal(st.received, 1);
    addr_release(a1);
    addr_release(a2);
    addr_release(a3);
    actor_runtime_free(rt);
    actor_class_free(with);
    actor_class_free(without);
    actor_class_free(any);
}

/* Bounded mailboxes: refusals are not deliveries; DROP goes to the
 * dead-letter hook as for addr_send. */
static atomic_int dead_full, dead_closed;
static void on_dead(void *ud, actor_addr *to, const actor_msgtype *t, const void *p, size_t len,
                    int why)
{
    atomic_fetch_add(why == ACTOR_EFULL ? &dead_full : &dead_closed, 1);
}

static void bounded_refusals(void **state)
{
    atomic_store(&dead_full, 0);
    atomic_store(&dead_closed, 0);
    actor_runtime *rt = manual();
    actor_hooks h = {sizeof h, NULL, on_dead, NULL};
    assert_ok(actor_runtime_set_hooks(rt, &h));
    actor_class *rej = sink_class("tp.Reject", 2, ACTOR_OVERFLOW_REJECT);
    actor_class *drop = sink_class("tp.Drop", 2, ACTOR_OVERFLOW_DROP);
    actor_class *open = sink_class("tp.Open", 0, 0);
    sink s1 = {0}, s2 = {0}, s3 = {0};
    actor_addr *a1 = tu_spawn(rt, rej, &s1), *a2 = tu_spawn(rt, drop, &s2),
               *a3 = tu_spawn(rt, open, &s3);
    assert_ok(actor_subscribe(a1, "b.x"));
    assert_ok(actor_subscribe(a2, "b.*"));
    assert_ok(actor_subscribe(a3, "b.>"));
    size_t total = 0;
    for (int i = 1; i <= 5; i++) {
        size_t n = publish(rt, "b.x", 0, (uint64_t)i);
        assert_int_equal(n, i <= 2 ? 3 : 1);
        total += n;
    }
    assert_int_equal(total, 9);
    actor_stats st = {.size = sizeof st};
    assert_ok(addr_stats(a1, &st));
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.queued, 2);
    assert_ok(addr_stats(a2, &st));
    assert_int_equal(st.dropped, 3);
    assert_int_equal(atomic_load(&dead_full), 3);
    run_all(rt);
    assert_int_equal(atomic_load(&s1.events), 2);
    assert_int_equal(atomic_load(&s2.events), 2);
    assert_int_equal(atomic_load(&s3.events), 5);
    /* Room again. */
    assert_int_equal(publish(rt, "b.x", 0, 6), 3);
    run_all(rt);
    addr_release(a1);
    addr_release(a2);
    addr_release(a3);
    actor_runtime_free(rt);
    actor_class_free(rej);
    actor_class_free(drop);
    actor_class_free(open);
}

/* Addresses outlive the runtime: subscribe then says ECLOSED, unsubscribe
 * ENOENT; subscriptions left at free cost nothing (ASan: no leak). */
static void outlive_runtime(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *c = sink_class("tp.Outlive", 0, 0);
    sink s = {0};
    actor_addr *a = tu_spawn(rt, c, &s);
    assert_ok(actor_subscribe(a, "o.x"));
    assert_ok(actor_subscribe(a, "o.>"));
    actor_runtime_free(rt);
    assert_code(actor_subscribe(a, "o.y"), ACTOR_ECLOSED);
    assert_code(actor_unsubscribe(a, "o.x"), ACTOR_ENOENT);
    addr_release(a);
    /* A runtime freed with live subscribers and no address left. */
    rt = tu_runtime(1);
    sink many[50];
    memset(many, 0, sizeof many);
    for (int i = 0; i < 50; i++) {
        actor_addr *b = tu_spawn(rt, c, &many[i]);
        assert_ok(actor_subscribe(b, i % 2 ? "o.*.z" : "o.y.>"));
        addr_release(b);
    }
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ---- four threads at once ---- */

#define CS_ACTORS 6   /* per subscriber thread */
#define CS_PATS 10

static const char *cs_pats[CS_PATS] = {"c.a.x", "c.*.x", "c.a.*", "c.>",   "*.a.x",
                                       "c.b.x", "c.*.*", ">",     "c.a.x.>", "c.b"};
static const char *cs_subjects[] = {"c.a.x", "c.b.x", "c.a.y", "c.b", "d.a.x", "c.a.x.q", "z"};
#define CS_NSUBJ (sizeof cs_subjects / sizeof cs_subjects[0])

typedef struct cs_actor {
    actor_addr *a;
    sink *s;
    unsigned mask; /* its subscriptions (bits of cs_pats), as this thread knows them */
} cs_actor;

typedef struct cs_thread {
    actor_runtime *rt;
    actor_class *c;
    int id;
    atomic_int *stop;
    cs_actor act[CS_ACTORS];
    sink **all;    /* every sink made, for the conservation check */
    cs_actor *gone; /* the actors it ended, addresses kept to the end */
    size_t ngone;
    size_t nall, capall;
    unsigned long long delivered, ops;
    unsigned long long received; /* handled + dropped of the actors it ended */
    unsigned seed;
} cs_thread;

static unsigned cs_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void cs_new_actor(cs_thread *t, int i)
{
    sink *s = calloc(1, sizeof *s);
    if (t->nall == t->capall) {
        t->capall = t->capall ? 2 * t->capall : 64;
        t->all = realloc(t->all, t->capall * sizeof *t->all);
    }
    t->all[t->nall++] = s;
    t->gone = realloc(t->gone, t->capall * sizeof *t->gone);
    TU_CHECK_CODE(actor_spawn(t->rt, t->c, s, &t->act[i].a), ACTOR_OK);
    t->act[i].s = s;
    t->act[i].mask = 0;
}

static void cs_end_actor(cs_thread *t, int i)
{
    TU_CHECK_CODE(addr_interrupt(t->act[i].a), ACTOR_OK);
    TU_CHECK_CODE(addr_join(t->act[i].a, TU_LONG_MS), ACTOR_OK);
    t->gone[t->ngone++] = t->act[i];
    t->act[i].a = NULL;
}

/* After every publisher stopped (a push racing with an actor's Done is
 * counted as dropped by the pusher, possibly after the join): the exact
 * counts of the actors thread t ended. */
static void cs_count(cs_thread *t)
{
    for (size_t k = 0; k < t->ngone; k++) {
        actor_stats st = {.size = sizeof st};
        assert_ok(addr_stats(t->gone[k].a, &st));
        assert_int_equal(st.handled, atomic_load(&t->gone[k].s->events));
        t->received += st.handled + st.dropped;
        addr_release(t->gone[k].a);
    }
    free(t->gone);
}

static void *cs_subscriber(void *arg)
{
    cs_thread *t = arg;
    for (int i = 0; i < CS_ACTORS; i++)
        cs_new_actor(t, i);
    while (!atomic_load(t->stop)) {
        unsigned r = cs_rand(&t->seed);
        int i = (int)(r % CS_ACTORS), k = (int)((r >> 4) % CS_PATS);
        cs_actor *x = &t->act[i];
        if ((r >> 12) % 64 == 0) { /* now and then: an actor ends, another comes */
            cs_end_actor(t, i);
            cs_new_actor(t, i);
        } else if ((r >> 12) % 2 == 0) {
            int rc = actor_subscribe(x->a, cs_pats[k]);
            TU_CHECK_CODE(rc, (x->mask & (1u << k)) ? ACTOR_EBUSY : ACTOR_OK);
            x->mask |= 1u << k;
        } else {
            int rc = actor_unsubscribe(x->a, cs_pats[k]);
            TU_CHECK_CODE(rc, (x->mask & (1u << k)) ? ACTOR_OK : ACTOR_ENOENT);
            x->mask &= ~(1u << k);
        }
        t->ops++;
    }
    return NULL;
}

static void *cs_publisher(void *arg)
{
    cs_thread *t = arg;
    uint64_t seq = 0;
    while (!atomic_load(t->stop)) {
        unsigned r = cs_rand(&t->seed);
        unsigned char buf[16];
        ev_payload(buf, (uint64_t)t->id, ++seq);
        size_t n = 0;
        TU_CHECK_CODE(actor_publish(t->rt, cs_subjects[r % CS_NSUBJ], t_ev, buf, 16, &n),
                      ACTOR_OK);
        t->delivered += n;
        t->ops++;
    }
    return NULL;
}

static void concurrent(void **state)
{
    tu_log_capture(); /* "stopped with messages queued" lines */
    actor_runtime *rt = tu_runtime(2);
    actor_class *c = sink_class("tp.Conc", 0, 0);
    atomic_int stop = 0;
    cs_thread th[4];
    memset(th, 0, sizeof th);
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        th[i].rt = rt;
        th[i].c = c;
        th[i].id = i;
        th[i].stop = &stop;
        th[i].seed = 12345u + 977u * (unsigned)i;
        assert_int_equal(
            pthread_create(&tid[i], NULL, i < 2 ? cs_subscriber : cs_publisher, &th[i]), 0);
    }
    struct timespec ts = {0, 0};
    long ms = ACTOR_TEST_DIVISOR > 1 ? 3000 : 1500;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(tid[i], NULL);
    tu_assert_no_failures();

    /* Consistency, now that nothing moves: publish each subject and compare
     * with the subscriptions the threads know their actors have. */
    for (size_t j = 0; j < CS_NSUBJ; j++) {
        size_t expect = 0;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < CS_ACTORS; k++) {
                bool m = false;
                for (int p = 0; p < CS_PATS; p++)
                    if ((th[i].act[k].mask & (1u << p)) && ref_match(cs_pats[p], cs_subjects[j]))
                        m = true;
                expect += m;
            }
        size_t got = publish(rt, cs_subjects[j], 0, 0);
        if (got != expect)
            fail_msg("%s: delivered %zu, expected %zu", cs_subjects[j], got, expect);
        th[2].delivered += got;
    }
    /* Conservation: every delivery was handled or dropped (its actor
     * stopped first). */
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < CS_ACTORS; k++)
            cs_end_actor(&th[i], k);
    actor_runtime_free(rt);
    for (int i = 0; i < 2; i++)
        cs_count(&th[i]);
    unsigned long long delivered = th[2].delivered + th[3].delivered, handled = 0;
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < th[i].nall; k++)
            handled += atomic_load(&th[i].all[k]->events);
    /* Every delivery was received: handled, or dropped when its actor
     * stopped first; nothing else. */
    assert_int_equal(delivered, th[0].received + th[1].received);
    print_message("concurrent: %llu+%llu subscription ops, %llu+%llu publishes, %llu delivered, "
                  "%llu handled, %zu+%zu actors\n",
                  th[0].ops, th[1].ops, th[2].ops, th[3].ops, delivered, handled, th[0].nall,
                  th[1].nall);
    assert_true(th[0].ops > 100 && th[2].ops > 100);
    tu_assert_no_failures();
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; k < th[i].nall; k++)
            free(th[i].all[k]);
        free(th[i].all);
    }
    actor_class_free(c);
}

/* ---- the result cache against a reference, under churn ---- */

#define CH_ACTORS 12
static const char *const ch_pats[] = {"a.b.c", "a.*.c", "a.b.*", "a.>",     "*.b.c", ">",
                                      "a.b",   "x.y",   "*.*",   "a.b.c.d", "*.b.>", "q"};
static const char *const ch_subjs[] = {"a.b.c", "a.x.c",   "a.b.d",     "a.b",
                                       "x.y",   "a.b.c.d", "q",         "z.b.c",
                                       "a.b.c.d.e", "nothing.here"};
#define CH_NP (sizeof ch_pats / sizeof *ch_pats)
#define CH_NS (sizeof ch_subjs / sizeof *ch_subjs)
static unsigned long ch_got[CH_ACTORS];
static int ch_ids[CH_ACTORS];

static int ch_ev(actor_ctx *c, void *st, const void *p, size_t l)
{
    ch_got[*(int *)st]++;
    return 0;
}

/* Random subscribes, unsubscribes and stops (each a change that must make
 * cached results stale), each followed by publishes of a few subjects, the
 * same ones again and again (cache hits): every publish reaches exactly the
 * actors the reference matcher names, once. Then bad subjects are EINVAL
 * before any other code, cached-looking or not. */
static void cache_agrees_with_reference(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("tc.Ev", "q", NULL);
    actor_class *c = tu_class("tc.Cache");
    assert_ok(actor_class_on_event(c, t, ch_ev));
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(1, &rt));
    actor_addr *act[CH_ACTORS];
    bool has[CH_ACTORS][CH_NP];
    memset(has, 0, sizeof has);
    memset(ch_got, 0, sizeof ch_got);
    for (int i = 0; i < CH_ACTORS; i++) {
        ch_ids[i] = i;
        act[i] = tu_spawn(rt, c, &ch_ids[i]);
    }
    unsigned seed = 7;
    for (long step = 0; step < tu_scale(20000); step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        int a = (int)(r % CH_ACTORS), p = (int)((r >> 4) % CH_NP), op = (int)((r >> 10) % 16);
        if (op == 0) { /* stop and spawn again: its subscriptions end at Done */
            assert_ok(addr_interrupt(act[a]));
            assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
            addr_release(act[a]);
            memset(has[a], 0, sizeof has[a]);
            act[a] = tu_spawn(rt, c, &ch_ids[a]);
        } else if (op < 7) {
            assert_code(actor_subscribe(act[a], ch_pats[p]), has[a][p] ? ACTOR_EBUSY : ACTOR_OK);
            has[a][p] = true;
        } else if (op < 11) {
            assert_code(actor_unsubscribe(act[a], ch_pats[p]),
                        has[a][p] ? ACTOR_OK : ACTOR_ENOENT);
            has[a][p] = false;
        }
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *subj = ch_subjs[(seed >> 8) % CH_NS];
            unsigned long before[CH_ACTORS];
            memcpy(before, ch_got, sizeof ch_got);
            bool want[CH_ACTORS];
            size_t expect = 0, delivered = 99;
            for (int i = 0; i < CH_ACTORS; i++) {
                want[i] = false;
                for (size_t j = 0; j < CH_NP; j++)
                    want[i] = want[i] || (has[i][j] && ref_match(ch_pats[j], subj));
                expect += want[i];
            }
            uint64_t v = 1;
            assert_ok(actor_publish(rt, subj, t, &v, sizeof v, &delivered));
            assert_int_equal(delivered, expect);
            assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
            for (int i = 0; i < CH_ACTORS; i++)
                assert_int_equal(ch_got[i] - before[i], want[i] ? 1 : 0);
        }
    }
    uint64_t v = 1;
    size_t d;
    const char *bad[] = {"", ".", "a..b", "a.", ".a", "a b", "a.*", "a.>", "*", ">", "a*"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_code(actor_publish(rt, bad[i], t, &v, sizeof v, &d), ACTOR_EINVAL);
    assert_code(actor_publish(rt, "a..b", t, &v, 3, &d), ACTOR_EINVAL); /* before ETYPE */
    assert_code(actor_publish(rt, "a.b", t, &v, 3, &d), ACTOR_ETYPE);
    for (int i = 0; i < CH_ACTORS; i++)
        addr_release(act[i]);
    actor_runtime_free(rt);
    actor_class_free(c);
}

int main(void)
{
    /* First call of the library: count this thread's allocations. */
    if (actor_set_allocator(cnt_malloc, cnt_calloc, cnt_realloc, free) != ACTOR_OK)
        return 1;
    define_types();
    const struct CMUnitTest tests[] = {
        TU_TEST(matching_table),
        TU_TEST(once_per_publish),
        TU_TEST(delivered_exact),
        TU_TEST(order_per_publisher),
        TU_TEST(gone_at_done),
        TU_TEST(not_kept_alive),
        TU_TEST(unsubscribe_enoent),
        TU_TEST(bad_inputs),
        TU_TEST(no_handler_skipped),
        TU_TEST(bounded_refusals),
        TU_TEST(outlive_runtime),
        TU_TEST(concurrent),
        TU_TEST(cache_agrees_with_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
