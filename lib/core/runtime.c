/* The runtime: N workers, each a thread driving its own libevent base. An
 * actor lives on one worker. A worker runs its ready actors in turns; it is
 * woken (one event_active, the only system call on the path) only when it
 * may be asleep, so a busy worker costs senders nothing and same-worker
 * sends never enter the kernel. */
#include "runtime.h"

#include "alloc.h"
#include "log.h"
#include "promise.h"
#include "sync.h"

#include <errno.h>
#include <sched.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Actor runs per turn before libevent gets to look at its other events. */
#define ACTORI_RUNS_PER_TURN 256
#define ACTORI_MAX_WORKERS 1024
/* How long an idle worker watches for work before it sleeps. */
#define ACTORI_SPIN_NS 50000
/* How often actor_runtime_free says what it still waits for. */
#ifndef ACTORI_FREE_WARN_MS
#define ACTORI_FREE_WARN_MS 10000
#endif

_Thread_local actori_worker *actori_tls_worker __attribute__((tls_model("initial-exec")));
_Atomic uint32_t actori_fork_gen;

/* The library's global locks, held across fork() so that a child never
 * inherits one locked by a thread it does not have (outermost first: a
 * thread holding a later one never takes an earlier one). */
static void global_locks(int lock)
{
    static void (*const each[])(int) = {actori_names_atfork, actori_monitor_atfork,
                                        actori_class_atfork, actori_msgtype_atfork,
                                        actori_pool_atfork, actori_log_atfork};
    const size_t n = sizeof each / sizeof each[0];
    for (size_t i = 0; i < n; i++)
        each[lock ? i : n - 1 - i](lock);
}

static void before_fork(void) { global_locks(1); }

static void after_fork_in_parent(void) { global_locks(0); }

/* In a forked child only the forking thread exists. Every runtime made
 * before is left alone, and this thread is no worker here even if it forked
 * from inside a handler: runtimes it makes now must work. */
static void after_fork_in_child(void)
{
    global_locks(0);
    actori_tls_worker = NULL;
    atomic_fetch_add_explicit(&actori_fork_gen, 1, memory_order_relaxed);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void watch_forks(void) { pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child); }

/* libevent's locking is switched on once, before the first base; it can fail
 * (out of memory), so it is retried by the next runtime rather than once-only. */
static pthread_mutex_t evthread_lock = PTHREAD_MUTEX_INITIALIZER;
static int evthread_ready;

static int evthread_setup(void)
{
    pthread_mutex_lock(&evthread_lock);
    if (!evthread_ready)
        evthread_ready = evthread_use_pthreads() == 0;
    int ready = evthread_ready;
    pthread_mutex_unlock(&evthread_lock);
    return ready;
}


static actor_addr *ready_pop(actori_worker *w) { return actori_ready_take(w, 0); }

void actori_schedule(actor_addr *a)
{
    actori_worker *w = a->worker;
    if (actori_tls_worker == w) {
        actori_ready_push(w, a);
        if (!w->in_turn) /* same thread, so no system call */
            event_active(w->wake, EV_READ, 0);
        return;
    }
    /* Once pushed, the actor may run, stop, and let the runtime be freed
     * while we still touch w: runtime_destroy waits for this count to drop.
     * The increment comes before the push, so before the actor runs, so
     * before the runtime can see its last actor Done (a chain of
     * release/acquire steps); the decrement is the last touch of w. */
    atomic_fetch_add_explicit(&w->schedulers, 1, memory_order_seq_cst);
    actori_mpscq_push(&w->inject, &a->sched);
    /* Dekker pair with worker_turn: the push's seq_cst exchange comes before
     * this seq_cst load; the worker stores sleeping=1 (seq_cst) before it
     * looks at the inject queue (seq_cst). So either the worker sees our
     * actor, or we see sleeping=1. Whoever exchanges sleeping 1->0 wakes it;
     * the exchange makes that one waker. */
    if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&w->wakeups, 1, memory_order_relaxed);
        event_active(w->wake, EV_READ, 0);
    }
    atomic_fetch_sub_explicit(&w->schedulers, 1, memory_order_release);
}

