/* ABI 1.1 part 0 (issue 9): the promise contract after actor_runtime_free,
 * tagged forwards and actor_ctx_tag, the log lines of actor_msgtype_define
 * and of a refused reply, the new error strings and the version.
 * (Plugins: test_part0_plugin; fork: test_part0_fork; actor_runtime_free's
 * periodic warning: test_part0_freewarn.) */
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Log helpers                                                               */
/* ------------------------------------------------------------------------ */

/* Copies captured line i (level, message) out; false if there is none. */
static bool line_at(size_t i, int *level, char *buf, size_t cap)
{
    tu_global *g = tu_g();
    bool ok = false;
    pthread_mutex_lock(&g->mu);
    if (i < g->nlines) {
        *level = g->lines[i].level;
        snprintf(buf, cap, "%s", g->lines[i].msg);
        ok = true;
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

/* The number of captured lines at exactly `level` that contain every one of
 * the NULL-terminated needles. */
static size_t lines_matching(int level, ...)
{
    const char *needles[8];
    size_t nn = 0;
    va_list ap;
    va_start(ap, level);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && nn < 8)
        needles[nn++] = s;
    va_end(ap);
    tu_global *g = tu_g();
    size_t hits = 0;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->nlines; i++) {
        if (g->lines[i].level != level)
            continue;
        bool all = true;
        for (size_t k = 0; k < nn && all; k++)
            all = strstr(g->lines[i].msg, needles[k]) != NULL;
        hits += all;
    }
    pthread_mutex_unlock(&g->mu);
    return hits;
}

/* Main thread: exactly one line was captured, a WARN containing every
 * needle (NULL-terminated). */
#define assert_one_warn(...) assert_one_warn_(__FILE__, __LINE__, __VA_ARGS__, (const char *)NULL)
static void assert_one_warn_(const char *file, int line, const char *first, ...)
{
    char msg[1100];
    int level = -1;
    size_t n = tu_log_count();
    if (n != 1) {
        tu_log_dump();
        fail_msg("%s:%d: %zu log lines captured, expected exactly 1", file, line, n);
    }
    assert_true(line_at(0, &level, msg, sizeof msg));
    if (level != ACTOR_LOG_WARN)
        fail_msg("%s:%d: the line has level %d, expected ACTOR_LOG_WARN: \"%s\"", file, line,
                 level, msg);
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s != NULL; s = va_arg(ap, const char *))
        if (strstr(msg, s) == NULL) {
            va_end(ap);
            fail_msg("%s:%d: the WARN line does not contain \"%s\": \"%s\"", file, line, s,
                     msg);
        }
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* 1. Promises held across actor_runtime_free                               */
/* ------------------------------------------------------------------------ */

static const actor_msgtype *t_defer;
enum { PM_MAX = 1024 };
static _Atomic(actor_promise *) pm_slots[PM_MAX];

/* Defers; the payload is the slot the promise goes to. */
static int defer_into_slot(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t i = tu_get_u64(p);
    actor_promise *pr = NULL;
    TU_CHECK_CODE(actor_ctx_defer(ctx, &pr), ACTOR_OK);
    TU_CHECK(i < PM_MAX);
    if (i < PM_MAX)
        atomic_store(&pm_slots[i], pr);
    return 0;
}

typedef struct answerer {
    actor_promise **ps;
    size_t n;
    unsigned seed;
    pthread_barrier_t *start;
    atomic_int done;
} answerer;

/* Answers each of its promises twice, in a shuffled order of all its
 * answers (resolve with a right or a wrong size, or reject), and frees each
 * right after its second answer, while others are still being answered. */
