/*
 * test_soak — a bounded conservation soak.
 *
 * Each round: two runtimes (2 workers and 1), thousands of actors spread over
 * both, two sender threads sending random events and requests (replied,
 * failed, dropped, deferred, forwarded), random actor_ctx_stop from handlers,
 * random interrupts, short-lived actors spawned and let go (closed by their
 * last release), requests and forwards across the two runtimes, a resolver thread
 * answering deferred requests, and actor_runtime_shutdown of each runtime in
 * the middle of the traffic (one at half of it, one at three quarters), then
 * actor_runtime_free while promises are still being resolved.
 *
 * Invariants checked at the end of every round:
 * - every request accepted (addr_interact = ACTOR_OK) completes exactly once:
 *   then-callbacks run once each, kept responders are complete, forwarded
 *   outcomes are handled by on_response or counted as dropped (the drain's
 *   log line), responder fds are readable;
 * - events accepted (ACTOR_OK) = events handled + events dropped: per actor
 *   with addr_dropped, and over all actors (short-lived ones included) with
 *   the drain's log lines, which must agree with addr_dropped;
 * - every actor ran init and finalize once and is Done;
 * - flow control (1.1): a quarter of the main actors have a bounded mailbox
 *   under ACTOR_OVERFLOW_REJECT and a quarter under ACTOR_OVERFLOW_DROP
 *   (capacity SOAK_CAP; the senders burst into them), some sends go through
 *   addr_send_wait and some requests have a 0 ms deadline (never handled).
 *   Per main actor, with addr_stats once Done: received = handled + dropped
 *   + expired + canceled, received = the events and requests it accepted,
 *   handled = what its handlers saw, rejected = the ACTOR_EFULL answers,
 *   queued = 0 and queued_peak <= the capacity (0 when unbounded). Over all
 *   actors: events accepted = handled + dropped at a stop (the drain's log
 *   lines) + dropped on DROP overflow; the dead-letter hook saw each
 *   overflow (ACTOR_EFULL) and each event dropped at a stop or refused as
 *   closed (ACTOR_ECLOSED), exactly (--free-under-traffic: at most, since no
 *   hook runs once a runtime is freed);
 * - across rounds no growth: threads (/proc/self/task), fds (/proc/self/fd)
 *   and the library's live allocations (a counting allocator installed with
 *   actor_set_allocator) are the same at the end of every round.
 *
 * test_soak --free-under-traffic: the same, but the runtimes are freed
 * outright (no shutdown first) while the senders still send (ctest:
 * rel_soak_free).
 *
 * Size: ACTOR_SOAK_ACTORS, ACTOR_SOAK_OPS (per sender thread and round),
 * ACTOR_SOAK_ROUNDS; ACTOR_SOAK_SECONDS=s keeps doing rounds for s seconds
 * (scripts/reliability soak). Sanitizer builds divide the defaults.
 */
#include "rel_util.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>

/* Bounded main actors: i % 4 == 1 REJECT, i % 4 == 3 DROP. */
#define SOAK_CAP 4
enum { K_UNBOUNDED, K_REJECT, K_DROP };

/* Payloads: "II" = (op, target). Replies: "q". */
typedef struct msg {
    uint32_t op, target;
} msg;

enum { EV_PLAIN, EV_STOP, EV_RELAY, EV_NOPS };
enum { RQ_REPLY, RQ_FAIL, RQ_DROP, RQ_DEFER, RQ_FORWARD, RQ_STOP_REPLY, RQ_NOPS };

typedef struct actor_rec {
    atomic_ullong accepted, handled, responses;
    atomic_ullong req_accepted, req_handled, refused; /* refused: ACTOR_EFULL */
    atomic_int inits, finals;
    int ephemeral;
    int spawned;
} actor_rec;

typedef struct req_rec {
    actor_responder *r;
    int mode;
    atomic_int then_calls;
    int status_at_then;
} req_rec;

enum { M_THEN, M_THEN_FREE, M_KEEP, M_FD, M_FREE_EARLY, M_FORWARD, M_NMODES };

static const actor_msgtype *t_ev, *t_req;
static actor_class *node_cls, *node_cls_reject, *node_cls_drop;
static actor_runtime *rts[2]; /* two runtimes: actors alternate between them */
/* Spawns from sender threads hold this for reading: the runtime handle must
 * not be used once freed (that would be the test's bug, not the library's). */
static pthread_rwlock_t rt_lock = PTHREAD_RWLOCK_INITIALIZER;
/* --free-under-traffic: actor_runtime_free (no shutdown first) while the
 * senders still send to its actors. */