/* Before sleeping, watch the inject queue for a short while: waking a
 * sleeping thread costs 18-35 us on the VMs we measured, far more than a
 * message. Returns true when work arrived. */
static bool spin_for_work(actori_worker *w)
{
    int64_t deadline_ns = 0;
    for (unsigned i = 1;; i++) {
        if (!actori_mpscq_is_empty(&w->inject))
            return true;
        actori_cpu_relax();
        if ((i & 63) == 0) {
            int64_t now = actori_now_ns();
            /* Give way while the clock's thread is due to run: with two
             * workers spinning on two vCPUs it waited for one, and timers
             * fired up to ms late (timers_late p99 median 575 us over 12
             * runs, 225 us with this). Only then: a yield at every look let
             * the kernel put an outside caller's thread on this vCPU (W5
             * at 0.6 of its rate). Relaxed: a stale time only moves the
             * yield by one look. */
            if ((uint64_t)now >= atomic_load_explicit(&w->rt->clock.wake_at, memory_order_relaxed))
                sched_yield();
            if (deadline_ns == 0)
                deadline_ns = now + ACTORI_SPIN_NS;
            else if (now >= deadline_ns)
                return false;
        }
    }
}

void actori_schedule_woken(actor_addr *a)
{
    actori_worker *here = actori_tls_worker;
    if (here != NULL && here != a->worker && here->rt == a->worker->rt && !a->pinned) {
        a->worker = here;
        atomic_store_explicit(&here->migrations,
                              atomic_load_explicit(&here->migrations, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    }
    actori_schedule(a);
}

/* Hands half of w's ready actors to an idle worker, if there is one: work
 * sharing, decided by the busy worker, so the ready queue stays
 * single-threaded. A moved actor's partners follow it when they next wake
 * (actori_schedule_woken), so pairs end up together again, on either side.
 * w holds the consumer role of every ready actor: moving them is safe. */
static void share_work(actori_worker *w)
{
    actor_runtime *rt = w->rt;
    if (w->ready_count < 2 || rt->nworkers < 2)
        return;
    actori_worker *to = NULL;
    unsigned start = (unsigned)(w - rt->workers);
    for (unsigned i = 1; i < rt->nworkers && to == NULL; i++) {
        actori_worker *v = &rt->workers[(start + i) % rt->nworkers];
        if (atomic_load_explicit(&v->idle, memory_order_relaxed))
            to = v;
    }
    if (to == NULL)
        return;
    /* Claim it, so that two busy workers do not both flood it. */
    if (!atomic_exchange_explicit(&to->idle, 0, memory_order_relaxed))
        return;
    unsigned moved = 0;
    for (unsigned n = w->ready_count / 2; n > 0; n--) {
        actor_addr *a = ready_pop(w);
        if (a->pinned) { /* it stays: to the back of the queue */
            actori_ready_push(w, a);
            continue;
        }
        a->worker = to;
        actori_schedule(a); /* to's inject queue, waking it if asleep */
        moved++;
    }
    atomic_store_explicit(&w->migrations,
                          atomic_load_explicit(&w->migrations, memory_order_relaxed) + moved,
                          memory_order_relaxed);
}

static void worker_turn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    actori_worker *w = arg;
    if (atomic_load_explicit(&w->stop, memory_order_acquire)) {
        if (!w->embedded) /* never break the user's loop */
            event_base_loopbreak(w->base);
        return;
    }
    /* On the user's base, whichever thread dispatches it is this worker
     * for the turn (and only then). */
    actori_worker *outer = actori_tls_worker;
    if (w->embedded)
        actori_tls_worker = w;
    w->in_turn = 1;
    for (;;) {
        actori_node *n;
        while ((n = actori_mpscq_pop(&w->inject)) != NULL)
            actori_ready_push(w, actori_cell_of_sched(n));
        /* Load first: a store per loop would pull the line away from the
         * other workers that read this flag in share_work. */
        if (w->ready_count > 0 && atomic_load_explicit(&w->idle, memory_order_relaxed))
            atomic_store_explicit(&w->idle, 0, memory_order_relaxed);
        share_work(w);
        unsigned runs = 0;
        actor_addr *a;
        unsigned ran = 0;
        while (runs < ACTORI_RUNS_PER_TURN && (a = ready_pop(w)) != NULL) {
            runs++;
            if (actori_cell_run(a, ACTORI_BATCH, &ran))
                actori_ready_push(w, a);
        }
        if (w->ready_head != NULL || !actori_mpscq_is_empty(&w->inject)) {
            if (runs < ACTORI_RUNS_PER_TURN)
                continue;
            /* Let libevent serve its other events, then come back. */
            event_active(w->wake, EV_READ, 0);
            break;
        }
        atomic_store_explicit(&w->idle, 1, memory_order_relaxed);
        /* Never spin on the user's thread, nor on a worker with sockets: the
         * spin delays libevent's look at them (a round trip cost 50 us). */
        if (!w->embedded && atomic_load_explicit(&w->sockets, memory_order_relaxed) == 0 &&
            spin_for_work(w))
            continue;
        /* Asleep, it would keep the young items from being dropped. */
        actori_clock_nursery_flush(&w->rt->clock, &w->nursery);
        atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
        if (actori_mpscq_is_empty(&w->inject))
            break; /* asleep: the next cross-thread schedule wakes us */
        if (atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst) == 0)
            break; /* a waker took the flag and has activated us */
    }
    w->in_turn = 0;
    if (w->embedded)
        actori_tls_worker = outer;
}

