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
 * At the end: every address released, the promises still held answered,
 * the runtime shut down and freed; then every responder still held is
 * complete, every then-callback ran exactly once (unless its responder was
 * freed first), and nothing leaks (LeakSanitizer) or trips a sanitizer.
 */
#include <actor/actor.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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

static const actor_msgtype *t_ev, *t_req, *t_opq, *t_none, *t_tk;
static actor_class *cls_worker, *cls_badinit, *cls_stubborn;

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

static int worker_event(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    int op = first_byte(p, len);
    switch (op % 10) {
    case 1:
        actor_ctx_stop(ctx);
        return 0;
    case 2: {
        /* To itself (a borrowed address): OK, or ECLOSED when stopping. */
        uint8_t next = 0;
        int rc = addr_send(actor_ctx_self(ctx), t_opq, &next, 1);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
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
        CHECK(actor_ctx_timer_start(ctx, key, t_req, &q, sizeof q, 0, 0) == ACTOR_ENOHANDLER);
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
    CHECK(actor_ctx_deadline_left(ctx) >= -1);
    switch (op % 10) {
    case 0:
        CHECK(actor_ctx_reply(ctx, &v, sizeof v) == ACTOR_OK);
        return 0;
    case 1:
    {
        /* 3 bytes: ETYPE for fg.Req ("q" replies), fine for opaque ones. */
        int rc = actor_ctx_reply(ctx, &v, 3);
        CHECK_IN(rc, ACTOR_ETYPE, ACTOR_OK);
        if (rc == ACTOR_ETYPE)
            CHECK(actor_ctx_reply(ctx, &v, sizeof v) == ACTOR_OK);
        CHECK(actor_ctx_reply(ctx, &v, sizeof v) == ACTOR_EINVAL);
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
        CHECK(actor_ctx_reply(ctx, &v, sizeof v) == ACTOR_OK);
        return 0;
    case 6: {
        /* Ask itself, with the outcome forwarded to itself. */
        actor_responder *r = NULL;
        int64_t inner = 0;
        int rc = addr_interact(actor_ctx_self(ctx), t_req, &inner, sizeof inner, &r);
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
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
        CHECK_IN(rc, ACTOR_OK, ACTOR_ECLOSED);
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

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    actor_set_log_handler(quiet, NULL);
    CHECK(actor_msgtype_define("fg.Ev", "B", NULL, &t_ev) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.Req", "q", "q", &t_req) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.Opq", NULL, NULL, &t_opq) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.None", "", "", &t_none) == ACTOR_OK);
    CHECK(actor_msgtype_define("fg.Tick", "B", NULL, &t_tk) == ACTOR_OK);

    CHECK(actor_class_new("fg.Worker", &cls_worker) == ACTOR_OK);
    CHECK(actor_class_on_event(cls_worker, t_ev, worker_event) == ACTOR_OK);
    CHECK(actor_class_on_event(cls_worker, t_opq, worker_event) == ACTOR_OK);
    CHECK(actor_class_on_event(cls_worker, t_tk, worker_tick) == ACTOR_OK);
    CHECK(actor_class_on_request(cls_worker, t_req, worker_request) == ACTOR_OK);
    CHECK(actor_class_on_request(cls_worker, t_opq, worker_request) == ACTOR_OK);
    CHECK(actor_class_on_response(cls_worker, t_req, worker_response) == ACTOR_OK);
    CHECK(actor_class_on_fallback(cls_worker, worker_fallback) == ACTOR_OK);
    CHECK(actor_class_on_init(cls_worker, worker_init) == ACTOR_OK);
    CHECK(actor_class_set_state_size(cls_worker, 32) == ACTOR_OK);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    actor_runtime *rt = NULL;
    bool manual = (data[0] & 6) == 6;
    if (manual)
        CHECK(actor_runtime_new_manual(data[0] >> 3, &rt) == ACTOR_OK);
    else
        CHECK(actor_runtime_new(1 + (data[0] & 1), &rt) == ACTOR_OK);
    CHECK(manual ? actor_runtime_now_ms(rt) == 0 : true);
    actor_addr *addrs[NADDR] = {0};
    memset(rslots, 0, sizeof rslots);
    memset(thens, 0, sizeof thens);
    nthens = 0;
    nproms = 0;
    atomic_store(&children, 0);
    atomic_store(&responses, 0);
    atomic_store(&ticks, 0);
    bool shut = false;
    uint8_t payload[128];

    for (size_t pos = 1; pos + 4 <= size && pos < 1 + 4 * 400; pos += 4) {
        int op = data[pos], a = data[pos + 1], b = data[pos + 2], c = data[pos + 3];
        actor_addr *addr = addrs[a % NADDR];
        resp_slot *rs = &rslots[b % NRESP];
        memset(payload, 0, sizeof payload);
        payload[0] = (uint8_t)c;
        int rc;
        switch (op % 24) {
        case 0: /* spawn */
        case 1: {
            actor_class *k = (b % 8) == 0 ? cls_badinit : (b % 8) == 1 ? cls_stubborn : cls_worker;
            if (c == 0)
                k = NULL;
            actor_addr **slot = &addrs[a % NADDR];
            actor_addr *got = NULL;
            rc = actor_spawn(c == 1 ? NULL : rt, k, NULL, &got);
            if (k == NULL || c == 1)
                CHECK(rc == ACTOR_EINVAL && got == NULL);
            else if (shut)
                CHECK(rc == ACTOR_ECLOSED && got == NULL);
            else
                CHECK(rc == ACTOR_OK && got != NULL);
            if (rc == ACTOR_OK) {
                addr_release(*slot);
                *slot = got;
            }
            break;
        }
        case 2: /* send */
        case 3:
        case 4: {
            const actor_msgtype *t = pick_type(b);
            size_t len = pick_len(t, c);
            rc = addr_send(addr, t, (b & 4) ? NULL : payload, len);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED);
            if (addr == NULL || ((b & 4) && len > 0))
                CHECK(rc == ACTOR_EINVAL);
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
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED);
            CHECK((rc == ACTOR_OK) == (r != NULL));
            if (addr == NULL)
                CHECK(rc == ACTOR_EINVAL);
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
            addr_release(addrs[a % NADDR]);
            addrs[a % NADDR] = NULL;
            break;
        case 14: { /* ref into another slot */
            actor_addr **to = &addrs[b % NADDR];
            actor_addr *extra = addr_ref(addr);
            CHECK(extra == addr);
            if (extra != NULL) {
                addr_release(*to);
                *to = extra;
            }
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
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ENOHANDLER, ACTOR_ECLOSED);
            break;
        case 19: { /* interact with a deadline: 0-5 ms, or negative */
            const actor_msgtype *t = pick_type(b >> 4);
            size_t len = pick_len(t, c);
            int timeout = (c & 0x40) ? -1 - (c & 7) : (c & 0x3f) % 6;
            drop_slot(rs);
            actor_responder *r = NULL;
            rc = addr_interact_within(addr, t, payload, len, timeout, &r);
            CHECK_IN(rc, ACTOR_OK, ACTOR_EINVAL, ACTOR_ETYPE, ACTOR_ENOHANDLER, ACTOR_ECLOSED);
            CHECK((rc == ACTOR_OK) == (r != NULL));
            if (addr == NULL || timeout < 0)
                CHECK(rc == ACTOR_EINVAL);
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
        default: /* NULL everywhere */
            CHECK(addr_send(NULL, t_ev, payload, 1) == ACTOR_EINVAL);
            CHECK(addr_send(addr, NULL, payload, 1) == ACTOR_EINVAL);
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

    /* The end: let go of every address, answer what is deferred until every
     * actor is Done (the stubborn ones close when their last address goes). */
    for (int i = 0; i < NADDR; i++)
        addr_release(addrs[i]);
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
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        CHECK(now.tv_sec - t0.tv_sec < 30); /* a hang */
    }
    actor_runtime_free(rt);
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
