/* ABI 1.1 part 1 (issue 10): the manual runtime — actor_runtime_new_manual,
 * _step, _run, _advance, _now_ms. Determinism under a seed, timers and
 * deadlines fired in time order, the blocking calls that drive it (and
 * return ACTOR_ETIMEDOUT at once when it idles, the clock unmoved), free
 * with actors that ignore interrupts, the bad calls (threaded runtime,
 * inside a handler, two drivers at once), and senders on other threads. */
#include "testutil.h"

#define MAX_MS (1ull << 42)

static const actor_msgtype *t_hop, *t_tick, *t_go, *t_q, *t_bye, *t_res;

static int setup(void **state)
{
    tu_reset_failures();
    t_hop = tu_type("mn.Hop", "QQ", NULL);
    t_tick = tu_type("mn.Tick", "Q", NULL);
    t_go = tu_type("mn.Go", "Q", NULL);
    t_q = tu_type("mn.Q", "q", "q");
    t_bye = tu_type("mn.Bye", "", NULL);
    t_res = tu_type("mn.Res", "Qq", NULL);
    return 0;
}

static int teardown(void **state) { return tu_teardown(state); }

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static actor_runtime *manual(uint64_t seed)
{
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(seed, &rt));
    assert_non_null(rt);
    return rt;
}

static void run_all(actor_runtime *rt) { assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL)); }

static void send_u64(actor_addr *a, const actor_msgtype *t, uint64_t v)
{
    unsigned char b[8];
    tu_put_u64(b, v);
    assert_ok(addr_send(a, t, b, 8));
}

/* A counter actor: counts its events of mn.Go; n > 0 sends itself n - 1,
 * n == 0 stops it. */
static atomic_int go_count, go_inits, go_fins;

static int go_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&go_count, 1);
    uint64_t n = tu_get_u64(p);
    if (n == 0) {
        actor_ctx_stop(ctx);
        return 0;
    }
    if (n != UINT64_MAX) {
        unsigned char b[8];
        tu_put_u64(b, n - 1);
        TU_CHECK_CODE(addr_send(actor_ctx_self(ctx), t_go, b, 8), ACTOR_OK);
    }
    return 0;
}

static int go_init(actor_ctx *ctx, void *st)
{
    atomic_fetch_add(&go_inits, 1);
    return 0;
}

static void go_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&go_fins, 1); }

static actor_class *go_class(void)
{
    atomic_store(&go_count, 0);
    atomic_store(&go_inits, 0);
    atomic_store(&go_fins, 0);
    actor_class *c = tu_class("mn.Go");
    assert_ok(actor_class_on_event(c, t_go, go_event));
    assert_ok(actor_class_on_init(c, go_init));
    assert_ok(actor_class_on_finalize(c, go_fin));
    return c;
}

/* ------------------------------------------------------------------------ */
/* The clock                                                                  */
/* ------------------------------------------------------------------------ */

static void now_ms_clocks(void **state)
{
    assert_int_equal(actor_runtime_now_ms(NULL), 0);
    actor_runtime *rt = manual(1);
    assert_int_equal(actor_runtime_now_ms(rt), 0);
    assert_ok(actor_runtime_advance(rt, 5));
    assert_int_equal(actor_runtime_now_ms(rt), 5);
    assert_ok(actor_runtime_advance(rt, 0));
    assert_int_equal(actor_runtime_now_ms(rt), 5);
    assert_ok(actor_runtime_advance(rt, 1000000));
    assert_int_equal(actor_runtime_now_ms(rt), 1000005);
    actor_runtime_free(rt);

    /* Threaded: monotonic ms since it started; it moves, never back. */
    actor_runtime *th = tu_runtime(1);
    uint64_t t0 = actor_runtime_now_ms(th);
    assert_true(t0 < (uint64_t)TU_LONG_MS);
    uint64_t prev = t0;
    TU_WAIT_UNTIL((prev = actor_runtime_now_ms(th)) > t0, TU_LONG_MS);
    for (int i = 0; i < 10000; i++) {
        uint64_t now = actor_runtime_now_ms(th);
        assert_true(now >= prev);
        prev = now;
    }
    actor_runtime_free(th);
}

static void new_manual_einval(void **state)
{
    assert_code(actor_runtime_new_manual(1, NULL), ACTOR_EINVAL);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(0, &rt)); /* seed 0 is a seed */
    actor_runtime_free(rt);
    actor_runtime_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* step and run                                                               */
/* ------------------------------------------------------------------------ */

