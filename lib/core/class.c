/* Actor classes: the behaviour (hooks and per-type handlers) and the
 * process-wide registry of classes by name. */
#include "class.h"

#include "alloc.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t class_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static actor_class *class_registry;

void actori_class_atfork(int lock)
{
    if (lock)
        pthread_mutex_lock(&class_registry_lock);
    else
        pthread_mutex_unlock(&class_registry_lock);
}

int actor_class_new(const char *name, actor_class **out)
{
    if (out == NULL || !actori_name_valid(name))
        return ACTOR_EINVAL;
    actor_class *c = actori_calloc(1, sizeof *c);
    if (c == NULL)
        return ACTOR_ENOMEM;
    atomic_init(&c->refs, 1);
    atomic_init(&c->in_use, 0);
    strcpy(c->name, name);
    *out = c;
    return ACTOR_OK;
}

const char *actor_class_name(const actor_class *c) { return c ? c->name : NULL; }

/* Setters may run only while no actor uses the class: relaxed is enough, a
 * class is set up by one thread before it is shared (documented). */
static int settable(const actor_class *c)
{
    if (c == NULL)
        return ACTOR_EINVAL;
    return atomic_load_explicit(&c->in_use, memory_order_relaxed) ? ACTOR_EBUSY : ACTOR_OK;
}

#define ACTORI_SETTER(fn_name, field, type)                                                    \
    int fn_name(actor_class *c, type fn)                                                       \
    {                                                                                          \
        int rc = settable(c);                                                                  \
        if (rc == ACTOR_OK)                                                                    \
            c->field = fn;                                                                     \
        return rc;                                                                             \
    }

ACTORI_SETTER(actor_class_on_init, init, actor_init_fn)
ACTORI_SETTER(actor_class_on_finalize, finalize, actor_finalize_fn)
ACTORI_SETTER(actor_class_on_interrupt, interrupt, actor_interrupt_fn)
ACTORI_SETTER(actor_class_on_fallback, fallback, actor_fallback_fn)
ACTORI_SETTER(actor_class_on_any_event, any_event, actor_event_fn)
ACTORI_SETTER(actor_class_on_any_request, any_request, actor_request_fn)
ACTORI_SETTER(actor_class_on_down, on_down, actor_down_fn)
ACTORI_SETTER(actor_class_on_data, on_data, actor_data_fn)

int actor_class_set_framing(actor_class *c, int framing, size_t max_frame)
{
    if ((framing != ACTOR_FRAME_RAW && framing != ACTOR_FRAME_LINE &&
         framing != ACTOR_FRAME_LEN32) ||
        max_frame > ACTOR_FRAME_MAX)
        return ACTOR_EINVAL;
    int rc = settable(c);
    if (rc == ACTOR_OK) {
        c->framing = framing;
        c->max_frame = max_frame;
    }
    return rc;
}

int actor_class_set_state_free(actor_class *c, void (*free_fn)(void *state))
{
    int rc = settable(c);
    if (rc == ACTOR_OK)
        c->state_free = free_fn;
    return rc;
}

int actor_class_set_userdata(actor_class *c, void *userdata)
{
    int rc = settable(c);
    if (rc == ACTOR_OK)
        c->userdata = userdata;
    return rc;
}

void *actor_class_userdata(const actor_class *c) { return c ? c->userdata : NULL; }

int actor_class_set_mailbox(actor_class *c, size_t capacity, int overflow)
{
    if ((overflow != ACTOR_OVERFLOW_REJECT && overflow != ACTOR_OVERFLOW_DROP) ||
        capacity > ACTOR_MAILBOX_MAX)
        return ACTOR_EINVAL;
    int rc = settable(c);
    if (rc == ACTOR_OK) {
        c->mailbox_cap = (uint32_t)capacity;
        c->room_mark = (uint32_t)capacity / 2;
        c->overflow = (uint8_t)overflow;
    }
    return rc;
}

int actor_class_set_state_size(actor_class *c, size_t size)
{
    int rc = settable(c);
    if (rc == ACTOR_OK)
        c->state_size = size;
    return rc;
}

