/* The manual runtime: one worker without a thread or an event base, a
 * virtual clock, and a seeded choice of the next actor to run. Whoever
 * calls step, run, advance or a blocking call runs it, one thread at a
 * time (the `driving` flag); other threads may send, which only queues.
 *
 * Determinism: the only choices are which ready actor runs next (the PRNG)
 * and when timers and deadlines fire (the virtual clock, moved only by
 * advance), so the same program under the same seed handles the same
 * messages in the same order. */
#include "runtime.h"

#include "log.h"
#include "pool.h"

#include <sched.h>

/* splitmix64: small, fast, and every seed (0 too) gives a full sequence. */
static uint64_t next_random(actor_runtime *rt)
{
    uint64_t z = (rt->prng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int actor_runtime_new_manual(uint64_t seed, actor_runtime **out)
{
    if (out == NULL)
        return ACTOR_EINVAL;
    actor_runtime *rt;
    int rc = actori_runtime_make(1, true, NULL, &rt);
    if (rc != ACTOR_OK)
        return rc;
    rt->prng = seed;
    *out = rt;
    return ACTOR_OK;
}

/* Takes the right to run rt on this thread: the worker is this thread's
 * while it drives. acquire/release on `driving` hand the worker's own
 * fields (ready queue, envelope cache) from one driver to the next. */
static int enter(actor_runtime *rt)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&rt->driving, &expected, 1,
                                                 memory_order_acquire, memory_order_relaxed))
        return ACTOR_EBUSY;
    actori_worker *w = &rt->workers[0];
    actori_tls_worker = w;
    w->in_turn = 1; /* schedules on this thread only queue: no event base */
    return ACTOR_OK;
}

static void leave(actor_runtime *rt)
{
    rt->workers[0].in_turn = 0;
    actori_tls_worker = NULL;
    atomic_store_explicit(&rt->driving, 0, memory_order_release);
}

/* Runs one callback (init, a message, or finalize) of a ready actor chosen
 * by the PRNG, after firing what is due now. 1 if one ran, 0 if idle. */
static int step_once(actor_runtime *rt)
{
    actori_worker *w = &rt->workers[0];
    actori_clock_fire_due(&rt->clock, actori_clock_now(&rt->clock));
    for (;;) {
        actori_node *n;
        while ((n = actori_mpscq_pop(&w->inject)) != NULL)
            actori_ready_push(w, actori_cell_of_sched(n));
        if (w->ready_count == 0)
            return 0;
        actor_addr *a = actori_ready_take(w, (unsigned)(next_random(rt) % w->ready_count));
        unsigned ran = 0;
        if (actori_cell_run(a, 1, &ran))
            actori_ready_push(w, a);
        if (ran > 0)
            return 1;
    }
}

static size_t run_until_idle(actor_runtime *rt, size_t max)
{
    size_t n = 0;
    while (n < max && step_once(rt))
        n++;
    return n;
}

/* A runtime that step, run and advance accept from this thread. */
static int check_driver(actor_runtime *rt)
{
    if (rt == NULL || !rt->manual || actori_on_worker())
        return ACTOR_EINVAL; /* threaded, or inside a handler */
    if (ACTORI_INHERITED(rt))
        return ACTOR_ECLOSED;
    return ACTOR_OK;
}

int actor_runtime_step(actor_runtime *rt)
{
    int rc = check_driver(rt);
    if (rc == ACTOR_OK && (rc = enter(rt)) == ACTOR_OK) {
        rc = step_once(rt);
        leave(rt);
    }
    return rc;
}

int actor_runtime_run(actor_runtime *rt, size_t max_messages, size_t *ran)
{
    int rc = check_driver(rt);
    if (rc == ACTOR_OK && (rc = enter(rt)) == ACTOR_OK) {
        size_t n = run_until_idle(rt, max_messages);
        leave(rt);
        if (ran != NULL)
            *ran = n;
    }
    return rc;
}

