/* Statistics (1.1 part 2, issue 11): addr_stats and actor_runtime_stats_get.
 *
 * - The `size` convention: a size below the minimum is ACTOR_EINVAL (and
 *   nothing is written); exactly the minimum writes exactly that many bytes;
 *   a larger struct than the library's gets only the library's bytes.
 * - Exact counters once Done, on a deterministic manual-runtime program:
 *   events, requests, requests expired (addr_interact_within 0 ms),
 *   requests canceled at a stop, DROP overflow, REJECT refusals, the peak;
 *   received = handled + dropped + expired + canceled.
 * - Runtime counters: actors live and spawned, messages handled = the sum
 *   of the actors' handled, threads (0 on a manual runtime), wakeups and
 *   migrations never decreasing.
 *
 * counters_exact_once_done reproduces a bug it found (a late sender's event
 * missing from the counters after Done), fixed since. */
#include "testutil.h"

#include <stddef.h>

static const actor_msgtype *st_ev, *st_req, *st_stop, *st_block;

static void types(void)
{
    st_ev = tu_type("st.Ev", "Q", NULL);
    st_req = tu_type("st.Req", "Q", "Q");
    st_stop = tu_type("st.Stop", "", NULL);
    st_block = tu_type("st.Block", "", NULL);
}

#define STATS_MIN (offsetof(actor_stats, restarts) + sizeof(unsigned long long))
#define RT_STATS_MIN (offsetof(actor_runtime_stats, threads) + sizeof(unsigned))

/* ---- a test allocator: passes through, or blocks this thread's next
 * allocation on a gate (a sender "preempted" inside addr_send) ---- */

static _Thread_local int block_next_alloc;
static tu_gate alloc_gate;

static void *t_malloc(size_t n)
{
    if (block_next_alloc) {
        block_next_alloc = 0;
        tu_gate_wait(&alloc_gate, 3 * TU_LONG_MS);
    }
    return malloc(n);
}
static void *t_calloc(size_t n, size_t s) { return calloc(n, s); }
static void *t_realloc(void *p, size_t n) { return realloc(p, n); }
static void t_free(void *p) { free(p); }

/* ---- the probe actor ---- */

typedef struct probe {
    atomic_int events, requests, stops, blocks;
    tu_gate gate;
    int stop_after_block;
} probe;

static int pr_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&((probe *)st)->events, 1);
    return 0;
}

static int pr_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&((probe *)st)->requests, 1);
    uint64_t v = len == 8 ? tu_get_u64(p) : 0;
    TU_CHECK_CODE(actor_ctx_reply(ctx, &v, 8), ACTOR_OK);
    return 0;
}

static int pr_stop(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&((probe *)st)->stops, 1);
    actor_ctx_stop(ctx);
    return 0;
}

static int pr_block(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    probe *pr = st;
    atomic_fetch_add(&pr->blocks, 1);
    tu_gate_wait(&pr->gate, TU_LONG_MS);
    if (pr->stop_after_block)
        actor_ctx_stop(ctx);
    return 0;
}

static actor_class *probe_class(const char *name, size_t cap, int policy)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_event(c, st_ev, pr_event));
    assert_ok(actor_class_on_request(c, st_req, pr_request));
    assert_ok(actor_class_on_event(c, st_stop, pr_stop));
    assert_ok(actor_class_on_event(c, st_block, pr_block));
    if (cap)
        assert_ok(actor_class_set_mailbox(c, cap, policy));
    return c;
}

static int ev(actor_addr *a, uint64_t v) { return addr_send(a, st_ev, &v, 8); }

static actor_stats stats_of(actor_addr *a)
{
    actor_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_ok(addr_stats(a, &s));
    assert_int_equal(s.size, sizeof s);
    return s;
}

static actor_runtime_stats rt_stats(actor_runtime *rt)
{
    actor_runtime_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_ok(actor_runtime_stats_get(rt, &s));
    return s;
}

