/* Stress: rings of actors, wake-ups after idle periods, requests across
 * runtimes with then-callbacks, spawn churn, trees spawned from handlers,
 * and a runtime freed under concurrent senders. Every wait has a deadline:
 * a lost wake-up shows as a failure, not a hang. */
#include "testutil.h"

/* ---- a ring of actors passing tokens ------------------------------------- */

#define RING 64
#define TOKENS 8

struct ring_state {
    actor_addr *next;
    uint64_t seen;
};

static const actor_msgtype *st_token;
static atomic_int ring_finished;
static atomic_long ring_hops;

static int ring_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    struct ring_state *s = st;
    uint64_t left = tu_get_u64(p);
    s->seen++;
    atomic_fetch_add_explicit(&ring_hops, 1, memory_order_relaxed);
    if (left == 0) {
        atomic_fetch_add(&ring_finished, 1);
        return 0;
    }
    unsigned char buf[8];
    tu_put_u64(buf, left - 1);
    return addr_send(s->next, st_token, buf, sizeof buf);
}

static void ring_of_actors(void **state)
{
    (void)state;
    const long hops = tu_scale(200000) / TOKENS;
    st_token = tu_type("st.Token", "Q", NULL);
    actor_class *c = tu_class("st.Ring");
    assert_ok(actor_class_on_event(c, st_token, ring_event));
    actor_runtime *rt = tu_runtime(2);
    struct ring_state *ss = calloc(RING, sizeof *ss);
    actor_addr *as[RING];
    for (int i = 0; i < RING; i++)
        as[i] = tu_spawn(rt, c, &ss[i]);
    for (int i = 0; i < RING; i++)
        ss[i].next = as[(i + 1) % RING];
    atomic_store(&ring_finished, 0);
    atomic_store(&ring_hops, 0);
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)hops);
    for (int t = 0; t < TOKENS; t++)
        assert_ok(addr_send(as[(t * RING) / TOKENS], st_token, buf, sizeof buf));
    TU_WAIT_UNTIL(atomic_load(&ring_finished) == TOKENS, 4 * TU_LONG_MS);
    assert_int_equal(atomic_load(&ring_hops), TOKENS * (hops + 1));
    for (int i = 0; i < RING; i++)
        assert_ok(addr_interrupt(as[i]));
    for (int i = 0; i < RING; i++) {
        assert_ok(addr_join(as[i], TU_LONG_MS));
        addr_release(as[i]);
    }
    uint64_t total = 0;
    for (int i = 0; i < RING; i++)
        total += ss[i].seen;
    assert_int_equal(total, (uint64_t)TOKENS * (uint64_t)(hops + 1));
    actor_runtime_free(rt);
    actor_class_free(c);
    free(ss);
}

/* ---- wake-ups after idle periods of several lengths ----------------------- */

static atomic_int wk_events;
static int wk_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&wk_events, 1);
    return 0;
}
static int wk_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    return actor_ctx_reply(ctx, p, len);
}

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void wakeups_after_idle(void **state)
{
    (void)state;
    const actor_msgtype *ev = tu_type("st.Wake", "", NULL);
    const actor_msgtype *rq = tu_type("st.WakeReq", "Q", "Q");
    actor_class *c = tu_class("st.Waker");
    assert_ok(actor_class_on_event(c, ev, wk_event));
    assert_ok(actor_class_on_request(c, rq, wk_request));
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    atomic_store(&wk_events, 0);
    static const long pauses[] = {0, 5, 40, 80, 300, 1500};
    const int n = (int)tu_scale(600);
    for (int i = 0; i < n; i++) {
        nap_us(pauses[i % 6]);
        if (i % 2 == 0) {
            assert_ok(addr_send(a, ev, NULL, 0));
            TU_WAIT_UNTIL(atomic_load(&wk_events) == i / 2 + 1, TU_LONG_MS);
        } else {
            unsigned char buf[8];
            tu_put_u64(buf, (uint64_t)i);
            actor_responder *r = NULL;
            assert_ok(addr_interact(a, rq, buf, 8, &r));
            int st = actor_responder_wait(r, TU_LONG_MS);
            if (st != ACTOR_OK)
                fail_msg("request %d after a %ld us pause: %d (%s)", i, pauses[i % 6], st,
                         actor_strerror(st));
            assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), (uint64_t)i);
            actor_responder_free(r);
        }
    }
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ---- requests across runtimes, answered through then-callbacks ----------- */

static const actor_msgtype *xr_go, *xr_sum;
static actor_addr *xr_summer;
static atomic_long xr_done, xr_bad;

