/*
 * nodetest.h — what the node tests and their peer program share: the
 * message types both sides define, and (for the tests) real nats-server
 * processes on 127.0.0.1 and peer processes, started on free ports and
 * killed again — at the end of each test, and at exit whatever happened
 * (atexit, and PR_SET_PDEATHSIG should the test itself be killed).
 */
#ifndef ACTOR_NODETEST_H
#define ACTOR_NODETEST_H

#include <actor/actor.h>
#include <actor/node.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the types of the tests (both processes define them alike, except
 * "Point", whose layouts differ on purpose) ---- */
typedef struct nt_types {
    const actor_msgtype *sum;   /* "qq" -> "q": a + b                          */
    const actor_msgtype *seq;   /* "q" event: 1, 2, 3... checked in order      */
    const actor_msgtype *stats; /* "" -> "qqqqq": seq count, seq violations,
                                   points, flashes, slow requests held         */
    const actor_msgtype *slow;  /* "q" -> "q": answered after that many ms     */
    const actor_msgtype *fail;  /* "i" -> "": the handler returns that code    */
    const actor_msgtype *drop;  /* "" -> "": the handler returns 0, no answer  */
    const actor_msgtype *die;   /* "i" event: actor_ctx_fail (0: stop)         */
    const actor_msgtype *flash; /* "q" event, published on "news.flash"        */
    const actor_msgtype *shout; /* "q" event: publish Flash(q) on news.flash   */
    const actor_msgtype *nope;  /* "" -> "": nobody handles it                 */
    const actor_msgtype *point; /* test: "qq" -> "q"; peer: "ii" -> "i"        */
    const actor_msgtype *tick;  /* "Q" event: the Slow timer                   */
} nt_types;

static inline int nt_define_types(nt_types *t, int peer_point)
{
    int rc = ACTOR_OK;
#define NT_DEF(f, n, l, r)                                                                    \
    if (rc == ACTOR_OK)                                                                       \
    rc = actor_msgtype_define(n, l, r, &t->f)
    NT_DEF(sum, "Sum", "qq", "q");
    NT_DEF(seq, "Seq", "q", "");
    NT_DEF(stats, "Stats", "", "qqqqq");
    NT_DEF(slow, "Slow", "q", "q");
    NT_DEF(fail, "Fail", "i", "");
    NT_DEF(drop, "Drop", "", "");
    NT_DEF(die, "Die", "i", "");
    NT_DEF(flash, "Flash", "q", "");
    NT_DEF(shout, "Shout", "q", "");
    NT_DEF(nope, "Nope", "", "");
    NT_DEF(tick, "SlowTick", "Q", "");
    if (peer_point) {
        NT_DEF(point, "Point", "ii", "i");
    } else {
        NT_DEF(point, "Point", "qq", "q");
    }
#undef NT_DEF
    return rc;
}

typedef struct nt_stats {
    int64_t seq_count, seq_violations, points, flashes, held;
} nt_stats;

static inline int64_t nt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void nt_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}


/* ---- Calc: the actor both sides export (its class made by nt_calc_class) ---- */
typedef struct nt_calc {
    const nt_types *t;
    int64_t last_seq, seq_count, seq_violations, points, flashes;
    actor_promise **held; /* Slow requests, answered by their timer */
    uint64_t *held_keys;
    size_t nheld, capheld;
    uint64_t next_key;
} nt_calc;

static const nt_types *nt_calc_types;

static inline int nt_calc_init(actor_ctx *ctx, void *state)
{
    (void)ctx;
    ((nt_calc *)state)->t = nt_calc_types;
    return 0;
}

static inline int nt_calc_sum(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)state;
    (void)len;
    int64_t v[2], r;
    memcpy(v, p, sizeof v);
    r = v[0] + v[1];
    return actor_ctx_reply(ctx, &r, sizeof r);
}

static inline int nt_calc_seq(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    nt_calc *c = state;
    int64_t v;
    memcpy(&v, p, sizeof v);
    if (v != 1 && v != c->last_seq + 1)
        c->seq_violations++;
    c->last_seq = v;
    c->seq_count++;
    return 0;
}

static inline int nt_calc_stats(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)p;
    (void)len;
    nt_calc *c = state;
    int64_t r[5] = {c->seq_count, c->seq_violations, c->points, c->flashes, (int64_t)c->nheld};
    return actor_ctx_reply(ctx, r, sizeof r);
}

