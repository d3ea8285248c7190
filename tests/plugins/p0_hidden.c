/* A plugin built with -fvisibility=hidden (C_VISIBILITY_PRESET hidden) whose
 * entry point is declared with ACTOR_PLUGIN_INIT: the macro alone must export
 * it. Defines p0h.Ping ("q" -> "q") and registers the class p0h.Echo, whose
 * Ping handler answers value + 100. p0h_helper is an ordinary extern
 * function: hidden, it shows that the build did hide what is not marked. */
#include <actor/actor.h>

#include <stdint.h>
#include <string.h>

int p0h_helper(void);
int p0h_helper(void) { return 7; }

static int ping(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t v;
    memcpy(&v, payload, sizeof v);
    v += 100;
    return actor_ctx_reply(ctx, &v, sizeof v);
}

ACTOR_PLUGIN_INIT
{
    const actor_msgtype *t = NULL;
    if (actor_msgtype_define("p0h.Ping", "q", "q", &t) != ACTOR_OK)
        return 1;
    actor_class *c = NULL;
    if (actor_class_new("p0h.Echo", &c) != ACTOR_OK)
        return 2;
    if (actor_class_on_request(c, t, ping) != ACTOR_OK || actor_class_register(c) != ACTOR_OK) {
        actor_class_free(c);
        return 3;
    }
    actor_class_free(c); /* the registry keeps it */
    return p0h_helper() == 7 ? 0 : 4;
}
