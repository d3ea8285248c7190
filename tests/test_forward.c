/* actor_responder_forward: delivery to on_response through the mailbox. */
#include "testutil.h"

static const actor_msgtype *fw_sum, *fw_other, *fw_block;
static tu_gate fw_gate;
static _Atomic(actor_promise *) fw_promise;

/* Summer: b picks the behaviour (0 reply, 1 fail 5, 2 drop, 3 defer). */
static int sum_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t a = (int64_t)tu_get_u64(p), b = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(a + b));
    switch ((int)b) {
    case 1: return 5;
    case 2: return 0;
    case 3: {
        actor_promise *pr = NULL;
        TU_CHECK_CODE(actor_ctx_defer(ctx, &pr), ACTOR_OK);
        atomic_store(&fw_promise, pr);
        return 0;
    }
    default: return actor_ctx_reply(ctx, out, 8);
    }
}

/* Collector: records what on_response got. */
static atomic_int col_calls, col_status, col_len, col_reentered, col_busy, col_events,
    col_reply_rc, col_fin_calls_seen;
static atomic_llong col_value, col_sum;
static _Atomic(const actor_msgtype *) col_type;
static _Atomic(void *) col_state_seen;

static void on_sum_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                            const void *reply, size_t len)
{
    if (atomic_exchange(&col_busy, 1))
        atomic_fetch_add(&col_reentered, 1);
    atomic_store(&col_type, t);
    atomic_store(&col_status, status);
    atomic_store(&col_len, (int)len);
    atomic_store(&col_state_seen, st);
    if (status == ACTOR_OK && len == 8 && reply != NULL) {
        atomic_store(&col_value, (long long)tu_get_u64(reply));
        atomic_fetch_add(&col_sum, (long long)tu_get_u64(reply));
    }
    else
        atomic_store(&col_value, -1);
    int64_t v = 0;
    atomic_store(&col_reply_rc, actor_ctx_reply(ctx, &v, sizeof v)); /* not a request */
    atomic_store(&col_busy, 0);
    atomic_fetch_add(&col_calls, 1);
}
static int col_block(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    if (atomic_exchange(&col_busy, 1))
        atomic_fetch_add(&col_reentered, 1);
    tu_gate_wait(&fw_gate, TU_LONG_MS);
    atomic_fetch_add(&col_events, 1);
    atomic_store(&col_busy, 0);
    return 0;
}
static void col_fin(actor_ctx *ctx, void *st)
{
    atomic_store(&col_fin_calls_seen, atomic_load(&col_calls));
}

static actor_runtime *rt;
static actor_class *summer_cls, *col_cls;
static actor_addr *summer, *col;
static int col_marker;

static int setup(void **state)
{
    tu_reset_failures();
    fw_sum = tu_type("fw.Sum", "qq", "q");
    fw_other = tu_type("fw.Other", "q", "q");
    fw_block = tu_type("fw.Block", "", NULL);
    summer_cls = tu_class("fw.Summer");
    assert_ok(actor_class_on_request(summer_cls, fw_sum, sum_request));
    col_cls = tu_class("fw.Collector");
    assert_ok(actor_class_on_response(col_cls, fw_sum, on_sum_response));
    assert_ok(actor_class_on_event(col_cls, fw_block, col_block));
    assert_ok(actor_class_on_finalize(col_cls, col_fin));
    rt = tu_runtime(2);
    summer = tu_spawn(rt, summer_cls, NULL);
    col = tu_spawn(rt, col_cls, &col_marker);
    atomic_store(&col_calls, 0);
    atomic_store(&col_status, 1);
    atomic_store(&col_len, -1);
    atomic_store(&col_reentered, 0);
    atomic_store(&col_busy, 0);
    atomic_store(&col_events, 0);
    atomic_store(&col_value, 0);
    atomic_store(&col_sum, 0);
    atomic_store(&col_reply_rc, 1);
    atomic_store(&col_fin_calls_seen, -1);
    atomic_store(&col_type, NULL);
    atomic_store(&fw_promise, NULL);
    tu_gate_init(&fw_gate);
    return 0;
}

