/* A good test plugin: defines plg.Ping ("q" -> "q") and registers the class
 * plg.Echo, whose Ping handler answers value + 1. Its init fails if it runs
 * a second time (loading again must not run it again). */
#include <actor/actor.h>

#include <stdint.h>
#include <string.h>

static int init_runs;

static int ping(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t v;
    memcpy(&v, payload, sizeof v);
    v += 1;
    return actor_ctx_reply(ctx, &v, sizeof v);
}

__attribute__((visibility("default"))) int actor_plugin_init(void)
{
    if (++init_runs > 1)
        return 100; /* run twice: a bug in the loader */
    const actor_msgtype *t = NULL;
    if (actor_msgtype_define("plg.Ping", "q", "q", &t) != ACTOR_OK)
        return 1;
    actor_class *c = NULL;
    if (actor_class_new("plg.Echo", &c) != ACTOR_OK)
        return 2;
    if (actor_class_on_request(c, t, ping) != ACTOR_OK ||
        actor_class_set_state_size(c, 16) != ACTOR_OK ||
        actor_class_register(c) != ACTOR_OK) {
        actor_class_free(c);
        return 3;
    }
    actor_class_free(c); /* the registry keeps it */
    return 0;
}
