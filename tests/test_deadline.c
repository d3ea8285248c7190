/* ABI 1.1 part 1 (issue 10): request deadlines — addr_interact_within and
 * actor_ctx_deadline_left. On a manual runtime the deadline is exact
 * (advance to deadline - 1: pending; one more ms: ACTOR_EEXPIRED) whichever
 * way the responder is awaited: wait, fd, then, forward. Threaded cases: a
 * deadline fires while the target's only worker is stuck; a late reply;
 * 4 threads x 10k requests with small random deadlines. */
#include "testutil.h"

#include <limits.h>
#include <poll.h>

static const actor_msgtype *t_ask, *t_ev, *t_tick2;

/* dl.Ask "qq" -> "q": (mode, x). */
enum { M_REPLY = 1, M_DEFER, M_GATE, M_POLL_LEFT, M_NOTHING, M_AFTER_HELD };

static tu_gate gate;
static atomic_int handled[8];          /* by mode */
static atomic_llong left_at_start;     /* deadline_left at the handler's start */
static atomic_llong left_after_gate;
static atomic_int late_reply_rc;
static _Atomic(actor_promise *) deferred;
static atomic_llong left_in_event, left_in_init, left_in_response;
static atomic_int poll_bad, poll_samples;
static atomic_llong poll_first;
static atomic_int clock_held;
static tu_gate clock_gate;

static int reply_x(actor_ctx *ctx, int64_t x)
{
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(2 * x + 1));
    return actor_ctx_reply(ctx, out, 8);
}

static int target_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t mode = (int64_t)tu_get_u64(p), x = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    atomic_store(&left_at_start, actor_ctx_deadline_left(ctx));
    if (mode >= 0 && mode < 8)
        atomic_fetch_add(&handled[mode], 1);
    switch (mode) {
    case M_REPLY:
        TU_CHECK_CODE(reply_x(ctx, x), ACTOR_OK);
        return 0;
    case M_DEFER: {
        actor_promise *pr = NULL;
        TU_CHECK_CODE(actor_ctx_defer(ctx, &pr), ACTOR_OK);
        atomic_store(&deferred, pr);
        return 0;
    }
    case M_GATE:
        tu_gate_wait(&gate, TU_LONG_MS);
        atomic_store(&left_after_gate, actor_ctx_deadline_left(ctx));
        atomic_store(&late_reply_rc, reply_x(ctx, x));
        return 0;
    case M_AFTER_HELD: {
        /* Once the clock thread is held (clock_held), wait until this
         * request's deadline has certainly passed (deadline_left() says 0
         * up to 1 ms early: it rounds down), then answer. */
        int64_t t_end = tu_now_ms() + TU_LONG_MS + actor_ctx_deadline_left(ctx);
        while (!atomic_load(&clock_held) && tu_now_ms() < t_end)
            tu_pause();
        while (actor_ctx_deadline_left(ctx) > 0 && tu_now_ms() < t_end)
            tu_pause();
        struct timespec ts = {0, 3 * 1000000L};
        nanosleep(&ts, NULL);
        TU_CHECK(actor_ctx_deadline_left(ctx) == 0);
        atomic_store(&late_reply_rc, reply_x(ctx, x));
        return 0;
    }
    case M_POLL_LEFT: {
        /* Watch the ms left fall to 0 (bounded), never rising. */
        int64_t prev = actor_ctx_deadline_left(ctx), t_end = tu_now_ms() + TU_LONG_MS;
        atomic_store(&poll_first, prev);
        while (prev > 0 && tu_now_ms() < t_end) {
            int64_t now = actor_ctx_deadline_left(ctx);
            atomic_fetch_add(&poll_samples, 1);
            if (now > prev || now < 0)
                atomic_fetch_add(&poll_bad, 1);
            prev = now;
        }
        TU_CHECK(prev == 0);
        TU_CHECK(actor_ctx_deadline_left(ctx) == 0); /* stays 0 once passed */
        atomic_store(&late_reply_rc, reply_x(ctx, x));
        return 0;
    }
    default:
        return 0;
    }
}

static int target_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_store(&left_in_event, actor_ctx_deadline_left(ctx));
    return 0;
}

static int target_init(actor_ctx *ctx, void *st)
{
    atomic_store(&left_in_init, actor_ctx_deadline_left(ctx));
    return 0;
}

/* The collector: what on_response saw. */
static atomic_int col_calls, col_status, col_len, col_null;
static atomic_llong col_now, col_value;

static void col_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                         const void *reply, size_t len)
{
    atomic_store(&left_in_response, actor_ctx_deadline_left(ctx));
    atomic_store(&col_status, status);
    atomic_store(&col_len, (int)len);
    atomic_store(&col_null, reply == NULL);
    atomic_store(&col_now, (long long)actor_runtime_now_ms(actor_ctx_runtime(ctx)));
    if (reply != NULL && len == 8)
        atomic_store(&col_value, (long long)tu_get_u64(reply));
    atomic_fetch_add(&col_calls, 1);
}

static actor_class *target_cls, *col_cls;

static int setup(void **state)
{
    tu_reset_failures();
    t_ask = tu_type("dl.Ask", "qq", "q");
    t_ev = tu_type("dl.Ev", "", NULL);
    target_cls = tu_class("dl.Target");
    assert_ok(actor_class_on_request(target_cls, t_ask, target_request));
    assert_ok(actor_class_on_event(target_cls, t_ev, target_event));
    assert_ok(actor_class_on_init(target_cls, target_init));
    col_cls = tu_class("dl.Collector");
    assert_ok(actor_class_on_response(col_cls, t_ask, col_response));
    for (int i = 0; i < 8; i++)
        atomic_store(&handled[i], 0);
    atomic_store(&left_at_start, -99);
    atomic_store(&left_after_gate, -99);
    atomic_store(&late_reply_rc, 99);
    atomic_store(&deferred, NULL);
    atomic_store(&left_in_event, -99);
    atomic_store(&left_in_init, -99);
    atomic_store(&left_in_response, -99);
    atomic_store(&poll_bad, 0);
    atomic_store(&poll_samples, 0);
    atomic_store(&poll_first, -99);
    atomic_store(&col_calls, 0);
    atomic_store(&col_status, 99);
    atomic_store(&col_len, -1);
    atomic_store(&col_null, 0);
    atomic_store(&col_now, -1);
    atomic_store(&col_value, -1);
    tu_gate_init(&gate);
    return 0;
}

