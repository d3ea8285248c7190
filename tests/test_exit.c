/* ABI 1.1 part 3 (issue 12): exit reasons and monitors.
 *
 * Exit reasons: init's nonzero code, actor_ctx_fail's reason (the first of
 * an incarnation), 0 for every normal stop, actor_ctx_fail(ctx, 0) taken as
 * ACTOR_EINVAL (and logged), addr_exit_reason ACTOR_EAGAIN until Done.
 * Monitors: one Down per monitor with the reason, also for a target Done
 * already (queued, not called at once), none after demonitor returns even
 * with the Down already queued, never keeping the target alive, the bad
 * calls' codes, the watcher's end (and restart) ending its monitors, and a
 * supervised target's restarts giving no Down where its final stop does.
 * Most tests run on a manual runtime (deterministic); two on a threaded one. */
#include "testutil.h"

static const actor_msgtype *t_go, *t_q, *t_mon;

/* ex.Go / ex.Q payload: (action, arg). */
enum { A_NOTHING, A_FAIL, A_FAIL_TWICE, A_STOP, A_FAIL0, A_STOP_THEN_FAIL, A_FAIL_NOREPLY,
       A_FAIL_RC };
/* ex.Mon payload: (what, target index). */
enum { M_MONITOR, M_MONITOR_TWICE, M_DEMONITOR, M_MONITOR_DEMONITOR, M_DEMONITOR_SEEN_DONE };

#define MAXT 16
static actor_addr *targets[MAXT]; /* the test's counted addresses (or stale) */
static actor_addr *watchers[MAXT];

static atomic_int inits, finals, handled;
static atomic_int init_rc;

typedef struct down_rec {
    int watcher, target, reason;
    actor_addr *who;
} down_rec;

static pthread_mutex_t down_mu = PTHREAD_MUTEX_INITIALIZER;
static down_rec downs[4096];
static int ndowns;
static atomic_int codes[64]; /* results of monitor/demonitor in handlers */
static atomic_int ncodes;
static atomic_int demon_saw_done; /* M_DEMONITOR_SEEN_DONE: the target was Done */
static atomic_int downs_in_handler; /* Downs seen during the handler that monitored */

static void reset(void)
{
    memset(targets, 0, sizeof targets);
    memset(watchers, 0, sizeof watchers);
    atomic_store(&inits, 0);
    atomic_store(&finals, 0);
    atomic_store(&handled, 0);
    atomic_store(&init_rc, 0);
    pthread_mutex_lock(&down_mu);
    ndowns = 0;
    pthread_mutex_unlock(&down_mu);
    for (int i = 0; i < 64; i++)
        atomic_store(&codes[i], 12345);
    atomic_store(&ncodes, 0);
    atomic_store(&demon_saw_done, 0);
    atomic_store(&downs_in_handler, 0);
}

static int setup(void **state)
{
    tu_reset_failures();
    t_go = tu_type("ex.Go", "ii", NULL);
    t_q = tu_type("ex.Q", "ii", "i");
    t_mon = tu_type("ex.Mon", "ii", NULL);
    reset();
    return 0;
}

static int teardown(void **state) { return tu_teardown(state); }

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int down_count(void)
{
    pthread_mutex_lock(&down_mu);
    int n = ndowns;
    pthread_mutex_unlock(&down_mu);
    return n;
}

static int down_count_of(int watcher, int target)
{
    int n = 0;
    pthread_mutex_lock(&down_mu);
    for (int i = 0; i < ndowns; i++)
        if (downs[i].watcher == watcher && downs[i].target == target)
            n++;
    pthread_mutex_unlock(&down_mu);
    return n;
}

static down_rec down_at(int i)
{
    pthread_mutex_lock(&down_mu);
    down_rec r = downs[i];
    pthread_mutex_unlock(&down_mu);
    return r;
}

static int index_of(actor_addr **table, actor_addr *a)
{
    for (int i = 0; i < MAXT; i++)
        if (table[i] == a)
            return i;
    return -1;
}

/* ---- the worker: fails or stops on command ---- */

static int w_init(actor_ctx *ctx, void *st)
{
    atomic_fetch_add(&inits, 1);
    return atomic_load(&init_rc);
}

static void w_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&finals, 1); }

static void act(actor_ctx *ctx, int action, int arg)
{
    switch (action) {
    case A_FAIL:
    case A_FAIL_NOREPLY:
    case A_FAIL_RC:
        actor_ctx_fail(ctx, arg);
        break;
    case A_FAIL_TWICE:
        actor_ctx_fail(ctx, arg);
        actor_ctx_fail(ctx, arg + 1);
        break;
    case A_STOP:
        actor_ctx_stop(ctx);
        break;
    case A_FAIL0:
        actor_ctx_fail(ctx, 0);
        break;
    case A_STOP_THEN_FAIL:
        actor_ctx_stop(ctx);
        actor_ctx_fail(ctx, arg);
        break;
    default:
        break;
    }
}

