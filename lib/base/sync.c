/* Futex waits with deadlines: joins and responder waits sleep on the very
 * word that publishes the state, so no mutex or condition variable is needed
 * per actor or per request. */
#include "sync.h"

#include <errno.h>
#include <signal.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int actori_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits it */
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int64_t actori_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t actori_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t actori_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : actori_now_ms() + timeout_ms;
}

int actori_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ms)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ms >= 0) {
        int64_t left = deadline_ms - actori_now_ms();
        if (left <= 0)
            return -1;
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000;
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
    if (rc == -1 && errno == ETIMEDOUT)
        return -1;
    return 0;
}

int actori_futex_wait_ns(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ns != UINT64_MAX) {
        int64_t left = (int64_t)deadline_ns - actori_now_ns();
        if (left <= 0)
            return -1;
        ts.tv_sec = left / 1000000000;
        ts.tv_nsec = left % 1000000000;
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
    if (rc == -1 && errno == ETIMEDOUT)
        return -1;
    return 0;
}

void actori_futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* How long a blocking wait spins before it sleeps. */
#define ACTORI_WAIT_SPIN_NS 20000

uint32_t actori_spin_while(_Atomic uint32_t *word, uint32_t seen, uint32_t bits)
{
    int64_t deadline = 0;
    for (unsigned i = 1; !(seen & bits); i++) {
        actori_cpu_relax();
        seen = atomic_load_explicit(word, memory_order_acquire);
        if ((i & 63) == 0) {
            int64_t now = actori_now_ns();
            if (deadline == 0)
                deadline = now + ACTORI_WAIT_SPIN_NS;
            else if (now >= deadline)
                break;
        }
    }
    return seen;
}

int actori_wait_for_bits(_Atomic uint32_t *word, uint32_t done, uint32_t waiter,
                         int64_t deadline_ms, bool spin)
{
    uint32_t s = atomic_load_explicit(word, memory_order_acquire);
    if (!(s & done) && spin && deadline_ms != 0)
        s = actori_spin_while(word, s, done);
    while (!(s & done)) {
        if (deadline_ms == 0)
            return -1;
        if (!(s & waiter)) {
            /* acquire: if `done` is already there, the setter's writes are
             * visible; if not, the setter's RMW will find `waiter`. */
            s = atomic_fetch_or_explicit(word, waiter, memory_order_acquire) | waiter;
            continue;
        }
        if (actori_futex_wait(word, s, deadline_ms) != 0)
            return -1;
        s = atomic_load_explicit(word, memory_order_acquire);
    }
    return 0;
}
