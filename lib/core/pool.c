/* The envelope pool: see pool.h. Blocks link through their first word (the
 * envelope's queue node), so a free block costs no extra memory. */
#include "pool.h"

#include "alloc.h"

#include <pthread.h>

#define SLAB_BYTES (64 * 1024)
#define BATCH 128 /* blocks moved between a cache and the global pool at once */

static const size_t class_size[ACTORI_POOL_CLASSES] = {32, 64, 128, 256};

typedef struct slab {
    struct slab *next;
} slab;

/* A batch: BATCH blocks chained through their nodes; the first block's
 * second word links the batches of the global list. */
typedef struct batch_head {
    actori_node node;
    struct batch_head *next_batch;
} batch_head;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

void actori_pool_atfork(int lock)
{
    if (lock)
        pthread_mutex_lock(&pool_lock);
    else
        pthread_mutex_unlock(&pool_lock);
}
static batch_head *batches[ACTORI_POOL_CLASSES]; /* full batches             */
static actori_node *loose[ACTORI_POOL_CLASSES];  /* single blocks (non-workers) */
static size_t loose_count[ACTORI_POOL_CLASSES];
static size_t carved[ACTORI_POOL_CLASSES];       /* blocks made              */
static size_t returned[ACTORI_POOL_CLASSES];     /* blocks in the global pool */
static slab *slabs;
static unsigned runtimes;

static actori_node *next_of(actori_node *n)
{
    return atomic_load_explicit(&n->next, memory_order_relaxed);
}

static void set_next(actori_node *n, actori_node *next)
{
    atomic_store_explicit(&n->next, next, memory_order_relaxed);
}

/* Refills c's list of class i: a batch from the global pool, else a new slab. */
int actori_pool_refill(actori_cache *c, unsigned i)
{
    pthread_mutex_lock(&pool_lock);
    batch_head *b = batches[i];
    if (b != NULL) {
        batches[i] = b->next_batch;
        returned[i] -= BATCH;
        pthread_mutex_unlock(&pool_lock);
        c->head[i] = &b->node;
        c->count[i] = BATCH;
        return 0;
    }
    if (loose[i] != NULL) {
        c->head[i] = loose[i];
        c->count[i] = (uint32_t)loose_count[i];
        returned[i] -= loose_count[i];
        loose[i] = NULL;
        loose_count[i] = 0;
        pthread_mutex_unlock(&pool_lock);
        return 0;
    }
    slab *s = actori_malloc(SLAB_BYTES);
    if (s == NULL) {
        pthread_mutex_unlock(&pool_lock);
        return -1;
    }
    s->next = slabs;
    slabs = s;
    size_t size = class_size[i];
    /* Blocks start at a multiple of their size past the slab header's word. */
    char *first = (char *)s + size;
    size_t n = (SLAB_BYTES - size) / size;
    carved[i] += n;
    pthread_mutex_unlock(&pool_lock);
    for (size_t k = 0; k < n; k++) {
        actori_node *node = (actori_node *)(first + k * size);
        set_next(node, k + 1 < n ? (actori_node *)(first + (k + 1) * size) : c->head[i]);
    }
    c->head[i] = (actori_node *)first;
    c->count[i] += (uint32_t)n;
    return 0;
}


/* Moves BATCH blocks of c's list i to the global pool. */
static void spill(actori_cache *c, unsigned i)
{
    actori_node *first = c->head[i], *last = first;
    for (unsigned k = 1; k < BATCH; k++)
        last = next_of(last);
    c->head[i] = next_of(last);
    c->count[i] -= BATCH;
    set_next(last, NULL);
    batch_head *b = (batch_head *)first;
    pthread_mutex_lock(&pool_lock);
    b->next_batch = batches[i];
    batches[i] = b;
    returned[i] += BATCH;
    pthread_mutex_unlock(&pool_lock);
}

void actori_pool_free(actori_cache *c, void *block, unsigned cls)
{
    unsigned i = cls - 1;
    actori_node *n = block;
    if (c == NULL) {
        pthread_mutex_lock(&pool_lock);
        set_next(n, loose[i]);
        loose[i] = n;
        loose_count[i]++;
        returned[i]++;
        pthread_mutex_unlock(&pool_lock);
        return;
    }
    set_next(n, c->head[i]);
    c->head[i] = n;
    if (++c->count[i] >= 3 * BATCH)
        spill(c, i);
}

void actori_pool_flush(actori_cache *c)
{
    for (unsigned i = 0; i < ACTORI_POOL_CLASSES; i++) {
        while (c->count[i] >= BATCH)
            spill(c, i);
        actori_node *n = c->head[i];
        while (n != NULL) {
            actori_node *next = next_of(n);
            actori_pool_free(NULL, n, i + 1);
            n = next;
        }
        c->head[i] = NULL;
        c->count[i] = 0;
    }
}

void actori_pool_runtime_up(void)
{
    pthread_mutex_lock(&pool_lock);
    runtimes++;
    pthread_mutex_unlock(&pool_lock);
}

void actori_pool_runtime_down(void)
{
    pthread_mutex_lock(&pool_lock);
    int all_back = --runtimes == 0;
    for (unsigned i = 0; i < ACTORI_POOL_CLASSES && all_back; i++)
        all_back = returned[i] == carved[i];
    slab *s = NULL;
    if (all_back) {
        /* Nothing is out: the memory goes back, as a process without
         * runtimes should hold none (leak checkers agree). */
        s = slabs;
        slabs = NULL;
        for (unsigned i = 0; i < ACTORI_POOL_CLASSES; i++) {
            batches[i] = NULL;
            loose[i] = NULL;
            loose_count[i] = carved[i] = returned[i] = 0;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    while (s != NULL) {
        slab *next = s->next;
        actori_free(s);
        s = next;
    }
}
