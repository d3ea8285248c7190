/* Addresses: the counted handles through which anyone reaches an actor. */
#include "alloc.h"

#include <stddef.h>
#include <string.h>
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

/* A message's own arguments: ACTOR_EINVAL, ACTOR_ETYPE or ACTOR_OK. Also
 * what a pool's address checks before it routes, so that a bad argument is
 * refused alike whatever the pool's (or its member's) state. */
static inline int check_args(const actor_msgtype *t, const void *payload, size_t len)
{
    if (t == NULL || (payload == NULL && len > 0))
        return ACTOR_EINVAL;
    return actori_msgtype_fits(t, len) ? ACTOR_OK : ACTOR_ETYPE;
}

/* The checks common to send and interact. Returns ACTOR_OK or the code. */
static int check_message(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                         int request)
{
    if (a == NULL)
        return ACTOR_EINVAL;
    int rc = check_args(t, payload, len);
    if (rc != ACTOR_OK)
        return rc;
    if (request ? actori_request_handler(a->cls, t) == NULL
                : actori_event_handler(a->cls, t) == NULL)
        return ACTOR_ENOHANDLER;
    return actori_cell_open(a);
}

/* Takes a place in a bounded mailbox for one event or request: ACTOR_OK
 * (it is counted as queued until the consumer takes it), or ACTOR_EFULL.
 * Counted before the push and uncounted after the pop, so the count never
 * falls below what is really queued. An unbounded mailbox counts nothing
 * here: two atomic RMWs per message would cost W4 about 12%. Any thread. */
static int admit(actor_addr *a)
{
    if (!a->counted) /* unbounded and not a pool member: nothing counted */
        return ACTOR_OK;
    uint32_t cap = a->cls->mailbox_cap, q;
    if (cap == 0) {
        q = atomic_fetch_add_explicit(&a->queued, 1, memory_order_relaxed) + 1;
    } else {
        q = atomic_load_explicit(&a->queued, memory_order_relaxed);
        do {
            if (q >= cap)
                return ACTOR_EFULL;
        } while (!atomic_compare_exchange_weak_explicit(&a->queued, &q, q + 1,
                                                        memory_order_relaxed,
                                                        memory_order_relaxed));
        q++;
    }
    uint32_t peak = atomic_load_explicit(&a->queued_peak, memory_order_relaxed);
    while (q > peak && !atomic_compare_exchange_weak_explicit(&a->queued_peak, &peak, q,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed))
        ;
    return ACTOR_OK;
}

/* Gives back a place taken by admit for a message that was never pushed. */
static void unadmit(actor_addr *a)
{
    if (a->counted) {
        atomic_fetch_sub_explicit(&a->queued, 1, memory_order_seq_cst);
        actori_cell_wake_room(a);
    }
}

