/*
 * rel_util.h — helpers for the reliability tests (tests/reliability):
 * checks usable from any thread, a counting allocator for
 * actor_set_allocator, and process resource counters (threads, fds).
 *
 * These tests are plain C programs (no cmocka) where they fork or run many
 * threads: a failed check prints where and why and the process exits 1.
 */
#ifndef ACTOR_REL_UTIL_H
#define ACTOR_REL_UTIL_H

#include <actor/actor.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Sanitizer and valgrind builds run heavy loops divided by this (a compile
 * definition from tests/reliability/CMakeLists.txt, or the environment
 * variable ACTOR_TEST_DIVISOR at run time). */
#ifndef ACTOR_REL_DIVISOR
#define ACTOR_REL_DIVISOR 1
#endif

static inline long rel_scale(long n)
{
    long d = ACTOR_REL_DIVISOR;
    const char *e = getenv("ACTOR_TEST_DIVISOR");
    if (e != NULL && atol(e) > 0)
        d = atol(e);
    long r = n / d;
    return r < 1 ? 1 : r;
}

static inline int64_t rel_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void rel_nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------------ */
/* Checks: any thread; a failure is printed and counted, the caller decides  */
/* ------------------------------------------------------------------------ */

static atomic_int rel_failures;

static inline void rel_fail_at(const char *file, int line, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (atomic_fetch_add(&rel_failures, 1) < 20)
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, buf);
}

