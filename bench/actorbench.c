/* actorbench: the peers' workloads on libactor (the peers' own programs: bench/peers/).
 *   actorbench w1 N        actor-to-actor request-response, N round trips
 *   actorbench w2 N        fan-in: 2 producer actors x N events -> 1 counter
 *   actorbench w3 N        spawn N idle actors, then stop all and join all
 *   actorbench w4 N RING   a ring of RING actors passing one token N hops
 *   actorbench w5 N        N blocking requests from a plain outside thread
 *   actorbench w7 N PAIRS  PAIRS independent pairs passing a ball N times each
 *   actorbench ev N        N events sent and handled (one sender thread)
 * Time (1.1):
 *   actorbench w1within N [MS]   w1 with addr_interact_within(MS, default 1000)
 *   actorbench timers N [AFTER]  N timer start+cancel pairs in one actor's handler
 *                                (one worker's thread; AFTER ms, default 60000)
 *   actorbench timers_live N [ACTORS [BYTES]]  N live timers (due in an hour)
 *                                over ACTORS actors (default 1), BYTES of payload
 *                                (default 0): bytes per timer, counted through
 *                                actor_set_allocator and as RSS growth
 *   actorbench timers_late N [BG [ACTORS [SPREAD]]]  N one-shot timers due
 *                                within one SPREAD-ms window (default 1000) on
 *                                ACTORS actors (default 100), beside BG more
 *                                live timers due in an hour (default 900000,
 *                                so 1M live): lateness of the handler, p50/p99
 *   actorbench timers_floor N [SPREAD]  the same schedule slept by one plain
 *                                thread (no library): the machine's floor
 * Topics (1.1):
 *   actorbench fanout N [SUBS]   one publisher actor, N events to SUBS (default
 *                                1000) subscribers of one subject: deliveries/s
 *   actorbench match N           N publishes of random subjects against 10,000
 *                                subscriptions (2,000 with wildcards), 2-3
 *                                matching each: publishes/s
 * Flow, failure, pools (1.1):
 *   actorbench w2bounded N       W2 (2 x N events, default 1M) into a counter with
 *                                capacity 1000 and REJECT; the 2 senders are
 *                                outside threads retrying EFULL (sched_yield):
 *                                msg/s and peak RSS (VmHWM)
 *   actorbench sendwait [SECS]   an outside producer, addr_send_wait, against a
 *                                consumer (capacity 1000) whose handler spins
 *                                ~1 us, SECS (default 3): RSS at 1 s and end,
 *                                throughput against the consumer's own rate;
 *                                `sendwait SECS retry`: addr_send + sched_yield
 *                                on EFULL instead, for comparison
 *   actorbench hooked [N1 [N4 [ROUNDS]]]  w1 N1 and w4 N4 without and with a
 *                                `handled` hook (one adding to shared atomics,
 *                                one to a thread-local), alternating, ROUNDS
 *                                (default 3)
 *   actorbench restart N         N in-place restarts of a one_for_one child that
 *                                fails on every message, one worker: restarts/s
 *   actorbench down N [BATCH]    a watcher spawns, monitors and stops N actors,
 *                                BATCH (default 100) outstanding at a time:
 *                                Downs/s (spawn + monitor + stop + Down each)
 *   actorbench pool N [ROUNDS]   a round-robin pool of 4 members (~10 us of
 *                                arithmetic per event) fed N events from outside,
 *                                1 worker against 2, alternating: events/s, ratio
 * WORKERS=k sets the worker count (default 2). One "RESULT" line per run. */
#include <actor/actor.h>

#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long vmrss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        int rc_ = (expr);                                                                      \
        if (rc_ != ACTOR_OK) {                                                                 \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, actor_strerror(rc_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static const actor_msgtype *t_sum, *t_run, *t_inc, *t_wait, *t_get, *t_produce, *t_token;

static void define_types(void)
{
    CHECK(actor_msgtype_define("Sum", "qq", "q", &t_sum));
    CHECK(actor_msgtype_define("Run", "q", "q", &t_run));
    CHECK(actor_msgtype_define("Inc", "Q", NULL, &t_inc));
    CHECK(actor_msgtype_define("WaitCount", "", "Q", &t_wait));
    CHECK(actor_msgtype_define("GetCount", "", "Q", &t_get));
    CHECK(actor_msgtype_define("Produce", "Q", NULL, &t_produce));
    CHECK(actor_msgtype_define("Token", "q", NULL, &t_token));
}

/* ---- the Sum server (W1, W5) ---- */
static int server_sum(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)st;
    (void)len;
    int64_t ab[2];
    memcpy(ab, p, sizeof ab);
    int64_t s = ab[0] + ab[1];
    return actor_ctx_reply(ctx, &s, sizeof s);
}

static actor_class *server_class(void)
{
    actor_class *c;
    CHECK(actor_class_new("Server", &c));
    CHECK(actor_class_on_request(c, t_sum, server_sum));
    return c;
}

/* ---- W1: a client asks the server, the answer comes back as a message ---- */
typedef struct client {
    actor_addr *server;
    int64_t left, next, acc, expired;
    actor_promise *done;
} client;

static int w1_within_ms = -1; /* >= 0: w1within, the requests carry this deadline */

static void client_ask(actor_ctx *ctx, client *c)
{
    int64_t ab[2] = {c->next++, 1};
    actor_responder *r;
    if (w1_within_ms >= 0)
        CHECK(addr_interact_within(c->server, t_sum, ab, sizeof ab, w1_within_ms, &r));
    else
        CHECK(addr_interact(c->server, t_sum, ab, sizeof ab, &r));
    CHECK(actor_responder_forward(r, actor_ctx_self(ctx)));
}

static int client_run(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)len;
    client *c = st;
    memcpy(&c->left, p, sizeof c->left);
    c->next = 0;
    c->acc = 0;
    c->expired = 0;
    CHECK(actor_ctx_defer(ctx, &c->done));
    client_ask(ctx, c);
    return 0;
}

static void client_on_sum(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                          const void *reply, size_t len)
{
    (void)t;
    (void)len;
    client *c = st;
    if (status == ACTOR_EEXPIRED) { /* w1within: past its deadline; ask again */
        c->expired++;
        c->next--;
        client_ask(ctx, c);
        return;
    }
    CHECK(status);
    int64_t v;
    memcpy(&v, reply, sizeof v);
    c->acc += v;
    if (--c->left > 0) {
        client_ask(ctx, c);
    } else {
        CHECK(actor_promise_resolve(c->done, &c->acc, sizeof c->acc));
        c->done = NULL;
    }
}

static int64_t ask_run(actor_addr *a, int64_t n)
{
    actor_responder *r;
    CHECK(addr_interact(a, t_run, &n, sizeof n, &r));
    CHECK(actor_responder_wait(r, -1));
    int64_t v;
    memcpy(&v, actor_responder_data(r, NULL), sizeof v);
    actor_responder_free(r);
    return v;
}

static void w1(actor_runtime *rt, int64_t n)
{
    actor_class *sc = server_class(), *cc;
    CHECK(actor_class_new("Client", &cc));
    CHECK(actor_class_on_request(cc, t_run, client_run));
    CHECK(actor_class_on_response(cc, t_sum, client_on_sum));
    CHECK(actor_class_set_state_free(cc, free));
    actor_addr *server, *cl;
    client *c = calloc(1, sizeof *c);
    CHECK(actor_spawn(rt, sc, NULL, &server));
    c->server = server;
    CHECK(actor_spawn(rt, cc, c, &cl));
    ask_run(cl, 10000);
    double t0 = now_s();
    int64_t got = ask_run(cl, n);
    double el = now_s() - t0;
    if (got != n * (n + 1) / 2) {
        fprintf(stderr, "w1: wrong sum %" PRId64 "\n", got);
        exit(1);
    }
    if (w1_within_ms >= 0)
        printf("RESULT w1within n=%" PRId64 " timeout_ms=%d secs=%.4f rt_per_s=%.0f mean_us=%.3f "
               "expired=%" PRId64 " vmrss_end_kb=%ld\n",
               n, w1_within_ms, el, n / el, el * 1e6 / n, c->expired, vmrss_kb());
    else
        printf("RESULT w1 n=%" PRId64 " secs=%.4f rt_per_s=%.0f mean_us=%.3f\n", n, el, n / el,
               el * 1e6 / n);
    addr_release(cl);
    addr_release(server);
    actor_class_free(sc);
    actor_class_free(cc);
}

