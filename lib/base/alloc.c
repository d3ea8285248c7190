/* The allocator indirection: one place to route (and in tests, fail) memory.
 * libevent's allocations are routed through the same functions. */
#include "alloc.h"

#include <actor/actor.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *(*malloc_fn)(size_t) = malloc;
static void *(*calloc_fn)(size_t, size_t) = calloc;
static void *(*realloc_fn)(void *, size_t) = realloc;
static void (*free_fn)(void *) = free;

/* Set by the first allocation: from then on the allocator is fixed. A
 * relaxed load first, so the hot path does not write a shared line. */
static _Atomic int allocator_fixed;

static inline void fix_allocator(void)
{
    if (!atomic_load_explicit(&allocator_fixed, memory_order_relaxed))
        atomic_store_explicit(&allocator_fixed, 1, memory_order_relaxed);
}

void *actori_malloc(size_t size)
{
    fix_allocator();
    return malloc_fn(size ? size : 1);
}

void *actori_calloc(size_t n, size_t size)
{
    fix_allocator();
    return calloc_fn(n ? n : 1, size ? size : 1);
}

void *actori_realloc(void *p, size_t size)
{
    fix_allocator();
    return realloc_fn(p, size ? size : 1);
}

void actori_free(void *p) { free_fn(p); }

/* libevent does not check every allocation it makes (event_base_new leaves
 * its lock NULL, and runs unlocked, when that allocation fails): its
 * failures are noted per thread, for the caller to check. */
static _Thread_local int event_alloc_failed;

static void *event_malloc(size_t size)
{
    void *p = actori_malloc(size);
    if (p == NULL)
        event_alloc_failed = 1;
    return p;
}

static void *event_realloc(void *p, size_t size)
{
    void *q = actori_realloc(p, size);
    if (q == NULL)
        event_alloc_failed = 1;
    return q;
}

int actori_event_alloc_failed(int reset)
{
    int failed = event_alloc_failed;
    if (reset)
        event_alloc_failed = 0;
    return failed;
}

int actor_set_allocator(void *(*malloc_f)(size_t), void *(*calloc_f)(size_t, size_t),
                        void *(*realloc_f)(void *, size_t), void (*free_f)(void *))
{
    if (malloc_f == NULL || calloc_f == NULL || realloc_f == NULL || free_f == NULL)
        return ACTOR_EINVAL;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&allocator_fixed, &expected, 1))
        return ACTOR_EBUSY;
    malloc_fn = malloc_f;
    calloc_fn = calloc_f;
    realloc_fn = realloc_f;
    free_fn = free_f;
    /* Before any libevent call (this call comes before any other of ours). */
    event_set_mem_functions(event_malloc, event_realloc, free_f);
    return ACTOR_OK;
}

int actori_strdup(const char *s, char **out)
{
    if (s == NULL) {
        *out = NULL;
        return 0;
    }
    size_t n = strlen(s) + 1;
    char *copy = actori_malloc(n);
    if (copy == NULL)
        return -1;
    memcpy(copy, s, n);
    *out = copy;
    return 0;
}
