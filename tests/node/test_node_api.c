/* The node API in one process, two runtimes, two nodes on one real
 * nats-server: argument checks, export/unexport/lookup, what closing a node
 * or shutting a runtime down does to remote addresses and pending asks,
 * ACTOR_EDEADLK on workers, bridge arguments. */
#include "testutil.h"
#include "nodetest.h"

static nt_server server;
static nt_types T;
static actor_class *calc_cls;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* The heartbeat: the default 1 s in a plain run, times the run's
     * slowdown otherwise (memcheck: 5 s), so that other_node_leaves still
     * tells a goodbye (well under one beat) from missed beats (3 beats). */
    char hb[16];
    snprintf(hb, sizeof hb, "%d", 1000 * tu_slowdown());
    setenv("ACTOR_NODE_HEARTBEAT_MS", hb, 1);
    if (nt_server_start(&server) != 0)
        return -1;
    if (nt_define_types(&T, 0) != ACTOR_OK || nt_calc_class(&T, &calc_cls) != ACTOR_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    actor_class_free(calc_cls);
    nt_server_stop(&server);
    return 0;
}

typedef struct pair {
    actor_runtime *rt_a, *rt_b;
    actor_node *a, *b;
} pair;

static void pair_open(pair *p)
{
    assert_ok(actor_runtime_new(2, &p->rt_a));
    assert_ok(actor_runtime_new(2, &p->rt_b));
    assert_ok(actor_node_connect(p->rt_a, server.url, "a", &p->a));
    assert_ok(actor_node_connect(p->rt_b, server.url, "b", &p->b));
}

static void pair_close(pair *p)
{
    actor_node_close(p->b);
    actor_node_close(p->a);
    actor_runtime_free(p->rt_b);
    actor_runtime_free(p->rt_a);
}

static int ask_sum(actor_addr *a, int64_t x, int64_t y, int64_t *out)
{
    int64_t req[2] = {x, y};
    actor_responder *r;
    int rc = addr_interact(a, T.sum, req, sizeof req, &r);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_responder_wait(r, TU_LONG_MS);
    if (rc == ACTOR_OK)
        *out = *(const int64_t *)actor_responder_data(r, NULL);
    actor_responder_free(r);
    return rc;
}

