/* Supervisors (Erlang/OTP's restart semantics, restarts in place).
 *
 * A supervisor is an actor of an internal class; its group record (the
 * children in start order, the restart history) lives beside its cell and
 * outlives its restarts. Everything that changes a group happens under the
 * group's mutex, on whichever thread the event happens: a child's worker
 * when its incarnation ends or it is Done, the supervisor's worker when it
 * stops, any thread for start_child and stop_child, the clock thread when a
 * delayed restart is due. No user code runs under the lock.
 *
 * A child that stops asks its supervisor (child_stopped): it is restarted
 * at once (it restarts itself), parked (it keeps its mailbox and consumer
 * role; the supervisor resumes it later), or let go (it is Done). Parking
 * is committed under the lock, so whoever resumes it later sees it parked.
 * Lock order: a child's group, then its supervisor's group, never back. */
#include "sup.h"

#include "alloc.h"
#include "cell.h"
#include "log.h"
#include "runtime.h"

#include <pthread.h>
#include <string.h>

enum {
    C_RUNNING,          /* an incarnation is running                          */
    C_STOPPING_RESTART, /* asked to stop; it will be restarted (a group)       */
    C_STOPPING_FINAL,   /* asked to stop for good                              */
    C_PARKED,           /* stopped, waiting to be restarted                    */
    C_FINISHING         /* let go: it is becoming Done                         */
};

typedef struct actori_child {
    actor_addr *cell;   /* a counted address, held until Done */
    struct actori_group *group;
    struct actori_child *prev, *next; /* start order */
    int restart;        /* ACTOR_PERMANENT, _TRANSIENT, _TEMPORARY */
    int state;          /* C_* */
    uint8_t committed;  /* the cell is parked for real: it may be resumed  */
    uint8_t wake_word;  /* resumed before it committed: what it does then   */
} actori_child;

typedef struct actori_group {
    pthread_mutex_t lock;
    actor_addr *self;
    actor_supervisor_spec spec;
    actori_child *first, *last;
    uint64_t *history;  /* the times (ns) of the last `intensity` restarts, a ring */
    unsigned nhistory, ring;
    uint64_t backoff_ms; /* the next delay before a restart round */
    uint64_t last_restart_ns;
    int has_restarted;  /* a round began since the last (re)start */
    int pending;        /* a group restart: children asked to stop, not parked yet */
    int round_armed;    /* a delayed restart round is on the clock */
    int give_up;        /* nonzero: the reason the supervisor gives up with */
    int stopping;       /* the supervisor is stopping: its children stop */
    int children_final; /* ... for good (else for the supervisor's restart) */
    int self_word;      /* the supervisor's own fate, asked of its parent first */
    int self_decided;
    int self_waiting;   /* the supervisor is parked until its children stopped */
    int auto_stop;      /* stops once its last child is Done (a pool)        */
} actori_group;

static actor_class *sup_class;
static pthread_once_t sup_once = PTHREAD_ONCE_INIT;
static const actori_sup_ops the_ops;

static void make_class(void)
{
    if (actor_class_new("libactor.supervisor", &sup_class) != ACTOR_OK)
        sup_class = NULL;
    actori_sup_ops_register(&the_ops);
}

static actori_group *group_of(const actor_addr *a)
{
    actori_fail *f = a != NULL ? actori_cell_fail_if(a) : NULL;
    return f != NULL ? f->group : NULL;
}

static actori_child *entry_of(const actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    return f != NULL ? f->link : NULL;
}

static bool runtime_closing(const actori_group *g)
{
    return atomic_load_explicit(&g->self->home->closing, memory_order_acquire) != 0;
}

/* ---- parking (under the group's lock) ---- */

/* The child's own thread commits its parking: from now on a resume may
 * schedule it. */
static void park(actori_child *e)
{
    e->cell->parked = 1;
    e->committed = 1;
}

/* Resumes a parked child with `word`; one that has not committed its
 * parking yet (a supervisor still stopping its own children) takes the
 * word when it commits. */
