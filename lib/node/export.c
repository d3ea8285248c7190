/* Exports: actors of this node that other nodes reach.
 * - Each export answers lookups on _ACTOR.lookup.<name> (its own
 *   subscription, so that NATS says "no responders" when nobody exports a
 *   name) and remembers which nodes looked it up: its watchers.
 * - A watcher actor of the node monitors every exported actor; at its Down
 *   the exports of that actor are withdrawn and each watcher node is told
 *   (DONE, with the exit reason) so that its remote addresses become Done.
 * - What arrives on <node>.m is handed to the exported actor from the
 *   delivery thread: addr_send, addr_interact(_within) (the answer goes
 *   back from actor_responder_then), addr_interrupt. */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Export names: the type-name rule, '.' only between non-empty tokens (a
 * name is a NATS subject's tail). */
static bool export_name_ok(const char *s)
{
    size_t len = 0;
    char prev = '.';
    for (; s[len]; len++) {
        char c = s[len];
        if (len >= NODE_NAME_MAX)
            return false;
        if (c == '.') {
            if (prev == '.')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '-')) {
            return false;
        }
        prev = c;
    }
    return len > 0 && prev != '.';
}

/* ---- tables (under n->mu) ---- */

static nexport *find_export(actor_node *n, const char *name)
{
    size_t pos = 0;
    void *v;
    while (nmap_next(&n->exports, &pos, NULL, &v))
        if (strcmp(((nexport *)v)->name, name) == 0)
            return v;
    return NULL;
}

static void add_tomb(actor_node *n, uint64_t id, int reason)
{
    size_t i = n->ntombs++ % NODE_TOMBS;
    n->tombs[i].id = id;
    n->tombs[i].reason = reason;
}

static int tomb_reason(actor_node *n, uint64_t id)
{
    size_t count = n->ntombs < NODE_TOMBS ? n->ntombs : NODE_TOMBS;
    for (size_t i = 0; i < count; i++)
        if (n->tombs[i].id == id)
            return n->tombs[i].reason;
    return ACTOR_NODE_UNEXPORTED; /* long gone, or never was */
}

static void add_watcher(nexport *e, const char *key, size_t klen)
{
    char subj[NODE_SUBJ_MAX];
    if (klen >= NODE_KEY_MAX)
        return;
    snprintf(subj, sizeof subj, "_ACTOR.n.%.*s.c", (int)klen, key);
    for (size_t i = 0; i < e->nwatchers; i++)
        if (strcmp(e->watchers[i], subj) == 0)
            return;
    char *copy = strdup(subj);
    if (copy == NULL ||
        node_grow((void **)&e->watchers, &e->capwatchers, sizeof *e->watchers,
                  e->nwatchers + 1) != 0) {
        free(copy); /* without memory that node learns of the Done later */
        return;
    }
    e->watchers[e->nwatchers++] = copy;
}

/* DONE: 0 ver, 1 kind, 2 u8 keylen, 4 i32 reason, 8 u64 export id, 16 key */
static void send_done(actor_node *n, const char *to, uint64_t id, int reason)
{
    unsigned char b[16 + NODE_KEY_MAX];
    size_t klen = strlen(n->key);
    b[0] = NW_VERSION;
    b[1] = NW_DONE;
    b[2] = (unsigned char)klen;
    b[3] = 0;
    nw_put32(b + 4, (uint32_t)reason);
    nw_put64(b + 8, id);
    memcpy(b + 16, n->key, klen);
    node_publish(n, to, NULL, b, 16 + klen);
}

/* An export out of the tables: tell its watchers, drop it. */
static void export_end(actor_node *n, nexport *e, int reason, bool tell)
{
    for (size_t i = 0; i < e->nwatchers; i++) {
        if (tell)
            send_done(n, e->watchers[i], e->id, reason);
        free(e->watchers[i]);
    }
    free(e->watchers);
    if (e->lookup_sub != NULL) {
        if (tell)
            natsSubscription_Unsubscribe(e->lookup_sub);
        natsSubscription_Destroy(e->lookup_sub);
    }
    addr_release(e->addr);
    free(e);
}

