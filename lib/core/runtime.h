/* Internal: the runtime — worker threads, each with its own libevent base,
 * a local ready queue and an inject queue for actors scheduled from other
 * threads — and its set of live actors. */
#ifndef ACTORI_RUNTIME_H
#define ACTORI_RUNTIME_H

#include "cell.h"
#include "clock.h"
#include "mpscq.h"
#include "pool.h"

#include <actor/actor.h>
#include <pthread.h>
#include <stdalign.h>

struct event_base;
struct event;
struct actori_promises;

typedef struct actori_worker {
    /* Written by other threads. */
    actori_mpscq inject;             /* actors scheduled from other threads          */
    _Atomic int sleeping;            /* 1: the worker may sleep; a waker must activate */
    _Atomic int stop;                /* set by shutdown: leave the event loop          */
    _Atomic int idle;                /* no ready actor: others may hand it some work    */
    _Atomic unsigned schedulers;     /* other threads inside actori_schedule on it      */
    _Atomic uint64_t wakeups;        /* times a waker found it asleep                   */
    _Atomic uint32_t sockets;        /* sockets its actors own (lib/io): it never spins,
                                        since bytes arrive through its event base      */
    char pad[64];                    /* keep the worker's own fields off that line     */
    /* The worker thread only. */
    actori_node *ready_head;         /* actors ready on this worker (FIFO)          */
    actori_node *ready_tail;
    unsigned ready_count;
    actori_cache cache;              /* envelope blocks of this worker            */
    actori_nursery nursery;          /* young timers and deadlines (clock.h)     */
    /* The message being handled (actor_ctx_*): here rather than in every
     * cell, since a worker handles one message at a time. */
    actor_addr *cur;                 /* the actor running now, or NULL           */
    actor_responder *cur_request;    /* its request, until answered or deferred  */
    const actor_msgtype *cur_type;
    uint64_t cur_tag;                /* on_response: the forward's tag           */
    uint64_t cur_due;                /* a request's deadline (ns), 0: none       */
    int cur_reply_refused;           /* actor_ctx_reply said ETYPE               */
    int timed;                       /* the runtime has a `handled` hook (set
                                        before the first spawn)             */
    int embedded;                    /* on the user's base (new_on_base): no
                                        thread of ours, never spins          */
    /* actor_runtime_stats: written by this worker, read by anyone. */
    _Atomic uint64_t handled, migrations;
    int in_turn;                     /* inside worker_turn: ready actors will run   */
    struct event_base *base;
    struct event *wake;              /* persistent, activated to run ready actors   */
    actor_runtime *rt;
    pthread_t thread;
    int started;
} actori_worker;

/* What a part beside the core keeps per runtime (compose/topic.c: the
 * subscriptions), made at its first use; `destroy` frees it with the
 * runtime's memory (actori_runtime_release), when no address is left. */
typedef struct actori_rt_part {
    void (*destroy)(struct actori_rt_part *p);
} actori_rt_part;

struct actor_runtime {
    actori_worker *workers;
    unsigned nworkers;
    _Atomic unsigned next_worker;    /* round robin for spawns from outside */
    pthread_mutex_t lock;            /* the live list, closing              */
    pthread_mutex_t stop_lock;       /* stopping the workers, stopped       */
    pthread_cond_t idle;             /* signalled when live drops to 0      */
    actor_addr *live;
    size_t nlive;
    _Atomic int closing;             /* shutdown began: no more spawns (set under lock) */
    int stopped;                     /* workers joined                      */
    struct actori_promises *promises;
    uint32_t fork_gen;               /* actori_fork_gen when it was made    */
    actori_clock clock;              /* timers and deadlines                */
    bool manual;                     /* no threads: driven by step/run/advance */
    /* Padding, not alignas: the runtime comes from calloc (16-byte aligned),
     * and the count is written by every cell's last release: a line of its
     * own keeps it off the lock's and the list's. */
    char refs_pad_before[64];
    _Atomic uint32_t refs;           /* the owner's + one per cell: the struct
                                        outlives actor_runtime_free while any
                                        address does, so cells may read it   */
    char refs_pad_after[60];
    _Atomic int hooks_set;           /* set before the first spawn; cleared
                                        when the runtime is freed           */
    actor_hooks hooks;
    _Atomic uint32_t hooks_running;  /* dead-letter hooks being called now  */
    uint64_t spawned;                /* under lock                          */
    _Atomic int driving;             /* manual: a thread is running it now  */
    uint64_t prng;                   /* manual: picks the next actor        */
    uint64_t start_ns;               /* threaded: when it started           */
    _Atomic(actori_rt_part *) topics; /* compose/topic.c; NULL until used   */
};

