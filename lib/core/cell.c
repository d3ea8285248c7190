/* The actor cell: lifecycle (init, one message at a time, finalize, Done),
 * dispatch of envelopes, and the drain that answers what a stopped actor
 * leaves queued, so that no requester is ever left hanging. */
#include "cell.h"

#include "alloc.h"
#include "log.h"
#include "responder.h"
#include "runtime.h"
#include "sync.h"


#include "timer.h"

static actor_ctx *ctx_of(actor_addr *a) { return (actor_ctx *)a; }
static actor_addr *cell_of(actor_ctx *ctx) { return (actor_addr *)ctx; }

void actori_cell_ref(actor_addr *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

void actori_cell_unref(actor_addr *a)
{
    /* acq_rel: the last owner sees every write of the others before freeing. */
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
        actori_class_release(a->cls);
        actori_free(a);
    }
}

static void cell_stop(actor_addr *a)
{
    a->stopping = 1;
    /* release: a sender that sees STOPPING and returns ECLOSED needs nothing
     * else; the bit only turns senders away early. */
    atomic_fetch_or_explicit(&a->status, ACTORI_S_STOPPING, memory_order_release);
}

static void default_fallback(actor_addr *a, const actor_msgtype *t, int err)
{
    actori_log(ACTOR_LOG_ERROR, "actor of class %s: event handler for %s failed: %d (%s)",
               a->cls->name, t->name, err, actor_strerror(err));
}

static void run_interrupt(actor_addr *a)
{
    if (a->cls->interrupt != NULL)
        a->cls->interrupt(ctx_of(a), a->state);
    else
        cell_stop(a);
}

void actori_cell_event_failed(actor_addr *a, const actor_msgtype *t, int err)
{
    if (a->cls->fallback != NULL)
        a->cls->fallback(ctx_of(a), a->state, t, err);
    else
        default_fallback(a, t, err);
}

static void dispatch_event(actor_addr *a, actori_env *e)
{
    const actori_handlers *h = actori_class_handlers(a->cls, e->type);
    int rc = (h && h->event) ? h->event(ctx_of(a), a->state, actori_env_payload(e), e->msg.len)
                             : ACTOR_ENOHANDLER;
    if (rc != 0)
        actori_cell_event_failed(a, e->type, rc);
}

/* A request with a deadline: true when it is not to be handled, because
 * its deadline passed (or the clock expired it already) before it began. */
static bool request_expired(actor_addr *a, actor_responder *r)
{
    if (actori_responder_settled(r) ||
        actori_clock_now(&a->home->clock) >= r->deadline.due_ns) {
        actori_responder_complete(r, ACTOR_EEXPIRED, 0);
        return true;
    }
    a->current_due = r->deadline.due_ns;
    return false;
}

static void dispatch_request(actor_addr *a, actori_env *e)
{
    const actori_handlers *h = actori_class_handlers(a->cls, e->type);
    actor_responder *req = *actori_env_responder(e);
    if (req->has_deadline && request_expired(a, req))
        return;
    a->request = req;
    int rc = (h && h->request)
                 ? h->request(ctx_of(a), a->state, actori_env_payload(e), e->msg.len)
                 : ACTOR_ENOHANDLER;
    actor_responder *r = a->request;
    a->request = NULL;
    if (r != NULL && rc == 0 && a->reply_refused)
        actori_log(ACTOR_LOG_WARN,
                   "actor of class %s: request %s canceled: its reply was refused (size does "
                   "not fit the reply layout) and the handler returned 0",
                   a->cls->name, e->type->name);
    a->reply_refused = 0;
    a->current_due = 0;
    if (r != NULL) /* not answered: the handler's code, or the dropped oneshot */
        actori_responder_complete(r, rc ? ACTOR_EHANDLER : ACTOR_ECANCELED, rc);
}

static void dispatch_response(actor_addr *a, actori_env *e)
{
    actor_responder *r = *actori_env_responder(e);
    const actori_handlers *h = actori_class_handlers(a->cls, r->type);
    if (h && h->response) {
        int ok = r->status == ACTOR_OK;
        a->current_tag = r->forward_tag;
        h->response(ctx_of(a), a->state, r->type, r->status, ok ? r->data : NULL,
                    ok ? r->len : 0);
        a->current_tag = 0;
    }
    actori_responder_release(r);
}

