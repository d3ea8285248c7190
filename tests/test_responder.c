/* Responders: wait, status, data, fd, then, free, EDEADLK. */
#include "testutil.h"

#include <poll.h>
#include <unistd.h>

static const actor_msgtype *rs_defer, *rs_echo, *rs_probe;
static _Atomic(actor_promise *) rs_promise; /* the last deferred request */
static actor_runtime *rt;
static actor_class *cls;
static actor_addr *actor;

static int defer_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_promise *pr = NULL;
    TU_CHECK_CODE(actor_ctx_defer(ctx, &pr), ACTOR_OK);
    TU_CHECK(pr != NULL);
    atomic_store(&rs_promise, pr);
    return 99; /* ignored after defer */
}

static int echo_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    return actor_ctx_reply(ctx, p, len);
}

/* Probes a responder from a worker thread: wait with a nonzero timeout is
 * EDEADLK at once even when it is complete; 0 only looks. */
static _Atomic(actor_responder *) rs_probe_target;
static atomic_int rs_probe_pos, rs_probe_neg, rs_probe_zero, rs_probe_ran;
static atomic_long rs_probe_ms;
static int probe_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_responder *r = atomic_load(&rs_probe_target);
    int64_t t0 = tu_now_ms();
    atomic_store(&rs_probe_pos, actor_responder_wait(r, 5000));
    atomic_store(&rs_probe_neg, actor_responder_wait(r, -1));
    atomic_store(&rs_probe_ms, (long)(tu_now_ms() - t0));
    atomic_store(&rs_probe_zero, actor_responder_wait(r, 0));
    atomic_fetch_add(&rs_probe_ran, 1);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    tu_reset_failures();
    rs_defer = tu_type("rs.Defer", "q", "q");
    rs_echo = tu_type("rs.Echo", "q", "q");
    rs_probe = tu_type("rs.Probe", "", NULL);
    cls = tu_class("rs.Actor");
    assert_ok(actor_class_on_request(cls, rs_defer, defer_request));
    assert_ok(actor_class_on_request(cls, rs_echo, echo_request));
    assert_ok(actor_class_on_event(cls, rs_probe, probe_event));
    rt = tu_runtime(2);
    actor = tu_spawn(rt, cls, NULL);
    atomic_store(&rs_promise, NULL);
    return 0;
}

static int teardown(void **state)
{
    int rc = addr_interrupt(actor);
    (void)rc;
    addr_join(actor, TU_LONG_MS);
    addr_release(actor);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return tu_teardown(state);
}

#define RS_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* Issues a deferred request; returns its responder, *p its promise. */
static actor_responder *deferred(int64_t v, actor_promise **p)
{
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)v);
    atomic_store(&rs_promise, NULL);
    actor_responder *r = NULL;
    assert_ok(addr_interact(actor, rs_defer, buf, 8, &r));
    TU_WAIT_UNTIL(atomic_load(&rs_promise) != NULL, TU_LONG_MS);
    *p = atomic_exchange(&rs_promise, NULL);
    return r;
}

static actor_responder *echo(int64_t v)
{
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)v);
    actor_responder *r = NULL;
    assert_ok(addr_interact(actor, rs_echo, buf, 8, &r));
    return r;
}

static void resolve_value(actor_promise *p, int64_t v)
{
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)v);
    assert_ok(actor_promise_resolve(p, buf, 8));
}

static void wait_timeout_then_complete(void **state)
{
    (void)state;
    actor_promise *p = NULL;
    actor_responder *r = deferred(5, &p);
    /* Pending (the handler's return 99 was ignored after defer). */
    assert_code(actor_responder_status(r), ACTOR_EAGAIN);
    int64_t t0 = tu_now_ms();
    assert_code(actor_responder_wait(r, 80), ACTOR_ETIMEDOUT);
    int64_t waited = tu_now_ms() - t0;
    if (waited < 70)
        fail_msg("wait(r, 80) gave up after %lld ms", (long long)waited);
    t0 = tu_now_ms();
    assert_code(actor_responder_wait(r, 0), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 < 1000);
    assert_code(actor_responder_status(r), ACTOR_EAGAIN);
    size_t len = 77;
    assert_null(actor_responder_data(r, &len));
    assert_int_equal(len, 0);
    assert_int_equal(actor_responder_handler_error(r), 0);
    assert_ptr_equal(actor_responder_type(r), rs_defer);

    resolve_value(p, 1234);
    assert_ok(actor_responder_wait(r, 0)); /* complete now: looking says OK */
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_ok(actor_responder_wait(r, -1));
    assert_ok(actor_responder_status(r));
    const unsigned char *d = actor_responder_data(r, &len);
    assert_non_null(d);
    assert_int_equal(len, 8);
    assert_int_equal(tu_get_u64(d), 1234);
    /* The data stays valid and the same until free. */
    assert_ptr_equal(actor_responder_data(r, NULL), d);
    actor_responder_free(r);
}

