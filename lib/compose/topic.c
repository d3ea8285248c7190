/* Topics (ABI 1.1 part 4): publish/subscribe over NATS-style subjects.
 *
 * The subscriptions of a runtime live in a trie of subject tokens, as in
 * the NATS server's sublist: each node has its literal children (an
 * open-addressing table by token hash), a separate child for `*` and one
 * for `>`, and the subscriptions that end there. A publish walks the trie
 * once along its tokens: at each level it takes the `>` child's
 * subscriptions, recurses into the `*` child, and follows the literal
 * child; at the end it takes the node it reached. It visits only nodes
 * whose pattern prefix matches the subject, never the whole set.
 *
 * Locking: one reader-writer lock per runtime (writer-preferring, so a
 * stream of publishes cannot starve a subscribe). A publish takes it
 * shared, copies the matching subscribers into an array with a memory
 * reference each (actori_cell_ref: the cell cannot be freed under us),
 * releases it and only then sends: no user code (dead-letter hooks) and no
 * push runs under the lock. Subscribe, unsubscribe and the Done hook take
 * it exclusive and never call out either; the memory references they drop
 * are dropped after the unlock (the last one may free the cell, and with
 * it the runtime's memory and this very trie).
 *
 * Lifetime: every actor with subscriptions has a `subscriber` record that
 * holds one memory reference (never a counted address: a subscription does
 * not keep its actor alive). The record goes with the actor's last
 * subscription, or at its Done through the core's parts slot
 * (ACTORI_PART_TOPICS), which runs just before Done: a joiner that returns
 * finds the subscriptions gone. Subscribe marks the actor after inserting;
 * the mark and the core's close are RMWs (acq_rel) on the same byte, so
 * one comes first. Mark first: the close reads our bit and, through the
 * RMW chain, everything before it, our insert included; its Done hook
 * (which takes the lock after our unlock) removes it. Close first: mark
 * says so and we remove it ourselves (ACTOR_ECLOSED). Removal is
 * idempotent, as the Done hook may also find nothing left.
 *
 * The trie itself is made at the first subscribe on a runtime and hangs on
 * the runtime (actor_runtime.topics); the core frees it with the runtime's
 * memory, when no address (and hence no subscription) is left. */
#include "alloc.h"
#include "cell.h"
#include "runtime.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_MAX 4096 /* bytes */
#define TOKENS_MAX 256

enum { K_LIT, K_PWC, K_FWC };

typedef struct token {
    uint16_t off, len;
    uint32_t hash;
    uint8_t kind;
} token;

typedef struct tnode tnode;
typedef struct tsub tsub;
typedef struct subscriber subscriber;

/* A node's subscription: the actor (read by publishes) and its record. */
typedef struct slot {
    actor_addr *a;
    tsub *s;
} slot;

struct tnode {
    tnode *parent;
    tnode **kids;        /* literal children by hash (linear probing), or NULL */
    uint32_t kmask, nkids;
    tnode *pwc, *fwc;    /* the `*` and `>` children                           */
    slot *subs;          /* the subscriptions whose subject ends here          */
    uint32_t nsubs, cap;
    uint32_t hash;       /* of the token (literal children)                    */
    uint16_t len;
    uint8_t kind;        /* K_*: how the parent holds it                       */
    char tok[];          /* the token (literal children), not terminated       */
};

/* One subscription: an actor on a node. */
struct tsub {
    tnode *node;
    uint32_t idx;        /* its slot in node->subs */
    subscriber *owner;
    tsub *next, *prev;   /* the owner's subscriptions */
};

/* An actor with subscriptions; holds one memory reference to it. */
struct subscriber {
    actor_addr *a;
    tsub *first;
    uint32_t n;
};

typedef struct topics {
    actori_rt_part part; /* first: the runtime frees it through part.destroy */
    pthread_rwlock_t lock;
    tnode *root;
    subscriber **amap;   /* by actor (linear probing), or NULL */
    uint32_t amask, acount;
} topics;

