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
 * shared; no user code runs under it (so no publish, subscribe or
 * unsubscribe can recurse into it). When the runtime has no dead-letter
 * hook, a publish sends under the lock itself: no reference is taken per
 * subscriber, and a send can call no user code (see below why it cannot
 * drain a Done mailbox either). With a hook, or for a subscriber that
 * routes (a pool), it copies the subscriber with a memory reference
 * (actori_cell_ref: the cell cannot be freed under us), and sends after
 * the unlock. Subscribe, unsubscribe and the Done hook take it exclusive
 * and never call out; the memory references they drop are dropped after
 * the unlock (the last one may free the cell, and with it the runtime's
 * memory and this very trie).
 *
 * Lifetime: every actor with subscriptions has a `subscriber` record that
 * holds one memory reference (never a counted address: a subscription does
 * not keep its actor alive). The record goes with the actor's last
 * subscription, or at its Done through the core's parts slot
 * (ACTORI_PART_TOPICS), which runs just before Done: a joiner that returns
 * finds the subscriptions gone. Subscribe marks the actor under the write
 * lock, before inserting; the mark and the core's close are RMWs (acq_rel)
 * on the same byte, so one comes first. Mark first: the close sees our
 * bit, and its Done hook takes the lock after our unlock and removes the
 * insert. Close first: mark says so and nothing is inserted
 * (ACTOR_ECLOSED). So an actor in the trie is not Done, and cannot become
 * Done while anyone holds the lock shared (its Done hook waits for the
 * write lock, and Done is set after it): a send under the read lock never
 * finds a Done mailbox to drain. Removal is idempotent, as the Done hook
 * may also find nothing left.
 *
 * Results are cached (subject -> subscribers, as the NATS server's sublist
 * cache), for short subjects with few subscribers: a hit costs a hash and
 * a compare instead of the parse and the walk. Every change of the trie
 * bumps a generation that makes all entries stale at once (see `topics`).
 *
 * The trie itself is made at the first subscribe on a runtime and hangs on
 * the runtime (actor_runtime.topics); the core frees it with the runtime's
 * memory, when no address (and hence no subscription) is left. */
#include "alloc.h"
#include "cell.h"
#include "runtime.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
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

/* A cached result: the subscribers (each once) of one published subject,
 * as of one generation of the trie. Immutable once in a slot. */
typedef struct centry {
    struct centry *next;   /* on the retired list */
    uint64_t gen;
    uint32_t hash, len;    /* of the subject */
    uint32_t n;
    actor_addr **subs;     /* n, after the subject */
    char subject[];
} centry;

