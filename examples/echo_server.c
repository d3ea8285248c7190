/* An echo server in which every connection is an actor (line framing),
 * and three scripted clients, each an actor of its own made with
 * actor_tcp_connect, run one after the other: the transcript is the same
 * every run. The server listens on 127.0.0.1, port 0 (the system picks a
 * free one; actor_tcp_listen gives back the address it bound).
 *
 * Build: part of examples/ (cmake); run: build/examples/echo_server */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <actor/actor.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- the server: one actor per accepted connection ---- */

static atomic_int connections, lines_echoed, closed;

static int server_init(actor_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    atomic_fetch_add(&connections, 1);
    return 0;
}

/* A line arrived (without its "\n"): send it back (a "\n" is added). */
static int server_line(actor_ctx *ctx, void *state, const void *line, size_t len)
{
    (void)state;
    atomic_fetch_add(&lines_echoed, 1);
    return actor_ctx_write(ctx, line, len);
}

static void server_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    atomic_fetch_add(&closed, 1);
}

/* ---- a client: told what to say by an event, prints what comes back ---- */

static const char *const scripts[][3] = {
    {"hello", "how are you?", NULL},
    {"one line only", NULL, NULL},
    {"first", "second", "third"},
};

typedef struct client {
    int id;   /* 1, 2, 3 */
    int next; /* the script's next line */
} client;

static int client_say_next(actor_ctx *ctx, client *c)
{
    const char *line = c->next < 3 ? scripts[c->id - 1][c->next] : NULL;
    if (line == NULL)
        return actor_ctx_close(ctx); /* after what was written is sent */
    c->next++;
    printf("client %d -> %s\n", c->id, line);
    return actor_ctx_write(ctx, line, strlen(line));
}

/* The event that starts a client: its number (layout "i"). */
static int client_start(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    client *c = state;
    int32_t id;
    (void)len; /* 4: the layout says so */
    memcpy(&id, payload, sizeof id);
    c->id = id;
    return client_say_next(ctx, c);
}

static int client_line(actor_ctx *ctx, void *state, const void *line, size_t len)
{
    client *c = state;
    printf("client %d <- %.*s\n", c->id, (int)len, (const char *)line);
    return client_say_next(ctx, c);
}

static int check(int rc, const char *what)
{
    if (rc != ACTOR_OK)
        fprintf(stderr, "echo_server: %s: %s\n", what, actor_strerror(rc));
    return rc != ACTOR_OK;
}

int main(void)
{
    actor_runtime *rt;
    if (check(actor_runtime_new(2, &rt), "actor_runtime_new"))
        return 1;
    const actor_msgtype *start;
    actor_class *server, *cli;
    if (check(actor_msgtype_define("echo.Start", "i", NULL, &start), "define") ||
        check(actor_class_new("echo.Server", &server), "class") ||
        check(actor_class_new("echo.Client", &cli), "class"))
        return 1;
    actor_class_on_init(server, server_init);
    actor_class_on_data(server, server_line);
    actor_class_on_finalize(server, server_finalize);
    actor_class_set_framing(server, ACTOR_FRAME_LINE, 1024);
    actor_class_set_state_size(cli, sizeof(client));
    actor_class_on_event(cli, start, client_start);
    actor_class_on_data(cli, client_line);
    actor_class_set_framing(cli, ACTOR_FRAME_LINE, 1024);

    actor_addr *listener;
    char bound[64];
    if (check(actor_tcp_listen(rt, "127.0.0.1:0", server, &listener, bound, sizeof bound),
              "actor_tcp_listen"))
        return 1;
    printf("echo server listening on 127.0.0.1 (a port the system chose)\n");

    for (int32_t id = 1; id <= 3; id++) {
        actor_addr *c;
        if (check(actor_tcp_connect(rt, bound, cli, &c), "actor_tcp_connect") ||
            check(addr_send(c, start, &id, sizeof id), "addr_send"))
            return 1;
        addr_join(c, -1); /* it closes once its script is done */
        int reason = -1;
        addr_exit_reason(c, &reason);
        printf("client %d closed (reason %d)\n", id, reason);
        addr_release(c);
    }
    /* The server's side of each connection stops at the client's EOF. */
    for (int i = 0; i < 5000 && atomic_load(&closed) < 3; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    printf("server: %d connections, %d lines echoed, %d closed\n", atomic_load(&connections),
           atomic_load(&lines_echoed), atomic_load(&closed));

    addr_release(listener); /* its last address: the listening socket closes */
    actor_runtime_free(rt);
    actor_class_free(server);
    actor_class_free(cli);
    return 0;
}
