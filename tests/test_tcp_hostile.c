/* I/O (issue 14): hostile peers. A separate program: every allocation of
 * the library (and of libevent inside it) goes through a counting allocator
 * (actor_set_allocator, before anything else), so that "no leak" and
 * "memory flat" are measured, not guessed; descriptors are counted in
 * /proc/self/fd.
 *
 * - a client sending 1 GiB without a newline to a line server (max_frame
 *   64 KiB): that connection ends early (ACTOR_EFULL), the client stops
 *   sending once it has; a witness connection is served all along;
 * - a client that never reads while the server writes: ACTOR_EFULL at the
 *   high-water mark, the library's memory flat over many more tries;
 * - 1,000 connects / disconnects (plain, with a half frame, with an RST,
 *   with a round trip): descriptors and allocations back where they were;
 * - half-closed sockets: frames, then EOF (reason 0); the replies written
 *   before the EOF was handled reach the peer (small and large);
 * - RST in the middle of a frame, many clients: ACTOR_ECLOSED each, the
 *   others served, nothing leaked;
 * - floods of lines (1000, 8, 2 bytes, empty) from 16 connections to one
 *   worker: reading pauses before the queued frames grow memory. */
#include "testutil.h"
#include "tcp_testutil.h"

#include <malloc.h>
#include <signal.h>

/* ---- the counting allocator ---- */

static atomic_long g_live_allocs, g_live_bytes;

static void count_in(void *p)
{
    if (p != NULL) {
        atomic_fetch_add_explicit(&g_live_allocs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&g_live_bytes, (long)malloc_usable_size(p),
                                  memory_order_relaxed);
    }
}

static void count_out(void *p)
{
    if (p != NULL) {
        atomic_fetch_sub_explicit(&g_live_allocs, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&g_live_bytes, (long)malloc_usable_size(p),
                                  memory_order_relaxed);
    }
}

static void *h_malloc(size_t n)
{
    void *p = malloc(n);
    count_in(p);
    return p;
}

static void *h_calloc(size_t n, size_t s)
{
    void *p = calloc(n, s);
    count_in(p);
    return p;
}

static void *h_realloc(void *p, size_t n)
{
    if (p == NULL)
        return h_malloc(n);
    long old = (long)malloc_usable_size(p);
    void *q = realloc(p, n);
    if (q != NULL) {
        atomic_fetch_add_explicit(&g_live_bytes, (long)malloc_usable_size(q) - old,
                                  memory_order_relaxed);
    } else if (n == 0) {
        atomic_fetch_sub_explicit(&g_live_allocs, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&g_live_bytes, old, memory_order_relaxed);
    }
    return q;
}

static void h_free(void *p)
{
    count_out(p);
    free(p);
}

static long live_allocs(void) { return atomic_load(&g_live_allocs); }
static long live_bytes(void) { return atomic_load(&g_live_bytes); }

/* ---- the server ---- */

static const actor_msgtype *t_fill;

static struct {
    int echo;
    int record; /* keep a counted address of each connection (g_conn) */
    int big_reply; /* each frame is answered with 16 lines of 60,000 bytes */
    atomic_int spin_ns; /* each frame costs that much work (a slow actor) */
} cfg;

#define MAXC 64
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static actor_addr *g_conn[MAXC];
static int g_nconn;
static atomic_long g_inits, g_finals, g_frames, g_fill_rounds, g_fill_efull, g_fill_bytes;
static atomic_ulong g_frame_bytes;

typedef struct hconn {
    uint64_t written;
} hconn;

static int h_init(actor_ctx *ctx, void *st)
{
    atomic_fetch_add(&g_inits, 1);
    if (cfg.record) {
        pthread_mutex_lock(&g_mu);
        if (g_nconn < MAXC)
            g_conn[g_nconn++] = addr_ref(actor_ctx_self(ctx));
        pthread_mutex_unlock(&g_mu);
    }
    return 0;
}