static int teardown(void **state)
{
    if (summer) {
        addr_interrupt(summer);
        addr_join(summer, TU_LONG_MS);
        addr_release(summer);
    }
    if (col) {
        addr_interrupt(col);
        addr_join(col, TU_LONG_MS);
        addr_release(col);
    }
    summer = col = NULL;
    actor_runtime_free(rt);
    actor_class_free(summer_cls);
    actor_class_free(col_cls);
    tu_gate_destroy(&fw_gate);
    return tu_teardown(state);
}

#define FW_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static actor_responder *ask(int64_t a, int64_t b)
{
    unsigned char buf[16];
    tu_put_u64(buf, (uint64_t)a);
    tu_put_u64(buf + 8, (uint64_t)b);
    actor_responder *r = NULL;
    assert_ok(addr_interact(summer, fw_sum, buf, 16, &r));
    return r;
}

static void forward_complete_delivers(void **state)
{
    (void)state;
    actor_responder *r = ask(30, 12);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_ok(actor_responder_forward(r, col)); /* consumes r */
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 1, TU_LONG_MS);
    assert_ptr_equal(atomic_load(&col_type), fw_sum);
    assert_code(atomic_load(&col_status), ACTOR_OK);
    assert_int_equal(atomic_load(&col_len), 8);
    assert_int_equal(atomic_load(&col_value), 42);
    assert_ptr_equal(atomic_load(&col_state_seen), &col_marker);
    assert_code(atomic_load(&col_reply_rc), ACTOR_EINVAL);
}

static void forward_pending_delivers_on_completion(void **state)
{
    (void)state;
    actor_responder *r = ask(1, 3);
    TU_WAIT_UNTIL(atomic_load(&fw_promise) != NULL, TU_LONG_MS);
    assert_ok(actor_responder_forward(r, col));
    assert_int_equal(atomic_load(&col_calls), 0); /* nothing before completion */
    unsigned char out[8];
    tu_put_u64(out, 777);
    assert_ok(actor_promise_resolve(atomic_exchange(&fw_promise, NULL), out, 8));
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 1, TU_LONG_MS);
    assert_code(atomic_load(&col_status), ACTOR_OK);
    assert_int_equal(atomic_load(&col_value), 777);
}

static void forward_goes_through_mailbox(void **state)
{
    (void)state;
    /* The collector is busy in a callback: the response waits its turn
     * (callbacks never overlap). */
    assert_ok(addr_send(col, fw_block, NULL, 0));
    TU_WAIT_ENTERED(&fw_gate, 1);
    actor_responder *r = ask(2, 0);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_ok(actor_responder_forward(r, col));
    /* Give a wrong implementation every chance to call on_response now. */
    actor_responder *probe = ask(0, 0);
    assert_ok(actor_responder_wait(probe, TU_LONG_MS));
    actor_responder_free(probe);
    assert_int_equal(atomic_load(&col_calls), 0);
    tu_gate_open(&fw_gate);
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&col_events), 1);
    assert_int_equal(atomic_load(&col_reentered), 0);
    assert_int_equal(atomic_load(&col_value), 2);
}

static void forward_statuses(void **state)
{
    (void)state;
    actor_responder *r = ask(1, 1); /* handler fails with 5 */
    assert_ok(actor_responder_forward(r, col));
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 1, TU_LONG_MS);
    assert_code(atomic_load(&col_status), ACTOR_EHANDLER);
    assert_int_equal(atomic_load(&col_len), 0);

    r = ask(1, 2); /* dropped */
    assert_ok(actor_responder_forward(r, col));
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 2, TU_LONG_MS);
    assert_code(atomic_load(&col_status), ACTOR_ECANCELED);
    assert_int_equal(atomic_load(&col_len), 0);

    r = ask(1, 3); /* deferred, then the promise is dropped */
    TU_WAIT_UNTIL(atomic_load(&fw_promise) != NULL, TU_LONG_MS);
    assert_ok(actor_responder_forward(r, col));
    actor_promise_free(atomic_exchange(&fw_promise, NULL));
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 3, TU_LONG_MS);
    assert_code(atomic_load(&col_status), ACTOR_ECANCELED);
}

