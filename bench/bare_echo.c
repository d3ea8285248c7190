/* bare_echo: a line echo server on bare libevent bufferevents, one thread,
 * no libactor: the limit of this stack for bench/tcp_bench.c, which runs it
 * beside libactor's echo server in the same sitting.
 *
 *   bare_echo [PORT]   listens on 127.0.0.1:PORT (0, the default: a free
 *                      port), prints "PORT <n>" on stdout, and serves until
 *                      its stdin reaches EOF (the driver closes it).
 *
 * Each complete line is moved (no copy) from the input to the output with
 * its "\n": the least a line server can do per line. A line over 64 KiB
 * ends the connection (as max_frame does in libactor's server). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE (64 << 10)

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    for (;;) {
        struct evbuffer_ptr nl = evbuffer_search(in, "\n", 1, NULL);
        if (nl.pos < 0) {
            if (evbuffer_get_length(in) > MAX_LINE)
                bufferevent_free(bev);
            return;
        }
        evbuffer_remove_buffer(in, out, (size_t)nl.pos + 1);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    struct event_base *base = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char buf[64];
    if (read(fd, buf, sizeof buf) <= 0)
        event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    struct event_base *base = event_base_new();
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l =
        evconnlistener_new_bind(base, on_accept, base, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                4096, (struct sockaddr *)&sin, sizeof sin);
    if (l == NULL) {
        perror("bare_echo: listen");
        return 1;
    }
    socklen_t sl = sizeof sin;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl);
    printf("PORT %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    struct event *in = event_new(base, 0, EV_READ | EV_PERSIST, on_stdin, base);
    event_add(in, NULL);
    event_base_dispatch(base);
    event_free(in);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
