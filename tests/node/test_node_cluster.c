/* A cluster of three nats-servers (routes on loopback). The peer process is
 * connected to C; this test's node to A (its url lists A, B, C). A is
 * killed with SIGKILL: the node reconnects (to B) and traffic resumes on the
 * same remote address, which is not declared lost meanwhile. */
#include "testutil.h"
#include "nodetest.h"

/* The heartbeat, ours and the peer's (it inherits the environment): 500 ms
 * in a plain run, times the run's slowdown (tu_slowdown: sanitizers,
 * memcheck), so that a node loop slowed down as much still answers within
 * the 3 beats after which the other side declares it lost. */
#define HB_MS (500 * tu_slowdown())

static nt_server srv[3];
static nt_types T;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    char hb[16];
    snprintf(hb, sizeof hb, "%d", HB_MS);
    setenv("ACTOR_NODE_HEARTBEAT_MS", hb, 1);
    if (nt_define_types(&T, 0) != ACTOR_OK)
        return -1;
    int cport[3];
    for (int i = 0; i < 3; i++)
        cport[i] = nt_free_port();
    for (int i = 0; i < 3; i++) {
        char routes[128];
        snprintf(routes, sizeof routes, "nats://127.0.0.1:%d,nats://127.0.0.1:%d",
                 cport[(i + 1) % 3], cport[(i + 2) % 3]);
        if (nt_server_start_ex(&srv[i], cport[i], routes) != 0) {
            fprintf(stderr, "server %d did not start\n", i);
            return -1;
        }
    }
    /* The cluster is formed when each server has its two routes. */
    int64_t deadline = nt_now_ms() + 30000;
    for (int i = 0; i < 3; i++)
        while (nt_server_routes(&srv[i]) != 2) {
            if (nt_now_ms() > deadline) {
                fprintf(stderr, "server %d has %d routes\n", i, nt_server_routes(&srv[i]));
                return -1;
            }
            nt_nap_ms(20);
        }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        nt_server_stop(&srv[i]);
    return 0;
}

typedef struct watcher {
    actor_addr *target;
    atomic_int downs;
} watcher;

static int watcher_init(actor_ctx *ctx, void *state)
{
    return actor_ctx_monitor(ctx, ((watcher *)state)->target);
}

static void watcher_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    (void)ctx;
    (void)who;
    (void)reason;
    atomic_fetch_add(&((watcher *)state)->downs, 1);
}

typedef struct traffic {
    actor_addr *to;
    atomic_int stop;
    atomic_long asks, ok, failed, refused;
    atomic_llong last_ok_ms;
} traffic;

static void *traffic_main(void *arg)
{
    traffic *tr = arg;
    for (int64_t i = 1; !atomic_load(&tr->stop); i++) {
        addr_send(tr->to, T.seq, &i, sizeof i);
        int64_t req[2] = {i, 1};
        actor_responder *r;
        if (addr_interact_within(tr->to, T.sum, req, sizeof req, 1000, &r) != ACTOR_OK) {
            atomic_fetch_add(&tr->refused, 1);
            nt_nap_ms(5);
            continue;
        }
        atomic_fetch_add(&tr->asks, 1);
        int rc = actor_responder_wait(r, TU_LONG_MS);
        if (rc == ACTOR_OK && *(const int64_t *)actor_responder_data(r, NULL) == i + 1) {
            atomic_fetch_add(&tr->ok, 1);
            atomic_store(&tr->last_ok_ms, tu_now_ms());
        } else {
            atomic_fetch_add(&tr->failed, 1);
            nt_nap_ms(5); /* ECANCELED comes at once while it reconnects */
        }
        actor_responder_free(r);
    }
    return NULL;
}

static int64_t stats_seq(actor_addr *calc, int64_t *violations)
{
    actor_responder *r;
    if (addr_interact(calc, T.stats, NULL, 0, &r) != ACTOR_OK)
        return -1;
    int64_t v[5] = {-1, -1, -1, -1, -1};
    if (actor_responder_wait(r, TU_LONG_MS) == ACTOR_OK)
        memcpy(v, actor_responder_data(r, NULL), sizeof v);
    actor_responder_free(r);
    *violations = v[1];
    return v[0];
}