typedef struct topics {
    actori_rt_part part; /* first: the runtime frees it through part.destroy */
    pthread_rwlock_t lock;
    tnode *root;
    subscriber **amap;   /* by actor (linear probing), or NULL */
    uint32_t amask, acount;
    /* The result cache (the NATS server's sublist cache): published subject
     * -> subscribers. Every change of the trie bumps gen (under the write
     * lock), which makes every entry stale at once. Publishes (readers)
     * fill empty or stale slots by CAS; what they replace goes on `retired`,
     * freed by the next writer (no reader can hold it then). The table is
     * made by the first publish and dropped by a writer when the
     * subscriptions outgrow it (the next publish makes a larger one). */
    uint64_t gen;                   /* the write lock's */
    uint32_t nsubs;                 /* subscriptions (the write lock's) */
    _Atomic(_Atomic(centry *) *) cache;
    _Atomic uint32_t cmask;         /* slots - 1, with the table */
    _Atomic(centry *) retired;
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

/* ---- the result cache ---- */

#define CACHE_MIN 1024        /* slots, as the NATS server's sublist cache */
#define CACHE_MAX 16384
#define CACHE_SUBJECT_MAX 64  /* longer subjects are not cached */
#define CACHE_SUBS_MAX 16     /* nor results of more subscribers: their
                                 deliveries cost far more than the walk */

static void centries_free(centry *e)
{
    while (e != NULL) {
        centry *next = e->next;
        actori_free(e);
        e = next;
    }
}

/* Frees the table and its entries. The write lock (or no one else). */
static void cache_drop(topics *tp)
{
    _Atomic(centry *) *v = atomic_load_explicit(&tp->cache, memory_order_relaxed);
    if (v == NULL)
        return;
    uint32_t mask = atomic_load_explicit(&tp->cmask, memory_order_relaxed);
    for (uint32_t i = 0; i <= mask; i++)
        actori_free(atomic_load_explicit(&v[i], memory_order_relaxed));
    actori_free(v);
    atomic_store_explicit(&tp->cache, NULL, memory_order_relaxed);
}

/* The trie changed (under the write lock): every cached result is stale.
 * What readers retired is freed now that none can see it. A table that the
 * subscriptions outgrew goes: the next publish makes one to their measure.
 * O(1) amortized (the table is dropped once per doubling). */
static void changed(topics *tp, int delta)
{
    tp->gen++;
    tp->nsubs += (uint32_t)delta;
    centries_free(atomic_exchange_explicit(&tp->retired, NULL, memory_order_relaxed));
    uint32_t mask = atomic_load_explicit(&tp->cmask, memory_order_relaxed);
    if (mask + 1 < CACHE_MAX && (uint64_t)tp->nsubs * 2 > mask + 1)
        cache_drop(tp);
}

/* The table, made if needed (any reader; a lost race frees its own). */
static _Atomic(centry *) *cache_table(topics *tp, uint32_t *mask)
{
    _Atomic(centry *) *v = atomic_load_explicit(&tp->cache, memory_order_acquire);
    if (v != NULL) {
        *mask = atomic_load_explicit(&tp->cmask, memory_order_relaxed);
        return v;
    }
    uint32_t size = CACHE_MIN;
    while (size < CACHE_MAX && size < (uint64_t)tp->nsubs * 2)
        size *= 2;
    _Atomic(centry *) *made = actori_calloc(size, sizeof *made);
    if (made == NULL)
        return NULL;
    /* cmask first: whoever sees the table sees its size (the CAS
     * publishes both; a loser's store is of the same size, the read lock
     * keeping nsubs fixed). */
    atomic_store_explicit(&tp->cmask, size - 1, memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&tp->cache, &v, made, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        actori_free(made);
        made = v;
    }
    *mask = size - 1;
    return made;
}

/* A published subject's key: true with its hash and length when it is
 * short enough to be cached. Not a check: only valid subjects are ever
 * cached, so a hit proves the subject valid and a miss parses it. */
static inline bool cache_key(const char *s, uint32_t *hash, uint32_t *len)
{
    uint32_t h = 2166136261u, i = 0;
    for (unsigned char c; (c = (unsigned char)s[i]) != '\0'; i++) {
        if (i == CACHE_SUBJECT_MAX)
            return false;
        h = (h ^ c) * 16777619u;
    }
    *hash = h;
    *len = i;
    return true;
}

/* The subject's entry of this generation, if cached. The read lock. */
static const centry *cache_find(topics *tp, const char *s, uint32_t hash, uint32_t len)
{
    _Atomic(centry *) *v = atomic_load_explicit(&tp->cache, memory_order_acquire);
    if (v == NULL)
        return NULL;
    uint32_t i = hash & atomic_load_explicit(&tp->cmask, memory_order_relaxed);
    for (int k = 0; k < 2; k++, i ^= 1) { /* two slots: one line */
        const centry *e = atomic_load_explicit(&v[i], memory_order_acquire);
        if (e != NULL && e->hash == hash && e->len == len && e->gen == tp->gen &&
            memcmp(e->subject, s, len) == 0)
            return e;
    }
    return NULL;
}

/* Whether the subject's pair of slots has an empty or stale one (or the
 * table is still to be made). The read lock. */
static bool cache_room(topics *tp, uint32_t hash)
{
    _Atomic(centry *) *v = atomic_load_explicit(&tp->cache, memory_order_acquire);
    if (v == NULL)
        return true;
    uint32_t i = hash & atomic_load_explicit(&tp->cmask, memory_order_relaxed);
    for (int k = 0; k < 2; k++, i ^= 1) {
        const centry *old = atomic_load_explicit(&v[i], memory_order_acquire);
        if (old == NULL || old->gen != tp->gen)
            return true;
    }
    return false;
}

/* Puts e (this generation's) in an empty or stale slot of its pair, if
 * there is one: a live entry of another subject stays (no thrashing
 * between two subjects). Returns false when e was not put (the caller
 * frees it after use). The read lock. */
static bool cache_put(topics *tp, centry *e)
{
    uint32_t mask;
    _Atomic(centry *) *v = cache_table(tp, &mask);
    if (v == NULL)
        return false;
    uint32_t i = e->hash & mask;
    for (int k = 0; k < 2; k++, i ^= 1) {
        centry *old = atomic_load_explicit(&v[i], memory_order_acquire);
        if (old != NULL && old->gen == tp->gen)
            continue;
        /* release: e's contents before its pointer. */
        if (atomic_compare_exchange_strong_explicit(&v[i], &old, e, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            if (old != NULL) { /* a reader may still hold it: the next writer frees it */
                centry *head = atomic_load_explicit(&tp->retired, memory_order_relaxed);
                do
                    old->next = head;
                while (!atomic_compare_exchange_weak_explicit(&tp->retired, &head, old,
                                                              memory_order_release,
                                                              memory_order_relaxed));
            }
            return true;
        }
    }
    return false;
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
    cache_drop(tp);
    centries_free(atomic_load_explicit(&tp->retired, memory_order_relaxed));
    pthread_rwlock_destroy(&tp->lock);
    actori_free(tp);
}

/* Removes every subscription of a (idempotent): a ends. */
static void remove_all(topics *tp, actor_addr *a)
{
    bool gone = false;
    int removed = 0;
    pthread_rwlock_wrlock(&tp->lock);
    subscriber *s = sub_find(tp, a);
    while (s != NULL && !gone) {
        gone = tsub_remove(tp, s->first);
        removed--;
    }
    if (removed != 0)
        changed(tp, removed);
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
    } else if (!actori_part_mark(a, ACTORI_PART_TOPICS)) {
        rc = ACTOR_ECLOSED; /* its Done hook ran or runs: insert nothing */
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
            changed(tp, 1);
        }
    }
    if (rc != ACTOR_OK && n != NULL)
        prune(n);
    pthread_rwlock_unlock(&tp->lock);
    if (t != NULL) /* not inserted */
        actori_free(t);
    return rc;
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
        changed(tp, -1);
        rc = ACTOR_OK;
    }
    pthread_rwlock_unlock(&tp->lock);
    if (gone)
        actori_cell_unref(a);
    return rc;
}