static void *answer_twice(void *arg)
{
    answerer *a = arg;
    size_t nops = 2 * a->n;
    size_t *ops = malloc(nops * sizeof *ops);
    unsigned char *answered = calloc(a->n ? a->n : 1, 1);
    TU_CHECK(ops != NULL && answered != NULL);
    if (ops == NULL || answered == NULL) {
        free(ops);
        free(answered);
        return NULL;
    }
    for (size_t i = 0; i < nops; i++)
        ops[i] = i / 2;
    for (size_t i = nops; i > 1; i--) {
        size_t j = (size_t)rand_r(&a->seed) % i, t = ops[i - 1];
        ops[i - 1] = ops[j];
        ops[j] = t;
    }
    pthread_barrier_wait(a->start);
    for (size_t k = 0; k < nops; k++) {
        size_t i = ops[k];
        actor_promise *p = a->ps[i];
        unsigned char out[16];
        tu_put_u64(out, (uint64_t)k);
        tu_put_u64(out + 8, (uint64_t)i);
        int rc;
        /* A wrong size only as a second answer: "every later resolve answers
         * ACTOR_ECLOSED"; the first is a right one or a reject. */
        switch (rand_r(&a->seed) % (answered[i] ? 3 : 2)) {
        case 0: rc = actor_promise_resolve(p, out, 8); break;
        case 1: rc = actor_promise_reject(p, 1 + (int)(rand_r(&a->seed) % 1000)); break;
        default: rc = actor_promise_resolve(p, out, 16); break; /* wrong size too */
        }
        TU_CHECK_CODE(rc, ACTOR_ECLOSED);
        if (++answered[i] == 2) {
            actor_promise_free(p);
            a->ps[i] = NULL;
        }
    }
    for (size_t i = 0; i < a->n; i++)
        TU_CHECK(a->ps[i] == NULL && answered[i] == 2);
    free(ops);
    free(answered);
    atomic_store(&a->done, 1);
    return NULL;
}

static void promises_survive_runtime_free_answered_twice(void **state)
{
    (void)state;
    t_defer = tu_type("p0.Defer", "Q", "q");
    actor_class *c = tu_class("p0.Deferrer");
    assert_ok(actor_class_on_request(c, t_defer, defer_into_slot));
    const size_t n = (size_t)tu_scale(600);
    assert_true(n <= PM_MAX);
    for (size_t i = 0; i < PM_MAX; i++)
        atomic_store(&pm_slots[i], NULL);

    actor_runtime *rt = tu_runtime(2);
    enum { NACT = 4 };
    actor_addr *as[NACT];
    for (int k = 0; k < NACT; k++)
        as[k] = tu_spawn(rt, c, NULL);
    actor_responder **rs = calloc(n, sizeof *rs);
    actor_promise **ps = calloc(n, sizeof *ps);
    assert_non_null(rs);
    assert_non_null(ps);
    for (size_t i = 0; i < n; i++) {
        unsigned char buf[8];
        tu_put_u64(buf, i);
        assert_ok(addr_interact(as[i % NACT], t_defer, buf, 8, &rs[i]));
    }
    for (size_t i = 0; i < n; i++) {
        TU_WAIT_UNTIL(atomic_load(&pm_slots[i]) != NULL, TU_LONG_MS);
        ps[i] = atomic_exchange(&pm_slots[i], NULL);
    }
    /* Held across the free: every request it cancels. */
    for (int k = 0; k < NACT; k++)
        addr_release(as[k]);
    actor_runtime_free(rt);
    for (size_t i = 0; i < n; i++) {
        assert_code(actor_responder_wait(rs[i], TU_LONG_MS), ACTOR_ECANCELED);
        assert_int_equal(actor_responder_handler_error(rs[i]), 0);
        assert_null(actor_responder_data(rs[i], NULL));
    }

    /* Each promise to one of two threads (one thread per promise at a time),
     * chosen at random; both go at once. */
    unsigned seed = (unsigned)tu_now_ns();
    print_message("seed %u\n", seed);
    actor_promise **mine[2];
    size_t count[2] = {0, 0};
    mine[0] = calloc(n, sizeof(actor_promise *));
    mine[1] = calloc(n, sizeof(actor_promise *));
    assert_non_null(mine[0]);
    assert_non_null(mine[1]);
    for (size_t i = 0; i < n; i++) {
        int t = rand_r(&seed) & 1;
        mine[t][count[t]++] = ps[i];
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    answerer a[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        a[t].ps = mine[t];
        a[t].n = count[t];
        a[t].seed = seed + 7919u * (unsigned)(t + 1);
        a[t].start = &start;
        atomic_store(&a[t].done, 0);
        th[t] = tu_thread(answer_twice, &a[t]);
    }
    TU_WAIT_UNTIL(atomic_load(&a[0].done) && atomic_load(&a[1].done), TU_LONG_MS);
    for (int t = 0; t < 2; t++)
        tu_join_thread(th[t]);
    pthread_barrier_destroy(&start);
    tu_assert_no_failures();

    /* The responders saw none of that: still ECANCELED. */
    for (size_t i = 0; i < n; i++) {
        assert_code(actor_responder_status(rs[i]), ACTOR_ECANCELED);
        actor_responder_free(rs[i]);
    }
    free(mine[0]);
    free(mine[1]);
    free(rs);
    free(ps);
    actor_class_free(c);
}

/* ------------------------------------------------------------------------ */
/* 2. Tagged forwards and actor_ctx_tag                                      */
/* ------------------------------------------------------------------------ */

enum { TAG_N = 100, TAG_B = 1000 };
static const actor_msgtype *t_add, *t_go, *t_tick, *t_probe;

/* The calculator answers Add(a, b) with a + b; with b == TAG_B it defers,
 * and once TAG_N such requests are held it answers them all in a shuffled
 * order (so that completion order says nothing about which is which). */
typedef struct calc_state {
    actor_promise *held[TAG_N];
    int64_t sums[TAG_N];
    size_t n;
    unsigned seed;
} calc_state;

static int calc_add(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    calc_state *s = st;
    int64_t a = (int64_t)tu_get_u64(p), b = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(a + b));
    if (b != TAG_B)
        return actor_ctx_reply(ctx, out, 8);
    TU_CHECK(s->n < TAG_N);
    if (s->n >= TAG_N)
        return 1;
    TU_CHECK_CODE(actor_ctx_defer(ctx, &s->held[s->n]), ACTOR_OK);
    s->sums[s->n++] = a + b;
    if (s->n == TAG_N) {
        size_t order[TAG_N];
        for (size_t i = 0; i < TAG_N; i++)
            order[i] = i;
        for (size_t i = TAG_N; i > 1; i--) {
            size_t j = (size_t)rand_r(&s->seed) % i, t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t k = 0; k < TAG_N; k++) {
            size_t i = order[k];
            tu_put_u64(out, (uint64_t)s->sums[i]);
            TU_CHECK_CODE(actor_promise_resolve(s->held[i], out, 8), ACTOR_OK);
            s->held[i] = NULL;
        }
        s->n = 0;
    }
    return 0;
}

