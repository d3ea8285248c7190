/* Two processes, one real nats-server on 127.0.0.1: this test's node "t"
 * and a peer process (node_peer, node "p") exchange events, asks, forwards,
 * monitors, interrupts and bridged topics through ordinary addresses; a type
 * with other layouts on the two sides gives ACTOR_ETYPE. */
#include "testutil.h"
#include "nodetest.h"

static struct {
    nt_server server;
    nt_peer peer;
    nt_types t;
    actor_class *calc_cls;
    actor_runtime *rt;
    actor_node *node;
    actor_addr *sink;  /* exported here as "sink"; subscribed to news.flash */
    actor_addr *calc;  /* the peer's "calc" */
} g;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (nt_server_start(&g.server) != 0) {
        fprintf(stderr, "nats-server did not start\n");
        return -1;
    }
    if (nt_define_types(&g.t, 0) != ACTOR_OK || nt_calc_class(&g.t, &g.calc_cls) != ACTOR_OK ||
        actor_runtime_new(2, &g.rt) != ACTOR_OK)
        return -1;
    int rc = actor_node_connect(g.rt, g.server.url, "t", &g.node);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "connect: %s\n", actor_strerror(rc));
        return -1;
    }
    if (actor_spawn(g.rt, g.calc_cls, NULL, &g.sink) != ACTOR_OK ||
        actor_node_export(g.node, "sink", g.sink) != ACTOR_OK ||
        actor_node_bridge(g.node, "news.flash") != ACTOR_OK ||
        actor_subscribe(g.sink, "news.flash") != ACTOR_OK)
        return -1;
    if (nt_peer_start(&g.peer, g.server.url, "p", "back") != 0)
        return -1;
    char line[128];
    if (nt_peer_line(&g.peer, line, sizeof line, 20000) != 0 || strncmp(line, "READY", 5) != 0) {
        fprintf(stderr, "peer not ready: '%s'\n", line);
        return -1;
    }
    rc = actor_node_lookup(g.node, "calc", 10000, &g.calc);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "lookup calc: %s\n", actor_strerror(rc));
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int status = nt_peer_stop(&g.peer, 10000);
    addr_release(g.calc);
    actor_node_close(g.node);
    addr_release(g.sink);
    actor_runtime_free(g.rt);
    actor_class_free(g.calc_cls);
    nt_server_stop(&g.server);
    if (status != 0) {
        fprintf(stderr, "the peer did not leave cleanly (status %d)\n", status);
        return -1;
    }
    return 0;
}

/* Blocking ask; returns the final status, copies the reply. */
static int ask(actor_addr *a, const actor_msgtype *t, const void *p, size_t len, void *reply,
               size_t rlen, int *herr)
{
    actor_responder *r;
    int rc = addr_interact(a, t, p, len, &r);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_responder_wait(r, TU_LONG_MS);
    if (rc == ACTOR_OK && reply != NULL) {
        size_t got;
        const void *d = actor_responder_data(r, &got);
        if (got == rlen)
            memcpy(reply, d, rlen);
        else
            rc = ACTOR_ETYPE;
    }
    if (herr != NULL)
        *herr = actor_responder_handler_error(r);
    actor_responder_free(r);
    return rc;
}

static nt_stats stats_of(actor_addr *a)
{
    int64_t v[5] = {-1, -1, -1, -1, -1};
    assert_ok(ask(a, g.t.stats, NULL, 0, v, sizeof v, NULL));
    nt_stats s = {v[0], v[1], v[2], v[3], v[4]};
    return s;
}

