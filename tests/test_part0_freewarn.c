/* ABI 1.1 part 0 (issue 9): while actor_runtime_free waits for actors that
 * will not stop, it logs every 10 s a WARN naming their classes with counts;
 * once they stop it returns. Takes a little over 10 s by design. */
#include "testutil.h"

#define WARN_PERIOD_MS 10000
#define LINE_DEADLINE_MS 20000

static const actor_msgtype *t_quit;
static atomic_int interrupts_ignored, quits;

/* Ignores interrupts (the runtime's shutdown among them)... */
static void ignore_interrupt(actor_ctx *ctx, void *st) { atomic_fetch_add(&interrupts_ignored, 1); }

/* ...but not this event. */
static int quit(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&quits, 1);
    actor_ctx_stop(ctx);
    return 0;
}

typedef struct freer {
    actor_runtime *rt;
    atomic_int returned;
    atomic_llong returned_at;
} freer;

static void *free_runtime(void *arg)
{
    freer *f = arg;
    actor_runtime_free(f->rt);
    atomic_store(&f->returned_at, tu_now_ms());
    atomic_store(&f->returned, 1);
    return NULL;
}

/* The index of the first captured WARN line containing all three needles
 * (pass "" for fewer), or -1. */
static long find_warn(const char *a, const char *b, const char *c)
{
    tu_global *g = tu_g();
    long found = -1;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->nlines && found < 0; i++)
        if (g->lines[i].level == ACTOR_LOG_WARN && strstr(g->lines[i].msg, a) &&
            strstr(g->lines[i].msg, b) && strstr(g->lines[i].msg, c))
            found = (long)i;
    pthread_mutex_unlock(&g->mu);
    return found;
}

static void free_warns_naming_stubborn_classes_then_returns(void **state)
{
    (void)state;
    t_quit = tu_type("p0w.Quit", "", NULL);
    actor_class *stubborn = tu_class("p0w.Stubborn");
    actor_class *mule = tu_class("p0w.Mule");
    actor_class *meek = tu_class("p0w.Meek"); /* stops on interrupt: not named */
    for (int k = 0; k < 2; k++) {
        actor_class *c = k ? mule : stubborn;
        assert_ok(actor_class_on_interrupt(c, ignore_interrupt));
        assert_ok(actor_class_on_event(c, t_quit, quit));
    }
    atomic_store(&interrupts_ignored, 0);
    atomic_store(&quits, 0);

    actor_runtime *rt = tu_runtime(2);
    actor_addr *s1 = tu_spawn(rt, stubborn, NULL), *s2 = tu_spawn(rt, stubborn, NULL);
    actor_addr *m = tu_spawn(rt, mule, NULL);
    actor_addr *meek_a = tu_spawn(rt, meek, NULL);
    tu_log_capture();

    freer f = {.rt = rt};
    atomic_store(&f.returned, 0);
    const int64_t t0 = tu_now_ms();
    pthread_t th = tu_thread(free_runtime, &f);

    /* The shutdown reaches them; they ignore it; the meek one stops. */
    TU_WAIT_UNTIL(atomic_load(&interrupts_ignored) == 3, TU_LONG_MS);
    assert_code(addr_join(meek_a, TU_LONG_MS), ACTOR_OK);
    assert_false(atomic_load(&f.returned));

    /* The warning, after about WARN_PERIOD_MS. */
    long at = -1;
    while ((at = find_warn("p0w.Stubborn (2)", "p0w.Mule (1)", "")) < 0) {
        if (atomic_load(&f.returned))
            fail_msg("actor_runtime_free returned while actors were alive");
        if (tu_now_ms() - t0 > LINE_DEADLINE_MS) {
            tu_log_dump();
            fail_msg("no WARN naming \"p0w.Stubborn (2)\" and \"p0w.Mule (1)\" within %d ms",
                     LINE_DEADLINE_MS);
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    const int64_t waited = tu_now_ms() - t0;
    if (waited < WARN_PERIOD_MS - 1000)
        fail_msg("the warning came after %lld ms, before the period of %d ms",
                 (long long)waited, WARN_PERIOD_MS);
    assert_true(find_warn("p0w.Meek", "", "") < 0); /* only the ones alive */
    assert_false(atomic_load(&f.returned));
    /* They are still open to messages: ignoring the interrupt kept them. */
    assert_code(addr_join(s1, 0), ACTOR_ETIMEDOUT);

    /* Stop them from this thread: free returns. */
    assert_ok(addr_send(s1, t_quit, NULL, 0));
    assert_ok(addr_send(s2, t_quit, NULL, 0));
    assert_ok(addr_send(m, t_quit, NULL, 0));
    const int64_t sent_at = tu_now_ms();
    TU_WAIT_UNTIL(atomic_load(&f.returned), TU_LONG_MS);
    tu_join_thread(th);
    assert_int_equal(atomic_load(&quits), 3);
    assert_true(atomic_load(&f.returned_at) >= sent_at);

    /* The addresses outlive the runtime: Done, ECLOSED, released. */
    assert_ok(addr_join(s1, 0));
    assert_code(addr_send(s1, t_quit, NULL, 0), ACTOR_ECLOSED);
    tu_log_stop();
    addr_release(s1);
    addr_release(s2);
    addr_release(m);
    addr_release(meek_a);
    actor_class_free(stubborn);
    actor_class_free(mule);
    actor_class_free(meek);
    tu_assert_no_failures();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(free_warns_naming_stubborn_classes_then_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
