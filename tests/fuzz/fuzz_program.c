/*
 * fuzz_program — random programs of API calls.
 *
 * Each input is a program run on a fresh runtime (1 or 2 workers, or a
 * manual runtime seeded from the byte when its bits 1-2 are both set):
 * byte 0 picks the runtime, then each op is [opcode][a][b][c]. Slots hold counted
 * addresses (8) and responders (16); an op may name an empty slot, which
 * passes NULL: every call must answer ACTOR_EINVAL (or NULL/0) for it, never
 * crash. Ops: spawn (three classes: a worker class whose handlers act on the
 * payload's first byte — reply, wrong-size reply, defer, fail, drop, stop,
 * forward to itself, spawn a child, send to itself —, a class whose init
 * fails, and a class that ignores interrupts), send and interact with fitting
 * or wrong sizes, forward, then, fd, free, interrupt, release, ref, join and
 * wait with timeout 0, dropped, promises answered from outside, shutdown
 * with timeout 0.
 * Time (1.1): handlers start, cancel and query timers with random keys and
 * intervals (0-2 ms; ticks of their own type that cancel, replace or stop),
 * try every bad timer argument, and ask themselves with a deadline; the
 * program asks with addr_interact_within and random small timeouts (and a
 * negative one), and steps, runs and advances a manual runtime (a threaded
 * one answers ACTOR_EINVAL), whose blocking waits with a nonzero timeout
 * drive it.
 *
 * Flow (1.1): three more worker classes, bounded with
 * actor_class_set_mailbox (REJECT capacity 1, DROP capacity 2) or counted
 * (ACTOR_MAILBOX_MAX, with catch-all handlers), and a class made afresh for
 * each input whose mailbox the program sets (capacities 0-3 and the
 * maximum, bad capacities and policies: ACTOR_EINVAL; once spawned:
 * ACTOR_EBUSY); addr_send_wait with timeouts of 0-3 ms from the program
 * (ACTOR_EDEADLK from a handler, whatever the timeout), addr_stats and
 * actor_runtime_stats_get with every `size` (too small: ACTOR_EINVAL,
 * nothing written), actor_runtime_set_hooks (before the first spawn, else
 * ACTOR_EBUSY; hooks that count, and may send to a REJECT actor of
 * capacity 1, the sink, which is often full). Whenever the program lets
 * go of an actor that is Done, and for every actor at the end, its counters
 * obey received = handled + dropped + expired + canceled, its queue is
 * empty and never held more than its capacity.
 * Failure (1.1): handlers fail (actor_ctx_fail), monitor and demonitor
 * actors the program put in a watch table, and a child of their own
 * (on_down checks the Down against addr_exit_reason); supervisors with
 * small intensities (bad specs: ACTOR_EINVAL), children and subtrees of the
 * worker classes with each restart type, stop_child; names registered,
 * looked up and unregistered against a model (a name the program never
 * registered is ACTOR_ENOENT; a lookup finds the actor registered).
 * Composition (1.1): catch-all handlers (never ACTOR_ENOHANDLER), subscribe,
 * unsubscribe and publish with fixed subjects, wildcards and bad ones
 * against a model of the subscriptions (ACTOR_EBUSY, ACTOR_ENOENT exactly),
 * pools of each route (bad specs: ACTOR_EINVAL) used through the address
 * ops above. Names and subjects are NULL too. Opcodes are taken modulo 40:
 * 0-23 the 1.0 and time ops, 24-39 the rest of 1.1 (see the switch).
 *
 * At the end: names unregistered, every address released (those of half
 * the slots kept until the shutdown returned, to check their counters
 * then), the promises still held answered, the runtime shut down (a manual
 * one's clock advanced while it waits: supervisors back off on it) and
 * freed; then every responder still held is complete, every then-callback
 * ran exactly once (unless its responder was freed first), a hook that was
 * not set never ran, and nothing leaks (LeakSanitizer) or trips a
 * sanitizer.
 */
#include <actor/actor.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "fuzz_program: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                                   \
        }                                                                              \
    } while (0)