/* ---- W2: fan-in ---- */
typedef struct counter {
    uint64_t count, target, checksum;
    actor_promise *waiter;
} counter;

static int counter_inc(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    counter *c = st;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    c->checksum += v;
    if (++c->count == c->target && c->waiter) {
        CHECK(actor_promise_resolve(c->waiter, &c->count, sizeof c->count));
        c->waiter = NULL;
    }
    return 0;
}

static int counter_wait(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)p;
    (void)len;
    counter *c = st;
    if (c->count >= c->target)
        return actor_ctx_reply(ctx, &c->count, sizeof c->count);
    return actor_ctx_defer(ctx, &c->waiter);
}

static int counter_get(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)p;
    (void)len;
    counter *c = st;
    return actor_ctx_reply(ctx, &c->count, sizeof c->count);
}

typedef struct producer {
    actor_addr *counter;
} producer;

static int producer_produce(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    producer *pr = st;
    uint64_t n;
    memcpy(&n, p, sizeof n);
    for (uint64_t i = 0; i < n; i++)
        CHECK(addr_send(pr->counter, t_inc, &i, sizeof i));
    return 0;
}

static uint64_t ask_u64(actor_addr *a, const actor_msgtype *t)
{
    actor_responder *r;
    CHECK(addr_interact(a, t, NULL, 0, &r));
    CHECK(actor_responder_wait(r, -1));
    uint64_t v;
    memcpy(&v, actor_responder_data(r, NULL), sizeof v);
    actor_responder_free(r);
    return v;
}

static void w2(actor_runtime *rt, uint64_t per)
{
    actor_class *cc, *pc;
    CHECK(actor_class_new("Counter", &cc));
    CHECK(actor_class_on_event(cc, t_inc, counter_inc));
    CHECK(actor_class_on_request(cc, t_wait, counter_wait));
    CHECK(actor_class_on_request(cc, t_get, counter_get));
    CHECK(actor_class_new("Producer", &pc));
    CHECK(actor_class_on_event(pc, t_produce, producer_produce));
    CHECK(actor_class_set_state_free(cc, free));
    CHECK(actor_class_set_state_free(pc, free));
    counter *c = calloc(1, sizeof *c);
    c->target = 2 * per;
    actor_addr *ca, *p[2];
    CHECK(actor_spawn(rt, cc, c, &ca));
    producer *ps[2];
    for (int i = 0; i < 2; i++) {
        ps[i] = calloc(1, sizeof *ps[i]);
        ps[i]->counter = ca;
        CHECK(actor_spawn(rt, pc, ps[i], &p[i]));
    }
    double t0 = now_s();
    for (int i = 0; i < 2; i++)
        CHECK(addr_send(p[i], t_produce, &per, sizeof per));
    uint64_t got = ask_u64(ca, t_wait);
    double el = now_s() - t0;
    uint64_t confirmed = ask_u64(ca, t_get);
    if (got != 2 * per || confirmed != 2 * per) {
        fprintf(stderr, "w2: count %" PRIu64 "/%" PRIu64 "\n", got, confirmed);
        exit(1);
    }
    printf("RESULT w2 total=%" PRIu64 " confirmed=%" PRIu64
           " secs=%.4f msgs_per_s=%.0f vmrss_end_kb=%ld\n",
           2 * per, confirmed, el, 2 * per / el, vmrss_kb());
    for (int i = 0; i < 2; i++)
        addr_release(p[i]);
    addr_release(ca);
    actor_class_free(cc);
    actor_class_free(pc);
}

/* ---- W3: idle actors ---- */
static _Atomic long started;

static int idle_init(actor_ctx *ctx, void *st)
{
    (void)ctx;
    (void)st;
    atomic_fetch_add(&started, 1);
    return 0;
}

static void w3(actor_runtime *rt, long n)
{
    actor_class *ic;
    CHECK(actor_class_new("Idle", &ic));
    CHECK(actor_class_on_init(ic, idle_init));
    actor_addr **v = calloc((size_t)n + 1000, sizeof *v);
    for (int i = 0; i < 1000; i++) /* warm-up */
        CHECK(actor_spawn(rt, ic, NULL, &v[i]));
    for (int i = 0; i < 1000; i++) {
        CHECK(addr_interrupt(v[i]));
        CHECK(addr_join(v[i], -1));
        addr_release(v[i]);
    }
    atomic_store(&started, 0);
    long rss0 = vmrss_kb();
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        CHECK(actor_spawn(rt, ic, NULL, &v[i]));
    double t_spawn = now_s() - t0;
    double settle_deadline = now_s() + 30;
    while (atomic_load(&started) < n && now_s() < settle_deadline)
        usleep(1000);
    long rss1 = vmrss_kb();
    double t1 = now_s();
    for (long i = 0; i < n; i++)
        CHECK(addr_interrupt(v[i]));
    for (long i = 0; i < n; i++) {
        CHECK(addr_join(v[i], -1));
        addr_release(v[i]);
    }
    double t_stop = now_s() - t1;
    printf("RESULT w3 n=%ld running_after_settle=%ld spawn_secs=%.4f stopjoin_secs=%.4f "
           "spawn_per_s=%.0f total_per_s=%.0f rss_before_kb=%ld rss_after_kb=%ld "
           "bytes_per_actor=%.0f\n",
           n, atomic_load(&started), t_spawn, t_stop, n / t_spawn, n / (t_spawn + t_stop), rss0,
           rss1, (rss1 - rss0) * 1024.0 / n);
    free(v);
    actor_class_free(ic);
}

/* ---- W4: ring ---- */
typedef struct node {
    actor_addr *next;
} node;

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_cond = PTHREAD_COND_INITIALIZER;
static int ring_done;

static int node_token(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    node *nd = st;
    int64_t hops;
    memcpy(&hops, p, sizeof hops);
    if (hops == 0) {
        pthread_mutex_lock(&ring_lock);
        ring_done = 1;
        pthread_cond_signal(&ring_cond);
        pthread_mutex_unlock(&ring_lock);
        return 0;
    }
    hops--;
    return addr_send(nd->next, t_token, &hops, sizeof hops);
}

static void node_free(void *st)
{
    addr_release(((node *)st)->next);
    free(st);
}

static void ring_lap(actor_addr *first, int64_t hops)
{
    ring_done = 0;
    CHECK(addr_send(first, t_token, &hops, sizeof hops));
    pthread_mutex_lock(&ring_lock);
    while (!ring_done)
        pthread_cond_wait(&ring_cond, &ring_lock);
    pthread_mutex_unlock(&ring_lock);
}

static void w4(actor_runtime *rt, int64_t hops, long ring)
{
    actor_class *nc;
    CHECK(actor_class_new("Node", &nc));
    CHECK(actor_class_on_event(nc, t_token, node_token));
    CHECK(actor_class_set_state_free(nc, node_free));
    actor_addr **v = calloc((size_t)ring, sizeof *v);
    node **st = calloc((size_t)ring, sizeof *st);
    for (long i = 0; i < ring; i++) {
        st[i] = calloc(1, sizeof **st);
        CHECK(actor_spawn(rt, nc, st[i], &v[i]));
    }
    /* Before any token moves: the token's push publishes these writes. */
    for (long i = 0; i < ring; i++)
        st[i]->next = addr_ref(v[(i + 1) % ring]);
    ring_lap(v[0], ring * 10);
    double t0 = now_s();
    ring_lap(v[0], hops);
    double el = now_s() - t0;
    printf("RESULT w4 ring=%ld hops=%" PRId64 " secs=%.4f hops_per_s=%.0f ns_per_hop=%.1f\n",
           ring, hops, el, hops / el, el * 1e9 / hops);
    for (long i = 0; i < ring; i++) {
        CHECK(addr_interrupt(v[i]));
        CHECK(addr_join(v[i], -1));
        addr_release(v[i]);
    }
    free(v);
    free(st);
    actor_class_free(nc);
}

/* ---- W7: independent pairs ping-ponging (scaling with workers) ---- */
typedef struct pinger {
    actor_addr *partner;
} pinger;

static _Atomic long pairs_left;