static void args(void **state)
{
    (void)state;
    actor_runtime *rt;
    actor_node *n = (actor_node *)0x1;
    assert_ok(actor_runtime_new(1, &rt));
    assert_code(actor_node_connect(NULL, server.url, "x", &n), ACTOR_EINVAL);
    assert_code(actor_node_connect(rt, NULL, "x", &n), ACTOR_EINVAL);
    assert_code(actor_node_connect(rt, server.url, NULL, &n), ACTOR_EINVAL);
    assert_code(actor_node_connect(rt, server.url, "x", NULL), ACTOR_EINVAL);
    const char *bad_names[] = {"", "a.b", "a b", "a*", "a>", "\xc3\xa9",
                               "0123456789012345678901234567890123456789012345678901234567890123X"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        assert_code(actor_node_connect(rt, server.url, bad_names[i], &n), ACTOR_EINVAL);
    assert_code(actor_node_connect(rt, "", "x", &n), ACTOR_EINVAL);
    assert_code(actor_node_connect(rt, " , ,", "x", &n), ACTOR_EINVAL);
    assert_ptr_equal(n, (actor_node *)0x1); /* untouched on failure */
    /* Nobody listens there: ECLOSED, promptly. */
    char dead[64];
    snprintf(dead, sizeof dead, "nats://127.0.0.1:%d", nt_free_port());
    int64_t t0 = tu_now_ms();
    assert_code(actor_node_connect(rt, dead, "x", &n), ACTOR_ECLOSED);
    assert_true(tu_now_ms() - t0 < 5000 * tu_slowdown());

    assert_code(actor_node_export(NULL, "x", (actor_addr *)0x1), ACTOR_EINVAL);
    assert_code(actor_node_unexport(NULL, "x"), ACTOR_EINVAL);
    actor_addr *out = (actor_addr *)0x1;
    assert_code(actor_node_lookup(NULL, "x", 10, &out), ACTOR_EINVAL);
    assert_code(actor_node_bridge(NULL, "x"), ACTOR_EINVAL);
    actor_node_close(NULL);

    /* A second url in the list is used when the first does not answer. */
    char two[160];
    snprintf(two, sizeof two, "%s, %s", dead, server.url);
    assert_ok(actor_node_connect(rt, two, "x", &n));
    assert_code(actor_node_export(n, NULL, (actor_addr *)0x1), ACTOR_EINVAL);
    assert_code(actor_node_export(n, "x", NULL), ACTOR_EINVAL);
    actor_addr *c;
    assert_ok(actor_spawn(rt, calc_cls, NULL, &c));
    const char *bad_exports[] = {"", ".a", "a.", "a..b", "a b", "a*", "a>",
                                 "0123456789012345678901234567890123456789012345678901234567890123X"};
    for (size_t i = 0; i < sizeof bad_exports / sizeof *bad_exports; i++) {
        assert_code(actor_node_export(n, bad_exports[i], c), ACTOR_EINVAL);
        assert_code(actor_node_lookup(n, bad_exports[i], 10, &out), ACTOR_EINVAL);
    }
    assert_ok(actor_node_export(n, "calc.one", c));
    assert_code(actor_node_export(n, "calc.one", c), ACTOR_EBUSY);
    assert_ok(actor_node_export(n, "calc.two", c)); /* one actor, two names */
    assert_code(actor_node_lookup(n, "calc.one", 0, &out), ACTOR_EINVAL);
    assert_code(actor_node_lookup(n, "calc.one", -1, &out), ACTOR_EINVAL);
    assert_code(actor_node_lookup(n, "calc.one", 10, NULL), ACTOR_EINVAL);
    assert_code(actor_node_unexport(n, NULL), ACTOR_EINVAL);
    assert_code(actor_node_unexport(n, "nobody"), ACTOR_ENOENT);
    assert_ok(actor_node_unexport(n, "calc.one"));
    assert_code(actor_node_unexport(n, "calc.one"), ACTOR_ENOENT);
    assert_ptr_equal(out, (actor_addr *)0x1);

    /* A Done actor cannot be exported. */
    actor_addr *d;
    assert_ok(actor_spawn(rt, calc_cls, NULL, &d));
    addr_interrupt(d);
    assert_ok(addr_join(d, TU_LONG_MS));
    assert_code(actor_node_export(n, "done", d), ACTOR_ECLOSED);
    addr_release(d);

    assert_code(actor_node_bridge(n, NULL), ACTOR_EINVAL);
    const char *bad_subjects[] = {"", "a.*", "a.>", ">", "_ACTOR.x", "_ACTOR", "a..b", ".a", "a b"};
    for (size_t i = 0; i < sizeof bad_subjects / sizeof *bad_subjects; i++)
        assert_code(actor_node_bridge(n, bad_subjects[i]), ACTOR_EINVAL);
    assert_ok(actor_node_bridge(n, "a.b"));
    assert_code(actor_node_bridge(n, "a.b"), ACTOR_EBUSY);

    actor_node_close(n);
    assert_code(addr_join(c, 0), ACTOR_ETIMEDOUT); /* exports go on locally */
    addr_release(c);
    actor_runtime_free(rt);
}

static void lookup_local_remote_and_absent(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_addr *c, *here, *there, *there2;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c));
    assert_ok(actor_node_export(p.a, "calc", c));
    /* On its own node: the actor's own address. */
    assert_ok(actor_node_lookup(p.a, "calc", 1000, &here));
    assert_ptr_equal(here, c);
    addr_release(here);
    /* Elsewhere: a remote address, the same one each time. */
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &there));
    assert_ptr_not_equal(there, c);
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &there2));
    assert_ptr_equal(there, there2);
    addr_release(there2);
    int64_t v = 0;
    assert_ok(ask_sum(there, 2, 3, &v));
    assert_int_equal(v, 5);
    /* Nobody exports it: ENOENT once the time is up, not before. */
    int64_t t0 = tu_now_ms();
    actor_addr *none = (actor_addr *)0x1;
    assert_code(actor_node_lookup(p.b, "nobody", 300, &none), ACTOR_ENOENT);
    int64_t took = tu_now_ms() - t0;
    assert_true(took >= 290);
    assert_true(took < 3000 * tu_slowdown()); /* 10 times it, on a slow run too */
    assert_ptr_equal(none, (actor_addr *)0x1);
    addr_release(there);
    addr_release(c);
    pair_close(&p);
}

