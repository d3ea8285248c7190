/* ABI 1.1 part 3 (issue 12): supervisors (Erlang/OTP's restart semantics,
 * restarts in place).
 *
 * The strategies as a table on the manual runtime: strategy x restart type
 * x how the child stops x which child of 3 -> who is restarted (addr_restarts
 * and init counts), who is left alone, who is Done. Then: what a restart in
 * place keeps (the address, every copy, the queued messages) and renews
 * (a zeroed state, init; finalize and state_free ran for the old one; the
 * failed request ECANCELED); intensity and period (advance, no sleeping);
 * giving up with the last child's reason, children stopped last first;
 * escalation through a 3-level tree; doubling backoff; the stop in reverse
 * start order (interrupt, last address released; threaded too); stop_child;
 * the bad calls' codes; the runtime's shutdown; and a threaded
 * one_for_one loop under 4 requesting threads. */
#include "testutil.h"

static const actor_msgtype *t_go, *t_q;

/* sv.Go / sv.Q payload: (action, arg). */
enum { A_NOTHING, A_FAIL, A_STOP, A_RECORD, A_PING, A_FAIL_NOREPLY };

#define MAXK 16
/* The test's counted addresses, by index (atomic: threaded tests' inits
 * look them up while the main thread fills the table). */
static actor_addr *_Atomic kids[MAXK];
static int nkids;
static atomic_int inits[MAXK], finals[MAXK], frees[MAXK];
static atomic_int stray_inits; /* inits of actors not (yet) in kids[] */

/* What happened, in order: finalizes (F), handled records (R). */
typedef struct ev {
    char kind;
    int index, incarnation, value;
} ev;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static ev evlog[4096];
static int nev;

/* Called in each child's finalize (a check of the order), if set. */
static void (*on_finalize)(int index);

typedef struct kid_state {
    int index, incarnation, seen, zero_at_init;
} kid_state;

static void reset(void)
{
    nkids = 0;
    for (int i = 0; i < MAXK; i++) {
        atomic_store(&kids[i], NULL);
        atomic_store(&inits[i], 0);
        atomic_store(&finals[i], 0);
        atomic_store(&frees[i], 0);
    }
    atomic_store(&stray_inits, 0);
    pthread_mutex_lock(&log_mu);
    nev = 0;
    pthread_mutex_unlock(&log_mu);
    on_finalize = NULL;
}

static int setup(void **state)
{
    tu_reset_failures();
    t_go = tu_type("sv.Go", "ii", NULL);
    t_q = tu_type("sv.Q", "ii", "i");
    reset();
    return 0;
}

static int teardown(void **state) { return tu_teardown(state); }

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void log_ev(char kind, int index, int incarnation, int value)
{
    pthread_mutex_lock(&log_mu);
    if (nev < (int)(sizeof evlog / sizeof evlog[0]))
        evlog[nev++] = (ev){kind, index, incarnation, value};
    pthread_mutex_unlock(&log_mu);
}

/* The indexes of the finalizes, in order, as a string ("CBA" for 2,1,0). */
static void finalize_order(char *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < nev && n + 1 < cap; i++)
        if (evlog[i].kind == 'F')
            out[n++] = (char)('A' + evlog[i].index);
    pthread_mutex_unlock(&log_mu);
    out[n] = '\0';
}

static int kid_index(actor_addr *a)
{
    for (int i = 0; i < MAXK; i++)
        if (kids[i] != NULL && kids[i] == a)
            return i;
    return -1;
}

/* ---- the child ---- */

static int k_init(actor_ctx *ctx, void *st)
{
    kid_state *s = st;
    TU_CHECK(s != NULL);
    if (s == NULL)
        return 0;
    /* A fresh zeroed state at every incarnation. */
    s->zero_at_init = s->index == 0 && s->incarnation == 0 && s->seen == 0;
    TU_CHECK(s->zero_at_init);
    int i = kid_index(actor_ctx_self(ctx));
    if (i < 0) {
        atomic_fetch_add(&stray_inits, 1);
        s->index = -1;
        return 0;
    }
    s->index = i;
    s->incarnation = atomic_fetch_add(&inits[i], 1) + 1;
    return 0;
}

static void k_fin(actor_ctx *ctx, void *st)
{
    int i = kid_index(actor_ctx_self(ctx));
    if (i < 0)
        return;
    atomic_fetch_add(&finals[i], 1);
    log_ev('F', i, st ? ((kid_state *)st)->incarnation : 0, 0);
    if (on_finalize != NULL)
        on_finalize(i);
}

static void k_free(void *st)
{
    kid_state *s = st;
    if (s->index >= 0 && s->index < MAXK)
        atomic_fetch_add(&frees[s->index], 1);
}

static void k_act(actor_ctx *ctx, kid_state *s, int action, int arg)
{
    switch (action) {
    case A_FAIL:
    case A_FAIL_NOREPLY:
        actor_ctx_fail(ctx, arg);
        break;
    case A_STOP:
        actor_ctx_stop(ctx);
        break;
    case A_RECORD:
        s->seen++;
        log_ev('R', s->index, s->incarnation, arg);
        break;
    default:
        break;
    }
}

static int k_go(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    const unsigned char *b = p;
    k_act(ctx, st, (int)tu_get_u32(b), (int)tu_get_u32(b + 4));
    return 0;
}

static int k_q(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    const unsigned char *b = p;
    int action = (int)tu_get_u32(b);
    k_act(ctx, st, action, (int)tu_get_u32(b + 4));
    if (action == A_FAIL || action == A_FAIL_NOREPLY)
        return 0; /* unanswered */
    unsigned char r[4];
    tu_put_u32(r, (uint32_t)((kid_state *)st)->incarnation);
    TU_CHECK_CODE(actor_ctx_reply(ctx, r, 4), ACTOR_OK);
    return 0;
}

