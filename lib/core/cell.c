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

static const actori_sup_ops *_Atomic sup_ops;

static const actori_io_ops *_Atomic io_ops;

void actori_io_ops_register(const actori_io_ops *table)
{
    atomic_store_explicit(&io_ops, table, memory_order_release);
}

static const actori_io_ops *io(void) { return atomic_load_explicit(&io_ops, memory_order_acquire); }

void actori_sup_ops_register(const actori_sup_ops *table)
{
    atomic_store_explicit(&sup_ops, table, memory_order_release);
}

static const actori_sup_ops *ops(void) { return atomic_load_explicit(&sup_ops, memory_order_acquire); }

static actor_addr *cell_of(actor_ctx *ctx) { return (actor_addr *)ctx; }

void actori_cell_ref(actor_addr *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

void actori_cell_unref(actor_addr *a)
{
    /* acq_rel: the last owner sees every write of the others before freeing. */
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
        actor_runtime *rt = a->home;
        actori_fail *f = actori_cell_fail_if(a);
        if (f != NULL && f->group != NULL)
            ops()->group_free(f->group);
        if (f != NULL && f->route != NULL)
            actori_route_free(f->route);
        if (f != NULL)
            actori_room_fire(a); /* none left after Done; never lose one */
        actori_free(f);
        actori_class_release(a->cls);
        actori_free(a);
        actori_runtime_release(rt);
    }
}

/* A supervised child: its supervisor may restart it in place. */
static bool supervised(const actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    return f != NULL && f->link != NULL;
}

static void cell_stop(actor_addr *a)
{
    a->stopping = 1;
    /* A supervised child keeps taking messages: they are for the next
     * incarnation if it is restarted, drained at its Done if not. */
    if (!supervised(a))
        /* release: a sender that sees STOPPING and returns ECLOSED needs
         * nothing else; the bit only turns senders away early. */
        atomic_fetch_or_explicit(&a->status, ACTORI_S_STOPPING, memory_order_release);
}