typedef struct later {
    actor_node *n;
    actor_addr *a;
    int rc;
} later;

static void *export_later(void *arg)
{
    later *l = arg;
    nt_nap_ms(300);
    l->rc = actor_node_export(l->n, "late", l->a);
    return NULL;
}

static void lookup_waits_for_export(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    later l = {p.a, NULL, -100};
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &l.a));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, export_later, &l), 0);
    actor_addr *r;
    int64_t t0 = tu_now_ms();
    assert_ok(actor_node_lookup(p.b, "late", TU_LONG_MS, &r));
    assert_true(tu_now_ms() - t0 >= 250);
    pthread_join(th, NULL);
    assert_ok(l.rc);
    int64_t v;
    assert_ok(ask_sum(r, 40, 2, &v));
    assert_int_equal(v, 42);
    addr_release(r);
    addr_release(l.a);
    pair_close(&p);
}

static void unexport_and_done(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_addr *c1, *c2, *r1, *r2;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c1));
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c2));
    assert_ok(actor_node_export(p.a, "one", c1));
    assert_ok(actor_node_export(p.a, "two", c2));
    assert_ok(actor_node_lookup(p.b, "one", 5000, &r1));
    assert_ok(actor_node_lookup(p.b, "two", 5000, &r2));
    int64_t v;
    assert_ok(ask_sum(r1, 1, 1, &v));
    /* Unexported: the remote address is Done (ACTOR_NODE_UNEXPORTED), the actor lives. */
    assert_ok(actor_node_unexport(p.a, "one"));
    assert_ok(addr_join(r1, TU_LONG_MS));
    int why = 0;
    assert_ok(addr_exit_reason(r1, &why));
    assert_int_equal(why, ACTOR_NODE_UNEXPORTED);
    assert_code(addr_join(c1, 0), ACTOR_ETIMEDOUT);
    assert_ok(ask_sum(c1, 1, 1, &v));
    /* The actor stops: the remote address follows, with its reason. */
    assert_ok(addr_send(c2, T.die, &(int32_t){-77}, sizeof(int32_t)));
    assert_ok(addr_join(r2, TU_LONG_MS));
    assert_ok(addr_exit_reason(r2, &why));
    assert_int_equal(why, -77);
    addr_release(r1);
    addr_release(r2);
    addr_release(c1);
    addr_release(c2);
    pair_close(&p);
}

