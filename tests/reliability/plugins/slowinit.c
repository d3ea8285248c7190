/* A plugin whose init takes a while and counts its runs: loaded from several
 * threads at once, it must still be initialised exactly once, and every
 * load must return ACTOR_OK. */
#define _POSIX_C_SOURCE 200809L
#include <actor/actor.h>

#include <time.h>

__attribute__((visibility("default"))) int actor_plugin_init(void);
__attribute__((visibility("default"))) int rel_slowinit_runs;

int actor_plugin_init(void)
{
    __atomic_add_fetch(&rel_slowinit_runs, 1, __ATOMIC_SEQ_CST);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the other loaders arrive meanwhile */
    const actor_msgtype *t = NULL;
    return actor_msgtype_define("hostile.SlowInit", "q", NULL, &t);
}
