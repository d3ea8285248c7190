/* Requests: replies, handler errors, dropped requests, misuse of reply. */
#include "testutil.h"

static const actor_msgtype *rq_sum, *rq_ev, *rq_blob, *rq_empty, *rq_block;
static tu_gate rq_gate;

/* Sum{a,b} -> a+b; special inputs pick a behaviour. */
enum {
    B_REPLY = 0,
    B_FAIL = 1,         /* return 33 without answering */
    B_DROP = 2,         /* return 0 without answering */
    B_TWICE = 3,        /* reply twice */
    B_WRONG_SIZE = 4,   /* a wrong-size reply first, then a right one */
    B_REPLY_THEN_FAIL = 5, /* reply, then return nonzero: ignored */
    B_DEFER_AFTER_REPLY = 6,
    B_GATE_STOP = 7,    /* wait for the gate, stop, then reply */
    B_FAIL_NEG = 8,     /* return -77 */
};

static atomic_int rq_second_rc, rq_wrong_rc, rq_defer_after_rc, rq_handled;

static int sum_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&rq_handled, 1);
    TU_CHECK(len == 16);
    int64_t a = (int64_t)tu_get_u64(p), b = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(a + b));
    switch ((int)b) {
    case B_FAIL: return 33;
    case B_FAIL_NEG: return -77;
    case B_DROP: return 0;
    case B_TWICE:
        TU_CHECK_CODE(actor_ctx_reply(ctx, out, 8), ACTOR_OK);
        tu_put_u64(out, 999);
        atomic_store(&rq_second_rc, actor_ctx_reply(ctx, out, 8));
        return 0;
    case B_WRONG_SIZE: {
        unsigned char big[16] = {0};
        atomic_store(&rq_wrong_rc, actor_ctx_reply(ctx, big, sizeof big));
        return actor_ctx_reply(ctx, out, 8);
    }
    case B_REPLY_THEN_FAIL:
        TU_CHECK_CODE(actor_ctx_reply(ctx, out, 8), ACTOR_OK);
        return 12345;
    case B_DEFER_AFTER_REPLY: {
        TU_CHECK_CODE(actor_ctx_reply(ctx, out, 8), ACTOR_OK);
        actor_promise *pr = NULL;
        atomic_store(&rq_defer_after_rc, actor_ctx_defer(ctx, &pr));
        TU_CHECK(pr == NULL);
        return 0;
    }
    case B_GATE_STOP:
        tu_gate_wait(&rq_gate, TU_LONG_MS);
        actor_ctx_stop(ctx);
        return actor_ctx_reply(ctx, out, 8);
    default: return actor_ctx_reply(ctx, out, 8);
    }
}

static int block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&rq_gate, TU_LONG_MS);
    return 0;
}

/* Reply and defer are EINVAL outside a request handler. */
static atomic_int oh_init_reply, oh_init_defer, oh_ev_reply, oh_ev_defer, oh_fin_reply,
    oh_fin_defer, oh_intr_reply, oh_intr_defer, oh_fb_reply, oh_ran;
static int oh_init(actor_ctx *ctx, void *st)
{
    int64_t v = 1;
    actor_promise *p = NULL;
    atomic_store(&oh_init_reply, actor_ctx_reply(ctx, &v, sizeof v));
    atomic_store(&oh_init_defer, actor_ctx_defer(ctx, &p));
    TU_CHECK(p == NULL);
    return 0;
}
static int oh_event(actor_ctx *ctx, void *st, const void *pl, size_t len)
{
    int64_t v = 1;
    actor_promise *p = NULL;
    atomic_store(&oh_ev_reply, actor_ctx_reply(ctx, &v, sizeof v));
    atomic_store(&oh_ev_defer, actor_ctx_defer(ctx, &p));
    TU_CHECK(p == NULL);
    return 5; /* to the fallback */
}
static void oh_fallback(actor_ctx *ctx, void *st, const actor_msgtype *t, int err)
{
    int64_t v = 1;
    atomic_store(&oh_fb_reply, actor_ctx_reply(ctx, &v, sizeof v));
}
static void oh_interrupt(actor_ctx *ctx, void *st)
{
    int64_t v = 1;
    actor_promise *p = NULL;
    atomic_store(&oh_intr_reply, actor_ctx_reply(ctx, &v, sizeof v));
    atomic_store(&oh_intr_defer, actor_ctx_defer(ctx, &p));
    TU_CHECK(p == NULL);
    actor_ctx_stop(ctx);
}
static void oh_fin(actor_ctx *ctx, void *st)
{
    int64_t v = 1;
    actor_promise *p = NULL;
    atomic_store(&oh_fin_reply, actor_ctx_reply(ctx, &v, sizeof v));
    atomic_store(&oh_fin_defer, actor_ctx_defer(ctx, &p));
    TU_CHECK(p == NULL);
    atomic_store(&oh_ran, 1);
}