static int teardown(void **state)
{
    tu_gate_open(&gate); /* a failed test must not leave a handler stuck */
    actor_class_free(target_cls);
    actor_class_free(col_cls);
    target_cls = col_cls = NULL;
    tu_gate_destroy(&gate);
    return tu_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static actor_runtime *manual(uint64_t seed)
{
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(seed, &rt));
    return rt;
}

static actor_responder *ask_within(actor_addr *a, int64_t mode, int64_t x, int timeout_ms)
{
    unsigned char b[16];
    tu_put_u64(b, (uint64_t)mode);
    tu_put_u64(b + 8, (uint64_t)x);
    actor_responder *r = NULL;
    assert_ok(addr_interact_within(a, t_ask, b, 16, timeout_ms, &r));
    assert_non_null(r);
    return r;
}

static actor_responder *ask(actor_addr *a, int64_t mode, int64_t x)
{
    unsigned char b[16];
    tu_put_u64(b, (uint64_t)mode);
    tu_put_u64(b + 8, (uint64_t)x);
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t_ask, b, 16, &r));
    return r;
}

static void run_all(actor_runtime *rt) { assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL)); }

static int fd_ready(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int n = poll(&pfd, 1, 0);
    assert_true(n >= 0);
    return n == 1 && (pfd.revents & POLLIN);
}

/* ------------------------------------------------------------------------ */
/* Manual: expiry at the exact ms, whichever way it is awaited                */
/* ------------------------------------------------------------------------ */

enum { BY_WAIT, BY_FD, BY_THEN, BY_FORWARD };

static atomic_int then_calls, then_status;
static atomic_llong then_now;
static actor_runtime *then_rt;

static void then_cb(actor_responder *r, void *ud)
{
    atomic_store(&then_status, actor_responder_status(r));
    atomic_store(&then_now, (long long)actor_runtime_now_ms(then_rt));
    size_t len = 99;
    TU_CHECK(actor_responder_data(r, &len) == NULL && len == 0);
    atomic_fetch_add(&then_calls, 1);
    TU_CHECK(ud == (void *)&then_calls);
}

static void expire_exactly(int how)
{
    atomic_store(&then_calls, 0);
    atomic_store(&then_status, 99);
    atomic_store(&then_now, -1);
    actor_runtime *rt = manual(21);
    then_rt = rt;
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_addr *col = tu_spawn(rt, col_cls, NULL);
    assert_ok(actor_runtime_advance(rt, 1000)); /* start from a clock that is not 0 */
    actor_responder *r = ask_within(target, M_DEFER, 5, 100);
    run_all(rt);
    assert_int_equal(atomic_load(&handled[M_DEFER]), 1);
    assert_int_equal(atomic_load(&left_at_start), 100);
    actor_promise *p = atomic_load(&deferred);
    assert_non_null(p);
    int fd = -1;
    switch (how) {
    case BY_FD:
        fd = actor_responder_fd(r);
        assert_true(fd >= 0);
        assert_false(fd_ready(fd));
        break;
    case BY_THEN:
        assert_ok(actor_responder_then(r, then_cb, &then_calls));
        break;
    case BY_FORWARD:
        assert_ok(actor_responder_forward(r, col));
        r = NULL; /* consumed */
        break;
    default:
        break;
    }

    assert_ok(actor_runtime_advance(rt, 99));
    assert_int_equal(actor_runtime_now_ms(rt), 1099);
    switch (how) {
    case BY_WAIT:
        assert_code(actor_responder_status(r), ACTOR_EAGAIN);
        assert_code(actor_responder_wait(r, 0), ACTOR_ETIMEDOUT);
        /* A blocking wait runs the runtime until idle and returns at once,
         * without moving the clock to the deadline. */
        assert_code(actor_responder_wait(r, -1), ACTOR_ETIMEDOUT);
        assert_int_equal(actor_runtime_now_ms(rt), 1099);
        assert_code(actor_responder_status(r), ACTOR_EAGAIN);
        break;
    case BY_FD:
        assert_false(fd_ready(fd));
        break;
    case BY_THEN:
        assert_int_equal(atomic_load(&then_calls), 0);
        break;
    case BY_FORWARD:
        assert_int_equal(atomic_load(&col_calls), 0);
        break;
    }

    assert_ok(actor_runtime_advance(rt, 1));
    switch (how) {
    case BY_WAIT:
        assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
        assert_code(actor_responder_wait(r, -1), ACTOR_EEXPIRED);
        assert_code(actor_responder_wait(r, 0), ACTOR_EEXPIRED);
        break;
    case BY_FD:
        assert_true(fd_ready(fd));
        assert_int_equal(actor_responder_fd(r), fd);
        assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
        break;
    case BY_THEN:
        assert_int_equal(atomic_load(&then_calls), 1);
        assert_code(atomic_load(&then_status), ACTOR_EEXPIRED);
        assert_int_equal(atomic_load(&then_now), 1100);
        break;
    case BY_FORWARD:
        assert_int_equal(atomic_load(&col_calls), 1);
        assert_code(atomic_load(&col_status), ACTOR_EEXPIRED);
        assert_int_equal(atomic_load(&col_len), 0);
        assert_int_equal(atomic_load(&col_null), 1);
        assert_int_equal(atomic_load(&col_now), 1100); /* handled at that very ms */
        assert_int_equal(atomic_load(&left_in_response), -1);
        break;
    }
    if (r != NULL) {
        size_t len = 99;
        assert_null(actor_responder_data(r, &len));
        assert_int_equal(len, 0);
        assert_int_equal(actor_responder_handler_error(r), 0);
    }

    /* A late resolve: ACTOR_OK, consumed, and the answer goes nowhere. */
    int64_t v = 77;
    assert_ok(actor_promise_resolve(p, &v, 8));
    run_all(rt);
    assert_ok(actor_runtime_advance(rt, 1000));
    if (r != NULL) {
        assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
        assert_null(actor_responder_data(r, NULL));
    }
    assert_int_equal(atomic_load(&then_calls), how == BY_THEN ? 1 : 0);
    assert_int_equal(atomic_load(&col_calls), how == BY_FORWARD ? 1 : 0);
    actor_responder_free(r);
    addr_release(target);
    addr_release(col);
    actor_runtime_free(rt);
    tu_assert_no_failures();
}

