/* Pools: one address for a set of member actors of one class, routing
 * what is sent to it — round robin, least queued, by a hash of payload
 * bytes, or to all.
 *
 * A pool is a supervisor (lib/failure) of an internal routing class: its
 * members are its children, restarted in place when they fail (so nothing
 * sent meanwhile is refused), stopped last-first when the pool stops, and
 * the pool stops by itself once every member is Done (after an interrupt).
 * Sends to the pool never enter its own mailbox: the core hands them here
 * (cls->routes), and each goes straight to one member's mailbox. Members
 * are pinned to workers in turn, so the load is spread and stays spread. */
#include "alloc.h"
#include "cell.h"
#include "runtime.h"
#include "sup.h"

#include <pthread.h>
#include <string.h>

typedef struct actori_pool {
    int route;
    size_t key_offset, key_len;
    unsigned n;
    actor_addr **members;  /* memory references; the addresses never change */
    _Atomic unsigned next; /* round robin; least-queued's starting point */
} actori_pool;

static actor_class *pool_class;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static const actori_route_ops pool_ops;

static void make_class(void)
{
    if (actor_class_new("libactor.pool", &pool_class) == ACTOR_OK)
        pool_class->routes = 1;
    else
        pool_class = NULL;
    actori_route_ops_register(&pool_ops);
}

static actori_pool *pool_of(const actor_addr *a)
{
    return (actori_pool *)actori_cell_fail_if(a)->route;
}

/* FNV-1a over the key bytes: the same key, the same member. */
static uint32_t key_hash(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n-- > 0)
        h = (h ^ *p++) * 16777619u;
    return h;
}

/* The member for one message, or NULL and *rc. */
static actor_addr *pick(actor_addr *pool, const void *payload, size_t len, int *rc)
{
    actori_pool *p = pool_of(pool);
    switch (p->route) {
    case ACTOR_ROUTE_HASH:
        if (payload == NULL || p->key_offset > len || p->key_len > len - p->key_offset) {
            *rc = ACTOR_EINVAL; /* the key does not fit this payload */
            return NULL;
        }
        return p->members[key_hash((const unsigned char *)payload + p->key_offset, p->key_len) %
                          p->n];
    case ACTOR_ROUTE_LEAST_QUEUED: {
        /* Start where the last pick started, so that ties rotate. */
        unsigned start = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        actor_addr *best = NULL;
        uint32_t best_q = UINT32_MAX;
        for (unsigned i = 0; i < p->n; i++) {
            actor_addr *m = p->members[(start + i) % p->n];
            uint32_t q = atomic_load_explicit(&m->queued, memory_order_relaxed);
            if (q < best_q) {
                best = m;
                best_q = q;
            }
        }
        return best;
    }
    default:
        return p->members[atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed) % p->n];
    }
}

static int pool_open(actor_addr *pool) { return actori_cell_open(pool); }

static int route_send(actor_addr *pool, const actor_msgtype *t, const void *payload, size_t len,
                      int mode)
{
    int rc = pool_open(pool);
    if (rc != ACTOR_OK)
        return rc;
    actori_pool *p = pool_of(pool);
    if (p->route == ACTOR_ROUTE_BROADCAST) {
        int first = ACTOR_OK;
        for (unsigned i = 0; i < p->n; i++) {
            rc = actori_send(p->members[i], t, payload, len, mode);
            if (rc != ACTOR_OK && first == ACTOR_OK)
                first = rc; /* the others still get it */
        }
        return first;
    }
    actor_addr *m = pick(pool, payload, len, &rc);
    return m != NULL ? actori_send(m, t, payload, len, mode) : rc;
}

static int route_interact(actor_addr *pool, const actor_msgtype *t, const void *payload,
                          size_t len, int timeout_ms, actor_responder **out)
{
    int rc = pool_open(pool);
    if (rc != ACTOR_OK)
        return rc;
    if (pool_of(pool)->route == ACTOR_ROUTE_BROADCAST)
        return ACTOR_EINVAL; /* one request, many answers: no */
    actor_addr *m = pick(pool, payload, len, &rc);
    return m != NULL ? actori_interact(m, t, payload, len, timeout_ms, out) : rc;
}

static int route_send_wait(actor_addr *pool, const actor_msgtype *t, const void *payload,
                           size_t len, int timeout_ms)
{
    int rc = pool_open(pool);
    if (rc != ACTOR_OK)
        return rc;
    actori_pool *p = pool_of(pool);
    if (p->route == ACTOR_ROUTE_BROADCAST) {
        for (unsigned i = 0; i < p->n; i++)
            if ((rc = addr_send_wait(p->members[i], t, payload, len, timeout_ms)) != ACTOR_OK)
                return rc; /* the members before it got it */
        return ACTOR_OK;
    }
    actor_addr *m = pick(pool, payload, len, &rc);
    return m != NULL ? addr_send_wait(m, t, payload, len, timeout_ms) : rc;
}