static void wake(actori_child *e, int word)
{
    if (e->committed) {
        e->committed = 0;
        actori_cell_resume(e->cell, word);
    } else {
        e->wake_word = (uint8_t)word;
    }
}

/* ---- restarts ---- */

/* Records a restart at `now`; false when that is more than `intensity`
 * within `period_ms`: the supervisor gives up. */
static bool restart_allowed(actori_group *g, uint64_t now)
{
    if (g->auto_stop)
        return true; /* a pool: its members are always restarted */
    unsigned intensity = g->spec.intensity;
    if (intensity == 0)
        return false;
    if (g->nhistory == intensity) {
        uint64_t oldest = g->history[g->ring];
        if (now - oldest < (uint64_t)g->spec.period_ms * 1000000ull)
            return false;
    } else {
        g->nhistory++;
    }
    g->history[g->ring] = now;
    g->ring = (g->ring + 1) % intensity;
    return true;
}

/* The delay before the next restart round: doubling from backoff_ms up to
 * backoff_max_ms; back to backoff_ms once a period passed without one. */
static uint64_t next_delay(actori_group *g, uint64_t now)
{
    if (g->spec.backoff_ms == 0)
        return 0;
    if (!g->has_restarted ||
        now - g->last_restart_ns >= (uint64_t)g->spec.period_ms * 1000000ull)
        g->backoff_ms = g->spec.backoff_ms;
    uint64_t delay = g->backoff_ms;
    uint64_t max = g->spec.backoff_max_ms > g->spec.backoff_ms ? g->spec.backoff_max_ms
                                                               : g->spec.backoff_ms;
    g->backoff_ms = delay * 2 > max ? max : delay * 2;
    return delay;
}

/* Resumes every parked child but `except`, in start order (under lock). */
static void restart_parked(actori_group *g, actori_child *except)
{
    for (actori_child *e = g->first; e != NULL; e = e->next)
        if (e->state == C_PARKED) {
            e->state = C_RUNNING;
            if (e != except)
                wake(e, ACTORI_RESUME_RESTART);
        }
}

static void round_due(void *arg)
{
    actor_addr *sup = arg;
    actori_group *g = group_of(sup);
    pthread_mutex_lock(&g->lock);
    g->round_armed = 0;
    if (!g->stopping && g->pending == 0)
        restart_parked(g, NULL);
    pthread_mutex_unlock(&g->lock);
    actori_cell_unref(sup);
}

static void round_dropped(void *arg) { actori_cell_unref(arg); }

/* Every child to be restarted is parked (caller, if any, is about to be):
 * restart them now, or after the backoff. Returns the caller's word. */
static int begin_round(actori_group *g, actori_child *caller, uint64_t now)
{
    uint64_t delay = next_delay(g, now);
    g->last_restart_ns = now;
    g->has_restarted = 1;
    if (delay > 0 && !g->round_armed) {
        actori_cell_ref(g->self);
        if (actori_clock_call(&g->self->home->clock, delay, round_due, round_dropped, g->self) ==
            ACTOR_OK) {
            g->round_armed = 1;
            if (caller != NULL)
                park(caller);
            return 0;
        }
        actori_cell_unref(g->self); /* no memory for the delay: restart now */
    } else if (g->round_armed) {
        if (caller != NULL)
            park(caller);
        return 0;
    }
    restart_parked(g, caller);
    return ACTORI_RESUME_RESTART;
}

/* ---- stopping a supervisor's children, one at a time, last first ---- */

/* Asks the next child to stop, or, when all are stopped, resumes the
 * parked supervisor. Under lock. */