static actor_runtime *rt;
static actor_class *cls;
static actor_addr *sumer;

static void setup_sum(const char *name)
{
    rq_sum = tu_type("rq.Sum", "qq", "q");
    rq_ev = tu_type("rq.Ev", "q", NULL);
    rq_block = tu_type("rq.Block", "", NULL);
    cls = tu_class(name);
    assert_ok(actor_class_on_request(cls, rq_sum, sum_request));
    assert_ok(actor_class_on_event(cls, rq_block, block_event));
    rt = tu_runtime(2);
    sumer = tu_spawn(rt, cls, NULL);
    atomic_store(&rq_handled, 0);
}

static void teardown_sum(void)
{
    tu_stop_join(sumer);
    addr_release(sumer);
    actor_runtime_free(rt);
    actor_class_free(cls);
}

static actor_responder *ask(int64_t a, int64_t b)
{
    unsigned char buf[16];
    tu_put_u64(buf, (uint64_t)a);
    tu_put_u64(buf + 8, (uint64_t)b);
    actor_responder *r = NULL;
    assert_ok(addr_interact(sumer, rq_sum, buf, sizeof buf, &r));
    assert_non_null(r);
    return r;
}

static int64_t reply_value(actor_responder *r)
{
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    if (d == NULL || len != 8)
        fail_msg("reply: data %p, len %zu (expected 8 bytes)", (const void *)d, len);
    return (int64_t)tu_get_u64(d);
}

static void reply_ok_with_data(void **state)
{
    (void)state;
    setup_sum("rq.Summer");
    actor_responder *r = ask(40, 100);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_ok(actor_responder_status(r));
    assert_int_equal(reply_value(r), 140);
    assert_int_equal(actor_responder_handler_error(r), 0);
    assert_ptr_equal(actor_responder_type(r), rq_sum);
    actor_responder_free(r);

    r = ask(-1000, 10);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_int_equal(reply_value(r), -990);
    actor_responder_free(r);
    teardown_sum();
}

static void handler_error_ehandler(void **state)
{
    (void)state;
    setup_sum("rq.Failer");
    actor_responder *r = ask(1, B_FAIL);
    assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_EHANDLER);
    assert_code(actor_responder_status(r), ACTOR_EHANDLER);
    assert_int_equal(actor_responder_handler_error(r), 33);
    size_t len = 99;
    assert_null(actor_responder_data(r, &len));
    assert_int_equal(len, 0);
    actor_responder_free(r);

    r = ask(1, B_FAIL_NEG);
    assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_EHANDLER);
    assert_int_equal(actor_responder_handler_error(r), -77);
    actor_responder_free(r);
    teardown_sum();
}

static void return_zero_unanswered_ecanceled(void **state)
{
    (void)state;
    setup_sum("rq.Dropper");
    actor_responder *r = ask(1, B_DROP);
    assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_ECANCELED);
    assert_int_equal(actor_responder_handler_error(r), 0);
    size_t len = 99;
    assert_null(actor_responder_data(r, &len));
    assert_int_equal(len, 0);
    actor_responder_free(r);
    /* The actor goes on. */
    r = ask(2, 50);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_int_equal(reply_value(r), 52);
    actor_responder_free(r);
    teardown_sum();
}