#define CHECK_IN(rc, ...)                                                              \
    do {                                                                               \
        const int ok_[] = {__VA_ARGS__};                                               \
        bool f_ = false;                                                               \
        for (size_t k_ = 0; k_ < sizeof ok_ / sizeof ok_[0]; k_++)                     \
            f_ = f_ || (rc) == ok_[k_];                                                \
        if (!f_) {                                                                     \
            fprintf(stderr, "fuzz_program: line %d: unexpected code %d (%s)\n", __LINE__, \
                    (rc), actor_strerror(rc));                                         \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#define NADDR 8
#define NRESP 16
#define NPROM 64

#define NWATCH 4
#define CAP_REJ 1
#define CAP_DROP 2

static const actor_msgtype *t_ev, *t_req, *t_opq, *t_none, *t_tk;
static actor_class *cls_worker, *cls_badinit, *cls_stubborn;
/* Worker classes with a bounded (REJECT, DROP) or counted mailbox (the
 * catch-all class), and one made for each input, its mailbox set by it. */
static actor_class *cls_rej, *cls_drop, *cls_any, *cls_custom;
static size_t custom_cap;
static int custom_pol;
static bool custom_used; /* an actor of cls_custom was spawned: in use */

static size_t cap_of(const actor_class *k)
{
    if (k == NULL)
        return 0;
    if (k == cls_rej)
        return CAP_REJ;
    if (k == cls_drop)
        return CAP_DROP;
    if (k == cls_any)
        return ACTOR_MAILBOX_MAX;
    if (k == cls_custom)
        return custom_cap;
    return 0;
}

static int pol_of(const actor_class *k)
{
    if (k == cls_drop)
        return ACTOR_OVERFLOW_DROP;
    if (k != NULL && k == cls_custom)
        return custom_pol;
    return ACTOR_OVERFLOW_REJECT;
}

/* Addresses the handlers monitor (counted; the program fills it). */
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static actor_addr *watch[NWATCH];

static actor_addr *watch_take(int k)
{
    pthread_mutex_lock(&watch_mu);
    actor_addr *a = addr_ref(watch[k % NWATCH]);
    pthread_mutex_unlock(&watch_mu);
    return a;
}

static atomic_int downs;

/* Promises the handlers defer, answered from the program's thread. */
static pthread_mutex_t prom_mu = PTHREAD_MUTEX_INITIALIZER;
static actor_promise *proms[NPROM];
static int nproms;

static atomic_int children;

static void quiet(int level, const char *msg, void *ud) {}

static int first_byte(const void *p, size_t len) { return len ? ((const uint8_t *)p)[0] : 0; }

static atomic_int ticks;

/* A timer's tick: its byte says which key it is, whether it repeats, and
 * what to do (nothing, cancel, replace by a one-shot due now, stop). */
static int worker_tick(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    CHECK(len == 1);
    int b = first_byte(p, len), key = b & 3, rep = (b >> 2) & 1, act = (b >> 3) & 3;
    CHECK(actor_ctx_msgtype(ctx) == t_tk);
    CHECK(actor_ctx_deadline_left(ctx) == -1);
    /* A tick handled is one of the key's current timer: a repeating one is
     * active still (a one-shot is over once its tick is taken). */
    if (rep)
        CHECK(actor_ctx_timer_active(ctx, (uint64_t)key) == 1);
    atomic_fetch_add(&ticks, 1);
    switch (act) {
    case 1:
        if (rep)
            CHECK(actor_ctx_timer_cancel(ctx, (uint64_t)key) == ACTOR_OK);
        else /* the header leaves open whether a one-shot counts as active
                while its own tick is being handled */
            CHECK_IN(actor_ctx_timer_cancel(ctx, (uint64_t)key), ACTOR_OK, ACTOR_ENOENT);
        break;
    case 2: {
        uint8_t once = (uint8_t)key; /* not repeating, no action */
        CHECK(actor_ctx_timer_start(ctx, (uint64_t)key, t_tk, &once, 1, 0, 0) == ACTOR_OK);
        CHECK(actor_ctx_timer_active(ctx, (uint64_t)key) == 1);
        break;
    }
    case 3:
        actor_ctx_stop(ctx);
        CHECK(actor_ctx_timer_start(ctx, 9, t_tk, p, 1, 0, 0) == ACTOR_ECLOSED);
        break;
    default:
        break;
    }
    return 0;
}

/* Event sub-ops 0-25 of case 5: sub % 5 says what. */
static int worker_failure(actor_ctx *ctx, int sub)
{
    actor_addr *self = actor_ctx_self(ctx);
    switch (sub % 5) {
    case 0: { /* fail (reason 0: taken as ACTOR_EINVAL); stopping now */
        actor_ctx_fail(ctx, sub == 0 ? 0 : -(1000 + sub));
        uint8_t x = 0;
        CHECK(actor_ctx_timer_start(ctx, 9, t_tk, &x, 1, 0, 0) == ACTOR_ECLOSED);
        return 0;
    }
    case 1: /* monitor an actor of the watch table */
    case 2: { /* or end that monitor */
        actor_addr *w = watch_take(sub / 5);
        if (w == NULL) {
            CHECK(actor_ctx_monitor(ctx, NULL) == ACTOR_EINVAL);
            CHECK(actor_ctx_demonitor(ctx, NULL) == ACTOR_EINVAL);
            return 0;
        }
        if (sub % 5 == 1)
            CHECK(actor_ctx_monitor(ctx, w) == (w == self ? ACTOR_EINVAL : ACTOR_OK));
        else
            CHECK_IN(actor_ctx_demonitor(ctx, w), ACTOR_OK, ACTOR_ENOENT);
        addr_release(w); /* maybe the last address: it closes */
        return 0;
    }
    case 3: { /* bad monitors; looks at itself */
        CHECK(actor_ctx_monitor(ctx, self) == ACTOR_EINVAL);
        CHECK(actor_ctx_monitor(ctx, NULL) == ACTOR_EINVAL);
        CHECK(actor_ctx_demonitor(ctx, NULL) == ACTOR_EINVAL);
        CHECK(actor_ctx_demonitor(ctx, self) == ACTOR_ENOENT);
        int r = 4242;
        CHECK(addr_exit_reason(self, &r) == ACTOR_EAGAIN && r == 4242);
        unsigned long long n = 0;
        CHECK(addr_restarts(self, &n) == ACTOR_OK);
        actor_stats st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        CHECK(addr_stats(self, &st) == ACTOR_OK);
        /* (Unbounded: 0, except in a pool's members, which are counted for
         * ACTOR_ROUTE_LEAST_QUEUED; the handler cannot tell.) */
        size_t cap = cap_of(actor_ctx_class(ctx));
        if (cap > 0)
            CHECK(st.queued <= cap && st.queued_peak <= cap);
        return 0;
    }
    default: { /* a child of its own, monitored (and maybe demonitored) */
        actor_addr *child = NULL;
        int rc = actor_spawn(actor_ctx_runtime(ctx), cls_worker, NULL, &child);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
        if (rc != ACTOR_OK)
            return 0;
        atomic_fetch_add(&children, 1);
        CHECK(actor_ctx_monitor(ctx, child) == ACTOR_OK);
        CHECK(actor_ctx_monitor(ctx, child) == ACTOR_OK); /* the same monitor */
        uint8_t x = (uint8_t)(sub & 1 ? 1 : 55); /* stop, or fail with -1005 */
        CHECK_IN(addr_send(child, t_ev, &x, 1), ACTOR_OK, ACTOR_ECLOSED);
        if (sub & 2)
            CHECK(actor_ctx_demonitor(ctx, child) == ACTOR_OK);
        addr_release(child);
        return 0;
    }
    }
}

static int worker_event(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    int op = first_byte(p, len);
    switch (op % 10) {
    case 1:
        actor_ctx_stop(ctx);
        return 0;
    case 2: {
        /* To itself (a borrowed address): OK, or ECLOSED when stopping
         * (EFULL: a full REJECT mailbox). */
        uint8_t next = 0;
        int rc = addr_send(actor_ctx_self(ctx), t_opq, &next, 1);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED, ACTOR_EFULL);
        if (rc == ACTOR_EFULL)
            CHECK(cap_of(actor_ctx_class(ctx)) > 0 &&
                  pol_of(actor_ctx_class(ctx)) == ACTOR_OVERFLOW_REJECT);
        return 0;
    }
    case 3:
        return -77; /* to the fallback */
    case 4: {
        actor_addr *child = NULL;
        int rc = actor_spawn(actor_ctx_runtime(ctx), cls_worker, NULL, &child);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
        if (rc == ACTOR_OK) {
            atomic_fetch_add(&children, 1);
            uint8_t x = 0;
            CHECK_IN(addr_send(child, t_opq, &x, 1), ACTOR_OK, ACTOR_ECLOSED);
            addr_release(child);
        }
        return 0;
    }
    case 5: /* failure: fail, monitor, demonitor (the sub-op is op / 10) */
        return worker_failure(ctx, op / 10);
    case 6: { /* start a timer: key, after and every from the byte */
        int v = op / 10, key = v % 4, act = (v / 4) % 4;
        uint64_t after = (uint64_t)((v / 3) % 3), every = (uint64_t)((v / 12) % 3);
        uint8_t tb = (uint8_t)(key | (every > 0) << 2 | act << 3);
        CHECK(actor_ctx_timer_start(ctx, (uint64_t)key, t_tk, &tb, 1, after, every) == ACTOR_OK);
        CHECK(actor_ctx_timer_active(ctx, (uint64_t)key) == 1);
        return 0;
    }
    case 7: { /* cancel: OK exactly when it was active */
        uint64_t key = (uint64_t)((op / 10) % 4);
        int was = actor_ctx_timer_active(ctx, key);
        CHECK(was == 0 || was == 1);
        CHECK(actor_ctx_timer_cancel(ctx, key) == (was ? ACTOR_OK : ACTOR_ENOENT));
        CHECK(actor_ctx_timer_active(ctx, key) == 0);
        return 0;
    }
    case 8: { /* every bad argument; a key that was active stays so */
        uint64_t key = (uint64_t)((op / 10) % 4);
        int was = actor_ctx_timer_active(ctx, key);
        uint8_t tb[2] = {0, 0};
        CHECK(actor_ctx_timer_start(NULL, key, t_tk, tb, 1, 0, 0) == ACTOR_EINVAL);
        CHECK(actor_ctx_timer_start(ctx, key, NULL, tb, 1, 0, 0) == ACTOR_EINVAL);
        CHECK(actor_ctx_timer_start(ctx, key, t_tk, NULL, 1, 0, 0) == ACTOR_EINVAL);
        CHECK(actor_ctx_timer_start(ctx, key, t_tk, tb, 1, (1ull << 42) + 1, 0) == ACTOR_EINVAL);
        CHECK(actor_ctx_timer_start(ctx, key, t_tk, tb, 1, 0, UINT64_MAX) == ACTOR_EINVAL);
        CHECK(actor_ctx_timer_start(ctx, key, t_tk, tb, 2, 0, 0) == ACTOR_ETYPE);
        int64_t q = 0; /* fits fg.Req, for which the class has no event handler */
        if (actor_ctx_class(ctx) != cls_any) {
            CHECK(actor_ctx_timer_start(ctx, key, t_req, &q, sizeof q, 0, 0) == ACTOR_ENOHANDLER);
        } else { /* but a catch-all: fine (another key, cancelled at once) */
            CHECK(actor_ctx_timer_start(ctx, 77, t_req, &q, sizeof q, 0, 0) == ACTOR_OK);
            CHECK(actor_ctx_timer_cancel(ctx, 77) == ACTOR_OK);
        }
        CHECK(actor_ctx_timer_cancel(NULL, key) == ACTOR_EINVAL);
        CHECK(actor_ctx_timer_active(NULL, key) == 0);
        CHECK(actor_ctx_timer_active(ctx, key) == was);
        CHECK(actor_ctx_deadline_left(ctx) == -1); /* an event */
        if ((op / 10) & 1) {
            actor_ctx_stop(ctx);
            CHECK(actor_ctx_timer_start(ctx, key, t_tk, tb, 1, 0, 0) == ACTOR_ECLOSED);
        }
        return 0;
    }
    default:
        return 0;
    }
}

static int worker_request(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    int op = first_byte(p, len);
    int64_t v = op;
    /* The reply that fits the request's type (a catch-all takes any). */
    const actor_msgtype *rt_ = actor_ctx_msgtype(ctx);
    CHECK(rt_ != NULL);
    size_t fit = actor_msgtype_reply_layout(rt_) ? actor_msgtype_reply_size(rt_) : sizeof v;
    CHECK(fit <= sizeof v);
    CHECK(actor_ctx_deadline_left(ctx) >= -1);
    switch (op % 10) {
    case 0:
        CHECK(actor_ctx_reply(ctx, &v, fit) == ACTOR_OK);
        return 0;
    case 1:
    {
        /* 3 bytes: ETYPE for fg.Req ("q" replies), fine for opaque ones. */
        int rc = actor_ctx_reply(ctx, &v, 3);
        CHECK_IN(rc, ACTOR_ETYPE, ACTOR_OK);
        CHECK((rc == ACTOR_OK) == (actor_msgtype_reply_layout(rt_) == NULL));
        if (rc == ACTOR_ETYPE)
            CHECK(actor_ctx_reply(ctx, &v, fit) == ACTOR_OK);
        CHECK(actor_ctx_reply(ctx, &v, fit) == ACTOR_EINVAL);
    }
        return 0;
    case 2: {
        actor_promise *pr = NULL;
        CHECK(actor_ctx_defer(ctx, &pr) == ACTOR_OK);
        actor_promise *again = NULL;
        CHECK(actor_ctx_defer(ctx, &again) == ACTOR_EINVAL && again == NULL);
        pthread_mutex_lock(&prom_mu);
        if (nproms < NPROM) {
            proms[nproms++] = pr;
            pr = NULL;
        }
        pthread_mutex_unlock(&prom_mu);
        if (pr != NULL)
            actor_promise_free(pr);
        return 0;
    }
    case 3:
        return 5; /* EHANDLER */
    case 4:
        return 0; /* ECANCELED */
    case 5:
        actor_ctx_stop(ctx);
        CHECK(actor_ctx_reply(ctx, &v, fit) == ACTOR_OK);
        return 0;
    case 6: {
        /* Ask itself, with the outcome forwarded to itself (EFULL: its
         * bounded mailbox is full). */
        actor_responder *r = NULL;
        int64_t inner = 0;
        int rc = addr_interact(actor_ctx_self(ctx), t_req, &inner, sizeof inner, &r);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED, ACTOR_EFULL);
        if (rc == ACTOR_EFULL)
            CHECK(cap_of(actor_ctx_class(ctx)) > 0);
        if (rc == ACTOR_OK) {
            rc = actor_responder_forward(r, actor_ctx_self(ctx));
            CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
            if (rc != ACTOR_OK)
                actor_responder_free(r);
        }
        return 0;
    }
    case 7:
        /* Blocking calls on a worker: EDEADLK, even with a timeout. */
        CHECK(addr_join(actor_ctx_self(ctx), 10) == ACTOR_EDEADLK);
        CHECK(addr_join(actor_ctx_self(ctx), 0) == ACTOR_ETIMEDOUT);
        CHECK(actor_runtime_shutdown(actor_ctx_runtime(ctx), 0) == ACTOR_EDEADLK);
        /* Driving a runtime from inside a handler: refused, either kind. */
        CHECK(actor_runtime_step(actor_ctx_runtime(ctx)) == ACTOR_EINVAL);
        CHECK(actor_runtime_advance(actor_ctx_runtime(ctx), 1) == ACTOR_EINVAL);
        /* Waiting for room: never on a worker, whatever the timeout. */
        {
            uint8_t x = 0;
            CHECK(addr_send_wait(actor_ctx_self(ctx), t_opq, &x, 1, 0) == ACTOR_EDEADLK);
            CHECK(addr_send_wait(actor_ctx_self(ctx), t_opq, &x, 1, 3) == ACTOR_EDEADLK);
            CHECK(addr_send_wait(actor_ctx_self(ctx), t_opq, &x, 1, -1) == ACTOR_EDEADLK);
        }
        return 1;
    case 8:
        CHECK(actor_ctx_reply(ctx, NULL, 8) == ACTOR_EINVAL);
        CHECK(actor_ctx_defer(ctx, NULL) == ACTOR_EINVAL);
        return 0;
    default: {
        /* Ask itself with a deadline of 0-2 ms, the outcome forwarded to
         * itself (0 ms: never handled, ACTOR_EEXPIRED). */
        actor_responder *r = NULL;
        int64_t inner = 0;
        int rc = addr_interact_within(actor_ctx_self(ctx), t_req, &inner, sizeof inner,
                                      (op / 10) % 3, &r);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED, ACTOR_EFULL);
        if (rc == ACTOR_EFULL)
            CHECK(cap_of(actor_ctx_class(ctx)) > 0);
        if (rc == ACTOR_OK) {
            rc = actor_responder_forward(r, actor_ctx_self(ctx));
            CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
            if (rc != ACTOR_OK)
                actor_responder_free(r);
        }
        return 0;
    }
    }
}

