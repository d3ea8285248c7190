/* A chat server: every connection is an actor (line framing). Its first
 * line is the speaker's name: the actor subscribes to the room's topic
 * (actor_subscribe) and announces itself; every later line is published to
 * the room (actor_publish). Each connection's event handler writes what the
 * room says to its socket, so the actors never share a socket or a lock.
 *
 * Three scripted clients (plain sockets, driven from main one step at a
 * time: each step waits for every line it causes) make the transcript the
 * same every run. The server listens on 127.0.0.1, port 0.
 *
 * Build: part of examples/ (cmake); run: build/examples/chat */
#define _POSIX_C_SOURCE 200809L
#include <actor/actor.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ROOM "chat.room.lobby"

static const actor_msgtype *said; /* what the room says: opaque text */
static atomic_int published;

typedef struct member {
    char name[32]; /* empty until the first line */
} member;

static void room_say(actor_ctx *ctx, const char *text)
{
    atomic_fetch_add(&published, 1);
    actor_publish(actor_ctx_runtime(ctx), ROOM, said, text, strlen(text), NULL);
}

static int member_line(actor_ctx *ctx, void *state, const void *line, size_t len)
{
    member *m = state;
    char text[300];
    if (m->name[0] == '\0') { /* the first line: the name; join the room */
        snprintf(m->name, sizeof m->name, "%.*s", (int)len, (const char *)line);
        int rc = actor_subscribe(actor_ctx_self(ctx), ROOM);
        if (rc != ACTOR_OK)
            return rc;
        snprintf(text, sizeof text, "* %s joined", m->name);
    } else {
        snprintf(text, sizeof text, "%s: %.*s", m->name, (int)len, (const char *)line);
    }
    room_say(ctx, text);
    return 0;
}

/* The room said something: to this member's socket. */
static int member_hears(actor_ctx *ctx, void *state, const void *text, size_t len)
{
    (void)state;
    return actor_ctx_write(ctx, text, len);
}

static void member_left(actor_ctx *ctx, void *state)
{
    member *m = state;
    if (m->name[0] != '\0') {
        char text[64];
        snprintf(text, sizeof text, "* %s left", m->name);
        room_say(ctx, text);
    }
}

/* ---- the scripted clients ---- */

typedef struct client {
    const char *name;
    int fd;
    char buf[1024];
    size_t have;
} client;

static int client_connect(client *c, const char *name, int port)
{
    c->name = name;
    c->have = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0}; /* never hang */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("chat: connect");
        return -1;
    }
    return 0;
}

static void client_send(client *c, const char *line)
{
    char out[300];
    int n = snprintf(out, sizeof out, "%s\n", line);
    if (send(c->fd, out, (size_t)n, MSG_NOSIGNAL) != n) {
        perror("chat: send");
        exit(1);
    }
}

/* Reads one line the client's socket got and prints it. */
static void client_hears(client *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->have);
        if (nl != NULL) {
            *nl = '\0';
            printf("  %s sees: %s\n", c->name, c->buf);
            c->have -= (size_t)(nl + 1 - c->buf);
            memmove(c->buf, nl + 1, c->have);
            return;
        }
        ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
        if (n <= 0) {
            fprintf(stderr, "chat: %s heard nothing\n", c->name);
            exit(1);
        }
        c->have += (size_t)n;
    }
}

static void joins(client *c, const char *name, int port, client **others, int nothers)
{
    printf("%s joins\n", name);
    if (client_connect(c, name, port) != 0)
        exit(1);
    client_send(c, name);
    for (int i = 0; i < nothers; i++)
        client_hears(others[i]);
    client_hears(c);
}

static void says(client *c, const char *text, client **room, int n)
{
    printf("%s says: %s\n", c->name, text);
    client_send(c, text);
    for (int i = 0; i < n; i++)
        client_hears(room[i]);
}

int main(void)
{
    actor_runtime *rt;
    actor_class *cls;
    if (actor_runtime_new(2, &rt) != ACTOR_OK ||
        actor_msgtype_define("chat.Said", NULL, NULL, &said) != ACTOR_OK ||
        actor_class_new("chat.Member", &cls) != ACTOR_OK) {
        fprintf(stderr, "chat: cannot set up\n");
        return 1;
    }
    actor_class_set_state_size(cls, sizeof(member));
    actor_class_on_data(cls, member_line);
    actor_class_on_event(cls, said, member_hears);
    actor_class_on_finalize(cls, member_left);
    actor_class_set_framing(cls, ACTOR_FRAME_LINE, 256);

    actor_addr *listener;
    char bound[64];
    int rc = actor_tcp_listen(rt, "127.0.0.1:0", cls, &listener, bound, sizeof bound);
    if (rc != ACTOR_OK) {
        fprintf(stderr, "chat: actor_tcp_listen: %s\n", actor_strerror(rc));
        return 1;
    }
    int port = atoi(strrchr(bound, ':') + 1);
    printf("chat server on 127.0.0.1 (a port the system chose), room %s\n", ROOM);

    client alice, bob, carol;
    joins(&alice, "alice", port, NULL, 0);
    joins(&bob, "bob", port, (client *[]){&alice}, 1);
    says(&alice, "hi bob", (client *[]){&alice, &bob}, 2);
    joins(&carol, "carol", port, (client *[]){&alice, &bob}, 2);
    says(&bob, "welcome, carol", (client *[]){&alice, &bob, &carol}, 3);
    says(&carol, "thanks! gotta go", (client *[]){&alice, &bob, &carol}, 3);
    printf("carol leaves\n");
    close(carol.fd);
    client_hears(&alice);
    client_hears(&bob);
    close(alice.fd);
    close(bob.fd);

    addr_release(listener);
    actor_runtime_free(rt); /* the connections still open close here */
    printf("chat: %d messages published to the room\n", atomic_load(&published));
    actor_class_free(cls);
    return 0;
}
