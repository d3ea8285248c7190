/* Tutorial 7 (1.1): flow. A Worker's mailbox holds at most 2 messages:
 * under ACTOR_OVERFLOW_REJECT a send to a full mailbox is refused with
 * ACTOR_EFULL, under ACTOR_OVERFLOW_DROP it is accepted and dropped (the
 * dead-letter hook hears of it); addr_send_wait waits for room instead.
 * The counters of an actor and of the runtime tell what happened. A manual
 * runtime keeps the messages queued until the program runs it. */
#include <actor/actor.h>

#include <stdint.h>
#include <stdio.h>

static int worker_job(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    (void)state;
    (void)payload;
    (void)len;
    return 0;
}

static void dead_letter(void *ud, actor_addr *to, const actor_msgtype *t, const void *payload,
                        size_t len, int why)
{
    (void)ud;
    (void)to;
    (void)payload;
    (void)len;
    printf("dead letter: %s (%s)\n", actor_msgtype_name(t), actor_strerror(why));
}

/* Spawns a Worker of `cls`, sends it 3 jobs at once and a 4th that waits
 * for room, runs the runtime, prints its counters. */
static int four_jobs(actor_runtime *rt, actor_class *cls, const actor_msgtype *job)
{
    actor_addr *a;
    actor_stats st = {.size = sizeof st}; /* the size this program was compiled with */
    int rc = actor_spawn(rt, cls, NULL, &a);
    if (rc != ACTOR_OK)
        return rc;
    for (int i = 1; i <= 3; i++)
        printf("%s: send %d: %s\n", actor_class_name(cls), i,
               actor_strerror(addr_send(a, job, NULL, 0)));
    /* Up to 1 s for room; on a manual runtime it runs the runtime until the
     * Worker has taken enough jobs. */
    printf("%s: send 4, waiting for room: %s\n", actor_class_name(cls),
           actor_strerror(addr_send_wait(a, job, NULL, 0, 1000)));
    actor_runtime_run(rt, SIZE_MAX, NULL);
    rc = addr_stats(a, &st);
    if (rc == ACTOR_OK)
        printf("%s: received %llu, handled %llu, rejected %llu, dropped %llu, peak %llu\n",
               actor_class_name(cls), st.received, st.handled, st.rejected, st.dropped,
               st.queued_peak);
    addr_release(a);
    return rc;
}

int main(void)
{
    const actor_msgtype *job;
    actor_class *reject_cls, *drop_cls;
    actor_runtime *rt;
    actor_hooks hooks = {.size = sizeof hooks, .dead_letter = dead_letter};
    actor_runtime_stats rs = {.size = sizeof rs};

    if (actor_msgtype_define("Job", "", NULL, &job) != ACTOR_OK
        || actor_class_new("Rejecting", &reject_cls) != ACTOR_OK
        || actor_class_new("Dropping", &drop_cls) != ACTOR_OK)
        return 1;
    actor_class_on_event(reject_cls, job, worker_job);
    actor_class_set_mailbox(reject_cls, 2, ACTOR_OVERFLOW_REJECT);
    actor_class_on_event(drop_cls, job, worker_job);
    actor_class_set_mailbox(drop_cls, 2, ACTOR_OVERFLOW_DROP);

    if (actor_runtime_new_manual(1, &rt) != ACTOR_OK
        || actor_runtime_set_hooks(rt, &hooks) != ACTOR_OK) /* before the first spawn */
        return 1;
    if (four_jobs(rt, reject_cls, job) != ACTOR_OK || four_jobs(rt, drop_cls, job) != ACTOR_OK)
        return 1;
    actor_runtime_run(rt, SIZE_MAX, NULL); /* the released Workers stop */
    if (actor_runtime_stats_get(rt, &rs) != ACTOR_OK)
        return 1;
    printf("runtime: %llu actors spawned, %llu live, %llu messages handled\n",
           rs.actors_spawned, rs.actors_live, rs.messages_handled);
    actor_runtime_free(rt);
    actor_class_free(reject_cls);
    actor_class_free(drop_cls);
    return 0;
}