static int w_go(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&handled, 1);
    const unsigned char *b = p;
    act(ctx, (int)tu_get_u32(b), (int)tu_get_u32(b + 4));
    return 0;
}

static int w_q(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&handled, 1);
    const unsigned char *b = p;
    int action = (int)tu_get_u32(b), arg = (int)tu_get_u32(b + 4);
    act(ctx, action, arg);
    if (action == A_FAIL_RC)
        return arg; /* fails, unanswered, with a handler code */
    if (action == A_FAIL_NOREPLY || action == A_FAIL)
        return 0; /* unanswered: ECANCELED */
    unsigned char r[4];
    tu_put_u32(r, 7);
    TU_CHECK_CODE(actor_ctx_reply(ctx, r, 4), ACTOR_OK);
    return 0;
}

static actor_class *worker_class(void)
{
    actor_class *c = tu_class("ex.Worker");
    assert_ok(actor_class_set_state_size(c, 16));
    assert_ok(actor_class_on_init(c, w_init));
    assert_ok(actor_class_on_finalize(c, w_fin));
    assert_ok(actor_class_on_event(c, t_go, w_go));
    assert_ok(actor_class_on_request(c, t_q, w_q));
    return c;
}

/* ---- the watcher: monitors targets[i] on command, records Downs ---- */

static void wt_down(actor_ctx *ctx, void *st, actor_addr *who, int reason)
{
    pthread_mutex_lock(&down_mu);
    if (ndowns < (int)(sizeof downs / sizeof downs[0])) {
        downs[ndowns].watcher = index_of(watchers, actor_ctx_self(ctx));
        downs[ndowns].target = index_of(targets, who);
        downs[ndowns].reason = reason;
        downs[ndowns].who = who;
        ndowns++;
    }
    pthread_mutex_unlock(&down_mu);
}

static void record_code(int rc)
{
    int i = atomic_fetch_add(&ncodes, 1);
    if (i < 64)
        atomic_store(&codes[i], rc);
}

static int wt_mon(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    const unsigned char *b = p;
    int what = (int)tu_get_u32(b), ti = (int)tu_get_u32(b + 4);
    actor_addr *t = ti >= 0 ? targets[ti] : actor_ctx_self(ctx);
    switch (what) {
    case M_MONITOR:
        record_code(actor_ctx_monitor(ctx, t));
        atomic_fetch_add(&downs_in_handler, down_count());
        break;
    case M_MONITOR_TWICE:
        record_code(actor_ctx_monitor(ctx, t));
        record_code(actor_ctx_monitor(ctx, t));
        break;
    case M_DEMONITOR:
        record_code(actor_ctx_demonitor(ctx, t));
        break;
    case M_MONITOR_DEMONITOR:
        record_code(actor_ctx_monitor(ctx, t));
        record_code(actor_ctx_demonitor(ctx, t));
        break;
    case M_DEMONITOR_SEEN_DONE:
        if (addr_is_done(t))
            atomic_fetch_add(&demon_saw_done, 1);
        record_code(actor_ctx_demonitor(ctx, t));
        break;
    }
    return 0;
}

static actor_class *watcher_class(bool with_down)
{
    actor_class *c = tu_class("ex.Watcher");
    assert_ok(actor_class_set_state_size(c, 8));
    assert_ok(actor_class_on_event(c, t_mon, wt_mon));
    assert_ok(actor_class_on_finalize(c, w_fin));
    if (with_down)
        assert_ok(actor_class_on_down(c, wt_down));
    return c;
}

/* ---- helpers ---- */

static actor_runtime *manual(uint64_t seed)
{
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(seed, &rt));
    return rt;
}

static void run_all(actor_runtime *rt) { assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL)); }

static void send2(actor_addr *a, const actor_msgtype *t, int x, int y)
{
    unsigned char b[8];
    tu_put_u32(b, (uint32_t)x);
    tu_put_u32(b + 4, (uint32_t)y);
    assert_ok(addr_send(a, t, b, 8));
}

static actor_responder *ask(actor_addr *a, int action, int arg)
{
    unsigned char b[8];
    tu_put_u32(b, (uint32_t)action);
    tu_put_u32(b + 4, (uint32_t)arg);
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t_q, b, 8, &r));
    return r;
}

static int reason_of(actor_addr *a)
{
    int r = 424242;
    assert_ok(addr_exit_reason(a, &r));
    return r;
}

/* ======================================================================== */
/* Exit reasons                                                              */
/* ======================================================================== */