/* The slot of t in a table of mask + 1 slots: its own, or the empty one
 * where it belongs. */
static actori_handler_slot *probe(actori_handler_slot *table, uint32_t mask,
                                  const actor_msgtype *t)
{
    uint32_t i = actori_type_hash(t) & mask;
    while (table[i].type != NULL && table[i].type != t)
        i = (i + 1) & mask;
    return &table[i];
}

/* The handlers of type t in c, added (and the table grown) if needed; memory
 * grows with the types a class handles, not with the process's types. NULL
 * on ENOMEM. */
static actori_handlers *slot(actor_class *c, const actor_msgtype *t)
{
    if (c->table != NULL) {
        actori_handler_slot *s = probe(c->table, c->mask, t);
        if (s->type == t)
            return &s->h;
    }
    uint32_t size = c->table ? c->mask + 1 : 0;
    if (2 * (c->used + 1) > size) { /* keep at most half the slots taken */
        uint32_t grown = size ? 2 * size : 8;
        actori_handler_slot *table = actori_calloc(grown, sizeof *table);
        if (table == NULL)
            return NULL;
        for (uint32_t i = 0; i < size; i++)
            if (c->table[i].type != NULL)
                *probe(table, grown - 1, c->table[i].type) = c->table[i];
        actori_free(c->table);
        c->table = table;
        c->mask = grown - 1;
    }
    actori_handler_slot *s = probe(c->table, c->mask, t);
    s->type = t;
    c->used++;
    return &s->h;
}

#define ACTORI_HANDLER_SETTER(fn_name, field, type)                                            \
    int fn_name(actor_class *c, const actor_msgtype *t, type fn)                               \
    {                                                                                          \
        int rc = settable(c);                                                                  \
        if (rc != ACTOR_OK)                                                                    \
            return rc;                                                                         \
        if (t == NULL)                                                                         \
            return ACTOR_EINVAL;                                                               \
        actori_handlers *h = slot(c, t);                                                       \
        if (h == NULL)                                                                         \
            return ACTOR_ENOMEM;                                                               \
        h->field = fn;                                                                         \
        return ACTOR_OK;                                                                       \
    }

ACTORI_HANDLER_SETTER(actor_class_on_event, event, actor_event_fn)
ACTORI_HANDLER_SETTER(actor_class_on_request, request, actor_request_fn)
ACTORI_HANDLER_SETTER(actor_class_on_response, response, actor_response_fn)

int actor_class_register(actor_class *c)
{
    if (c == NULL)
        return ACTOR_EINVAL;
    pthread_mutex_lock(&class_registry_lock);
    for (actor_class *k = class_registry; k; k = k->next) {
        if (strcmp(k->name, c->name) == 0) {
            pthread_mutex_unlock(&class_registry_lock);
            return ACTOR_EBUSY;
        }
    }
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    c->registered = 1;
    c->next = class_registry;
    class_registry = c;
    pthread_mutex_unlock(&class_registry_lock);
    return ACTOR_OK;
}

actor_class *actor_class_find(const char *name)
{
    if (name == NULL)
        return NULL;
    pthread_mutex_lock(&class_registry_lock);
    actor_class *found = NULL;
    for (actor_class *k = class_registry; k && !found; k = k->next)
        if (strcmp(k->name, name) == 0)
            found = k;
    pthread_mutex_unlock(&class_registry_lock);
    return found;
}

void actori_class_acquire(actor_class *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    /* Freezes the handler tables; the actor's first callback runs after the
     * spawn's scheduling (a release/acquire chain), so readers see them. */
    atomic_store_explicit(&c->in_use, 1, memory_order_relaxed);
}

void actori_class_release(actor_class *c)
{
    /* acq_rel: the last release sees every use of the class before freeing. */
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        actori_free(c->table);
        actori_free(c);
    }
}

void actor_class_free(actor_class *c)
{
    if (c != NULL)
        actori_class_release(c);
}