/* The asker: on Go it puts TAG_N requests in flight to the calculator, each
 * forwarded to itself with its own tag; on_response checks each. */
static uint64_t tag_of(size_t i)
{
    if (i == TAG_N - 1)
        return UINT64_MAX; /* every bit must come through */
    return 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) | 1ull << 63;
}

typedef struct asker_state {
    actor_addr *calc;
} asker_state;

static atomic_int tag_seen[TAG_N];
static atomic_int tag_resp_calls, tag_bad, tag_plain_calls, tag_sent;
static atomic_llong tag_plain_value, tag_last_plain_status;
static _Atomic uint64_t tag_in_init, tag_in_go, tag_in_tick, tag_in_fin, tag_in_interrupt;
static atomic_int tag_ticks, tag_finalized, tag_interrupted;
static _Atomic uint64_t tag_last;

static int asker_init(actor_ctx *ctx, void *st)
{
    atomic_store(&tag_in_init, actor_ctx_tag(ctx));
    return 0;
}

static int asker_go(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    asker_state *s = st;
    atomic_store(&tag_in_go, actor_ctx_tag(ctx));
    for (size_t i = 0; i < TAG_N; i++) {
        unsigned char buf[16];
        tu_put_u64(buf, (uint64_t)i);
        tu_put_u64(buf + 8, TAG_B);
        actor_responder *r = NULL;
        int rc = addr_interact(s->calc, t_add, buf, 16, &r);
        TU_CHECK_CODE(rc, ACTOR_OK);
        if (rc != ACTOR_OK)
            continue;
        rc = actor_responder_forward_tagged(r, actor_ctx_self(ctx), tag_of(i));
        TU_CHECK_CODE(rc, ACTOR_OK);
        if (rc != ACTOR_OK)
            actor_responder_free(r);
        else
            atomic_fetch_add(&tag_sent, 1);
    }
    return 0;
}

static int asker_tick(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_store(&tag_in_tick, actor_ctx_tag(ctx));
    atomic_fetch_add(&tag_ticks, 1);
    return 0;
}

static int asker_probe(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    unsigned char out[8];
    tu_put_u64(out, actor_ctx_tag(ctx));
    return actor_ctx_reply(ctx, out, 8);
}

