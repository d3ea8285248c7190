/* A taste of the C API: a Calculator actor answers Sum(1, 2). */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int on_sum(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t ab[2], sum;
    (void)state;
    (void)len; /* the runtime checked it against the layout "qq" */
    memcpy(ab, payload, sizeof ab);
    sum = ab[0] + ab[1];
    return actor_ctx_reply(ctx, &sum, sizeof sum);
}

int main(void)
{
    const actor_msgtype *sum_t;
    actor_class *calc;
    actor_runtime *rt;
    actor_addr *a;
    actor_responder *r;
    int64_t ab[2] = {1, 2}, sum;
    int rc;

    /* A type: payload "qq" (two int64), reply "q"; a class that answers it. */
    if (actor_msgtype_define("Sum", "qq", "q", &sum_t) != ACTOR_OK
        || actor_class_new("Calculator", &calc) != ACTOR_OK)
        return 1;
    actor_class_on_request(calc, sum_t, on_sum);

    if (actor_runtime_new(0, &rt) != ACTOR_OK) /* 0: one worker per CPU */
        return 1;
    rc = actor_spawn(rt, calc, NULL, &a); /* a counted address */
    if (rc == ACTOR_OK) {
        rc = addr_interact(a, sum_t, ab, sizeof ab, &r); /* a responder, at once */
        if (rc == ACTOR_OK) {
            rc = actor_responder_wait(r, 5000); /* or poll its fd, or a callback */
            if (rc == ACTOR_OK) {
                memcpy(&sum, actor_responder_data(r, NULL), sizeof sum);
                printf("Sum: %lld\n", (long long)sum);
            }
            actor_responder_free(r);
        }
        addr_release(a); /* the last address: the actor stops */
    }
    if (rc != ACTOR_OK)
        fprintf(stderr, "taste: %s\n", actor_strerror(rc));
    actor_runtime_free(rt);
    actor_class_free(calc);
    return rc == ACTOR_OK ? 0 : 1;
}