/* Runs the manual runtime rt on this thread until done(arg) holds
 * (ACTOR_OK) or nothing is left to run (ACTOR_ETIMEDOUT, the clock not
 * moved); ACTOR_EBUSY when another thread is running it. Never inside a
 * handler (the caller checks). */
int actori_manual_drive(actor_runtime *rt, bool (*done)(void *), void *arg);

/* actori_manual_drive until a bit of `bits` is set in *word. */
int actori_manual_drive_until(actor_runtime *rt, _Atomic uint32_t *word, uint32_t bits);

/* The worker's ready queue (FIFO), its thread only. */
static inline actor_addr *actori_cell_of_sched(actori_node *n)
{
    return (actor_addr *)((char *)n - offsetof(actor_addr, sched));
}

static inline void actori_ready_push(actori_worker *w, actor_addr *a)
{
    w->ready_count++;
    atomic_store_explicit(&a->sched.next, NULL, memory_order_relaxed);
    if (w->ready_tail != NULL)
        atomic_store_explicit(&w->ready_tail->next, &a->sched, memory_order_relaxed);
    else
        w->ready_head = &a->sched;
    w->ready_tail = &a->sched;
}

/* Takes the ready actor at position i (0: the oldest). */
static inline actor_addr *actori_ready_take(actori_worker *w, unsigned i)
{
    actori_node *prev = NULL, *n = w->ready_head;
    while (n != NULL && i-- > 0) {
        prev = n;
        n = atomic_load_explicit(&n->next, memory_order_relaxed);
    }
    if (n == NULL)
        return NULL;
    actori_node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
    if (prev != NULL)
        atomic_store_explicit(&prev->next, next, memory_order_relaxed);
    else
        w->ready_head = next;
    if (w->ready_tail == n)
        w->ready_tail = prev;
    w->ready_count--;
    return actori_cell_of_sched(n);
}

/* actor_spawn, with `prepare` (if not NULL) run on the new cell before it
 * is scheduled: how a supervisor links a child before its init. */
int actori_spawn(actor_runtime *rt, actor_class *cls, void *state,
                 void (*prepare)(actor_addr *, void *), void *arg, actor_addr **out);

/* fork(): each global lock of the library is held across fork (1: take it
 * before; 0: give it back after, in parent and child), in one order. */
void actori_class_atfork(int lock);
void actori_msgtype_atfork(int lock);
void actori_pool_atfork(int lock);
void actori_monitor_atfork(int lock);
void actori_names_atfork(int lock);

/* Runtime parts shared by runtime.c and manual.c. */
int actori_runtime_make(unsigned threads, bool manual, struct event_base *user_base,
                        actor_runtime **out);
void actori_runtime_destroy(actor_runtime *rt);

/* Drops a reference to rt's memory (the owner's, or a cell's). Any thread. */
void actori_runtime_release(actor_runtime *rt);
void actori_runtime_log_alive(actor_runtime *rt);

/* actor_runtime_free of a manual runtime (manual.c). */
void actori_manual_free(actor_runtime *rt);

/* Puts a on its worker's ready queue: the local one on that worker's own
 * thread (no system call), else the inject queue, waking the worker only if
 * it may be asleep. The caller holds a's consumer role. Any thread. */
void actori_schedule(actor_addr *a);

/* As actori_schedule, for an idle actor that a message just woke: if the
 * sender runs on another worker of a's runtime, a moves to the sender's
 * worker first, so that actors that talk end up side by side (no
 * cross-core transfer per message). The caller holds a's consumer role,
 * which is what makes the move safe: nobody else runs or schedules a. */
void actori_schedule_woken(actor_addr *a);

/* The worker running on this thread, NULL elsewhere. initial-exec: the
 * send path reads it on every message, and the general-dynamic model of a
 * shared library would call __tls_get_addr each time. */
extern _Thread_local actori_worker *actori_tls_worker __attribute__((tls_model("initial-exec")));

/* True on a worker thread of any runtime. */
static inline bool actori_on_worker(void) { return actori_tls_worker != NULL; }

/* The worker running on this thread, or NULL. */
static inline actori_worker *actori_current_worker(void) { return actori_tls_worker; }

/* Removes a from rt's live set (a is about to be Done); wakes shutdown when
 * the set is empty. a's worker. */
void actori_runtime_unlink(actor_runtime *rt, actor_addr *a);

#endif
