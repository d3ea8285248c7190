/* A logging proxy built with the public ABI alone: a class with catch-all
 * handlers takes every type, logs it, forwards events to a target actor,
 * and relays requests — deferring its own answer, asking the target, and
 * resolving the promise from the target's answer. Run by scripts/example.
 *
 *   build/examples/proxy
 */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- the target: a Calculator that also counts Add events ---- */

typedef struct calc {
    int64_t total;
} calc;

static int on_add(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    (void)len;
    int64_t v;
    memcpy(&v, payload, sizeof v);
    ((calc *)state)->total += v;
    return 0;
}

static int on_sum(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    (void)len;
    int64_t ab[2], sum;
    memcpy(ab, payload, sizeof ab);
    sum = ab[0] + ab[1];
    return actor_ctx_reply(ctx, &sum, sizeof sum);
}

static int on_total(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    return actor_ctx_reply(ctx, &((calc *)state)->total, sizeof(int64_t));
}

/* ---- the proxy: knows no type, logs and relays all of them ---- */

typedef struct proxy {
    actor_addr *target; /* counted, given at spawn */
} proxy;

static int proxy_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    proxy *p = state;
    const actor_msgtype *t = actor_ctx_msgtype(ctx);
    printf("proxy: event %s (%zu bytes)\n", actor_msgtype_name(t), len);
    return addr_send(p->target, t, payload, len);
}

/* The target's answer completes the proxy's own deferred request: the
 * then-callback runs on the thread that completes it. */
static void relay_answer(actor_responder *r, void *ud)
{
    actor_promise *promise = ud;
    int status = actor_responder_status(r);
    size_t len = 0;
    const void *data = actor_responder_data(r, &len);
    if (status == ACTOR_OK)
        actor_promise_resolve(promise, data, len);
    else if (status == ACTOR_EHANDLER)
        actor_promise_reject(promise, actor_responder_handler_error(r));
    else
        actor_promise_free(promise); /* the requester sees ACTOR_ECANCELED */
    actor_responder_free(r);
}

static int proxy_request(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    proxy *p = state;
    const actor_msgtype *t = actor_ctx_msgtype(ctx);
    printf("proxy: request %s (%zu bytes)\n", actor_msgtype_name(t), len);
    actor_promise *promise;
    actor_responder *r;
    int rc = actor_ctx_defer(ctx, &promise);
    if (rc != ACTOR_OK)
        return rc;
    rc = addr_interact(p->target, t, payload, len, &r);
    if (rc != ACTOR_OK) {
        actor_promise_reject(promise, rc);
        return 0;
    }
    if (actor_responder_then(r, relay_answer, promise) != ACTOR_OK) {
        actor_promise_free(promise);
        actor_responder_free(r);
    }
    return 0;
}

static void proxy_free(void *state) { addr_release(((proxy *)state)->target); }

static int64_t ask(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len)
{
    actor_responder *r;
    int64_t v = -1;
    if (addr_interact(a, t, payload, len, &r) != ACTOR_OK)
        return v;
    if (actor_responder_wait(r, 5000) == ACTOR_OK)
        memcpy(&v, actor_responder_data(r, NULL), sizeof v);
    actor_responder_free(r);
    return v;
}

int main(void)
{
    const actor_msgtype *add_t, *sum_t, *total_t;
    actor_class *calc_cls, *proxy_cls;
    actor_runtime *rt;
    if (actor_msgtype_define("Add", "q", NULL, &add_t) != ACTOR_OK ||
        actor_msgtype_define("Sum", "qq", "q", &sum_t) != ACTOR_OK ||
        actor_msgtype_define("Total", "", "q", &total_t) != ACTOR_OK ||
        actor_class_new("Calculator", &calc_cls) != ACTOR_OK ||
        actor_class_new("LoggingProxy", &proxy_cls) != ACTOR_OK)
        return 1;
    actor_class_set_state_size(calc_cls, sizeof(calc));
    actor_class_on_event(calc_cls, add_t, on_add);
    actor_class_on_request(calc_cls, sum_t, on_sum);
    actor_class_on_request(calc_cls, total_t, on_total);
    actor_class_on_any_event(proxy_cls, proxy_event);
    actor_class_on_any_request(proxy_cls, proxy_request);
    actor_class_set_state_free(proxy_cls, proxy_free);

    if (actor_runtime_new(2, &rt) != ACTOR_OK)
        return 1;
    actor_addr *target, *front;
    static proxy state;
    if (actor_spawn(rt, calc_cls, NULL, &target) != ACTOR_OK)
        return 1;
    state.target = addr_ref(target);
    if (actor_spawn(rt, proxy_cls, &state, &front) != ACTOR_OK)
        return 1;

    /* Everything goes through the proxy, which knows none of these types. */
    for (int64_t v = 1; v <= 3; v++)
        addr_send(front, add_t, &v, sizeof v);
    int64_t ab[2] = {40, 2};
    printf("Sum through the proxy: %lld\n", (long long)ask(front, sum_t, ab, sizeof ab));
    printf("Total through the proxy: %lld\n", (long long)ask(front, total_t, NULL, 0));

    addr_release(front);
    addr_release(target);
    actor_runtime_free(rt);
    actor_class_free(calc_cls);
    actor_class_free(proxy_cls);
    return 0;
}