static inline int nt_calc_slow(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)len;
    nt_calc *c = state;
    int64_t ms;
    memcpy(&ms, p, sizeof ms);
    if (c->nheld == c->capheld) {
        size_t cap = c->capheld ? c->capheld * 2 : 64;
        actor_promise **h = realloc(c->held, cap * sizeof *h);
        if (h == NULL)
            return ACTOR_ENOMEM;
        c->held = h;
        uint64_t *k = realloc(c->held_keys, cap * sizeof *k);
        if (k == NULL)
            return ACTOR_ENOMEM;
        c->held_keys = k;
        c->capheld = cap;
    }
    uint64_t key = ++c->next_key;
    int rc = actor_ctx_timer_start(ctx, key, c->t->tick, &key, sizeof key,
                                   ms > 0 ? (uint64_t)ms : 0, 0);
    if (rc != ACTOR_OK)
        return rc;
    actor_promise *pr;
    rc = actor_ctx_defer(ctx, &pr);
    if (rc != ACTOR_OK) {
        actor_ctx_timer_cancel(ctx, key);
        return rc;
    }
    c->held[c->nheld] = pr;
    c->held_keys[c->nheld++] = key;
    return 0;
}

static inline int nt_calc_tick(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    nt_calc *c = state;
    uint64_t key;
    memcpy(&key, p, sizeof key);
    for (size_t i = 0; i < c->nheld; i++)
        if (c->held_keys[i] == key) {
            actor_promise *pr = c->held[i];
            c->held[i] = c->held[--c->nheld];
            c->held_keys[i] = c->held_keys[c->nheld];
            int64_t v = (int64_t)key;
            if (actor_promise_resolve(pr, &v, sizeof v) != ACTOR_OK)
                actor_promise_free(pr);
            break;
        }
    return 0;
}

static inline int nt_calc_fail(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)state;
    (void)len;
    int32_t code;
    memcpy(&code, p, sizeof code);
    return code;
}

static inline int nt_calc_drop(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)state;
    (void)p;
    (void)len;
    return 0;
}

static inline int nt_calc_die(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)state;
    (void)len;
    int32_t code;
    memcpy(&code, p, sizeof code);
    if (code != 0)
        actor_ctx_fail(ctx, code);
    else
        actor_ctx_stop(ctx);
    return 0;
}

static inline int nt_calc_point_req(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)state;
    if (len == 8) { /* "ii" -> "i" */
        int32_t v[2], r;
        memcpy(v, p, sizeof v);
        r = v[0] + v[1];
        return actor_ctx_reply(ctx, &r, sizeof r);
    }
    int64_t v[2], r; /* "qq" -> "q" */
    memcpy(v, p, sizeof v);
    r = v[0] + v[1];
    return actor_ctx_reply(ctx, &r, sizeof r);
}

static inline int nt_calc_point_ev(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    ((nt_calc *)state)->points++;
    return 0;
}

static inline int nt_calc_flash(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    ((nt_calc *)state)->flashes++;
    return 0;
}

static inline int nt_calc_shout(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    nt_calc *c = state;
    return actor_publish(actor_ctx_runtime(ctx), "news.flash", c->t->flash, p, len, NULL);
}

static inline void nt_calc_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    nt_calc *c = state;
    for (size_t i = 0; i < c->nheld; i++)
        actor_promise_free(c->held[i]);
    free(c->held);
    free(c->held_keys);
    c->held = NULL;
    c->held_keys = NULL;
    c->nheld = 0;
}

static inline int nt_calc_class(const nt_types *t, actor_class **out)
{
    actor_class *c;
    nt_calc_types = t;
    int rc = actor_class_new("Calc", &c);
    if (rc != ACTOR_OK)
        return rc;
    actor_class_set_state_size(c, sizeof(nt_calc));
    actor_class_on_init(c, nt_calc_init);
    actor_class_on_finalize(c, nt_calc_finalize);
    actor_class_on_request(c, t->sum, nt_calc_sum);
    actor_class_on_event(c, t->seq, nt_calc_seq);
    actor_class_on_request(c, t->stats, nt_calc_stats);
    actor_class_on_request(c, t->slow, nt_calc_slow);
    actor_class_on_event(c, t->tick, nt_calc_tick);
    actor_class_on_request(c, t->fail, nt_calc_fail);
    actor_class_on_request(c, t->drop, nt_calc_drop);
    actor_class_on_event(c, t->die, nt_calc_die);
    actor_class_on_request(c, t->point, nt_calc_point_req);
    actor_class_on_event(c, t->point, nt_calc_point_ev);
    actor_class_on_event(c, t->flash, nt_calc_flash);
    rc = actor_class_on_event(c, t->shout, nt_calc_shout);
    if (rc != ACTOR_OK) {
        actor_class_free(c);
        return rc;
    }
    *out = c;
    return ACTOR_OK;
}

