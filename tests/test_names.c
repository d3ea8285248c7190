/* ABI 1.1 part 3 (issue 12): the per-runtime name registry.
 *
 * register / lookup (a counted address) / unregister; a taken name is
 * ACTOR_EBUSY; the name is free again once the actor is Done (lookup says
 * ACTOR_ENOENT as soon as addr_join returns); a restarted child keeps its
 * name; the type-name rule (64 characters fine, 65 ACTOR_EINVAL); NULLs,
 * another runtime's actor, a Done actor; the registry's address keeps the
 * actor alive after the others are released; names are per runtime; and
 * threads registering, looking up and unregistering at once. */
#include "testutil.h"

static const actor_msgtype *t_q, *t_go;
static atomic_int inits, finals;

static int setup(void **state)
{
    tu_reset_failures();
    t_q = tu_type("nm.Q", "i", "i");
    t_go = tu_type("nm.Go", "i", NULL);
    atomic_store(&inits, 0);
    atomic_store(&finals, 0);
    return 0;
}

static int teardown(void **state) { return tu_teardown(state); }

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

typedef struct st {
    int incarnation;
} st;

static int n_init(actor_ctx *ctx, void *s)
{
    ((st *)s)->incarnation = atomic_fetch_add(&inits, 1) + 1;
    return 0;
}

static void n_fin(actor_ctx *ctx, void *s) { atomic_fetch_add(&finals, 1); }

/* Replies with the incarnation; a payload of 1 fails it (unanswered). */
static int n_q(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    if (tu_get_u32(p) == 1) {
        actor_ctx_fail(ctx, 17);
        return 0;
    }
    unsigned char r[4];
    tu_put_u32(r, (uint32_t)((st *)s)->incarnation);
    TU_CHECK_CODE(actor_ctx_reply(ctx, r, 4), ACTOR_OK);
    return 0;
}

static int n_go(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    uint32_t v = tu_get_u32(p);
    if (v == 1)
        actor_ctx_fail(ctx, 18);
    else if (v == 2)
        actor_ctx_stop(ctx);
    return 0;
}

static actor_class *n_class(void)
{
    actor_class *c = tu_class("nm.Svc");
    assert_ok(actor_class_set_state_size(c, sizeof(st)));
    assert_ok(actor_class_on_init(c, n_init));
    assert_ok(actor_class_on_finalize(c, n_fin));
    assert_ok(actor_class_on_request(c, t_q, n_q));
    assert_ok(actor_class_on_event(c, t_go, n_go));
    return c;
}

static actor_runtime *manual(uint64_t seed)
{
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(seed, &rt));
    return rt;
}

static void run_all(actor_runtime *rt) { assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL)); }

static void go(actor_addr *a, uint32_t v)
{
    unsigned char b[4];
    tu_put_u32(b, v);
    assert_ok(addr_send(a, t_go, b, 4));
}

/* Asks a; returns the answering incarnation (or the negative status). */
static int ask(actor_addr *a, uint32_t v)
{
    unsigned char b[4];
    tu_put_u32(b, v);
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t_q, b, 4, &r));
    int st = actor_responder_wait(r, TU_LONG_MS);
    int out = st == ACTOR_OK ? (int)tu_get_u32(actor_responder_data(r, NULL)) : st;
    actor_responder_free(r);
    return out;
}