static void exit_reason_init_code(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(1);
    atomic_store(&init_rc, 77);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_log_capture();
    assert_ok(addr_join(a, -1));
    assert_int_equal(reason_of(a), 77);
    assert_int_equal(atomic_load(&inits), 1);
    assert_int_equal(atomic_load(&finals), 1); /* finalize runs after a failed init */
    assert_int_equal(atomic_load(&handled), 0);
    assert_true(tu_log_has("init failed", ACTOR_LOG_ERROR));
    /* A negative code is a reason too. */
    atomic_store(&init_rc, ACTOR_ENOENT);
    actor_addr *b = tu_spawn(rt, c, NULL);
    assert_ok(addr_join(b, -1));
    assert_int_equal(reason_of(b), ACTOR_ENOENT);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void exit_reason_fail(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = tu_spawn(rt, c, NULL);
    send2(a, t_go, A_FAIL, 1234);
    send2(a, t_go, A_NOTHING, 0); /* after the failure: never handled */
    send2(b, t_go, A_FAIL, -777);
    assert_ok(addr_join(a, -1));
    assert_ok(addr_join(b, -1));
    assert_int_equal(reason_of(a), 1234);
    assert_int_equal(reason_of(b), -777);
    assert_int_equal(atomic_load(&handled), 2);
    assert_int_equal(atomic_load(&finals), 2);
    unsigned long long dropped = 0;
    assert_ok(addr_dropped(a, &dropped));
    assert_int_equal(dropped, 1);
    /* Sends to a failed (Done) actor: ECLOSED. */
    unsigned char p[8] = {0};
    assert_code(addr_send(a, t_go, p, 8), ACTOR_ECLOSED);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* The first failure of an incarnation is its reason; stop then fail: the
 * failure's. */
static void exit_reason_first_failure_wins(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(3);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = tu_spawn(rt, c, NULL);
    send2(a, t_go, A_FAIL_TWICE, 5);
    send2(b, t_go, A_STOP_THEN_FAIL, 9);
    assert_ok(addr_join(a, -1));
    assert_ok(addr_join(b, -1));
    assert_int_equal(reason_of(a), 5);
    assert_int_equal(reason_of(b), 9);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* actor_ctx_fail(ctx, 0) is logged and taken as ACTOR_EINVAL (documented). */
static void exit_reason_fail_zero_is_einval(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(4);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_log_capture();
    send2(a, t_go, A_FAIL0, 0);
    assert_ok(addr_join(a, -1));
    assert_int_equal(reason_of(a), ACTOR_EINVAL);
    assert_true(tu_log_has("actor_ctx_fail", ACTOR_LOG_WARN));
    tu_log_stop();
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* Every normal stop is reason 0: actor_ctx_stop, an interrupt, the runtime's
 * shutdown (the last release is in monitor_never_keeps_target_alive). */
static void exit_reason_normal_stops_zero(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(5);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = tu_spawn(rt, c, NULL);
    actor_addr *d = tu_spawn(rt, c, NULL);
    send2(a, t_go, A_STOP, 0);
    assert_ok(addr_interrupt(b));
    assert_ok(addr_join(a, -1));
    assert_ok(addr_join(b, -1));
    assert_int_equal(reason_of(a), 0);
    assert_int_equal(reason_of(b), 0);
    assert_code(addr_exit_reason(d, &(int){0}), ACTOR_EAGAIN);
    assert_ok(actor_runtime_shutdown(rt, -1));
    assert_int_equal(reason_of(d), 0);
    addr_release(a);
    addr_release(b);
    addr_release(d);
    actor_runtime_free(rt);

    /* The same on a threaded runtime. */
    rt = tu_runtime(2);
    a = tu_spawn(rt, c, NULL);
    b = tu_spawn(rt, c, NULL);
    send2(a, t_go, A_STOP, 0);
    send2(b, t_go, A_FAIL, 31);
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_ok(addr_join(b, TU_LONG_MS));
    assert_int_equal(reason_of(a), 0);
    assert_int_equal(reason_of(b), 31);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void exit_reason_eagain_until_done(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(6);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int r = 99;
    assert_code(addr_exit_reason(a, &r), ACTOR_EAGAIN); /* not even started */
    assert_int_equal(r, 99);                             /* untouched */
    run_all(rt);
    assert_code(addr_exit_reason(a, &r), ACTOR_EAGAIN); /* idle, alive */
    send2(a, t_go, A_FAIL, 3);
    assert_code(addr_exit_reason(a, &r), ACTOR_EAGAIN); /* queued, not handled */
    assert_int_equal(r, 99);
    run_all(rt);
    assert_ok(addr_exit_reason(a, &r));
    assert_int_equal(r, 3);
    assert_code(addr_exit_reason(NULL, &r), ACTOR_EINVAL);
    assert_code(addr_exit_reason(a, NULL), ACTOR_EINVAL);
    addr_release(a);
    actor_runtime_free(rt);
    /* Addresses outlive the runtime: the reason stays readable. */
    actor_class_free(c);
}

/* A request whose handler fails without answering completes ECANCELED; one
 * whose handler returns a code completes EHANDLER with it. */
static void exit_reason_request_outcomes(void **state)
{
    actor_class *c = worker_class();
    actor_runtime *rt = manual(7);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = tu_spawn(rt, c, NULL);
    actor_responder *ra = ask(a, A_FAIL_NOREPLY, 11);
    actor_responder *ra2 = ask(a, A_NOTHING, 0); /* queued behind: canceled at the stop */
    actor_responder *rb = ask(b, A_FAIL_RC, 12);
    assert_code(actor_responder_wait(ra, -1), ACTOR_ECANCELED);
    assert_code(actor_responder_wait(ra2, -1), ACTOR_ECANCELED);
    assert_code(actor_responder_wait(rb, -1), ACTOR_EHANDLER);
    assert_int_equal(actor_responder_handler_error(rb), 12);
    assert_ok(addr_join(a, -1));
    assert_ok(addr_join(b, -1));
    assert_int_equal(reason_of(a), 11);
    assert_int_equal(reason_of(b), 12);
    actor_responder_free(ra);
    actor_responder_free(ra2);
    actor_responder_free(rb);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* Monitors                                                                  */
/* ======================================================================== */

static void monitor_down_once_with_reason(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(10);
    targets[0] = tu_spawn(rt, wc, NULL);
    watchers[0] = tu_spawn(rt, vc, NULL);
    watchers[1] = tu_spawn(rt, vc, NULL);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    send2(watchers[1], t_mon, M_MONITOR_TWICE, 0); /* the same monitor twice */
    run_all(rt);
    assert_int_equal(atomic_load(&ncodes), 3);
    for (int i = 0; i < 3; i++)
        assert_code(atomic_load(&codes[i]), ACTOR_OK);
    assert_int_equal(down_count(), 0);
    send2(targets[0], t_go, A_FAIL, 99);
    assert_ok(addr_join(targets[0], -1));
    run_all(rt);
    assert_int_equal(down_count(), 2);
    assert_int_equal(down_count_of(0, 0), 1);
    assert_int_equal(down_count_of(1, 0), 1); /* one Down for the doubled monitor */
    for (int i = 0; i < 2; i++) {
        down_rec d = down_at(i);
        assert_int_equal(d.reason, 99);
        assert_ptr_equal(d.who, targets[0]);
    }
    /* Nothing more comes, whatever runs. */
    assert_ok(actor_runtime_advance(rt, 1000));
    assert_int_equal(down_count(), 2);
    /* The monitor is over: demonitor says ENOENT. */
    send2(watchers[0], t_mon, M_DEMONITOR, 0);
    run_all(rt);
    assert_code(atomic_load(&codes[3]), ACTOR_ENOENT);
    addr_release(targets[0]);
    addr_release(watchers[0]);
    addr_release(watchers[1]);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

/* A target Done already: the Down is queued at once (not called inside
 * actor_ctx_monitor), with the reason; a second monitor after the Down is
 * a new monitor with a Down of its own. */
static void monitor_done_target_queued_at_once(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(11);
    targets[0] = tu_spawn(rt, wc, NULL);
    watchers[0] = tu_spawn(rt, vc, NULL);
    send2(targets[0], t_go, A_FAIL, -55);
    assert_ok(addr_join(targets[0], -1));
    run_all(rt);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    assert_int_equal(actor_runtime_step(rt), 1); /* the monitor event only */
    assert_code(atomic_load(&codes[0]), ACTOR_OK);
    assert_int_equal(atomic_load(&downs_in_handler), 0); /* not inside the call */
    assert_int_equal(down_count(), 0);
    assert_int_equal(actor_runtime_step(rt), 1); /* the Down */
    assert_int_equal(down_count(), 1);
    assert_int_equal(down_at(0).reason, -55);
    assert_ptr_equal(down_at(0).who, targets[0]);
    run_all(rt);
    assert_int_equal(down_count(), 1);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    run_all(rt);
    assert_int_equal(down_count(), 2);
    assert_int_equal(down_at(1).reason, -55);
    addr_release(targets[0]);
    addr_release(watchers[0]);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

static void demonitor_before_down(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(12);
    targets[0] = tu_spawn(rt, wc, NULL);
    watchers[0] = tu_spawn(rt, vc, NULL);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    send2(watchers[0], t_mon, M_DEMONITOR, 0);
    send2(watchers[0], t_mon, M_DEMONITOR, 0);
    run_all(rt);
    assert_code(atomic_load(&codes[0]), ACTOR_OK);
    assert_code(atomic_load(&codes[1]), ACTOR_OK);
    assert_code(atomic_load(&codes[2]), ACTOR_ENOENT);
    send2(targets[0], t_go, A_FAIL, 8);
    assert_ok(addr_join(targets[0], -1));
    assert_ok(actor_runtime_advance(rt, 100));
    assert_int_equal(down_count(), 0);
    addr_release(targets[0]);
    addr_release(watchers[0]);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

/* No Down after demonitor returns, not even one queued already.
 * (1) A Done target: monitor queues its Down at once; demonitor in the same
 * handler: it is never handled.
 * (2) A live target: the watcher's demonitor event is queued, then the
 * target is interrupted; the manual runtime's seeded choice decides which
 * runs first. Over seeds, the case where the target is Done (its Down
 * queued behind the demonitor) must occur, and no seed gives a Down. */
static void demonitor_with_down_queued(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(13);
    targets[0] = tu_spawn(rt, wc, NULL);
    watchers[0] = tu_spawn(rt, vc, NULL);
    send2(targets[0], t_go, A_FAIL, 4);
    assert_ok(addr_join(targets[0], -1));
    send2(watchers[0], t_mon, M_MONITOR_DEMONITOR, 0);
    run_all(rt);
    assert_code(atomic_load(&codes[0]), ACTOR_OK);
    assert_code(atomic_load(&codes[1]), ACTOR_OK);
    assert_int_equal(down_count(), 0);
    addr_release(targets[0]);
    addr_release(watchers[0]);
    actor_runtime_free(rt);

    int arranged = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        reset();
        rt = manual(seed);
        targets[0] = tu_spawn(rt, wc, NULL);
        watchers[0] = tu_spawn(rt, vc, NULL);
        send2(watchers[0], t_mon, M_MONITOR, 0);
        run_all(rt);
        assert_code(atomic_load(&codes[0]), ACTOR_OK);
        send2(watchers[0], t_mon, M_DEMONITOR_SEEN_DONE, 0);
        send2(targets[0], t_go, A_FAIL, 6);
        run_all(rt);
        assert_code(atomic_load(&codes[1]), ACTOR_OK);
        assert_true(addr_is_done(targets[0]));
        arranged += atomic_load(&demon_saw_done);
        assert_int_equal(down_count(), 0);
        addr_release(targets[0]);
        addr_release(watchers[0]);
        actor_runtime_free(rt);
    }
    assert_true(arranged > 0); /* the Down was queued at demonitor at least once */
    actor_class_free(wc);
    actor_class_free(vc);
}

/* A monitor never keeps its target alive: its last address released, it
 * stops (reason 0), and the watcher hears of it. */
static void monitor_never_keeps_target_alive(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(14);
    targets[0] = tu_spawn(rt, wc, NULL);
    watchers[0] = tu_spawn(rt, vc, NULL);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    run_all(rt);
    assert_code(atomic_load(&codes[0]), ACTOR_OK);
    actor_addr *gone = targets[0];
    addr_release(targets[0]); /* the last counted address */
    run_all(rt);
    assert_int_equal(atomic_load(&finals), 1);
    assert_int_equal(down_count(), 1);
    assert_ptr_equal(down_at(0).who, gone); /* compared, never dereferenced */
    assert_int_equal(down_at(0).reason, 0);
    targets[0] = NULL;
    addr_release(watchers[0]);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

static atomic_int self_rc, noh_rc, null_rc;

static int probe_init(actor_ctx *ctx, void *st)
{
    atomic_store(&self_rc, actor_ctx_monitor(ctx, actor_ctx_self(ctx)));
    atomic_store(&null_rc, actor_ctx_monitor(ctx, NULL));
    return 0;
}

static int noh_init(actor_ctx *ctx, void *st)
{
    atomic_store(&noh_rc, actor_ctx_monitor(ctx, targets[0]));
    return 0;
}

static void monitor_bad_calls(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true), *nc = watcher_class(false);
    actor_class *pc = tu_class("ex.Probe");
    assert_ok(actor_class_on_down(pc, wt_down));
    assert_ok(actor_class_on_init(pc, probe_init));
    actor_class *hc = tu_class("ex.NoDown");
    assert_ok(actor_class_on_init(hc, noh_init));
    actor_runtime *rt = manual(15);
    targets[0] = tu_spawn(rt, wc, NULL);
    watchers[0] = tu_spawn(rt, nc, NULL); /* no on_down */
    watchers[1] = tu_spawn(rt, vc, NULL);
    actor_addr *p = tu_spawn(rt, pc, NULL);
    actor_addr *h = tu_spawn(rt, hc, NULL);
    send2(watchers[0], t_mon, M_MONITOR, 0);  /* ENOHANDLER */
    send2(watchers[1], t_mon, M_MONITOR, -1); /* itself: EINVAL */
    send2(watchers[1], t_mon, M_DEMONITOR, 0); /* not monitoring: ENOENT */
    send2(watchers[1], t_mon, M_DEMONITOR, -1);
    run_all(rt);
    int got[4] = {atomic_load(&codes[0]), atomic_load(&codes[1]), atomic_load(&codes[2]),
                  atomic_load(&codes[3])};
    /* Two actors: their relative order is the PRNG's; codes are unique per
     * kind, so check them as a multiset. */
    int enohandler = 0, einval = 0, enoent = 0;
    for (int i = 0; i < 4; i++) {
        enohandler += got[i] == ACTOR_ENOHANDLER;
        einval += got[i] == ACTOR_EINVAL;
        enoent += got[i] == ACTOR_ENOENT;
    }
    assert_int_equal(enohandler, 1);
    assert_int_equal(einval, 1);
    assert_int_equal(enoent, 2);
    assert_code(atomic_load(&self_rc), ACTOR_EINVAL);
    assert_code(atomic_load(&null_rc), ACTOR_EINVAL);
    assert_code(atomic_load(&noh_rc), ACTOR_ENOHANDLER);
    /* Outside any actor: NULL ctx. */
    assert_code(actor_ctx_monitor(NULL, targets[0]), ACTOR_EINVAL);
    assert_code(actor_ctx_demonitor(NULL, targets[0]), ACTOR_EINVAL);
    /* The class setter's rules. */
    assert_code(actor_class_on_down(NULL, wt_down), ACTOR_EINVAL);
    assert_code(actor_class_on_down(vc, NULL), ACTOR_EBUSY); /* in use */
    actor_class *fresh = tu_class("ex.Fresh");
    assert_ok(actor_class_on_down(fresh, wt_down));
    assert_ok(actor_class_on_down(fresh, NULL));
    actor_class_free(fresh);
    /* The failed monitors left nothing behind: the target's stop gives no
     * Down. */
    send2(targets[0], t_go, A_FAIL, 1);
    assert_ok(addr_join(targets[0], -1));
    run_all(rt);
    assert_int_equal(down_count(), 0);
    addr_release(targets[0]);
    addr_release(watchers[0]);
    addr_release(watchers[1]);
    addr_release(p);
    addr_release(h);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
    actor_class_free(nc);
    actor_class_free(pc);
    actor_class_free(hc);
}

/* The watcher's stop ends its monitors: its targets' later stops are fine
 * and (under ASan/valgrind) nothing leaks; targets Done before the watcher
 * handled their Downs leave none behind either. */
static void monitor_watcher_stop_cleans(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(16);
    watchers[0] = tu_spawn(rt, vc, NULL);
    for (int i = 0; i < MAXT; i++) {
        targets[i] = tu_spawn(rt, wc, NULL);
        send2(watchers[0], t_mon, M_MONITOR, i);
    }
    run_all(rt);
    for (int i = 0; i < MAXT; i++)
        assert_code(atomic_load(&codes[i]), ACTOR_OK);
    /* Half the targets fail with their Downs queued, and the watcher stops
     * before handling them (an interrupt queued ahead of them). */
    assert_ok(addr_interrupt(watchers[0]));
    for (int i = 0; i < MAXT / 2; i++)
        send2(targets[i], t_go, A_FAIL, 100 + i);
    assert_ok(addr_join(watchers[0], -1));
    for (int i = MAXT / 2; i < MAXT; i++)
        send2(targets[i], t_go, A_STOP, 0);
    run_all(rt);
    for (int i = 0; i < MAXT; i++)
        assert_true(addr_is_done(targets[i]));
    /* The interrupt was queued ahead of every Down: none was handled. */
    int before = down_count();
    assert_int_equal(before, 0);
    for (int i = 0; i < MAXT; i++)
        addr_release(targets[i]);
    addr_release(watchers[0]);
    actor_runtime_free(rt);
    assert_int_equal(down_count(), before);

    /* The same on a threaded runtime: a watcher of many targets stops while
     * they stop (ASan: nothing leaks; TSan: no race on the lists). */
    reset();
    rt = tu_runtime(2);
    watchers[0] = tu_spawn(rt, vc, NULL);
    for (int i = 0; i < MAXT; i++) {
        targets[i] = tu_spawn(rt, wc, NULL);
        send2(watchers[0], t_mon, M_MONITOR, i);
    }
    for (int i = 0; i < MAXT; i++)
        send2(targets[i], t_go, A_FAIL, 200 + i);
    assert_ok(addr_interrupt(watchers[0]));
    assert_ok(addr_join(watchers[0], TU_LONG_MS));
    for (int i = 0; i < MAXT; i++) {
        assert_ok(addr_join(targets[i], TU_LONG_MS));
        assert_int_equal(reason_of(targets[i]), 200 + i);
        addr_release(targets[i]);
    }
    addr_release(watchers[0]);
    actor_runtime_free(rt);
    for (int i = 0; i < down_count(); i++)
        assert_int_equal(down_at(i).reason, 200 + down_at(i).target);
    actor_class_free(wc);
    actor_class_free(vc);
}

/* Many watchers and targets on a threaded runtime: each watcher gets one
 * Down per target, with that target's reason. */
static void monitor_threaded_many(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = tu_runtime(4);
    enum { W = 8, N = 8 };
    for (int i = 0; i < N; i++)
        targets[i] = tu_spawn(rt, wc, NULL);
    for (int w = 0; w < W; w++)
        watchers[w] = tu_spawn(rt, vc, NULL);
    for (int w = 0; w < W; w++)
        for (int i = 0; i < N; i++)
            send2(watchers[w], t_mon, i % 2 ? M_MONITOR_TWICE : M_MONITOR, i);
    /* Half the targets fail at once (monitors may find them Done). */
    for (int i = 0; i < N / 2; i++)
        send2(targets[i], t_go, A_FAIL, 300 + i);
    TU_WAIT_UNTIL(atomic_load(&ncodes) >= W * N + W * N / 2, TU_LONG_MS);
    for (int i = N / 2; i < N; i++)
        send2(targets[i], t_go, A_FAIL, 300 + i);
    TU_WAIT_UNTIL(down_count() >= W * N, TU_LONG_MS);
    for (int w = 0; w < W; w++)
        for (int i = 0; i < N; i++)
            assert_int_equal(down_count_of(w, i), 1);
    for (int i = 0; i < W * N; i++)
        assert_int_equal(down_at(i).reason, 300 + down_at(i).target);
    for (int i = 0; i < 64; i++)
        assert_code(atomic_load(&codes[i]), ACTOR_OK);
    for (int w = 0; w < W; w++) {
        tu_stop_join(watchers[w]);
        addr_release(watchers[w]);
    }
    for (int i = 0; i < N; i++)
        addr_release(targets[i]);
    actor_runtime_free(rt);
    assert_int_equal(down_count(), W * N);
    actor_class_free(wc);
    actor_class_free(vc);
}

/* ---- one watcher, many monitors (its index by target) ---- */

enum { MANY = 2000 };
static actor_addr *many_targets[MANY];
static int many_downs[MANY];
static int many_bad_codes;

static void many_down(actor_ctx *ctx, void *st, actor_addr *who, int reason)
{
    for (int i = 0; i < MANY; i++)
        if (many_targets[i] == who) {
            many_downs[i]++;
            return;
        }
    many_bad_codes++; /* a Down from nobody it watched */
}

/* ex.Mon (op, 0): 0 monitors all twice; 1 demonitors every third, twice
 * (the second is ENOENT); 2 monitors every sixth again. */
static int many_mon(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int op = (int)tu_get_u32(p);
    for (int i = 0; i < MANY; i++) {
        if (op == 0) {
            many_bad_codes += actor_ctx_monitor(ctx, many_targets[i]) != ACTOR_OK;
            many_bad_codes += actor_ctx_monitor(ctx, many_targets[i]) != ACTOR_OK;
        } else if (op == 1 && i % 3 == 0) {
            many_bad_codes += actor_ctx_demonitor(ctx, many_targets[i]) != ACTOR_OK;
            many_bad_codes += actor_ctx_demonitor(ctx, many_targets[i]) != ACTOR_ENOENT;
        } else if (op == 2 && i % 6 == 0) {
            many_bad_codes += actor_ctx_monitor(ctx, many_targets[i]) != ACTOR_OK;
        }
    }
    return 0;
}

/* 2000 monitors of one watcher, some removed and added again: each pair
 * at most one monitor, each Down once and only while monitored, none
 * after the watcher stops (its index grows, shifts back on removal, and
 * goes with the last monitor: ASan/LeakSanitizer see it). */
static void monitor_many_of_one_watcher(void **state)
{
    memset(many_downs, 0, sizeof many_downs);
    many_bad_codes = 0;
    actor_class *wc = worker_class();
    actor_class *vc = tu_class("ex.ManyWatcher");
    assert_ok(actor_class_on_event(vc, t_mon, many_mon));
    assert_ok(actor_class_on_down(vc, many_down));
    actor_runtime *rt = manual(9);
    for (int i = 0; i < MANY; i++)
        many_targets[i] = tu_spawn(rt, wc, NULL);
    actor_addr *w = tu_spawn(rt, vc, NULL);
    for (int op = 0; op < 3; op++) {
        send2(w, t_mon, op, 0);
        run_all(rt);
    }
    assert_int_equal(many_bad_codes, 0);
    for (int i = 0; i < MANY; i++)
        if (i % 4 <= 1)
            assert_ok(addr_interrupt(many_targets[i]));
    run_all(rt);
    for (int i = 0; i < MANY; i++) {
        bool watched = i % 3 != 0 || i % 6 == 0;
        assert_int_equal(many_downs[i], (i % 4 <= 1 && watched) ? 1 : 0);
    }
    assert_ok(addr_interrupt(w));
    assert_ok(addr_join(w, -1));
    for (int i = 0; i < MANY; i++) {
        if (i % 4 > 1)
            assert_ok(addr_interrupt(many_targets[i]));
    }
    run_all(rt);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(many_downs[i], (i % 4 <= 1 && (i % 3 != 0 || i % 6 == 0)) ? 1 : 0);
    assert_int_equal(many_bad_codes, 0);
    addr_release(w);
    for (int i = 0; i < MANY; i++)
        addr_release(many_targets[i]);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

/* ---- monitors and supervisors ---- */

static actor_supervisor_spec spec_of(int strategy, unsigned intensity)
{
    actor_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.strategy = strategy;
    s.intensity = intensity;
    s.period_ms = 1000;
    return s;
}

/* A supervised target's restarts give no Down; its final stop does. */
static void monitor_supervised_target(void **state)
{
    actor_class *wc = worker_class(), *vc = watcher_class(true);
    actor_runtime *rt = manual(17);
    actor_supervisor_spec s = spec_of(ACTOR_ONE_FOR_ONE, 10);
    actor_addr *sup = NULL;
    assert_ok(actor_supervisor_spawn(rt, &s, &sup));
    assert_ok(actor_supervisor_start_child(sup, wc, ACTOR_PERMANENT, &targets[0]));
    assert_ok(actor_supervisor_start_child(sup, wc, ACTOR_TEMPORARY, &targets[1]));
    watchers[0] = tu_spawn(rt, vc, NULL);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    send2(watchers[0], t_mon, M_MONITOR, 1);
    run_all(rt);
    send2(targets[0], t_go, A_FAIL, 1);
    run_all(rt);
    send2(targets[0], t_go, A_FAIL, 2);
    run_all(rt);
    unsigned long long n = 0;
    assert_ok(addr_restarts(targets[0], &n));
    assert_int_equal(n, 2);
    assert_false(addr_is_done(targets[0]));
    assert_int_equal(down_count(), 0); /* restarts are not Done */
    assert_ok(actor_supervisor_stop_child(sup, targets[0]));
    assert_ok(addr_join(targets[0], -1));
    run_all(rt);
    assert_int_equal(down_count(), 1);
    assert_int_equal(down_at(0).target, 0);
    assert_int_equal(down_at(0).reason, 0);
    /* A temporary child's failure is final: a Down with the reason. */
    send2(targets[1], t_go, A_FAIL, 66);
    assert_ok(addr_join(targets[1], -1));
    run_all(rt);
    assert_int_equal(down_count(), 2);
    assert_int_equal(down_at(1).target, 1);
    assert_int_equal(down_at(1).reason, 66);
    addr_release(targets[0]);
    addr_release(targets[1]);
    addr_release(watchers[0]);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

/* A monitor ends with the watcher's incarnation: a supervised watcher that
 * is restarted no longer watches (no Down to its new incarnation). */
static void monitor_ends_at_watcher_restart(void **state)
{
    actor_class *wc = worker_class();
    actor_class *vc = tu_class("ex.SupWatcher");
    assert_ok(actor_class_set_state_size(vc, 8));
    assert_ok(actor_class_on_event(vc, t_mon, wt_mon));
    assert_ok(actor_class_on_event(vc, t_go, w_go));
    assert_ok(actor_class_on_down(vc, wt_down));
    actor_runtime *rt = manual(18);
    actor_supervisor_spec s = spec_of(ACTOR_ONE_FOR_ONE, 10);
    actor_addr *sup = NULL;
    assert_ok(actor_supervisor_spawn(rt, &s, &sup));
    assert_ok(actor_supervisor_start_child(sup, vc, ACTOR_PERMANENT, &watchers[0]));
    targets[0] = tu_spawn(rt, wc, NULL);
    targets[1] = tu_spawn(rt, wc, NULL);
    send2(watchers[0], t_mon, M_MONITOR, 0);
    send2(watchers[0], t_mon, M_MONITOR, 1);
    send2(watchers[0], t_go, A_FAIL, 5); /* its restart ends both monitors */
    run_all(rt);
    unsigned long long n = 0;
    assert_ok(addr_restarts(watchers[0], &n));
    assert_int_equal(n, 1);
    send2(watchers[0], t_mon, M_MONITOR, 1); /* the new incarnation watches 1 */
    run_all(rt);
    send2(targets[0], t_go, A_FAIL, 70);
    send2(targets[1], t_go, A_FAIL, 71);
    assert_ok(addr_join(targets[0], -1));
    assert_ok(addr_join(targets[1], -1));
    run_all(rt);
    assert_int_equal(down_count(), 1);
    assert_int_equal(down_at(0).target, 1);
    assert_int_equal(down_at(0).reason, 71);
    addr_release(targets[0]);
    addr_release(targets[1]);
    addr_release(watchers[0]);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(wc);
    actor_class_free(vc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(exit_reason_init_code),
        T(exit_reason_fail),
        T(exit_reason_first_failure_wins),
        T(exit_reason_fail_zero_is_einval),
        T(exit_reason_normal_stops_zero),
        T(exit_reason_eagain_until_done),
        T(exit_reason_request_outcomes),
        T(monitor_down_once_with_reason),
        T(monitor_done_target_queued_at_once),
        T(demonitor_before_down),
        T(demonitor_with_down_queued),
        T(monitor_never_keeps_target_alive),
        T(monitor_bad_calls),
        T(monitor_watcher_stop_cleans),
        T(monitor_threaded_many),
        T(monitor_many_of_one_watcher),
        T(monitor_supervised_target),
        T(monitor_ends_at_watcher_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