static void assert_conserved(const actor_stats *s)
{
    assert_int_equal(s->queued, 0);
    assert_int_equal(s->received, s->handled + s->dropped + s->expired + s->canceled);
}

/* ------------------------------------------------------------------------ */
/* The size convention                                                       */
/* ------------------------------------------------------------------------ */

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void stats_size_convention(void **state)
{
    (void)state;
    types();
    probe p = {0};
    tu_gate_init(&p.gate);
    actor_class *c = probe_class("st.Size", 16, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(addr_send(a, st_block, NULL, 0));
    TU_WAIT_ENTERED(&p.gate, 1);
    for (int i = 0; i < 3; i++)
        assert_ok(ev(a, (uint64_t)i)); /* 3 queued at once */
    tu_gate_open(&p.gate);
    tu_stop_join(a);

    enum { PAD = 32 };
    union {
        actor_stats s;
        unsigned char b[sizeof(actor_stats) + PAD];
    } buf;
    assert_true(STATS_MIN < sizeof(actor_stats)); /* `canceled` is beyond it */

    /* Too small, NULL: ACTOR_EINVAL, nothing written. */
    size_t bad[] = {0, 1, sizeof(size_t), STATS_MIN - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(buf.b, 0xA5, sizeof buf.b);
        buf.s.size = bad[i];
        assert_code(addr_stats(a, &buf.s), ACTOR_EINVAL);
        assert_int_equal(buf.s.size, bad[i]);
        assert_true(all_bytes(buf.b + sizeof(size_t), sizeof buf.b - sizeof(size_t), 0xA5));
    }
    memset(buf.b, 0xA5, sizeof buf.b);
    buf.s.size = sizeof(actor_stats);
    assert_code(addr_stats(NULL, &buf.s), ACTOR_EINVAL);
    assert_true(all_bytes(buf.b + sizeof(size_t), sizeof buf.b - sizeof(size_t), 0xA5));
    assert_code(addr_stats(a, NULL), ACTOR_EINVAL);

    /* Exactly the minimum: up to `restarts`, not a byte more. */
    memset(buf.b, 0xA5, sizeof buf.b);
    buf.s.size = STATS_MIN;
    assert_ok(addr_stats(a, &buf.s));
    assert_int_equal(buf.s.size, STATS_MIN);
    assert_int_equal(buf.s.received, 4);
    assert_int_equal(buf.s.handled, 4);
    assert_int_equal(buf.s.dropped, 0);
    assert_int_equal(buf.s.rejected, 0);
    assert_int_equal(buf.s.expired, 0);
    assert_int_equal(buf.s.queued, 0);
    assert_int_equal(buf.s.queued_peak, 3);
    assert_int_equal(buf.s.restarts, 0);
    assert_true(all_bytes(buf.b + STATS_MIN, sizeof buf.b - STATS_MIN, 0xA5));

    /* The full struct. */
    memset(buf.b, 0xA5, sizeof buf.b);
    buf.s.size = sizeof(actor_stats);
    assert_ok(addr_stats(a, &buf.s));
    assert_int_equal(buf.s.size, sizeof(actor_stats));
    assert_int_equal(buf.s.canceled, 0);
    assert_int_equal(buf.s.handled, 4);
    assert_true(all_bytes(buf.b + sizeof(actor_stats), PAD, 0xA5));

    /* A caller compiled with a larger struct (a later version): the library
     * writes its own bytes only, and says how many in `size`. */
    memset(buf.b, 0xA5, sizeof buf.b);
    buf.s.size = sizeof buf.b;
    assert_ok(addr_stats(a, &buf.s));
    assert_true(buf.s.size >= STATS_MIN && buf.s.size <= sizeof buf.b);
    assert_int_equal(buf.s.handled, 4);
    assert_true(all_bytes(buf.b + sizeof(actor_stats), PAD, 0xA5));

    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_gate_destroy(&p.gate);
}

static void runtime_stats_size_convention(void **state)
{
    (void)state;
    enum { PAD = 32 };
    union {
        actor_runtime_stats s;
        unsigned char b[sizeof(actor_runtime_stats) + PAD];
    } buf;
    for (int manual = 0; manual < 2; manual++) {
        actor_runtime *rt = NULL;
        if (manual)
            assert_ok(actor_runtime_new_manual(1, &rt));
        else
            rt = tu_runtime(2);
        size_t bad[] = {0, 1, sizeof(size_t), RT_STATS_MIN - 1};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            memset(buf.b, 0xA5, sizeof buf.b);
            buf.s.size = bad[i];
            assert_code(actor_runtime_stats_get(rt, &buf.s), ACTOR_EINVAL);
            assert_int_equal(buf.s.size, bad[i]);
            assert_true(all_bytes(buf.b + sizeof(size_t), sizeof buf.b - sizeof(size_t), 0xA5));
        }
        memset(buf.b, 0xA5, sizeof buf.b);
        buf.s.size = sizeof buf.s;
        assert_code(actor_runtime_stats_get(NULL, &buf.s), ACTOR_EINVAL);
        assert_true(all_bytes(buf.b + sizeof(size_t), sizeof buf.b - sizeof(size_t), 0xA5));
        assert_code(actor_runtime_stats_get(rt, NULL), ACTOR_EINVAL);

        /* Exactly the minimum (up to `threads`, no tail padding). */
        memset(buf.b, 0xA5, sizeof buf.b);
        buf.s.size = RT_STATS_MIN;
        assert_ok(actor_runtime_stats_get(rt, &buf.s));
        assert_int_equal(buf.s.size, RT_STATS_MIN);
        assert_int_equal(buf.s.threads, manual ? 0 : 2);
        assert_int_equal(buf.s.actors_live, 0);
        assert_int_equal(buf.s.actors_spawned, 0);
        assert_int_equal(buf.s.messages_handled, 0);
        assert_true(all_bytes(buf.b + RT_STATS_MIN, sizeof buf.b - RT_STATS_MIN, 0xA5));

        memset(buf.b, 0xA5, sizeof buf.b);
        buf.s.size = sizeof buf.b;
        assert_ok(actor_runtime_stats_get(rt, &buf.s));
        assert_true(buf.s.size >= RT_STATS_MIN && buf.s.size <= sizeof buf.b);
        assert_int_equal(buf.s.threads, manual ? 0 : 2);
        assert_true(all_bytes(buf.b + sizeof(actor_runtime_stats), PAD, 0xA5));
        actor_runtime_free(rt);
    }
}