static atomic_int responses;

static void worker_response(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                            const void *reply, size_t len)
{
    CHECK(type == t_req);
    CHECK_IN(status, ACTOR_OK, ACTOR_ECANCELED, ACTOR_EHANDLER, ACTOR_EEXPIRED);
    CHECK((status == ACTOR_OK) == (reply != NULL));
    CHECK(actor_ctx_deadline_left(ctx) == -1);
    atomic_fetch_add(&responses, 1);
}

static void worker_fallback(actor_ctx *ctx, void *state, const actor_msgtype *type, int err)
{
    CHECK(err == -77);
}

/* A monitored actor is Done: the Down agrees with its exit reason. */
static void worker_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    CHECK(who != NULL && who != actor_ctx_self(ctx));
    CHECK(addr_is_done(who) == 1);
    int r = 4242;
    CHECK(addr_exit_reason(who, &r) == ACTOR_OK && r == reason);
    atomic_fetch_add(&downs, 1);
}

static atomic_int any_events, any_requests;

/* Catch-alls: every type without a handler of its own (fg.Ev has one). */
static int any_event(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    const actor_msgtype *t = actor_ctx_msgtype(ctx);
    CHECK(t != NULL && t != t_ev);
    atomic_fetch_add(&any_events, 1);
    if (t == t_tk)
        return worker_tick(ctx, state, p, len);
    return worker_event(ctx, state, p, len);
}

static int any_request(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    CHECK(actor_ctx_msgtype(ctx) != NULL);
    atomic_fetch_add(&any_requests, 1);
    return worker_request(ctx, state, p, len);
}

/* Hooks: they count, check what they get, and may send to the sink (a
 * REJECT actor of capacity 1, often full). Never to the actor the hook is
 * about, and never from inside a send of a hook: a dead letter of the
 * sink would send to the sink, whose dead letter... */
typedef struct hook_state {
    atomic_int dead_closed, dead_full, handled, sends, full;
    atomic_int send; /* the hooks send to the sink */
    _Atomic(actor_addr *) sink;
} hook_state;
static hook_state hk;
static _Thread_local int in_hook;

static void sink_send(actor_addr *about)
{
    if (!atomic_load(&hk.send) || in_hook)
        return;
    actor_addr *s = atomic_load(&hk.sink);
    if (s == NULL || s == about)
        return;
    in_hook = 1;
    uint8_t x = 0;
    int rc = addr_send(s, t_ev, &x, 1);
    CHECK_IN(rc, ACTOR_OK, ACTOR_EFULL, ACTOR_ECLOSED);
    atomic_fetch_add(&hk.sends, 1);
    if (rc == ACTOR_EFULL)
        atomic_fetch_add(&hk.full, 1);
    in_hook = 0;
}

static void hook_dead(void *ud, actor_addr *to, const actor_msgtype *t, const void *payload,
                      size_t len, int why)
{
    CHECK(ud == &hk && to != NULL && t != NULL);
    CHECK(len == 0 || payload != NULL);
    CHECK_IN(why, ACTOR_ECLOSED, ACTOR_EFULL);
    atomic_fetch_add(why == ACTOR_EFULL ? &hk.dead_full : &hk.dead_closed, 1);
    sink_send(to);
}

static void hook_handled(void *ud, actor_addr *a, const actor_msgtype *t, unsigned long long ns)
{
    CHECK(ud == &hk && a != NULL && t != NULL);
    atomic_fetch_add(&hk.handled, 1);
    sink_send(a);
}

static int worker_init(actor_ctx *ctx, void *state)
{
    CHECK(state != NULL); /* a runtime-made state block */
    return 0;
}

static int bad_init(actor_ctx *ctx, void *state) { return -3; }

static void stubborn_interrupt(actor_ctx *ctx, void *state) { /* ignores it */ }

static int stubborn_event(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    if (first_byte(p, len) == 0xff)
        actor_ctx_stop(ctx);
    return 0;
}

/* The worker's handlers (and on_down), on a new class. */
static actor_class *worker_class(const char *name)
{
    actor_class *c = NULL;
    CHECK(actor_class_new(name, &c) == ACTOR_OK);
    CHECK(actor_class_on_event(c, t_ev, worker_event) == ACTOR_OK);
    CHECK(actor_class_on_event(c, t_opq, worker_event) == ACTOR_OK);
    CHECK(actor_class_on_event(c, t_tk, worker_tick) == ACTOR_OK);
    CHECK(actor_class_on_request(c, t_req, worker_request) == ACTOR_OK);
    CHECK(actor_class_on_request(c, t_opq, worker_request) == ACTOR_OK);
    CHECK(actor_class_on_response(c, t_req, worker_response) == ACTOR_OK);
    CHECK(actor_class_on_fallback(c, worker_fallback) == ACTOR_OK);
    CHECK(actor_class_on_init(c, worker_init) == ACTOR_OK);
    CHECK(actor_class_on_down(c, worker_down) == ACTOR_OK);
    CHECK(actor_class_set_state_size(c, 32) == ACTOR_OK);
    return c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    actor_set_log_handler(quiet, NULL);
    CHECK(actor_msgtype_define("fg.Ev", "B", NULL, &t_ev) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.Req", "q", "q", &t_req) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.Opq", NULL, NULL, &t_opq) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.None", "", "", &t_none) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.Tick", "B", NULL, &t_tk) == ACTOR_OK);

    cls_worker = worker_class("fg.Worker");
    cls_rej = worker_class("fg.Reject");
    CHECK(actor_class_set_mailbox(cls_rej, CAP_REJ, ACTOR_OVERFLOW_REJECT) == ACTOR_OK);
    cls_drop = worker_class("fg.Drop");
    CHECK(actor_class_set_mailbox(cls_drop, CAP_DROP, ACTOR_OVERFLOW_DROP) == ACTOR_OK);

    /* Catch-alls: fg.Ev has its own handler, the rest (ticks too) not. */
    CHECK(actor_class_new("fg.Any", &cls_any) == ACTOR_OK);
    CHECK(actor_class_on_event(cls_any, t_ev, worker_event) == ACTOR_OK);
    CHECK(actor_class_on_any_event(cls_any, any_event) == ACTOR_OK);
    CHECK(actor_class_on_any_request(cls_any, any_request) == ACTOR_OK);
    CHECK(actor_class_on_response(cls_any, t_req, worker_response) == ACTOR_OK);
    CHECK(actor_class_on_fallback(cls_any, worker_fallback) == ACTOR_OK);
    CHECK(actor_class_on_init(cls_any, worker_init) == ACTOR_OK);
    CHECK(actor_class_on_down(cls_any, worker_down) == ACTOR_OK);
    CHECK(actor_class_set_state_size(cls_any, 32) == ACTOR_OK);
    CHECK(actor_class_set_mailbox(cls_any, ACTOR_MAILBOX_MAX, ACTOR_OVERFLOW_REJECT) == ACTOR_OK);

    CHECK(actor_class_new("fg.BadInit", &cls_badinit) == ACTOR_OK);
    CHECK(actor_class_on_init(cls_badinit, bad_init) == ACTOR_OK);
    CHECK(actor_class_on_event(cls_badinit, t_ev, worker_event) == ACTOR_OK);
    CHECK(actor_class_on_request(cls_badinit, t_req, worker_request) == ACTOR_OK);

    CHECK(actor_class_new("fg.Stubborn", &cls_stubborn) == ACTOR_OK);
    CHECK(actor_class_on_interrupt(cls_stubborn, stubborn_interrupt) == ACTOR_OK);
    CHECK(actor_class_on_event(cls_stubborn, t_ev, stubborn_event) == ACTOR_OK);
    CHECK(actor_class_on_request(cls_stubborn, t_req, worker_request) == ACTOR_OK);
    CHECK(actor_class_on_response(cls_stubborn, t_req, worker_response) == ACTOR_OK);
    return 0;
}

/* One per then-callback registered: the callback's count lives here, not in
 * the slot, since a slot may be reused while an old callback is pending. */
typedef struct then_rec {
    atomic_int calls;
    int freed_in_cb; /* the callback frees the responder */
    int freed_by_us; /* freed before completion maybe: at most one call */
} then_rec;

#define NTHEN 512
static then_rec thens[NTHEN];
static int nthens;

typedef struct resp_slot {
    actor_responder *r;
    then_rec *then; /* NULL: no callback set */
} resp_slot;

static resp_slot rslots[NRESP];

static void then_cb(actor_responder *r, void *ud)
{
    then_rec *t = ud;
    CHECK(actor_responder_status(r) != ACTOR_EAGAIN);
    int n = atomic_fetch_add(&t->calls, 1);
    CHECK(n == 0);
    if (t->freed_in_cb)
        actor_responder_free(r);
}

