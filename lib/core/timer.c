/* Actor timers: keyed records in the actor's own table, armed on the
 * runtime's clock. See timer.h for why a tick names a key and generation. */
#include "timer.h"

#include "alloc.h"
#include "cell.h"
#include "log.h"
#include "runtime.h"

#include <string.h>

static actor_addr *cell_of(actor_ctx *ctx) { return (actor_addr *)ctx; }

/* The record's flags, kept in its clock item's spare bytes. */
static _Atomic uint8_t *cancelled_of(actori_timer *t) { return &t->timed.own_flag[0]; }
static _Atomic uint8_t *tick_queued_of(actori_timer *t) { return &t->timed.own_flag[1]; }

static void timer_release(actori_timer *t)
{
    /* acq_rel: the last owner (actor or clock) sees the other's writes. */
    if (atomic_fetch_sub_explicit(&t->timed.own_refs, 1, memory_order_acq_rel) == 1) {
        actori_cell_unref(t->owner);
        actori_free(t);
    }
}

/* ---- the clock's side (its owner thread) ---- */

bool actori_timer_dead(actori_timed *item)
{
    return atomic_load_explicit(cancelled_of((actori_timer *)item), memory_order_acquire) != 0;
}

void actori_timer_drop(actori_timed *item) { timer_release((actori_timer *)item); }

bool actori_timer_fire(actori_timed *item, uint64_t now)
{
    actori_timer *t = (actori_timer *)item;
    if (actori_timer_dead(item)) {
        timer_release(t);
        return false;
    }
    /* One tick in the mailbox at most: a slow actor gets no burst. The
     * actor clears the flag when it takes the tick (acq_rel pair). */
    if (!atomic_exchange_explicit(tick_queued_of(t), 1, memory_order_acq_rel)) {
        actori_env *e = actori_env_new(ACTORI_TICK, t->type, t->payload, t->len);
        if (e != NULL) {
            actori_tick *tick = (actori_tick *)(void *)e->data;
            tick->key = t->key;
            tick->gen = t->gen;
            actori_cell_push(t->owner, &e->msg);
        } else {
            atomic_store_explicit(tick_queued_of(t), 0, memory_order_release);
            actori_log(ACTOR_LOG_ERROR, "actor of class %s: a tick of timer %llu lost (no memory)",
                       t->owner->cls->name, (unsigned long long)t->key);
        }
    }
    if (t->every_ns == 0) {
        timer_release(t);
        return false;
    }
    /* The next tick at its own time, or, when the clock fell behind, one
     * period from now: never early, never a catch-up burst. */
    uint64_t next = item->due_ns + t->every_ns;
    item->due_ns = next > now ? next : now + t->every_ns;
    return true;
}

/* ---- the actor's side (its thread) ---- */

static uint32_t key_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key;
}

static actori_timer **slot_of(actori_timers *ts, uint64_t key)
{
    actori_timer **p = &ts->buckets[key_hash(key) & ts->mask];
    while (*p != NULL && (*p)->key != key)
        p = &(*p)->next;
    return p;
}

/* a's timers (its failure block holds them: most actors have none). */
static actori_timers *timers_of(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    return f != NULL ? f->timers : NULL;
}

static actori_timer *find(actor_addr *a, uint64_t key)
{
    actori_timers *ts = timers_of(a);
    return ts != NULL && ts->count > 0 ? *slot_of(ts, key) : NULL;
}

/* Unlinks t from the table and lets the clock drop it. */
static void cancel(actori_timers *ts, actori_timer **slot)
{
    actori_timer *t = *slot;
    *slot = t->next;
    ts->count--;
    atomic_store_explicit(cancelled_of(t), 1, memory_order_release);
    timer_release(t);
}

/* Doubles the bucket array when the table is full. false on ENOMEM (the
 * table still works, only with longer chains). */
static void grow(actori_timers *ts)
{
    uint32_t n = (ts->mask + 1) * 2;
    actori_timer **b = actori_calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (uint32_t i = 0; i <= ts->mask; i++) {
        actori_timer *t = ts->buckets[i];
        while (t != NULL) {
            actori_timer *next = t->next;
            actori_timer **slot = &b[key_hash(t->key) & (n - 1)];
            t->next = *slot;
            *slot = t;
            t = next;
        }
    }
    actori_free(ts->buckets);
    ts->buckets = b;
    ts->mask = n - 1;
}