static void dispatch(actor_addr *a, actori_msg *m)
{
    actori_env *e = (actori_env *)m;
    a->current_type = m->kind <= ACTORI_TICK ? e->type : NULL;
    switch (m->kind) {
    case ACTORI_EVENT:
        dispatch_event(a, e);
        actori_env_free(e);
        break;
    case ACTORI_REQUEST:
        dispatch_request(a, e);
        actori_env_free(e);
        break;
    case ACTORI_RESPONSE:
        dispatch_response(a, e);
        actori_env_free(e);
        break;
    case ACTORI_TICK:
        actori_timers_dispatch(a, e);
        actori_env_free(e);
        break;
    case ACTORI_INTERRUPT:
        actori_env_free(e);
        run_interrupt(a);
        break;
    case ACTORI_SHUTDOWN:
        run_interrupt(a);
        break;
    case ACTORI_CLOSE:
        /* seq_cst pair with addr_release: either that release sees the flag
         * cleared and queues a new CLOSE, or this load sees its count. */
        atomic_store_explicit(&a->close_queued, 0, memory_order_seq_cst);
        if (atomic_load_explicit(&a->addrs, memory_order_seq_cst) == 0)
            cell_stop(a);
        break;
    }
}

typedef struct drain_count {
    uint64_t events, requests, responses;
} drain_count;

/* Takes every queued message off a stopped actor: events are dropped and
 * counted, requests complete ECANCELED, forwarded outcomes are let go.
 * The consumer role only. */
static void drain(actor_addr *a, drain_count *n)
{
    actori_node *node;
    while ((node = actori_mpscq_pop(&a->mbox)) != NULL) {
        actori_msg *m = (actori_msg *)node;
        actori_env *e = (actori_env *)m;
        switch (m->kind) {
        case ACTORI_EVENT:
            n->events++;
            actori_env_free(e);
            break;
        case ACTORI_REQUEST:
            n->requests++;
            actori_responder_complete(*actori_env_responder(e), ACTOR_ECANCELED, 0);
            actori_env_free(e);
            break;
        case ACTORI_RESPONSE:
            n->responses++;
            actori_responder_release(*actori_env_responder(e));
            actori_env_free(e);
            break;
        case ACTORI_TICK:
        case ACTORI_INTERRUPT:
            actori_env_free(e);
            break;
        case ACTORI_CLOSE:
            atomic_store_explicit(&a->close_queued, 0, memory_order_seq_cst);
            break;
        case ACTORI_SHUTDOWN:
            break;
        }
    }
}

static void report_drain(actor_addr *a, const drain_count *n)
{
    /* Atomic: a sender draining a Done actor may race with the worker's last
     * report, which runs after the consumer role was given back. */
    if (n->events)
        atomic_fetch_add_explicit(&a->dropped, n->events, memory_order_relaxed);
    if (n->events || n->requests || n->responses)
        actori_log(ACTOR_LOG_INFO,
                   "actor of class %s stopped with messages queued: %llu events dropped, "
                   "%llu requests canceled, %llu forwarded responses dropped",
                   a->cls->name, (unsigned long long)n->events,
                   (unsigned long long)n->requests, (unsigned long long)n->responses);
}

/* Drains until the mailbox is empty and marked so: from then on a sender
 * that finds it empty drains it itself (a is Done). */
static void drain_final(actor_addr *a)
{
    drain_count n = {0, 0, 0};
    do
        drain(a, &n);
    while (!actori_mpscq_markempty(&a->mbox));
    report_drain(a, &n);
}

