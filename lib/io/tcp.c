/* Actors that own TCP connections, on libevent bufferevents.
 *
 * A connection actor is pinned to the worker whose event base drives its
 * bufferevent: libevent's callbacks (bytes read, written, the end) run on
 * that worker's thread between actor turns, and the actor's own handlers
 * (actor_ctx_write, actor_ctx_close) run there too, so the bufferevent is
 * only ever touched by one thread once it exists (it is made with
 * BEV_OPT_THREADSAFE all the same: connect makes it on the caller's thread).
 *
 * Received bytes are cut into frames on the worker's thread and each frame
 * is queued to the actor as a DATA message, so it arrives between the
 * actor's other messages, in order. Reading pauses while too many received
 * bytes wait in the mailbox (backpressure to the peer) and resumes when the
 * actor has taken them. The connection's end (EOF, an error, an oversize
 * frame) is queued as an IO_END message behind the frames before it, so the
 * actor handles every frame, then stops with the reason.
 *
 * The connection holds the actor's counted address while it is open (a
 * connection lives as long as its socket), released when the actor stops.
 * A clean end (EOF) waits until what the actor wrote is sent: a half-closed
 * peer still reads the answers to its last frames. The socket closes with the actor's incarnation (finalize). */
#include "alloc.h"
#include "cell.h"
#include "log.h"
#include "runtime.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define DEFAULT_MAX_FRAME ((size_t)64 << 10)
#define WRITE_HIGH_WATER ((size_t)1 << 20)
#define READ_PAUSE_MIN ((size_t)1 << 20)

enum { IO_CONN = 1, IO_LISTENER = 2 };

typedef struct conn {
    int kind;                 /* IO_CONN */
    actor_addr *cell;         /* counted while open (see above), then NULL */
    actor_addr *self;         /* the cell, borrowed                       */
    struct bufferevent *bev;
    int framing;
    size_t max_frame;
    size_t pending;           /* bytes of frames queued, not yet handled   */
    size_t pause_at;          /* pending above this: stop reading          */
    uint8_t paused, closing, ended;
    uint8_t stop_after_flush; /* the peer ended: stop once what was written is sent */
} conn;

typedef struct listener {
    int kind;                 /* IO_LISTENER */
    struct evconnlistener *lev;
    actor_class *conn_cls;    /* a reference held */
    actor_runtime *rt;
} listener;

typedef struct end_payload {
    int reason;
} end_payload;

static actor_class *listener_class;
static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static const actori_io_ops tcp_ops;

static void io_setup(void)
{
    if (actor_class_new("libactor.listener", &listener_class) != ACTOR_OK)
        listener_class = NULL;
    actori_io_ops_register(&tcp_ops);
}

static void *io_of(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    return f != NULL ? f->io : NULL;
}

/* ---- the end of a connection, and its frames (worker thread) ---- */

/* Queues the end behind the frames before it and lets the actor go. */
static void conn_end(conn *c, int reason)
{
    if (c->ended)
        return;
    c->ended = 1;
    /* A clean end keeps writing: a half-closed peer still reads what the
     * actor answers to its last frames (io_dispatch waits for the flush). */
    bufferevent_disable(c->bev, reason == 0 ? EV_READ : EV_READ | EV_WRITE);
    end_payload p = {reason};
    actori_env *e = actori_env_new(ACTORI_IO_END, NULL, &p, sizeof p);
    if (e != NULL) {
        actori_cell_push(c->self, &e->msg);
    } else {
        actori_log(ACTOR_LOG_ERROR, "out of memory: a connection's end is not delivered; "
                                    "the actor stops when its last address goes");
        actor_addr *held = c->cell; /* ours goes now, then */
        c->cell = NULL;
        addr_release(held);
    }
    /* The connection's address is held until the actor stops (io_stop):
     * released here, it could stop the actor before the flush of a clean
     * end. */
}

static int queue_frame(conn *c, const void *data, size_t len)
{
    actori_env *e = actori_env_new(ACTORI_DATA, NULL, data, len);
    if (e == NULL)
        return ACTOR_ENOMEM;
    c->pending += len;
    actori_cell_push(c->self, &e->msg);
    return ACTOR_OK;
}

