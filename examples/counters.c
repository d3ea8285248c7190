/* A few actors, some events, a join: the smallest tour of libactor.
 * Three Counter actors each take "Add" events (layout "q": one int64) and
 * print their total when they stop. */
#include <actor/actor.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct counter {
    int64_t total;
    int64_t events;
} counter;

static int counter_add(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    (void)len;
    counter *c = state;
    int64_t k;
    memcpy(&k, payload, sizeof k);
    c->total += k;
    c->events++;
    return 0;
}

static void counter_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    counter *c = state;
    printf("counter done: %" PRId64 " events, total %" PRId64 "\n", c->events, c->total);
}

int main(void)
{
    const actor_msgtype *add;
    actor_class *cls;
    actor_runtime *rt;
    if (actor_msgtype_define("Add", "q", NULL, &add) != ACTOR_OK ||
        actor_class_new("Counter", &cls) != ACTOR_OK || actor_runtime_new(2, &rt) != ACTOR_OK)
        return 1;
    actor_class_set_state_size(cls, sizeof(counter)); /* spawned with state NULL */
    actor_class_on_event(cls, add, counter_add);
    actor_class_on_finalize(cls, counter_finalize);

    enum { N = 3 };
    actor_addr *counters[N];
    for (int i = 0; i < N; i++)
        if (actor_spawn(rt, cls, NULL, &counters[i]) != ACTOR_OK)
            return 1;
    for (int64_t k = 1; k <= 100; k++)
        for (int i = 0; i < N; i++)
            addr_send(counters[i], add, &k, sizeof k);
    for (int i = 0; i < N; i++) {
        addr_interrupt(counters[i]); /* behind the 100 events: they all count */
        int rc = addr_join(counters[i], 5000);
        printf("join counter %d: %s\n", i, actor_strerror(rc));
        addr_release(counters[i]);
    }
    actor_runtime_free(rt);
    actor_class_free(cls);
    return 0;
}
