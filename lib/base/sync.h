/* Internal: waiting on a 32-bit atomic word (Linux futex) with deadlines. */
#ifndef ACTORI_SYNC_H
#define ACTORI_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Nanoseconds on the monotonic clock. Any thread. */
int64_t actori_now_ns(void);

/* Milliseconds on the monotonic clock. Any thread. */
int64_t actori_now_ms(void);

/* Deadline for a timeout: -1 for no limit (timeout_ms < 0), else now + timeout. */
int64_t actori_deadline(int timeout_ms);

/* Sleeps while *word == expected, until woken or the deadline (-1: none)
 * passes. Returns 0 when woken or the value changed (spurious wake-ups are
 * possible: re-check), -1 when the deadline passed. Any thread. */
int actori_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ms);

/* Spins (a few tens of microseconds at most) until one of `bits` is set in
 * *word; a reply often comes sooner than a sleeping thread could be woken.
 * Returns the last value read. Any thread. */
uint32_t actori_spin_while(_Atomic uint32_t *word, uint32_t seen, uint32_t bits);

/* Starts a thread of the library with every blockable signal blocked, so
 * that signals go to the application's threads. As pthread_create. */
#include <pthread.h>
int actori_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* A pause for spin loops. */
static inline void actori_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waits until a bit of `done` is set in *word: first spins briefly if
 * `spin`, then sets `waiter` (so that whoever sets `done` knows to call
 * actori_futex_wake_all) and sleeps on the word. Acquire: what the setter
 * wrote before setting `done` (with release) is visible on return.
 * Returns 0, or -1 once the deadline (-1: none; 0: now) passed first. */
int actori_wait_for_bits(_Atomic uint32_t *word, uint32_t done, uint32_t waiter,
                         int64_t deadline_ms, bool spin);

/* As actori_futex_wait, with an absolute deadline in ns on the monotonic
 * clock (UINT64_MAX: none), for the runtime's clock thread. */
int actori_futex_wait_ns(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns);

/* Wakes every thread sleeping on word. Any thread. */
void actori_futex_wake_all(_Atomic uint32_t *word);

#endif
