/* Runtime shutdown and free. */
#include "testutil.h"

#include <dirent.h>
#include <unistd.h>

static const actor_msgtype *sd_ev, *sd_req, *sd_block, *sd_call;
static atomic_int sd_events, sd_finalized, sd_interrupts;
static tu_gate sd_gate;

static int sd_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&sd_events, 1);
    return 0;
}
static int sd_block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&sd_gate, TU_LONG_MS);
    return 0;
}
static int sd_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t v = 1;
    return actor_ctx_reply(ctx, &v, sizeof v);
}
static void sd_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&sd_finalized, 1); }
static void sd_ignore_interrupt(actor_ctx *ctx, void *st) { atomic_fetch_add(&sd_interrupts, 1); }

static actor_class *setup(const char *name, actor_interrupt_fn intr)
{
    sd_ev = tu_type("sd.Ev", "", NULL);
    sd_req = tu_type("sd.Req", "", "q");
    sd_block = tu_type("sd.Block", "", NULL);
    atomic_store(&sd_events, 0);
    atomic_store(&sd_finalized, 0);
    atomic_store(&sd_interrupts, 0);
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_event(c, sd_ev, sd_event));
    assert_ok(actor_class_on_event(c, sd_block, sd_block_event));
    assert_ok(actor_class_on_request(c, sd_req, sd_request));
    assert_ok(actor_class_on_finalize(c, sd_fin));
    if (intr)
        assert_ok(actor_class_on_interrupt(c, intr));
    return c;
}

static void shutdown_interrupts_all_and_waits(void **state)
{
    (void)state;
    actor_class *c = setup("sd.Live", NULL);
    actor_runtime *rt = tu_runtime(2);
    enum { N = 50 };
    actor_addr *as[N];
    for (int i = 0; i < N; i++) {
        as[i] = tu_spawn(rt, c, NULL);
        assert_ok(addr_send(as[i], sd_ev, NULL, 0));
    }
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_int_equal(atomic_load(&sd_finalized), N); /* all Done when it returns */
    assert_int_equal(atomic_load(&sd_events), N);    /* queued before: handled */
    for (int i = 0; i < N; i++) {
        assert_int_equal(addr_is_done(as[i]), 1);
        assert_ok(addr_join(as[i], 0));
        addr_release(as[i]);
    }
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void shutdown_behind_queued_messages(void **state)
{
    (void)state;
    actor_class *c = setup("sd.Queued", NULL);
    tu_gate_init(&sd_gate);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, sd_block, NULL, 0));
    TU_WAIT_ENTERED(&sd_gate, 1);
    for (int i = 0; i < 100; i++)
        assert_ok(addr_send(a, sd_ev, NULL, 0));
    /* The interrupt is queued behind the 100 events; the wait times out. */
    assert_code(actor_runtime_shutdown(rt, 0), ACTOR_ETIMEDOUT);
    actor_addr *late = (actor_addr *)(uintptr_t)0x1;
    assert_code(actor_spawn(rt, c, NULL, &late), ACTOR_ECLOSED); /* even after a timeout */
    assert_ptr_equal(late, (actor_addr *)(uintptr_t)0x1);
    assert_code(actor_runtime_shutdown(rt, 20), ACTOR_ETIMEDOUT);
    tu_gate_open(&sd_gate);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_int_equal(atomic_load(&sd_events), 100);
    assert_int_equal(atomic_load(&sd_finalized), 1);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&sd_gate);
    actor_class_free(c);
}

static void spawn_after_shutdown_closed(void **state)
{
    (void)state;
    actor_class *c = setup("sd.Late", NULL);
    actor_runtime *rt = tu_runtime(1);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    actor_addr *a = (actor_addr *)(uintptr_t)0x1;
    int st = 0;
    assert_code(actor_spawn(rt, c, &st, &a), ACTOR_ECLOSED);
    assert_code(actor_spawn(rt, c, NULL, &a), ACTOR_ECLOSED);
    assert_ptr_equal(a, (actor_addr *)(uintptr_t)0x1);
    /* Shutdown twice (and more) is fine. */
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_ok(actor_runtime_shutdown(rt, 0));
    assert_ok(actor_runtime_shutdown(rt, -1));
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&sd_finalized), 0);
    actor_class_free(c);
}