/* Cuts what is buffered into frames. Returns a nonzero reason to end. */
static int cut_frames(conn *c, struct evbuffer *in)
{
    for (;;) {
        size_t have = evbuffer_get_length(in);
        if (have == 0)
            return 0;
        if (c->framing == ACTOR_FRAME_RAW) {
            size_t n = have < c->max_frame ? have : c->max_frame;
            unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
            if (p == NULL || queue_frame(c, p, n) != ACTOR_OK)
                return ACTOR_ENOMEM;
            evbuffer_drain(in, n);
        } else if (c->framing == ACTOR_FRAME_LINE) {
            struct evbuffer_ptr nl = evbuffer_search(in, "\n", 1, NULL);
            if (nl.pos < 0) {
                /* No end of line yet: an overlong line ends it now rather
                 * than buffering a peer's gigabyte. One byte more is a
                 * line of max_frame whose "\r" came before its "\n". */
                if (have <= c->max_frame)
                    return 0;
                unsigned char last;
                struct evbuffer_ptr end;
                evbuffer_ptr_set(in, &end, have - 1, EVBUFFER_PTR_SET);
                bool cr_pending = have == c->max_frame + 1 &&
                                  evbuffer_copyout_from(in, &end, &last, 1) == 1 && last == '\r';
                return cr_pending ? 0 : ACTOR_EFULL;
            }
            size_t n = (size_t)nl.pos;
            if (n > c->max_frame + 1)
                return ACTOR_EFULL;
            unsigned char *p = evbuffer_pullup(in, (ssize_t)n + 1);
            if (p == NULL)
                return ACTOR_ENOMEM;
            size_t flen = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
            if (flen > c->max_frame)
                return ACTOR_EFULL;
            if (queue_frame(c, p, flen) != ACTOR_OK)
                return ACTOR_ENOMEM;
            evbuffer_drain(in, n + 1);
        } else {
            if (have < 4)
                return 0;
            unsigned char hdr[4];
            evbuffer_copyout(in, hdr, 4);
            size_t n = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 |
                       (size_t)hdr[3] << 24;
            if (n > c->max_frame)
                return ACTOR_EFULL;
            if (have < 4 + n)
                return 0;
            unsigned char *p = evbuffer_pullup(in, (ssize_t)(4 + n));
            if (p == NULL || queue_frame(c, p + 4, n) != ACTOR_OK)
                return ACTOR_ENOMEM;
            evbuffer_drain(in, 4 + n);
        }
        if (c->pending > c->pause_at) {
            c->paused = 1; /* the actor catches up first */
            bufferevent_disable(c->bev, EV_READ);
            return 0;
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (c->ended || c->closing)
        return;
    int reason = cut_frames(c, bufferevent_get_input(bev));
    if (reason != 0)
        conn_end(c, reason);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    /* Fired when the output drained below the low mark (0): for a close,
     * or for the end the actor waits to flush. */
    if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
        return;
    if (c->stop_after_flush) {
        c->stop_after_flush = 0;
        end_payload p = {0};
        actori_env *e = actori_env_new(ACTORI_IO_END, NULL, &p, sizeof p);
        if (e != NULL)
            actori_cell_push(c->self, &e->msg);
    } else if (c->closing) {
        conn_end(c, 0);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_EOF) {
        /* Frames completed by the last bytes first; a partial one is lost. */
        if (!c->closing && !c->ended && !c->paused)
            cut_frames(c, bufferevent_get_input(bev));
        conn_end(c, 0);
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        conn_end(c, ACTOR_ECLOSED);
    }
}

/* ---- what the core calls (the actor's worker) ---- */

static void io_dispatch(actor_addr *a, actori_env *e)
{
    conn *c = io_of(a);
    if (e->msg.kind == ACTORI_IO_END) {
        end_payload p;
        memcpy(&p, actori_env_payload(e), sizeof p);
        if (p.reason == 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
            /* The peer ended cleanly; what the actor wrote (to its last
             * frames) goes out first, then it stops (on_write). */
            c->closing = 1;
            c->stop_after_flush = 1;
            return;
        }
        if (p.reason != 0 && a->exit_reason == 0)
            a->exit_reason = p.reason;
        actor_ctx_stop(actor_ctx_of(a));
        return;
    }
    size_t len = e->msg.len;
    c->pending -= len;
    if (c->paused && c->pending <= c->pause_at / 2 && !c->ended && !c->closing) {
        c->paused = 0;
        bufferevent_enable(c->bev, EV_READ);
        /* What arrived while paused is in the input buffer: cut it now. */
        int reason = cut_frames(c, bufferevent_get_input(c->bev));
        if (reason != 0)
            conn_end(c, reason);
    }
    if (a->stopping || a->cls->on_data == NULL)
        return;
    int rc = a->cls->on_data(actor_ctx_of(a), a->state, actori_env_payload(e), len);
    if (rc != 0)
        actor_ctx_fail(actor_ctx_of(a), rc);
}

static void io_drop(actor_addr *a, actori_env *e)
{
    conn *c = io_of(a);
    if (c != NULL && c->kind == IO_CONN && e->msg.kind == ACTORI_DATA)
        c->pending -= e->msg.len;
}

static void io_stop(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    void *io = f->io;
    f->io = NULL;
    if (*(int *)io == IO_LISTENER) {
        listener *l = io;
        evconnlistener_free(l->lev); /* closes the socket */
        atomic_fetch_sub_explicit(&a->worker->sockets, 1, memory_order_relaxed);
        actori_class_release(l->conn_cls);
        actori_free(l);
        return;
    }
    conn *c = io;
    bufferevent_free(c->bev); /* closes the socket; its callbacks are gone */
    atomic_fetch_sub_explicit(&a->worker->sockets, 1, memory_order_relaxed);
    if (c->cell != NULL) {    /* it stopped before its connection ended */
        actor_addr *held = c->cell;
        c->cell = NULL;
        addr_release(held);
    }
    actori_free(c);
}

static const actori_io_ops tcp_ops = {
    .dispatch = io_dispatch,
    .drop = io_drop,
    .stop = io_stop,
};

/* ---- making connection actors ---- */

typedef struct conn_arg {
    actori_worker *w;
    evutil_socket_t fd;         /* accepted, or -1 to connect */
    const struct sockaddr *to;  /* connect: where */
    int to_len;
    int failed;
} conn_arg;

/* Before the actor first runs: its socket, on its worker, for good. */
static void attach_conn(actor_addr *a, void *arg)
{
    conn_arg *ca = arg;
    a->worker = ca->w;
    a->pinned = 1;
    actori_fail *f = actori_cell_fail(a);
    conn *c = f != NULL ? actori_calloc(1, sizeof *c) : NULL;
    if (c == NULL) {
        ca->failed = ACTOR_ENOMEM;
        return;
    }
    c->kind = IO_CONN;
    c->self = a;
    c->framing = a->cls->framing;
    c->max_frame = a->cls->max_frame ? a->cls->max_frame : DEFAULT_MAX_FRAME;
    c->pause_at = 4 * c->max_frame > READ_PAUSE_MIN ? 4 * c->max_frame : READ_PAUSE_MIN;
    c->bev = bufferevent_socket_new(ca->w->base, ca->fd,
                                    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE);
    if (c->bev == NULL) {
        if (ca->fd >= 0)
            evutil_closesocket(ca->fd);
        actori_free(c);
        ca->failed = ACTOR_ENOMEM;
        return;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    f->io = c;
    atomic_fetch_add_explicit(&ca->w->sockets, 1, memory_order_relaxed);
    /* All of it before the actor can run (and stop, and free c): the
     * connection holds the spawn's address while open. */
    c->cell = addr_ref(a);
    bufferevent_lock(c->bev);
    if (ca->to != NULL && bufferevent_socket_connect(c->bev, (struct sockaddr *)ca->to,
                                                     ca->to_len) != 0)
        conn_end(c, ACTOR_ECLOSED); /* refused at once: it hears so first */
    else
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    bufferevent_unlock(c->bev);
}

/* Spawns the actor for a socket (fd) or a connection to make (to); *out
 * (if not NULL) gets a counted address of the caller's. */
static int spawn_conn(actor_runtime *rt, actori_worker *w, actor_class *cls, evutil_socket_t fd,
                      const struct sockaddr *to, int to_len, actor_addr **out)
{
    conn_arg ca = {w, fd, to, to_len, 0};
    actor_addr *a;
    int rc = actori_spawn(rt, cls, NULL, attach_conn, &ca, &a);
    if (rc != ACTOR_OK) {
        if (fd >= 0)
            evutil_closesocket(fd);
        return rc;
    }
    if (ca.failed) {
        addr_release(a); /* no socket: it stops at once */
        return ca.failed;
    }
    if (out != NULL)
        *out = a;
    else
        addr_release(a); /* the connection's own address keeps it */
    return ACTOR_OK;
}

/* ---- listeners ---- */

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)lev;
    (void)sa;
    (void)salen;
    actor_addr *la = arg;
    listener *l = io_of(la);
    if (l == NULL) { /* the listener is going */
        evutil_closesocket(fd);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    int rc = spawn_conn(l->rt, la->worker, l->conn_cls, fd, NULL, 0, NULL);
    if (rc != ACTOR_OK && rc != ACTOR_ECLOSED)
        actori_log(ACTOR_LOG_WARN, "a connection accepted on a listener was dropped: %s",
                   actor_strerror(rc));
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    /* Out of descriptors and the like: the listener stays; log it. */
    actori_log(ACTOR_LOG_WARN, "accept failed on a listener (fd %d): %s",
               (int)evconnlistener_get_fd(lev), evutil_socket_error_to_string(err));
}

/* "1.2.3.4:port" or "[v6]:port", numeric (no name lookup: nothing may
 * block), port 0 to 65535 (libevent's parser refuses port 0). */
static int parse_hostport(const char *hostport, struct sockaddr_storage *ss, int *len)
{
    if (hostport == NULL)
        return ACTOR_EINVAL;
    size_t n = strnlen(hostport, 128);
    const char *colon = n < 128 ? strrchr(hostport, ':') : NULL;
    if (colon == NULL || colon == hostport || colon[1] == '\0')
        return ACTOR_EINVAL;
    char host[INET6_ADDRSTRLEN + 2];
    const char *h = hostport;
    size_t hlen = (size_t)(colon - hostport);
    bool v6 = h[0] == '[';
    if (v6) {
        if (hlen < 3 || h[hlen - 1] != ']')
            return ACTOR_EINVAL;
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return ACTOR_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535)
            return ACTOR_EINVAL;
    }
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return ACTOR_EINVAL;
        *len = (int)sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return ACTOR_EINVAL;
        *len = (int)sizeof *s4;
    }
    return ACTOR_OK;
}

