/* Tutorial 10 (1.1): I/O. Every TCP connection is an actor that owns its
 * socket: its bytes arrive as frames (here lines) between its other
 * messages, and it writes with actor_ctx_write. A Server echoes each line
 * and closes the connection after "bye"; a Client, in the same program on
 * loopback, says its lines one at a time, each after the echo of the last,
 * so the transcript is the same every run. */
#include <actor/actor.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- the server's side: one actor per accepted connection ---- */

static atomic_int served; /* connection actors Done */

/* A line arrived (without its "\n"): echo it (a "\n" is added). */
static int server_line(actor_ctx *ctx, void *state, const void *line, size_t len)
{
    int rc;
    (void)state;
    printf("server <- %.*s\n", (int)len, (const char *)line);
    rc = actor_ctx_write(ctx, line, len);
    if (rc == ACTOR_OK && len == 3 && memcmp(line, "bye", 3) == 0)
        rc = actor_ctx_close(ctx); /* once the echo is sent; then the actor stops */
    return rc;                     /* nonzero would fail the actor */
}

static void server_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    atomic_fetch_add(&served, 1);
}

/* ---- the client's side: says its script, one line per echo ---- */

static const char *const script[] = {"hello", "actors own their sockets", "bye"};

typedef struct client {
    size_t next; /* the script's next line */
} client;

static int client_say_next(actor_ctx *ctx, client *c)
{
    const char *line = script[c->next++];
    printf("client -> %s\n", line);
    return actor_ctx_write(ctx, line, strlen(line));
}

static int client_start(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    return client_say_next(ctx, state);
}

static int client_line(actor_ctx *ctx, void *state, const void *line, size_t len)
{
    client *c = state;
    printf("client <- %.*s\n", (int)len, (const char *)line);
    if (c->next < sizeof script / sizeof script[0])
        return client_say_next(ctx, c);
    return 0; /* the server closes after "bye": that ends this actor too */
}

int main(void)
{
    const actor_msgtype *start;
    actor_class *server_cls, *client_cls;
    actor_runtime *rt;
    actor_addr *listener, *cli;
    char bound[64];
    int reason = -1;

    if (actor_msgtype_define("Start", "", NULL, &start) != ACTOR_OK
        || actor_class_new("Server", &server_cls) != ACTOR_OK
        || actor_class_new("Client", &client_cls) != ACTOR_OK)
        return 1;
    actor_class_on_data(server_cls, server_line);
    actor_class_on_finalize(server_cls, server_finalize);
    actor_class_set_framing(server_cls, ACTOR_FRAME_LINE, 1024); /* longer lines end it */
    actor_class_on_event(client_cls, start, client_start);
    actor_class_on_data(client_cls, client_line);
    actor_class_set_framing(client_cls, ACTOR_FRAME_LINE, 1024);
    actor_class_set_state_size(client_cls, sizeof(client));

    /* Sockets need worker threads: I/O is not for the manual runtime. */
    if (actor_runtime_new(2, &rt) != ACTOR_OK)
        return 1;
    /* Port 0: the system picks a free one; `bound` gets "127.0.0.1:PORT". */
    if (actor_tcp_listen(rt, "127.0.0.1:0", server_cls, &listener, bound, sizeof bound)
        != ACTOR_OK)
        return 1;
    printf("listening on 127.0.0.1 (a port the system chose)\n");
    if (actor_tcp_connect(rt, bound, client_cls, &cli) != ACTOR_OK
        || addr_send(cli, start, NULL, 0) != ACTOR_OK)
        return 1;
    /* The client's actor is Done once the server closed the connection. */
    if (addr_join(cli, 5000) != ACTOR_OK || addr_exit_reason(cli, &reason) != ACTOR_OK)
        return 1;
    printf("client: connection closed, exit reason %d\n", reason);
    addr_release(cli);
    addr_release(listener); /* its last address: the listening socket closes */
    actor_runtime_free(rt); /* waits for every actor, the server's side too */
    printf("server: %d connection(s) served\n", atomic_load(&served));
    actor_class_free(server_cls);
    actor_class_free(client_cls);
    return 0;
}
