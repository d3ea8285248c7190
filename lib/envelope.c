/* Envelopes: header and payload in one allocation. */
#include "envelope.h"

#include "alloc.h"

#include <stdint.h>
#include <string.h>

actori_env *actori_env_new(uint32_t kind, const actor_msgtype *t, const void *payload,
                           size_t len)
{
    if (len > SIZE_MAX - sizeof(actori_env))
        return NULL;
    actori_env *e = actori_malloc(sizeof *e + len);
    if (e == NULL)
        return NULL;
    e->msg.kind = kind;
    e->type = t;
    e->resp = NULL;
    e->len = len;
    if (len > 0)
        memcpy(e->payload, payload, len);
    return e;
}

void actori_env_free(actori_env *e) { actori_free(e); }