/* The slot's responder may be used: it exists and no callback frees it. */
static bool usable(resp_slot *s) { return s->then == NULL || !s->then->freed_in_cb; }

/* Lets go of the slot's responder. */
static void drop_slot(resp_slot *s)
{
    if (usable(s)) {
        if (s->then != NULL)
            s->then->freed_by_us = 1;
        actor_responder_free(s->r);
    }
    s->r = NULL;
    s->then = NULL;
}

static actor_promise *take_promise(int which)
{
    actor_promise *p = NULL;
    pthread_mutex_lock(&prom_mu);
    if (nproms > 0) {
        int i = which % nproms;
        p = proms[i];
        proms[i] = proms[--nproms];
    }
    pthread_mutex_unlock(&prom_mu);
    return p;
}

static void answer_promise(actor_promise *p, int how, bool runtime_gone)
{
    int64_t v = how;
    int rc;
    switch (how % 5) {
    case 0:
        rc = actor_promise_resolve(p, &v, sizeof v);
        break;
    case 1:
        rc = actor_promise_resolve(p, &v, 5);
        if (rc == ACTOR_ETYPE)
            rc = actor_promise_reject(p, 0) == ACTOR_EINVAL ? actor_promise_reject(p, 11)
                                                            : -999;
        break;
    case 2:
        rc = actor_promise_reject(p, -4);
        break;
    case 3:
        rc = actor_promise_resolve(p, NULL, 8);
        CHECK(rc == ACTOR_EINVAL);
        actor_promise_free(p);
        rc = runtime_gone ? ACTOR_ECLOSED : ACTOR_OK;
        break;
    default:
        actor_promise_free(p);
        rc = runtime_gone ? ACTOR_ECLOSED : ACTOR_OK;
        break;
    }
    if (runtime_gone)
        CHECK_IN(rc, ACTOR_ECLOSED, ACTOR_OK);
    else
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
    /* ECLOSED leaves the promise ours (cases 0-2; 3 and 4 freed it): a
     * second answer is ECLOSED again, then free releases it. */
    if (rc == ACTOR_ECLOSED && how % 5 < 3) {
        CHECK(actor_promise_reject(p, 5) == ACTOR_ECLOSED);
        actor_promise_free(p);
    }
}

/* The four message types, and a size that fits or not. */
static const actor_msgtype *pick_type(int b)
{
    switch (b & 3) {
    case 0: return t_ev;
    case 1: return t_req;
    case 2: return t_opq;
    default: return t_none;
    }
}

static size_t pick_len(const actor_msgtype *t, int c)
{
    if (c & 0x80)
        return (size_t)(c & 0x7f); /* anything */
    return actor_msgtype_size(t);   /* fits (opaque: 0) */
}

/* What the program knows of the actor in a slot. */
enum { K_NONE, K_ACTOR, K_CHILD, K_SUP, K_POOL };
typedef struct slot_info {
    int kind;          /* K_ACTOR: actor_spawn; K_CHILD: a supervisor's child */
    actor_class *cls;  /* its class (a pool: its members')                    */
    int route;         /* a pool's                                            */
} slot_info;

static actor_addr *addrs[NADDR];
static slot_info sinfo[NADDR];

/* Names: a model of the registry (only the program registers). */
#define NNAMES 3
static const char *const names[NNAMES] = {"fz.n0", "fz.n1", "fz:n-2_"};
static actor_addr *nm_holder[NNAMES]; /* counted */
static slot_info nm_info[NNAMES];

/* Subscriptions: a model of those the program made (and did not end). */
#define NSUBS 9
#define NBADSUBS 10
static const char *const subs[NSUBS] = {"fz.a", "fz.b", "fz.*", "fz.>", ">",
                                        "*.a", "fz.a.b", "*", "x"};
static const char *const bad_subs[NBADSUBS] = {"", "fz.", ".fz", "fz..a", "fz.a*",
                                               "fz.>.a", "a b", "fz.*x", ">.a", NULL};
#define NPUBS 6
static const char *const pubs[2 * NPUBS] = {"fz.a", "fz.b", "fz.a.b", "x", "fz.c.d", "y.a",
                                            /* bad: */ "fz.*", "fz.>", ">", "", "a..b", NULL};
#define NSUBM 64
static struct {
    actor_addr *a;
    int sub;
} subm[NSUBM];
static int nsubm;
static bool subm_lost;        /* the model overflowed: lenient from then on */
static unsigned long long subs_made;

static int subm_find(const actor_addr *a, int sub)
{
    for (int i = 0; i < nsubm; i++)
        if (subm[i].a == a && subm[i].sub == sub)
            return i;
    return -1;
}

static void subm_remove(int i) { subm[i] = subm[--nsubm]; }

/* The program holds `a` (a slot or a name of the model): it may see it
 * again. Once it holds it no more, its subscriptions leave the model (the
 * memory may come back as another actor). */
static bool held(const actor_addr *a)
{
    for (int i = 0; i < NADDR; i++)
        if (addrs[i] == a)
            return true;
    for (int i = 0; i < NNAMES; i++)
        if (nm_holder[i] == a)
            return true;
    return false;
}

static void forget_unless_held(const actor_addr *a)
{
    if (a == NULL || held(a))
        return;
    for (int i = 0; i < nsubm;)
        if (subm[i].a == a)
            subm_remove(i);
        else
            i++;
}

static bool bounded(const slot_info *si)
{
    return (si->kind == K_ACTOR || si->kind == K_CHILD || si->kind == K_POOL) &&
           cap_of(si->cls) > 0;
}

/* What a spawn of a supervisor or a pool answers: ACTOR_EINVAL for bad
 * arguments, ACTOR_ECLOSED once the runtime shuts down, else ACTOR_OK with
 * an address. */
static bool spawned_as_expected(int rc, const actor_addr *got, bool bad, bool shut)
{
    if (bad)
        return rc == ACTOR_EINVAL && got == NULL;
    if (shut)
        return rc == ACTOR_ECLOSED && got == NULL;
    return rc == ACTOR_OK && got != NULL;
}

/* The code a bad argument (NULL type, NULL payload with len > 0) gets:
 * ACTOR_EINVAL, from a pool's address too, whatever its state (this harness
 * found pools answering ACTOR_ECLOSED when closed; fixed in lib/core/addr.c). */
static bool bad_arg_code(const slot_info *si, int rc)
{
    (void)si;
    return rc == ACTOR_EINVAL;
}

static bool catch_all(const slot_info *si)
{
    return (si->kind == K_ACTOR || si->kind == K_CHILD || si->kind == K_POOL) &&
           si->cls == cls_any;
}

#define STATS_MIN (offsetof(actor_stats, restarts) + sizeof(unsigned long long))
#define RT_STATS_MIN (offsetof(actor_runtime_stats, threads) + sizeof(unsigned))

/* An actor that is Done: its counters are exact, its queue empty. */
static void check_done(actor_addr *a, const slot_info *si)
{
    if (a == NULL || addr_is_done(a) != 1)
        return;
    actor_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK(addr_stats(a, &st) == ACTOR_OK);
    if (st.received != st.handled + st.dropped + st.expired + st.canceled || st.queued != 0) {
        fprintf(stderr,
                "fuzz_program: conservation broken (kind %d, class %s): received %llu handled "
                "%llu dropped %llu expired %llu canceled %llu queued %llu rejected %llu\n",
                si->kind, si->cls ? actor_class_name(si->cls) : "-", st.received, st.handled,
                st.dropped, st.expired, st.canceled, st.queued, st.rejected);
        abort();
    }
    size_t cap = cap_of(si->cls);
    if (si->kind != K_POOL) {
        unsigned long long d = 0;
        CHECK(addr_dropped(a, &d) == ACTOR_OK && d == st.dropped);
        if (cap > 0)
            CHECK(st.queued_peak <= cap);
        else
            CHECK(st.queued_peak == 0);
    }
    if (si->kind == K_ACTOR)
        CHECK(st.restarts == 0);
    int r = 4242;
    CHECK(addr_exit_reason(a, &r) == ACTOR_OK);
    if (si->kind == K_ACTOR && si->cls == cls_badinit)
        CHECK(r == -3);
}

/* Puts a counted address (or NULL) into slot i, letting go of the old one. */
static void put_slot(int i, actor_addr *a, slot_info info)
{
    actor_addr *old = addrs[i];
    slot_info oi = sinfo[i];
    addrs[i] = a;
    sinfo[i] = a != NULL ? info : (slot_info){0};
    check_done(old, &oi);
    addr_release(old);
    forget_unless_held(old);
}