static void server_killed_node_reconnects(void **state)
{
    (void)state;
    nt_peer peer;
    assert_int_equal(nt_peer_start(&peer, srv[2].url, "p", "plain"), 0);
    char line[128];
    assert_int_equal(nt_peer_line(&peer, line, sizeof line, 20000), 0);
    assert_memory_equal(line, "READY", 5);

    char urls[256];
    snprintf(urls, sizeof urls, "%s,%s,%s", srv[0].url, srv[1].url, srv[2].url);
    actor_runtime *rt;
    actor_node *n;
    assert_ok(actor_runtime_new(2, &rt));
    assert_ok(actor_node_connect(rt, urls, "t", &n)); /* on A: the first that answers */
    actor_addr *calc;
    assert_ok(actor_node_lookup(n, "calc", TU_LONG_MS, &calc)); /* through A -> C */

    actor_class *wc;
    assert_ok(actor_class_new("Watcher", &wc));
    assert_ok(actor_class_on_init(wc, watcher_init));
    assert_ok(actor_class_on_down(wc, watcher_down));
    watcher w = {.target = calc};
    actor_addr *wa;
    assert_ok(actor_spawn(rt, wc, &w, &wa));

    traffic tr = {.to = calc};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, traffic_main, &tr), 0);
    TU_WAIT_UNTIL(atomic_load(&tr.ok) >= 50, TU_LONG_MS);

    int64_t t0 = tu_now_ms();
    nt_server_stop(&srv[0]); /* SIGKILL the server the node is connected to */
    long ok_at_kill = atomic_load(&tr.ok);
    /* Traffic resumes: asks succeed again, well after the kill. */
    TU_WAIT_UNTIL(atomic_load(&tr.ok) >= ok_at_kill + 100 &&
                      atomic_load(&tr.last_ok_ms) > t0 + 10,
                  2 * TU_LONG_MS);
    int64_t resumed = atomic_load(&tr.last_ok_ms) - t0;
    atomic_store(&tr.stop, 1);
    pthread_join(th, NULL);
    print_message("asks: %ld ok, %ld failed around the failover; resumed within %lld ms\n",
                  atomic_load(&tr.ok), atomic_load(&tr.failed), (long long)resumed);

    /* The same address carries on: not Done, no Down. */
    assert_false(addr_is_done(calc));
    assert_int_equal(atomic_load(&w.downs), 0);
    /* A fresh sequence of events, all there and in order. */
    int64_t viol0 = -1, viol1 = -1;
    int64_t c0 = stats_seq(calc, &viol0);
    assert_true(c0 >= 0);
    for (int64_t i = 1; i <= 500; i++)
        assert_ok(addr_send(calc, T.seq, &i, sizeof i));
    int64_t c1 = stats_seq(calc, &viol1);
    assert_int_equal(c1 - c0, 500);
    assert_int_equal(viol1, viol0); /* no new violation */
    /* And it still sees the peer alive after a few heartbeats. */
    int64_t until = tu_now_ms() + 4 * HB_MS;
    while (tu_now_ms() < until) {
        int64_t v;
        assert_true(stats_seq(calc, &v) >= c1);
        nt_nap_ms(100);
    }
    assert_int_equal(atomic_load(&w.downs), 0);

    /* Closing the node ends the remote address (ACTOR_NODE_LOST): the
     * watcher gets its Down before it is stopped itself. */
    addr_release(calc);
    actor_node_close(n);
    TU_WAIT_UNTIL(atomic_load(&w.downs) == 1, TU_LONG_MS);
    addr_interrupt(wa);
    assert_ok(addr_join(wa, TU_LONG_MS));
    addr_release(wa);
    actor_class_free(wc);
    actor_runtime_free(rt);
    assert_int_equal(nt_peer_stop(&peer, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(server_killed_node_reconnects),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
