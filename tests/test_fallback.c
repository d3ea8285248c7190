/* Fallback: an event handler's nonzero return reaches on_fallback with that
 * very code and type; the actor goes on; the default fallback logs. */
#include "testutil.h"

static const actor_msgtype *fb_type, *fb_type2;
static atomic_int fb_handled, fb_calls, fb_last_err, fb_bad_type, fb_bad_state;
static _Atomic(const actor_msgtype *) fb_last_type;
static int fb_state_marker;

/* The payload is the code to return. */
static int code_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&fb_handled, 1);
    return (int)(int64_t)tu_get_u64(p);
}

static void record_fallback(actor_ctx *ctx, void *st, const actor_msgtype *t, int err)
{
    atomic_store(&fb_last_type, t);
    atomic_store(&fb_last_err, err);
    if (st != &fb_state_marker)
        atomic_fetch_add(&fb_bad_state, 1);
    atomic_fetch_add(&fb_calls, 1);
}

static void reset(void)
{
    atomic_store(&fb_handled, 0);
    atomic_store(&fb_calls, 0);
    atomic_store(&fb_last_err, 0);
    atomic_store(&fb_bad_type, 0);
    atomic_store(&fb_bad_state, 0);
    atomic_store(&fb_last_type, NULL);
}

static void send_code(actor_addr *a, const actor_msgtype *t, int64_t code)
{
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)code);
    assert_ok(addr_send(a, t, buf, sizeof buf));
}

static void fallback_gets_exact_code_and_type(void **state)
{
    (void)state;
    fb_type = tu_type("fb.Code", "q", NULL);
    fb_type2 = tu_type("fb.Code2", "q", NULL);
    actor_class *c = tu_class("fb.Failing");
    assert_ok(actor_class_on_event(c, fb_type, code_event));
    assert_ok(actor_class_on_event(c, fb_type2, code_event));
    assert_ok(actor_class_on_fallback(c, record_fallback));
    reset();
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &fb_state_marker);

    const int64_t codes[] = {42, -1234, 1, -1, ACTOR_EHANDLER, 0x7fffffff, -0x7fffffff - 1};
    int expected_calls = 0;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const actor_msgtype *t = (i % 2) ? fb_type2 : fb_type;
        send_code(a, t, codes[i]);
        expected_calls++;
        TU_WAIT_UNTIL(atomic_load(&fb_calls) == expected_calls, TU_LONG_MS);
        assert_int_equal(atomic_load(&fb_last_err), (int)codes[i]);
        assert_ptr_equal(atomic_load(&fb_last_type), t);
    }

    /* A zero return does not reach the fallback; the actor goes on. */
    for (int i = 0; i < 100; i++)
        send_code(a, fb_type, 0);
    send_code(a, fb_type, 9);
    TU_WAIT_UNTIL(atomic_load(&fb_calls) == expected_calls + 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&fb_last_err), 9);
    assert_int_equal(atomic_load(&fb_handled), (int)(sizeof codes / sizeof codes[0]) + 101);
    assert_int_equal(addr_is_done(a), 0);
    assert_int_equal(atomic_load(&fb_bad_state), 0);

    tu_stop_join(a);
    assert_int_equal(atomic_load(&fb_calls), expected_calls + 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void actor_goes_on_after_errors(void **state)
{
    (void)state;
    fb_type = tu_type("fb.Code", "q", NULL);
    actor_class *c = tu_class("fb.Resilient");
    assert_ok(actor_class_on_event(c, fb_type, code_event));
    assert_ok(actor_class_on_fallback(c, record_fallback));
    reset();
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, &fb_state_marker);
    enum { N = 1000 };
    for (int i = 0; i < N; i++)
        send_code(a, fb_type, (i % 3) ? 0 : i + 1); /* every third one fails */
    tu_stop_join(a);
    assert_int_equal(atomic_load(&fb_handled), N);
    assert_int_equal(atomic_load(&fb_calls), (N + 2) / 3);
    assert_int_equal(atomic_load(&fb_last_err), 999 + 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void default_fallback_logs(void **state)
{
    (void)state;
    fb_type = tu_type("fb.LoggedType", "q", NULL);
    actor_class *c = tu_class("fb.DefaultFallback");
    assert_ok(actor_class_on_event(c, fb_type, code_event));
    reset();
    tu_log_capture();
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    send_code(a, fb_type, 4242);
    TU_WAIT_UNTIL(tu_log_count() >= 1, TU_LONG_MS);
    /* The line says which type failed, and with what code. */
    if (!tu_log_has("fb.LoggedType", ACTOR_LOG_WARN) || !tu_log_has("4242", ACTOR_LOG_WARN)) {
        tu_log_dump();
        fail_msg("the default fallback's log line names neither the type nor the code");
    }
    /* The actor goes on. */
    send_code(a, fb_type, 0);
    TU_WAIT_UNTIL(atomic_load(&fb_handled) == 2, TU_LONG_MS);
    assert_int_equal(addr_is_done(a), 0);
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    tu_log_stop();
    actor_class_free(c);
}

static void no_fallback_on_success(void **state)
{
    (void)state;
    fb_type = tu_type("fb.Code", "q", NULL);
    actor_class *c = tu_class("fb.Quiet");
    assert_ok(actor_class_on_event(c, fb_type, code_event));
    tu_log_capture();
    reset();
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    for (int i = 0; i < 10; i++)
        send_code(a, fb_type, 0);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&fb_handled), 10);
    /* Nothing failed, so the default fallback logged nothing at error level. */
    if (tu_log_has(NULL, ACTOR_LOG_ERROR)) {
        tu_log_dump();
        fail_msg("an error was logged although every handler succeeded");
    }
    addr_release(a);
    actor_runtime_free(rt);
    tu_log_stop();
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(fallback_gets_exact_code_and_type),
        TU_TEST(actor_goes_on_after_errors),
        TU_TEST(default_fallback_logs),
        TU_TEST(no_fallback_on_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
