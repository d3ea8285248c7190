/* Internal: actor timers. A timer is a record owned by its actor (a table
 * by key, touched only on the actor's thread) and armed on the runtime's
 * clock, which sends the actor a TICK envelope naming the record's key and
 * generation. The actor handles a tick only if that key still names that
 * generation: a cancel or a replace needs no reach into the clock, and a
 * tick already queued for an old timer is dropped when it comes up. */
#ifndef ACTORI_TIMER_H
#define ACTORI_TIMER_H

#include "clock.h"
#include "envelope.h"

#include <actor/actor.h>
#include <stdalign.h>

typedef struct actori_timer {
    /* First: what the clock sees. In its spare bytes: own_refs, the
     * actor's table's reference and the clock's while armed; own_flag[0],
     * cancelled: the actor dropped it, so the clock drops it too;
     * own_flag[1], a tick is in the mailbox: send no other (timer.c). */
    actori_timed timed;
    uint32_t gen;                /* this incarnation of the key            */
    uint32_t len;
    uint64_t key;
    uint64_t every_ns;           /* 0: once                                */
    actor_addr *owner;           /* a memory reference while the record lives */
    const actor_msgtype *type;
    struct actori_timer *next;   /* in the actor's bucket                  */
    alignas(8) unsigned char payload[];
} actori_timer;

/* The table of an actor's timers, made at its first timer. */
typedef struct actori_timers {
    actori_timer **buckets;
    uint32_t mask;     /* buckets - 1 (a power of two) */
    uint32_t count;
    uint32_t next_gen;
} actori_timers;

/* What a TICK envelope carries before its payload. */
typedef struct actori_tick {
    uint64_t key;
    uint32_t gen;
    uint32_t unused;
} actori_tick;

/* Dispatches a TICK: the event handler runs if the tick is current.
 * The actor's thread. */
void actori_timers_dispatch(actor_addr *a, actori_env *e);

/* Cancels every timer of a (it stops). The actor's thread. */
void actori_timers_stop(actor_addr *a);

#endif
