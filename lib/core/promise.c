/* Promises: a request taken out of its handler, answered later from any
 * thread. The runtime keeps the promises in a set, so that freeing it can
 * cancel what is still held (nothing left hanging); the set is counted so
 * that a promise may outlive the runtime. */
#include "promise.h"

#include "alloc.h"
#include "cell.h"
#include "responder.h"
#include "runtime.h"

#include <pthread.h>

struct actori_promises {
    pthread_mutex_t lock;
    _Atomic uint32_t refs; /* the runtime's and one per promise */
    int closed;
    uint32_t fork_gen;     /* see ACTORI_INHERITED */
    actor_promise *list;
};

struct actor_promise {
    actor_responder *r;    /* the request side; NULL once the runtime cancelled it */
    actori_promises *set;
    actor_promise *prev, *next;
};

int actori_promises_new(actori_promises **out)
{
    actori_promises *set = actori_calloc(1, sizeof *set);
    if (set == NULL)
        return ACTOR_ENOMEM;
    pthread_mutex_init(&set->lock, NULL);
    atomic_init(&set->refs, 1);
    set->fork_gen = atomic_load_explicit(&actori_fork_gen, memory_order_relaxed);
    *out = set;
    return ACTOR_OK;
}

static void set_release(actori_promises *set)
{
    if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&set->lock);
        actori_free(set);
    }
}

static void unlink_locked(actori_promises *set, actor_promise *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        set->list = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

void actori_promises_close(actori_promises *set)
{
    pthread_mutex_lock(&set->lock);
    set->closed = 1;
    pthread_mutex_unlock(&set->lock);
    /* One at a time, completing outside the lock: a then-callback may resolve
     * another promise of this very set. */
    for (;;) {
        pthread_mutex_lock(&set->lock);
        actor_promise *p = set->list;
        actor_responder *r = NULL;
        if (p != NULL) {
            unlink_locked(set, p);
            r = p->r;
            p->r = NULL;
        }
        pthread_mutex_unlock(&set->lock);
        if (p == NULL)
            break;
        actori_responder_complete(r, ACTOR_ECANCELED, 0);
    }
    set_release(set);
}

int actor_ctx_defer(actor_ctx *ctx, actor_promise **out)
{
    if (ctx == NULL || out == NULL)
        return ACTOR_EINVAL;
    actor_addr *a = (actor_addr *)ctx;
    if (actori_cell_request(a) == NULL)
        return ACTOR_EINVAL;
    actor_promise *p = actori_calloc(1, sizeof *p);
    if (p == NULL)
        return ACTOR_ENOMEM;
    actori_promises *set = a->home->promises;
    p->set = set;
    p->r = actori_cell_take_request(a);
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&set->lock);
    p->next = set->list;
    if (set->list != NULL)
        set->list->prev = p;
    set->list = p;
    pthread_mutex_unlock(&set->lock);
    *out = p;
    return ACTOR_OK;
}

static void promise_destroy(actor_promise *p)
{
    set_release(p->set);
    actori_free(p);
}

/* Takes the request side out of p for an answer. Returns ACTOR_OK and *r;
 * ACTOR_ECLOSED when the runtime cancelled it (p stays the caller's: only
 * actor_promise_free destroys it then). With a reply, also checks its size
 * and makes its buffer first (ETYPE, ENOMEM leave p as it was). */
static int take(actor_promise *p, size_t len, int with_reply, unsigned char **buf,
                actor_responder **r)
{
    actori_promises *set = p->set;
    if (ACTORI_INHERITED(set))
        return ACTOR_ECLOSED; /* completing would wake the parent's workers */
    pthread_mutex_lock(&set->lock);
    actor_responder *req = p->r;
    if (req == NULL) {
        pthread_mutex_unlock(&set->lock);
        return ACTOR_ECLOSED;
    }
    if (with_reply) {
        int rc = actori_msgtype_reply_fits(req->type, len) ? actori_responder_reply_buf(len, buf)
                                                          : ACTOR_ETYPE;
        if (rc != ACTOR_OK) {
            pthread_mutex_unlock(&set->lock);
            return rc;
        }
    }
    unlink_locked(set, p);
    p->r = NULL;
    pthread_mutex_unlock(&set->lock);
    *r = req;
    return ACTOR_OK;
}

int actor_promise_resolve(actor_promise *p, const void *reply, size_t len)
{
    if (p == NULL || (reply == NULL && len > 0))
        return ACTOR_EINVAL;
    actor_responder *r;
    unsigned char *buf;
    int rc = take(p, len, 1, &buf, &r);
    if (rc != ACTOR_OK)
        return rc;
    promise_destroy(p);
    actori_responder_reply(r, buf, reply, len); /* late (expired): goes nowhere */
    return ACTOR_OK;
}

int actor_promise_reject(actor_promise *p, int err)
{
    if (p == NULL || err == 0)
        return ACTOR_EINVAL;
    actor_responder *r;
    int rc = take(p, 0, 0, NULL, &r);
    if (rc != ACTOR_OK)
        return rc;
    promise_destroy(p);
    actori_responder_complete(r, ACTOR_EHANDLER, err);
    return ACTOR_OK;
}

void actor_promise_free(actor_promise *p)
{
    if (p == NULL)
        return;
    actor_responder *r = NULL;
    int rc = take(p, 0, 0, NULL, &r);
    promise_destroy(p);
    if (rc == ACTOR_OK) /* else the runtime cancelled the request already */
        actori_responder_complete(r, ACTOR_ECANCELED, 0);
}
