/*
 * testutil.h — helpers shared by the libactor cmocka tests.
 *
 * Rules these helpers encode:
 * - cmocka's assert_* macros longjmp and are not thread-safe: use them on the
 *   test's main thread only. Inside actor callbacks (worker threads) and
 *   helper pthreads, use TU_CHECK / TU_CHECK_CODE, which record the failure;
 *   every test registered with TU_TEST fails in its teardown if any was
 *   recorded (and tests call tu_assert_no_failures() themselves as well).
 * - No sleep-and-hope: TU_WAIT_UNTIL polls a condition with short naps and
 *   fails the test when its deadline passes.
 * - Heavy counts go through tu_scale(): divided by ACTOR_TEST_DIVISOR (a
 *   compile definition set for sanitizer builds, or the environment variable
 *   of the same name).
 */
#ifndef ACTOR_TESTUTIL_H
#define ACTOR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <actor/actor.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ACTOR_TEST_DIVISOR
#define ACTOR_TEST_DIVISOR 1
#endif

/* How much slower than a plain run this run is: max(the compile-time
 * ACTOR_TEST_DIVISOR, the environment variable ACTOR_TEST_DIVISOR, 1),
 * capped at TU_SLOWDOWN_MAX. The environment counts because the valgrind
 * pass (scripts/reliability valgrind) runs the plain build's binaries with
 * ACTOR_TEST_DIVISOR=20 set at run time: its compile-time divisor is 1.
 *
 * Why the cap is 5: the divisor says how much the heavy loops were cut,
 * not how much longer a wait takes. Memcheck runs code 10-50x slower, but
 * what the tests wait for is mostly a few hops between threads and the
 * loops they wait on are already divided by the divisor, so a wait grows
 * by a few times, not by 20 (the audit measured node_kill's loss detection
 * at about half of its plain-run window under memcheck). 5x leaves room for
 * two memcheck jobs sharing 2 cores with --fair-sched, and keeps a stuck
 * test short: TU_LONG_MS is then 50 s, and the longest waits (6 x
 * TU_LONG_MS) end in 5 minutes, well inside the valgrind runner's 30.
 * A plain run (no divisor anywhere) gets 1: exactly as strict as before. */
#define TU_SLOWDOWN_MAX 5

static inline int tu_slowdown(void)
{
    static atomic_int cached; /* 0: not yet computed */
    int s = atomic_load_explicit(&cached, memory_order_relaxed);
    if (s > 0)
        return s;
    long d = ACTOR_TEST_DIVISOR;
    const char *e = getenv("ACTOR_TEST_DIVISOR");
    if (e != NULL && atol(e) > d)
        d = atol(e);
    s = d < 1 ? 1 : d > TU_SLOWDOWN_MAX ? TU_SLOWDOWN_MAX : (int)d;
    atomic_store_explicit(&cached, s, memory_order_relaxed);
    return s;
}

/* A deadline for things that must happen "soon": only reached on failure.
 * 10 s in a plain run; sanitizer builds (compile-time divisor > 1) keep at
 * least the 30 s they always had; memcheck (env divisor 20) gets 50 s. */
static inline int tu_long_ms(void)
{
    int s = tu_slowdown();
    if (ACTOR_TEST_DIVISOR > 1 && s < 3)
        s = 3;
    return 10000 * s;
}
#define TU_LONG_MS tu_long_ms()

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

static inline int64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t tu_now_ms(void) { return tu_now_ns() / 1000000; }

/* A short nap between two polls of a condition. */
static inline void tu_pause(void)
{
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    nanosleep(&ts, NULL);
}

/* Polls `cond` until it holds; fails the test once `ms` milliseconds passed.
 * Main thread only. */
