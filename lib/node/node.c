/* libactor-node: the node itself — connecting, the event-loop thread, the
 * subscriptions that receive everything, heartbeats, closing.
 *
 * Threads of a node:
 * - its loop thread drives a private libevent event_base: libnats's libevent
 *   adapter reads and writes the NATS socket there, and the node's tick
 *   (heartbeat out, liveness of the other nodes) runs there;
 * - libnats's delivery threads, one per subscription, call our message
 *   callbacks: everything addressed to the node (actor messages, answers,
 *   control) comes through ONE subscription, so in the order it was sent;
 * - libnats's callback thread reports disconnects and reconnects;
 * - the runtime's workers run the proxies, which publish directly (libnats
 *   is thread-safe; with "send asap" a publish appends to the connection's
 *   buffer and asks the loop thread to write it). */
#include "node_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* libnats's libevent adapter is a header of function definitions: included
 * here once; the version script keeps them out of the exported symbols. */
#include <nats/adapters/libevent.h>

int64_t node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void node_log(actor_node *n, int level, const char *fmt, ...)
{
    if (level > ACTOR_LOG_WARN && (n == NULL || !n->log))
        return;
    static const char *names[] = {"error", "warn", "info", "debug"};
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "libactor-node [%s] %s: %s\n", n ? n->key : "-",
            names[level >= 0 && level <= 3 ? level : 0], buf);
}

int node_grow(void **arr, size_t *cap, size_t elem, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

bool node_closing(const actor_node *n) { return atomic_load(&n->closing) != 0; }

/* addr_join with a timeout answers ACTOR_EDEADLK on a worker thread before
 * it looks at the actor: on the Done probe it is an exact, instant test. */
bool node_on_worker(actor_node *n) { return addr_join(n->probe, -1) == ACTOR_EDEADLK; }

void node_ref(actor_node *n) { atomic_fetch_add(&n->refs, 1); }

static void node_free(actor_node *n)
{
    if (n->nc != NULL)
        natsConnection_Destroy(n->nc);
    if (n->opts != NULL)
        natsOptions_Destroy(n->opts);
    nmap_clear(&n->exports);
    nmap_clear(&n->pending);
    nmap_clear(&n->inreqs);
    free(n->rnodes);
    free(n->proxies);
    free(n->bridges);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->lookup_mu);
    pthread_cond_destroy(&n->cond);
    free(n);
}

void node_unref(actor_node *n)
{
    if (n != NULL && atomic_fetch_sub(&n->refs, 1) == 1)
        node_free(n);
}

/* Writes. With libnats's libevent adapter as it is, every publish asks the
 * loop thread to write (an event_add from this thread: a wake-up of the
 * loop), one more thread hop per message. A publish made with `now` writes
 * on the publishing thread instead, as libnats's "send asap" does without an
 * event loop: the adapter's write callback, which libnats calls inside the
 * publish with the connection's (recursive) lock held and data buffered,
 * runs natsConnection_ProcessWriteEvent there and then (the socket is
 * non-blocking) and hands only a remainder to the loop's write event.
 * (Outside that callback it must not be called: with nothing buffered it
 * takes the empty write for a closed connection.) Everything else (reads,
 * reconnects, remainders, the writes of libnats's own threads) stays on the
 * loop. Requests, answers, control messages and the proxies' event batches
 * (proxy.c gathers a mailbox's worth of events into one message) go `now`;
 * bridged topics and oversized events go through the loop, which writes
 * together what was published meanwhile. */
static _Thread_local bool tls_write_now;

static natsStatus node_ev_write(void *ud, bool add)
{
    if (add && tls_write_now) {
        natsLibeventEvents *nle = ud;
        tls_write_now = false; /* once: ProcessWriteEvent calls back (remove) */
        natsConnection_ProcessWriteEvent(nle->nc);
        if (natsConnection_Buffered(nle->nc) <= 0)
            return NATS_OK; /* all written (it removed the write event itself) */
    }
    return natsLibevent_Write(ud, add);
}

