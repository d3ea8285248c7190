/* I/O (ABI 1.1 part 5, issue 14): actors that own TCP connections.
 *
 * Listen/connect on 127.0.0.1 and ::1 with port 0 and the bound address
 * given back; framing raw / line ("\n" and "\r\n") / len32, max_frame (an
 * oversize frame ends the connection with ACTOR_EFULL); actor_ctx_write's
 * high-water mark and actor_ctx_close after flush; the end of a connection
 * (EOF: 0, RST: ACTOR_ECLOSED) as the actor's exit reason; other actors
 * talking to a connection with events; connection actors that never leave
 * their worker; a listener that closes its socket when interrupted or
 * released while its connections go on; slow actors and fast peers;
 * runtime shutdown closing every socket; bad input.
 *
 * Loopback only; every wait has a deadline. Server-side connection actors
 * register their address in init (g_srv) so that the test can look at them. */
#include "testutil.h"
#include "tcp_testutil.h"

#include <signal.h>

#define MAXC 256

/* ---- server-side connections, in the order their init ran ---- */

typedef struct srv_reg {
    pthread_mutex_t mu;
    actor_addr *conn[MAXC];
    pthread_t tid[MAXC];
    int n;
} srv_reg;
static srv_reg g_srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int srv_count(void)
{
    pthread_mutex_lock(&g_srv.mu);
    int n = g_srv.n;
    pthread_mutex_unlock(&g_srv.mu);
    return n;
}

static actor_addr *srv_conn(int i)
{
    pthread_mutex_lock(&g_srv.mu);
    actor_addr *a = i < g_srv.n ? g_srv.conn[i] : NULL;
    pthread_mutex_unlock(&g_srv.mu);
    return a;
}

static void srv_reset(void)
{
    pthread_mutex_lock(&g_srv.mu);
    for (int i = 0; i < g_srv.n; i++)
        addr_release(g_srv.conn[i]);
    g_srv.n = 0;
    pthread_mutex_unlock(&g_srv.mu);
}

/* ---- frames the server side received ---- */

#define MAXF 8192
typedef struct frame_log {
    pthread_mutex_t mu;
    int n;
    int conn[MAXF];
    size_t len[MAXF];
    char *data[MAXF];
} frame_log;
static frame_log g_frames = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void frames_add(int conn, const void *p, size_t len)
{
    pthread_mutex_lock(&g_frames.mu);
    if (g_frames.n < MAXF) {
        int i = g_frames.n++;
        g_frames.conn[i] = conn;
        g_frames.len[i] = len;
        g_frames.data[i] = malloc(len + 1);
        memcpy(g_frames.data[i], p, len);
        g_frames.data[i][len] = '\0';
    }
    pthread_mutex_unlock(&g_frames.mu);
}

static int frames_count(void)
{
    pthread_mutex_lock(&g_frames.mu);
    int n = g_frames.n;
    pthread_mutex_unlock(&g_frames.mu);
    return n;
}

static void frames_reset(void)
{
    pthread_mutex_lock(&g_frames.mu);
    for (int i = 0; i < g_frames.n; i++)
        free(g_frames.data[i]);
    g_frames.n = 0;
    pthread_mutex_unlock(&g_frames.mu);
}

/* Main thread: frame i is exactly (p, len). */
static void assert_frame(int i, const void *p, size_t len)
{
    pthread_mutex_lock(&g_frames.mu);
    int ok = i < g_frames.n && g_frames.len[i] == len && memcmp(g_frames.data[i], p, len) == 0;
    size_t got = i < g_frames.n ? g_frames.len[i] : 0;
    pthread_mutex_unlock(&g_frames.mu);
    if (!ok)
        fail_msg("frame %d: expected %zu bytes \"%.*s\", got %zu bytes", i, len,
                 (int)(len > 40 ? 40 : len), (const char *)p, got);
}

/* ---- the server's connection class ---- */

static const actor_msgtype *t_say, *t_fill, *t_close, *t_go;

static struct {
    int echo;          /* on_data writes the frame back               */
    int spin_ns;       /* on_data works that long per frame (slow)    */
    size_t fill_chunk; /* t_fill writes chunks of this until EFULL     */
    int seqcheck;      /* frames start with their number: check, count */
} cfg;

typedef struct sconn {
    int idx;
    pthread_t tid;
    atomic_long wrong_thread;
    long handled;
    uint64_t next_seq;
    uint64_t written; /* bytes accepted by actor_ctx_write (t_fill)  */
    int efull;        /* t_fill ended at ACTOR_EFULL                */
} sconn;

static atomic_long g_wrong_thread;
static atomic_uint_fast64_t g_fill_written;
static atomic_int g_fill_rounds;
static atomic_int g_finalized;
static atomic_long g_seq_frames;

static void check_thread(sconn *s)
{
    if (!pthread_equal(s->tid, pthread_self())) {
        atomic_fetch_add(&s->wrong_thread, 1);
        atomic_fetch_add(&g_wrong_thread, 1);
    }
    s->handled++;
}

static int srv_init(actor_ctx *ctx, void *st)
{
    sconn *s = st;
    s->tid = pthread_self();
    pthread_mutex_lock(&g_srv.mu);
    s->idx = g_srv.n < MAXC ? g_srv.n : MAXC - 1;
    if (g_srv.n < MAXC) {
        g_srv.conn[g_srv.n] = addr_ref(actor_ctx_self(ctx));
        g_srv.tid[g_srv.n] = s->tid;
        g_srv.n++;
    }
    pthread_mutex_unlock(&g_srv.mu);
    return 0;
}

static int srv_data(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    sconn *s = st;
    check_thread(s);
    if (cfg.spin_ns > 0) {
        int64_t until = tu_now_ns() + cfg.spin_ns;
        while (tu_now_ns() < until)
            ;
    }
    if (cfg.seqcheck) {
        char num[21];
        memcpy(num, p, len < 20 ? len : 20);
        num[len < 20 ? len : 20] = '\0';
        TU_CHECK(strtoull(num, NULL, 10) == s->next_seq);
        s->next_seq++;
        atomic_fetch_add(&g_seq_frames, 1);
        return 0;
    }
    frames_add(s->idx, p, len);
    if (len == 4 && memcmp(p, "FAIL", 4) == 0)
        return -100; /* the actor fails with this code */
    if (len == 4 && memcmp(p, "STOP", 4) == 0) {
        TU_CHECK_CODE(actor_ctx_write(ctx, "unsent", 6), ACTOR_OK);
        actor_ctx_stop(ctx); /* the socket closes; what was written is lost */
        return 0;
    }
    if (cfg.echo)
        TU_CHECK_CODE(actor_ctx_write(ctx, p, len), ACTOR_OK);
    return 0;
}