#define TU_WAIT_UNTIL(cond, ms)                                                        \
    do {                                                                               \
        const int64_t tu_deadline_ = tu_now_ms() + (ms);                               \
        while (!(cond)) {                                                              \
            if (tu_now_ms() > tu_deadline_)                                            \
                fail_msg("%s:%d: timed out after %d ms waiting for: %s", __FILE__,    \
                         __LINE__, (int)(ms), #cond);                                  \
            tu_pause();                                                                \
        }                                                                              \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Process-wide test state: failures recorded off the main thread, logs     */
/* ------------------------------------------------------------------------ */

typedef struct tu_logline {
    int level;
    char *msg;
} tu_logline;

typedef struct tu_global {
    atomic_int failures;
    pthread_mutex_t mu;
    char first[768];
    tu_logline *lines;
    size_t nlines, cap;
    atomic_int log_calls;
} tu_global;

static inline tu_global *tu_g(void)
{
    static tu_global g = {.mu = PTHREAD_MUTEX_INITIALIZER};
    return &g;
}

static inline void tu_record_failure(const char *file, int line, const char *fmt, ...)
{
    tu_global *g = tu_g();
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g->mu);
    if (atomic_fetch_add(&g->failures, 1) == 0)
        snprintf(g->first, sizeof g->first, "%s:%d: %s", file, line, buf);
    pthread_mutex_unlock(&g->mu);
    fprintf(stderr, "[worker-side failure] %s:%d: %s\n", file, line, buf);
}

/* A check usable on any thread (records, does not abort). */
#define TU_CHECK(cond)                                                                 \
    do {                                                                               \
        if (!(cond))                                                                   \
            tu_record_failure(__FILE__, __LINE__, "check failed: %s", #cond);          \
    } while (0)

#define TU_CHECK_CODE(actual, expected)                                                \
    do {                                                                               \
        int tu_a_ = (actual), tu_e_ = (expected);                                      \
        if (tu_a_ != tu_e_)                                                            \
            tu_record_failure(__FILE__, __LINE__, "%s = %d (%s), expected %d (%s)",    \
                              #actual, tu_a_, actor_strerror(tu_a_), tu_e_,            \
                              actor_strerror(tu_e_));                                  \
    } while (0)

static inline int tu_failures(void) { return atomic_load(&tu_g()->failures); }

static inline void tu_reset_failures(void)
{
    tu_global *g = tu_g();
    pthread_mutex_lock(&g->mu);
    atomic_store(&g->failures, 0);
    g->first[0] = '\0';
    pthread_mutex_unlock(&g->mu);
}

/* Main thread: fails the test if a check failed on another thread. */
#define tu_assert_no_failures()                                                        \
    do {                                                                               \
        tu_global *tu_gg_ = tu_g();                                                    \
        int tu_n_ = atomic_load(&tu_gg_->failures);                                    \
        if (tu_n_ != 0) {                                                              \
            char tu_msg_[1024];                                                         \
            pthread_mutex_lock(&tu_gg_->mu);                                           \
            snprintf(tu_msg_, sizeof tu_msg_, "%s", tu_gg_->first);                    \
            pthread_mutex_unlock(&tu_gg_->mu);                                         \
            tu_reset_failures();                                                       \
            fail_msg("%d check(s) failed off the main thread; first: %s", tu_n_,       \
                     tu_msg_);                                                         \
        }                                                                              \
    } while (0)

/* Error codes, printed by name. Main thread only. */
#define assert_code(actual, expected)                                                  \
    do {                                                                               \
        int tu_a_ = (actual), tu_e_ = (expected);                                      \
        if (tu_a_ != tu_e_)                                                            \
            fail_msg("%s = %d (%s), expected %d (%s)", #actual, tu_a_,                 \
                     actor_strerror(tu_a_), tu_e_, actor_strerror(tu_e_));             \
    } while (0)

#define assert_ok(x) assert_code((x), ACTOR_OK)

/* ------------------------------------------------------------------------ */
/* Log capture                                                               */
/* ------------------------------------------------------------------------ */

static inline void tu_log_clear(void)
{
    tu_global *g = tu_g();
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->nlines; i++)
        free(g->lines[i].msg);
    free(g->lines);
    g->lines = NULL;
    g->nlines = g->cap = 0;
    pthread_mutex_unlock(&g->mu);
    atomic_store(&g->log_calls, 0);
}

static inline void tu_log_cb(int level, const char *msg, void *ud)
{
    tu_global *g = (tu_global *)ud;
    if (g != tu_g()) {
        tu_record_failure(__FILE__, __LINE__, "log handler got the wrong user data %p", ud);
        g = tu_g();
    }
    if (msg == NULL) {
        tu_record_failure(__FILE__, __LINE__, "log handler got a NULL message");
        return;
    }
    pthread_mutex_lock(&g->mu);
    if (g->nlines == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        tu_logline *n = (tu_logline *)realloc(g->lines, cap * sizeof *n);
        if (n != NULL) {
            g->lines = n;
            g->cap = cap;
        }
    }
    if (g->nlines < g->cap) {
        g->lines[g->nlines].level = level;
        g->lines[g->nlines].msg = strdup(msg);
        if (g->lines[g->nlines].msg != NULL)
            g->nlines++;
    }
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->log_calls, 1);
}