/* ------------------------------------------------------------------------ */
/* Exact counters: a deterministic manual-runtime program                    */
/* ------------------------------------------------------------------------ */

static void stats_exact_manual_program(void **state)
{
    (void)state;
    types();
    probe pa = {0}, pb = {0};
    tu_gate_init(&pa.gate);
    tu_gate_init(&pb.gate);
    actor_class *ca = probe_class("st.ManualDrop", 3, ACTOR_OVERFLOW_DROP);
    actor_class *cb = probe_class("st.ManualReject", 2, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(42, &rt));
    actor_addr *a = tu_spawn(rt, ca, &pa);
    actor_addr *b = tu_spawn(rt, cb, &pb);
    actor_runtime_stats rs = rt_stats(rt);
    assert_int_equal(rs.actors_spawned, 2);
    assert_int_equal(rs.actors_live, 2);
    assert_int_equal(rs.messages_handled, 0);
    assert_int_equal(rs.threads, 0);
    size_t ran = 0;
    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_int_equal(ran, 2); /* the inits */

    /* DROP, capacity 3: 5 events, 2 dropped on overflow; a request refused. */
    for (int i = 0; i < 5; i++)
        assert_ok(ev(a, (uint64_t)i));
    actor_responder *r = NULL;
    assert_code(addr_interact(a, st_req, &(uint64_t){1}, 8, &r), ACTOR_EFULL);
    actor_stats s = stats_of(a);
    assert_int_equal(s.received, 5);
    assert_int_equal(s.queued, 3);
    assert_int_equal(s.queued_peak, 3);
    assert_int_equal(s.dropped, 2);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.handled, 0);

    /* REJECT, capacity 2: 2 events in, a third and a request refused. */
    assert_ok(ev(b, 1));
    assert_ok(ev(b, 2));
    assert_code(ev(b, 3), ACTOR_EFULL);
    assert_code(addr_interact(b, st_req, &(uint64_t){1}, 8, &r), ACTOR_EFULL);
    s = stats_of(b);
    assert_int_equal(s.received, 2);
    assert_int_equal(s.queued, 2);
    assert_int_equal(s.rejected, 2);

    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_int_equal(ran, 5);
    s = stats_of(a);
    assert_int_equal(s.handled, 3);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.received, 5);
    assert_int_equal(rt_stats(rt).messages_handled, 5);

    /* A request answered, one with a 0 ms deadline (never handled), an event. */
    actor_responder *r1 = NULL, *r2 = NULL, *r3 = NULL;
    assert_ok(addr_interact(a, st_req, &(uint64_t){11}, 8, &r1));
    assert_ok(addr_interact_within(a, st_req, &(uint64_t){12}, 8, 0, &r2));
    assert_ok(ev(a, 13));
    assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
    assert_code(actor_responder_status(r1), ACTOR_OK);
    assert_code(actor_responder_status(r2), ACTOR_EEXPIRED);
    assert_int_equal(atomic_load(&pa.requests), 1);
    s = stats_of(a);
    assert_int_equal(s.received, 8);
    assert_int_equal(s.handled, 5);
    assert_int_equal(s.expired, 1);

    /* A stop with an event and a request queued behind it. */
    assert_ok(addr_send(a, st_stop, NULL, 0));
    assert_ok(ev(a, 14));
    assert_ok(addr_interact(a, st_req, &(uint64_t){15}, 8, &r3));
    assert_code(ev(a, 16), ACTOR_OK); /* full again: dropped on overflow */
    assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
    assert_true(addr_is_done(a));
    assert_code(actor_responder_status(r3), ACTOR_ECANCELED);
    rs = rt_stats(rt);
    assert_int_equal(rs.actors_live, 1);
    assert_int_equal(rs.actors_spawned, 2);

    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 12);
    assert_int_equal(s.handled, 6);  /* 3 events, r1, ev 13, the stop */
    assert_int_equal(s.dropped, 4);  /* 2 + 1 overflow, 1 at the stop */
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.canceled, 1);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.queued_peak, 3);
    assert_int_equal(s.restarts, 0);
    unsigned long long d = 0;
    assert_ok(addr_dropped(a, &d));
    assert_int_equal(d, 4);
    assert_int_equal(atomic_load(&pa.events), 4);
    actor_stats a_done = s;

    assert_ok(addr_interrupt(b));
    assert_code(addr_join(b, -1), ACTOR_OK);
    s = stats_of(b);
    assert_conserved(&s);
    assert_int_equal(s.received, 2);
    assert_int_equal(s.handled, 2);
    assert_int_equal(s.rejected, 2);
    assert_int_equal(s.queued_peak, 2);

    rs = rt_stats(rt);
    assert_int_equal(rs.actors_live, 0);
    assert_int_equal(rs.actors_spawned, 2);
    assert_int_equal(rs.messages_handled, stats_of(a).handled + stats_of(b).handled);
    assert_int_equal(rs.threads, 0);

    /* The same numbers after the runtime is gone. */
    actor_runtime_free(rt);
    actor_stats after = stats_of(a);
    assert_memory_equal(&after, &a_done, sizeof after);
    actor_responder_free(r1);
    actor_responder_free(r2);
    actor_responder_free(r3);
    addr_release(a);
    addr_release(b);
    actor_class_free(ca);
    actor_class_free(cb);
    tu_gate_destroy(&pa.gate);
    tu_gate_destroy(&pb.gate);
}

