/* The runtime's clock: a min-heap of due items kept by one owner, fed by a
 * lock-free queue of arms from any thread. */
#include "clock.h"

#include "alloc.h"
#include "log.h"
#include "runtime.h"
#include "sync.h"

#include <actor/actor.h>
#include <string.h>

/* The heap never shrinks below this before a sweep is worth it. */
#define ACTORI_CLOCK_MIN_SWEEP 1024

void actori_clock_init(actori_clock *c, struct actor_runtime *rt, bool manual)
{
    actori_mpscq_init(&c->arms, false);
    atomic_init(&c->wake_at, UINT64_MAX);
    atomic_init(&c->seq, 0);
    atomic_init(&c->stop, 0);
    atomic_init(&c->started, 0);
    c->heap = NULL;
    c->n = c->cap = 0;
    c->sweep_at = ACTORI_CLOCK_MIN_SWEEP;
    c->manual = manual;
    atomic_init(&c->virtual_ns, 0);
    c->rt = rt;
    pthread_mutex_init(&c->start_lock, NULL);
}

uint64_t actori_clock_now(const actori_clock *c)
{
    return c->manual ? atomic_load_explicit(&((actori_clock *)c)->virtual_ns, memory_order_relaxed)
                     : (uint64_t)actori_now_ns();
}

/* ---- the heap (owner only) ---- */

static void sift_up(actori_heap_entry *h, size_t i)
{
    actori_heap_entry e = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent].due_ns <= e.due_ns)
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

static void sift_down(actori_heap_entry *h, size_t n, size_t i)
{
    actori_heap_entry e = h[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && h[child + 1].due_ns < h[child].due_ns)
            child++;
        if (h[child].due_ns >= e.due_ns)
            break;
        h[i] = h[child];
        i = child;
    }
    h[i] = e;
}

typedef struct timed_call {
    actori_timed timed;
    void (*fire)(void *);
    void (*drop)(void *);
    void *arg;
} timed_call;

static bool item_dead(actori_timed *item)
{
    switch (item->kind) {
    case ACTORI_TIMED_TIMER: return actori_timer_dead(item);
    case ACTORI_TIMED_DEADLINE: return actori_deadline_dead(item);
    default: return false;
    }
}

static void item_drop(actori_timed *item)
{
    if (item->kind == ACTORI_TIMED_TIMER) {
        actori_timer_drop(item);
    } else if (item->kind == ACTORI_TIMED_DEADLINE) {
        actori_deadline_drop(item);
    } else {
        timed_call *call = (timed_call *)item;
        call->drop(call->arg);
        actori_free(call);
    }
}

int actori_clock_call(actori_clock *c, uint64_t after_ms, void (*fire)(void *),
                      void (*drop)(void *), void *arg)
{
    timed_call *call = actori_malloc(sizeof *call);
    if (call == NULL)
        return ACTOR_ENOMEM;
    uint64_t now = actori_clock_now(c);
    call->timed.due_ns = now + after_ms * 1000000ull;
    call->timed.kind = ACTORI_TIMED_CALL;
    call->fire = fire;
    call->drop = drop;
    call->arg = arg;
    int rc = actori_clock_arm(c, &call->timed, now);
    if (rc != ACTOR_OK)
        actori_free(call);
    return rc;
}

/* Drops the dead items and rebuilds the heap: amortized O(1) per insert,
 * since it runs only when the heap doubled since the last sweep. */
static void sweep(actori_clock *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (item_dead(c->heap[i].item))
            item_drop(c->heap[i].item);
        else
            c->heap[kept++] = c->heap[i];
    }
    c->n = kept;
    for (size_t i = kept / 2; i-- > 0;)
        sift_down(c->heap, c->n, i);
    c->sweep_at = kept * 2 > ACTORI_CLOCK_MIN_SWEEP ? kept * 2 : ACTORI_CLOCK_MIN_SWEEP;
}