/* ---- the watcher actor ----
 * It never stops while a monitor of it is outstanding: asked to stop (the
 * node closes, the runtime shuts down) it waits for the Downs of what it
 * watches, and holds its own address meanwhile. (libactor 1.1 crashes when
 * a Down is pushed to a watcher that is Done already; see the report.) */
typedef struct watcher {
    actor_node *node;  /* counted */
    actor_addr *self;  /* counted while it runs */
    actor_addr **watched; /* targets with a monitor outstanding */
    size_t nwatched, capwatched;
    bool stop_asked;
} watcher;

static void watcher_maybe_stop(actor_ctx *ctx, watcher *w)
{
    if (w->stop_asked && w->nwatched == 0)
        actor_ctx_stop(ctx);
}

static int watcher_init(actor_ctx *ctx, void *state)
{
    ((watcher *)state)->self = addr_ref(actor_ctx_self(ctx));
    return 0;
}

static void watcher_finalize(actor_ctx *ctx, void *state)
{
    (void)ctx;
    watcher *w = state;
    addr_release(w->self);
    w->self = NULL;
}

static void watcher_state_free(void *state)
{
    watcher *w = state;
    free(w->watched);
    node_unref(w->node);
    free(w);
}

static void watcher_interrupt(actor_ctx *ctx, void *state)
{
    watcher *w = state;
    w->stop_asked = true;
    watcher_maybe_stop(ctx, w);
}

static int watcher_on_watch(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    watcher *w = state;
    actor_node *n = w->node;
    (void)len;
    uint64_t id = nw_get64(payload);
    pthread_mutex_lock(&n->mu);
    nexport *e = nmap_get(&n->exports, id);
    actor_addr *a = e ? addr_ref(e->addr) : NULL;
    pthread_mutex_unlock(&n->mu);
    if (a == NULL)
        return 0;
    bool known = false;
    for (size_t i = 0; i < w->nwatched && !known; i++)
        known = w->watched[i] == a;
    int rc = ACTOR_OK;
    if (!known) {
        if (node_grow((void **)&w->watched, &w->capwatched, sizeof *w->watched,
                      w->nwatched + 1) != 0)
            rc = ACTOR_ENOMEM;
        else if ((rc = actor_ctx_monitor(ctx, a)) == ACTOR_OK)
            w->watched[w->nwatched++] = a; /* the monitor keeps its memory */
    }
    if (rc != ACTOR_OK)
        node_log(n, ACTOR_LOG_WARN, "cannot watch export %llu: %s (its Done will not reach "
                                    "the other nodes)", (unsigned long long)id,
                 actor_strerror(rc));
    addr_release(a);
    return 0;
}

static void watcher_on_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    watcher *w = state;
    actor_node *n = w->node;
    for (size_t i = 0; i < w->nwatched; i++)
        if (w->watched[i] == who) {
            w->watched[i] = w->watched[--w->nwatched];
            break;
        }
    for (;;) {
        pthread_mutex_lock(&n->mu);
        nexport *e = NULL;
        size_t pos = 0;
        uint64_t id;
        void *v;
        while (nmap_next(&n->exports, &pos, &id, &v))
            if (((nexport *)v)->addr == who) {
                e = v;
                nmap_del(&n->exports, id);
                add_tomb(n, id, reason);
                break;
            }
        pthread_mutex_unlock(&n->mu);
        if (e == NULL)
            break;
        node_log(n, ACTOR_LOG_DEBUG, "export %s is Done (%d)", e->name, reason);
        export_end(n, e, reason, !node_closing(n));
    }
    watcher_maybe_stop(ctx, w);
}

int export_classes_make(actor_node *n)
{
    int rc = actor_msgtype_define("_actor_node.watch", "Q", "", &n->t_watch);
    if (rc == ACTOR_OK)
        rc = actor_class_new("actor_node.watcher", &n->watcher_cls);
    if (rc == ACTOR_OK)
        rc = actor_class_on_init(n->watcher_cls, watcher_init);
    if (rc == ACTOR_OK)
        rc = actor_class_on_finalize(n->watcher_cls, watcher_finalize);
    if (rc == ACTOR_OK)
        rc = actor_class_on_interrupt(n->watcher_cls, watcher_interrupt);
    if (rc == ACTOR_OK)
        rc = actor_class_on_event(n->watcher_cls, n->t_watch, watcher_on_watch);
    if (rc == ACTOR_OK)
        rc = actor_class_on_down(n->watcher_cls, watcher_on_down);
    if (rc == ACTOR_OK)
        rc = actor_class_set_state_free(n->watcher_cls, watcher_state_free);
    return rc;
}

