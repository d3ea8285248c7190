/* I/O (issue 14): actor_runtime_new_on_base, a runtime on the user's own
 * libevent base.
 *
 * - The test's main loop is its own event_base_dispatch (after
 *   evthread_use_pthreads()), with a timer of its own and actors side by
 *   side: a counter fed by two other threads, a listener with a plain
 *   client on a thread and an actor_tcp_connect client on the base. Every
 *   actor callback runs on the dispatching thread; nothing runs before the
 *   dispatch; the user's timer ends the loop (loopexit), then
 *   actor_runtime_free from that thread runs the base until every actor is
 *   Done; descriptors as before.
 * - actor_runtime_free with messages queued and the base never dispatched:
 *   it runs the base itself, every message is handled.
 * - Splits that are certain: the loop is run by the test, so each piece of
 *   a stream is read by the library before the next is sent; line and len32
 *   framing give the same frames at every split point as unsplit.
 * - Blocking calls in handlers on the user's thread: ACTOR_EDEADLK.
 * - Bad input. */
#include "testutil.h"
#include "tcp_testutil.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>

static pthread_t g_main;
static atomic_long g_off_thread; /* callbacks that ran on another thread */

static void on_main(void)
{
    if (!pthread_equal(pthread_self(), g_main))
        atomic_fetch_add(&g_off_thread, 1);
}

static const actor_msgtype *t_inc, *t_probe;

/* ---- a counter ---- */

static atomic_long g_count;
static int count_inc(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    on_main();
    atomic_fetch_add(&g_count, 1);
    return 0;
}

/* ---- an echo server's connections, and frames seen ---- */

#define MAXF 4096
static struct {
    int n;
    size_t len[MAXF];
    unsigned char *data[MAXF];
} g_fr;
static atomic_int g_conns, g_conns_done;
static actor_addr *g_last_conn;
static int g_no_echo; /* the split test reads nothing back */

static int echo_init(actor_ctx *ctx, void *st)
{
    on_main();
    atomic_fetch_add(&g_conns, 1);
    addr_release(g_last_conn); /* the base's thread only: no lock */
    g_last_conn = addr_ref(actor_ctx_self(ctx));
    return 0;
}

static int echo_data(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    on_main();
    if (g_fr.n < MAXF) {
        g_fr.len[g_fr.n] = len;
        g_fr.data[g_fr.n] = malloc(len + 1);
        memcpy(g_fr.data[g_fr.n], p, len);
        g_fr.n++;
    }
    if (!g_no_echo)
        TU_CHECK_CODE(actor_ctx_write(ctx, p, len), ACTOR_OK);
    return 0;
}

static void echo_finalize(actor_ctx *ctx, void *st)
{
    on_main();
    atomic_fetch_add(&g_conns_done, 1);
}

static void frames_reset(void)
{
    for (int i = 0; i < g_fr.n; i++)
        free(g_fr.data[i]);
    g_fr.n = 0;
}

static actor_class *echo_class(const char *name, int framing, size_t max_frame)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_init(c, echo_init));
    assert_ok(actor_class_on_data(c, echo_data));
    assert_ok(actor_class_on_finalize(c, echo_finalize));
    assert_ok(actor_class_set_framing(c, framing, max_frame));
    return c;
}

/* ---- an actor_tcp_connect client on the base ---- */

static atomic_int g_cli_rounds;
enum { CLI_ROUNDS = 20 };

static int cli_init(actor_ctx *ctx, void *st)
{
    on_main();
    TU_CHECK_CODE(actor_ctx_write(ctx, "round 0", 7), ACTOR_OK);
    return 0;
}

static int cli_data(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    on_main();
    int r = atomic_fetch_add(&g_cli_rounds, 1) + 1;
    char want[32];
    int n = snprintf(want, sizeof want, "round %d", r - 1);
    TU_CHECK(len == (size_t)n && memcmp(p, want, len) == 0);
    if (r == CLI_ROUNDS) {
        TU_CHECK_CODE(actor_ctx_close(ctx), ACTOR_OK);
    } else {
        n = snprintf(want, sizeof want, "round %d", r);
        TU_CHECK_CODE(actor_ctx_write(ctx, want, (size_t)n), ACTOR_OK);
    }
    return 0;
}