static void manual_expires_exactly_wait(void **state) { expire_exactly(BY_WAIT); }
static void manual_expires_exactly_fd(void **state) { expire_exactly(BY_FD); }
static void manual_expires_exactly_then(void **state) { expire_exactly(BY_THEN); }
static void manual_expires_exactly_forward(void **state) { expire_exactly(BY_FORWARD); }

static void manual_late_reject_ok(void **state)
{
    actor_runtime *rt = manual(22);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_responder *r = ask_within(target, M_DEFER, 5, 10);
    run_all(rt);
    actor_promise *p = atomic_load(&deferred);
    assert_non_null(p);
    assert_ok(actor_runtime_advance(rt, 10));
    assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
    assert_code(actor_promise_reject(p, 0), ACTOR_EINVAL); /* still ours */
    assert_ok(actor_promise_reject(p, 9));                 /* consumed */
    assert_code(actor_responder_wait(r, -1), ACTOR_EEXPIRED);
    assert_int_equal(actor_responder_handler_error(r), 0);
    actor_responder_free(r);
    addr_release(target);
    actor_runtime_free(rt);
}

/* Answered in time: the deadline that comes later changes nothing, and a
 * then-callback ran once. */
static void manual_answered_stays_ok(void **state)
{
    atomic_store(&then_calls, 0);
    actor_runtime *rt = manual(23);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_responder *r = ask_within(target, M_REPLY, 20, 50);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK); /* drives it */
    size_t len = 0;
    const void *d = actor_responder_data(r, &len);
    assert_non_null(d);
    assert_int_equal(len, 8);
    assert_int_equal(tu_get_u64(d), 41);
    assert_ok(actor_runtime_advance(rt, 200));
    assert_code(actor_responder_status(r), ACTOR_OK);
    assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 41);
    /* The same with the deadline reached by a deferred answer just in time
     * (1 ms before). */
    actor_responder *r2 = ask_within(target, M_DEFER, 3, 50);
    run_all(rt);
    assert_ok(actor_runtime_advance(rt, 49));
    int64_t v = 7;
    assert_ok(actor_promise_resolve(atomic_load(&deferred), &v, 8));
    assert_code(actor_responder_status(r2), ACTOR_OK);
    assert_ok(actor_runtime_advance(rt, 100));
    assert_code(actor_responder_status(r2), ACTOR_OK);
    assert_int_equal(tu_get_u64(actor_responder_data(r2, NULL)), 7);
    actor_responder_free(r);
    actor_responder_free(r2);
    addr_release(target);
    actor_runtime_free(rt);
}

/* The clock of a manual target is virtual: real time passing expires
 * nothing. */
static void manual_deadline_is_virtual(void **state)
{
    actor_runtime *rt = manual(24);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_responder *r = ask_within(target, M_DEFER, 1, 1);
    run_all(rt);
    struct timespec ts = {0, 5 * 1000000L}; /* 5 real ms: a negative check */
    nanosleep(&ts, NULL);
    run_all(rt);
    assert_code(actor_responder_status(r), ACTOR_EAGAIN);
    assert_ok(actor_runtime_advance(rt, 1));
    assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
    actor_promise_free(atomic_load(&deferred));
    actor_responder_free(r);
    addr_release(target);
    actor_runtime_free(rt);
}

/* ------------------------------------------------------------------------ */
/* 0 ms, INT_MAX, negative                                                    */
/* ------------------------------------------------------------------------ */

static void zero_ms_never_handled(void **state)
{
    /* Manual: exact. */
    actor_runtime *rt = manual(25);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    run_all(rt);
    actor_responder *r = ask_within(target, M_REPLY, 1, 0);
    run_all(rt);
    assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
    assert_int_equal(atomic_load(&handled[M_REPLY]), 0);
    actor_responder_free(r);
    /* And awaited by a blocking wait (which drives it). */
    r = ask_within(target, M_REPLY, 1, 0);
    assert_code(actor_responder_wait(r, -1), ACTOR_EEXPIRED);
    assert_int_equal(atomic_load(&handled[M_REPLY]), 0);
    assert_int_equal(actor_runtime_now_ms(rt), 0);
    actor_responder_free(r);
    addr_release(target);
    actor_runtime_free(rt);

    /* Threaded: the handler never runs (the request after it is handled,
     * so the 0 ms one was taken off the mailbox before). */
    rt = tu_runtime(2);
    target = tu_spawn(rt, target_cls, NULL);
    for (int i = 0; i < 50; i++) {
        r = ask_within(target, M_REPLY, 1, 0);
        assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_EEXPIRED);
        actor_responder_free(r);
    }
    r = ask(target, M_NOTHING, 0);
    assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_ECANCELED);
    actor_responder_free(r);
    assert_int_equal(atomic_load(&handled[M_REPLY]), 0);
    tu_stop_join(target);
    addr_release(target);
    actor_runtime_free(rt);
    tu_assert_no_failures();
}

static void int_max_answered(void **state)
{
    actor_runtime *rt = manual(26);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_responder *r = ask_within(target, M_REPLY, 10, INT_MAX);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 21);
    assert_int_equal(atomic_load(&left_at_start), INT_MAX);
    actor_responder_free(r);
    addr_release(target);
    actor_runtime_free(rt);

    rt = tu_runtime(1);
    target = tu_spawn(rt, target_cls, NULL);
    r = ask_within(target, M_REPLY, 11, INT_MAX);
    assert_code(actor_responder_wait(r, TU_LONG_MS), ACTOR_OK);
    assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 23);
    long long left = atomic_load(&left_at_start);
    assert_true(left <= INT_MAX && left >= (long long)INT_MAX - TU_LONG_MS);
    actor_responder_free(r);
    tu_stop_join(target);
    addr_release(target);
    actor_runtime_free(rt);
}