static void step_returns_one_then_zero(void **state)
{
    actor_class *c = go_class();
    actor_runtime *rt = manual(2);
    assert_int_equal(actor_runtime_step(rt), 0); /* empty */
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_int_equal(atomic_load(&go_inits), 0); /* nothing runs by itself */
    assert_int_equal(actor_runtime_step(rt), 1); /* init */
    assert_int_equal(atomic_load(&go_inits), 1);
    assert_int_equal(actor_runtime_step(rt), 0);
    send_u64(a, t_go, UINT64_MAX);
    send_u64(a, t_go, UINT64_MAX);
    assert_int_equal(atomic_load(&go_count), 0);
    assert_int_equal(actor_runtime_step(rt), 1);
    assert_int_equal(atomic_load(&go_count), 1);
    assert_int_equal(actor_runtime_step(rt), 1);
    assert_int_equal(atomic_load(&go_count), 2);
    assert_int_equal(actor_runtime_step(rt), 0);
    assert_int_equal(actor_runtime_step(rt), 0);
    addr_release(a);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&go_fins), 1);
    actor_class_free(c);
}

static void run_max_messages_and_ran(void **state)
{
    actor_class *c = go_class();
    actor_runtime *rt = manual(3);
    actor_addr *a = tu_spawn(rt, c, NULL);
    size_t ran = 99;
    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_int_equal(ran, 1); /* init */
    for (int i = 0; i < 10; i++)
        send_u64(a, t_go, UINT64_MAX);
    ran = 99;
    assert_ok(actor_runtime_run(rt, 0, &ran));
    assert_int_equal(ran, 0);
    assert_int_equal(atomic_load(&go_count), 0);
    assert_ok(actor_runtime_run(rt, 3, &ran));
    assert_int_equal(ran, 3);
    assert_int_equal(atomic_load(&go_count), 3);
    assert_ok(actor_runtime_run(rt, 1, NULL));
    assert_int_equal(atomic_load(&go_count), 4);
    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_int_equal(ran, 6);
    assert_int_equal(atomic_load(&go_count), 10);
    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_int_equal(ran, 0);
    /* A chain it generates itself: 100 sends to itself, then a stop. */
    send_u64(a, t_go, 100);
    assert_ok(actor_runtime_run(rt, 50, &ran));
    assert_int_equal(ran, 50);
    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_true(ran >= 51); /* the other 51 messages (and finalize) */
    assert_int_equal(atomic_load(&go_count), 111);
    assert_int_equal(atomic_load(&go_fins), 1);
    assert_code(addr_join(a, 0), ACTOR_OK);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ------------------------------------------------------------------------ */
/* Determinism: the same seed, the same order                                 */
/* ------------------------------------------------------------------------ */

#define NODES 50
#define HOPS 7
#define LOGCAP 200000

typedef struct node {
    int id;
    uint64_t prng;
    uint64_t ticks;
} node;

typedef struct entry {
    uint32_t id, hop, origin;
    uint64_t now;
} entry;

static entry *plog;
static size_t plen;
static actor_addr *nodes[NODES];
static node nstate[NODES];

static uint64_t node_rand(node *s)
{
    s->prng ^= s->prng << 13;
    s->prng ^= s->prng >> 7;
    s->prng ^= s->prng << 17;
    return s->prng;
}

static void node_log(actor_ctx *ctx, node *s, uint32_t hop, uint32_t origin)
{
    if (plen < LOGCAP)
        plog[plen++] = (entry){(uint32_t)s->id, hop, origin,
                               actor_runtime_now_ms(actor_ctx_runtime(ctx))};
}

static void node_send(node *s, uint64_t hop)
{
    unsigned char b[16];
    tu_put_u64(b, hop);
    tu_put_u64(b + 8, (uint64_t)s->id);
    TU_CHECK_CODE(addr_send(nodes[node_rand(s) % NODES], t_hop, b, 16), ACTOR_OK);
}

static int node_hop(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    node *s = st;
    uint64_t hop = tu_get_u64(p), origin = tu_get_u64((const unsigned char *)p + 8);
    node_log(ctx, s, (uint32_t)hop, (uint32_t)origin);
    if (hop < HOPS) {
        int k = 1 + (int)(node_rand(s) % 2);
        for (int i = 0; i < k; i++)
            node_send(s, hop + 1);
    }
    return 0;
}

static int node_tick(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    node *s = st;
    s->ticks++;
    node_log(ctx, s, 1000 + (uint32_t)s->ticks, (uint32_t)tu_get_u64(p));
    node_send(s, HOPS - 2);
    return 0;
}

static int node_init(actor_ctx *ctx, void *st)
{
    node *s = st;
    if (s->id < 10) {
        unsigned char b[8];
        tu_put_u64(b, (uint64_t)s->id);
        TU_CHECK_CODE(actor_ctx_timer_start(ctx, 1, t_tick, b, 8, (uint64_t)s->id + 1,
                                            (uint64_t)(s->id + 1) * 3),
                      ACTOR_OK);
    }
    return 0;
}

/* Runs the 50-actor program under `seed`; returns its log (length *n). */
static entry *run_program(uint64_t seed, size_t *n)
{
    plog = calloc(LOGCAP, sizeof *plog);
    assert_non_null(plog);
    plen = 0;
    actor_class *c = tu_class("mn.Node");
    assert_ok(actor_class_on_event(c, t_hop, node_hop));
    assert_ok(actor_class_on_event(c, t_tick, node_tick));
    assert_ok(actor_class_on_init(c, node_init));
    actor_runtime *rt = manual(seed);
    for (int i = 0; i < NODES; i++) {
        nstate[i] = (node){i, 0x2545F4914F6CDD1Dull ^ ((uint64_t)i * 7919 + 1), 0};
        nodes[i] = tu_spawn(rt, c, &nstate[i]);
    }
    for (int i = 0; i < NODES; i++) {
        unsigned char b[16];
        tu_put_u64(b, 0);
        tu_put_u64(b + 8, 999);
        assert_ok(addr_send(nodes[i], t_hop, b, 16));
    }
    run_all(rt);
    assert_ok(actor_runtime_advance(rt, 60));
    for (int i = 0; i < NODES; i++)
        addr_release(nodes[i]);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_assert_no_failures();
    assert_true(plen < LOGCAP);
    *n = plen;
    entry *out = plog;
    plog = NULL;
    return out;
}

static void same_seed_same_order(void **state)
{
    size_t n1, n1b, n2;
    entry *a = run_program(1, &n1);
    entry *b = run_program(1, &n1b);
    entry *c = run_program(2, &n2);
    assert_true(n1 > 1000);
    assert_int_equal(n1, n1b);
    assert_memory_equal(a, b, n1 * sizeof *a);
    /* Another seed, another legal order. */
    assert_true(n1 != n2 || memcmp(a, c, n1 * sizeof *a) != 0);
    free(a);
    free(b);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* advance: timers and deadlines in time order                                */
/* ------------------------------------------------------------------------ */

typedef struct fired {
    uint64_t what, at;
} fired;
static fired fires[64];
static size_t nfires;
static actor_runtime *fire_rt;
static actor_promise *held;

static int clock_tick(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    if (nfires < 64)
        fires[nfires++] = (fired){tu_get_u64(p), actor_runtime_now_ms(actor_ctx_runtime(ctx))};
    return 0;
}

static int clock_init(actor_ctx *ctx, void *st)
{
    unsigned char b[8];
    tu_put_u64(b, 1);
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, 1, t_tick, b, 8, 30, 30), ACTOR_OK);
    tu_put_u64(b, 2);
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, 2, t_tick, b, 8, 20, 25), ACTOR_OK);
    tu_put_u64(b, 3);
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, 3, t_tick, b, 8, 55, 0), ACTOR_OK);
    return 0;
}