static const actor_class *pick_class5(int v)
{
    switch (v % 5) {
    case 0: return cls_worker;
    case 1: return cls_rej;
    case 2: return cls_drop;
    case 3: return cls_any;
    default: return cls_custom;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    actor_runtime *rt = NULL;
    bool manual = (data[0] & 6) == 6;
    unsigned nthreads = 1 + (data[0] & 1);
    if (manual)
        CHECK(actor_runtime_new_manual(data[0] >> 3, &rt) == ACTOR_OK);
    else
        CHECK(actor_runtime_new(nthreads, &rt) == ACTOR_OK);
    CHECK(manual ? actor_runtime_now_ms(rt) == 0 : true);
    memset(addrs, 0, sizeof addrs);
    memset(sinfo, 0, sizeof sinfo);
    memset(nm_holder, 0, sizeof nm_holder);
    memset(rslots, 0, sizeof rslots);
    memset(thens, 0, sizeof thens);
    nthens = 0;
    nproms = 0;
    nsubm = 0;
    subm_lost = false;
    subs_made = 0;
    atomic_store(&children, 0);
    atomic_store(&responses, 0);
    atomic_store(&ticks, 0);
    atomic_store(&downs, 0);
    atomic_store(&hk.dead_closed, 0);
    atomic_store(&hk.dead_full, 0);
    atomic_store(&hk.handled, 0);
    atomic_store(&hk.sends, 0);
    atomic_store(&hk.full, 0);
    atomic_store(&hk.send, 0);
    atomic_store(&hk.sink, NULL);
    /* A class of this input's own: its mailbox is the program's to set. */
    cls_custom = worker_class("fg.Custom");
    custom_cap = 0;
    custom_pol = ACTOR_OVERFLOW_REJECT;
    custom_used = false;
    bool shut = false;
    bool spawned = false;         /* a spawn succeeded: hooks are refused */
    unsigned long long nspawned = 0;
    bool dead_hook = false, handled_hook = false; /* the hooks set */
    uint8_t payload[128];

    for (size_t pos = 1; pos + 4 <= size && pos < 1 + 4 * 400; pos += 4) {
        int op = data[pos], a = data[pos + 1], b = data[pos + 2], c = data[pos + 3];
        actor_addr *addr = addrs[a % NADDR];
        const slot_info *si = &sinfo[a % NADDR];
        resp_slot *rs = &rslots[b % NRESP];
        memset(payload, 0, sizeof payload);
        payload[0] = (uint8_t)c;
        int rc;
        switch (op % 40) {
        case 0: /* spawn */
        case 1: {
            actor_class *k = (b % 8) == 0   ? cls_badinit
                             : (b % 8) == 1 ? cls_stubborn
                             : (b & 0x80)   ? (actor_class *)pick_class5(1 + ((b >> 3) & 3))
                                            : cls_worker;
            if (c == 0)
                k = NULL;
            actor_addr *got = NULL;
            rc = actor_spawn(c == 1 ? NULL : rt, k, NULL, &got);
            if (k == NULL || c == 1)
                CHECK(rc == ACTOR_EINVAL && got == NULL);
            else if (shut)
                CHECK(rc == ACTOR_ECLOSED && got == NULL);
            else
                CHECK(rc == ACTOR_OK && got != NULL);
            if (rc == ACTOR_OK) {
                spawned = true;
                nspawned++;
                if (k == cls_custom)
                    custom_used = true;
                put_slot(a % NADDR, got, (slot_info){K_ACTOR, k, 0});
            }
            break;
        }
        case 2: /* send */
        case 3:
        case 4: {
            const actor_msgtype *t = pick_type(b);
            size_t len = pick_len(t, c);
            rc = addr_send(addr, t, (b & 4) ? NULL : payload, len);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED,
                     ACTOR_EFULL);
            if (addr == NULL)
                CHECK(rc == ACTOR_EINVAL);
            if ((b & 4) && len > 0)
                CHECK(bad_arg_code(si, rc));
            /* EFULL: a full REJECT mailbox (a DROP one takes it and drops) */
            if (rc == ACTOR_EFULL)
                CHECK(bounded(si) && pol_of(si->cls) == ACTOR_OVERFLOW_REJECT);
            if (rc == ACTOR_ENOHANDLER)
                CHECK(!catch_all(si));
            break;
        }
        case 5: /* interact */
        case 6:
        case 7: {
            const actor_msgtype *t = pick_type(b >> 4);
            size_t len = pick_len(t, c);
            drop_slot(rs);
            actor_responder *r = NULL;
            rc = addr_interact(addr, t, payload, len, &r);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED,
                     ACTOR_EFULL);
            CHECK((rc == ACTOR_OK) == (r != NULL));
            if (addr == NULL)
                CHECK(rc == ACTOR_EINVAL);
            if (rc == ACTOR_EFULL) /* under both policies */
                CHECK(bounded(si));
            if (rc == ACTOR_ENOHANDLER)
                CHECK(!catch_all(si));
            if (si->kind == K_POOL && si->route == ACTOR_ROUTE_BROADCAST)
                CHECK(rc != ACTOR_OK);
            rs->r = r;
            break;
        }
        case 8: /* forward */
            if (!usable(rs))
                break; /* the callback may have freed it */
            rc = actor_responder_forward(rs->r, addr);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ENOHANDLER, ACTOR_ECLOSED);
            if (rs->then != NULL || rs->r == NULL || addr == NULL)
                CHECK(rc == ACTOR_EINVAL);
            if (rc == ACTOR_OK)
                rs->r = NULL; /* consumed */
            break;
        case 9: /* then */
            if (!usable(rs))
                break;
            if (rs->r == NULL) {
                CHECK(actor_responder_then(NULL, then_cb, NULL) == ACTOR_EINVAL);
                break;
            }
            if (rs->then != NULL) {
                CHECK(actor_responder_then(rs->r, then_cb, rs->then) == ACTOR_EINVAL);
                break;
            }
            if (nthens >= NTHEN)
                break;
            CHECK(actor_responder_then(rs->r, NULL, NULL) == ACTOR_EINVAL);
            rs->then = &thens[nthens++];
            rs->then->freed_in_cb = c & 1;
            CHECK(actor_responder_then(rs->r, then_cb, rs->then) == ACTOR_OK);
            break;
        case 10: /* free */
            drop_slot(rs);
            break;
        case 11: /* look at a responder */
            if (!usable(rs))
                break;
            /* A nonzero timeout drives a manual runtime (and returns at
             * once when it idles); on a threaded one it waits 1 ms. */
            rc = actor_responder_wait(rs->r, (c & 2) ? 1 : 0);
            CHECK_IN(rc, ACTOR_OK, ACTOR_ECANCELED, ACTOR_EHANDLER, ACTOR_ETIMEDOUT, ACTOR_EINVAL,
                     ACTOR_EEXPIRED);
            CHECK((rs->r == NULL) == (rc == ACTOR_EINVAL));
            {
                size_t len = 99;
                const void *d = actor_responder_data(rs->r, &len);
                int st = actor_responder_status(rs->r);
                if (d == NULL)
                    CHECK(len == 0);
                if (st == ACTOR_EHANDLER)
                    CHECK(actor_responder_handler_error(rs->r) != 0);
                (void)actor_responder_type(rs->r);
                if (c & 1) {
                    int fd = actor_responder_fd(rs->r);
                    CHECK((fd >= 0) == (rs->r != NULL));
                }
            }
            break;
        case 12: /* interrupt */
            rc = addr_interrupt(addr);
            CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED, ACTOR_EINVAL);
            break;
        case 13: /* release */
            put_slot(a % NADDR, NULL, (slot_info){0});
            break;
        case 14: { /* ref into another slot */
            actor_addr *extra = addr_ref(addr);
            CHECK(extra == addr);
            if (extra != NULL)
                put_slot(b % NADDR, extra, *si);
            break;
        }
        case 15: /* look at an actor */
            rc = addr_join(addr, (c & 2) ? 1 : 0);
            CHECK_IN(rc, ACTOR_OK, ACTOR_ETIMEDOUT, ACTOR_EINVAL);
            CHECK((rc == ACTOR_OK) == (addr_is_done(addr) == 1) || rc == ACTOR_ETIMEDOUT);
            {
                unsigned long long d = 0;
                CHECK(addr_dropped(addr, &d) == (addr ? ACTOR_OK : ACTOR_EINVAL));
            }
            if (rc == ACTOR_OK)
                check_done(addr, si);
            break;
        case 16: { /* answer a deferred request */
            actor_promise *p = take_promise(b);
            if (p != NULL)
                answer_promise(p, c, false);
            else
                CHECK(actor_promise_resolve(NULL, NULL, 0) == ACTOR_EINVAL);
            break;
        }
        case 17: /* shutdown, just looking */
            rc = actor_runtime_shutdown(rt, 0);
            CHECK_IN(rc, ACTOR_OK, ACTOR_ETIMEDOUT);
            shut = true;
            break;
        case 18: /* the stubborn class's way out */
            payload[0] = 0xff;
            rc = addr_send(addr, t_ev, payload, 1);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ENOHANDLER, ACTOR_ECLOSED, ACTOR_EFULL);
            if (rc == ACTOR_EFULL)
                CHECK(bounded(si));
            break;
        case 19: { /* interact with a deadline: 0-5 ms, or negative */
            const actor_msgtype *t = pick_type(b >> 4);
            size_t len = pick_len(t, c);
            int timeout = (c & 0x40) ? -1 - (c & 7) : (c & 0x3f) % 6;
            drop_slot(rs);
            actor_responder *r = NULL;
            rc = addr_interact_within(addr, t, payload, len, timeout, &r);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED,
                     ACTOR_EFULL);
            CHECK((rc == ACTOR_OK) == (r != NULL));
            if (addr == NULL || timeout < 0)
                CHECK(rc == ACTOR_EINVAL);
            if (rc == ACTOR_EFULL)
                CHECK(bounded(si));
            if (rc == ACTOR_ENOHANDLER)
                CHECK(!catch_all(si));
            rs->r = r;
            break;
        }
        case 20: /* step */
            rc = actor_runtime_step(rt);
            if (manual)
                CHECK_IN(rc, 0, 1);
            else
                CHECK(rc == ACTOR_EINVAL);
            break;
        case 21: { /* run at most c */
            size_t ran = 12345;
            rc = actor_runtime_run(rt, (size_t)c, &ran);
            if (manual)
                CHECK(rc == ACTOR_OK && ran <= (size_t)c);
            else
                CHECK(rc == ACTOR_EINVAL && ran == 12345);
            break;
        }
        case 22: { /* advance the clock c % 32 ms (255: too far) */
            uint64_t before = actor_runtime_now_ms(rt);
            uint64_t ms = c == 255 ? (1ull << 42) + 1 : (uint64_t)(c % 32);
            rc = actor_runtime_advance(rt, ms);
            if (!manual || c == 255) {
                CHECK(rc == ACTOR_EINVAL);
            } else {
                CHECK(rc == ACTOR_OK);
                CHECK(actor_runtime_now_ms(rt) == before + ms);
            }
            break;
        }
        case 24: { /* the input's class gets a mailbox */
            static const size_t caps[8] = {0, 1, 2, 3, ACTOR_MAILBOX_MAX,
                                           (size_t)ACTOR_MAILBOX_MAX + 1, SIZE_MAX, 1};
            size_t cap = caps[c & 7];
            int pol = (c >> 3) & 3;
            if (pol == 3)
                pol = -1; /* 2 and -1: no such policy */
            bool bad = cap > ACTOR_MAILBOX_MAX ||
                       (pol != ACTOR_OVERFLOW_REJECT && pol != ACTOR_OVERFLOW_DROP);
            actor_class *k = (b & 1) ? NULL : cls_custom;
            rc = actor_class_set_mailbox(k, cap, pol);
            if (k == NULL)
                CHECK(rc == ACTOR_EINVAL);
            else if (bad && custom_used)
                CHECK_IN(rc, ACTOR_EINVAL, ACTOR_EBUSY);
            else if (bad)
                CHECK(rc == ACTOR_EINVAL);
            else
                CHECK(rc == (custom_used ? ACTOR_EBUSY : ACTOR_OK));
            if (rc == ACTOR_OK) {
                custom_cap = cap;
                custom_pol = pol;
            }
            break;
        }
        case 25: { /* send, waiting 0-3 ms for room */
            const actor_msgtype *t = pick_type(b);
            size_t len = pick_len(t, c);
            int timeout = (b >> 4) & 3;
            rc = addr_send_wait(addr, t, (b & 4) ? NULL : payload, len, timeout);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED,
                     ACTOR_ETIMEDOUT);
            if (addr == NULL)
                CHECK(rc == ACTOR_EINVAL);
            if ((b & 4) && len > 0)
                CHECK(bad_arg_code(si, rc));
            if (rc == ACTOR_ETIMEDOUT) /* only a bounded mailbox is ever full */
                CHECK(bounded(si));
            if (rc == ACTOR_ENOHANDLER)
                CHECK(!catch_all(si));
            break;
        }
        case 26: { /* counters: the actor's and the runtime's, every size */
            union {
                actor_stats s;
                unsigned char b[sizeof(actor_stats) + 8];
            } u;
            memset(&u, 0xA5, sizeof u);
            const size_t ssz[4] = {sizeof(actor_stats), STATS_MIN, STATS_MIN - 1, 0};
            size_t sz = ssz[c & 3];
            u.s.size = sz;
            int done = addr_is_done(addr);
            rc = addr_stats(addr, (b & 0x40) ? NULL : &u.s);
            if (addr == NULL || (b & 0x40) || sz < STATS_MIN) {
                CHECK(rc == ACTOR_EINVAL);
                sz = sizeof(size_t); /* nothing written */
            } else {
                CHECK(rc == ACTOR_OK);
            }
            CHECK(u.s.size == ssz[c & 3]);
            for (size_t i = sz; i < sizeof u; i++)
                CHECK(u.b[i] == 0xA5);
            if (rc == ACTOR_OK && si->kind != K_POOL) {
                size_t cap = cap_of(si->cls);
                if (cap > 0)
                    CHECK(u.s.queued <= cap && u.s.queued_peak <= cap);
                else
                    CHECK(u.s.queued == 0 && u.s.queued_peak == 0);
                if (si->kind == K_ACTOR)
                    CHECK(u.s.restarts == 0);
            }
            if (done)
                check_done(addr, si);
            unsigned long long n = 0;
            CHECK(addr_restarts(addr, &n) == (addr ? ACTOR_OK : ACTOR_EINVAL));
            if (si->kind == K_ACTOR)
                CHECK(n == 0);

            union {
                actor_runtime_stats s;
                unsigned char b[sizeof(actor_runtime_stats) + 8];
            } v;
            memset(&v, 0xA5, sizeof v);
            const size_t rsz[4] = {sizeof(actor_runtime_stats), RT_STATS_MIN, RT_STATS_MIN - 1,
                                   sizeof(size_t)};
            sz = rsz[(c >> 2) & 3];
            v.s.size = sz;
            rc = actor_runtime_stats_get((c & 0x10) ? NULL : rt, &v.s);
            if ((c & 0x10) || sz < RT_STATS_MIN) {
                CHECK(rc == ACTOR_EINVAL);
                sz = sizeof(size_t);
            } else {
                CHECK(rc == ACTOR_OK);
                CHECK(v.s.threads == (manual ? 0 : nthreads));
                CHECK(v.s.actors_spawned >= nspawned);
                CHECK(v.s.actors_live <= v.s.actors_spawned);
            }
            CHECK(v.s.size == rsz[(c >> 2) & 3]);
            for (size_t i = sz; i < sizeof v; i++)
                CHECK(v.b[i] == 0xA5);
            break;
        }
        case 27: { /* hooks: before the first spawn, else EBUSY */
            struct {
                actor_hooks h;
                void *later[2]; /* a later version's struct: its tail ignored */
            } big;
            memset(&big, 0xFF, sizeof big);
            big.h.size = sizeof big.h;
            big.h.ud = &hk;
            big.h.dead_letter = (c & 1) ? hook_dead : NULL;
            big.h.handled = (c & 2) ? hook_handled : NULL;
            const size_t hmin = offsetof(actor_hooks, handled) + sizeof big.h.handled;
            int form = (c >> 2) & 3;
            if (form == 1)
                big.h.size = sizeof big;
            else if (form == 2)
                big.h.size = (b & 1) ? hmin - 1 : offsetof(actor_hooks, dead_letter);
            if (form == 3)
                rc = (b & 1) ? actor_runtime_set_hooks(NULL, &big.h)
                             : actor_runtime_set_hooks(rt, NULL);
            else
                rc = actor_runtime_set_hooks(rt, &big.h);
            if (form >= 2) {
                CHECK(rc == ACTOR_EINVAL);
                break;
            }
            CHECK(rc == (spawned ? ACTOR_EBUSY : ACTOR_OK));
            if (rc != ACTOR_OK)
                break;
            dead_hook = (c & 1) != 0;
            handled_hook = (c & 2) != 0;
            atomic_store(&hk.send, (c >> 4) & 1);
            if ((c & 0x10) && atomic_load(&hk.sink) == NULL && !shut) {
                actor_addr *sink = NULL;
                CHECK(actor_spawn(rt, cls_rej, NULL, &sink) == ACTOR_OK);
                spawned = true;
                nspawned++;
                atomic_store(&hk.sink, sink); /* kept until the runtime is freed */
            }
            break;
        }
        case 28: { /* exit reason */
            if (c & 2) {
                rc = addr_join(addr, 1);
                CHECK_IN(rc, ACTOR_OK, ACTOR_ETIMEDOUT, ACTOR_EINVAL);
            }
            int was = addr_is_done(addr), r = 4242;
            rc = addr_exit_reason(addr, (c & 4) ? NULL : &r);
            if (addr == NULL || (c & 4)) {
                CHECK(rc == ACTOR_EINVAL);
            } else {
                CHECK_IN(rc, ACTOR_OK, ACTOR_EAGAIN);
                if (was)
                    CHECK(rc == ACTOR_OK);
                if (rc == ACTOR_OK)
                    check_done(addr, si);
            }
            if (rc != ACTOR_OK)
                CHECK(r == 4242);
            break;
        }
        case 29: { /* an actor into the watch table (handlers monitor it) */
            actor_addr *w = addr_ref(addr);
            pthread_mutex_lock(&watch_mu);
            actor_addr *old = watch[b % NWATCH];
            watch[b % NWATCH] = w;
            pthread_mutex_unlock(&watch_mu);
            addr_release(old);
            break;
        }
        case 30: { /* a supervisor */
            actor_supervisor_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.size = (b & 0x40) ? sizeof sp - 1 : sizeof sp;
            sp.strategy = (b & 0x80) ? -1 : b % 4; /* 3, -1: no such strategy */
            sp.intensity = c & 3;
            sp.period_ms = ((c >> 2) & 7) * 4; /* 0: ACTOR_EINVAL */
            sp.backoff_ms = (c >> 5) & 1;
            sp.backoff_max_ms = 2;
            bool null_spec = (b & 0x20) && (c & 0x80);
            bool bad = null_spec || sp.size < sizeof sp || sp.strategy < ACTOR_ONE_FOR_ONE ||
                       sp.strategy > ACTOR_REST_FOR_ONE || sp.period_ms == 0;
            actor_addr *got = NULL;
            rc = actor_supervisor_spawn(rt, null_spec ? NULL : &sp, &got);
            CHECK(spawned_as_expected(rc, got, bad, shut));
            if (rc == ACTOR_OK) {
                spawned = true;
                nspawned++;
                put_slot(a % NADDR, got, (slot_info){K_SUP, NULL, 0});
            }
            break;
        }
        case 31: { /* a child (or a subtree) of the supervisor in slot a */
            actor_class *k = c == 0xff ? NULL : (actor_class *)pick_class5(c & 7);
            int restart = (c >> 3) & 3; /* 3: no such type */
            bool subtree = (c >> 5) & 1;
            actor_addr *got = NULL;
            if (subtree) {
                actor_supervisor_spec sp = {sizeof sp, (c >> 6) % 3, 1, 10, 0, 0};
                rc = actor_supervisor_start_supervisor(addr, &sp, restart, &got);
            } else {
                rc = actor_supervisor_start_child(addr, k, restart, &got);
            }
            bool bad = addr == NULL || restart > ACTOR_TEMPORARY || (!subtree && k == NULL);
            if (bad || si->kind == K_ACTOR || si->kind == K_CHILD)
                CHECK(rc == ACTOR_EINVAL);
            else if (si->kind == K_POOL) /* not a supervisor (it restarts its members) */
                CHECK_IN(rc, ACTOR_EINVAL, ACTOR_OK, ACTOR_ECLOSED);
            else if (shut)
                CHECK(rc == ACTOR_ECLOSED);
            else
                CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED); /* closed: it gave up */
            CHECK((rc == ACTOR_OK) == (got != NULL));
            if (rc == ACTOR_OK) {
                spawned = true;
                nspawned++;
                if (!subtree && k == cls_custom)
                    custom_used = true;
                put_slot(b % NADDR, got,
                         subtree ? (slot_info){K_SUP, NULL, 0} : (slot_info){K_CHILD, k, 0});
            }
            break;
        }
        case 32: { /* stop a child for good */
            actor_addr *child = addrs[b % NADDR];
            rc = actor_supervisor_stop_child(addr, child);
            if (addr == NULL || child == NULL || si->kind == K_ACTOR || si->kind == K_CHILD)
                CHECK(rc == ACTOR_EINVAL);
            else if (si->kind == K_POOL)
                CHECK_IN(rc, ACTOR_OK, ACTOR_ENOENT, ACTOR_EINVAL);
            else if (sinfo[b % NADDR].kind == K_ACTOR || sinfo[b % NADDR].kind == K_POOL)
                CHECK(rc == ACTOR_ENOENT); /* nobody's child */
            else
                CHECK_IN(rc, ACTOR_OK, ACTOR_ENOENT);
            break;
        }
        case 33: { /* names, against the model */
            int n = b % NNAMES;
            switch (c & 3) {
            case 0:
                rc = actor_name_register(rt, names[n], addr);
                if (addr == NULL)
                    CHECK(rc == ACTOR_EINVAL);
                else if (nm_holder[n] == NULL)
                    CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
                else /* OK: its holder was Done, the name free again */
                    CHECK_IN(rc, ACTOR_EBUSY, ACTOR_OK, ACTOR_ECLOSED);
                if (rc == ACTOR_OK) {
                    actor_addr *old = nm_holder[n];
                    nm_holder[n] = addr_ref(addr);
                    nm_info[n] = *si;
                    addr_release(old);
                    forget_unless_held(old);
                }
                break;
            case 1: {
                static int sentinel;
                actor_addr *got = (actor_addr *)&sentinel;
                rc = actor_name_lookup(rt, names[n], &got);
                if (nm_holder[n] == NULL) {
                    CHECK(rc == ACTOR_ENOENT);
                } else {
                    CHECK_IN(rc, ACTOR_OK, ACTOR_ENOENT);
                    if (rc == ACTOR_OK)
                        CHECK(got == nm_holder[n]);
                }
                if (rc == ACTOR_OK)
                    put_slot(a % NADDR, got, nm_info[n]);
                else
                    CHECK(got == (actor_addr *)&sentinel);
                break;
            }
            case 2:
                rc = actor_name_unregister(rt, names[n]);
                if (nm_holder[n] == NULL) {
                    CHECK(rc == ACTOR_ENOENT);
                } else {
                    CHECK_IN(rc, ACTOR_OK, ACTOR_ENOENT);
                    actor_addr *old = nm_holder[n];
                    nm_holder[n] = NULL;
                    addr_release(old);
                    forget_unless_held(old);
                }
                break;
            default: { /* bad names, NULL everywhere */
                static const char *const bad[5] = {"", "bad name", NULL, "fz.n\xc3\xa9",
                                                   "0123456789012345678901234567890123456789"
                                                   "0123456789012345678901234"};
                const char *bn = bad[(c >> 2) % 5];
                static int sentinel;
                actor_addr *got = (actor_addr *)&sentinel;
                CHECK(actor_name_register(rt, bn, addr) == ACTOR_EINVAL);
                CHECK_IN(actor_name_lookup(rt, bn, &got), ACTOR_EINVAL, ACTOR_ENOENT);
                CHECK_IN(actor_name_unregister(rt, bn), ACTOR_EINVAL, ACTOR_ENOENT);
                CHECK(actor_name_register(NULL, names[n], addr) == ACTOR_EINVAL);
                CHECK(actor_name_lookup(NULL, names[n], &got) == ACTOR_EINVAL);
                CHECK(actor_name_lookup(rt, names[n], NULL) == ACTOR_EINVAL);
                CHECK(actor_name_unregister(NULL, names[n]) == ACTOR_EINVAL);
                CHECK(got == (actor_addr *)&sentinel);
                break;
            }
            }
            break;
        }
        case 34: /* subscribe */
        case 35: { /* unsubscribe */
            int k = c % (NSUBS + NBADSUBS);
            const char *sub = k < NSUBS ? subs[k] : bad_subs[k - NSUBS];
            if (op % 40 == 34) {
                rc = actor_subscribe(addr, sub);
                if (addr == NULL || k >= NSUBS) {
                    CHECK(rc == ACTOR_EINVAL);
                    break;
                }
                int m = subm_find(addr, k);
                if (subm_lost)
                    CHECK_IN(rc, ACTOR_OK, ACTOR_EBUSY, ACTOR_ECLOSED);
                else if (m >= 0)
                    CHECK_IN(rc, ACTOR_EBUSY, ACTOR_ECLOSED);
                else
                    CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
                if (rc == ACTOR_OK) {
                    subs_made++;
                    if (nsubm < NSUBM) {
                        subm[nsubm].a = addr;
                        subm[nsubm++].sub = k;
                    } else {
                        subm_lost = true;
                    }
                }
            } else {
                rc = actor_unsubscribe(addr, sub);
                if (addr == NULL || k >= NSUBS) {
                    CHECK(rc == ACTOR_EINVAL);
                    break;
                }
                int m = subm_find(addr, k);
                if (subm_lost || m >= 0) /* ENOENT: it is Done */
                    CHECK_IN(rc, ACTOR_OK, ACTOR_ENOENT);
                else
                    CHECK(rc == ACTOR_ENOENT);
                if (m >= 0)
                    subm_remove(m);
            }
            break;
        }
        case 36: { /* publish */
            int k = (c >> 1) % (2 * NPUBS);
            const actor_msgtype *t = pick_type(b);
            size_t len = (b & 0x80) ? (size_t)((b >> 2) & 0x1f) : actor_msgtype_size(t);
            bool nullpay = (b & 4) && len > 0;
            bool nullrt = (c & 0x80) && (b & 0x40);
            size_t delivered = 99999;
            rc = actor_publish(nullrt ? NULL : rt, pubs[k], t, nullpay ? NULL : payload, len,
                               (b & 8) ? NULL : &delivered);
            bool fits = actor_msgtype_layout(t) == NULL || len == actor_msgtype_size(t);
            if (nullrt || k >= NPUBS || nullpay)
                CHECK(rc == ACTOR_EINVAL);
            else if (!fits)
                CHECK(rc == ACTOR_ETYPE);
            else if (shut)
                CHECK(rc == ACTOR_ECLOSED);
            else
                CHECK(rc == ACTOR_OK);
            if (rc == ACTOR_OK && !(b & 8))
                CHECK(delivered <= subs_made); /* each at most once */
            else
                CHECK(delivered == 99999);
            break;
        }
        case 37: { /* a pool */
            actor_pool_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.size = (b & 0x40) ? sizeof sp - 1 : sizeof sp;
            sp.cls = c == 0xff ? NULL : (actor_class *)pick_class5(b >> 3);
            sp.members = ((c & 3) == 3 && (b & 0x80)) ? ACTOR_POOL_MAX_MEMBERS + 1 : (c & 3);
            sp.route = (b & 7) == 7 ? -1 : (b & 7) % 5; /* 4, -1: no such route */
            sp.key_offset = (c >> 2) & 7;
            sp.key_len = (c >> 5) & 3;
            bool bad = sp.size < sizeof sp || sp.cls == NULL || sp.route < 0 ||
                       sp.route > ACTOR_ROUTE_BROADCAST ||
                       sp.members > ACTOR_POOL_MAX_MEMBERS ||
                       (sp.route == ACTOR_ROUTE_HASH && sp.key_len == 0) ||
                       (sp.members == 0 && manual);
            actor_addr *got = NULL;
            rc = actor_pool_spawn(rt, &sp, &got);
            CHECK(spawned_as_expected(rc, got, bad, shut));
            if (rc == ACTOR_OK) {
                spawned = true;
                nspawned++;
                if (sp.cls == cls_custom)
                    custom_used = true;
                put_slot(a % NADDR, got, (slot_info){K_POOL, sp.cls, sp.route});
            }
            break;
        }
        case 38: /* an event of the failure sub-ops: fail, monitor, ... */
            payload[0] = (uint8_t)((c % 26) * 10 + 5);
            rc = addr_send(addr, t_ev, payload, 1);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ENOHANDLER, ACTOR_ECLOSED, ACTOR_EFULL);
            if (addr == NULL)
                CHECK(rc == ACTOR_EINVAL);
            if (rc == ACTOR_EFULL)
                CHECK(bounded(si));
            break;
        case 39: { /* NULL everywhere (1.1) */
            actor_stats st;
            actor_runtime_stats rst;
            memset(&st, 0, sizeof st);
            memset(&rst, 0, sizeof rst);
            st.size = sizeof st;
            rst.size = sizeof rst;
            actor_hooks h = {sizeof h, NULL, NULL, NULL};
            actor_supervisor_spec sp = {sizeof sp, ACTOR_ONE_FOR_ONE, 1, 10, 0, 0};
            actor_pool_spec ps = {sizeof ps, cls_worker, 1, ACTOR_ROUTE_ROUND_ROBIN, 0, 0};
            actor_addr *got = NULL;
            unsigned long long n = 0;
            int r = 4242;
            CHECK(actor_class_set_mailbox(NULL, 1, ACTOR_OVERFLOW_REJECT) == ACTOR_EINVAL);
            CHECK(actor_class_on_any_event(NULL, any_event) == ACTOR_EINVAL);
            CHECK(actor_class_on_any_request(NULL, any_request) == ACTOR_EINVAL);
            CHECK(actor_class_on_down(NULL, worker_down) == ACTOR_EINVAL);
            /* (NULL removes a hook: the input's class has none) */
            CHECK(actor_class_on_any_event(cls_custom, NULL) ==
                  (custom_used ? ACTOR_EBUSY : ACTOR_OK));
            CHECK(addr_send_wait(NULL, t_ev, payload, 1, 0) == ACTOR_EINVAL);
            CHECK(bad_arg_code(si, addr_send_wait(addr, NULL, payload, 1, 0)));
            CHECK(bad_arg_code(si, addr_send_wait(addr, t_ev, NULL, 1, 0)));
            CHECK(addr_stats(NULL, &st) == ACTOR_EINVAL);
            CHECK(addr_stats(addr, NULL) == ACTOR_EINVAL);
            CHECK(actor_runtime_stats_get(NULL, &rst) == ACTOR_EINVAL);
            CHECK(actor_runtime_stats_get(rt, NULL) == ACTOR_EINVAL);
            CHECK(actor_runtime_set_hooks(NULL, &h) == ACTOR_EINVAL);
            CHECK(actor_runtime_set_hooks(rt, NULL) == ACTOR_EINVAL);
            CHECK(addr_exit_reason(NULL, &r) == ACTOR_EINVAL && r == 4242);
            CHECK(addr_exit_reason(addr, NULL) == ACTOR_EINVAL);
            CHECK(addr_restarts(NULL, &n) == ACTOR_EINVAL);
            CHECK(addr_restarts(addr, NULL) == ACTOR_EINVAL);
            actor_ctx_fail(NULL, 1);
            CHECK(actor_ctx_monitor(NULL, addr) == ACTOR_EINVAL);
            CHECK(actor_ctx_demonitor(NULL, addr) == ACTOR_EINVAL);
            CHECK(actor_supervisor_spawn(NULL, &sp, &got) == ACTOR_EINVAL);
            CHECK(actor_supervisor_spawn(rt, NULL, &got) == ACTOR_EINVAL);
            CHECK(actor_supervisor_spawn(rt, &sp, NULL) == ACTOR_EINVAL);
            CHECK(actor_supervisor_start_child(NULL, cls_worker, ACTOR_PERMANENT, &got) ==
                  ACTOR_EINVAL);
            CHECK(actor_supervisor_start_child(addr, cls_worker, ACTOR_PERMANENT, NULL) ==
                  ACTOR_EINVAL);
            CHECK(actor_supervisor_start_supervisor(NULL, &sp, ACTOR_PERMANENT, &got) ==
                  ACTOR_EINVAL);
            CHECK(actor_supervisor_start_supervisor(addr, NULL, ACTOR_PERMANENT, &got) ==
                  ACTOR_EINVAL);
            CHECK(actor_supervisor_stop_child(NULL, addr) == ACTOR_EINVAL);
            CHECK(actor_supervisor_stop_child(addr, NULL) == ACTOR_EINVAL);
            CHECK(actor_name_register(rt, NULL, addr) == ACTOR_EINVAL);
            CHECK(actor_name_register(rt, names[0], NULL) == ACTOR_EINVAL);
            CHECK(actor_name_unregister(rt, NULL) == ACTOR_EINVAL);
            CHECK(actor_name_lookup(rt, NULL, &got) == ACTOR_EINVAL);
            CHECK(actor_subscribe(NULL, "fz.a") == ACTOR_EINVAL);
            CHECK(actor_subscribe(addr, NULL) == ACTOR_EINVAL);
            CHECK(actor_unsubscribe(NULL, "fz.a") == ACTOR_EINVAL);
            CHECK(actor_unsubscribe(addr, NULL) == ACTOR_EINVAL);
            CHECK(actor_publish(NULL, "fz.a", t_ev, payload, 1, NULL) == ACTOR_EINVAL);
            CHECK(actor_publish(rt, NULL, t_ev, payload, 1, NULL) == ACTOR_EINVAL);
            CHECK(actor_publish(rt, "fz.a", NULL, payload, 1, NULL) == ACTOR_EINVAL);
            CHECK(actor_publish(rt, "fz.a", t_ev, NULL, 1, NULL) == ACTOR_EINVAL);
            CHECK(actor_pool_spawn(NULL, &ps, &got) == ACTOR_EINVAL);
            CHECK(actor_pool_spawn(rt, NULL, &got) == ACTOR_EINVAL);
            CHECK(actor_pool_spawn(rt, &ps, NULL) == ACTOR_EINVAL);
            CHECK(actor_responder_forward_tagged(NULL, addr, 7) == ACTOR_EINVAL);
            CHECK(actor_ctx_tag(NULL) == 0);
            CHECK(got == NULL);
            break;
        }
        default: /* NULL everywhere */
            CHECK(addr_send(NULL, t_ev, payload, 1) == ACTOR_EINVAL);
            CHECK(bad_arg_code(si, addr_send(addr, NULL, payload, 1)));
            CHECK(addr_interact(addr, t_req, payload, 8, NULL) == ACTOR_EINVAL);
            CHECK(actor_responder_forward(NULL, addr) == ACTOR_EINVAL);
            CHECK(addr_interrupt(NULL) == ACTOR_EINVAL);
            CHECK(addr_join(NULL, 0) == ACTOR_EINVAL);
            CHECK(actor_spawn(rt, cls_worker, NULL, NULL) == ACTOR_EINVAL);
            CHECK(actor_runtime_shutdown(NULL, 0) == ACTOR_EINVAL);
            CHECK(addr_interact_within(NULL, t_req, payload, 8, 1, NULL) == ACTOR_EINVAL);
            CHECK(addr_interact_within(addr, t_req, payload, 8, 1, NULL) == ACTOR_EINVAL);
            CHECK(actor_ctx_timer_start(NULL, 0, t_tk, payload, 1, 0, 0) == ACTOR_EINVAL);
            CHECK(actor_ctx_timer_cancel(NULL, 0) == ACTOR_EINVAL);
            CHECK(actor_ctx_timer_active(NULL, 0) == 0);
            CHECK(actor_ctx_deadline_left(NULL) == -1);
            CHECK(actor_runtime_step(NULL) == ACTOR_EINVAL);
            CHECK(actor_runtime_run(NULL, 1, NULL) == ACTOR_EINVAL);
            CHECK(actor_runtime_advance(NULL, 1) == ACTOR_EINVAL);
            CHECK(actor_runtime_now_ms(NULL) == 0);
            addr_release(NULL);
            actor_responder_free(NULL);
            actor_promise_free(NULL);
            break;
        }
    }

    /* The end: names unregistered, the watch table emptied, every address
     * let go (half of them kept until the shutdown returned, to look at
     * their counters then: not the stubborn ones, which close only when
     * their last address goes), what is deferred answered until every actor
     * is Done. */
    for (int n = 0; n < NNAMES; n++) {
        int rc = actor_name_unregister(rt, names[n]);
        if (nm_holder[n] == NULL)
            CHECK(rc == ACTOR_ENOENT);
        else
            CHECK_IN(rc, ACTOR_OK, ACTOR_ENOENT);
        addr_release(nm_holder[n]);
        nm_holder[n] = NULL;
    }
    pthread_mutex_lock(&watch_mu);
    actor_addr *watched[NWATCH];
    memcpy(watched, watch, sizeof watch);
    memset(watch, 0, sizeof watch);
    pthread_mutex_unlock(&watch_mu);
    for (int i = 0; i < NWATCH; i++)
        addr_release(watched[i]);
    actor_addr *keep[NADDR] = {0};
    slot_info keep_info[NADDR];
    for (int i = 0; i < NADDR; i++) {
        keep_info[i] = sinfo[i];
        if (addrs[i] != NULL && i % 2 == 0 && sinfo[i].cls != cls_stubborn)
            keep[i] = addr_ref(addrs[i]);
        put_slot(i, NULL, (slot_info){0});
    }
    nsubm = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int round = 0;; round++) {
        actor_promise *p;
        while ((p = take_promise(round)) != NULL)
            answer_promise(p, round, false);
        int rc = actor_runtime_shutdown(rt, 2);
        if (rc == ACTOR_OK)
            break;
        CHECK(rc == ACTOR_ETIMEDOUT);
        if (manual) /* idle: what is left waits for time (a backoff) */
            CHECK(actor_runtime_advance(rt, 1) == ACTOR_OK);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        CHECK(now.tv_sec - t0.tv_sec < 30); /* a hang */
    }
    /* Every actor is Done: its counters are exact. */
    for (int i = 0; i < NADDR; i++) {
        if (keep[i] == NULL)
            continue;
        CHECK(addr_is_done(keep[i]) == 1);
        check_done(keep[i], &keep_info[i]);
        addr_release(keep[i]);
    }
    actor_addr *sink = atomic_load(&hk.sink);
    if (sink != NULL) {
        CHECK(addr_is_done(sink) == 1);
        slot_info sink_info = {K_ACTOR, cls_rej, 0};
        check_done(sink, &sink_info);
    }
    {
        actor_runtime_stats rst;
        memset(&rst, 0, sizeof rst);
        rst.size = sizeof rst;
        CHECK(actor_runtime_stats_get(rt, &rst) == ACTOR_OK);
        CHECK(rst.actors_live == 0 && rst.actors_spawned >= nspawned);
    }
    actor_runtime_free(rt);
    /* No hook runs any more: the sink may go. */
    atomic_store(&hk.sink, NULL);
    addr_release(sink);
    if (!dead_hook)
        CHECK(atomic_load(&hk.dead_closed) + atomic_load(&hk.dead_full) == 0);
    if (!handled_hook)
        CHECK(atomic_load(&hk.handled) == 0);
    actor_class_free(cls_custom);
    cls_custom = NULL;
    /* Deferred after the last look (none can be: every actor is Done). */
    actor_promise *p;
    while ((p = take_promise(0)) != NULL)
        answer_promise(p, 0, true);
    for (int i = 0; i < nthens; i++) {
        int calls = atomic_load(&thens[i].calls);
        CHECK(thens[i].freed_by_us ? calls <= 1 : calls == 1);
    }
    for (int i = 0; i < NRESP; i++) {
        resp_slot *s = &rslots[i];
        if (!usable(s) || s->r == NULL)
            continue;
        CHECK(actor_responder_status(s->r) != ACTOR_EAGAIN);
        CHECK(actor_responder_wait(s->r, 0) != ACTOR_ETIMEDOUT);
        /* Every operation on a complete responder after the runtime's end
         * still answers. */
        CHECK(actor_responder_forward(s->r, NULL) == ACTOR_EINVAL);
        actor_responder_free(s->r);
    }
    return 0;
}