actori_fail *actori_cell_fail(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    if (f != NULL)
        return f;
    actori_fail *made = actori_calloc(1, sizeof *made);
    if (made == NULL)
        return NULL;
    /* acq_rel: publish the zeroed block; on a lost race, see the winner's. */
    if (!atomic_compare_exchange_strong_explicit(&a->fail, &f, made, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        actori_free(made);
        return f;
    }
    return made;
}


void actori_cell_request_stop(actor_addr *a)
{
    atomic_store_explicit(&a->stop_req, 1, memory_order_release);
    /* Wake it if idle with a WAKE message (allocated: stop requests are
     * rare, and 16 bytes in every cell are not). Without memory it sees the
     * request at its next run. */
    actori_env *e = actori_env_new(ACTORI_WAKE, NULL, NULL, 0);
    if (e != NULL)
        actori_cell_push(a, &e->msg);
    else
        actori_log(ACTOR_LOG_WARN, "out of memory: a stop request waits for the actor's next "
                                   "message");
}

void actori_cell_resume(actor_addr *a, int word)
{
    /* The parked cell holds the consumer role, and nobody runs it: its
     * fields are ours until the push into the ready queue publishes them. */
    a->resume = (uint8_t)word;
    actori_schedule(a);
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

/* The worker's record of the message being handled by a (NULL when a is
 * not the actor running on this thread: a ctx used outside its callbacks). */
static actori_worker *current_of(actor_addr *a)
{
    actori_worker *w = actori_tls_worker;
    return w != NULL && w->cur == a ? w : NULL;
}

static inline void count_handled(actor_addr *a, actori_worker *w);

static inline __attribute__((always_inline)) void dispatch_event(actor_addr *a, actori_env *e)
{
    actor_event_fn fn = actori_event_handler(a->cls, e->type);
    int rc = fn ? fn(ctx_of(a), a->state, actori_env_payload_as(e, ACTORI_EVENT), e->msg.len)
                : ACTOR_ENOHANDLER;
    if (__builtin_expect(rc != 0, 0))
        actori_cell_event_failed(a, e->type, rc);
}

/* A request with a deadline: true when it is not to be handled, because
 * its deadline passed (or the clock expired it already) before it began. */
static bool request_expired(actor_addr *a, actori_worker *w, actor_responder *r)
{
    if (actori_responder_settled(r) ||
        actori_clock_now(&a->home->clock) >= r->deadline.due_ns) {
        actori_responder_complete(r, ACTOR_EEXPIRED, 0);
        atomic_store_explicit(&a->expired,
                              atomic_load_explicit(&a->expired, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return true;
    }
    w->cur_due = r->deadline.due_ns;
    return false;
}

/* Returns false when the request was not handled (expired). Inlined, as
 * dispatch_response: two calls per W1 round trip cost 41 instructions. */
static inline __attribute__((always_inline)) bool dispatch_request(actor_addr *a, actori_worker *w,
                                                                  actori_env *e)
{
    actor_request_fn fn = actori_request_handler(a->cls, e->type);
    actor_responder *req = *actori_env_responder(e);
    if (actori_responder_has_deadline(req) && request_expired(a, w, req))
        return false;
    count_handled(a, w);
    w->cur_request = req;
    int rc = fn ? fn(ctx_of(a), a->state, actori_env_payload_as(e, ACTORI_REQUEST), e->msg.len)
                : ACTOR_ENOHANDLER;
    actor_responder *r = w->cur_request;
    w->cur_request = NULL;
    if (r != NULL && rc == 0 && w->cur_reply_refused)
        actori_log(ACTOR_LOG_WARN,
                   "actor of class %s: request %s canceled: its reply was refused (size does "
                   "not fit the reply layout) and the handler returned 0",
                   a->cls->name, e->type->name);
    w->cur_reply_refused = 0;
    w->cur_due = 0;
    if (r != NULL) /* not answered: the handler's code, or the dropped oneshot */
        actori_responder_complete(r, rc ? ACTOR_EHANDLER : ACTOR_ECANCELED, rc);
    return true;
}

static inline __attribute__((always_inline)) void dispatch_response(actor_addr *a, actori_worker *w,
                                                                   actori_env *e)
{
    actor_responder *r = *actori_env_responder(e);
    const actori_handlers *h = actori_class_handlers(a->cls, r->type);
    if (h && h->response) {
        int ok = r->status == ACTOR_OK;
        w->cur_tag = r->forward_tag;
        h->response(ctx_of(a), a->state, r->type, r->status, ok ? r->data : NULL,
                    ok ? r->len : 0);
        w->cur_tag = 0;
    }
    actori_responder_release(r);
}

/* An event or request left the mailbox: one more place for senders. With a
 * bound, a sender may be waiting for it (addr_send_wait). */
static inline void took_one(actor_addr *a)
{
    /* seq_cst pair with addr_send_wait: we decrement, then look for a
     * waiter; it announces itself, then looks at the count. One of the two
     * sees the other. */
    if (a->counted) {
        uint32_t left = atomic_fetch_sub_explicit(&a->queued, 1, memory_order_seq_cst) - 1;
        /* Waiters are woken once the queue is half empty, not at each free
         * place: they slept only on a full mailbox, so the queue passes the
         * mark before the consumer runs dry (or the stop wakes them); one
         * futex wake per half a mailbox instead of one per message. */
        if (left <= a->cls->room_mark)
            actori_cell_wake_room(a);
    }
}

void actori_cell_wake_room(actor_addr *a)
{
    uint32_t r = atomic_load_explicit(&a->room, memory_order_seq_cst);
    if ((r & 1) && atomic_compare_exchange_strong_explicit(&a->room, &r, r + 1,
                                                            memory_order_seq_cst,
                                                            memory_order_relaxed)) {
        actori_futex_wake_all(&a->room); /* r + 1: bit 0 clear, a new value */
        actori_room_fire(a);
    }
}

static inline __attribute__((always_inline)) void count_handled(actor_addr *a, actori_worker *w)
{
    /* One writer (the consumer): a plain increment, published relaxed. */
    atomic_store_explicit(&a->handled, atomic_load_explicit(&a->handled, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&w->handled, atomic_load_explicit(&w->handled, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Everything but events and requests: responses, ticks, interrupts, the
 * embedded control messages, Downs, a connection's frames. Out of line,
 * so that the path of events and requests stays short. */
static __attribute__((noinline)) void dispatch_other(actor_addr *a, actori_worker *w,
                                                      actori_msg *m)
{
    actori_env *e = (actori_env *)m;
    w->cur_type = m->kind <= ACTORI_TICK ? e->type : NULL;
    switch (m->kind) {
    case ACTORI_RESPONSE:
        dispatch_response(a, w, e);
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
    case ACTORI_WAKE:
        actori_env_free(e);
        if (atomic_load_explicit(&a->stop_req, memory_order_acquire))
            cell_stop(a);
        break;
    case ACTORI_DOWN:
        actori_monitor_dispatch(a, e);
        actori_env_free(e);
        break;
    case ACTORI_DATA:
    case ACTORI_IO_END:
        w->cur_type = NULL;
        io()->dispatch(a, e);
        actori_env_free(e);
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

/* Returns true when an event or request was handled (for the hook). */
static inline __attribute__((always_inline)) bool dispatch(actor_addr *a, actori_worker *w,
                                                          actori_msg *m)
{
    actori_env *e = (actori_env *)m;
    if (__builtin_expect(m->kind == ACTORI_EVENT, 1)) {
        w->cur_type = e->type;
        took_one(a);
        count_handled(a, w); /* before the handler: received stays exact */
        dispatch_event(a, e);
        actori_env_free(e);
        return true;
    }
    if (m->kind == ACTORI_REQUEST) {
        w->cur_type = e->type;
        took_one(a);
        bool handled = dispatch_request(a, w, e);
        actori_env_free(e);
        return handled;
    }
    if (m->kind == ACTORI_RESPONSE) { /* an answer forwarded here: common too */
        w->cur_type = e->type;
        dispatch_response(a, w, e);
        actori_env_free(e);
        return false;
    }
    dispatch_other(a, w, m);
    return false;
}

/* dispatch with the runtime's `handled` hook: the only path that reads
 * the clock per message. */
static __attribute__((noinline)) void dispatch_timed(actor_addr *a, actori_worker *w,
                                                     actori_msg *m)
{
    const actor_hooks *hooks = &a->home->hooks;
    int64_t t0 = actori_now_ns();
    if (dispatch(a, w, m))
        hooks->handled(hooks->ud, a, w->cur_type, (unsigned long long)(actori_now_ns() - t0));
}

static _Atomic(actori_done_fn) part_done[ACTORI_PARTS];

void actori_part_register(unsigned bit, actori_done_fn fn)
{
    atomic_store_explicit(&part_done[bit], fn, memory_order_release);
}

#define PARTS_CLOSED 0x80u /* finish took the bits: marking is too late */

bool actori_part_mark(actor_addr *a, unsigned bit)
{
    /* One RMW each on the same byte, here and in parts_done: either finish
     * sees our bit, or we see its CLOSED bit. */
    uint8_t old = atomic_fetch_or_explicit(&a->parts, (uint8_t)(1u << bit), memory_order_acq_rel);
    return !(old & PARTS_CLOSED);
}

/* Tells the parts that keep something for a that a is stopping for good. */
static void parts_done(actor_addr *a)
{
    uint8_t bits = atomic_fetch_or_explicit(&a->parts, PARTS_CLOSED, memory_order_acq_rel);
    bits &= (uint8_t)~PARTS_CLOSED;
    for (unsigned i = 0; bits != 0; i++, bits >>= 1)
        if (bits & 1)
            atomic_load_explicit(&part_done[i], memory_order_acquire)(a);
}

typedef struct drain_count {
    uint64_t events, requests, responses;
} drain_count;

void actori_cell_dead_letter(actor_addr *a, const actor_msgtype *t, const void *payload,
                             size_t len, int why)
{
    actor_runtime *rt = a->home;
    if (rt->hooks.dead_letter == NULL)
        return; /* set before any spawn, never changed: no hook, no cost */
    /* seq_cst pair with actori_runtime_destroy: we count ourselves in, then
     * look at hooks_set; it clears hooks_set, then waits for the count. So
     * no hook runs once actor_runtime_free returned. */
    atomic_fetch_add_explicit(&rt->hooks_running, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&rt->hooks_set, memory_order_seq_cst))
        rt->hooks.dead_letter(rt->hooks.ud, a, t, payload, len, why);
    atomic_fetch_sub_explicit(&rt->hooks_running, 1, memory_order_release);
}

/* Takes every queued message off a stopped actor: events are dropped and
 * counted (and given to the dead-letter hook), requests complete
 * ECANCELED, forwarded outcomes are let go. The consumer role only. */
static void drain(actor_addr *a, drain_count *n)
{
    actori_node *node;
    while ((node = actori_mpscq_pop(&a->mbox)) != NULL) {
        actori_msg *m = (actori_msg *)node;
        actori_env *e = (actori_env *)m;
        switch (m->kind) {
        /* Counted as dropped (canceled) before it leaves `queued`: a reader
         * of the counters never misses it, even from a drain that runs after
         * Done (a sender that pushed late). */
        case ACTORI_EVENT:
            n->events++;
            atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
            took_one(a);
            actori_cell_dead_letter(a, e->type, actori_env_payload(e), e->msg.len,
                                    ACTOR_ECLOSED);
            actori_env_free(e);
            break;
        case ACTORI_REQUEST:
            n->requests++;
            atomic_fetch_add_explicit(&a->canceled, 1, memory_order_relaxed);
            took_one(a);
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
        case ACTORI_DOWN:
            actori_monitor_drop(e);
            actori_env_free(e);
            break;
        case ACTORI_DATA:
        case ACTORI_IO_END:
            io()->drop(a, e);
            actori_env_free(e);
            break;
        case ACTORI_CLOSE:
            atomic_store_explicit(&a->close_queued, 0, memory_order_seq_cst);
            break;
        case ACTORI_WAKE:
            actori_env_free(e);
            break;
        case ACTORI_SHUTDOWN:
            break;
        }
    }
}

static void report_drain(actor_addr *a, const drain_count *n)
{
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

/* The end of an incarnation: timers and the monitors it holds end,
 * finalize and state_free run, the state goes. */
static void finalize_incarnation(actor_addr *a, actori_worker *w)
{
    actor_class *cls = a->cls;
    a->finalized = 1;
    w->cur_type = NULL;    /* finalize handles no message */
    actori_timers_stop(a); /* before finalize: it may not start new ones */
    actori_monitors_watcher_stop(a);
    actori_fail *f = actori_cell_fail_if(a);
    if (f != NULL && f->io != NULL)
        io()->stop(a); /* its socket closes: nothing more arrives */
    if (cls->finalize != NULL)
        cls->finalize(ctx_of(a), a->state);
    if (a->state != NULL && cls->state_free != NULL)
        cls->state_free(a->state);
    if (a->owns_state)
        actori_free(a->state);
    a->state = NULL;
    a->owns_state = 0;
}

/* A new incarnation in place: the same cell, address and mailbox; a fresh
 * zeroed state; init runs at the next turn. */
static void restart(actor_addr *a)
{
    a->stopping = 0;
    a->started = 0;
    a->finalized = 0;
    a->exit_reason = 0;
    if (a->cls->state_size > 0) {
        a->state = actori_calloc(1, a->cls->state_size);
        if (a->state != NULL) {
            a->owns_state = 1;
        } else {
            /* Fails at once, with the reason: its supervisor decides again. */
            a->started = 1;
            a->exit_reason = ACTOR_ENOMEM;
            a->stopping = 1;
        }
    }
    actori_fail *f = actori_cell_fail_if(a);
    atomic_fetch_add_explicit(&f->restarts, 1, memory_order_relaxed);
}

/* The final end: what is queued is answered, the actor is Done, and who
 * waits for that hears it. Inlined into its two callers (stop_path and
 * resume), themselves out of the loop: a call of its own cost W3 some 20
 * instructions per actor. */
static inline __attribute__((always_inline)) void finish(actor_addr *a, actori_worker *w)
{
    (void)w;
    /* A supervised child turned senders away only now. */
    atomic_fetch_or_explicit(&a->status, ACTORI_S_STOPPING, memory_order_release);
    /* Before Done: once a joiner returns, its names and subscriptions are
     * gone. */
    parts_done(a);
    drain_count n = {0, 0, 0};
    drain(a, &n);
    report_drain(a, &n);
    actori_runtime_unlink(a->home, a);

    /* release: pairs with joiners' acquire loads and with the acquire of a
     * sender that later finds the mailbox empty (via markempty's release). */
    uint32_t old = atomic_fetch_or_explicit(&a->status, ACTORI_S_DONE, memory_order_seq_cst);
    if (old & ACTORI_S_WAITERS)
        actori_futex_wake_all(&a->status);
    /* Without a failure block nobody monitors a: no call (its own load of
     * the block would come at this same point and find it NULL too). */
    actori_fail *f = actori_cell_fail_if(a);
    if (f != NULL)
        actori_monitors_target_done(a);
    if (f != NULL && f->link != NULL) /* made before a first ran, if at all */
        ops()->child_done(a);
    /* Senders waiting for room (bounded mailboxes only) learn that there
     * will be none: a wake only if one announced itself (no system call
     * per actor otherwise: that doubled W3's stop+join). */
    if (a->counted)
        actori_cell_wake_room(a);
    drain_final(a);
    actori_cell_unref(a); /* the runtime's reference */
}

/* What a stopping actor does next, in order: a supervisor first stops its
 * children (and waits, parked, until they are stopped); finalize runs; a
 * supervised child asks its supervisor, which restarts it in place (now, or
 * later: parked meanwhile) or lets it be Done. Returns true when a is to
 * run again at once (restarted), false when it is parked or Done. */
static __attribute__((noinline)) bool stop_path(actor_addr *a, actori_worker *w)
{
    actori_fail *f = actori_cell_fail_if(a);
    /* Parking (a->parked) is set by the supervisor part under the lock its
     * resumers take, before it returns: once they can see it parked they may
     * schedule it, and this thread touches the cell no more. */
    if (f != NULL && f->group != NULL && !a->finalized && ops()->group_stopping(a))
        return false;
    if (!a->finalized)
        finalize_incarnation(a, w);
    int word = ACTORI_RESUME_FINISH;
    if (f != NULL && f->link != NULL && (word = ops()->child_stopped(a, a->exit_reason)) == 0)
        return false;
    if (word == ACTORI_RESUME_RESTART) {
        restart(a);
        if (f->group != NULL)
            ops()->group_restarted(a);
        return true;
    }
    if (f != NULL && f->group != NULL && ops()->group_finishing(a))
        return false;
    finish(a, w);
    return false;
}

/* A parked actor scheduled again: its supervisor's word. */
static __attribute__((noinline)) bool resume(actor_addr *a, actori_worker *w)
{
    a->parked = 0;
    int word = a->resume;
    a->resume = 0;
    actori_fail *f = actori_cell_fail_if(a);
    if (!a->finalized) /* a supervisor whose children are stopped now */
        return stop_path(a, w);
    if (word == ACTORI_RESUME_RESTART) {
        restart(a);
        if (f->group != NULL)
            ops()->group_restarted(a);
        return true;
    }
    if (f != NULL && f->group != NULL && ops()->group_finishing(a))
        return false;
    finish(a, w);
    return false;
}

/* The actor's first run (init), a resumed park, or its supervisor's stop
 * request: everything but the message loop, kept out of it so that the
 * loop stays small enough to inline into the worker's turn. Returns
 * ENTER_NOT when the actor is not to run its messages now (parked or Done:
 * one callback ran), else ENTER_INIT when init ran, ENTER_RUN when not.
 * A code rather than pointers to the caller's counters: their addresses
 * kept them in memory on the loop's path. */
enum { ENTER_NOT = -1, ENTER_RUN = 0, ENTER_INIT = 1 };
static __attribute__((noinline)) int cell_enter(actor_addr *a, actori_worker *w)
{
    if (a->parked && !resume(a, w))
        return ENTER_NOT;
    int entered = ENTER_RUN;
    if (!a->started) {
        a->started = 1;
        entered = ENTER_INIT;
        w->cur_type = NULL;
        if (a->cls->init != NULL) {
            int rc = a->cls->init(ctx_of(a), a->state);
            if (rc != 0) {
                actori_log(ACTOR_LOG_ERROR, "actor of class %s: init failed: %d (%s)",
                           a->cls->name, rc, actor_strerror(rc));
                a->exit_reason = rc;
                cell_stop(a);
            }
        }
    }
    /* Its supervisor's stop request, looked at once per batch (and by the
     * WAKE message it queued): not per message, which would cost every
     * actor. */
    if (atomic_load_explicit(&a->stop_req, memory_order_acquire))
        cell_stop(a);
    return entered;
}

/* Inlined into the worker's turn (across files, by the link-time
 * optimizer): the call's frame cost W1 23 instructions per round trip. */
__attribute__((always_inline)) inline bool actori_cell_run(actor_addr *a, unsigned batch,
                                                           unsigned *ran)
{
    actori_worker *w = actori_tls_worker;
    w->cur = a;
    unsigned n = 0;
again:
    if (__builtin_expect(!a->started || a->parked ||
                             atomic_load_explicit(&a->stop_req, memory_order_relaxed),
                         0)) {
        int entered = cell_enter(a, w);
        if (entered == ENTER_NOT) {
            *ran += 1;
            w->cur = NULL;
            return false;
        }
        if (entered == ENTER_INIT) {
            n = batch == 1; /* stepping by hand: init is a step of its own */
            *ran += 1;
        }
    }
    for (; !a->stopping; n++) {
        if (n == batch) {
            w->cur = NULL;
            return true;
        }
        actori_node *node = actori_mpscq_pop(&a->mbox);
        if (node == NULL) {
            w->cur = NULL;
            return !actori_mpscq_markempty(&a->mbox);
        }
        *ran += 1;
        if (__builtin_expect(w->timed, 0))
            dispatch_timed(a, w, (actori_msg *)node);
        else
            dispatch(a, w, (actori_msg *)node);
    }
    *ran += 1;
    if (stop_path(a, w)) {
        if (n < batch)
            goto again;
        w->cur = NULL;
        return true;
    }
    w->cur = NULL;
    return false;
}

void actori_cell_push(actor_addr *a, actori_msg *m)
{
    if (actori_mpscq_push(&a->mbox, &m->node)) {
        /* We hold the consumer role. The acquire in push pairs with the
         * release of markempty, so a Done set before it is seen here. */
        if (atomic_load_explicit(&a->status, memory_order_acquire) & ACTORI_S_DONE) {
            /* What is drained may hold the last reference to a (a Down's
             * monitor record holds its watcher): keep a alive meanwhile. */
            actori_cell_ref(a);
            drain_final(a);
            actori_cell_unref(a);
        } else {
            actori_schedule_woken(a);
        }
    }
}

/* ---- the context: only inside the actor's own callbacks ---- */

actor_addr *actor_ctx_self(actor_ctx *ctx) { return ctx ? cell_of(ctx) : NULL; }

actor_runtime *actor_ctx_runtime(actor_ctx *ctx) { return ctx ? cell_of(ctx)->home : NULL; }

actor_class *actor_ctx_class(actor_ctx *ctx) { return ctx ? cell_of(ctx)->cls : NULL; }

const actor_msgtype *actor_ctx_msgtype(actor_ctx *ctx)
{
    actori_worker *w = ctx ? current_of(cell_of(ctx)) : NULL;
    return w ? w->cur_type : NULL;
}

uint64_t actor_ctx_tag(actor_ctx *ctx)
{
    actori_worker *w = ctx ? current_of(cell_of(ctx)) : NULL;
    return w ? w->cur_tag : 0;
}

void actor_ctx_stop(actor_ctx *ctx)
{
    if (ctx != NULL)
        cell_stop(cell_of(ctx));
}

void actor_ctx_fail(actor_ctx *ctx, int reason)
{
    if (ctx == NULL)
        return;
    actor_addr *a = cell_of(ctx);
    if (reason == 0) {
        actori_log(ACTOR_LOG_WARN, "actor of class %s: actor_ctx_fail with reason 0: failing "
                                   "with ACTOR_EINVAL instead", a->cls->name);
        reason = ACTOR_EINVAL;
    }
    if (!a->stopping || a->exit_reason == 0)
        a->exit_reason = reason; /* the first failure is the reason */
    cell_stop(a);
}

uint64_t actori_cell_restarts(const actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    return f ? atomic_load_explicit(&f->restarts, memory_order_relaxed) : 0;
}

int actor_ctx_reply(actor_ctx *ctx, const void *reply, size_t len)
{
    if (ctx == NULL || (reply == NULL && len > 0))
        return ACTOR_EINVAL;
    actori_worker *w = current_of(cell_of(ctx));
    actor_responder *r = w ? w->cur_request : NULL;
    if (r == NULL)
        return ACTOR_EINVAL;
    if (!actori_msgtype_reply_fits(r->type, len)) {
        w->cur_reply_refused = 1;
        return ACTOR_ETYPE;
    }
    unsigned char *buf;
    int rc = actori_responder_reply_buf(len, &buf);
    if (rc != ACTOR_OK)
        return rc;
    w->cur_request = NULL;
    actori_responder_reply(r, buf, reply, len); /* late (expired): goes nowhere */
    return ACTOR_OK;
}

actor_responder *actori_cell_request(actor_addr *a)
{
    actori_worker *w = current_of(a);
    return w ? w->cur_request : NULL;
}

actor_responder *actori_cell_take_request(actor_addr *a)
{
    actori_worker *w = current_of(a);
    actor_responder *r = w ? w->cur_request : NULL;
    if (r != NULL)
        w->cur_request = NULL;
    return r;
}

int64_t actor_ctx_deadline_left(actor_ctx *ctx)
{
    actori_worker *w = ctx ? current_of(cell_of(ctx)) : NULL;
    if (w == NULL || w->cur_due == 0)
        return -1;
    uint64_t now = actori_clock_now(&cell_of(ctx)->home->clock);
    /* Rounded up: 0 only once the deadline passed. */
    return now >= w->cur_due ? 0 : (int64_t)((w->cur_due - now + 999999) / 1000000);
}