/* The same program under the same seed gives the same counters, every run
 * (when each actor runs decides what overflows a DROP mailbox). */
static void run_seeded(uint64_t seed, actor_stats out[2])
{
    probe pa = {0}, pb = {0};
    tu_gate_init(&pa.gate);
    tu_gate_init(&pb.gate);
    actor_class *ca = probe_class("st.SeedA", 4, ACTOR_OVERFLOW_DROP);
    actor_class *cb = probe_class("st.SeedB", 3, ACTOR_OVERFLOW_DROP);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(seed, &rt));
    actor_addr *a = tu_spawn(rt, ca, &pa);
    actor_addr *b = tu_spawn(rt, cb, &pb);
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 7; i++) {
            assert_ok(ev(a, (uint64_t)i));
            assert_ok(ev(b, (uint64_t)i));
        }
        assert_ok(actor_runtime_run(rt, (size_t)round, NULL));
    }
    assert_ok(addr_send(a, st_stop, NULL, 0)); /* maybe dropped: shutdown stops it then */
    assert_ok(actor_runtime_shutdown(rt, -1));
    out[0] = stats_of(a);
    out[1] = stats_of(b);
    for (int i = 0; i < 2; i++) {
        assert_conserved(&out[i]);
        assert_int_equal(out[i].expired + out[i].canceled + out[i].rejected, 0);
    }
    assert_int_equal(out[0].received, 71);
    assert_int_equal(out[1].received, 70);
    assert_true(out[0].dropped > 0 && out[1].dropped > 0);
    actor_runtime_free(rt);
    addr_release(a);
    addr_release(b);
    actor_class_free(ca);
    actor_class_free(cb);
    tu_gate_destroy(&pa.gate);
    tu_gate_destroy(&pb.gate);
}

