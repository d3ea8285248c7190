#include "calculator_class.h"

#include <string.h>

static int on_sum(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    (void)len; /* the runtime checked it against the layout "qq" */
    sum_request req;
    memcpy(&req, payload, sizeof req);
    int64_t sum = req.a + req.b;
    return actor_ctx_reply(ctx, &sum, sizeof sum);
}

int calculator_class_make(const actor_msgtype **type, actor_class **cls)
{
    int rc = actor_msgtype_define("Sum", "qq", "q", type);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_class_new("Calculator", cls);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_class_on_request(*cls, *type, on_sum);
    if (rc != ACTOR_OK)
        actor_class_free(*cls);
    return rc;
}