static int route_interrupt(actor_addr *pool)
{
    int rc = pool_open(pool);
    if (rc != ACTOR_OK)
        return rc;
    actori_pool *p = pool_of(pool);
    for (unsigned i = 0; i < p->n; i++)
        addr_interrupt(p->members[i]); /* ECLOSED for one Done already: fine */
    return ACTOR_OK;
}

static int route_stats(const actor_addr *pool, actor_stats *out)
{
    actori_pool *p = pool_of(pool);
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < p->n; i++) {
        actor_stats s;
        actori_cell_stats(p->members[i], &s);
        out->received += s.received;
        out->handled += s.handled;
        out->dropped += s.dropped;
        out->rejected += s.rejected;
        out->expired += s.expired;
        out->queued += s.queued;
        out->queued_peak += s.queued_peak;
        out->restarts += s.restarts;
        out->canceled += s.canceled;
    }
    return ACTOR_OK;
}

static void route_free(void *route)
{
    actori_pool *p = route;
    for (unsigned i = 0; i < p->n; i++)
        if (p->members[i] != NULL)
            actori_cell_unref(p->members[i]);
    actori_free(p->members);
    actori_free(p);
}

static const actori_route_ops pool_ops = {
    .send = route_send,
    .interact = route_interact,
    .send_wait = route_send_wait,
    .interrupt = route_interrupt,
    .stats = route_stats,
    .free = route_free,
};

typedef struct pin_arg {
    actor_runtime *rt;
    unsigned index;
} pin_arg;

/* Before a member first runs: its worker, in turn, for good. */
static void pin_member(actor_addr *a, void *arg)
{
    pin_arg *pin = arg;
    a->worker = &pin->rt->workers[pin->index % pin->rt->nworkers];
    a->pinned = 1;
    a->counted = 1; /* least-queued reads its count */
}

int actor_pool_spawn(actor_runtime *rt, const actor_pool_spec *spec, actor_addr **out)
{
    if (rt == NULL || spec == NULL || out == NULL || spec->size < sizeof(actor_pool_spec) ||
        spec->cls == NULL || spec->route < ACTOR_ROUTE_ROUND_ROBIN ||
        spec->route > ACTOR_ROUTE_BROADCAST || spec->members > ACTOR_POOL_MAX_MEMBERS ||
        (spec->route == ACTOR_ROUTE_HASH && spec->key_len == 0) ||
        (spec->cls->state_size == 0 && spec->cls->state_free != NULL))
        return ACTOR_EINVAL;
    unsigned n = spec->members;
    if (n == 0) {
        if (rt->manual)
            return ACTOR_EINVAL; /* one per worker thread: a manual runtime has none */
        n = rt->nworkers;
    }
    pthread_once(&pool_once, make_class);
    if (pool_class == NULL)
        return ACTOR_ENOMEM;
    actori_pool *p = actori_calloc(1, sizeof *p);
    if (p != NULL && (p->members = actori_calloc(n, sizeof *p->members)) == NULL) {
        actori_free(p);
        p = NULL;
    }
    if (p == NULL)
        return ACTOR_ENOMEM;
    p->route = spec->route;
    p->key_offset = spec->key_offset;
    p->key_len = spec->key_len;
    p->n = n;
    atomic_init(&p->next, 0);

    actor_supervisor_spec sup = {sizeof sup, ACTOR_ONE_FOR_ONE, 1, 1000, 0, 0};
    actor_addr *pool;
    int rc = actori_sup_spawn(rt, &sup, pool_class, &pool);
    if (rc != ACTOR_OK) {
        route_free(p);
        return rc;
    }
    /* Nobody else has its address yet: no send reaches it before this. */
    actori_cell_fail_if(pool)->route = p;
    for (unsigned i = 0; i < n && rc == ACTOR_OK; i++) {
        pin_arg pin = {rt, i};
        actor_addr *m;
        rc = actori_sup_start(pool, spec->cls, ACTOR_TRANSIENT, pin_member, &pin, &m);
        if (rc == ACTOR_OK) {
            actori_cell_ref(m); /* the pool's memory reference; the supervisor */
            addr_release(m);    /* holds the counted address */
            p->members[i] = m;
        }
    }
    if (rc != ACTOR_OK) {
        /* Members never see a message; the pool's end stops them. */
        p->n = 0;
        for (unsigned i = 0; i < n; i++)
            if (p->members[i] != NULL)
                p->n = i + 1;
        addr_release(pool);
        return rc;
    }
    *out = pool;
    return ACTOR_OK;
}
