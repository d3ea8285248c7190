/* Internal: the actor cell — an actor's mailbox, status, lifecycle and the
 * loop that runs its callbacks. The public actor_addr and actor_ctx handles
 * both point at the cell. */
#ifndef ACTORI_CELL_H
#define ACTORI_CELL_H

#include "class.h"
#include "envelope.h"

#include <actor/actor.h>
#include <stdatomic.h>
#include <stdbool.h>

struct actori_worker;

/* status bits; ACTIVE is none of them */
#define ACTORI_S_STOPPING 1u /* takes no more messages: senders get ECLOSED */
#define ACTORI_S_DONE 2u     /* finalized; joiners wake                    */
#define ACTORI_S_WAITERS 4u  /* someone sleeps on the status word          */

struct actor_addr {
    /* Touched by senders on every message. */
    actori_mpscq mbox;          /* 24: the mailbox; its empty bit = unscheduled */
    _Atomic uint32_t status;    /* ACTORI_S_* bits; a futex word for joins      */
    _Atomic uint32_t addrs;     /* counted addresses: at 0 the actor closes     */
    _Atomic uint32_t refs;      /* memory: each counted address + the runtime   */
    _Atomic uint32_t close_queued; /* the embedded CLOSE message is in the mailbox */
    _Atomic uint32_t queued;    /* bounded mailboxes: events and requests queued */
    _Atomic uint32_t queued_peak;
    _Atomic uint32_t room;      /* futex word of addr_send_wait; bit 0: waiters */
    uint32_t fork_gen;          /* the runtime's: see ACTORI_INHERITED          */
    actori_node sched;          /* link in a worker's ready or inject queue     */
    actor_class *cls;
    actor_runtime *home;        /* the runtime, never cleared; its memory lives
                                   as long as the cell (refs)                   */
    struct actori_worker *worker;
    void *state;
    /* Counted by any thread, rarely (RMW). */
    _Atomic uint64_t dropped;   /* events dropped: at stop, or on DROP overflow */
    _Atomic uint64_t rejected;  /* sends refused with ACTOR_EFULL               */
    /* The owning worker only (or whoever holds the consumer role). */
    struct actor_addr *live_prev, *live_next; /* the runtime's list, its lock   */
    actori_msg close_msg;
    actori_msg shutdown_msg;
    uint8_t started, stopping, owns_state, shutdown_sent;
    uint8_t parked;             /* stopped, waiting for its supervisor's word:
                                   it keeps the consumer role meanwhile       */
    uint8_t resume;             /* that word (ACTORI_RESUME_*), set before the
                                   supervisor schedules it again             */
    uint8_t finalized;          /* finalize ran for this incarnation          */
    uint8_t pinned;             /* never moves to another worker (pool members,
                                   connections); set before it first runs   */
    uint8_t counted;            /* counts queued: a bounded mailbox, or a pool
                                   member (least-queued routing)              */
    _Atomic uint8_t stop_req;   /* its supervisor asks it to stop (nonzero)   */
    int exit_reason;            /* 0: stopped normally; published by Done     */
    _Atomic(struct actori_fail *) fail; /* monitors, supervision; made at first use */
    _Atomic uint8_t parts;      /* ACTORI_PART_* bits: parts beside the core that
                                   must hear of a's Done (actori_part_done) */
    /* Written by the consumer per message, read by addr_stats: kept at the
     * end, more than a cache line away from what senders read, or every
     * handled message would pull the senders' line away (W4 measured 40%
     * slower with `handled` next to `cls`). */
    _Atomic uint64_t handled;   /* events and requests whose handler ran        */
    _Atomic uint64_t expired;   /* requests not handled: deadline passed        */
    _Atomic uint64_t canceled;  /* requests canceled at the stop                */
};

static inline actor_ctx *actor_ctx_of(actor_addr *a) { return (actor_ctx *)a; }

/* What an event handler's nonzero return leads to: the class's fallback, or
 * a log line. The actor's thread. */
void actori_cell_event_failed(actor_addr *a, const actor_msgtype *t, int err);

/* Hands a dropped event to the runtime's dead-letter hook, if any (`why`:
 * ACTOR_ECLOSED or ACTOR_EFULL). Any thread. */
void actori_cell_dead_letter(actor_addr *a, const actor_msgtype *t, const void *payload,
                             size_t len, int why);

/* addr_send's path (checks, admission, DROP, dead letters) for parts beside
 * the core (topics): ACTOR_OK only when the event was queued; a DROP
 * mailbox's drop (counted and dead-lettered as for addr_send) answers
 * ACTOR_EFULL here. Otherwise addr_send's codes. Any thread. */
int actori_send_event(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len);

