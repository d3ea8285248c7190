/* Remote addresses. A lookup makes (once per remote export) a proxy actor
 * whose catch-all handlers turn each message into a NATS message to the
 * exporting node:
 * - an event is published to <node>.m;
 * - a request is deferred (its promise kept in n->pending under a fresh id)
 *   and published to <node>.m with the reply subject <us>.r.<id>; the answer
 *   (or NATS's "no responders", or the node's loss) answers the promise;
 *   what is left of its deadline travels with it;
 * - an interrupt is forwarded, unless the runtime is shutting down (then
 *   the proxy just stops: the remote actor is not this runtime's to stop).
 * The proxy becomes Done, with the remote's exit reason, when the exporting
 * node says the actor is Done (or unexported), or when that node is lost. */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rnode_unref(rnode *rn)
{
    if (rn != NULL && atomic_fetch_sub(&rn->refs, 1) == 1)
        free(rn);
}

void proxy_unref(proxy *px)
{
    if (px != NULL && atomic_fetch_sub(&px->refs, 1) == 1) {
        free(px->batch);
        rnode_unref(px->rn);
        node_unref(px->node);
        free(px);
    }
}

static void pending_free(pending *pe)
{
    rnode_unref(pe->rn);
    proxy_unref(pe->px);
    free(pe);
}

/* ---- the proxy actor ---- */

/* Events are gathered: a stream of them goes out as few NATS messages (one
 * per mailbox's worth), a lone one at once (its marker is right behind it). */
#define BATCH_MAX (64 * 1024)

static void batch_flush(proxy *px)
{
    if (px->batch_count == 0)
        return;
    if (px->batch_count == 1) /* alone: the NW_EVENT as it is, behind header and length */
        node_publish_ex(px->node, px->rn->msg_subj, NULL, px->batch + 12, px->batch_len - 12,
                        true);
    else
        node_publish_ex(px->node, px->rn->msg_subj, NULL, px->batch, px->batch_len, true);
    px->batch_count = 0;
    px->batch_len = 8;
}

static int proxy_any_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    proxy *px = state;
    if (atomic_load(&px->gone))
        return 0;
    const actor_msgtype *t = actor_ctx_msgtype(ctx);
    size_t size = nw_typed_size(t, len);
    if (size == 0 || size > BATCH_MAX - 8 - 4) { /* a big one goes alone, in order */
        batch_flush(px);
        node_publish_typed(px->node, px->rn->msg_subj, NULL, NW_EVENT, px->export_id, -1, t,
                           payload, len);
        return 0;
    }
    if (px->batch_len + 4 + size > BATCH_MAX)
        batch_flush(px);
    if (px->batch == NULL) {
        if ((px->batch = malloc(BATCH_MAX)) == NULL) { /* no gathering, then */
            node_publish_typed(px->node, px->rn->msg_subj, NULL, NW_EVENT, px->export_id, -1,
                               t, payload, len);
            return 0;
        }
        /* The batch's own header: version, kind, then the events. */
        px->batch[0] = NW_VERSION;
        px->batch[1] = NW_BATCH;
        memset(px->batch + 2, 0, 6);
        px->batch_len = 8;
    }
    nw_put32(px->batch + px->batch_len, (uint32_t)size);
    nw_typed_write(px->batch + px->batch_len + 4, NW_EVENT, px->export_id, -1, t, payload, len);
    px->batch_len += 4 + size;
    px->batch_count++;
    if (!px->flush_queued) {
        if (addr_send(actor_ctx_self(ctx), px->node->t_flush, NULL, 0) == ACTOR_OK)
            px->flush_queued = true;
        else
            batch_flush(px); /* stopping: out now */
    }
    return 0; /* at most once: a failed publish is a lost message */
}

static int proxy_on_flush(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    (void)len;
    proxy *px = state;
    px->flush_queued = false;
    if (!atomic_load(&px->gone))
        batch_flush(px);
    return 0;
}