static actori_timers *table_of(actor_addr *a)
{
    actori_fail *f = actori_cell_fail(a);
    if (f == NULL)
        return NULL;
    if (f->timers != NULL)
        return f->timers;
    actori_timers *ts = actori_calloc(1, sizeof *ts);
    if (ts == NULL)
        return NULL;
    ts->buckets = actori_calloc(8, sizeof *ts->buckets);
    if (ts->buckets == NULL) {
        actori_free(ts);
        return NULL;
    }
    ts->mask = 7;
    f->timers = ts;
    return ts;
}

int actor_ctx_timer_start(actor_ctx *ctx, uint64_t key, const actor_msgtype *t,
                          const void *payload, size_t len, uint64_t after_ms, uint64_t every_ms)
{
    if (ctx == NULL || t == NULL || (payload == NULL && len > 0) ||
        after_ms > ACTORI_CLOCK_MAX_MS || every_ms > ACTORI_CLOCK_MAX_MS)
        return ACTOR_EINVAL;
    actor_addr *a = cell_of(ctx);
    if (!actori_msgtype_fits(t, len) || len > UINT32_MAX - 64)
        return ACTOR_ETYPE;
    if (actori_event_handler(a->cls, t) == NULL)
        return ACTOR_ENOHANDLER;
    if (a->stopping)
        return ACTOR_ECLOSED; /* finalize, or after actor_ctx_stop */
    actori_timers *ts = table_of(a);
    if (ts == NULL)
        return ACTOR_ENOMEM;
    actori_timer *tm = actori_malloc(sizeof *tm + len);
    if (tm == NULL)
        return ACTOR_ENOMEM;
    actori_clock *clock = &a->home->clock;
    uint64_t now = actori_clock_now(clock);
    tm->timed.due_ns = now + after_ms * 1000000ull;
    tm->timed.kind = ACTORI_TIMED_TIMER;
    atomic_init(&tm->timed.own_refs, 2); /* the table's and the clock's */
    atomic_init(cancelled_of(tm), 0);
    atomic_init(tick_queued_of(tm), 0);
    tm->gen = ++ts->next_gen;
    tm->len = (uint32_t)len;
    tm->key = key;
    tm->every_ns = every_ms * 1000000ull;
    tm->owner = a;
    tm->type = t;
    if (len > 0)
        memcpy(tm->payload, payload, len);
    actori_cell_ref(a);
    if (actori_clock_arm(clock, &tm->timed, now) != ACTOR_OK) {
        actori_cell_unref(a);
        actori_free(tm);
        return ACTOR_ENOMEM;
    }
    actori_timer **slot = slot_of(ts, key);
    if (*slot != NULL) /* a replace: the old one's ticks are stale from now */
        cancel(ts, slot);
    tm->next = NULL;
    *slot = tm;
    if (++ts->count > ts->mask + 1)
        grow(ts);
    return ACTOR_OK;
}

int actor_ctx_timer_cancel(actor_ctx *ctx, uint64_t key)
{
    if (ctx == NULL)
        return ACTOR_EINVAL;
    actor_addr *a = cell_of(ctx);
    if (find(a, key) == NULL)
        return ACTOR_ENOENT;
    cancel(timers_of(a), slot_of(timers_of(a), key));
    return ACTOR_OK;
}

int actor_ctx_timer_active(actor_ctx *ctx, uint64_t key)
{
    return ctx != NULL && find(cell_of(ctx), key) != NULL ? 1 : 0;
}

void actori_timers_dispatch(actor_addr *a, actori_env *e)
{
    const actori_tick *tick = (const actori_tick *)(const void *)e->data;
    actori_timer *t = find(a, tick->key);
    if (t == NULL || t->gen != tick->gen)
        return; /* cancelled or replaced after this tick was sent */
    atomic_store_explicit(tick_queued_of(t), 0, memory_order_release);
    if (t->every_ns == 0) /* a one-shot is over once its tick is taken */
        cancel(timers_of(a), slot_of(timers_of(a), tick->key));
    int rc = actori_event_handler(a->cls, e->type)(actor_ctx_of(a), a->state,
                                                   actori_env_payload(e), e->msg.len);
    if (rc != 0)
        actori_cell_event_failed(a, e->type, rc);
}

void actori_timers_stop(actor_addr *a)
{
    actori_timers *ts = timers_of(a);
    if (ts == NULL)
        return;
    for (uint32_t i = 0; i <= ts->mask; i++)
        while (ts->buckets[i] != NULL)
            cancel(ts, &ts->buckets[i]);
    actori_free(ts->buckets);
    actori_free(ts);
    actori_cell_fail_if(a)->timers = NULL;
}