static void negative_and_null_einval(void **state)
{
    actor_runtime *rt = manual(27);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    unsigned char b[16] = {0};
    actor_responder *sentinel = (actor_responder *)(uintptr_t)0x1;
    actor_responder *r = sentinel;
    assert_code(addr_interact_within(target, t_ask, b, 16, -1, &r), ACTOR_EINVAL);
    assert_code(addr_interact_within(target, t_ask, b, 16, INT_MIN, &r), ACTOR_EINVAL);
    assert_ptr_equal(r, sentinel); /* untouched */
    assert_code(addr_interact_within(NULL, t_ask, b, 16, 10, &r), ACTOR_EINVAL);
    assert_code(addr_interact_within(target, NULL, b, 16, 10, &r), ACTOR_EINVAL);
    assert_code(addr_interact_within(target, t_ask, NULL, 16, 10, &r), ACTOR_EINVAL);
    assert_code(addr_interact_within(target, t_ask, b, 16, 10, NULL), ACTOR_EINVAL);
    assert_code(addr_interact_within(target, t_ask, b, 8, 10, &r), ACTOR_ETYPE);
    assert_code(addr_interact_within(target, t_ev, NULL, 0, 10, &r), ACTOR_ENOHANDLER);
    assert_ptr_equal(r, sentinel);
    run_all(rt);
    assert_int_equal(atomic_load(&handled[0]) + atomic_load(&handled[M_REPLY]), 0);
    tu_stop_join(target);
    /* Done: ECLOSED, and nothing armed. */
    assert_code(addr_interact_within(target, t_ask, b, 16, 10, &r), ACTOR_ECLOSED);
    assert_ptr_equal(r, sentinel);
    assert_int_equal(actor_ctx_deadline_left(NULL), -1);
    addr_release(target);
    actor_runtime_free(rt);
}

/* ------------------------------------------------------------------------ */
/* actor_ctx_deadline_left                                                    */
/* ------------------------------------------------------------------------ */

static void deadline_left_values(void **state)
{
    actor_runtime *rt = manual(28);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_addr *col = tu_spawn(rt, col_cls, NULL);
    run_all(rt);
    assert_int_equal(atomic_load(&left_in_init), -1);
    assert_ok(addr_send(target, t_ev, NULL, 0));
    run_all(rt);
    assert_int_equal(atomic_load(&left_in_event), -1);

    actor_responder *r = ask_within(target, M_REPLY, 1, 500);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    assert_int_equal(atomic_load(&left_at_start), 500);
    actor_responder_free(r);

    r = ask(target, M_REPLY, 1); /* no deadline */
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    assert_int_equal(atomic_load(&left_at_start), -1);
    actor_responder_free(r);

    /* Relative to the call, on the virtual clock. */
    assert_ok(actor_runtime_advance(rt, 200));
    r = ask_within(target, M_REPLY, 1, 500);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    assert_int_equal(atomic_load(&left_at_start), 500);
    actor_responder_free(r);
    r = ask_within(target, M_REPLY, 1, 1);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    assert_int_equal(atomic_load(&left_at_start), 1);
    actor_responder_free(r);

    /* The event after a deadline request: -1 again; on_response: -1. */
    r = ask_within(target, M_DEFER, 1, 300);
    run_all(rt);
    assert_int_equal(atomic_load(&left_at_start), 300);
    assert_ok(addr_send(target, t_ev, NULL, 0));
    assert_ok(actor_responder_forward(r, col));
    run_all(rt);
    assert_int_equal(atomic_load(&left_in_event), -1);
    assert_ok(actor_runtime_advance(rt, 300));
    assert_int_equal(atomic_load(&col_calls), 1);
    assert_int_equal(atomic_load(&left_in_response), -1);
    int64_t v = 0;
    assert_ok(actor_promise_resolve(atomic_load(&deferred), &v, 8));
    addr_release(target);
    addr_release(col);
    actor_runtime_free(rt);
}

/* Threaded: one M_POLL_LEFT request with a deadline of `ms`; *rc gets its
 * final status. Returns whether its handler ran: a slow machine (valgrind)
 * may let the deadline pass before the handler starts, and then it is
 * rightly never handled. The request without deadline sent after it makes
 * sure the first one was taken off the mailbox (handled or passed over). */
static bool poll_round(actor_addr *target, int ms, int *rc)
{
    atomic_store(&late_reply_rc, 99);
    int before = atomic_load(&handled[M_POLL_LEFT]);
    actor_responder *r = ask_within(target, M_POLL_LEFT, 4, ms);
    *rc = actor_responder_wait(r, TU_LONG_MS);
    actor_responder *sync = ask(target, M_NOTHING, 0);
    assert_code(actor_responder_wait(sync, TU_LONG_MS), ACTOR_ECANCELED);
    actor_responder_free(sync);
    bool ran = atomic_load(&handled[M_POLL_LEFT]) > before;
    if (ran) {
        assert_ok(atomic_load(&late_reply_rc)); /* a late reply is ACTOR_OK */
        if (*rc == ACTOR_OK)
            assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 9);
    } else {
        assert_code(*rc, ACTOR_EEXPIRED);
        assert_int_equal(atomic_load(&late_reply_rc), 99);
    }
    actor_responder_free(r);
    return ran;
}

/* Threaded: inside a handler, the ms left fall to 0 and stay there. */
static void deadline_left_counts_down(void **state)
{
    actor_runtime *rt = tu_runtime(1);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    int rc = 0, ms = 30;
    while (!poll_round(target, ms, &rc)) /* a loaded machine: a longer deadline */
        if ((ms *= 2) > 30 * 64)
            fail_msg("the handler never started before its deadline, up to %d ms", ms / 2);
    long long first = atomic_load(&poll_first);
    assert_true(first >= 0 && first <= ms);
    assert_int_equal(atomic_load(&poll_bad), 0);
    assert_true(atomic_load(&poll_samples) > 0);
    /* Which of the two won is late_reply_after_deadline_goes_nowhere's
     * matter; here only that it completed. */
    assert_true(rc == ACTOR_EEXPIRED || rc == ACTOR_OK);
    tu_stop_join(target);
    addr_release(target);
    actor_runtime_free(rt);
    tu_assert_no_failures();
}

