/* addr_join: timeouts, several joiners, EDEADLK on worker threads. */
#include "testutil.h"

static const actor_msgtype *jn_probe;

static void join_with_timeout(void **state)
{
    (void)state;
    actor_class *c = tu_class("jn.Idle");
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t t0 = tu_now_ms();
    assert_code(addr_join(a, 100), ACTOR_ETIMEDOUT);
    int64_t waited = tu_now_ms() - t0;
    if (waited < 90)
        fail_msg("addr_join(a, 100) gave up after %lld ms", (long long)waited);
    assert_code(addr_join(a, 1), ACTOR_ETIMEDOUT);
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_ok(addr_join(a, 0));
    assert_ok(addr_join(a, 100));
    assert_ok(addr_join(a, -1));
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    assert_code(addr_join(NULL, 0), ACTOR_EINVAL);
    assert_code(addr_join(NULL, -1), ACTOR_EINVAL);
    assert_int_equal(addr_is_done(NULL), 0);
}

/* Several threads join without limit; an interrupt wakes them all. */
static atomic_int joiners_started;
static void *joiner(void *p)
{
    atomic_fetch_add(&joiners_started, 1);
    TU_CHECK_CODE(addr_join((actor_addr *)p, -1), ACTOR_OK);
    TU_CHECK(addr_is_done((actor_addr *)p) == 1);
    return NULL;
}

static void many_joiners_wake(void **state)
{
    (void)state;
    actor_class *c = tu_class("jn.Joined");
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    atomic_store(&joiners_started, 0);
    enum { NJ = 4 };
    pthread_t th[NJ];
    for (int i = 0; i < NJ; i++)
        th[i] = tu_thread(joiner, a);
    TU_WAIT_UNTIL(atomic_load(&joiners_started) == NJ, TU_LONG_MS);
    assert_ok(addr_interrupt(a));
    for (int i = 0; i < NJ; i++)
        tu_join_thread(th[i]); /* the ctest timeout catches a hang */
    tu_assert_no_failures();
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* From a handler (a worker thread), join with a nonzero timeout is EDEADLK
 * at once, even on a Done actor; with 0 it only looks. */
static actor_addr *jn_done, *jn_alive;
static atomic_int jn_ran;
static atomic_int jn_rc_done_pos, jn_rc_done_neg, jn_rc_done_zero, jn_rc_alive_zero,
    jn_rc_alive_pos, jn_rc_self_pos, jn_rc_self_zero;
static atomic_long jn_elapsed_ms;

static int probe_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t t0 = tu_now_ms();
    atomic_store(&jn_rc_done_pos, addr_join(jn_done, 5000));
    atomic_store(&jn_rc_done_neg, addr_join(jn_done, -1));
    atomic_store(&jn_rc_alive_pos, addr_join(jn_alive, 5000));
    atomic_store(&jn_rc_self_pos, addr_join(actor_ctx_self(ctx), 5000));
    atomic_store(&jn_elapsed_ms, (long)(tu_now_ms() - t0));
    atomic_store(&jn_rc_done_zero, addr_join(jn_done, 0));
    atomic_store(&jn_rc_alive_zero, addr_join(jn_alive, 0));
    atomic_store(&jn_rc_self_zero, addr_join(actor_ctx_self(ctx), 0));
    atomic_fetch_add(&jn_ran, 1);
    return 0;
}

static void run_probe(actor_runtime *probe_rt, actor_runtime *target_rt)
{
    jn_probe = tu_type("jn.Probe", "", NULL);
    actor_class *pc = tu_class("jn.Prober");
    assert_ok(actor_class_on_event(pc, jn_probe, probe_event));
    actor_class *ic = tu_class("jn.Target");
    jn_done = tu_spawn(target_rt, ic, NULL);
    jn_alive = tu_spawn(target_rt, ic, NULL);
    tu_stop_join(jn_done);
    atomic_store(&jn_ran, 0);
    actor_addr *p = tu_spawn(probe_rt, pc, NULL);
    assert_ok(addr_send(p, jn_probe, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&jn_ran) == 1, TU_LONG_MS);
    assert_code(atomic_load(&jn_rc_done_pos), ACTOR_EDEADLK);
    assert_code(atomic_load(&jn_rc_done_neg), ACTOR_EDEADLK);
    assert_code(atomic_load(&jn_rc_alive_pos), ACTOR_EDEADLK);
    assert_code(atomic_load(&jn_rc_self_pos), ACTOR_EDEADLK);
    if (atomic_load(&jn_elapsed_ms) >= 2000)
        fail_msg("EDEADLK joins took %ld ms: they waited", atomic_load(&jn_elapsed_ms));
    assert_code(atomic_load(&jn_rc_done_zero), ACTOR_OK);
    assert_code(atomic_load(&jn_rc_alive_zero), ACTOR_ETIMEDOUT);
    assert_code(atomic_load(&jn_rc_self_zero), ACTOR_ETIMEDOUT);
    tu_stop_join(p);
    tu_stop_join(jn_alive);
    addr_release(p);
    addr_release(jn_done);
    addr_release(jn_alive);
    actor_class_free(pc);
    actor_class_free(ic);
}

static void join_from_handler_edeadlk(void **state)
{
    (void)state;
    actor_runtime *rt = tu_runtime(2);
    run_probe(rt, rt);
    actor_runtime_free(rt);
}

static void join_from_other_runtime_worker_edeadlk(void **state)
{
    (void)state;
    /* A worker of any libactor runtime counts, not only the target's. */
    actor_runtime *rt1 = tu_runtime(1), *rt2 = tu_runtime(1);
    run_probe(rt2, rt1);
    actor_runtime_free(rt2);
    actor_runtime_free(rt1);
}

static atomic_int jn_init_rc, jn_fin_rc;
static actor_addr *jn_other;
static int jn_join_init(actor_ctx *ctx, void *st)
{
    atomic_store(&jn_init_rc, addr_join(jn_other, 1000));
    return 0;
}
static void jn_join_fin(actor_ctx *ctx, void *st)
{
    atomic_store(&jn_fin_rc, addr_join(jn_other, -1));
}

static void join_from_init_and_finalize_edeadlk(void **state)
{
    (void)state;
    actor_class *c = tu_class("jn.HookJoiner");
    assert_ok(actor_class_on_init(c, jn_join_init));
    assert_ok(actor_class_on_finalize(c, jn_join_fin));
    actor_class *ic = tu_class("jn.Other");
    actor_runtime *rt = tu_runtime(2);
    jn_other = tu_spawn(rt, ic, NULL);
    atomic_store(&jn_init_rc, 1);
    atomic_store(&jn_fin_rc, 1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_stop_join(a);
    assert_code(atomic_load(&jn_init_rc), ACTOR_EDEADLK);
    assert_code(atomic_load(&jn_fin_rc), ACTOR_EDEADLK);
    tu_stop_join(jn_other);
    addr_release(a);
    addr_release(jn_other);
    actor_runtime_free(rt);
    actor_class_free(c);
    actor_class_free(ic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(join_with_timeout),
        TU_TEST(many_joiners_wake),
        TU_TEST(join_from_handler_edeadlk),
        TU_TEST(join_from_other_runtime_worker_edeadlk),
        TU_TEST(join_from_init_and_finalize_edeadlk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