static void stop_next(actori_group *g)
{
    for (actori_child *e = g->last; e != NULL; e = e->prev) {
        switch (e->state) {
        case C_RUNNING:
            e->state = g->children_final ? C_STOPPING_FINAL : C_STOPPING_RESTART;
            actori_cell_request_stop(e->cell);
            return;
        case C_PARKED:
            if (!g->children_final)
                continue; /* stopped for the restart already */
            e->state = C_FINISHING;
            wake(e, ACTORI_RESUME_FINISH);
            return;
        default:
            return; /* one is stopping: the next waits for it */
        }
    }
    if (g->self_waiting) {
        g->self_waiting = 0;
        actori_cell_resume(g->self, 0);
    }
}

/* ---- what the core calls ---- */

/* A child's decision, under its supervisor's lock. */
static int decide(actori_group *g, actori_child *e, int reason)
{
    actor_addr *child = e->cell;
    /* The stop asked so far is the one that ended: a later request (under
     * this lock) is for the next incarnation. */
    atomic_store_explicit(&child->stop_req, 0, memory_order_relaxed);
    if (g->stopping) {
        if (e->state == C_STOPPING_RESTART) {
            e->state = C_PARKED;
            park(e);
            stop_next(g);
            return 0;
        }
        e->state = C_FINISHING;
        return ACTORI_RESUME_FINISH;
    }
    switch (e->state) {
    case C_STOPPING_FINAL:
    case C_FINISHING:
        e->state = C_FINISHING;
        return ACTORI_RESUME_FINISH;
    case C_STOPPING_RESTART:
        e->state = C_PARKED;
        if (--g->pending > 0) {
            park(e);
            return 0;
        }
        return begin_round(g, e, actori_clock_now(&g->self->home->clock));
    default:
        break;
    }
    /* It stopped on its own: normally, or failing. */
    if (runtime_closing(g) || e->restart == ACTOR_TEMPORARY ||
        (e->restart == ACTOR_TRANSIENT && reason == 0)) {
        e->state = C_FINISHING;
        return ACTORI_RESUME_FINISH;
    }
    uint64_t now = actori_clock_now(&g->self->home->clock);
    if (!restart_allowed(g, now)) {
        actori_log(ACTOR_LOG_WARN,
                   "supervisor: more than %u restarts within %u ms (child of class %s, reason "
                   "%d): giving up",
                   g->spec.intensity, g->spec.period_ms, child->cls->name, reason);
        g->give_up = reason != 0 ? reason : ACTOR_ECANCELED;
        /* Parked: the supervisor's stop finishes it, or keeps it for the
         * supervisor's restart in place. */
        e->state = C_PARKED;
        park(e);
        actori_cell_request_stop(g->self);
        return 0;
    }
    e->state = C_PARKED;
    if (g->spec.strategy != ACTOR_ONE_FOR_ONE) {
        bool after = false;
        for (actori_child *s = g->first; s != NULL; s = s->next) {
            if (s == e) {
                after = true;
                continue;
            }
            if (s->state != C_RUNNING || (g->spec.strategy == ACTOR_REST_FOR_ONE && !after))
                continue;
            if (s->restart == ACTOR_TEMPORARY) {
                s->state = C_STOPPING_FINAL;
                actori_cell_request_stop(s->cell);
                continue;
            }
            s->state = C_STOPPING_RESTART;
            g->pending++;
            actori_cell_request_stop(s->cell);
        }
        if (g->pending > 0) {
            park(e);
            return 0;
        }
    }
    return begin_round(g, e, now);
}

static int child_stopped(actor_addr *child, int reason)
{
    actori_child *e = entry_of(child);
    actori_group *own = group_of(child);
    if (own != NULL) {
        /* A supervisor that is a child asked its parent first (in
         * group_stopping), before it stopped its own children. */
        pthread_mutex_lock(&own->lock);
        int decided = own->self_decided, word = own->self_word;
        own->self_decided = 0;
        pthread_mutex_unlock(&own->lock);
        if (decided) {
            if (word == 0) {
                /* Its parent parked it when it began to stop; it commits
                 * now, or takes the word the parent left meanwhile. */
                pthread_mutex_lock(&e->group->lock);
                word = e->wake_word;
                e->wake_word = 0;
                if (word == 0)
                    park(e);
                pthread_mutex_unlock(&e->group->lock);
            }
            return word;
        }
    }
    actori_group *g = e->group;
    pthread_mutex_lock(&g->lock);
    int word = decide(g, e, reason);
    pthread_mutex_unlock(&g->lock);
    return word;
}