/* LIBRARY BUG (reported with issue 10's tests; fails until fixed): a reply
 * made after the deadline passed, while the clock thread has not yet fired
 * it, completes the responder ACTOR_OK. The header: "If it passes before
 * an answer, the responder completes at that moment with the final status
 * ACTOR_EEXPIRED"; a late reply "goes nowhere". Clock-thread latency makes
 * this happen now and then (on a loaded machine about 1 reply in 10 made
 * 1 ms after the deadline got through); here it is made certain: the
 * then-callback of another expired responder (X), which runs on the clock
 * thread, holds that thread until the reply to Y, made 3 ms after Y's
 * deadline, is in. (Holding a then-callback breaks "keep it short"; it
 * stands for a clock thread that is late.) */
static pthread_t main_thread;
static atomic_int clock_released, x_done_early;

static void hold_clock(actor_responder *r, void *ud)
{
    if (pthread_equal(pthread_self(), main_thread)) {
        /* X expired before the callback was set (a slow machine): it runs
         * here, at once; holding would only hold the test. The try does
         * not count (the clock is not held); Y's handler goes on. */
        atomic_store(&x_done_early, 1);
        atomic_store(&clock_held, 1);
        return;
    }
    atomic_store(&clock_held, 1);
    tu_gate_wait(&clock_gate, TU_LONG_MS);
    atomic_store(&clock_released, 1);
}

/* One try with Y's deadline `ms` (X's: ms / 20). Returns whether it counts:
 * Y's handler started before Y's deadline while the clock was held. On a
 * slow machine (valgrind) the worker may take Y only after its deadline
 * (then Y is rightly never handled), or X may expire before its
 * then-callback is set: the caller retries with longer deadlines. *rc gets
 * Y's final status. */
static bool late_reply_round(int ms, int *rc, int *handled_y)
{
    tu_gate_init(&clock_gate);
    atomic_store(&clock_held, 0);
    atomic_store(&clock_released, 0);
    atomic_store(&x_done_early, 0);
    atomic_store(&late_reply_rc, 99);
    atomic_store(&deferred, NULL);
    main_thread = pthread_self();
    int before = atomic_load(&handled[M_AFTER_HELD]);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    actor_responder *x = ask_within(target, M_DEFER, 1, ms / 20);
    assert_ok(actor_responder_then(x, hold_clock, NULL));
    actor_responder *y = ask_within(target, M_AFTER_HELD, 4, ms);
    *rc = actor_responder_wait(y, TU_LONG_MS + ms);
    /* Handled: its handler started (it counts at its start) before Y was
     * complete, as it completes only with the reply. Not handled: Y was
     * taken after its deadline, and passed over: never handled now. */
    bool ran = atomic_load(&handled[M_AFTER_HELD]) > before;
    *handled_y = atomic_load(&handled[M_AFTER_HELD]) - before;
    if (ran)
        TU_WAIT_UNTIL(atomic_load(&late_reply_rc) != 99, TU_LONG_MS);
    tu_gate_open(&clock_gate); /* the clock goes on */
    actor_responder *sync = ask(target, M_NOTHING, 0);
    assert_code(actor_responder_wait(sync, TU_LONG_MS), ACTOR_ECANCELED);
    actor_responder_free(sync);
    assert_code(actor_responder_wait(x, TU_LONG_MS), ACTOR_EEXPIRED);
    /* Out of hold_clock before the gate goes (it ran on the clock thread
     * when X expired, or at once here). */
    TU_WAIT_UNTIL(atomic_load(&clock_released) || atomic_load(&x_done_early), TU_LONG_MS);
    if (atomic_load(&deferred) != NULL)
        actor_promise_free(atomic_load(&deferred));
    actor_responder_free(x);
    actor_responder_free(y);
    tu_stop_join(target);
    addr_release(target);
    actor_runtime_free(rt);
    tu_gate_destroy(&clock_gate);
    tu_assert_no_failures();
    if (!ran) {
        assert_code(*rc, ACTOR_EEXPIRED);
        assert_int_equal(atomic_load(&late_reply_rc), 99);
    }
    return ran && !atomic_load(&x_done_early);
}

static void late_reply_after_deadline_goes_nowhere(void **state)
{
    int rc = 0, ms = 400, handled_y = 0;
    while (!late_reply_round(ms, &rc, &handled_y)) /* a loaded machine: longer deadlines */
        if ((ms *= 2) > 400 * 32)
            fail_msg("Y's handler never started before its deadline, up to %d ms", ms / 2);
    assert_int_equal(handled_y, 1);
    assert_ok(atomic_load(&late_reply_rc)); /* a late reply is ACTOR_OK */
    assert_code(rc, ACTOR_EEXPIRED);
}

/* ------------------------------------------------------------------------ */
/* Threaded: on time while the worker is stuck; never handled when queued    */
/* ------------------------------------------------------------------------ */

static int blocker_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&gate, TU_LONG_MS);
    return 0;
}

/* One worker; a blocker holds it until the test has seen the deadline
 * expire: so the deadline fired without the worker. The request queued
 * behind the blocker is never handled. */
static void deadline_fires_while_worker_stuck(void **state)
{
    actor_class *bc = tu_class("dl.Blocker");
    assert_ok(actor_class_on_event(bc, t_ev, blocker_event));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *blocker = tu_spawn(rt, bc, NULL);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    assert_ok(addr_send(blocker, t_ev, NULL, 0));
    TU_WAIT_ENTERED(&gate, 1);
    uint64_t rt0 = actor_runtime_now_ms(rt);
    int64_t t0 = tu_now_ms();
    actor_responder *r = ask_within(target, M_REPLY, 1, 50);
    int fd = actor_responder_fd(r);
    assert_true(fd >= 0);
    struct pollfd pfd = {fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, TU_LONG_MS), 1);
    int64_t t1 = tu_now_ms();
    assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
    /* Not before its time (exact: the same monotonic clock). */
    assert_true(t1 - t0 >= 50);
    assert_true(actor_runtime_now_ms(rt) >= rt0 + 50);
    assert_int_equal(atomic_load(&gate.entered), 1); /* still stuck */
    tu_gate_open(&gate);
    /* A request behind it is handled, so the expired one was passed over. */
    actor_responder *r2 = ask(target, M_REPLY, 2);
    assert_code(actor_responder_wait(r2, TU_LONG_MS), ACTOR_OK);
    assert_int_equal(atomic_load(&handled[M_REPLY]), 1);
    actor_responder_free(r);
    actor_responder_free(r2);
    tu_stop_join(target);
    tu_stop_join(blocker);
    addr_release(target);
    addr_release(blocker);
    actor_runtime_free(rt);
    actor_class_free(bc);
    tu_assert_no_failures();
}