/* Reading: the adapter's read event, pointed at a callback of ours that has
 * libnats read and parse, then hands what arrived on the node's synchronous
 * subscriptions to the actors, on this same thread. */
static void node_drain(actor_node *n);

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    actor_node *n = arg;
    natsConnection_ProcessReadEvent(atomic_load(&n->loop_nc));
    node_drain(n);
}

static void forget_event(struct event *ev, void *arg)
{
    (void)ev;
    (void)arg;
}

static natsStatus node_ev_attach(void **ud, void *loop, natsConnection *nc, natsSock fd)
{
    actor_node *n = loop;
    natsLibeventEvents *old = *ud;
    if (old != NULL) {
        /* A reconnect: libnats calls this on its reconnect thread with the
         * connection locked. The adapter would event_free the old events,
         * which waits for a callback running on the loop thread, and
         * on_readable may be running there, waiting for that very lock: a
         * deadlock until the process ended (a failover test hung 100 s
         * under TSan). Freed once their callbacks are done, without
         * waiting; the adapter then makes new ones. */
        if (old->read != NULL)
            event_free_finalize(0, old->read, forget_event);
        if (old->write != NULL)
            event_free_finalize(0, old->write, forget_event);
        old->read = old->write = NULL;
    }
    atomic_store(&n->loop_nc, nc);
    natsStatus s = natsLibevent_Attach(ud, n->base, nc, fd);
    if (s == NATS_OK) {
        natsLibeventEvents *nle = *ud;
        event_del(nle->read);
        if (event_assign(nle->read, n->base, fd, EV_READ | EV_PERSIST, on_readable, n) != 0 ||
            event_add(nle->read, NULL) != 0)
            s = NATS_ERR;
    }
    return s;
}

int node_publish_ex(actor_node *n, const char *subj, const char *reply, const void *data,
                    size_t len, bool now)
{
    if (len > INT32_MAX)
        return ACTOR_ENOMEM;
    tls_write_now = now;
    natsStatus s = reply ? natsConnection_PublishRequest(n->nc, subj, reply, data, (int)len)
                         : natsConnection_Publish(n->nc, subj, data, (int)len);
    tls_write_now = false;
    if (s == NATS_OK)
        return ACTOR_OK;
    node_log(n, ACTOR_LOG_DEBUG, "publish to %s: %s", subj, natsStatus_GetText(s));
    return s == NATS_NO_MEMORY ? ACTOR_ENOMEM : ACTOR_ECLOSED;
}

int node_publish(actor_node *n, const char *subj, const char *reply, const void *data,
                 size_t len)
{
    return node_publish_ex(n, subj, reply, data, len, true);
}

int node_publish_typed(actor_node *n, const char *subj, const char *reply, int kind,
                       uint64_t export_id, int32_t deadline_ms, const actor_msgtype *t,
                       const void *payload, size_t len)
{
    unsigned char stack[1024];
    size_t size = nw_typed_size(t, len);
    if (size == 0)
        return ACTOR_ENOMEM;
    unsigned char *buf = size <= sizeof stack ? stack : malloc(size);
    if (buf == NULL)
        return ACTOR_ENOMEM;
    nw_typed_write(buf, kind, export_id, deadline_ms, t, payload, len);
    int rc = node_publish_ex(n, subj, reply, buf, size, kind != NW_EVENT && kind != NW_TOPIC);
    if (buf != stack)
        free(buf);
    return rc;
}

/* ---- subscriptions ---- */

static int nats_rc(natsStatus s)
{
    return s == NATS_OK ? ACTOR_OK : s == NATS_NO_MEMORY ? ACTOR_ENOMEM : ACTOR_ECLOSED;
}