/* One publish. The walk collects the nodes that match (a few); then each
 * subscriber of those nodes is delivered to once.
 *
 * Under the read lock no subscriber in the trie can be freed (its record
 * holds a memory reference that only a writer drops) nor become Done (its
 * Done hook must take the write lock first: see the top of the file). So
 * when the runtime has no dead-letter hook (fixed before the first spawn,
 * hence before any subscription), a send can run no user code: a stopping
 * subscriber's copy goes nowhere, a push never drains a Done mailbox. Then
 * the sends run under the read lock, with no reference taken per
 * subscriber. Otherwise (a hook, or a subscriber that routes: a pool), the
 * subscriber gets a memory reference under the lock and its send runs
 * after the unlock. */
typedef struct collect {
    const tnode **nodes; /* the matching nodes with subscriptions */
    size_t nn, ncap;
    const tnode **own;   /* the caller's stack array (not freed) */
    bool oom;
} collect;

static void take(collect *c, const tnode *n)
{
    if (n->nsubs == 0 || c->oom)
        return;
    if (c->nn == c->ncap) {
        size_t cap = c->ncap * 2;
        const tnode **v = c->nodes == c->own ? actori_malloc(cap * sizeof *v)
                                             : actori_realloc(c->nodes, cap * sizeof *v);
        if (v == NULL) {
            c->oom = true;
            return;
        }
        if (c->nodes == c->own)
            memcpy(v, c->own, c->nn * sizeof *v);
        c->nodes = v;
        c->ncap = cap;
    }
    c->nodes[c->nn++] = n;
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

enum { D_SKIP, D_NOW, D_LATER };

typedef struct deliver {
    const actor_msgtype *t;
    const void *payload;
    size_t len;
    bool now_ok;              /* no dead-letter hook: sends under the lock */
    const actor_class *cls;   /* the last class looked at (subscribers of */
    uint8_t mode;             /* one subject often share one), its D_*    */
    size_t delivered;
    actor_addr **later;       /* [0, nlater): referenced, sent after unlock */
    size_t nlater;
} deliver;

/* a's delivery: now (under the lock), later (a reference now), or none.
 * Classes are read-only once in use. */
static inline __attribute__((always_inline)) void deliver_one(deliver *d, actor_addr *a)
{
    if (a->cls != d->cls) {
        d->cls = a->cls;
        d->mode = actori_event_handler(a->cls, d->t) == NULL ? D_SKIP
                  : d->now_ok && !a->cls->routes         ? D_NOW
                                                         : D_LATER;
    }
    if (d->mode == D_NOW) {
        if (actori_send_event(a, d->t, d->payload, d->len) == ACTOR_OK)
            d->delivered++;
    } else if (d->mode == D_LATER) {
        actori_cell_ref(a); /* memory only: it may stop meanwhile */
        d->later[d->nlater++] = a;
    }
}

static int by_addr(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)*(actor_addr *const *)x, b = (uintptr_t)*(actor_addr *const *)y;
    return a < b ? -1 : a > b;
}