/* ---- subjects ---- */

/* [A-Za-z0-9_:-] as a bitmap of the 256 byte values. */
static const uint64_t tok_chars[4] = {0x07FF200000000000ull, 0x07FFFFFE87FFFFFEull, 0, 0};

static inline bool tok_char(unsigned char c) { return (tok_chars[c >> 6] >> (c & 63)) & 1; }

/* Splits s into tokens, one pass, hashing the literal ones (FNV-1a);
 * wildcards only when `wild`. Reads no further than SUBJECT_MAX + 1 bytes
 * nor past the TOKENS_MAX-th token: a huge subject is refused cheaply.
 * Returns ACTOR_OK and *ntok, or ACTOR_EINVAL. */
static int parse(const char *s, bool wild, token *tk, unsigned *ntok)
{
    unsigned n = 0;
    size_t start = 0;
    uint32_t h = 2166136261u;
    bool plain = true; /* the token so far is of tok_char */
    for (size_t i = 0;; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '.' && c != '\0') {
            if (i >= SUBJECT_MAX)
                return ACTOR_EINVAL;
            plain &= tok_char(c);
            h = (h ^ c) * 16777619u;
            continue;
        }
        size_t tl = i - start;
        if (tl == 0 || n == TOKENS_MAX)
            return ACTOR_EINVAL;
        token *k = &tk[n++];
        k->off = (uint16_t)start;
        k->len = (uint16_t)tl;
        k->hash = h;
        k->kind = K_LIT;
        if (tl == 1 && (s[start] == '*' || s[start] == '>')) {
            if (!wild || (s[start] == '>' && c != '\0'))
                return ACTOR_EINVAL;
            k->kind = s[start] == '*' ? K_PWC : K_FWC;
        } else if (!plain) {
            return ACTOR_EINVAL;
        }
        if (c == '\0')
            break;
        start = i + 1;
        h = 2166136261u;
        plain = true;
    }
    *ntok = n;
    return ACTOR_OK;
}

/* ---- trie nodes ---- */

static tnode *node_new(tnode *parent, uint8_t kind, const char *tok, uint16_t len, uint32_t hash)
{
    tnode *n = actori_calloc(1, sizeof *n + len);
    if (n == NULL)
        return NULL;
    n->parent = parent;
    n->kind = kind;
    n->len = len;
    n->hash = hash;
    if (len > 0)
        memcpy(n->tok, tok, len);
    return n;
}

static tnode *kid_find(const tnode *n, const char *tok, uint16_t len, uint32_t hash)
{
    if (n->kids == NULL)
        return NULL;
    for (uint32_t i = hash & n->kmask;; i = (i + 1) & n->kmask) {
        tnode *k = n->kids[i];
        if (k == NULL)
            return NULL; /* at most half full: a probe ends */
        if (k->hash == hash && k->len == len) {
            uint16_t j = 0; /* tokens are short: no call */
            while (j < len && k->tok[j] == tok[j])
                j++;
            if (j == len)
                return k;
        }
    }
}

static void kid_place(tnode **kids, uint32_t mask, tnode *k)
{
    uint32_t i = k->hash & mask;
    while (kids[i] != NULL)
        i = (i + 1) & mask;
    kids[i] = k;
}

/* Adds k (not present) to n's literal children. ACTOR_OK or ACTOR_ENOMEM. */
static int kid_add(tnode *n, tnode *k)
{
    if (n->kids == NULL || (n->nkids + 1) * 2 > n->kmask + 1) {
        uint32_t size = n->kids == NULL ? 4 : (n->kmask + 1) * 2;
        tnode **kids = actori_calloc(size, sizeof *kids);
        if (kids == NULL)
            return ACTOR_ENOMEM;
        if (n->kids != NULL)
            for (uint32_t i = 0; i <= n->kmask; i++)
                if (n->kids[i] != NULL)
                    kid_place(kids, size - 1, n->kids[i]);
        actori_free(n->kids);
        n->kids = kids;
        n->kmask = size - 1;
    }
    kid_place(n->kids, n->kmask, k);
    n->nkids++;
    return ACTOR_OK;
}

