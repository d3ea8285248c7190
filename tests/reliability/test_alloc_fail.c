/*
 * test_alloc_fail — allocation-failure injection over a full scenario.
 *
 * actor_set_allocator must be the first library call of a process, so the
 * driver (this program without arguments) never calls the library itself:
 * for N = 0, 1, 2, ... it forks a child that installs a counting allocator
 * whose Nth allocation attempt (malloc, calloc or realloc, counted from the
 * first) returns NULL, then runs the whole scenario: types, classes, a
 * runtime, spawns, events, requests (replies, handler errors, dropped
 * requests, deferred answers), promises, then-callbacks, fds, forwarding, an
 * interrupt, shutdown and free.
 *
 * Each child checks:
 * - every call returns ACTOR_OK or ACTOR_ENOMEM (or the code the scenario
 *   expects, e.g. ACTOR_ETYPE for a deliberately wrong size); on ACTOR_ENOMEM
 *   nothing was done, so the same call is retried and must then succeed;
 * - every accepted request is answered (its responder completes, with the
 *   status its handler chose), forwarded outcomes are delivered, events
 *   accepted = handled + dropped;
 * - no crash, no hang (alarm), and no leak: the allocator's count of live
 *   blocks is 0 at the end (type registry blocks, process-lifetime by
 *   contract, are counted apart; libevent's global locks are freed with
 *   libevent_global_shutdown()).
 * The driver stops at the first N whose child never reached its Nth
 * allocation (the scenario ran clean) and prints the N range covered.
 *
 *   test_alloc_fail            the driver (what ctest runs)
 *   test_alloc_fail --run N    one scenario in this process (for gdb/valgrind)
 *   test_alloc_fail --cascade  the driver for a second scenario in which every
 *                              allocation from the Nth on fails (memory gone
 *                              for good): whatever needs no memory (shutdown,
 *                              free, cancel, release) must still work
 *                              (ctest: rel_alloc_cascade; --cascade-run N for
 *                              one run in this process)
 *   test_alloc_fail --closed   the scenario without injection, but after the
 *                              shutdown every allocation fails: calls on the
 *                              closed runtime / Done actors must still return
 *                              ACTOR_ECLOSED, not ACTOR_ENOMEM (ctest:
 *                              rel_alloc_closed)
 *
 * Environment: ACTOR_ALLOC_FAIL_STEP=k tests every k-th N only (slow builds);
 * ACTOR_ALLOC_FAIL_MAX=M stops after N = M.
 */
#include "rel_util.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define NSERVERS 3
#define NEVENTS 24
#define NREQ 20
#define NBIG 4
#define MAX_PROMISES 32
#define RETRIES 3
#define WAIT_MS 10000

/* Calls `expr` (an int-returning library call) until it does not return
 * ACTOR_ENOMEM, at most RETRIES times; evaluates to the last code. Only one
 * allocation ever fails, so a retry after ENOMEM must succeed. */
#define RETRY(expr)                                                                    \
    ({                                                                                 \
        int rt_rc_ = ACTOR_ENOMEM;                                                     \
        for (int rt_i_ = 0; rt_i_ < RETRIES && rt_rc_ == ACTOR_ENOMEM; rt_i_++)        \
            rt_rc_ = (expr);                                                           \
        rt_rc_;                                                                        \
    })

/* Blocks made inside `expr` live as long as the process (type registry). */
#define PERMANENT(expr)                                                                \
    ({                                                                                 \
        rel_mark_permanent = 1;                                                        \
        int pm_rc_ = (expr);                                                           \
        rel_mark_permanent = 0;                                                        \
        pm_rc_;                                                                        \
    })

static const actor_msgtype *t_ev, *t_req, *t_big, *t_opq;

typedef struct server_state {
    atomic_ullong handled;
} server_state;

static server_state servers_state[NSERVERS];
static actor_addr *sink; /* set before any server runs a handler that reads it */
static atomic_ullong sink_accepted, sink_handled, sink_delivered, sink_delivered_ok;
static atomic_int inits, finals;
static actor_class *child_cls;
static atomic_int child_spawned, child_handled;

static pthread_mutex_t promises_mu = PTHREAD_MUTEX_INITIALIZER;
static actor_promise *promises[MAX_PROMISES];
static int64_t promise_value[MAX_PROMISES];
static int promise_big[MAX_PROMISES];
static int npromises;

static int64_t get_i64(const void *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int on_init(actor_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    atomic_fetch_add(&inits, 1);
    return 0;
}

static void on_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    atomic_fetch_add(&finals, 1);
}