/* Spawns the node's watcher. */
int export_watcher_spawn(actor_node *n)
{
    watcher *w = calloc(1, sizeof *w);
    if (w == NULL)
        return ACTOR_ENOMEM;
    node_ref(n);
    w->node = n;
    int rc = actor_spawn(n->rt, n->watcher_cls, w, &n->watcher);
    if (rc != ACTOR_OK) {
        node_unref(n);
        free(w);
    }
    return rc;
}

/* ---- lookups of our exports (the lookup subscriptions' threads) ---- */

/* LOOKUP: 0 ver, 1 kind, 2 u8 keylen, 4 key.  FOUND: 0 ver, 1 kind, 2 u8
 * keylen, 4 u32 interval, 8 u64 export id, 16 u32 gen, 24 key */
static void on_lookup(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    actor_node *n = closure;
    const char *subj = natsMsg_GetSubject(msg), *reply = natsMsg_GetReply(msg);
    const unsigned char *d = (const unsigned char *)natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    static const char pre[] = "_ACTOR.lookup.";
    if (reply == NULL || strncmp(subj, pre, sizeof pre - 1) != 0 || len < 4 ||
        d[0] != NW_VERSION || d[1] != NW_LOOKUP || (size_t)d[2] + 4 > len) {
        natsMsg_Destroy(msg);
        return;
    }
    unsigned char b[24 + NODE_KEY_MAX];
    bool found = false;
    pthread_mutex_lock(&n->mu);
    nexport *e = find_export(n, subj + sizeof pre - 1);
    if (e != NULL) {
        add_watcher(e, (const char *)d + 4, d[2]);
        found = true;
        nw_put64(b + 8, e->id);
    }
    pthread_mutex_unlock(&n->mu);
    if (found) {
        size_t klen = strlen(n->key);
        b[0] = NW_VERSION;
        b[1] = NW_FOUND;
        b[2] = (unsigned char)klen;
        b[3] = 0;
        nw_put32(b + 4, n->hb_ms);
        nw_put32(b + 16, atomic_load(&n->gen));
        nw_put32(b + 20, 0);
        memcpy(b + 24, n->key, klen);
        node_publish(n, reply, NULL, b, 24 + klen);
    }
    natsMsg_Destroy(msg);
}

/* CHECK: 0 ver, 1 kind, 2 u8 keylen, 4 u32 count, 8 key, then u64 ids */
void node_on_check(actor_node *n, const unsigned char *p, size_t len)
{
    if (len < 8)
        return;
    size_t klen = p[2], count = nw_get32(p + 4);
    if (klen >= NODE_KEY_MAX || 8 + klen > len || count > (len - 8 - klen) / 8)
        return;
    char to[NODE_SUBJ_MAX];
    snprintf(to, sizeof to, "_ACTOR.n.%.*s.c", (int)klen, (const char *)p + 8);
    for (size_t i = 0; i < count; i++) {
        uint64_t id = nw_get64(p + 8 + klen + 8 * i);
        pthread_mutex_lock(&n->mu);
        nexport *e = nmap_get(&n->exports, id);
        int reason = 0;
        if (e != NULL)
            add_watcher(e, (const char *)p + 8, klen);
        else
            reason = tomb_reason(n, id);
        pthread_mutex_unlock(&n->mu);
        if (e == NULL)
            send_done(n, to, id, reason);
    }
}

/* ---- what arrives for our exports (the main subscription's thread) ---- */

/* Answers go to <requester>.a, with the request's id: the requester's
 * NATS reply subject <requester>.r.<id> only ever gets NATS's "no
 * responders". Splits that reply subject; false if it is not one. */
