/* Internal: envelopes, the messages of a mailbox. One block holds the
 * header and the copied payload (32 bytes for an event of 8). The kind says
 * how the envelope dispatches. */
#ifndef ACTORI_ENVELOPE_H
#define ACTORI_ENVELOPE_H

#include "mpscq.h"

#include <actor/actor.h>
#include <stdalign.h>

enum actori_kind {
    ACTORI_EVENT,     /* a fire-and-forget event: payload for the event handler     */
    ACTORI_REQUEST,   /* a request: the responder it completes, then the payload    */
    ACTORI_RESPONSE,  /* a forwarded responder's outcome for on_response            */
    ACTORI_TICK,      /* a timer's event: key and generation, then the payload      */
    ACTORI_INTERRUPT, /* addr_interrupt                                             */
    ACTORI_CLOSE,     /* embedded: the last counted address was released            */
    ACTORI_SHUTDOWN,  /* embedded: the runtime shuts down (an interrupt)            */
    ACTORI_WAKE,      /* embedded: look at the supervisor's stop request            */
    ACTORI_DOWN,      /* a monitored actor is Done: the monitor and the reason      */
    ACTORI_DATA,      /* a frame its connection received (lib/io)                   */
    ACTORI_IO_END     /* its connection ended: the reason (lib/io)                  */
};

/* The part every mailbox message has; embedded control messages are just this. */
typedef struct actori_msg {
    actori_node node;   /* first: the queue (and the pool's free list) link through it */
    uint8_t kind;
    uint8_t pool_class; /* 0: from malloc; else the envelope pool's class */
    uint16_t unused;
    uint32_t len;       /* payload bytes */
} actori_msg;

typedef struct actori_env {
    actori_msg msg;
    const actor_msgtype *type;
    alignas(8) unsigned char data[]; /* REQUEST, RESPONSE: the responder first */
} actori_env;

_Static_assert(sizeof(actori_env) == 24, "an 8-byte event must fit 32 bytes");

static inline int actori_env_has_responder(const actori_env *e)
{
    return e->msg.kind == ACTORI_REQUEST || e->msg.kind == ACTORI_RESPONSE;
}

/* Bytes before the payload: a responder pointer (REQUEST, RESPONSE) or a
 * timer's key and generation (TICK). */
static inline size_t actori_env_prefix(uint8_t kind)
{
    /* A shift table rather than branches: this runs twice per message. */
    return (size_t)((0x2110ull >> (kind * 4)) & 0xf) * 8; /* EVENT 0, REQUEST and RESPONSE 8, TICK 16 */
}

/* The responder slot of a REQUEST or RESPONSE envelope. */
static inline actor_responder **actori_env_responder(actori_env *e)
{
    return (actor_responder **)(void *)e->data;
}

/* The payload (8-byte aligned). */
static inline unsigned char *actori_env_payload(actori_env *e)
{
    return e->data + actori_env_prefix(e->msg.kind);
}

/* The payload of an envelope whose kind the caller knows (a constant):
 * the offset folds, where actori_env_payload must reload the kind byte
 * after any store (a char may alias anything). */
static inline unsigned char *actori_env_payload_as(actori_env *e, uint8_t kind)
{
    return e->data + actori_env_prefix(kind);
}

/* A new envelope of `kind` with a copy of payload (len bytes) and its
 * prefix zeroed (for REQUEST and RESPONSE, the responder slot is NULL). From the envelope
 * pool on a worker thread, else from malloc. NULL on ENOMEM (also for
 * payloads of 4 GiB and more). Any thread. */
actori_env *actori_env_new(uint8_t kind, const actor_msgtype *t, const void *payload, size_t len);

/* Frees an envelope made by actori_env_new. Any thread. */
void actori_env_free(actori_env *e);

#endif
