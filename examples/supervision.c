/* Supervision: a Worker that fails on every 3rd message of its life runs
 * under a one_for_one supervisor, which restarts it in place. The client
 * keeps the one address it got and asks 7 squares at once: every request
 * is answered, or canceled when the Worker failed on it; the requests
 * queued behind a failure are answered by the restarted Worker.
 * A manual runtime (no threads, a virtual clock) keeps the output the same
 * every run. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct worker {
    int seen; /* messages this incarnation handled: 0 again after a restart */
} worker;

static int on_square(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    worker *w = state;
    int32_t n, sq;
    (void)len; /* the runtime checked it against the layout "i" */
    memcpy(&n, payload, sizeof n);
    if (++w->seen == 3) {
        actor_ctx_fail(ctx, 3); /* unanswered: the request is canceled */
        return 0;
    }
    sq = n * n;
    return actor_ctx_reply(ctx, &sq, sizeof sq);
}

int main(void)
{
    const actor_msgtype *square_t;
    actor_class *cls;
    actor_runtime *rt;
    actor_addr *sup, *w;
    actor_responder *r[7];
    unsigned long long restarts = 0;
    int rc, sent = 0;

    if (actor_msgtype_define("Square", "i", "i", &square_t) != ACTOR_OK ||
        actor_class_new("Worker", &cls) != ACTOR_OK)
        return 1;
    actor_class_set_state_size(cls, sizeof(worker)); /* a fresh zeroed one per restart */
    actor_class_on_request(cls, square_t, on_square);
    if (actor_runtime_new_manual(1, &rt) != ACTOR_OK)
        return 1;

    /* one_for_one; more than 5 restarts within 1 s would make it give up. */
    actor_supervisor_spec spec = {
        .size = sizeof spec, .strategy = ACTOR_ONE_FOR_ONE, .intensity = 5, .period_ms = 1000};
    rc = actor_supervisor_spawn(rt, &spec, &sup);
    if (rc == ACTOR_OK)
        rc = actor_supervisor_start_child(sup, cls, ACTOR_PERMANENT, &w);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "supervision: %s\n", actor_strerror(rc));
        return 1;
    }

    /* Seven requests at once, all to the one address. */
    for (int32_t i = 0; i < 7 && rc == ACTOR_OK; i++) {
        int32_t n = i + 1;
        if ((rc = addr_interact(w, square_t, &n, sizeof n, &r[i])) == ACTOR_OK)
            sent++;
    }
    for (int32_t i = 0; i < sent; i++) {
        int st = actor_responder_wait(r[i], -1); /* runs the manual runtime */
        if (st == ACTOR_OK) {
            int32_t sq;
            memcpy(&sq, actor_responder_data(r[i], NULL), sizeof sq);
            printf("square(%d) = %d\n", (int)(i + 1), (int)sq);
        } else {
            printf("square(%d): %s (the worker failed)\n", (int)(i + 1),
                   st == ACTOR_ECANCELED ? "canceled" : actor_strerror(st));
        }
        actor_responder_free(r[i]);
    }
    if (rc == ACTOR_OK && addr_restarts(w, &restarts) == ACTOR_OK)
        printf("the same address throughout; the worker was restarted %llu times\n", restarts);

    /* Stopping the supervisor stops its children first. */
    addr_interrupt(sup);
    addr_join(sup, -1);
    printf("worker done: %s\n", addr_is_done(w) ? "yes" : "no");
    addr_release(w);
    addr_release(sup);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return rc == ACTOR_OK ? 0 : 1;
}