static int free_in_traffic;

/* One round's world. */
static int nactors, nops;
static actor_addr **addrs;      /* counted by main until the round ends */
static actor_rec *recs;         /* nactors main actors, then short-lived ones */
static atomic_int nrecs, max_recs;
static req_rec *reqs;
static atomic_int nreqs;
static int max_reqs;
static atomic_ullong forwards_ok, forwards_dropped_log, events_dropped_log;
static atomic_ullong requests_canceled_log;
static atomic_ullong events_dropped_log_drop; /* of that, by DROP-class actors */
static atomic_ullong dl_full, dl_closed, dl_other; /* the dead-letter hook */
static atomic_ullong events_closed; /* addr_send said ACTOR_ECLOSED (a dead letter each) */
static atomic_int ops_done, stop_resolver;

static pthread_mutex_t prom_mu = PTHREAD_MUTEX_INITIALIZER;
static actor_promise **proms;
static int nproms, max_proms;
static atomic_ullong proms_resolved_ok, proms_closed;

static int kind_of(int i) { return i % 4 == 1 ? K_REJECT : i % 4 == 3 ? K_DROP : K_UNBOUNDED; }

static void dead_letter(void *ud, actor_addr *to, const actor_msgtype *t, const void *payload,
                        size_t len, int why)
{
    REL_CHECK(t == t_ev && len == sizeof(msg) && payload != NULL && to != NULL);
    atomic_fetch_add(why == ACTOR_EFULL ? &dl_full : why == ACTOR_ECLOSED ? &dl_closed : &dl_other,
                     1);
}

static uint32_t xs(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x9e3779b9u;
}

static actor_rec *new_rec(int ephemeral)
{
    int i = atomic_fetch_add(&nrecs, 1);
    if (i >= atomic_load(&max_recs)) {
        atomic_fetch_sub(&nrecs, 1);
        return NULL;
    }
    actor_rec *r = &recs[i];
    r->ephemeral = ephemeral;
    return r;
}

static req_rec *new_req(void)
{
    int i = atomic_fetch_add(&nreqs, 1);
    if (i >= max_reqs) {
        atomic_fetch_sub(&nreqs, 1);
        return NULL;
    }
    memset(&reqs[i], 0, sizeof reqs[i]);
    return &reqs[i];
}

static void then_cb(actor_responder *r, void *ud)
{
    req_rec *q = ud;
    int st = actor_responder_status(r);
    REL_CHECK(st == ACTOR_OK || st == ACTOR_ECANCELED || st == ACTOR_EHANDLER ||
              st == ACTOR_EEXPIRED);
    q->status_at_then = st;
    atomic_fetch_add(&q->then_calls, 1);
    if (q->mode == M_THEN_FREE)
        actor_responder_free(r);
}

/* Sends an event; counts it on the target's record when accepted. */
static int send_to(actor_addr *a, actor_rec *rec, uint32_t op, uint32_t target)
{
    msg m = {op, target};
    int rc = addr_send(a, t_ev, &m, sizeof m);
    if (rc == ACTOR_OK) {
        atomic_fetch_add(&rec->accepted, 1);
    } else if (rc == ACTOR_EFULL) {
        atomic_fetch_add(&rec->refused, 1); /* a REJECT mailbox, full */
    } else {
        REL_CHECK_CODE(rc, ACTOR_ECLOSED);
        atomic_fetch_add(&events_closed, 1);
    }
    return rc;
}

/* addr_send_wait from a sender thread: waits a little for room. */
static void send_wait_to(int target, uint32_t op)
{
    msg m = {op, (uint32_t)target};
    int rc = addr_send_wait(addrs[target], t_ev, &m, sizeof m, 1);
    if (rc == ACTOR_OK)
        atomic_fetch_add(&recs[target].accepted, 1);
    else
        REL_CHECK(rc == ACTOR_ETIMEDOUT || rc == ACTOR_ECLOSED);
}

static int send_event(int target, uint32_t op)
{
    return send_to(addrs[target], &recs[target], op, (uint32_t)target);
}

/* ---- the main actors' class ---- */

static int node_init(actor_ctx *ctx, void *state)
{
    actor_rec *r = state;
    atomic_fetch_add(&r->inits, 1);
    return 0;
}

static void node_finalize(actor_ctx *ctx, void *state)
{
    actor_rec *r = state;
    atomic_fetch_add(&r->finals, 1);
}