static void register_lookup_unregister(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = tu_spawn(rt, c, NULL);
    assert_ok(actor_name_register(rt, "svc.one", a));
    assert_ok(actor_name_register(rt, "svc:alias-1", a)); /* two names, one actor */
    assert_ok(actor_name_register(rt, "svc.two", b));
    actor_addr *x = NULL;
    assert_ok(actor_name_lookup(rt, "svc.one", &x));
    assert_ptr_equal(x, a);
    addr_release(x);
    assert_ok(actor_name_lookup(rt, "svc:alias-1", &x));
    assert_ptr_equal(x, a);
    addr_release(x);
    assert_ok(actor_name_lookup(rt, "svc.two", &x));
    assert_ptr_equal(x, b);
    assert_true(ask(x, 0) > 0); /* answered, through the looked-up address */
    addr_release(x);
    /* Unknown names. */
    x = NULL;
    assert_code(actor_name_lookup(rt, "svc.three", &x), ACTOR_ENOENT);
    assert_null(x);
    assert_code(actor_name_unregister(rt, "svc.three"), ACTOR_ENOENT);
    /* Unregister: gone; again: ENOENT; the other name stays. */
    assert_ok(actor_name_unregister(rt, "svc.one"));
    assert_code(actor_name_lookup(rt, "svc.one", &x), ACTOR_ENOENT);
    assert_code(actor_name_unregister(rt, "svc.one"), ACTOR_ENOENT);
    assert_ok(actor_name_lookup(rt, "svc:alias-1", &x));
    addr_release(x);
    /* Free again: another actor may take it. */
    assert_ok(actor_name_register(rt, "svc.one", b));
    assert_ok(actor_name_lookup(rt, "svc.one", &x));
    assert_ptr_equal(x, b);
    addr_release(x);
    run_all(rt);
    assert_false(addr_is_done(a));
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt); /* names still registered: dropped with the actors */
    assert_int_equal(atomic_load(&finals), 2);
    actor_class_free(c);
}