static void *worker_main(void *arg)
{
    actori_worker *w = arg;
    actori_tls_worker = w;
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    actori_pool_flush(&w->cache);
    actori_tls_worker = NULL;
    return NULL;
}

static void stop_workers(actor_runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        actori_worker *w = &rt->workers[i];
        if (!w->started)
            continue;
        /* A flag and an activation rather than event_base_loopbreak: a break
         * sent before the thread enters its loop would be forgotten. */
        atomic_store_explicit(&w->stop, 1, memory_order_release);
        event_active(w->wake, EV_READ, 0);
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        actori_worker *w = &rt->workers[i];
        if (w->started) {
            pthread_join(w->thread, NULL);
            w->started = 0;
        }
    }
}

void actori_runtime_destroy(actor_runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        actori_worker *w = &rt->workers[i];
        /* A sender that scheduled the last actor may still be waking w: a
         * few instructions, so yielding is enough. acquire pairs with the
         * release decrement in actori_schedule. */
        while (atomic_load_explicit(&w->schedulers, memory_order_acquire) != 0)
            sched_yield();
        /* The worker threads are joined: nothing else touches these now. */
        if (w->wake != NULL)
            event_free(w->wake);
        if (w->embedded) /* no thread of ours gave its envelope cache back */
            actori_pool_flush(&w->cache);
        if (w->base != NULL && !w->embedded) /* the user's base is the user's */
            event_base_free(w->base);
    }
    if (rt->promises != NULL)
        actori_promises_close(rt->promises);
    actori_clock_destroy(&rt->clock); /* after the promises: none is pending now */
    for (unsigned i = 0; i < rt->nworkers; i++) /* the clock's thread is joined */
        actori_clock_nursery_drop(&rt->workers[i].nursery);
    pthread_cond_destroy(&rt->idle);
    pthread_mutex_destroy(&rt->stop_lock);
    pthread_mutex_destroy(&rt->lock);
    actori_free(rt->workers);
    rt->workers = NULL;
    actori_pool_runtime_down();
    /* No hook runs once actor_runtime_free returned (a late send to a Done
     * actor would otherwise call it, with the user's data long gone): the
     * pair of actori_cell_dead_letter's count (cell.c). */
    atomic_store_explicit(&rt->hooks_set, 0, memory_order_seq_cst);
    while (atomic_load_explicit(&rt->hooks_running, memory_order_seq_cst) != 0)
        sched_yield();
    actori_runtime_release(rt);
}

