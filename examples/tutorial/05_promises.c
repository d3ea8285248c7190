/* Tutorial 5: promises. A handler need not answer at once: actor_ctx_defer
 * takes the request out of it as a promise, answered later (from any
 * thread). The Gate holds every Ticket request until an Open event; a
 * promise dropped unanswered cancels its request, so no requester hangs. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>

#define MAX_WAITING 8

typedef struct gate {
    actor_promise *waiting[MAX_WAITING];
    int n;
} gate;

static int gate_ticket(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    gate *g = state;
    (void)payload;
    (void)len;
    if (g->n == MAX_WAITING)
        return 1; /* fails the request (ACTOR_EHANDLER) */
    return actor_ctx_defer(ctx, &g->waiting[g->n++]); /* answered on Open */
}

static int gate_open(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    gate *g = state;
    (void)ctx;
    (void)payload;
    (void)len;
    for (int i = 0; i < g->n; i++) {
        int64_t ticket = i + 1;
        actor_promise_resolve(g->waiting[i], &ticket, sizeof ticket); /* consumes it */
    }
    g->n = 0;
    return 0;
}

static void gate_finalize(actor_ctx *ctx, void *state)
{
    gate *g = state;
    (void)ctx;
    for (int i = 0; i < g->n; i++)
        actor_promise_free(g->waiting[i]); /* unanswered: ACTOR_ECANCELED */
}

static void show(const char *what, actor_responder *r)
{
    int rc = actor_responder_wait(r, 5000);
    if (rc == ACTOR_OK)
        printf("%s: ticket %lld\n", what, (long long)*(const int64_t *)actor_responder_data(r, NULL));
    else
        printf("%s: %s\n", what, actor_strerror(rc));
    actor_responder_free(r);
}

int main(void)
{
    const actor_msgtype *ticket, *open;
    actor_class *cls;
    actor_runtime *rt;
    actor_addr *a;
    actor_responder *r[4];

    if (actor_msgtype_define("Ticket", "", "q", &ticket) != ACTOR_OK /* no fields; an int64 back */
        || actor_msgtype_define("Open", "", NULL, &open) != ACTOR_OK
        || actor_class_new("Gate", &cls) != ACTOR_OK)
        return 1;
    actor_class_on_request(cls, ticket, gate_ticket);
    actor_class_on_event(cls, open, gate_open);
    actor_class_on_finalize(cls, gate_finalize);
    actor_class_set_state_size(cls, sizeof(gate));

    if (actor_runtime_new(2, &rt) != ACTOR_OK || actor_spawn(rt, cls, NULL, &a) != ACTOR_OK)
        return 1;
    for (int i = 0; i < 3; i++)
        if (addr_interact(a, ticket, NULL, 0, &r[i]) != ACTOR_OK)
            return 1;
    printf("before Open: %s\n", actor_strerror(actor_responder_wait(r[0], 100)));
    addr_send(a, open, NULL, 0);
    show("first", r[0]);
    show("second", r[1]);
    show("third", r[2]);
    if (addr_interact(a, ticket, NULL, 0, &r[3]) != ACTOR_OK) /* no Open will come */
        return 1;
    addr_release(a); /* the Gate stops: finalize drops the promise */
    show("fourth", r[3]);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return 0;
}