/* ---- the fd ------------------------------------------------------------- */

static int poll_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc == 1 && (pfd.revents & POLLIN);
}

static void fd_readable_once_complete(void **state)
{
    (void)state;
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    int fd = actor_responder_fd(r);
    assert_true(fd >= 0);
    assert_int_equal(actor_responder_fd(r), fd); /* the same fd every call */
    assert_false(poll_readable(fd, 0));
    assert_false(poll_readable(fd, 30));
    resolve_value(p, 7);
    assert_true(poll_readable(fd, TU_LONG_MS));
    assert_true(poll_readable(fd, 0)); /* stays readable: we do not read it */
    assert_ok(actor_responder_status(r));
    actor_responder_free(r); /* closes the fd */

    /* Asked for after completion: readable at once. */
    actor_responder *r2 = echo(3);
    assert_ok(actor_responder_wait(r2, TU_LONG_MS));
    int fd2 = actor_responder_fd(r2);
    assert_true(fd2 >= 0);
    assert_true(poll_readable(fd2, 0));
    actor_responder_free(r2);

    /* Completed by a cancel: readable as well. */
    actor_responder *r3 = deferred(2, &p);
    int fd3 = actor_responder_fd(r3);
    assert_true(fd3 >= 0);
    assert_false(poll_readable(fd3, 0));
    actor_promise_free(p);
    assert_true(poll_readable(fd3, TU_LONG_MS));
    assert_code(actor_responder_status(r3), ACTOR_ECANCELED);
    actor_responder_free(r3);
}

static void fd_many_responders(void **state)
{
    (void)state;
    /* fds are closed by free: many responders do not run out of fds. */
    for (int i = 0; i < 3000; i++) {
        actor_responder *r = echo(i);
        int fd = actor_responder_fd(r);
        assert_true(fd >= 0);
        assert_true(poll_readable(fd, TU_LONG_MS));
        actor_responder_free(r);
    }
}

/* ---- then --------------------------------------------------------------- */

struct then_rec {
    atomic_int calls;
    atomic_int on_expected_thread;
    atomic_int status_seen;
    pthread_t expected;
    _Atomic(actor_responder *) r_seen;
};

static void then_cb(actor_responder *r, void *ud)
{
    struct then_rec *tr = ud;
    atomic_store(&tr->on_expected_thread, pthread_equal(pthread_self(), tr->expected) != 0);
    atomic_store(&tr->status_seen, actor_responder_status(r));
    atomic_store(&tr->r_seen, r);
    atomic_fetch_add(&tr->calls, 1);
}

static void then_at_once_when_complete(void **state)
{
    (void)state;
    static struct then_rec tr;
    memset(&tr, 0, sizeof tr);
    tr.expected = pthread_self();
    actor_responder *r = echo(9);
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_ok(actor_responder_then(r, then_cb, &tr));
    assert_int_equal(atomic_load(&tr.calls), 1); /* before then returned */
    assert_int_equal(atomic_load(&tr.on_expected_thread), 1);
    assert_code(atomic_load(&tr.status_seen), ACTOR_OK);
    assert_ptr_equal(atomic_load(&tr.r_seen), r);
    /* A second callback: EINVAL; the first is not called again. */
    assert_code(actor_responder_then(r, then_cb, &tr), ACTOR_EINVAL);
    assert_int_equal(atomic_load(&tr.calls), 1);
    actor_responder_free(r);
    assert_int_equal(atomic_load(&tr.calls), 1);
}

/* Pending when then() is set: the callback runs on the thread that
 * completes the responder (here a thread of ours that resolves). */
static _Atomic(int) cb_thread_ok;
static pthread_t completer_thread;
static atomic_int completer_known, cb_calls2;
static void then_thread_cb(actor_responder *r, void *ud)
{
    TU_CHECK(atomic_load(&completer_known) == 1);
    atomic_store(&cb_thread_ok, pthread_equal(pthread_self(), completer_thread) != 0);
    atomic_fetch_add(&cb_calls2, 1);
}
static void *resolver2(void *arg)
{
    completer_thread = pthread_self();
    atomic_store(&completer_known, 1);
    unsigned char buf[8] = {0};
    TU_CHECK_CODE(actor_promise_resolve((actor_promise *)arg, buf, 8), ACTOR_OK);
    return NULL;
}

