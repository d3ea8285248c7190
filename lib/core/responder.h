/* Internal: the responder, the completion shared by a requester and the
 * request (the seed's oneshot). Two references: the requester's handle and
 * the request side (an envelope, a handler, or a promise). */
#ifndef ACTORI_RESPONDER_H
#define ACTORI_RESPONDER_H

#include "clock.h"
#include "envelope.h"

#include <actor/actor.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* state bits */
#define ACTORI_R_COMPLETE 1u  /* status, data published                      */
#define ACTORI_R_THEN 2u      /* a then-callback is set                      */
#define ACTORI_R_FD 4u        /* an eventfd was made: write it at completion */
#define ACTORI_R_FORWARD 8u   /* forwarded: deliver to an actor at completion */
#define ACTORI_R_WAITER 16u   /* someone sleeps on the state word            */
#define ACTORI_R_FREED 32u    /* the handle was freed: no callback any more  */
#define ACTORI_R_CB_DONE 64u  /* the then-callback has returned              */
#define ACTORI_R_CLAIMED 128u /* a completer won the right to complete (only
                                 with a deadline: the request side and the
                                 clock race for it)                          */

#define ACTORI_R_INLINE 16

struct actor_responder {
    /* The first line: what every request and its answer touch on both
     * threads (made by the requester, completed on the handler's thread,
     * read back by the requester). Each line the two threads share is a
     * transfer between cores per request; the 1.1 fields had pushed the
     * reply's bytes to a third line (W1 gained 3-4% from this order). */
    _Atomic uint32_t state;
    _Atomic uint32_t refs;
    int status;       /* final status, written before COMPLETE */
    int handler_error;
    const actor_msgtype *type;
    size_t len;
    unsigned char *data; /* reply bytes: inline_buf or a heap block */
    alignas(16) unsigned char inline_buf[ACTORI_R_INLINE];
    /* The second: written when made (or forwarded), read on completion. */
    struct actor_runtime *manual_rt; /* the target's, if manual: waits drive it */
    actor_addr *forward_to;   /* counted until delivery */
    actori_env *forward_env;  /* made by forward: delivery cannot fail */
    uint64_t forward_tag;     /* given to on_response through actor_ctx_tag */
    actori_timed deadline;    /* armed on the target's clock (interact_within) */
    const actori_clock *deadline_clock; /* that clock, or NULL: no deadline; set
                                           before the request is sent, read-only
                                           then (the runtime's memory outlives
                                           every request of it) */
    /* Then-callbacks and fds, the asynchronous waits. */
    void (*cb)(actor_responder *, void *);
    void *ud;
    _Atomic int efd;
};

static inline bool actori_responder_has_deadline(const actor_responder *r)
{
    return r->deadline_clock != NULL;
}

/* A new pending responder for type t with both references taken. NULL on
 * ENOMEM. Any thread. */
actor_responder *actori_responder_new(const actor_msgtype *t);

/* Where a reply of len bytes will go: NULL (r's inline buffer) or a new
 * block. ACTOR_OK or ACTOR_ENOMEM (then nothing changed). Any thread. */
int actori_responder_reply_buf(size_t len, unsigned char **buf);

/* Completes r with ACTOR_OK and a copy of reply in buf (from
 * actori_responder_reply_buf), unless its deadline completed it first (then
 * the reply goes nowhere); drops the request side's reference either way.
 * The request side only. */
void actori_responder_reply(actor_responder *r, unsigned char *buf, const void *reply, size_t len);

/* Completes r once with status (and handler_error), wakes every kind of
 * waiter, then drops the request side's reference. If the deadline took r
 * first, only drops the reference. The request side only. */
void actori_responder_complete(actor_responder *r, int status, int handler_error);

/* True once r is complete, or its completion is under way. Any thread. */
static inline bool actori_responder_settled(actor_responder *r)
{
    return (atomic_load_explicit(&r->state, memory_order_acquire) &
            (ACTORI_R_COMPLETE | ACTORI_R_CLAIMED)) != 0;
}

/* Drops one reference; the last frees r (and closes its fd). Any thread. */
void actori_responder_release(actor_responder *r);

#endif