static void xr_then(actor_responder *r, void *ud)
{
    int64_t want = (int64_t)(intptr_t)ud;
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    if (actor_responder_status(r) != ACTOR_OK || len != 8 || (int64_t)tu_get_u64(d) != want)
        atomic_fetch_add(&xr_bad, 1);
    /* A callback must not block: a wait with a timeout on a worker is EDEADLK. */
    actor_responder_free(r);
    atomic_fetch_add(&xr_done, 1);
}

static int xr_go_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t n = tu_get_u64(p);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char buf[16];
        tu_put_u64(buf, i);
        tu_put_u64(buf + 8, 1000);
        actor_responder *r = NULL;
        int rc = addr_interact(xr_summer, xr_sum, buf, 16, &r);
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            return rc;
        }
        TU_CHECK_CODE(actor_responder_then(r, xr_then, (void *)(intptr_t)(i + 1000)), ACTOR_OK);
    }
    return 0;
}

static int xr_sum_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    unsigned char out[8];
    tu_put_u64(out, tu_get_u64(p) + tu_get_u64((const unsigned char *)p + 8));
    return actor_ctx_reply(ctx, out, 8);
}

static void requests_across_runtimes(void **state)
{
    (void)state;
    const long n = tu_scale(20000);
    xr_go = tu_type("st.Go", "Q", NULL);
    xr_sum = tu_type("st.Sum", "QQ", "Q");
    actor_class *asker = tu_class("st.Asker");
    assert_ok(actor_class_on_event(asker, xr_go, xr_go_event));
    actor_class *summer = tu_class("st.Summer");
    assert_ok(actor_class_on_request(summer, xr_sum, xr_sum_request));
    actor_runtime *rt1 = tu_runtime(1), *rt2 = tu_runtime(1);
    xr_summer = tu_spawn(rt2, summer, NULL);
    actor_addr *a = tu_spawn(rt1, asker, NULL);
    atomic_store(&xr_done, 0);
    atomic_store(&xr_bad, 0);
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)n);
    assert_ok(addr_send(a, xr_go, buf, 8));
    TU_WAIT_UNTIL(atomic_load(&xr_done) == n, 3 * TU_LONG_MS);
    assert_int_equal(atomic_load(&xr_bad), 0);
    tu_assert_no_failures();
    tu_stop_join(a);
    tu_stop_join(xr_summer);
    addr_release(a);
    addr_release(xr_summer);
    actor_runtime_free(rt1);
    actor_runtime_free(rt2);
    actor_class_free(asker);
    actor_class_free(summer);
}

/* ---- spawn churn: spawn, send, release, from several threads ------------- */

static atomic_long churn_fin, churn_events;
static int churn_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&churn_events, 1);
    return 0;
}
static void churn_finalize(actor_ctx *ctx, void *st) { atomic_fetch_add(&churn_fin, 1); }

struct churn_arg {
    actor_runtime *rt;
    actor_class *c;
    const actor_msgtype *t;
    long n;
};

static void *churn_thread(void *p)
{
    struct churn_arg *ca = p;
    for (long i = 0; i < ca->n; i++) {
        actor_addr *a = NULL;
        int rc = actor_spawn(ca->rt, ca->c, NULL, &a);
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            return NULL;
        }
        TU_CHECK_CODE(addr_send(a, ca->t, NULL, 0), ACTOR_OK);
        if (i % 3 == 0)
            TU_CHECK_CODE(addr_interrupt(a), ACTOR_OK);
        addr_release(a); /* closes it once its mailbox is empty */
    }
    return NULL;
}

static void spawn_churn(void **state)
{
    (void)state;
    const long n = tu_scale(5000);
    const actor_msgtype *t = tu_type("st.Churn", "", NULL);
    actor_class *c = tu_class("st.Churner");
    assert_ok(actor_class_on_event(c, t, churn_event));
    assert_ok(actor_class_on_finalize(c, churn_finalize));
    assert_ok(actor_class_set_state_size(c, 24));
    actor_runtime *rt = tu_runtime(2);
    atomic_store(&churn_fin, 0);
    atomic_store(&churn_events, 0);
    struct churn_arg ca = {rt, c, t, n};
    pthread_t t1 = tu_thread(churn_thread, &ca), t2 = tu_thread(churn_thread, &ca);
    tu_join_thread(t1);
    tu_join_thread(t2);
    tu_assert_no_failures();
    TU_WAIT_UNTIL(atomic_load(&churn_fin) == 2 * n, 3 * TU_LONG_MS);
    assert_int_equal(atomic_load(&churn_events), 2 * n);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS)); /* nothing left alive */
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ---- a tree of actors spawned from handlers ------------------------------ */