static void stats_same_under_same_seed(void **state)
{
    (void)state;
    types();
    for (uint64_t seed = 1; seed <= 3; seed++) {
        actor_stats first[2], again[2];
        run_seeded(seed, first);
        run_seeded(seed, again);
        assert_memory_equal(first, again, sizeof first);
    }
}

/* ------------------------------------------------------------------------ */
/* Threaded runtimes                                                         */
/* ------------------------------------------------------------------------ */

/* A ring of actors relaying hops; the runtime's counters sampled all along. */
enum { RING = 8, HOPS = 10 };
static actor_addr *ring[RING];
static atomic_ullong ring_handled;
static const actor_msgtype *st_hop;

static int hop_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint32_t idx = tu_get_u32(p), hops = tu_get_u32((const unsigned char *)p + 4);
    atomic_fetch_add(&ring_handled, 1);
    if (hops > 0) {
        unsigned char b[8];
        tu_put_u32(b, (idx + 1) % RING);
        tu_put_u32(b + 4, hops - 1);
        TU_CHECK_CODE(addr_send(ring[(idx + 1) % RING], st_hop, b, 8), ACTOR_OK);
    }
    return 0;
}

static void runtime_stats_threaded(void **state)
{
    (void)state;
    types();
    st_hop = tu_type("st.Hop", "II", NULL);
    atomic_store(&ring_handled, 0);
    actor_class *c = tu_class("st.Ring");
    assert_ok(actor_class_on_event(c, st_hop, hop_event));
    actor_class *cb = tu_class("st.RingBounded");
    assert_ok(actor_class_on_event(cb, st_hop, hop_event));
    assert_ok(actor_class_set_mailbox(cb, ACTOR_MAILBOX_MAX, ACTOR_OVERFLOW_REJECT));
    actor_runtime *rt = tu_runtime(2);
    actor_runtime_stats prev = rt_stats(rt);
    assert_int_equal(prev.threads, 2);
    assert_int_equal(prev.actors_spawned, 0);
    for (int i = 0; i < RING; i++)
        ring[i] = tu_spawn(rt, i % 2 ? cb : c, NULL);
    const int k = (int)tu_scale(3000);
    const unsigned long long total = (unsigned long long)k * (HOPS + 1);
    int sent = 0;
    const int64_t deadline = tu_now_ms() + 3 * TU_LONG_MS;
    unsigned long long samples = 0;
    for (;;) {
        for (int j = 0; j < 64 && sent < k; j++, sent++) {
            unsigned char b[8];
            tu_put_u32(b, (uint32_t)(sent % RING));
            tu_put_u32(b + 4, HOPS);
            assert_ok(addr_send(ring[sent % RING], st_hop, b, 8));
        }
        actor_runtime_stats now = rt_stats(rt);
        samples++;
        assert_true(now.wakeups >= prev.wakeups);
        assert_true(now.migrations >= prev.migrations);
        assert_true(now.messages_handled >= prev.messages_handled);
        assert_true(now.messages_handled <= total);
        assert_int_equal(now.actors_spawned, RING);
        assert_true(now.actors_live <= now.actors_spawned);
        assert_int_equal(now.threads, 2);
        prev = now;
        if (sent == k && atomic_load(&ring_handled) == total)
            break;
        if (tu_now_ms() > deadline)
            fail_msg("the ring handled %llu of %llu", (unsigned long long)atomic_load(&ring_handled),
                     total);
        tu_pause();
    }
    assert_int_equal(rt_stats(rt).actors_live, RING);
    unsigned long long sum = 0;
    for (int i = 0; i < RING; i++) {
        tu_stop_join(ring[i]);
        actor_stats s = stats_of(ring[i]);
        assert_conserved(&s);
        assert_int_equal(s.dropped, 0);
        sum += s.handled;
    }
    actor_runtime_stats fin = rt_stats(rt);
    print_message("ring: %llu handled, %llu wakeups, %llu migrations, %llu samples\n",
                  fin.messages_handled, fin.wakeups, fin.migrations, samples);
    assert_int_equal(sum, total);
    assert_int_equal(fin.messages_handled, sum);
    assert_int_equal(fin.actors_live, 0);
    assert_int_equal(fin.actors_spawned, RING);
    assert_true(fin.wakeups >= prev.wakeups && fin.migrations >= prev.migrations);
    /* After a shutdown no spawn, and none counted. */
    for (int i = 0; i < RING; i++)
        addr_release(ring[i]);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    actor_addr *late = NULL;
    assert_code(actor_spawn(rt, c, NULL, &late), ACTOR_ECLOSED);
    assert_int_equal(rt_stats(rt).actors_spawned, RING);
    actor_runtime_free(rt);
    actor_class_free(c);
    actor_class_free(cb);
}