static int pinger_ball(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    pinger *pg = st;
    int64_t left;
    memcpy(&left, p, sizeof left);
    if (left == 0) {
        if (atomic_fetch_sub(&pairs_left, 1) == 1) {
            pthread_mutex_lock(&ring_lock);
            ring_done = 1;
            pthread_cond_signal(&ring_cond);
            pthread_mutex_unlock(&ring_lock);
        }
        return 0;
    }
    left--;
    return addr_send(pg->partner, t_token, &left, sizeof left);
}

static void w7(actor_runtime *rt, int64_t per_pair, long pairs, unsigned workers)
{
    actor_class *pc;
    CHECK(actor_class_new("Pinger", &pc));
    CHECK(actor_class_on_event(pc, t_token, pinger_ball));
    CHECK(actor_class_set_state_free(pc, node_free));
    long n = 2 * pairs;
    actor_addr **v = calloc((size_t)n, sizeof *v);
    pinger **st = calloc((size_t)n, sizeof *st);
    for (long i = 0; i < n; i++) {
        st[i] = calloc(1, sizeof **st);
        CHECK(actor_spawn(rt, pc, st[i], &v[i]));
    }
    for (long i = 0; i < n; i++)
        st[i]->partner = addr_ref(v[i ^ 1]);
    ring_done = 0;
    atomic_store(&pairs_left, pairs);
    double t0 = now_s();
    for (long i = 0; i < n; i += 2)
        CHECK(addr_send(v[i], t_token, &per_pair, sizeof per_pair));
    pthread_mutex_lock(&ring_lock);
    while (!ring_done)
        pthread_cond_wait(&ring_cond, &ring_lock);
    pthread_mutex_unlock(&ring_lock);
    double el = now_s() - t0;
    double msgs = (double)pairs * (per_pair + 1);
    printf("RESULT w7 workers=%u pairs=%ld msgs=%.0f secs=%.4f msgs_per_s=%.0f\n", workers, pairs,
           msgs, el, msgs / el);
    for (long i = 0; i < n; i++) {
        CHECK(addr_interrupt(v[i]));
        CHECK(addr_join(v[i], -1));
        addr_release(v[i]);
    }
    free(v);
    free(st);
    actor_class_free(pc);
}

/* ---- W5: blocking calls from an outside thread ---- */
static int64_t call_sum(actor_addr *server, int64_t i)
{
    int64_t ab[2] = {i, 1}, v;
    actor_responder *r;
    CHECK(addr_interact(server, t_sum, ab, sizeof ab, &r));
    CHECK(actor_responder_wait(r, -1));
    memcpy(&v, actor_responder_data(r, NULL), sizeof v);
    actor_responder_free(r);
    return v;
}

static void w5(actor_runtime *rt, int64_t n)
{
    actor_class *sc = server_class();
    actor_addr *server;
    CHECK(actor_spawn(rt, sc, NULL, &server));
    for (int64_t i = 0; i < 10000; i++)
        call_sum(server, i);
    double t0 = now_s();
    int64_t acc = 0;
    for (int64_t i = 0; i < n; i++)
        acc += call_sum(server, i);
    double el = now_s() - t0;
    if (acc != n * (n + 1) / 2) {
        fprintf(stderr, "w5: wrong sum\n");
        exit(1);
    }
    printf("RESULT w5 n=%" PRId64 " secs=%.4f calls_per_s=%.0f mean_us=%.3f\n", n, el, n / el,
           el * 1e6 / n);
    addr_release(server);
    actor_class_free(sc);
}

/* ---- ev: one sender thread, one handler: the cost of an event ---- */
static int ev_inc(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    counter *c = st;
    if (++c->count == c->target && c->waiter) {
        CHECK(actor_promise_resolve(c->waiter, &c->count, sizeof c->count));
        c->waiter = NULL;
    }
    return 0;
}

static void ev(actor_runtime *rt, uint64_t n)
{
    actor_class *cc;
    CHECK(actor_class_new("EvCounter", &cc));
    CHECK(actor_class_on_event(cc, t_inc, ev_inc));
    CHECK(actor_class_on_request(cc, t_wait, counter_wait));
    CHECK(actor_class_set_state_free(cc, free));
    counter *c = calloc(1, sizeof *c);
    c->target = n;
    actor_addr *a;
    CHECK(actor_spawn(rt, cc, c, &a));
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        CHECK(addr_send(a, t_inc, &i, sizeof i));
    uint64_t got = ask_u64(a, t_wait);
    double el = now_s() - t0;
    printf("RESULT ev n=%" PRIu64 " handled=%" PRIu64 " secs=%.4f msgs_per_s=%.0f ns_per_msg=%.1f\n",
           n, got, el, n / el, el * 1e9 / n);
    addr_release(a);
    actor_class_free(cc);
}

/* ---- Time (1.1): timers ---- */

/* Counting allocator (timers_live only; installed before any other call).
 * A block's cost is malloc_usable_size + 8, glibc's chunk header. */
static _Atomic long long heap_bytes, heap_blocks, heap_allocs;

static void heap_count(void *p, int sign)
{
    long long sz = (long long)malloc_usable_size(p) + 8;
    atomic_fetch_add_explicit(&heap_bytes, sign * sz, memory_order_relaxed);
    atomic_fetch_add_explicit(&heap_blocks, sign, memory_order_relaxed);
    if (sign > 0)
        atomic_fetch_add_explicit(&heap_allocs, 1, memory_order_relaxed);
}

static void *count_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        heap_count(p, 1);
    return p;
}

static void *count_calloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (p)
        heap_count(p, 1);
    return p;
}

static void *count_realloc(void *p, size_t n)
{
    long long old = p ? (long long)malloc_usable_size(p) + 8 : 0;
    void *q = realloc(p, n);
    if (q == NULL && n > 0)
        return NULL; /* failed: p unchanged */
    if (p) {
        atomic_fetch_sub_explicit(&heap_bytes, old, memory_order_relaxed);
        atomic_fetch_sub_explicit(&heap_blocks, 1, memory_order_relaxed);
    }
    if (q)
        heap_count(q, 1);
    return q;
}

static void count_free(void *p)
{
    if (p)
        heap_count(p, -1);
    free(p);
}

static double cpu_s(void) /* the whole process: workers, clock thread, main */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const actor_msgtype *t_tctl, *t_tick, *t_tickb;

enum { OP_PAIRS = 1, OP_START_FAR, OP_CANCEL_ALL, OP_START_DUE };

typedef struct tctl { /* opaque request to a TimerBench actor */
    int64_t op, n, first, stride, after_ms, arg, window_ns, spread_ns, total;
} tctl;

typedef struct tbench {
    int64_t next_key; /* keys of this actor's far timers: 0..next_key-1 */
    size_t payload_len;
} tbench;

/* Lateness of each due timer (ns), by global index; the count handled. */
static int64_t *late_ns;
static _Atomic long late_done;
static long late_total;

static int tick_handler(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)st;
    (void)len;
    int64_t now = mono_ns(), v[2];
    memcpy(v, p, sizeof v);
    late_ns[v[1]] = now - v[0];
    if (atomic_fetch_add_explicit(&late_done, 1, memory_order_acq_rel) + 1 == late_total) {
        pthread_mutex_lock(&ring_lock);
        ring_done = 1;
        pthread_cond_signal(&ring_cond);
        pthread_mutex_unlock(&ring_lock);
    }
    return 0;
}

static int tickb_handler(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)st;
    (void)p;
    (void)len;
    return 0;
}

static const unsigned char zero_payload[64];