static actor_class *kid_class(void)
{
    actor_class *c = tu_class("sv.Kid");
    assert_ok(actor_class_set_state_size(c, sizeof(kid_state)));
    assert_ok(actor_class_set_state_free(c, k_free));
    assert_ok(actor_class_on_init(c, k_init));
    assert_ok(actor_class_on_finalize(c, k_fin));
    assert_ok(actor_class_on_event(c, t_go, k_go));
    assert_ok(actor_class_on_request(c, t_q, k_q));
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

static actor_supervisor_spec spec_full(int strategy, unsigned intensity, unsigned period_ms,
                                       unsigned backoff_ms, unsigned backoff_max_ms)
{
    actor_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.strategy = strategy;
    s.intensity = intensity;
    s.period_ms = period_ms;
    s.backoff_ms = backoff_ms;
    s.backoff_max_ms = backoff_max_ms;
    return s;
}

static actor_supervisor_spec spec_of(int strategy, unsigned intensity)
{
    return spec_full(strategy, intensity, 1000, 0, 0);
}

static actor_addr *sup_new(actor_runtime *rt, actor_supervisor_spec s)
{
    actor_addr *sup = NULL;
    assert_ok(actor_supervisor_spawn(rt, &s, &sup));
    assert_non_null(sup);
    return sup;
}

/* Starts a child of cls under sup as kids[nkids]; returns its index. */
static int kid_new(actor_addr *sup, actor_class *cls, int restart)
{
    assert_true(nkids < MAXK);
    actor_addr *a = NULL;
    assert_ok(actor_supervisor_start_child(sup, cls, restart, &a));
    assert_non_null(a);
    kids[nkids] = a;
    return nkids++;
}

static int kid_sup_new(actor_addr *sup, actor_supervisor_spec s, int restart)
{
    assert_true(nkids < MAXK);
    actor_addr *a = NULL;
    assert_ok(actor_supervisor_start_supervisor(sup, &s, restart, &a));
    kids[nkids] = a;
    return nkids++;
}

static void kids_release(void)
{
    for (int i = 0; i < nkids; i++)
        addr_release(kids[i]);
}

static void send2(actor_addr *a, int action, int arg)
{
    unsigned char b[8];
    tu_put_u32(b, (uint32_t)action);
    tu_put_u32(b + 4, (uint32_t)arg);
    assert_ok(addr_send(a, t_go, b, 8));
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

static unsigned long long restarts_of(actor_addr *a)
{
    unsigned long long n = 999;
    assert_ok(addr_restarts(a, &n));
    return n;
}

static int reason_of(actor_addr *a)
{
    int r = 424242;
    assert_ok(addr_exit_reason(a, &r));
    return r;
}

/* A ping answered with the incarnation that answered it. */
static int ping(actor_runtime *rt, actor_addr *a)
{
    actor_responder *r = ask(a, A_PING, 0);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    assert_int_equal(len, 4);
    int inc = (int)tu_get_u32(d);
    actor_responder_free(r);
    return inc;
}

static const char *strategy_name(int s)
{
    return s == ACTOR_ONE_FOR_ONE ? "one_for_one" : s == ACTOR_ONE_FOR_ALL ? "one_for_all"
                                                                           : "rest_for_one";
}

static const char *restart_name(int r)
{
    return r == ACTOR_PERMANENT ? "permanent" : r == ACTOR_TRANSIENT ? "transient" : "temporary";
}

/* ======================================================================== */
/* The strategy table                                                        */
/* ======================================================================== */

#define ROW_CHECK(cond, ...)                                                           \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            char m_[256];                                                              \
            snprintf(m_, sizeof m_, __VA_ARGS__);                                      \
            fail_msg("row %s: %s (%s)", row, m_, #cond);                               \
        }                                                                              \
    } while (0)

/* strategy x restart type of the child that stops x fails/stops normally x
 * first/middle/last of 3 (the other two permanent) -> who is restarted. */
static void strategy_table(void **state)
{
    static const int strategies[] = {ACTOR_ONE_FOR_ONE, ACTOR_ONE_FOR_ALL, ACTOR_REST_FOR_ONE};
    static const int types[] = {ACTOR_PERMANENT, ACTOR_TRANSIENT, ACTOR_TEMPORARY};
    actor_class *c = kid_class();
    int rows = 0;
    for (int si = 0; si < 3; si++)
        for (int ti = 0; ti < 3; ti++)
            for (int fails = 1; fails >= 0; fails--)
                for (int which = 0; which < 3; which++) {
                    int strategy = strategies[si], type = types[ti];
                    char row[128];
                    snprintf(row, sizeof row, "%s/%s/%s/child %d", strategy_name(strategy),
                             restart_name(type), fails ? "fails" : "stops normally", which);
                    reset();
                    actor_runtime *rt = manual((uint64_t)rows + 1);
                    actor_addr *sup = sup_new(rt, spec_of(strategy, 10));
                    for (int i = 0; i < 3; i++)
                        kid_new(sup, c, i == which ? type : ACTOR_PERMANENT);
                    run_all(rt);
                    for (int i = 0; i < 3; i++)
                        ROW_CHECK(atomic_load(&inits[i]) == 1, "child %d init", i);
                    send2(kids[which], fails ? A_FAIL : A_STOP, 50);
                    run_all(rt);

                    bool final = type == ACTOR_TEMPORARY || (type == ACTOR_TRANSIENT && !fails);
                    for (int i = 0; i < 3; i++) {
                        bool restarted;
                        if (final)
                            restarted = false;
                        else if (strategy == ACTOR_ONE_FOR_ONE)
                            restarted = i == which;
                        else if (strategy == ACTOR_ONE_FOR_ALL)
                            restarted = true;
                        else
                            restarted = i >= which;
                        unsigned long long n = restarts_of(kids[i]);
                        ROW_CHECK(n == (restarted ? 1u : 0u), "child %d restarts %llu", i, n);
                        int in = atomic_load(&inits[i]), fi = atomic_load(&finals[i]);
                        int fr = atomic_load(&frees[i]);
                        if (final && i == which) {
                            ROW_CHECK(addr_is_done(kids[i]), "child %d Done", i);
                            int r = reason_of(kids[i]);
                            ROW_CHECK(r == (fails ? 50 : 0), "child %d reason %d", i, r);
                            ROW_CHECK(in == 1 && fi == 1 && fr == 1, "child %d %d/%d/%d", i,
                                      in, fi, fr);
                        } else {
                            ROW_CHECK(!addr_is_done(kids[i]), "child %d alive", i);
                            ROW_CHECK(in == 1 + restarted && fi == (int)restarted &&
                                          fr == (int)restarted,
                                      "child %d inits %d finals %d frees %d", i, in, fi, fr);
                            /* It answers, as the incarnation it is. */
                            int inc = ping(rt, kids[i]);
                            ROW_CHECK(inc == 1 + restarted, "child %d answered as %d", i, inc);
                        }
                    }
                    int r = 0;
                    ROW_CHECK(addr_exit_reason(sup, &r) == ACTOR_EAGAIN, "supervisor alive");
                    addr_release(sup); /* its last address: it stops its children */
                    run_all(rt);
                    for (int i = 0; i < 3; i++)
                        ROW_CHECK(addr_is_done(kids[i]), "child %d Done at the end", i);
                    kids_release();
                    actor_runtime_free(rt);
                    tu_assert_no_failures();
                    rows++;
                }
    assert_int_equal(rows, 54);
    actor_class_free(c);
}

/* Erlang/OTP: a temporary child is never restarted, "even when the
 * supervisor's restart strategy is rest_for_one or one_for_all and a
 * sibling's death causes the temporary process to be terminated"; a
 * transient sibling terminated by the strategy is restarted. The header:
 * "TEMPORARY never". Every row is checked before the test fails.
 * LIBRARY BUG 1 when this fails (see the report). */
static void strategy_temporary_sibling_not_restarted(void **state)
{
    static const int strategies[] = {ACTOR_ONE_FOR_ALL, ACTOR_REST_FOR_ONE};
    actor_class *c = kid_class();
    int bad = 0;
    for (int si = 0; si < 2; si++) {
        reset();
        actor_runtime *rt = manual(100 + (uint64_t)si);
        actor_addr *sup = sup_new(rt, spec_of(strategies[si], 10));
        kid_new(sup, c, ACTOR_PERMANENT);
        kid_new(sup, c, ACTOR_TEMPORARY);
        kid_new(sup, c, ACTOR_TRANSIENT);
        run_all(rt);
        send2(kids[0], A_FAIL, 9);
        run_all(rt);
        struct {
            bool ok;
            const char *what;
        } checks[] = {
            {restarts_of(kids[0]) == 1, "the failed child is restarted"},
            {restarts_of(kids[2]) == 1, "the transient sibling is restarted"},
            {restarts_of(kids[1]) == 0, "the temporary sibling is not restarted"},
            {addr_is_done(kids[1]), "the temporary sibling is Done"},
            {atomic_load(&inits[1]) == 1, "the temporary sibling's init ran once"},
        };
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            if (!checks[i].ok) {
                fprintf(stderr, "row %s: expected: %s\n", strategy_name(strategies[si]),
                        checks[i].what);
                bad++;
            }
        kids_release();
        addr_release(sup);
        actor_runtime_free(rt);
    }
    actor_class_free(c);
    assert_int_equal(bad, 0);
}

/* ======================================================================== */
/* What a restart in place keeps and renews                                  */
/* ======================================================================== */

static void restart_in_place(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(7);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    int k = kid_new(sup, c, ACTOR_PERMANENT);
    int other = kid_new(sup, c, ACTOR_PERMANENT);
    actor_addr *copy = addr_ref(kids[k]);
    run_all(rt);
    /* Queued behind each other before anything runs: 1, then a failing
     * request, then 2, 3, a request, 4. */
    send2(kids[k], A_RECORD, 1);
    actor_responder *failed = ask(kids[k], A_FAIL_NOREPLY, 13);
    send2(kids[k], A_RECORD, 2);
    send2(copy, A_RECORD, 3);
    actor_responder *later = ask(copy, A_PING, 0);
    send2(kids[k], A_RECORD, 4);
    run_all(rt);
    /* The failed message's request: canceled (the handler did not answer). */
    assert_code(actor_responder_status(failed), ACTOR_ECANCELED);
    /* The queued messages: handled by the new incarnation, in order. */
    assert_code(actor_responder_status(later), ACTOR_OK);
    assert_int_equal(tu_get_u32(actor_responder_data(later, NULL)), 2);
    int got[4][2], n = 0;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < nev; i++)
        if (evlog[i].kind == 'R' && n < 4) {
            got[n][0] = evlog[i].value;
            got[n][1] = evlog[i].incarnation;
            n++;
        }
    pthread_mutex_unlock(&log_mu);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(got[i][0], i + 1);
        assert_int_equal(got[i][1], i == 0 ? 1 : 2);
    }
    /* finalize and state_free ran for the old incarnation, init for the new
     * (which saw a zeroed state: checked in k_init). */
    assert_int_equal(atomic_load(&inits[k]), 2);
    assert_int_equal(atomic_load(&finals[k]), 1);
    assert_int_equal(atomic_load(&frees[k]), 1);
    /* The same address, every copy: one actor, restarted once. */
    assert_int_equal(restarts_of(kids[k]), 1);
    assert_int_equal(restarts_of(copy), 1);
    actor_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_ok(addr_stats(copy, &st));
    assert_int_equal(st.restarts, 1);
    assert_int_equal(st.dropped, 0); /* nothing queued was lost */
    assert_false(addr_is_done(kids[k]));
    int r = 0;
    assert_code(addr_exit_reason(kids[k], &r), ACTOR_EAGAIN); /* a restart is not Done */
    assert_code(addr_join(copy, 0), ACTOR_ETIMEDOUT);
    /* The sibling was left alone. */
    assert_int_equal(restarts_of(kids[other]), 0);
    assert_int_equal(atomic_load(&inits[other]), 1);
    /* Another request that fails it: canceled, restarted again. */
    unsigned char b[8];
    tu_put_u32(b, A_FAIL);
    tu_put_u32(b + 4, 21);
    actor_responder *r2 = NULL;
    assert_ok(addr_interact(copy, t_q, b, 8, &r2));
    run_all(rt);
    assert_code(actor_responder_status(r2), ACTOR_ECANCELED);
    assert_int_equal(restarts_of(copy), 2);
    assert_int_equal(ping(rt, copy), 3);
    actor_responder_free(failed);
    actor_responder_free(later);
    actor_responder_free(r2);
    addr_release(copy);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&finals[k]), 3);
    assert_int_equal(atomic_load(&frees[k]), 3);
    actor_class_free(c);
}