/* Requests expired on a threaded runtime (the clock thread) are counted as
 * expired, not handled; an answered one as handled. */
static void stats_expired_threaded(void **state)
{
    (void)state;
    types();
    probe p = {0};
    tu_gate_init(&p.gate);
    actor_class *c = probe_class("st.Expire", 8, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(addr_send(a, st_block, NULL, 0));
    TU_WAIT_ENTERED(&p.gate, 1);
    actor_responder *r0 = NULL, *r1 = NULL, *r2 = NULL;
    assert_ok(addr_interact_within(a, st_req, &(uint64_t){1}, 8, 0, &r0));
    assert_ok(addr_interact_within(a, st_req, &(uint64_t){2}, 8, 20, &r1));
    assert_ok(addr_interact_within(a, st_req, &(uint64_t){3}, 8, 4 * TU_LONG_MS, &r2));
    assert_code(actor_responder_wait(r0, TU_LONG_MS), ACTOR_EEXPIRED);
    assert_code(actor_responder_wait(r1, TU_LONG_MS), ACTOR_EEXPIRED);
    actor_stats s = stats_of(a);
    assert_int_equal(s.queued, 3); /* expired, but still queued until taken */
    assert_int_equal(s.expired, 0);
    tu_gate_open(&p.gate);
    assert_code(actor_responder_wait(r2, TU_LONG_MS), ACTOR_OK);
    tu_stop_join(a);
    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 4);
    assert_int_equal(s.handled, 2);
    assert_int_equal(s.expired, 2);
    assert_int_equal(atomic_load(&p.requests), 1);
    assert_int_equal(rt_stats(rt).messages_handled, 2);
    actor_responder_free(r0);
    actor_responder_free(r1);
    actor_responder_free(r2);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_gate_destroy(&p.gate);
}

