/* Monitors: a watcher hears, through its mailbox, that a target is Done,
 * with the target's exit reason.
 *
 * One record per monitor sits in two lists: the watcher's (its own thread
 * only) and the target's (under one of a few striped locks, since any
 * watcher's thread adds to it). The target sends each record in a DOWN
 * envelope when it is Done; the watcher handles it only while the record is
 * still on (demonitor switches it off on the watcher's thread), so no Down
 * is handled after demonitor returns. Records hold memory references, never
 * counted addresses: a monitor keeps nobody alive.
 *
 * The watcher's records are also indexed by target (an open-addressing
 * table, its thread only), so that a new monitor's duplicate check and
 * demonitor are O(1) however many monitors it holds; its list is doubly
 * linked, so a delivered Down leaves it in O(1) too. */
#include "alloc.h"
#include "cell.h"
#include "log.h"
#include "runtime.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef struct actori_monitor {
    actor_addr *watcher, *target;   /* memory references                     */
    struct actori_monitor *next_w;  /* in the watcher's list (its thread)     */
    struct actori_monitor **prev_w; /* the link that points here              */
    struct actori_monitor *next_t;  /* in the target's list (stripe lock)     */
    struct actori_monitor **prev_t; /* the link that points here, or NULL     */
    _Atomic uint32_t refs;          /* the watcher's list; the target's list or
                                       the DOWN envelope                      */
    uint8_t on;                     /* the watcher's: not demonitored yet     */
} actori_monitor;

typedef struct down_payload {
    actori_monitor *m;
    int reason;
} down_payload;

/* Few stripes: fork holds them all at once (runtime.c), and
 * ThreadSanitizer tracks at most 64 locks held by a thread. */
#define STRIPES 8
#define M1 PTHREAD_MUTEX_INITIALIZER
#define M4 M1, M1, M1, M1
static pthread_mutex_t stripes[STRIPES] = {M4, M4};

void actori_monitor_atfork(int lock)
{
    for (unsigned i = 0; i < STRIPES; i++)
        if (lock)
            pthread_mutex_lock(&stripes[i]);
        else
            pthread_mutex_unlock(&stripes[STRIPES - 1 - i]);
}

static pthread_mutex_t *stripe_of(const actor_addr *target)
{
    return &stripes[((uintptr_t)target >> 6) % STRIPES];
}

static void monitor_release(actori_monitor *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        actori_cell_unref(m->watcher);
        actori_cell_unref(m->target);
        actori_free(m);
    }
}

static actor_addr *cell_of(actor_ctx *ctx) { return (actor_addr *)ctx; }

/* ---- the watcher's index by target (linear probing, at most half full) */

typedef struct actori_watch_index {
    uint32_t mask, used;
    actori_monitor *slot[];
} watch_index;

static uint32_t home_of(const watch_index *x, const actor_addr *target)
{
    return (uint32_t)((((uintptr_t)target >> 6) * 0x9E3779B97F4A7C15ull) >> 32) & x->mask;
}

static actori_monitor *index_find(const actori_fail *wf, const actor_addr *target)
{
    const watch_index *x = wf->watch_index;
    if (x == NULL)
        return NULL;
    for (uint32_t i = home_of(x, target); x->slot[i] != NULL; i = (i + 1) & x->mask)
        if (x->slot[i]->target == target)
            return x->slot[i];
    return NULL;
}

static void index_place(watch_index *x, actori_monitor *m)
{
    uint32_t i = home_of(x, m->target);
    while (x->slot[i] != NULL)
        i = (i + 1) & x->mask;
    x->slot[i] = m;
    x->used++;
}

static int index_add(actori_fail *wf, actori_monitor *m)
{
    watch_index *x = wf->watch_index;
    if (x == NULL || (x->used + 1) * 2 > x->mask + 1) {
        uint32_t cap = x == NULL ? 8 : (x->mask + 1) * 2;
        watch_index *y = actori_calloc(1, sizeof *y + cap * sizeof y->slot[0]);
        if (y == NULL)
            return ACTOR_ENOMEM;
        y->mask = cap - 1;
        for (uint32_t i = 0; x != NULL && i <= x->mask; i++)
            if (x->slot[i] != NULL)
                index_place(y, x->slot[i]);
        actori_free(x);
        wf->watch_index = x = y;
    }
    index_place(x, m);
    return ACTOR_OK;
}

/* Backward-shift deletion: no tombstones, so lookups stay short. The
 * table goes with the watcher's last monitor. */
static void index_remove(actori_fail *wf, const actori_monitor *m)
{
    watch_index *x = wf->watch_index;
    uint32_t i = home_of(x, m->target);
    while (x->slot[i] != m)
        i = (i + 1) & x->mask;
    x->slot[i] = NULL;
    for (uint32_t j = (i + 1) & x->mask; x->slot[j] != NULL; j = (j + 1) & x->mask) {
        uint32_t k = home_of(x, x->slot[j]->target);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            x->slot[i] = x->slot[j];
            x->slot[j] = NULL;
            i = j;
        }
    }
    if (--x->used == 0) {
        actori_free(x);
        wf->watch_index = NULL;
    }
}

/* Takes m out of its watcher's list and index (the watcher's thread). */
static void unlink_watcher(actori_fail *wf, actori_monitor *m)
{
    *m->prev_w = m->next_w;
    if (m->next_w != NULL)
        m->next_w->prev_w = m->prev_w;
    index_remove(wf, m);
    m->on = 0;
}