static void forward_no_handler_not_consumed(void **state)
{
    (void)state;
    actor_responder *r = ask(3, 4);
    /* The summer has no on_response at all. */
    assert_code(actor_responder_forward(r, summer), ACTOR_ENOHANDLER);
    /* A class with on_response for another type only. */
    actor_class *oc = tu_class("fw.OtherCollector");
    assert_ok(actor_class_on_response(oc, fw_other, on_sum_response));
    actor_addr *o = tu_spawn(rt, oc, NULL);
    assert_code(actor_responder_forward(r, o), ACTOR_ENOHANDLER);
    /* r is still ours and works. */
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    assert_int_equal(len, 8);
    assert_int_equal(tu_get_u64(d), 7);
    /* It can even be forwarded afterwards to a right target. */
    assert_ok(actor_responder_forward(r, col));
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&col_value), 7);

    /* The other way: not consumed, then freed. */
    actor_responder *r2 = ask(1, 1);
    assert_code(actor_responder_forward(r2, o), ACTOR_ENOHANDLER);
    actor_responder_free(r2);
    tu_stop_join(o);
    addr_release(o);
    actor_class_free(oc);
}

static void forward_to_done_closed(void **state)
{
    (void)state;
    actor_class *dc = tu_class("fw.DeadCollector");
    assert_ok(actor_class_on_response(dc, fw_sum, on_sum_response));
    actor_addr *d = tu_spawn(rt, dc, NULL);
    tu_stop_join(d);
    actor_responder *r = ask(1, 0);
    assert_code(actor_responder_forward(r, d), ACTOR_ECLOSED);
    /* Not consumed. */
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    actor_responder_free(r);
    assert_int_equal(atomic_load(&col_calls), 0);
    addr_release(d);
    actor_class_free(dc);
}

static void cb_noop(actor_responder *r, void *ud) {}

static void forward_after_then_einval(void **state)
{
    (void)state;
    actor_responder *r = ask(1, 3);
    TU_WAIT_UNTIL(atomic_load(&fw_promise) != NULL, TU_LONG_MS);
    assert_ok(actor_responder_then(r, cb_noop, NULL));
    assert_code(actor_responder_forward(r, col), ACTOR_EINVAL);
    actor_promise_free(atomic_exchange(&fw_promise, NULL));
    actor_responder_free(r);
    /* And then after forward is impossible: r is consumed. */
}

static void forward_holds_target_reference(void **state)
{
    (void)state;
    /* The forward keeps the collector alive until delivery, even after its
     * last address is released. */
    actor_responder *r = ask(5, 3);
    TU_WAIT_UNTIL(atomic_load(&fw_promise) != NULL, TU_LONG_MS);
    assert_ok(actor_responder_forward(r, col));
    addr_release(col);
    col = NULL;
    unsigned char out[8];
    tu_put_u64(out, 55);
    assert_ok(actor_promise_resolve(atomic_exchange(&fw_promise, NULL), out, 8));
    TU_WAIT_UNTIL(atomic_load(&col_calls) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&col_value), 55);
    /* With the delivery done, the collector closes: finalize saw it. */
    TU_WAIT_UNTIL(atomic_load(&col_fin_calls_seen) != -1, TU_LONG_MS);
    assert_int_equal(atomic_load(&col_fin_calls_seen), 1);
}

static void forward_many(void **state)
{
    (void)state;
    const int n = (int)tu_scale(5000);
    long long want = 0;
    for (int i = 0; i < n; i++) {
        actor_responder *r = ask(i, 10);
        assert_ok(actor_responder_forward(r, col));
        want += i + 10;
    }
    TU_WAIT_UNTIL(atomic_load(&col_calls) == n, TU_LONG_MS);
    assert_int_equal(atomic_load(&col_reentered), 0);
    assert_int_equal(atomic_load(&col_sum), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FW_TEST(forward_complete_delivers),
        FW_TEST(forward_pending_delivers_on_completion),
        FW_TEST(forward_goes_through_mailbox),
        FW_TEST(forward_statuses),
        FW_TEST(forward_no_handler_not_consumed),
        FW_TEST(forward_to_done_closed),
        FW_TEST(forward_after_then_einval),
        FW_TEST(forward_holds_target_reference),
        FW_TEST(forward_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