void actori_runtime_release(actor_runtime *rt)
{
    /* acq_rel: the last one sees every cell's use of the struct. */
    if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1) {
        /* Here, not in actori_runtime_destroy: an address's subscribe may
         * still be using the topics after actor_runtime_free returned. */
        actori_rt_part *topics = atomic_load_explicit(&rt->topics, memory_order_acquire);
        if (topics != NULL)
            topics->destroy(topics);
        actori_free(rt);
    }
}

int actor_runtime_new(unsigned threads, actor_runtime **out)
{
    if (out == NULL || threads > ACTORI_MAX_WORKERS)
        return ACTOR_EINVAL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > ACTORI_MAX_WORKERS ? ACTORI_MAX_WORKERS : (unsigned)n;
    }
    return actori_runtime_make(threads, false, NULL, out);
}

int actor_runtime_new_on_base(struct event_base *base, actor_runtime **out)
{
    if (base == NULL || out == NULL)
        return ACTOR_EINVAL;
    return actori_runtime_make(1, false, base, out);
}

/* A runtime of `threads` workers; a manual one has one worker and neither
 * threads nor event bases: its callers run it. */
int actori_runtime_make(unsigned threads, bool manual, struct event_base *user_base,
                        actor_runtime **out)
{
    if (!evthread_setup())
        return ACTOR_ENOMEM;
    pthread_once(&fork_once, watch_forks);

    actor_runtime *rt = actori_calloc(1, sizeof *rt);
    if (rt == NULL)
        return ACTOR_ENOMEM;
    rt->workers = actori_calloc(threads, sizeof *rt->workers);
    if (rt->workers == NULL) {
        actori_free(rt);
        return ACTOR_ENOMEM;
    }
    actori_pool_runtime_up();
    rt->nworkers = threads;
    rt->fork_gen = atomic_load_explicit(&actori_fork_gen, memory_order_relaxed);
    rt->manual = manual;
    atomic_init(&rt->refs, 1);
    atomic_init(&rt->hooks_set, 0);
    rt->start_ns = (uint64_t)actori_now_ns();
    atomic_init(&rt->driving, 0);
    actori_clock_init(&rt->clock, rt, manual);
    atomic_init(&rt->next_worker, 0);
    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->stop_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->idle, &attr);
    pthread_condattr_destroy(&attr);

    int rc = actori_promises_new(&rt->promises);
    for (unsigned i = 0; i < threads && rc == ACTOR_OK; i++) {
        actori_worker *w = &rt->workers[i];
        actori_mpscq_init(&w->inject, false);
        /* A manual runtime's worker never sleeps in an event loop: senders
         * must never try to wake it. */
        atomic_init(&w->sleeping, manual ? 0 : 1);
        atomic_init(&w->stop, 0);
        atomic_init(&w->idle, 1);
        atomic_init(&w->schedulers, 0);
        w->rt = rt;
        if (manual)
            continue;
        actori_event_alloc_failed(1);
        w->embedded = user_base != NULL;
        w->base = user_base != NULL ? user_base : event_base_new();
        if (w->base != NULL)
            w->wake = event_new(w->base, -1, EV_PERSIST, worker_turn, w);
        /* A base whose lock could not be made would run unlocked. */
        if (w->wake == NULL || actori_event_alloc_failed(1))
            rc = ACTOR_ENOMEM;
    }
    for (unsigned i = 0; i < threads && rc == ACTOR_OK && !manual && user_base == NULL; i++) {
        actori_worker *w = &rt->workers[i];
        if (actori_thread_start(&w->thread, worker_main, w) != 0) {
            actori_log(ACTOR_LOG_ERROR, "cannot start worker thread %u of %u", i, threads);
            rc = ACTOR_ECLOSED;
        } else {
            w->started = 1;
        }
    }
    if (rc != ACTOR_OK) {
        stop_workers(rt);
        actori_runtime_destroy(rt);
        return rc;
    }
    *out = rt;
    return ACTOR_OK;
}

