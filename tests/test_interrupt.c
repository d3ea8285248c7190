/* Interrupts and actor_ctx_stop. */
#include "testutil.h"

static const actor_msgtype *it_ev, *it_stop, *it_req, *it_block;
static atomic_int it_events, it_interrupts, it_events_at_interrupt, it_finalized,
    it_stop_after, it_requests;
static tu_gate it_gate;

static int it_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&it_events, 1);
    return 0;
}
static int it_block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&it_gate, TU_LONG_MS);
    return 0;
}
static int it_stop_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_ctx_stop(ctx);
    /* The current callback finishes normally after stop. */
    atomic_store(&it_stop_after, 1);
    return 0;
}
static int it_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&it_requests, 1);
    int64_t v = 1;
    return actor_ctx_reply(ctx, &v, sizeof v);
}
static void it_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&it_finalized, 1); }

/* Records how many events were handled before it, then stops. */
static void recording_interrupt(actor_ctx *ctx, void *st)
{
    atomic_store(&it_events_at_interrupt, atomic_load(&it_events));
    atomic_fetch_add(&it_interrupts, 1);
    actor_ctx_stop(ctx);
}
/* Stops only on the third interrupt. */
static void stubborn_interrupt(actor_ctx *ctx, void *st)
{
    if (atomic_fetch_add(&it_interrupts, 1) + 1 >= 3)
        actor_ctx_stop(ctx);
}

static void reset(void)
{
    it_ev = tu_type("it.Ev", "q", NULL);
    it_stop = tu_type("it.Stop", "", NULL);
    it_req = tu_type("it.Req", "q", "q");
    it_block = tu_type("it.Block", "", NULL);
    atomic_store(&it_events, 0);
    atomic_store(&it_interrupts, 0);
    atomic_store(&it_events_at_interrupt, -1);
    atomic_store(&it_finalized, 0);
    atomic_store(&it_stop_after, 0);
    atomic_store(&it_requests, 0);
}

static actor_class *make_class(const char *name, actor_interrupt_fn intr)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_event(c, it_ev, it_event));
    assert_ok(actor_class_on_event(c, it_stop, it_stop_event));
    assert_ok(actor_class_on_event(c, it_block, it_block_event));
    assert_ok(actor_class_on_request(c, it_req, it_request));
    assert_ok(actor_class_on_finalize(c, it_fin));
    if (intr != NULL)
        assert_ok(actor_class_on_interrupt(c, intr));
    return c;
}

static void interrupt_after_earlier_events(void **state)
{
    (void)state;
    reset();
    actor_class *c = make_class("it.Recording", recording_interrupt);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    const int n = (int)tu_scale(5000);
    int64_t v = 0;
    for (int i = 0; i < n; i++)
        assert_ok(addr_send(a, it_ev, &v, sizeof v));
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&it_interrupts), 1);
    assert_int_equal(atomic_load(&it_events_at_interrupt), n);
    assert_int_equal(atomic_load(&it_events), n);
    assert_int_equal(atomic_load(&it_finalized), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void default_interrupt_stops(void **state)
{
    (void)state;
    reset();
    actor_class *c = make_class("it.Default", NULL);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t v = 0;
    for (int i = 0; i < 10; i++)
        assert_ok(addr_send(a, it_ev, &v, sizeof v));
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(addr_is_done(a), 1);
    assert_int_equal(atomic_load(&it_events), 10); /* sent before: handled */
    assert_int_equal(atomic_load(&it_finalized), 1);
    unsigned long long dropped = 12345;
    assert_ok(addr_dropped(a, &dropped));
    assert_int_equal(dropped, 0);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void custom_interrupt_keeps_alive(void **state)
{
    (void)state;
    reset();
    actor_class *c = make_class("it.Stubborn", stubborn_interrupt);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t v = 0;
    for (int k = 1; k <= 2; k++) {
        assert_ok(addr_interrupt(a));
        assert_ok(addr_send(a, it_ev, &v, sizeof v));
        /* The event behind the interrupt is handled: the actor lives. */
        TU_WAIT_UNTIL(atomic_load(&it_events) == k, TU_LONG_MS);
        assert_int_equal(atomic_load(&it_interrupts), k);
        assert_code(addr_join(a, 0), ACTOR_ETIMEDOUT);
        assert_int_equal(addr_is_done(a), 0);
        assert_int_equal(atomic_load(&it_finalized), 0);
    }
    assert_ok(addr_interrupt(a)); /* the third one stops it */
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&it_interrupts), 3);
    assert_int_equal(atomic_load(&it_finalized), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void ctx_stop_drops_the_rest(void **state)
{
    (void)state;
    reset();
    tu_gate_init(&it_gate);
    actor_class *c = make_class("it.Stopper", NULL);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);

    assert_ok(addr_send(a, it_block, NULL, 0));
    TU_WAIT_ENTERED(&it_gate, 1);
    /* Queued behind the blocked event: one event, the stop, then more. */
    int64_t v = 0;
    assert_ok(addr_send(a, it_ev, &v, sizeof v));
    assert_ok(addr_send(a, it_stop, NULL, 0));
    enum { NE = 20, NR = 10 };
    actor_responder *rs[NR];
    for (int i = 0; i < NE; i++)
        assert_ok(addr_send(a, it_ev, &v, sizeof v));
    for (int i = 0; i < NR; i++)
        assert_ok(addr_interact(a, it_req, &v, sizeof v, &rs[i]));
    assert_ok(addr_interrupt(a));
    tu_gate_open(&it_gate);

    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&it_stop_after), 1);
    assert_int_equal(atomic_load(&it_events), 1); /* only the one before the stop */
    assert_int_equal(atomic_load(&it_requests), 0);
    assert_int_equal(atomic_load(&it_finalized), 1);
    for (int i = 0; i < NR; i++) {
        assert_code(actor_responder_wait(rs[i], TU_LONG_MS), ACTOR_ECANCELED);
        actor_responder_free(rs[i]);
    }
    /* The events behind the stop were dropped, and counted: sent (the block,
     * 1 + NE events, the stop) = handled (3) + dropped. */
    unsigned long long dropped = 12345;
    assert_ok(addr_dropped(a, &dropped));
    assert_int_equal(dropped, NE);
    /* Refused sends are not counted. */
    assert_code(addr_send(a, it_ev, &v, sizeof v), ACTOR_ECLOSED);
    assert_ok(addr_dropped(a, &dropped));
    assert_int_equal(dropped, NE);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&it_gate);
    actor_class_free(c);
}

