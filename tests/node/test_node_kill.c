/* The remote process dies with SIGKILL in the middle of traffic: every ask
 * pending on it completes (ACTOR_ECANCELED), the remote address becomes
 * Done and its monitor gets a Down (ACTOR_NODE_LOST), within the heartbeat
 * window (3 missed beats of 300 ms, plus one tick of ours; the beat grows
 * with the run's slowdown, see HB_MS). */
#include "testutil.h"
#include "nodetest.h"

/* The heartbeat (ours and the peer's, which inherits the environment):
 * 300 ms in a plain run, times the run's slowdown (tu_slowdown: sanitizer
 * builds, memcheck) so that the window below keeps its meaning, 5
 * intervals, on a slower run rather than being dropped. */
#define HB_MS (300 * tu_slowdown())
/* Lost after 3 missed intervals since the last beat (which came up to one
 * interval before the kill), seen at our next tick (one more): 5 intervals,
 * and slack for a loaded machine or a sanitizer. A plain run: 2000 ms. */
#define WINDOW_MS (5 * HB_MS + 500 * tu_slowdown())

static nt_server server;
static nt_types T;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    char hb[16];
    snprintf(hb, sizeof hb, "%d", HB_MS);
    setenv("ACTOR_NODE_HEARTBEAT_MS", hb, 1); /* ours and the peer's */
    if (nt_server_start(&server) != 0 || nt_define_types(&T, 0) != ACTOR_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nt_server_stop(&server);
    return 0;
}

typedef struct watcher {
    actor_addr *target;
    atomic_int downs, reason;
    atomic_llong at_ms;
} watcher;

static int watcher_init(actor_ctx *ctx, void *state)
{
    return actor_ctx_monitor(ctx, ((watcher *)state)->target);
}

static void watcher_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    (void)ctx;
    (void)who;
    watcher *w = state;
    atomic_store(&w->at_ms, tu_now_ms());
    atomic_store(&w->reason, reason);
    atomic_fetch_add(&w->downs, 1);
}

/* Traffic while it dies: events and asks with a deadline, each awaited. */
typedef struct traffic {
    actor_addr *to;
    atomic_int stop;
    atomic_long asks, ok, canceled, expired, refused, other, unanswered;
} traffic;

static void *traffic_main(void *arg)
{
    traffic *tr = arg;
    for (int64_t i = 1; !atomic_load(&tr->stop); i++) {
        addr_send(tr->to, T.seq, &i, sizeof i);
        int64_t req[2] = {i, i};
        actor_responder *r;
        int rc = addr_interact_within(tr->to, T.sum, req, sizeof req, 5000, &r);
        if (rc != ACTOR_OK) {
            atomic_fetch_add(&tr->refused, 1); /* the address is Done already */
            nt_nap_ms(1);
            continue;
        }
        atomic_fetch_add(&tr->asks, 1);
        rc = actor_responder_wait(r, TU_LONG_MS);
        if (rc == ACTOR_OK)
            atomic_fetch_add(&tr->ok, 1);
        else if (rc == ACTOR_ECANCELED)
            atomic_fetch_add(&tr->canceled, 1);
        else if (rc == ACTOR_EEXPIRED)
            atomic_fetch_add(&tr->expired, 1);
        else if (rc == ACTOR_ETIMEDOUT)
            atomic_fetch_add(&tr->unanswered, 1);
        else
            atomic_fetch_add(&tr->other, 1);
        actor_responder_free(r);
    }
    return NULL;
}

