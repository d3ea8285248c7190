/* Lifecycle: init -> messages -> finalize -> Done; failing init; state. */
#include "testutil.h"

#define NEV 50

/* What the actor saw, in order. Touched by its callbacks only (never
 * concurrently), read by the test after join. */
struct trace {
    char steps[256]; /* 'I' init, 'E' event, 'F' finalize */
    int nsteps;
    int64_t values[NEV];
    int nvalues;
    actor_runtime *rt_seen;
    int self_ok;
};

static actor_runtime *g_rt;

static void step(struct trace *tr, char c)
{
    if (tr->nsteps < (int)sizeof tr->steps - 1)
        tr->steps[tr->nsteps++] = c;
}

static int tr_init(actor_ctx *ctx, void *st)
{
    struct trace *tr = st;
    step(tr, 'I');
    tr->rt_seen = actor_ctx_runtime(ctx);
    actor_addr *self = actor_ctx_self(ctx);
    tr->self_ok = self != NULL && addr_is_done(self) == 0;
    return 0;
}

static int tr_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    struct trace *tr = st;
    step(tr, 'E');
    TU_CHECK(len == 8);
    if (tr->nvalues < NEV)
        tr->values[tr->nvalues++] = (int64_t)tu_get_u64(p);
    return 0;
}

static void tr_fin(actor_ctx *ctx, void *st) { step((struct trace *)st, 'F'); }

static void order_init_messages_finalize(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("lc.Num", "q", NULL);
    actor_class *c = tu_class("lc.Tracer");
    assert_ok(actor_class_on_init(c, tr_init));
    assert_ok(actor_class_on_event(c, t, tr_event));
    assert_ok(actor_class_on_finalize(c, tr_fin));
    actor_runtime *rt = g_rt = tu_runtime(2);

    struct trace *tr = calloc(1, sizeof *tr);
    actor_addr *a = tu_spawn(rt, c, tr); /* the runtime owns tr now: no state_free */
    for (int i = 0; i < NEV; i++) {
        unsigned char buf[8];
        tu_put_u64(buf, (uint64_t)(i * 7));
        assert_ok(addr_send(a, t, buf, sizeof buf));
    }
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(addr_is_done(a), 1);
    assert_ok(addr_join(a, 0)); /* Done: looking says OK */
    assert_ok(addr_join(a, -1));

    char want[NEV + 3];
    want[0] = 'I';
    memset(want + 1, 'E', NEV);
    want[NEV + 1] = 'F';
    want[NEV + 2] = '\0';
    tr->steps[tr->nsteps] = '\0';
    assert_string_equal(tr->steps, want);
    assert_int_equal(tr->nvalues, NEV);
    for (int i = 0; i < NEV; i++)
        assert_int_equal(tr->values[i], i * 7);
    assert_ptr_equal(tr->rt_seen, rt);
    assert_true(tr->self_ok);

    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(tr);
}

static void join_timeout_zero_just_looks(void **state)
{
    (void)state;
    actor_class *c = tu_class("lc.Idle");
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);

    int64_t t0 = tu_now_ms();
    assert_code(addr_join(a, 0), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 < 1000);
    assert_int_equal(addr_is_done(a), 0);

    t0 = tu_now_ms();
    assert_code(addr_join(a, 60), ACTOR_ETIMEDOUT);
    int64_t waited = tu_now_ms() - t0;
    if (waited < 50)
        fail_msg("addr_join(a, 60) returned ETIMEDOUT after only %lld ms", (long long)waited);
    assert_int_equal(addr_is_done(a), 0);

    tu_stop_join(a);
    assert_int_equal(addr_is_done(a), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* A failing init: blocks on a gate (so that the test can queue messages
 * first), then fails. */
static tu_gate init_gate;
static atomic_int fi_events, fi_requests, fi_finalized, fi_state_freed;

static int failing_init(actor_ctx *ctx, void *st)
{
    tu_gate_wait(&init_gate, TU_LONG_MS);
    return 7;
}
static int fi_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&fi_events, 1);
    return 0;
}
static int fi_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&fi_requests, 1);
    int64_t v = 1;
    return actor_ctx_reply(ctx, &v, sizeof v);
}
static void fi_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&fi_finalized, 1); }
static void fi_state_free(void *st) { atomic_fetch_add(&fi_state_freed, 1); }

