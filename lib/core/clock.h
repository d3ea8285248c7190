/* Internal: the runtime's clock — what is due at a time (actor timers and
 * request deadlines) and the one thread that fires it.
 *
 * Any thread arms an item by pushing it on a lock-free queue; only the
 * clock's owner (its thread, or the caller driving a manual runtime) keeps
 * the heap. So starting a timer or a deadline is one atomic exchange, and a
 * deadline fires on time even when every worker is inside a long handler.
 * An item is never removed from the heap early: a cancelled timer or a
 * deadline whose request was answered is dropped when the owner meets it
 * (at arming, at its time, or in a sweep), which is why the owner wakes
 * every ACTORI_CLOCK_POLL_NS while it holds anything. */
#ifndef ACTORI_CLOCK_H
#define ACTORI_CLOCK_H

#include "mpscq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct actor_runtime;

enum { ACTORI_TIMED_TIMER = 1, ACTORI_TIMED_DEADLINE = 2, ACTORI_TIMED_CALL = 3 };

/* The part of an armed item the clock sees (embedded in a timer record or
 * a responder). The item holds a reference for the clock while armed. */
typedef struct actori_timed {
    actori_node node; /* in the arms queue */
    uint64_t due_ns;  /* on the runtime's clock (actori_clock_now) */
    uint8_t kind;     /* ACTORI_TIMED_* */
    /* What would be padding, the embedding item's own (a timer keeps its
     * flags and references here: 8 bytes less per live timer). The clock
     * never touches them. */
    _Atomic uint8_t own_flag[2];
    _Atomic uint32_t own_refs;
} actori_timed;

typedef struct actori_heap_entry {
    uint64_t due_ns;
    actori_timed *item;
} actori_heap_entry;

/* A worker's nursery: items its handlers armed that are not due soon. Most
 * die young (a deadline answered, a timer cancelled or replaced within
 * microseconds), so the worker keeps them and drops the dead ones itself,
 * on its own thread, instead of handing every one to the clock thread (an
 * atomic push, and later a cross-thread look and free per item: that cost
 * a request with a deadline more than half of its speed). Survivors go to
 * the clock when the nursery is full or the worker goes idle; the clock
 * takes the ones coming due itself, so that a worker stuck in a long
 * handler delays nothing. The lock is the worker's but for those visits. */
#define ACTORI_NURSERY_CAP 128
typedef struct actori_nursery {
    _Atomic int lock;
    _Atomic unsigned n; /* read without the lock by the clock and the worker */
    actori_timed *items[ACTORI_NURSERY_CAP];
} actori_nursery;

typedef struct actori_clock {
    /* Any thread. */
    actori_mpscq arms;
    _Atomic uint64_t wake_at; /* when the owner will look next (UINT64_MAX: never) */
    _Atomic uint32_t seq;     /* futex word: bumped to wake the owner early */
    _Atomic int stop;
    /* The owner only. */
    actori_heap_entry *heap;
    size_t n, cap;
    size_t sweep_at;          /* sweep once the heap grows to this size */
    bool manual;              /* virtual time; no thread */
    _Atomic uint64_t virtual_ns; /* a manual runtime's now (moved by its driver) */
    /* Starting the thread (lazily, at the first arm of a threaded runtime). */
    pthread_mutex_t start_lock;
    _Atomic int started;
    pthread_t thread;
    struct actor_runtime *rt;
} actori_clock;

/* How long the owner sleeps at most while it holds items: what an answered
 * deadline or a cancelled timer may linger before it is freed. */
#define ACTORI_CLOCK_POLL_NS 10000000ull
/* How long the owner keeps polling after the last arm before it sleeps
 * until woken (an idle runtime costs no wake-ups). */
#define ACTORI_CLOCK_LINGER_NS 1000000000ull

/* An item armed by a worker goes to its nursery only when due this far
 * ahead or more; the clock takes a nursery's items due within
 * ACTORI_CLOCK_URGENT_NS at each look (every ACTORI_CLOCK_POLL_NS while any
 * nursery holds items), so each reaches the heap well before its time. */
#define ACTORI_CLOCK_NURSERY_NS (4 * ACTORI_CLOCK_POLL_NS)
#define ACTORI_CLOCK_URGENT_NS (3 * ACTORI_CLOCK_POLL_NS)

/* The longest interval a timer or deadline may be set for (about 139 years):
 * keeps every due time far from overflow. */
#define ACTORI_CLOCK_MAX_MS (1ull << 42)

void actori_clock_init(actori_clock *c, struct actor_runtime *rt, bool manual);

/* Stops the thread (if started) and drops every armed item. The runtime's
 * actors are all Done. */
void actori_clock_destroy(actori_clock *c);

/* Now on this clock, in ns: monotonic, or the manual runtime's virtual time. */
uint64_t actori_clock_now(const actori_clock *c);

/* Arms item (due_ns and kind set, a reference held for the clock); `now`
 * is actori_clock_now of a moment ago (the caller computed due_ns from it).
 * On a worker of c's runtime, an item not due soon goes to the worker's
 * nursery. Starts the thread at the first use on a threaded runtime.
 * ACTOR_OK or ACTOR_ENOMEM (the thread could not start; the item is not
 * armed). Any thread. */
int actori_clock_arm(actori_clock *c, actori_timed *item, uint64_t now);

/* The worker's side of its nursery (its thread): drops the dead items and
 * hands the others to the clock. Called as the worker goes idle. */
void actori_clock_nursery_flush(actori_clock *c, actori_nursery *ns);

/* Drops every item of a nursery (the runtime is being freed; its worker
 * is joined). */
void actori_clock_nursery_drop(actori_nursery *ns);

/* The manual runtime's owner: takes what was armed, then fires every item
 * due at or before `now` in time order. Returns how many it fired. */
size_t actori_clock_fire_due(actori_clock *c, uint64_t now);

/* Calls fire(arg) `after_ms` from now on c's owner thread (or, if the
 * clock goes first, drop(arg)): how a supervisor delays a restart.
 * ACTOR_OK or ACTOR_ENOMEM. Any thread. */
int actori_clock_call(actori_clock *c, uint64_t after_ms, void (*fire)(void *),
                      void (*drop)(void *), void *arg);

/* The manual runtime's owner: the earliest due time held (after taking what
 * was armed), or UINT64_MAX. */
uint64_t actori_clock_next_due(actori_clock *c);

/* Implemented by the users of the clock: what firing an item does, and
 * whether an armed item is already dead (dropped without firing). Each
 * consumes the clock's reference when it says the item is finished. */
/* Returns true when the item is to be armed again (a repeating timer: its
 * due_ns was moved). */
bool actori_timer_fire(actori_timed *item, uint64_t now);
bool actori_timer_dead(actori_timed *item);
void actori_timer_drop(actori_timed *item);
void actori_deadline_fire(actori_timed *item);
bool actori_deadline_dead(actori_timed *item);
void actori_deadline_drop(actori_timed *item);

#endif