static void remote_asks(void **state)
{
    (void)state;
    for (int64_t i = 0; i < 50; i++) {
        int64_t req[2] = {i, 2 * i}, sum = -1;
        assert_ok(ask(g.calc, g.t.sum, req, sizeof req, &sum, sizeof sum, NULL));
        assert_int_equal(sum, 3 * i);
    }
    /* Many in flight at once, answered each to its own responder. */
    enum { N = 300 };
    actor_responder *r[N];
    for (int64_t i = 0; i < N; i++) {
        int64_t req[2] = {i, 1000000};
        assert_ok(addr_interact(g.calc, g.t.sum, req, sizeof req, &r[i]));
    }
    for (int64_t i = 0; i < N; i++) {
        assert_ok(actor_responder_wait(r[i], TU_LONG_MS));
        size_t len;
        const int64_t *v = actor_responder_data(r[i], &len);
        assert_int_equal(len, 8);
        assert_int_equal(*v, i + 1000000);
        actor_responder_free(r[i]);
    }
}

static void remote_events_ordered(void **state)
{
    (void)state;
    nt_stats before = stats_of(g.calc);
    const int64_t n = tu_scale(5000);
    for (int64_t v = 1; v <= n; v++)
        assert_ok(addr_send(g.calc, g.t.seq, &v, sizeof v));
    /* The Stats ask goes after the events through the same proxy and the
     * same NATS connection: it is answered after all of them are handled. */
    nt_stats after = stats_of(g.calc);
    assert_int_equal(after.seq_count - before.seq_count, n);
    assert_int_equal(after.seq_violations, 0);
}

static void remote_request_outcomes(void **state)
{
    (void)state;
    int herr = 0;
    int32_t code = 77;
    assert_code(ask(g.calc, g.t.fail, &code, sizeof code, NULL, 0, &herr), ACTOR_EHANDLER);
    assert_int_equal(herr, 77);
    assert_code(ask(g.calc, g.t.drop, NULL, 0, NULL, 0, NULL), ACTOR_ECANCELED);
    /* No handler there: a failed handover, seen as the handler's error. */
    herr = 0;
    assert_code(ask(g.calc, g.t.nope, NULL, 0, NULL, 0, &herr), ACTOR_EHANDLER);
    assert_int_equal(herr, ACTOR_ENOHANDLER);
    assert_ok(addr_send(g.calc, g.t.nope, NULL, 0)); /* queued to the proxy: dropped there */

    /* A deadline travels: the remote answer would take 3 s, the ask expires at 200 ms. */
    int64_t ms = 3000;
    actor_responder *r;
    int64_t t0 = tu_now_ms();
    assert_ok(addr_interact_within(g.calc, g.t.slow, &ms, sizeof ms, 200, &r));
    assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_EEXPIRED);
    int64_t took = tu_now_ms() - t0;
    actor_responder_free(r);
    assert_true(took >= 190);
    assert_true(took < 2500);
    /* A slow one in time is answered. */
    ms = 50;
    assert_ok(addr_interact_within(g.calc, g.t.slow, &ms, sizeof ms, 5000, &r));
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    actor_responder_free(r);
}

static void remote_etype(void **state)
{
    (void)state;
    /* "Point" is "qq" -> "q" here and "ii" -> "i" in the peer. */
    int64_t p[2] = {1, 2};
    int herr = 0;
    assert_code(ask(g.calc, g.t.point, p, sizeof p, NULL, 0, &herr), ACTOR_EHANDLER);
    assert_int_equal(herr, ACTOR_ETYPE);
    nt_stats before = stats_of(g.calc);
    assert_ok(addr_send(g.calc, g.t.point, p, sizeof p)); /* dropped on arrival */
    int64_t one = 1;
    assert_ok(addr_send(g.calc, g.t.seq, &one, sizeof one)); /* behind it, taken */
    nt_stats after = stats_of(g.calc);
    assert_int_equal(after.points, before.points);
    assert_int_equal(after.seq_count, before.seq_count + 1);
}

/* ---- forward: a remote answer reaches a local actor's on_response ---- */
typedef struct user {
    actor_addr *remote;
    atomic_int got;
    atomic_int status;
    atomic_llong value;
    atomic_ullong tag;
} user;

static const actor_msgtype *t_go;