static void failing_init_processes_nothing(void **state)
{
    (void)state;
    const actor_msgtype *ev = tu_type("lc.Ev", "q", NULL);
    const actor_msgtype *rq = tu_type("lc.Rq", "q", "q");
    actor_class *c = tu_class("lc.FailingInit");
    assert_ok(actor_class_on_init(c, failing_init));
    assert_ok(actor_class_on_event(c, ev, fi_event));
    assert_ok(actor_class_on_request(c, rq, fi_request));
    assert_ok(actor_class_on_finalize(c, fi_fin));
    assert_ok(actor_class_set_state_free(c, fi_state_free));
    assert_ok(actor_class_set_state_size(c, 32));
    atomic_store(&fi_events, 0);
    atomic_store(&fi_requests, 0);
    atomic_store(&fi_finalized, 0);
    atomic_store(&fi_state_freed, 0);
    tu_gate_init(&init_gate);
    tu_log_capture();

    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    TU_WAIT_ENTERED(&init_gate, 1); /* init is running */

    enum { NREQ = 10 };
    actor_responder *rs[NREQ];
    int64_t v = 5;
    for (int i = 0; i < NREQ; i++) {
        assert_ok(addr_send(a, ev, &v, sizeof v));
        assert_ok(addr_interact(a, rq, &v, sizeof v, &rs[i]));
    }
    tu_gate_open(&init_gate);

    for (int i = 0; i < NREQ; i++) {
        assert_code(actor_responder_wait(rs[i], TU_LONG_MS), ACTOR_ECANCELED);
        assert_code(actor_responder_status(rs[i]), ACTOR_ECANCELED);
        assert_int_equal(actor_responder_handler_error(rs[i]), 0);
        actor_responder_free(rs[i]);
    }
    assert_ok(addr_join(a, TU_LONG_MS));
    assert_int_equal(atomic_load(&fi_finalized), 1); /* finalize still runs */
    assert_int_equal(atomic_load(&fi_events), 0);
    assert_int_equal(atomic_load(&fi_requests), 0);
    /* Done: nothing more is taken. The queued events were dropped, and
     * counted. */
    assert_code(addr_send(a, ev, &v, sizeof v), ACTOR_ECLOSED);
    unsigned long long dropped = 0;
    assert_ok(addr_dropped(a, &dropped));
    assert_int_equal(dropped, NREQ);
    /* The failure was logged (an error or a warning). */
    TU_WAIT_UNTIL(tu_log_has("lc.FailingInit", ACTOR_LOG_WARN), TU_LONG_MS);

    addr_release(a);
    actor_runtime_free(rt);
    TU_WAIT_UNTIL(atomic_load(&fi_state_freed) == 1, TU_LONG_MS);
    tu_log_stop();
    tu_gate_destroy(&init_gate);
    actor_class_free(c);
}

/* State NULL + set_state_size: a zeroed block, freed by the runtime after
 * finalize and state_free. */
#define STATE_SIZE 200
static atomic_int zs_zeroed, zs_seq, zs_fin_at, zs_free_at, zs_free_same;
static _Atomic(void *) zs_block;

static int zs_init(actor_ctx *ctx, void *st)
{
    unsigned char *b = st;
    int zero = b != NULL;
    for (int i = 0; b != NULL && i < STATE_SIZE; i++)
        zero &= b[i] == 0;
    atomic_store(&zs_zeroed, zero);
    atomic_store(&zs_block, st);
    if (b != NULL)
        memset(b, 0xab, STATE_SIZE); /* the whole block is writable */
    return 0;
}
static void zs_fin(actor_ctx *ctx, void *st)
{
    atomic_store(&zs_fin_at, atomic_fetch_add(&zs_seq, 1) + 1);
    TU_CHECK(st == atomic_load(&zs_block));
}
static void zs_free(void *st)
{
    atomic_store(&zs_free_at, atomic_fetch_add(&zs_seq, 1) + 1);
    atomic_store(&zs_free_same, st == atomic_load(&zs_block));
    TU_CHECK(st != NULL && ((unsigned char *)st)[STATE_SIZE - 1] == 0xab);
}

static void state_size_gives_zeroed_block(void **state)
{
    (void)state;
    actor_class *c = tu_class("lc.Sized");
    assert_ok(actor_class_on_init(c, zs_init));
    assert_ok(actor_class_on_finalize(c, zs_fin));
    assert_ok(actor_class_set_state_free(c, zs_free));
    assert_ok(actor_class_set_state_size(c, STATE_SIZE));
    atomic_store(&zs_zeroed, 0);
    atomic_store(&zs_seq, 0);
    atomic_store(&zs_fin_at, 0);
    atomic_store(&zs_free_at, 0);
    atomic_store(&zs_free_same, 0);
    atomic_store(&zs_block, NULL);

    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_stop_join(a);
    assert_non_null(atomic_load(&zs_block));
    assert_int_equal(atomic_load(&zs_zeroed), 1);
    TU_WAIT_UNTIL(atomic_load(&zs_free_at) != 0, TU_LONG_MS);
    assert_int_equal(atomic_load(&zs_fin_at), 1); /* finalize first */
    assert_int_equal(atomic_load(&zs_free_at), 2); /* then state_free */
    assert_int_equal(atomic_load(&zs_free_same), 1);
    addr_release(a);
    actor_runtime_free(rt); /* ASan: the runtime's block is freed */
    actor_class_free(c);
}

static _Atomic int ns_state_null;
static int ns_init(actor_ctx *ctx, void *st)
{
    atomic_store(&ns_state_null, st == NULL ? 1 : 2);
    return 0;
}