static int server_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    server_state *st = state;
    REL_CHECK(len == 8);
    atomic_fetch_add(&st->handled, 1);
    int64_t v = get_i64(payload);
    if (v == 5) {
        /* Spawned from inside an actor (on the spawner's worker), sent an
         * event, and let go: the last release closes it. */
        actor_addr *child = NULL;
        int rc = RETRY(actor_spawn(actor_ctx_runtime(ctx), child_cls, NULL, &child));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK) {
            atomic_fetch_add(&child_spawned, 1);
            REL_CHECK_CODE(RETRY(addr_send(child, t_ev, &v, sizeof v)), ACTOR_OK);
            addr_release(child);
        }
    }
    if (v % 7 == 3) {
        /* An actor sends too: from a worker thread, through the same paths. */
        int rc = RETRY(addr_send(sink, t_ev, &v, sizeof v));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK)
            atomic_fetch_add(&sink_accepted, 1);
    }
    return 0;
}

static int server_opaque(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    server_state *st = state;
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        REL_CHECK(p[i] == (unsigned char)(len + i));
    atomic_fetch_add(&st->handled, 1);
    return 0;
}

static void keep_promise(actor_promise *p, int64_t v, int big)
{
    pthread_mutex_lock(&promises_mu);
    if (npromises < MAX_PROMISES) {
        promises[npromises] = p;
        promise_value[npromises] = v;
        promise_big[npromises] = big;
        npromises++;
        p = NULL;
    }
    pthread_mutex_unlock(&promises_mu);
    if (p != NULL) {
        REL_CHECK(!"too many promises");
        actor_promise_free(p);
    }
}

static int server_request(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    REL_CHECK(len == 8);
    int64_t v = get_i64(payload);
    int64_t r = v + 1;
    switch (v % 5) {
    case 0:
        REL_CHECK_CODE(RETRY(actor_ctx_reply(ctx, &r, sizeof r)), ACTOR_OK);
        return 0;
    case 1:
        return 42; /* EHANDLER, handler_error 42 */
    case 2:
        return 0; /* ECANCELED: the dropped oneshot */
    case 3: {
        actor_promise *p = NULL;
        int rc = RETRY(actor_ctx_defer(ctx, &p));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK)
            keep_promise(p, v, 0);
        return 0;
    }
    default:
        REL_CHECK_CODE(RETRY(actor_ctx_reply(ctx, &r, sizeof r)), ACTOR_OK);
        REL_CHECK_CODE(actor_ctx_reply(ctx, &r, sizeof r), ACTOR_EINVAL);
        return 0;
    }
}

static void fill_big(unsigned char *b, int64_t v)
{
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)(v * 31 + i);
}

static int server_big(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    REL_CHECK(len == 8);
    int64_t v = get_i64(payload);
    if (v % 2 == 1) {
        actor_promise *p = NULL;
        int rc = RETRY(actor_ctx_defer(ctx, &p));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK)
            keep_promise(p, v, 1);
        return 0;
    }
    unsigned char b[32];
    fill_big(b, v);
    /* A wrong size first: ETYPE, and the request stays unanswered. */
    REL_CHECK_CODE(actor_ctx_reply(ctx, b, 31), ACTOR_ETYPE);
    /* 32 bytes do not fit inline: the reply copy is an allocation. */
    REL_CHECK_CODE(RETRY(actor_ctx_reply(ctx, b, sizeof b)), ACTOR_OK);
    return 0;
}

static int child_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    REL_CHECK(state != NULL && len == 8);
    atomic_fetch_add(&child_handled, 1);
    return 0;
}

static int sink_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    (void)state;
    (void)payload;
    REL_CHECK(len == 8);
    atomic_fetch_add(&sink_handled, 1);
    return 0;
}

static void sink_response(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                          const void *reply, size_t len)
{
    (void)ctx;
    REL_CHECK(state != NULL); /* runtime-made state (state_size) */
    REL_CHECK(type == t_req || type == t_big);
    if (status == ACTOR_OK) {
        REL_CHECK(reply != NULL && len == actor_msgtype_reply_size(type));
        atomic_fetch_add(&sink_delivered_ok, 1);
    }
    atomic_fetch_add(&sink_delivered, 1);
}

typedef struct req {
    actor_responder *r;
    int64_t v;
    int big;
    int server;
    int forwarded;
    int has_then;
    int free_in_then; /* the callback frees the responder itself */
    atomic_int then_calls;
} req;

static void then_cb(actor_responder *r, void *ud)
{
    req *q = ud;
    REL_CHECK(q->r == r);
    REL_CHECK(actor_responder_status(r) != ACTOR_EAGAIN);
    atomic_fetch_add(&q->then_calls, 1);
    if (q->free_in_then)
        actor_responder_free(r); /* allowed inside its own callback */
}