/* Routes the library's log lines into memory (cleared first). */
static inline void tu_log_capture(void)
{
    tu_log_clear();
    actor_set_log_handler(tu_log_cb, tu_g());
}

/* Back to stderr; forgets the captured lines. */
static inline void tu_log_stop(void)
{
    actor_set_log_handler(NULL, NULL);
    tu_log_clear();
}

static inline size_t tu_log_count(void)
{
    tu_global *g = tu_g();
    pthread_mutex_lock(&g->mu);
    size_t n = g->nlines;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* True if a captured line contains `needle` (any line for NULL) at a level
 * no less severe than `max_level` (ACTOR_LOG_ERROR is the most severe). */
static inline bool tu_log_has(const char *needle, int max_level)
{
    tu_global *g = tu_g();
    bool found = false;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->nlines && !found; i++)
        if (g->lines[i].level <= max_level && g->lines[i].level >= ACTOR_LOG_ERROR &&
            (needle == NULL || strstr(g->lines[i].msg, needle) != NULL))
            found = true;
    pthread_mutex_unlock(&g->mu);
    return found;
}

static inline void tu_log_dump(void)
{
    tu_global *g = tu_g();
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->nlines; i++)
        fprintf(stderr, "  captured log [%d]: %s\n", g->lines[i].level, g->lines[i].msg);
    pthread_mutex_unlock(&g->mu);
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                  */
/* ------------------------------------------------------------------------ */

static inline int tu_setup(void **state)
{
    (void)state;
    tu_reset_failures();
    return 0;
}

static inline int tu_teardown(void **state)
{
    (void)state;
    actor_set_log_handler(NULL, NULL);
    tu_log_clear();
    int n = tu_failures();
    if (n != 0) {
        fprintf(stderr, "teardown: %d check(s) failed off the main thread; first: %s\n", n,
                tu_g()->first);
        tu_reset_failures();
        return -1;
    }
    return 0;
}

#define TU_TEST(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

/* ------------------------------------------------------------------------ */
/* Scaling heavy loops                                                       */
/* ------------------------------------------------------------------------ */

static inline long tu_scale(long n)
{
    long d = ACTOR_TEST_DIVISOR;
    const char *e = getenv("ACTOR_TEST_DIVISOR");
    if (e != NULL && atol(e) > 0)
        d = atol(e);
    long r = n / d;
    return r < 1 ? 1 : r;
}

/* ------------------------------------------------------------------------ */
/* Gates: a callback blocks until the test opens the gate                   */
/* ------------------------------------------------------------------------ */

typedef struct tu_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    atomic_int entered;
} tu_gate;

static inline void tu_gate_init(tu_gate *g)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    g->open = 0;
    atomic_store(&g->entered, 0);
}

