/* Internal: the runtime — worker threads, each with its own libevent base,
 * a local ready queue and an inject queue for actors scheduled from other
 * threads — and its set of live actors. */
#ifndef ACTORI_RUNTIME_H
#define ACTORI_RUNTIME_H

#include "cell.h"
#include "mpscq.h"
#include "pool.h"

#include <actor/actor.h>
#include <pthread.h>

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
    char pad[64];                    /* keep the worker's own fields off that line     */
    /* The worker thread only. */
    actori_node *ready_head;         /* actors ready on this worker (FIFO)          */
    actori_node *ready_tail;
    unsigned ready_count;
    actori_cache cache;              /* envelope blocks of this worker            */
    int in_turn;                     /* inside worker_turn: ready actors will run   */
    struct event_base *base;
    struct event *wake;              /* persistent, activated to run ready actors   */
    actor_runtime *rt;
    pthread_t thread;
    int started;
} actori_worker;

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
};

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
