/* The same plugin as p0_hidden.c, built the same way (-fvisibility=hidden),
 * but with a plain `int actor_plugin_init(void)`: hidden, so the loader must
 * not find it (ACTOR_EINVAL). Its init would register p0n.Echo. */
#include <actor/actor.h>

int actor_plugin_init(void);
int actor_plugin_init(void)
{
    actor_class *c = NULL;
    if (actor_class_new("p0n.Echo", &c) != ACTOR_OK)
        return 2;
    int rc = actor_class_register(c);
    actor_class_free(c);
    return rc == ACTOR_OK ? 0 : 3;
}
