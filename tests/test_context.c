/* The context accessors: actor_ctx_class and actor_ctx_msgtype let one
 * handler serve many types (what bindings need), and a class carries a user
 * pointer. */
#include "testutil.h"

static const actor_msgtype *cx_a, *cx_b, *cx_req;
static _Atomic(const actor_msgtype *) seen_init, seen_event_a, seen_event_b, seen_request,
    seen_response, seen_final;
static _Atomic(actor_class *) seen_class;
static atomic_int responses;

static int cx_init(actor_ctx *ctx, void *st)
{
    atomic_store(&seen_init, actor_ctx_msgtype(ctx));
    atomic_store(&seen_class, actor_ctx_class(ctx));
    return 0;
}

/* One handler for both event types: it tells them apart by the context. */
static int cx_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    const actor_msgtype *t = actor_ctx_msgtype(ctx);
    if (t == cx_a)
        atomic_store(&seen_event_a, t);
    else if (t == cx_b)
        atomic_store(&seen_event_b, t);
    return 0;
}

static int cx_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_store(&seen_request, actor_ctx_msgtype(ctx));
    return actor_ctx_reply(ctx, NULL, 0);
}

static void cx_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                        const void *reply, size_t len)
{
    atomic_store(&seen_response, actor_ctx_msgtype(ctx));
    atomic_fetch_add(&responses, 1);
}

static void cx_finalize(actor_ctx *ctx, void *st)
{
    atomic_store(&seen_final, actor_ctx_msgtype(ctx));
}

static void ctx_msgtype_names_the_message(void **state)
{
    (void)state;
    cx_a = tu_type("cx.A", "q", NULL);
    cx_b = tu_type("cx.B", "", NULL);
    cx_req = tu_type("cx.Req", "", "");
    actor_class *c = tu_class("cx.Multi");
    assert_ok(actor_class_on_init(c, cx_init));
    assert_ok(actor_class_on_event(c, cx_a, cx_event));
    assert_ok(actor_class_on_event(c, cx_b, cx_event));
    assert_ok(actor_class_on_request(c, cx_req, cx_request));
    assert_ok(actor_class_on_response(c, cx_req, cx_response));
    assert_ok(actor_class_on_finalize(c, cx_finalize));
    atomic_store(&seen_final, cx_a); /* must be overwritten with NULL */
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    unsigned char q[8] = {0};
    assert_ok(addr_send(a, cx_a, q, sizeof q));
    assert_ok(addr_send(a, cx_b, NULL, 0));
    actor_responder *r;
    assert_ok(addr_interact(a, cx_req, NULL, 0, &r));
    assert_ok(actor_responder_forward(r, a)); /* the answer comes back to a */
    TU_WAIT_UNTIL(atomic_load(&responses) == 1, TU_LONG_MS);
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_null(atomic_load(&seen_init));
    assert_ptr_equal(atomic_load(&seen_class), c);
    assert_ptr_equal(atomic_load(&seen_event_a), cx_a);
    assert_ptr_equal(atomic_load(&seen_event_b), cx_b);
    assert_ptr_equal(atomic_load(&seen_request), cx_req);
    assert_ptr_equal(atomic_load(&seen_response), cx_req);
    assert_null(atomic_load(&seen_final));
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void ctx_accessors_take_null(void **state)
{
    (void)state;
    assert_null(actor_ctx_class(NULL));
    assert_null(actor_ctx_msgtype(NULL));
}

static void class_userdata_until_in_use(void **state)
{
    (void)state;
    int marker = 0;
    actor_class *c = tu_class("cx.User");
    assert_null(actor_class_userdata(c));
    assert_ok(actor_class_set_userdata(c, &marker));
    assert_ptr_equal(actor_class_userdata(c), &marker);
    assert_int_equal(actor_class_set_userdata(NULL, &marker), ACTOR_EINVAL);
    assert_null(actor_class_userdata(NULL));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_int_equal(actor_class_set_userdata(c, NULL), ACTOR_EBUSY);
    assert_ptr_equal(actor_class_userdata(c), &marker);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(ctx_msgtype_names_the_message),
        TU_TEST(ctx_accessors_take_null),
        TU_TEST(class_userdata_until_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