static int promise_index_of(int64_t v, int big)
{
    pthread_mutex_lock(&promises_mu);
    int found = -1;
    for (int i = 0; i < npromises; i++)
        if (promise_value[i] == v && promise_big[i] == big)
            found = i;
    pthread_mutex_unlock(&promises_mu);
    return found;
}

/* How each deferred request is answered: by its index in the request list. */
enum { ANSWER_RESOLVE, ANSWER_REJECT, ANSWER_FREE, ANSWER_HOLD };

/* closed_checks: after shutdown, make every allocation fail and check that
 * calls on the closed runtime and Done actors still return ACTOR_ECLOSED
 * (closed is checked before memory is asked for). */
static int closed_checks;

static int scenario(void)
{
    int rc;
    /* Types: process-lifetime blocks. */
    REL_CHECK_CODE(PERMANENT(RETRY(actor_msgtype_define("af.Ev", "q", NULL, &t_ev))), ACTOR_OK);
    REL_CHECK_CODE(PERMANENT(RETRY(actor_msgtype_define("af.Req", "q", "q", &t_req))), ACTOR_OK);
    REL_CHECK_CODE(PERMANENT(RETRY(actor_msgtype_define("af.Big", "q", "32s", &t_big))),
                   ACTOR_OK);
    REL_CHECK_CODE(PERMANENT(RETRY(actor_msgtype_define("af.Opq", NULL, NULL, &t_opq))),
                   ACTOR_OK);
    /* Defined again: the same pointer, no allocation. */
    const actor_msgtype *again = NULL;
    REL_CHECK_CODE(actor_msgtype_define("af.Req", "q", "q", &again), ACTOR_OK);
    REL_CHECK(again == t_req);
    if (rel_failed())
        return 1;

    actor_class *server_cls = NULL, *sink_cls = NULL;
    REL_CHECK_CODE(RETRY(actor_class_new("af.Server", &server_cls)), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_new("af.Sink", &sink_cls)), ACTOR_OK);
    if (rel_failed())
        return 1;
    REL_CHECK_CODE(actor_class_on_init(server_cls, on_init), ACTOR_OK);
    REL_CHECK_CODE(actor_class_on_finalize(server_cls, on_finalize), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_event(server_cls, t_ev, server_event)), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_event(server_cls, t_opq, server_opaque)), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_request(server_cls, t_req, server_request)), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_request(server_cls, t_big, server_big)), ACTOR_OK);
    REL_CHECK_CODE(actor_class_on_init(sink_cls, on_init), ACTOR_OK);
    REL_CHECK_CODE(actor_class_on_finalize(sink_cls, on_finalize), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_event(sink_cls, t_ev, sink_event)), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_response(sink_cls, t_req, sink_response)), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_response(sink_cls, t_big, sink_response)), ACTOR_OK);
    REL_CHECK_CODE(actor_class_set_state_size(sink_cls, 40), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_new("af.Child", &child_cls)), ACTOR_OK);
    if (rel_failed())
        return 1;
    REL_CHECK_CODE(actor_class_on_init(child_cls, on_init), ACTOR_OK);
    REL_CHECK_CODE(actor_class_on_finalize(child_cls, on_finalize), ACTOR_OK);
    REL_CHECK_CODE(RETRY(actor_class_on_event(child_cls, t_ev, child_event)), ACTOR_OK);
    REL_CHECK_CODE(actor_class_set_state_size(child_cls, 24), ACTOR_OK);

    actor_runtime *rt = NULL;
    REL_CHECK_CODE(RETRY(actor_runtime_new(2, &rt)), ACTOR_OK);
    if (rel_failed())
        return 1;

    REL_CHECK_CODE(RETRY(actor_spawn(rt, sink_cls, NULL, &sink)), ACTOR_OK);
    actor_addr *servers[NSERVERS] = {0};
    for (int i = 0; i < NSERVERS; i++)
        REL_CHECK_CODE(RETRY(actor_spawn(rt, server_cls, &servers_state[i], &servers[i])),
                       ACTOR_OK);
    if (rel_failed())
        return 1;
    /* In use: setters refuse now (no allocation, no change). */
    REL_CHECK_CODE(actor_class_on_event(server_cls, t_req, server_event), ACTOR_EBUSY);

    /* Events, typed and opaque. */
    unsigned long long accepted[NSERVERS] = {0};
    for (int64_t i = 0; i < NEVENTS; i++) {
        rc = RETRY(addr_send(servers[i % NSERVERS], t_ev, &i, sizeof i));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK)
            accepted[i % NSERVERS]++;
    }
    static const size_t opaque_lens[] = {0, 3, 40, 200};
    for (size_t k = 0; k < sizeof opaque_lens / sizeof opaque_lens[0]; k++) {
        unsigned char buf[256];
        size_t len = opaque_lens[k];
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(len + i);
        int s = (int)(k % NSERVERS);
        rc = RETRY(addr_send(servers[s], t_opq, len ? buf : NULL, len));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK)
            accepted[s]++;
    }
    /* A wrong size: refused before any allocation. */
    int64_t x = 5;
    REL_CHECK_CODE(addr_send(servers[0], t_ev, &x, 4), ACTOR_ETYPE);

    /* Requests. */
    static req reqs[NREQ + NBIG];
    int nreqs = 0;
    for (int64_t i = 0; i < NREQ + NBIG; i++) {
        req *q = &reqs[nreqs];
        memset(q, 0, sizeof *q);
        q->big = i >= NREQ;
        q->v = q->big ? i - NREQ : i;
        q->server = (int)(i % NSERVERS);
        rc = RETRY(addr_interact(servers[q->server], q->big ? t_big : t_req, &q->v, sizeof q->v,
                                 &q->r));
        REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc != ACTOR_OK)
            continue;
        nreqs++;
        if (i % 4 == 0) {
            q->has_then = 1;
            q->free_in_then = i % 8 == 0;
            REL_CHECK_CODE(actor_responder_then(q->r, then_cb, q), ACTOR_OK);
        } else if (i % 6 == 1) {
            int fd = actor_responder_fd(q->r);
            REL_CHECK(fd >= 0);
        } else if (!q->big && (q->v % 5 == 0 || q->v % 5 == 4)) {
            rc = RETRY(actor_responder_forward(q->r, sink));
            REL_CHECK_CODE(rc, ACTOR_OK);
            if (rc == ACTOR_OK)
                q->forwarded = 1; /* consumed */
        }
    }
    unsigned long long forwarded = 0;
    int expect_promises = 0;
    for (int i = 0; i < nreqs; i++) {
        forwarded += (unsigned long long)reqs[i].forwarded;
        if (reqs[i].big ? reqs[i].v % 2 == 1 : reqs[i].v % 5 == 3)
            expect_promises++;
    }

    /* Wait for the handlers to defer what they defer. */
    int64_t deadline = rel_now_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&promises_mu);
        int n = npromises;
        pthread_mutex_unlock(&promises_mu);
        if (n >= expect_promises)
            break;
        if (rel_now_ms() > deadline) {
            REL_CHECK(!"the deferred requests never arrived");
            break;
        }
        rel_nap_us(200);
    }

    /* Answer the promises: resolve, reject, free; hold the last one over the
     * runtime's end (it must then complete ECANCELED). */
    int held = -1;
    pthread_mutex_lock(&promises_mu);
    int np = npromises;
    pthread_mutex_unlock(&promises_mu);
    for (int i = 0; i < np; i++) {
        int how = i == np - 1 ? ANSWER_HOLD : i % 3;
        actor_promise *p = promises[i];
        if (how == ANSWER_RESOLVE) {
            if (promise_big[i]) {
                unsigned char b[32];
                fill_big(b, promise_value[i]);
                REL_CHECK_CODE(actor_promise_resolve(p, b, 8), ACTOR_ETYPE); /* still ours */
                REL_CHECK_CODE(RETRY(actor_promise_resolve(p, b, sizeof b)), ACTOR_OK);
            } else {
                int64_t r = promise_value[i] + 1;
                REL_CHECK_CODE(RETRY(actor_promise_resolve(p, &r, sizeof r)), ACTOR_OK);
            }
            promises[i] = NULL;
        } else if (how == ANSWER_REJECT) {
            REL_CHECK_CODE(actor_promise_reject(p, 0), ACTOR_EINVAL); /* still ours */
            REL_CHECK_CODE(actor_promise_reject(p, 77), ACTOR_OK);
            promises[i] = NULL;
        } else if (how == ANSWER_FREE) {
            actor_promise_free(p);
            promises[i] = NULL;
        } else {
            held = i;
        }
    }

    /* Every request not held completes, with the status its handler chose. */
    for (int i = 0; i < nreqs; i++) {
        req *q = &reqs[i];
        if (q->forwarded || q->free_in_then)
            continue;
        int pi = -1, how = -1;
        int deferred = q->big ? q->v % 2 == 1 : q->v % 5 == 3;
        if (deferred) {
            pi = promise_index_of(q->v, q->big);
            REL_CHECK(pi >= 0);
            how = pi == np - 1 ? ANSWER_HOLD : pi % 3;
            if (how == ANSWER_HOLD)
                continue;
        }
        rc = actor_responder_wait(q->r, WAIT_MS);
        int expect;
        if (deferred)
            expect = how == ANSWER_RESOLVE  ? ACTOR_OK
                     : how == ANSWER_REJECT ? ACTOR_EHANDLER
                                            : ACTOR_ECANCELED;
        else if (q->big)
            expect = ACTOR_OK;
        else
            expect = q->v % 5 == 1 ? ACTOR_EHANDLER : q->v % 5 == 2 ? ACTOR_ECANCELED : ACTOR_OK;
        REL_CHECK_CODE(rc, expect);
        if (rc == ACTOR_OK) {
            size_t len = 0;
            const unsigned char *d = actor_responder_data(q->r, &len);
            REL_CHECK(d != NULL);
            if (q->big) {
                unsigned char b[32];
                fill_big(b, q->v);
                REL_CHECK(len == 32 && d != NULL && memcmp(d, b, 32) == 0);
            } else {
                REL_CHECK(len == 8 && d != NULL && get_i64(d) == q->v + 1);
            }
        }
        if (rc == ACTOR_EHANDLER)
            REL_CHECK_CODE(actor_responder_handler_error(q->r), deferred ? 77 : 42);
    }

    /* Forwarded outcomes reach the sink. */
    deadline = rel_now_ms() + WAIT_MS;
    while (atomic_load(&sink_delivered) < forwarded && rel_now_ms() < deadline)
        rel_nap_us(200);
    REL_CHECK_EQ_U64(atomic_load(&sink_delivered), forwarded);
    REL_CHECK_EQ_U64(atomic_load(&sink_delivered_ok), forwarded);

    /* An interrupt (an allocation: the message), then the actor is Done and
     * turns senders away. */
    REL_CHECK_CODE(RETRY(addr_interrupt(servers[2])), ACTOR_OK);
    REL_CHECK_CODE(addr_join(servers[2], WAIT_MS), ACTOR_OK);
    REL_CHECK_CODE(addr_send(servers[2], t_ev, &x, sizeof x), ACTOR_ECLOSED);

    REL_CHECK_CODE(actor_runtime_shutdown(rt, WAIT_MS), ACTOR_OK);
    /* Closed is closed, memory or not: with every allocation failing, calls
     * on a shut-down runtime or a Done actor still say ACTOR_ECLOSED. */
    actor_addr *none = NULL;
    if (closed_checks) {
        atomic_store(&rel_fail_all, 1);
        REL_CHECK_CODE(actor_spawn(rt, server_cls, NULL, &none), ACTOR_ECLOSED);
        REL_CHECK_CODE(addr_send(servers[0], t_ev, &x, sizeof x), ACTOR_ECLOSED);
        actor_responder *nr = NULL;
        REL_CHECK_CODE(addr_interact(servers[1], t_req, &x, sizeof x, &nr), ACTOR_ECLOSED);
        REL_CHECK_CODE(addr_interrupt(servers[0]), ACTOR_ECLOSED);
        atomic_store(&rel_fail_all, 0);
    }
    REL_CHECK_CODE(actor_spawn(rt, server_cls, NULL, &none), ACTOR_ECLOSED);
    actor_runtime_free(rt);

    /* The held request was canceled by the runtime's end; the promise is
     * answered ECLOSED, stays ours, and is freed. */
    if (held >= 0) {
        int64_t hv = promise_value[held];
        int hb = promise_big[held];
        for (int i = 0; i < nreqs; i++)
            if (reqs[i].v == hv && reqs[i].big == hb && !reqs[i].free_in_then)
                REL_CHECK_CODE(actor_responder_wait(reqs[i].r, 0), ACTOR_ECANCELED);
        int64_t r = 0;
        unsigned char b[32] = {0};
        REL_CHECK_CODE(hb ? actor_promise_resolve(promises[held], b, sizeof b)
                          : actor_promise_resolve(promises[held], &r, sizeof r),
                       ACTOR_ECLOSED);
        actor_promise_free(promises[held]);
        promises[held] = NULL;
    }

    /* Conservation and exactly-once. */
    for (int s = 0; s < NSERVERS; s++) {
        unsigned long long dropped = 0;
        REL_CHECK_CODE(addr_dropped(servers[s], &dropped), ACTOR_OK);
        REL_CHECK_EQ_U64(atomic_load(&servers_state[s].handled) + dropped, accepted[s]);
    }
    unsigned long long sdropped = 0;
    REL_CHECK_CODE(addr_dropped(sink, &sdropped), ACTOR_OK);
    REL_CHECK_EQ_U64(atomic_load(&sink_handled) + sdropped, atomic_load(&sink_accepted));
    REL_CHECK_CODE(atomic_load(&child_spawned), 1);
    REL_CHECK_CODE(atomic_load(&child_handled), 1); /* the close comes behind the event */
    REL_CHECK_CODE(atomic_load(&inits), NSERVERS + 2);
    REL_CHECK_CODE(atomic_load(&finals), NSERVERS + 2);
    for (int i = 0; i < nreqs; i++) {
        req *q = &reqs[i];
        if (q->forwarded)
            continue;
        if (q->has_then)
            REL_CHECK_CODE(atomic_load(&q->then_calls), 1);
        if (q->free_in_then)
            continue; /* freed by its callback: completed, exactly once */
        REL_CHECK(actor_responder_status(q->r) != ACTOR_EAGAIN);
        actor_responder_free(q->r);
    }

    for (int i = 0; i < NSERVERS; i++) {
        REL_CHECK(addr_is_done(servers[i]));
        addr_release(servers[i]);
    }
    addr_release(sink);
    actor_class_free(server_cls);
    actor_class_free(sink_cls);
    actor_class_free(child_cls);
    return rel_failed() ? 1 : 0;
}