static void sub_complete(void *closure)
{
    actor_node *n = closure;
    pthread_mutex_lock(&n->mu);
    n->subs_live--;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

int node_subscribe(actor_node *n, const char *subj, natsMsgHandler cb, void *closure,
                   natsSubscription **out)
{
    natsSubscription *sub = NULL;
    natsStatus s = natsConnection_Subscribe(&sub, n->nc, subj, cb, closure);
    if (s != NATS_OK) {
        node_log(n, ACTOR_LOG_DEBUG, "subscribe %s: %s", subj, natsStatus_GetText(s));
        return s == NATS_NO_MEMORY ? ACTOR_ENOMEM : ACTOR_ECLOSED;
    }
    /* Counted before the callback can run: it may run at once. */
    pthread_mutex_lock(&n->mu);
    n->subs_live++;
    pthread_mutex_unlock(&n->mu);
    if (natsSubscription_SetOnCompleteCB(sub, sub_complete, n) != NATS_OK) {
        /* Closed already (the connection closed meanwhile): its thread ends
         * without telling; it never had a message for us. */
        pthread_mutex_lock(&n->mu);
        n->subs_live--;
        pthread_mutex_unlock(&n->mu);
        natsSubscription_Destroy(sub);
        return ACTOR_ECLOSED;
    }
    /* At most once: a consumer that falls this far behind loses messages
     * (libnats drops and reports a slow consumer) rather than memory. */
    natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
    *out = sub;
    return ACTOR_OK;
}

/* Everything addressed to this node: <prefix>.m (actor messages),
 * <prefix>.c (control), <prefix>.a (answers). */
static void on_main(actor_node *n, natsMsg *msg)
{
    const char *subj = natsMsg_GetSubject(msg);
    if (strncmp(subj, n->prefix, n->prefix_len) != 0 || subj[n->prefix_len] != '.')
        return;
    const char *tail = subj + n->prefix_len + 1;
    const unsigned char *data = (const unsigned char *)natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    if (strcmp(tail, "m") == 0) {
        node_on_actor_msg(n, msg);
    } else if (strcmp(tail, "a") == 0) {
        node_on_answer(n, data, len);
    } else if (strcmp(tail, "c") == 0 && len >= 2 && data[0] == NW_VERSION) {
        if (data[1] == NW_DONE)
            node_on_done(n, data, len);
        else if (data[1] == NW_CHECK)
            node_on_check(n, data, len);
    }
}

static void on_beat(actor_node *n, natsMsg *msg)
{
    const char *subj = natsMsg_GetSubject(msg);
    static const char pre[] = "_ACTOR.hb.";
    if (strncmp(subj, pre, sizeof pre - 1) == 0)
        node_on_beat(n, subj + sizeof pre - 1, (const unsigned char *)natsMsg_GetData(msg),
                     (size_t)natsMsg_GetDataLength(msg));
}

static void drain_sub(actor_node *n, natsSubscription *sub, void (*fn)(actor_node *, natsMsg *))
{
    uint64_t queued = 0;
    if (sub == NULL || natsSubscription_QueuedMsgs(sub, &queued) != NATS_OK)
        return;
    /* Only this thread reads the socket: what is queued now is all there is. */
    while (queued-- > 0) {
        natsMsg *msg = NULL;
        natsStatus s = natsSubscription_NextMsg(&msg, sub, 0);
        if (s == NATS_SLOW_CONSUMER) {
            node_log(n, ACTOR_LOG_WARN, "slow consumer: messages dropped (at most once)");
            s = natsSubscription_NextMsg(&msg, sub, 0);
        }
        if (s != NATS_OK)
            break;
        fn(n, msg);
        natsMsg_Destroy(msg);
    }
}

static void node_drain(actor_node *n)
{
    drain_sub(n, atomic_load(&n->main_sub), on_main);
    drain_sub(n, atomic_load(&n->hb_sub), on_beat);
}

/* <prefix>.r.<id>: nothing but NATS's no-responders (a delivery thread). */
static void on_no_responders(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                             void *closure)
{
    (void)nc;
    (void)sub;
    actor_node *n = closure;
    const char *dot = strrchr(natsMsg_GetSubject(msg), '.');
    if (natsMsg_IsNoResponders(msg) && dot != NULL) {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(dot + 1, &end, 10);
        if (errno == 0 && *end == '\0')
            node_on_no_responders(n, (uint64_t)id);
    }
    natsMsg_Destroy(msg);
}

/* A synchronous subscription, drained by the loop thread. */
static int subscribe_sync(actor_node *n, const char *subj, _Atomic(natsSubscription *) *out)
{
    natsSubscription *sub = NULL;
    natsStatus s = natsConnection_SubscribeSync(&sub, n->nc, subj);
    if (s != NATS_OK)
        return nats_rc(s);
    natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
    atomic_store(out, sub);
    return ACTOR_OK;
}

/* ---- connection events (libnats's callback thread) ---- */

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    actor_node *n = closure;
    atomic_store(&n->connected, 0);
    atomic_fetch_add(&n->epoch, 1);
    if (!node_closing(n))
        node_log(n, ACTOR_LOG_INFO, "disconnected");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    actor_node *n = closure;
    char url[256] = "?";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    node_log(n, ACTOR_LOG_INFO, "reconnected to %s", url);
    atomic_fetch_add(&n->gen, 1);
    node_after_reconnect(n); /* marks it connected once the beats are reset */
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    actor_node *n = closure;
    atomic_store(&n->connected, 0);
    pthread_mutex_lock(&n->mu);
    n->closed_cb = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    actor_node *n = closure;
    node_log(n, err == NATS_SLOW_CONSUMER ? ACTOR_LOG_WARN : ACTOR_LOG_INFO,
             "%s%s", natsStatus_GetText(err),
             err == NATS_SLOW_CONSUMER ? ": messages dropped (at most once)" : "");
    (void)sub;
}

