/* Internal: waiting on a 32-bit atomic word (Linux futex) with deadlines. */
#ifndef ACTORI_SYNC_H
#define ACTORI_SYNC_H

#include <stdatomic.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock. Any thread. */
int64_t actori_now_ms(void);

/* Deadline for a timeout: -1 for no limit (timeout_ms < 0), else now + timeout. */
int64_t actori_deadline(int timeout_ms);

/* Sleeps while *word == expected, until woken or the deadline (-1: none)
 * passes. Returns 0 when woken or the value changed (spurious wake-ups are
 * possible: re-check), -1 when the deadline passed. Any thread. */
int actori_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ms);

/* Wakes every thread sleeping on word. Any thread. */
void actori_futex_wake_all(_Atomic uint32_t *word);

#endif