/* ------------------------------------------------------------------------ */
/* Cascade: from allocation N on, every allocation fails                     */
/* ------------------------------------------------------------------------ */

/* Memory runs out for good at some point of the scenario: every call may
 * then answer ACTOR_ENOMEM (and the scenario goes on with what it has), but
 * what needs no memory must still work: shutdown, free, cancelling what is
 * pending, releasing. At the end every accepted request is complete, every
 * then-callback ran once, nothing leaks or hangs. */

#define CASCADE_REQS 24
static const actor_msgtype *c_ev, *c_req;
static atomic_int c_handled;
static atomic_ullong c_sent_by_actors;
static pthread_mutex_t c_mu = PTHREAD_MUTEX_INITIALIZER;
static actor_promise *c_proms[CASCADE_REQS];
static int c_nproms;

static int c_event(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)state;
    (void)p;
    (void)len;
    atomic_fetch_add(&c_handled, 1);
    return 0;
}

static int c_request(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)state;
    int64_t v = len == 8 ? get_i64(p) : 0;
    if (v % 3 == 1) {
        actor_promise *pr = NULL;
        int rc = actor_ctx_defer(ctx, &pr);
        if (rc != ACTOR_OK) {
            REL_CHECK_CODE(rc, ACTOR_ENOMEM);
            return 3; /* EHANDLER */
        }
        pthread_mutex_lock(&c_mu);
        c_proms[c_nproms++] = pr;
        pthread_mutex_unlock(&c_mu);
        return 0;
    }
    unsigned char big[40];
    memset(big, (int)v, sizeof big);
    /* 40 bytes: a heap copy of the reply, which may fail. */
    int rc = actor_ctx_reply(ctx, big, v % 3 == 2 ? sizeof big : 8);
    if (rc != ACTOR_OK) {
        REL_CHECK_CODE(rc, ACTOR_ENOMEM);
        return 4; /* EHANDLER */
    }
    if (v % 11 == 5) {
        /* A send from a worker, memory or not. */
        rc = addr_send(actor_ctx_self(ctx), c_ev, &v, sizeof v);
        REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOMEM || rc == ACTOR_ECLOSED);
        if (rc == ACTOR_OK)
            atomic_fetch_add(&c_sent_by_actors, 1);
    }
    return 0;
}

