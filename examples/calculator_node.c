/* The seed's Calculator across two processes, through a NATS server:
 *
 *   nats-server -a 127.0.0.1 -p 4222 &
 *   build/examples/calculator_node serve &     # exports a Calculator
 *   build/examples/calculator_node ask         # prints "Sum: 3"
 *
 * `serve` exports a Calculator as "calculator" and answers until SIGINT or
 * SIGTERM. `ask` looks "calculator" up (waiting up to 5 s for some node to
 * export it) and, as examples/calculator.c does, has a User actor ask
 * Sum {1, 2} in its init, the answer forwarded to its on_response handler:
 * the remote address is used exactly as a local one. A second argument is
 * the NATS url (default nats://127.0.0.1:4222; a comma-separated list too). */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask */
#include "calculator_class.h"

#include <actor/node.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct user {
    actor_addr *calculator; /* counted: released in finalize */
} user;

static int user_init(actor_ctx *ctx, void *state)
{
    user *u = state;
    sum_request req = {1, 2};
    actor_responder *r;
    int rc = addr_interact(u->calculator, actor_msgtype_find("Sum"), &req, sizeof req, &r);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_responder_forward(r, actor_ctx_self(ctx)); /* answer comes as a message */
    if (rc != ACTOR_OK)
        actor_responder_free(r);
    return rc;
}

static void user_on_sum(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                        const void *reply, size_t len)
{
    (void)state;
    (void)type;
    (void)len;
    if (status == ACTOR_OK)
        printf("Sum: %" PRId64 "\n", *(const int64_t *)reply);
    else
        printf("Sum failed: %s\n", actor_strerror(status));
    actor_ctx_stop(ctx);
}

static void user_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    addr_release(((user *)state)->calculator);
}

static int serve(actor_runtime *rt, actor_node *node, actor_class *calculator_cls)
{
    actor_addr *calculator;
    int rc = actor_spawn(rt, calculator_cls, NULL, &calculator);
    if (rc == ACTOR_OK)
        rc = actor_node_export(node, "calculator", calculator);
    if (rc == ACTOR_OK) {
        printf("serving \"calculator\"; SIGINT or SIGTERM to stop\n");
        fflush(stdout);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        int sig;
        sigwait(&set, &sig); /* blocked in main before any thread started */
    }
    addr_release(calculator);
    return rc;
}

static int ask(actor_runtime *rt, actor_node *node)
{
    actor_class *user_cls;
    int rc = actor_class_new("User", &user_cls);
    if (rc != ACTOR_OK)
        return rc;
    actor_class_on_init(user_cls, user_init);
    actor_class_on_response(user_cls, actor_msgtype_find("Sum"), user_on_sum);
    actor_class_on_finalize(user_cls, user_finalize);
    user state = {NULL};
    rc = actor_node_lookup(node, "calculator", 5000, &state.calculator);
    if (rc == ACTOR_OK) {
        actor_addr *u;
        rc = actor_spawn(rt, user_cls, &state, &u);
        if (rc != ACTOR_OK) {
            addr_release(state.calculator);
        } else {
            rc = addr_join(u, 5000); /* the user stops once it has its answer */
            addr_release(u);
        }
    }
    actor_class_free(user_cls);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "ask") != 0)) {
        fprintf(stderr, "usage: %s serve|ask [nats-url]\n", argv[0]);
        return 2;
    }
    const char *url = argc > 2 ? argv[2] : "nats://127.0.0.1:4222";
    /* serve waits for these with sigwait: blocked before threads exist. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    const actor_msgtype *sum;
    actor_class *calculator_cls;
    actor_runtime *rt;
    actor_node *node;
    if (calculator_class_make(&sum, &calculator_cls) != ACTOR_OK ||
        actor_runtime_new(2, &rt) != ACTOR_OK) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    int rc = actor_node_connect(rt, url, argv[1][0] == 's' ? "calculator_server" : "asker", &node);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "cannot reach NATS at %s: %s\n", url, actor_strerror(rc));
    } else {
        rc = argv[1][0] == 's' ? serve(rt, node, calculator_cls) : ask(rt, node);
        actor_node_close(node);
    }
    actor_runtime_free(rt);
    actor_class_free(calculator_cls);
    if (rc != ACTOR_OK)
        fprintf(stderr, "calculator_node: %s\n", actor_strerror(rc));
    return rc == ACTOR_OK ? 0 : 1;
}