static void reply_twice_second_einval(void **state)
{
    (void)state;
    setup_sum("rq.Twice");
    atomic_store(&rq_second_rc, 1);
    actor_responder *r = ask(10, B_TWICE);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_int_equal(reply_value(r), 10 + B_TWICE); /* the first reply wins */
    TU_WAIT_UNTIL(atomic_load(&rq_second_rc) != 1, TU_LONG_MS);
    assert_code(atomic_load(&rq_second_rc), ACTOR_EINVAL);
    actor_responder_free(r);

    atomic_store(&rq_defer_after_rc, 1);
    r = ask(10, B_DEFER_AFTER_REPLY);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    TU_WAIT_UNTIL(atomic_load(&rq_defer_after_rc) != 1, TU_LONG_MS);
    assert_code(atomic_load(&rq_defer_after_rc), ACTOR_EINVAL);
    actor_responder_free(r);

    /* After a reply, the return value is ignored. */
    r = ask(10, B_REPLY_THEN_FAIL);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_int_equal(reply_value(r), 10 + B_REPLY_THEN_FAIL);
    assert_int_equal(actor_responder_handler_error(r), 0);
    actor_responder_free(r);
    teardown_sum();
}

static void wrong_size_reply_etype_then_right(void **state)
{
    (void)state;
    setup_sum("rq.WrongSize");
    atomic_store(&rq_wrong_rc, 1);
    actor_responder *r = ask(20, B_WRONG_SIZE);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_code(atomic_load(&rq_wrong_rc), ACTOR_ETYPE);
    assert_int_equal(reply_value(r), 20 + B_WRONG_SIZE);
    actor_responder_free(r);
    teardown_sum();
}

static void reply_outside_request_handler_einval(void **state)
{
    (void)state;
    const actor_msgtype *ev = tu_type("rq.OutsideEv", "", NULL);
    actor_class *c = tu_class("rq.Outside");
    assert_ok(actor_class_on_init(c, oh_init));
    assert_ok(actor_class_on_event(c, ev, oh_event));
    assert_ok(actor_class_on_fallback(c, oh_fallback));
    assert_ok(actor_class_on_interrupt(c, oh_interrupt));
    assert_ok(actor_class_on_finalize(c, oh_fin));
    atomic_store(&oh_ran, 0);
    atomic_store(&oh_fb_reply, 1);
    actor_runtime *r2 = tu_runtime(1);
    actor_addr *a = tu_spawn(r2, c, NULL);
    assert_ok(addr_send(a, ev, NULL, 0));
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&oh_ran), 1);
    assert_code(atomic_load(&oh_init_reply), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_init_defer), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_ev_reply), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_ev_defer), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_fb_reply), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_intr_reply), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_intr_defer), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_fin_reply), ACTOR_EINVAL);
    assert_code(atomic_load(&oh_fin_defer), ACTOR_EINVAL);
    addr_release(a);
    actor_runtime_free(r2);
    actor_class_free(c);
}

static void no_request_handler_enohandler(void **state)
{
    (void)state;
    setup_sum("rq.NoHandler");
    const actor_msgtype *other = tu_type("rq.Other", "qq", "q");
    unsigned char buf[16] = {0};
    actor_responder *r = (actor_responder *)(uintptr_t)0x1;
    assert_code(addr_interact(sumer, other, buf, 16, &r), ACTOR_ENOHANDLER);
    assert_code(addr_interact(sumer, rq_block, NULL, 0, &r), ACTOR_ENOHANDLER); /* event only */
    assert_ptr_equal(r, (actor_responder *)(uintptr_t)0x1);
    /* And the event side: Sum has only a request handler. */
    assert_code(addr_send(sumer, rq_sum, buf, 16), ACTOR_ENOHANDLER);
    /* Wrong payload size: ETYPE, nothing sent. */
    assert_code(addr_interact(sumer, rq_sum, buf, 8, &r), ACTOR_ETYPE);
    assert_code(addr_interact(sumer, rq_sum, buf, 17, &r), ACTOR_ETYPE);
    assert_ptr_equal(r, (actor_responder *)(uintptr_t)0x1);
    actor_responder *ok = ask(1, 10);
    assert_ok(actor_responder_wait(ok, TU_LONG_MS));
    actor_responder_free(ok);
    assert_int_equal(atomic_load(&rq_handled), 1);
    teardown_sum();
}