static int it_stop_block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_ctx_stop(ctx);
    tu_gate_wait(&it_gate, TU_LONG_MS); /* stopping, not yet Done */
    return 0;
}

static void stopping_actor_refuses(void **state)
{
    (void)state;
    /* Once stop was called (the callback still running), senders get
     * ECLOSED at once, before the actor is Done. */
    reset();
    tu_gate_init(&it_gate);
    const actor_msgtype *sb = tu_type("it.StopBlock", "", NULL);
    actor_class *c = make_class("it.Stopping", NULL);
    assert_ok(actor_class_on_event(c, sb, it_stop_block_event));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, sb, NULL, 0));
    TU_WAIT_ENTERED(&it_gate, 1);
    int64_t v = 0;
    actor_responder *r = NULL;
    assert_code(addr_send(a, it_ev, &v, sizeof v), ACTOR_ECLOSED);
    assert_code(addr_interrupt(a), ACTOR_ECLOSED);
    assert_code(addr_interact(a, it_req, &v, sizeof v, &r), ACTOR_ECLOSED);
    assert_null(r);
    assert_code(addr_join(a, 0), ACTOR_ETIMEDOUT); /* stopping is not Done */
    assert_int_equal(addr_is_done(a), 0);
    assert_int_equal(atomic_load(&it_finalized), 0);
    tu_gate_open(&it_gate);
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&it_finalized), 1);
    assert_int_equal(atomic_load(&it_events), 0);
    assert_int_equal(atomic_load(&it_requests), 0);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&it_gate);
    actor_class_free(c);
}

static void send_to_done_actor_closed(void **state)
{
    (void)state;
    reset();
    actor_class *c = make_class("it.Done", NULL);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_stop_join(a);
    int64_t v = 0;
    actor_responder *r = NULL;
    assert_code(addr_send(a, it_ev, &v, sizeof v), ACTOR_ECLOSED);
    assert_code(addr_interrupt(a), ACTOR_ECLOSED);
    assert_code(addr_interact(a, it_req, &v, sizeof v, &r), ACTOR_ECLOSED);
    assert_null(r);
    /* A clone of a Done actor's address behaves the same. */
    actor_addr *b = addr_ref(a);
    assert_non_null(b);
    assert_code(addr_send(b, it_ev, &v, sizeof v), ACTOR_ECLOSED);
    assert_int_equal(addr_is_done(b), 1);
    addr_release(b);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void many_interrupts_one_stop(void **state)
{
    (void)state;
    /* Interrupts queued after the one that stops are dropped quietly. */
    reset();
    actor_class *c = make_class("it.ManyInterrupts", recording_interrupt);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        int rc = addr_interrupt(a);
        assert_true(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
        ok += rc == ACTOR_OK;
    }
    assert_true(ok >= 1);
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&it_interrupts), 1);
    assert_int_equal(atomic_load(&it_finalized), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(interrupt_after_earlier_events),
        TU_TEST(default_interrupt_stops),
        TU_TEST(custom_interrupt_keeps_alive),
        TU_TEST(ctx_stop_drops_the_rest),
        TU_TEST(stopping_actor_refuses),
        TU_TEST(send_to_done_actor_closed),
        TU_TEST(many_interrupts_one_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