int actor_spawn(actor_runtime *rt, actor_class *cls, void *state, actor_addr **out)
{
    return actori_spawn(rt, cls, state, NULL, NULL, out);
}

int actori_spawn(actor_runtime *rt, actor_class *cls, void *state,
                 void (*prepare)(actor_addr *, void *), void *arg, actor_addr **out)
{
    if (rt == NULL || cls == NULL || out == NULL)
        return ACTOR_EINVAL;
    /* A cheap early answer (no allocation to fail first); the check that
     * counts is made again under the lock below. */
    if (atomic_load_explicit(&rt->closing, memory_order_acquire) || ACTORI_INHERITED(rt))
        return ACTOR_ECLOSED;
    actor_addr *a = actori_calloc(1, sizeof *a);
    if (a == NULL)
        return ACTOR_ENOMEM;
    if (state == NULL && cls->state_size > 0) {
        state = actori_calloc(1, cls->state_size);
        if (state == NULL) {
            actori_free(a);
            return ACTOR_ENOMEM;
        }
        a->owns_state = 1;
    }
    /* The mailbox starts without its empty bit: the spawner holds the
     * consumer role and schedules the first run (init) below. */
    actori_mpscq_init(&a->mbox, false);
    atomic_init(&a->status, 0);
    atomic_init(&a->addrs, 1);
    atomic_init(&a->refs, 2); /* the caller's address + the runtime's */
    atomic_init(&a->close_queued, 0);
    a->close_msg.kind = ACTORI_CLOSE;
    a->shutdown_msg.kind = ACTORI_SHUTDOWN;
    a->cls = cls;
    a->home = rt;
    a->counted = cls->mailbox_cap != 0; /* one flag for the hot path */
    a->fork_gen = rt->fork_gen;
    a->state = state;
    actori_worker *here = actori_tls_worker;
    if (here != NULL && here->rt == rt)
        a->worker = here; /* beside its spawner: they will likely talk */
    else
        a->worker = &rt->workers[atomic_fetch_add_explicit(&rt->next_worker, 1,
                                                           memory_order_relaxed) %
                                 rt->nworkers];

    pthread_mutex_lock(&rt->lock);
    if (atomic_load_explicit(&rt->closing, memory_order_relaxed)) {
        pthread_mutex_unlock(&rt->lock);
        if (a->owns_state)
            actori_free(state);
        actori_free(a);
        return ACTOR_ECLOSED;
    }
    a->live_next = rt->live;
    if (rt->live != NULL)
        rt->live->live_prev = a;
    rt->live = a;
    rt->nlive++;
    rt->spawned++;
    atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed); /* the cell's */
    pthread_mutex_unlock(&rt->lock);

    actori_class_acquire(cls);
    if (prepare != NULL)
        prepare(a, arg); /* before it can run: nobody else sees it yet */
    *out = a;
    actori_schedule(a);
    return ACTOR_OK;
}