static int proxy_any_request(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    proxy *px = state;
    actor_node *n = px->node;
    if (atomic_load(&px->gone) || node_closing(n))
        return 0; /* ACTOR_ECANCELED */
    batch_flush(px); /* the events sent before it go before it */
    int64_t left = actor_ctx_deadline_left(ctx);
    int32_t deadline = left < 0 ? -1 : left > INT32_MAX ? INT32_MAX : (int32_t)left;
    actor_promise *p;
    int rc = actor_ctx_defer(ctx, &p);
    if (rc != ACTOR_OK)
        return rc;
    pending *pe = malloc(sizeof *pe);
    if (pe == NULL) {
        if (actor_promise_reject(p, ACTOR_ENOMEM) != ACTOR_OK)
            actor_promise_free(p);
        return 0;
    }
    pe->p = p;
    pe->rn = px->rn;
    pe->px = px;
    pe->epoch = atomic_load(&n->epoch);
    pe->next = NULL;
    atomic_fetch_add(&px->rn->refs, 1);
    atomic_fetch_add(&px->refs, 1);
    pthread_mutex_lock(&n->mu);
    if (px->rn->lost || node_closing(n) || nmap_reserve(&n->pending) != 0) {
        pthread_mutex_unlock(&n->mu);
        actor_promise_free(p);
        pending_free(pe);
        return 0;
    }
    uint64_t id = n->next_req++;
    nmap_put(&n->pending, id, pe);
    pthread_mutex_unlock(&n->mu);
    /* From here pe may be answered (and freed) by the delivery thread. */
    char reply[NODE_SUBJ_MAX + 32];
    snprintf(reply, sizeof reply, "%s.r.%llu", n->prefix, (unsigned long long)id);
    rc = node_publish_typed(n, px->rn->msg_subj, reply, NW_REQUEST, px->export_id, deadline,
                            actor_ctx_msgtype(ctx), payload, len);
    if (rc != ACTOR_OK) {
        pthread_mutex_lock(&n->mu);
        pending *got = nmap_del(&n->pending, id);
        pthread_mutex_unlock(&n->mu);
        if (got != NULL) {
            actor_promise_free(got->p); /* ACTOR_ECANCELED: never sent */
            pending_free(got);
        }
    }
    return 0;
}

static void proxy_interrupt(actor_ctx *ctx, void *state)
{
    proxy *px = state;
    actor_node *n = px->node;
    if (atomic_load(&px->gone)) {
        int reason = atomic_load(&px->reason);
        if (reason != 0)
            actor_ctx_fail(ctx, reason);
        else
            actor_ctx_stop(ctx);
        return;
    }
    /* The runtime's shutdown interrupts every actor: a proxy then stops
     * itself and leaves the remote actor alone. actor_publish answers
     * ACTOR_ECLOSED exactly when the runtime is shutting down. */
    batch_flush(px);
    if (actor_publish(actor_ctx_runtime(ctx), "_actor_node.probe", n->t_probe, NULL, 0, NULL) ==
        ACTOR_ECLOSED) {
        actor_ctx_stop(ctx);
        return;
    }
    node_publish_typed(n, px->rn->msg_subj, NULL, NW_INTERRUPT, px->export_id, -1, NULL, NULL,
                       0);
}

static void proxy_state_free(void *state) { proxy_unref(state); }

int proxy_classes_make(actor_node *n)
{
    int rc = actor_msgtype_define("_actor_node.flush", "", "", &n->t_flush);
    if (rc == ACTOR_OK)
        rc = actor_class_new("actor_node.proxy", &n->proxy_cls);
    if (rc == ACTOR_OK)
        rc = actor_class_on_any_event(n->proxy_cls, proxy_any_event);
    if (rc == ACTOR_OK)
        rc = actor_class_on_event(n->proxy_cls, n->t_flush, proxy_on_flush);
    if (rc == ACTOR_OK)
        rc = actor_class_on_any_request(n->proxy_cls, proxy_any_request);
    if (rc == ACTOR_OK)
        rc = actor_class_on_interrupt(n->proxy_cls, proxy_interrupt);
    if (rc == ACTOR_OK)
        rc = actor_class_set_state_free(n->proxy_cls, proxy_state_free);
    return rc;
}

