/* tcp_bench: libactor's line echo server (every connection an actor) beside
 * a bare libevent bufferevent echo server (bench/bare_echo.c, the limit of
 * this stack), in the same sitting, driven by one C client that pipelines.
 *
 *   tcp_bench [ROUNDS]   ROUNDS (default 3) rounds; each runs both servers,
 *                        alternating which goes first, each a fresh process:
 *     rt     1 connection, one line in flight: round trips/s
 *     msgs   100 connections, DEPTH (16) lines in flight each: lines/s
 *     idle   10,000 connections, each opened with one round trip, then
 *            idle: the server's RSS growth per connection (RLIMIT_NOFILE is
 *            raised to its hard limit; skipped with a message if that is
 *            below 10,100)
 *   tcp_bench server     libactor's echo server alone (prints "PORT n",
 *                        serves until stdin closes); WORKERS=k workers
 *                        (default 1: the bare server has one thread)
 *
 * Lines are 32 bytes with their "\n". SECS (default 2) is each throughput
 * measurement's length, after 0.3 s of warm-up. One RESULT line per
 * measurement, then the medians and the ratios against the goals:
 * >= 0.9x the bare server on both throughputs, <= 4 KiB per idle
 * connection. The machine is shared: read medians, not single runs. */
#define _GNU_SOURCE
#include <actor/actor.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BARE_ECHO_PATH
#define BARE_ECHO_PATH "bare_echo"
#endif

#define LINE 32
#define NCONN 100
#define DEPTH 16
#define NIDLE 10000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* ---- libactor's echo server ---- */

static int echo_line(actor_ctx *ctx, void *state, const void *line, size_t len)
{
    (void)state;
    int rc = actor_ctx_write(ctx, line, len);
    return rc == ACTOR_EFULL ? 0 : rc; /* a peer that does not read: drop */
}

static int run_server(void)
{
    const char *w = getenv("WORKERS");
    unsigned workers = w ? (unsigned)atoi(w) : 1;
    actor_runtime *rt;
    actor_class *cls;
    if (actor_runtime_new(workers, &rt) != ACTOR_OK || actor_class_new("bench.Echo", &cls) != ACTOR_OK)
        return 1;
    actor_class_on_data(cls, echo_line);
    actor_class_set_framing(cls, ACTOR_FRAME_LINE, 0);
    actor_addr *l;
    char bound[64];
    int rc = actor_tcp_listen(rt, "127.0.0.1:0", cls, &l, bound, sizeof bound);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "tcp_bench server: %s\n", actor_strerror(rc));
        return 1;
    }
    printf("PORT %s\n", strrchr(bound, ':') + 1);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return 0;
}

/* ---- server processes ---- */

typedef struct server {
    const char *name;
    pid_t pid;
    int in; /* its stdin: closing it stops it */
    int port;
} server;

static void server_start(server *s, int actor)
{
    int pin[2], pout[2];
    if (pipe(pin) != 0 || pipe(pout) != 0)
        die("pipe");
    s->name = actor ? "actor" : "bare";
    s->pid = fork();
    if (s->pid < 0)
        die("fork");
    if (s->pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        close(pin[1]);
        close(pout[0]);
        if (actor)
            execl("/proc/self/exe", "tcp_bench", "server", (char *)NULL);
        else
            execl(BARE_ECHO_PATH, "bare_echo", "0", (char *)NULL);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    s->in = pin[1];
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(pout[0], line + n, 1);
        if (r <= 0)
            break;
        if (line[n++] == '\n')
            break;
    }
    close(pout[0]);
    if (sscanf(line, "PORT %d", &s->port) != 1) {
        fprintf(stderr, "tcp_bench: the %s server did not start\n", s->name);
        exit(1);
    }
}