/* Wakes the senders waiting in addr_send_wait, and calls the addr_on_room
 * callbacks, if any. Any thread. */
void actori_cell_wake_room(actor_addr *a);
/* Room in a's bounded mailbox now, or none ever again (stopping, Done). */
bool actori_cell_has_room(const actor_addr *a);
/* Calls and frees every addr_on_room callback of a (room.c). Any thread. */
void actori_room_fire(actor_addr *a);

/* The current request of a, unanswered, or NULL when there is none; take
 * takes it out of the handler (actor_ctx_defer). a's thread, inside its
 * callbacks. */
actor_responder *actori_cell_request(actor_addr *a);
actor_responder *actori_cell_take_request(actor_addr *a);

/* Parts of the library beside the core (topics, names, ...) that keep
 * something per actor register what to do when an actor is Done, and mark
 * the actors concerned; the core calls them in that actor's finish, before
 * it is Done. The arrow points one way: the core knows only this slot. */
typedef void (*actori_done_fn)(actor_addr *a);
#define ACTORI_PARTS 7
#define ACTORI_PART_TOPICS 0 /* compose/topic.c: subscriptions end at Done */
#define ACTORI_PART_NAMES 1  /* failure/names.c: names are freed at Done   */
/* Registers fn as part `bit` (a bit of 0..ACTORI_PARTS-1), once; then
 * marks a (any thread) so that fn runs when a stops for good, just before
 * it is Done (on the thread that finishes it). mark returns false when that
 * moment has passed already: the part cleans up itself then (fn must
 * tolerate being called for what was cleaned up already). */
void actori_part_register(unsigned bit, actori_done_fn fn);
bool actori_part_mark(actor_addr *a, unsigned bit);

/* What an actor has of failure handling, made at its first use (most
 * actors never monitor nor are supervised: 8 bytes in the cell). */
struct actori_monitor;
struct actori_watch_index;
struct actori_child;
struct actori_group;
struct actori_room_waiter;
typedef struct actori_fail {
    struct actori_monitor *watching; /* monitors a holds (a's thread)        */
    struct actori_watch_index *watch_index; /* the same by target (monitor.c) */
    struct actori_monitor *watchers; /* monitors on a (its stripe lock)      */
    struct actori_child *link;       /* a supervised child: its entry        */
    struct actori_group *group;      /* a supervisor: its children           */
    _Atomic uint64_t restarts;       /* in-place restarts                    */
    void *route;                     /* a router's (pool's) own data         */
    void *io;                        /* a connection's or listener's socket  */
    struct actori_timers *timers;    /* keyed timers (a's thread)            */
    _Atomic(struct actori_room_waiter *) room_waiters; /* addr_on_room (room.c) */
} actori_fail;

/* What lib/io does for actors that own sockets: DATA and IO_END messages,
 * and the end of an incarnation (the socket closes). Registered with the
 * first socket. The actor's thread. */
typedef struct actori_io_ops {
    void (*dispatch)(actor_addr *a, actori_env *e);
    void (*drop)(actor_addr *a, actori_env *e); /* queued at the stop */
    void (*stop)(actor_addr *a);
} actori_io_ops;
void actori_io_ops_register(const actori_io_ops *ops);

/* What an actor of a routing class (cls->routes: a pool) does with what is
 * sent to it; registered by lib/compose when the first pool is made. */
typedef struct actori_route_ops {
    int (*send)(actor_addr *pool, const actor_msgtype *t, const void *payload, size_t len,
                int mode);
    int (*interact)(actor_addr *pool, const actor_msgtype *t, const void *payload, size_t len,
                    int timeout_ms, actor_responder **out);
    int (*send_wait)(actor_addr *pool, const actor_msgtype *t, const void *payload, size_t len,
                     int timeout_ms);
    int (*interrupt)(actor_addr *pool);
    int (*stats)(const actor_addr *pool, actor_stats *out);
    void (*free)(void *route); /* the pool's cell is freed */
} actori_route_ops;
void actori_route_ops_register(const actori_route_ops *ops);
void actori_route_free(void *route);

/* The send modes of actori_send: as addr_send; a try of addr_send_wait
 * (no drop, refusals not counted); as addr_send but a DROP mailbox's drop
 * answers ACTOR_EFULL (topics count it as not delivered). */
enum { ACTORI_SEND_PLAIN, ACTORI_SEND_WAITING, ACTORI_SEND_EXACT };
int actori_send(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                int mode);
/* addr_interact (timeout_ms < 0) and addr_interact_within, for one actor. */
int actori_interact(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                    int timeout_ms, actor_responder **out);
/* An actor's own counters (actor_stats), into *s (all of it). */
void actori_cell_stats(const actor_addr *a, actor_stats *s);