static void finish(actor_addr *a)
{
    actor_class *cls = a->cls;
    a->current_type = NULL; /* finalize handles no message */
    actori_timers_stop(a);  /* before finalize: it may not start new ones */
    if (cls->finalize != NULL)
        cls->finalize(ctx_of(a), a->state);
    if (a->state != NULL && cls->state_free != NULL)
        cls->state_free(a->state);
    if (a->owns_state)
        actori_free(a->state);
    a->state = NULL;

    drain_count n = {0, 0, 0};
    drain(a, &n);
    report_drain(a, &n);
    actori_runtime_unlink(a->rt, a);
    a->rt = NULL;

    /* release: pairs with joiners' acquire loads and with the acquire of a
     * sender that later finds the mailbox empty (via markempty's release). */
    uint32_t old = atomic_fetch_or_explicit(&a->status, ACTORI_S_DONE, memory_order_acq_rel);
    if (old & ACTORI_S_WAITERS)
        actori_futex_wake_all(&a->status);
    drain_final(a);
    actori_cell_unref(a); /* the runtime's reference */
}

bool actori_cell_run(actor_addr *a, unsigned batch, unsigned *ran)
{
    unsigned n = 0;
    if (!a->started) {
        a->started = 1;
        n = batch == 1; /* stepping by hand: init is a step of its own */
        *ran += 1;
        if (a->cls->init != NULL) {
            int rc = a->cls->init(ctx_of(a), a->state);
            if (rc != 0) {
                actori_log(ACTOR_LOG_ERROR, "actor of class %s: init failed: %d (%s)",
                           a->cls->name, rc, actor_strerror(rc));
                cell_stop(a);
            }
        }
    }
    for (; !a->stopping; n++) {
        if (n == batch)
            return true;
        actori_node *node = actori_mpscq_pop(&a->mbox);
        if (node == NULL)
            return !actori_mpscq_markempty(&a->mbox);
        *ran += 1;
        dispatch(a, (actori_msg *)node);
    }
    *ran += 1;
    finish(a);
    return false;
}

void actori_cell_push(actor_addr *a, actori_msg *m)
{
    if (actori_mpscq_push(&a->mbox, &m->node)) {
        /* We hold the consumer role. The acquire in push pairs with the
         * release of markempty, so a Done set before it is seen here. */
        if (atomic_load_explicit(&a->status, memory_order_acquire) & ACTORI_S_DONE)
            drain_final(a);
        else
            actori_schedule_woken(a);
    }
}

/* ---- the context: only inside the actor's own callbacks ---- */

actor_addr *actor_ctx_self(actor_ctx *ctx) { return ctx ? cell_of(ctx) : NULL; }

actor_runtime *actor_ctx_runtime(actor_ctx *ctx) { return ctx ? cell_of(ctx)->rt : NULL; }

actor_class *actor_ctx_class(actor_ctx *ctx) { return ctx ? cell_of(ctx)->cls : NULL; }

const actor_msgtype *actor_ctx_msgtype(actor_ctx *ctx)
{
    return ctx ? cell_of(ctx)->current_type : NULL;
}

uint64_t actor_ctx_tag(actor_ctx *ctx) { return ctx ? cell_of(ctx)->current_tag : 0; }

void actor_ctx_stop(actor_ctx *ctx)
{
    if (ctx != NULL)
        cell_stop(cell_of(ctx));
}

int actor_ctx_reply(actor_ctx *ctx, const void *reply, size_t len)
{
    if (ctx == NULL || (reply == NULL && len > 0))
        return ACTOR_EINVAL;
    actor_addr *a = cell_of(ctx);
    actor_responder *r = a->request;
    if (r == NULL)
        return ACTOR_EINVAL;
    if (!actori_msgtype_reply_fits(r->type, len)) {
        a->reply_refused = 1;
        return ACTOR_ETYPE;
    }
    unsigned char *buf;
    int rc = actori_responder_reply_buf(len, &buf);
    if (rc != ACTOR_OK)
        return rc;
    a->request = NULL;
    actori_responder_reply(r, buf, reply, len); /* late (expired): goes nowhere */
    return ACTOR_OK;
}

int64_t actor_ctx_deadline_left(actor_ctx *ctx)
{
    if (ctx == NULL)
        return -1;
    actor_addr *a = cell_of(ctx);
    if (a->current_due == 0)
        return -1;
    uint64_t now = actori_clock_now(&a->home->clock);
    return now >= a->current_due ? 0 : (int64_t)((a->current_due - now) / 1000000);
}
