/* Tutorial 8 (1.1): failure. A Worker squares numbers and fails on a
 * negative one (actor_ctx_fail: it stops with that exit reason). A Watcher
 * finds actors by their registered name and monitors them: it hears once,
 * through its mailbox, when one is Done and why. Alone, a failed Worker is
 * gone; under a one_for_one supervisor it is restarted in place: the same
 * address, the same name, a fresh state. A manual runtime keeps the order
 * of the lines the same every run. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { NEGATIVE = 7 }; /* the Worker's exit reason when it fails */

static int worker_square(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t n, r;
    (void)state;
    (void)len;
    memcpy(&n, payload, sizeof n);
    if (n < 0) {
        actor_ctx_fail(ctx, NEGATIVE); /* unanswered: this request is canceled */
        return 0;
    }
    r = n * n;
    return actor_ctx_reply(ctx, &r, sizeof r);
}

typedef struct watcher {
    char name[65]; /* the name of the actor it watches */
} watcher;

/* Watch(name): find the actor by name and monitor it. */
static int watcher_watch(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    watcher *w = state;
    actor_addr *target;
    int rc;
    if (len >= sizeof w->name)
        return ACTOR_EINVAL;
    memcpy(w->name, payload, len);
    w->name[len] = '\0';
    rc = actor_name_lookup(actor_ctx_runtime(ctx), w->name, &target);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_ctx_monitor(ctx, target);
    addr_release(target); /* a monitor does not need an address: it keeps none */
    return rc;
}

static void watcher_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    (void)ctx;
    (void)who;
    printf("watcher: %s is down, reason %d\n", ((watcher *)state)->name, reason);
}

/* Asks Square(n) and prints the answer or why there is none. */
static void ask(const char *name, actor_addr *a, const actor_msgtype *square, int64_t n)
{
    actor_responder *r;
    int rc = addr_interact(a, square, &n, sizeof n, &r);
    if (rc == ACTOR_OK) {
        rc = actor_responder_wait(r, 5000); /* runs the manual runtime */
        if (rc == ACTOR_OK)
            printf("%s: Square(%lld) = %lld\n", name, (long long)n,
                   (long long)*(const int64_t *)actor_responder_data(r, NULL));
        actor_responder_free(r);
    }
    if (rc != ACTOR_OK)
        printf("%s: Square(%lld): %s\n", name, (long long)n, actor_strerror(rc));
}

int main(void)
{
    const actor_msgtype *square, *watch;
    actor_class *worker_cls, *watcher_cls;
    actor_runtime *rt;
    actor_addr *alone, *watcher_a, *sup, *worker, *found;
    unsigned long long restarts = 0;
    int reason = 0;

    if (actor_msgtype_define("Square", "q", "q", &square) != ACTOR_OK
        || actor_msgtype_define("Watch", NULL, NULL, &watch) != ACTOR_OK /* a name */
        || actor_class_new("Worker", &worker_cls) != ACTOR_OK
        || actor_class_new("Watcher", &watcher_cls) != ACTOR_OK)
        return 1;
    actor_class_on_request(worker_cls, square, worker_square);
    actor_class_on_event(watcher_cls, watch, watcher_watch);
    actor_class_on_down(watcher_cls, watcher_down);
    actor_class_set_state_size(watcher_cls, sizeof(watcher));
    if (actor_runtime_new_manual(1, &rt) != ACTOR_OK
        || actor_spawn(rt, watcher_cls, NULL, &watcher_a) != ACTOR_OK)
        return 1;

    /* 1. A failure is a stop with a reason; the name goes with the actor. */
    if (actor_spawn(rt, worker_cls, NULL, &alone) != ACTOR_OK
        || actor_name_register(rt, "alone", alone) != ACTOR_OK
        || addr_send(watcher_a, watch, "alone", 5) != ACTOR_OK)
        return 1;
    ask("alone", alone, square, 3);
    ask("alone", alone, square, -1);
    actor_runtime_run(rt, SIZE_MAX, NULL); /* the Watcher handles its Down */
    if (addr_exit_reason(alone, &reason) != ACTOR_OK)
        return 1;
    printf("alone: exit reason %d\n", reason);
    printf("lookup \"alone\": %s\n", actor_strerror(actor_name_lookup(rt, "alone", &found)));
    addr_release(alone);

    /* 2. Under a supervisor the Worker is restarted in place. TRANSIENT: after
     * a failure only; more than 3 restarts within 1 s and it would give up. */
    actor_supervisor_spec spec = {.size = sizeof spec, .strategy = ACTOR_ONE_FOR_ONE,
                                  .intensity = 3, .period_ms = 1000};
    if (actor_supervisor_spawn(rt, &spec, &sup) != ACTOR_OK
        || actor_supervisor_start_child(sup, worker_cls, ACTOR_TRANSIENT, &worker) != ACTOR_OK
        || actor_name_register(rt, "worker", worker) != ACTOR_OK
        || addr_send(watcher_a, watch, "worker", 6) != ACTOR_OK)
        return 1;
    ask("worker", worker, square, -2);
    ask("worker", worker, square, 4); /* the same address; a restart is not Done: no Down */
    if (actor_name_lookup(rt, "worker", &found) != ACTOR_OK /* the name stays too */
        || addr_restarts(found, &restarts) != ACTOR_OK)
        return 1;
    printf("lookup \"worker\": restarted %llu time(s)\n", restarts);
    addr_release(found);

    /* Stopping the supervisor stops its children first: now it is Done. */
    addr_interrupt(sup);
    if (addr_join(sup, 5000) != ACTOR_OK)
        return 1;
    addr_release(worker);
    addr_release(sup);
    addr_release(watcher_a);
    actor_runtime_free(rt);
    actor_class_free(worker_cls);
    actor_class_free(watcher_cls);
    return 0;
}
