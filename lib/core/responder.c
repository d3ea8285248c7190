/* Responders: one completion, four ways to wait for it (blocking wait, an
 * fd to poll, a callback, or forwarding to an actor's on_response).
 *
 * The state word holds every fact two threads race on. The completer sets
 * COMPLETE with one fetch_or and acts on the bits it finds (THEN, FD,
 * FORWARD, WAITER); each registrar sets its bit with one fetch_or and acts
 * itself if it finds COMPLETE. Both are RMWs on one word, so exactly one
 * of the two sees the other: each completion action runs exactly once. */
#include "responder.h"

#include "alloc.h"
#include "cell.h"
#include "class.h"
#include "runtime.h"
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The responder whose then-callback this thread is running: freeing it from
 * inside its own callback must not wait for the callback to return. */
static _Thread_local actor_responder *running_callback __attribute__((tls_model("initial-exec")));

actor_responder *actori_responder_new(const actor_msgtype *t)
{
    actor_responder *r = actori_malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    atomic_init(&r->state, 0);
    atomic_init(&r->refs, 2);
    r->status = ACTOR_EAGAIN;
    r->handler_error = 0;
    r->type = t;
    r->len = 0;
    r->data = NULL;
    r->cb = NULL;
    r->ud = NULL;
    atomic_init(&r->efd, -1);
    r->forward_to = NULL;
    r->forward_env = NULL;
    r->forward_tag = 0;
    r->deadline_clock = NULL;
    r->manual_rt = NULL;
    return r;
}

int actori_responder_reply_buf(size_t len, unsigned char **buf)
{
    *buf = NULL;
    if (len > ACTORI_R_INLINE && (*buf = actori_malloc(len)) == NULL)
        return ACTOR_ENOMEM;
    return ACTOR_OK;
}

/* With a deadline, the request side and the clock race to complete: one
 * fetch_or decides. Without one, the request side is the only completer. */
static bool claim(actor_responder *r)
{
    return !actori_responder_has_deadline(r) ||
           !(atomic_fetch_or_explicit(&r->state, ACTORI_R_CLAIMED, memory_order_acq_rel) &
             ACTORI_R_CLAIMED);
}

static void finish_completion(actor_responder *r, int status, int handler_error);
static inline __attribute__((always_inline)) void complete_now(actor_responder *r, int status,
                                                               int handler_error);

/* The clock may not have fired a deadline that passed: an answer after it
 * is late all the same, and the final status is ACTOR_EEXPIRED. */
static bool past_deadline(const actor_responder *r)
{
    return actori_responder_has_deadline(r) &&
           actori_clock_now(r->deadline_clock) >= r->deadline.due_ns;
}

void actori_responder_reply(actor_responder *r, unsigned char *buf, const void *reply, size_t len)
{
    if (!claim(r)) {
        actori_free(buf);
        actori_responder_release(r);
        return;
    }
    if (past_deadline(r)) {
        actori_free(buf);
        finish_completion(r, ACTOR_EEXPIRED, 0);
        actori_responder_release(r);
        return;
    }
    unsigned char *data = buf != NULL ? buf : r->inline_buf;
    if (len > 0)
        memcpy(data, reply, len);
    r->data = data;
    r->len = len;
    complete_now(r, ACTOR_OK, 0);
    actori_responder_release(r);
}

void actori_responder_release(actor_responder *r)
{
    /* acq_rel: the last owner sees the other's writes before freeing. */
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    int fd = atomic_load_explicit(&r->efd, memory_order_relaxed);
    if (fd >= 0)
        close(fd);
    if (r->data != NULL && r->data != r->inline_buf)
        actori_free(r->data);
    actori_free(r);
}