int actor_runtime_advance(actor_runtime *rt, uint64_t ms)
{
    int rc = check_driver(rt);
    if (rc != ACTOR_OK)
        return rc;
    if (ms > ACTORI_CLOCK_MAX_MS)
        return ACTOR_EINVAL;
    if ((rc = enter(rt)) != ACTOR_OK)
        return rc;
    actori_clock *c = &rt->clock;
    /* Virtual time never wraps: what is left must still hold any interval. */
    if (actori_clock_now(c) + ms * 1000000ull > UINT64_MAX - ACTORI_CLOCK_MAX_MS * 1000000ull) {
        leave(rt);
        return ACTOR_EINVAL;
    }
    uint64_t target = actori_clock_now(c) + ms * 1000000ull;
    run_until_idle(rt, SIZE_MAX);
    /* Through every due time on the way, in order: each item fires at its
     * own time, and what it sets off runs before the clock moves on. */
    for (uint64_t due; (due = actori_clock_next_due(c)) <= target;) {
        if (due > actori_clock_now(c))
            atomic_store_explicit(&c->virtual_ns, due, memory_order_relaxed);
        run_until_idle(rt, SIZE_MAX); /* step_once fires what is due first */
    }
    atomic_store_explicit(&c->virtual_ns, target, memory_order_relaxed);
    run_until_idle(rt, SIZE_MAX);
    leave(rt);
    return ACTOR_OK;
}

uint64_t actor_runtime_now_ms(const actor_runtime *rt)
{
    if (rt == NULL)
        return 0;
    uint64_t now = actori_clock_now(&rt->clock);
    return (rt->manual ? now : now - rt->start_ns) / 1000000ull;
}

int actori_manual_drive(actor_runtime *rt, bool (*done)(void *), void *arg)
{
    if (enter(rt) != ACTOR_OK)
        return ACTOR_EBUSY;
    int rc = ACTOR_ETIMEDOUT;
    for (;;) {
        if (done(arg)) {
            rc = ACTOR_OK;
            break;
        }
        if (!step_once(rt))
            break;
    }
    leave(rt);
    return rc;
}

typedef struct bits_wait {
    _Atomic uint32_t *word;
    uint32_t bits;
} bits_wait;

static bool bits_set(void *arg)
{
    bits_wait *b = arg;
    return (atomic_load_explicit(b->word, memory_order_acquire) & b->bits) != 0;
}

int actori_manual_drive_until(actor_runtime *rt, _Atomic uint32_t *word, uint32_t bits)
{
    bits_wait b = {word, bits};
    return actori_manual_drive(rt, bits_set, &b);
}

/* Stops what ignored the shutdown's interrupt: nothing else will ever run
 * a manual runtime's actors, so waiting would be forever. Finalize runs. */
static void force_stop(actor_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    for (actor_addr *a = rt->live; a != NULL; a = a->live_next) {
        /* We drive, so none of them is running: its fields are ours. */
        a->stopping = 1;
        atomic_fetch_or_explicit(&a->status, ACTORI_S_STOPPING, memory_order_release);
        actori_env *e = actori_env_new(ACTORI_INTERRUPT, NULL, NULL, 0);
        if (e != NULL)
            actori_cell_push(a, &e->msg); /* only queues it here: we drive */
    }
    pthread_mutex_unlock(&rt->lock);
    run_until_idle(rt, SIZE_MAX);
}

void actori_manual_free(actor_runtime *rt)
{
    if (actor_runtime_shutdown(rt, -1) != ACTOR_OK) {
        actori_runtime_log_alive(rt);
        actori_log(ACTOR_LOG_WARN, "actor_runtime_free: a manual runtime stops those actors "
                                   "itself (nothing else would ever run them)");
        while (enter(rt) != ACTOR_OK)
            sched_yield();
        force_stop(rt);
        leave(rt);
        actor_runtime_shutdown(rt, -1);
    }
    actori_pool_flush(&rt->workers[0].cache);
    actori_runtime_destroy(rt);
}
