/* Internal: promises, deferred answers to requests, and the per-runtime set
 * of promises still held (cancelled when the runtime is freed). */
#ifndef ACTORI_PROMISE_H
#define ACTORI_PROMISE_H

#include <actor/actor.h>

typedef struct actori_promises actori_promises;

/* A new, empty set with the runtime's reference. ACTOR_OK or ACTOR_ENOMEM. */
int actori_promises_new(actori_promises **out);

/* Cancels every promise still held (their requests complete ECANCELED, later
 * resolves return ACTOR_ECLOSED) and drops the runtime's reference. Called
 * once, when the runtime is freed, outside any lock. */
void actori_promises_close(actori_promises *set);

#endif