static void asker_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                           const void *reply, size_t len)
{
    uint64_t tag = actor_ctx_tag(ctx);
    atomic_store(&tag_last, tag);
    TU_CHECK(t == t_add);
    TU_CHECK(actor_ctx_msgtype(ctx) == t_add);
    if (tag == 0) { /* a plain actor_responder_forward */
        atomic_store(&tag_last_plain_status, status);
        atomic_store(&tag_plain_value,
                     status == ACTOR_OK && len == 8 ? (long long)tu_get_u64(reply) : -1);
        atomic_fetch_add(&tag_plain_calls, 1);
        atomic_fetch_add(&tag_resp_calls, 1);
        return;
    }
    size_t i = 0;
    while (i < TAG_N && tag_of(i) != tag)
        i++;
    if (i == TAG_N) {
        /* Not one of the batch's: a tag given by the test thread. */
        atomic_store(&tag_last_plain_status, status);
        atomic_store(&tag_plain_value,
                     status == ACTOR_OK && len == 8 ? (long long)tu_get_u64(reply) : -1);
        atomic_fetch_add(&tag_resp_calls, 1);
        return;
    }
    TU_CHECK_CODE(status, ACTOR_OK);
    TU_CHECK(len == 8 && reply != NULL);
    if (status != ACTOR_OK || len != 8 || reply == NULL ||
        tu_get_u64(reply) != (uint64_t)(i + TAG_B)) {
        tu_record_failure(__FILE__, __LINE__, "tag %zu got reply %lld, expected %lld", i,
                          len == 8 && reply ? (long long)tu_get_u64(reply) : -1LL,
                          (long long)(i + TAG_B));
        atomic_fetch_add(&tag_bad, 1);
    }
    atomic_fetch_add(&tag_seen[i], 1);
    atomic_fetch_add(&tag_resp_calls, 1);
}

static void asker_interrupt(actor_ctx *ctx, void *st)
{
    atomic_store(&tag_in_interrupt, actor_ctx_tag(ctx));
    atomic_store(&tag_interrupted, 1);
    actor_ctx_stop(ctx);
}

static void asker_fin(actor_ctx *ctx, void *st)
{
    atomic_store(&tag_in_fin, actor_ctx_tag(ctx));
    atomic_store(&tag_finalized, 1);
}

static actor_runtime *tg_rt;
static actor_class *tg_calc_cls, *tg_asker_cls;
static actor_addr *tg_calc, *tg_asker;
static calc_state tg_calc_state;
static asker_state tg_asker_state;

static int tag_setup(void **state)
{
    tu_reset_failures();
    t_add = tu_type("p0.Add", "qq", "q");
    t_go = tu_type("p0.Go", "", NULL);
    t_tick = tu_type("p0.Tick", "", NULL);
    t_probe = tu_type("p0.Probe", "", "Q");
    tg_calc_cls = tu_class("p0.Calc");
    assert_ok(actor_class_on_request(tg_calc_cls, t_add, calc_add));
    tg_asker_cls = tu_class("p0.Asker");
    assert_ok(actor_class_on_init(tg_asker_cls, asker_init));
    assert_ok(actor_class_on_event(tg_asker_cls, t_go, asker_go));
    assert_ok(actor_class_on_event(tg_asker_cls, t_tick, asker_tick));
    assert_ok(actor_class_on_request(tg_asker_cls, t_probe, asker_probe));
    assert_ok(actor_class_on_response(tg_asker_cls, t_add, asker_response));
    assert_ok(actor_class_on_interrupt(tg_asker_cls, asker_interrupt));
    assert_ok(actor_class_on_finalize(tg_asker_cls, asker_fin));
    for (size_t i = 0; i < TAG_N; i++)
        atomic_store(&tag_seen[i], 0);
    atomic_store(&tag_resp_calls, 0);
    atomic_store(&tag_bad, 0);
    atomic_store(&tag_plain_calls, 0);
    atomic_store(&tag_sent, 0);
    atomic_store(&tag_plain_value, 0);
    atomic_store(&tag_last_plain_status, 1);
    atomic_store(&tag_ticks, 0);
    atomic_store(&tag_finalized, 0);
    atomic_store(&tag_interrupted, 0);
    const uint64_t poison = 0xDEADBEEFull;
    atomic_store(&tag_in_init, poison);
    atomic_store(&tag_in_go, poison);
    atomic_store(&tag_in_tick, poison);
    atomic_store(&tag_in_fin, poison);
    atomic_store(&tag_in_interrupt, poison);
    atomic_store(&tag_last, poison);
    memset(&tg_calc_state, 0, sizeof tg_calc_state);
    tg_calc_state.seed = (unsigned)tu_now_ns();
    tg_rt = tu_runtime(2);
    tg_calc = tu_spawn(tg_rt, tg_calc_cls, &tg_calc_state);
    tg_asker_state.calc = tg_calc;
    tg_asker = tu_spawn(tg_rt, tg_asker_cls, &tg_asker_state);
    return 0;
}