static int h_data(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&g_frames, 1);
    atomic_fetch_add(&g_frame_bytes, len);
    int spin = atomic_load_explicit(&cfg.spin_ns, memory_order_relaxed);
    if (spin > 0) {
        int64_t until = tu_now_ns() + spin;
        while (tu_now_ns() < until)
            ;
    }
    if (cfg.echo) {
        int rc = actor_ctx_write(ctx, p, len);
        TU_CHECK(rc == ACTOR_OK || rc == ACTOR_EFULL);
    }
    if (cfg.big_reply) {
        static char big[60000];
        memset(big, 'b', sizeof big);
        for (int i = 0; i < 16; i++)
            TU_CHECK_CODE(actor_ctx_write(ctx, big, sizeof big), ACTOR_OK);
    }
    return 0;
}

static int h_fill(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    hconn *h = st;
    static const char chunk[16384];
    int rc;
    while ((rc = actor_ctx_write(ctx, chunk, sizeof chunk)) == ACTOR_OK) {
        h->written += sizeof chunk;
        atomic_fetch_add(&g_fill_bytes, (long)sizeof chunk);
    }
    TU_CHECK_CODE(rc, ACTOR_EFULL);
    if (rc == ACTOR_EFULL)
        atomic_fetch_add(&g_fill_efull, 1);
    atomic_fetch_add(&g_fill_rounds, 1);
    return 0;
}

static void h_finalize(actor_ctx *ctx, void *st) { atomic_fetch_add(&g_finals, 1); }

static actor_class *h_class(const char *name, int framing, size_t max_frame)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_set_state_size(c, sizeof(hconn)));
    assert_ok(actor_class_on_init(c, h_init));
    assert_ok(actor_class_on_data(c, h_data));
    assert_ok(actor_class_on_finalize(c, h_finalize));
    assert_ok(actor_class_on_event(c, t_fill, h_fill));
    assert_ok(actor_class_set_framing(c, framing, max_frame));
    return c;
}

static actor_addr *conn_at(int i)
{
    pthread_mutex_lock(&g_mu);
    actor_addr *a = i < g_nconn ? g_conn[i] : NULL;
    pthread_mutex_unlock(&g_mu);
    return a;
}

static int nconn(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_nconn;
    pthread_mutex_unlock(&g_mu);
    return n;
}

static void conns_reset(void)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nconn; i++)
        addr_release(g_conn[i]);
    g_nconn = 0;
    pthread_mutex_unlock(&g_mu);
}

static int setup(void **state)
{
    t_fill = tu_type("tcph.Fill", "", NULL);
    memset(&cfg, 0, sizeof cfg);
    conns_reset();
    atomic_store(&g_inits, 0);
    atomic_store(&g_finals, 0);
    atomic_store(&g_frames, 0);
    atomic_store(&g_frame_bytes, 0);
    atomic_store(&g_fill_rounds, 0);
    atomic_store(&g_fill_efull, 0);
    atomic_store(&g_fill_bytes, 0);
    return tu_setup(state);
}

static int teardown(void **state)
{
    conns_reset();
    return tu_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int join_reason(actor_addr *a)
{
    assert_code(addr_join(a, TU_LONG_MS), ACTOR_OK);
    int r = 12345;
    assert_ok(addr_exit_reason(a, &r));
    return r;
}

static actor_addr *listen_ok(actor_runtime *rt, actor_class *cls, char *bound)
{
    actor_addr *l = NULL;
    assert_ok(actor_tcp_listen(rt, "127.0.0.1:0", cls, &l, bound, 64));
    return l;
}

/* A witness: one echo round trip on its own connection. */
static void witness_echo(int fd, tcpu_reader *r, int i)
{
    char msg[32], line[64];
    int n = snprintf(msg, sizeof msg, "witness %d\n", i);
    assert_int_equal(tcpu_send_all(fd, msg, (size_t)n), 0);
    assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), n - 1);
    assert_memory_equal(line, msg, (size_t)n - 1);
}

/* The process's baseline: descriptors and live allocations. */
typedef struct baseline {
    int fds;
    long allocs, bytes;
} baseline;

static baseline measure(void)
{
    baseline b = {tcpu_fd_count(), live_allocs(), live_bytes()};
    return b;
}

/* ------------------------------------------------------------------------ */

