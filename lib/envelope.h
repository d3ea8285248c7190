/* Internal: envelopes, the messages of a mailbox. One allocation holds the
 * header and the copied payload. The kind says how the envelope dispatches. */
#ifndef ACTORI_ENVELOPE_H
#define ACTORI_ENVELOPE_H

#include "mpscq.h"

#include <actor/actor.h>
#include <stdalign.h>

enum actori_kind {
    ACTORI_EVENT,     /* a fire-and-forget event: payload for the event handler     */
    ACTORI_REQUEST,   /* a request: payload, and the responder it completes        */
    ACTORI_RESPONSE,  /* a forwarded responder's outcome for on_response            */
    ACTORI_INTERRUPT, /* addr_interrupt                                             */
    ACTORI_CLOSE,     /* embedded: the last counted address was released            */
    ACTORI_SHUTDOWN   /* embedded: the runtime shuts down (an interrupt)            */
};

/* The part every mailbox message has; embedded control messages are just this. */
typedef struct actori_msg {
    actori_node node; /* first: the queue links through it */
    uint32_t kind;
} actori_msg;

typedef struct actori_env {
    actori_msg msg;
    const actor_msgtype *type;
    actor_responder *resp; /* REQUEST: completes it; RESPONSE: the delivered one */
    size_t len;
    alignas(16) unsigned char payload[];
} actori_env;

/* A new envelope of `kind` with a copy of payload (len bytes). NULL on ENOMEM.
 * Any thread. */
actori_env *actori_env_new(uint32_t kind, const actor_msgtype *t, const void *payload,
                           size_t len);

/* Frees an envelope made by actori_env_new. Any thread. */
void actori_env_free(actori_env *e);

#endif