static const actor_msgtype *tr_grow;
static actor_class *tr_class;
static atomic_long tr_fin, tr_grown;

static int tree_grow(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t depth = tu_get_u64(p);
    atomic_fetch_add(&tr_grown, 1);
    if (depth == 0)
        return 0;
    for (int i = 0; i < 6; i++) {
        actor_addr *child = NULL;
        int rc = actor_spawn(actor_ctx_runtime(ctx), tr_class, NULL, &child);
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            return rc;
        }
        unsigned char buf[8];
        tu_put_u64(buf, depth - 1);
        TU_CHECK_CODE(addr_send(child, tr_grow, buf, 8), ACTOR_OK);
        addr_release(child);
    }
    return 0;
}
static void tree_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&tr_fin, 1); }

static void tree_spawned_from_handlers(void **state)
{
    (void)state;
    tr_grow = tu_type("st.Grow", "Q", NULL);
    tr_class = tu_class("st.Tree");
    assert_ok(actor_class_on_event(tr_class, tr_grow, tree_grow));
    assert_ok(actor_class_on_finalize(tr_class, tree_fin));
    atomic_store(&tr_fin, 0);
    atomic_store(&tr_grown, 0);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *root = tu_spawn(rt, tr_class, NULL);
    unsigned char buf[8];
    tu_put_u64(buf, 4); /* 1 + 6 + 36 + 216 + 1296 = 1555 actors */
    assert_ok(addr_send(root, tr_grow, buf, 8));
    addr_release(root);
    TU_WAIT_UNTIL(atomic_load(&tr_fin) == 1555, 3 * TU_LONG_MS);
    assert_int_equal(atomic_load(&tr_grown), 1555);
    tu_assert_no_failures();
    actor_runtime_free(rt);
    actor_class_free(tr_class);
}

/* ---- the runtime freed under concurrent senders -------------------------- */

#define FS_ACTORS 4
static actor_addr *fs_actors[FS_ACTORS];
static const actor_msgtype *fs_ev, *fs_rq;
static atomic_int fs_freed;
static atomic_llong fs_accepted[FS_ACTORS], fs_handled[FS_ACTORS];

static int fs_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&fs_handled[(intptr_t)st], 1);
    return 0;
}
static int fs_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    return actor_ctx_reply(ctx, NULL, 0);
}

static void *fs_sender(void *arg)
{
    (void)arg;
    int closed_after_free = 0;
    for (long i = 0; closed_after_free < 100; i++) {
        int freed = atomic_load(&fs_freed);
        actor_addr *a = fs_actors[i % FS_ACTORS];
        int rc;
        if (i % 2) {
            rc = addr_send(a, fs_ev, NULL, 0);
            if (rc == ACTOR_OK)
                atomic_fetch_add(&fs_accepted[i % FS_ACTORS], 1);
        } else {
            actor_responder *r = NULL;
            rc = addr_interact(a, fs_rq, NULL, 0, &r);
            if (rc == ACTOR_OK) {
                int st = actor_responder_wait(r, TU_LONG_MS);
                TU_CHECK(st == ACTOR_OK || st == ACTOR_ECANCELED);
                actor_responder_free(r);
            }
        }
        TU_CHECK(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
        if (freed) {
            TU_CHECK_CODE(rc, ACTOR_ECLOSED); /* every actor is Done after free */
            closed_after_free++;
        }
    }
    return NULL;
}

static void free_under_concurrent_senders(void **state)
{
    (void)state;
    fs_ev = tu_type("st.FsEv", "", NULL);
    fs_rq = tu_type("st.FsRq", "", "");
    actor_class *c = tu_class("st.FreedUnder");
    assert_ok(actor_class_on_event(c, fs_ev, fs_event));
    assert_ok(actor_class_on_request(c, fs_rq, fs_request));
    tu_log_capture(); /* drops at stop are logged: keep them off stderr */
    for (int round = 0; round < 20; round++) {
        actor_runtime *rt = tu_runtime(2);
        for (int i = 0; i < FS_ACTORS; i++) {
            atomic_store(&fs_accepted[i], 0);
            atomic_store(&fs_handled[i], 0);
            fs_actors[i] = tu_spawn(rt, c, (void *)(intptr_t)i);
        }
        atomic_store(&fs_freed, 0);
        pthread_t t1 = tu_thread(fs_sender, NULL), t2 = tu_thread(fs_sender, NULL);
        nap_us(1000 + (round % 5) * 1000);
        actor_runtime_free(rt);
        atomic_store(&fs_freed, 1);
        tu_join_thread(t1);
        tu_join_thread(t2);
        tu_assert_no_failures();
        for (int i = 0; i < FS_ACTORS; i++) {
            assert_int_equal(addr_is_done(fs_actors[i]), 1);
            /* Every accepted event was handled or dropped, and counted. */
            unsigned long long dropped = 0;
            assert_ok(addr_dropped(fs_actors[i], &dropped));
            if ((long long)dropped + atomic_load(&fs_handled[i]) != atomic_load(&fs_accepted[i]))
                fail_msg("actor %d: %lld events accepted, %lld handled + %llu dropped", i,
                         (long long)atomic_load(&fs_accepted[i]),
                         (long long)atomic_load(&fs_handled[i]), dropped);
            addr_release(fs_actors[i]);
        }
    }
    tu_log_stop();
    actor_class_free(c);
}

/* ---- one actor's callbacks never overlap, wherever it runs --------------- */

#define OV_ACTORS 16
#define OV_SENDERS 2
struct ov_state {
    atomic_int busy;
    uint64_t next[OV_SENDERS];
    uint64_t handled;
};
static atomic_long ov_overlaps, ov_disorder;
static const actor_msgtype *ov_ev, *ov_rq;

static int ov_enter(struct ov_state *s)
{
    if (atomic_exchange(&s->busy, 1))
        atomic_fetch_add(&ov_overlaps, 1);
    return 0;
}
static void ov_leave(struct ov_state *s) { atomic_store(&s->busy, 0); }

static int ov_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    struct ov_state *s = st;
    ov_enter(s);
    uint32_t id = tu_get_u32(p);
    uint64_t seq = tu_get_u64((const unsigned char *)p + 4);
    if (id >= OV_SENDERS || seq != s->next[id])
        atomic_fetch_add(&ov_disorder, 1);
    else
        s->next[id] = seq + 1;
    s->handled++;
    for (volatile int k = 0; k < 50; k++) {
    }
    ov_leave(s);
    return 0;
}
static int ov_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    struct ov_state *s = st;
    ov_enter(s);
    s->handled++;
    int rc = actor_ctx_reply(ctx, NULL, 0);
    ov_leave(s);
    return rc;
}