/* 1 GiB without a newline to a line server with max_frame 64 KiB. */
static void hostile_gigabyte_line(void **state)
{
    baseline b0 = measure();
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.Giga", ACTOR_FRAME_LINE, 0 /* 64 KiB */);
    cfg.echo = 1;
    cfg.record = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    int w = tcpu_connect(bound);
    assert_true(w >= 0);
    tcpu_reader *wr = malloc(sizeof *wr);
    tcpu_reader_init(wr, w);
    witness_echo(w, wr, 0);
    assert_int_equal(nconn(), 1);
    int h = tcpu_connect(bound);
    assert_true(h >= 0);
    TU_WAIT_UNTIL(nconn() == 2, TU_LONG_MS);
    actor_addr *hc = conn_at(1);
    tcpu_nonblock(h);
    /* A fixed send buffer (the kernel doubles it, and does not autotune a
     * buffer set this way): what the client gets out before the server
     * ends the connection is then this buffer, the server's receive queue
     * (which grows with what the server reads, about max_frame) and what
     * the server read, whatever net.ipv4.tcp_wmem allows; without it the
     * send buffer alone may grow to tcp_wmem's maximum (4 MiB by default,
     * more on hosts that raised it). */
    int sndbuf = 256 << 10;
    assert_int_equal(setsockopt(h, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    static char chunk[64 << 10];
    memset(chunk, 'g', sizeof chunk);
    const uint64_t giga = (uint64_t)1 << 30;
    uint64_t sent = 0;
    int64_t deadline = tcpu_now_ms() + 4 * TU_LONG_MS;
    int ended_by = 0; /* 1: send error, 2: the server's actor Done */
    int witnessed = 0;
    while (sent < giga && ended_by == 0) {
        ssize_t n = send(h, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN) {
            ended_by = 1;
            break;
        }
        if (addr_is_done(hc)) {
            ended_by = 2;
            break;
        }
        if (tcpu_now_ms() > deadline)
            fail_msg("the server neither read nor ended the connection (%llu bytes sent)",
                     (unsigned long long)sent);
        /* the others are served meanwhile */
        witness_echo(w, wr, ++witnessed);
        struct pollfd p = {h, POLLOUT, 0};
        poll(&p, 1, 10);
    }
    printf("  the server ended it after %llu bytes of 1 GiB sent (%s); %d witness round "
           "trips meanwhile\n",
           (unsigned long long)sent, ended_by == 1 ? "send failed" : "its actor Done",
           witnessed);
    assert_true(ended_by != 0);
    assert_true(sent < ((uint64_t)32 << 20));
    assert_int_equal(join_reason(hc), ACTOR_EFULL);
    assert_int_equal(atomic_load(&g_frames), 1 + witnessed);
    witness_echo(w, wr, 9999);
    close(h);
    close(w);
    assert_int_equal(join_reason(conn_at(0)), 0);
    free(wr);
    conns_reset();
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    baseline b1 = measure();
    printf("  descriptors %d -> %d; live allocations %ld -> %ld (%ld -> %ld bytes)\n", b0.fds,
           b1.fds, b0.allocs, b1.allocs, b0.bytes, b1.bytes);
    assert_int_equal(b1.fds, b0.fds);
    assert_true(b1.allocs <= b0.allocs);
    tu_assert_no_failures();
}

/* A client that never reads while the server writes. */
static void hostile_never_reads(void **state)
{
    baseline b0 = measure();
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.Writer", ACTOR_FRAME_RAW, 0);
    cfg.record = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    TU_WAIT_UNTIL(nconn() == 1, TU_LONG_MS);
    actor_addr *c = conn_at(0);
    long idle = live_bytes(); /* the runtime and one connection, nothing written */
    long rounds = tu_scale(1000), peak = 0;
    for (long i = 0; i < rounds; i++) {
        assert_ok(addr_send(c, t_fill, NULL, 0));
        TU_WAIT_UNTIL(atomic_load(&g_fill_rounds) == i + 1, TU_LONG_MS);
        long now = live_bytes();
        if (now > peak)
            peak = now;
    }
    assert_int_equal(atomic_load(&g_fill_efull), rounds);
    /* Bounded whatever the pace: the 1 MiB high-water mark and a chunk,
     * in evbuffer chains that may round each chunk up to twice its size. */
    assert_true(peak - idle < (3l << 20));
    /* Nothing kept per try: once the client has read all that was written,
     * the library is back where it was before the first write. (How much
     * sits in the library's buffer rather than the kernel's during the
     * tries moves with the pace, so only this end state is exact.) */
    long total = atomic_load(&g_fill_bytes), got = 0;
    static char sink[65536];
    int64_t deadline = tcpu_now_ms() + 4 * TU_LONG_MS;
    while (got < total && tcpu_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, sink, sizeof sink, 0);
        if (n > 0)
            got += n;
        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
            break;
    }
    assert_int_equal(got, total);
    TU_WAIT_UNTIL(live_bytes() - idle < (32l << 10), TU_LONG_MS);
    printf("  %ld tries, each ended ACTOR_EFULL, %ld bytes written: library memory %ld bytes "
           "before the first, peak %ld, %ld once the client had read it all\n",
           rounds, total, idle, peak, live_bytes());
    /* once more, so that the reset below leaves output unread */
    assert_ok(addr_send(c, t_fill, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&g_fill_rounds) == rounds + 1, TU_LONG_MS);
    /* the client goes away with all that unread: reset */
    tcpu_rst_close(fd);
    assert_int_equal(join_reason(c), ACTOR_ECLOSED);
    conns_reset();
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    baseline b1 = measure();
    assert_int_equal(b1.fds, b0.fds);
    assert_true(b1.allocs <= b0.allocs);
    tu_assert_no_failures();
}

/* 1,000 connects and disconnects of four kinds; then the same again: the
 * second thousand leaves descriptors and allocations where the first did. */
static void churn(const char *bound, int n, int base)
{
    char line[64];
    tcpu_reader *r = malloc(sizeof *r);
    for (int i = 0; i < n; i++) {
        int fd = tcpu_connect(bound);
        assert_true(fd >= 0);
        switch ((base + i) % 4) {
        case 0: /* connect, close */
            close(fd);
            break;
        case 1: /* half a frame, close */
            assert_int_equal(tcpu_send_str(fd, "half a li"), 0);
            close(fd);
            break;
        case 2: /* a frame and a half, reset */
            assert_int_equal(tcpu_send_str(fd, "one\nhalf"), 0);
            tcpu_rst_close(fd);
            break;
        default: /* a round trip, close */
            tcpu_reader_init(r, fd);
            assert_int_equal(tcpu_send_str(fd, "ping\n"), 0);
            assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), 4);
            close(fd);
            break;
        }
    }
    free(r);
}

