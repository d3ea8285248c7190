/* Tutorial 1: an actor and its lifecycle. A Greeter runs init first, then
 * its events one at a time, and finalize last, once its last address is
 * released and its mailbox is empty. */
#include <actor/actor.h>

#include <stdio.h>

typedef struct greeter {
    int greeted; /* the actor's own state: only its callbacks touch it */
} greeter;

static int greeter_init(actor_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    printf("init\n");
    return 0; /* nonzero: the actor handles nothing, finalize runs */
}

static int greeter_greet(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    greeter *g = state;
    (void)ctx;
    printf("hello, %.*s\n", (int)len, (const char *)payload);
    g->greeted++;
    return 0;
}

static void greeter_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    printf("finalize: greeted %d\n", ((greeter *)state)->greeted);
}

int main(void)
{
    const actor_msgtype *greet;
    actor_class *cls;
    actor_runtime *rt;
    actor_addr *a;

    /* A type with a NULL layout carries opaque bytes of any length. */
    if (actor_msgtype_define("Greet", NULL, NULL, &greet) != ACTOR_OK
        || actor_class_new("Greeter", &cls) != ACTOR_OK)
        return 1;
    actor_class_on_init(cls, greeter_init);
    actor_class_on_event(cls, greet, greeter_greet);
    actor_class_on_finalize(cls, greeter_finalize);
    actor_class_set_state_size(cls, sizeof(greeter)); /* spawn(NULL): a zeroed block */

    if (actor_runtime_new(2, &rt) != ACTOR_OK)
        return 1;
    if (actor_spawn(rt, cls, NULL, &a) == ACTOR_OK) {
        addr_send(a, greet, "world", 5);
        addr_send(a, greet, "actors", 6);
        addr_release(a); /* the last address: it stops once its mailbox is empty */
    }
    actor_runtime_free(rt); /* waits until every actor is Done */
    actor_class_free(cls);
    printf("done\n");
    return 0;
}