static int tbench_ctl(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)len;
    tbench *b = st;
    tctl c;
    memcpy(&c, p, sizeof c);
    double secs = 0;
    if (c.op == OP_PAIRS) { /* start + cancel, n times, timed here on the worker */
        int64_t pay[2] = {0, 0};
        double t0 = now_s();
        for (int64_t i = 0; i < c.n; i++) {
            CHECK(actor_ctx_timer_start(ctx, (uint64_t)i, t_tick, pay, sizeof pay,
                                        (uint64_t)c.after_ms, 0));
            CHECK(actor_ctx_timer_cancel(ctx, (uint64_t)i));
        }
        secs = now_s() - t0;
    } else if (c.op == OP_START_FAR) { /* n more live timers, due after_ms from now */
        double t0 = now_s();
        for (int64_t i = 0; i < c.n; i++)
            CHECK(actor_ctx_timer_start(ctx, (uint64_t)b->next_key++, t_tickb, zero_payload,
                                        b->payload_len, (uint64_t)c.after_ms, 0));
        secs = now_s() - t0;
    } else if (c.op == OP_CANCEL_ALL) {
        double t0 = now_s();
        for (int64_t k = 0; k < b->next_key; k++)
            CHECK(actor_ctx_timer_cancel(ctx, (uint64_t)k));
        secs = now_s() - t0;
        b->next_key = 0;
    } else if (c.op == OP_START_DUE) {
        /* n timers with global indexes first, first+stride, ...; index g is
         * due at window_ns + g * spread_ns / total (CLOCK_MONOTONIC), rounded
         * up to the next whole ms after the call (the API takes ms). */
        for (int64_t j = 0; j < c.n; j++) {
            int64_t g = c.first + j * c.stride;
            int64_t target = c.window_ns + (c.total > 0 ? g * c.spread_ns / c.total : 0);
            int64_t now = mono_ns();
            int64_t after = target > now ? (target - now + 999999) / 1000000 : 0;
            int64_t pay[2] = {now + after * 1000000, g}; /* the exact due time */
            CHECK(actor_ctx_timer_start(ctx, (uint64_t)(1ull << 62) + (uint64_t)g, t_tick, pay,
                                        sizeof pay, (uint64_t)after, 0));
        }
    }
    return actor_ctx_reply(ctx, &secs, sizeof secs);
}

static actor_class *tbench_class(void)
{
    actor_class *c;
    CHECK(actor_class_new("TimerBench", &c));
    CHECK(actor_class_on_request(c, t_tctl, tbench_ctl));
    CHECK(actor_class_on_event(c, t_tick, tick_handler));
    CHECK(actor_class_on_event(c, t_tickb, tickb_handler));
    CHECK(actor_class_set_state_free(c, free));
    return c;
}

static actor_addr *tbench_spawn(actor_runtime *rt, actor_class *c, size_t payload_len)
{
    tbench *b = calloc(1, sizeof *b);
    b->payload_len = payload_len;
    actor_addr *a;
    CHECK(actor_spawn(rt, c, b, &a));
    return a;
}

static double tctl_ask(actor_addr *a, tctl c)
{
    actor_responder *r;
    CHECK(addr_interact(a, t_tctl, &c, sizeof c, &r));
    CHECK(actor_responder_wait(r, -1));
    double v;
    memcpy(&v, actor_responder_data(r, NULL), sizeof v);
    actor_responder_free(r);
    return v;
}

/* Sends every actor its request, then waits for all: they run in parallel. */
static double tctl_all(actor_addr **v, long k, tctl *cs)
{
    actor_responder **rs = calloc((size_t)k, sizeof *rs);
    for (long i = 0; i < k; i++)
        CHECK(addr_interact(v[i], t_tctl, &cs[i], sizeof cs[i], &rs[i]));
    double sum = 0;
    for (long i = 0; i < k; i++) {
        CHECK(actor_responder_wait(rs[i], -1));
        double s;
        memcpy(&s, actor_responder_data(rs[i], NULL), sizeof s);
        sum += s;
        actor_responder_free(rs[i]);
    }
    free(rs);
    return sum;
}

static void stop_all(actor_addr **v, long k)
{
    for (long i = 0; i < k; i++) {
        CHECK(addr_interrupt(v[i]));
        CHECK(addr_join(v[i], -1));
        addr_release(v[i]);
    }
}

/* timers: start+cancel pairs per second, on one actor (one worker's thread). */
static void timers_pairs(actor_runtime *rt, int64_t n, int64_t after_ms, unsigned workers)
{
    actor_class *c = tbench_class();
    actor_addr *a = tbench_spawn(rt, c, 0);
    tctl_ask(a, (tctl){.op = OP_PAIRS, .n = 100000, .after_ms = after_ms}); /* warm-up */
    double c0 = cpu_s(), t0 = now_s();
    double in_handler = tctl_ask(a, (tctl){.op = OP_PAIRS, .n = n, .after_ms = after_ms});
    double el = now_s() - t0;
    usleep(50000); /* let the clock thread finish dropping what was cancelled */
    double cpu = cpu_s() - c0;
    printf("RESULT timers workers=%u pairs=%" PRId64 " after_ms=%" PRId64
           " secs=%.4f pairs_per_s=%.0f ns_per_pair=%.1f process_cpu_ns_per_pair=%.1f\n",
           workers, n, after_ms, in_handler, n / in_handler, in_handler * 1e9 / n,
           cpu * 1e9 / n);
    (void)el;
    stop_all(&a, 1);
    actor_class_free(c);
}