static bool answer_subject(const char *reply, char *to, size_t size, uint64_t *id)
{
    const char *r = strrchr(reply, '.');
    if (r == NULL || r - reply < 2 || r[-1] != 'r' || r[-2] != '.' || r[1] == '\0')
        return false;
    char *end;
    unsigned long long v = strtoull(r + 1, &end, 10);
    size_t base = (size_t)(r - 2 - reply);
    if (*end != '\0' || base + 3 > size)
        return false;
    memcpy(to, reply, base);
    memcpy(to + base, ".a", 3);
    *id = v;
    return true;
}

/* REPLY / GONE: 0 ver, 1 kind, 4 i32 status, 8 i32 handler error,
 * 16 u64 request id, 24 data */
static void send_reply(actor_node *n, const char *to, uint64_t id, int kind, int status,
                       int herr, const void *data, size_t len)
{
    unsigned char stack[1024];
    if (len > SIZE_MAX - 24) {
        len = 0;
        status = ACTOR_ENOMEM;
    }
    unsigned char *b = 24 + len <= sizeof stack ? stack : malloc(24 + len);
    if (b == NULL) {
        b = stack;
        len = 0;
        status = ACTOR_ENOMEM;
    }
    b[0] = NW_VERSION;
    b[1] = (unsigned char)kind;
    b[2] = b[3] = 0;
    nw_put32(b + 4, (uint32_t)status);
    nw_put32(b + 8, (uint32_t)herr);
    nw_put32(b + 12, 0);
    nw_put64(b + 16, id);
    if (len)
        memcpy(b + 24, data, len);
    node_publish(n, to, NULL, b, 24 + len);
    if (b != stack)
        free(b);
}

static void inreq_free(inreq *ir)
{
    node_unref(ir->node);
    free(ir);
}

/* The answer of a request from another node (any thread). */
static void inreq_done(actor_responder *r, void *ud)
{
    inreq *ir = ud;
    actor_node *n = ir->node;
    pthread_mutex_lock(&n->mu);
    bool mine = nmap_get(&n->inreqs, ir->key) == ir;
    if (mine)
        nmap_del(&n->inreqs, ir->key);
    pthread_mutex_unlock(&n->mu);
    if (!mine)
        return; /* the node is closing: its close frees r and ir */
    int status = actor_responder_status(r);
    if (status == ACTOR_OK) {
        size_t len;
        const void *data = actor_responder_data(r, &len);
        send_reply(n, ir->reply, ir->id, NW_REPLY, ACTOR_OK, 0, data, len);
    } else {
        send_reply(n, ir->reply, ir->id, NW_REPLY, status, actor_responder_handler_error(r), NULL,
                   0);
    }
    actor_responder_free(r);
    inreq_free(ir);
}

static void handle_request(actor_node *n, actor_addr *a, const nw_msg *m, const char *to,
                           uint64_t id)
{
    const actor_msgtype *t;
    int rc = nw_resolve_type(m, &t);
    if (rc != ACTOR_OK) {
        node_log(n, ACTOR_LOG_WARN, "request of type %.*s refused: %s", (int)m->name_len,
                 m->name, actor_strerror(rc));
        send_reply(n, to, id, NW_REPLY, rc, 0, NULL, 0);
        return;
    }
    size_t rlen = strlen(to);
    inreq *ir = malloc(sizeof *ir + rlen + 1);
    if (ir == NULL) {
        send_reply(n, to, id, NW_REPLY, ACTOR_ENOMEM, 0, NULL, 0);
        return;
    }
    memcpy(ir->reply, to, rlen + 1);
    ir->id = id;
    actor_responder *r;
    rc = m->deadline_ms >= 0
             ? addr_interact_within(a, t, m->payload, m->len, m->deadline_ms, &r)
             : addr_interact(a, t, m->payload, m->len, &r);
    if (rc != ACTOR_OK) {
        free(ir);
        /* ECLOSED: the actor stops, the request is canceled as a queued
         * one would be; others (ETYPE, ENOHANDLER, EFULL, ENOMEM) fail it. */
        send_reply(n, to, id, NW_REPLY, rc == ACTOR_ECLOSED ? ACTOR_ECANCELED : rc, 0, NULL, 0);
        return;
    }
    node_ref(n);
    ir->node = n;
    ir->r = r;
    pthread_mutex_lock(&n->mu);
    bool ok = !node_closing(n) && nmap_reserve(&n->inreqs) == 0;
    if (ok) {
        ir->key = n->next_inreq++;
        nmap_put(&n->inreqs, ir->key, ir);
    }
    pthread_mutex_unlock(&n->mu);
    if (!ok) {
        actor_responder_free(r);
        inreq_free(ir);
        return;
    }
    actor_responder_then(r, inreq_done, ir); /* may run at once, here */
}