static void format_bound(evutil_socket_t fd, char *bound, size_t bound_len)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
            port = ntohs(s6->sin6_port);
            snprintf(bound, bound_len, "[%s]:%d", host, port);
            return;
        }
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
    }
    snprintf(bound, bound_len, "%s:%d", host, port);
}

typedef struct listen_arg {
    actor_runtime *rt;
    actor_class *conn_cls;
    const struct sockaddr *sa;
    int salen;
    int rc;
} listen_arg;

static void attach_listener(actor_addr *a, void *arg)
{
    listen_arg *la = arg;
    a->pinned = 1;
    actori_fail *f = actori_cell_fail(a);
    listener *l = f != NULL ? actori_calloc(1, sizeof *l) : NULL;
    if (l == NULL) {
        la->rc = ACTOR_ENOMEM;
        return;
    }
    l->kind = IO_LISTENER;
    l->rt = la->rt;
    l->conn_cls = la->conn_cls;
    errno = 0;
    l->lev = evconnlistener_new_bind(a->worker->base, on_accept, a,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                         LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_THREADSAFE,
                                     128, la->sa, la->salen);
    if (l->lev == NULL) {
        int err = errno;
        la->rc = err == EADDRINUSE ? ACTOR_EBUSY : err == ENOMEM ? ACTOR_ENOMEM : ACTOR_ECLOSED;
        actori_log(ACTOR_LOG_WARN, "cannot listen: %s", strerror(err ? err : EINVAL));
        actori_free(l);
        return;
    }
    evconnlistener_set_error_cb(l->lev, on_accept_error);
    atomic_fetch_add_explicit(&a->worker->sockets, 1, memory_order_relaxed);
    actori_class_acquire(l->conn_cls);
    f->io = l;
}

