/* Tutorial 9 (1.1): composition. Topics: a Logger subscribed to "orders.>"
 * takes every type with a catch-all handler; a Shipping actor subscribed to
 * "orders.*.new" handles Order events only. A pool: three Cashiers behind
 * one address, the customer's number choosing the Cashier, so the same
 * customer always reaches the same one. A manual runtime keeps the order of
 * the lines the same every run. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The catch-all handler: any event type without a handler of its own. */
static int logger_any(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    (void)payload;
    printf("  logger: %s, %zu bytes\n", actor_msgtype_name(actor_ctx_msgtype(ctx)), len);
    return 0;
}

static int shipping_order(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t order[2]; /* customer, amount */
    (void)ctx;
    (void)state;
    (void)len;
    memcpy(order, payload, sizeof order);
    printf("  shipping: customer %lld, amount %lld\n", (long long)order[0], (long long)order[1]);
    return 0;
}

typedef struct cashier {
    int number;
} cashier;

static int cashiers; /* the manual runtime runs every init on this thread */

static int cashier_init(actor_ctx *ctx, void *state)
{
    (void)ctx;
    ((cashier *)state)->number = ++cashiers;
    return 0;
}

/* Serve(customer): answers with the Cashier's number. */
static int cashier_serve(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t number = ((cashier *)state)->number;
    (void)payload;
    (void)len;
    return actor_ctx_reply(ctx, &number, sizeof number);
}

/* Publishes one event and runs the runtime, so that its subscribers print. */
static int publish(actor_runtime *rt, const char *subject, const actor_msgtype *t,
                   const void *payload, size_t len)
{
    size_t delivered;
    int rc = actor_publish(rt, subject, t, payload, len, &delivered);
    if (rc != ACTOR_OK)
        return rc;
    printf("%s %s: delivered to %zu\n", actor_msgtype_name(t), subject, delivered);
    return actor_runtime_run(rt, SIZE_MAX, NULL);
}

int main(void)
{
    const actor_msgtype *order, *paid, *serve;
    actor_class *logger_cls, *shipping_cls, *cashier_cls;
    actor_runtime *rt;
    actor_addr *logger, *shipping, *pool;
    int64_t eu_order[2] = {7, 100}, us_order[2] = {3, 250}, eu_paid = 7;

    if (actor_msgtype_define("Order", "qq", NULL, &order) != ACTOR_OK /* customer, amount */
        || actor_msgtype_define("Paid", "q", NULL, &paid) != ACTOR_OK /* customer */
        || actor_msgtype_define("Serve", "q", "q", &serve) != ACTOR_OK
        || actor_class_new("Logger", &logger_cls) != ACTOR_OK
        || actor_class_new("Shipping", &shipping_cls) != ACTOR_OK
        || actor_class_new("Cashier", &cashier_cls) != ACTOR_OK)
        return 1;
    actor_class_on_any_event(logger_cls, logger_any);
    actor_class_on_event(shipping_cls, order, shipping_order);
    actor_class_on_init(cashier_cls, cashier_init);
    actor_class_on_request(cashier_cls, serve, cashier_serve);
    actor_class_set_state_size(cashier_cls, sizeof(cashier)); /* pools spawn with state NULL */
    if (actor_runtime_new_manual(1, &rt) != ACTOR_OK)
        return 1;

    /* Topics: '*' is exactly one token, '>' one or more at the end. */
    if (actor_spawn(rt, logger_cls, NULL, &logger) != ACTOR_OK
        || actor_subscribe(logger, "orders.>") != ACTOR_OK
        || actor_spawn(rt, shipping_cls, NULL, &shipping) != ACTOR_OK
        || actor_subscribe(shipping, "orders.*.new") != ACTOR_OK)
        return 1;
    if (publish(rt, "orders.eu.new", order, eu_order, sizeof eu_order) != ACTOR_OK
        || publish(rt, "orders.us.new", order, us_order, sizeof us_order) != ACTOR_OK
        || publish(rt, "orders.eu.paid", paid, &eu_paid, sizeof eu_paid) != ACTOR_OK)
        return 1;

    /* A pool routed by a hash of the payload's bytes 0 to 7: the customer. */
    actor_pool_spec spec = {.size = sizeof spec, .cls = cashier_cls, .members = 3,
                            .route = ACTOR_ROUTE_HASH, .key_offset = 0, .key_len = 8};
    if (actor_pool_spawn(rt, &spec, &pool) != ACTOR_OK)
        return 1;
    int64_t customers[] = {7, 3, 5, 7, 3, 5};
    for (size_t i = 0; i < sizeof customers / sizeof customers[0]; i++) {
        actor_responder *r;
        if (addr_interact(pool, serve, &customers[i], sizeof customers[i], &r) != ACTOR_OK)
            return 1;
        if (actor_responder_wait(r, 5000) == ACTOR_OK)
            printf("customer %lld -> cashier %lld\n", (long long)customers[i],
                   (long long)*(const int64_t *)actor_responder_data(r, NULL));
        actor_responder_free(r);
    }

    addr_release(pool); /* its last address: the members stop */
    addr_release(logger);
    addr_release(shipping);
    actor_runtime_free(rt);
    actor_class_free(logger_cls);
    actor_class_free(shipping_cls);
    actor_class_free(cashier_cls);
    return 0;
}