static void deliver_event(actor_node *n, actor_addr *a, const nw_msg *m)
{
    const actor_msgtype *t;
    int rc = nw_resolve_type(m, &t);
    if (rc == ACTOR_OK)
        rc = addr_send(a, t, m->payload, m->len);
    if (rc != ACTOR_OK)
        node_log(n, rc == ACTOR_ETYPE ? ACTOR_LOG_WARN : ACTOR_LOG_DEBUG,
                 "event of type %.*s dropped: %s", (int)m->name_len, m->name,
                 actor_strerror(rc));
}

/* NW_BATCH: 0 ver, 1 kind, 8 then each event behind its u32 length. */
static void on_batch(actor_node *n, const unsigned char *d, size_t len)
{
    actor_addr *a = NULL;
    uint64_t export_id = 0;
    for (size_t off = 8; off + 4 <= len;) {
        size_t size = nw_get32(d + off);
        nw_msg m;
        if (size > len - off - 4 || nw_typed_parse(d + off + 4, size, &m) != 0 ||
            m.kind != NW_EVENT)
            break; /* malformed: the rest is lost */
        off += 4 + size;
        if (a == NULL || m.export_id != export_id) {
            addr_release(a);
            export_id = m.export_id;
            pthread_mutex_lock(&n->mu);
            nexport *e = nmap_get(&n->exports, export_id);
            a = e ? addr_ref(e->addr) : NULL;
            pthread_mutex_unlock(&n->mu);
            if (a == NULL)
                continue;
        }
        deliver_event(n, a, &m);
    }
    addr_release(a);
}

void node_on_actor_msg(actor_node *n, natsMsg *msg)
{
    const unsigned char *d = (const unsigned char *)natsMsg_GetData(msg);
    size_t dlen = (size_t)natsMsg_GetDataLength(msg);
    if (dlen >= 8 && d[0] == NW_VERSION && d[1] == NW_BATCH) {
        on_batch(n, d, dlen);
        return;
    }
    nw_msg m;
    if (nw_typed_parse(d, dlen, &m) != 0)
        return;
    const char *reply = natsMsg_GetReply(msg);
    char to[NODE_SUBJ_MAX];
    uint64_t id = 0;
    bool answerable = m.kind == NW_REQUEST && reply != NULL &&
                      answer_subject(reply, to, sizeof to, &id);
    pthread_mutex_lock(&n->mu);
    nexport *e = nmap_get(&n->exports, m.export_id);
    actor_addr *a = e ? addr_ref(e->addr) : NULL;
    int reason = e ? 0 : tomb_reason(n, m.export_id);
    pthread_mutex_unlock(&n->mu);
    if (a == NULL) {
        if (answerable)
            send_reply(n, to, id, NW_GONE, reason, 0, NULL, 0);
        return;
    }
    if (m.kind == NW_EVENT) {
        deliver_event(n, a, &m);
    } else if (answerable) {
        handle_request(n, a, &m, to, id);
    } else if (m.kind == NW_INTERRUPT) {
        addr_interrupt(a);
    }
    addr_release(a);
}

/* ---- export, unexport, the local lookup ---- */

int node_lookup_local(actor_node *n, const char *name, actor_addr **out)
{
    if (!export_name_ok(name))
        return ACTOR_EINVAL;
    pthread_mutex_lock(&n->mu);
    nexport *e = find_export(n, name);
    actor_addr *a = e ? addr_ref(e->addr) : NULL;
    pthread_mutex_unlock(&n->mu);
    if (a == NULL)
        return ACTOR_ENOENT;
    *out = a;
    return ACTOR_OK;
}