static int user_go(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)p;
    (void)len;
    user *u = state;
    int64_t req[2] = {20, 22};
    actor_responder *r;
    int rc = addr_interact(u->remote, g.t.sum, req, sizeof req, &r);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_responder_forward_tagged(r, actor_ctx_self(ctx), 99);
    if (rc != ACTOR_OK)
        actor_responder_free(r);
    return rc;
}

static void user_on_sum(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                        const void *reply, size_t len)
{
    (void)type;
    user *u = state;
    atomic_store(&u->status, status);
    if (status == ACTOR_OK && len == 8)
        atomic_store(&u->value, *(const int64_t *)reply);
    atomic_store(&u->tag, actor_ctx_tag(ctx));
    atomic_fetch_add(&u->got, 1);
}

static void remote_forward(void **state)
{
    (void)state;
    assert_ok(actor_msgtype_define("Go", "", "", &t_go));
    actor_class *c;
    assert_ok(actor_class_new("User", &c));
    assert_ok(actor_class_on_event(c, t_go, user_go));
    assert_ok(actor_class_on_response(c, g.t.sum, user_on_sum));
    user u = {.remote = g.calc};
    actor_addr *a;
    assert_ok(actor_spawn(g.rt, c, &u, &a));
    /* From this thread: ask the remote, forward the answer to the actor. */
    int64_t req[2] = {1, 2};
    actor_responder *r;
    assert_ok(addr_interact(g.calc, g.t.sum, req, sizeof req, &r));
    assert_ok(actor_responder_forward_tagged(r, a, 1234));
    TU_WAIT_UNTIL(atomic_load(&u.got) == 1, TU_LONG_MS);
    assert_code(atomic_load(&u.status), ACTOR_OK);
    assert_int_equal(atomic_load(&u.value), 3);
    assert_int_equal(atomic_load(&u.tag), 1234);
    /* From inside the actor: it never blocks, the answer comes as a message. */
    assert_ok(addr_send(a, t_go, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&u.got) == 2, TU_LONG_MS);
    assert_code(atomic_load(&u.status), ACTOR_OK);
    assert_int_equal(atomic_load(&u.value), 42);
    assert_int_equal(atomic_load(&u.tag), 99);
    addr_interrupt(a);
    assert_ok(addr_join(a, TU_LONG_MS));
    addr_release(a);
    actor_class_free(c);
}

/* ---- monitors: a remote actor's Done is a Down here ---- */
typedef struct watcher {
    actor_addr *target;
    atomic_int downs;
    atomic_int reason;
    atomic_int same;
} watcher;

static int watcher_init(actor_ctx *ctx, void *state)
{
    return actor_ctx_monitor(ctx, ((watcher *)state)->target);
}

static void watcher_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    (void)ctx;
    watcher *w = state;
    atomic_store(&w->same, who == w->target);
    atomic_store(&w->reason, reason);
    atomic_fetch_add(&w->downs, 1);
}

static void remote_monitor_down(void **state)
{
    (void)state;
    actor_addr *victim, *again;
    assert_ok(actor_node_lookup(g.node, "victim", 10000, &victim));
    actor_class *c;
    assert_ok(actor_class_new("Watcher", &c));
    assert_ok(actor_class_on_init(c, watcher_init));
    assert_ok(actor_class_on_down(c, watcher_down));
    watcher w = {.target = victim};
    actor_addr *wa;
    assert_ok(actor_spawn(g.rt, c, &w, &wa));
    /* The same export looked up again is the same address. */
    assert_ok(actor_node_lookup(g.node, "victim", 10000, &again));
    assert_ptr_equal(again, victim);
    addr_release(again);
    assert_code(addr_join(victim, 0), ACTOR_ETIMEDOUT);

    int32_t reason = 42;
    assert_ok(addr_send(victim, g.t.die, &reason, sizeof reason));
    assert_ok(addr_join(victim, TU_LONG_MS));
    TU_WAIT_UNTIL(atomic_load(&w.downs) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&w.reason), 42);
    assert_true(atomic_load(&w.same));
    int why = 0;
    assert_ok(addr_exit_reason(victim, &why));
    assert_int_equal(why, 42);
    assert_true(addr_is_done(victim));
    actor_responder *r;
    int64_t req[2] = {1, 1};
    assert_code(addr_interact(victim, g.t.sum, req, sizeof req, &r), ACTOR_ECLOSED);
    /* Its export went with it. */
    assert_code(actor_node_lookup(g.node, "victim", 300, &again), ACTOR_ENOENT);
    addr_release(victim);
    addr_interrupt(wa);
    assert_ok(addr_join(wa, TU_LONG_MS));
    addr_release(wa);
    actor_class_free(c);
}

