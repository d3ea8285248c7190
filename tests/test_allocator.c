/* actor_set_allocator: first call only, every allocation routed through it,
 * and a full runtime cycle gives back everything it took. */
#include "testutil.h"

static atomic_long live_blocks, calls;

static void *count_malloc(size_t n)
{
    void *p = malloc(n);
    if (p != NULL)
        atomic_fetch_add(&live_blocks, 1);
    atomic_fetch_add(&calls, 1);
    return p;
}
static void *count_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p != NULL)
        atomic_fetch_add(&live_blocks, 1);
    atomic_fetch_add(&calls, 1);
    return p;
}
static void *count_realloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (old == NULL && p != NULL)
        atomic_fetch_add(&live_blocks, 1);
    atomic_fetch_add(&calls, 1);
    return p;
}
static void count_free(void *p)
{
    if (p != NULL)
        atomic_fetch_sub(&live_blocks, 1);
    free(p);
}

static const actor_msgtype *al_sum, *al_ev;
static int al_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    return actor_ctx_reply(ctx, p, 8);
}
static int al_event(actor_ctx *ctx, void *st, const void *p, size_t len) { return 0; }

/* One full cycle: a runtime, actors, events, requests (one deferred and
 * dropped), all torn down. */
static void cycle(void)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *c = tu_class("al.Worker");
    assert_ok(actor_class_on_request(c, al_sum, al_request));
    assert_ok(actor_class_on_event(c, al_ev, al_event));
    assert_ok(actor_class_set_state_size(c, 64));
    actor_addr *as[4];
    for (int i = 0; i < 4; i++)
        as[i] = tu_spawn(rt, c, NULL);
    for (int k = 0; k < 1000; k++) {
        unsigned char buf[16] = {0};
        tu_put_u64(buf, (uint64_t)k);
        assert_ok(addr_send(as[k % 4], al_ev, NULL, 0));
        if (k % 10 == 0) {
            actor_responder *r = NULL;
            assert_ok(addr_interact(as[k % 4], al_sum, buf, 16, &r));
            assert_ok(actor_responder_wait(r, TU_LONG_MS));
            assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), (uint64_t)k);
            (void)actor_responder_fd(r);
            actor_responder_free(r);
        }
    }
    for (int i = 0; i < 4; i++) {
        tu_stop_join(as[i]);
        addr_release(as[i]);
    }
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void first_call_routes_everything(void **state)
{
    (void)state;
    /* The very first library calls of this process. */
    assert_code(actor_set_allocator(NULL, count_calloc, count_realloc, count_free),
                ACTOR_EINVAL);
    assert_code(actor_set_allocator(count_malloc, NULL, count_realloc, count_free),
                ACTOR_EINVAL);
    assert_code(actor_set_allocator(count_malloc, count_calloc, NULL, count_free),
                ACTOR_EINVAL);
    assert_code(actor_set_allocator(count_malloc, count_calloc, count_realloc, NULL),
                ACTOR_EINVAL);
    assert_ok(actor_set_allocator(count_malloc, count_calloc, count_realloc, count_free));
    /* Fixed from now on. */
    assert_code(actor_set_allocator(count_malloc, count_calloc, count_realloc, count_free),
                ACTOR_EBUSY);

    al_sum = tu_type("al.Echo", "qq", "q");
    al_ev = tu_type("al.Ev", "", NULL);
    long before = atomic_load(&calls);
    cycle(); /* the first one may set up process-wide state (libevent) */
    assert_true(atomic_load(&calls) > before); /* the runtime allocated through us */

    /* A second cycle gives back exactly what it took. */
    long baseline = atomic_load(&live_blocks);
    cycle();
    long after = atomic_load(&live_blocks);
    if (after != baseline)
        fail_msg("a full runtime cycle left %ld block(s) behind (%ld before, %ld after)",
                 after - baseline, baseline, after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(first_call_routes_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