/* ---- tables (under n->mu) ---- */

static rnode *find_rnode(actor_node *n, const char *key)
{
    for (size_t i = 0; i < n->nrnodes; i++)
        if (strcmp(n->rnodes[i]->key, key) == 0)
            return n->rnodes[i];
    return NULL;
}

static bool remove_rnode(actor_node *n, rnode *rn)
{
    for (size_t i = 0; i < n->nrnodes; i++)
        if (n->rnodes[i] == rn) {
            n->rnodes[i] = n->rnodes[--n->nrnodes];
            return true;
        }
    return false;
}

static proxy *find_proxy(actor_node *n, const rnode *rn, uint64_t export_id)
{
    for (size_t i = 0; i < n->nproxies; i++)
        if (n->proxies[i]->rn == rn && n->proxies[i]->export_id == export_id)
            return n->proxies[i];
    return NULL;
}

static bool remove_proxy(actor_node *n, proxy *px)
{
    for (size_t i = 0; i < n->nproxies; i++)
        if (n->proxies[i] == px) {
            n->proxies[i] = n->proxies[--n->nproxies];
            return true;
        }
    return false;
}

/* Makes a proxy that left the table Done: its interrupt sees `gone`. */
static void proxy_finish(proxy *px, actor_addr *a, int reason)
{
    atomic_store(&px->reason, reason);
    atomic_store(&px->gone, 1);
    addr_interrupt(a); /* ACTOR_ECLOSED: it stopped already (runtime shutdown) */
    addr_release(a);
    proxy_unref(px); /* the table's reference */
}

void proxy_gone(actor_node *n, proxy *px, int reason)
{
    pthread_mutex_lock(&n->mu);
    actor_addr *a = NULL;
    if (remove_proxy(n, px)) {
        a = px->addr;
        px->addr = NULL;
    }
    pthread_mutex_unlock(&n->mu);
    if (a != NULL)
        proxy_finish(px, a, reason);
}

/* Every pending request that `match` selects, taken out of the table. */
static pending *take_pending(actor_node *n, bool (*match)(const pending *, const void *),
                             const void *arg)
{
    pending *list = NULL;
    size_t pos = 0;
    uint64_t id;
    void *v;
    while (nmap_next(&n->pending, &pos, &id, &v)) {
        pending *pe = v;
        if (match == NULL || match(pe, arg)) {
            nmap_del(&n->pending, id); /* leaves a tombstone: iteration goes on */
            pe->next = list;
            list = pe;
        }
    }
    return list;
}

static void cancel_pending(pending *list)
{
    while (list != NULL) {
        pending *next = list->next;
        actor_promise_free(list->p); /* ACTOR_ECANCELED */
        pending_free(list);
        list = next;
    }
}

static bool pending_of(const pending *pe, const void *rn) { return pe->rn == rn; }

/* The node rn is lost (or left): every proxy of it becomes Done
 * (ACTOR_NODE_LOST), every request waiting on it completes
 * ACTOR_ECANCELED. rn stays referenced by the caller. */
static void node_lose(actor_node *n, rnode *rn)
{
    pthread_mutex_lock(&n->mu);
    if (rn->lost) {
        pthread_mutex_unlock(&n->mu);
        return;
    }
    rn->lost = true;
    bool listed = remove_rnode(n, rn);
    proxy *gone = NULL;
    for (size_t i = 0; i < n->nproxies;) {
        proxy *px = n->proxies[i];
        if (px->rn == rn) {
            n->proxies[i] = n->proxies[--n->nproxies];
            px->next = gone;
            gone = px;
        } else {
            i++;
        }
    }
    pending *pend = take_pending(n, pending_of, rn);
    pthread_mutex_unlock(&n->mu);
    node_log(n, ACTOR_LOG_INFO, "node %s lost", rn->key);
    cancel_pending(pend);
    while (gone != NULL) {
        proxy *next = gone->next;
        actor_addr *a = gone->addr; /* out of the table: nobody else takes it */
        gone->addr = NULL;
        proxy_finish(gone, a, ACTOR_NODE_LOST);
        gone = next;
    }
    if (listed)
        rnode_unref(rn);
}

