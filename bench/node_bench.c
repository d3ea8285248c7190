/* libactor-node against raw libnats, on the same nats-server, in one sitting
 * (one process: two NATS connections, as two nodes are).
 *   node_bench [N]       all of it, N round trips (default 20000)
 *   node_bench rr N      round-trip latency: raw natsConnection_Request vs a
 *                        remote addr_interact + wait (goal: <= 1.25x raw)
 *   node_bench inflight N  5N asks, 1,000 in flight (a remote actor's answers
 *                        forwarded to the asking actor; raw: 1,000
 *                        PublishRequest in flight on one inbox subscription)
 *   node_bench events N  25N one-way events of 16 bytes: raw publish -> a
 *                        subscription vs addr_send to a remote address -> its
 *                        actor (goal: >= 0.7x raw), counted where handled
 * rr and events take turns: 7 blocks of raw, 7 of node, alternating, and
 * report medians (a shared machine's load then weighs on both alike).
 * Starts its own nats-server on a free port of 127.0.0.1 unless NATS_URL is
 * set; WORKERS=k workers per runtime (default 1), or RUNTIME=base: each
 * node's runtime embedded in an event_base of a thread of its own
 * (actor_runtime_new_on_base: one worker, which sleeps at once when idle
 * instead of spinning 50 us first). One "RESULT" line per measure, as
 * bench/actorbench.c. */
#include "nodetest.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>

static nt_types T;
static const char *url;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "node_bench: %s: %d\n", what, rc);
    exit(1);
}

static natsConnection *raw_connect(bool send_asap)
{
    natsOptions *o;
    natsConnection *nc;
    if (natsOptions_Create(&o) != NATS_OK || natsOptions_SetURL(o, url) != NATS_OK ||
        natsOptions_SetSendAsap(o, send_asap) != NATS_OK)
        die("options", 0);
    natsStatus s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        die("raw connect", s);
    return nc;
}

/* ---- raw libnats ---- */

typedef struct pair pair;
static void pair_open(pair *p);
static void pair_close(pair *p);

static void raw_echo(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *c)
{
    (void)sub;
    (void)c;
    natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg),
                           natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}

/* One raw request-reply block: mean us. */
static double raw_rr_block(natsConnection *cli, long n)
{
    int64_t req[2] = {1, 2};
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        natsMsg *m;
        if (natsConnection_Request(&m, cli, "bench.echo", req, sizeof req, 5000) != NATS_OK)
            die("raw request", 0);
        natsMsg_Destroy(m);
    }
    return (now_s() - t0) / n * 1e6;
}

typedef struct raw_flight {
    natsConnection *nc;
    long left_to_send, left_to_get;
    atomic_long got;
    char inbox[64];
} raw_flight;

static void raw_flight_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *c)
{
    (void)sub;
    raw_flight *f = c;
    natsMsg_Destroy(msg);
    atomic_fetch_add(&f->got, 1);
    /* keep the window full: one out for each one back */
    if (__atomic_fetch_sub(&f->left_to_send, 1, __ATOMIC_RELAXED) > 0) {
        int64_t req[2] = {1, 2};
        natsConnection_PublishRequest(nc, "bench.echo", f->inbox, req, sizeof req);
    }
}

