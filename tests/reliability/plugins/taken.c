/* A plugin whose class name is already taken (by the twice plugin): its
 * init returns the registration's code, so loading it is ACTOR_EHANDLER. */
#include <actor/actor.h>

__attribute__((visibility("default"))) int actor_plugin_init(void);

int actor_plugin_init(void)
{
    actor_class *c = NULL;
    int rc = actor_class_new("hostile.Twice", &c);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_class_register(c);
    actor_class_free(c);
    return rc; /* ACTOR_EBUSY expected */
}
