/* Requests in flight at shutdown: every one completes, none hangs. */
#include "testutil.h"

static const actor_msgtype *sr_req, *sr_block;
static tu_gate sr_gate;
static atomic_int sr_handled;

/* b == 1: wait for the gate, stop, reply. Otherwise reply a+b. */
static int sr_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t a = (int64_t)tu_get_u64(p), b = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    atomic_fetch_add(&sr_handled, 1);
    if (b == 1) {
        tu_gate_wait(&sr_gate, TU_LONG_MS);
        actor_ctx_stop(ctx);
    }
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(a + b));
    return actor_ctx_reply(ctx, out, 8);
}
static int sr_block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&sr_gate, TU_LONG_MS);
    return 0;
}

static actor_class *setup(const char *name)
{
    sr_req = tu_type("sr.Req", "qq", "q");
    sr_block = tu_type("sr.Block", "", NULL);
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_request(c, sr_req, sr_request));
    assert_ok(actor_class_on_event(c, sr_block, sr_block_event));
    atomic_store(&sr_handled, 0);
    tu_gate_init(&sr_gate);
    return c;
}

static actor_responder *ask(actor_addr *a, int64_t x, int64_t y)
{
    unsigned char buf[16];
    tu_put_u64(buf, (uint64_t)x);
    tu_put_u64(buf + 8, (uint64_t)y);
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, sr_req, buf, 16, &r));
    return r;
}

static void stop_in_first_handler_cancels_queue(void **state)
{
    (void)state;
    actor_class *c = setup("sr.StopFirst");
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_responder *first = ask(a, 10, 1);
    TU_WAIT_ENTERED(&sr_gate, 1);
    const int n = 200;
    actor_responder **rs = calloc((size_t)n, sizeof *rs);
    for (int i = 0; i < n; i++)
        rs[i] = ask(a, i, 100);
    /* Shutdown: the interrupt goes behind the queued requests. */
    assert_code(actor_runtime_shutdown(rt, 0), ACTOR_ETIMEDOUT);
    tu_gate_open(&sr_gate);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_ok(actor_responder_wait(first, TU_LONG_MS));
    assert_int_equal(tu_get_u64(actor_responder_data(first, NULL)), 11);
    for (int i = 0; i < n; i++) {
        int st = actor_responder_wait(rs[i], TU_LONG_MS);
        if (st != ACTOR_ECANCELED)
            fail_msg("request %d: %d (%s), expected ECANCELED", i, st, actor_strerror(st));
        actor_responder_free(rs[i]);
    }
    assert_int_equal(atomic_load(&sr_handled), 1);
    actor_responder_free(first);
    free(rs);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&sr_gate);
    actor_class_free(c);
}

static void interrupt_first_cancels_later_requests(void **state)
{
    (void)state;
    actor_class *c = setup("sr.InterruptFirst");
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, sr_block, NULL, 0));
    TU_WAIT_ENTERED(&sr_gate, 1);
    /* The shutdown's interrupt is queued now; requests sent after it are
     * behind it and the default on_interrupt stops the actor. */
    assert_code(actor_runtime_shutdown(rt, 0), ACTOR_ETIMEDOUT);
    const int n = 200;
    actor_responder **rs = calloc((size_t)n, sizeof *rs);
    for (int i = 0; i < n; i++)
        rs[i] = ask(a, i, 5);
    tu_gate_open(&sr_gate);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    for (int i = 0; i < n; i++) {
        int st = actor_responder_wait(rs[i], TU_LONG_MS);
        if (st != ACTOR_ECANCELED)
            fail_msg("request %d: %d (%s), expected ECANCELED", i, st, actor_strerror(st));
        actor_responder_free(rs[i]);
    }
    assert_int_equal(atomic_load(&sr_handled), 0);
    free(rs);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&sr_gate);
    actor_class_free(c);
}