static void then_runs_on_resolving_thread(void **state)
{
    (void)state;
    atomic_store(&cb_thread_ok, 0);
    atomic_store(&completer_known, 0);
    atomic_store(&cb_calls2, 0);
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    assert_ok(actor_responder_then(r, then_thread_cb, NULL));
    pthread_t th = tu_thread(resolver2, p);
    tu_join_thread(th);
    TU_WAIT_UNTIL(atomic_load(&cb_calls2) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&cb_thread_ok), 1);
    actor_responder_free(r);
    assert_int_equal(atomic_load(&cb_calls2), 1);
    tu_assert_no_failures();
}

/* A callback may free its responder. */
static atomic_int self_free_calls;
static void self_freeing_cb(actor_responder *r, void *ud)
{
    atomic_fetch_add(&self_free_calls, 1);
    actor_responder_free(r);
}

static void then_callback_may_free(void **state)
{
    (void)state;
    atomic_store(&self_free_calls, 0);
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        actor_responder *r = echo(i);
        assert_ok(actor_responder_then(r, self_freeing_cb, NULL)); /* races completion */
    }
    /* And when pending for sure (completed by the test). */
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    assert_ok(actor_responder_then(r, self_freeing_cb, NULL));
    resolve_value(p, 1);
    TU_WAIT_UNTIL(atomic_load(&self_free_calls) == N + 1, TU_LONG_MS);
}

static void then_on_cancel(void **state)
{
    (void)state;
    static struct then_rec tr;
    memset(&tr, 0, sizeof tr);
    tr.expected = pthread_self();
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    assert_ok(actor_responder_then(r, then_cb, &tr));
    actor_promise_free(p); /* completes ECANCELED on this thread */
    TU_WAIT_UNTIL(atomic_load(&tr.calls) == 1, TU_LONG_MS);
    assert_code(atomic_load(&tr.status_seen), ACTOR_ECANCELED);
    assert_int_equal(atomic_load(&tr.on_expected_thread), 1);
    actor_responder_free(r);
}

/* ---- free ----------------------------------------------------------------- */

static void free_while_pending(void **state)
{
    (void)state;
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    (void)actor_responder_fd(r);
    actor_responder_free(r); /* the reply will be dropped */
    resolve_value(p, 5);     /* still fine for the promise side */

    r = deferred(2, &p);
    actor_responder_free(r);
    assert_ok(actor_promise_reject(p, 3));

    r = deferred(3, &p);
    actor_responder_free(r);
    actor_promise_free(p);
}

static atomic_int never_calls;
static void never_cb(actor_responder *r, void *ud) { atomic_fetch_add(&never_calls, 1); }

static void free_with_then_never_calls(void **state)
{
    (void)state;
    atomic_store(&never_calls, 0);
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    assert_ok(actor_responder_then(r, never_cb, NULL));
    actor_responder_free(r);
    resolve_value(p, 1);
    assert_int_equal(atomic_load(&never_calls), 0);
}

/* free racing completion: once free returned, the callback is not running
 * and never runs. */
static atomic_int race_entered, race_exited, race_after_free, race_freed;
static void race_cb(actor_responder *r, void *ud)
{
    atomic_fetch_add(&race_entered, 1);
    if (atomic_load(&race_freed))
        atomic_fetch_add(&race_after_free, 1);
    /* Stay a little while to widen the window. */
    int64_t until = tu_now_ns() + 20000;
    while (tu_now_ns() < until) {
    }
    if (atomic_load(&race_freed))
        atomic_fetch_add(&race_after_free, 1);
    atomic_fetch_add(&race_exited, 1);
}

static void free_races_completion(void **state)
{
    (void)state;
    atomic_store(&race_entered, 0);
    atomic_store(&race_exited, 0);
    atomic_store(&race_after_free, 0);
    const int n = (int)tu_scale(3000);
    for (int i = 0; i < n; i++) {
        atomic_store(&race_freed, 0);
        actor_responder *r = echo(i);
        assert_ok(actor_responder_then(r, race_cb, NULL));
        /* Free at varying distances from the completion. */
        int64_t until = tu_now_ns() + (i % 8) * 4000;
        while (tu_now_ns() < until) {
        }
        actor_responder_free(r);
        atomic_store(&race_freed, 1);
        /* After free returned, the callback is not running. */
        if (atomic_load(&race_entered) != atomic_load(&race_exited))
            fail_msg("iteration %d: the callback is running after free returned", i);
    }
    /* Nothing ran after a free returned. */
    assert_int_equal(atomic_load(&race_after_free), 0);
    assert_int_equal(atomic_load(&race_entered), atomic_load(&race_exited));
}