static int node_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    actor_rec *r = state;
    REL_CHECK(len == sizeof(msg));
    msg m;
    memcpy(&m, payload, sizeof m);
    atomic_fetch_add(&r->handled, 1);
    if (m.op == EV_STOP)
        actor_ctx_stop(ctx);
    else if (m.op == EV_RELAY && nactors > 0)
        send_event((int)(m.target % (uint32_t)nactors), EV_PLAIN);
    return 0;
}

static void keep_promise(actor_promise *p)
{
    pthread_mutex_lock(&prom_mu);
    if (nproms < max_proms) {
        proms[nproms++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&prom_mu);
    if (p != NULL)
        actor_promise_free(p); /* the pool is full: answered ECANCELED */
}

static int node_request(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    atomic_fetch_add(&((actor_rec *)state)->req_handled, 1);
    REL_CHECK(len == sizeof(msg));
    msg m;
    memcpy(&m, payload, sizeof m);
    int64_t reply = (int64_t)m.target;
    switch (m.op) {
    case RQ_REPLY:
        REL_CHECK_CODE(actor_ctx_reply(ctx, &reply, sizeof reply), ACTOR_OK);
        return 0;
    case RQ_FAIL:
        return 7;
    case RQ_DROP:
        return 0;
    case RQ_DEFER: {
        actor_promise *p = NULL;
        REL_CHECK_CODE(actor_ctx_defer(ctx, &p), ACTOR_OK);
        if (p != NULL)
            keep_promise(p);
        return 0;
    }
    case RQ_FORWARD: {
        /* Ask another actor and have the outcome delivered to our own
         * on_response, then answer our requester. */
        int target = (int)(m.target % (uint32_t)nactors);
        msg inner = {RQ_REPLY, m.target};
        actor_responder *r = NULL;
        int rc = addr_interact(addrs[target], t_req, &inner, sizeof inner, &r);
        if (rc == ACTOR_OK)
            atomic_fetch_add(&recs[target].req_accepted, 1);
        else if (rc == ACTOR_EFULL)
            atomic_fetch_add(&recs[target].refused, 1);
        if (rc == ACTOR_OK) {
            rc = actor_responder_forward(r, actor_ctx_self(ctx));
            if (rc == ACTOR_OK)
                atomic_fetch_add(&forwards_ok, 1);
            else
                actor_responder_free(r);
            REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
        } else {
            REL_CHECK(rc == ACTOR_ECLOSED || rc == ACTOR_EFULL);
        }
        REL_CHECK_CODE(actor_ctx_reply(ctx, &reply, sizeof reply), ACTOR_OK);
        return 0;
    }
    default:
        actor_ctx_stop(ctx);
        REL_CHECK_CODE(actor_ctx_reply(ctx, &reply, sizeof reply), ACTOR_OK);
        return 0;
    }
}

static void node_response(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                          const void *reply, size_t len)
{
    actor_rec *r = state;
    REL_CHECK(type == t_req);
    REL_CHECK(status == ACTOR_OK || status == ACTOR_ECANCELED || status == ACTOR_EHANDLER ||
              status == ACTOR_EEXPIRED);
    if (status == ACTOR_OK)
        REL_CHECK(reply != NULL && len == 8);
    atomic_fetch_add(&r->responses, 1);
}

static void node_interrupt(actor_ctx *ctx, void *state)
{
    actor_ctx_stop(ctx); /* as the default, but through a user hook */
}

/* ---- the drain's log lines: what stopped actors dropped ---- */

static void log_cb(int level, const char *line, void *ud)
{
    (void)ud;
    const char *p = strstr(line, "stopped with messages queued: ");
    const char *cls = strstr(line, "actor of class ");
    if (p == NULL) {
        if (level <= ACTOR_LOG_WARN)
            fprintf(stderr, "libactor log: %s\n", line);
        return;
    }
    unsigned long long ev = 0, rq = 0, fw = 0;
    if (sscanf(p, "stopped with messages queued: %llu events dropped, %llu requests "
                  "canceled, %llu forwarded responses dropped",
               &ev, &rq, &fw) != 3) {
        REL_CHECK(!"the drain's log line changed its format");
        return;
    }
    atomic_fetch_add(&events_dropped_log, ev);
    if (cls != NULL && strncmp(cls + 15, "soak.NodeD ", 11) == 0)
        atomic_fetch_add(&events_dropped_log_drop, ev);
    atomic_fetch_add(&requests_canceled_log, rq);
    atomic_fetch_add(&forwards_dropped_log, fw);
}

/* ---- threads ---- */

static void interact_one(actor_addr *a, actor_rec *rec, uint32_t op, uint32_t target,
                         uint32_t *seed)
{
    req_rec *q = new_req();
    if (q == NULL)
        return;
    msg m = {op, target};
    q->mode = (int)(xs(seed) % M_NMODES);
    /* One in 16 with a 0 ms deadline: never handled (expired, or canceled
     * if the actor stops first). */
    int rc = xs(seed) % 16 == 0 ? addr_interact_within(a, t_req, &m, sizeof m, 0, &q->r)
                                : addr_interact(a, t_req, &m, sizeof m, &q->r);
    if (rc == ACTOR_OK)
        atomic_fetch_add(&rec->req_accepted, 1);
    if (rc != ACTOR_OK) {
        if (rc == ACTOR_EFULL)
            atomic_fetch_add(&rec->refused, 1);
        else
            REL_CHECK(rc == ACTOR_ECLOSED);
        q->r = NULL;
        return;
    }
    switch (q->mode) {
    case M_THEN:
    case M_THEN_FREE:
        REL_CHECK_CODE(actor_responder_then(q->r, then_cb, q), ACTOR_OK);
        break;
    case M_FD:
        REL_CHECK(actor_responder_fd(q->r) >= 0);
        break;
    case M_FREE_EARLY:
        actor_responder_free(q->r); /* pending is fine: the reply is dropped */
        q->r = NULL;
        break;
    case M_FORWARD: {
        int to = (int)(xs(seed) % (uint32_t)nactors);
        rc = actor_responder_forward(q->r, addrs[to]);
        if (rc == ACTOR_OK) {
            atomic_fetch_add(&forwards_ok, 1);
            q->r = NULL; /* consumed */
        } else {
            REL_CHECK(rc == ACTOR_ECLOSED);
            q->mode = M_KEEP;
        }
        break;
    }
    default:
        break;
    }
}

static void short_lived(uint32_t *seed)
{
    actor_rec *r = new_rec(1);
    if (r == NULL)
        return;
    actor_addr *a = NULL;
    pthread_rwlock_rdlock(&rt_lock);
    actor_runtime *rt = rts[xs(seed) & 1];
    int rc = rt != NULL ? actor_spawn(rt, node_cls, r, &a) : ACTOR_ECLOSED;
    pthread_rwlock_unlock(&rt_lock);
    if (rc != ACTOR_OK) {
        REL_CHECK_CODE(rc, ACTOR_ECLOSED); /* the runtime is shutting down */
        return;
    }
    r->spawned = 1;
    for (int k = 0; k < 3; k++)
        send_to(a, r, EV_PLAIN, xs(seed));
    interact_one(a, r, xs(seed) % 3 == 0 ? RQ_FORWARD : RQ_REPLY, xs(seed), seed);
    addr_release(a); /* the last counted address: it closes behind the messages */
}

static void *sender(void *arg)
{
    uint32_t seed = (uint32_t)(uintptr_t)arg * 2654435761u + 12345u;
    for (int i = 0; i < nops; i++) {
        uint32_t dice = xs(&seed) % 1000;
        int t = (int)(xs(&seed) % (uint32_t)nactors);
        uint32_t target = xs(&seed);
        if (dice < 40) {
            /* A burst into one of the first bounded actors: overflows. */
            int hot = (int)(xs(&seed) % 8) | 1;
            if (hot >= nactors)
                hot = 1 % nactors;
            for (int k = 0; k < 8; k++)
                send_event(hot, EV_PLAIN);
        } else if (dice < 60) {
            send_wait_to(t, EV_PLAIN);
        } else if (dice < 600) {
            uint32_t op = xs(&seed) % 400 == 0  ? EV_STOP
                          : xs(&seed) % 10 == 0 ? EV_RELAY
                                                : EV_PLAIN;
            send_event(t, op);
        } else if (dice < 950) {
            uint32_t op = xs(&seed) % 200 == 0 ? RQ_STOP_REPLY : xs(&seed) % (RQ_NOPS - 1);
            interact_one(addrs[t], &recs[t], op, target, &seed);
        } else if (dice < 955) {
            int rc = addr_interrupt(addrs[t]);
            REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
        } else if (dice < 970) {
            actor_addr *extra = addr_ref(addrs[t]);
            REL_CHECK(extra == addrs[t]);
            int rc = addr_join(extra, 0);
            REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ETIMEDOUT);
            addr_release(extra);
        } else if (dice < 985) {
            short_lived(&seed);
        } else {
            /* A blocking wait from outside the runtime. */
            msg m = {RQ_REPLY, target};
            actor_responder *r = NULL;
            int rc = addr_interact(addrs[t], t_req, &m, sizeof m, &r);
            if (rc == ACTOR_OK) {
                atomic_fetch_add(&recs[t].req_accepted, 1);
                rc = actor_responder_wait(r, 30000);
                REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ECANCELED);
                actor_responder_free(r);
            } else if (rc == ACTOR_EFULL) {
                atomic_fetch_add(&recs[t].refused, 1);
            } else {
                REL_CHECK_CODE(rc, ACTOR_ECLOSED);
            }
        }
        atomic_fetch_add(&ops_done, 1);
    }
    return NULL;
}