typedef struct creq {
    actor_responder *r;
    int then;
    atomic_int calls;
} creq;

static void c_then(actor_responder *r, void *ud)
{
    creq *q = ud;
    REL_CHECK(actor_responder_status(r) != ACTOR_EAGAIN);
    atomic_fetch_add(&q->calls, 1);
}

static int cascade_scenario(void)
{
    rel_mark_permanent = 1;
    int rc1 = actor_msgtype_define("cf.Ev", "q", NULL, &c_ev);
    int rc2 = actor_msgtype_define("cf.Req", "q", NULL, &c_req);
    rel_mark_permanent = 0;
    if (rc1 != ACTOR_OK || rc2 != ACTOR_OK) {
        REL_CHECK(rc1 == ACTOR_OK || rc1 == ACTOR_ENOMEM);
        REL_CHECK(rc2 == ACTOR_OK || rc2 == ACTOR_ENOMEM);
        return rel_failed();
    }
    actor_class *cls = NULL;
    int rc = actor_class_new("cf.Node", &cls);
    if (rc != ACTOR_OK) {
        REL_CHECK_CODE(rc, ACTOR_ENOMEM);
        return rel_failed();
    }
    rc = actor_class_on_event(cls, c_ev, c_event);
    REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOMEM);
    rc = actor_class_on_request(cls, c_req, c_request);
    REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOMEM);
    REL_CHECK_CODE(actor_class_set_state_size(cls, 16), ACTOR_OK);

    actor_runtime *rt = NULL;
    rc = actor_runtime_new(2, &rt);
    if (rc != ACTOR_OK) {
        REL_CHECK_CODE(rc, ACTOR_ENOMEM);
        actor_class_free(cls);
        return rel_failed();
    }
    actor_addr *a[3] = {0};
    for (int i = 0; i < 3; i++) {
        rc = actor_spawn(rt, cls, NULL, &a[i]);
        REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOMEM);
    }
    static creq reqs[CASCADE_REQS];
    memset(reqs, 0, sizeof reqs);
    unsigned long long sent = 0;
    int interrupted = 0;
    for (int64_t i = 0; i < CASCADE_REQS; i++) {
        actor_addr *to = a[i % 3];
        if (to == NULL)
            continue;
        /* ECLOSED: only for the actor interrupted half-way. */
        int closed_ok = interrupted && to == a[1];
        rc = addr_send(to, c_ev, &i, sizeof i);
        if (!(rc == ACTOR_OK || rc == ACTOR_ENOMEM || rc == ACTOR_ENOHANDLER ||
              (closed_ok && rc == ACTOR_ECLOSED)))
            REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK)
            sent++;
        rc = addr_interact(to, c_req, &i, sizeof i, &reqs[i].r);
        if (!(rc == ACTOR_OK || rc == ACTOR_ENOMEM || rc == ACTOR_ENOHANDLER ||
              (closed_ok && rc == ACTOR_ECLOSED)))
            REL_CHECK_CODE(rc, ACTOR_OK);
        if (rc == ACTOR_OK && i % 2 == 0) {
            reqs[i].then = 1;
            REL_CHECK_CODE(actor_responder_then(reqs[i].r, c_then, &reqs[i]), ACTOR_OK);
        }
        if (i == CASCADE_REQS / 2 && a[1] != NULL) {
            rc = addr_interrupt(a[1]);
            REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ENOMEM);
            interrupted = rc == ACTOR_OK;
        }
    }
    /* Answer some deferred requests from here (memory or not), keep the rest
     * for the runtime's end. */
    rel_nap_us(2000);
    pthread_mutex_lock(&c_mu);
    for (int i = 0; i < c_nproms; i += 2) {
        int64_t v = 7;
        rc = actor_promise_resolve(c_proms[i], &v, sizeof v);
        if (rc == ACTOR_ENOMEM)
            rc = actor_promise_reject(c_proms[i], 5); /* needs no memory */
        REL_CHECK_CODE(rc, ACTOR_OK);
        c_proms[i] = NULL;
    }
    pthread_mutex_unlock(&c_mu);

    /* The end needs no memory. */
    REL_CHECK_CODE(actor_runtime_shutdown(rt, WAIT_MS), ACTOR_OK);
    actor_runtime_free(rt);
    pthread_mutex_lock(&c_mu);
    for (int i = 0; i < c_nproms; i++)
        if (c_proms[i] != NULL) {
            REL_CHECK_CODE(actor_promise_resolve(c_proms[i], &(int64_t){1}, 8), ACTOR_ECLOSED);
            actor_promise_free(c_proms[i]);
        }
    c_nproms = 0;
    pthread_mutex_unlock(&c_mu);

    unsigned long long dropped = 0;
    for (int i = 0; i < 3; i++) {
        if (a[i] == NULL)
            continue;
        unsigned long long d = 0;
        REL_CHECK(addr_is_done(a[i]));
        REL_CHECK_CODE(addr_dropped(a[i], &d), ACTOR_OK);
        dropped += d;
        addr_release(a[i]);
    }
    REL_CHECK_EQ_U64(atomic_load(&c_handled) + dropped, sent + atomic_load(&c_sent_by_actors));
    for (int i = 0; i < CASCADE_REQS; i++) {
        if (reqs[i].r == NULL)
            continue;
        REL_CHECK(actor_responder_status(reqs[i].r) != ACTOR_EAGAIN);
        if (reqs[i].then)
            REL_CHECK_CODE(atomic_load(&reqs[i].calls), 1);
        actor_responder_free(reqs[i].r);
    }
    actor_class_free(cls);
    return rel_failed();
}

