// ACTOR_PLUGIN_INIT from C++ under -fvisibility=hidden: the macro gives the
// entry point C linkage and default visibility. Registers p0x.Echo.
#include <actor/actor.h>

namespace {
int init_runs = 0;
}

ACTOR_PLUGIN_INIT
{
    ++init_runs;
    actor_class *c = nullptr;
    if (actor_class_new("p0x.Echo", &c) != ACTOR_OK)
        return 2;
    int rc = actor_class_register(c);
    actor_class_free(c);
    return rc == ACTOR_OK && init_runs == 1 ? 0 : 3;
}