int actor_tcp_listen(actor_runtime *rt, const char *hostport, actor_class *conn,
                     actor_addr **listener_out, char *bound, size_t bound_len)
{
    if (rt == NULL || conn == NULL || listener_out == NULL || rt->manual)
        return ACTOR_EINVAL;
    struct sockaddr_storage ss;
    int salen;
    if (parse_hostport(hostport, &ss, &salen) != ACTOR_OK)
        return ACTOR_EINVAL;
    pthread_once(&io_once, io_setup);
    if (listener_class == NULL)
        return ACTOR_ENOMEM;
    listen_arg la = {rt, conn, (struct sockaddr *)&ss, salen, ACTOR_OK};
    actor_addr *a;
    int rc = actori_spawn(rt, listener_class, NULL, attach_listener, &la, &a);
    if (rc != ACTOR_OK)
        return rc;
    listener *l = io_of(a);
    if (la.rc != ACTOR_OK || l == NULL) {
        addr_release(a);
        return la.rc != ACTOR_OK ? la.rc : ACTOR_ENOMEM;
    }
    if (bound != NULL && bound_len > 0)
        format_bound(evconnlistener_get_fd(l->lev), bound, bound_len);
    *listener_out = a;
    return ACTOR_OK;
}

int actor_tcp_connect(actor_runtime *rt, const char *hostport, actor_class *conn,
                      actor_addr **out)
{
    if (rt == NULL || conn == NULL || out == NULL || rt->manual)
        return ACTOR_EINVAL;
    struct sockaddr_storage ss;
    int salen;
    if (parse_hostport(hostport, &ss, &salen) != ACTOR_OK)
        return ACTOR_EINVAL;
    pthread_once(&io_once, io_setup);
    actori_worker *w =
        &rt->workers[atomic_fetch_add_explicit(&rt->next_worker, 1, memory_order_relaxed) %
                     rt->nworkers];
    return spawn_conn(rt, w, conn, -1, (struct sockaddr *)&ss, salen, out);
}