/* Another actor's event: write its payload to the socket. */
static int srv_say(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    check_thread(st);
    TU_CHECK_CODE(actor_ctx_write(ctx, p, len), ACTOR_OK);
    return 0;
}

/* Writes a position-stamped pattern until the high-water mark refuses. */
static int srv_fill(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    sconn *s = st;
    check_thread(s);
    unsigned char *buf = malloc(cfg.fill_chunk);
    int rc;
    for (;;) {
        for (size_t i = 0; i < cfg.fill_chunk; i++)
            buf[i] = (unsigned char)((s->written + i) % 251);
        rc = actor_ctx_write(ctx, buf, cfg.fill_chunk);
        if (rc != ACTOR_OK)
            break;
        s->written += cfg.fill_chunk;
    }
    free(buf);
    TU_CHECK_CODE(rc, ACTOR_EFULL);
    s->efull = rc == ACTOR_EFULL;
    atomic_store(&g_fill_written, s->written);
    atomic_fetch_add(&g_fill_rounds, 1);
    return 0;
}

static atomic_int g_close_rc, g_write_after_close_rc, g_close_again_rc;

static int srv_close(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    check_thread(st);
    atomic_store(&g_close_rc, actor_ctx_close(ctx));
    atomic_store(&g_write_after_close_rc, actor_ctx_write(ctx, "x", 1));
    atomic_store(&g_close_again_rc, actor_ctx_close(ctx));
    return 0;
}

static void srv_finalize(actor_ctx *ctx, void *st) { atomic_fetch_add(&g_finalized, 1); }

static actor_class *srv_class(const char *name, int framing, size_t max_frame)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_set_state_size(c, sizeof(sconn)));
    assert_ok(actor_class_on_init(c, srv_init));
    assert_ok(actor_class_on_data(c, srv_data));
    assert_ok(actor_class_on_finalize(c, srv_finalize));
    assert_ok(actor_class_on_event(c, t_say, srv_say));
    assert_ok(actor_class_on_event(c, t_fill, srv_fill));
    assert_ok(actor_class_on_event(c, t_close, srv_close));
    assert_ok(actor_class_set_framing(c, framing, max_frame));
    return c;
}

static void define_types(void)
{
    t_say = tu_type("tcp.Say", NULL, NULL);
    t_fill = tu_type("tcp.Fill", "", NULL);
    t_close = tu_type("tcp.Close", "", NULL);
    t_go = tu_type("tcp.Go", "", NULL);
}

static int setup(void **state)
{
    define_types();
    srv_reset();
    frames_reset();
    memset(&cfg, 0, sizeof cfg);
    atomic_store(&g_wrong_thread, 0);
    atomic_store(&g_fill_written, 0);
    atomic_store(&g_fill_rounds, 0);
    atomic_store(&g_finalized, 0);
    atomic_store(&g_seq_frames, 0);
    return tu_setup(state);
}

static int teardown(void **state)
{
    srv_reset();
    frames_reset();
    return tu_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int exit_reason(actor_addr *a)
{
    int r = 12345;
    assert_code(addr_exit_reason(a, &r), ACTOR_OK);
    return r;
}

/* Waits until the actor is Done and returns its reason. */
static int join_reason(actor_addr *a)
{
    assert_code(addr_join(a, TU_LONG_MS), ACTOR_OK);
    return exit_reason(a);
}

static actor_addr *listen_ok(actor_runtime *rt, const char *hp, actor_class *cls, char *bound,
                             size_t blen)
{
    actor_addr *l = NULL;
    int rc = actor_tcp_listen(rt, hp, cls, &l, bound, blen);
    if (rc != ACTOR_OK || l == NULL)
        fail_msg("actor_tcp_listen(%s) = %d (%s)", hp, rc, actor_strerror(rc));
    return l;
}

/* ---- the client side made with actor_tcp_connect ---- */

typedef struct cconn {
    int got;
} cconn;
static atomic_int g_client_got;
static char g_client_last[128];

static int cli_init(actor_ctx *ctx, void *st)
{
    /* ACTOR_ECLOSED when the connection was refused at once */
    int rc = actor_ctx_write(ctx, "ping", 4);
    TU_CHECK(rc == ACTOR_OK || rc == ACTOR_ECLOSED);
    return 0;
}

static int cli_data(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    size_t c = len < sizeof g_client_last - 1 ? len : sizeof g_client_last - 1;
    memcpy(g_client_last, p, c);
    g_client_last[c] = '\0';
    atomic_fetch_add(&g_client_got, 1);
    TU_CHECK_CODE(actor_ctx_close(ctx), ACTOR_OK);
    return 0;
}

static actor_class *cli_class(const char *name)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_set_state_size(c, sizeof(cconn)));
    assert_ok(actor_class_on_init(c, cli_init));
    assert_ok(actor_class_on_data(c, cli_data));
    assert_ok(actor_class_set_framing(c, ACTOR_FRAME_LINE, 0));
    return c;
}

/* ------------------------------------------------------------------------ */

/* Listen on `hp` (port 0), check the bound address, echo lines to a plain
 * client and to an actor_tcp_connect client; clean ends are reason 0. */
static void listen_connect_echo(const char *hp, const char *prefix)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.EchoSrv", ACTOR_FRAME_LINE, 0);
    actor_class *cli = cli_class("tcp.Cli");
    cfg.echo = 1;
    char bound[64];
    memset(bound, 'Z', sizeof bound);
    actor_addr *l = listen_ok(rt, hp, srv, bound, sizeof bound);
    /* "host:port", the port really bound */
    size_t pl = strlen(prefix);
    assert_int_equal(strncmp(bound, prefix, pl), 0);
    int port = atoi(bound + pl);
    assert_true(port > 0 && port < 65536);
    char again[80];
    snprintf(again, sizeof again, "%s%d", prefix, port);
    assert_string_equal(bound, again);

    /* A plain client: lines with "\n" and "\r\n", an empty one. */
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    assert_int_equal(tcpu_send_str(fd, "one\ntwo\r\n\nthr"), 0);
    assert_int_equal(tcpu_send_str(fd, "ee\n"), 0);
    char line[128];
    const char *want[] = {"one", "two", "", "three"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), (long)strlen(want[i]));
        assert_string_equal(line, want[i]);
    }
    /* An actor client: writes "ping" in init (before it is connected),
     * closes when the echo comes; both ends stop with reason 0. */
    atomic_store(&g_client_got, 0);
    actor_addr *c = NULL;
    assert_ok(actor_tcp_connect(rt, bound, cli, &c));
    assert_int_equal(join_reason(c), 0);
    assert_int_equal(atomic_load(&g_client_got), 1);
    assert_string_equal(g_client_last, "ping");
    TU_WAIT_UNTIL(srv_count() == 2, TU_LONG_MS);
    assert_int_equal(join_reason(srv_conn(1)), 0);

    close(fd);
    assert_int_equal(join_reason(srv_conn(0)), 0);
    free(r);
    addr_release(c);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    actor_class_free(cli);
    assert_int_equal(atomic_load(&g_wrong_thread), 0);
    tu_assert_no_failures();
}