/* ---- what arrives for remote addresses (the delivery thread) ---- */

static pending *take_one(actor_node *n, uint64_t id)
{
    pthread_mutex_lock(&n->mu);
    pending *pe = nmap_del(&n->pending, id);
    pthread_mutex_unlock(&n->mu);
    return pe;
}

void node_on_no_responders(actor_node *n, uint64_t id)
{
    pending *pe = take_one(n, id);
    if (pe == NULL)
        return;
    actor_promise_free(pe->p); /* nobody listens for that node now: ACTOR_ECANCELED */
    pending_free(pe);
}

/* REPLY / GONE: 0 ver, 1 kind, 4 i32 status, 8 i32 handler error,
 * 16 u64 request id, 24 data */
void node_on_answer(actor_node *n, const unsigned char *d, size_t len)
{
    if (len < 24 || d[0] != NW_VERSION)
        return;
    pending *pe = take_one(n, nw_get64(d + 16));
    if (pe == NULL)
        return; /* canceled meanwhile: the answer goes nowhere */
    actor_promise *p = pe->p;
    int rc = ACTOR_ECANCELED;
    int status = (int32_t)nw_get32(d + 4);
    if (d[1] == NW_GONE) {
        proxy_gone(n, pe->px, status);
    } else if (d[1] == NW_REPLY) {
        int herr = (int32_t)nw_get32(d + 8);
        if (status == ACTOR_OK) {
            rc = actor_promise_resolve(p, d + 24, len - 24);
            if (rc == ACTOR_ETYPE) /* cannot happen with matching layouts */
                rc = actor_promise_reject(p, ACTOR_ETYPE);
        } else if (status == ACTOR_EHANDLER) {
            rc = actor_promise_reject(p, herr != 0 ? herr : ACTOR_EHANDLER);
        } else if (status != ACTOR_ECANCELED && status != ACTOR_EEXPIRED &&
                   status != ACTOR_ECLOSED && status < 0) {
            /* The remote node could not hand it over (ACTOR_ETYPE,
             * ACTOR_ENOHANDLER, ACTOR_EFULL, ACTOR_ENOMEM): the request
             * failed there, as a handler that returned that code. */
            rc = actor_promise_reject(p, status);
        }
        /* ECANCELED; EEXPIRED (the local deadline, which is never later,
         * completed the responder already) */
    }
    if (rc != ACTOR_OK)
        actor_promise_free(p);
    pending_free(pe);
}

/* DONE: 0 ver, 1 kind, 2 u8 keylen, 3 -, 4 i32 reason, 8 u64 export id, 16 key */
void node_on_done(actor_node *n, const unsigned char *p, size_t len)
{
    if (len < 16 || (size_t)p[2] + 16 > len || p[2] >= NODE_KEY_MAX)
        return;
    char key[NODE_KEY_MAX];
    memcpy(key, p + 16, p[2]);
    key[p[2]] = '\0';
    int reason = (int32_t)nw_get32(p + 4);
    uint64_t export_id = nw_get64(p + 8);
    pthread_mutex_lock(&n->mu);
    rnode *rn = find_rnode(n, key);
    proxy *px = rn ? find_proxy(n, rn, export_id) : NULL;
    if (px != NULL)
        atomic_fetch_add(&px->refs, 1);
    pthread_mutex_unlock(&n->mu);
    if (px != NULL) {
        proxy_gone(n, px, reason);
        proxy_unref(px);
    }
}