/* ---- other threads ---- */

typedef struct sender_arg {
    actor_addr *to;
    long n;
} sender_arg;

static void *sender(void *arg)
{
    sender_arg *a = arg;
    for (long i = 0; i < a->n; i++)
        TU_CHECK_CODE(addr_send(a->to, t_inc, NULL, 0), ACTOR_OK);
    return NULL;
}

static atomic_int g_plain_done;
static char g_bound[64];

/* A plain client on its own thread: round trips through the base's echo. */
static void *plain_client(void *arg)
{
    int fd = tcpu_connect(g_bound);
    TU_CHECK(fd >= 0);
    if (fd < 0)
        return NULL;
    tcpu_reader *r = malloc(sizeof *r);
    tcpu_reader_init(r, fd);
    for (int i = 0; i < 50; i++) {
        char msg[32], line[64];
        int n = snprintf(msg, sizeof msg, "plain %d\n", i);
        TU_CHECK(tcpu_send_all(fd, msg, (size_t)n) == 0);
        long got = tcpu_read_line(r, line, sizeof line, TU_LONG_MS);
        TU_CHECK(got == n - 1 && memcmp(line, msg, (size_t)n - 1) == 0);
    }
    close(fd);
    free(r);
    atomic_store(&g_plain_done, 1);
    return NULL;
}

/* ---- the user's own timer ---- */

typedef struct user_loop {
    struct event_base *base;
    long ticks;
    long want_count;
    actor_addr *cli;
    int64_t deadline_ms;
    int timed_out;
} user_loop;

static void user_tick(evutil_socket_t fd, short what, void *arg)
{
    user_loop *u = arg;
    on_main();
    u->ticks++;
    int all = atomic_load(&g_count) == u->want_count && atomic_load(&g_plain_done) &&
              addr_is_done(u->cli) && u->ticks >= 5;
    if (all || tu_now_ms() > u->deadline_ms) {
        u->timed_out = !all;
        event_base_loopexit(u->base, NULL);
    }
}

static int setup(void **state)
{
    t_inc = tu_type("ob.Inc", "", NULL);
    t_probe = tu_type("ob.Probe", "", NULL);
    g_main = pthread_self();
    atomic_store(&g_off_thread, 0);
    atomic_store(&g_count, 0);
    atomic_store(&g_conns, 0);
    atomic_store(&g_conns_done, 0);
    atomic_store(&g_cli_rounds, 0);
    atomic_store(&g_plain_done, 0);
    g_no_echo = 0;
    frames_reset();
    return tu_setup(state);
}