static void tcp_v4_port0_echo(void **state) { listen_connect_echo("127.0.0.1:0", "127.0.0.1:"); }

static void tcp_v6_port0_echo(void **state)
{
    if (!tcpu_v6_available()) {
        printf("  (skipped: ::1 cannot be bound here)\n");
        skip();
    }
    listen_connect_echo("[::1]:0", "[::1]:");
}

/* Line framing: "\n", "\r\n", a "\r" inside a line, empty lines, bytes
 * split at every point of the stream; max_frame exact fits. */
static void tcp_line_framing(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.LineSrv", ACTOR_FRAME_LINE, 8);
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    /* The stream and the frames it must give. */
    /* (a line of max_frame bytes before "\r\n" when the "\r" is read
     * alone: tcp_line_max_frame_crlf_split) */
    const char stream[] = "a\r\nb\n\n\r\nc\rd\n12345678\n1234567\r\n\r\r\n" /* 8 frames */;
    const char *want[] = {"a", "b", "", "", "c\rd", "12345678", "1234567", "\r"};
    assert_int_equal(tcpu_send_str(fd, stream), 0);
    TU_WAIT_UNTIL(frames_count() == 8, TU_LONG_MS);
    for (int i = 0; i < 8; i++)
        assert_frame(i, want[i], strlen(want[i]));
    /* The same stream one byte at a time, each byte read on its own. */
    TU_WAIT_UNTIL(tcpu_peer_fd(fd) >= 0, TU_LONG_MS);
    int sfd = tcpu_peer_fd(fd);
    for (size_t i = 0; i < sizeof stream - 1; i++) {
        assert_int_equal(tcpu_send_all(fd, stream + i, 1), 0);
        TU_WAIT_UNTIL(tcpu_consumed(fd, sfd), TU_LONG_MS);
    }
    TU_WAIT_UNTIL(frames_count() == 16, TU_LONG_MS);
    for (int i = 0; i < 8; i++)
        assert_frame(8 + i, want[i], strlen(want[i]));
    assert_false(addr_is_done(srv_conn(0)));
    close(fd);
    assert_int_equal(join_reason(srv_conn(0)), 0);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* A line of exactly max_frame bytes whose "\r" is read before its "\n": the
 * frame fits (the "\r" is not part of it), so the connection goes on. */
static void tcp_line_max_frame_crlf_split(void **state)
{
    actor_runtime *rt = tu_runtime(1);
    actor_class *srv = srv_class("tcp.CrlfSrv", ACTOR_FRAME_LINE, 8);
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    TU_WAIT_UNTIL(tcpu_peer_fd(fd) >= 0, TU_LONG_MS);
    int sfd = tcpu_peer_fd(fd);
    TU_WAIT_UNTIL(srv_count() == 1, TU_LONG_MS);
    assert_int_equal(tcpu_send_str(fd, "12345678\r"), 0);
    TU_WAIT_UNTIL(tcpu_consumed(fd, sfd) || addr_is_done(srv_conn(0)), TU_LONG_MS);
    assert_int_equal(tcpu_send_str(fd, "\nok\n"), 0);
    TU_WAIT_UNTIL(frames_count() == 2 || addr_is_done(srv_conn(0)), TU_LONG_MS);
    if (addr_is_done(srv_conn(0)))
        fail_msg("a line of max_frame bytes + \"\\r\" (then \"\\n\") ended the connection, "
                 "reason %d (%s)", exit_reason(srv_conn(0)), actor_strerror(exit_reason(srv_conn(0))));
    assert_frame(0, "12345678", 8);
    assert_frame(1, "ok", 2);
    close(fd);
    assert_int_equal(join_reason(srv_conn(0)), 0);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

static void put_len32(unsigned char *p, uint32_t n) { tu_put_u32(p, n); }

/* Len32 framing: 0-byte, small and max_frame-sized frames, in one write and
 * split inside headers and bodies; echoed with their header. */
static void tcp_len32_framing(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    enum { MAXF_ = 70000 };
    actor_class *srv = srv_class("tcp.Len32Srv", ACTOR_FRAME_LEN32, MAXF_);
    cfg.echo = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    size_t sizes[] = {0, 1, 300, 65536, MAXF_, 3};
    size_t total = 0;
    for (size_t i = 0; i < 6; i++)
        total += 4 + sizes[i];
    unsigned char *stream = malloc(total), *p = stream;
    for (size_t i = 0; i < 6; i++) {
        put_len32(p, (uint32_t)sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            p[4 + k] = (unsigned char)(i * 31 + k);
        p += 4 + sizes[i];
    }
    TU_WAIT_UNTIL(tcpu_peer_fd(fd) >= 0, TU_LONG_MS);
    int sfd = tcpu_peer_fd(fd);
    for (int round = 0; round < 2; round++) {
        if (round == 0) {
            assert_int_equal(tcpu_send_all(fd, stream, total), 0);
        } else { /* split at 2, 5, 7, 300, ... */
            size_t cuts[] = {2, 5, 7, 300, 311, 312, 40000, total};
            size_t at = 0;
            for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
                assert_int_equal(tcpu_send_all(fd, stream + at, cuts[k] - at), 0);
                at = cuts[k];
                if (cuts[k] != total)
                    TU_WAIT_UNTIL(tcpu_consumed(fd, sfd), TU_LONG_MS);
            }
        }
        unsigned char *back = malloc(total);
        assert_int_equal(tcpu_read_exact(r, back, total, TU_LONG_MS), 0);
        assert_memory_equal(back, stream, total);
        free(back);
    }
    TU_WAIT_UNTIL(frames_count() == 12, TU_LONG_MS);
    p = stream;
    for (int i = 0; i < 6; i++) {
        assert_frame(i, p + 4, sizes[i]);
        assert_frame(6 + i, p + 4, sizes[i]);
        p += 4 + sizes[i];
    }
    close(fd);
    assert_int_equal(join_reason(srv_conn(0)), 0);
    free(stream);
    free(r);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* Raw framing: chunks of at most max_frame; together the whole stream. */
static void tcp_raw_framing(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.RawSrv", ACTOR_FRAME_RAW, 100);
    cfg.echo = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    enum { N = 20000 };
    unsigned char *out = malloc(N), *back = malloc(N);
    for (size_t i = 0; i < N; i++)
        out[i] = (unsigned char)(i * 7 + (i >> 8));
    assert_int_equal(tcpu_send_all(fd, out, N), 0);
    assert_int_equal(tcpu_read_exact(r, back, N, TU_LONG_MS), 0);
    assert_memory_equal(back, out, N);
    size_t sum = 0;
    pthread_mutex_lock(&g_frames.mu);
    int nf = g_frames.n, bad = 0;
    for (int i = 0; i < nf; i++) {
        if (g_frames.len[i] == 0 || g_frames.len[i] > 100 ||
            memcmp(g_frames.data[i], out + sum, g_frames.len[i]) != 0)
            bad++;
        sum += g_frames.len[i];
    }
    pthread_mutex_unlock(&g_frames.mu);
    assert_int_equal(bad, 0);
    assert_int_equal(sum, N);
    assert_true(nf >= N / 100);
    /* actor_ctx_write of a raw frame over max_frame is fine (no frame) */
    close(fd);
    assert_int_equal(join_reason(srv_conn(0)), 0);
    free(out);
    free(back);
    free(r);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* Sends `bytes`, expects the frames before the oversize one handled, the
 * connection ended with ACTOR_EFULL, and the client's socket at its end. */
static void oversize_case(actor_runtime *rt, actor_class *srv, const void *bytes, size_t len,
                          int nframes_before)
{
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int before = srv_count();
    int fbefore = frames_count();
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    assert_int_equal(tcpu_send_all(fd, bytes, len), 0);
    TU_WAIT_UNTIL(srv_count() == before + 1, TU_LONG_MS);
    assert_int_equal(join_reason(srv_conn(before)), ACTOR_EFULL);
    assert_int_equal(frames_count(), fbefore + nframes_before);
    /* The client sees the end (EOF, or a reset: the server closed with
     * unread bytes) */
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    int64_t dl = tcpu_now_ms() + TU_LONG_MS;
    while (tcpu_fill(r, dl) == 1)
        r->have = 0;
    assert_true(r->eof != 0);
    free(r);
    close(fd);
    addr_release(l);
}

static void tcp_max_frame_efull(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *line = srv_class("tcp.MaxLine", ACTOR_FRAME_LINE, 16);
    actor_class *len32 = srv_class("tcp.MaxLen32", ACTOR_FRAME_LEN32, 16);
    actor_class *raw = srv_class("tcp.MaxRaw", ACTOR_FRAME_RAW, 16);
    /* a complete line over max_frame */
    oversize_case(rt, line, "ok\n12345678901234567\n", 21, 1);
    /* a line over max_frame with no end yet: ended without waiting for it */
    oversize_case(rt, line, "ok\n12345678901234567", 20, 1);
    /* a "\r\n" line whose text is one byte over */
    oversize_case(rt, line, "12345678901234567\r\n", 19, 0);
    /* a len32 header over max_frame: ended at the header */
    unsigned char b[4 + 16 + 4];
    put_len32(b, 16);
    memset(b + 4, 'x', 16);
    put_len32(b + 20, 17);
    oversize_case(rt, len32, b, sizeof b, 1);
    put_len32(b, 0xFFFFFFFFu);
    oversize_case(rt, len32, b, 4, 0);
    /* raw never is: chunks of max_frame */
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", raw, bound, sizeof bound);
    int before = srv_count(), fb = frames_count();
    int fd = tcpu_connect(bound);
    char big[1000];
    memset(big, 'r', sizeof big);
    assert_int_equal(tcpu_send_all(fd, big, sizeof big), 0);
    TU_WAIT_UNTIL(srv_count() == before + 1, TU_LONG_MS);
    close(fd);
    assert_int_equal(join_reason(srv_conn(before)), 0);
    assert_true(frames_count() - fb >= (int)(sizeof big / 16));
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(line);
    actor_class_free(len32);
    actor_class_free(raw);
    tu_assert_no_failures();
}

/* A peer that does not read: actor_ctx_write refuses with ACTOR_EFULL past
 * the high-water mark, whatever the actor tries; then actor_ctx_close: the
 * peer gets every byte accepted, in order, then EOF; the actor's reason 0. */
static void tcp_write_highwater_close_flush(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.FillSrv", ACTOR_FRAME_RAW, 0);
    cfg.fill_chunk = 64 << 10;
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    TU_WAIT_UNTIL(srv_count() == 1, TU_LONG_MS);
    actor_addr *c = srv_conn(0);
    /* One handler call: exactly the high-water mark (1 MiB) and one chunk. */
    assert_ok(addr_send(c, t_fill, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&g_fill_rounds) == 1, TU_LONG_MS);
    uint64_t first = atomic_load(&g_fill_written);
    assert_true(first > (1u << 20) && first <= (1u << 20) + (64u << 10));
    /* More tries: the kernel's buffers take some, then nothing more. */
    int rounds = (int)tu_scale(200);
    for (int i = 0; i < rounds; i++) {
        assert_ok(addr_send(c, t_fill, NULL, 0));
        TU_WAIT_UNTIL(atomic_load(&g_fill_rounds) == 2 + i, TU_LONG_MS);
    }
    uint64_t total = atomic_load(&g_fill_written);
    printf("  high-water: %llu bytes in the first call, %llu accepted in all (%d tries)\n",
           (unsigned long long)first, (unsigned long long)total, rounds + 1);
    assert_true(total < (64u << 20)); /* bounded: kernel buffers + 1 MiB */
    /* Close after flush; the actor's own tries after it. */
    assert_ok(addr_send(c, t_close, NULL, 0));
    TU_WAIT_UNTIL(atomic_load(&g_close_again_rc) != 0, TU_LONG_MS);
    assert_code(atomic_load(&g_close_rc), ACTOR_OK);
    assert_code(atomic_load(&g_write_after_close_rc), ACTOR_ECLOSED);
    assert_code(atomic_load(&g_close_again_rc), ACTOR_ECLOSED);
    /* The peer reads all of it now: the pattern, in order, then EOF. */
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    uint64_t got = 0, bad = 0;
    int64_t dl = tcpu_now_ms() + 4 * TU_LONG_MS;
    while (tcpu_fill(r, dl) == 1) {
        for (size_t i = 0; i < r->have; i++)
            bad += (unsigned char)r->buf[i] != (unsigned char)((got + i) % 251);
        got += r->have;
        r->have = 0;
    }
    assert_int_equal(r->eof, 1);
    assert_int_equal(bad, 0);
    assert_int_equal(got, total);
    assert_int_equal(join_reason(c), 0);
    free(r);
    close(fd);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    assert_int_equal(atomic_load(&g_wrong_thread), 0);
    tu_assert_no_failures();
}

/* The end of a connection is the actor's reason: EOF 0; RST (also in the
 * middle of a frame) ACTOR_ECLOSED; the frames before it are handled. */
static void tcp_end_reasons(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.EndSrv", ACTOR_FRAME_LINE, 0);
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int a = tcpu_connect(bound), b = tcpu_connect(bound), c = tcpu_connect(bound);
    assert_true(a >= 0 && b >= 0 && c >= 0);
    TU_WAIT_UNTIL(srv_count() == 3, TU_LONG_MS);
    assert_int_equal(tcpu_send_str(a, "a1\na2\n"), 0);
    assert_int_equal(tcpu_send_str(b, "b1\n"), 0);
    assert_int_equal(tcpu_send_str(c, "c1\nc2 half a li"), 0);
    TU_WAIT_UNTIL(frames_count() == 4, TU_LONG_MS);
    /* which server actor is whose: by their first frame */
    actor_addr *sa = NULL, *sb = NULL, *sc = NULL;
    pthread_mutex_lock(&g_frames.mu);
    for (int i = 0; i < g_frames.n; i++) {
        actor_addr *x = g_srv.conn[g_frames.conn[i]];
        if (g_frames.data[i][0] == 'a')
            sa = x;
        else if (g_frames.data[i][0] == 'b')
            sb = x;
        else
            sc = x;
    }
    pthread_mutex_unlock(&g_frames.mu);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_non_null(sc);
    close(a);
    tcpu_rst_close(b);
    TU_WAIT_UNTIL(tcpu_peer_fd(c) >= 0, TU_LONG_MS);
    int sfd = tcpu_peer_fd(c);
    TU_WAIT_UNTIL(tcpu_consumed(c, sfd), TU_LONG_MS); /* the half line is in */
    tcpu_rst_close(c);
    assert_int_equal(join_reason(sa), 0);
    assert_int_equal(join_reason(sb), ACTOR_ECLOSED);
    assert_int_equal(join_reason(sc), ACTOR_ECLOSED);
    assert_int_equal(frames_count(), 4);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* ---- senders: plain actors that send t_say events to a connection ---- */

static actor_addr *g_target;
static int g_say_per_go;
static atomic_long g_cross_thread_sends, g_sends;

static int sender_go(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    pthread_t me = pthread_self();
    if (!pthread_equal(me, g_srv.tid[0]))
        atomic_fetch_add(&g_cross_thread_sends, 1);
    for (int i = 0; i < g_say_per_go; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "say %ld", atomic_fetch_add(&g_sends, 1));
        TU_CHECK_CODE(addr_send(g_target, t_say, msg, (size_t)n), ACTOR_OK);
    }
    return 0;
}

/* Other actors talk to a connection by sending it events; its handlers
 * (events and frames) all run on one thread, however many messages other
 * workers send it. */
static void tcp_events_and_pinning(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.PinSrv", ACTOR_FRAME_LINE, 0);
    cfg.echo = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    TU_WAIT_UNTIL(srv_count() == 1, TU_LONG_MS);
    g_target = srv_conn(0);
    g_say_per_go = 20;
    atomic_store(&g_sends, 0);
    atomic_store(&g_cross_thread_sends, 0);
    actor_class *snd = tu_class("tcp.Sender");
    assert_ok(actor_class_on_event(snd, t_go, sender_go));
    enum { NS = 4 };
    actor_addr *s[NS];
    for (int i = 0; i < NS; i++)
        s[i] = tu_spawn(rt, snd, NULL);
    int rounds = (int)tu_scale(100);
    long expect = 0;
    char line[64];
    for (int k = 0; k < rounds; k++) {
        for (int i = 0; i < NS; i++)
            assert_ok(addr_send(s[i], t_go, NULL, 0));
        /* a frame of the client's own between them */
        assert_int_equal(tcpu_send_str(fd, "mine\n"), 0);
        long want = (long)NS * g_say_per_go + 1;
        for (long j = 0; j < want; j++)
            assert_true(tcpu_read_line(r, line, sizeof line, TU_LONG_MS) >= 0);
        expect += want;
    }
    printf("  %ld lines through the connection; %ld of %d go-handlers on another thread "
           "than the connection's\n",
           expect, atomic_load(&g_cross_thread_sends), rounds * NS);
    assert_true(atomic_load(&g_cross_thread_sends) > 0);
    assert_int_equal(atomic_load(&g_wrong_thread), 0);
    actor_runtime_stats rs = {.size = sizeof rs};
    assert_ok(actor_runtime_stats_get(rt, &rs));
    printf("  runtime migrations (any actor): %llu\n", rs.migrations);
    for (int i = 0; i < NS; i++)
        addr_release(s[i]);
    close(fd);
    assert_int_equal(join_reason(g_target), 0);
    free(r);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    actor_class_free(snd);
    tu_assert_no_failures();
}

static int connect_refused(const char *bound)
{
    int fd = tcpu_connect(bound);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == ECONNREFUSED;
}

/* Interrupting the listener (or releasing its last address) closes its
 * socket: connecting is refused; its connections go on. */
static void tcp_listener_interrupt(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.LisSrv", ACTOR_FRAME_LINE, 0);
    cfg.echo = 1;
    char bound[64], bound2[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    actor_addr *l2 = listen_ok(rt, "127.0.0.1:0", srv, bound2, sizeof bound2);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    char line[64];
    assert_int_equal(tcpu_send_str(fd, "before\n"), 0);
    assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), 6);
    assert_ok(addr_interrupt(l));
    assert_int_equal(join_reason(l), 0);
    assert_true(connect_refused(bound));
    assert_int_equal(tcpu_send_str(fd, "after\n"), 0);
    assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), 5);
    assert_string_equal(line, "after");
    assert_false(addr_is_done(srv_conn(0)));
    /* The second listener: its last address released. */
    assert_false(connect_refused(bound2)); /* a connection, closed at once */
    TU_WAIT_UNTIL(srv_count() == 2, TU_LONG_MS);
    assert_int_equal(join_reason(srv_conn(1)), 0);
    addr_release(l2);
    TU_WAIT_UNTIL(connect_refused(bound2), TU_LONG_MS);
    close(fd);
    assert_int_equal(join_reason(srv_conn(0)), 0);
    free(r);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* actor_tcp_connect to a port nobody listens on: the actor stops with
 * ACTOR_ECLOSED (a write in its init is accepted and lost, or refused with
 * ACTOR_ECLOSED when the refusal came at once). */
static void tcp_connect_refused(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.RefSrv", ACTOR_FRAME_LINE, 0);
    actor_class *cli = cli_class("tcp.RefCli");
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    assert_ok(addr_interrupt(l));
    assert_int_equal(join_reason(l), 0);
    assert_true(connect_refused(bound));
    atomic_store(&g_client_got, 0);
    for (int i = 0; i < 5; i++) {
        actor_addr *c = NULL;
        assert_ok(actor_tcp_connect(rt, bound, cli, &c));
        assert_int_equal(join_reason(c), ACTOR_ECLOSED);
        addr_release(c);
    }
    assert_int_equal(atomic_load(&g_client_got), 0);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    actor_class_free(cli);
    tu_assert_no_failures();
}

/* Slow actors (2 us a frame) and fast peers: four connections each send
 * 8 MiB of numbered lines at once; the peers wait on their sockets, every
 * frame arrives, in order, and the ends come after the last frames. */
static void *slow_sender(void *arg)
{
    int fd = (int)(intptr_t)arg;
    enum { LINE = 1024 };
    char *buf = malloc(64 * LINE);
    uint64_t total = (uint64_t)tu_scale(8 << 20) / LINE, seq = 0;
    while (seq < total) {
        size_t n = 0;
        for (int k = 0; k < 64 && seq < total; k++, seq++) {
            char *p = buf + n;
            memset(p, 'a' + (int)(seq % 26), LINE - 1);
            snprintf(p, 21, "%020llu", (unsigned long long)seq);
            p[20] = ' ';
            p[LINE - 1] = '\n';
            n += LINE;
        }
        if (tcpu_send_all(fd, buf, n) != 0) {
            TU_CHECK(!"send failed");
            break;
        }
    }
    free(buf);
    close(fd);
    return (void *)(uintptr_t)total;
}

static void tcp_slow_actors_in_order(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.SlowSrv", ACTOR_FRAME_LINE, 0);
    cfg.spin_ns = 2000;
    cfg.seqcheck = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    enum { K = 4 };
    pthread_t th[K];
    for (int i = 0; i < K; i++) {
        int fd = tcpu_connect(bound);
        assert_true(fd >= 0);
        th[i] = tu_thread(slow_sender, (void *)(intptr_t)fd);
    }
    long lines = 0;
    for (int i = 0; i < K; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        lines += (long)(uintptr_t)ret;
    }
    TU_WAIT_UNTIL(srv_count() == K, TU_LONG_MS);
    for (int i = 0; i < K; i++)
        assert_int_equal(join_reason(srv_conn(i)), 0);
    assert_int_equal(atomic_load(&g_seq_frames), lines);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* Shutdown closes every socket the runtime owns: listeners, accepted and
 * connected sockets; the process has as many descriptors as before. */
static void tcp_shutdown_closes_sockets(void **state)
{
    int fds0 = tcpu_fd_count();
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.ShutSrv", ACTOR_FRAME_LINE, 0);
    actor_class *cli = tu_class("tcp.ShutCli"); /* stays connected */
    assert_ok(actor_class_set_framing(cli, ACTOR_FRAME_LINE, 0));
    cfg.echo = 1;
    char bound[64], bound6[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    actor_addr *l6 = tcpu_v6_available() ? listen_ok(rt, "[::1]:0", srv, bound6, sizeof bound6)
                                         : NULL;
    enum { N = 10 };
    int fd[N];
    actor_addr *c[N];
    for (int i = 0; i < N; i++) {
        fd[i] = tcpu_connect(i % 2 && l6 ? bound6 : bound);
        assert_true(fd[i] >= 0);
        assert_ok(actor_tcp_connect(rt, bound, cli, &c[i]));
    }
    TU_WAIT_UNTIL(srv_count() == 2 * N, TU_LONG_MS);
    int threads = 0;
    for (int i = 0; i < 2 * N; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= pthread_equal(g_srv.tid[k], g_srv.tid[i]);
        threads += !seen;
    }
    printf("  %d accepted connections (2 listeners) run on %d worker thread(s) of 2\n", 2 * N,
           threads);
    int fds1 = tcpu_fd_count();
    printf("  descriptors: %d before the runtime, %d with %d connections\n", fds0, fds1, 2 * N);
    assert_true(fds1 >= fds0 + 4 * N + 1);
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    /* every plain client sees its end */
    tcpu_reader *r = malloc(sizeof *r);
    for (int i = 0; i < N; i++) {
        tcpu_reader_init(r, fd[i]);
        assert_int_equal(tcpu_expect_end(r, TU_LONG_MS), 1);
        close(fd[i]);
        assert_true(addr_is_done(c[i]));
        addr_release(c[i]);
    }
    free(r);
    for (int i = 0; i < 2 * N; i++)
        assert_int_equal(exit_reason(srv_conn(i)), 0);
    addr_release(l);
    addr_release(l6);
    srv_reset();
    actor_runtime_free(rt);
    actor_class_free(srv);
    actor_class_free(cli);
    assert_int_equal(tcpu_fd_count(), fds0);
    tu_assert_no_failures();
}

/* ---- bad input ---- */

static atomic_int g_plain_write_rc, g_plain_close_rc;

static int plain_init(actor_ctx *ctx, void *st)
{
    atomic_store(&g_plain_write_rc, actor_ctx_write(ctx, "x", 1));
    atomic_store(&g_plain_close_rc, actor_ctx_close(ctx));
    return 0;
}

static atomic_int g_big_write_rc = 1, g_raw_big_rc = 1;

static int small_init(actor_ctx *ctx, void *st)
{
    char big[17];
    memset(big, 'b', sizeof big);
    atomic_store(&g_big_write_rc, actor_ctx_write(ctx, big, 17));
    TU_CHECK_CODE(actor_ctx_write(ctx, big, 16), ACTOR_OK);
    TU_CHECK_CODE(actor_ctx_write(ctx, NULL, 1), ACTOR_EINVAL);
    TU_CHECK_CODE(actor_ctx_write(ctx, NULL, 0), ACTOR_OK); /* an empty line */
    return 0;
}

static int raw_init(actor_ctx *ctx, void *st)
{
    char big[17];
    memset(big, 'r', sizeof big);
    atomic_store(&g_raw_big_rc, actor_ctx_write(ctx, big, 17));
    return 0;
}

static void tcp_bad_input(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.BadSrv", ACTOR_FRAME_LINE, 0);
    actor_addr *l = NULL;
    char bound[64];
    const char *bad[] = {"x", "1.2.3.4", "[::1", "127.0.0.1:70000", "", ":80", "127.0.0.1:",
                         "[::1]:", "::1:80", "[]:80", "localhost:80", "127.0.0.1:-1",
                         "127.0.0.1:8 0", "127.0.0.256:80", "[127.0.0.1]:80", "[::1]x:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = actor_tcp_listen(rt, bad[i], srv, &l, bound, sizeof bound);
        if (rc != ACTOR_EINVAL)
            fail_msg("actor_tcp_listen(\"%s\") = %d (%s), expected ACTOR_EINVAL", bad[i], rc,
                     actor_strerror(rc));
        actor_addr *c = NULL;
        rc = actor_tcp_connect(rt, bad[i], srv, &c);
        if (rc != ACTOR_EINVAL)
            fail_msg("actor_tcp_connect(\"%s\") = %d (%s), expected ACTOR_EINVAL", bad[i], rc,
                     actor_strerror(rc));
    }
    char longhp[300];
    memset(longhp, '1', sizeof longhp);
    longhp[sizeof longhp - 1] = '\0';
    longhp[5] = ':';
    assert_code(actor_tcp_listen(rt, longhp, srv, &l, NULL, 0), ACTOR_EINVAL);
    assert_code(actor_tcp_listen(NULL, "127.0.0.1:0", srv, &l, NULL, 0), ACTOR_EINVAL);
    assert_code(actor_tcp_listen(rt, NULL, srv, &l, NULL, 0), ACTOR_EINVAL);
    assert_code(actor_tcp_listen(rt, "127.0.0.1:0", NULL, &l, NULL, 0), ACTOR_EINVAL);
    assert_code(actor_tcp_listen(rt, "127.0.0.1:0", srv, NULL, NULL, 0), ACTOR_EINVAL);
    actor_addr *c = NULL;
    assert_code(actor_tcp_connect(NULL, "127.0.0.1:1", srv, &c), ACTOR_EINVAL);
    assert_code(actor_tcp_connect(rt, NULL, srv, &c), ACTOR_EINVAL);
    assert_code(actor_tcp_connect(rt, "127.0.0.1:1", NULL, &c), ACTOR_EINVAL);
    assert_code(actor_tcp_connect(rt, "127.0.0.1:1", srv, NULL), ACTOR_EINVAL);
    assert_null(c);
    assert_null(l);
    /* a manual runtime */
    actor_runtime *m = NULL;
    assert_ok(actor_runtime_new_manual(1, &m));
    assert_code(actor_tcp_listen(m, "127.0.0.1:0", srv, &l, NULL, 0), ACTOR_EINVAL);
    assert_code(actor_tcp_connect(m, "127.0.0.1:1", srv, &c), ACTOR_EINVAL);
    actor_runtime_free(m);
    /* the port in use: ACTOR_EBUSY (by us, and on ::1 too) */
    l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    actor_addr *l2 = NULL;
    assert_code(actor_tcp_listen(rt, bound, srv, &l2, NULL, 0), ACTOR_EBUSY);
    assert_null(l2);
    if (tcpu_v6_available()) {
        char b6[64];
        actor_addr *l6 = listen_ok(rt, "[::1]:0", srv, b6, sizeof b6);
        assert_code(actor_tcp_listen(rt, b6, srv, &l2, NULL, 0), ACTOR_EBUSY);
        addr_release(l6);
    }
    /* a bound buffer too short is cut, still a string */
    char tiny[6];
    actor_addr *l3 = listen_ok(rt, "127.0.0.1:0", srv, tiny, sizeof tiny);
    assert_string_equal(tiny, "127.0");
    addr_release(l3);
    /* bound NULL with a length, and a length 0 */
    l3 = listen_ok(rt, "127.0.0.1:0", srv, NULL, 64);
    addr_release(l3);
    tiny[0] = 'Q';
    l3 = listen_ok(rt, "127.0.0.1:0", srv, tiny, 0);
    assert_int_equal(tiny[0], 'Q');
    addr_release(l3);
    /* framing setters */
    actor_class *k = tu_class("tcp.Framing");
    assert_code(actor_class_set_framing(NULL, ACTOR_FRAME_LINE, 0), ACTOR_EINVAL);
    assert_code(actor_class_set_framing(k, 3, 0), ACTOR_EINVAL);
    assert_code(actor_class_set_framing(k, -1, 0), ACTOR_EINVAL);
    assert_code(actor_class_set_framing(k, ACTOR_FRAME_LINE, ACTOR_FRAME_MAX + 1), ACTOR_EINVAL);
    assert_ok(actor_class_set_framing(k, ACTOR_FRAME_LEN32, ACTOR_FRAME_MAX));
    assert_code(actor_class_on_data(NULL, srv_data), ACTOR_EINVAL);
    assert_ok(actor_class_on_data(k, NULL));
    /* a class in use: EBUSY */
    assert_code(actor_class_set_framing(srv, ACTOR_FRAME_RAW, 0), ACTOR_EBUSY);
    assert_code(actor_class_on_data(srv, NULL), ACTOR_EBUSY);
    actor_class_free(k);
    /* actor_ctx_write / close outside a connection actor; NULL ctx */
    assert_code(actor_ctx_write(NULL, "x", 1), ACTOR_EINVAL);
    assert_code(actor_ctx_close(NULL), ACTOR_EINVAL);
    actor_class *plain = tu_class("tcp.Plain");
    assert_ok(actor_class_on_init(plain, plain_init));
    actor_addr *p = tu_spawn(rt, plain, NULL);
    tu_stop_join(p);
    assert_code(atomic_load(&g_plain_write_rc), ACTOR_EINVAL);
    assert_code(atomic_load(&g_plain_close_rc), ACTOR_EINVAL);
    addr_release(p);
    actor_class_free(plain);
    /* a frame over max_frame written: EINVAL for line and len32, fine raw */
    actor_class *small = tu_class("tcp.Small");
    assert_ok(actor_class_set_framing(small, ACTOR_FRAME_LINE, 16));
    assert_ok(actor_class_on_init(small, small_init));
    actor_class *raw = tu_class("tcp.SmallRaw");
    assert_ok(actor_class_set_framing(raw, ACTOR_FRAME_RAW, 16));
    assert_ok(actor_class_on_init(raw, raw_init));
    actor_addr *sc = NULL, *rc2 = NULL;
    assert_ok(actor_tcp_connect(rt, bound, small, &sc));
    assert_ok(actor_tcp_connect(rt, bound, raw, &rc2));
    TU_WAIT_UNTIL(atomic_load(&g_big_write_rc) != 1 && atomic_load(&g_raw_big_rc) != 1,
                  TU_LONG_MS);
    assert_code(atomic_load(&g_big_write_rc), ACTOR_EINVAL);
    assert_code(atomic_load(&g_raw_big_rc), ACTOR_OK);
    /* the server got "bbbb...b" (16) and an empty line from the small one */
    TU_WAIT_UNTIL(frames_count() >= 2, TU_LONG_MS);
    tu_stop_join(sc);
    tu_stop_join(rc2);
    addr_release(sc);
    addr_release(rc2);
    actor_class_free(small);
    actor_class_free(raw);
    /* actor_runtime_new_on_base */
    actor_runtime *ob = NULL;
    assert_code(actor_runtime_new_on_base(NULL, &ob), ACTOR_EINVAL);
    assert_null(ob);
    addr_release(l);
    actor_runtime_free(rt);
    /* after the runtime shut down: ACTOR_ECLOSED */
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* A connection class without on_data drops what arrives; its events still
 * write; listen and connect after shutdown: ACTOR_ECLOSED. */
static void tcp_no_on_data_and_closed_runtime(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = tu_class("tcp.Mute");
    assert_ok(actor_class_set_state_size(srv, sizeof(sconn)));
    assert_ok(actor_class_on_init(srv, srv_init));
    assert_ok(actor_class_on_event(srv, t_say, srv_say));
    assert_ok(actor_class_set_framing(srv, ACTOR_FRAME_LINE, 0));
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    assert_int_equal(tcpu_send_str(fd, "dropped\nalso dropped\n"), 0);
    TU_WAIT_UNTIL(srv_count() == 1, TU_LONG_MS);
    assert_ok(addr_send(srv_conn(0), t_say, "hello", 5));
    char line[64];
    assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), 5);
    assert_string_equal(line, "hello");
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    actor_addr *x = NULL;
    assert_code(actor_tcp_listen(rt, "127.0.0.1:0", srv, &x, NULL, 0), ACTOR_ECLOSED);
    assert_code(actor_tcp_connect(rt, bound, srv, &x), ACTOR_ECLOSED);
    assert_null(x);
    assert_int_equal(tcpu_expect_end(r, TU_LONG_MS), 1);
    close(fd);
    free(r);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* on_data returning nonzero fails the actor with that code; actor_ctx_stop
 * and an interrupt stop it (reason 0): its socket closes each time, and
 * what was not sent yet is lost (the "ok" echoed in the same turn may be
 * too), nor are later frames handled. */
static void tcp_stop_fail_interrupt(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.StopSrv", ACTOR_FRAME_LINE, 0);
    cfg.echo = 1;
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    const char *say[3] = {"ok\nFAIL\nnever\n", "ok\nSTOP\nnever\n", "ok\n"};
    int want[3] = {-100, 0, 0};
    tcpu_reader *r = malloc(sizeof *r);
    for (int i = 0; i < 3; i++) {
        int fd = tcpu_connect(bound);
        assert_true(fd >= 0);
        tcpu_reader_init(r, fd);
        assert_int_equal(tcpu_send_str(fd, say[i]), 0);
        TU_WAIT_UNTIL(srv_count() == i + 1, TU_LONG_MS);
        if (i == 2) { /* the echo first, then the interrupt */
            char line[64];
            assert_int_equal(tcpu_read_line(r, line, sizeof line, TU_LONG_MS), 2);
            assert_ok(addr_interrupt(srv_conn(i)));
        }
        assert_int_equal(join_reason(srv_conn(i)), want[i]);
        /* the end, with nothing of "unsent" or "never" */
        int64_t dl = tcpu_now_ms() + TU_LONG_MS;
        while (tcpu_fill(r, dl) == 1)
            ;
        assert_true(r->eof != 0);
        assert_null(memmem(r->buf, r->have, "unsent", 6));
        assert_null(memmem(r->buf, r->have, "never", 5));
        close(fd);
    }
    assert_int_equal(frames_count(), 5);
    free(r);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    tu_assert_no_failures();
}

/* The connection holds its actor while it is open: the caller's address of
 * an actor_tcp_connect actor may go at once. */
static void tcp_connect_release_at_once(void **state)
{
    actor_runtime *rt = tu_runtime(2);
    actor_class *srv = srv_class("tcp.RelSrv", ACTOR_FRAME_LINE, 0);
    actor_class *cli = cli_class("tcp.RelCli");
    cfg.echo = 1;
    atomic_store(&g_client_got, 0);
    char bound[64];
    actor_addr *l = listen_ok(rt, "127.0.0.1:0", srv, bound, sizeof bound);
    int n = (int)tu_scale(20);
    for (int i = 0; i < n; i++) {
        actor_addr *c = NULL;
        assert_ok(actor_tcp_connect(rt, bound, cli, &c));
        addr_release(c);
    }
    /* each wrote "ping", got it back, closed; each server side saw the EOF */
    TU_WAIT_UNTIL(atomic_load(&g_client_got) == n, TU_LONG_MS);
    TU_WAIT_UNTIL(srv_count() == n, TU_LONG_MS);
    for (int i = 0; i < n; i++)
        assert_int_equal(join_reason(srv_conn(i)), 0);
    assert_int_equal(frames_count(), n);
    addr_release(l);
    actor_runtime_free(rt);
    actor_class_free(srv);
    actor_class_free(cli);
    tu_assert_no_failures();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(tcp_v4_port0_echo),
        T(tcp_v6_port0_echo),
        T(tcp_line_framing),
        T(tcp_line_max_frame_crlf_split),
        T(tcp_len32_framing),
        T(tcp_raw_framing),
        T(tcp_max_frame_efull),
        T(tcp_write_highwater_close_flush),
        T(tcp_end_reasons),
        T(tcp_events_and_pinning),
        T(tcp_listener_interrupt),
        T(tcp_connect_refused),
        T(tcp_slow_actors_in_order),
        T(tcp_shutdown_closes_sockets),
        T(tcp_bad_input),
        T(tcp_no_on_data_and_closed_runtime),
        T(tcp_stop_fail_interrupt),
        T(tcp_connect_release_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