static void signal_fd(actor_responder *r)
{
    int fd = atomic_load_explicit(&r->efd, memory_order_acquire);
    uint64_t one = 1;
    /* The fd lives until the last reference goes, and the caller holds one. */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void run_callback(actor_responder *r)
{
    actor_responder *outer = running_callback;
    running_callback = r;
    r->cb(r, r->ud);
    running_callback = outer;
}

static void deliver_forward(actor_responder *r)
{
    actor_addr *to = r->forward_to;
    actori_env *e = r->forward_env;
    *actori_env_responder(e) = r; /* the envelope now owns the requester's reference */
    actori_cell_push(to, &e->msg);
    addr_release(to);
}

void actori_responder_complete(actor_responder *r, int status, int handler_error)
{
    if (claim(r)) {
        if (status != ACTOR_EEXPIRED && past_deadline(r))
            status = ACTOR_EEXPIRED, handler_error = 0;
        complete_now(r, status, handler_error);
    }
    actori_responder_release(r);
}

/* ---- deadlines: the clock's side ---- */

static actor_responder *of_deadline(actori_timed *item)
{
    return (actor_responder *)((char *)item - offsetof(actor_responder, deadline));
}

bool actori_deadline_dead(actori_timed *item) { return actori_responder_settled(of_deadline(item)); }

void actori_deadline_drop(actori_timed *item) { actori_responder_release(of_deadline(item)); }

void actori_deadline_fire(actori_timed *item)
{
    actor_responder *r = of_deadline(item);
    if (claim(r))
        finish_completion(r, ACTOR_EEXPIRED, 0);
    actori_responder_release(r); /* the clock's reference */
}

/* Publishes the outcome and runs what waits for it, once. The caller holds
 * a reference, which it drops afterwards. Inlined into the two completions
 * of every request (a call there cost W1 37 instructions per round trip);
 * finish_completion is the out-of-line copy for the rare paths. */
static inline __attribute__((always_inline)) void complete_now(actor_responder *r, int status,
                                                               int handler_error)
{
    r->status = status;
    r->handler_error = handler_error;
    if (status != ACTOR_OK) {
        r->data = NULL;
        r->len = 0;
    }
    /* acq_rel: release publishes status and data to whoever sees COMPLETE;
     * acquire makes the registrars' fields (cb, efd, forward_*) visible. */
    uint32_t old = atomic_fetch_or_explicit(&r->state, ACTORI_R_COMPLETE, memory_order_acq_rel);
    if (old & ACTORI_R_FD)
        signal_fd(r);
    if (old & ACTORI_R_FORWARD) {
        deliver_forward(r); /* may release the requester's reference: r stays
                               alive through the request side's, held here */
    } else if ((old & ACTORI_R_THEN) && !(old & ACTORI_R_FREED)) {
        run_callback(r);
        old = atomic_fetch_or_explicit(&r->state, ACTORI_R_CB_DONE, memory_order_acq_rel);
    }
    if (old & ACTORI_R_WAITER)
        actori_futex_wake_all(&r->state);
}

static __attribute__((noinline)) void finish_completion(actor_responder *r, int status,
                                                         int handler_error)
{
    complete_now(r, status, handler_error);
}

int actor_responder_status(const actor_responder *r)
{
    if (r == NULL)
        return ACTOR_EINVAL;
    uint32_t s = atomic_load_explicit(&((actor_responder *)r)->state, memory_order_acquire);
    return (s & ACTORI_R_COMPLETE) ? r->status : ACTOR_EAGAIN;
}

int actor_responder_wait(actor_responder *r, int timeout_ms)
{
    if (r == NULL)
        return ACTOR_EINVAL;
    if (timeout_ms != 0 && actori_on_worker())
        return ACTOR_EDEADLK;
    if (timeout_ms != 0 && r->manual_rt != NULL && actor_responder_status(r) == ACTOR_EAGAIN) {
        /* Nobody else runs a manual runtime: run it here until r completes
         * or it idles (ETIMEDOUT at once, the clock not moved). */
        int rc = actori_manual_drive_until(r->manual_rt, &r->state, ACTORI_R_COMPLETE);
        if (rc != ACTOR_EBUSY)
            return rc == ACTOR_OK ? r->status : rc;
    }
    int64_t deadline = timeout_ms == 0 ? 0 : actori_deadline(timeout_ms);
    if (actori_wait_for_bits(&r->state, ACTORI_R_COMPLETE, ACTORI_R_WAITER, deadline, true) != 0)
        return ACTOR_ETIMEDOUT;
    return r->status;
}

const void *actor_responder_data(const actor_responder *r, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (actor_responder_status(r) != ACTOR_OK)
        return NULL;
    if (len != NULL)
        *len = r->len;
    /* A reply of size 0 still gets a non-NULL pointer: NULL means "no reply". */
    return r->data ? (const void *)r->data : (const void *)r->inline_buf;
}

int actor_responder_handler_error(const actor_responder *r)
{
    return actor_responder_status(r) == ACTOR_EHANDLER ? r->handler_error : 0;
}

const actor_msgtype *actor_responder_type(const actor_responder *r)
{
    return r ? r->type : NULL;
}

int actor_responder_fd(actor_responder *r)
{
    if (r == NULL)
        return ACTOR_EINVAL;
    int fd = atomic_load_explicit(&r->efd, memory_order_acquire);
    if (fd >= 0)
        return fd;
    int made = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (made < 0)
        return ACTOR_ENOMEM;
    int expected = -1;
    if (!atomic_compare_exchange_strong_explicit(&r->efd, &expected, made, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        close(made); /* another thread made one first */
        return expected;
    }
    uint32_t old = atomic_fetch_or_explicit(&r->state, ACTORI_R_FD, memory_order_acq_rel);
    if (old & ACTORI_R_COMPLETE)
        signal_fd(r);
    return made;
}

int actor_responder_then(actor_responder *r, void (*cb)(actor_responder *, void *), void *ud)
{
    if (r == NULL || cb == NULL)
        return ACTOR_EINVAL;
    uint32_t s = atomic_load_explicit(&r->state, memory_order_relaxed);
    if (s & (ACTORI_R_THEN | ACTORI_R_FORWARD))
        return ACTOR_EINVAL;
    r->cb = cb;
    r->ud = ud;
    /* acq_rel: release publishes cb/ud to the completer; acquire sees its data. */
    uint32_t old = atomic_fetch_or_explicit(&r->state, ACTORI_R_THEN, memory_order_acq_rel);
    if (old & ACTORI_R_COMPLETE) {
        /* Run here, on the caller's thread. CB_DONE goes first: the callback
         * may free r, and no other thread may free it concurrently with this
         * call (the caller owns the handle). */
        atomic_fetch_or_explicit(&r->state, ACTORI_R_CB_DONE, memory_order_relaxed);
        run_callback(r);
    }
    return ACTOR_OK;
}

int actor_responder_forward(actor_responder *r, actor_addr *to)
{
    return actor_responder_forward_tagged(r, to, 0);
}

int actor_responder_forward_tagged(actor_responder *r, actor_addr *to, uint64_t tag)
{
    if (r == NULL || to == NULL)
        return ACTOR_EINVAL;
    uint32_t s = atomic_load_explicit(&r->state, memory_order_relaxed);
    if (s & (ACTORI_R_THEN | ACTORI_R_FORWARD))
        return ACTOR_EINVAL;
    const actori_handlers *h = actori_class_handlers(to->cls, r->type);
    if (h == NULL || h->response == NULL)
        return ACTOR_ENOHANDLER;
    if (actori_cell_open(to) != ACTOR_OK)
        return ACTOR_ECLOSED;
    actori_env *e = actori_env_new(ACTORI_RESPONSE, r->type, NULL, 0);
    if (e == NULL)
        return ACTOR_ENOMEM;
    r->forward_to = addr_ref(to);
    r->forward_env = e;
    r->forward_tag = tag;
    uint32_t old = atomic_fetch_or_explicit(&r->state, ACTORI_R_FORWARD, memory_order_acq_rel);
    if (old & ACTORI_R_COMPLETE)
        deliver_forward(r);
    return ACTOR_OK;
}

void actor_responder_free(actor_responder *r)
{
    if (r == NULL)
        return;
    uint32_t old = atomic_fetch_or_explicit(&r->state, ACTORI_R_FREED, memory_order_acq_rel);
    /* A callback the completer already started must end before we return,
     * unless this very thread is running it. */
    if ((old & ACTORI_R_THEN) && (old & ACTORI_R_COMPLETE) && running_callback != r)
        actori_wait_for_bits(&r->state, ACTORI_R_CB_DONE, ACTORI_R_WAITER, -1, false);
    actori_responder_release(r);
}