/* ---- the loop thread ---- */

static void publish_beat(actor_node *n, int kind)
{
    unsigned char b[12];
    b[0] = NW_VERSION;
    b[1] = (unsigned char)kind;
    b[2] = b[3] = 0;
    nw_put32(b + 4, n->hb_ms);
    nw_put32(b + 8, atomic_load(&n->gen));
    node_publish(n, n->hb_subj, NULL, b, sizeof b);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    actor_node *n = arg;
    if (node_closing(n))
        return;
    node_drain(n);
    if (atomic_load(&n->connected))
        publish_beat(n, NW_BEAT);
    node_check_liveness(n);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((actor_node *)arg)->base);
}

static void *loop_main(void *arg)
{
    actor_node *n = arg;
    /* event_base_loop forgets a loopbreak made before it started: the stop
     * comes as an event (kept until the loop runs) and a flag. */
    while (!atomic_load(&n->loop_stop))
        event_base_loop(n->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---- names and the environment ---- */

static bool node_name_ok(const char *s)
{
    size_t len = 0;
    for (; s[len]; len++) {
        char c = s[len];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':' || c == '-'))
            return false;
        if (len >= NODE_NAME_MAX)
            return false;
    }
    return len > 0;
}

static uint32_t env_heartbeat(void)
{
    const char *s = getenv("ACTOR_NODE_HEARTBEAT_MS");
    if (s == NULL || *s == '\0')
        return 1000;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 50 || v > 60000)
        return 1000;
    return (uint32_t)v;
}

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
    }
    return v;
}

/* Splits "u1,u2, u3" into servers (at most 64). 0, or an ACTOR_E* code. */
static int split_urls(const char *url, char ***out, int *count)
{
    char *copy = strdup(url);
    char **v = calloc(64, sizeof *v);
    if (copy == NULL || v == NULL) {
        free(copy);
        free(v);
        return ACTOR_ENOMEM;
    }
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*tok == '\0')
            continue;
        if (n == 64)
            break;
        if ((v[n] = strdup(tok)) == NULL) {
            for (int i = 0; i < n; i++)
                free(v[i]);
            free(v);
            free(copy);
            return ACTOR_ENOMEM;
        }
        n++;
    }
    free(copy);
    if (n == 0) {
        free(v);
        return ACTOR_EINVAL;
    }
    *out = v;
    *count = n;
    return ACTOR_OK;
}