static int teardown(void **state)
{
    frames_reset();
    addr_release(g_last_conn);
    g_last_conn = NULL;
    return tu_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ------------------------------------------------------------------------ */

static void on_base_user_loop(void **state)
{
    int fds0 = tcpu_fd_count();
    struct event_base *base = event_base_new();
    assert_non_null(base);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_on_base(base, &rt));
    actor_runtime_stats rs = {.size = sizeof rs};
    assert_ok(actor_runtime_stats_get(rt, &rs));
    assert_int_equal(rs.threads, 1);

    actor_class *counter = tu_class("ob.Counter");
    assert_ok(actor_class_on_event(counter, t_inc, count_inc));
    actor_class *echo = echo_class("ob.Echo", ACTOR_FRAME_LINE, 0);
    actor_class *cli = tu_class("ob.Cli");
    assert_ok(actor_class_on_init(cli, cli_init));
    assert_ok(actor_class_on_data(cli, cli_data));
    assert_ok(actor_class_set_framing(cli, ACTOR_FRAME_LINE, 0));

    actor_addr *c = tu_spawn(rt, counter, NULL);
    actor_addr *l = NULL;
    assert_ok(actor_tcp_listen(rt, "127.0.0.1:0", echo, &l, g_bound, sizeof g_bound));
    actor_addr *k = NULL;
    assert_ok(actor_tcp_connect(rt, g_bound, cli, &k));
    /* Sent before the loop runs: nothing is handled yet. */
    for (int i = 0; i < 10; i++)
        assert_ok(addr_send(c, t_inc, NULL, 0));
    assert_int_equal(atomic_load(&g_count), 0);
    assert_int_equal(atomic_load(&g_conns), 0);

    enum { NT = 2 };
    long per = tu_scale(20000);
    sender_arg sa = {c, per};
    pthread_t th[NT + 1];
    for (int i = 0; i < NT; i++)
        th[i] = tu_thread(sender, &sa);
    th[NT] = tu_thread(plain_client, NULL);

    user_loop u = {base, 0, 10 + NT * per, k, tu_now_ms() + 3 * TU_LONG_MS, 0};
    struct event *tick = event_new(base, -1, EV_PERSIST, user_tick, &u);
    struct timeval tv = {0, 2000};
    event_add(tick, &tv);
    assert_int_equal(event_base_dispatch(base), 0);
    for (int i = 0; i <= NT; i++)
        tu_join_thread(th[i]);
    if (u.timed_out)
        fail_msg("the loop ran out of time: count %ld of %ld, plain client %s, actor client "
                 "rounds %d",
                 atomic_load(&g_count), u.want_count,
                 atomic_load(&g_plain_done) ? "done" : "not done", atomic_load(&g_cli_rounds));
    printf("  %ld user ticks beside %ld events from %d threads and %d connections\n", u.ticks,
           u.want_count, NT, atomic_load(&g_conns));
    assert_int_equal(atomic_load(&g_cli_rounds), CLI_ROUNDS);
    assert_int_equal(atomic_load(&g_conns), 2);
    int reason = 1;
    assert_ok(addr_exit_reason(k, &reason));
    assert_int_equal(reason, 0);

    /* The loop stopped: the runtime is freed from its thread, running the
     * base until the counter, the listener and the connections are Done. */
    event_free(tick);
    actor_runtime_free(rt);
    assert_true(addr_is_done(c));
    assert_true(addr_is_done(l));
    assert_int_equal(atomic_load(&g_conns_done), 2);
    assert_int_equal(atomic_load(&g_off_thread), 0);
    addr_release(c);
    addr_release(l);
    addr_release(k);
    actor_class_free(counter);
    actor_class_free(echo);
    actor_class_free(cli);
    event_base_free(base);
    assert_int_equal(tcpu_fd_count(), fds0);
    tu_assert_no_failures();
}

/* Never dispatched: actor_runtime_free runs the base itself and every
 * queued message is handled (the shutdown's interrupt comes behind them). */
static void on_base_free_runs_the_base(void **state)
{
    struct event_base *base = event_base_new();
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_on_base(base, &rt));
    actor_class *counter = tu_class("ob.Counter2");
    assert_ok(actor_class_on_event(counter, t_inc, count_inc));
    actor_addr *c = tu_spawn(rt, counter, NULL);
    long n = tu_scale(10000);
    sender_arg sa = {c, n};
    pthread_t t = tu_thread(sender, &sa);
    tu_join_thread(t);
    assert_int_equal(atomic_load(&g_count), 0);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&g_count), n);
    assert_true(addr_is_done(c));
    addr_release(c);
    actor_class_free(counter);
    event_base_free(base);
    assert_int_equal(atomic_load(&g_off_thread), 0);
    tu_assert_no_failures();
}

/* ---- blocking calls in a handler on the user's thread ---- */

static atomic_int g_join_rc = 1, g_shutdown_rc = 1;
static actor_addr *g_other;

static int probe(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    on_main();
    atomic_store(&g_join_rc, addr_join(g_other, 10));
    atomic_store(&g_shutdown_rc, actor_runtime_shutdown(actor_ctx_runtime(ctx), 10));
    return 0;
}