struct ov_arg {
    actor_addr **as;
    uint32_t id;
    long n;
};
static void *ov_sender(void *p)
{
    struct ov_arg *oa = p;
    uint64_t seq[OV_ACTORS] = {0};
    unsigned x = 12345u + oa->id;
    for (long i = 0; i < oa->n; i++) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 16) % OV_ACTORS);
        if (i % 16 == 0) {
            actor_responder *r = NULL;
            TU_CHECK_CODE(addr_interact(oa->as[k], ov_rq, NULL, 0, &r), ACTOR_OK);
            actor_responder_free(r); /* pending is fine */
            continue;
        }
        unsigned char buf[12];
        tu_put_u32(buf, oa->id);
        tu_put_u64(buf + 4, seq[k]++);
        TU_CHECK_CODE(addr_send(oa->as[k], ov_ev, buf, sizeof buf), ACTOR_OK);
    }
    return NULL;
}

static void callbacks_never_overlap(void **state)
{
    (void)state;
    const long n = tu_scale(200000);
    ov_ev = tu_type("st.OvEv", "IQ", NULL);
    ov_rq = tu_type("st.OvRq", "", "");
    actor_class *c = tu_class("st.Overlap");
    assert_ok(actor_class_on_event(c, ov_ev, ov_event));
    assert_ok(actor_class_on_request(c, ov_rq, ov_request));
    atomic_store(&ov_overlaps, 0);
    atomic_store(&ov_disorder, 0);
    actor_runtime *rt = tu_runtime(2);
    struct ov_state *ss = calloc(OV_ACTORS, sizeof *ss);
    actor_addr *as[OV_ACTORS];
    for (int i = 0; i < OV_ACTORS; i++)
        as[i] = tu_spawn(rt, c, &ss[i]);
    struct ov_arg args[OV_SENDERS];
    pthread_t th[OV_SENDERS];
    for (int i = 0; i < OV_SENDERS; i++) {
        args[i] = (struct ov_arg){as, (uint32_t)i, n};
        th[i] = tu_thread(ov_sender, &args[i]);
    }
    for (int i = 0; i < OV_SENDERS; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    uint64_t handled = 0;
    for (int i = 0; i < OV_ACTORS; i++) {
        tu_stop_join(as[i]);
        handled += ss[i].handled;
        addr_release(as[i]);
    }
    assert_int_equal(handled, (uint64_t)(OV_SENDERS * n));
    assert_int_equal(atomic_load(&ov_overlaps), 0);
    assert_int_equal(atomic_load(&ov_disorder), 0);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(ss);
}

/* ---- promises resolved and responders forwarded while the runtime is freed */

#define RF_N 200
static const actor_msgtype *rf_ask;
static actor_promise *rf_promises[RF_N];
static atomic_int rf_deferred, rf_resolved_ok, rf_resolved_closed, rf_responses, rf_go;

static int rf_defer(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_promise *pr = NULL;
    TU_CHECK_CODE(actor_ctx_defer(ctx, &pr), ACTOR_OK);
    rf_promises[tu_get_u64(p)] = pr;
    atomic_fetch_add(&rf_deferred, 1);
    return 0;
}
static void rf_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                        const void *reply, size_t len)
{
    TU_CHECK(status == ACTOR_OK || status == ACTOR_ECANCELED);
    atomic_fetch_add(&rf_responses, 1);
}
static void *rf_resolver(void *arg)
{
    (void)arg;
    for (int i = 0; i < RF_N; i++) {
        if (i == RF_N / 4)
            atomic_store(&rf_go, 1); /* the main thread frees the runtime now */
        unsigned char out[8];
        tu_put_u64(out, (uint64_t)i);
        int rc = actor_promise_resolve(rf_promises[i], out, 8);
        TU_CHECK(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
        if (rc == ACTOR_ECLOSED) /* not consumed: still ours */
            actor_promise_free(rf_promises[i]);
        atomic_fetch_add(rc == ACTOR_OK ? &rf_resolved_ok : &rf_resolved_closed, 1);
        if (i % 8 == 0)
            nap_us(20);
    }
    return NULL;
}

static void resolve_and_forward_while_runtime_freed(void **state)
{
    (void)state;
    rf_ask = tu_type("st.RfAsk", "Q", "Q");
    actor_class *dc = tu_class("st.RfDeferrer");
    assert_ok(actor_class_on_request(dc, rf_ask, rf_defer));
    actor_class *cc = tu_class("st.RfCollector");
    assert_ok(actor_class_on_response(cc, rf_ask, rf_response));
    tu_log_capture();
    for (int round = 0; round < 5; round++) {
        atomic_store(&rf_deferred, 0);
        atomic_store(&rf_resolved_ok, 0);
        atomic_store(&rf_resolved_closed, 0);
        atomic_store(&rf_responses, 0);
        atomic_store(&rf_go, 0);
        actor_runtime *rt = tu_runtime(2);
        actor_addr *d = tu_spawn(rt, dc, NULL);
        actor_addr *col = tu_spawn(rt, cc, NULL);
        actor_responder *kept[RF_N];
        int nkept = 0, nforwarded = 0;
        for (int i = 0; i < RF_N; i++) {
            unsigned char buf[8];
            tu_put_u64(buf, (uint64_t)i);
            actor_responder *r = NULL;
            assert_ok(addr_interact(d, rf_ask, buf, 8, &r));
            if (i % 2) {
                assert_ok(actor_responder_forward(r, col));
                nforwarded++;
            } else {
                kept[nkept++] = r;
            }
        }
        TU_WAIT_UNTIL(atomic_load(&rf_deferred) == RF_N, TU_LONG_MS);
        pthread_t th = tu_thread(rf_resolver, NULL);
        TU_WAIT_UNTIL(atomic_load(&rf_go) == 1, TU_LONG_MS);
        addr_release(d);
        addr_release(col);
        actor_runtime_free(rt);
        tu_join_thread(th);
        tu_assert_no_failures();
        assert_int_equal(atomic_load(&rf_resolved_ok) + atomic_load(&rf_resolved_closed), RF_N);
        assert_true(atomic_load(&rf_responses) <= nforwarded);
        for (int i = 0; i < nkept; i++) {
            int st = actor_responder_wait(kept[i], TU_LONG_MS);
            if (st != ACTOR_OK && st != ACTOR_ECANCELED)
                fail_msg("kept responder %d: %d (%s)", i, st, actor_strerror(st));
            actor_responder_free(kept[i]);
        }
    }
    tu_log_stop();
    actor_class_free(dc);
    actor_class_free(cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(ring_of_actors),
        TU_TEST(wakeups_after_idle),
        TU_TEST(requests_across_runtimes),
        TU_TEST(spawn_churn),
        TU_TEST(tree_spawned_from_handlers),
        TU_TEST(free_under_concurrent_senders),
        TU_TEST(callbacks_never_overlap),
        TU_TEST(resolve_and_forward_while_runtime_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
