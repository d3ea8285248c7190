/* The runtime's clock: a min-heap of due items kept by one owner, fed by a
 * lock-free queue of arms from any thread. */
#include "clock.h"

#include "alloc.h"
#include "log.h"
#include "sync.h"

#include <actor/actor.h>

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
    call->timed.due_ns = actori_clock_now(c) + after_ms * 1000000ull;
    call->timed.kind = ACTORI_TIMED_CALL;
    call->fire = fire;
    call->drop = drop;
    call->arg = arg;
    int rc = actori_clock_arm(c, &call->timed);
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

/* ---- the thread of a threaded runtime ---- */

static void *clock_main(void *arg)
{
    actori_clock *c = arg;
    uint64_t busy_until = 0;
    while (!atomic_load_explicit(&c->stop, memory_order_acquire)) {
        uint32_t seen = atomic_load_explicit(&c->seq, memory_order_acquire);
        uint64_t now = actori_clock_now(c);
        bool took = !actori_mpscq_is_empty(&c->arms);
        actori_clock_fire_due(c, now);
        uint64_t wake = actori_clock_next_due(c);
        /* While items come, poll rather than sleep for good: an arm due
         * after our next look then needs no futex wake. Most deadlines are
         * answered long before they are due, so under request traffic the
         * clock wakes every ACTORI_CLOCK_POLL_NS and takes a batch, instead
         * of being woken (a system call and a context switch) per request.
         * A second after the last arm it sleeps until woken. */
        if (took || c->n > 0)
            busy_until = now + ACTORI_CLOCK_LINGER_NS;
        if ((c->n > 0 || now < busy_until) && now + ACTORI_CLOCK_POLL_NS < wake)
            wake = now + ACTORI_CLOCK_POLL_NS; /* also frees what is answered meanwhile */
        /* seq_cst pair with actori_clock_arm: we publish wake_at, then look
         * at the queue; an armer pushes, then reads wake_at. Either we see
         * its item, or it sees our wake_at and wakes us if it is due first. */
        atomic_store_explicit(&c->wake_at, wake, memory_order_seq_cst);
        if (!actori_mpscq_is_empty(&c->arms))
            continue;
        actori_futex_wait_ns(&c->seq, seen, wake);
    }
    return NULL;
}

int actori_clock_arm(actori_clock *c, actori_timed *item)
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
    uint64_t due = item->due_ns; /* once pushed, the item is the clock's */
    actori_mpscq_push(&c->arms, &item->node);
    if (!c->manual && due < atomic_load_explicit(&c->wake_at, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
        actori_futex_wake_all(&c->seq);
    }
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