static void count_one(_Atomic uint64_t *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

enum { SEND_PLAIN = ACTORI_SEND_PLAIN, SEND_WAITING = ACTORI_SEND_WAITING,
       SEND_EXACT = ACTORI_SEND_EXACT };

static const actori_route_ops *_Atomic route_ops;

void actori_route_ops_register(const actori_route_ops *ops)
{
    atomic_store_explicit(&route_ops, ops, memory_order_release);
}

/* A pool: what is sent to it goes to its members. One load of the class,
 * which every send reads anyway. */
static inline bool routed(const actor_addr *a)
{
    return a != NULL && __builtin_expect(a->cls->routes, 0);
}

static const actori_route_ops *routes(void)
{
    return atomic_load_explicit(&route_ops, memory_order_acquire);
}

void actori_route_free(void *route) { routes()->free(route); }

/* addr_send, and a try of addr_send_wait (which neither drops nor counts
 * its refusals: it waits instead), and actori_send_event (SEND_EXACT: as
 * addr_send, but a DROP mailbox's drop answers ACTOR_EFULL). */
static int send_event(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                      int mode)
{
    if (routed(a)) {
        int rc = check_args(t, payload, len);
        return rc != ACTOR_OK ? rc : routes()->send(a, t, payload, len, mode);
    }
    int rc = check_message(a, t, payload, len, 0);
    if (rc == ACTOR_ECLOSED && mode != SEND_WAITING && !ACTORI_INHERITED(a))
        actori_cell_dead_letter(a, t, payload, len, ACTOR_ECLOSED);
    if (rc != ACTOR_OK)
        return rc;
    if (admit(a) != ACTOR_OK) {
        if (mode == SEND_WAITING)
            return ACTOR_EFULL;
        if (a->cls->overflow == ACTOR_OVERFLOW_DROP) {
            count_one(&a->dropped);
            actori_cell_dead_letter(a, t, payload, len, ACTOR_EFULL);
            return mode == SEND_EXACT ? ACTOR_EFULL : ACTOR_OK;
        }
        count_one(&a->rejected);
        return ACTOR_EFULL;
    }
    actori_env *e = actori_env_new(ACTORI_EVENT, t, payload, len);
    if (e == NULL) {
        unadmit(a);
        return ACTOR_ENOMEM;
    }
    actori_cell_push(a, &e->msg);
    return ACTOR_OK;
}

int addr_send(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len)
{
    return send_event(a, t, payload, len, SEND_PLAIN);
}

int actori_send_event(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len)
{
    return send_event(a, t, payload, len, SEND_EXACT);
}

int actori_send(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len, int mode)
{
    return send_event(a, t, payload, len, mode);
}

/* A manual runtime has room for a once it ran a's messages down. */
static bool has_room(void *arg) { return actori_cell_has_room(arg); }

int addr_send_wait(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                   int timeout_ms)
{
    if (a != NULL && actori_on_worker())
        return ACTOR_EDEADLK;
    if (routed(a)) {
        int rc = check_args(t, payload, len);
        return rc != ACTOR_OK ? rc : routes()->send_wait(a, t, payload, len, timeout_ms);
    }
    int64_t deadline = timeout_ms == 0 ? 0 : actori_deadline(timeout_ms);
    for (;;) {
        int rc = send_event(a, t, payload, len, SEND_WAITING);
        if (rc != ACTOR_EFULL)
            return rc;
        if (deadline == 0)
            return ACTOR_ETIMEDOUT;
        if (a->home->manual) {
            rc = actori_manual_drive(a->home, has_room, a);
            if (rc == ACTOR_OK)
                continue;
            if (rc == ACTOR_ETIMEDOUT)
                return rc;
            /* ACTOR_EBUSY: another thread runs it; wait as below */
        }
        /* seq_cst pair with took_one (cell.c): we announce ourselves, then
         * look at the count; the consumer decrements, then looks for us. */
        uint32_t r = atomic_fetch_or_explicit(&a->room, 1, memory_order_seq_cst) | 1;
        if (has_room(a))
            continue;
        if (actori_futex_wait(&a->room, r, deadline) != 0 && !has_room(a))
            return ACTOR_ETIMEDOUT;
    }
}

/* A request, with a deadline timeout_ms from now when timeout_ms >= 0. */
static int interact(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                    int timeout_ms, actor_responder **out)
{
    if (out == NULL)
        return ACTOR_EINVAL;
    if (routed(a)) {
        int rc = check_args(t, payload, len);
        return rc != ACTOR_OK ? rc : routes()->interact(a, t, payload, len, timeout_ms, out);
    }
    int rc = check_message(a, t, payload, len, 1);
    if (rc != ACTOR_OK)
        return rc;
    if (admit(a) != ACTOR_OK) { /* either policy: a requester is never misled */
        count_one(&a->rejected);
        return ACTOR_EFULL;
    }
    actori_env *e = actori_env_new(ACTORI_REQUEST, t, payload, len);
    actor_responder *r = e != NULL ? actori_responder_new(t) : NULL;
    if (r == NULL) {
        if (e != NULL)
            actori_env_free(e);
        unadmit(a);
        return ACTOR_ENOMEM;
    }
    actor_runtime *rt = a->home;
    if (rt->manual)
        r->manual_rt = rt;
    if (timeout_ms >= 0) {
        actori_clock *clock = &rt->clock;
        r->deadline.kind = ACTORI_TIMED_DEADLINE;
        uint64_t now = actori_clock_now(clock);
        r->deadline.due_ns = now + (uint64_t)timeout_ms * 1000000ull;
        r->deadline_clock = clock;
        atomic_store_explicit(&r->refs, 3, memory_order_relaxed); /* + the clock's */
        if (actori_clock_arm(clock, &r->deadline, now) != ACTOR_OK) {
            actori_env_free(e);
            actori_free(r);
            unadmit(a);
            return ACTOR_ENOMEM;
        }
    }
    *actori_env_responder(e) = r;
    *out = r; /* before the push: a drain on this thread may complete it */
    actori_cell_push(a, &e->msg);
    return ACTOR_OK;
}

int actori_interact(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                    int timeout_ms, actor_responder **out)
{
    return interact(a, t, payload, len, timeout_ms, out);
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
    if (routed(a))
        return routes()->interrupt(a);
    int rc = actori_cell_open(a);
    if (rc != ACTOR_OK)
        return rc;
    actori_env *e = actori_env_new(ACTORI_INTERRUPT, NULL, NULL, 0);
    if (e == NULL)
        return ACTOR_ENOMEM;
    actori_cell_push(a, &e->msg);
    return ACTOR_OK;
}

/* addr_is_done for a non-NULL a, inlined where the library asks (a call
 * of the exported function each time cost W3's join 14 instructions). */
static inline bool is_done(const actor_addr *a)
{
    uint32_t s = atomic_load_explicit(&((actor_addr *)a)->status, memory_order_acquire);
    return (s & ACTORI_S_DONE) != 0;
}

int addr_is_done(const actor_addr *a)
{
    return a != NULL && is_done(a) ? 1 : 0;
}

int addr_join(actor_addr *a, int timeout_ms)
{
    if (a == NULL)
        return ACTOR_EINVAL;
    if (!is_done(a) && ACTORI_INHERITED(a))
        return ACTOR_ECLOSED; /* its runtime's threads are the parent's */
    if (timeout_ms != 0 && actori_on_worker())
        return ACTOR_EDEADLK;
    if (timeout_ms != 0 && !is_done(a) && a->home->manual) {
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

void actori_cell_stats(const actor_addr *a, actor_stats *out)
{
    actor_addr *c = (actor_addr *)a;
    actor_stats s;
    memset(&s, 0, sizeof s);
    /* Relaxed reads of counters that move independently: exact once Done
     * (nothing moves then), a close picture before. */
    s.handled = atomic_load_explicit(&c->handled, memory_order_relaxed);
    s.dropped = atomic_load_explicit(&c->dropped, memory_order_relaxed);
    s.rejected = atomic_load_explicit(&c->rejected, memory_order_relaxed);
    s.expired = atomic_load_explicit(&c->expired, memory_order_relaxed);
    s.canceled = atomic_load_explicit(&c->canceled, memory_order_relaxed);
    s.queued = atomic_load_explicit(&c->queued, memory_order_relaxed);
    s.queued_peak = atomic_load_explicit(&c->queued_peak, memory_order_relaxed);
    s.restarts = actori_cell_restarts(a);
    s.received = s.handled + s.dropped + s.expired + s.canceled + s.queued;
    s.size = sizeof s;
    *out = s;
}

int addr_stats(const actor_addr *a, actor_stats *out)
{
    if (a == NULL || out == NULL ||
        out->size < offsetof(actor_stats, restarts) + sizeof out->restarts)
        return ACTOR_EINVAL;
    actor_stats s;
    if (routed(a)) {
        int rc = routes()->stats(a, &s); /* the sums of the members */
        if (rc != ACTOR_OK)
            return rc;
    } else {
        actori_cell_stats(a, &s);
    }
    s.size = out->size < sizeof s ? out->size : sizeof s;
    memcpy(out, &s, s.size);
    return ACTOR_OK;
}

int addr_exit_reason(const actor_addr *a, int *reason)
{
    if (a == NULL || reason == NULL)
        return ACTOR_EINVAL;
    if (!addr_is_done(a)) /* acquire: the reason was written before Done */
        return ACTOR_EAGAIN;
    *reason = a->exit_reason;
    return ACTOR_OK;
}

int addr_restarts(const actor_addr *a, unsigned long long *out)
{
    if (a == NULL || out == NULL)
        return ACTOR_EINVAL;
    *out = actori_cell_restarts(a);
    return ACTOR_OK;
}

int addr_dropped(const actor_addr *a, unsigned long long *out)
{
    if (a == NULL || out == NULL)
        return ACTOR_EINVAL;
    *out = atomic_load_explicit(&((actor_addr *)a)->dropped, memory_order_relaxed);
    return ACTOR_OK;
}