/* Inserts item; false when the heap could not grow (the caller drops it). */
static bool heap_insert(actori_clock *c, actori_timed *item)
{
    if (c->n == c->sweep_at)
        sweep(c);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        actori_heap_entry *h = actori_realloc(c->heap, cap * sizeof *h);
        if (h == NULL)
            return false;
        c->heap = h;
        c->cap = cap;
    }
    c->heap[c->n].due_ns = item->due_ns;
    c->heap[c->n].item = item;
    sift_up(c->heap, c->n++);
    return true;
}

/* Moves what was armed into the heap; what is dead already (a deadline
 * whose request was answered meanwhile, the common case) goes at once. */
static void take_arms(actori_clock *c)
{
    actori_node *node;
    while ((node = actori_mpscq_pop(&c->arms)) != NULL) {
        actori_timed *item = (actori_timed *)node;
        if (item_dead(item) || !heap_insert(c, item)) {
            if (!item_dead(item))
                actori_log(ACTOR_LOG_ERROR, "the clock is out of memory: a %s is dropped",
                           item->kind == ACTORI_TIMED_TIMER ? "timer" : "deadline");
            item_drop(item);
        }
    }
}

size_t actori_clock_fire_due(actori_clock *c, uint64_t now)
{
    take_arms(c);
    size_t fired = 0;
    while (c->n > 0 && c->heap[0].due_ns <= now) {
        actori_timed *item = c->heap[0].item;
        c->heap[0] = c->heap[--c->n];
        if (c->n > 0)
            sift_down(c->heap, c->n, 0);
        fired++;
        if (item->kind == ACTORI_TIMED_CALL) {
            timed_call *call = (timed_call *)item;
            call->fire(call->arg);
            actori_free(call);
        } else if (item->kind == ACTORI_TIMED_DEADLINE) {
            actori_deadline_fire(item);
        } else if (actori_timer_fire(item, now) && !heap_insert(c, item)) {
            actori_log(ACTOR_LOG_ERROR, "the clock is out of memory: a repeating timer stops");
            actori_timer_drop(item);
        }
    }
    return fired;
}

uint64_t actori_clock_next_due(actori_clock *c)
{
    take_arms(c);
    while (c->n > 0 && item_dead(c->heap[0].item)) {
        actori_timed *item = c->heap[0].item;
        c->heap[0] = c->heap[--c->n];
        if (c->n > 0)
            sift_down(c->heap, c->n, 0);
        item_drop(item);
    }
    return c->n > 0 ? c->heap[0].due_ns : UINT64_MAX;
}

/* ---- the workers' nurseries ---- */

static void nursery_lock(actori_nursery *ns)
{
    while (atomic_exchange_explicit(&ns->lock, 1, memory_order_acquire))
        actori_cpu_relax();
}

static void nursery_unlock(actori_nursery *ns)
{
    atomic_store_explicit(&ns->lock, 0, memory_order_release);
}

static void wake_owner(actori_clock *c)
{
    atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
    actori_futex_wake_all(&c->seq);
}

/* Hands item to the clock's thread. */
static void push_arm(actori_clock *c, actori_timed *item)
{
    uint64_t due = item->due_ns; /* once pushed, the item is the clock's */
    actori_mpscq_push(&c->arms, &item->node);
    if (!c->manual && due < atomic_load_explicit(&c->wake_at, memory_order_seq_cst))
        wake_owner(c);
}

/* Empties the nursery; then, outside its lock, drops the dead items and
 * hands the others to the clock (the worker's thread). */
static void nursery_empty(actori_clock *c, actori_nursery *ns)
{
    actori_timed *items[ACTORI_NURSERY_CAP];
    nursery_lock(ns);
    unsigned n = atomic_load_explicit(&ns->n, memory_order_relaxed);
    memcpy(items, ns->items, n * sizeof *items);
    atomic_store_explicit(&ns->n, 0, memory_order_relaxed);
    nursery_unlock(ns);
    for (unsigned i = 0; i < n; i++) {
        if (item_dead(items[i]))
            item_drop(items[i]);
        else
            push_arm(c, items[i]);
    }
}