static void shutdown_timeout_with_stubborn_actor(void **state)
{
    (void)state;
    actor_class *c = setup("sd.Stubborn", sd_ignore_interrupt);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t t0 = tu_now_ms();
    assert_code(actor_runtime_shutdown(rt, 50), ACTOR_ETIMEDOUT);
    int64_t waited = tu_now_ms() - t0;
    if (waited < 40)
        fail_msg("shutdown(50) gave up after %lld ms", (long long)waited);
    TU_WAIT_UNTIL(atomic_load(&sd_interrupts) >= 1, TU_LONG_MS);
    assert_int_equal(addr_is_done(a), 0);
    /* Still alive and working. */
    assert_ok(addr_send(a, sd_ev, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&sd_events) == 1, TU_LONG_MS);
    actor_addr *b = NULL;
    assert_code(actor_spawn(rt, c, NULL, &b), ACTOR_ECLOSED);
    /* Releasing its last address lets it stop; then shutdown completes. */
    addr_release(a);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_int_equal(atomic_load(&sd_finalized), 1);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void free_without_shutdown(void **state)
{
    (void)state;
    actor_class *c = setup("sd.FreeDirect", NULL);
    actor_runtime *rt = tu_runtime(2);
    enum { N = 20 };
    actor_addr *as[N];
    for (int i = 0; i < N; i++) {
        as[i] = tu_spawn(rt, c, NULL);
        assert_ok(addr_send(as[i], sd_ev, NULL, 0));
    }
    actor_runtime_free(rt); /* shuts down, waiting as long as needed */
    assert_int_equal(atomic_load(&sd_finalized), N);
    assert_int_equal(atomic_load(&sd_events), N);
    for (int i = 0; i < N; i++)
        addr_release(as[i]);
    actor_class_free(c);
}

static void addresses_outlive_runtime(void **state)
{
    (void)state;
    actor_class *c = setup("sd.Outlive", NULL);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = addr_ref(a);
    actor_runtime_free(rt);

    actor_responder *r = NULL;
    assert_code(addr_send(a, sd_ev, NULL, 0), ACTOR_ECLOSED);
    assert_code(addr_interrupt(a), ACTOR_ECLOSED);
    assert_code(addr_interact(a, sd_req, NULL, 0, &r), ACTOR_ECLOSED);
    assert_null(r);
    assert_int_equal(addr_is_done(a), 1);
    /* Done: a join only looks and finds it Done (the contract's "every
     * operation returns ECLOSED" is about sending; accept either). */
    int rc = addr_join(a, 0);
    assert_true(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
    actor_addr *d = addr_ref(b); /* cloning still works: it is just counting */
    assert_ptr_equal(d, b);
    assert_code(addr_send(d, sd_ev, NULL, 0), ACTOR_ECLOSED);
    addr_release(d);
    addr_release(b);
    addr_release(a); /* still needed: ASan checks the cell is freed */
    actor_class_free(c);
}

/* Shutdown (and free) from a handler. */
static actor_runtime *sd_rt;
static atomic_int sd_call_rc, sd_call_ran;
static int sd_call_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_store(&sd_call_rc, actor_runtime_shutdown(actor_ctx_runtime(ctx), 1000));
    /* Free on a worker: logged, nothing done. */
    actor_runtime_free(actor_ctx_runtime(ctx));
    atomic_store(&sd_call_ran, 1);
    return 0;
}

static void shutdown_from_handler_edeadlk(void **state)
{
    (void)state;
    actor_class *c = setup("sd.SelfShutdown", NULL);
    sd_call = tu_type("sd.Call", "", NULL);
    assert_ok(actor_class_on_event(c, sd_call, sd_call_event));
    atomic_store(&sd_call_rc, 1);
    atomic_store(&sd_call_ran, 0);
    tu_log_capture();
    actor_runtime *rt = sd_rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, sd_call, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&sd_call_ran) == 1, TU_LONG_MS);
    assert_code(atomic_load(&sd_call_rc), ACTOR_EDEADLK);
    TU_WAIT_UNTIL(tu_log_has(NULL, ACTOR_LOG_ERROR), TU_LONG_MS);
    /* Nothing was shut down: the runtime and the actor still work. */
    assert_ok(addr_send(a, sd_ev, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&sd_events) == 1, TU_LONG_MS);
    actor_addr *b = NULL;
    assert_ok(actor_spawn(rt, c, NULL, &b));
    addr_release(b);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    addr_release(a);
    actor_runtime_free(rt);
    tu_log_stop();
    actor_class_free(c);
}