static void remote_interrupt_join(void **state)
{
    (void)state;
    actor_addr *v2;
    assert_ok(actor_node_lookup(g.node, "victim2", 10000, &v2));
    assert_code(addr_join(v2, 0), ACTOR_ETIMEDOUT);
    assert_ok(addr_interrupt(v2)); /* the remote actor's default interrupt: stop */
    assert_ok(addr_join(v2, TU_LONG_MS));
    int why = -1;
    assert_ok(addr_exit_reason(v2, &why));
    assert_int_equal(why, 0);
    addr_release(v2);
}

static void remote_back_direction(void **state)
{
    (void)state;
    /* The peer looked up our "sink": 100 events, 20 asks. */
    char line[128];
    assert_int_equal(nt_peer_line(&g.peer, line, sizeof line, 30000), 0);
    assert_string_equal(line, "BACK ok=20");
    nt_stats s = stats_of(g.sink);
    assert_true(s.seq_count >= 100);
    assert_int_equal(s.seq_violations, 0);
}

static void remote_bridge(void **state)
{
    (void)state;
    nt_stats here0 = stats_of(g.sink), there0 = stats_of(g.calc);
    /* Published here: our subscriber gets it once, theirs once. */
    int64_t v = 5;
    assert_ok(actor_publish(g.rt, "news.flash", g.t.flash, &v, sizeof v, NULL));
    TU_WAIT_UNTIL(stats_of(g.calc).flashes == there0.flashes + 1, TU_LONG_MS);
    /* Published there (the peer's calc publishes on Shout). */
    assert_ok(addr_send(g.calc, g.t.shout, &v, sizeof v));
    TU_WAIT_UNTIL(stats_of(g.sink).flashes == here0.flashes + 2, TU_LONG_MS);
    TU_WAIT_UNTIL(stats_of(g.calc).flashes == there0.flashes + 2, TU_LONG_MS);
    /* One more round each way: had any copy echoed back, the counts would
     * be past these by now (an echo is a loop: it never stops at one). */
    assert_ok(actor_publish(g.rt, "news.flash", g.t.flash, &v, sizeof v, NULL));
    assert_ok(addr_send(g.calc, g.t.shout, &v, sizeof v));
    TU_WAIT_UNTIL(stats_of(g.sink).flashes >= here0.flashes + 4, TU_LONG_MS);
    TU_WAIT_UNTIL(stats_of(g.calc).flashes >= there0.flashes + 4, TU_LONG_MS);
    int64_t ms = 200; /* a round trip through the peer, then look again */
    assert_ok(ask(g.calc, g.t.slow, &ms, sizeof ms, NULL, 0, NULL));
    assert_int_equal(stats_of(g.sink).flashes, here0.flashes + 4);
    assert_int_equal(stats_of(g.calc).flashes, there0.flashes + 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(remote_asks),
        TU_TEST(remote_events_ordered),
        TU_TEST(remote_request_outcomes),
        TU_TEST(remote_etype),
        TU_TEST(remote_forward),
        TU_TEST(remote_monitor_down),
        TU_TEST(remote_interrupt_join),
        TU_TEST(remote_back_direction),
        TU_TEST(remote_bridge),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
