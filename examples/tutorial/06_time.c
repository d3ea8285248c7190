/* Tutorial 6 (1.1): time. A Heartbeat actor starts a repeating timer in its
 * init; a Slow actor never answers, so a request to it with a deadline
 * expires. On a manual runtime nothing runs by itself: the program steps it
 * and moves its virtual clock, so every run prints the same. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>

enum { HEARTBEAT = 1 }; /* the timer's key among the actor's timers */

typedef struct heartbeat {
    int ticks;
} heartbeat;

static int heartbeat_init(actor_ctx *ctx, void *state)
{
    (void)state;
    /* the event Tick to itself after 100 ms, then every 100 ms */
    return actor_ctx_timer_start(ctx, HEARTBEAT, actor_msgtype_find("Tick"), NULL, 0, 100, 100);
}

static int heartbeat_tick(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    heartbeat *h = state;
    (void)payload;
    (void)len;
    printf("tick %d at %llu ms\n", ++h->ticks,
           (unsigned long long)actor_runtime_now_ms(actor_ctx_runtime(ctx)));
    if (h->ticks == 3)
        actor_ctx_timer_cancel(ctx, HEARTBEAT); /* no tick of it is handled after this */
    return 0;
}

static actor_promise *held; /* the Slow actor's unanswered request */

static int slow_ask(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    (void)payload;
    (void)len;
    printf("Slow: %lld ms left to answer\n", (long long)actor_ctx_deadline_left(ctx));
    return actor_ctx_defer(ctx, &held); /* and never resolves it */
}

int main(void)
{
    const actor_msgtype *tick, *ask;
    actor_class *hb_cls, *slow_cls;
    actor_runtime *rt;
    actor_addr *hb, *slow;
    actor_responder *r;
    int64_t late = 0;

    if (actor_msgtype_define("Tick", "", NULL, &tick) != ACTOR_OK
        || actor_msgtype_define("Ask", "", "q", &ask) != ACTOR_OK
        || actor_class_new("Heartbeat", &hb_cls) != ACTOR_OK
        || actor_class_new("Slow", &slow_cls) != ACTOR_OK)
        return 1;
    actor_class_on_init(hb_cls, heartbeat_init);
    actor_class_on_event(hb_cls, tick, heartbeat_tick);
    actor_class_set_state_size(hb_cls, sizeof(heartbeat));
    actor_class_on_request(slow_cls, ask, slow_ask);

    /* No threads; a virtual clock at 0; 42 seeds the choice of the next actor. */
    if (actor_runtime_new_manual(42, &rt) != ACTOR_OK
        || actor_spawn(rt, hb_cls, NULL, &hb) != ACTOR_OK
        || actor_spawn(rt, slow_cls, NULL, &slow) != ACTOR_OK)
        return 1;
    actor_runtime_run(rt, SIZE_MAX, NULL); /* the inits */
    actor_runtime_advance(rt, 1000);       /* one virtual second: three ticks */

    if (addr_interact_within(slow, ask, NULL, 0, 250, &r) != ACTOR_OK)
        return 1;
    actor_runtime_run(rt, SIZE_MAX, NULL);
    actor_runtime_advance(rt, 249);
    printf("at %llu ms: %s\n", (unsigned long long)actor_runtime_now_ms(rt),
           actor_strerror(actor_responder_status(r)));
    actor_runtime_advance(rt, 1);
    printf("at %llu ms: %s\n", (unsigned long long)actor_runtime_now_ms(rt),
           actor_strerror(actor_responder_status(r)));
    actor_responder_free(r);
    /* A late answer is accepted (the promise is consumed) and goes nowhere. */
    printf("late resolve: %s\n", actor_strerror(actor_promise_resolve(held, &late, sizeof late)));

    addr_release(hb);
    addr_release(slow);
    actor_runtime_free(rt);
    actor_class_free(hb_cls);
    actor_class_free(slow_cls);
    return 0;
}