static void close_completes_everything(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_addr *c, *r;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c));
    assert_ok(actor_node_export(p.a, "calc", c));
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &r));
    enum { N = 20 };
    actor_responder *rs[N];
    for (int i = 0; i < N; i++) {
        int64_t ms = 60000;
        assert_ok(addr_interact(r, T.slow, &ms, sizeof ms, &rs[i]));
    }
    /* Held there (the Stats ask is answered after the Slow ones arrived). */
    int64_t st[5];
    actor_responder *sr;
    assert_ok(addr_interact(r, T.stats, NULL, 0, &sr));
    assert_ok(actor_responder_wait(sr, TU_LONG_MS));
    memcpy(st, actor_responder_data(sr, NULL), sizeof st);
    actor_responder_free(sr);
    assert_int_equal(st[4], N);
    /* The asking node closes: its asks complete ECANCELED, its remote
     * addresses are Done (ACTOR_NODE_LOST). */
    actor_node_close(p.b);
    p.b = NULL;
    for (int i = 0; i < N; i++) {
        assert_code(actor_responder_wait(rs[i], 0), ACTOR_ECANCELED);
        actor_responder_free(rs[i]);
    }
    assert_ok(addr_join(r, TU_LONG_MS));
    int why = 0;
    assert_ok(addr_exit_reason(r, &why));
    assert_int_equal(why, ACTOR_NODE_LOST);
    addr_release(r);
    /* The answers owed to it go nowhere; the actor is fine. */
    int64_t v;
    assert_ok(ask_sum(c, 1, 2, &v));
    addr_release(c);
    pair_close(&p);
}

static void other_node_leaves(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_addr *c, *r;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c));
    assert_ok(actor_node_export(p.a, "calc", c));
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &r));
    int64_t ms = 60000;
    actor_responder *rs;
    assert_ok(addr_interact(r, T.slow, &ms, sizeof ms, &rs));
    int64_t v;
    assert_ok(ask_sum(r, 1, 2, &v)); /* the Slow one arrived before it */
    /* The exporting node closes: it says so, no need to wait for missed beats. */
    int64_t t0 = tu_now_ms();
    actor_node_close(p.a);
    p.a = NULL;
    assert_ok(addr_join(r, TU_LONG_MS));
    assert_code(actor_responder_wait(rs, TU_LONG_MS), ACTOR_ECANCELED);
    /* Sooner than one heartbeat, let alone the 3 missed ones a loss takes
     * (a heartbeat is 1 s in a plain run, 1 s times tu_slowdown() else). */
    assert_true(tu_now_ms() - t0 < 900 * tu_slowdown());
    int why = 0;
    assert_ok(addr_exit_reason(r, &why));
    assert_int_equal(why, ACTOR_NODE_LOST);
    actor_responder_free(rs);
    addr_release(r);
    addr_release(c);
    pair_close(&p);
}

static void runtime_shutdown_leaves_remote_alone(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_addr *c, *r;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c));
    assert_ok(actor_node_export(p.a, "calc", c));
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &r));
    /* B's runtime shuts down: its proxy stops; A's actor is not interrupted. */
    assert_ok(actor_runtime_shutdown(p.rt_b, TU_LONG_MS));
    assert_ok(addr_join(r, 0));
    int64_t v;
    assert_ok(ask_sum(c, 5, 5, &v));
    assert_int_equal(v, 10);
    addr_release(r);
    addr_release(c);
    pair_close(&p);
}

/* Events are gathered by the proxy (sent in batches): a request sent after
 * them still comes after every one of them, a lone event goes at once, and
 * two threads' streams each keep their order. */
typedef struct streamer {
    actor_addr *to;
    int64_t first, count;
} streamer;

static void *stream_main(void *arg)
{
    streamer *st = arg;
    for (int64_t v = st->first; v < st->first + st->count; v++)
        addr_send(st->to, T.seq, &v, sizeof v);
    return NULL;
}

static int64_t stats_seq(actor_addr *a, int64_t *violations)
{
    int64_t st[5] = {-1, -1, -1, -1, -1};
    actor_responder *r;
    if (addr_interact(a, T.stats, NULL, 0, &r) != ACTOR_OK)
        return -1;
    if (actor_responder_wait(r, TU_LONG_MS) == ACTOR_OK)
        memcpy(st, actor_responder_data(r, NULL), sizeof st);
    actor_responder_free(r);
    if (violations != NULL)
        *violations = st[1];
    return st[0];
}

