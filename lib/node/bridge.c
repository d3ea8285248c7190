/* Bridges: a topic subject of the runtime joined with the NATS subject of
 * the same name.
 * - Out: a bridge actor (catch-all events) subscribes to the subject with
 *   actor_subscribe, so it gets a copy of every local actor_publish on it,
 *   and publishes that copy to NATS.
 * - In: a NATS subscription on the subject hands what other nodes publish
 *   to actor_publish here. The bridge actor gets that copy too: before
 *   publishing, the node counts it (by type and content) in the bridge's
 *   suppression table, and the bridge actor drops one counted copy instead
 *   of sending it back out. (If a local publish carries the very same type
 *   and bytes at that moment, which copy is dropped makes no difference:
 *   the same bytes go out once.) The connection has "no echo": our own
 *   publishes never come back. */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

static void bridge_unref(nbridge *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
        nmap_clear(&b->suppress);
        node_unref(b->node);
        free(b->subject);
        free(b);
    }
}

static int bridge_any_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    nbridge *b = state;
    actor_node *n = b->node;
    const actor_msgtype *t = actor_ctx_msgtype(ctx);
    uint64_t key = nw_content_key(t, payload, len);
    pthread_mutex_lock(&n->mu);
    uintptr_t c = (uintptr_t)nmap_get(&b->suppress, key);
    if (c == 1)
        nmap_del(&b->suppress, key);
    else if (c > 1)
        nmap_put(&b->suppress, key, (void *)(c - 1)); /* present: no allocation */
    pthread_mutex_unlock(&n->mu);
    if (c == 0)
        node_publish_typed(n, b->subject, NULL, NW_TOPIC, 0, -1, t, payload, len);
    return 0;
}

static void bridge_state_free(void *state) { bridge_unref(state); }

int bridge_class_make(actor_node *n)
{
    int rc = actor_class_new("actor_node.bridge", &n->bridge_cls);
    if (rc == ACTOR_OK)
        rc = actor_class_on_any_event(n->bridge_cls, bridge_any_event);
    if (rc == ACTOR_OK)
        rc = actor_class_set_state_free(n->bridge_cls, bridge_state_free);
    return rc;
}

static nbridge *find_bridge(actor_node *n, const char *subject)
{
    for (size_t i = 0; i < n->nbridges; i++)
        if (strcmp(n->bridges[i]->subject, subject) == 0)
            return n->bridges[i];
    return NULL;
}

static void suppress_undo(actor_node *n, const char *subject, uint64_t key)
{
    pthread_mutex_lock(&n->mu);
    nbridge *b = find_bridge(n, subject);
    if (b != NULL) {
        uintptr_t c = (uintptr_t)nmap_get(&b->suppress, key);
        if (c == 1)
            nmap_del(&b->suppress, key);
        else if (c > 1)
            nmap_put(&b->suppress, key, (void *)(c - 1));
    }
    pthread_mutex_unlock(&n->mu);
}

/* What another node published on a bridged subject (a subscription's thread). */
static void on_topic(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    actor_node *n = closure;
    nw_msg m;
    const actor_msgtype *t;
    const char *subject = natsMsg_GetSubject(msg);
    if (nw_typed_parse(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &m) != 0 ||
        m.kind != NW_TOPIC) {
        node_log(n, ACTOR_LOG_DEBUG, "%s: not a libactor message, dropped", subject);
        natsMsg_Destroy(msg);
        return;
    }
    int rc = nw_resolve_type(&m, &t);
    if (rc != ACTOR_OK) {
        node_log(n, ACTOR_LOG_WARN, "%s: event of type %.*s dropped: %s", subject,
                 (int)m.name_len, m.name, actor_strerror(rc));
        natsMsg_Destroy(msg);
        return;
    }
    uint64_t key = nw_content_key(t, m.payload, m.len);
    pthread_mutex_lock(&n->mu);
    nbridge *b = find_bridge(n, subject);
    bool counted = false;
    if (b != NULL) {
        uintptr_t c = (uintptr_t)nmap_get(&b->suppress, key);
        counted = nmap_put(&b->suppress, key, (void *)(c + 1)) == 0;
    }
    pthread_mutex_unlock(&n->mu);
    /* Without its count the copy would go back out: better lost (at most once). */
    if (counted) {
        rc = actor_publish(n->rt, subject, t, m.payload, m.len, NULL);
        if (rc != ACTOR_OK)
            suppress_undo(n, subject, key);
    }
    natsMsg_Destroy(msg);
}

int node_bridge(actor_node *n, const char *subject)
{
    /* actor_subscribe checks the syntax; wildcards and the reserved prefix
     * are refused here: a bridge is one subject. */
    if (strncmp(subject, "_ACTOR.", 7) == 0 || strcmp(subject, "_ACTOR") == 0)
        return ACTOR_EINVAL;
    for (const char *p = subject; *p; p++)
        if (*p == '*' || *p == '>')
            return ACTOR_EINVAL;
    nbridge *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ACTOR_ENOMEM;
    if ((b->subject = strdup(subject)) == NULL) {
        free(b);
        return ACTOR_ENOMEM;
    }
    atomic_init(&b->refs, 2); /* the list's and the actor's */
    node_ref(n);
    b->node = n;
    int rc = actor_spawn(n->rt, n->bridge_cls, b, &b->addr);
    if (rc != ACTOR_OK) {
        atomic_store(&b->refs, 1);
        bridge_unref(b);
        return rc;
    }
    rc = actor_subscribe(b->addr, subject);
    if (rc == ACTOR_OK) {
        pthread_mutex_lock(&n->mu);
        bool taken = find_bridge(n, subject) != NULL;
        pthread_mutex_unlock(&n->mu);
        if (taken)
            rc = ACTOR_EBUSY;
    }
    /* Subscribed before listed: until then what arrives finds no bridge
     * and is dropped (at most once). */
    if (rc == ACTOR_OK)
        rc = node_subscribe(n, subject, on_topic, n, &b->sub);
    if (rc == ACTOR_OK) {
        pthread_mutex_lock(&n->mu);
        if (node_closing(n))
            rc = ACTOR_ECLOSED;
        else if (find_bridge(n, subject) != NULL)
            rc = ACTOR_EBUSY;
        else if (node_grow((void **)&n->bridges, &n->capbridges, sizeof *n->bridges,
                           n->nbridges + 1) != 0)
            rc = ACTOR_ENOMEM;
        else
            n->bridges[n->nbridges++] = b;
        pthread_mutex_unlock(&n->mu);
        if (rc != ACTOR_OK) {
            natsSubscription_Unsubscribe(b->sub);
            natsSubscription_Destroy(b->sub);
            b->sub = NULL;
        }
    }
    if (rc != ACTOR_OK) {
        addr_interrupt(b->addr);
        addr_release(b->addr);
        bridge_unref(b); /* the list's */
        return rc;
    }
    /* The server has the subscription when this returns (not on a worker,
     * which must not wait for a round trip). */
    if (!node_on_worker(n))
        natsConnection_FlushTimeout(n->nc, 2000);
    return ACTOR_OK;
}

void node_close_bridges(actor_node *n)
{
    pthread_mutex_lock(&n->mu);
    nbridge **list = n->bridges;
    size_t count = n->nbridges;
    n->bridges = NULL;
    n->nbridges = n->capbridges = 0;
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < count; i++) {
        nbridge *b = list[i];
        if (b->sub != NULL)
            natsSubscription_Destroy(b->sub);
        addr_interrupt(b->addr);
        addr_release(b->addr);
        bridge_unref(b);
    }
    free(list);
}