static int tag_teardown(void **state)
{
    if (tg_asker) {
        addr_interrupt(tg_asker);
        addr_join(tg_asker, TU_LONG_MS);
        addr_release(tg_asker);
    }
    if (tg_calc) {
        addr_interrupt(tg_calc);
        addr_join(tg_calc, TU_LONG_MS);
        addr_release(tg_calc);
    }
    tg_asker = tg_calc = NULL;
    actor_runtime_free(tg_rt);
    tg_rt = NULL;
    actor_class_free(tg_calc_cls);
    actor_class_free(tg_asker_cls);
    return tu_teardown(state);
}

#define TAG_TEST(f) cmocka_unit_test_setup_teardown(f, tag_setup, tag_teardown)

static actor_responder *ask_calc(int64_t a, int64_t b)
{
    unsigned char buf[16];
    tu_put_u64(buf, (uint64_t)a);
    tu_put_u64(buf + 8, (uint64_t)b);
    actor_responder *r = NULL;
    assert_ok(addr_interact(tg_calc, t_add, buf, 16, &r));
    return r;
}

static uint64_t probe_tag(void)
{
    actor_responder *r = NULL;
    assert_ok(addr_interact(tg_asker, t_probe, NULL, 0, &r));
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    size_t len = 0;
    const void *d = actor_responder_data(r, &len);
    assert_int_equal(len, 8);
    uint64_t v = tu_get_u64(d);
    actor_responder_free(r);
    return v;
}

static void hundred_in_flight_each_tag_once(void **state)
{
    (void)state;
    assert_ok(addr_send(tg_asker, t_go, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&tag_resp_calls) >= TAG_N, TU_LONG_MS);
    tu_assert_no_failures();
    assert_int_equal(atomic_load(&tag_sent), TAG_N);
    assert_int_equal(atomic_load(&tag_bad), 0);
    for (size_t i = 0; i < TAG_N; i++)
        if (atomic_load(&tag_seen[i]) != 1)
            fail_msg("tag #%zu (0x%llx) seen %d times", i, (unsigned long long)tag_of(i),
                     atomic_load(&tag_seen[i]));
    assert_int_equal(atomic_load(&tag_plain_calls), 0);

    /* Outside on_response the tag is 0: init, the event handler that sent
     * them (before any response), a later event and a later request (after
     * all the responses), interrupt and finalize; and for NULL. */
    assert_int_equal(atomic_load(&tag_in_init), 0);
    assert_int_equal(atomic_load(&tag_in_go), 0);
    assert_ok(addr_send(tg_asker, t_tick, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&tag_ticks) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&tag_in_tick), 0);
    assert_int_equal(probe_tag(), 0);
    assert_int_equal(actor_ctx_tag(NULL), 0);
    tu_stop_join(tg_asker);
    assert_true(atomic_load(&tag_interrupted));
    assert_true(atomic_load(&tag_finalized));
    assert_int_equal(atomic_load(&tag_in_interrupt), 0);
    assert_int_equal(atomic_load(&tag_in_fin), 0);
    /* Exactly the responses sent, no more. */
    assert_int_equal(atomic_load(&tag_resp_calls), TAG_N);
    tu_assert_no_failures();
}

static void hundred_in_flight_twice(void **state)
{
    (void)state;
    /* Two rounds on one actor: the tags of the first round do not linger. */
    for (int round = 1; round <= 2; round++) {
        assert_ok(addr_send(tg_asker, t_go, NULL, 0));
        TU_WAIT_UNTIL(atomic_load(&tag_resp_calls) >= round * TAG_N, TU_LONG_MS);
        for (size_t i = 0; i < TAG_N; i++)
            assert_int_equal(atomic_load(&tag_seen[i]), round);
        assert_int_equal(probe_tag(), 0);
    }
    tu_assert_no_failures();
}