static void stop_with_requests_queued_ecanceled(void **state)
{
    (void)state;
    setup_sum("rq.StopQueued");
    tu_gate_init(&rq_gate);
    actor_responder *first = ask(1, B_GATE_STOP);
    TU_WAIT_ENTERED(&rq_gate, 1);
    enum { N = 50 };
    actor_responder *rs[N];
    for (int i = 0; i < N; i++)
        rs[i] = ask(i, 100);
    tu_gate_open(&rq_gate);
    assert_ok(actor_responder_wait(first, TU_LONG_MS));
    assert_int_equal(reply_value(first), 1 + B_GATE_STOP);
    actor_responder_free(first);
    for (int i = 0; i < N; i++) {
        assert_code(actor_responder_wait(rs[i], TU_LONG_MS), ACTOR_ECANCELED);
        actor_responder_free(rs[i]);
    }
    assert_ok(addr_join(sumer, TU_LONG_MS));
    assert_int_equal(atomic_load(&rq_handled), 1);
    teardown_sum();
    tu_gate_destroy(&rq_gate);
}

/* A failing init with requests queued: they complete ECANCELED. */
static tu_gate fi_gate;
static int fi_init(actor_ctx *ctx, void *st)
{
    tu_gate_wait(&fi_gate, TU_LONG_MS);
    return -1;
}

static void failing_init_queued_requests_ecanceled(void **state)
{
    (void)state;
    rq_sum = tu_type("rq.Sum", "qq", "q");
    actor_class *c = tu_class("rq.FailInit");
    assert_ok(actor_class_on_init(c, fi_init));
    assert_ok(actor_class_on_request(c, rq_sum, sum_request));
    tu_gate_init(&fi_gate);
    tu_log_capture();
    atomic_store(&rq_handled, 0);
    actor_runtime *r2 = tu_runtime(1);
    actor_addr *a = tu_spawn(r2, c, NULL);
    TU_WAIT_ENTERED(&fi_gate, 1);
    enum { N = 20 };
    actor_responder *rs[N];
    unsigned char buf[16] = {0};
    for (int i = 0; i < N; i++)
        assert_ok(addr_interact(a, rq_sum, buf, 16, &rs[i]));
    tu_gate_open(&fi_gate);
    for (int i = 0; i < N; i++) {
        assert_code(actor_responder_wait(rs[i], TU_LONG_MS), ACTOR_ECANCELED);
        actor_responder_free(rs[i]);
    }
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&rq_handled), 0);
    addr_release(a);
    actor_runtime_free(r2);
    tu_log_stop();
    tu_gate_destroy(&fi_gate);
    actor_class_free(c);
}

/* Opaque and empty replies. */
static int blob_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    /* Echo the payload reversed. */
    unsigned char *out = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        out[i] = ((const unsigned char *)p)[len - 1 - i];
    int rc = actor_ctx_reply(ctx, len ? out : NULL, len);
    free(out); /* the reply was copied */
    return rc;
}
static int empty_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    TU_CHECK(len == 0);
    unsigned char one = 1;
    TU_CHECK_CODE(actor_ctx_reply(ctx, &one, 1), ACTOR_ETYPE);
    return actor_ctx_reply(ctx, NULL, 0);
}

static void opaque_and_empty_replies(void **state)
{
    (void)state;
    rq_blob = tu_type("rq.Blob", NULL, NULL);
    rq_empty = tu_type("rq.Empty", "", "");
    actor_class *c = tu_class("rq.Echo");
    assert_ok(actor_class_on_request(c, rq_blob, blob_request));
    assert_ok(actor_class_on_request(c, rq_empty, empty_request));
    actor_runtime *r2 = tu_runtime(2);
    actor_addr *a = tu_spawn(r2, c, NULL);
    const size_t lens[] = {0, 1, 15, 16, 17, 4096, 200000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t n = lens[k];
        unsigned char *in = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 7 + k);
        actor_responder *r = NULL;
        assert_ok(addr_interact(a, rq_blob, n ? in : NULL, n, &r));
        assert_ok(actor_responder_wait(r, TU_LONG_MS));
        size_t len = 12345;
        const unsigned char *d = actor_responder_data(r, &len);
        assert_int_equal(len, n);
        if (n > 0) {
            assert_non_null(d);
            for (size_t i = 0; i < n; i++)
                if (d[i] != in[n - 1 - i])
                    fail_msg("reply of %zu bytes differs at %zu", n, i);
        }
        actor_responder_free(r);
        free(in);
    }
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, rq_empty, NULL, 0, &r));
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    size_t len = 99;
    actor_responder_data(r, &len);
    assert_int_equal(len, 0);
    actor_responder_free(r);
    tu_assert_no_failures();
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(r2);
    actor_class_free(c);
}