static void state_size_zero_keeps_null(void **state)
{
    (void)state;
    actor_class *c = tu_class("lc.Unsized");
    assert_ok(actor_class_on_init(c, ns_init));
    atomic_store(&ns_state_null, 0);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&ns_state_null), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* A caller's state: state_free runs after finalize, with that pointer; the
 * runtime does not free the block itself (state_free does). */
static atomic_int us_seq, us_fin_at, us_free_at;
static void us_fin(actor_ctx *ctx, void *st)
{
    atomic_store(&us_fin_at, atomic_fetch_add(&us_seq, 1) + 1);
    TU_CHECK(st != NULL && strcmp((char *)st, "caller state") == 0);
}
static void us_free(void *st)
{
    atomic_store(&us_free_at, atomic_fetch_add(&us_seq, 1) + 1);
    TU_CHECK(st != NULL && strcmp((char *)st, "caller state") == 0);
    free(st);
}

static void state_free_runs_after_finalize(void **state)
{
    (void)state;
    actor_class *c = tu_class("lc.UserState");
    assert_ok(actor_class_on_finalize(c, us_fin));
    assert_ok(actor_class_set_state_free(c, us_free));
    atomic_store(&us_seq, 0);
    atomic_store(&us_fin_at, 0);
    atomic_store(&us_free_at, 0);
    actor_runtime *rt = tu_runtime(2);
    char *st = strdup("caller state");
    actor_addr *a = tu_spawn(rt, c, st);
    tu_stop_join(a);
    TU_WAIT_UNTIL(atomic_load(&us_free_at) != 0, TU_LONG_MS);
    assert_int_equal(atomic_load(&us_fin_at), 1);
    assert_int_equal(atomic_load(&us_free_at), 2);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static atomic_int sf_calls;
static void sf_count(void *st) { atomic_fetch_add(&sf_calls, 1); }

static void spawn_failure_leaves_state_to_caller(void **state)
{
    (void)state;
    actor_class *c = tu_class("lc.SpawnFail");
    assert_ok(actor_class_set_state_free(c, sf_count));
    atomic_store(&sf_calls, 0);
    actor_runtime *rt = tu_runtime(1);
    char *st = strdup("mine");
    actor_addr *a = (actor_addr *)(uintptr_t)0x1;

    /* Bad arguments. */
    assert_code(actor_spawn(rt, NULL, st, &a), ACTOR_EINVAL);
    assert_code(actor_spawn(NULL, c, st, &a), ACTOR_EINVAL);
    assert_code(actor_spawn(rt, c, st, NULL), ACTOR_EINVAL);
    assert_ptr_equal(a, (actor_addr *)(uintptr_t)0x1);

    /* A runtime shut down. */
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    assert_code(actor_spawn(rt, c, st, &a), ACTOR_ECLOSED);
    assert_ptr_equal(a, (actor_addr *)(uintptr_t)0x1);
    actor_runtime_free(rt);

    assert_int_equal(atomic_load(&sf_calls), 0);
    assert_string_equal(st, "mine"); /* still ours, intact */
    free(st);
    actor_class_free(c);
}

/* Many actors, each with its own lifecycle, on few workers. */
static atomic_int many_init, many_fin;
static int many_init_fn(actor_ctx *ctx, void *st)
{
    atomic_fetch_add(&many_init, 1);
    return 0;
}
static void many_fin_fn(actor_ctx *ctx, void *st) { atomic_fetch_add(&many_fin, 1); }

static void many_actors(void **state)
{
    (void)state;
    actor_class *c = tu_class("lc.Many");
    assert_ok(actor_class_on_init(c, many_init_fn));
    assert_ok(actor_class_on_finalize(c, many_fin_fn));
    atomic_store(&many_init, 0);
    atomic_store(&many_fin, 0);
    actor_runtime *rt = tu_runtime(2);
    enum { N = 500 };
    actor_addr **as = calloc(N, sizeof *as);
    for (int i = 0; i < N; i++)
        as[i] = tu_spawn(rt, c, NULL);
    for (int i = 0; i < N; i++)
        assert_ok(addr_interrupt(as[i]));
    for (int i = 0; i < N; i++) {
        assert_ok(addr_join(as[i], TU_LONG_MS));
        addr_release(as[i]);
    }
    assert_int_equal(atomic_load(&many_init), N);
    assert_int_equal(atomic_load(&many_fin), N);
    free(as);
    actor_runtime_free(rt);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(order_init_messages_finalize),
        TU_TEST(join_timeout_zero_just_looks),
        TU_TEST(failing_init_processes_nothing),
        TU_TEST(state_size_gives_zeroed_block),
        TU_TEST(state_size_zero_keeps_null),
        TU_TEST(state_free_runs_after_finalize),
        TU_TEST(spawn_failure_leaves_state_to_caller),
        TU_TEST(many_actors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