static unsigned long long actors_live(actor_runtime *rt)
{
    actor_runtime_stats rs = {.size = sizeof rs};
    assert_ok(actor_runtime_stats_get(rt, &rs));
    return rs.actors_live;
}

/* The connections of a churn are all gone (only the listener lives), and
 * the live allocation count has stopped moving: h_finalize runs before the
 * worker frees the actor's state and unlinks it (actors_live), and the last
 * reference may go after that, so neither g_finals nor actors_live alone
 * says that everything was freed. Settled: no change over 10 polls 2 ms
 * apart. (A baseline taken a bit early only makes the later comparison
 * more lenient; the comparison itself waits for its condition.) */
static baseline settled(actor_runtime *rt)
{
    TU_WAIT_UNTIL(actors_live(rt) == 1, TU_LONG_MS);
    const int64_t deadline = tu_now_ms() + TU_LONG_MS;
    long last = live_allocs();
    int same = 0;
    while (same < 10) {
        if (tu_now_ms() > deadline)
            fail_msg("live allocations still moving after %d ms", TU_LONG_MS);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        long now = live_allocs();
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return measure();
}

static void hostile_connect_churn(void **state)
{
    baseline b0 = measure();
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.Churn", ACTOR_FRAME_LINE, 0);
    cfg.echo = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    int n = (int)tu_scale(1000);
    churn(bound, n, 0);
    TU_WAIT_UNTIL(atomic_load(&g_finals) == n, 4 * TU_LONG_MS);
    baseline b1 = settled(rt);
    churn(bound, n, 0);
    TU_WAIT_UNTIL(atomic_load(&g_finals) == 2 * n, 4 * TU_LONG_MS);
    /* Every connection ends: only the listener lives. */
    TU_WAIT_UNTIL(actors_live(rt) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&g_inits), 2 * n);
    /* The second thousand leaves descriptors and allocations where the
     * first did (a base may make its wake-up descriptor at its first
     * cross-thread wake-up, in either thousand). Waited for, not sampled:
     * what the last connections free may still be on its way; something
     * kept per connection never comes back, and the wait fails. */
    TU_WAIT_UNTIL(tcpu_fd_count() <= b1.fds + 1 && live_allocs() <= b1.allocs + 16 &&
                      live_bytes() <= b1.bytes + (64 << 10),
                  TU_LONG_MS);
    baseline b2 = measure();
    printf("  2 x %d connections: descriptors %d -> %d, live allocations %ld -> %ld "
           "(%ld -> %ld bytes)\n",
           n, b1.fds, b2.fds, b1.allocs, b2.allocs, b1.bytes, b2.bytes);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    baseline b3 = measure();
    printf("  before the runtime and after it: descriptors %d -> %d, live allocations %ld -> "
           "%ld\n", b0.fds, b3.fds, b0.allocs, b3.allocs);
    assert_int_equal(b3.fds, b0.fds);
    assert_true(b3.allocs <= b0.allocs);
    tu_assert_no_failures();
}