/* a's failure block, made if needed (any thread; NULL on ENOMEM). */
actori_fail *actori_cell_fail(actor_addr *a);

/* a's failure block if it has one (any thread). */
static inline actori_fail *actori_cell_fail_if(const actor_addr *a)
{
    return atomic_load_explicit(&((actor_addr *)a)->fail, memory_order_acquire);
}

enum { ACTORI_RESUME_RESTART = 1, ACTORI_RESUME_FINISH = 2 };

/* What the supervisor part (lib/failure) does at a child's or a
 * supervisor's turning points; registered when the first supervisor is
 * made, so the core calls into failure handling only through this table. */
typedef struct actori_sup_ops {
    /* A supervisor enters its stop path: true while it must wait, parked,
     * for its children to stop (it is resumed when they have). */
    bool (*group_stopping)(actor_addr *sup);
    /* A supervisor was restarted in place: restart its parked children. */
    void (*group_restarted)(actor_addr *sup);
    /* A supervisor's memory goes (its cell is freed). */
    void (*group_free)(struct actori_group *g);
    /* A supervisor about to be Done with children still parked (kept for a
     * restart that is not coming): true while it waits, parked, for them. */
    bool (*group_finishing)(actor_addr *sup);
    /* A supervised child's incarnation ended (finalize ran) with reason:
     * ACTORI_RESUME_RESTART (now), ACTORI_RESUME_FINISH, or 0 (park: the
     * supervisor resumes it later). */
    int (*child_stopped)(actor_addr *child, int reason);
    /* A supervised child is Done. */
    void (*child_done)(actor_addr *child);
} actori_sup_ops;

void actori_sup_ops_register(const actori_sup_ops *ops);

/* In-place restarts of a so far. Any thread. */
uint64_t actori_cell_restarts(const actor_addr *a);

/* Monitors (monitor.c). The watcher's thread: dispatch a DOWN envelope
 * (on_down runs if the monitor is still on), or let one go. */
void actori_monitor_dispatch(actor_addr *watcher, actori_env *e);
void actori_monitor_drop(actori_env *e);
/* The monitors a holds end (a's incarnation ends). a's thread. */
void actori_monitors_watcher_stop(actor_addr *a);
/* a is Done: a DOWN to every watcher. a's finishing thread. */
void actori_monitors_target_done(actor_addr *a);

/* Schedules a parked actor again with `word` (ACTORI_RESUME_*): it restarts
 * in place, or goes on to be Done. The caller is the one that decided
 * (its supervisor, under its lock). Any thread. */
void actori_cell_resume(actor_addr *a, int word);

/* Asks a to stop after its current message (its supervisor's request: it
 * is checked before each message, ahead of what is queued). Any thread. */
void actori_cell_request_stop(actor_addr *a);

/* Appends m to a's mailbox; if that took it from empty, schedules a (or,
 * when a is Done, drops what is queued on this very thread). The caller holds
 * a reference to a. Any thread. */
void actori_cell_push(actor_addr *a, actori_msg *m);

/* Messages an actor handles per run before its worker moves on (Pony's). */
#define ACTORI_BATCH 100

/* Runs a for one batch: init on the first run, then up to `batch`
 * messages, then finalize once it stops; *ran counts the callbacks that
 * ran (init and finalize too). Returns true when a has more to do and must
 * go back to the ready queue. a's worker only. */
bool actori_cell_run(actor_addr *a, unsigned batch, unsigned *ran);

/* Takes / drops a memory reference; the last drop frees the cell. Any thread. */
void actori_cell_ref(actor_addr *a);
void actori_cell_unref(actor_addr *a);

/* Counts the fork()s this process descends from (a pthread_atfork child
 * handler adds one). A runtime, and each of its actors, records the value
 * it was made under: a different one means it was inherited through fork,
 * its threads are gone and its event bases and fds are the parent's, so it
 * must not be touched. Read on the send path: one load of a line nobody
 * writes. */
extern _Atomic uint32_t actori_fork_gen;

/* True when x (a runtime or an actor) was made before a fork() that this
 * process is the child of. */
#define ACTORI_INHERITED(x) \
    ((x)->fork_gen != atomic_load_explicit(&actori_fork_gen, memory_order_relaxed))

/* ACTOR_OK if a still takes messages, else ACTOR_ECLOSED (also when a was
 * inherited through fork). Any thread. */
static inline int actori_cell_open(const actor_addr *a)
{
    uint32_t s = atomic_load_explicit(&((actor_addr *)a)->status, memory_order_acquire);
    if (s & (ACTORI_S_STOPPING | ACTORI_S_DONE))
        return ACTOR_ECLOSED;
    return ACTORI_INHERITED(a) ? ACTOR_ECLOSED : ACTOR_OK;
}

#endif