/* Removes k from n's literal children (backward-shift deletion). */
static void kid_remove(tnode *n, tnode *k)
{
    uint32_t mask = n->kmask, i = k->hash & mask;
    while (n->kids[i] != k)
        i = (i + 1) & mask;
    n->kids[i] = NULL;
    for (uint32_t j = (i + 1) & mask; n->kids[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = n->kids[j]->hash & mask;
        /* kids[j] may move to the hole at i if its home is not in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            n->kids[i] = n->kids[j];
            n->kids[j] = NULL;
            i = j;
        }
    }
    if (--n->nkids == 0) {
        actori_free(n->kids);
        n->kids = NULL;
        n->kmask = 0;
    }
}

static bool node_unused(const tnode *n)
{
    return n->nsubs == 0 && n->nkids == 0 && n->pwc == NULL && n->fwc == NULL;
}

/* Frees n and the ancestors that hold nothing any more (never the root). */
static void prune(tnode *n)
{
    while (n->parent != NULL && node_unused(n)) {
        tnode *p = n->parent;
        if (n->kind == K_PWC)
            p->pwc = NULL;
        else if (n->kind == K_FWC)
            p->fwc = NULL;
        else
            kid_remove(p, n);
        actori_free(n->subs);
        actori_free(n);
        n = p;
    }
}

/* The node of the subject's tokens, made if `make` (NULL if absent, or on
 * ENOMEM with *oom set; the nodes made on the way are pruned again). */
static tnode *node_walk(topics *tp, const char *s, const token *tk, unsigned ntok, bool make,
                        bool *oom)
{
    tnode *n = tp->root;
    for (unsigned i = 0; i < ntok; i++) {
        const token *k = &tk[i];
        tnode **wild = k->kind == K_PWC ? &n->pwc : k->kind == K_FWC ? &n->fwc : NULL;
        tnode *next = wild != NULL ? *wild : kid_find(n, s + k->off, k->len, k->hash);
        if (next == NULL) {
            if (!make)
                return NULL;
            next = node_new(n, k->kind, s + k->off, wild != NULL ? 0 : k->len, k->hash);
            if (next != NULL && wild == NULL && kid_add(n, next) != ACTOR_OK) {
                actori_free(next);
                next = NULL;
            }
            if (next == NULL) {
                *oom = true;
                prune(n);
                return NULL;
            }
            if (wild != NULL)
                *wild = next;
        }
        n = next;
    }
    return n;
}

static int slot_add(tnode *n, actor_addr *a, tsub *s)
{
    if (n->nsubs == n->cap) {
        uint32_t cap = n->cap == 0 ? 4 : n->cap * 2;
        slot *v = actori_realloc(n->subs, (size_t)cap * sizeof *v);
        if (v == NULL)
            return ACTOR_ENOMEM;
        n->subs = v;
        n->cap = cap;
    }
    s->node = n;
    s->idx = n->nsubs;
    n->subs[n->nsubs++] = (slot){a, s};
    return ACTOR_OK;
}

static void slot_remove(tsub *s)
{
    tnode *n = s->node;
    uint32_t last = --n->nsubs;
    if (s->idx != last) {
        n->subs[s->idx] = n->subs[last];
        n->subs[s->idx].s->idx = s->idx;
    }
    if (n->nsubs == 0) {
        actori_free(n->subs);
        n->subs = NULL;
        n->cap = 0;
    } else if (n->cap > 16 && n->nsubs < n->cap / 4) {
        slot *v = actori_realloc(n->subs, (size_t)(n->cap / 2) * sizeof *v);
        if (v != NULL) { /* else it stays larger: harmless */
            n->subs = v;
            n->cap /= 2;
        }
    }
}

/* ---- subscribers by actor ---- */

static inline uint32_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static subscriber *sub_find(const topics *tp, const actor_addr *a)
{
    if (tp->amap == NULL)
        return NULL;
    for (uint32_t i = ptr_hash(a) & tp->amask;; i = (i + 1) & tp->amask) {
        subscriber *s = tp->amap[i];
        if (s == NULL || s->a == a)
            return s;
    }
}

static void sub_place(subscriber **map, uint32_t mask, subscriber *s)
{
    uint32_t i = ptr_hash(s->a) & mask;
    while (map[i] != NULL)
        i = (i + 1) & mask;
    map[i] = s;
}

static int sub_add(topics *tp, subscriber *s)
{
    if (tp->amap == NULL || (tp->acount + 1) * 2 > tp->amask + 1) {
        uint32_t size = tp->amap == NULL ? 16 : (tp->amask + 1) * 2;
        subscriber **map = actori_calloc(size, sizeof *map);
        if (map == NULL)
            return ACTOR_ENOMEM;
        if (tp->amap != NULL)
            for (uint32_t i = 0; i <= tp->amask; i++)
                if (tp->amap[i] != NULL)
                    sub_place(map, size - 1, tp->amap[i]);
        actori_free(tp->amap);
        tp->amap = map;
        tp->amask = size - 1;
    }
    sub_place(tp->amap, tp->amask, s);
    tp->acount++;
    return ACTOR_OK;
}

static void sub_remove(topics *tp, subscriber *s)
{
    uint32_t mask = tp->amask, i = ptr_hash(s->a) & mask;
    while (tp->amap[i] != s)
        i = (i + 1) & mask;
    tp->amap[i] = NULL;
    for (uint32_t j = (i + 1) & mask; tp->amap[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = ptr_hash(tp->amap[j]->a) & mask;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            tp->amap[i] = tp->amap[j];
            tp->amap[j] = NULL;
            i = j;
        }
    }
    if (--tp->acount == 0) {
        actori_free(tp->amap);
        tp->amap = NULL;
        tp->amask = 0;
    }
}

/* s's subscription on node n, or NULL: looks through the shorter of the
 * two lists. */
static tsub *tsub_find(const subscriber *s, const tnode *n)
{
    if (s->n <= n->nsubs) {
        for (tsub *t = s->first; t != NULL; t = t->next)
            if (t->node == n)
                return t;
        return NULL;
    }
    for (uint32_t i = 0; i < n->nsubs; i++)
        if (n->subs[i].s->owner == s)
            return n->subs[i].s;
    return NULL;
}

/* Takes t off its node and its owner (pruning the node); frees t. Returns
 * true when that was the owner's last subscription: the owner is gone too
 * and the caller drops its memory reference after the unlock. */
static bool tsub_remove(topics *tp, tsub *t)
{
    subscriber *s = t->owner;
    slot_remove(t);
    prune(t->node);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        s->first = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    actori_free(t);
    if (--s->n > 0)
        return false;
    sub_remove(tp, s);
    actori_free(s);
    return true;
}

/* ---- the runtime's topics ---- */

static void free_tree(tnode *n)
{
    if (n->kids != NULL)
        for (uint32_t i = 0; i <= n->kmask; i++)
            if (n->kids[i] != NULL)
                free_tree(n->kids[i]);
    if (n->pwc != NULL)
        free_tree(n->pwc);
    if (n->fwc != NULL)
        free_tree(n->fwc);
    actori_free(n->kids);
    actori_free(n->subs);
    actori_free(n);
}

/* With the runtime's memory: no address is left, so no subscription is
 * (each holds its actor's memory, which holds the runtime's). */
static void topics_destroy(actori_rt_part *p)
{
    topics *tp = (topics *)p;
    free_tree(tp->root);
    actori_free(tp->amap); /* empty (and NULL) by the above */
    pthread_rwlock_destroy(&tp->lock);
    actori_free(tp);
}

/* Removes every subscription of a (idempotent): a ends. */
static void remove_all(topics *tp, actor_addr *a)
{
    bool gone = false;
    pthread_rwlock_wrlock(&tp->lock);
    subscriber *s = sub_find(tp, a);
    while (s != NULL && !gone)
        gone = tsub_remove(tp, s->first);
    pthread_rwlock_unlock(&tp->lock);
    if (gone)
        actori_cell_unref(a);
}

/* The core's call for a marked actor that ends, just before it is Done
 * (on the thread finishing it). */
static void topics_done(actor_addr *a)
{
    topics *tp = (topics *)atomic_load_explicit(&a->home->topics, memory_order_acquire);
    if (tp != NULL)
        remove_all(tp, a);
}

static topics *topics_of(actor_runtime *rt, bool make)
{
    actori_rt_part *p = atomic_load_explicit(&rt->topics, memory_order_acquire);
    if (p != NULL || !make)
        return (topics *)p;
    topics *tp = actori_calloc(1, sizeof *tp);
    if (tp == NULL)
        return NULL;
    tp->root = node_new(NULL, K_LIT, NULL, 0, 0);
    pthread_rwlockattr_t attr;
    if (tp->root == NULL || pthread_rwlockattr_init(&attr) != 0) {
        actori_free(tp->root);
        actori_free(tp);
        return NULL;
    }
    /* Writer-preferring: publishes (readers) never recurse into the lock. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&tp->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        actori_free(tp->root);
        actori_free(tp);
        return NULL;
    }
    tp->part.destroy = topics_destroy;
    /* Before any actor is marked (the mark publishes it to the core). */
    actori_part_register(ACTORI_PART_TOPICS, topics_done);
    /* acq_rel: publish the made trie; on a lost race, see the winner's. */
    if (!atomic_compare_exchange_strong_explicit(&rt->topics, &p, &tp->part,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        topics_destroy(&tp->part);
        return (topics *)p;
    }
    return tp;
}

/* ---- the ABI ---- */

int actor_subscribe(actor_addr *a, const char *subject)
{
    token tk[TOKENS_MAX];
    unsigned ntok;
    if (a == NULL || subject == NULL || parse(subject, true, tk, &ntok) != ACTOR_OK)
        return ACTOR_EINVAL;
    if (actori_cell_open(a) != ACTOR_OK)
        return ACTOR_ECLOSED;
    topics *tp = topics_of(a->home, true);
    if (tp == NULL)
        return ACTOR_ENOMEM;

    tsub *t = actori_calloc(1, sizeof *t);
    subscriber *fresh = NULL;
    if (t == NULL)
        return ACTOR_ENOMEM;
    int rc = ACTOR_OK;
    bool oom = false;
    pthread_rwlock_wrlock(&tp->lock);
    tnode *n = node_walk(tp, subject, tk, ntok, true, &oom);
    subscriber *s = n != NULL ? sub_find(tp, a) : NULL;
    if (n == NULL) {
        rc = ACTOR_ENOMEM;
    } else if (s != NULL && tsub_find(s, n) != NULL) {
        rc = ACTOR_EBUSY;
    } else {
        if (s == NULL) {
            s = fresh = actori_calloc(1, sizeof *s);
            if (s != NULL) {
                s->a = a;
                if (sub_add(tp, s) != ACTOR_OK) {
                    actori_free(s);
                    s = fresh = NULL;
                }
            }
        }
        if (s == NULL || slot_add(n, a, t) != ACTOR_OK) {
            if (fresh != NULL) {
                sub_remove(tp, fresh);
                actori_free(fresh);
                fresh = NULL;
            }
            rc = ACTOR_ENOMEM;
        } else {
            t->owner = s;
            t->next = s->first;
            if (s->first != NULL)
                s->first->prev = t;
            s->first = t;
            s->n++;
            if (fresh != NULL)
                actori_cell_ref(a); /* the record's: memory only */
            t = NULL;
        }
    }
    if (rc != ACTOR_OK && n != NULL)
        prune(n);
    pthread_rwlock_unlock(&tp->lock);
    if (rc != ACTOR_OK) {
        actori_free(t);
        return rc;
    }
    /* Then look at Done (see the top of the file): a Done actor keeps no
     * subscription, whoever removes it. */
    if (!actori_part_mark(a, ACTORI_PART_TOPICS)) {
        remove_all(tp, a);
        return ACTOR_ECLOSED;
    }
    return ACTOR_OK;
}

int actor_unsubscribe(actor_addr *a, const char *subject)
{
    token tk[TOKENS_MAX];
    unsigned ntok;
    if (a == NULL || subject == NULL || parse(subject, true, tk, &ntok) != ACTOR_OK)
        return ACTOR_EINVAL;
    if (ACTORI_INHERITED(a))
        return ACTOR_ECLOSED;
    topics *tp = topics_of(a->home, false);
    if (tp == NULL)
        return ACTOR_ENOENT;
    if (addr_is_done(a))
        return ACTOR_ENOENT; /* its subscriptions went before it was Done */
    bool oom = false, gone = false;
    int rc = ACTOR_ENOENT;
    pthread_rwlock_wrlock(&tp->lock);
    tnode *n = node_walk(tp, subject, tk, ntok, false, &oom);
    subscriber *s = n != NULL ? sub_find(tp, a) : NULL;
    tsub *t = s != NULL ? tsub_find(s, n) : NULL;
    if (t != NULL) {
        gone = tsub_remove(tp, t);
        rc = ACTOR_OK;
    }
    pthread_rwlock_unlock(&tp->lock);
    if (gone)
        actori_cell_unref(a);
    return rc;
}

/* The matching subscribers of one publish, each with a memory reference
 * taken under the lock. Dropping one there (a duplicate, or on ENOMEM) is
 * never the last: the subscriber record holds one until a writer removes
 * it, which our read lock keeps out. */
typedef struct collect {
    slot *v;
    size_t n, cap;
    slot *own;         /* the caller's stack array (not freed) */
    unsigned nodes;    /* nodes that contributed */
    bool oom;
    const actor_msgtype *t;
    const actor_class *cls; /* the last class looked at, and whether it */
    bool cls_ok;            /* has an event handler for t               */
} collect;

static void take(collect *c, const tnode *n)
{
    if (n->nsubs == 0 || c->oom)
        return;
    if (c->n + n->nsubs > c->cap) {
        size_t cap = c->cap * 2;
        while (cap < c->n + n->nsubs)
            cap *= 2;
        slot *v = c->v == c->own ? actori_malloc(cap * sizeof *v)
                                 : actori_realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            c->oom = true;
            return;
        }
        if (c->v == c->own)
            memcpy(v, c->own, c->n * sizeof *v);
        c->v = v;
        c->cap = cap;
    }
    size_t before = c->n;
    for (uint32_t i = 0; i < n->nsubs; i++) {
        actor_addr *a = n->subs[i].a;
        /* Classes are read-only once in use (subscribers of one subject
         * often share one). A Done actor is no subscriber any more, not
         * even for the dead-letter hook: its subscription is one that lost
         * the race with its end, on its way out (relaxed: a hint). */
        if (a->cls != c->cls) {
            c->cls = a->cls;
            c->cls_ok = actori_event_handler(a->cls, c->t) != NULL;
        }
        if (!c->cls_ok ||
            (atomic_load_explicit(&a->status, memory_order_relaxed) & ACTORI_S_DONE))
            continue;
        actori_cell_ref(a); /* memory only: it may stop meanwhile */
        c->v[c->n++] = n->subs[i];
    }
    if (c->n > before)
        c->nodes++;
}

/* NATS's matchLevel: `>` takes the rest (one token or more), `*` one. */
static void match(collect *c, const tnode *n, const char *s, const token *tk, unsigned i,
                  unsigned ntok)
{
    for (; i < ntok; i++) {
        if (n->fwc != NULL)
            take(c, n->fwc);
        if (n->pwc != NULL)
            match(c, n->pwc, s, tk, i + 1, ntok);
        n = kid_find(n, s + tk[i].off, tk[i].len, tk[i].hash);
        if (n == NULL)
            return;
    }
    take(c, n);
}

static int by_actor(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)((const slot *)x)->a, b = (uintptr_t)((const slot *)y)->a;
    return a < b ? -1 : a > b;
}

/* Each actor once: only an actor with more than one subscription can be
 * there twice, so only those are compared (pairwise when few, else
 * sorted). Under the lock (s->owner->n); drops the duplicates' references. */
static void dedupe(collect *c)
{
    size_t multi = c->n; /* [multi, n): actors with more than one subscription */
    for (size_t i = 0; i < multi;) {
        if (c->v[i].s->owner->n > 1) {
            slot tmp = c->v[i];
            c->v[i] = c->v[--multi];
            c->v[multi] = tmp;
        } else {
            i++;
        }
    }
    size_t nm = c->n - multi, w = multi;
    if (nm < 2)
        return;
    if (nm <= 32) {
        for (size_t i = multi; i < c->n; i++) {
            size_t k = multi;
            while (k < w && c->v[k].a != c->v[i].a)
                k++;
            if (k < w)
                actori_cell_unref(c->v[i].a);
            else
                c->v[w++] = c->v[i];
        }
    } else {
        qsort(c->v + multi, nm, sizeof *c->v, by_actor);
        w = multi + 1;
        for (size_t i = multi + 1; i < c->n; i++) {
            if (c->v[i].a != c->v[w - 1].a)
                c->v[w++] = c->v[i];
            else
                actori_cell_unref(c->v[i].a);
        }
    }
    c->n = w;
}

int actor_publish(actor_runtime *rt, const char *subject, const actor_msgtype *t,
                  const void *payload, size_t len, size_t *delivered)
{
    token tk[TOKENS_MAX];
    unsigned ntok;
    if (rt == NULL || subject == NULL || t == NULL || (payload == NULL && len > 0) ||
        parse(subject, false, tk, &ntok) != ACTOR_OK)
        return ACTOR_EINVAL;
    if (!actori_msgtype_fits(t, len))
        return ACTOR_ETYPE;
    if (atomic_load_explicit(&rt->closing, memory_order_acquire) || ACTORI_INHERITED(rt))
        return ACTOR_ECLOSED;
    topics *tp = topics_of(rt, false);
    if (tp == NULL) {
        if (delivered != NULL)
            *delivered = 0;
        return ACTOR_OK;
    }

    slot stack[64];
    collect c = {stack, 0, 64, stack, 0, false, t, NULL, false};
    pthread_rwlock_rdlock(&tp->lock);
    match(&c, tp->root, subject, tk, 0, ntok);
    if (c.oom) {
        for (size_t i = 0; i < c.n; i++)
            actori_cell_unref(c.v[i].a);
    } else if (c.nodes > 1) {
        dedupe(&c);
    }
    pthread_rwlock_unlock(&tp->lock);
    if (c.oom) {
        if (c.v != stack)
            actori_free(c.v);
        return ACTOR_ENOMEM;
    }
    /* In this thread's order: each subscriber gets one publisher's events
     * in the order published. A refusal (full, stopping, no memory for the
     * copy) is not a delivery. */
    size_t n = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (actori_send_event(c.v[i].a, t, payload, len) == ACTOR_OK)
            n++;
        actori_cell_unref(c.v[i].a);
    }
    if (c.v != stack)
        actori_free(c.v);
    if (delivered != NULL)
        *delivered = n;
    return ACTOR_OK;
}
