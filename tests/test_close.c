/* Releasing the last counted address closes the mailbox: the actor handles
 * what is queued, then stops (finalize, Done). addr_ref keeps it alive. */
#include "testutil.h"

static const actor_msgtype *cl_ev, *cl_block;
static atomic_int cl_events, cl_finalized, cl_events_at_fin, cl_state_freed;
static tu_gate cl_gate;

static int cl_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&cl_events, 1);
    return 0;
}
static int cl_block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&cl_gate, TU_LONG_MS);
    return 0;
}
static void cl_fin(actor_ctx *ctx, void *st)
{
    atomic_store(&cl_events_at_fin, atomic_load(&cl_events));
    atomic_fetch_add(&cl_finalized, 1);
}
static void cl_free(void *st)
{
    free(st);
    atomic_fetch_add(&cl_state_freed, 1);
}

static actor_class *setup(const char *name)
{
    cl_ev = tu_type("cl.Ev", "", NULL);
    cl_block = tu_type("cl.Block", "", NULL);
    atomic_store(&cl_events, 0);
    atomic_store(&cl_finalized, 0);
    atomic_store(&cl_events_at_fin, -1);
    atomic_store(&cl_state_freed, 0);
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_event(c, cl_ev, cl_event));
    assert_ok(actor_class_on_event(c, cl_block, cl_block_event));
    assert_ok(actor_class_on_finalize(c, cl_fin));
    assert_ok(actor_class_set_state_free(c, cl_free));
    return c;
}

static void release_last_address_stops(void **state)
{
    (void)state;
    actor_class *c = setup("cl.Closer");
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, malloc(16));
    const int n = (int)tu_scale(10000);
    for (int i = 0; i < n; i++)
        assert_ok(addr_send(a, cl_ev, NULL, 0));
    addr_release(a); /* the last counted address */
    TU_WAIT_UNTIL(atomic_load(&cl_finalized) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cl_events_at_fin), n); /* queued ones first */
    TU_WAIT_UNTIL(atomic_load(&cl_state_freed) == 1, TU_LONG_MS);
    /* The runtime has no live actor left: shutdown needs no interrupt. */
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_int_equal(atomic_load(&cl_finalized), 1);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void release_while_busy_handles_queue_first(void **state)
{
    (void)state;
    actor_class *c = setup("cl.BusyCloser");
    tu_gate_init(&cl_gate);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, malloc(16));
    assert_ok(addr_send(a, cl_block, NULL, 0));
    TU_WAIT_ENTERED(&cl_gate, 1);
    for (int i = 0; i < 100; i++)
        assert_ok(addr_send(a, cl_ev, NULL, 0));
    addr_release(a);
    tu_gate_open(&cl_gate);
    TU_WAIT_UNTIL(atomic_load(&cl_finalized) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cl_events_at_fin), 100);
    assert_int_equal(atomic_load(&cl_events), 100);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&cl_state_freed), 1);
    tu_gate_destroy(&cl_gate);
    actor_class_free(c);
}

static void addr_ref_keeps_alive(void **state)
{
    (void)state;
    actor_class *c = setup("cl.Cloned");
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, malloc(16));
    actor_addr *b = addr_ref(a);
    assert_non_null(b);
    actor_addr *d = addr_ref(b); /* a clone of a clone */
    assert_non_null(d);
    addr_release(a);
    assert_ok(addr_send(b, cl_ev, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&cl_events) == 1, TU_LONG_MS);
    assert_code(addr_join(b, 0), ACTOR_ETIMEDOUT);
    assert_int_equal(atomic_load(&cl_finalized), 0);
    addr_release(b);
    assert_ok(addr_send(d, cl_ev, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&cl_events) == 2, TU_LONG_MS);
    assert_code(addr_join(d, 0), ACTOR_ETIMEDOUT);
    assert_int_equal(addr_is_done(d), 0);
    assert_int_equal(atomic_load(&cl_finalized), 0);
    addr_release(d); /* now the last one */
    TU_WAIT_UNTIL(atomic_load(&cl_finalized) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cl_events_at_fin), 2);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&cl_state_freed), 1);
    actor_class_free(c);
}

static void ref_and_release_null(void **state)
{
    (void)state;
    assert_null(addr_ref(NULL));
    addr_release(NULL);
}

/* Clones taken and dropped from many threads while the actor runs. */
struct churn_arg {
    actor_addr *a;
    int n;
};
static void *churn(void *p)
{
    struct churn_arg *ca = p;
    for (int i = 0; i < ca->n; i++) {
        actor_addr *x = addr_ref(ca->a);
        TU_CHECK(x != NULL);
        TU_CHECK_CODE(addr_send(x, cl_ev, NULL, 0), ACTOR_OK);
        addr_release(x);
    }
    return NULL;
}

static void concurrent_ref_release(void **state)
{
    (void)state;
    actor_class *c = setup("cl.Churn");
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, malloc(16));
    const int n = (int)tu_scale(20000);
    struct churn_arg ca = {a, n};
    pthread_t t1 = tu_thread(churn, &ca), t2 = tu_thread(churn, &ca);
    tu_join_thread(t1);
    tu_join_thread(t2);
    tu_assert_no_failures();
    assert_int_equal(atomic_load(&cl_finalized), 0); /* a still holds it */
    addr_release(a);
    TU_WAIT_UNTIL(atomic_load(&cl_finalized) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cl_events_at_fin), 2 * n);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* An actor holding a counted reference to itself stays alive after the
 * test's address goes; once it releases its own, it closes. */
static const actor_msgtype *cl_drop_self;
static _Atomic(actor_addr *) cl_self_ref;
static int cl_selfref_init(actor_ctx *ctx, void *st)
{
    atomic_store(&cl_self_ref, addr_ref(actor_ctx_self(ctx)));
    return 0;
}
static int cl_drop_self_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    addr_release(atomic_exchange(&cl_self_ref, NULL));
    return 0;
}

static void self_reference_keeps_alive(void **state)
{
    (void)state;
    actor_class *c = setup("cl.SelfRef");
    cl_drop_self = tu_type("cl.DropSelf", "", NULL);
    assert_ok(actor_class_on_init(c, cl_selfref_init));
    assert_ok(actor_class_on_event(c, cl_drop_self, cl_drop_self_event));
    atomic_store(&cl_self_ref, NULL);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, malloc(16));
    TU_WAIT_UNTIL(atomic_load(&cl_self_ref) != NULL, TU_LONG_MS);
    addr_release(a); /* the actor still holds one */
    actor_addr *self = atomic_load(&cl_self_ref);
    assert_ok(addr_send(self, cl_ev, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&cl_events) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cl_finalized), 0);
    assert_ok(addr_send(self, cl_drop_self, NULL, 0)); /* releases the last one */
    TU_WAIT_UNTIL(atomic_load(&cl_finalized) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cl_events_at_fin), 1);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&cl_state_freed), 1);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(release_last_address_stops),
        TU_TEST(release_while_busy_handles_queue_first),
        TU_TEST(addr_ref_keeps_alive),
        TU_TEST(ref_and_release_null),
        TU_TEST(concurrent_ref_release),
        TU_TEST(self_reference_keeps_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