/* A handler that started in time and answers after the deadline fired:
 * actor_ctx_reply returns ACTOR_OK, the responder stays EEXPIRED. */
static void late_ctx_reply_ok(void **state)
{
    actor_runtime *rt = tu_runtime(1);
    actor_addr *target = tu_spawn(rt, target_cls, NULL);
    /* The handler must start before its deadline: on a loaded machine 30 ms
     * may not do, so the deadline grows until it did (a request whose
     * deadline passed first is rightly never handled: the sync request
     * behind it then completes while the gate was never entered). */
    actor_responder *r = NULL;
    for (int ms = 30;; ms *= 2) {
        if (ms > 30 * 64)
            fail_msg("the handler never started before its deadline, up to %d ms", ms / 2);
        r = ask_within(target, M_GATE, 3, ms);
        actor_responder *sync = ask(target, M_NOTHING, 0);
        TU_WAIT_UNTIL(atomic_load(&gate.entered) == 1 ||
                          actor_responder_status(sync) != ACTOR_EAGAIN,
                      TU_LONG_MS);
        bool entered = atomic_load(&gate.entered) == 1;
        if (entered) {
            assert_code(actor_responder_wait(r, TU_LONG_MS + ms), ACTOR_EEXPIRED);
            tu_gate_open(&gate); /* only now: the deadline fired first */
        }
        assert_code(actor_responder_wait(sync, TU_LONG_MS), ACTOR_ECANCELED);
        actor_responder_free(sync);
        if (entered)
            break;
        assert_code(actor_responder_wait(r, 0), ACTOR_EEXPIRED);
        assert_int_equal(atomic_load(&handled[M_GATE]), 0);
        actor_responder_free(r);
    }
    TU_WAIT_UNTIL(atomic_load(&late_reply_rc) != 99, TU_LONG_MS);
    assert_ok(atomic_load(&late_reply_rc)); /* the late reply: ACTOR_OK */
    assert_int_equal(atomic_load(&left_after_gate), 0); /* passed: 0 */
    assert_code(actor_responder_status(r), ACTOR_EEXPIRED);
    assert_null(actor_responder_data(r, NULL));
    actor_responder_free(r);
    tu_stop_join(target);
    addr_release(target);
    actor_runtime_free(rt);
    tu_assert_no_failures();
}

/* The runtime freed under pending deadline requests: they complete
 * ECANCELED (deferred ones too); the promise then answers ECLOSED. */
static void runtime_free_cancels_pending(void **state)
{
    for (int m = 0; m <= 1; m++) {
        atomic_store(&deferred, NULL);
        actor_runtime *rt = m ? manual(29) : tu_runtime(1);
        actor_addr *target = tu_spawn(rt, target_cls, NULL);
        actor_responder *r = ask_within(target, M_DEFER, 1, 100000);
        if (m)
            run_all(rt);
        else
            TU_WAIT_UNTIL(atomic_load(&deferred) != NULL, TU_LONG_MS);
        actor_promise *p = atomic_load(&deferred);
        assert_non_null(p);
        addr_release(target);
        actor_runtime_free(rt);
        assert_code(actor_responder_wait(r, 0), ACTOR_ECANCELED);
        int64_t v = 0;
        assert_code(actor_promise_resolve(p, &v, 8), ACTOR_ECLOSED);
        actor_promise_free(p);
        actor_responder_free(r);
    }
}

/* ------------------------------------------------------------------------ */
/* Stress: 4 threads x 10k requests with small random deadlines              */
/* ------------------------------------------------------------------------ */

/* Targets answer after a random delay: at once, or later from a one-shot
 * timer of 0-4 ms that resolves the deferred promise. */
static atomic_long st_defers, st_resolves;

/* Answers x at once (delay < 0) or from a one-shot timer `delay` ms
 * from now (stress_tick resolves the deferred promise). */
static int answer_in(actor_ctx *ctx, uint64_t *seq, uint64_t x, int delay)
{
    if (delay < 0)
        return reply_x(ctx, (int64_t)x) == ACTOR_OK ? 0 : 1;
    actor_promise *pr = NULL;
    TU_CHECK_CODE(actor_ctx_defer(ctx, &pr), ACTOR_OK);
    unsigned char tb[16];
    tu_put_u64(tb, (uint64_t)(uintptr_t)pr);
    tu_put_u64(tb + 8, x);
    /* A key per request: the timers must not replace each other. */
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, (*seq)++, t_tick2, tb, 16, (uint64_t)delay, 0),
                  ACTOR_OK);
    atomic_fetch_add(&st_defers, 1);
    return 0;
}

static int stress_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t x = tu_get_u64((const unsigned char *)p + 8);
    return answer_in(ctx, st, x, (int)(x % 6) - 1);
}

static int stress_tick(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_promise *pr = (actor_promise *)(uintptr_t)tu_get_u64(p);
    uint64_t x = tu_get_u64((const unsigned char *)p + 8);
    unsigned char out[8];
    tu_put_u64(out, 2 * x + 1);
    TU_CHECK_CODE(actor_promise_resolve(pr, out, 8), ACTOR_OK); /* late or not */
    atomic_fetch_add(&st_resolves, 1);
    return 0;
}

typedef struct slot {
    atomic_int calls, status;
} slot;

static void stress_cb(actor_responder *r, void *ud)
{
    slot *s = ud;
    atomic_store(&s->status, actor_responder_status(r));
    atomic_fetch_add(&s->calls, 1);
}