/* Sends m's DOWN to its watcher, with the target's list's reference. */
static void send_down(actori_monitor *m, int reason)
{
    down_payload p = {m, reason};
    actori_env *e = actori_env_new(ACTORI_DOWN, NULL, &p, sizeof p);
    if (e == NULL) {
        /* Better lost loudly than a crash: the watcher can still join. */
        actori_log(ACTOR_LOG_ERROR, "out of memory: a Down for a monitor of class %s is lost",
                   m->watcher->cls->name);
        monitor_release(m);
        return;
    }
    actori_cell_push(m->watcher, &e->msg);
}

int actor_ctx_monitor(actor_ctx *ctx, actor_addr *target)
{
    if (ctx == NULL || target == NULL || cell_of(ctx) == target)
        return ACTOR_EINVAL;
    actor_addr *w = cell_of(ctx);
    if (w->cls->on_down == NULL)
        return ACTOR_ENOHANDLER;
    actori_fail *wf = actori_cell_fail(w);
    actori_fail *tf = actori_cell_fail(target);
    if (wf == NULL || tf == NULL)
        return ACTOR_ENOMEM;
    if (index_find(wf, target) != NULL)
        return ACTOR_OK; /* one monitor per pair: a second is the same */
    actori_monitor *m = actori_calloc(1, sizeof *m);
    if (m == NULL)
        return ACTOR_ENOMEM;
    m->target = target;
    if (index_add(wf, m) != ACTOR_OK) {
        actori_free(m);
        return ACTOR_ENOMEM;
    }
    actori_cell_ref(w);
    actori_cell_ref(target);
    m->watcher = w;
    m->on = 1;
    atomic_init(&m->refs, 2);
    m->next_w = wf->watching;
    if (m->next_w != NULL)
        m->next_w->prev_w = &m->next_w;
    m->prev_w = &wf->watching;
    wf->watching = m;
    pthread_mutex_t *lock = stripe_of(target);
    pthread_mutex_lock(lock);
    /* Done is set before the target takes this lock to send its Downs:
     * either it finds m in its list, or we find it Done here. */
    bool done = addr_is_done(target);
    int reason = done ? target->exit_reason : 0; /* written before Done (acquire) */
    if (!done) {
        m->next_t = tf->watchers;
        if (m->next_t != NULL)
            m->next_t->prev_t = &m->next_t;
        m->prev_t = &tf->watchers;
        tf->watchers = m;
    }
    pthread_mutex_unlock(lock);
    if (done)
        send_down(m, reason); /* at once (queued behind what is there) */
    return ACTOR_OK;
}

/* Takes m out of its target's list, if it is still there. */
static void unlink_target(actori_monitor *m)
{
    pthread_mutex_t *lock = stripe_of(m->target);
    pthread_mutex_lock(lock);
    bool linked = m->prev_t != NULL;
    if (linked) {
        *m->prev_t = m->next_t;
        if (m->next_t != NULL)
            m->next_t->prev_t = m->prev_t;
        m->prev_t = NULL;
        m->next_t = NULL;
    }
    pthread_mutex_unlock(lock);
    if (linked)
        monitor_release(m);
}

/* Switches m off and takes it out of the watcher's list and index. */
static void switch_off(actori_fail *wf, actori_monitor *m)
{
    unlink_watcher(wf, m);
    unlink_target(m);
    monitor_release(m); /* the watcher's list's */
}

int actor_ctx_demonitor(actor_ctx *ctx, actor_addr *target)
{
    if (ctx == NULL || target == NULL)
        return ACTOR_EINVAL;
    actori_fail *wf = actori_cell_fail_if(cell_of(ctx));
    actori_monitor *m = wf != NULL ? index_find(wf, target) : NULL;
    if (m == NULL)
        return ACTOR_ENOENT;
    switch_off(wf, m);
    return ACTOR_OK;
}

void actori_monitors_watcher_stop(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    while (f != NULL && f->watching != NULL)
        switch_off(f, f->watching);
}

void actori_monitors_target_done(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    if (f == NULL)
        return;
    pthread_mutex_t *lock = stripe_of(a);
    pthread_mutex_lock(lock);
    actori_monitor *list = f->watchers;
    f->watchers = NULL;
    for (actori_monitor *m = list; m != NULL; m = m->next_t)
        m->prev_t = NULL; /* out of the list: its reference goes to the DOWN */
    pthread_mutex_unlock(lock);
    while (list != NULL) {
        actori_monitor *next = list->next_t;
        list->next_t = NULL;
        send_down(list, a->exit_reason);
        list = next;
    }
}

void actori_monitor_dispatch(actor_addr *watcher, actori_env *e)
{
    down_payload p;
    memcpy(&p, actori_env_payload(e), sizeof p);
    actori_monitor *m = p.m;
    if (m->on) {
        /* Delivered: the monitor is over (a Down comes once). */
        unlink_watcher(actori_cell_fail_if(watcher), m);
        monitor_release(m); /* the watcher's list's: the envelope's keeps it */
        watcher->cls->on_down(actor_ctx_of(watcher), watcher->state, m->target, p.reason);
    }
    monitor_release(m); /* the envelope's */
}

void actori_monitor_drop(actori_env *e)
{
    down_payload p;
    memcpy(&p, actori_env_payload(e), sizeof p);
    monitor_release(p.m);
}
