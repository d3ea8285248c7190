/* Plugins: shared objects that define types and register classes from their
 * actor_plugin_init. They stay loaded: classes point into their code. */
#include "alloc.h"
#include "log.h"

#include <actor/actor.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

typedef struct loaded_plugin {
    void *handle;
    int result; /* what its init returned, given again to later loads */
    struct loaded_plugin *next;
} loaded_plugin;

/* Held across init: plugins load one at a time, and each runs init once. */
/* Recursive: an init may load the plugins it depends on. */
static pthread_mutex_t plugin_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static loaded_plugin *plugins;

static loaded_plugin *find_loaded(void *handle)
{
    for (loaded_plugin *p = plugins; p; p = p->next)
        if (p->handle == handle)
            return p;
    return NULL;
}

int actor_plugin_load(const char *path)
{
    if (path == NULL || *path == '\0') {
        actori_log(ACTOR_LOG_ERROR, "actor_plugin_load: no path given");
        return ACTOR_EINVAL;
    }
    /* Bounded before anything reads it whole: the dynamic loader copies the
     * path on its stack (a 10 MB path crashed it). */
    size_t path_len = strnlen(path, PATH_MAX);
    if (path_len >= PATH_MAX) {
        actori_log(ACTOR_LOG_ERROR, "cannot load plugin %.64s...: path longer than %d bytes",
                   path, PATH_MAX - 1);
        return ACTOR_EINVAL;
    }
    pthread_mutex_lock(&plugin_lock);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        actori_log(ACTOR_LOG_ERROR, "cannot load plugin %s: %s", path, why ? why : "unknown");
        pthread_mutex_unlock(&plugin_lock);
        return ACTOR_EINVAL;
    }
    loaded_plugin *known = find_loaded(handle);
    if (known != NULL) {
        int result = known->result;
        dlclose(handle); /* drop the extra reference dlopen took */
        pthread_mutex_unlock(&plugin_lock);
        return result;
    }
    int (*init)(void);
    *(void **)&init = dlsym(handle, "actor_plugin_init");
    if (init == NULL) {
        actori_log(ACTOR_LOG_ERROR, "plugin %s has no actor_plugin_init symbol", path);
        dlclose(handle);
        pthread_mutex_unlock(&plugin_lock);
        return ACTOR_EINVAL;
    }
    loaded_plugin *entry = actori_malloc(sizeof *entry);
    if (entry == NULL) {
        dlclose(handle);
        pthread_mutex_unlock(&plugin_lock);
        return ACTOR_ENOMEM;
    }
    /* Listed before init runs, as in progress (ACTOR_OK until it fails):
     * an init that loads itself, directly or through a cycle, must not run
     * again. The lock is recursive for that very case. */
    entry->handle = handle;
    entry->result = ACTOR_OK;
    entry->next = plugins;
    plugins = entry;
    int rc = init();
    if (rc != 0) {
        /* Kept loaded: init may have registered classes pointing into it. */
        actori_log(ACTOR_LOG_ERROR, "plugin %s: actor_plugin_init failed: %d (%s)", path, rc,
                   actor_strerror(rc));
        rc = ACTOR_EHANDLER;
    }
    entry->result = rc; /* given again to later loads of this object */
    pthread_mutex_unlock(&plugin_lock);
    return rc;
}