/* A class with no state at all is supervised (state NULL at every
 * incarnation); one whose state the spawner provides (a state_free, no
 * state size) cannot be restarted in place: ACTOR_EINVAL. */
static atomic_int ns_inits;
static int ns_init(actor_ctx *ctx, void *st)
{
    TU_CHECK(st == NULL);
    atomic_fetch_add(&ns_inits, 1);
    return 0;
}

static void ns_free(void *st) { (void)st; }

static int ns_go(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_ctx_fail(ctx, 3);
    return 0;
}

static void restart_stateless_and_spawner_state(void **state)
{
    atomic_store(&ns_inits, 0);
    actor_class *plain = tu_class("sv.NoState");
    assert_ok(actor_class_on_init(plain, ns_init));
    assert_ok(actor_class_on_event(plain, t_go, ns_go));
    actor_class *own = tu_class("sv.OwnState");
    assert_ok(actor_class_set_state_free(own, ns_free));
    actor_class *both = tu_class("sv.BothState");
    assert_ok(actor_class_set_state_free(both, ns_free));
    assert_ok(actor_class_set_state_size(both, 32));

    actor_runtime *rt = manual(8);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    actor_addr *a = NULL, *x = (actor_addr *)&a;
    assert_code(actor_supervisor_start_child(sup, own, ACTOR_PERMANENT, &x), ACTOR_EINVAL);
    assert_ptr_equal(x, (actor_addr *)&a); /* untouched */
    assert_ok(actor_supervisor_start_child(sup, both, ACTOR_TEMPORARY, &x));
    addr_release(x);
    assert_ok(actor_supervisor_start_child(sup, plain, ACTOR_PERMANENT, &a));
    run_all(rt);
    send2(a, A_FAIL, 0);
    run_all(rt);
    send2(a, A_FAIL, 0);
    run_all(rt);
    assert_int_equal(restarts_of(a), 2);
    assert_int_equal(atomic_load(&ns_inits), 3);
    addr_release(a);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(plain);
    actor_class_free(own);
    actor_class_free(both);
}

/* ======================================================================== */
/* Intensity and period                                                      */
/* ======================================================================== */

static actor_addr *_Atomic g_sup; /* the supervisor on_finalize checks look at */

static void check_sup_alive(int index)
{
    TU_CHECK(!addr_is_done(atomic_load(&g_sup)));
}

/* Intensity 0: the first failure gives up. The supervisor fails with the
 * child's reason; the others are stopped last first, each before the
 * supervisor is Done. */
static void intensity_zero_gives_up_at_once(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(9);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 0));
    atomic_store(&g_sup, sup);
    for (int i = 0; i < 3; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    on_finalize = check_sup_alive;
    tu_log_capture();
    send2(kids[1], A_FAIL, 42);
    assert_ok(addr_join(sup, -1));
    assert_int_equal(reason_of(sup), 42);
    assert_true(tu_log_has("giving up", ACTOR_LOG_WARN));
    char order[16];
    finalize_order(order, sizeof order);
    assert_string_equal(order, "BCA"); /* the failed one, then last first */
    for (int i = 0; i < 3; i++) {
        assert_true(addr_is_done(kids[i]));
        assert_int_equal(restarts_of(kids[i]), 0);
        assert_int_equal(reason_of(kids[i]), i == 1 ? 42 : 0);
    }
    /* A transient child stopping normally under intensity 0 is no restart:
     * the supervisor stays. */
    kids_release();
    reset();
    actor_addr *sup2 = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 0));
    kid_new(sup2, c, ACTOR_TRANSIENT);
    run_all(rt);
    send2(kids[0], A_STOP, 0);
    run_all(rt);
    assert_true(addr_is_done(kids[0]));
    assert_false(addr_is_done(sup2));
    kids_release();
    addr_release(sup2);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* N failures within the period: N restarts; one more gives up, with that
 * last child's reason. */
static void intensity_n_within_period_gives_up(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(10);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 3));
    int a = kid_new(sup, c, ACTOR_PERMANENT);
    int b = kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    for (int i = 1; i <= 3; i++) {
        send2(kids[i % 2 ? a : b], A_FAIL, i); /* any child counts */
        run_all(rt);
        assert_ok(actor_runtime_advance(rt, 100));
        assert_false(addr_is_done(sup));
    }
    assert_int_equal(restarts_of(kids[a]) + restarts_of(kids[b]), 3);
    tu_log_capture();
    send2(kids[a], A_FAIL, 4);
    assert_ok(addr_join(sup, -1));
    assert_int_equal(reason_of(sup), 4);
    assert_true(addr_is_done(kids[a]));
    assert_true(addr_is_done(kids[b]));
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* Failures spread over more than period_ms never give up, however many;
 * then intensity + 1 within the period does. */
static void intensity_spread_over_period_ok(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(11);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ALL, 3)); /* period 1000 ms */
    int a = kid_new(sup, c, ACTOR_PERMANENT);
    int b = kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    /* One failure every 400 ms: at most 3 in any 1000 ms. */
    for (int i = 0; i < 20; i++) {
        send2(kids[i % 2 ? a : b], A_FAIL, 1);
        run_all(rt);
        assert_false(addr_is_done(sup));
        assert_ok(actor_runtime_advance(rt, 400));
    }
    assert_int_equal(restarts_of(kids[a]), 20);
    assert_int_equal(restarts_of(kids[b]), 20);
    /* The last three at -400, -800 and -1200 ms... wait 1000 ms: none in the
     * window; then 3 restarts at once are fine, the 4th gives up. */
    assert_ok(actor_runtime_advance(rt, 1000));
    for (int i = 0; i < 3; i++) {
        send2(kids[a], A_FAIL, 1);
        run_all(rt);
        assert_false(addr_is_done(sup));
    }
    send2(kids[b], A_FAIL, 77);
    assert_ok(addr_join(sup, -1));
    assert_int_equal(reason_of(sup), 77);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* Escalation through a 3-level tree                                         */