typedef struct child_report {
    long alloc_calls;
    int injected;
    long live, live_bytes;
} child_report;

static void quiet_log(int level, const char *msg, void *ud)
{
    (void)ud;
    if (level == ACTOR_LOG_ERROR && getenv("ACTOR_ALLOC_FAIL_VERBOSE"))
        fprintf(stderr, "libactor: %s\n", msg);
}

/* 0: the Nth allocation fails; 1: every allocation from the Nth on fails. */
static int cascade_mode;

static int run_one(long n, int report_fd)
{
    alarm(60); /* a hang is a failure (SIGALRM) */
    if (cascade_mode)
        atomic_store(&rel_fail_from, n);
    else
        atomic_store(&rel_fail_at_call, n);
    int rc = rel_install_allocator();
    if (rc != ACTOR_OK) {
        fprintf(stderr, "actor_set_allocator = %d (%s)\n", rc, actor_strerror(rc));
        return 1;
    }
    /* Quiet: failures of allocation are logged by design. */
    actor_set_log_handler(quiet_log, NULL);
    int failed = cascade_mode ? cascade_scenario() : scenario();
    /* libevent keeps its global locks (evthread_use_pthreads) until this. */
    libevent_global_shutdown();
    long live = atomic_load(&rel_live);
    if (live != 0) {
        fprintf(stderr, "FAIL N=%ld: %ld blocks (%ld bytes) still live at the end\n", n, live,
                atomic_load(&rel_live_bytes));
        failed = 1;
    }
    if (report_fd >= 0) {
        child_report r;
        memset(&r, 0, sizeof r); /* no uninitialised padding down the pipe */
        r.alloc_calls = atomic_load(&rel_alloc_calls);
        r.injected = atomic_load(&rel_injected);
        r.live = live;
        r.live_bytes = atomic_load(&rel_live_bytes);
        if (write(report_fd, &r, sizeof r) != (ssize_t)sizeof r)
            failed = 1;
    } else {
        printf("N=%ld: %ld allocation calls, injected %d, live %ld\n", n,
               atomic_load(&rel_alloc_calls), atomic_load(&rel_injected), live);
    }
    return failed;
}