static int defer_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    TU_CHECK(held == NULL);
    TU_CHECK_CODE(actor_ctx_defer(ctx, &held), ACTOR_OK);
    return 0;
}

static void fire_then(actor_responder *r, void *ud)
{
    TU_CHECK_CODE(actor_responder_status(r), ACTOR_EEXPIRED);
    if (nfires < 64)
        fires[nfires++] = (fired){99, actor_runtime_now_ms(fire_rt)};
}

static void advance_fires_in_time_order(void **state)
{
    nfires = 0;
    held = NULL;
    actor_class *c = tu_class("mn.Clock");
    assert_ok(actor_class_on_init(c, clock_init));
    assert_ok(actor_class_on_event(c, t_tick, clock_tick));
    assert_ok(actor_class_on_request(c, t_q, defer_request));
    actor_runtime *rt = manual(4);
    fire_rt = rt;
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t q = 1;
    actor_responder *r = NULL;
    assert_ok(addr_interact_within(a, t_q, &q, 8, 50, &r));
    assert_ok(actor_responder_then(r, fire_then, NULL));
    assert_ok(actor_runtime_advance(rt, 100));
    static const fired want[] = {{2, 20}, {1, 30}, {2, 45}, {99, 50}, {3, 55},
                                 {1, 60}, {2, 70}, {1, 90}, {2, 95}};
    size_t nwant = sizeof want / sizeof want[0];
    for (size_t i = 0; i < nfires; i++)
        printf("  fired %llu at %llu\n", (unsigned long long)fires[i].what,
               (unsigned long long)fires[i].at);
    assert_int_equal(nfires, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(fires[i].what, want[i].what);
        assert_int_equal(fires[i].at, want[i].at);
    }
    assert_int_equal(actor_runtime_now_ms(rt), 100);
    /* The same again in small steps gives the same times. */
    nfires = 0;
    for (int i = 0; i < 50; i++)
        assert_ok(actor_runtime_advance(rt, 2));
    assert_int_equal(actor_runtime_now_ms(rt), 200);
    static const fired want2[] = {{2, 120}, {1, 120}, {2, 145}, {1, 150}, {2, 170},
                                  {1, 180}, {2, 195}};
    assert_int_equal(nfires, 7);
    for (size_t i = 0; i < 7; i++) {
        /* 120 holds two; their order is the runtime's: compare as a set. */
        if (want2[i].at == 120) {
            assert_int_equal(fires[i].at, 120);
            assert_int_equal(fires[0].what + fires[1].what, 3);
        } else {
            assert_int_equal(fires[i].what, want2[i].what);
            assert_int_equal(fires[i].at, want2[i].at);
        }
    }
    int64_t v = 0;
    assert_ok(actor_promise_resolve(held, &v, 8)); /* late: goes nowhere */
    actor_responder_free(r);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_assert_no_failures();
}