/* Delivers to each subscriber of the matching nodes once: only an actor
 * with more than one subscription can be there twice, so only those are
 * gathered (into multi) and compared (pairwise when few, else sorted). */
static void deliver_all(deliver *d, const collect *c, actor_addr **multi)
{
    if (c->nn == 1) {
        const tnode *n = c->nodes[0];
        for (uint32_t i = 0; i < n->nsubs; i++)
            deliver_one(d, n->subs[i].a);
        return;
    }
    size_t nm = 0;
    for (size_t k = 0; k < c->nn; k++) {
        const tnode *n = c->nodes[k];
        for (uint32_t i = 0; i < n->nsubs; i++) {
            if (n->subs[i].s->owner->n > 1)
                multi[nm++] = n->subs[i].a;
            else
                deliver_one(d, n->subs[i].a);
        }
    }
    if (nm <= 32) {
        for (size_t i = 0; i < nm; i++) {
            size_t k = 0;
            while (k < i && multi[k] != multi[i])
                k++;
            if (k == i)
                deliver_one(d, multi[i]);
        }
    } else {
        qsort(multi, nm, sizeof *multi, by_addr);
        for (size_t i = 0; i < nm; i++)
            if (i == 0 || multi[i] != multi[i - 1])
                deliver_one(d, multi[i]);
    }
}

/* The subscribers of the matching nodes, each once, into out (room for
 * all of them; multi: as much again, scratch). Returns how many. */
static size_t gather(const collect *c, actor_addr **out, actor_addr **multi)
{
    size_t n = 0, nm = 0;
    for (size_t k = 0; k < c->nn; k++) {
        const tnode *t = c->nodes[k];
        for (uint32_t i = 0; i < t->nsubs; i++) {
            if (c->nn > 1 && t->subs[i].s->owner->n > 1)
                multi[nm++] = t->subs[i].a;
            else
                out[n++] = t->subs[i].a;
        }
    }
    for (size_t i = 0; i < nm; i++) { /* few: pairwise (the cache takes few) */
        size_t k = 0;
        while (k < i && multi[k] != multi[i])
            k++;
        if (k == i)
            out[n++] = multi[i];
    }
    return n;
}

/* A new entry for the subject, with the subscribers of c (at most
 * CACHE_SUBS_MAX of them), or NULL without memory. */
static centry *centry_new(const topics *tp, const collect *c, size_t total, const char *subject,
                          uint32_t hash, uint32_t len)
{
    size_t at = (offsetof(centry, subject) + len + 7) & ~(size_t)7;
    actor_addr *multi[CACHE_SUBS_MAX];
    centry *e = actori_malloc(at + total * sizeof(actor_addr *));
    if (e == NULL)
        return NULL;
    e->next = NULL;
    e->gen = tp->gen;
    e->hash = hash;
    e->len = len;
    memcpy(e->subject, subject, len);
    e->subs = (actor_addr **)(void *)((char *)e + at);
    e->n = (uint32_t)gather(c, e->subs, multi);
    return e;
}