#define NTARGETS 4
static actor_addr *st_targets[NTARGETS];
static atomic_long st_ok, st_expired, st_zero;

static void *stress_thread(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    long n = tu_scale(10000);
    enum { BATCH = 64 };
    static const int timeouts[] = {0, 1, 2, 3, 5, 1000};
    actor_responder *rs[BATCH];
    slot slots[BATCH];
    uint64_t xs[BATCH];
    int tos[BATCH];
    for (long done = 0; done < n;) {
        int m = (int)(n - done < BATCH ? n - done : BATCH);
        for (int i = 0; i < m; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            xs[i] = seed % 1000003;
            tos[i] = timeouts[(seed >> 20) % 6];
            atomic_store(&slots[i].calls, 0);
            atomic_store(&slots[i].status, 99);
            unsigned char b[16];
            tu_put_u64(b, M_REPLY);
            tu_put_u64(b + 8, xs[i]);
            rs[i] = NULL;
            int rc = addr_interact_within(st_targets[xs[i] % NTARGETS], t_ask, b, 16, tos[i],
                                          &rs[i]);
            TU_CHECK_CODE(rc, ACTOR_OK);
            if (rc == ACTOR_OK && (i % 2 == 0))
                TU_CHECK_CODE(actor_responder_then(rs[i], stress_cb, &slots[i]), ACTOR_OK);
        }
        for (int i = 0; i < m; i++) {
            if (rs[i] == NULL)
                continue;
            int rc = actor_responder_wait(rs[i], TU_LONG_MS * 3);
            TU_CHECK(rc == ACTOR_OK || rc == ACTOR_EEXPIRED);
            if (rc == ACTOR_OK) {
                size_t len = 0;
                const void *d = actor_responder_data(rs[i], &len);
                TU_CHECK(d != NULL && len == 8);
                if (d != NULL && len == 8)
                    TU_CHECK(tu_get_u64(d) == 2 * xs[i] + 1);
                atomic_fetch_add(&st_ok, 1);
            } else if (rc == ACTOR_EEXPIRED) {
                TU_CHECK(actor_responder_data(rs[i], NULL) == NULL);
                atomic_fetch_add(&st_expired, 1);
            }
            if (tos[i] == 0) {
                TU_CHECK_CODE(rc, ACTOR_EEXPIRED); /* 0 ms: never handled */
                atomic_fetch_add(&st_zero, 1);
            }
            actor_responder_free(rs[i]);
            /* free waits for a running callback: exactly once by now. */
            if (i % 2 == 0) {
                TU_CHECK(atomic_load(&slots[i].calls) == 1);
                TU_CHECK(atomic_load(&slots[i].status) == rc);
            }
        }
        done += m;
    }
    return NULL;
}

static void stress_random_deadlines(void **state)
{
    t_tick2 = tu_type("dl.Later", "QQ", NULL);
    actor_class *sc = tu_class("dl.Stress");
    assert_ok(actor_class_on_request(sc, t_ask, stress_request));
    assert_ok(actor_class_on_event(sc, t_tick2, stress_tick));
    assert_ok(actor_class_set_state_size(sc, sizeof(uint64_t)));
    atomic_store(&st_defers, 0);
    atomic_store(&st_resolves, 0);
    atomic_store(&st_ok, 0);
    atomic_store(&st_expired, 0);
    atomic_store(&st_zero, 0);
    actor_runtime *rt = tu_runtime(2);
    for (int i = 0; i < NTARGETS; i++)
        st_targets[i] = tu_spawn(rt, sc, NULL);
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        th[i] = tu_thread(stress_thread, (void *)(i + 1));
    for (int i = 0; i < 4; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    long n = tu_scale(10000) * 4;
    assert_int_equal(atomic_load(&st_ok) + atomic_load(&st_expired), n);
    assert_true(atomic_load(&st_ok) > 0);
    assert_true(atomic_load(&st_expired) >= atomic_load(&st_zero));
    assert_true(atomic_load(&st_zero) > 0);
    /* Every deferred promise answered (late ones too): nothing leaks. */
    TU_WAIT_UNTIL(atomic_load(&st_resolves) == atomic_load(&st_defers), TU_LONG_MS);
    for (int i = 0; i < NTARGETS; i++) {
        tu_stop_join(st_targets[i]);
        addr_release(st_targets[i]);
    }
    actor_runtime_free(rt);
    actor_class_free(sc);
    printf("stress: %ld OK, %ld EEXPIRED (%ld with 0 ms), %ld deferred\n",
           atomic_load(&st_ok), atomic_load(&st_expired), atomic_load(&st_zero),
           atomic_load(&st_defers));
    tu_assert_no_failures();
}

/* ------------------------------------------------------------------------ */
/* Stress: deadlines and timers armed inside handlers, on 2 workers          */
/* ------------------------------------------------------------------------ */

/* What a handler arms 40 ms or more ahead stays in its worker's nursery
 * until it dies, the worker sleeps or it comes due: this mixes short
 * deadlines (straight to the clock) with long ones (nursery), answers that
 * come at once, after a few ms, or after the deadline, and timers started,
 * replaced and cancelled beside them. Every request ends exactly once, OK
 * with its reply or ACTOR_EEXPIRED never before its deadline. */
static const actor_msgtype *t_go, *t_blip;
static atomic_long h_ok, h_expired, h_long_expired, h_early, h_bad, h_done;
static actor_addr *h_targets[4];
enum { H_ASKERS = 16 };

typedef struct asker {
    uint64_t left, seed, x;
    int64_t armed_ms;
    int ms;
} asker;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void asker_next(actor_ctx *ctx, asker *k)
{
    static const int timeouts[] = {0, 1, 5, 40, 50, 60, 100, 1000};
    uint64_t r = xorshift(&k->seed);
    k->x = r % 1000003;
    k->ms = timeouts[(r >> 24) % 8];
    unsigned char b[16];
    tu_put_u64(b, M_REPLY);
    tu_put_u64(b + 8, k->x);
    actor_responder *resp = NULL;
    k->armed_ms = tu_now_ms();
    TU_CHECK_CODE(addr_interact_within(h_targets[k->x % 4], t_ask, b, 16, k->ms, &resp),
                  ACTOR_OK);
    if (resp != NULL)
        TU_CHECK_CODE(actor_responder_forward(resp, actor_ctx_self(ctx)), ACTOR_OK);
    /* Timers beside: one started or replaced, another cancelled. */
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, r % 3, t_blip, NULL, 0, 40 + (r >> 40) % 60, 0),
                  ACTOR_OK);
    int rc = actor_ctx_timer_cancel(ctx, (r + 1) % 3);
    TU_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOENT);
}