/* ======================================================================== */

/* top -> [mid (intensity 0) -> [L1, L2], S]. L1 fails: mid gives up; top
 * restarts mid in place (same address), its children restarted in place
 * after it (same addresses); S is left alone.
 * LIBRARY BUG 2 when this fails at L1 (see the report). */
static void escalation_parent_restarts_subtree(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(12);
    actor_addr *top = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 5));
    int mid = kid_sup_new(top, spec_of(ACTOR_ONE_FOR_ONE, 0), ACTOR_PERMANENT);
    int s = kid_new(top, c, ACTOR_PERMANENT);
    int l1 = kid_new(kids[mid], c, ACTOR_PERMANENT);
    int l2 = kid_new(kids[mid], c, ACTOR_PERMANENT);
    run_all(rt);
    tu_log_capture();
    send2(kids[l1], A_FAIL, 7);
    run_all(rt);
    assert_false(addr_is_done(top));
    assert_false(addr_is_done(kids[mid]));
    assert_int_equal(restarts_of(kids[mid]), 1);
    assert_int_equal(restarts_of(kids[s]), 0);
    char order[16];
    finalize_order(order, sizeof order);
    assert_string_equal(order, "CD"); /* L1 failed, then mid stopped L2 */
    /* Its children: restarted in place with it, the same addresses. */
    assert_false(addr_is_done(kids[l2]));
    assert_int_equal(restarts_of(kids[l2]), 1);
    assert_int_equal(ping(rt, kids[l2]), 2);
    assert_false(addr_is_done(kids[l1])); /* LIBRARY BUG 2 if this fails */
    assert_int_equal(restarts_of(kids[l1]), 1);
    assert_int_equal(ping(rt, kids[l1]), 2);
    assert_int_equal(ping(rt, kids[s]), 1);
    /* The restarted mid supervises again: a new child, and its intensity 0
     * escalates again (top: 2 restarts within its 5). */
    actor_addr *l3 = NULL;
    assert_ok(actor_supervisor_start_child(kids[mid], c, ACTOR_PERMANENT, &l3));
    send2(kids[l2], A_FAIL, 8);
    run_all(rt);
    assert_int_equal(restarts_of(kids[mid]), 2);
    assert_false(addr_is_done(l3));
    assert_false(addr_is_done(top));
    addr_release(l3);
    kids_release();
    addr_release(top);
    run_all(rt);
    actor_runtime_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_ok(actor_runtime_stats_get(rt, &st));
    assert_int_equal(st.actors_live, 0);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* The same tree with a top of intensity 0: the top gives up too, with the
 * leaf's reason (through mid's); everything is Done, the top last. */
static void escalation_parent_gives_up_too(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(13);
    actor_addr *top = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 0));
    atomic_store(&g_sup, top);
    int mid = kid_sup_new(top, spec_of(ACTOR_ONE_FOR_ONE, 0), ACTOR_PERMANENT);
    int s = kid_new(top, c, ACTOR_PERMANENT);
    int l1 = kid_new(kids[mid], c, ACTOR_PERMANENT);
    int l2 = kid_new(kids[mid], c, ACTOR_PERMANENT);
    run_all(rt);
    on_finalize = check_sup_alive;
    tu_log_capture();
    send2(kids[l1], A_FAIL, 7);
    assert_ok(addr_join(top, -1));
    assert_int_equal(reason_of(top), 7);
    assert_int_equal(reason_of(kids[mid]), 7);
    assert_int_equal(reason_of(kids[l1]), 7);
    assert_int_equal(reason_of(kids[l2]), 0);
    assert_int_equal(reason_of(kids[s]), 0);
    for (int i = 0; i < nkids; i++)
        assert_int_equal(restarts_of(kids[i]), 0);
    char order[16];
    finalize_order(order, sizeof order);
    assert_int_equal(strlen(order), 3);
    assert_int_equal(order[0], 'C'); /* L1 first; L2 and S in either order */
    kids_release();
    addr_release(top);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* Exponential backoff                                                       */
/* ======================================================================== */

static void backoff_from(uint64_t start_ms)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(14);
    assert_ok(actor_runtime_advance(rt, start_ms));
    actor_addr *sup = sup_new(rt, spec_full(ACTOR_ONE_FOR_ONE, 100, 10000, 100, 400));
    int k = kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    static const unsigned delays[] = {100, 200, 400, 400};
    for (int i = 0; i < 4; i++) {
        send2(kids[k], A_FAIL, 1);
        run_all(rt);
        /* Parked: still takes messages, for the next incarnation. */
        send2(kids[k], A_RECORD, i);
        assert_ok(actor_runtime_advance(rt, delays[i] - 1));
        if (restarts_of(kids[k]) != (unsigned long long)i)
            fail_msg("restart %d (from %llu ms): restarted before its delay of %u ms "
                     "(restarts %llu at +%u ms)",
                     i + 1, (unsigned long long)start_ms, delays[i], restarts_of(kids[k]),
                     delays[i] - 1);
        assert_int_equal(atomic_load(&inits[k]), i + 1);
        assert_ok(actor_runtime_advance(rt, 1));
        if (restarts_of(kids[k]) != (unsigned long long)i + 1)
            fail_msg("restart %d (from %llu ms): not restarted at its delay of %u ms",
                     i + 1, (unsigned long long)start_ms, delays[i]);
        assert_int_equal(atomic_load(&inits[k]), i + 2);
    }
    /* The records sent while parked: handled by the next incarnations. */
    int n = 0;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < nev; i++)
        if (evlog[i].kind == 'R') {
            TU_CHECK(evlog[i].value == n && evlog[i].incarnation == n + 2);
            n++;
        }
    pthread_mutex_unlock(&log_mu);
    assert_int_equal(n, 4);
    /* A period without restarts: back to backoff_ms. */
    assert_ok(actor_runtime_advance(rt, 10000));
    send2(kids[k], A_FAIL, 1);
    run_all(rt);
    assert_ok(actor_runtime_advance(rt, 99));
    assert_int_equal(restarts_of(kids[k]), 4);
    assert_ok(actor_runtime_advance(rt, 1));
    assert_int_equal(restarts_of(kids[k]), 5);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* From the clock's start (a manual runtime begins at 0 ms).
 * LIBRARY BUG 3 when this fails and backoff_doubles_later passes. */
static void backoff_doubles_from_time_zero(void **state) { backoff_from(0); }

/* The same, the first failure later than 0 ms. */
static void backoff_doubles_later(void **state) { backoff_from(1000); }

/* A restart round waiting for its delay: one_for_all restarts every child
 * after the delay, all at once; the supervisor's stop meanwhile stops them
 * for good (never restarted). */