int actor_runtime_set_hooks(actor_runtime *rt, const actor_hooks *h)
{
    if (rt == NULL || h == NULL || h->size < offsetof(actor_hooks, handled) + sizeof h->handled)
        return ACTOR_EINVAL;
    if (ACTORI_INHERITED(rt))
        return ACTOR_ECLOSED;
    pthread_mutex_lock(&rt->lock);
    int rc = rt->spawned > 0 ? ACTOR_EBUSY : ACTOR_OK;
    if (rc == ACTOR_OK) {
        memset(&rt->hooks, 0, sizeof rt->hooks);
        memcpy(&rt->hooks, h, h->size < sizeof rt->hooks ? h->size : sizeof rt->hooks);
        rt->hooks.size = sizeof rt->hooks;
        /* release: the hooks are complete before anyone sees the flag. */
        /* Workers read it only for actors spawned after this: the spawn's
         * push publishes it. */
        for (unsigned i = 0; i < rt->nworkers; i++)
            rt->workers[i].timed = rt->hooks.handled != NULL;
        atomic_store_explicit(&rt->hooks_set, rt->hooks.dead_letter || rt->hooks.handled,
                              memory_order_release);
    }
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

int actor_runtime_stats_get(actor_runtime *rt, actor_runtime_stats *out)
{
    if (rt == NULL || out == NULL || out->size < offsetof(actor_runtime_stats, threads) +
                                                     sizeof out->threads)
        return ACTOR_EINVAL;
    actor_runtime_stats s;
    memset(&s, 0, sizeof s);
    s.size = out->size < sizeof s ? out->size : sizeof s;
    pthread_mutex_lock(&rt->lock);
    s.actors_live = rt->nlive;
    s.actors_spawned = rt->spawned;
    pthread_mutex_unlock(&rt->lock);
    for (unsigned i = 0; i < rt->nworkers; i++) {
        actori_worker *w = &rt->workers[i];
        s.messages_handled += atomic_load_explicit(&w->handled, memory_order_relaxed);
        s.wakeups += atomic_load_explicit(&w->wakeups, memory_order_relaxed);
        s.migrations += atomic_load_explicit(&w->migrations, memory_order_relaxed);
    }
    s.threads = rt->manual ? 0 : rt->nworkers;
    memcpy(out, &s, s.size);
    return ACTOR_OK;
}

void actori_runtime_unlink(actor_runtime *rt, actor_addr *a)
{
    pthread_mutex_lock(&rt->lock);
    if (a->live_prev != NULL)
        a->live_prev->live_next = a->live_next;
    else
        rt->live = a->live_next;
    if (a->live_next != NULL)
        a->live_next->live_prev = a->live_prev;
    a->live_prev = a->live_next = NULL;
    if (--rt->nlive == 0)
        pthread_cond_broadcast(&rt->idle);
    pthread_mutex_unlock(&rt->lock);
}

static bool no_actor_alive(void *arg)
{
    actor_runtime *rt = arg;
    pthread_mutex_lock(&rt->lock);
    bool none = rt->nlive == 0;
    pthread_mutex_unlock(&rt->lock);
    return none;
}

static int wait_idle_locked(actor_runtime *rt, int64_t deadline);

static void embedded_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* A runtime on the user's base: its actors run only while the base is
 * dispatched. Called with the user's loop stopped (as the header asks),
 * it dispatches the base itself until every actor is Done; if the loop
 * runs on another thread right now, it waits for that loop to do it. */
static int embedded_drain(actor_runtime *rt, int64_t deadline)
{
    struct event_base *base = rt->workers[0].base;
    struct event *tick = evtimer_new(base, embedded_tick, NULL);
    int rc = ACTOR_OK;
    while (!no_actor_alive(rt)) {
        if (deadline >= 0 && actori_now_ms() >= deadline) {
            rc = ACTOR_ETIMEDOUT;
            break;
        }
        /* At most 100 ms per pass, so that the deadline is looked at. */
        struct timeval tv = {0, 100000};
        if (tick != NULL)
            evtimer_add(tick, &tv);
        if (event_base_loop(base, EVLOOP_ONCE) < 0) {
            /* Dispatched elsewhere: let that loop run the actors. */
            pthread_mutex_lock(&rt->lock);
            rc = wait_idle_locked(rt, deadline);
            pthread_mutex_unlock(&rt->lock);
            break;
        }
    }
    if (tick != NULL)
        event_free(tick);
    return rc;
}

static int wait_idle_locked(actor_runtime *rt, int64_t deadline)
{
    while (rt->nlive > 0) {
        if (deadline < 0) {
            pthread_cond_wait(&rt->idle, &rt->lock);
            continue;
        }
        struct timespec ts;
        ts.tv_sec = deadline / 1000;
        ts.tv_nsec = (deadline % 1000) * 1000000;
        if (pthread_cond_timedwait(&rt->idle, &rt->lock, &ts) == ETIMEDOUT && rt->nlive > 0)
            return ACTOR_ETIMEDOUT;
    }
    return ACTOR_OK;
}

int actor_runtime_shutdown(actor_runtime *rt, int timeout_ms)
{
    if (rt == NULL)
        return ACTOR_EINVAL;
    if (ACTORI_INHERITED(rt))
        return ACTOR_ECLOSED;
    if (actori_on_worker())
        return ACTOR_EDEADLK;
    int64_t deadline = actori_deadline(timeout_ms);

    pthread_mutex_lock(&rt->lock);
    if (!atomic_load_explicit(&rt->closing, memory_order_relaxed)) {
        atomic_store_explicit(&rt->closing, 1, memory_order_release);
        /* Every listed actor is not yet Done (it unlinks before Done), so the
         * push only schedules it: no user code runs under the lock. */
        for (actor_addr *a = rt->live; a != NULL; a = a->live_next) {
            if (!a->shutdown_sent) {
                a->shutdown_sent = 1;
                actori_cell_push(a, &a->shutdown_msg);
            }
        }
    }
    int rc;
    if (rt->workers[0].embedded) {
        pthread_mutex_unlock(&rt->lock);
        rc = embedded_drain(rt, deadline);
    } else if (rt->manual) {
        pthread_mutex_unlock(&rt->lock);
        /* Run the interrupts here; another thread running it: wait for it. */
        rc = actori_manual_drive(rt, no_actor_alive, rt);
        if (rc == ACTOR_EBUSY) {
            pthread_mutex_lock(&rt->lock);
            rc = wait_idle_locked(rt, deadline);
            pthread_mutex_unlock(&rt->lock);
        }
    } else {
        rc = wait_idle_locked(rt, deadline);
        pthread_mutex_unlock(&rt->lock);
    }
    if (rc != ACTOR_OK)
        return rc;

    /* A separate lock: a worker finishing its last actor may run user code
     * (a then-callback) that takes rt->lock, while we join it. */
    pthread_mutex_lock(&rt->stop_lock);
    if (!rt->stopped) {
        stop_workers(rt);
        rt->stopped = 1;
    }
    pthread_mutex_unlock(&rt->stop_lock);
    return ACTOR_OK;
}

/* Logs the classes of the actors still alive, with their counts: what a
 * shutdown that does not end is waiting for. */
void actori_runtime_log_alive(actor_runtime *rt)
{
    enum { MAX_NAMES = 8 };
    const actor_class *cls[MAX_NAMES];
    size_t count[MAX_NAMES], names = 0, others = 0, total;
    pthread_mutex_lock(&rt->lock);
    total = rt->nlive;
    for (actor_addr *a = rt->live; a != NULL; a = a->live_next) {
        size_t i = 0;
        while (i < names && cls[i] != a->cls)
            i++;
        if (i < names)
            count[i]++;
        else if (names < MAX_NAMES) {
            cls[names] = a->cls;
            count[names++] = 1;
        } else
            others++;
    }
    pthread_mutex_unlock(&rt->lock);
    char list[MAX_NAMES * 80 + 64];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < names && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (%zu)", i ? ", " : "",
                                 cls[i]->name, count[i]);
    if (others > 0 && used < sizeof list)
        snprintf(list + used, sizeof list - used, ", %zu of other classes", others);
    actori_log(ACTOR_LOG_WARN,
               "actor_runtime_free: still waiting for %zu actors to stop: %s (does an "
               "on_interrupt never stop them?)",
               total, list);
}

void actor_runtime_free(actor_runtime *rt)
{
    if (rt == NULL)
        return;
    if (ACTORI_INHERITED(rt))
        return; /* the parent's: its threads, bases and fds are not ours */
    if (actori_on_worker()) {
        actori_log(ACTOR_LOG_ERROR,
                   "actor_runtime_free called on a worker thread: ignored (it would deadlock)");
        return;
    }
    if (rt->manual) {
        actori_manual_free(rt);
        return;
    }
    while (actor_runtime_shutdown(rt, ACTORI_FREE_WARN_MS) == ACTOR_ETIMEDOUT)
        actori_runtime_log_alive(rt);
    actori_runtime_destroy(rt);
}