/* ------------------------------------------------------------------------ */
/* Blocking calls drive it; idle: ETIMEDOUT at once, clock unmoved            */
/* ------------------------------------------------------------------------ */

static int sleeper_init(actor_ctx *ctx, void *st)
{
    unsigned char b[8];
    tu_put_u64(b, 0); /* a Go of 0: stop */
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, 1, t_go, b, 8, 100, 0), ACTOR_OK);
    return 0;
}

static void join_drives(void **state)
{
    actor_class *c = go_class();
    actor_runtime *rt = manual(5);
    actor_addr *a = tu_spawn(rt, c, NULL);
    send_u64(a, t_go, 100);
    assert_code(addr_join(a, 0), ACTOR_ETIMEDOUT); /* 0 only looks */
    assert_int_equal(atomic_load(&go_count), 0);
    assert_ok(addr_join(a, -1)); /* runs init, 101 events, finalize */
    assert_int_equal(atomic_load(&go_count), 101);
    assert_int_equal(atomic_load(&go_fins), 1);
    addr_release(a);

    /* An actor that stops only at 100 ms: join idles at 0 and says so. */
    actor_class *sc = tu_class("mn.Sleeper");
    assert_ok(actor_class_on_init(sc, sleeper_init));
    assert_ok(actor_class_on_event(sc, t_go, go_event));
    actor_addr *s = tu_spawn(rt, sc, NULL);
    assert_ok(actor_runtime_advance(rt, 3));
    assert_code(addr_join(s, -1), ACTOR_ETIMEDOUT);
    assert_int_equal(actor_runtime_now_ms(rt), 3);
    int64_t t0 = tu_now_ms();
    assert_code(addr_join(s, 5000), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 < 2500); /* at once, not after 5 s */
    assert_int_equal(actor_runtime_now_ms(rt), 3);
    assert_ok(actor_runtime_advance(rt, 96)); /* its init ran at 0: due at 100 */
    assert_false(addr_is_done(s));
    assert_ok(actor_runtime_advance(rt, 1));
    assert_true(addr_is_done(s));
    assert_int_equal(actor_runtime_now_ms(rt), 100);
    assert_ok(addr_join(s, -1));
    addr_release(s);
    actor_runtime_free(rt);
    actor_class_free(c);
    actor_class_free(sc);
    tu_assert_no_failures();
}

/* A request whose answer takes several actors: A defers, asks B by an
 * event, B answers A by an event, A resolves. */
typedef struct relay {
    actor_addr *partner;  /* A: B; counted, released in finalize */
    actor_promise *pending;
    int handled;
} relay;

static atomic_int relay_handled;

static int relay_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    relay *s = st;
    atomic_fetch_add(&relay_handled, 1);
    int64_t x = (int64_t)tu_get_u64(p);
    if (x < 0) { /* never answered: the promise is kept */
        TU_CHECK_CODE(actor_ctx_defer(ctx, &s->pending), ACTOR_OK);
        held = s->pending;
        return 0;
    }
    TU_CHECK(s->pending == NULL);
    TU_CHECK_CODE(actor_ctx_defer(ctx, &s->pending), ACTOR_OK);
    unsigned char b[16];
    tu_put_u64(b, (uint64_t)(uintptr_t)actor_ctx_self(ctx));
    tu_put_u64(b + 8, (uint64_t)x);
    TU_CHECK_CODE(addr_send(s->partner, t_res, b, 16), ACTOR_OK);
    return 0;
}

static int relay_res(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    relay *s = st;
    actor_addr *from = (actor_addr *)(uintptr_t)tu_get_u64(p);
    int64_t x = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    if (from != NULL) { /* B: compute, answer A */
        unsigned char b[16];
        tu_put_u64(b, 0);
        tu_put_u64(b + 8, (uint64_t)(x * x));
        TU_CHECK_CODE(addr_send(from, t_res, b, 16), ACTOR_OK);
    } else { /* A: resolve */
        TU_CHECK(s->pending != NULL);
        unsigned char out[8];
        tu_put_u64(out, (uint64_t)x);
        TU_CHECK_CODE(actor_promise_resolve(s->pending, out, 8), ACTOR_OK);
        s->pending = NULL;
    }
    return 0;
}

static void relay_fin(actor_ctx *ctx, void *st)
{
    relay *s = st;
    addr_release(s->partner);
    s->partner = NULL;
}

