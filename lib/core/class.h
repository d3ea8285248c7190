/* Internal: actor classes (hooks and handler tables) and their registry. */
#ifndef ACTORI_CLASS_H
#define ACTORI_CLASS_H

#include "msgtype.h"

#include <actor/actor.h>
#include <stdatomic.h>

typedef struct actori_handlers {
    actor_event_fn event;
    actor_request_fn request;
    actor_response_fn response;
} actori_handlers;

/* One slot of a class's handler table: an open-addressing hash by type. */
typedef struct actori_handler_slot {
    const actor_msgtype *type; /* NULL: an empty slot */
    actori_handlers h;
} actori_handler_slot;

struct actor_class {
    _Atomic uint32_t refs;   /* the creator's, the registry's, one per actor */
    _Atomic int in_use;      /* set at the first spawn: setters then refuse */
    int registered;          /* under the class registry lock */
    actor_init_fn init;
    actor_finalize_fn finalize;
    actor_interrupt_fn interrupt;
    actor_fallback_fn fallback;
    actor_event_fn any_event;     /* for types without a handler of their own */
    actor_request_fn any_request;
    actor_down_fn on_down;        /* a monitored actor is Done               */
    actor_data_fn on_data;        /* a frame its connection received (lib/io) */
    int framing;                  /* ACTOR_FRAME_*                           */
    size_t max_frame;             /* 0: the default (64 KiB)                 */
    void (*state_free)(void *state);
    size_t state_size;
    uint32_t mailbox_cap;    /* 0: unbounded                                */
    uint32_t room_mark;      /* wake senders waiting for room once the queue
                                is down to this (hysteresis: cap / 2)       */
    uint8_t overflow;        /* ACTOR_OVERFLOW_*                            */
    uint8_t routes;          /* an internal class whose actors route what is
                                sent to them (pools: actori_route_ops)      */
    void *userdata;
    actori_handler_slot *table; /* by type; read-only once in use; NULL: none */
    uint32_t mask;              /* table size - 1 (a power of two)           */
    uint32_t used;              /* slots taken: at most half the table       */
    struct actor_class *next;  /* class registry list */
    char name[ACTORI_NAME_MAX + 1];
};

/* The handlers of class c for type t (NULL when it has none). Lock-free:
 * tables are frozen once the class is in use. Any thread. */
static inline uint32_t actori_type_hash(const actor_msgtype *t)
{
    return t->id * 2654435761u; /* Knuth's multiplicative hash of a dense id */
}

static inline const actori_handlers *actori_class_handlers(const actor_class *c,
                                                           const actor_msgtype *t)
{
    if (c->table == NULL)
        return NULL;
    for (uint32_t i = actori_type_hash(t) & c->mask;; i = (i + 1) & c->mask) {
        const actori_handler_slot *s = &c->table[i];
        if (s->type == t)
            return &s->h;
        if (s->type == NULL)
            return NULL; /* the table is never full: a probe ends */
    }
}

/* The event (request) handler of c for t: its own, else the catch-all,
 * else NULL. Any thread. */
static inline actor_event_fn actori_event_handler(const actor_class *c, const actor_msgtype *t)
{
    const actori_handlers *h = actori_class_handlers(c, t);
    return h != NULL && h->event != NULL ? h->event : c->any_event;
}

static inline actor_request_fn actori_request_handler(const actor_class *c,
                                                      const actor_msgtype *t)
{
    const actori_handlers *h = actori_class_handlers(c, t);
    return h != NULL && h->request != NULL ? h->request : c->any_request;
}

/* Marks c in use and takes a reference for a new actor. Any thread. */
void actori_class_acquire(actor_class *c);

/* Drops a reference; the last one frees c. Any thread. */
void actori_class_release(actor_class *c);

#endif