static int asker_go(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    asker *k = st;
    k->left = tu_get_u64(p);
    k->seed = tu_get_u64((const unsigned char *)p + 8);
    asker_next(ctx, k);
    return 0;
}

static void asker_answer(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                         const void *reply, size_t len)
{
    asker *k = st;
    if (status == ACTOR_OK && len == 8 && tu_get_u64(reply) == 2 * k->x + 1) {
        atomic_fetch_add(&h_ok, 1);
    } else if (status == ACTOR_EEXPIRED && reply == NULL) {
        atomic_fetch_add(&h_expired, 1);
        if (k->ms >= 40)
            atomic_fetch_add(&h_long_expired, 1);
        if (tu_now_ms() - k->armed_ms < k->ms - 1) /* ms clock: 1 ms of rounding */
            atomic_fetch_add(&h_early, 1);
    } else {
        atomic_fetch_add(&h_bad, 1);
    }
    if (--k->left > 0)
        asker_next(ctx, k);
    else
        atomic_fetch_add(&h_done, 1);
}

static int asker_blip(actor_ctx *ctx, void *st, const void *p, size_t len) { return 0; }

/* Answers at once, after 0-2 ms, or (one in 25) after 45 or 70 ms. */
static int h_target_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t x = tu_get_u64((const unsigned char *)p + 8);
    return answer_in(ctx, st, x, x % 25 == 0 ? (x % 2 ? 45 : 70) : (int)(x % 4) - 1);
}

static void stress_deadlines_armed_in_handlers(void **state)
{
    t_go = tu_type("dl.Go", "QQ", NULL);
    t_tick2 = tu_type("dl.Later", "QQ", NULL);
    t_blip = tu_type("dl.Blip", "", NULL);
    atomic_store(&h_ok, 0);
    atomic_store(&h_expired, 0);
    atomic_store(&h_long_expired, 0);
    atomic_store(&h_early, 0);
    atomic_store(&h_bad, 0);
    atomic_store(&h_done, 0);
    atomic_store(&st_defers, 0);
    atomic_store(&st_resolves, 0);
    actor_class *tc = tu_class("dl.HTarget");
    assert_ok(actor_class_on_request(tc, t_ask, h_target_request));
    assert_ok(actor_class_on_event(tc, t_tick2, stress_tick));
    assert_ok(actor_class_set_state_size(tc, sizeof(uint64_t)));
    actor_class *ac = tu_class("dl.Asker");
    assert_ok(actor_class_on_event(ac, t_go, asker_go));
    assert_ok(actor_class_on_event(ac, t_blip, asker_blip));
    assert_ok(actor_class_on_response(ac, t_ask, asker_answer));
    assert_ok(actor_class_set_state_size(ac, sizeof(asker)));
    actor_runtime *rt = tu_runtime(2);
    for (int i = 0; i < 4; i++)
        h_targets[i] = tu_spawn(rt, tc, NULL);
    actor_addr *askers[H_ASKERS];
    long n = tu_scale(1500);
    for (int i = 0; i < H_ASKERS; i++) {
        askers[i] = tu_spawn(rt, ac, NULL);
        unsigned char go[16];
        tu_put_u64(go, (uint64_t)n);
        tu_put_u64(go + 8, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
        assert_ok(addr_send(askers[i], t_go, go, 16));
    }
    TU_WAIT_UNTIL(atomic_load(&h_done) == H_ASKERS, 6 * TU_LONG_MS);
    printf("  %ld OK, %ld EEXPIRED (%ld of them 40 ms or more ahead), %ld deferred\n",
           atomic_load(&h_ok), atomic_load(&h_expired), atomic_load(&h_long_expired),
           atomic_load(&st_defers));
    assert_int_equal(atomic_load(&h_ok) + atomic_load(&h_expired), n * H_ASKERS);
    assert_int_equal(atomic_load(&h_bad), 0);
    assert_int_equal(atomic_load(&h_early), 0);
    assert_true(atomic_load(&h_ok) > 0);
    assert_true(atomic_load(&h_expired) > 0);
    /* A deadline kept by a nursery fires too (about 1.5% of the requests:
     * a 45 or 70 ms answer to a 40, 50 or 60 ms deadline). */
    assert_true(atomic_load(&h_long_expired) > 0);
    /* Every deferred promise answered, late ones too: nothing left held. */
    TU_WAIT_UNTIL(atomic_load(&st_resolves) == atomic_load(&st_defers), TU_LONG_MS);
    for (int i = 0; i < H_ASKERS; i++) {
        tu_stop_join(askers[i]);
        addr_release(askers[i]);
    }
    for (int i = 0; i < 4; i++) {
        tu_stop_join(h_targets[i]);
        addr_release(h_targets[i]);
    }
    actor_runtime_free(rt);
    actor_class_free(ac);
    actor_class_free(tc);
    tu_assert_no_failures();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(manual_expires_exactly_wait),
        T(manual_expires_exactly_fd),
        T(manual_expires_exactly_then),
        T(manual_expires_exactly_forward),
        T(manual_late_reject_ok),
        T(manual_answered_stays_ok),
        T(manual_deadline_is_virtual),
        T(zero_ms_never_handled),
        T(int_max_answered),
        T(negative_and_null_einval),
        T(deadline_left_values),
        T(deadline_left_counts_down),
        T(late_reply_after_deadline_goes_nowhere),
        T(deadline_fires_while_worker_stuck),
        T(late_ctx_reply_ok),
        T(runtime_free_cancels_pending),
        T(stress_random_deadlines),
        T(stress_deadlines_armed_in_handlers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