static void wait_drives_and_idles(void **state)
{
    atomic_store(&relay_handled, 0);
    held = NULL;
    actor_class *c = tu_class("mn.Relay");
    assert_ok(actor_class_on_request(c, t_q, relay_request));
    assert_ok(actor_class_on_event(c, t_res, relay_res));
    assert_ok(actor_class_on_finalize(c, relay_fin));
    actor_runtime *rt = manual(6);
    static relay ra, rb;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    actor_addr *b = tu_spawn(rt, c, &rb);
    ra.partner = addr_ref(b);
    actor_addr *a = tu_spawn(rt, c, &ra);

    int64_t x = 12;
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t_q, &x, 8, &r));
    assert_code(actor_responder_wait(r, 0), ACTOR_ETIMEDOUT); /* 0 only looks */
    assert_int_equal(atomic_load(&relay_handled), 0);
    assert_code(actor_responder_wait(r, -1), ACTOR_OK); /* runs A, B, A */
    assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 144);
    actor_responder_free(r);

    /* Deferred and never answered: idle, ETIMEDOUT at once, clock kept. */
    assert_ok(actor_runtime_advance(rt, 7));
    x = -1;
    assert_ok(addr_interact(a, t_q, &x, 8, &r));
    assert_code(actor_responder_wait(r, -1), ACTOR_ETIMEDOUT);
    assert_int_equal(actor_runtime_now_ms(rt), 7);
    int64_t t0 = tu_now_ms();
    assert_code(actor_responder_wait(r, 5000), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 < 2500);
    assert_int_equal(actor_runtime_now_ms(rt), 7);
    assert_code(actor_responder_status(r), ACTOR_EAGAIN);
    assert_non_null(held);
    int64_t v = 5;
    assert_ok(actor_promise_resolve(held, &v, 8));
    ra.pending = NULL;
    assert_code(actor_responder_wait(r, -1), ACTOR_OK);
    assert_int_equal(tu_get_u64(actor_responder_data(r, NULL)), 5);
    actor_responder_free(r);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_assert_no_failures();
}

/* shutdown runs the interrupts (here: each sends itself a last event and
 * stops on it). */
static atomic_int pol_int, pol_bye, pol_fin, stub_int, stub_fin;

static void polite_interrupt(actor_ctx *ctx, void *st)
{
    atomic_fetch_add(&pol_int, 1);
    TU_CHECK_CODE(addr_send(actor_ctx_self(ctx), t_bye, NULL, 0), ACTOR_OK);
}

static int polite_bye(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&pol_bye, 1);
    actor_ctx_stop(ctx);
    return 0;
}

static void polite_fin(actor_ctx *ctx, void *st) { atomic_fetch_add(&pol_fin, 1); }

static void stub_interrupt(actor_ctx *ctx, void *st) { atomic_fetch_add(&stub_int, 1); }
static void stub_finalize(actor_ctx *ctx, void *st) { atomic_fetch_add(&stub_fin, 1); }

static actor_class *polite_class(void)
{
    atomic_store(&pol_int, 0);
    atomic_store(&pol_bye, 0);
    atomic_store(&pol_fin, 0);
    actor_class *c = tu_class("mn.Polite");
    assert_ok(actor_class_on_interrupt(c, polite_interrupt));
    assert_ok(actor_class_on_event(c, t_bye, polite_bye));
    assert_ok(actor_class_on_finalize(c, polite_fin));
    return c;
}

static void shutdown_drives_interrupts(void **state)
{
    actor_class *c = polite_class();
    actor_runtime *rt = manual(7);
    actor_addr *a[5];
    for (int i = 0; i < 5; i++)
        a[i] = tu_spawn(rt, c, NULL);
    assert_ok(actor_runtime_shutdown(rt, -1)); /* nobody stepped it */
    assert_int_equal(atomic_load(&pol_int), 5);
    assert_int_equal(atomic_load(&pol_bye), 5);
    assert_int_equal(atomic_load(&pol_fin), 5);
    for (int i = 0; i < 5; i++)
        assert_true(addr_is_done(a[i]));
    actor_addr *late = NULL;
    assert_code(actor_spawn(rt, c, NULL, &late), ACTOR_ECLOSED);
    assert_ok(actor_runtime_shutdown(rt, 0)); /* idempotent */
    for (int i = 0; i < 5; i++)
        addr_release(a[i]);
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_assert_no_failures();
}

/* An actor that ignores interrupts: shutdown idles (ETIMEDOUT at once);
 * actor_runtime_free stops it anyway, runs its finalize and warns. */