static void server_stop(server *s)
{
    close(s->in);
    int st;
    waitpid(s->pid, &st, 0);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* ---- the client ---- */

static char lines[64 * LINE]; /* 64 equal lines */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One round trip on a blocking socket; 0 or -1. */
static int round_trip(int fd)
{
    if (send(fd, lines, LINE, MSG_NOSIGNAL) != LINE)
        return -1;
    size_t got = 0;
    char buf[LINE];
    while (got < LINE) {
        ssize_t n = recv(fd, buf, LINE - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static double bench_rt(int port, double secs)
{
    int fd = connect_to(port);
    if (fd < 0)
        die("connect");
    double t0 = now_s();
    while (now_s() - t0 < 0.3)
        if (round_trip(fd) != 0)
            die("round trip");
    long n = 0;
    t0 = now_s();
    double el;
    while ((el = now_s() - t0) < secs) {
        for (int i = 0; i < 100; i++)
            if (round_trip(fd) != 0)
                die("round trip");
        n += 100;
    }
    close(fd);
    return n / el;
}

typedef struct pconn {
    int fd;
    uint64_t sent, got; /* bytes */
} pconn;

/* Sends what c owes (to keep DEPTH lines in flight), nonblocking. */
static void top_up(pconn *c)
{
    for (;;) {
        uint64_t want = c->got + (uint64_t)DEPTH * LINE;
        if (c->sent >= want)
            return;
        size_t off = c->sent % LINE;
        size_t n = want - c->sent;
        if (n > sizeof lines - off)
            n = sizeof lines - off;
        ssize_t w = send(c->fd, lines + off, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EAGAIN)
                return;
            die("send");
        }
        c->sent += (uint64_t)w;
    }
}

static double bench_msgs(int port, double secs)
{
    static pconn c[NCONN];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < NCONN; i++) {
        c[i].fd = connect_to(port);
        if (c[i].fd < 0)
            die("connect");
        fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
        c[i].sent = c[i].got = 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &c[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
        top_up(&c[i]);
    }
    double t0 = now_s(), start = 0;
    uint64_t base_bytes = 0, total = 0;
    char buf[1 << 16];
    struct epoll_event evs[NCONN];
    for (;;) {
        double t = now_s();
        if (start == 0 && t - t0 >= 0.3) {
            start = t;
            base_bytes = total;
        }
        if (start != 0 && t - start >= secs)
            break;
        int n = epoll_wait(ep, evs, NCONN, 100);
        for (int i = 0; i < n; i++) {
            pconn *p = evs[i].data.ptr;
            if (evs[i].events & EPOLLIN) {
                for (;;) {
                    ssize_t r = recv(p->fd, buf, sizeof buf, 0);
                    if (r > 0) {
                        p->got += (uint64_t)r;
                        total += (uint64_t)r;
                        continue;
                    }
                    if (r < 0 && errno == EAGAIN)
                        break;
                    die("recv");
                }
            }
            top_up(p);
        }
    }
    double el = now_s() - start;
    for (int i = 0; i < NCONN; i++)
        close(c[i].fd);
    close(ep);
    return (double)(total - base_bytes) / LINE / el;
}

/* The server's RSS growth per idle connection; -1 if skipped. */
static double bench_idle(server *s)
{
    static int fds[NIDLE];
    /* warm-up: a hundred connections opened and closed */
    for (int i = 0; i < 100; i++) {
        int fd = connect_to(s->port);
        if (fd < 0 || round_trip(fd) != 0)
            die("warm-up");
        close(fd);
    }
    struct timespec settle = {0, 100 * 1000 * 1000};
    nanosleep(&settle, NULL);
    long before = rss_kb(s->pid);
    for (int i = 0; i < NIDLE; i++) {
        fds[i] = connect_to(s->port);
        if (fds[i] < 0 || round_trip(fds[i]) != 0) {
            fprintf(stderr, "tcp_bench: idle connection %d failed: %s\n", i, strerror(errno));
            for (int k = 0; k < i; k++)
                close(fds[k]);
            return -1;
        }
    }
    nanosleep(&settle, NULL);
    long after = rss_kb(s->pid);
    for (int i = 0; i < NIDLE; i++)
        close(fds[i]);
    double per = (double)(after - before) * 1024.0 / NIDLE;
    printf("RESULT tcp_idle server=%s conns=%d rss_before_kb=%ld rss_after_kb=%ld "
           "bytes_per_conn=%.0f\n",
           s->name, NIDLE, before, after, per);
    fflush(stdout);
    return per;
}

static int raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur >= NIDLE + 100;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && strcmp(argv[1], "server") == 0)
        return run_server();
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    if (rounds < 1 || rounds > 50)
        rounds = 3;
    const char *se = getenv("SECS");
    double secs = se ? atof(se) : 2.0;
    for (size_t i = 0; i < sizeof lines; i++)
        lines[i] = (i + 1) % LINE == 0 ? '\n' : (char)('a' + i % 26);
    int idle_ok = raise_nofile();
    if (!idle_ok)
        printf("tcp_bench: RLIMIT_NOFILE cannot be raised to %d: the idle measurement is "
               "skipped\n", NIDLE + 100);

    double rt[2][50], msgs[2][50], idle[2][50];
    int nidle[2] = {0, 0};
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int actor = (r + k) % 2; /* alternate who goes first */
            server s;
            server_start(&s, actor);
            rt[actor][r] = bench_rt(s.port, secs);
            printf("RESULT tcp_rt server=%s round=%d conns=1 secs=%.1f rt_per_s=%.0f\n", s.name,
                   r + 1, secs, rt[actor][r]);
            fflush(stdout);
            msgs[actor][r] = bench_msgs(s.port, secs);
            printf("RESULT tcp_msgs server=%s round=%d conns=%d depth=%d secs=%.1f "
                   "msgs_per_s=%.0f\n",
                   s.name, r + 1, NCONN, DEPTH, secs, msgs[actor][r]);
            fflush(stdout);
            if (idle_ok) {
                double b = bench_idle(&s);
                if (b >= 0)
                    idle[actor][nidle[actor]++] = b;
            }
            server_stop(&s);
        }
    }
    double rt_b = median(rt[0], rounds), rt_a = median(rt[1], rounds);
    double m_b = median(msgs[0], rounds), m_a = median(msgs[1], rounds);
    printf("RESULT tcp_summary rounds=%d rt_per_s_bare=%.0f rt_per_s_actor=%.0f rt_ratio=%.3f "
           "msgs_per_s_bare=%.0f msgs_per_s_actor=%.0f msgs_ratio=%.3f",
           rounds, rt_b, rt_a, rt_a / rt_b, m_b, m_a, m_a / m_b);
    if (nidle[0] && nidle[1])
        printf(" idle_bytes_per_conn_bare=%.0f idle_bytes_per_conn_actor=%.0f",
               median(idle[0], nidle[0]), median(idle[1], nidle[1]));
    printf("\n");
    printf("goals: rt_ratio >= 0.9: %s; msgs_ratio >= 0.9: %s; idle <= 4096 bytes: %s\n",
           rt_a / rt_b >= 0.9 ? "met" : "NOT met", m_a / m_b >= 0.9 ? "met" : "NOT met",
           !(nidle[1]) ? "skipped" : median(idle[1], nidle[1]) <= 4096 ? "met" : "NOT met");
    return 0;
}