static void runtime_new_args(void **state)
{
    (void)state;
    actor_runtime *rt = (actor_runtime *)(uintptr_t)0x1;
    assert_code(actor_runtime_new(1, NULL), ACTOR_EINVAL);
    assert_code(actor_runtime_new(1025, &rt), ACTOR_EINVAL);
    assert_code(actor_runtime_new(0xffffffffu, &rt), ACTOR_EINVAL);
    assert_ptr_equal(rt, (actor_runtime *)(uintptr_t)0x1);
    assert_code(actor_runtime_shutdown(NULL, 0), ACTOR_EINVAL);
    actor_runtime_free(NULL);

    /* 0: one worker per online CPU. Works like any other. */
    rt = tu_runtime(0);
    actor_class *c = setup("sd.Auto", NULL);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, sd_ev, NULL, 0));
    tu_stop_join(a);
    assert_int_equal(atomic_load(&sd_events), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void empty_runtime(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        actor_runtime *rt = tu_runtime(2);
        if (i % 2)
            assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
        actor_runtime_free(rt);
    }
}

/* Workers are threads: a runtime of N adds N threads (0: one per online
 * CPU); free joins them. Counted in /proc/self/task, as threads that were
 * not there before: a thread that pthread_join already returned for (the
 * workers of an earlier test's runtime) may still be listed for a moment
 * (the kernel clears its tid before it takes the task off the list), so a
 * plain count taken at the start could be one or more too high. */
typedef struct tidset {
    int n;
    int tid[256];
} tidset;

static bool tids_read(tidset *s)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return false;
    s->n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && s->n < (int)(sizeof s->tid / sizeof *s->tid))
            s->tid[s->n++] = atoi(e->d_name);
    closedir(d);
    return true;
}

/* Threads listed now that were not listed in `before` (tids are not reused
 * while listed, nor soon after). */
static int threads_since(const tidset *before)
{
    tidset now;
    if (!tids_read(&now))
        return -1;
    int n = 0;
    for (int i = 0; i < now.n; i++) {
        bool old = false;
        for (int j = 0; j < before->n && !old; j++)
            old = now.tid[i] == before->tid[j];
        n += !old;
    }
    return n;
}

static void workers_are_threads(void **state)
{
    (void)state;
    tidset before;
    if (!tids_read(&before))
        skip();
    assert_true(before.n < (int)(sizeof before.tid / sizeof *before.tid));
    /* A new worker is listed once pthread_create returned: exact at once. */
    actor_runtime *rt = tu_runtime(3);
    assert_int_equal(threads_since(&before), 3);
    actor_runtime_free(rt);
    /* Joined ones go from the list soon after: waited for. */
    TU_WAIT_UNTIL(threads_since(&before) == 0, TU_LONG_MS);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rt = tu_runtime(0);
    assert_int_equal(threads_since(&before), (int)(cpus < 1 ? 1 : cpus));
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS)); /* stops the workers */
    TU_WAIT_UNTIL(threads_since(&before) == 0, TU_LONG_MS);
    actor_runtime_free(rt);
    assert_int_equal(threads_since(&before), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(shutdown_interrupts_all_and_waits),
        TU_TEST(shutdown_behind_queued_messages),
        TU_TEST(spawn_after_shutdown_closed),
        TU_TEST(shutdown_timeout_with_stubborn_actor),
        TU_TEST(free_without_shutdown),
        TU_TEST(addresses_outlive_runtime),
        TU_TEST(shutdown_from_handler_edeadlk),
        TU_TEST(runtime_new_args),
        TU_TEST(empty_runtime),
        TU_TEST(workers_are_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
