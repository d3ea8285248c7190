/* Internal: a pool of small fixed-size blocks for envelopes. Worker threads
 * allocate and free through a cache of their own (a few instructions, no
 * lock); caches trade batches with a global pool under a mutex; blocks are
 * carved from 64 KiB slabs. Once the last runtime is freed and every block
 * is back, the slabs are freed too. Other threads use malloc instead. */
#ifndef ACTORI_POOL_H
#define ACTORI_POOL_H

#include "mpscq.h"

#include <stddef.h>
#include <stdint.h>

#define ACTORI_POOL_CLASSES 4 /* blocks of 32, 64, 128 and 256 bytes */

typedef struct actori_cache {
    actori_node *head[ACTORI_POOL_CLASSES];
    uint32_t count[ACTORI_POOL_CLASSES];
} actori_cache;

/* The class (1-based) of blocks that hold `size` bytes, or 0 when too big. */
static inline unsigned actori_pool_class(size_t size)
{
    return size <= 32 ? 1 : size <= 64 ? 2 : size <= 128 ? 3 : size <= 256 ? 4 : 0;
}

/* Refills c's list i from the global pool or a new slab: 0, or -1 on
 * ENOMEM. c's thread. */
int actori_pool_refill(actori_cache *c, unsigned i);

/* A block of class cls (1-based) from cache c. NULL on ENOMEM. c's thread.
 * Inline: a few instructions on every message, which a call would double. */
static inline void *actori_pool_alloc(actori_cache *c, unsigned cls)
{
    unsigned i = cls - 1;
    if (__builtin_expect(c->head[i] == NULL, 0) && actori_pool_refill(c, i) != 0)
        return NULL;
    actori_node *n = c->head[i];
    c->head[i] = atomic_load_explicit(&n->next, memory_order_relaxed);
    c->count[i]--;
    return n;
}

/* Gives a block of class cls back: to cache c (c's thread), or with c NULL
 * straight to the global pool (any thread). */
void actori_pool_free(actori_cache *c, void *block, unsigned cls);

/* Gives every block of c back to the global pool (a worker that ends). */
void actori_pool_flush(actori_cache *c);

/* A runtime begins / ends: the pool frees its slabs when the count of
 * runtimes drops to 0 and every block is back. Any thread. */
void actori_pool_runtime_up(void);
void actori_pool_runtime_down(void);

#endif