static void backoff_round_and_stop_while_waiting(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(15);
    actor_addr *sup = sup_new(rt, spec_full(ACTOR_ONE_FOR_ALL, 10, 10000, 50, 50));
    for (int i = 0; i < 3; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    send2(kids[2], A_FAIL, 1);
    run_all(rt);
    assert_ok(actor_runtime_advance(rt, 49));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(restarts_of(kids[i]), 0);
        assert_int_equal(atomic_load(&finals[i]), 1); /* all stopped, waiting */
    }
    assert_ok(actor_runtime_advance(rt, 1));
    for (int i = 0; i < 3; i++)
        assert_int_equal(restarts_of(kids[i]), 1);
    /* Again, and the supervisor is interrupted while the round waits. */
    send2(kids[0], A_FAIL, 1);
    run_all(rt);
    assert_ok(addr_interrupt(sup));
    assert_ok(addr_join(sup, -1));
    assert_ok(actor_runtime_advance(rt, 1000));
    for (int i = 0; i < 3; i++) {
        assert_true(addr_is_done(kids[i]));
        assert_int_equal(restarts_of(kids[i]), 1);
        assert_int_equal(atomic_load(&inits[i]), 2);
    }
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* Stopping a supervisor: children in reverse start order                    */
/* ======================================================================== */

/* In each child's finalize: those started after it are Done, those before
 * it are not, the supervisor is not. Children here are kids[0..nflat-1]. */
static int nflat;
static void check_reverse(int index)
{
    for (int j = 0; j < nflat; j++) {
        if (j > index)
            TU_CHECK(addr_is_done(atomic_load(&kids[j])));
        if (j < index)
            TU_CHECK(!addr_is_done(atomic_load(&kids[j])));
    }
    TU_CHECK(!addr_is_done(atomic_load(&g_sup)));
}

static void stop_order_interrupt(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(16);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    atomic_store(&g_sup, sup);
    nflat = 4;
    for (int i = 0; i < nflat; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    on_finalize = check_reverse;
    assert_ok(addr_interrupt(sup));
    assert_ok(addr_join(sup, -1));
    char order[16];
    finalize_order(order, sizeof order);
    assert_string_equal(order, "DCBA");
    assert_int_equal(reason_of(sup), 0);
    for (int i = 0; i < nflat; i++) {
        assert_int_equal(reason_of(kids[i]), 0);
        assert_int_equal(restarts_of(kids[i]), 0);
    }
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void stop_order_last_release(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(17);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_REST_FOR_ONE, 10));
    atomic_store(&g_sup, sup);
    nflat = 3;
    for (int i = 0; i < nflat; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    on_finalize = check_reverse;
    addr_release(sup); /* the last address of the supervisor; the children's are held */
    run_all(rt);
    char order[16];
    finalize_order(order, sizeof order);
    assert_string_equal(order, "CBA");
    actor_runtime_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_ok(actor_runtime_stats_get(rt, &st));
    assert_int_equal(st.actors_live, 0); /* the supervisor is Done too */
    for (int i = 0; i < nflat; i++)
        assert_true(addr_is_done(kids[i]));
    kids_release();
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* top -> [A, sub -> [X, Y], B]: B, then sub's Y and X (sub Done before A),
 * then A; the top last. */
static void nested_check(int index)
{
    actor_addr *sub = atomic_load(&kids[1]);
    switch (index) {
    case 4: /* B */
        TU_CHECK(!addr_is_done(sub));
        break;
    case 3: /* Y */
    case 2: /* X */
        TU_CHECK(addr_is_done(atomic_load(&kids[4])));
        TU_CHECK(!addr_is_done(sub));
        if (index == 2)
            TU_CHECK(addr_is_done(atomic_load(&kids[3])));
        break;
    case 0: /* A */
        TU_CHECK(addr_is_done(sub));
        break;
    }
    TU_CHECK(!addr_is_done(atomic_load(&g_sup)));
}

static void stop_order_nested(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(18);
    actor_addr *top = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    atomic_store(&g_sup, top);
    kid_new(top, c, ACTOR_PERMANENT);                              /* 0: A */
    int sub = kid_sup_new(top, spec_of(ACTOR_ONE_FOR_ALL, 10), ACTOR_PERMANENT); /* 1 */
    kid_new(kids[sub], c, ACTOR_PERMANENT);                        /* 2: X */
    kid_new(kids[sub], c, ACTOR_PERMANENT);                        /* 3: Y */
    kid_new(top, c, ACTOR_PERMANENT);                              /* 4: B */
    run_all(rt);
    on_finalize = nested_check;
    assert_ok(addr_interrupt(top));
    assert_ok(addr_join(top, -1));
    char order[16];
    finalize_order(order, sizeof order);
    assert_string_equal(order, "EDCA");
    for (int i = 0; i < nkids; i++) {
        assert_true(addr_is_done(kids[i]));
        assert_int_equal(restarts_of(kids[i]), 0);
    }
    kids_release();
    addr_release(top);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void stop_order_threaded(void **state)
{
    actor_class *c = kid_class();
    for (int round = 0; round < 20; round++) {
        reset();
        actor_runtime *rt = tu_runtime(2);
        actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
        atomic_store(&g_sup, sup);
        nflat = 6;
        for (int i = 0; i < nflat; i++)
            kid_new(sup, c, ACTOR_PERMANENT);
        on_finalize = check_reverse;
        /* Some traffic meanwhile. */
        for (int i = 0; i < nflat; i++)
            for (int j = 0; j < 20; j++)
                send2(kids[i], A_NOTHING, 0);
        if (round % 2)
            assert_ok(addr_interrupt(sup));
        else
            addr_release(addr_ref(sup)); /* not the last: nothing happens */
        if (round % 2 == 0)
            assert_ok(addr_interrupt(sup));
        assert_ok(addr_join(sup, TU_LONG_MS));
        char order[16];
        finalize_order(order, sizeof order);
        assert_string_equal(order, "FEDCBA");
        tu_assert_no_failures();
        kids_release();
        addr_release(sup);
        actor_runtime_free(rt);
    }
    actor_class_free(c);
}

/* ======================================================================== */
/* stop_child                                                                */
/* ======================================================================== */

static void stop_child_for_good(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(19);
    actor_addr *sup = sup_new(rt, spec_full(ACTOR_ONE_FOR_ALL, 10, 1000, 0, 0));
    for (int i = 0; i < 3; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    assert_ok(actor_supervisor_stop_child(sup, kids[1]));
    assert_ok(addr_join(kids[1], -1));
    assert_int_equal(reason_of(kids[1]), 0);
    assert_ok(actor_runtime_advance(rt, 5000));
    for (int i = 0; i < 3; i++)
        assert_int_equal(restarts_of(kids[i]), 0); /* no restart, no one_for_all round */
    assert_false(addr_is_done(kids[0]));
    assert_false(addr_is_done(kids[2]));
    /* A Done child is no child any more. */
    assert_code(actor_supervisor_stop_child(sup, kids[1]), ACTOR_ENOENT);
    /* Strangers: a plain actor, another supervisor's child, the supervisor. */
    actor_addr *plain = tu_spawn(rt, c, NULL);
    actor_addr *sup2 = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    actor_addr *other = NULL;
    assert_ok(actor_supervisor_start_child(sup2, c, ACTOR_PERMANENT, &other));
    assert_code(actor_supervisor_stop_child(sup, plain), ACTOR_ENOENT);
    assert_code(actor_supervisor_stop_child(sup, other), ACTOR_ENOENT);
    assert_code(actor_supervisor_stop_child(sup, sup), ACTOR_ENOENT);
    assert_code(actor_supervisor_stop_child(sup, sup2), ACTOR_ENOENT);
    /* Bad calls. */
    assert_code(actor_supervisor_stop_child(NULL, kids[0]), ACTOR_EINVAL);
    assert_code(actor_supervisor_stop_child(sup, NULL), ACTOR_EINVAL);
    assert_code(actor_supervisor_stop_child(plain, kids[0]), ACTOR_EINVAL);
    assert_code(actor_supervisor_stop_child(other, kids[0]), ACTOR_EINVAL);
    run_all(rt);
    assert_false(addr_is_done(other));
    assert_false(addr_is_done(plain));
    addr_release(plain);
    addr_release(other);
    addr_release(sup2);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* stop_child of a child parked for a restart (waiting for its backoff):
 * it is Done and never restarted. */
static void stop_child_while_waiting(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(20);
    actor_addr *sup = sup_new(rt, spec_full(ACTOR_ONE_FOR_ONE, 10, 1000, 100, 100));
    kid_new(sup, c, ACTOR_PERMANENT);
    kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    send2(kids[0], A_FAIL, 5);
    run_all(rt);
    assert_false(addr_is_done(kids[0]));
    assert_ok(actor_supervisor_stop_child(sup, kids[0]));
    run_all(rt);
    assert_true(addr_is_done(kids[0]));
    assert_ok(actor_runtime_advance(rt, 1000));
    assert_int_equal(restarts_of(kids[0]), 0);
    assert_int_equal(atomic_load(&inits[0]), 1);
    assert_false(addr_is_done(kids[1]));
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* one_for_all: a child fails; its siblings are asked to stop for the round;
 * stop_child of every sibling before they stopped: the failed child must
 * still be restarted (it is permanent).
 * LIBRARY BUG 4 when this fails (see the report). */
static void stop_child_during_round(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(21);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ALL, 10));
    for (int i = 0; i < 3; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    run_all(rt);
    send2(kids[0], A_FAIL, 5);
    /* Only kids[0] is ready: one step runs its failure (the round begins). */
    assert_int_equal(actor_runtime_step(rt), 1);
    assert_int_equal(atomic_load(&finals[0]), 1);
    assert_int_equal(atomic_load(&finals[1]), 0);
    assert_ok(actor_supervisor_stop_child(sup, kids[1]));
    assert_ok(actor_supervisor_stop_child(sup, kids[2]));
    run_all(rt);
    assert_true(addr_is_done(kids[1]));
    assert_true(addr_is_done(kids[2]));
    assert_false(addr_is_done(kids[0]));
    /* LIBRARY BUG 4 when this fails: parked for good, never restarted. */
    assert_int_equal(restarts_of(kids[0]), 1);
    assert_int_equal(ping(rt, kids[0]), 2);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* Bad calls                                                                 */
/* ======================================================================== */

static void bad_specs_and_calls(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(22);
    actor_supervisor_spec ok = spec_of(ACTOR_ONE_FOR_ONE, 1);
    actor_addr *sup = NULL, *x = NULL;
    assert_code(actor_supervisor_spawn(NULL, &ok, &sup), ACTOR_EINVAL);
    assert_code(actor_supervisor_spawn(rt, NULL, &sup), ACTOR_EINVAL);
    assert_code(actor_supervisor_spawn(rt, &ok, NULL), ACTOR_EINVAL);
    actor_supervisor_spec bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = ok;
    bad[0].size = sizeof ok - 1;          /* below the 1.1 struct */
    bad[1].size = 0;
    bad[2].strategy = -1;
    bad[3].strategy = ACTOR_REST_FOR_ONE + 1;
    bad[4].period_ms = 0;
    bad[5].size = offsetof(actor_supervisor_spec, backoff_max_ms);
    for (int i = 0; i < 6; i++) {
        assert_code(actor_supervisor_spawn(rt, &bad[i], &sup), ACTOR_EINVAL);
        assert_null(sup);
    }
    /* Intensity 0 and no backoff are fine. */
    actor_supervisor_spec zero = spec_of(ACTOR_REST_FOR_ONE, 0);
    assert_ok(actor_supervisor_spawn(rt, &zero, &sup));
    for (int i = 0; i < 6; i++) {
        assert_code(actor_supervisor_start_supervisor(sup, &bad[i], ACTOR_PERMANENT, &x),
                    ACTOR_EINVAL);
        assert_null(x);
    }
    /* Restart types out of range. */
    assert_code(actor_supervisor_start_child(sup, c, -1, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_child(sup, c, ACTOR_TEMPORARY + 1, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_supervisor(sup, &ok, -1, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_supervisor(sup, &ok, 3, &x), ACTOR_EINVAL);
    assert_null(x);
    /* NULLs. */
    assert_code(actor_supervisor_start_child(NULL, c, ACTOR_PERMANENT, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_child(sup, NULL, ACTOR_PERMANENT, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, NULL), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_supervisor(NULL, &ok, ACTOR_PERMANENT, &x),
                ACTOR_EINVAL);
    assert_code(actor_supervisor_start_supervisor(sup, NULL, ACTOR_PERMANENT, &x),
                ACTOR_EINVAL);
    assert_code(actor_supervisor_start_supervisor(sup, &ok, ACTOR_PERMANENT, NULL),
                ACTOR_EINVAL);
    /* An address that is not a supervisor: a plain actor, a child. */
    actor_addr *plain = tu_spawn(rt, c, NULL);
    actor_addr *child = NULL;
    assert_ok(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &child));
    assert_code(actor_supervisor_start_child(plain, c, ACTOR_PERMANENT, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_child(child, c, ACTOR_PERMANENT, &x), ACTOR_EINVAL);
    assert_code(actor_supervisor_start_supervisor(plain, &ok, ACTOR_PERMANENT, &x),
                ACTOR_EINVAL);
    assert_null(x);
    /* addr_restarts: 0 for one never supervised; EINVAL for NULLs. */
    unsigned long long n = 5;
    assert_ok(addr_restarts(plain, &n));
    assert_int_equal(n, 0);
    assert_code(addr_restarts(NULL, &n), ACTOR_EINVAL);
    assert_code(addr_restarts(plain, NULL), ACTOR_EINVAL);
    run_all(rt);
    addr_release(plain);
    addr_release(child);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* start_child on a stopping supervisor (it waits for its children to
 * stop), on a Done one, and on a runtime shutting down: ACTOR_ECLOSED. */
static void start_child_closed(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(23);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    kid_new(sup, c, ACTOR_PERMANENT);
    kid_new(sup, c, ACTOR_PERMANENT);
    actor_addr *sub = NULL;
    assert_ok(actor_supervisor_start_supervisor(sup, &(actor_supervisor_spec){
                                                         .size = sizeof(actor_supervisor_spec),
                                                         .strategy = ACTOR_ONE_FOR_ONE,
                                                         .intensity = 1,
                                                         .period_ms = 10},
                                                ACTOR_PERMANENT, &sub));
    actor_addr *subkid = NULL;
    assert_ok(actor_supervisor_start_child(sub, c, ACTOR_PERMANENT, &subkid));
    run_all(rt);
    assert_ok(addr_interrupt(sup));
    /* Only the supervisor is ready: its interrupt; it asks the last child
     * to stop and waits. */
    assert_int_equal(actor_runtime_step(rt), 1);
    assert_false(addr_is_done(sup));
    actor_addr *x = NULL;
    assert_code(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &x), ACTOR_ECLOSED);
    assert_code(actor_supervisor_start_supervisor(sup, &(actor_supervisor_spec){
                                                         .size = sizeof(actor_supervisor_spec),
                                                         .strategy = ACTOR_ONE_FOR_ONE,
                                                         .period_ms = 10},
                                                  ACTOR_PERMANENT, &x),
                ACTOR_ECLOSED);
    assert_null(x);
    /* The sub-supervisor is a child stopping with its parent. */
    assert_ok(addr_join(sup, -1));
    assert_true(addr_is_done(sub));
    assert_true(addr_is_done(subkid));
    assert_code(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &x), ACTOR_ECLOSED);
    assert_code(actor_supervisor_start_child(sub, c, ACTOR_PERMANENT, &x), ACTOR_ECLOSED);
    assert_code(actor_supervisor_stop_child(sup, kids[0]), ACTOR_ENOENT);
    assert_null(x);
    /* A runtime shutting down. */
    actor_addr *sup2 = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    assert_ok(actor_runtime_shutdown(rt, -1));
    assert_code(actor_supervisor_start_child(sup2, c, ACTOR_PERMANENT, &x), ACTOR_ECLOSED);
    actor_supervisor_spec ok = spec_of(ACTOR_ONE_FOR_ONE, 1);
    assert_code(actor_supervisor_spawn(rt, &ok, &x), ACTOR_ECLOSED);
    assert_null(x);
    addr_release(subkid);
    addr_release(sub);
    addr_release(sup2);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* The runtime's shutdown                                                    */
/* ======================================================================== */

static void shutdown_never_restarts(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(24);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ALL, 10));
    kid_new(sup, c, ACTOR_PERMANENT);
    int sub = kid_sup_new(sup, spec_of(ACTOR_ONE_FOR_ONE, 10), ACTOR_PERMANENT);
    kid_new(kids[sub], c, ACTOR_PERMANENT);
    kid_new(sup, c, ACTOR_TRANSIENT);
    actor_addr *slow = sup_new(rt, spec_full(ACTOR_ONE_FOR_ONE, 10, 1000, 500, 500));
    int waiting = kid_new(slow, c, ACTOR_PERMANENT);
    run_all(rt);
    send2(kids[waiting], A_FAIL, 3); /* parked for 500 ms */
    run_all(rt);
    /* Failures queued behind the shutdown's interrupts are not restarted. */
    assert_ok(actor_runtime_shutdown(rt, -1));
    assert_true(addr_is_done(sup));
    assert_true(addr_is_done(slow));
    for (int i = 0; i < nkids; i++) {
        assert_true(addr_is_done(kids[i]));
        assert_int_equal(restarts_of(kids[i]), 0);
    }
    for (int i = 0; i < nkids; i++)
        if (i != sub)
            assert_int_equal(atomic_load(&inits[i]), 1);
    kids_release();
    addr_release(sup);
    addr_release(slow);
    actor_runtime_free(rt);

    /* Threaded: children failing all the while; shutdown ends everything. */
    reset();
    rt = tu_runtime(2);
    sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 1000000));
    for (int i = 0; i < 8; i++)
        kid_new(sup, c, ACTOR_PERMANENT);
    for (int j = 0; j < 200; j++)
        for (int i = 0; i < 8; i++) {
            unsigned char b[8];
            tu_put_u32(b, j % 3 ? A_NOTHING : A_FAIL);
            tu_put_u32(b + 4, 1);
            int rc = addr_send(kids[i], t_go, b, 8);
            assert_true(rc == ACTOR_OK);
        }
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_true(addr_is_done(sup));
    for (int i = 0; i < 8; i++)
        assert_true(addr_is_done(kids[i]));
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ======================================================================== */
/* Threaded: a one_for_one loop under 4 requesting threads                   */
/* ======================================================================== */

static atomic_long loop_calls;
static const actor_msgtype *t_work;

static int loop_q(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    long n = atomic_fetch_add(&loop_calls, 1) + 1;
    if (n % 7 == 0) {
        actor_ctx_fail(ctx, 7);
        return 0; /* unanswered: ECANCELED */
    }
    unsigned char r[8];
    tu_put_u64(r, (uint64_t)n);
    TU_CHECK_CODE(actor_ctx_reply(ctx, r, 8), ACTOR_OK);
    return 0;
}

typedef struct loop_arg {
    actor_addr *child;
    long n, ok, canceled, other;
} loop_arg;

static void *loop_thread(void *p)
{
    loop_arg *a = p;
    actor_responder *rs[16];
    for (long i = 0; i < a->n; i += 16) {
        int k = 0;
        for (; k < 16 && i + k < a->n; k++) {
            unsigned char b[8];
            tu_put_u64(b, (uint64_t)(i + k));
            int rc = addr_interact(a->child, t_work, b, 8, &rs[k]);
            TU_CHECK_CODE(rc, ACTOR_OK);
            if (rc != ACTOR_OK)
                return NULL;
        }
        for (int j = 0; j < k; j++) {
            int st = actor_responder_wait(rs[j], TU_LONG_MS);
            if (st == ACTOR_OK)
                a->ok++;
            else if (st == ACTOR_ECANCELED)
                a->canceled++;
            else
                a->other++;
            actor_responder_free(rs[j]);
        }
    }
    return NULL;
}

static void threaded_one_for_one_loop(void **state)
{
    t_work = tu_type("sv.Work", "Q", "Q");
    atomic_store(&loop_calls, 0);
    actor_class *c = tu_class("sv.Flaky");
    assert_ok(actor_class_set_state_size(c, 64));
    assert_ok(actor_class_on_request(c, t_work, loop_q));
    actor_runtime *rt = tu_runtime(2);
    const long per = tu_scale(3000);
    const long total = 4 * per;
    actor_addr *sup = sup_new(rt, spec_full(ACTOR_ONE_FOR_ONE, (unsigned)total, 60000, 0, 0));
    actor_addr *child = NULL;
    assert_ok(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &child));
    loop_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (loop_arg){child, per, 0, 0, 0};
        th[i] = tu_thread(loop_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    long ok = 0, canceled = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        ok += args[i].ok;
        canceled += args[i].canceled;
        other += args[i].other;
    }
    assert_int_equal(other, 0);
    assert_int_equal(ok + canceled, total);
    assert_int_equal(atomic_load(&loop_calls), total); /* each handled once */
    assert_int_equal(canceled, total / 7);
    assert_int_equal(restarts_of(child), (unsigned long long)(total / 7));
    assert_false(addr_is_done(child));
    assert_false(addr_is_done(sup));
    actor_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_ok(addr_stats(child, &st));
    assert_int_equal(st.restarts, (unsigned long long)(total / 7));
    tu_stop_join(sup);
    assert_true(addr_is_done(child));
    addr_release(child);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* A child whose init fails fails with init's code: restarted like any
 * failure, and counted against the intensity (the supervisor gives up with
 * init's code). */
static atomic_int bad_init_rc;
static atomic_int bad_inits;
static int bad_init(actor_ctx *ctx, void *st)
{
    atomic_fetch_add(&bad_inits, 1);
    return atomic_load(&bad_init_rc);
}

static void init_failure_counts(void **state)
{
    atomic_store(&bad_inits, 0);
    atomic_store(&bad_init_rc, 0);
    actor_class *c = tu_class("sv.BadInit");
    assert_ok(actor_class_set_state_size(c, 8));
    assert_ok(actor_class_on_init(c, bad_init));
    assert_ok(actor_class_on_event(c, t_go, ns_go));
    actor_runtime *rt = manual(25);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 4));
    actor_addr *a = NULL;
    assert_ok(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &a));
    run_all(rt);
    atomic_store(&bad_init_rc, 61);
    send2(a, A_FAIL, 0); /* fails (3); every init after it fails (61) */
    tu_log_capture();
    assert_ok(addr_join(sup, -1));
    assert_int_equal(restarts_of(a), 4);
    assert_int_equal(atomic_load(&bad_inits), 5);
    assert_int_equal(reason_of(a), 61);
    assert_int_equal(reason_of(sup), 61);
    addr_release(a);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* An interrupt is a normal stop: a permanent child is restarted, a
 * transient one is Done. */
static void interrupt_is_normal_stop(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(26);
    actor_addr *sup = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    int p = kid_new(sup, c, ACTOR_PERMANENT);
    int t = kid_new(sup, c, ACTOR_TRANSIENT);
    run_all(rt);
    assert_ok(addr_interrupt(kids[p]));
    assert_ok(addr_interrupt(kids[t]));
    run_all(rt);
    assert_int_equal(restarts_of(kids[p]), 1);
    assert_false(addr_is_done(kids[p]));
    assert_true(addr_is_done(kids[t]));
    assert_int_equal(reason_of(kids[t]), 0);
    kids_release();
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* stop_child of a child supervisor: its subtree stops for good, last
 * first, and nothing is restarted. */
static void stop_child_subtree(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(27);
    actor_addr *top = sup_new(rt, spec_of(ACTOR_ONE_FOR_ALL, 10));
    int a = kid_new(top, c, ACTOR_PERMANENT);
    int sub = kid_sup_new(top, spec_of(ACTOR_ONE_FOR_ONE, 10), ACTOR_PERMANENT);
    kid_new(kids[sub], c, ACTOR_PERMANENT); /* C */
    kid_new(kids[sub], c, ACTOR_PERMANENT); /* D */
    run_all(rt);
    assert_ok(actor_supervisor_stop_child(top, kids[sub]));
    assert_ok(addr_join(kids[sub], -1));
    assert_int_equal(reason_of(kids[sub]), 0);
    char order[16];
    finalize_order(order, sizeof order);
    assert_string_equal(order, "DC");
    assert_ok(actor_runtime_advance(rt, 1000));
    for (int i = 0; i < nkids; i++)
        assert_int_equal(restarts_of(kids[i]), 0);
    assert_false(addr_is_done(kids[a]));
    assert_false(addr_is_done(top));
    kids_release();
    addr_release(top);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* Erlang/OTP: a supervisor restarted by its parent is a new process with a
 * fresh restart history. mid (intensity 1) gives up at its 2nd failure;
 * top restarts it; one more failure soon after is within the restarted
 * mid's intensity: mid restarts its child, it does not give up again.
 * LIBRARY BUG 5 when this fails (see the report). */
static void escalation_restarted_supervisor_starts_fresh(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(28);
    actor_addr *top = sup_new(rt, spec_of(ACTOR_ONE_FOR_ONE, 10));
    int mid = kid_sup_new(top, spec_of(ACTOR_ONE_FOR_ONE, 1), ACTOR_PERMANENT);
    int l = kid_new(kids[mid], c, ACTOR_PERMANENT);
    int l2 = kid_new(kids[mid], c, ACTOR_PERMANENT);
    run_all(rt);
    send2(kids[l2], A_FAIL, 1); /* mid restarts it: 1 of 1 */
    run_all(rt);
    assert_int_equal(restarts_of(kids[mid]), 0);
    send2(kids[l2], A_FAIL, 2); /* 2 > 1: mid gives up, top restarts mid */
    run_all(rt);
    assert_int_equal(restarts_of(kids[mid]), 1);
    assert_false(addr_is_done(kids[l]));
    send2(kids[l], A_FAIL, 3); /* the new mid's first restart */
    run_all(rt);
    assert_int_equal(restarts_of(kids[mid]), 1);
    kids_release();
    addr_release(top);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* A restart round begins while a child restarted by the previous round has
 * not run yet (it is scheduled with its restart word): the new round's stop
 * request to it must not be lost at its restart. kids[0] fails twice in a
 * row; over seeds the manual runtime runs kids[0]'s restart and second
 * failure before a sibling's restart in some of them. Every seed: all
 * three restarted twice, all answering.
 * LIBRARY BUG 6 when this fails (see the report; the soak hangs on it). */
static void overlapping_rounds(void **state)
{
    static const int strategies[] = {ACTOR_ONE_FOR_ALL, ACTOR_REST_FOR_ONE};
    actor_class *c = kid_class();
    int bad = 0;
    for (int si = 0; si < 2; si++)
        for (uint64_t seed = 1; seed <= 30; seed++) {
            reset();
            actor_runtime *rt = manual(seed);
            actor_addr *sup = sup_new(rt, spec_of(strategies[si], 10));
            for (int i = 0; i < 3; i++)
                kid_new(sup, c, ACTOR_PERMANENT);
            run_all(rt);
            send2(kids[0], A_FAIL, 1);
            send2(kids[0], A_FAIL, 2);
            run_all(rt);
            bool ok = true;
            for (int i = 0; i < 3; i++) {
                unsigned long long n = restarts_of(kids[i]);
                actor_responder *r = ask(kids[i], A_PING, 0);
                int st = actor_responder_wait(r, -1); /* ETIMEDOUT at once if idle */
                actor_responder_free(r);
                if (n != 2 || st != ACTOR_OK) {
                    fprintf(stderr, "%s seed %llu: child %d restarts %llu, ping %d (%s)\n",
                            strategy_name(strategies[si]), (unsigned long long)seed, i, n, st,
                            actor_strerror(st));
                    ok = false;
                }
            }
            bad += !ok;
            kids_release();
            addr_release(sup);
            actor_runtime_free(rt);
        }
    actor_class_free(c);
    assert_int_equal(bad, 0);
}

/* The same race on a threaded runtime: one_for_all and rest_for_one
 * supervisors of 20 children, 2 threads sending requests of which 1 in 10
 * fails its child: every request is answered (or canceled if it failed
 * its child) within the deadline. */
typedef struct race_arg {
    actor_addr **to;
    int n;
    unsigned seed;
    long ok, canceled, other;
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    const long ops = tu_scale(4000);
    for (long i = 0; i < ops; i += 8) {
        actor_responder *rs[8];
        int fails[8];
        for (int k = 0; k < 8; k++) {
            a->seed = a->seed * 1103515245u + 12345u;
            int to = (int)((a->seed >> 8) % (unsigned)a->n);
            fails[k] = (a->seed >> 20) % 10 == 0;
            unsigned char b[8];
            tu_put_u32(b, fails[k] ? A_FAIL : A_PING);
            tu_put_u32(b + 4, 1);
            TU_CHECK_CODE(addr_interact(a->to[to], t_q, b, 8, &rs[k]), ACTOR_OK);
        }
        for (int k = 0; k < 8; k++) {
            int st = actor_responder_wait(rs[k], a->other ? 0 : TU_LONG_MS);
            if (st == ACTOR_OK && !fails[k])
                a->ok++;
            else if (st == ACTOR_ECANCELED && fails[k])
                a->canceled++;
            else
                a->other++;
            actor_responder_free(rs[k]);
        }
        if (a->other)
            break;
    }
    return NULL;
}

static void overlapping_rounds_threaded(void **state)
{
    actor_class *c = kid_class();
    for (int si = 0; si < 2; si++) {
        reset();
        actor_runtime *rt = tu_runtime(2);
        actor_addr *sup =
            sup_new(rt, spec_of(si ? ACTOR_REST_FOR_ONE : ACTOR_ONE_FOR_ALL, 1000000));
        actor_addr *to[20];
        for (int i = 0; i < 20; i++)
            assert_ok(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &to[i]));
        race_arg args[2] = {{to, 20, 11u + (unsigned)si, 0, 0, 0},
                            {to, 20, 977u + (unsigned)si, 0, 0, 0}};
        pthread_t th[2];
        for (int k = 0; k < 2; k++)
            th[k] = tu_thread(race_thread, &args[k]);
        for (int k = 0; k < 2; k++)
            tu_join_thread(th[k]);
        tu_assert_no_failures();
        assert_int_equal(args[0].other + args[1].other, 0);
        tu_stop_join(sup);
        for (int i = 0; i < 20; i++)
            addr_release(to[i]);
        addr_release(sup);
        actor_runtime_free(rt);
    }
    actor_class_free(c);
}

/* A child supervisor stopped (with its children) for a one_for_all round
 * that waits for its backoff; the top is interrupted meanwhile: the whole
 * tree is Done, the grandchild too, none restarted.
 * LIBRARY BUG 7 when this fails (see the report). */
static void stop_while_subtree_parked_for_round(void **state)
{
    actor_class *c = kid_class();
    actor_runtime *rt = manual(29);
    actor_addr *top = sup_new(rt, spec_full(ACTOR_ONE_FOR_ALL, 10, 1000, 100, 100));
    int a = kid_new(top, c, ACTOR_PERMANENT);
    int x = kid_sup_new(top, spec_of(ACTOR_ONE_FOR_ONE, 10), ACTOR_PERMANENT);
    int x1 = kid_new(kids[x], c, ACTOR_PERMANENT);
    run_all(rt);
    send2(kids[a], A_FAIL, 1);
    run_all(rt); /* the round waits 100 ms; x and x1 stopped for it */
    assert_int_equal(atomic_load(&finals[x1]), 1);
    assert_ok(addr_interrupt(top));
    assert_ok(addr_join(top, -1));
    assert_true(addr_is_done(kids[a]));
    assert_true(addr_is_done(kids[x]));
    assert_code(addr_join(kids[x1], -1), ACTOR_OK);
    for (int i = 0; i < nkids; i++)
        assert_int_equal(restarts_of(kids[i]), 0);
    kids_release();
    addr_release(top);
    actor_runtime_free(rt);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(strategy_table),
        T(strategy_temporary_sibling_not_restarted),
        T(restart_in_place),
        T(restart_stateless_and_spawner_state),
        T(intensity_zero_gives_up_at_once),
        T(intensity_n_within_period_gives_up),
        T(intensity_spread_over_period_ok),
        T(escalation_parent_restarts_subtree),
        T(escalation_parent_gives_up_too),
        T(backoff_doubles_from_time_zero),
        T(backoff_doubles_later),
        T(backoff_round_and_stop_while_waiting),
        T(stop_order_interrupt),
        T(stop_order_last_release),
        T(stop_order_nested),
        T(stop_order_threaded),
        T(stop_child_for_good),
        T(stop_child_while_waiting),
        T(stop_child_during_round),
        T(bad_specs_and_calls),
        T(start_child_closed),
        T(shutdown_never_restarts),
        T(threaded_one_for_one_loop),
        T(init_failure_counts),
        T(interrupt_is_normal_stop),
        T(stop_child_subtree),
        T(escalation_restarted_supervisor_starts_fresh),
        T(overlapping_rounds),
        T(stop_while_subtree_parked_for_round),
        T(overlapping_rounds_threaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