/* lookup's address is counted: it alone keeps the actor alive. */
static void lookup_is_counted(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(actor_name_register(rt, "counted", a));
    actor_addr *x = NULL;
    assert_ok(actor_name_lookup(rt, "counted", &x));
    addr_release(a);
    assert_ok(actor_name_unregister(rt, "counted"));
    run_all(rt);
    assert_int_equal(atomic_load(&finals), 0); /* x still holds it */
    assert_int_equal(ask(x, 0), 1);
    addr_release(x);
    run_all(rt);
    assert_int_equal(atomic_load(&finals), 1);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void taken_is_ebusy(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(3);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *b = tu_spawn(rt, c, NULL);
    assert_ok(actor_name_register(rt, "taken", a));
    assert_code(actor_name_register(rt, "taken", b), ACTOR_EBUSY);
    assert_code(actor_name_register(rt, "taken", a), ACTOR_EBUSY);
    actor_addr *x = NULL;
    assert_ok(actor_name_lookup(rt, "taken", &x));
    assert_ptr_equal(x, a); /* the first keeps it */
    addr_release(x);
    /* The refused registration left no reference behind: b stops at its
     * last release. */
    addr_release(b);
    run_all(rt);
    assert_int_equal(atomic_load(&finals), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* The name goes when the actor is Done: lookup says ENOENT as soon as
 * addr_join returned (failure, stop, interrupt; manual and threaded). */
static void freed_when_done(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(4);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(actor_name_register(rt, "short.lived", a));
    go(a, 1);
    assert_ok(addr_join(a, -1));
    actor_addr *x = NULL;
    assert_code(actor_name_lookup(rt, "short.lived", &x), ACTOR_ENOENT);
    assert_code(actor_name_unregister(rt, "short.lived"), ACTOR_ENOENT);
    /* Registering a Done actor: ECLOSED. */
    assert_code(actor_name_register(rt, "short.lived", a), ACTOR_ECLOSED);
    assert_code(actor_name_lookup(rt, "short.lived", &x), ACTOR_ENOENT);
    addr_release(a);
    actor_runtime_free(rt);

    rt = tu_runtime(2);
    const int rounds = (int)tu_scale(300);
    for (int i = 0; i < rounds; i++) {
        actor_addr *b = tu_spawn(rt, c, NULL);
        assert_ok(actor_name_register(rt, "short.lived", b));
        if (i % 3 == 0)
            go(b, 1);
        else if (i % 3 == 1)
            go(b, 2);
        else
            assert_ok(addr_interrupt(b));
        assert_ok(addr_join(b, TU_LONG_MS));
        x = NULL;
        assert_code(actor_name_lookup(rt, "short.lived", &x), ACTOR_ENOENT);
        assert_null(x);
        addr_release(b);
    }
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* A supervised child keeps its name across restarts; the name goes at its
 * final stop. */
static void kept_across_restarts(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(5);
    actor_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.strategy = ACTOR_ONE_FOR_ONE;
    s.intensity = 10;
    s.period_ms = 1000;
    actor_addr *sup = NULL, *a = NULL;
    assert_ok(actor_supervisor_spawn(rt, &s, &sup));
    assert_ok(actor_supervisor_start_child(sup, c, ACTOR_PERMANENT, &a));
    assert_ok(actor_name_register(rt, "worker", a));
    addr_release(a); /* the name's address (and the supervisor's) remain */
    actor_addr *x = NULL;
    assert_ok(actor_name_lookup(rt, "worker", &x));
    assert_int_equal(ask(x, 0), 1);
    assert_code(ask(x, 1), ACTOR_ECANCELED); /* fails: restarted in place */
    addr_release(x);
    x = NULL;
    assert_ok(actor_name_lookup(rt, "worker", &x));
    unsigned long long n = 0;
    assert_ok(addr_restarts(x, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ask(x, 0), 2); /* the new incarnation, by the same name */
    go(x, 1);
    run_all(rt);
    addr_release(x);
    assert_ok(actor_name_lookup(rt, "worker", &x));
    assert_ok(addr_restarts(x, &n));
    assert_int_equal(n, 2);
    assert_ok(actor_supervisor_stop_child(sup, x));
    assert_ok(addr_join(x, -1));
    actor_addr *y = NULL;
    assert_code(actor_name_lookup(rt, "worker", &y), ACTOR_ENOENT);
    addr_release(x);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void bad_names_and_args(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(6), *other = manual(7);
    actor_addr *a = tu_spawn(rt, c, NULL);
    actor_addr *o = tu_spawn(other, c, NULL);
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'b', 65);
    n65[65] = '\0';
    assert_ok(actor_name_register(rt, n64, a));
    assert_code(actor_name_register(rt, n65, a), ACTOR_EINVAL);
    actor_addr *x = NULL;
    assert_ok(actor_name_lookup(rt, n64, &x));
    addr_release(x);
    x = NULL;
    assert_code(actor_name_lookup(rt, n65, &x), ACTOR_EINVAL);
    assert_code(actor_name_unregister(rt, n65), ACTOR_EINVAL);
    static const char *bad[] = {"", "a b", "a/b", "é", "x\n", "a*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_code(actor_name_register(rt, bad[i], a), ACTOR_EINVAL);
        assert_code(actor_name_lookup(rt, bad[i], &x), ACTOR_EINVAL);
        assert_code(actor_name_unregister(rt, bad[i]), ACTOR_EINVAL);
    }
    assert_ok(actor_name_register(rt, "A-z_0.9:x", a)); /* every allowed kind */
    /* NULLs. */
    assert_code(actor_name_register(NULL, "n", a), ACTOR_EINVAL);
    assert_code(actor_name_register(rt, NULL, a), ACTOR_EINVAL);
    assert_code(actor_name_register(rt, "n", NULL), ACTOR_EINVAL);
    assert_code(actor_name_lookup(NULL, "n", &x), ACTOR_EINVAL);
    assert_code(actor_name_lookup(rt, NULL, &x), ACTOR_EINVAL);
    assert_code(actor_name_lookup(rt, n64, NULL), ACTOR_EINVAL);
    assert_code(actor_name_unregister(NULL, n64), ACTOR_EINVAL);
    assert_code(actor_name_unregister(rt, NULL), ACTOR_EINVAL);
    assert_null(x);
    /* Another runtime's actor. */
    assert_code(actor_name_register(rt, "foreign", o), ACTOR_EINVAL);
    assert_code(actor_name_lookup(rt, "foreign", &x), ACTOR_ENOENT);
    /* Names are per runtime: the same name in each. */
    assert_ok(actor_name_register(other, "foreign", o));
    assert_ok(actor_name_register(rt, "foreign", a));
    assert_ok(actor_name_lookup(other, "foreign", &x));
    assert_ptr_equal(x, o);
    addr_release(x);
    assert_ok(actor_name_lookup(rt, "foreign", &x));
    assert_ptr_equal(x, a);
    addr_release(x);
    assert_ok(actor_name_unregister(other, "foreign"));
    assert_ok(actor_name_lookup(rt, "foreign", &x));
    addr_release(x);
    addr_release(a);
    addr_release(o);
    actor_runtime_free(rt);
    actor_runtime_free(other);
    actor_class_free(c);
}

/* The registry holds a counted address: the actor does not stop at the
 * release of its other addresses (documented); it stops once unregistered
 * (and its last address went). */
static void registration_keeps_alive(void **state)
{
    actor_class *c = n_class();
    actor_runtime *rt = manual(8);
    actor_addr *a = tu_spawn(rt, c, NULL);
    assert_ok(actor_name_register(rt, "kept", a));
    addr_release(a);
    run_all(rt);
    assert_ok(actor_runtime_advance(rt, 1000));
    assert_int_equal(atomic_load(&finals), 0);
    actor_addr *x = NULL;
    assert_ok(actor_name_lookup(rt, "kept", &x));
    assert_int_equal(ask(x, 0), 1);
    addr_release(x);
    run_all(rt);
    assert_int_equal(atomic_load(&finals), 0);
    assert_ok(actor_name_unregister(rt, "kept"));
    run_all(rt);
    assert_int_equal(atomic_load(&finals), 1);
    actor_runtime_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    assert_ok(actor_runtime_stats_get(rt, &s));
    assert_int_equal(s.actors_live, 0);
    /* Still registered at the runtime's end: the shutdown stops it. */
    a = tu_spawn(rt, c, NULL);
    assert_ok(actor_name_register(rt, "kept", a));
    addr_release(a);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&finals), 2);
    actor_class_free(c);
}

/* Threads registering, looking up and unregistering the same few names
 * while the actors behind them stop: every answer is a documented code,
 * every looked-up address is one of ours, nothing leaks. */
#define NNAMES 6
#define NPOOL 12
static actor_addr *pool[NPOOL];
static actor_runtime *conc_rt;

static void *names_thread(void *p)
{
    unsigned seed = (unsigned)(uintptr_t)p;
    const long ops = tu_scale(4000);
    for (long i = 0; i < ops; i++) {
        seed = seed * 1103515245u + 12345u;
        char name[16];
        snprintf(name, sizeof name, "n%u", (seed >> 8) % NNAMES);
        actor_addr *a = pool[(seed >> 16) % NPOOL];
        int rc;
        switch ((seed >> 24) % 3) {
        case 0:
            rc = actor_name_register(conc_rt, name, a);
            TU_CHECK(rc == ACTOR_OK || rc == ACTOR_EBUSY || rc == ACTOR_ECLOSED);
            break;
        case 1: {
            actor_addr *x = NULL;
            rc = actor_name_lookup(conc_rt, name, &x);
            TU_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOENT);
            if (rc == ACTOR_OK) {
                bool ours = false;
                for (int k = 0; k < NPOOL; k++)
                    ours |= pool[k] == x;
                TU_CHECK(ours);
                addr_release(x);
            }
            break;
        }
        default:
            rc = actor_name_unregister(conc_rt, name);
            TU_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOENT);
            break;
        }
    }
    return NULL;
}

static void threads_register_lookup_unregister(void **state)
{
    actor_class *c = n_class();
    conc_rt = tu_runtime(2);
    for (int i = 0; i < NPOOL; i++)
        pool[i] = tu_spawn(conc_rt, c, NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        th[i] = tu_thread(names_thread, (void *)(uintptr_t)(i + 1));
    /* Half the pool stops meanwhile (its names go at its Done). */
    for (int i = 0; i < NPOOL; i += 2)
        go(pool[i], i % 4 ? 1 : 2);
    for (int i = 0; i < 4; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    for (int i = 0; i < NPOOL; i += 2) {
        assert_ok(addr_join(pool[i], TU_LONG_MS));
    }
    /* No name points at a Done actor. */
    for (int n = 0; n < NNAMES; n++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", n);
        actor_addr *x = NULL;
        int rc = actor_name_lookup(conc_rt, name, &x);
        if (rc == ACTOR_OK) {
            assert_false(addr_is_done(x));
            addr_release(x);
        } else {
            assert_code(rc, ACTOR_ENOENT);
        }
    }
    for (int i = 0; i < NPOOL; i++)
        addr_release(pool[i]);
    actor_runtime_free(conc_rt);
    assert_int_equal(atomic_load(&finals), NPOOL);
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(register_lookup_unregister),
        T(lookup_is_counted),
        T(taken_is_ebusy),
        T(freed_when_done),
        T(kept_across_restarts),
        T(bad_names_and_args),
        T(registration_keeps_alive),
        T(threads_register_lookup_unregister),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