/* A sender held inside addr_send, after the mailbox admitted its event and
 * before the push (its envelope's allocation waits on alloc_gate). */
typedef struct held_send {
    actor_addr *a;
    int rc;
} held_send;

static void *held_sender(void *arg)
{
    held_send *h = arg;
    block_next_alloc = 1;
    h->rc = ev(h->a, 777);
    block_next_alloc = 0;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* addr_send_wait on a manual runtime that idles with the mailbox full        */
/* ------------------------------------------------------------------------ */

/* A full mailbox normally means a ready actor, so a manual runtime run for
 * room never idles. It does when the last place is taken by a sender that
 * was admitted but has not pushed yet (held here in the allocator, inside
 * addr_send): then addr_send_wait returns ACTOR_ETIMEDOUT at once, whatever
 * its timeout (-1 too), without moving the clock. (Here, not in test_flow:
 * it needs this file's allocator.) */

static void send_wait_manual_idle_while_full(void **state)
{
    (void)state;
    types();
    probe p = {0};
    tu_gate_init(&p.gate);
    tu_gate_init(&alloc_gate);
    actor_class *c = probe_class("st.ManualIdleFull", 1, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(9, &rt));
    actor_addr *a = tu_spawn(rt, c, &p);
    held_send hs = {a, -100};
    pthread_t th = tu_thread(held_sender, &hs); /* admitted: the one place taken */
    TU_WAIT_ENTERED(&alloc_gate, 1);
    assert_int_equal(stats_of(a).queued, 1);
    assert_code(ev(a, 2), ACTOR_EFULL);
    uint64_t clock0 = actor_runtime_now_ms(rt);
    int64_t t0 = tu_now_ms();
    assert_code(addr_send_wait(a, st_ev, &(uint64_t){3}, 8, 4 * TU_LONG_MS), ACTOR_ETIMEDOUT);
    assert_code(addr_send_wait(a, st_ev, &(uint64_t){4}, 8, -1), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 < 2 * TU_LONG_MS); /* at once, not after 40 s */
    assert_int_equal(actor_runtime_now_ms(rt), clock0);
    assert_int_equal(atomic_load(&p.events), 0); /* it ran init, nothing else */
    tu_gate_open(&alloc_gate); /* the held send pushes */
    tu_join_thread(th);
    assert_ok(hs.rc);
    assert_ok(addr_send_wait(a, st_ev, &(uint64_t){5}, 8, -1)); /* runs it: room */
    assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
    assert_int_equal(atomic_load(&p.events), 2);
    assert_ok(addr_interrupt(a));
    assert_code(addr_join(a, -1), ACTOR_OK);
    actor_stats s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 2);
    assert_int_equal(s.rejected, 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_gate_destroy(&p.gate);
    tu_gate_destroy(&alloc_gate);
}

/* ------------------------------------------------------------------------ */
/* A known bug: counters still move after Done                               */
/* ------------------------------------------------------------------------ */

/*
 * actor_stats promises "Once the actor is Done the counters are exact"
 * (and addr_dropped "Exact once the actor is Done"). lib/core/cell.c
 * finish() sets ACTORI_S_DONE and only then runs drain_final(), which
 * takes what a sender pushed after the first drain: took_one() lowers
 * `queued` at once, but `dropped` (and `canceled`) are added by
 * report_drain() after the loop. A sender that passed check_message before
 * the stop and pushes in that window leaves an accepted event that, after
 * addr_join() returned ACTOR_OK, is in neither queued nor dropped:
 * received is one short and the equation with the senders' counts fails.
 *
 * Made deterministic here: the sender is held inside addr_send (in the
 * allocator, after the mailbox admitted it), the worker is held between the
 * first drain and Done (in the log line of that drain), and in drain_final
 * (in the dead-letter hook).
 */
static tu_gate dl_gate, log_gate;
static atomic_int dl_hold, log_hold;
static actor_log_fn saved_log;

static void race_log(int level, const char *msg, void *ud)
{
    if (strstr(msg, "stopped with messages queued") && atomic_exchange(&log_hold, 0))
        tu_gate_wait(&log_gate, 3 * TU_LONG_MS);
}

static void race_dead_letter(void *ud, actor_addr *to, const actor_msgtype *t, const void *p,
                             size_t len, int why)
{
    if (len == 8 && tu_get_u64(p) == 777 && atomic_exchange(&dl_hold, 0))
        tu_gate_wait(&dl_gate, 3 * TU_LONG_MS);
}

static void counters_exact_once_done(void **state)
{
    (void)state;
    types();
    probe p = {0};
    tu_gate_init(&p.gate);
    tu_gate_init(&alloc_gate);
    tu_gate_init(&dl_gate);
    tu_gate_init(&log_gate);
    p.stop_after_block = 1;
    actor_class *c = probe_class("st.DoneRace", 8, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(1);
    actor_hooks h = {sizeof h, NULL, race_dead_letter, NULL};
    assert_ok(actor_runtime_set_hooks(rt, &h));
    actor_set_log_handler(race_log, NULL);
    atomic_store(&dl_hold, 1);
    atomic_store(&log_hold, 1);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(addr_send(a, st_block, NULL, 0)); /* handled; then it stops */
    TU_WAIT_ENTERED(&p.gate, 1);
    assert_ok(ev(a, 1)); /* dropped by the stop's first drain */
    held_send hs = {a, -100};
    pthread_t th = tu_thread(held_sender, &hs);
    TU_WAIT_ENTERED(&alloc_gate, 1); /* admitted, not pushed yet */
    tu_gate_open(&p.gate);           /* it stops: finalize, first drain, log */
    TU_WAIT_ENTERED(&log_gate, 1);
    tu_gate_open(&alloc_gate);       /* the push lands before Done */
    tu_join_thread(th);
    assert_ok(hs.rc);                /* accepted: 3 events sent and accepted */
    tu_gate_open(&log_gate);         /* Done, then drain_final: held in the hook */
    TU_WAIT_ENTERED(&dl_gate, 1);
    assert_code(addr_join(a, 0), ACTOR_OK);
    actor_stats s = stats_of(a);
    unsigned long long d = 0;
    assert_ok(addr_dropped(a, &d));
    print_message("Done: received %llu handled %llu dropped %llu queued %llu (addr_dropped %llu)\n",
                  s.received, s.handled, s.dropped, s.queued, d);
    tu_gate_open(&dl_gate); /* let it finish before asserting: no hang on failure */
    actor_runtime_free(rt);
    actor_set_log_handler(saved_log, NULL);
    addr_release(a);
    actor_class_free(c);
    tu_gate_destroy(&p.gate);
    tu_gate_destroy(&alloc_gate);
    tu_gate_destroy(&dl_gate);
    tu_gate_destroy(&log_gate);
    assert_conserved(&s);
    assert_int_equal(s.handled, 1);
    assert_int_equal(s.received, 3); /* the library's promise once Done */
    assert_int_equal(s.dropped, 2);
    assert_int_equal(d, 2);
}

int main(void)
{
    /* The first library call: a pass-through allocator that can hold a
     * sender inside addr_send (counters_exact_once_done). */
    if (actor_set_allocator(t_malloc, t_calloc, t_realloc, t_free) != ACTOR_OK) {
        fprintf(stderr, "actor_set_allocator failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        TU_TEST(stats_size_convention),
        TU_TEST(runtime_stats_size_convention),
        TU_TEST(stats_exact_manual_program),
        TU_TEST(stats_same_under_same_seed),
        TU_TEST(runtime_stats_threaded),
        TU_TEST(stats_expired_threaded),
        TU_TEST(send_wait_manual_idle_while_full),
        TU_TEST(counters_exact_once_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
