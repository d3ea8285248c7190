/* actorbench: the peers' workloads on libactor (the peers' own programs: bench/peers/).
 *   actorbench w1 N        actor-to-actor request-response, N round trips
 *   actorbench w2 N        fan-in: 2 producer actors x N events -> 1 counter
 *   actorbench w3 N        spawn N idle actors, then stop all and join all
 *   actorbench w4 N RING   a ring of RING actors passing one token N hops
 *   actorbench w5 N        N blocking requests from a plain outside thread
 *   actorbench w7 N PAIRS  PAIRS independent pairs passing a ball N times each
 *   actorbench ev N        N events sent and handled (one sender thread)
 * WORKERS=k sets the worker count (default 2). One "RESULT" line per run. */
#include <actor/actor.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    int64_t left, next, acc;
    actor_promise *done;
} client;

static void client_ask(actor_ctx *ctx, client *c)
{
    int64_t ab[2] = {c->next++, 1};
    actor_responder *r;
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

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "w1";
    long long n = argc > 2 ? atoll(argv[2]) : 0;
    long ring = argc > 3 ? atol(argv[3]) : 1000;
    const char *env = getenv("WORKERS");
    unsigned workers = env ? (unsigned)atoi(env) : 2;
    define_types();
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
    else if (strcmp(w, "ev") == 0)
        ev(rt, n ? (uint64_t)n : 1000000);
    else {
        fprintf(stderr, "unknown workload %s\n", w);
        return 2;
    }
    actor_runtime_free(rt);
    return 0;
}