static bool group_stopping(actor_addr *sup)
{
    actori_group *g = group_of(sup);
    actori_child *mine = entry_of(sup);
    pthread_mutex_lock(&g->lock);
    if (!g->stopping) {
        g->stopping = 1;
        if (g->give_up != 0 && sup->exit_reason == 0)
            sup->exit_reason = g->give_up;
        int word = ACTORI_RESUME_FINISH;
        if (mine != NULL) {
            /* Its own fate first: restarted in place, its children are
             * stopped for the restart (kept); else they stop for good. */
            pthread_mutex_lock(&mine->group->lock);
            word = decide(mine->group, mine, sup->exit_reason);
            if (word == 0) { /* it parks later, after its children */
                sup->parked = 0;
                mine->committed = 0;
            }
            pthread_mutex_unlock(&mine->group->lock);
            g->self_word = word;
            g->self_decided = 1;
        }
        g->children_final = word == ACTORI_RESUME_FINISH;
    }
    stop_next(g);
    bool waiting = false;
    for (actori_child *e = g->first; e != NULL && !waiting; e = e->next)
        waiting = e->state != C_PARKED || g->children_final;
    if (waiting) {
        g->self_waiting = 1;
        sup->parked = 1; /* committed here, under the lock stop_next takes */
    }
    pthread_mutex_unlock(&g->lock);
    return waiting;
}

static void group_restarted(actor_addr *sup)
{
    actori_group *g = group_of(sup);
    pthread_mutex_lock(&g->lock);
    g->stopping = 0;
    g->give_up = 0;
    g->self_waiting = 0;
    g->nhistory = 0;
    g->ring = 0;
    g->has_restarted = 0;
    g->backoff_ms = g->spec.backoff_ms;
    restart_parked(g, NULL);
    pthread_mutex_unlock(&g->lock);
}

static void child_done(actor_addr *child)
{
    actori_child *e = entry_of(child);
    actori_group *g = e->group;
    pthread_mutex_lock(&g->lock);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        g->first = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        g->last = e->prev;
    if (g->stopping)
        stop_next(g);
    else if (g->auto_stop && g->first == NULL)
        actori_cell_request_stop(g->self);
    pthread_mutex_unlock(&g->lock);
    actori_cell_fail_if(child)->link = NULL;
    actori_free(e);
    addr_release(child); /* the supervisor's address of it */
}

static bool group_finishing(actor_addr *sup)
{
    actori_group *g = group_of(sup);
    pthread_mutex_lock(&g->lock);
    bool waiting = g->first != NULL;
    if (waiting) {
        g->stopping = 1;
        g->children_final = 1;
        g->self_waiting = 1;
        sup->parked = 1;
        stop_next(g);
    }
    pthread_mutex_unlock(&g->lock);
    return waiting;
}

static void group_free(actori_group *g)
{
    pthread_mutex_destroy(&g->lock);
    actori_free(g->history);
    actori_free(g);
}

static const actori_sup_ops the_ops = {
    .group_stopping = group_stopping,
    .group_restarted = group_restarted,
    .group_free = group_free,
    .group_finishing = group_finishing,
    .child_stopped = child_stopped,
    .child_done = child_done,
};

/* ---- the public functions ---- */

typedef struct link_arg {
    actori_group *group; /* the new supervisor's record, or NULL */
    actori_child *entry; /* its entry in its supervisor, or NULL */
    void (*prepare)(actor_addr *, void *); /* the caller's, or NULL */
    void *prepare_arg;
    int failed;
} link_arg;