static double raw_inflight(long n, long window)
{
    natsConnection *srv = raw_connect(true), *cli = raw_connect(true);
    natsSubscription *sub, *rsub;
    raw_flight f = {.nc = cli};
    snprintf(f.inbox, sizeof f.inbox, "bench.inbox.flight");
    if (natsConnection_Subscribe(&sub, srv, "bench.echo", raw_echo, NULL) != NATS_OK ||
        natsConnection_Subscribe(&rsub, cli, f.inbox, raw_flight_reply, &f) != NATS_OK ||
        natsConnection_Flush(srv) != NATS_OK || natsConnection_Flush(cli) != NATS_OK)
        die("raw subscribe", 0);
    f.left_to_send = n - window;
    double t0 = now_s();
    int64_t req[2] = {1, 2};
    for (long i = 0; i < window; i++)
        natsConnection_PublishRequest(cli, "bench.echo", f.inbox, req, sizeof req);
    while (atomic_load(&f.got) < n) {
        if (now_s() - t0 > 120)
            die("raw in flight: stalled", (int)atomic_load(&f.got));
        nt_nap_ms(1);
    }
    double el = now_s() - t0;
    natsSubscription_Destroy(rsub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(cli);
    natsConnection_Destroy(srv);
    printf("RESULT raw_inflight n=%ld window=%ld secs=%.4f asks_per_s=%.0f\n", n, window, el,
           n / el);
    return n / el;
}

static atomic_long raw_got;
static void raw_count(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *c)
{
    (void)nc;
    (void)sub;
    (void)c;
    natsMsg_Destroy(msg);
    atomic_fetch_add(&raw_got, 1);
}

/* Waits until `counter` reaches target (or stops moving for 1 s): the
 * number delivered. */
static long wait_count(atomic_long *counter, long target)
{
    long last = -1;
    double quiet = now_s();
    for (;;) {
        long g = atomic_load(counter);
        if (g >= target)
            return g;
        if (g != last) {
            last = g;
            quiet = now_s();
        } else if (now_s() - quiet > 1.0) {
            return g;
        }
        nt_nap_ms(1);
    }
}

/* One block of raw publishes: msgs/s delivered. */
static double raw_events_block(natsConnection *pub, long n, size_t payload, long *delivered)
{
    char data[256] = {0};
    atomic_store(&raw_got, 0);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        natsConnection_Publish(pub, "bench.ev", data, (int)payload);
    natsConnection_Flush(pub);
    long got = wait_count(&raw_got, n);
    *delivered += got;
    return got / (now_s() - t0);
}

/* ---- libactor-node ---- */

/* A runtime embedded in an event_base of a thread of the bench
 * (RUNTIME=base): one worker that never spins while idle. */
typedef struct embedded {
    struct event_base *base;
    struct event *stop;
    actor_runtime *rt;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
} embedded;

struct pair {
    embedded emb_a, emb_b;
    actor_runtime *rt_a, *rt_b;
    actor_node *a, *b;
    actor_class *calc_cls;
    actor_addr *calc;   /* on A, exported */
    actor_addr *remote; /* B's address of it */
};

/* Workers per runtime: WORKERS (default 1: two runtimes, two nodes, a
 * nats-server and the raw side share the machine). */
static unsigned workers(void)
{
    const char *w = getenv("WORKERS");
    return w != NULL && atoi(w) > 0 ? (unsigned)atoi(w) : 1;
}

static void emb_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((embedded *)arg)->base);
}

static void *emb_main(void *arg)
{
    embedded *e = arg;
    int rc = actor_runtime_new_on_base(e->base, &e->rt);
    pthread_mutex_lock(&e->mu);
    e->ready = rc == ACTOR_OK ? 1 : -1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (rc != ACTOR_OK)
        return NULL;
    event_base_loop(e->base, EVLOOP_NO_EXIT_ON_EMPTY);
    actor_runtime_free(e->rt); /* from the thread that ran the base */
    return NULL;
}

static actor_runtime *runtime_new(embedded *e)
{
    const char *kind = getenv("RUNTIME");
    actor_runtime *rt = NULL;
    if (kind == NULL || strcmp(kind, "base") != 0) {
        e->base = NULL;
        if (actor_runtime_new(workers(), &rt) != ACTOR_OK)
            die("runtime", 0);
        return rt;
    }
    evthread_use_pthreads();
    e->base = event_base_new();
    e->stop = e->base ? event_new(e->base, -1, 0, emb_stop_cb, e) : NULL;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->ready = 0;
    if (e->stop == NULL || pthread_create(&e->thread, NULL, emb_main, e) != 0)
        die("embedded runtime", 0);
    pthread_mutex_lock(&e->mu);
    while (e->ready == 0)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    if (e->ready < 0)
        die("actor_runtime_new_on_base", 0);
    return e->rt;
}

