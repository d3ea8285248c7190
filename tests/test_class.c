/* Actor classes: names, setters, EBUSY once in use, the registry, lifetime. */
#include "testutil.h"

static const actor_class *const CSENTINEL = (const actor_class *)(uintptr_t)0x1;

static atomic_int ev_count;
static atomic_int fin_count;

static int count_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&ev_count, 1);
    return 0;
}
static int noop_init(actor_ctx *ctx, void *st) { return 0; }
static void noop_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&fin_count, 1); }
static void noop_intr(actor_ctx *ctx, void *st) { actor_ctx_stop(ctx); }
static void noop_fallback(actor_ctx *ctx, void *st, const actor_msgtype *t, int err) {}
static int noop_request(actor_ctx *ctx, void *st, const void *p, size_t len) { return 1; }
static void noop_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                          const void *r, size_t len)
{
}
static void noop_state_free(void *st) {}

static void class_new_names(void **state)
{
    (void)state;
    char n64[65], n65[66];
    memset(n64, 'c', 64);
    n64[64] = '\0';
    memset(n65, 'c', 65);
    n65[65] = '\0';
    const char *bad[] = {"", "a b", "a/b", "a\x01", "a%b", "tab\t", n65};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        actor_class *c = (actor_class *)CSENTINEL;
        int rc = actor_class_new(bad[i], &c);
        if (rc != ACTOR_EINVAL)
            fail_msg("class name #%zu \"%s\": %d (%s), expected EINVAL", i, bad[i], rc,
                     actor_strerror(rc));
        assert_ptr_equal(c, CSENTINEL); /* untouched on failure */
    }
    actor_class *c = (actor_class *)CSENTINEL;
    assert_code(actor_class_new(NULL, &c), ACTOR_EINVAL);
    assert_ptr_equal(c, CSENTINEL);
    assert_code(actor_class_new("cls.Good", NULL), ACTOR_EINVAL);

    const char *good[] = {n64, "x", "Az09_.:-", "cls.Good"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        c = NULL;
        assert_ok(actor_class_new(good[i], &c));
        assert_non_null(c);
        assert_string_equal(actor_class_name(c), good[i]);
        actor_class_free(c);
    }
    /* Two unregistered classes may share a name. */
    actor_class *c1 = tu_class("cls.Twin"), *c2 = tu_class("cls.Twin");
    assert_ptr_not_equal(c1, c2);
    actor_class_free(c1);
    actor_class_free(c2);
    assert_null(actor_class_name(NULL));
    actor_class_free(NULL);
}

static void setters_on_null(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("cls.T", "q", "q");
    assert_code(actor_class_on_init(NULL, noop_init), ACTOR_EINVAL);
    assert_code(actor_class_on_finalize(NULL, noop_fin), ACTOR_EINVAL);
    assert_code(actor_class_on_interrupt(NULL, noop_intr), ACTOR_EINVAL);
    assert_code(actor_class_on_fallback(NULL, noop_fallback), ACTOR_EINVAL);
    assert_code(actor_class_on_event(NULL, t, count_event), ACTOR_EINVAL);
    assert_code(actor_class_on_request(NULL, t, noop_request), ACTOR_EINVAL);
    assert_code(actor_class_on_response(NULL, t, noop_response), ACTOR_EINVAL);
    assert_code(actor_class_set_state_free(NULL, noop_state_free), ACTOR_EINVAL);
    assert_code(actor_class_set_state_size(NULL, 8), ACTOR_EINVAL);
    assert_code(actor_class_register(NULL), ACTOR_EINVAL);

    actor_class *c = tu_class("cls.NullType");
    assert_code(actor_class_on_event(c, NULL, count_event), ACTOR_EINVAL);
    assert_code(actor_class_on_request(c, NULL, noop_request), ACTOR_EINVAL);
    assert_code(actor_class_on_response(c, NULL, noop_response), ACTOR_EINVAL);
    /* NULL fn is fine: it removes the hook. */
    assert_ok(actor_class_on_init(c, NULL));
    assert_ok(actor_class_on_finalize(c, NULL));
    assert_ok(actor_class_on_interrupt(c, NULL));
    assert_ok(actor_class_on_fallback(c, NULL));
    assert_ok(actor_class_on_event(c, t, NULL));
    assert_ok(actor_class_on_request(c, t, NULL));
    assert_ok(actor_class_on_response(c, t, NULL));
    assert_ok(actor_class_set_state_free(c, NULL));
    assert_ok(actor_class_set_state_size(c, 0));
    actor_class_free(c);
}