static void free_stops_stubborn_actors(void **state)
{
    atomic_store(&stub_int, 0);
    atomic_store(&stub_fin, 0);
    actor_class *pc = polite_class();
    actor_class *sc = tu_class("mn.Stubborn");
    assert_ok(actor_class_on_interrupt(sc, stub_interrupt));
    assert_ok(actor_class_on_finalize(sc, stub_finalize));
    assert_ok(actor_class_on_event(sc, t_go, go_event));
    actor_runtime *rt = manual(8);
    actor_addr *s1 = tu_spawn(rt, sc, NULL);
    actor_addr *s2 = tu_spawn(rt, sc, NULL);
    actor_addr *p = tu_spawn(rt, pc, NULL);
    tu_log_capture();
    int64_t t0 = tu_now_ms();
    assert_code(actor_runtime_shutdown(rt, 5000), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 < 2500);
    assert_int_equal(actor_runtime_now_ms(rt), 0);
    assert_int_equal(atomic_load(&stub_int), 2);
    assert_int_equal(atomic_load(&stub_fin), 0);
    assert_int_equal(atomic_load(&pol_fin), 1);
    assert_code(addr_join(s1, -1), ACTOR_ETIMEDOUT);
    actor_runtime_free(rt); /* returns */
    assert_int_equal(atomic_load(&stub_fin), 2);
    assert_true(addr_is_done(s1) && addr_is_done(s2));
    assert_ok(addr_join(s2, -1));
    assert_code(addr_send(s1, t_go, "\0\0\0\0\0\0\0\0", 8), ACTOR_ECLOSED);
    if (!tu_log_has("mn.Stubborn", ACTOR_LOG_WARN)) {
        tu_log_dump();
        fail_msg("no warning naming the class of the actors free stopped");
    }
    tu_log_stop();
    addr_release(s1);
    addr_release(s2);
    addr_release(p);
    actor_class_free(pc);
    actor_class_free(sc);
    tu_assert_no_failures();
}

/* ------------------------------------------------------------------------ */
/* Bad calls                                                                  */
/* ------------------------------------------------------------------------ */

static void bad_runtimes_einval(void **state)
{
    size_t ran = 77;
    assert_code(actor_runtime_step(NULL), ACTOR_EINVAL);
    assert_code(actor_runtime_run(NULL, 1, &ran), ACTOR_EINVAL);
    assert_code(actor_runtime_advance(NULL, 1), ACTOR_EINVAL);
    assert_int_equal(ran, 77);
    actor_runtime *th = tu_runtime(1);
    assert_code(actor_runtime_step(th), ACTOR_EINVAL);
    assert_code(actor_runtime_run(th, SIZE_MAX, &ran), ACTOR_EINVAL);
    assert_code(actor_runtime_advance(th, 1), ACTOR_EINVAL);
    assert_int_equal(ran, 77);
    actor_runtime_free(th);

    actor_runtime *rt = manual(9);
    assert_code(actor_runtime_advance(rt, MAX_MS + 1), ACTOR_EINVAL);
    assert_code(actor_runtime_advance(rt, UINT64_MAX), ACTOR_EINVAL);
    assert_int_equal(actor_runtime_now_ms(rt), 0);
    assert_ok(actor_runtime_advance(rt, MAX_MS));
    assert_int_equal(actor_runtime_now_ms(rt), MAX_MS);
    actor_runtime_free(rt);
}

/* LIBRARY PROBE (see the report of issue 10's tests): each advance is
 * bounded by 2^42 ms, but their sum is not; the virtual clock (in ns, a
 * uint64_t) must not wrap and run backwards. Either a refusal (EINVAL) or
 * a clock that keeps moving forward is fine; going back is not. */
static void advance_never_moves_back(void **state)
{
    actor_runtime *rt = manual(10);
    uint64_t prev = 0, back_from = 0, back_to = 0;
    int bad_rc = 0, back_at = 0;
    for (int i = 0; i < 6; i++) {
        int rc = actor_runtime_advance(rt, MAX_MS);
        if (rc != ACTOR_OK && rc != ACTOR_EINVAL)
            bad_rc = rc;
        uint64_t now = actor_runtime_now_ms(rt);
        if (now < prev && back_at == 0) {
            back_at = i + 1;
            back_from = prev;
            back_to = now;
        }
        prev = now;
    }
    actor_runtime_free(rt); /* before failing: no leak on top of the failure */
    assert_code(bad_rc, 0);
    if (back_at != 0)
        fail_msg("advance #%d of 2^42 ms: the virtual clock went back from %llu to %llu ms",
                 back_at, (unsigned long long)back_from, (unsigned long long)back_to);
}

/* step, run and advance inside a handler (and inside a then-callback run by
 * advance) are refused; blocking calls there are EDEADLK. */
static atomic_int nest_rc[8];
static actor_runtime *nest_other;

static int nest_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    actor_runtime *rt = actor_ctx_runtime(ctx);
    size_t ran = 5;
    atomic_store(&nest_rc[0], actor_runtime_step(rt));
    atomic_store(&nest_rc[1], actor_runtime_run(rt, SIZE_MAX, &ran));
    atomic_store(&nest_rc[2], actor_runtime_advance(rt, 1));
    atomic_store(&nest_rc[3], actor_runtime_step(nest_other));
    atomic_store(&nest_rc[4], addr_join(actor_ctx_self(ctx), 10));
    atomic_store(&nest_rc[5], actor_runtime_shutdown(rt, 10));
    TU_CHECK(ran == 5);
    return 0;
}