static void runtime_free(embedded *e, actor_runtime *rt)
{
    if (e->base == NULL) {
        actor_runtime_free(rt);
        return;
    }
    event_active(e->stop, EV_READ, 0);
    pthread_join(e->thread, NULL);
    event_free(e->stop);
    event_base_free(e->base);
}

static void pair_open(pair *p)
{
    int rc;
    p->rt_a = runtime_new(&p->emb_a);
    p->rt_b = runtime_new(&p->emb_b);
    if ((rc = nt_calc_class(&T, &p->calc_cls)) != ACTOR_OK ||
        (rc = actor_node_connect(p->rt_a, url, "bench_a", &p->a)) != ACTOR_OK ||
        (rc = actor_node_connect(p->rt_b, url, "bench_b", &p->b)) != ACTOR_OK ||
        (rc = actor_spawn(p->rt_a, p->calc_cls, NULL, &p->calc)) != ACTOR_OK ||
        (rc = actor_node_export(p->a, "calc", p->calc)) != ACTOR_OK ||
        (rc = actor_node_lookup(p->b, "calc", 5000, &p->remote)) != ACTOR_OK)
        die("node set-up", rc);
}

static void pair_close(pair *p)
{
    addr_release(p->remote);
    actor_node_close(p->b);
    actor_node_close(p->a);
    addr_release(p->calc);
    runtime_free(&p->emb_b, p->rt_b);
    runtime_free(&p->emb_a, p->rt_a);
    actor_class_free(p->calc_cls);
}

/* One block of remote asks from this thread: mean us. */
static double node_rr_block(actor_addr *remote, long n)
{
    int64_t req[2] = {1, 2};
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        actor_responder *r;
        int rc;
        if ((rc = addr_interact(remote, T.sum, req, sizeof req, &r)) != ACTOR_OK ||
            (rc = actor_responder_wait(r, 5000)) != ACTOR_OK)
            die("node ask", rc);
        actor_responder_free(r);
    }
    return (now_s() - t0) / n * 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define ROUNDS 7

/* Round trips, raw and node blocks taking turns (ROUNDS each), so that the
 * load of a shared machine falls on both alike: medians. */
static double rr(long n)
{
    natsConnection *srv = raw_connect(true), *cli = raw_connect(false);
    natsSubscription *sub;
    if (natsConnection_Subscribe(&sub, srv, "bench.echo", raw_echo, NULL) != NATS_OK ||
        natsConnection_Flush(srv) != NATS_OK)
        die("raw subscribe", 0);
    pair p;
    pair_open(&p);
    long block = n / ROUNDS;
    raw_rr_block(cli, block / 5 + 1); /* warm-up */
    node_rr_block(p.remote, block / 5 + 1);
    double raw[ROUNDS], node[ROUNDS], ratio[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        raw[i] = raw_rr_block(cli, block);
        node[i] = node_rr_block(p.remote, block);
        ratio[i] = node[i] / raw[i];
    }
    pair_close(&p);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(cli);
    natsConnection_Destroy(srv);
    qsort(raw, ROUNDS, sizeof *raw, cmp_double);
    qsort(node, ROUNDS, sizeof *node, cmp_double);
    qsort(ratio, ROUNDS, sizeof *ratio, cmp_double);
    printf("RESULT raw_rr n=%ld rounds=%d median_us=%.2f min_us=%.2f max_us=%.2f\n", block * ROUNDS,
           ROUNDS, raw[ROUNDS / 2], raw[0], raw[ROUNDS - 1]);
    printf("RESULT node_rr n=%ld rounds=%d median_us=%.2f min_us=%.2f max_us=%.2f\n",
           block * ROUNDS, ROUNDS, node[ROUNDS / 2], node[0], node[ROUNDS - 1]);
    return ratio[ROUNDS / 2];
}