void actori_clock_nursery_flush(actori_clock *c, actori_nursery *ns)
{
    if (atomic_load_explicit(&ns->n, memory_order_relaxed) != 0)
        nursery_empty(c, ns);
}

void actori_clock_nursery_drop(actori_nursery *ns)
{
    unsigned n = atomic_load_explicit(&ns->n, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        item_drop(ns->items[i]);
    atomic_store_explicit(&ns->n, 0, memory_order_relaxed);
}

static void nursery_add(actori_clock *c, actori_nursery *ns, actori_timed *item, uint64_t now)
{
    if (atomic_load_explicit(&ns->n, memory_order_relaxed) == ACTORI_NURSERY_CAP)
        nursery_empty(c, ns);
    /* The newest items die first (a request answered before the next one
     * is made): dropped now, their memory is reused while it is hot. */
    actori_timed *dead[4];
    unsigned ndead = 0;
    nursery_lock(ns);
    unsigned n = atomic_load_explicit(&ns->n, memory_order_relaxed);
    while (n > 0 && ndead < 4 && item_dead(ns->items[n - 1]))
        dead[ndead++] = ns->items[--n];
    ns->items[n] = item; /* room: only this thread adds */
    /* seq_cst pair with clock_main: we count the item, then read when the
     * clock looks next; the clock publishes that, then reads the counts.
     * Either it sees our item, or we see that it sleeps too long, and wake
     * it: a worker stuck in a handler delays no deadline. */
    atomic_store_explicit(&ns->n, n + 1, memory_order_seq_cst);
    nursery_unlock(ns);
    while (ndead > 0)
        item_drop(dead[--ndead]);
    if (atomic_load_explicit(&c->wake_at, memory_order_seq_cst) > now + ACTORI_CLOCK_POLL_NS)
        wake_owner(c);
}

/* The clock's look at every nursery: takes the items coming due into the
 * heap. Returns true when some nursery still holds items. */
static bool visit_nurseries(actori_clock *c, uint64_t now)
{
    actor_runtime *rt = c->rt;
    bool left = false;
    for (unsigned w = 0; w < rt->nworkers; w++) {
        actori_nursery *ns = &rt->workers[w].nursery;
        if (atomic_load_explicit(&ns->n, memory_order_seq_cst) == 0)
            continue;
        if (atomic_exchange_explicit(&ns->lock, 1, memory_order_acquire)) {
            left = true; /* its worker is at it: next time */
            continue;
        }
        actori_timed *due[ACTORI_NURSERY_CAP];
        unsigned n = atomic_load_explicit(&ns->n, memory_order_relaxed), kept = 0, taken = 0;
        for (unsigned i = 0; i < n; i++) {
            actori_timed *item = ns->items[i];
            if (item->due_ns < now + ACTORI_CLOCK_URGENT_NS)
                due[taken++] = item;
            else
                ns->items[kept++] = item;
        }
        atomic_store_explicit(&ns->n, kept, memory_order_relaxed);
        nursery_unlock(ns);
        left |= kept > 0;
        for (unsigned i = 0; i < taken; i++) {
            if (item_dead(due[i]) || !heap_insert(c, due[i])) {
                if (!item_dead(due[i]))
                    actori_log(ACTOR_LOG_ERROR, "the clock is out of memory: a %s is dropped",
                               due[i]->kind == ACTORI_TIMED_TIMER ? "timer" : "deadline");
                item_drop(due[i]);
            }
        }
    }
    return left;
}

static bool nurseries_hold(actori_clock *c)
{
    for (unsigned w = 0; w < c->rt->nworkers; w++)
        if (atomic_load_explicit(&c->rt->workers[w].nursery.n, memory_order_seq_cst) != 0)
            return true;
    return false;
}

/* ---- the thread of a threaded runtime ---- */

static void *clock_main(void *arg)
{
    actori_clock *c = arg;
    uint64_t busy_until = 0;
    /* The kernel's default timer slack (50 us) stays: with 1 ns the median
     * lateness fell from ~50 to ~15 us, but p99 rose from 0.2-1.4 ms to
     * 0.8-6 ms (timers_late, 5 rounds): the clock woke for every due time
     * instead of for a batch, and took the workers' vCPUs more often. */
    while (!atomic_load_explicit(&c->stop, memory_order_acquire)) {
        uint32_t seen = atomic_load_explicit(&c->seq, memory_order_acquire);
        uint64_t now = actori_clock_now(c);
        bool took = !actori_mpscq_is_empty(&c->arms);
        bool nursing = visit_nurseries(c, now);
        actori_clock_fire_due(c, now);
        uint64_t wake = actori_clock_next_due(c);
        /* While items come, poll rather than sleep for good: an arm due
         * after our next look then needs no futex wake. Most deadlines are
         * answered long before they are due, so under request traffic the
         * clock wakes every ACTORI_CLOCK_POLL_NS and takes a batch, instead
         * of being woken (a system call and a context switch) per request.
         * A second after the last arm it sleeps until woken. */
        if (took || nursing || c->n > 0)
            busy_until = now + ACTORI_CLOCK_LINGER_NS;
        if ((c->n > 0 || nursing || now < busy_until) && now + ACTORI_CLOCK_POLL_NS < wake)
            wake = now + ACTORI_CLOCK_POLL_NS; /* also frees what is answered meanwhile */
        /* seq_cst pair with push_arm: we publish wake_at, then look at the
         * queue; an armer pushes, then reads wake_at. Either we see its
         * item, or it sees our wake_at and wakes us if it is due first.
         * The same with nursery_add and the nurseries' counts. */
        atomic_store_explicit(&c->wake_at, wake, memory_order_seq_cst);
        if (!actori_mpscq_is_empty(&c->arms))
            continue;
        if (wake > now + ACTORI_CLOCK_POLL_NS && nurseries_hold(c))
            continue;
        actori_futex_wait_ns(&c->seq, seen, wake);
    }
    return NULL;
}

int actori_clock_arm(actori_clock *c, actori_timed *item, uint64_t now)
{
    if (!c->manual && !atomic_load_explicit(&c->started, memory_order_acquire)) {
        pthread_mutex_lock(&c->start_lock);
        int ok = atomic_load_explicit(&c->started, memory_order_relaxed) ||
                 actori_thread_start(&c->thread, clock_main, c) == 0;
        if (ok)
            atomic_store_explicit(&c->started, 1, memory_order_release);
        pthread_mutex_unlock(&c->start_lock);
        if (!ok) {
            actori_log(ACTOR_LOG_ERROR, "cannot start the runtime's clock thread");
            return ACTOR_ENOMEM;
        }
    }
    actori_worker *w = actori_tls_worker;
    if (!c->manual && w != NULL && w->rt == c->rt && item->kind != ACTORI_TIMED_CALL &&
        item->due_ns >= now + ACTORI_CLOCK_NURSERY_NS)
        nursery_add(c, &w->nursery, item, now);
    else
        push_arm(c, item);
    return ACTOR_OK;
}

void actori_clock_destroy(actori_clock *c)
{
    if (atomic_load_explicit(&c->started, memory_order_acquire)) {
        atomic_store_explicit(&c->stop, 1, memory_order_release);
        atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
        actori_futex_wake_all(&c->seq);
        pthread_join(c->thread, NULL);
    }
    take_arms(c);
    for (size_t i = 0; i < c->n; i++)
        item_drop(c->heap[i].item);
    c->n = 0;
    actori_free(c->heap);
    c->heap = NULL;
    pthread_mutex_destroy(&c->start_lock);
}