static void events_and_asks_keep_order(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_addr *c, *r;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c));
    assert_ok(actor_node_export(p.a, "calc", c));
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &r));
    /* Interleaved: every ask sees exactly the events sent before it. */
    int64_t sent = 0, viol = -1;
    for (int round = 0; round < 50; round++) {
        int k = 1 + round % 7;
        for (int i = 0; i < k; i++) {
            int64_t v = ++sent;
            assert_ok(addr_send(r, T.seq, &v, sizeof v));
        }
        assert_int_equal(stats_seq(r, &viol), sent);
        assert_int_equal(viol, 0);
    }
    /* A lone event is not held back waiting for company. */
    int64_t next = sent + 1;
    assert_ok(addr_send(r, T.seq, &next, sizeof next));
    TU_WAIT_UNTIL(stats_seq(c, NULL) == sent + 1, TU_LONG_MS);
    sent++;
    /* Big ones (over the batch size) go alone, still in order. */
    static unsigned char big[100000];
    const actor_msgtype *t_big;
    assert_ok(actor_msgtype_define("BigOpaque", NULL, NULL, &t_big));
    assert_ok(addr_send(r, t_big, big, sizeof big)); /* no handler there: dropped */
    next = sent + 1;
    assert_ok(addr_send(r, T.seq, &next, sizeof next));
    sent++;
    assert_int_equal(stats_seq(r, &viol), sent);
    assert_int_equal(viol, 0);
    /* A long stream from another thread (in batches), in order; an ask made
     * here after it finished sending sees all of it. */
    streamer s1 = {r, 1, tu_scale(20000)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stream_main, &s1), 0);
    pthread_join(th, NULL);
    assert_int_equal(stats_seq(r, &viol), sent + s1.count);
    assert_int_equal(viol, 0);
    addr_release(r);
    addr_release(c);
    pair_close(&p);
}

/* ---- blocking calls on a worker thread ---- */
typedef struct inside {
    actor_node *n;
    actor_runtime *rt;
    const char *url;
    atomic_int lookup_rc, connect_rc, done;
} inside;

static const actor_msgtype *t_try;

static int try_block(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    inside *in = state;
    actor_addr *a;
    actor_node *n;
    atomic_store(&in->lookup_rc, actor_node_lookup(in->n, "nobody", 1000, &a));
    atomic_store(&in->connect_rc, actor_node_connect(in->rt, in->url, "w", &n));
    actor_node_close(in->n); /* logs and does nothing here */
    atomic_store(&in->done, 1);
    return 0;
}