#ifndef NT_PEER_ONLY

/* ---- processes: nats-server and peers ---- */

#define NT_MAX_CHILDREN 32
static pid_t nt_children[NT_MAX_CHILDREN];

static inline void nt_kill_all(void)
{
    for (int i = 0; i < NT_MAX_CHILDREN; i++)
        if (nt_children[i] > 0) {
            kill(nt_children[i], SIGKILL);
            waitpid(nt_children[i], NULL, 0);
            nt_children[i] = 0;
        }
}

static inline void nt_track(pid_t pid)
{
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(nt_kill_all);
    }
    for (int i = 0; i < NT_MAX_CHILDREN; i++)
        if (nt_children[i] == 0) {
            nt_children[i] = pid;
            return;
        }
}

static inline void nt_untrack(pid_t pid)
{
    for (int i = 0; i < NT_MAX_CHILDREN; i++)
        if (nt_children[i] == pid)
            nt_children[i] = 0;
}

/* SIGKILL and reap. */
static inline void nt_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    nt_untrack(pid);
}

/* A port that was free a moment ago (bound to port 0, then closed). */
static inline int nt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static inline int nt_connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Polls until something accepts on 127.0.0.1:port; 0, or -1 at the deadline. */
static inline int nt_wait_port(int port, int ms)
{
    int64_t deadline = nt_now_ms() + ms;
    for (;;) {
        int fd = nt_connect_port(port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (nt_now_ms() > deadline)
            return -1;
        nt_nap_ms(5);
    }
}

/* Starts argv[0] with posix_spawn, stdin/stdout on pipes if asked, or
 * stdout/stderr to /dev/null when quiet. posix_spawn rather than fork:
 * glibc's posix_spawn runs no pthread_atfork handlers, and libactor's (it
 * takes every global lock of the library around a fork) are more locks at
 * once than ThreadSanitizer's deadlock detector can hold. With `pdeath` the
 * child goes through setpriv --pdeathsig KILL: it dies with this process
 * (node_peer sets that itself). */
static inline pid_t nt_spawn(char *const argv[], int *to_child, int *from_child, int quiet,
                             int pdeath)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if ((to_child && pipe2(in, O_CLOEXEC) != 0) || (from_child && pipe2(out, O_CLOEXEC) != 0))
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (to_child)
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    if (from_child)
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    char *wrapped[40];
    char *const *args = argv;
    static char setpriv[] = "/usr/bin/setpriv", pd[] = "--pdeathsig", kill9[] = "KILL",
                dashes[] = "--";
    if (pdeath && access(setpriv, X_OK) == 0) {
        int k = 0;
        wrapped[k++] = setpriv;
        wrapped[k++] = pd;
        wrapped[k++] = kill9;
        wrapped[k++] = dashes;
        for (int i = 0; argv[i] != NULL && k < 39; i++)
            wrapped[k++] = argv[i];
        wrapped[k] = NULL;
        args = wrapped;
    }
    pid_t pid;
    extern char **environ;
    int rc = posix_spawn(&pid, args[0], &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (to_child)
        close(in[0]);
    if (from_child)
        close(out[1]);
    if (rc != 0) {
        if (to_child)
            close(in[1]);
        if (from_child)
            close(out[0]);
        return -1;
    }
    nt_track(pid);
    if (to_child)
        *to_child = in[1];
    if (from_child)
        *from_child = out[0];
    return pid;
}

typedef struct nt_server {
    pid_t pid;
    int port, cluster_port, http_port;
    char url[64];
} nt_server;

/* Starts nats-server on 127.0.0.1 and waits until it accepts. With
 * cluster_port > 0 it joins a cluster (routes: a comma-separated list of
 * nats://127.0.0.1:<cluster port> URLs, or NULL) and serves monitoring on a
 * port of its own (for /routez). Retries with other ports if the chosen
 * one was taken meanwhile. 0, or -1. */
static inline int nt_server_start_ex(nt_server *s, int cluster_port, const char *routes)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        s->pid = 0;
        s->port = nt_free_port();
        s->cluster_port = cluster_port;
        s->http_port = cluster_port > 0 ? nt_free_port() : 0;
        if (s->port <= 0)
            return -1;
        char port[16], http[16], cluster[64];
        snprintf(port, sizeof port, "%d", s->port);
        snprintf(http, sizeof http, "%d", s->http_port);
        snprintf(cluster, sizeof cluster, "nats://127.0.0.1:%d", cluster_port);
        char *argv[16];
        int k = 0;
        argv[k++] = (char *)ACTOR_NATS_SERVER;
        argv[k++] = (char *)"-a";
        argv[k++] = (char *)"127.0.0.1";
        argv[k++] = (char *)"-p";
        argv[k++] = port;
        if (cluster_port > 0) {
            argv[k++] = (char *)"-m";
            argv[k++] = http;
            argv[k++] = (char *)"--cluster";
            argv[k++] = cluster;
            argv[k++] = (char *)"--cluster_name";
            argv[k++] = (char *)"nodetest";
            if (routes != NULL) {
                argv[k++] = (char *)"--routes";
                argv[k++] = (char *)routes;
            }
        }
        argv[k] = NULL;
        s->pid = nt_spawn(argv, NULL, NULL, 1, 1);
        if (s->pid < 0)
            return -1;
        snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", s->port);
        int64_t deadline = nt_now_ms() + 10000;
        while (nt_now_ms() < deadline) {
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid) { /* died: port taken? */
                nt_untrack(s->pid);
                s->pid = 0;
                break;
            }
            if (nt_wait_port(s->port, 20) == 0)
                return 0;
        }
        if (s->pid > 0) {
            nt_kill(s->pid);
            s->pid = 0;
            return -1;
        }
    }
    return -1;
}