int node_export(actor_node *n, const char *name, actor_addr *a)
{
    if (!export_name_ok(name))
        return ACTOR_EINVAL;
    if (addr_is_done(a))
        return ACTOR_ECLOSED;
    pthread_mutex_lock(&n->mu);
    bool taken = find_export(n, name) != NULL;
    pthread_mutex_unlock(&n->mu);
    if (taken)
        return ACTOR_EBUSY;
    nexport *e = calloc(1, sizeof *e);
    if (e == NULL)
        return ACTOR_ENOMEM;
    snprintf(e->name, sizeof e->name, "%s", name);
    char subj[NODE_SUBJ_MAX];
    snprintf(subj, sizeof subj, "_ACTOR.lookup.%s", name);
    int rc = node_subscribe(n, subj, on_lookup, n, &e->lookup_sub);
    if (rc != ACTOR_OK) {
        free(e);
        return rc;
    }
    e->addr = addr_ref(a);
    pthread_mutex_lock(&n->mu);
    if (node_closing(n))
        rc = ACTOR_ECLOSED;
    else if (find_export(n, name) != NULL)
        rc = ACTOR_EBUSY;
    else if (nmap_reserve(&n->exports) != 0)
        rc = ACTOR_ENOMEM;
    if (rc == ACTOR_OK) {
        e->id = n->next_export++;
        nmap_put(&n->exports, e->id, e);
    }
    pthread_mutex_unlock(&n->mu);
    if (rc != ACTOR_OK) {
        export_end(n, e, 0, true);
        return rc;
    }
    /* The watcher monitors it (a monitor is made inside the watcher). */
    unsigned char id[8];
    nw_put64(id, e->id);
    uint64_t eid = e->id;
    rc = addr_send(n->watcher, n->t_watch, id, sizeof id);
    if (rc != ACTOR_OK) {
        /* The watcher stopped: the runtime shuts down. */
        pthread_mutex_lock(&n->mu);
        nexport *again = nmap_del(&n->exports, eid);
        pthread_mutex_unlock(&n->mu);
        if (again != NULL)
            export_end(n, again, ACTOR_NODE_UNEXPORTED, true);
        return rc == ACTOR_ENOMEM ? rc : ACTOR_ECLOSED;
    }
    /* Findable when this returns (not on a worker, which must not wait). */
    if (!node_on_worker(n))
        natsConnection_FlushTimeout(n->nc, 2000);
    return ACTOR_OK;
}

int node_unexport(actor_node *n, const char *name)
{
    if (!export_name_ok(name))
        return ACTOR_ENOENT;
    pthread_mutex_lock(&n->mu);
    nexport *e = find_export(n, name);
    if (e != NULL) {
        nmap_del(&n->exports, e->id);
        add_tomb(n, e->id, ACTOR_NODE_UNEXPORTED);
    }
    pthread_mutex_unlock(&n->mu);
    if (e == NULL)
        return ACTOR_ENOENT;
    export_end(n, e, ACTOR_NODE_UNEXPORTED, !node_closing(n));
    return ACTOR_OK;
}

void node_close_exports(actor_node *n, bool quiet)
{
    pthread_mutex_lock(&n->mu);
    nmap exports = n->exports;
    memset(&n->exports, 0, sizeof n->exports);
    nmap inreqs;
    memset(&inreqs, 0, sizeof inreqs);
    if (quiet) {
        /* No delivery thread runs now: none is between making a request
         * and setting its callback. */
        inreqs = n->inreqs;
        memset(&n->inreqs, 0, sizeof n->inreqs);
    }
    pthread_mutex_unlock(&n->mu);
    size_t pos = 0;
    void *v;
    while (nmap_next(&inreqs, &pos, NULL, &v)) {
        inreq *ir = v;
        actor_responder_free(ir->r); /* its callback, if running, has returned */
        inreq_free(ir);
    }
    nmap_clear(&inreqs);
    pos = 0;
    while (nmap_next(&exports, &pos, NULL, &v))
        export_end(n, v, 0, false);
    nmap_clear(&exports);
    if (n->watcher != NULL) {
        addr_interrupt(n->watcher);
        addr_release(n->watcher);
        n->watcher = NULL;
    }
}