int actor_publish(actor_runtime *rt, const char *subject, const actor_msgtype *t,
                  const void *payload, size_t len, size_t *delivered)
{
    token tk[TOKENS_MAX];
    unsigned ntok = 0;
    uint32_t khash = 0, klen = 0;
    if (rt == NULL || subject == NULL || t == NULL || (payload == NULL && len > 0))
        return ACTOR_EINVAL;
    /* A short subject is parsed only when its result is not cached (a hit
     * proves it valid); a long one now. Whatever else is refused, a bad
     * subject is ACTOR_EINVAL first. */
    bool key = cache_key(subject, &khash, &klen), parsed = !key;
    if (!key && parse(subject, false, tk, &ntok) != ACTOR_OK)
        return ACTOR_EINVAL;
    int rc = ACTOR_OK;
    topics *tp = NULL;
    if (!actori_msgtype_fits(t, len))
        rc = ACTOR_ETYPE;
    else if (atomic_load_explicit(&rt->closing, memory_order_acquire) || ACTORI_INHERITED(rt))
        rc = ACTOR_ECLOSED;
    else
        tp = topics_of(rt, false);
    if (tp == NULL) {
        if (!parsed && parse(subject, false, tk, &ntok) != ACTOR_OK)
            return ACTOR_EINVAL;
        if (rc == ACTOR_OK && delivered != NULL)
            *delivered = 0;
        return rc;
    }

    enum { STACK = 128 };
    const tnode *nstack[16];
    actor_addr *stack[STACK];
    collect c = {nstack, 0, 16, nstack, false};
    /* The topics exist: an actor was spawned, so the hooks are fixed. */
    deliver d = {t, payload, len, rt->hooks.dead_letter == NULL, NULL, D_SKIP, 0, stack, 0};
    centry *own = NULL; /* made here and not cached: freed after use */
    pthread_rwlock_rdlock(&tp->lock);
    const centry *e = key ? cache_find(tp, subject, khash, klen) : NULL;
    if (e != NULL) {
        for (uint32_t i = 0; i < e->n; i++) /* n <= CACHE_SUBS_MAX < STACK */
            deliver_one(&d, e->subs[i]);
    } else if (!parsed && parse(subject, false, tk, &ntok) != ACTOR_OK) {
        rc = ACTOR_EINVAL;
    } else {
        match(&c, tp->root, subject, tk, 0, ntok);
        /* Room for every subscriber of the matching nodes, twice when there
         * are several (what waits for the unlock; the ones to compare),
         * before anything is delivered: on ENOMEM nothing is. */
        size_t total = 0;
        for (size_t k = 0; k < c.nn; k++)
            total += c.nodes[k]->nsubs;
        if (key && total <= CACHE_SUBS_MAX && !c.oom && cache_room(tp, khash) &&
            (own = centry_new(tp, &c, total, subject, khash, klen)) != NULL) {
            for (uint32_t i = 0; i < own->n; i++)
                deliver_one(&d, own->subs[i]);
            if (cache_put(tp, own))
                own = NULL; /* else a race filled the slots: freed after use */
        } else {
            size_t need = c.nn > 1 ? 2 * total : total;
            if (need > STACK && !c.oom) {
                d.later = actori_malloc(need * sizeof *d.later);
                c.oom = d.later == NULL;
            }
            if (c.oom)
                rc = ACTOR_ENOMEM;
            else if (c.nn > 0)
                deliver_all(&d, &c, d.later + total);
        }
    }
    pthread_rwlock_unlock(&tp->lock);
    /* In this thread's order: each subscriber gets one publisher's events
     * in the order published. A refusal (full, stopping, no memory for the
     * copy) is not a delivery. */
    for (size_t i = 0; i < d.nlater; i++) {
        if (actori_send_event(d.later[i], t, payload, len) == ACTOR_OK)
            d.delivered++;
        actori_cell_unref(d.later[i]);
    }
    if (own != NULL)
        actori_free(own);
    if (d.later != stack)
        actori_free(d.later);
    if (c.nodes != nstack)
        actori_free((void *)c.nodes);
    if (rc == ACTOR_OK && delivered != NULL)
        *delivered = d.delivered;
    return rc;
}