/* shutdown(SHUT_WR) from the client: the server handles the frames, then
 * the EOF (reason 0); the client sees the end of the stream. */
static void hostile_half_close(void **state)
{
    baseline b0 = measure();
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.Half", ACTOR_FRAME_LINE, 0);
    cfg.record = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    enum { N = 20 };
    int fd[N];
    for (int i = 0; i < N; i++) {
        fd[i] = tcpu_connect(bound);
        assert_true(fd[i] >= 0);
        assert_int_equal(tcpu_send_str(fd[i], "a\nbb\nccc\nunfinished"), 0);
        assert_int_equal(shutdown(fd[i], SHUT_WR), 0);
    }
    TU_WAIT_UNTIL(nconn() == N, TU_LONG_MS);
    for (int i = 0; i < N; i++)
        assert_int_equal(join_reason(conn_at(i)), 0);
    assert_int_equal(atomic_load(&g_frames), 3 * N);
    assert_int_equal(atomic_load(&g_frame_bytes), 6 * N);
    tcpu_reader *r = malloc(sizeof *r);
    for (int i = 0; i < N; i++) {
        tcpu_reader_init(r, fd[i]);
        assert_int_equal(tcpu_expect_end(r, TU_LONG_MS), 1);
        close(fd[i]);
    }
    free(r);
    conns_reset();
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    baseline b1 = measure();
    assert_int_equal(b1.fds, b0.fds);
    assert_true(b1.allocs <= b0.allocs);
    tu_assert_no_failures();
}

/* A request-response peer that half-closes after its request (as `nc -N`
 * or an HTTP/1.0 client does): the replies written while handling the
 * frames before the EOF reach it, then the end. */
