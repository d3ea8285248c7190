/* Logging: one handler for the whole process, stderr by default. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static actor_log_fn log_fn;
static void *log_ud;

static const char *level_name(int level)
{
    switch (level) {
    case ACTOR_LOG_ERROR: return "error";
    case ACTOR_LOG_WARN: return "warning";
    case ACTOR_LOG_INFO: return "info";
    default: return "debug";
    }
}

void actori_log_atfork(int lock)
{
    if (lock)
        pthread_mutex_lock(&log_lock);
    else
        pthread_mutex_unlock(&log_lock);
}

void actor_set_log_handler(actor_log_fn fn, void *ud)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_ud = fn ? ud : NULL;
    pthread_mutex_unlock(&log_lock);
}

void actori_log(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    /* Copy the handler out so that it runs without the lock: a handler may
     * log through the library again, or be slow. */
    pthread_mutex_lock(&log_lock);
    actor_log_fn fn = log_fn;
    void *ud = log_ud;
    pthread_mutex_unlock(&log_lock);

    if (fn != NULL)
        fn(level, msg, ud);
    else
        fprintf(stderr, "libactor: %s: %s\n", level_name(level), msg);
}