/* BEAT / BYE on _ACTOR.hb.<key>: 0 ver, 1 kind, 4 u32 interval, 8 u32 gen */
void node_on_beat(actor_node *n, const char *key, const unsigned char *p, size_t len)
{
    if (len < 12 || p[0] != NW_VERSION)
        return;
    pthread_mutex_lock(&n->mu);
    rnode *rn = find_rnode(n, key);
    if (rn == NULL) {
        pthread_mutex_unlock(&n->mu);
        return; /* a node we have no address of */
    }
    atomic_fetch_add(&rn->refs, 1);
    bool bye = p[1] == NW_BYE, reconnected = false;
    pending *pend = NULL;
    if (!bye) {
        rn->last_beat_ms = node_now_ms();
        uint32_t iv = nw_get32(p + 4);
        rn->interval_ms = iv >= 10 ? iv : 10;
        uint32_t gen = nw_get32(p + 8);
        if (gen != rn->gen) {
            /* It reconnected: what was in flight to or from it may be lost.
             * Its requests complete ACTOR_ECANCELED rather than hang; its
             * exports are checked again (a Done notice may be lost too). */
            rn->gen = gen;
            reconnected = true;
            pend = take_pending(n, pending_of, rn);
        }
    }
    pthread_mutex_unlock(&n->mu);
    if (bye)
        node_lose(n, rn);
    if (reconnected) {
        cancel_pending(pend);
        node_send_check(n, rn);
    }
    rnode_unref(rn);
}

void node_check_liveness(actor_node *n)
{
    for (;;) {
        uint32_t epoch = atomic_load(&n->epoch);
        int64_t now = node_now_ms();
        rnode *late = NULL;
        pthread_mutex_lock(&n->mu);
        /* We are the one cut off, now or since we read the time (a break
         * counts the epoch up; the reconnect resets the beats under this
         * lock before it marks us connected): nobody's beats could arrive. */
        if (atomic_load(&n->epoch) != epoch || !atomic_load(&n->connected)) {
            pthread_mutex_unlock(&n->mu);
            return;
        }
        for (size_t i = 0; i < n->nrnodes; i++) {
            rnode *rn = n->rnodes[i];
            if (!rn->lost && now - rn->last_beat_ms > 3 * (int64_t)rn->interval_ms) {
                late = rn;
                atomic_fetch_add(&rn->refs, 1);
                break;
            }
        }
        pthread_mutex_unlock(&n->mu);
        if (late == NULL)
            return;
        node_lose(n, late);
        rnode_unref(late);
    }
}

/* CHECK to <node>.c: 0 ver, 1 kind, 2 u8 keylen, 4 u32 count, 8 key, u64 ids */
void node_send_check(actor_node *n, rnode *rn)
{
    size_t klen = strlen(n->key);
    pthread_mutex_lock(&n->mu);
    size_t count = 0;
    for (size_t i = 0; i < n->nproxies; i++)
        count += n->proxies[i]->rn == rn;
    unsigned char *buf = count ? malloc(8 + klen + 8 * count) : NULL;
    if (buf != NULL) {
        size_t k = 0;
        for (size_t i = 0; i < n->nproxies; i++)
            if (n->proxies[i]->rn == rn)
                nw_put64(buf + 8 + klen + 8 * k++, n->proxies[i]->export_id);
    }
    pthread_mutex_unlock(&n->mu);
    if (buf == NULL)
        return; /* nothing to check (or no memory: the next check will) */
    buf[0] = NW_VERSION;
    buf[1] = NW_CHECK;
    buf[2] = (unsigned char)klen;
    buf[3] = 0;
    nw_put32(buf + 4, (uint32_t)count);
    memcpy(buf + 8, n->key, klen);
    node_publish(n, rn->ctl_subj, NULL, buf, 8 + klen + 8 * count);
    free(buf);
}

static bool pending_before(const pending *pe, const void *epoch)
{
    return pe->epoch < *(const uint32_t *)epoch;
}

