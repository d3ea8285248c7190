/* Tutorial 3: request-response. The Calculator answers Sum(a, b) with a + b
 * and Div(a, b) with a / b, failing a division by zero with its own code.
 * addr_interact gives a responder at once; actor_responder_wait blocks
 * until the answer is there (a poll-able fd and a callback are the other
 * ways to await it). */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { DIV_BY_ZERO = 1 }; /* the handler's own error code */

static int calc_sum(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t ab[2], r;
    (void)state;
    (void)len;
    memcpy(ab, payload, sizeof ab);
    r = ab[0] + ab[1];
    return actor_ctx_reply(ctx, &r, sizeof r);
}

static int calc_div(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t ab[2], r;
    (void)state;
    (void)len;
    memcpy(ab, payload, sizeof ab);
    if (ab[1] == 0)
        return DIV_BY_ZERO; /* unanswered + nonzero: the request fails with ACTOR_EHANDLER */
    r = ab[0] / ab[1];
    return actor_ctx_reply(ctx, &r, sizeof r);
}

/* Asks t(a, b) and prints the answer or the error. */
static void ask(actor_addr *calc, const actor_msgtype *t, int64_t a, int64_t b)
{
    int64_t ab[2] = {a, b}, r;
    actor_responder *resp;
    int rc = addr_interact(calc, t, ab, sizeof ab, &resp);
    if (rc != ACTOR_OK) {
        printf("%s: %s\n", actor_msgtype_name(t), actor_strerror(rc));
        return;
    }
    rc = actor_responder_wait(resp, 5000); /* the final status */
    if (rc == ACTOR_OK) {
        memcpy(&r, actor_responder_data(resp, NULL), sizeof r);
        printf("%s(%lld, %lld) = %lld\n", actor_msgtype_name(t), (long long)a, (long long)b,
               (long long)r);
    } else {
        printf("%s(%lld, %lld) failed: %s, handler error %d\n", actor_msgtype_name(t),
               (long long)a, (long long)b, actor_strerror(rc),
               actor_responder_handler_error(resp));
    }
    actor_responder_free(resp);
}

int main(void)
{
    const actor_msgtype *sum, *div;
    actor_class *cls;
    actor_runtime *rt;
    actor_addr *calc;

    /* Payload "qq" (two int64), reply "q" (one int64). */
    if (actor_msgtype_define("Sum", "qq", "q", &sum) != ACTOR_OK
        || actor_msgtype_define("Div", "qq", "q", &div) != ACTOR_OK
        || actor_class_new("Calculator", &cls) != ACTOR_OK)
        return 1;
    actor_class_on_request(cls, sum, calc_sum);
    actor_class_on_request(cls, div, calc_div);

    if (actor_runtime_new(2, &rt) != ACTOR_OK || actor_spawn(rt, cls, NULL, &calc) != ACTOR_OK)
        return 1;
    ask(calc, sum, 1, 2);
    ask(calc, div, 7, 2);
    ask(calc, div, 7, 0);
    addr_release(calc);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return 0;
}