static void plain_forward_is_tag_zero(void **state)
{
    (void)state;
    /* Tagged from the test thread first, so that a leftover would show. */
    actor_responder *r = ask_calc(20, 22);
    assert_ok(actor_responder_forward_tagged(r, tg_asker, 0x0123456789ABCDEFull));
    TU_WAIT_UNTIL(atomic_load(&tag_resp_calls) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&tag_last), 0x0123456789ABCDEFull);
    assert_int_equal(atomic_load(&tag_plain_value), 42);

    r = ask_calc(5, 6);
    assert_ok(actor_responder_forward(r, tg_asker));
    TU_WAIT_UNTIL(atomic_load(&tag_resp_calls) == 2, TU_LONG_MS);
    assert_int_equal(atomic_load(&tag_plain_calls), 1);
    assert_int_equal(atomic_load(&tag_last), 0);
    assert_int_equal(atomic_load(&tag_plain_value), 11);

    /* And forward_tagged with 0 is the same thing. */
    r = ask_calc(7, 8);
    assert_ok(actor_responder_forward_tagged(r, tg_asker, 0));
    TU_WAIT_UNTIL(atomic_load(&tag_resp_calls) == 3, TU_LONG_MS);
    assert_int_equal(atomic_load(&tag_plain_calls), 2);
    assert_int_equal(atomic_load(&tag_plain_value), 15);
    tu_assert_no_failures();
}

static void cb_noop(actor_responder *r, void *ud) {}

static void forward_tagged_error_codes(void **state)
{
    (void)state;
    /* NULL responder, NULL target. */
    assert_code(actor_responder_forward_tagged(NULL, tg_asker, 1), ACTOR_EINVAL);
    actor_responder *r = ask_calc(1, 2);
    assert_code(actor_responder_forward_tagged(r, NULL, 1), ACTOR_EINVAL);
    assert_code(actor_responder_forward(r, NULL), ACTOR_EINVAL);
    /* No on_response for the type: the calculator has none at all. */
    assert_code(actor_responder_forward_tagged(r, tg_calc, 2), ACTOR_ENOHANDLER);
    assert_code(actor_responder_forward(r, tg_calc), ACTOR_ENOHANDLER);
    /* The target stopped. */
    actor_addr *dead = tu_spawn(tg_rt, tg_asker_cls, &tg_asker_state);
    tu_stop_join(dead);
    assert_code(actor_responder_forward_tagged(r, dead, 3), ACTOR_ECLOSED);
    assert_code(actor_responder_forward(r, dead), ACTOR_ECLOSED);
    addr_release(dead);
    /* None of those consumed r: it is complete, readable, and can still be
     * forwarded, tag and all. */
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 3);
    assert_ok(actor_responder_forward_tagged(r, tg_asker, 77));
    TU_WAIT_UNTIL(atomic_load(&tag_resp_calls) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&tag_last), 77);
    assert_int_equal(atomic_load(&tag_plain_value), 3);

    /* A then-callback set: EINVAL, not consumed (freed here). */
    r = ask_calc(1, 1);
    assert_ok(actor_responder_then(r, cb_noop, NULL));
    assert_code(actor_responder_forward_tagged(r, tg_asker, 4), ACTOR_EINVAL);
    actor_responder_free(r);
    /* Nothing more was delivered. */
    assert_int_equal(probe_tag(), 0);
    assert_int_equal(atomic_load(&tag_resp_calls), 1);
    tu_assert_no_failures();
}

/* ------------------------------------------------------------------------ */
/* 6. actor_msgtype_define's log lines                                       */
/* ------------------------------------------------------------------------ */

static void define_expect(const char *name, const char *layout, const char *reply, int rc)
{
    const actor_msgtype *t = (const actor_msgtype *)&t;
    tu_log_clear();
    int got = actor_msgtype_define(name, layout, reply, &t);
    if (got != rc)
        fail_msg("actor_msgtype_define(%s, %s, %s) = %d (%s), expected %d (%s)",
                 name ? name : "NULL", layout ? layout : "NULL", reply ? reply : "NULL", got,
                 actor_strerror(got), rc, actor_strerror(rc));
    if (rc != ACTOR_OK)
        assert_ptr_equal(t, (const actor_msgtype *)&t); /* out untouched */
}