/* Runs the scenario with the Nth allocation failing in a forked child. */
static int run_child(long n, child_report *out, char *why, size_t whylen)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = run_one(n, fds[1]);
        fflush(NULL);
        _exit(rc);
    }
    close(fds[1]);
    memset(out, 0, sizeof *out);
    ssize_t got = read(fds[0], out, sizeof *out);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(why, whylen, "killed by signal %d (%s)%s", sig, strsignal(sig),
                 sig == SIGALRM ? ": a hang" : "");
        return 1;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(why, whylen, "exit status %d (see the FAIL lines above)", WEXITSTATUS(status));
        return 1;
    }
    if (got != (ssize_t)sizeof *out) {
        snprintf(why, whylen, "no report from the child");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--run") == 0)
        return run_one(atol(argv[2]), -1);
    if (argc == 3 && strcmp(argv[1], "--cascade-run") == 0) {
        cascade_mode = 1;
        return run_one(atol(argv[2]), -1);
    }
    if (argc == 2 && strcmp(argv[1], "--cascade") == 0)
        cascade_mode = 1;
    if (argc == 2 && strcmp(argv[1], "--closed") == 0) {
        closed_checks = 1;
        return run_one(0, -1);
    }

    long step = getenv("ACTOR_ALLOC_FAIL_STEP") ? atol(getenv("ACTOR_ALLOC_FAIL_STEP")) : 1;
    long max = getenv("ACTOR_ALLOC_FAIL_MAX") ? atol(getenv("ACTOR_ALLOC_FAIL_MAX")) : 0;
    if (step < 1)
        step = 1;
    int64_t t0 = rel_now_ms();

    child_report clean;
    char why[256];
    if (run_child(0, &clean, why, sizeof why) != 0) {
        fprintf(stderr, "FAIL: the scenario fails without any injected failure: %s\n", why);
        return 1;
    }
    printf("clean run: %ld allocation calls\n", clean.alloc_calls);

    int failures = 0;
    long n, last_injected = 0, runs = 0, clean_runs = 0;
    for (n = 1;; n += step) {
        if (max > 0 && n > max)
            break;
        child_report r;
        runs++;
        int rc = run_child(n, &r, why, sizeof why);
        if (rc != 0) {
            fprintf(stderr, "FAIL: allocation %ld failing: %s\n", n, why);
            if (++failures >= 10) {
                fprintf(stderr, "stopping after 10 failures\n");
                break;
            }
            continue;
        }
        if (!r.injected) {
            /* The scenario never reached its Nth allocation: it ran clean.
             * Timing moves the count by a few (libevent and the workers
             * allocate on their own schedule): stop after 5 clean runs. */
            if (++clean_runs >= 5)
                break;
            continue;
        }
        clean_runs = 0;
        last_injected = n;
    }
    printf("allocation-failure injection%s: N = 1..%ld%s (%ld runs, clean run made %ld "
           "allocation calls), %d failing, %.1f s\n",
           cascade_mode ? " (cascade: every allocation from N on fails)" : "", last_injected,
           step > 1 ? " (sampled)" : "", runs, clean.alloc_calls, failures,
           (double)(rel_now_ms() - t0) / 1000.0);
    return failures ? 1 : 0;
}