#define REL_CHECK(cond)                                                                \
    do {                                                                               \
        if (!(cond))                                                                   \
            rel_fail_at(__FILE__, __LINE__, "check failed: %s", #cond);                \
    } while (0)

#define REL_CHECK_CODE(actual, expected)                                               \
    do {                                                                               \
        int rel_a_ = (actual), rel_e_ = (expected);                                    \
        if (rel_a_ != rel_e_)                                                          \
            rel_fail_at(__FILE__, __LINE__, "%s = %d (%s), expected %d (%s)", #actual, \
                        rel_a_, actor_strerror(rel_a_), rel_e_, actor_strerror(rel_e_)); \
    } while (0)

#define REL_CHECK_EQ_U64(actual, expected)                                             \
    do {                                                                               \
        unsigned long long rel_a_ = (actual), rel_e_ = (expected);                     \
        if (rel_a_ != rel_e_)                                                          \
            rel_fail_at(__FILE__, __LINE__, "%s = %llu, expected %llu (%s)", #actual,  \
                        rel_a_, rel_e_, #expected);                                    \
    } while (0)

static inline int rel_failed(void) { return atomic_load(&rel_failures); }

/* ------------------------------------------------------------------------ */
/* A counting allocator (for actor_set_allocator)                            */
/* ------------------------------------------------------------------------ */

/* Every block carries a header: its size, a magic word and whether it is
 * "permanent" (process-lifetime by contract, e.g. the type registry). */
typedef struct rel_hdr {
    size_t size;
    uint32_t magic;
    uint32_t permanent;
} __attribute__((aligned(16))) rel_hdr;

#define REL_MAGIC 0xA110CA7Eu
#define REL_MAGIC_FREED 0xDEADF4EEu

static atomic_long rel_alloc_calls;     /* malloc + calloc + realloc attempts      */
static atomic_long rel_live;            /* live blocks, permanent ones excluded     */
static atomic_long rel_live_permanent;  /* live permanent blocks                    */
static atomic_long rel_live_bytes;      /* bytes in live non-permanent blocks       */
static atomic_long rel_fail_at_call;    /* 1-based index of the call to fail; 0 none */
static atomic_int rel_injected;         /* the failure was injected                 */
static atomic_int rel_fail_all;         /* every attempt fails while set (not counted) */
static atomic_long rel_fail_from;       /* every attempt from this index on fails; 0 none */
static _Thread_local int rel_mark_permanent; /* set around calls whose blocks live forever */

/* Whether this allocation attempt is the one to fail. */
static inline bool rel_should_fail(void)
{
    if (atomic_load_explicit(&rel_fail_all, memory_order_relaxed))
        return true;
    long n = atomic_fetch_add(&rel_alloc_calls, 1) + 1;
    long target = atomic_load_explicit(&rel_fail_at_call, memory_order_relaxed);
    long from = atomic_load_explicit(&rel_fail_from, memory_order_relaxed);
    if ((target != 0 && n == target) || (from != 0 && n >= from)) {
        atomic_store(&rel_injected, 1);
        return true;
    }
    return false;
}

static inline void *rel_account(rel_hdr *h, size_t size)
{
    h->size = size;
    h->magic = REL_MAGIC;
    h->permanent = rel_mark_permanent ? 1u : 0u;
    if (h->permanent) {
        atomic_fetch_add(&rel_live_permanent, 1);
    } else {
        atomic_fetch_add(&rel_live, 1);
        atomic_fetch_add(&rel_live_bytes, (long)size);
    }
    return h + 1;
}

static inline void rel_unaccount(rel_hdr *h)
{
    if (h->magic != REL_MAGIC) {
        fprintf(stderr, "rel allocator: free of a block it does not own (%p, magic %x)\n",
                (void *)(h + 1), h->magic);
        abort();
    }
    h->magic = REL_MAGIC_FREED;
    if (h->permanent) {
        atomic_fetch_sub(&rel_live_permanent, 1);
    } else {
        atomic_fetch_sub(&rel_live, 1);
        atomic_fetch_sub(&rel_live_bytes, (long)h->size);
    }
}

static inline void *rel_malloc(size_t size)
{
    if (rel_should_fail() || size > SIZE_MAX - sizeof(rel_hdr))
        return NULL;
    rel_hdr *h = malloc(sizeof *h + size);
    return h ? rel_account(h, size) : NULL;
}

static inline void *rel_calloc(size_t n, size_t size)
{
    if (rel_should_fail())
        return NULL;
    if (size != 0 && n > (SIZE_MAX - sizeof(rel_hdr)) / size)
        return NULL;
    rel_hdr *h = calloc(1, sizeof *h + n * size);
    return h ? rel_account(h, n * size) : NULL;
}

static inline void rel_free(void *p)
{
    if (p == NULL)
        return;
    rel_hdr *h = (rel_hdr *)p - 1;
    rel_unaccount(h);
    free(h);
}

static inline void *rel_realloc(void *p, size_t size)
{
    if (p == NULL)
        return rel_malloc(size);
    if (rel_should_fail() || size > SIZE_MAX - sizeof(rel_hdr))
        return NULL; /* the old block stays valid, as realloc promises */
    rel_hdr *old = (rel_hdr *)p - 1;
    if (old->magic != REL_MAGIC) {
        fprintf(stderr, "rel allocator: realloc of a block it does not own (%p)\n", p);
        abort();
    }
    uint32_t permanent = old->permanent;
    size_t old_size = old->size;
    rel_hdr *h = realloc(old, sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    if (!permanent)
        atomic_fetch_add(&rel_live_bytes, (long)size - (long)old_size);
    return h + 1;
}

/* Installs the counting allocator; must be the process's first library call. */
static inline int rel_install_allocator(void)
{
    return actor_set_allocator(rel_malloc, rel_calloc, rel_realloc, rel_free);
}

/* ------------------------------------------------------------------------ */
/* Process resources                                                         */
/* ------------------------------------------------------------------------ */

static inline int rel_count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - (strcmp(path, "/proc/self/fd") == 0 ? 1 : 0); /* opendir's own fd */
}

static inline int rel_count_threads(void) { return rel_count_dir("/proc/self/task"); }
static inline int rel_count_fds(void) { return rel_count_dir("/proc/self/fd"); }

/* How long rel_settled_threads waits at most: only reached when threads
 * really are left over (or on a machine stalled for that long). */
#define REL_SETTLE_MS 30000

/* The thread count, once it stopped falling. A thread that pthread_join
 * returned for may still be listed in /proc/self/task for a moment (the
 * kernel clears its tid, which wakes the joiner, before it takes the task
 * off the list), longer when that thread is descheduled (a loaded machine,
 * valgrind). Polls until the count is at most `at_most` (any count, for
 * at_most < 0) and unchanged over 10 polls 2 ms apart, for up to `ms`;
 * returns the last count, which the caller checks. */
static inline int rel_settled_threads(int at_most, int ms)
{
    int64_t deadline = rel_now_ms() + ms;
    int last = rel_count_threads(), same = 0;
    while (!(same >= 10 && (at_most < 0 || last <= at_most)) && rel_now_ms() < deadline) {
        rel_nap_us(2000);
        int now = rel_count_threads();
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

#endif /* ACTOR_REL_UTIL_H */