static void bad_layouts_warn_once(void **state)
{
    (void)state;
    tu_log_capture();
    /* A bad character: named, in quotes. */
    define_expect("p0.BadZ", "qZ", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadZ", "'Z'", "qZ");
    define_expect("p0.BadSpace", "q q", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadSpace", "' '");
    define_expect("p0.BadOrder", "<q", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadOrder", "'<'");
    /* A count with nothing after it: no bad character, says what is wrong. */
    define_expect("p0.BadTail", "q3", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadTail", "\"q3\"", "repeat count");
    define_expect("p0.BadCount", "4", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadCount", "\"4\"", "repeat count");
    /* A count past SIZE_MAX. */
    define_expect("p0.BadHuge", "99999999999999999999q", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadHuge", "too large");
    /* A payload over 1 GiB. */
    define_expect("p0.BadGiB", "1073741825s", NULL, ACTOR_EINVAL);
    assert_one_warn("p0.BadGiB", "1 GiB");
    /* The reply layout is checked and named as such. */
    define_expect("p0.BadReply", "q", "qZ", ACTOR_EINVAL);
    assert_one_warn("p0.BadReply", "reply layout", "'Z'");
    /* None of them was defined. */
    const char *names[] = {"p0.BadZ",    "p0.BadSpace", "p0.BadOrder", "p0.BadTail",
                           "p0.BadCount", "p0.BadHuge", "p0.BadGiB",   "p0.BadReply"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_null(actor_msgtype_find(names[i]));
    /* Good layouts log nothing. */
    define_expect("p0.GoodLayout", "q3sQ", "16s", ACTOR_OK);
    define_expect("p0.GoodLayout", "q3sQ", "16s", ACTOR_OK);
    assert_int_equal(tu_log_count(), 0);
    tu_log_stop();
}

static void bad_names_warn_once(void **state)
{
    (void)state;
    tu_log_capture();
    define_expect("bad name!", "q", NULL, ACTOR_EINVAL);
    assert_one_warn("bad name!");
    define_expect("", "q", NULL, ACTOR_EINVAL);
    assert_one_warn("type name");
    define_expect(NULL, "q", NULL, ACTOR_EINVAL);
    assert_one_warn("type name");
    char name[80];
    memset(name, 'n', 65);
    name[65] = '\0';
    define_expect(name, "q", NULL, ACTOR_EINVAL); /* 65 characters */
    assert_one_warn("type name");
    name[64] = '\0';
    define_expect(name, "q", NULL, ACTOR_OK); /* 64: fine, silent */
    assert_int_equal(tu_log_count(), 0);
    tu_log_stop();
}

static void redefinition_warns_naming_the_type(void **state)
{
    (void)state;
    tu_log_capture();
    define_expect("p0.Redef", "q", "q", ACTOR_OK);
    assert_int_equal(tu_log_count(), 0);
    define_expect("p0.Redef", "qq", "q", ACTOR_ETYPE);
    assert_one_warn("p0.Redef");
    define_expect("p0.Redef", "q", NULL, ACTOR_ETYPE);
    assert_one_warn("p0.Redef");
    define_expect("p0.Redef", NULL, "q", ACTOR_ETYPE);
    assert_one_warn("p0.Redef");
    /* The same layouts: OK, silent, the same type. */
    const actor_msgtype *a = NULL, *b = NULL;
    tu_log_clear();
    assert_ok(actor_msgtype_define("p0.Redef", "q", "q", &a));
    assert_ok(actor_msgtype_define("p0.Redef", "q", "q", &b));
    assert_ptr_equal(a, b);
    assert_int_equal(tu_log_count(), 0);
    assert_string_equal(actor_msgtype_layout(a), "q");
    tu_log_stop();
}

static void strerror_new_codes(void **state)
{
    (void)state;
    const char *unknown = actor_strerror(-1000);
    assert_non_null(strstr(actor_strerror(ACTOR_ETYPE), "redefined"));
    const int codes[] = {ACTOR_ENOENT, ACTOR_EEXPIRED, ACTOR_EFULL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = actor_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        if (strcmp(s, unknown) == 0 || strstr(s, "unknown") != NULL)
            fail_msg("actor_strerror(%d) is not specific: \"%s\"", codes[i], s);
        for (int c = 0; c >= -12; c--)
            if (c != codes[i] && strcmp(s, actor_strerror(c)) == 0)
                fail_msg("actor_strerror(%d) is the string of %d: \"%s\"", codes[i], c, s);
    }
    assert_string_not_equal(actor_strerror(ACTOR_ENOENT), actor_strerror(ACTOR_EEXPIRED));
    assert_int_equal(ACTOR_ENOENT, -13);
    assert_int_equal(ACTOR_EEXPIRED, -14);
    /* Past the last code: unknown again. */
    assert_string_equal(actor_strerror(-15), unknown);
}

/* ------------------------------------------------------------------------ */
/* 7. A refused reply and a handler returning 0                              */
/* ------------------------------------------------------------------------ */

static const actor_msgtype *t_stingy;

/* payload: 0 refuse then return 0; 1 refuse then return 9; 2 refuse then
 * answer right; 3 return 0 without trying. */
static int stingy_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t mode = tu_get_u64(p);
    unsigned char out[16] = {0};
    if (mode != 3)
        TU_CHECK_CODE(actor_ctx_reply(ctx, out, 4), ACTOR_ETYPE);
    if (mode == 1)
        return 9;
    if (mode == 2) {
        tu_put_u64(out, 123);
        TU_CHECK_CODE(actor_ctx_reply(ctx, out, 8), ACTOR_OK);
    }
    return 0;
}

static void refused_reply_then_zero_warns(void **state)
{
    (void)state;
    t_stingy = tu_type("p0.AskStingy", "Q", "q");
    actor_class *c = tu_class("p0.Stingy");
    assert_ok(actor_class_on_request(c, t_stingy, stingy_request));
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_log_capture();

    struct {
        uint64_t mode;
        int status;
        size_t warns;
    } cases[] = {
        {0, ACTOR_ECANCELED, 1},
        {3, ACTOR_ECANCELED, 0}, /* the refusal of case 0 does not linger */
        {1, ACTOR_EHANDLER, 0},
        {2, ACTOR_OK, 0},
        {3, ACTOR_ECANCELED, 0},
        {0, ACTOR_ECANCELED, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_log_clear();
        unsigned char buf[8];
        tu_put_u64(buf, cases[i].mode);
        actor_responder *r = NULL;
        assert_ok(addr_interact(a, t_stingy, buf, 8, &r));
        int st = actor_responder_wait(r, TU_LONG_MS);
        if (st != cases[i].status)
            fail_msg("case %zu (mode %llu): status %d (%s), expected %d (%s)", i,
                     (unsigned long long)cases[i].mode, st, actor_strerror(st),
                     cases[i].status, actor_strerror(cases[i].status));
        if (st == ACTOR_EHANDLER)
            assert_int_equal(actor_responder_handler_error(r), 9);
        if (st == ACTOR_OK)
            assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 123);
        actor_responder_free(r);
        /* The line, if any, is logged before the request completes. */
        size_t w = lines_matching(ACTOR_LOG_WARN, "p0.Stingy", "p0.AskStingy", NULL);
        if (w != cases[i].warns) {
            tu_log_dump();
            fail_msg("case %zu (mode %llu): %zu WARN lines naming class and type, expected %zu",
                     i, (unsigned long long)cases[i].mode, w, cases[i].warns);
        }
    }
    tu_log_stop();
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_assert_no_failures();
}

/* ------------------------------------------------------------------------ */
/* 9. The version                                                            */
/* ------------------------------------------------------------------------ */

static void version_is_1_1_0(void **state)
{
    (void)state;
    assert_int_equal(ACTOR_VERSION_MAJOR, 1);
    assert_int_equal(ACTOR_VERSION_MINOR, 1);
    assert_int_equal(ACTOR_VERSION_PATCH, 0);
    assert_int_equal(actor_version(), 0x010100);
    assert_string_equal(actor_version_string(), "1.1.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(promises_survive_runtime_free_answered_twice),
        TAG_TEST(hundred_in_flight_each_tag_once),
        TAG_TEST(hundred_in_flight_twice),
        TAG_TEST(plain_forward_is_tag_zero),
        TAG_TEST(forward_tagged_error_codes),
        TU_TEST(bad_layouts_warn_once),
        TU_TEST(bad_names_warn_once),
        TU_TEST(redefinition_warns_naming_the_type),
        TU_TEST(strerror_new_codes),
        TU_TEST(refused_reply_then_zero_warns),
        TU_TEST(version_is_1_1_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