void node_after_reconnect(actor_node *n)
{
    uint32_t epoch = atomic_load(&n->epoch);
    int64_t now = node_now_ms();
    pthread_mutex_lock(&n->mu);
    /* The count of missed beats starts again: we were the one away. */
    for (size_t i = 0; i < n->nrnodes; i++)
        n->rnodes[i]->last_beat_ms = now;
    /* Connected only now: a liveness check that sees it connected sees the
     * reset beats too, not the ones from before the break (which would
     * lose every node when the break outlasted three beats). */
    atomic_store(&n->connected, 1);
    /* Sent before the connection broke: maybe lost, maybe their answers. */
    pending *pend = take_pending(n, pending_before, &epoch);
    size_t count = n->nrnodes;
    rnode **copy = count ? malloc(count * sizeof *copy) : NULL;
    if (copy != NULL)
        for (size_t i = 0; i < count; i++) {
            copy[i] = n->rnodes[i];
            atomic_fetch_add(&copy[i]->refs, 1);
        }
    pthread_mutex_unlock(&n->mu);
    cancel_pending(pend);
    if (copy != NULL) {
        for (size_t i = 0; i < count; i++) {
            node_send_check(n, copy[i]);
            rnode_unref(copy[i]);
        }
        free(copy);
    }
}

/* ---- lookup ---- */

static void nap_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* FOUND: 0 ver, 1 kind, 2 u8 keylen, 4 u32 interval, 8 u64 export id,
 *        16 u32 gen, 24 key */
static int ask(actor_node *n, const char *name, int timeout_ms, char *key, uint64_t *export_id,
               uint32_t *interval, uint32_t *gen)
{
    char subj[NODE_SUBJ_MAX];
    snprintf(subj, sizeof subj, "_ACTOR.lookup.%s", name);
    unsigned char req[4 + NODE_KEY_MAX];
    size_t klen = strlen(n->key);
    req[0] = NW_VERSION;
    req[1] = NW_LOOKUP;
    req[2] = (unsigned char)klen;
    req[3] = 0;
    memcpy(req + 4, n->key, klen);
    int64_t deadline = node_now_ms() + timeout_ms, nap = 5;
    for (;;) {
        int64_t left = deadline - node_now_ms();
        if (left <= 0)
            return ACTOR_ENOENT;
        if (node_closing(n))
            return ACTOR_ECLOSED;
        natsMsg *reply = NULL;
        natsStatus s = natsConnection_Request(&reply, n->nc, subj, req, (int)(4 + klen), left);
        if (s == NATS_OK) {
            const unsigned char *d = (const unsigned char *)natsMsg_GetData(reply);
            size_t len = (size_t)natsMsg_GetDataLength(reply);
            int rc = ACTOR_ENOENT;
            if (len >= 24 && d[0] == NW_VERSION && d[1] == NW_FOUND && d[2] < NODE_KEY_MAX &&
                (size_t)d[2] + 24 <= len) {
                memcpy(key, d + 24, d[2]);
                key[d[2]] = '\0';
                *interval = nw_get32(d + 4);
                *export_id = nw_get64(d + 8);
                *gen = nw_get32(d + 16);
                rc = ACTOR_OK;
            }
            natsMsg_Destroy(reply);
            if (rc == ACTOR_OK)
                return rc;
        } else if (s == NATS_TIMEOUT) {
            return ACTOR_ENOENT;
        } else if (s == NATS_CONNECTION_CLOSED) {
            return ACTOR_ECLOSED;
        } else if (s == NATS_NO_MEMORY) {
            return ACTOR_ENOMEM;
        }
        /* No responders (nobody exports it yet), or reconnecting: again. */
        left = deadline - node_now_ms();
        nap_ms(nap < left ? nap : left > 0 ? left : 0);
        if (nap < 100)
            nap *= 2;
    }
}