static actor_promise *take_promise(uint32_t *seed)
{
    actor_promise *p = NULL;
    pthread_mutex_lock(&prom_mu);
    if (nproms > 0) {
        int i = (int)(xs(seed) % (uint32_t)nproms);
        p = proms[i];
        proms[i] = proms[--nproms];
    }
    pthread_mutex_unlock(&prom_mu);
    return p;
}

/* Answers deferred requests, through the shutdown and the runtime's free. */
static void *resolver(void *arg)
{
    (void)arg;
    uint32_t seed = 777;
    while (!atomic_load(&stop_resolver)) {
        actor_promise *p = take_promise(&seed);
        if (p == NULL) {
            rel_nap_us(50);
            continue;
        }
        int64_t v = 5;
        int rc;
        switch (xs(&seed) % 3) {
        case 0:
            rc = actor_promise_resolve(p, &v, sizeof v);
            break;
        case 1:
            rc = actor_promise_reject(p, 9);
            break;
        default:
            actor_promise_free(p);
            rc = ACTOR_OK;
            break;
        }
        /* ECLOSED once the runtime was freed: the request was canceled, and
         * the promise stays ours (1.1, the contract): free it. */
        REL_CHECK(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
        if (rc == ACTOR_ECLOSED)
            actor_promise_free(p);
        atomic_fetch_add(rc == ACTOR_OK ? &proms_resolved_ok : &proms_closed, 1);
    }
    return NULL;
}

static long env_long(const char *name, long dflt)
{
    const char *e = getenv(name);
    return e != NULL && atol(e) > 0 ? atol(e) : dflt;
}

typedef struct round_stats {
    unsigned long long events, handled, dropped, requests, forwards, responses, fwd_dropped;
    unsigned long long overflow, rejected, expired, canceled, peak;
    int64_t ms;
} round_stats;

static int round_run(int round, round_stats *st)
{
    int64_t t0 = rel_now_ms();
    int failed_before = rel_failed();
    int extra = nops / 20 + 16; /* short-lived actors, at most */
    atomic_store(&max_recs, nactors + 2 * extra);
    recs = calloc((size_t)atomic_load(&max_recs), sizeof *recs);
    addrs = calloc((size_t)nactors, sizeof *addrs);
    max_reqs = 2 * nops + 2 * extra + 16;
    reqs = calloc((size_t)max_reqs, sizeof *reqs);
    max_proms = 2 * nops + 16;
    proms = calloc((size_t)max_proms, sizeof *proms);
    if (!recs || !addrs || !reqs || !proms) {
        fprintf(stderr, "out of memory in the test\n");
        return 1;
    }
    atomic_store(&nrecs, 0);
    atomic_store(&nreqs, 0);
    atomic_store(&ops_done, 0);
    atomic_store(&stop_resolver, 0);
    atomic_store(&forwards_ok, 0);
    atomic_store(&forwards_dropped_log, 0);
    atomic_store(&events_dropped_log, 0);
    atomic_store(&requests_canceled_log, 0);
    atomic_store(&events_dropped_log_drop, 0);
    atomic_store(&dl_full, 0);
    atomic_store(&dl_closed, 0);
    atomic_store(&dl_other, 0);
    atomic_store(&events_closed, 0);
    nproms = 0;

    REL_CHECK_CODE(actor_runtime_new(2, &rts[0]), ACTOR_OK);
    REL_CHECK_CODE(actor_runtime_new(1, &rts[1]), ACTOR_OK);
    if (rts[0] == NULL || rts[1] == NULL)
        return 1;
    actor_hooks hooks = {sizeof hooks, NULL, dead_letter, NULL};
    for (int k = 0; k < 2; k++)
        REL_CHECK_CODE(actor_runtime_set_hooks(rts[k], &hooks), ACTOR_OK);
    actor_class *kinds[3] = {node_cls, node_cls_reject, node_cls_drop};
    for (int i = 0; i < nactors; i++) {
        actor_rec *r = new_rec(0);
        REL_CHECK(r == &recs[i]);
        REL_CHECK_CODE(actor_spawn(rts[i % 2], kinds[kind_of(i)], r, &addrs[i]), ACTOR_OK);
        r->spawned = 1;
    }
    if (rel_failed() > failed_before)
        return 1;

    pthread_t th[2], res;
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, sender, (void *)(uintptr_t)(round * 2 + i + 1));
    pthread_create(&res, NULL, resolver, NULL);

    /* End the runtimes in the middle of the traffic: the first at half of
     * it, the second at three quarters; the senders go on to the end. */
    for (int k = 0; k < 2; k++) {
        while (atomic_load(&ops_done) < nops * (2 + k) / 2)
            rel_nap_us(100);
        if (free_in_traffic) {
            /* Freed outright while the senders still send (addresses
             * outlive the runtime: their calls must answer ECLOSED, or be
             * drained). */
            pthread_rwlock_wrlock(&rt_lock);
            actor_runtime *rt = rts[k];
            rts[k] = NULL;
            pthread_rwlock_unlock(&rt_lock);
            actor_runtime_free(rt);
        } else {
            REL_CHECK_CODE(actor_runtime_shutdown(rts[k], 60000), ACTOR_OK);
            actor_addr *late = NULL;
            REL_CHECK_CODE(actor_spawn(rts[k], node_cls, NULL, &late), ACTOR_ECLOSED);
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* Free (after a shutdown) while the resolver still answers promises. */
    for (int k = 0; k < 2; k++) {
        pthread_rwlock_wrlock(&rt_lock);
        actor_runtime *rt = rts[k];
        rts[k] = NULL;
        pthread_rwlock_unlock(&rt_lock);
        actor_runtime_free(rt);
    }
    atomic_store(&stop_resolver, 1);
    pthread_join(res, NULL);
    for (int i = 0; i < nproms; i++) {
        /* ECLOSED, and the promise is still ours: again ECLOSED, then freed. */
        REL_CHECK_CODE(actor_promise_resolve(proms[i], &(int64_t){1}, 8), ACTOR_ECLOSED);
        REL_CHECK_CODE(actor_promise_reject(proms[i], 3), ACTOR_ECLOSED);
        actor_promise_free(proms[i]);
    }
    nproms = 0;

    /* Events: per main actor, and over all actors with the drain's lines. */
    unsigned long long acc = 0, han = 0, drop_main = 0, resp = 0;
    unsigned long long drop_by_drop_class = 0;
    int n = atomic_load(&nrecs);
    for (int i = 0; i < n; i++) {
        actor_rec *r = &recs[i];
        if (!r->spawned)
            continue;
        acc += atomic_load(&r->accepted);
        han += atomic_load(&r->handled);
        resp += atomic_load(&r->responses);
        REL_CHECK_CODE(atomic_load(&r->inits), 1);
        REL_CHECK_CODE(atomic_load(&r->finals), 1);
        if (i < nactors) {
            unsigned long long d = 0;
            REL_CHECK(addr_is_done(addrs[i]));
            REL_CHECK_CODE(addr_dropped(addrs[i], &d), ACTOR_OK);
            REL_CHECK_EQ_U64(atomic_load(&r->handled) + d, atomic_load(&r->accepted));
            drop_main += d;
            /* The 1.1 counters: exact once Done (read after the runtime's
             * free, when its workers are joined: see test_stats,
             * counters_exact_once_done). */
            actor_stats s;
            memset(&s, 0, sizeof s);
            s.size = sizeof s;
            REL_CHECK_CODE(addr_stats(addrs[i], &s), ACTOR_OK);
            REL_CHECK_EQ_U64(s.queued, 0);
            REL_CHECK_EQ_U64(s.received, s.handled + s.dropped + s.expired + s.canceled);
            REL_CHECK_EQ_U64(s.received, atomic_load(&r->accepted) + atomic_load(&r->req_accepted));
            REL_CHECK_EQ_U64(s.handled, atomic_load(&r->handled) + atomic_load(&r->req_handled));
            REL_CHECK_EQ_U64(s.dropped, d);
            REL_CHECK_EQ_U64(s.expired + s.canceled,
                             atomic_load(&r->req_accepted) - atomic_load(&r->req_handled));
            REL_CHECK_EQ_U64(s.rejected, atomic_load(&r->refused));
            REL_CHECK_EQ_U64(s.restarts, 0);
            if (kind_of(i) == K_UNBOUNDED) {
                REL_CHECK_EQ_U64(s.queued_peak, 0);
                REL_CHECK_EQ_U64(s.rejected, 0);
            } else {
                REL_CHECK(s.queued_peak <= SOAK_CAP);
            }
            if (kind_of(i) == K_DROP)
                drop_by_drop_class += s.dropped;
            st->rejected += s.rejected;
            st->expired += s.expired;
            st->canceled += s.canceled;
            if (s.queued_peak > st->peak)
                st->peak = s.queued_peak;
        }
    }
    unsigned long long drop_all = atomic_load(&events_dropped_log);
    /* DROP overflow: what the DROP-class actors dropped, less their stops'. */
    unsigned long long drop_log_d = atomic_load(&events_dropped_log_drop);
    REL_CHECK(drop_log_d <= drop_by_drop_class);
    unsigned long long overflow = drop_by_drop_class - drop_log_d;
    REL_CHECK_EQ_U64(han + drop_all + overflow, acc);
    REL_CHECK(drop_main <= drop_all + overflow);
    REL_CHECK_EQ_U64(atomic_load(&dl_other), 0);
    if (free_in_traffic) {
        /* No hook runs once a runtime is freed: some may be missing. */
        REL_CHECK(atomic_load(&dl_full) <= overflow);
        REL_CHECK(atomic_load(&dl_closed) <= drop_all + atomic_load(&events_closed));
    } else {
        REL_CHECK_EQ_U64(atomic_load(&dl_full), overflow);
        REL_CHECK_EQ_U64(atomic_load(&dl_closed), drop_all + atomic_load(&events_closed));
    }
    st->overflow = overflow;

    /* Requests: every accepted one completed, exactly once. */
    int nq = atomic_load(&nreqs);
    unsigned long long accepted_reqs = 0;
    for (int i = 0; i < nq; i++) {
        req_rec *q = &reqs[i];
        if (q->r == NULL && q->mode != M_FREE_EARLY && q->mode != M_FORWARD &&
            q->mode != M_THEN_FREE)
            continue; /* not accepted (ECLOSED) */
        accepted_reqs++;
        switch (q->mode) {
        case M_THEN:
        case M_THEN_FREE:
            if (q->r == NULL)
                break; /* refused */
            REL_CHECK_CODE(atomic_load(&q->then_calls), 1);
            if (q->mode == M_THEN)
                REL_CHECK_CODE(actor_responder_status(q->r), q->status_at_then);
            break;
        case M_FD: {
            struct pollfd pfd = {actor_responder_fd(q->r), POLLIN, 0};
            REL_CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
            REL_CHECK(actor_responder_status(q->r) != ACTOR_EAGAIN);
            break;
        }
        case M_KEEP:
            REL_CHECK(actor_responder_wait(q->r, 0) != ACTOR_ETIMEDOUT);
            break;
        default:
            break;
        }
        if (q->r != NULL && q->mode != M_THEN_FREE)
            actor_responder_free(q->r);
    }
    /* Forwarded outcomes: handled by on_response, or dropped by a drain. */
    unsigned long long fdrop = atomic_load(&forwards_dropped_log);
    REL_CHECK_EQ_U64(resp + fdrop, atomic_load(&forwards_ok));

    for (int i = 0; i < nactors; i++)
        addr_release(addrs[i]);
    st->events = acc;
    st->handled = han;
    st->dropped = drop_all;
    st->requests = accepted_reqs;
    st->forwards = atomic_load(&forwards_ok);
    st->responses = resp;
    st->fwd_dropped = fdrop;
    st->ms = rel_now_ms() - t0;
    free(recs);
    free(addrs);
    free(reqs);
    free(proms);
    recs = NULL;
    addrs = NULL;
    reqs = NULL;
    proms = NULL;
    return rel_failed() > failed_before;
}

int main(int argc, char **argv)
{
    free_in_traffic = argc > 1 && strcmp(argv[1], "--free-under-traffic") == 0;
    alarm(600); /* a hang fails the test */
    /* The first library call: count every allocation of the library. */
    if (rel_install_allocator() != ACTOR_OK) {
        fprintf(stderr, "actor_set_allocator failed\n");
        return 1;
    }
    actor_set_log_handler(log_cb, NULL);
    nactors = (int)env_long("ACTOR_SOAK_ACTORS", rel_scale(4000));
    nops = (int)env_long("ACTOR_SOAK_OPS", rel_scale(150000));
    long rounds = env_long("ACTOR_SOAK_ROUNDS", 4);
    long seconds = env_long("ACTOR_SOAK_SECONDS", 0);
    if (nactors < 2)
        nactors = 2;

    rel_mark_permanent = 1;
    REL_CHECK_CODE(actor_msgtype_define("soak.Ev", "II", NULL, &t_ev), ACTOR_OK);
    REL_CHECK_CODE(actor_msgtype_define("soak.Req", "II", "q", &t_req), ACTOR_OK);
    rel_mark_permanent = 0;
    REL_CHECK_CODE(actor_class_new("soak.Node", &node_cls), ACTOR_OK);
    if (rel_failed())
        return 1;
    actor_class_on_init(node_cls, node_init);
    actor_class_on_finalize(node_cls, node_finalize);
    actor_class_on_interrupt(node_cls, node_interrupt);
    REL_CHECK_CODE(actor_class_on_event(node_cls, t_ev, node_event), ACTOR_OK);
    REL_CHECK_CODE(actor_class_on_request(node_cls, t_req, node_request), ACTOR_OK);
    REL_CHECK_CODE(actor_class_on_response(node_cls, t_req, node_response), ACTOR_OK);
    /* The bounded classes: the same handlers, a mailbox of SOAK_CAP. */
    REL_CHECK_CODE(actor_class_new("soak.NodeR", &node_cls_reject), ACTOR_OK);
    REL_CHECK_CODE(actor_class_new("soak.NodeD", &node_cls_drop), ACTOR_OK);
    if (rel_failed())
        return 1;
    actor_class *bounded[2] = {node_cls_reject, node_cls_drop};
    for (int k = 0; k < 2; k++) {
        actor_class *c = bounded[k];
        actor_class_on_init(c, node_init);
        actor_class_on_finalize(c, node_finalize);
        actor_class_on_interrupt(c, node_interrupt);
        REL_CHECK_CODE(actor_class_on_event(c, t_ev, node_event), ACTOR_OK);
        REL_CHECK_CODE(actor_class_on_request(c, t_req, node_request), ACTOR_OK);
        REL_CHECK_CODE(actor_class_on_response(c, t_req, node_response), ACTOR_OK);
        REL_CHECK_CODE(actor_class_set_mailbox(c, SOAK_CAP,
                                               k ? ACTOR_OVERFLOW_DROP : ACTOR_OVERFLOW_REJECT),
                       ACTOR_OK);
    }

    /* Baselines come from the end of the first round: sanitizer runtimes
     * start helper threads (and open files) lazily, at the first thread. */
    int threads0 = -1, fds0 = -1;
    long live_after_first = -1;
    int64_t start = rel_now_ms();
    printf("soak: %d actors, %d ops per sender thread and round%s\n", nactors, nops,
           free_in_traffic ? ", runtime freed under traffic" : "");
    for (int round = 0;; round++) {
        if (seconds > 0 ? rel_now_ms() - start >= seconds * 1000 && round >= 2 : round >= rounds)
            break;
        round_stats st = {0};
        int bad = round_run(round, &st);
        /* Settled: the workers this round joined may still be listed. */
        int threads = rel_settled_threads(round == 0 ? -1 : threads0, REL_SETTLE_MS);
        int fds = rel_count_fds();
        long live = atomic_load(&rel_live);
        printf("round %d: %lld ms; events %llu = handled %llu + dropped %llu + overflow %llu; "
               "requests %llu; forwards %llu = handled %llu + dropped %llu; rejected %llu, "
               "expired %llu, canceled %llu, peak %llu; threads %d, fds %d, live blocks "
               "%ld (%ld bytes)\n",
               round, (long long)st.ms, st.events, st.handled, st.dropped, st.overflow,
               st.requests, st.forwards, st.responses, st.fwd_dropped, st.rejected, st.expired,
               st.canceled, st.peak, threads, fds, live, atomic_load(&rel_live_bytes));
        fflush(stdout);
        if (bad)
            break;
        if (round == 0) {
            threads0 = threads;
            fds0 = fds;
            live_after_first = live;
        } else {
            /* No growth. (Fewer: round 0's count still had a thread on
             * its way out; the lower count is the baseline from now on.) */
            if (threads > threads0)
                rel_fail_at(__FILE__, __LINE__, "threads %d after round %d, %d after round 0",
                            threads, round, threads0);
            else
                threads0 = threads;
            REL_CHECK_EQ_U64(fds, fds0);
            REL_CHECK_EQ_U64(live, live_after_first);
        }
        if (rel_failed())
            break;
    }
    actor_class_free(node_cls);
    actor_class_free(node_cls_reject);
    actor_class_free(node_cls_drop);
    if (rel_failed()) {
        fprintf(stderr, "soak: %d check(s) failed\n", rel_failed());
        return 1;
    }
    printf("soak: all invariants held (%.1f s)\n", (double)(rel_now_ms() - start) / 1000.0);
    return 0;
}