static void sigkill_mid_traffic(void **state)
{
    (void)state;
    actor_runtime *rt;
    actor_node *n;
    nt_peer peer;
    assert_ok(actor_runtime_new(2, &rt));
    assert_ok(actor_node_connect(rt, server.url, "t", &n));
    assert_int_equal(nt_peer_start(&peer, server.url, "victim", "plain"), 0);
    char line[128];
    assert_int_equal(nt_peer_line(&peer, line, sizeof line, 20000), 0);
    assert_memory_equal(line, "READY", 5);
    actor_addr *calc;
    assert_ok(actor_node_lookup(n, "calc", TU_LONG_MS, &calc));

    actor_class *wc;
    assert_ok(actor_class_new("Watcher", &wc));
    assert_ok(actor_class_on_init(wc, watcher_init));
    assert_ok(actor_class_on_down(wc, watcher_down));
    watcher w = {.target = calc};
    actor_addr *wa;
    assert_ok(actor_spawn(rt, wc, &w, &wa));

    /* Asks that the peer holds (answered after a minute): pending when it dies. */
    enum { HELD = 200 };
    actor_responder *held[HELD];
    for (int i = 0; i < HELD; i++) {
        int64_t ms = 60000;
        assert_ok(addr_interact(calc, T.slow, &ms, sizeof ms, &held[i]));
    }
    int64_t st[5];
    actor_responder *sr;
    assert_ok(addr_interact(calc, T.stats, NULL, 0, &sr));
    assert_ok(actor_responder_wait(sr, TU_LONG_MS));
    memcpy(st, actor_responder_data(sr, NULL), sizeof st);
    actor_responder_free(sr);
    assert_int_equal(st[4], HELD); /* all arrived and are held there */

    traffic tr = {.to = calc};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, traffic_main, &tr), 0);
    TU_WAIT_UNTIL(atomic_load(&tr.ok) >= 20, TU_LONG_MS); /* traffic flows */

    int64_t t0 = tu_now_ms();
    nt_kill(peer.pid); /* SIGKILL: no goodbye, no flush */
    peer.pid = 0;
    /* Asked after the death: NATS has nobody for it (no responders), or
     * it went to the dying connection and waits for the loss: ECANCELED. */
    actor_responder *late;
    int64_t one[2] = {1, 1};
    assert_ok(addr_interact(calc, T.sum, one, sizeof one, &late));

    /* Every held ask completes, ECANCELED, within the window. */
    for (int i = 0; i < HELD; i++) {
        int rc = actor_responder_wait(held[i], WINDOW_MS + 2000 * tu_slowdown());
        assert_code(rc, ACTOR_ECANCELED);
        actor_responder_free(held[i]);
    }
    int64_t all_done = tu_now_ms() - t0;
    assert_code(actor_responder_wait(late, TU_LONG_MS), ACTOR_ECANCELED);
    actor_responder_free(late);
    /* The Down, within the window, with the node's loss as the reason. */
    TU_WAIT_UNTIL(atomic_load(&w.downs) == 1, WINDOW_MS + 2000 * tu_slowdown());
    int64_t down_after = atomic_load(&w.at_ms) - t0;
    print_message("held asks done after %lld ms, Down after %lld ms (window %d ms)\n",
                  (long long)all_done, (long long)down_after, WINDOW_MS);
    assert_true(all_done <= WINDOW_MS);
    assert_true(down_after <= WINDOW_MS);
    assert_int_equal(atomic_load(&w.reason), ACTOR_NODE_LOST);
    assert_ok(addr_join(calc, 0));
    int why = 0;
    assert_ok(addr_exit_reason(calc, &why));
    assert_int_equal(why, ACTOR_NODE_LOST);

    /* The traffic thread's asks all completed too (none waited out its wait). */
    atomic_store(&tr.stop, 1);
    pthread_join(th, NULL);
    print_message("traffic: %ld asks: %ld ok, %ld canceled, %ld expired, %ld refused after\n",
                  atomic_load(&tr.asks), atomic_load(&tr.ok), atomic_load(&tr.canceled),
                  atomic_load(&tr.expired), atomic_load(&tr.refused));
    assert_int_equal(atomic_load(&tr.unanswered), 0);
    assert_int_equal(atomic_load(&tr.other), 0);
    assert_int_equal(atomic_load(&tr.asks), atomic_load(&tr.ok) + atomic_load(&tr.canceled) +
                                                 atomic_load(&tr.expired));
    assert_true(atomic_load(&tr.refused) > 0 || atomic_load(&tr.canceled) > 0);

    /* Done means refused at once; and nobody exports "calc" now. */
    actor_responder *r;
    int64_t req[2] = {1, 1};
    assert_code(addr_interact(calc, T.sum, req, sizeof req, &r), ACTOR_ECLOSED);
    actor_addr *again;
    assert_code(actor_node_lookup(n, "calc", 300, &again), ACTOR_ENOENT);

    addr_release(calc);
    addr_interrupt(wa);
    assert_ok(addr_join(wa, TU_LONG_MS));
    addr_release(wa);
    actor_class_free(wc);
    actor_node_close(n);
    actor_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(sigkill_mid_traffic),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
