/* Tutorial 4: forward and on_response. An actor never blocks on an answer:
 * the User asks the Calculator from its init and forwards each responder
 * to itself; the answers come back as messages to its on_response
 * handler, told apart by their tags. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int calc_sum(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t ab[2], r;
    (void)state;
    (void)len;
    memcpy(ab, payload, sizeof ab);
    r = ab[0] + ab[1];
    return actor_ctx_reply(ctx, &r, sizeof r);
}

typedef struct user {
    actor_addr *calculator; /* counted: released in finalize */
    int answers;
} user;

static int user_init(actor_ctx *ctx, void *state)
{
    user *u = state;
    const actor_msgtype *sum = actor_msgtype_find("Sum");
    int64_t questions[2][2] = {{1, 2}, {20, 22}};
    for (uint64_t tag = 0; tag < 2; tag++) {
        actor_responder *r;
        int rc = addr_interact(u->calculator, sum, questions[tag], sizeof questions[tag], &r);
        if (rc != ACTOR_OK)
            return rc; /* init fails: the actor stops */
        rc = actor_responder_forward_tagged(r, actor_ctx_self(ctx), tag); /* consumes r */
        if (rc != ACTOR_OK) {
            actor_responder_free(r);
            return rc;
        }
    }
    return 0;
}

static void user_on_sum(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                        const void *reply, size_t len)
{
    user *u = state;
    int64_t r;
    (void)type;
    (void)len;
    if (status == ACTOR_OK) {
        memcpy(&r, reply, sizeof r);
        printf("answer %llu: %lld\n", (unsigned long long)actor_ctx_tag(ctx), (long long)r);
    } else {
        printf("answer %llu failed: %s\n", (unsigned long long)actor_ctx_tag(ctx),
               actor_strerror(status));
    }
    if (++u->answers == 2)
        actor_ctx_stop(ctx);
}

static void user_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    addr_release(((user *)state)->calculator);
}

int main(void)
{
    const actor_msgtype *sum;
    actor_class *calc_cls, *user_cls;
    actor_runtime *rt;
    actor_addr *calc, *u;
    user state = {NULL, 0}; /* the User's state: lives in main until it is Done */

    if (actor_msgtype_define("Sum", "qq", "q", &sum) != ACTOR_OK
        || actor_class_new("Calculator", &calc_cls) != ACTOR_OK
        || actor_class_new("User", &user_cls) != ACTOR_OK)
        return 1;
    actor_class_on_request(calc_cls, sum, calc_sum);
    actor_class_on_init(user_cls, user_init);
    actor_class_on_response(user_cls, sum, user_on_sum);
    actor_class_on_finalize(user_cls, user_finalize);

    if (actor_runtime_new(2, &rt) != ACTOR_OK || actor_spawn(rt, calc_cls, NULL, &calc) != ACTOR_OK)
        return 1;
    state.calculator = addr_ref(calc);
    if (actor_spawn(rt, user_cls, &state, &u) == ACTOR_OK) {
        printf("join: %s\n", actor_strerror(addr_join(u, 5000)));
        addr_release(u);
    } else {
        addr_release(state.calculator);
    }
    addr_release(calc);
    actor_runtime_free(rt);
    actor_class_free(user_cls);
    actor_class_free(calc_cls);
    return 0;
}