/* Deterministic: the callback is known to be running (it spins for a
 * while on the resolving thread) when free is called; free must not return
 * before it ended. */
static atomic_int fw_entered, fw_exited;
static void slow_cb(actor_responder *r, void *ud)
{
    atomic_fetch_add(&fw_entered, 1);
    int64_t until = tu_now_ns() + 20 * 1000000LL; /* 20 ms, then it ends */
    while (tu_now_ns() < until) {
    }
    atomic_fetch_add(&fw_exited, 1);
}
static void *resolve_zero(void *arg)
{
    unsigned char buf[8] = {0};
    TU_CHECK_CODE(actor_promise_resolve((actor_promise *)arg, buf, 8), ACTOR_OK);
    return NULL;
}

static void free_waits_for_running_callback(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        atomic_store(&fw_entered, 0);
        atomic_store(&fw_exited, 0);
        actor_promise *p = NULL;
        actor_responder *r = deferred(i, &p);
        assert_ok(actor_responder_then(r, slow_cb, NULL));
        pthread_t th = tu_thread(resolve_zero, p);
        TU_WAIT_UNTIL(atomic_load(&fw_entered) == 1, TU_LONG_MS);
        actor_responder_free(r);
        if (atomic_load(&fw_exited) != 1)
            fail_msg("actor_responder_free returned while the callback was running");
        tu_join_thread(th);
    }
    tu_assert_no_failures();
}

/* ---- EDEADLK on a worker ---------------------------------------------------- */

static void wait_on_worker_edeadlk(void **state)
{
    (void)state;
    actor_responder *done = echo(8);
    assert_ok(actor_responder_wait(done, TU_LONG_MS));
    atomic_store(&rs_probe_target, done);
    atomic_store(&rs_probe_ran, 0);
    assert_ok(addr_send(actor, rs_probe, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&rs_probe_ran) == 1, TU_LONG_MS);
    assert_code(atomic_load(&rs_probe_pos), ACTOR_EDEADLK);
    assert_code(atomic_load(&rs_probe_neg), ACTOR_EDEADLK);
    assert_code(atomic_load(&rs_probe_zero), ACTOR_OK); /* 0 only looks */
    if (atomic_load(&rs_probe_ms) >= 2000)
        fail_msg("EDEADLK waits took %ld ms", atomic_load(&rs_probe_ms));

    /* A pending one from a worker: EDEADLK as well; 0 looks: ETIMEDOUT. */
    actor_promise *p = NULL;
    actor_responder *pend = deferred(1, &p);
    atomic_store(&rs_probe_target, pend);
    atomic_store(&rs_probe_ran, 0);
    assert_ok(addr_send(actor, rs_probe, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&rs_probe_ran) == 1, TU_LONG_MS);
    assert_code(atomic_load(&rs_probe_pos), ACTOR_EDEADLK);
    assert_code(atomic_load(&rs_probe_neg), ACTOR_EDEADLK);
    assert_code(atomic_load(&rs_probe_zero), ACTOR_ETIMEDOUT);
    if (atomic_load(&rs_probe_ms) >= 2000)
        fail_msg("EDEADLK waits took %ld ms", atomic_load(&rs_probe_ms));
    actor_promise_free(p);
    actor_responder_free(pend);
    actor_responder_free(done);
}

/* Several threads wait on one responder. */
static void *waiter(void *arg)
{
    TU_CHECK_CODE(actor_responder_wait((actor_responder *)arg, -1), ACTOR_OK);
    return NULL;
}

static void many_waiters(void **state)
{
    (void)state;
    actor_promise *p = NULL;
    actor_responder *r = deferred(1, &p);
    enum { NW = 4 };
    pthread_t th[NW];
    for (int i = 0; i < NW; i++)
        th[i] = tu_thread(waiter, r);
    resolve_value(p, 11);
    for (int i = 0; i < NW; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    actor_responder_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RS_TEST(wait_timeout_then_complete),
        RS_TEST(fd_readable_once_complete),
        RS_TEST(fd_many_responders),
        RS_TEST(then_at_once_when_complete),
        RS_TEST(then_runs_on_resolving_thread),
        RS_TEST(then_callback_may_free),
        RS_TEST(then_on_cancel),
        RS_TEST(free_while_pending),
        RS_TEST(free_with_then_never_calls),
        RS_TEST(free_races_completion),
        RS_TEST(free_waits_for_running_callback),
        RS_TEST(wait_on_worker_edeadlk),
        RS_TEST(many_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