/* An actor that keeps `window` asks in flight to the remote address. */
typedef struct asker {
    actor_addr *to;
    long left_to_send, got, n;
    int failures;
    actor_promise *done;
} asker;

static const actor_msgtype *t_start;

static int asker_send_one(actor_ctx *ctx, asker *a)
{
    int64_t req[2] = {a->left_to_send, 1};
    actor_responder *r;
    int rc = addr_interact(a->to, T.sum, req, sizeof req, &r);
    if (rc == ACTOR_OK && (rc = actor_responder_forward_tagged(r, actor_ctx_self(ctx), 1)) !=
                              ACTOR_OK)
        actor_responder_free(r);
    return rc;
}

static int asker_start(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)len;
    asker *a = state;
    long window = (long)*(const int64_t *)p;
    if (actor_ctx_defer(ctx, &a->done) != ACTOR_OK)
        return ACTOR_ENOMEM;
    for (long i = 0; i < window && a->left_to_send > 0; i++, a->left_to_send--)
        if (asker_send_one(ctx, a) != ACTOR_OK)
            a->failures++;
    return 0;
}

static void asker_on_sum(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                         const void *reply, size_t len)
{
    (void)type;
    (void)reply;
    (void)len;
    asker *a = state;
    if (status != ACTOR_OK)
        a->failures++;
    a->got++;
    if (a->left_to_send > 0) {
        a->left_to_send--;
        if (asker_send_one(ctx, a) != ACTOR_OK)
            a->failures++;
    }
    if (a->got == a->n) {
        int64_t f = a->failures;
        if (actor_promise_resolve(a->done, &f, sizeof f) != ACTOR_OK)
            actor_promise_free(a->done);
        a->done = NULL;
    }
}

static double node_inflight(long n, long window)
{
    pair p;
    pair_open(&p);
    if (actor_msgtype_define("BenchStart", "q", "q", &t_start) != ACTOR_OK)
        die("type", 0);
    actor_class *c;
    actor_class_new("Asker", &c);
    actor_class_on_request(c, t_start, asker_start);
    actor_class_on_response(c, T.sum, asker_on_sum);
    asker a = {.to = p.remote, .left_to_send = n, .n = n};
    actor_addr *aa;
    if (actor_spawn(p.rt_b, c, &a, &aa) != ACTOR_OK)
        die("spawn", 0);
    int64_t w = window;
    actor_responder *r;
    double t0 = now_s();
    if (addr_interact(aa, t_start, &w, sizeof w, &r) != ACTOR_OK ||
        actor_responder_wait(r, 300000) != ACTOR_OK)
        die("in flight", actor_responder_status(r));
    double el = now_s() - t0;
    int64_t failures = *(const int64_t *)actor_responder_data(r, NULL);
    actor_responder_free(r);
    addr_interrupt(aa);
    addr_join(aa, 5000);
    addr_release(aa);
    actor_class_free(c);
    pair_close(&p);
    printf("RESULT node_inflight n=%ld window=%ld failures=%" PRId64
           " secs=%.4f asks_per_s=%.0f\n",
           n, window, failures, el, n / el);
    return n / el;
}

/* The remote actor counts the events (a type of its own, "qq": 16 bytes,
 * the raw measure's payload). */
static const actor_msgtype *t_ev;
static atomic_long node_got;

static int count_ev(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)state;
    (void)p;
    (void)len;
    atomic_fetch_add_explicit(&node_got, 1, memory_order_relaxed);
    return 0;
}

/* One block of remote events sent from this thread: msgs/s handled there. */
static double node_events_block(actor_addr *remote, long n, long *delivered)
{
    int64_t ev[2] = {1, 2};
    atomic_store(&node_got, 0);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        if (addr_send(remote, t_ev, ev, sizeof ev) != ACTOR_OK)
            die("send", 0);
    long got = wait_count(&node_got, n);
    *delivered += got;
    return got / (now_s() - t0);
}