static inline void tu_gate_destroy(tu_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* Blocks (any thread) until the gate is open; records a failure and returns
 * false if it stays shut for `ms`. */
static inline bool tu_gate_wait(tu_gate *g, int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    bool ok = true;
    pthread_mutex_lock(&g->mu);
    atomic_fetch_add(&g->entered, 1);
    while (!g->open) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT && !g->open) {
            ok = false;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    if (!ok)
        tu_record_failure(__FILE__, __LINE__, "a gate stayed shut for %d ms", ms);
    return ok;
}

static inline void tu_gate_open(tu_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Main thread: waits until `n` callers reached the gate. */
#define TU_WAIT_ENTERED(g, n) TU_WAIT_UNTIL(atomic_load(&(g)->entered) >= (n), TU_LONG_MS)

/* ------------------------------------------------------------------------ */
/* Little-endian payload helpers (layouts are little-endian, packed)       */
/* ------------------------------------------------------------------------ */

static inline void tu_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t tu_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void tu_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t tu_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Shorthands (main thread)                                                  */
/* ------------------------------------------------------------------------ */

#define tu_runtime(threads) tu_runtime_((threads), __FILE__, __LINE__)
static inline actor_runtime *tu_runtime_(unsigned threads, const char *file, int line)
{
    actor_runtime *rt = NULL;
    int rc = actor_runtime_new(threads, &rt);
    if (rc != ACTOR_OK || rt == NULL)
        fail_msg("%s:%d: actor_runtime_new(%u) = %d (%s)", file, line, threads, rc,
                 actor_strerror(rc));
    return rt;
}

#define tu_type(name, layout, reply) tu_type_((name), (layout), (reply), __FILE__, __LINE__)
static inline const actor_msgtype *tu_type_(const char *name, const char *layout,
                                            const char *reply, const char *file, int line)
{
    const actor_msgtype *t = NULL;
    int rc = actor_msgtype_define(name, layout, reply, &t);
    if (rc != ACTOR_OK || t == NULL)
        fail_msg("%s:%d: actor_msgtype_define(%s) = %d (%s)", file, line, name, rc,
                 actor_strerror(rc));
    return t;
}

#define tu_class(name) tu_class_((name), __FILE__, __LINE__)
static inline actor_class *tu_class_(const char *name, const char *file, int line)
{
    actor_class *c = NULL;
    int rc = actor_class_new(name, &c);
    if (rc != ACTOR_OK || c == NULL)
        fail_msg("%s:%d: actor_class_new(%s) = %d (%s)", file, line, name, rc,
                 actor_strerror(rc));
    return c;
}

#define tu_spawn(rt, cls, state) tu_spawn_((rt), (cls), (state), __FILE__, __LINE__)
static inline actor_addr *tu_spawn_(actor_runtime *rt, actor_class *cls, void *state,
                                    const char *file, int line)
{
    actor_addr *a = NULL;
    int rc = actor_spawn(rt, cls, state, &a);
    if (rc != ACTOR_OK || a == NULL)
        fail_msg("%s:%d: actor_spawn = %d (%s)", file, line, rc, actor_strerror(rc));
    return a;
}

/* Interrupts (default: stop) and joins with a deadline. */
#define tu_stop_join(a)                                                                \
    do {                                                                               \
        int tu_rc_ = addr_interrupt(a);                                                \
        if (tu_rc_ != ACTOR_OK && tu_rc_ != ACTOR_ECLOSED)                             \
            fail_msg("addr_interrupt = %d (%s)", tu_rc_, actor_strerror(tu_rc_));      \
        assert_code(addr_join((a), TU_LONG_MS), ACTOR_OK);                             \
    } while (0)

/* Starts a helper thread (main thread). */
static inline pthread_t tu_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    if (rc != 0)
        fail_msg("pthread_create: %s", strerror(rc));
    return t;
}

static inline void tu_join_thread(pthread_t t) { pthread_join(t, NULL); }

#endif /* ACTOR_TESTUTIL_H */
