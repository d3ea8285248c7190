/* The seed's end-to-end example: a User actor asks a Calculator for
 * Sum {1, 2} in its init, gets the answer forwarded to its on_response
 * handler (no blocking inside an actor) and prints "Sum: 3". */
#include "calculator_class.h"

#include <inttypes.h>
#include <stdio.h>

typedef struct user {
    actor_addr *calculator; /* counted: released in finalize */
} user;

static int user_init(actor_ctx *ctx, void *state)
{
    user *u = state;
    sum_request req = {1, 2};
    actor_responder *r;
    int rc = addr_interact(u->calculator, actor_msgtype_find("Sum"), &req, sizeof req, &r);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_responder_forward(r, actor_ctx_self(ctx)); /* answer comes as a message */
    if (rc != ACTOR_OK)
        actor_responder_free(r);
    return rc;
}

static void user_on_sum(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                        const void *reply, size_t len)
{
    (void)state;
    (void)type;
    (void)len;
    if (status == ACTOR_OK)
        printf("Sum: %" PRId64 "\n", *(const int64_t *)reply);
    else
        printf("Sum failed: %s\n", actor_strerror(status));
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
    actor_class *calculator_cls, *user_cls;
    actor_runtime *rt;
    if (calculator_class_make(&sum, &calculator_cls) != ACTOR_OK ||
        actor_class_new("User", &user_cls) != ACTOR_OK || actor_runtime_new(2, &rt) != ACTOR_OK) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    actor_class_on_init(user_cls, user_init);
    actor_class_on_response(user_cls, sum, user_on_sum);
    actor_class_on_finalize(user_cls, user_finalize);

    actor_addr *calculator, *u;
    user state = {NULL};
    int rc = actor_spawn(rt, calculator_cls, NULL, &calculator);
    if (rc == ACTOR_OK) {
        state.calculator = addr_ref(calculator);
        rc = actor_spawn(rt, user_cls, &state, &u);
        if (rc != ACTOR_OK)
            addr_release(state.calculator);
    }
    if (rc == ACTOR_OK) {
        rc = addr_join(u, 5000); /* the user stops once it has its answer */
        addr_release(u);
    }
    addr_release(calculator);
    actor_runtime_free(rt); /* stops the calculator */
    actor_class_free(user_cls);
    actor_class_free(calculator_cls);
    if (rc != ACTOR_OK)
        fprintf(stderr, "calculator example: %s\n", actor_strerror(rc));
    return rc == ACTOR_OK ? 0 : 1;
}
