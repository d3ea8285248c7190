/* A Down pushed to a watcher that is Done already: the pusher drains it,
 * and draining drops the monitor record, which held the watcher's last
 * reference. The drain must not touch the freed watcher (it did: a crash
 * found by the node tests). Many short runtimes, each racing a watcher's
 * stop against its target's; ASan and valgrind see any use after free. */
#include "testutil.h"

typedef struct watcher_state {
    actor_addr *target;
} watcher_state;

static int w_init(actor_ctx *ctx, void *state)
{
    return actor_ctx_monitor(ctx, ((watcher_state *)state)->target);
}

static void w_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    (void)ctx;
    (void)state;
    (void)who;
    (void)reason;
}

static void w_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    addr_release(((watcher_state *)state)->target);
}

static void down_to_a_done_watcher(void **state)
{
    (void)state;
    actor_class *tc, *wc;
    assert_int_equal(actor_class_new("race.Target", &tc), ACTOR_OK);
    assert_int_equal(actor_class_new("race.Watcher", &wc), ACTOR_OK);
    assert_int_equal(actor_class_on_init(wc, w_init), ACTOR_OK);
    assert_int_equal(actor_class_on_down(wc, w_down), ACTOR_OK);
    assert_int_equal(actor_class_on_finalize(wc, w_finalize), ACTOR_OK);
    int rounds = 2000 / ACTOR_TEST_DIVISOR;
    for (int i = 0; i < rounds; i++) {
        actor_runtime *rt;
        actor_addr *t, *w;
        assert_int_equal(actor_runtime_new(2, &rt), ACTOR_OK);
        assert_int_equal(actor_spawn(rt, tc, NULL, &t), ACTOR_OK);
        watcher_state *st = calloc(1, sizeof *st);
        assert_non_null(st);
        st->target = addr_ref(t);
        assert_int_equal(actor_spawn(rt, wc, st, &w), ACTOR_OK);
        assert_int_equal(addr_interrupt(w), ACTOR_OK);
        addr_release(w);
        addr_release(t);
        actor_runtime_free(rt);
        free(st);
    }
    actor_class_free(tc);
    actor_class_free(wc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(down_to_a_done_watcher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