static void hostile_half_close_replies(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.HalfEcho", ACTOR_FRAME_LINE, 0);
    cfg.echo = 1;
    cfg.record = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    enum { N = 20 };
    int lost = 0;
    tcpu_reader *r = malloc(sizeof *r);
    for (int i = 0; i < N; i++) {
        int fd = tcpu_connect(bound);
        assert_true(fd >= 0);
        assert_int_equal(tcpu_send_str(fd, "question\n"), 0);
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        tcpu_reader_init(r, fd);
        char line[64];
        long n = tcpu_read_line(r, line, sizeof line, TU_LONG_MS);
        assert_true(n != -2);
        if (n != 8)
            lost++;
        close(fd);
    }
    free(r);
    TU_WAIT_UNTIL(atomic_load(&g_finals) == N, TU_LONG_MS);
    if (lost)
        fail_msg("%d of %d half-closing clients got no reply: the echo written while "
                 "handling their last frame was dropped when the EOF stopped the actor",
                 lost, N);
    conns_reset();
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* The same with a reply larger than one write of the socket (16 lines of
 * 60,000 bytes, written while handling the request, before the EOF was
 * handled): the half-closing peer reads all of it, then the end. */
static void hostile_half_close_big_reply(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.HalfBig", ACTOR_FRAME_LINE, 0);
    cfg.big_reply = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    const long want = 16 * 60001;
    tcpu_reader *r = malloc(sizeof *r);
    long got[3];
    for (int i = 0; i < 3; i++) {
        int fd = tcpu_connect(bound);
        assert_true(fd >= 0);
        assert_int_equal(tcpu_send_str(fd, "question\n"), 0);
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        tcpu_reader_init(r, fd);
        got[i] = 0;
        int64_t dl = tcpu_now_ms() + TU_LONG_MS;
        while (tcpu_fill(r, dl) == 1) {
            got[i] += (long)r->have;
            r->have = 0;
        }
        close(fd);
    }
    free(r);
    TU_WAIT_UNTIL(atomic_load(&g_finals) == 3, TU_LONG_MS);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    printf("  half-closing peers got %ld, %ld, %ld bytes of a %ld-byte reply\n", got[0], got[1],
           got[2], want);
    for (int i = 0; i < 3; i++)
        if (got[i] != want)
            fail_msg("a peer that half-closed after its request got %ld bytes of the %ld-byte "
                     "reply written before the EOF was handled: the EOF stopped the actor and "
                     "its socket closed with the rest unsent",
                     got[i], want);
    tu_assert_no_failures();
}

/* RST in the middle of a frame, from many clients at once: each of their
 * connections ends ACTOR_ECLOSED; a witness is served throughout. */
static void hostile_rst_mid_frame(void **state)
{
    baseline b0 = measure();
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = h_class("tcph.Rst", ACTOR_FRAME_LEN32, 0);
    cfg.echo = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    /* the witness speaks len32 */
    int w = tcpu_connect(bound);
    assert_true(w >= 0);
    tcpu_reader *wr = malloc(sizeof *wr);
    tcpu_reader_init(wr, w);
    int n = (int)tu_scale(200);
    for (int i = 0; i < n; i++) {
        int fd = tcpu_connect(bound);
        assert_true(fd >= 0);
        unsigned char hdr[4 + 10];
        tu_put_u32(hdr, 1000); /* a 1000-byte frame, 10 bytes of it sent */
        memset(hdr + 4, 'z', 10);
        assert_int_equal(tcpu_send_all(fd, hdr, i % 2 ? sizeof hdr : 2), 0);
        tcpu_rst_close(fd);
        if (i % 20 == 0) {
            unsigned char f[4 + 5] = {5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}, back[9];
            assert_int_equal(tcpu_send_all(w, f, sizeof f), 0);
            assert_int_equal(tcpu_read_exact(wr, back, sizeof back, TU_LONG_MS), 0);
            assert_memory_equal(back, f, sizeof f);
        }
    }
    TU_WAIT_UNTIL(atomic_load(&g_finals) == n, TU_LONG_MS);
    assert_int_equal(atomic_load(&g_inits), n + 1);
    close(w);
    TU_WAIT_UNTIL(atomic_load(&g_finals) == n + 1, TU_LONG_MS);
    free(wr);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    baseline b1 = measure();
    printf("  %d resets: descriptors %d -> %d, live allocations %ld -> %ld\n", n, b0.fds, b1.fds,
           b0.allocs, b1.allocs);
    assert_int_equal(b1.fds, b0.fds);
    assert_true(b1.allocs <= b0.allocs);
    tu_assert_no_failures();
}

/* K connections flooding lines of `linelen` bytes ("\n" included) to one
 * worker whose actors take 1 us a frame: every connection's read brings
 * up to 4 KiB, a worker's turn handles at most 25,600 messages, so frames
 * queue up when the lines are short enough; reading must pause (1 MiB of frames per connection, the
 * header says) before they grow the library's memory. The senders stop
 * after `seconds`, at a byte cap, or once the library holds 128 MiB more
 * than before (which fails the test). */
static void flood(int linelen, int k, const char *name)
{
    actor_runtime *rt = tu_runtime(1);
    actor_class *srv = h_class(name, ACTOR_FRAME_LINE, 0);
    atomic_store(&cfg.spin_ns, 1000); /* a slow actor: 1 us a frame */
    char bound[64];
    actor_addr *l = listen_ok(rt, srv, bound);
    int fd[64];
    struct pollfd pf[64];
    assert_true(k <= 64);
    for (int i = 0; i < k; i++) {
        fd[i] = tcpu_connect(bound);
        assert_true(fd[i] >= 0);
        tcpu_nonblock(fd[i]);
        pf[i].fd = fd[i];
        pf[i].events = POLLOUT;
    }
    TU_WAIT_UNTIL(atomic_load(&g_inits) == k, TU_LONG_MS);
    long before = live_bytes(), peak = 0;
    static char buf[64 << 10];
    size_t chunk = sizeof buf - sizeof buf % (size_t)linelen;
    for (size_t i = 0; i < chunk; i++)
        buf[i] = (i + 1) % (size_t)linelen == 0 ? '\n' : 'x';
    size_t off[64] = {0}; /* of the current chunk, per connection */
    uint64_t sent = 0;
    const uint64_t cap = (uint64_t)tu_scale(32) << 20;
    int64_t end = tcpu_now_ms() + 2000;
    int why = 0;
    while (why == 0) {
        long g = live_bytes() - before;
        if (g > peak)
            peak = g;
        if (g > (128l << 20))
            why = 2;
        else if (sent >= cap)
            why = 1;
        else if (tcpu_now_ms() > end)
            why = 3;
        if (why)
            break;
        if (poll(pf, (nfds_t)k, 100) <= 0)
            continue;
        for (int i = 0; i < k; i++) {
            if (!(pf[i].revents & POLLOUT))
                continue;
            ssize_t n = send(fd[i], buf + off[i], chunk - off[i], MSG_NOSIGNAL);
            if (n > 0) {
                sent += (uint64_t)n;
                off[i] = (off[i] + (size_t)n) % chunk;
            } else {
                assert_true(n < 0 && errno == EAGAIN);
            }
        }
    }
    atomic_store(&cfg.spin_ns, 0); /* it catches up quickly now */
    /* the rest of each connection's chunk (whole lines), then the end */
    for (int i = 0; i < k; i++) {
        int fl = fcntl(fd[i], F_GETFL);
        fcntl(fd[i], F_SETFL, fl & ~O_NONBLOCK);
        if (off[i])
            assert_int_equal(tcpu_send_all(fd[i], buf + off[i], chunk - off[i]), 0);
        close(fd[i]);
    }
    TU_WAIT_UNTIL(atomic_load(&g_finals) == k, 8 * TU_LONG_MS);
    long limit = (long)k * (3l << 19) + (8l << 20); /* 1.5 MiB each + 8 MiB */
    printf("  %d connections, lines of %d bytes: %llu bytes sent, %ld frames; the library "
           "grew by %ld bytes at most (limit %ld)%s\n",
           k, linelen, (unsigned long long)sent, atomic_load(&g_frames), peak, limit,
           why == 2 ? ": stopped at +128 MiB" : "");
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    if (peak > limit)
        fail_msg("reading did not pause in time: %d connections sending %d-byte lines grew "
                 "the library's memory by %ld bytes (more than 1.5 MiB a connection)",
                 k, linelen, peak);
    tu_assert_no_failures();
}

static void hostile_flood_long_lines(void **state) { flood(1000, 16, "tcph.FloodLong"); }
static void hostile_flood_8byte_lines(void **state) { flood(8, 16, "tcph.Flood8"); }
static void hostile_flood_2byte_lines(void **state) { flood(2, 16, "tcph.Flood2"); }
static void hostile_flood_empty_lines(void **state) { flood(1, 16, "tcph.FloodEmpty"); }

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (actor_set_allocator(h_malloc, h_calloc, h_realloc, h_free) != ACTOR_OK) {
        fprintf(stderr, "actor_set_allocator failed\n");
        return 1;
    }
    /* One-time set-up of the library (the listener's class, ...) before any
     * baseline is taken. */
    {
        actor_runtime *rt = NULL;
        actor_class *c = NULL;
        actor_addr *l = NULL, *k = NULL;
        char bound[64];
        if (actor_runtime_new(2, &rt) != ACTOR_OK || actor_class_new("tcph.Warm", &c) != ACTOR_OK ||
            actor_tcp_listen(rt, "127.0.0.1:0", c, &l, bound, sizeof bound) != ACTOR_OK ||
            actor_tcp_connect(rt, bound, c, &k) != ACTOR_OK) {
            fprintf(stderr, "warm-up failed\n");
            return 1;
        }
        addr_release(k);
        addr_release(l);
        actor_runtime_free(rt);
        actor_class_free(c);
    }
    const struct CMUnitTest tests[] = {
        T(hostile_gigabyte_line),
        T(hostile_never_reads),
        T(hostile_connect_churn),
        T(hostile_half_close),
        T(hostile_half_close_replies),
        T(hostile_half_close_big_reply),
        T(hostile_rst_mid_frame),
        T(hostile_flood_long_lines),
        T(hostile_flood_8byte_lines),
        T(hostile_flood_2byte_lines),
        T(hostile_flood_empty_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
