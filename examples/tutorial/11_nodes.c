/* Tutorial 11 (1.1): several machines. libactor-node connects a runtime to
 * a NATS server as a named node. Node "paris" exports a Calculator by name;
 * node "tokyo" looks it up and gets an ordinary address: it asks through
 * it as it would a local actor. When paris leaves, tokyo's address of the
 * Calculator becomes Done with the reason ACTOR_NODE_LOST. The two nodes
 * share this one process so that the program is self-contained; on two
 * machines each would run its half, with the same calls.
 * The server: $ACTOR_NATS_URL, else nats://127.0.0.1:4222. */
#include <actor/node.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int calc_sum(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int64_t ab[2], r;
    (void)state;
    (void)len;
    memcpy(ab, payload, sizeof ab);
    r = ab[0] + ab[1];
    return actor_ctx_reply(ctx, &r, sizeof r);
}

int main(void)
{
    const char *url = getenv("ACTOR_NATS_URL");
    const actor_msgtype *sum;
    actor_class *cls;
    actor_runtime *paris_rt, *tokyo_rt;
    actor_node *paris, *tokyo;
    actor_addr *calc, *remote;
    actor_responder *r;
    int64_t ab[2] = {1, 2};
    int rc, reason = 0;

    if (url == NULL)
        url = "nats://127.0.0.1:4222";
    if (actor_msgtype_define("Sum", "qq", "q", &sum) != ACTOR_OK
        || actor_class_new("Calculator", &cls) != ACTOR_OK)
        return 1;
    actor_class_on_request(cls, sum, calc_sum);

    /* Each node is a runtime connected to the server (blocks until it is). */
    if (actor_runtime_new(2, &paris_rt) != ACTOR_OK || actor_runtime_new(2, &tokyo_rt) != ACTOR_OK)
        return 1;
    rc = actor_node_connect(paris_rt, url, "paris", &paris);
    if (rc == ACTOR_OK)
        rc = actor_node_connect(tokyo_rt, url, "tokyo", &tokyo);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "cannot reach NATS at %s: %s\n", url, actor_strerror(rc));
        return 1;
    }

    /* paris: a Calculator, reachable by name from every node. */
    if (actor_spawn(paris_rt, cls, NULL, &calc) != ACTOR_OK
        || actor_node_export(paris, "calculator", calc) != ACTOR_OK)
        return 1;
    addr_release(calc); /* the export holds it until it is Done */

    /* tokyo: finds it (waiting up to 5 s for a node to answer) and asks. */
    if (actor_node_lookup(tokyo, "calculator", 5000, &remote) != ACTOR_OK
        || addr_interact(remote, sum, ab, sizeof ab, &r) != ACTOR_OK)
        return 1;
    rc = actor_responder_wait(r, 5000);
    if (rc == ACTOR_OK)
        printf("tokyo: Sum(1, 2) = %lld, answered in paris\n",
               (long long)*(const int64_t *)actor_responder_data(r, NULL));
    else
        printf("tokyo: Sum(1, 2): %s\n", actor_strerror(rc));
    actor_responder_free(r);

    /* paris leaves the cluster: tokyo's address of the Calculator is Done. */
    actor_node_close(paris);
    if (addr_join(remote, 5000) != ACTOR_OK || addr_exit_reason(remote, &reason) != ACTOR_OK)
        return 1;
    printf("tokyo: the calculator is Done, reason: %s\n", actor_strerror(reason));

    addr_release(remote);
    actor_node_close(tokyo); /* before freeing its runtime */
    actor_runtime_free(tokyo_rt);
    actor_runtime_free(paris_rt);
    actor_class_free(cls);
    return 0;
}
