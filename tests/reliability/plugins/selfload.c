/* A plugin whose init loads itself (the smallest dependency cycle). The
 * contract: loading an object again does not run its init twice. Its init
 * counts its runs (capped at 4, so that a loader that recurses does not
 * overflow the stack) and remembers what the nested load returned. */
#define _GNU_SOURCE
#include <actor/actor.h>

#include <dlfcn.h>

__attribute__((visibility("default"))) int actor_plugin_init(void);
__attribute__((visibility("default"))) int rel_selfload_runs;
__attribute__((visibility("default"))) int rel_selfload_nested_rc = 12345;

int actor_plugin_init(void)
{
    if (++rel_selfload_runs > 4)
        return 99;
    Dl_info info;
    if (dladdr((void *)actor_plugin_init, &info) == 0 || info.dli_fname == NULL)
        return 98;
    int rc = actor_plugin_load(info.dli_fname);
    if (rel_selfload_nested_rc == 12345)
        rel_selfload_nested_rc = rc; /* the innermost load's result */
    return 0;
}