/* timers_live: bytes per live timer. */
static void timers_live(actor_runtime *rt, int64_t n, long actors, size_t payload_len)
{
    actor_class *c = tbench_class();
    actor_addr **v = calloc((size_t)actors, sizeof *v);
    tctl *cs = calloc((size_t)actors, sizeof *cs);
    for (long i = 0; i < actors; i++)
        v[i] = tbench_spawn(rt, c, payload_len);
    /* Warm-up: one timer per actor (its table exists; the clock thread runs),
     * cancelled, and the clock given time to drop it. */
    for (long i = 0; i < actors; i++)
        cs[i] = (tctl){.op = OP_START_FAR, .n = 1, .after_ms = 3600000};
    tctl_all(v, actors, cs);
    for (long i = 0; i < actors; i++)
        cs[i] = (tctl){.op = OP_CANCEL_ALL};
    tctl_all(v, actors, cs);
    usleep(200000);
    long long b0 = atomic_load(&heap_bytes), k0 = atomic_load(&heap_blocks),
              a0 = atomic_load(&heap_allocs);
    long rss0 = vmrss_kb();
    for (long i = 0; i < actors; i++)
        cs[i] = (tctl){.op = OP_START_FAR, .n = n / actors + (i < n % actors), .after_ms = 3600000};
    double t0 = now_s();
    tctl_all(v, actors, cs);
    double el = now_s() - t0;
    usleep(300000); /* the clock thread takes every arm into its heap */
    long long b1 = atomic_load(&heap_bytes), k1 = atomic_load(&heap_blocks),
              a1 = atomic_load(&heap_allocs);
    long rss1 = vmrss_kb();
    for (long i = 0; i < actors; i++)
        cs[i] = (tctl){.op = OP_CANCEL_ALL};
    double cancel_secs = tctl_all(v, actors, cs);
    /* A cancelled timer is freed by the clock thread when it meets it: how
     * long until 99% of the records are gone (the heap back within 27 B per
     * timer of the start: the clock's heap array and the tables' buckets,
     * about 25 B per timer, stay allocated), polled every ms. */
    double c0 = now_s(), reclaim_ms = -1;
    while (now_s() - c0 < 10) {
        if (atomic_load(&heap_bytes) - b0 <= 27 * n) {
            reclaim_ms = (now_s() - c0) * 1e3;
            break;
        }
        usleep(1000);
    }
    long long b2 = atomic_load(&heap_bytes);
    long rss2 = vmrss_kb();
    printf("RESULT timers_live n=%" PRId64 " actors=%ld payload=%zu start_secs=%.4f "
           "starts_per_s=%.0f heap_bytes_per_timer=%.1f blocks_per_timer=%.3f "
           "allocs_per_timer=%.3f rss_bytes_per_timer=%.1f rss_before_kb=%ld rss_after_kb=%ld "
           "cancel_all_secs=%.4f cancelled_freed_after_ms=%.0f heap_bytes_per_timer_after=%.1f "
           "rss_after_cancel_kb=%ld\n",
           n, actors, payload_len, el, n / el, (double)(b1 - b0) / n, (double)(k1 - k0) / n,
           (double)(a1 - a0) / n, (rss1 - rss0) * 1024.0 / n, rss0, rss1, cancel_secs,
           reclaim_ms, (double)(b2 - b0) / n, rss2);
    stop_all(v, actors);
    free(v);
    free(cs);
    actor_class_free(c);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(const int64_t *sorted, long n, double p)
{
    long i = (long)(p * (n - 1) + 0.5);
    return sorted[i] / 1e3;
}

/* timers_late: lateness of N timers due within one window, on a threaded
 * runtime, with BG more live timers due later. */
static void timers_late(actor_runtime *rt, long n, long bg, long actors, int64_t spread_ms,
                        unsigned workers)
{
    actor_class *c = tbench_class();
    actor_addr **v = calloc((size_t)actors, sizeof *v);
    tctl *cs = calloc((size_t)actors, sizeof *cs);
    for (long i = 0; i < actors; i++)
        v[i] = tbench_spawn(rt, c, 0);
    late_ns = calloc((size_t)n, sizeof *late_ns);
    late_total = n;
    atomic_store(&late_done, 0);
    ring_done = 0;
    if (bg > 0) {
        for (long i = 0; i < actors; i++)
            cs[i] = (tctl){.op = OP_START_FAR, .n = bg / actors + (i < bg % actors),
                           .after_ms = 3600000};
        tctl_all(v, actors, cs);
    }
    /* The window opens 1 s after the last background start: every due
     * timer is armed (and taken by the clock) well before it. */
    int64_t window = mono_ns() + 1000000000;
    for (long i = 0; i < actors; i++)
        cs[i] = (tctl){.op = OP_START_DUE, .n = n / actors + (i < n % actors), .first = i,
                       .stride = actors, .window_ns = window,
                       .spread_ns = spread_ms * 1000000, .total = n};
    tctl_all(v, actors, cs);
    int64_t armed_at = mono_ns();
    double cpu0 = cpu_s();
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60 + spread_ms / 1000;
    pthread_mutex_lock(&ring_lock);
    while (!ring_done)
        if (pthread_cond_timedwait(&ring_cond, &ring_lock, &until) != 0)
            break;
    pthread_mutex_unlock(&ring_lock);
    double cpu_window = cpu_s() - cpu0; /* every thread, idle spins included */
    long got = atomic_load(&late_done);
    if (got != n) {
        fprintf(stderr, "timers_late: %ld of %ld fired\n", got, n);
        exit(1);
    }
    long early = 0;
    for (long i = 0; i < n; i++)
        early += late_ns[i] < 0;
    qsort(late_ns, (size_t)n, sizeof *late_ns, cmp_i64);
    if (window < armed_at) /* the figures below measure the arming, not the clock */
        fprintf(stderr, "timers_late: arming ended %.0f ms after the window opened: rerun\n",
                (armed_at - window) / 1e6);
    printf("RESULT timers_late workers=%u due=%ld background=%ld live=%ld actors=%ld "
           "spread_ms=%" PRId64 " armed_before_window_ms=%.0f early=%ld min_us=%.1f "
           "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
           "process_cpu_s=%.3f\n",
           workers, n, bg, n + bg, actors, spread_ms, (window - armed_at) / 1e6, early,
           late_ns[0] / 1e3, pct_us(late_ns, n, 0.50), pct_us(late_ns, n, 0.90),
           pct_us(late_ns, n, 0.99), pct_us(late_ns, n, 0.999), late_ns[n - 1] / 1e3,
           cpu_window);
    free(late_ns);
    stop_all(v, actors);
    free(v);
    free(cs);
    actor_class_free(c);
}

/* timers_floor: the machine's floor for timers_late, without the library:
 * one thread sleeps (clock_nanosleep, absolute) until the next due time of
 * the same schedule and notes the lateness of everything due by then. */
static void timers_floor(long n, int64_t spread_ms)
{
    int64_t *due = calloc((size_t)n, sizeof *due), *late = calloc((size_t)n, sizeof *late);
    int64_t window = mono_ns() + 1000000000;
    for (long g = 0; g < n; g++)
        due[g] = window + g * spread_ms * 1000000 / n;
    for (long i = 0; i < n;) {
        struct timespec ts = {.tv_sec = due[i] / 1000000000, .tv_nsec = due[i] % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
            ;
        int64_t now = mono_ns();
        while (i < n && due[i] <= now) {
            late[i] = now - due[i];
            i++;
        }
    }
    qsort(late, (size_t)n, sizeof *late, cmp_i64);
    printf("RESULT timers_floor due=%ld spread_ms=%" PRId64 " min_us=%.1f p50_us=%.1f "
           "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
           n, spread_ms, late[0] / 1e3, pct_us(late, n, 0.50), pct_us(late, n, 0.90),
           pct_us(late, n, 0.99), pct_us(late, n, 0.999), late[n - 1] / 1e3);
    free(due);
    free(late);
}

/* ---- Topics (1.1): fanout and match ---- */
/* A publisher actor publishes N events in one handler (like W2's producers),
 * then sends each subscriber an end marker (the same sender: it arrives
 * after all of that publisher's events); the clock stops when every
 * subscriber handled its marker. */
static const actor_msgtype *t_tend;
static _Atomic long tsubs_done;
static long tsubs_target;
static sem_t tsubs_finished; /* posted by the last end marker (no polling: see pool_finished) */

static int tsub_ev(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    ++*(uint64_t *)st;
    return 0;
}

static int tsub_end(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)st;
    (void)p;
    (void)len;
    if (atomic_fetch_add(&tsubs_done, 1) + 1 == tsubs_target)
        sem_post(&tsubs_finished);
    return 0;
}

typedef struct tpub {
    actor_runtime *rt;
    actor_addr **subs;
    long nsubs;
    const char *const *subjects;
    long nsubjects;
    uint64_t n, delivered;
    double t0, published; /* the start; seconds until the publisher's handler returned */
} tpub;

static int tpub_run(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    tpub *tp = st;
    uint64_t delivered = 0, x = 88172645463325252ull;
    for (uint64_t i = 0; i < tp->n; i++) {
        const char *s = tp->subjects[0];
        if (tp->nsubjects > 1) { /* xorshift: no pattern the trie could like */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s = tp->subjects[x % (uint64_t)tp->nsubjects];
        }
        size_t d;
        CHECK(actor_publish(tp->rt, s, t_inc, &i, sizeof i, &d));
        delivered += d;
    }
    /* Before the end markers: the last subscriber's post may wake the
     * measuring thread before this handler runs another instruction. */
    tp->delivered = delivered;
    tp->published = now_s() - tp->t0;
    for (long k = 0; k < tp->nsubs; k++)
        CHECK(addr_send(tp->subs[k], t_tend, NULL, 0));
    return 0;
}

static actor_addr **tsubs_spawn(actor_runtime *rt, actor_class **cls, long n, uint64_t **counts)
{
    if (t_tend == NULL)
        CHECK(actor_msgtype_define("TopicEnd", "", NULL, &t_tend));
    CHECK(actor_class_new("TopicSub", cls));
    CHECK(actor_class_on_event(*cls, t_inc, tsub_ev));
    CHECK(actor_class_on_event(*cls, t_tend, tsub_end));
    actor_addr **subs = calloc((size_t)n, sizeof *subs);
    *counts = calloc((size_t)n, sizeof **counts);
    for (long i = 0; i < n; i++)
        CHECK(actor_spawn(rt, *cls, &(*counts)[i], &subs[i]));
    return subs;
}

/* Runs the publisher; returns the seconds from its start to the last
 * subscriber's end marker, and checks that every delivery was handled. */
static double tpub_time(tpub *tp, actor_class *scls, uint64_t *counts)
{
    actor_class *pc;
    CHECK(actor_class_new("TopicPub", &pc));
    CHECK(actor_class_on_event(pc, t_produce, tpub_run));
    actor_addr *pub;
    CHECK(actor_spawn(tp->rt, pc, tp, &pub));
    atomic_store(&tsubs_done, 0);
    tsubs_target = tp->nsubs; /* the sends publish it to the subscribers */
    CHECK(sem_init(&tsubs_finished, 0, 0));
    double t0 = tp->t0 = now_s();
    CHECK(addr_send(pub, t_produce, &tp->n, sizeof tp->n));
    while (sem_wait(&tsubs_finished) != 0)
        ; /* EINTR */
    sem_destroy(&tsubs_finished);
    double el = now_s() - t0;
    uint64_t handled = 0;
    for (long i = 0; i < tp->nsubs; i++)
        handled += counts[i];
    if (handled != tp->delivered) {
        fprintf(stderr, "topics: %" PRIu64 " delivered, %" PRIu64 " handled\n", tp->delivered,
                handled);
        exit(1);
    }
    addr_release(pub);
    for (long i = 0; i < tp->nsubs; i++)
        addr_release(tp->subs[i]);
    actor_class_free(pc);
    actor_class_free(scls);
    return el;
}

/* fanout: one publisher, SUBS subscribers of one subject. */
static void fanout(actor_runtime *rt, uint64_t n, long nsubs)
{
    if (nsubs < 1) { /* no subscriber would post the end */
        fprintf(stderr, "fanout: SUBS must be at least 1\n");
        exit(2);
    }
    actor_class *c;
    uint64_t *counts;
    actor_addr **subs = tsubs_spawn(rt, &c, nsubs, &counts);
    for (long i = 0; i < nsubs; i++)
        CHECK(actor_subscribe(subs[i], "bench.fan.out"));
    static const char *const one[] = {"bench.fan.out"};
    tpub tp = {rt, subs, nsubs, one, 1, n, 0, 0, 0};
    double el = tpub_time(&tp, c, counts);
    if (tp.delivered != n * (uint64_t)nsubs) {
        fprintf(stderr, "fanout: %" PRIu64 " delivered\n", tp.delivered);
        exit(1);
    }
    printf("RESULT fanout subs=%ld events=%" PRIu64 " deliveries=%" PRIu64
           " secs=%.4f deliveries_per_s=%.0f publish_secs=%.4f\n",
           nsubs, n, tp.delivered, el, tp.delivered / el, tp.published);
    free(subs);
    free(counts);
}

/* match: 10,000 distinct subscriptions over 1,000 subscribers, 2,000 of
 * them with a wildcard: "m.X.Y.Z" for X < 80, "m.X.Y.*" and "m.X.*.Z" for
 * X < 100 (Y, Z < 10); each published subject "m.X.Y.Z" (X < 100, random)
 * matches 2 or 3 of them. */
static void match(actor_runtime *rt, uint64_t n)
{
    enum { SUBS = 1000, NSUBJ = 10000 };
    actor_class *c;
    uint64_t *counts;
    actor_addr **subs = tsubs_spawn(rt, &c, SUBS, &counts);
    static char names[NSUBJ][16];
    static const char *subjects[NSUBJ];
    char s[32];
    long made = 0;
    for (int x = 0; x < 100; x++)
        for (int y = 0; y < 10; y++)
            for (int z = 0; z < 10; z++) {
                int k = x * 100 + y * 10 + z;
                snprintf(names[k], sizeof names[k], "m.%d.%d.%d", x, y, z);
                subjects[k] = names[k];
                if (x < 80) {
                    CHECK(actor_subscribe(subs[k % SUBS], names[k]));
                    made++;
                }
            }
    for (int x = 0; x < 100; x++)
        for (int k = 0; k < 10; k++) {
            snprintf(s, sizeof s, "m.%d.%d.*", x, k);
            CHECK(actor_subscribe(subs[(x * 10 + k + 333) % SUBS], s));
            snprintf(s, sizeof s, "m.%d.*.%d", x, k);
            CHECK(actor_subscribe(subs[(x * 10 + k + 667) % SUBS], s));
            made += 2;
        }
    tpub tp = {rt, subs, SUBS, subjects, NSUBJ, n, 0, 0, 0};
    double el = tpub_time(&tp, c, counts);
    printf("RESULT match subscriptions=%ld publishes=%" PRIu64 " deliveries=%" PRIu64
           " per_publish=%.2f secs=%.4f publishes_per_s=%.0f publish_secs=%.4f\n",
           made, n, tp.delivered, (double)tp.delivered / (double)n, el, n / el, tp.published);
    free(subs);
    free(counts);
}

/* ==== 1.1 flow, failure, pools ==== */
#include <sched.h>

static long vmhwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* ---- w2bounded: W2 with a capacity-1000 REJECT counter; senders (outside
 * threads: an actor spinning on EFULL would hold a worker the counter needs)
 * retry on ACTOR_EFULL with sched_yield between tries ---- */
typedef struct bsender {
    actor_addr *counter;
    uint64_t n, retries;
} bsender;

static void *bsender_main(void *arg)
{
    bsender *s = arg;
    for (uint64_t i = 0; i < s->n; i++) {
        int rc;
        while ((rc = addr_send(s->counter, t_inc, &i, sizeof i)) == ACTOR_EFULL) {
            s->retries++;
            sched_yield();
        }
        CHECK(rc);
    }
    return NULL;
}

static void w2bounded(actor_runtime *rt, uint64_t per)
{
    actor_class *cc;
    CHECK(actor_class_new("BoundedCounter", &cc));
    CHECK(actor_class_on_event(cc, t_inc, counter_inc));
    CHECK(actor_class_on_request(cc, t_wait, counter_wait));
    CHECK(actor_class_on_request(cc, t_get, counter_get));
    CHECK(actor_class_set_state_free(cc, free));
    CHECK(actor_class_set_mailbox(cc, 1000, ACTOR_OVERFLOW_REJECT));
    counter *c = calloc(1, sizeof *c);
    c->target = 2 * per;
    actor_addr *ca;
    CHECK(actor_spawn(rt, cc, c, &ca));
    bsender s[2];
    pthread_t th[2];
    double t0 = now_s();
    for (int i = 0; i < 2; i++) {
        s[i] = (bsender){ca, per, 0};
        pthread_create(&th[i], NULL, bsender_main, &s[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    uint64_t got = ask_u64(ca, t_wait);
    double el = now_s() - t0;
    uint64_t confirmed = ask_u64(ca, t_get);
    if (got != 2 * per || confirmed != 2 * per) {
        fprintf(stderr, "w2bounded: count %" PRIu64 "/%" PRIu64 "\n", got, confirmed);
        exit(1);
    }
    actor_stats st = {.size = sizeof st};
    CHECK(addr_stats(ca, &st));
    printf("RESULT w2bounded total=%" PRIu64 " capacity=1000 secs=%.4f msgs_per_s=%.0f"
           " retries=%" PRIu64 " rejected=%llu queued_peak=%llu vmhwm_kb=%ld vmrss_end_kb=%ld\n",
           2 * per, el, 2 * per / el, s[0].retries + s[1].retries, st.rejected, st.queued_peak,
           vmhwm_kb(), vmrss_kb());
    addr_release(ca);
    actor_class_free(cc);
}

/* ---- work that the compiler cannot remove: a xorshift chain ---- */
static uint64_t spin_work(uint64_t x, long iters)
{
    for (long i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

static _Atomic uint64_t spin_sink;

/* iterations of spin_work taking `us` microseconds on this thread (median of 5) */
static long spin_calibrate(double us)
{
    long iters = 100000;
    double best[5];
    for (int k = 0; k < 5; k++) {
        double t0 = now_s();
        atomic_fetch_add_explicit(&spin_sink, spin_work((uint64_t)k + 1, iters),
                                  memory_order_relaxed);
        best[k] = now_s() - t0;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (best[j] < best[i]) {
                double t = best[i];
                best[i] = best[j];
                best[j] = t;
            }
    long r = (long)(iters * (us * 1e-6) / best[2]);
    return r > 0 ? r : 1;
}

/* ---- sendwait: an outside producer faster than its consumer ---- */
static long consumer_iters;
static _Atomic uint64_t consumed;

typedef struct spinstate {
    uint64_t x;
} spinstate;

static int consumer_inc(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    spinstate *s = st;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    s->x = spin_work(s->x + v + 1, consumer_iters);
    atomic_fetch_add_explicit(&consumed, 1, memory_order_relaxed);
    return 0;
}

static void sendwait(actor_runtime *rt, double secs, int retry)
{
    consumer_iters = spin_calibrate(1.0);
    /* the consumer's own rate: its handler's work in a loop on this thread */
    uint64_t x = 1, k = 0;
    double t0 = now_s();
    while (now_s() - t0 < 0.5) {
        x = spin_work(x + k, consumer_iters);
        k++;
    }
    double own = k / (now_s() - t0);
    atomic_fetch_add(&spin_sink, x);
    actor_class *cc;
    CHECK(actor_class_new("SlowConsumer", &cc));
    CHECK(actor_class_set_state_size(cc, sizeof(spinstate)));
    CHECK(actor_class_on_event(cc, t_inc, consumer_inc));
    CHECK(actor_class_set_mailbox(cc, 1000, ACTOR_OVERFLOW_REJECT));
    actor_addr *a;
    CHECK(actor_spawn(rt, cc, NULL, &a));
    long rss0 = vmrss_kb(), rss1 = 0;
    uint64_t sent = 0, c1 = 0;
    double t1 = 0;
    t0 = now_s();
    for (;;) {
        if (retry) { /* the comparison: addr_send, sched_yield on EFULL */
            int rc;
            while ((rc = addr_send(a, t_inc, &sent, sizeof sent)) == ACTOR_EFULL)
                sched_yield();
            CHECK(rc);
        } else
            CHECK(addr_send_wait(a, t_inc, &sent, sizeof sent, -1));
        sent++;
        if ((sent & 1023) == 0) {
            double e = now_s() - t0;
            if (!rss1 && e >= 1.0) {
                rss1 = vmrss_kb();
                c1 = atomic_load(&consumed);
                t1 = e;
            }
            if (e >= secs)
                break;
        }
    }
    double el = now_s() - t0;
    long rss3 = vmrss_kb();
    uint64_t c3 = atomic_load(&consumed);
    actor_stats st = {.size = sizeof st};
    CHECK(addr_stats(a, &st));
    printf("RESULT %s secs=%.2f capacity=1000 handler_us=1 sent=%" PRIu64
           " send_per_s=%.0f consumed_per_s=%.0f consumer_alone_per_s=%.0f ratio=%.3f"
           " rate_1s_to_end=%.0f queued_peak=%llu vmrss_start_kb=%ld vmrss_1s_kb=%ld"
           " vmrss_end_kb=%ld vmhwm_kb=%ld\n",
           retry ? "sendretry" : "sendwait", el, sent, sent / el, c3 / el, own, (sent / el) / own, (c3 - c1) / (el - t1),
           st.queued_peak, rss0, rss1, rss3, vmhwm_kb());
    CHECK(addr_interrupt(a));
    CHECK(addr_join(a, -1));
    addr_release(a);
    actor_class_free(cc);
}

/* ---- hooked: w1 and w4 without and with a `handled` hook ---- */
static _Atomic unsigned long long hook_calls, hook_ns;

static void count_handled(void *ud, actor_addr *a, const actor_msgtype *t, unsigned long long ns)
{
    (void)ud;
    (void)a;
    (void)t;
    atomic_fetch_add_explicit(&hook_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hook_ns, ns, memory_order_relaxed);
}

static _Thread_local unsigned long long tls_calls;

static void tls_handled(void *ud, actor_addr *a, const actor_msgtype *t, unsigned long long ns)
{
    (void)ud;
    (void)a;
    (void)t;
    (void)ns;
    tls_calls++; /* no shared write: the library's own cost (two clock reads) */
}

static void hooked(unsigned workers, int64_t n1, int64_t n4, int rounds)
{
    for (int r = 0; r < rounds; r++)
        for (int hook = 0; hook < 3; hook++) {
            actor_runtime *rt;
            CHECK(actor_runtime_new(workers, &rt));
            if (hook) {
                actor_hooks h = {.size = sizeof h,
                                 .handled = hook == 1 ? count_handled : tls_handled};
                CHECK(actor_runtime_set_hooks(rt, &h));
            }
            printf("hooked round=%d hook=%s\n", r,
                   hook == 0 ? "none" : hook == 1 ? "handled_shared_atomics" : "handled_tls");
            fflush(stdout);
            w1(rt, n1);
            w4(rt, n4, 1000);
            actor_runtime_free(rt);
        }
    printf("RESULT hooked_calls calls=%llu mean_handler_ns=%.1f\n", hook_calls,
           hook_calls ? (double)hook_ns / hook_calls : 0.0);
}

/* ---- restart: a supervised child failing on every message ---- */
static int failer_inc(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)st;
    (void)p;
    (void)len;
    actor_ctx_fail(ctx, ACTOR_EINVAL);
    return 0;
}

static void restart(uint64_t n)
{
    actor_runtime *rt;
    CHECK(actor_runtime_new(1, &rt));
    actor_class *fc;
    CHECK(actor_class_new("Failer", &fc));
    CHECK(actor_class_set_state_size(fc, 16));
    CHECK(actor_class_on_event(fc, t_inc, failer_inc));
    actor_supervisor_spec sp = {.size = sizeof sp, .strategy = ACTOR_ONE_FOR_ONE,
                                .intensity = 2000000, .period_ms = 1000};
    actor_addr *sup, *child;
    CHECK(actor_supervisor_spawn(rt, &sp, &sup));
    CHECK(actor_supervisor_start_child(sup, fc, ACTOR_PERMANENT, &child));
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        CHECK(addr_send(child, t_inc, &i, sizeof i));
    double tsent = now_s() - t0;
    unsigned long long rs = 0;
    for (;;) {
        CHECK(addr_restarts(child, &rs));
        if (rs >= n)
            break;
        if (now_s() - t0 > 60) {
            fprintf(stderr, "restart: only %llu of %" PRIu64 "\n", rs, n);
            break;
        }
        usleep(200);
    }
    double el = now_s() - t0;
    int done = addr_is_done(child);
    printf("RESULT restart workers=1 n=%" PRIu64 " restarts=%llu secs=%.4f send_secs=%.4f"
           " restarts_per_s=%.0f child_done=%d\n",
           n, rs, el, tsent, rs / el, done);
    addr_release(child);
    CHECK(addr_interrupt(sup));
    CHECK(addr_join(sup, -1));
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(fc);
}

/* ---- down: a watcher monitors N short-lived actors, each stopped ---- */
typedef struct watcher {
    int64_t target, downs;
    double t_spawned;
    actor_promise *done;
} watcher;

static actor_class *shortlived_cls;

static void watcher_down(actor_ctx *ctx, void *st, actor_addr *who, int reason)
{
    (void)ctx;
    (void)who;
    (void)reason;
    watcher *w = st;
    if (++w->downs == w->target && w->done) {
        CHECK(actor_promise_resolve(w->done, &w->downs, sizeof w->downs));
        w->done = NULL;
    }
}

static int watcher_run(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)len;
    watcher *w = st;
    int64_t n;
    memcpy(&n, p, sizeof n);
    w->target = n;
    w->downs = 0;
    actor_runtime *rt = actor_ctx_runtime(ctx);
    for (int64_t i = 0; i < n; i++) {
        actor_addr *a;
        CHECK(actor_spawn(rt, shortlived_cls, NULL, &a));
        CHECK(actor_ctx_monitor(ctx, a));
        CHECK(addr_interrupt(a));
        addr_release(a);
    }
    w->t_spawned = now_s();
    if (w->downs >= n)
        return actor_ctx_reply(ctx, &w->downs, sizeof w->downs);
    return actor_ctx_defer(ctx, &w->done);
}

/* Batches of `batch` outstanding monitors: actor_ctx_monitor scans the
 * watcher's list of monitors (lib/core/monitor.c), so one watcher with k
 * outstanding monitors costs O(k) per monitor (20,000 at once: ~200 us each). */
static void down(actor_runtime *rt, int64_t n, int64_t batch)
{
    CHECK(actor_class_new("ShortLived", &shortlived_cls));
    CHECK(actor_class_on_event(shortlived_cls, t_inc, failer_inc));
    actor_class *wc;
    CHECK(actor_class_new("Watcher", &wc));
    CHECK(actor_class_set_state_size(wc, sizeof(watcher)));
    CHECK(actor_class_on_request(wc, t_run, watcher_run));
    CHECK(actor_class_on_down(wc, watcher_down));
    actor_addr *w;
    CHECK(actor_spawn(rt, wc, NULL, &w));
    ask_run(w, 1000);
    if (batch <= 0 || batch > n)
        batch = n;
    n = n / batch * batch;
    double t0 = now_s();
    for (int64_t done = 0; done < n; done += batch) {
        int64_t got = ask_run(w, batch);
        if (got != batch) {
            fprintf(stderr, "down: %" PRId64 " of %" PRId64 "\n", got, batch);
            exit(1);
        }
    }
    double el = now_s() - t0;
    printf("RESULT down n=%" PRId64 " batch=%" PRId64 " secs=%.4f downs_per_s=%.0f"
           " us_per_spawn_monitor_stop_down=%.3f vmrss_end_kb=%ld\n",
           n, batch, el, n / el, el * 1e6 / n, vmrss_kb());
    CHECK(addr_interrupt(w));
    CHECK(addr_join(w, -1));
    addr_release(w);
    actor_class_free(wc);
    actor_class_free(shortlived_cls);
}

/* ---- pool: CPU-bound members (~10 us each), 1 worker against 2 ---- */
static long member_iters;
static _Atomic uint64_t pool_done;
static uint64_t pool_target;
/* Posted by the handler of the last event: the measuring thread sleeps
 * until then. (It polled every 100 us before: 10,000 wake-ups a second
 * that took turns on the vCPUs both workers were using, a cost the
 * 1-worker runs, with a vCPU to spare, did not pay.) */
static sem_t pool_finished;
static _Atomic uintptr_t pool_threads[8];

static int member_inc(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    spinstate *s = st;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    s->x = spin_work(s->x + v + 1, member_iters);
    uintptr_t me = (uintptr_t)pthread_self();
    for (int i = 0; i < 8; i++) { /* the distinct worker threads that ran members */
        uintptr_t cur = atomic_load_explicit(&pool_threads[i], memory_order_relaxed);
        if (cur == me)
            break;
        if (cur == 0 && atomic_compare_exchange_strong(&pool_threads[i], &cur, me))
            break;
        if (cur == me)
            break;
    }
    if (atomic_fetch_add_explicit(&pool_done, 1, memory_order_relaxed) + 1 == pool_target)
        sem_post(&pool_finished);
    return 0;
}

static double pool_run(unsigned workers, uint64_t n)
{
    actor_runtime *rt;
    CHECK(actor_runtime_new(workers, &rt));
    actor_class *mc;
    CHECK(actor_class_new("PoolMember", &mc));
    CHECK(actor_class_set_state_size(mc, 64));
    CHECK(actor_class_on_event(mc, t_inc, member_inc));
    actor_pool_spec ps = {.size = sizeof ps, .cls = mc, .members = 4,
                          .route = ACTOR_ROUTE_ROUND_ROBIN};
    actor_addr *pool;
    CHECK(actor_pool_spawn(rt, &ps, &pool));
    atomic_store(&pool_done, 0);
    pool_target = n; /* the spawn's and the sends' pushes publish it to the members */
    for (int i = 0; i < 8; i++)
        atomic_store(&pool_threads[i], 0);
    double t0 = now_s(), c0 = cpu_s();
    for (uint64_t i = 0; i < n; i++)
        CHECK(addr_send(pool, t_inc, &i, sizeof i));
    while (sem_wait(&pool_finished) != 0)
        ; /* EINTR */
    double el = now_s() - t0, cpu = cpu_s() - c0;
    int threads = 0;
    for (int i = 0; i < 8; i++)
        threads += atomic_load(&pool_threads[i]) != 0;
    printf("RESULT pool_run workers=%u members=4 events=%" PRIu64 " secs=%.4f events_per_s=%.0f"
           " cpu_per_wall=%.2f member_threads=%d\n",
           workers, n, el, n / el, cpu / el, threads);
    fflush(stdout);
    CHECK(addr_interrupt(pool));
    CHECK(addr_join(pool, -1));
    addr_release(pool);
    actor_runtime_free(rt);
    actor_class_free(mc);
    return n / el;
}

static void pool(uint64_t n, int rounds)
{
    member_iters = spin_calibrate(10.0);
    CHECK(sem_init(&pool_finished, 0, 0));
    double r1[8], r2[8];
    if (rounds > 8)
        rounds = 8;
    for (int r = 0; r < rounds; r++) { /* alternating */
        r1[r] = pool_run(1, n);
        r2[r] = pool_run(2, n);
    }
    for (int i = 0; i < rounds; i++)
        for (int j = i + 1; j < rounds; j++) {
            if (r1[j] < r1[i]) {
                double t = r1[i];
                r1[i] = r1[j];
                r1[j] = t;
            }
            if (r2[j] < r2[i]) {
                double t = r2[i];
                r2[i] = r2[j];
                r2[j] = t;
            }
        }
    double m1 = r1[rounds / 2], m2 = r2[rounds / 2];
    printf("RESULT pool members=4 route=round_robin handler_us=10 iters=%ld events=%" PRIu64
           " rounds=%d w1_events_per_s=%.0f w2_events_per_s=%.0f ratio=%.3f\n",
           member_iters, n, rounds, m1, m2, m2 / m1);
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "w1";
    long long n = argc > 2 ? atoll(argv[2]) : 0;
    long ring = argc > 3 ? atol(argv[3]) : 1000;
    const char *env = getenv("WORKERS");
    unsigned workers = env ? (unsigned)atoi(env) : 2;
    if (strcmp(w, "timers_live") == 0) /* before any other call of the library */
        CHECK(actor_set_allocator(count_malloc, count_calloc, count_realloc, count_free));
    define_types();
    if (strncmp(w, "timers", 6) == 0) {
        CHECK(actor_msgtype_define("TimerCtl", NULL, NULL, &t_tctl));
        CHECK(actor_msgtype_define("Tick", "qq", NULL, &t_tick));
        CHECK(actor_msgtype_define("TickBytes", NULL, NULL, &t_tickb));
    }
    actor_runtime *rt;
    CHECK(actor_runtime_new(workers, &rt));
    if (strcmp(w, "w1") == 0)
        w1(rt, n ? n : 2000000);
    else if (strcmp(w, "w2") == 0)
        w2(rt, n ? (uint64_t)n : 2000000);
    else if (strcmp(w, "w3") == 0)
        w3(rt, n ? n : 100000);
    else if (strcmp(w, "w4") == 0)
        w4(rt, n ? n : 1000000, ring);
    else if (strcmp(w, "w5") == 0)
        w5(rt, n ? n : 100000);
    else if (strcmp(w, "w7") == 0)
        w7(rt, n ? n : 20000, argc > 3 ? ring : 200, workers);
    else if (strcmp(w, "w1within") == 0) {
        w1_within_ms = argc > 3 ? atoi(argv[3]) : 1000;
        w1(rt, n ? n : 2000000);
    } else if (strcmp(w, "timers") == 0)
        timers_pairs(rt, n ? n : 5000000, argc > 3 ? atoll(argv[3]) : 60000, workers);
    else if (strcmp(w, "timers_live") == 0)
        timers_live(rt, n ? n : 1000000, argc > 3 ? atol(argv[3]) : 1,
                    argc > 4 ? (size_t)atol(argv[4]) : 0);
    else if (strcmp(w, "timers_late") == 0)
        timers_late(rt, n ? (long)n : 100000, argc > 3 ? atol(argv[3]) : 900000,
                    argc > 4 ? atol(argv[4]) : 100, argc > 5 ? atoll(argv[5]) : 1000, workers);
    else if (strcmp(w, "timers_floor") == 0)
        timers_floor(n ? (long)n : 100000, argc > 3 ? atoll(argv[3]) : 1000);
    else if (strcmp(w, "ev") == 0)
        ev(rt, n ? (uint64_t)n : 1000000);
    else if (strcmp(w, "fanout") == 0)
        fanout(rt, n ? (uint64_t)n : 20000, argc > 3 ? ring : 1000);
    else if (strcmp(w, "match") == 0)
        match(rt, n ? (uint64_t)n : 2000000);
    else if (strcmp(w, "w2bounded") == 0)
        w2bounded(rt, n ? (uint64_t)n : 1000000);
    else if (strcmp(w, "sendwait") == 0)
        sendwait(rt, n ? (double)n : 3.0, argc > 3 && strcmp(argv[3], "retry") == 0);
    else if (strcmp(w, "hooked") == 0)
        hooked(workers, n ? n : 500000, argc > 3 ? atoll(argv[3]) : 1000000,
               argc > 4 ? atoi(argv[4]) : 3);
    else if (strcmp(w, "restart") == 0)
        restart(n ? (uint64_t)n : 1000000);
    else if (strcmp(w, "down") == 0)
        down(rt, n ? n : 200000, argc > 3 ? atoll(argv[3]) : 100);
    else if (strcmp(w, "pool") == 0)
        pool(n ? (uint64_t)n : 100000, argc > 3 ? atoi(argv[3]) : 3);
    else {
        fprintf(stderr, "unknown workload %s\n", w);
        return 2;
    }
    actor_runtime_free(rt);
    return 0;
}