/* Events one way, raw and node blocks taking turns: medians. */
static double events(long n)
{
    natsConnection *sub_c = raw_connect(false), *pub = raw_connect(false);
    natsSubscription *sub;
    if (natsConnection_Subscribe(&sub, sub_c, "bench.ev", raw_count, NULL) != NATS_OK ||
        natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20) != NATS_OK ||
        natsConnection_Flush(sub_c) != NATS_OK)
        die("raw subscribe", 0);
    pair p;
    pair_open(&p);
    if (actor_msgtype_define("BenchEv", "qq", "", &t_ev) != ACTOR_OK)
        die("type", 0);
    actor_class *c;
    actor_class_new("Counter", &c);
    actor_class_on_event(c, t_ev, count_ev);
    actor_addr *counter, *remote;
    int rc;
    if ((rc = actor_spawn(p.rt_a, c, NULL, &counter)) != ACTOR_OK ||
        (rc = actor_node_export(p.a, "counter", counter)) != ACTOR_OK ||
        (rc = actor_node_lookup(p.b, "counter", 5000, &remote)) != ACTOR_OK)
        die("counter", rc);
    long block = n / ROUNDS, raw_del = 0, node_del = 0;
    double raw[ROUNDS], node[ROUNDS], ratio[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        raw[i] = raw_events_block(pub, block, 16, &raw_del);
        node[i] = node_events_block(remote, block, &node_del);
        ratio[i] = node[i] / raw[i];
    }
    addr_release(remote);
    addr_release(counter);
    pair_close(&p);
    actor_class_free(c);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(pub);
    natsConnection_Destroy(sub_c);
    qsort(raw, ROUNDS, sizeof *raw, cmp_double);
    qsort(node, ROUNDS, sizeof *node, cmp_double);
    qsort(ratio, ROUNDS, sizeof *ratio, cmp_double);
    printf("RESULT raw_events n=%ld payload=16 delivered=%ld rounds=%d median_msgs_per_s=%.0f "
           "min=%.0f max=%.0f\n",
           block * ROUNDS, raw_del, ROUNDS, raw[ROUNDS / 2], raw[0], raw[ROUNDS - 1]);
    printf("RESULT node_events n=%ld payload=16 delivered=%ld rounds=%d median_msgs_per_s=%.0f "
           "min=%.0f max=%.0f\n",
           block * ROUNDS, node_del, ROUNDS, node[ROUNDS / 2], node[0], node[ROUNDS - 1]);
    return ratio[ROUNDS / 2];
}

int main(int argc, char **argv)
{
    const char *what = "all";
    long n = 20000;
    if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
        what = argv[1];
        if (argc > 2)
            n = atol(argv[2]);
    } else if (argc > 1) {
        n = atol(argv[1]);
    }
    if (n < 1000)
        n = 1000;
    signal(SIGPIPE, SIG_IGN);
    nt_server server = {0};
    url = getenv("NATS_URL");
    if (url == NULL) {
        if (nt_server_start(&server) != 0)
            die("nats-server did not start", 0);
        url = server.url;
    }
    if (nt_define_types(&T, 0) != ACTOR_OK)
        die("types", 0);
    bool all = strcmp(what, "all") == 0;
    if (all || strcmp(what, "rr") == 0) {
        double ratio = rr(n);
        printf("RESULT rr_ratio median_node_over_raw=%.3f goal<=1.25 %s\n", ratio,
               ratio <= 1.25 ? "met" : "MISSED");
    }
    if (all || strcmp(what, "inflight") == 0) {
        double raw = raw_inflight(n * 5, 1000), node = node_inflight(n * 5, 1000);
        printf("RESULT inflight_ratio node_over_raw=%.3f\n", node / raw);
    }
    if (all || strcmp(what, "events") == 0) {
        double ratio = events(n * 25);
        printf("RESULT events_ratio median_node_over_raw=%.3f goal>=0.7 %s\n", ratio,
               ratio >= 0.7 ? "met" : "MISSED");
    }
    nt_server_stop(&server);
    return 0;
}