static atomic_int nest_then_rc;
static actor_runtime *nest_rt;

static void nest_then(actor_responder *r, void *ud)
{
    atomic_store(&nest_then_rc, actor_runtime_step(nest_rt));
    atomic_store(&nest_rc[6], actor_runtime_advance(nest_rt, 1));
}

static void step_inside_handler_einval(void **state)
{
    held = NULL;
    actor_class *c = tu_class("mn.Nested");
    assert_ok(actor_class_on_event(c, t_bye, nest_event));
    assert_ok(actor_class_on_request(c, t_q, defer_request));
    actor_runtime *rt = manual(11);
    nest_other = manual(12);
    nest_rt = rt;
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(addr_send(a, t_bye, NULL, 0));
    run_all(rt);
    assert_code(atomic_load(&nest_rc[0]), ACTOR_EINVAL);
    assert_code(atomic_load(&nest_rc[1]), ACTOR_EINVAL);
    assert_code(atomic_load(&nest_rc[2]), ACTOR_EINVAL);
    assert_code(atomic_load(&nest_rc[3]), ACTOR_EINVAL);
    assert_code(atomic_load(&nest_rc[4]), ACTOR_EDEADLK);
    assert_code(atomic_load(&nest_rc[5]), ACTOR_EDEADLK);
    assert_int_equal(actor_runtime_now_ms(rt), 0);

    atomic_store(&nest_then_rc, 99);
    int64_t q = 0;
    actor_responder *r = NULL;
    assert_ok(addr_interact_within(a, t_q, &q, 8, 5, &r));
    assert_ok(actor_responder_then(r, nest_then, NULL));
    assert_ok(actor_runtime_advance(rt, 5)); /* the deadline runs nest_then */
    int trc = atomic_load(&nest_then_rc);
    assert_true(trc == ACTOR_EINVAL || trc == ACTOR_EBUSY);
    trc = atomic_load(&nest_rc[6]);
    assert_true(trc == ACTOR_EINVAL || trc == ACTOR_EBUSY);
    assert_int_equal(actor_runtime_now_ms(rt), 5);
    actor_promise_free(held);
    actor_responder_free(r);
    addr_release(a);
    actor_runtime_free(rt);
    actor_runtime_free(nest_other);
    actor_class_free(c);
    tu_assert_no_failures();
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */
/* ------------------------------------------------------------------------ */

static atomic_long ticker_ticks;

static int ticker_tick(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&ticker_ticks, 1);
    return 0;
}

static int ticker_init(actor_ctx *ctx, void *st)
{
    unsigned char b[8] = {0};
    TU_CHECK_CODE(actor_ctx_timer_start(ctx, 1, t_tick, b, 8, 1, 1), ACTOR_OK);
    return 0;
}

typedef struct driver {
    actor_runtime *rt;
    long ok, busy;
} driver;

static void *drive_thread(void *arg)
{
    driver *d = arg;
    long n = tu_scale(3000);
    for (long i = 0; i < n; i++) {
        int rc = actor_runtime_advance(d->rt, 1);
        TU_CHECK(rc == ACTOR_OK || rc == ACTOR_EBUSY);
        if (rc == ACTOR_OK)
            d->ok++;
        else
            d->busy++;
        rc = actor_runtime_step(d->rt);
        TU_CHECK(rc == 0 || rc == 1 || rc == ACTOR_EBUSY);
        rc = actor_runtime_run(d->rt, 3, NULL);
        TU_CHECK(rc == ACTOR_OK || rc == ACTOR_EBUSY);
    }
    return NULL;
}

/* Two threads advance the same manual runtime at once: each call either
 * runs (serially) or answers EBUSY; the clock moved exactly by the calls
 * that ran, and the 1 ms timer ticked once per ms. */
static void advance_from_two_threads(void **state)
{
    atomic_store(&ticker_ticks, 0);
    actor_class *c = tu_class("mn.Ticker");
    assert_ok(actor_class_on_init(c, ticker_init));
    assert_ok(actor_class_on_event(c, t_tick, ticker_tick));
    for (int round = 0; round < 3; round++) {
        atomic_store(&ticker_ticks, 0);
        actor_runtime *rt = manual(13 + (uint64_t)round);
        actor_addr *a = tu_spawn(rt, c, NULL);
        run_all(rt);
        driver d1 = {rt, 0, 0}, d2 = {rt, 0, 0};
        pthread_t t1 = tu_thread(drive_thread, &d1), t2 = tu_thread(drive_thread, &d2);
        tu_join_thread(t1);
        tu_join_thread(t2);
        tu_assert_no_failures();
        assert_int_equal(d1.ok + d1.busy, tu_scale(3000));
        assert_int_equal(actor_runtime_now_ms(rt), (uint64_t)(d1.ok + d2.ok));
        assert_int_equal(atomic_load(&ticker_ticks), d1.ok + d2.ok);
        addr_release(a);
        actor_runtime_free(rt);
    }
    actor_class_free(c);
}