static void null_fn_removes_handler(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("cls.T", "q", "q");
    actor_class *c = tu_class("cls.Removed");
    assert_ok(actor_class_on_event(c, t, count_event));
    assert_ok(actor_class_on_request(c, t, noop_request));
    assert_ok(actor_class_on_event(c, t, NULL));
    assert_ok(actor_class_on_request(c, t, NULL));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t v = 1;
    assert_code(addr_send(a, t, &v, sizeof v), ACTOR_ENOHANDLER);
    actor_responder *r = NULL;
    assert_code(addr_interact(a, t, &v, sizeof v, &r), ACTOR_ENOHANDLER);
    assert_null(r);
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void setters_after_spawn_ebusy(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("cls.T", "q", "q");
    const actor_msgtype *t2 = tu_type("cls.T2", "q", "q");
    actor_class *c = tu_class("cls.Busy");
    assert_ok(actor_class_on_event(c, t, count_event));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);

    assert_code(actor_class_on_init(c, noop_init), ACTOR_EBUSY);
    assert_code(actor_class_on_finalize(c, noop_fin), ACTOR_EBUSY);
    assert_code(actor_class_on_interrupt(c, noop_intr), ACTOR_EBUSY);
    assert_code(actor_class_on_fallback(c, noop_fallback), ACTOR_EBUSY);
    assert_code(actor_class_on_event(c, t2, count_event), ACTOR_EBUSY);
    assert_code(actor_class_on_event(c, t, NULL), ACTOR_EBUSY);
    assert_code(actor_class_on_request(c, t, noop_request), ACTOR_EBUSY);
    assert_code(actor_class_on_response(c, t, noop_response), ACTOR_EBUSY);
    assert_code(actor_class_set_state_free(c, noop_state_free), ACTOR_EBUSY);
    assert_code(actor_class_set_state_size(c, 16), ACTOR_EBUSY);

    /* The class still behaves as before the refused changes. */
    atomic_store(&ev_count, 0);
    int64_t v = 5;
    assert_ok(addr_send(a, t, &v, sizeof v));
    assert_code(addr_send(a, t2, &v, sizeof v), ACTOR_ENOHANDLER);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&ev_count), 1);

    /* Still EBUSY once the actor is Done: it was spawned. */
    assert_code(actor_class_on_init(c, noop_init), ACTOR_EBUSY);
    addr_release(a);
    actor_runtime_free(rt);
    assert_code(actor_class_on_event(c, t2, count_event), ACTOR_EBUSY);
    actor_class_free(c);
}

static void register_and_find(void **state)
{
    (void)state;
    actor_class *c = tu_class("cls.Registered");
    assert_null(actor_class_find("cls.Registered"));
    assert_ok(actor_class_register(c));
    assert_ptr_equal(actor_class_find("cls.Registered"), c);
    assert_null(actor_class_find("cls.NotRegistered"));
    assert_null(actor_class_find(NULL));
    assert_null(actor_class_find(""));

    /* Registering twice, or another class under a taken name: EBUSY. */
    assert_code(actor_class_register(c), ACTOR_EBUSY);
    actor_class *other = tu_class("cls.Registered");
    assert_code(actor_class_register(other), ACTOR_EBUSY);
    assert_ptr_equal(actor_class_find("cls.Registered"), c);
    actor_class_free(other);

    /* The registry holds its own reference: the class outlives free. */
    const actor_msgtype *t = tu_type("cls.T", "q", "q");
    assert_ok(actor_class_on_event(c, t, count_event));
    actor_class_free(c);
    actor_class *found = actor_class_find("cls.Registered");
    assert_ptr_equal(found, c);
    assert_string_equal(actor_class_name(found), "cls.Registered");

    atomic_store(&ev_count, 0);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, found, NULL);
    actor_addr *b = tu_spawn(rt, actor_class_find("cls.Registered"), NULL);
    int64_t v = 1;
    assert_ok(addr_send(a, t, &v, sizeof v));
    assert_ok(addr_send(b, t, &v, sizeof v));
    tu_stop_join(a);
    tu_stop_join(b);
    assert_int_equal(atomic_load(&ev_count), 2);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
}

static void setters_allowed_after_register(void **state)
{
    (void)state;
    /* Registered but never spawned: still being set up. */
    actor_class *c = tu_class("cls.RegThenSet");
    assert_ok(actor_class_register(c));
    assert_ok(actor_class_on_init(c, noop_init));
    assert_ok(actor_class_set_state_size(c, 8));
    actor_class_free(c);
}

static void class_free_while_alive(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("cls.T", "q", "q");
    actor_class *c = tu_class("cls.FreedEarly");
    assert_ok(actor_class_on_event(c, t, count_event));
    assert_ok(actor_class_on_finalize(c, noop_fin));
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_class_free(c); /* the actor keeps it alive */

    atomic_store(&ev_count, 0);
    atomic_store(&fin_count, 0);
    int64_t v = 3;
    for (int i = 0; i < 100; i++)
        assert_ok(addr_send(a, t, &v, sizeof v));
    TU_WAIT_UNTIL(atomic_load(&ev_count) == 100, TU_LONG_MS);
    assert_code(addr_send(a, tu_type("cls.T2", "q", "q"), &v, sizeof v), ACTOR_ENOHANDLER);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&fin_count), 1);
    addr_release(a);
    actor_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(class_new_names),
        TU_TEST(setters_on_null),
        TU_TEST(null_fn_removes_handler),
        TU_TEST(setters_after_spawn_ebusy),
        TU_TEST(register_and_find),
        TU_TEST(setters_allowed_after_register),
        TU_TEST(class_free_while_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