/* ---- inside a connection actor ---- */

static conn *conn_of_ctx(actor_ctx *ctx)
{
    conn *c = ctx != NULL ? io_of((actor_addr *)ctx) : NULL;
    return c != NULL && c->kind == IO_CONN ? c : NULL;
}

int actor_ctx_write(actor_ctx *ctx, const void *data, size_t len)
{
    conn *c = conn_of_ctx(ctx);
    if (c == NULL || (data == NULL && len > 0))
        return ACTOR_EINVAL;
    if (c->ended || c->closing)
        return ACTOR_ECLOSED;
    if (len > c->max_frame && c->framing != ACTOR_FRAME_RAW)
        return ACTOR_EINVAL;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) > WRITE_HIGH_WATER)
        return ACTOR_EFULL;
    int rc = 0;
    if (c->framing == ACTOR_FRAME_LEN32) {
        unsigned char hdr[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                                (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
        rc = evbuffer_add(out, hdr, 4);
    }
    if (rc == 0 && len > 0)
        rc = evbuffer_add(out, data, len);
    if (rc == 0 && c->framing == ACTOR_FRAME_LINE)
        rc = evbuffer_add(out, "\n", 1);
    return rc == 0 ? ACTOR_OK : ACTOR_ENOMEM;
}

int actor_ctx_close(actor_ctx *ctx)
{
    conn *c = conn_of_ctx(ctx);
    if (c == NULL)
        return ACTOR_EINVAL;
    if (c->ended || c->closing)
        return ACTOR_ECLOSED;
    c->closing = 1;
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_end(c, 0);
    /* else on_write ends it once the output drained */
    return ACTOR_OK;
}