/* A request handler blocked: replies arrive in order of the requests. */
static void requests_in_order(void **state)
{
    (void)state;
    setup_sum("rq.Ordered");
    enum { N = 1000 };
    actor_responder **rs = calloc(N, sizeof *rs);
    for (int i = 0; i < N; i++)
        rs[i] = ask(i, 1000);
    for (int i = 0; i < N; i++) {
        assert_ok(actor_responder_wait(rs[i], TU_LONG_MS));
        assert_int_equal(reply_value(rs[i]), i + 1000);
        actor_responder_free(rs[i]);
    }
    free(rs);
    teardown_sum();
}

/* An actor asks itself: the request waits in its own mailbox behind the
 * current handler, and a then-callback sees the answer. */
static const actor_msgtype *self_go, *self_ask;
static atomic_int self_cb_calls, self_cb_status, self_wait0_rc, self_wait_rc;
static atomic_llong self_cb_value;
static void self_then(actor_responder *r, void *ud)
{
    atomic_store(&self_cb_status, actor_responder_status(r));
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    atomic_store(&self_cb_value, d && len == 8 ? (long long)tu_get_u64(d) : -1);
    actor_responder_free(r);
    atomic_fetch_add(&self_cb_calls, 1);
}
static int self_go_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_responder *r = NULL;
    int64_t v = 20;
    int rc = addr_interact(actor_ctx_self(ctx), self_ask, &v, sizeof v, &r);
    TU_CHECK_CODE(rc, ACTOR_OK);
    if (rc != ACTOR_OK)
        return rc;
    /* Not handled yet: this very handler runs first. */
    atomic_store(&self_wait0_rc, actor_responder_wait(r, 0));
    atomic_store(&self_wait_rc, actor_responder_wait(r, 100));
    TU_CHECK_CODE(actor_responder_then(r, self_then, NULL), ACTOR_OK);
    return 0;
}
static int self_ask_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    unsigned char out[8];
    tu_put_u64(out, tu_get_u64(p) * 2 + 1);
    return actor_ctx_reply(ctx, out, 8);
}

static void request_to_self(void **state)
{
    (void)state;
    self_go = tu_type("rq.SelfGo", "", NULL);
    self_ask = tu_type("rq.SelfAsk", "q", "q");
    actor_class *c = tu_class("rq.SelfAsker");
    assert_ok(actor_class_on_event(c, self_go, self_go_event));
    assert_ok(actor_class_on_request(c, self_ask, self_ask_request));
    atomic_store(&self_cb_calls, 0);
    actor_runtime *r2 = tu_runtime(2);
    actor_addr *a = tu_spawn(r2, c, NULL);
    assert_ok(addr_send(a, self_go, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&self_cb_calls) == 1, TU_LONG_MS);
    assert_code(atomic_load(&self_wait0_rc), ACTOR_ETIMEDOUT);
    assert_code(atomic_load(&self_wait_rc), ACTOR_EDEADLK);
    assert_code(atomic_load(&self_cb_status), ACTOR_OK);
    assert_int_equal(atomic_load(&self_cb_value), 41);
    tu_assert_no_failures();
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(r2);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(reply_ok_with_data),
        TU_TEST(handler_error_ehandler),
        TU_TEST(return_zero_unanswered_ecanceled),
        TU_TEST(reply_twice_second_einval),
        TU_TEST(wrong_size_reply_etype_then_right),
        TU_TEST(reply_outside_request_handler_einval),
        TU_TEST(no_request_handler_enohandler),
        TU_TEST(stop_with_requests_queued_ecanceled),
        TU_TEST(failing_init_queued_requests_ecanceled),
        TU_TEST(opaque_and_empty_replies),
        TU_TEST(requests_in_order),
        TU_TEST(request_to_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