static void link_cell(actor_addr *a, void *arg)
{
    link_arg *l = arg;
    if (l->prepare != NULL)
        l->prepare(a, l->prepare_arg);
    actori_fail *f = actori_cell_fail(a);
    if (f == NULL) {
        l->failed = 1;
        return;
    }
    if (l->group != NULL) {
        l->group->self = a;
        f->group = l->group;
    }
    if (l->entry != NULL) {
        l->entry->cell = a;
        f->link = l->entry;
    }
}

static int check_spec(const actor_supervisor_spec *spec)
{
    if (spec == NULL || spec->size < sizeof(actor_supervisor_spec) ||
        spec->strategy < ACTOR_ONE_FOR_ONE || spec->strategy > ACTOR_REST_FOR_ONE ||
        spec->period_ms == 0)
        return ACTOR_EINVAL;
    return ACTOR_OK;
}

static actori_group *group_new(const actor_supervisor_spec *spec)
{
    actori_group *g = actori_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->history = actori_calloc(spec->intensity ? spec->intensity : 1, sizeof *g->history);
    if (g->history == NULL) {
        actori_free(g);
        return NULL;
    }
    memcpy(&g->spec, spec, sizeof g->spec);
    g->spec.size = sizeof g->spec;
    g->backoff_ms = spec->backoff_ms;
    pthread_mutex_init(&g->lock, NULL);
    return g;
}

/* Spawns a supervised child (cls, or a supervisor of class group_cls when
 * spec is not NULL) under sup, or a top supervisor when sup is NULL. */
static int spawn_linked(actor_runtime *rt, actor_addr *sup, actor_class *cls,
                        const actor_supervisor_spec *spec, actor_class *group_cls,
                        int auto_stop, int restart, link_arg l, actor_addr **out)
{
    pthread_once(&sup_once, make_class);
    if (sup_class == NULL)
        return ACTOR_ENOMEM;
    if (spec != NULL) {
        cls = group_cls != NULL ? group_cls : sup_class;
        if ((l.group = group_new(spec)) == NULL)
            return ACTOR_ENOMEM;
        l.group->auto_stop = auto_stop;
    }
    actori_group *parent = group_of(sup);
    if (parent != NULL) {
        if ((l.entry = actori_calloc(1, sizeof *l.entry)) == NULL) {
            if (l.group != NULL)
                group_free(l.group);
            return ACTOR_ENOMEM;
        }
        l.entry->group = parent;
        l.entry->restart = restart;
        l.entry->state = C_RUNNING;
        pthread_mutex_lock(&parent->lock);
        if (parent->stopping || actori_cell_open(sup) != ACTOR_OK) {
            pthread_mutex_unlock(&parent->lock);
            actori_free(l.entry);
            if (l.group != NULL)
                group_free(l.group);
            return ACTOR_ECLOSED;
        }
    }
    actor_addr *a = NULL;
    int rc = actori_spawn(rt, cls, NULL, link_cell, &l, &a);
    if (rc == ACTOR_OK && !l.failed && l.entry != NULL) {
        /* Linked before it could run; listed in start order. */
        l.entry->prev = parent->last;
        if (parent->last != NULL)
            parent->last->next = l.entry;
        else
            parent->first = l.entry;
        parent->last = l.entry;
    }
    if (parent != NULL)
        pthread_mutex_unlock(&parent->lock);
    if (rc != ACTOR_OK) {
        actori_free(l.entry);
        if (l.group != NULL)
            group_free(l.group);
        return rc;
    }
    if (l.failed) { /* no memory for its failure block: it must not live */
        if (l.group != NULL)
            group_free(l.group);
        actori_free(l.entry);
        addr_interrupt(a);
        addr_release(a);
        return ACTOR_ENOMEM;
    }
    /* The entry holds the spawn's counted address; the caller gets one. */
    *out = l.entry != NULL ? addr_ref(a) : a;
    return ACTOR_OK;
}