static inline int nt_server_start(nt_server *s) { return nt_server_start_ex(s, 0, NULL); }

static inline void nt_server_stop(nt_server *s)
{
    if (s->pid > 0)
        nt_kill(s->pid);
    s->pid = 0;
}

/* The number of routes the server's monitoring port reports, or -1. */
static inline int nt_server_routes(const nt_server *s)
{
    int fd = nt_connect_port(s->http_port);
    if (fd < 0)
        return -1;
    const char req[] = "GET /routez HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return -1;
    }
    static char buf[65536];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    const char *p = strstr(buf, "\"num_routes\":");
    return p ? atoi(p + strlen("\"num_routes\":")) : -1;
}

/* A peer process: tests/node/node_peer <url> <name> <mode>. */
typedef struct nt_peer {
    pid_t pid;
    int in, out; /* its stdin (close: it leaves), its stdout */
} nt_peer;

static inline int nt_peer_start(nt_peer *p, const char *url, const char *name, const char *mode)
{
    char *argv[] = {(char *)ACTOR_NODE_PEER, (char *)url, (char *)name, (char *)mode, NULL};
    p->in = p->out = -1; /* as they stay if the spawn fails */
    p->pid = nt_spawn(argv, &p->in, &p->out, 0, 0);
    return p->pid > 0 ? 0 : -1;
}

/* Reads one line of the peer's stdout into buf, waiting up to ms. 0 or -1. */
static inline int nt_peer_line(nt_peer *p, char *buf, size_t size, int ms)
{
    size_t got = 0;
    int64_t deadline = nt_now_ms() + ms;
    while (got + 1 < size) {
        int left = (int)(deadline - nt_now_ms());
        if (left <= 0)
            return -1;
        struct pollfd pf = {p->out, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0)
            continue;
        char c;
        ssize_t r = read(p->out, &c, 1);
        if (r <= 0)
            return -1;
        if (c == '\n') {
            buf[got] = '\0';
            return 0;
        }
        buf[got++] = c;
    }
    buf[got] = '\0';
    return 0;
}

/* Ends the peer: closes its stdin (it closes its node and exits), waits
 * up to ms, then kills it. Returns its exit status, or -1 if killed. */
static inline int nt_peer_stop(nt_peer *p, int ms)
{
    if (p->pid <= 0)
        return -1;
    if (p->in >= 0)
        close(p->in);
    p->in = -1;
    int64_t deadline = nt_now_ms() + ms;
    int status = -1;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            nt_untrack(p->pid);
            break;
        }
        if (nt_now_ms() > deadline) {
            nt_kill(p->pid);
            break;
        }
        nt_nap_ms(5);
    }
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    p->pid = 0;
    return status;
}

#endif /* NT_PEER_ONLY */

#endif
