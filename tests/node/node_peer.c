/* The other process of the node tests: connects to the NATS server given,
 * exports Calc actors ("calc", "victim", "victim2"), bridges "news.flash",
 * prints "READY". In mode "back" it then looks up the test's "sink" and
 * sends it 100 Seq events and 20 Sum asks, and prints "BACK ok=<answers>".
 * It leaves (closing its node, freeing its runtime) when its stdin closes.
 *   node_peer <url> <node name> <mode: plain | back>
 * The test process defines the same types, except "Point" (other layouts). */
#define NT_PEER_ONLY
#include "nodetest.h"

static void say(const char *fmt, int a)
{
    printf(fmt, a);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: node_peer url name mode\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Dies with the test that started it, whatever happens to that. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 7; /* it died before that */
    nt_types t;
    actor_class *cls;
    actor_runtime *rt;
    actor_node *node;
    if (nt_define_types(&t, 1) != ACTOR_OK || nt_calc_class(&t, &cls) != ACTOR_OK ||
        actor_runtime_new(2, &rt) != ACTOR_OK)
        return 3;
    int rc = actor_node_connect(rt, argv[1], argv[2], &node);
    if (rc != ACTOR_OK) {
        say("CONNECT failed %d", rc);
        return 4;
    }
    const char *names[] = {"calc", "victim", "victim2"};
    actor_addr *calc[3];
    for (int i = 0; i < 3; i++) {
        if (actor_spawn(rt, cls, NULL, &calc[i]) != ACTOR_OK ||
            actor_node_export(node, names[i], calc[i]) != ACTOR_OK)
            return 5;
    }
    if (actor_node_bridge(node, "news.flash") != ACTOR_OK ||
        actor_subscribe(calc[0], "news.flash") != ACTOR_OK)
        return 6;
    say("READY %d", (int)getpid());

    if (strcmp(argv[3], "back") == 0) {
        actor_addr *sink;
        rc = actor_node_lookup(node, "sink", 10000, &sink);
        if (rc != ACTOR_OK) {
            say("BACK lookup %d", rc);
        } else {
            for (int64_t v = 1; v <= 100; v++)
                addr_send(sink, t.seq, &v, sizeof v);
            int ok = 0;
            for (int64_t i = 0; i < 20; i++) {
                int64_t req[2] = {i, 1000};
                actor_responder *r;
                if (addr_interact(sink, t.sum, req, sizeof req, &r) != ACTOR_OK)
                    continue;
                if (actor_responder_wait(r, 10000) == ACTOR_OK) {
                    const int64_t *v = actor_responder_data(r, NULL);
                    ok += *v == i + 1000;
                }
                actor_responder_free(r);
            }
            addr_release(sink);
            say("BACK ok=%d", ok);
        }
    }

    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    actor_node_close(node);
    for (int i = 0; i < 3; i++)
        addr_release(calc[i]);
    actor_runtime_free(rt);
    actor_class_free(cls);
    return 0;
}