/* Senders on other threads while the main thread drives: every event
 * arrives, in each sender's order; requests from those threads, awaited
 * there, are answered (their wait drives or waits for the driver). */
#define SENDERS 3
static uint64_t next_seq[SENDERS]; /* the actor's thread(s) only, serially */
static atomic_long recv_count, order_bad;

static int sink_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t from = tu_get_u64(p), seq = tu_get_u64((const unsigned char *)p + 8);
    if (from >= SENDERS || seq != next_seq[from])
        atomic_fetch_add(&order_bad, 1);
    else
        next_seq[from]++;
    atomic_fetch_add(&recv_count, 1);
    return 0;
}

static int sink_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t x = (int64_t)tu_get_u64(p);
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(x + 1));
    return actor_ctx_reply(ctx, out, 8);
}

typedef struct sender {
    actor_addr *to;
    int id;
    long requests_ok;
} sender;

static void *send_thread(void *arg)
{
    sender *s = arg;
    long n = tu_scale(20000);
    for (long i = 0; i < n; i++) {
        unsigned char b[16];
        tu_put_u64(b, (uint64_t)s->id);
        tu_put_u64(b + 8, (uint64_t)i);
        TU_CHECK_CODE(addr_send(s->to, t_hop, b, 16), ACTOR_OK);
        if (i % 500 == 0) {
            int64_t x = i;
            actor_responder *r = NULL;
            /* Half of them with a deadline: armed from this thread on the
             * manual runtime's clock, which the driver keeps. */
            if (i % 1000 == 0)
                TU_CHECK_CODE(addr_interact_within(s->to, t_q, &x, 8, INT32_MAX, &r), ACTOR_OK);
            else
                TU_CHECK_CODE(addr_interact(s->to, t_q, &x, 8, &r), ACTOR_OK);
            if (r == NULL)
                continue;
            /* It drives the runtime itself, or (EBUSY inside) waits for
             * the main thread, which drives it. */
            int rc = actor_responder_wait(r, TU_LONG_MS);
            TU_CHECK_CODE(rc, ACTOR_OK);
            if (rc == ACTOR_OK && tu_get_u64(actor_responder_data(r, NULL)) == (uint64_t)i + 1)
                s->requests_ok++;
            actor_responder_free(r);
        }
    }
    return NULL;
}

static void senders_on_other_threads(void **state)
{
    memset(next_seq, 0, sizeof next_seq);
    atomic_store(&recv_count, 0);
    atomic_store(&order_bad, 0);
    actor_class *c = tu_class("mn.Sink");
    assert_ok(actor_class_on_event(c, t_hop, sink_event));
    assert_ok(actor_class_on_request(c, t_q, sink_request));
    actor_runtime *rt = manual(16);
    actor_addr *a = tu_spawn(rt, c, NULL);
    sender s[SENDERS];
    pthread_t th[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        s[i] = (sender){a, i, 0};
        th[i] = tu_thread(send_thread, &s[i]);
    }
    long n = tu_scale(20000);
    const int64_t deadline = tu_now_ms() + TU_LONG_MS * 3;
    long busy = 0;
    for (int i = 0; atomic_load(&recv_count) < SENDERS * n; i++) {
        if (tu_now_ms() > deadline)
            fail_msg("only %ld of %ld events arrived", atomic_load(&recv_count), SENDERS * n);
        int rc = (i % 7 == 0) ? actor_runtime_advance(rt, 1) : actor_runtime_run(rt, 100, NULL);
        if (rc == ACTOR_EBUSY)
            busy++;
        else
            assert_ok(rc);
    }
    for (int i = 0; i < SENDERS; i++)
        tu_join_thread(th[i]);
    run_all(rt);
    tu_assert_no_failures();
    assert_int_equal(atomic_load(&order_bad), 0);
    assert_int_equal(atomic_load(&recv_count), SENDERS * n);
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(s[i].requests_ok, (n + 499) / 500);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    (void)busy;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(now_ms_clocks),
        T(new_manual_einval),
        T(step_returns_one_then_zero),
        T(run_max_messages_and_ran),
        T(same_seed_same_order),
        T(advance_fires_in_time_order),
        T(join_drives),
        T(wait_drives_and_idles),
        T(shutdown_drives_interrupts),
        T(free_stops_stubborn_actors),
        T(bad_runtimes_einval),
        T(advance_never_moves_back),
        T(step_inside_handler_einval),
        T(advance_from_two_threads),
        T(senders_on_other_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
