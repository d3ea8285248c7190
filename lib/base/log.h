/* Internal: the library's log lines, sent to the user's handler or stderr. */
#ifndef ACTORI_LOG_H
#define ACTORI_LOG_H

#include <actor/actor.h>

/* Formats a line (truncated past 1 KiB) and hands it to the log handler.
 * User strings must go through "%s", never as the format. Any thread. */
void actori_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fork(): held across it (1 before, 0 after, in parent and child), so a
 * child never inherits it locked by a thread it does not have. */
void actori_log_atfork(int lock);

#endif
