/* Addresses: the counted handles through which anyone reaches an actor. */
#include "alloc.h"
#include "cell.h"
#include "responder.h"
#include "runtime.h"
#include "sync.h"

actor_addr *addr_ref(actor_addr *a)
{
    if (a == NULL)
        return NULL;
    /* relaxed: the caller already holds a reference (counted or borrowed in
     * a callback), so the count cannot reach zero under us. */
    atomic_fetch_add_explicit(&a->addrs, 1, memory_order_relaxed);
    actori_cell_ref(a);
    return a;
}

void addr_release(actor_addr *a)
{
    if (a == NULL)
        return;
    /* seq_cst pair with the CLOSE dispatch (cell.c): either it sees this
     * count, or we see its cleared flag and queue a CLOSE again. */
    if (atomic_fetch_sub_explicit(&a->addrs, 1, memory_order_seq_cst) == 1 &&
        !ACTORI_INHERITED(a) &&
        atomic_exchange_explicit(&a->close_queued, 1, memory_order_seq_cst) == 0)
        actori_cell_push(a, &a->close_msg); /* behind everything sent before */
    actori_cell_unref(a);
}

/* The checks common to send and interact. Returns ACTOR_OK or the code. */
static int check_message(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                         int request)
{
    if (a == NULL || t == NULL || (payload == NULL && len > 0))
        return ACTOR_EINVAL;
    if (!actori_msgtype_fits(t, len))
        return ACTOR_ETYPE;
    const actori_handlers *h = actori_class_handlers(a->cls, t);
    if (h == NULL || (request ? h->request == NULL : h->event == NULL))
        return ACTOR_ENOHANDLER;
    return actori_cell_open(a);
}

int addr_send(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len)
{
    int rc = check_message(a, t, payload, len, 0);
    if (rc != ACTOR_OK)
        return rc;
    actori_env *e = actori_env_new(ACTORI_EVENT, t, payload, len);
    if (e == NULL)
        return ACTOR_ENOMEM;
    actori_cell_push(a, &e->msg);
    return ACTOR_OK;
}

/* A request, with a deadline timeout_ms from now when timeout_ms >= 0. */
static int interact(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                    int timeout_ms, actor_responder **out)
{
    if (out == NULL)
        return ACTOR_EINVAL;
    int rc = check_message(a, t, payload, len, 1);
    if (rc != ACTOR_OK)
        return rc;
    actori_env *e = actori_env_new(ACTORI_REQUEST, t, payload, len);
    if (e == NULL)
        return ACTOR_ENOMEM;
    actor_responder *r = actori_responder_new(t);
    if (r == NULL) {
        actori_env_free(e);
        return ACTOR_ENOMEM;
    }
    actor_runtime *rt = a->home;
    if (rt->manual)
        r->manual_rt = rt;
    if (timeout_ms >= 0) {
        actori_clock *clock = &rt->clock;
        r->has_deadline = 1;
        r->deadline.kind = ACTORI_TIMED_DEADLINE;
        r->deadline.due_ns = actori_clock_now(clock) + (uint64_t)timeout_ms * 1000000ull;
        atomic_store_explicit(&r->refs, 3, memory_order_relaxed); /* + the clock's */
        if (actori_clock_arm(clock, &r->deadline) != ACTOR_OK) {
            actori_env_free(e);
            actori_free(r);
            return ACTOR_ENOMEM;
        }
    }
    *actori_env_responder(e) = r;
    *out = r; /* before the push: a drain on this thread may complete it */
    actori_cell_push(a, &e->msg);
    return ACTOR_OK;
}

int addr_interact(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                  actor_responder **out)
{
    return interact(a, t, payload, len, -1, out);
}

int addr_interact_within(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                         int timeout_ms, actor_responder **out)
{
    if (timeout_ms < 0)
        return ACTOR_EINVAL;
    return interact(a, t, payload, len, timeout_ms, out);
}

int addr_interrupt(actor_addr *a)
{
    if (a == NULL)
        return ACTOR_EINVAL;
    int rc = actori_cell_open(a);
    if (rc != ACTOR_OK)
        return rc;
    actori_env *e = actori_env_new(ACTORI_INTERRUPT, NULL, NULL, 0);
    if (e == NULL)
        return ACTOR_ENOMEM;
    actori_cell_push(a, &e->msg);
    return ACTOR_OK;
}

int addr_is_done(const actor_addr *a)
{
    if (a == NULL)
        return 0;
    uint32_t s = atomic_load_explicit(&((actor_addr *)a)->status, memory_order_acquire);
    return (s & ACTORI_S_DONE) ? 1 : 0;
}

int addr_join(actor_addr *a, int timeout_ms)
{
    if (a == NULL)
        return ACTOR_EINVAL;
    if (!addr_is_done(a) && ACTORI_INHERITED(a))
        return ACTOR_ECLOSED; /* its runtime's threads are the parent's */
    if (timeout_ms != 0 && actori_on_worker())
        return ACTOR_EDEADLK;
    if (timeout_ms != 0 && !addr_is_done(a) && a->home->manual) {
        /* Nobody else runs it: run it here until a is Done or it idles. */
        int rc = actori_manual_drive_until(a->home, &a->status, ACTORI_S_DONE);
        if (rc != ACTOR_EBUSY)
            return rc;
        /* another thread drives it: wait as on a threaded runtime */
    }
    /* 0 only looks (deadline "now"); Done is set with release in finish. */
    int64_t deadline = timeout_ms == 0 ? 0 : actori_deadline(timeout_ms);
    if (actori_wait_for_bits(&a->status, ACTORI_S_DONE, ACTORI_S_WAITERS, deadline, false) != 0)
        return ACTOR_ETIMEDOUT;
    return ACTOR_OK;
}

int addr_dropped(const actor_addr *a, unsigned long long *out)
{
    if (a == NULL || out == NULL)
        return ACTOR_EINVAL;
    *out = atomic_load_explicit(&((actor_addr *)a)->dropped, memory_order_relaxed);
    return ACTOR_OK;
}
