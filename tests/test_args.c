/* Every NULL / bad-argument path of the public functions returns its
 * documented code, without crashing. */
#include "testutil.h"

static void cb_noop(actor_responder *r, void *ud) {}

static void errors_and_types(void **state)
{
    (void)state;
    assert_non_null(actor_strerror(-999));
    const actor_msgtype *t = (const actor_msgtype *)(uintptr_t)0x1;
    assert_code(actor_msgtype_define(NULL, "q", NULL, &t), ACTOR_EINVAL);
    assert_code(actor_msgtype_define("args.T", "q", NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_msgtype_define("args.T", "<q", NULL, &t), ACTOR_EINVAL);
    assert_code(actor_msgtype_define("args.T", "q", "<q", &t), ACTOR_EINVAL);
    assert_ptr_equal(t, (const actor_msgtype *)(uintptr_t)0x1);
    assert_null(actor_msgtype_find(NULL));
    assert_null(actor_msgtype_name(NULL));
    assert_null(actor_msgtype_layout(NULL));
    assert_null(actor_msgtype_reply_layout(NULL));
    assert_int_equal(actor_msgtype_size(NULL), 0);
    assert_int_equal(actor_msgtype_reply_size(NULL), 0);
}

static void runtime_args(void **state)
{
    (void)state;
    actor_runtime *rt = (actor_runtime *)(uintptr_t)0x1;
    assert_code(actor_runtime_new(1, NULL), ACTOR_EINVAL);
    assert_code(actor_runtime_new(100000, &rt), ACTOR_EINVAL);
    assert_ptr_equal(rt, (actor_runtime *)(uintptr_t)0x1);
    assert_code(actor_runtime_shutdown(NULL, 0), ACTOR_EINVAL);
    assert_code(actor_runtime_shutdown(NULL, -1), ACTOR_EINVAL);
    actor_runtime_free(NULL);
}

static void class_args(void **state)
{
    (void)state;
    actor_class *c = (actor_class *)(uintptr_t)0x1;
    assert_code(actor_class_new(NULL, &c), ACTOR_EINVAL);
    assert_code(actor_class_new("args.C", NULL), ACTOR_EINVAL);
    assert_ptr_equal(c, (actor_class *)(uintptr_t)0x1);
    assert_code(actor_class_on_init(NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_finalize(NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_interrupt(NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_fallback(NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_event(NULL, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_request(NULL, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_response(NULL, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_set_state_free(NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_set_state_size(NULL, 0), ACTOR_EINVAL);
    assert_code(actor_class_register(NULL), ACTOR_EINVAL);
    assert_null(actor_class_find(NULL));
    assert_null(actor_class_name(NULL));
    actor_class_free(NULL);
    c = tu_class("args.C");
    assert_code(actor_class_on_event(c, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_request(c, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_class_on_response(c, NULL, NULL), ACTOR_EINVAL);
    actor_class_free(c);
}

/* A request handler that probes the ctx calls with bad arguments, then
 * answers properly. */
static atomic_int probe_defer_null, probe_reply_null, probe_done;
static int probing_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_store(&probe_defer_null, actor_ctx_defer(ctx, NULL));
    int64_t v = 77;
    atomic_store(&probe_reply_null, actor_ctx_reply(ctx, NULL, sizeof v));
    atomic_store(&probe_done, 1);
    return actor_ctx_reply(ctx, &v, sizeof v);
}

static void addr_and_ctx_args(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("args.Q", "q", "q");
    const actor_msgtype *op = tu_type("args.Op", NULL, NULL);
    actor_class *c = tu_class("args.Target");
    assert_ok(actor_class_on_request(c, t, probing_request));
    assert_ok(actor_class_on_event(c, op, NULL));
    assert_ok(actor_class_on_request(c, op, probing_request));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = (actor_addr *)(uintptr_t)0x1;
    assert_code(actor_spawn(NULL, c, NULL, &a), ACTOR_EINVAL);
    assert_code(actor_spawn(rt, NULL, NULL, &a), ACTOR_EINVAL);
    assert_code(actor_spawn(rt, c, NULL, NULL), ACTOR_EINVAL);
    assert_ptr_equal(a, (actor_addr *)(uintptr_t)0x1);
    a = tu_spawn(rt, c, NULL);

    int64_t v = 1;
    actor_responder *r = (actor_responder *)(uintptr_t)0x1;
    assert_null(addr_ref(NULL));
    addr_release(NULL);
    assert_code(addr_send(NULL, t, &v, sizeof v), ACTOR_EINVAL);
    assert_code(addr_send(a, NULL, &v, sizeof v), ACTOR_EINVAL);
    assert_code(addr_send(a, t, NULL, sizeof v), ACTOR_EINVAL);
    assert_code(addr_send(a, op, NULL, 5), ACTOR_EINVAL);
    assert_code(addr_interact(NULL, t, &v, sizeof v, &r), ACTOR_EINVAL);
    assert_code(addr_interact(a, NULL, &v, sizeof v, &r), ACTOR_EINVAL);
    assert_code(addr_interact(a, t, NULL, sizeof v, &r), ACTOR_EINVAL);
    assert_code(addr_interact(a, op, NULL, 3, &r), ACTOR_EINVAL);
    assert_code(addr_interact(a, t, &v, sizeof v, NULL), ACTOR_EINVAL);
    assert_code(addr_interact(a, t, &v, 3, &r), ACTOR_ETYPE);
    assert_ptr_equal(r, (actor_responder *)(uintptr_t)0x1);
    assert_code(addr_interrupt(NULL), ACTOR_EINVAL);
    assert_code(addr_join(NULL, 0), ACTOR_EINVAL);
    assert_code(addr_join(NULL, 100), ACTOR_EINVAL);
    assert_int_equal(addr_is_done(NULL), 0);
    unsigned long long dropped = 777;
    assert_code(addr_dropped(NULL, &dropped), ACTOR_EINVAL);
    assert_int_equal(dropped, 777);
    assert_code(addr_dropped(a, NULL), ACTOR_EINVAL);
    assert_ok(addr_dropped(a, &dropped));
    assert_int_equal(dropped, 0);

    /* ctx functions with a NULL ctx. */
    actor_promise *pr = (actor_promise *)(uintptr_t)0x1;
    assert_null(actor_ctx_self(NULL));
    assert_null(actor_ctx_runtime(NULL));
    actor_ctx_stop(NULL);
    assert_code(actor_ctx_reply(NULL, &v, sizeof v), ACTOR_EINVAL);
    assert_code(actor_ctx_defer(NULL, &pr), ACTOR_EINVAL);
    assert_ptr_equal(pr, (actor_promise *)(uintptr_t)0x1);

    /* Bad arguments inside a request handler; then it answers. */
    atomic_store(&probe_done, 0);
    assert_ok(addr_interact(a, t, &v, sizeof v, &r));
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_int_equal(atomic_load(&probe_done), 1);
    assert_code(atomic_load(&probe_defer_null), ACTOR_EINVAL);
    assert_code(atomic_load(&probe_reply_null), ACTOR_EINVAL);
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    assert_int_equal(len, 8);
    assert_int_equal(tu_get_u64(d), 77);
    actor_responder_free(r);

    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void promise_and_responder_args(void **state)
{
    (void)state;
    int64_t v = 1;
    assert_code(actor_promise_resolve(NULL, &v, sizeof v), ACTOR_EINVAL);
    assert_code(actor_promise_reject(NULL, 5), ACTOR_EINVAL);
    actor_promise_free(NULL);

    assert_code(actor_responder_wait(NULL, 0), ACTOR_EINVAL);
    assert_code(actor_responder_wait(NULL, 100), ACTOR_EINVAL);
    assert_code(actor_responder_status(NULL), ACTOR_EINVAL);
    size_t len = 99;
    assert_null(actor_responder_data(NULL, &len));
    assert_int_equal(len, 0);
    assert_null(actor_responder_data(NULL, NULL));
    assert_int_equal(actor_responder_handler_error(NULL), 0);
    assert_null(actor_responder_type(NULL));
    assert_code(actor_responder_fd(NULL), ACTOR_EINVAL);
    assert_code(actor_responder_then(NULL, cb_noop, NULL), ACTOR_EINVAL);
    assert_code(actor_responder_forward(NULL, NULL), ACTOR_EINVAL);
    actor_responder_free(NULL);

    /* With a real responder: NULL cb / NULL target. */
    const actor_msgtype *t = tu_type("args.R", "", "q");
    actor_class *c = tu_class("args.Responding");
    assert_ok(actor_class_on_request(c, t, probing_request));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t, NULL, 0, &r));
    assert_code(actor_responder_then(r, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_responder_forward(r, NULL), ACTOR_EINVAL);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_non_null(actor_responder_data(r, NULL)); /* len NULL is fine */
    actor_responder_free(r);
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void plugin_and_log_args(void **state)
{
    (void)state;
    tu_log_capture();
    assert_code(actor_plugin_load(NULL), ACTOR_EINVAL);
    assert_code(actor_plugin_load(""), ACTOR_EINVAL);
    tu_log_stop();
    actor_set_log_handler(NULL, NULL);
    actor_set_log_handler(NULL, (void *)(uintptr_t)0x1); /* ud without fn: ignored */
    /* The allocator: NULL functions, and too late (the library allocated). */
    assert_code(actor_set_allocator(NULL, NULL, NULL, NULL), ACTOR_EINVAL);
    assert_code(actor_set_allocator(malloc, calloc, realloc, free), ACTOR_EBUSY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(errors_and_types),  TU_TEST(runtime_args),
        TU_TEST(class_args),        TU_TEST(addr_and_ctx_args),
        TU_TEST(promise_and_responder_args), TU_TEST(plugin_and_log_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