static void on_base_blocking_calls(void **state)
{
    struct event_base *base = event_base_new();
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_on_base(base, &rt));
    actor_class *pc = tu_class("ob.Probe");
    assert_ok(actor_class_on_event(pc, t_probe, probe));
    actor_class *counter = tu_class("ob.Counter3");
    assert_ok(actor_class_on_event(counter, t_inc, count_inc));
    g_other = tu_spawn(rt, counter, NULL);
    actor_addr *p = tu_spawn(rt, pc, NULL);
    assert_ok(addr_send(p, t_probe, NULL, 0));
    int64_t dl = tu_now_ms() + TU_LONG_MS;
    while (atomic_load(&g_shutdown_rc) == 1 && tu_now_ms() < dl)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_code(atomic_load(&g_join_rc), ACTOR_EDEADLK);
    assert_code(atomic_load(&g_shutdown_rc), ACTOR_EDEADLK);
    actor_runtime_free(rt);
    addr_release(p);
    addr_release(g_other);
    actor_class_free(pc);
    actor_class_free(counter);
    event_base_free(base);
    tu_assert_no_failures();
}

/* ---- certain splits: the test runs the loop ---- */

/* Runs the base until `cond` holds. */
#define RUN_UNTIL(base, cond)                                                          \
    do {                                                                               \
        int64_t dl_ = tu_now_ms() + TU_LONG_MS;                                        \
        while (!(cond)) {                                                              \
            if (tu_now_ms() > dl_)                                                     \
                fail_msg("%s:%d: the base ran %d ms without: %s", __FILE__, __LINE__,  \
                         TU_LONG_MS, #cond);                                           \
            event_base_loop((base), EVLOOP_ONCE | EVLOOP_NONBLOCK);                    \
        }                                                                              \
    } while (0)

/* Sends `stream` in two pieces cut at `cut`, each read by the library
 * before the next is sent, and compares the frames with `want`. */
static void split_case(struct event_base *base, const char *bound, const unsigned char *stream,
                       size_t len, size_t cut, const char *const *want, const size_t *wlen,
                       int nwant)
{
    int conns = atomic_load(&g_conns);
    int fd = tcpu_connect(bound);
    assert_true(fd >= 0);
    RUN_UNTIL(base, atomic_load(&g_conns) == conns + 1);
    int sfd = tcpu_peer_fd(fd);
    assert_true(sfd >= 0);
    frames_reset();
    if (cut > 0) {
        assert_int_equal(tcpu_send_all(fd, stream, cut), 0);
        RUN_UNTIL(base, tcpu_consumed(fd, sfd) || addr_is_done(g_last_conn));
    }
    if (cut < len && !addr_is_done(g_last_conn)) {
        assert_int_equal(tcpu_send_all(fd, stream + cut, len - cut), 0);
        RUN_UNTIL(base, tcpu_consumed(fd, sfd) || addr_is_done(g_last_conn));
    }
    RUN_UNTIL(base, g_fr.n >= nwant || addr_is_done(g_last_conn));
    if (addr_is_done(g_last_conn)) {
        int reason = 0;
        addr_exit_reason(g_last_conn, &reason);
        fail_msg("cut at %zu of %zu: the connection ended (%s) after %d frames of %d", cut, len,
                 actor_strerror(reason), g_fr.n, nwant);
    }
    assert_int_equal(g_fr.n, nwant);
    for (int i = 0; i < nwant; i++) {
        if (g_fr.len[i] != wlen[i] || memcmp(g_fr.data[i], want[i], wlen[i]) != 0)
            fail_msg("cut at %zu: frame %d is %zu bytes, expected %zu", cut, i, g_fr.len[i],
                     wlen[i]);
    }
    close(fd);
    RUN_UNTIL(base, addr_is_done(g_last_conn));
    int reason = 1;
    assert_ok(addr_exit_reason(g_last_conn, &reason));
    assert_int_equal(reason, 0);
}

static void on_base_certain_splits(void **state)
{
    struct event_base *base = event_base_new();
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_on_base(base, &rt));
    actor_class *line = echo_class("ob.SplitLine", ACTOR_FRAME_LINE, 8);
    actor_class *len32 = echo_class("ob.SplitLen32", ACTOR_FRAME_LEN32, 8);
    g_no_echo = 1;
    char bl[64], b32[64];
    actor_addr *ll = NULL, *l32 = NULL;
    assert_ok(actor_tcp_listen(rt, "127.0.0.1:0", line, &ll, bl, sizeof bl));
    assert_ok(actor_tcp_listen(rt, tcpu_v6_available() ? "[::1]:0" : "127.0.0.1:0", len32, &l32,
                               b32, sizeof b32));
    /* line: a "\r\n" line of max_frame bytes is among them (its "\r" read
     * alone at one of the cuts) */
    const char ls[] = "ab\r\n\nc\rd\n12345678\r\n1234567\n";
    const char *lw[] = {"ab", "", "c\rd", "12345678", "1234567"};
    size_t lwl[] = {2, 0, 3, 8, 7};
    int bad_cut = -1;
    for (size_t cut = 0; cut <= sizeof ls - 1; cut++) {
        /* a cut after the 9th character of "12345678\r": the known case */
        if (cut == 18) {
            bad_cut = (int)cut;
            continue;
        }
        split_case(base, bl, (const unsigned char *)ls, sizeof ls - 1, cut, lw, lwl, 5);
    }
    unsigned char s32[4 + 0 + 4 + 3 + 4 + 8];
    unsigned char *p = s32;
    tu_put_u32(p, 0);
    p += 4;
    tu_put_u32(p, 3);
    memcpy(p + 4, "xyz", 3);
    p += 7;
    tu_put_u32(p, 8);
    memcpy(p + 4, "12345678", 8);
    const char *w32[] = {"", "xyz", "12345678"};
    size_t w32l[] = {0, 3, 8};
    for (size_t cut = 0; cut <= sizeof s32; cut++)
        split_case(base, b32, s32, sizeof s32, cut, w32, w32l, 3);
    /* The known case last, so the others ran; looked at after the clean-up
     * (a failure does not leak the runtime under the sanitizers). */
    int known_reason = 0, known_frames = 0;
    {
        int conns = atomic_load(&g_conns);
        int fd = tcpu_connect(bl);
        assert_true(fd >= 0);
        RUN_UNTIL(base, atomic_load(&g_conns) == conns + 1);
        int sfd = tcpu_peer_fd(fd);
        frames_reset();
        assert_int_equal(tcpu_send_all(fd, ls, (size_t)bad_cut), 0);
        RUN_UNTIL(base, tcpu_consumed(fd, sfd) || addr_is_done(g_last_conn));
        if (!addr_is_done(g_last_conn)) {
            assert_int_equal(tcpu_send_all(fd, ls + bad_cut, sizeof ls - 1 - (size_t)bad_cut), 0);
            RUN_UNTIL(base, tcpu_consumed(fd, sfd) || addr_is_done(g_last_conn));
        }
        known_frames = g_fr.n;
        close(fd);
        RUN_UNTIL(base, addr_is_done(g_last_conn));
        assert_ok(addr_exit_reason(g_last_conn, &known_reason));
    }
    addr_release(ll);
    addr_release(l32);
    actor_runtime_free(rt);
    actor_class_free(line);
    actor_class_free(len32);
    event_base_free(base);
    if (known_reason != 0 || known_frames != 5)
        fail_msg("cut at %d of %zu (right after the \"\\r\" of a max_frame line): the "
                 "connection ended (%s) after %d frames of 5",
                 bad_cut, sizeof ls - 1, actor_strerror(known_reason), known_frames);
    tu_assert_no_failures();
}

static void on_base_bad_input(void **state)
{
    actor_runtime *rt = NULL;
    assert_code(actor_runtime_new_on_base(NULL, &rt), ACTOR_EINVAL);
    struct event_base *base = event_base_new();
    assert_code(actor_runtime_new_on_base(base, NULL), ACTOR_EINVAL);
    assert_null(rt);
    event_base_free(base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* the base must have locking: other threads send in */
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "evthread_use_pthreads failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        T(on_base_user_loop),
        T(on_base_free_runs_the_base),
        T(on_base_blocking_calls),
        T(on_base_certain_splits),
        T(on_base_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
