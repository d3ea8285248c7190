/* A plugin that registers its class twice, and a second class of the same
 * name: both later registrations must be ACTOR_EBUSY, and the first stays.
 * Its init returns 0 only if the library answered as the contract says;
 * otherwise a code that tells which step went wrong. */
#include <actor/actor.h>

__attribute__((visibility("default"))) int actor_plugin_init(void);

static int ping(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    (void)payload;
    (void)len;
    long long v = 7;
    return actor_ctx_reply(ctx, &v, sizeof v);
}

int actor_plugin_init(void)
{
    const actor_msgtype *t = NULL;
    if (actor_msgtype_define("hostile.TwicePing", "", "q", &t) != ACTOR_OK)
        return 101;
    actor_class *c = NULL, *d = NULL;
    if (actor_class_new("hostile.Twice", &c) != ACTOR_OK)
        return 102;
    if (actor_class_on_request(c, t, ping) != ACTOR_OK)
        return 103;
    if (actor_class_register(c) != ACTOR_OK)
        return 104;
    if (actor_class_register(c) != ACTOR_EBUSY) /* the same class again */
        return 105;
    if (actor_class_new("hostile.Twice", &d) != ACTOR_OK) /* a name may be reused... */
        return 106;
    int rc = actor_class_register(d); /* ...but not registered twice */
    actor_class_free(d);
    if (rc != ACTOR_EBUSY)
        return 107;
    if (actor_class_find("hostile.Twice") != c)
        return 108;
    actor_class_free(c); /* the registry keeps its own reference */
    return 0;
}
