/* The name registry: per runtime, a name (the type-name rule) for an
 * address. The registry holds a counted address until the actor is Done
 * (then the name is free again) or the name is unregistered; a restart in
 * place is not Done, so a restarted child keeps its name. One process-wide
 * hash of (runtime, name) under one mutex: lookups are rare next to
 * messages, and names are few. */
#include "alloc.h"
#include "cell.h"
#include "msgtype.h"
#include "runtime.h"

#include <pthread.h>
#include <string.h>

#define NAMES_PART ACTORI_PART_NAMES
#define BUCKETS 256

typedef struct name_entry {
    actor_runtime *rt;
    actor_addr *a; /* counted */
    struct name_entry *next;
    char name[ACTORI_NAME_MAX + 1];
} name_entry;

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static name_entry *buckets[BUCKETS];

void actori_names_atfork(int lock)
{
    if (lock)
        pthread_mutex_lock(&names_lock);
    else
        pthread_mutex_unlock(&names_lock);
}

static unsigned bucket_of(const actor_runtime *rt, const char *name)
{
    uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)rt >> 4);
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % BUCKETS;
}

static name_entry **find_locked(const actor_runtime *rt, const char *name)
{
    name_entry **p = &buckets[bucket_of(rt, name)];
    while (*p != NULL && ((*p)->rt != rt || strcmp((*p)->name, name) != 0))
        p = &(*p)->next;
    return p;
}

/* The actor is Done: its names go. Idempotent (it may race with a
 * register that saw it Done and cleans up too). */
static void names_done(actor_addr *a)
{
    name_entry *gone = NULL;
    pthread_mutex_lock(&names_lock);
    for (unsigned i = 0; i < BUCKETS; i++)
        for (name_entry **p = &buckets[i]; *p != NULL;) {
            if ((*p)->a == a) {
                name_entry *e = *p;
                *p = e->next;
                e->next = gone;
                gone = e;
            } else {
                p = &(*p)->next;
            }
        }
    pthread_mutex_unlock(&names_lock);
    while (gone != NULL) {
        name_entry *next = gone->next;
        addr_release(gone->a);
        actori_free(gone);
        gone = next;
    }
}

static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_setup(void) { actori_part_register(NAMES_PART, names_done); }

int actor_name_register(actor_runtime *rt, const char *name, actor_addr *a)
{
    if (rt == NULL || a == NULL || !actori_name_valid(name) || a->home != rt)
        return ACTOR_EINVAL;
    if (actori_cell_open(a) != ACTOR_OK && addr_is_done(a))
        return ACTOR_ECLOSED;
    pthread_once(&names_once, names_setup);
    name_entry *e = actori_calloc(1, sizeof *e);
    if (e == NULL)
        return ACTOR_ENOMEM;
    e->rt = rt;
    e->a = addr_ref(a);
    strcpy(e->name, name);
    pthread_mutex_lock(&names_lock);
    name_entry **slot = find_locked(rt, name);
    bool taken = *slot != NULL;
    if (!taken)
        *slot = e;
    pthread_mutex_unlock(&names_lock);
    if (taken) {
        addr_release(e->a);
        actori_free(e);
        return ACTOR_EBUSY;
    }
    if (!actori_part_mark(a, NAMES_PART))
        names_done(a); /* it stopped for good meanwhile: its finish missed us */
    return ACTOR_OK;
}

int actor_name_unregister(actor_runtime *rt, const char *name)
{
    if (rt == NULL || !actori_name_valid(name))
        return ACTOR_EINVAL;
    pthread_mutex_lock(&names_lock);
    name_entry **slot = find_locked(rt, name);
    name_entry *e = *slot;
    if (e != NULL)
        *slot = e->next;
    pthread_mutex_unlock(&names_lock);
    if (e == NULL)
        return ACTOR_ENOENT;
    addr_release(e->a);
    actori_free(e);
    return ACTOR_OK;
}

int actor_name_lookup(actor_runtime *rt, const char *name, actor_addr **out)
{
    if (rt == NULL || out == NULL || !actori_name_valid(name))
        return ACTOR_EINVAL;
    pthread_mutex_lock(&names_lock);
    name_entry *e = *find_locked(rt, name);
    actor_addr *a = e != NULL ? addr_ref(e->a) : NULL; /* counted, under the lock */
    pthread_mutex_unlock(&names_lock);
    if (a == NULL)
        return ACTOR_ENOENT;
    *out = a;
    return ACTOR_OK;
}
