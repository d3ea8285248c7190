/* Envelopes: header and payload in one block, pooled on worker threads. */
#include "envelope.h"

#include "alloc.h"
#include "pool.h"
#include "runtime.h"

#include <stdint.h>
#include <string.h>

/* Under AddressSanitizer every envelope comes from malloc, so that a use
 * after free of an envelope is caught rather than hidden by recycling. */
#if defined(__SANITIZE_ADDRESS__)
#define ACTORI_USE_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACTORI_USE_POOL 0
#endif
#endif
#ifndef ACTORI_USE_POOL
#define ACTORI_USE_POOL 1
#endif

actori_env *actori_env_new(uint8_t kind, const actor_msgtype *t, const void *payload, size_t len)
{
    size_t extra = actori_env_prefix(kind);
    if (len > UINT32_MAX - 64)
        return NULL;
    size_t size = sizeof(actori_env) + extra + len;
    actori_worker *w = actori_current_worker();
    unsigned cls = (ACTORI_USE_POOL && w != NULL) ? actori_pool_class(size) : 0;
    actori_env *e = cls ? actori_pool_alloc(&w->cache, cls) : actori_malloc(size);
    if (e == NULL)
        return NULL;
    e->msg.kind = kind;
    e->msg.pool_class = (uint8_t)cls;
    e->msg.unused = 0;
    e->msg.len = (uint32_t)len;
    e->type = t;
    /* Fixed-size stores: a memset of a variable length (0, 8 or 16) is a
     * loop of 26 instructions per message (callgrind, W1). */
    if (extra) {
        memset(e->data, 0, 8);
        if (extra > 8)
            memset(e->data + 8, 0, 8);
    }
    if (len > 0)
        memcpy(e->data + extra, payload, len);
    return e;
}

void actori_env_free(actori_env *e)
{
    if (e->msg.pool_class == 0) {
        actori_free(e);
        return;
    }
    actori_worker *w = actori_current_worker();
    actori_pool_free(w ? &w->cache : NULL, e, e->msg.pool_class);
}