int node_lookup_remote(actor_node *n, const char *name, int timeout_ms, actor_addr **out)
{
    char key[NODE_KEY_MAX];
    uint64_t export_id;
    uint32_t interval, gen;
    int rc = ask(n, name, timeout_ms, key, &export_id, &interval, &gen);
    if (rc != ACTOR_OK)
        return rc;
    pthread_mutex_lock(&n->lookup_mu);
    pthread_mutex_lock(&n->mu);
    if (node_closing(n)) {
        pthread_mutex_unlock(&n->mu);
        pthread_mutex_unlock(&n->lookup_mu);
        return ACTOR_ECLOSED;
    }
    rnode *rn = find_rnode(n, key);
    if (rn != NULL) {
        proxy *px = find_proxy(n, rn, export_id);
        if (px != NULL && px->addr != NULL) {
            *out = addr_ref(px->addr);
            pthread_mutex_unlock(&n->mu);
            pthread_mutex_unlock(&n->lookup_mu);
            return ACTOR_OK;
        }
    } else {
        if (node_grow((void **)&n->rnodes, &n->caprnodes, sizeof *n->rnodes, n->nrnodes + 1) ||
            (rn = calloc(1, sizeof *rn)) == NULL) {
            pthread_mutex_unlock(&n->mu);
            pthread_mutex_unlock(&n->lookup_mu);
            return ACTOR_ENOMEM;
        }
        atomic_init(&rn->refs, 1); /* the list's */
        snprintf(rn->key, sizeof rn->key, "%s", key);
        snprintf(rn->msg_subj, sizeof rn->msg_subj, "_ACTOR.n.%s.m", key);
        snprintf(rn->ctl_subj, sizeof rn->ctl_subj, "_ACTOR.n.%s.c", key);
        rn->gen = gen;
        rn->interval_ms = interval >= 10 ? interval : 10;
        rn->last_beat_ms = node_now_ms(); /* its answer is as good as a beat */
        n->rnodes[n->nrnodes++] = rn;
    }
    atomic_fetch_add(&rn->refs, 1); /* the new proxy's */
    pthread_mutex_unlock(&n->mu);

    proxy *px = calloc(1, sizeof *px);
    if (px == NULL) {
        rnode_unref(rn);
        pthread_mutex_unlock(&n->lookup_mu);
        return ACTOR_ENOMEM;
    }
    atomic_init(&px->refs, 2); /* the table's and the actor's */
    node_ref(n);
    px->node = n;
    px->rn = rn;
    px->export_id = export_id;
    actor_addr *a;
    rc = actor_spawn(n->rt, n->proxy_cls, px, &a);
    if (rc != ACTOR_OK) {
        atomic_store(&px->refs, 1);
        proxy_unref(px);
        pthread_mutex_unlock(&n->lookup_mu);
        return rc;
    }
    pthread_mutex_lock(&n->mu);
    bool ok = !node_closing(n) && !rn->lost &&
              node_grow((void **)&n->proxies, &n->capproxies, sizeof *n->proxies,
                        n->nproxies + 1) == 0;
    int why = node_closing(n) || rn->lost ? ACTOR_ECLOSED : ACTOR_ENOMEM;
    if (ok) {
        px->addr = a;
        n->proxies[n->nproxies++] = px;
        *out = addr_ref(a);
    }
    pthread_mutex_unlock(&n->mu);
    pthread_mutex_unlock(&n->lookup_mu);
    if (!ok) {
        proxy_finish(px, a, ACTOR_NODE_LOST);
        return why;
    }
    return ACTOR_OK;
}

/* ---- close ---- */

void node_close_remote(actor_node *n)
{
    pthread_mutex_lock(&n->mu);
    pending *pend = take_pending(n, NULL, NULL);
    proxy **proxies = n->proxies;
    size_t nproxies = n->nproxies;
    rnode **rnodes = n->rnodes;
    size_t nrnodes = n->nrnodes;
    n->proxies = NULL;
    n->nproxies = n->capproxies = 0;
    n->rnodes = NULL;
    n->nrnodes = n->caprnodes = 0;
    for (size_t i = 0; i < nrnodes; i++)
        rnodes[i]->lost = true;
    pthread_mutex_unlock(&n->mu);
    cancel_pending(pend);
    for (size_t i = 0; i < nproxies; i++) {
        actor_addr *a = proxies[i]->addr;
        proxies[i]->addr = NULL;
        proxy_finish(proxies[i], a, ACTOR_NODE_LOST);
    }
    free(proxies);
    for (size_t i = 0; i < nrnodes; i++)
        rnode_unref(rnodes[i]);
    free(rnodes);
}