static int make_options(actor_node *n, const char *url)
{
    char **servers = NULL;
    int count = 0;
    int rc = split_urls(url, &servers, &count);
    if (rc != ACTOR_OK)
        return rc;
    natsStatus s = natsOptions_Create(&n->opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(n->opts, (const char **)servers, count);
    for (int i = 0; i < count; i++)
        free(servers[i]);
    free(servers);
    if (s == NATS_OK)
        s = natsOptions_SetName(n->opts, n->key);
    if (s == NATS_OK) /* our own publishes never come back (bridges) */
        s = natsOptions_SetNoEcho(n->opts, true);
    if (s == NATS_OK) /* no flusher delay: the loop batches what gathers while it writes */
        s = natsOptions_SetSendAsap(n->opts, true);
    if (s == NATS_OK)
        s = natsOptions_SetNoRandomize(n->opts, true);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(n->opts, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(n->opts, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(n->opts, -1); /* for ever */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(n->opts, 250);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(n->opts, 100, 1000);
    if (s == NATS_OK) /* a dead server (no TCP reset) is noticed too */
        s = natsOptions_SetPingInterval(n->opts, n->hb_ms * 2 > 1000 ? n->hb_ms * 2 : 1000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(n->opts, 3);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, n);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(n->opts, on_reconnected, n);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(n->opts, on_closed, n);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(n->opts, on_error, n);
    if (s == NATS_OK)
        s = natsOptions_SetEventLoop(n->opts, n, node_ev_attach, natsLibevent_Read,
                                     node_ev_write, natsLibevent_Detach);
    return nats_rc(s);
}

static void probe_interrupt(actor_ctx *ctx, void *state)
{
    (void)state;
    actor_ctx_stop(ctx);
}

/* Stops the loop thread (after the connection is closed). */
static void stop_loop(actor_node *n)
{
    if (n->tick != NULL) {
        event_del(n->tick);
    }
    if (n->thread_started) {
        atomic_store(&n->loop_stop, 1);
        event_active(n->stop_ev, EV_READ, 0);
        pthread_join(n->thread, NULL);
        n->thread_started = false;
    }
    if (n->tick != NULL) {
        event_free(n->tick);
        n->tick = NULL;
    }
    if (n->stop_ev != NULL) {
        event_free(n->stop_ev);
        n->stop_ev = NULL;
    }
}

/* Waits (bounded) until libnats can no longer call us. false: it still may. */
static bool wait_quiet(actor_node *n, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&n->mu);
    int rc = 0;
    while ((n->subs_live > 0 || (n->nc != NULL && !n->closed_cb)) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&n->cond, &n->mu, &ts);
    bool quiet = n->subs_live == 0 && (n->nc == NULL || n->closed_cb);
    pthread_mutex_unlock(&n->mu);
    return quiet;
}

static void release_classes(actor_node *n)
{
    actor_class_free(n->proxy_cls);
    actor_class_free(n->watcher_cls);
    actor_class_free(n->bridge_cls);
    actor_class_free(n->probe_cls);
    n->proxy_cls = n->watcher_cls = n->bridge_cls = n->probe_cls = NULL;
}

/* Closes what connect opened, in an order that lets no callback find freed
 * memory; then drops the user's reference. */
static void node_shutdown(actor_node *n)
{
    atomic_store(&n->closing, 1);
    if (n->nc != NULL) {
        if (atomic_load(&n->connected)) {
            publish_beat(n, NW_BYE);
            natsConnection_FlushTimeout(n->nc, 500);
        }
        natsConnection_Close(n->nc);
    }
    bool quiet = wait_quiet(n, 10000);
    stop_loop(n);
    node_close_remote(n);  /* pending requests, proxies, other nodes */
    node_close_exports(n, quiet); /* answers owed, exports, the watcher */
    node_close_bridges(n);
    /* The loop is stopped: nobody drains these any more. */
    natsSubscription *sub;
    if ((sub = atomic_exchange(&n->main_sub, NULL)) != NULL)
        natsSubscription_Destroy(sub);
    if ((sub = atomic_exchange(&n->hb_sub, NULL)) != NULL)
        natsSubscription_Destroy(sub);
    if (n->nr_sub != NULL)
        natsSubscription_Destroy(n->nr_sub);
    n->nr_sub = NULL;
    if (n->base != NULL && quiet) {
        event_base_free(n->base);
        n->base = NULL;
    }
    addr_release(n->probe);
    n->probe = NULL;
    release_classes(n);
    if (!quiet) {
        /* A libnats thread may still call into n: leak it rather than free. */
        node_log(n, ACTOR_LOG_ERROR, "libnats did not let go of the node within 10 s; "
                                     "its memory is left");
        return;
    }
    node_unref(n);
}

int actor_node_connect(actor_runtime *rt, const char *url, const char *node_name,
                       actor_node **out)
{
    if (rt == NULL || url == NULL || node_name == NULL || out == NULL || !node_name_ok(node_name))
        return ACTOR_EINVAL;
    actor_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return ACTOR_ENOMEM;
    atomic_init(&n->refs, 1);
    n->rt = rt;
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->lookup_mu, NULL);
    pthread_cond_init(&n->cond, NULL);
    strcpy(n->name, node_name);
    n->inst = random_u64();
    snprintf(n->key, sizeof n->key, "%s.%016llx", node_name, (unsigned long long)n->inst);
    snprintf(n->prefix, sizeof n->prefix, "_ACTOR.n.%s", n->key);
    n->prefix_len = strlen(n->prefix);
    snprintf(n->ctl_subj, sizeof n->ctl_subj, "%s.c", n->prefix);
    snprintf(n->hb_subj, sizeof n->hb_subj, "_ACTOR.hb.%s", n->key);
    n->hb_ms = env_heartbeat();
    const char *lg = getenv("ACTOR_NODE_LOG");
    n->log = lg != NULL && *lg != '\0' && strcmp(lg, "0") != 0;
    n->next_export = 1;
    n->next_req = 1;
    n->next_inreq = 1;

    /* The probe: an actor that is Done, so that addr_join on it tells a
     * worker thread (ACTOR_EDEADLK) from any other, at no cost. */
    int rc = actor_class_new("actor_node.probe", &n->probe_cls);
    if (rc == ACTOR_OK)
        rc = actor_class_on_interrupt(n->probe_cls, probe_interrupt);
    if (rc == ACTOR_OK)
        rc = actor_spawn(rt, n->probe_cls, NULL, &n->probe);
    if (rc == ACTOR_OK) {
        rc = addr_interrupt(n->probe);
        if (rc == ACTOR_OK || rc == ACTOR_ECLOSED)
            rc = addr_join(n->probe, -1);
    }
    if (rc == ACTOR_OK)
        rc = actor_msgtype_define("_actor_node.probe", "", "", &n->t_probe);
    if (rc == ACTOR_OK)
        rc = proxy_classes_make(n);
    if (rc == ACTOR_OK)
        rc = export_classes_make(n);
    if (rc == ACTOR_OK)
        rc = bridge_class_make(n);
    if (rc != ACTOR_OK)
        goto fail;

    /* The loop: a private base, with libevent's locking on (libnats writes
     * and libactor's threads add events from other threads). */
    natsLibevent_Init();
    n->base = event_base_new();
    if (n->base == NULL) {
        rc = ACTOR_ENOMEM;
        goto fail;
    }
    rc = make_options(n, url);
    if (rc != ACTOR_OK)
        goto fail;
    n->tick = event_new(n->base, -1, EV_PERSIST, on_tick, n);
    n->stop_ev = event_new(n->base, -1, 0, on_stop, n);
    if (n->tick == NULL || n->stop_ev == NULL) {
        rc = ACTOR_ENOMEM;
        goto fail;
    }
    if (pthread_create(&n->thread, NULL, loop_main, n) != 0) {
        rc = ACTOR_ENOMEM;
        goto fail;
    }
    n->thread_started = true;

    natsStatus s = natsConnection_Connect(&n->nc, n->opts);
    if (s != NATS_OK) {
        node_log(n, ACTOR_LOG_INFO, "connect to %s: %s", url, natsStatus_GetText(s));
        n->nc = NULL;
        rc = s == NATS_NO_MEMORY ? ACTOR_ENOMEM : ACTOR_ECLOSED;
        goto fail;
    }
    atomic_store(&n->connected, 1);
    char subj[NODE_SUBJ_MAX + 8];
    snprintf(subj, sizeof subj, "%s.r.*", n->prefix);
    rc = node_subscribe(n, subj, on_no_responders, n, &n->nr_sub);
    snprintf(subj, sizeof subj, "%s.*", n->prefix);
    if (rc == ACTOR_OK)
        rc = subscribe_sync(n, subj, &n->main_sub);
    if (rc == ACTOR_OK)
        rc = subscribe_sync(n, "_ACTOR.hb.>", &n->hb_sub);
    if (rc == ACTOR_OK)
        rc = export_watcher_spawn(n);
    if (rc != ACTOR_OK)
        goto fail;
    struct timeval tv = {n->hb_ms / 1000, (n->hb_ms % 1000) * 1000};
    if (event_add(n->tick, &tv) != 0) {
        rc = ACTOR_ENOMEM;
        goto fail;
    }
    publish_beat(n, NW_BEAT);
    /* Our subscriptions are known to the server before anyone is told of us. */
    natsConnection_FlushTimeout(n->nc, 2000);
    *out = n;
    return ACTOR_OK;

fail:
    if (rc == ACTOR_OK)
        rc = ACTOR_ECLOSED;
    node_shutdown(n);
    return rc;
}

void actor_node_close(actor_node *n)
{
    if (n == NULL)
        return;
    if (node_on_worker(n)) {
        node_log(n, ACTOR_LOG_ERROR, "actor_node_close on a worker thread: not closed");
        return;
    }
    if (atomic_exchange(&n->closing, 1) != 0)
        return; /* a second close: undefined, but harmless here */
    node_shutdown(n);
}

int actor_node_export(actor_node *n, const char *name, actor_addr *a)
{
    if (n == NULL || name == NULL || a == NULL)
        return ACTOR_EINVAL;
    if (node_closing(n))
        return ACTOR_ECLOSED;
    return node_export(n, name, a);
}

int actor_node_unexport(actor_node *n, const char *name)
{
    if (n == NULL || name == NULL)
        return ACTOR_EINVAL;
    return node_unexport(n, name);
}

int actor_node_lookup(actor_node *n, const char *name, int timeout_ms, actor_addr **out)
{
    if (n == NULL || name == NULL || out == NULL || timeout_ms <= 0)
        return ACTOR_EINVAL;
    if (node_closing(n))
        return ACTOR_ECLOSED;
    actor_addr *a;
    int rc = node_lookup_local(n, name, &a);
    if (rc == ACTOR_OK) {
        *out = a;
        return ACTOR_OK;
    }
    if (rc != ACTOR_ENOENT)
        return rc;
    if (node_on_worker(n))
        return ACTOR_EDEADLK;
    return node_lookup_remote(n, name, timeout_ms, out);
}

int actor_node_bridge(actor_node *n, const char *subject)
{
    if (n == NULL || subject == NULL)
        return ACTOR_EINVAL;
    if (node_closing(n))
        return ACTOR_ECLOSED;
    return node_bridge(n, subject);
}