int actor_supervisor_spawn(actor_runtime *rt, const actor_supervisor_spec *spec,
                           actor_addr **out)
{
    if (rt == NULL || out == NULL || check_spec(spec) != ACTOR_OK)
        return ACTOR_EINVAL;
    link_arg l = {0};
    return spawn_linked(rt, NULL, NULL, spec, NULL, 0, 0, l, out);
}

int actori_sup_spawn(actor_runtime *rt, const actor_supervisor_spec *spec, actor_class *cls,
                     actor_addr **out)
{
    link_arg l = {0};
    return spawn_linked(rt, NULL, NULL, spec, cls, 1, 0, l, out);
}

int actori_sup_start(actor_addr *sup, actor_class *cls, int restart,
                     void (*prepare)(actor_addr *, void *), void *arg, actor_addr **child)
{
    link_arg l = {0};
    l.prepare = prepare;
    l.prepare_arg = arg;
    return spawn_linked(sup->home, sup, cls, NULL, NULL, 0, restart, l, child);
}

void actori_sup_children(actor_addr *sup, void (*each)(actor_addr *child, void *), void *arg)
{
    actori_group *g = group_of(sup);
    pthread_mutex_lock(&g->lock);
    for (actori_child *e = g->first; e != NULL; e = e->next)
        each(e->cell, arg);
    pthread_mutex_unlock(&g->lock);
}

/* A supervisor spawned as one: a pool is a supervisor inside (of its
 * members), but to its users only a pool (children are not started or
 * stopped through it). */
static actori_group *supervisor_group(const actor_addr *sup)
{
    return sup != NULL && !sup->cls->routes ? group_of(sup) : NULL;
}

static int check_child_call(actor_addr *sup, int restart, actor_addr **child)
{
    if (child == NULL || supervisor_group(sup) == NULL || restart < ACTOR_PERMANENT ||
        restart > ACTOR_TEMPORARY)
        return ACTOR_EINVAL;
    return ACTOR_OK;
}

int actor_supervisor_start_child(actor_addr *sup, actor_class *cls, int restart,
                                 actor_addr **child)
{
    int rc = check_child_call(sup, restart, child);
    if (rc != ACTOR_OK || cls == NULL)
        return ACTOR_EINVAL;
    /* Its state must be one the runtime can make again at a restart: a
     * class whose state the spawner provides (a state_free but no state
     * size) cannot be restarted in place. */
    if (cls->state_size == 0 && cls->state_free != NULL)
        return ACTOR_EINVAL;
    link_arg l = {0};
    return spawn_linked(sup->home, sup, cls, NULL, NULL, 0, restart, l, child);
}

int actor_supervisor_start_supervisor(actor_addr *sup, const actor_supervisor_spec *spec,
                                      int restart, actor_addr **child)
{
    int rc = check_child_call(sup, restart, child);
    if (rc != ACTOR_OK || check_spec(spec) != ACTOR_OK)
        return ACTOR_EINVAL;
    link_arg l = {0};
    return spawn_linked(sup->home, sup, NULL, spec, NULL, 0, restart, l, child);
}

int actor_supervisor_stop_child(actor_addr *sup, actor_addr *child)
{
    actori_group *g = supervisor_group(sup);
    if (g == NULL || child == NULL)
        return ACTOR_EINVAL;
    pthread_mutex_lock(&g->lock);
    actori_child *e = g->first;
    while (e != NULL && e->cell != child)
        e = e->next;
    if (e != NULL) {
        if (e->state == C_RUNNING || e->state == C_STOPPING_RESTART) {
            bool round = e->state == C_STOPPING_RESTART && --g->pending == 0;
            e->state = C_STOPPING_FINAL;
            actori_cell_request_stop(child);
            if (round && !g->stopping) /* it was the last the round waited for */
                begin_round(g, NULL, actori_clock_now(&g->self->home->clock));
        } else if (e->state == C_PARKED) {
            e->state = C_FINISHING;
            wake(e, ACTORI_RESUME_FINISH);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return e != NULL ? ACTOR_OK : ACTOR_ENOENT;
}