static void queued_before_interrupt_are_answered(void **state)
{
    (void)state;
    /* Without a stop, what was queued before the shutdown is handled. */
    actor_class *c = setup("sr.Answered");
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, sr_block, NULL, 0));
    TU_WAIT_ENTERED(&sr_gate, 1);
    const int n = 100;
    actor_responder **rs = calloc((size_t)n, sizeof *rs);
    for (int i = 0; i < n; i++)
        rs[i] = ask(a, i, 7);
    assert_code(actor_runtime_shutdown(rt, 0), ACTOR_ETIMEDOUT);
    tu_gate_open(&sr_gate);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    for (int i = 0; i < n; i++) {
        assert_ok(actor_responder_wait(rs[i], TU_LONG_MS));
        assert_int_equal(tu_get_u64(actor_responder_data(rs[i], NULL)), (uint64_t)i + 7);
        actor_responder_free(rs[i]);
    }
    free(rs);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&sr_gate);
    actor_class_free(c);
}

/* Many actors, many requests in flight from a thread while the main thread
 * shuts the runtime down: each responder completes (OK or ECANCELED), or the
 * interact is refused with ECLOSED. None hangs. */
#define NA 8
static actor_addr *storm_actors[NA];
static atomic_int storm_stop;
static atomic_long storm_ok, storm_canceled, storm_closed, storm_other;

static void *storm(void *arg)
{
    long i = 0;
    while (!atomic_load(&storm_stop)) {
        actor_responder *r = NULL;
        unsigned char buf[16] = {0};
        tu_put_u64(buf + 8, 3);
        int rc = addr_interact(storm_actors[i++ % NA], sr_req, buf, 16, &r);
        if (rc == ACTOR_ECLOSED) {
            atomic_fetch_add(&storm_closed, 1);
            continue;
        }
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            break;
        }
        int st = actor_responder_wait(r, TU_LONG_MS);
        if (st == ACTOR_OK)
            atomic_fetch_add(&storm_ok, 1);
        else if (st == ACTOR_ECANCELED)
            atomic_fetch_add(&storm_canceled, 1);
        else {
            atomic_fetch_add(&storm_other, 1);
            TU_CHECK(st == ACTOR_OK || st == ACTOR_ECANCELED);
        }
        actor_responder_free(r);
    }
    return NULL;
}

static void shutdown_during_request_storm(void **state)
{
    (void)state;
    actor_class *c = setup("sr.Storm");
    atomic_store(&storm_stop, 0);
    atomic_store(&storm_ok, 0);
    atomic_store(&storm_canceled, 0);
    atomic_store(&storm_closed, 0);
    atomic_store(&storm_other, 0);
    actor_runtime *rt = tu_runtime(2);
    for (int i = 0; i < NA; i++)
        storm_actors[i] = tu_spawn(rt, c, NULL);
    pthread_t th[2];
    th[0] = tu_thread(storm, NULL);
    th[1] = tu_thread(storm, NULL);
    TU_WAIT_UNTIL(atomic_load(&storm_ok) >= 200, TU_LONG_MS);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    /* After shutdown every actor is Done: the storm only sees ECLOSED now. */
    long closed = atomic_load(&storm_closed);
    TU_WAIT_UNTIL(atomic_load(&storm_closed) > closed + 10, TU_LONG_MS);
    atomic_store(&storm_stop, 1);
    tu_join_thread(th[0]);
    tu_join_thread(th[1]);
    tu_assert_no_failures();
    assert_int_equal(atomic_load(&storm_other), 0);
    for (int i = 0; i < NA; i++) {
        assert_int_equal(addr_is_done(storm_actors[i]), 1);
        addr_release(storm_actors[i]);
    }
    actor_runtime_free(rt);
    tu_gate_destroy(&sr_gate);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(stop_in_first_handler_cancels_queue),
        TU_TEST(interrupt_first_cancels_later_requests),
        TU_TEST(queued_before_interrupt_are_answered),
        TU_TEST(shutdown_during_request_storm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
