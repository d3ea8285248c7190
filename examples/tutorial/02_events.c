/* Tutorial 2: events, interrupt and join. A Counter adds up Add events; the
 * interrupt queues behind them, so it sees all 100 before it stops; join
 * waits until it is Done. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct counter {
    int64_t total;
    int events;
} counter;

static int counter_add(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    counter *c = state;
    int64_t k;
    (void)ctx;
    (void)len; /* checked by the runtime against the layout "q" */
    memcpy(&k, payload, sizeof k);
    c->total += k;
    c->events++;
    return 0; /* nonzero would go to the class's fallback */
}

static void counter_interrupt(actor_ctx *ctx, void *state)
{
    counter *c = state;
    printf("interrupted after %d events, total %lld\n", c->events, (long long)c->total);
    actor_ctx_stop(ctx); /* what the default on_interrupt does */
}

int main(void)
{
    const actor_msgtype *add;
    actor_class *cls;
    actor_runtime *rt;
    actor_addr *a;
    int64_t k;
    int rc;

    if (actor_msgtype_define("Add", "q", NULL, &add) != ACTOR_OK /* one int64 */
        || actor_class_new("Counter", &cls) != ACTOR_OK)
        return 1;
    actor_class_on_event(cls, add, counter_add);
    actor_class_on_interrupt(cls, counter_interrupt);
    actor_class_set_state_size(cls, sizeof(counter));

    if (actor_runtime_new(2, &rt) != ACTOR_OK || actor_spawn(rt, cls, NULL, &a) != ACTOR_OK)
        return 1;
    for (k = 1; k <= 100; k++)
        addr_send(a, add, &k, sizeof k);
    addr_interrupt(a); /* behind the 100 events */
    rc = addr_join(a, 5000);
    printf("join: %s, done: %d\n", actor_strerror(rc), addr_is_done(a));
    rc = addr_send(a, add, &k, sizeof k);
    printf("send after the stop: %s\n", actor_strerror(rc));
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return 0;
}