static void worker_thread_edeadlk(void **state)
{
    (void)state;
    actor_runtime *rt;
    actor_node *n;
    assert_ok(actor_runtime_new(1, &rt));
    assert_ok(actor_node_connect(rt, server.url, "x", &n));
    assert_ok(actor_msgtype_define("TryBlock", "", "", &t_try));
    actor_class *c;
    assert_ok(actor_class_new("Blocker", &c));
    assert_ok(actor_class_on_event(c, t_try, try_block));
    inside in = {.n = n, .rt = rt, .url = server.url};
    actor_addr *a;
    assert_ok(actor_spawn(rt, c, &in, &a));
    assert_ok(addr_send(a, t_try, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&in.done), TU_LONG_MS);
    assert_code(atomic_load(&in.lookup_rc), ACTOR_EDEADLK);
    assert_code(atomic_load(&in.connect_rc), ACTOR_EDEADLK);
    /* Still open: */
    actor_addr *x;
    assert_code(actor_node_lookup(n, "nobody", 50, &x), ACTOR_ENOENT);
    addr_release(a);
    actor_node_close(n);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ---- bridges between two nodes ---- */
typedef struct counter {
    atomic_int n;
    atomic_llong last;
} counter;

static int count_flash(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    counter *c = state;
    atomic_store(&c->last, *(const int64_t *)p);
    atomic_fetch_add(&c->n, 1);
    return 0;
}

static void bridge_two_ways(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    actor_class *cc;
    assert_ok(actor_class_new("Counter", &cc));
    assert_ok(actor_class_on_event(cc, T.flash, count_flash));
    counter ca = {0}, cb = {0}, cb_other = {0};
    actor_addr *a, *b, *b2;
    assert_ok(actor_spawn(p.rt_a, cc, &ca, &a));
    assert_ok(actor_spawn(p.rt_b, cc, &cb, &b));
    assert_ok(actor_spawn(p.rt_b, cc, &cb_other, &b2));
    assert_ok(actor_subscribe(a, "news.flash"));
    assert_ok(actor_subscribe(b, "news.flash"));
    assert_ok(actor_subscribe(b2, "news.other"));
    assert_ok(actor_node_bridge(p.a, "news.flash"));
    assert_ok(actor_node_bridge(p.b, "news.flash"));
    /* A publish on A reaches B's subscriber (and A's own, once): bridge
     * returns once the server has the subscription. */
    int64_t v = 1;
    assert_ok(actor_publish(p.rt_a, "news.flash", T.flash, &v, sizeof v, NULL));
    TU_WAIT_UNTIL(atomic_load(&cb.n) == 1 && atomic_load(&ca.n) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cb.last), 1);
    int a0 = atomic_load(&ca.n), b0 = atomic_load(&cb.n);
    /* Now exactly: 50 each way. */
    for (int64_t i = 1; i <= 50; i++) {
        assert_ok(actor_publish(p.rt_a, "news.flash", T.flash, &i, sizeof i, NULL));
        assert_ok(actor_publish(p.rt_b, "news.flash", T.flash, &i, sizeof i, NULL));
    }
    TU_WAIT_UNTIL(atomic_load(&ca.n) >= a0 + 100, TU_LONG_MS);
    TU_WAIT_UNTIL(atomic_load(&cb.n) >= b0 + 100, TU_LONG_MS);
    /* A last marker each way, seen after everything before it (ordered per
     * publisher): had anything echoed, the counts would be past. */
    int64_t m = 1000;
    assert_ok(actor_publish(p.rt_b, "news.flash", T.flash, &m, sizeof m, NULL));
    assert_ok(actor_publish(p.rt_a, "news.flash", T.flash, &m, sizeof m, NULL));
    TU_WAIT_UNTIL(atomic_load(&ca.n) >= a0 + 102 && atomic_load(&cb.n) >= b0 + 102, TU_LONG_MS);
    assert_ok(actor_publish(p.rt_a, "news.other", T.flash, &m, sizeof m, NULL)); /* not bridged */
    int64_t v2;
    actor_addr *cr;
    actor_addr *c;
    assert_ok(actor_spawn(p.rt_a, calc_cls, NULL, &c));
    assert_ok(actor_node_export(p.a, "calc", c));
    assert_ok(actor_node_lookup(p.b, "calc", 5000, &cr));
    assert_ok(ask_sum(cr, 1, 1, &v2)); /* a round trip A<->B after all of it */
    assert_int_equal(atomic_load(&ca.n), a0 + 102);
    assert_int_equal(atomic_load(&cb.n), b0 + 102);
    assert_int_equal(atomic_load(&cb_other.n), 0);
    addr_release(cr);
    addr_release(c);
    addr_release(a);
    addr_release(b);
    addr_release(b2);
    pair_close(&p);
    actor_class_free(cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(args),
        TU_TEST(lookup_local_remote_and_absent),
        TU_TEST(lookup_waits_for_export),
        TU_TEST(unexport_and_done),
        TU_TEST(close_completes_everything),
        TU_TEST(other_node_leaves),
        TU_TEST(runtime_shutdown_leaves_remote_alone),
        TU_TEST(events_and_asks_keep_order),
        TU_TEST(worker_thread_edeadlk),
        TU_TEST(bridge_two_ways),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
