/*
 * The hand-written C part of the Python binding; see shim.h for the design.
 */
#define PY_SSIZE_T_CLEAN
#include "shim.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================== */
/* Blocking calls                                                           */
/* ======================================================================== */

/* Longest stretch spent without the GIL before looking at pending signals. */
#define SHIM_SLICE_MS 100

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef int (*wait_fn)(void *obj, int timeout_ms);

static int wait_responder(void *r, int ms) { return actor_responder_wait(r, ms); }
static int wait_join(void *a, int ms) { return addr_join(a, ms); }
static int wait_shutdown(void *rt, int ms) { return actor_runtime_shutdown(rt, ms); }

/* Waits in slices of at most SHIM_SLICE_MS with the GIL released, checking
 * signals between slices. look_first: first look with the GIL held (timeout
 * 0), which must then never block nor need the GIL of another thread. */
static PyObject *sliced_wait(wait_fn fn, void *obj, int timeout_ms, int look_first)
{
    int rc = ACTOR_ETIMEDOUT;
    if (look_first || timeout_ms == 0) {
        if (look_first) {
            rc = fn(obj, 0);
        } else {
            Py_BEGIN_ALLOW_THREADS
            rc = fn(obj, 0);
            Py_END_ALLOW_THREADS
        }
        if (rc != ACTOR_ETIMEDOUT || timeout_ms == 0)
            return PyLong_FromLong(rc);
    }
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int slice = SHIM_SLICE_MS;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                rc = ACTOR_ETIMEDOUT;
                break;
            }
            if (left < slice)
                slice = (int)left;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = fn(obj, slice);
        Py_END_ALLOW_THREADS
        if (rc != ACTOR_ETIMEDOUT)
            break;
        if (PyErr_CheckSignals() < 0)
            return NULL;
    }
    return PyLong_FromLong(rc);
}

PyObject *shim_responder_wait(actor_responder *r, int timeout_ms)
{
    if (!r)
        return PyLong_FromLong(ACTOR_EINVAL);
    return sliced_wait(wait_responder, r, timeout_ms, 1);
}

PyObject *shim_addr_join(actor_addr *a, int timeout_ms)
{
    if (!a)
        return PyLong_FromLong(ACTOR_EINVAL);
    return sliced_wait(wait_join, a, timeout_ms, 1);
}

PyObject *shim_runtime_shutdown(actor_runtime *rt, int timeout_ms)
{
    if (!rt)
        return PyLong_FromLong(ACTOR_EINVAL);
    /* Never with the GIL: shutdown joins the workers, whose exit may need it. */
    return sliced_wait(wait_shutdown, rt, timeout_ms, 0);
}

void shim_runtime_free(actor_runtime *rt)
{
    Py_BEGIN_ALLOW_THREADS
    actor_runtime_free(rt);
    Py_END_ALLOW_THREADS
}

int shim_runtime_new(unsigned threads, actor_runtime **out)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = actor_runtime_new(threads, out);
    Py_END_ALLOW_THREADS
    return rc;
}

void shim_addr_release(actor_addr *a)
{
    if (!a)
        return;
    Py_BEGIN_ALLOW_THREADS
    addr_release(a);
    Py_END_ALLOW_THREADS
}

PyObject *shim_responder_bytes(actor_responder *r)
{
    size_t len = 0;
    const void *data = actor_responder_data(r, &len);
    if (!data)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
}

/* ======================================================================== */
/* The asyncio completion queue                                             */
/* ======================================================================== */

struct shim_cq {
    pthread_mutex_t mu;
    shim_cqnode *head, *tail; /* completed, not yet drained (under mu) */
    int closed;               /* the Python owner let go (under mu) */
    atomic_int refs;          /* the owner's + one per live node + callbacks running */
    int fd;                   /* eventfd, nonblocking */
};

struct shim_cqnode {
    shim_cqnode *next;
    shim_cq *q;
    unsigned long long token;
    void *owner;      /* aio.c: the Responder object (borrowed; GIL only) */
    atomic_int refs;  /* the responder side's + the callback/list side's */
    atomic_int fired; /* the callback started */
    atomic_int finished;            /* the callback is past its last touch of n */
    actor_responder *deferred_r;    /* shim_responder_release: to free later (GIL) */
    shim_cqnode *deferred_next;
};

static void cq_ref(shim_cq *q) { atomic_fetch_add_explicit(&q->refs, 1, memory_order_relaxed); }

static void cq_unref(shim_cq *q)
{
    if (atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Last reference: closed (the owner's ref is gone) and no node left. */
    close(q->fd);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static void node_unref(shim_cqnode *n)
{
    if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
        return;
    shim_cq *q = n->q;
    free(n);
    cq_unref(q);
}

shim_cq *shim_cq_new(void)
{
    shim_cq *q = calloc(1, sizeof *q);
    if (!q)
        return (shim_cq *)PyErr_NoMemory();
    q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->fd < 0) {
        free(q);
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    atomic_init(&q->refs, 1);
    return q;
}

int shim_cq_fd(shim_cq *q) { return q ? q->fd : -1; }

/* The responder's completion callback: on the completing C thread, no GIL.
 * Appends the node; writes the fd only on the empty-to-non-empty transition. */
static void cq_on_complete(actor_responder *r, void *ud)
{
    (void)r;
    shim_cqnode *n = ud;
    shim_cq *q = n->q;
    cq_ref(q); /* q must outlive the write below even if n is drained at once */
    atomic_store_explicit(&n->fired, 1, memory_order_release);
    int was_empty = 0;
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        node_unref(n); /* nobody will drain it */
    } else {
        n->next = NULL;
        was_empty = q->head == NULL;
        if (q->tail)
            q->tail->next = n;
        else
            q->head = n;
        q->tail = n;
        pthread_mutex_unlock(&q->mu);
    }
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w;
        do
            w = write(q->fd, &one, sizeof one);
        while (w < 0 && errno == EINTR);
        /* EAGAIN (counter saturated) still leaves the fd readable. */
    }
    /* The last touch of n (kept alive by the responder side's reference
     * until the responder is freed, which waits for this callback). */
    atomic_store_explicit(&n->finished, 1, memory_order_release);
    cq_unref(q);
}

static int cq_watch(shim_cq *q, actor_responder *r, unsigned long long token, void *owner,
                    shim_cqnode **out)
{
    if (!q || !r || !out)
        return ACTOR_EINVAL;
    shim_cqnode *n = calloc(1, sizeof *n);
    if (!n)
        return ACTOR_ENOMEM;
    n->q = q;
    n->token = token;
    n->owner = owner;
    atomic_init(&n->refs, 2);
    atomic_init(&n->fired, 0);
    atomic_init(&n->finished, 0);
    cq_ref(q);
    int rc = actor_responder_then(r, cq_on_complete, n);
    if (rc != ACTOR_OK) {
        free(n);
        cq_unref(q);
        return rc;
    }
    *out = n;
    return ACTOR_OK;
}

int shim_cq_watch(shim_cq *q, actor_responder *r, unsigned long long token, shim_cqnode **out)
{
    return cq_watch(q, r, token, NULL, out);
}

int shim_cq_watch_owner(shim_cq *q, actor_responder *r, void *owner, shim_cqnode **out)
{
    return cq_watch(q, r, 0, owner, out);
}

/* Resets the fd first, then takes the list: a completion appended after the
 * take finds the list empty and writes the fd again; none is lost. */
shim_cqnode *shim_cq_take(shim_cq *q)
{
    uint64_t v;
    while (read(q->fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&q->mu);
    shim_cqnode *n = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    return n;
}

shim_cqnode *shim_cqnode_next(const shim_cqnode *n) { return n->next; }
void *shim_cqnode_owner(const shim_cqnode *n) { return n->owner; }
void shim_cqnode_set_owner(shim_cqnode *n, void *owner) { n->owner = owner; }
void shim_cqnode_release(shim_cqnode *n) { node_unref(n); }

PyObject *shim_cq_drain(shim_cq *q)
{
    if (!q)
        return PyList_New(0);
    shim_cqnode *n = shim_cq_take(q);
    PyObject *list = PyList_New(0);
    while (n) {
        shim_cqnode *next = n->next;
        if (list) {
            PyObject *t = PyLong_FromUnsignedLongLong(n->token);
            if (!t || PyList_Append(list, t) < 0)
                Py_CLEAR(list);
            Py_XDECREF(t);
        }
        node_unref(n);
        n = next;
    }
    return list;
}

void shim_cq_close(shim_cq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    shim_cqnode *n = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    while (n) {
        shim_cqnode *next = n->next;
        node_unref(n);
        n = next;
    }
    cq_unref(q);
}

/* Responders whose free would have waited for their callback (GIL). */
static shim_cqnode *deferred_head;

void shim_responder_reap(int all)
{
    shim_cqnode **pp = &deferred_head;
    while (*pp) {
        shim_cqnode *n = *pp;
        if (all || atomic_load_explicit(&n->finished, memory_order_acquire)) {
            *pp = n->deferred_next;
            shim_responder_free(n->deferred_r, n);
        } else {
            pp = &n->deferred_next;
        }
    }
}

void shim_responder_release(actor_responder *r, shim_cqnode *n)
{
    /* actor_responder_free waits (futex, no spin) until a callback started
     * by the completing thread returns: when the loop thread frees a
     * responder right after the eventfd write made by that very callback,
     * that wait would be a sleep and a wake-up. Defer it instead. */
    if (n && atomic_load_explicit(&n->fired, memory_order_acquire) &&
        !atomic_load_explicit(&n->finished, memory_order_acquire)) {
        n->deferred_r = r;
        n->deferred_next = deferred_head;
        deferred_head = n;
        return;
    }
    shim_responder_free(r, n);
    if (deferred_head)
        shim_responder_reap(0);
}

void shim_responder_free(actor_responder *r, shim_cqnode *n)
{
    /* After actor_responder_free returns the callback is not running and
     * never will: if it did not fire, its reference is ours to drop. */
    actor_responder_free(r);
    if (n) {
        if (!atomic_load_explicit(&n->fired, memory_order_acquire))
            node_unref(n);
        node_unref(n);
    }
}

/* ======================================================================== */
/* Entering Python from C threads                                           */
/* ======================================================================== */

static pthread_mutex_t alive_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t alive_cv = PTHREAD_COND_INITIALIZER;
static int py_alive = 1;    /* under alive_mu */
static long py_inflight;    /* C threads entering or inside Python (under alive_mu) */
static PyObject *g_dispatch; /* set once at import; kept for the process */

/* A C thread (a worker) that enters Python keeps one thread state for its
 * life, made by its first PyGILState_Ensure and never released but at thread
 * exit (ts_key's destructor): Python code of its actors then sees one thread
 * (threading.local works) and no thread state is made per message. */
static pthread_key_t ts_key;
static pthread_once_t ts_once = PTHREAD_ONCE_INIT;
static _Thread_local PyThreadState *tl_ts; /* ours, or NULL */
static _Thread_local int tl_depth;         /* py_enter nesting on this thread */

typedef struct py_token {
    int mode; /* 1: tl_ts restored; 2: PyGILState_Ensure */
    PyGILState_STATE gs;
} py_token;

static int alive_inc(void)
{
    pthread_mutex_lock(&alive_mu);
    int ok = py_alive;
    if (ok)
        py_inflight++;
    pthread_mutex_unlock(&alive_mu);
    return ok;
}

static void alive_dec(void)
{
    pthread_mutex_lock(&alive_mu);
    if (--py_inflight == 0 && !py_alive)
        pthread_cond_broadcast(&alive_cv);
    pthread_mutex_unlock(&alive_mu);
}

/* Thread exit: drop the thread state while Python is alive (if it is not,
 * the dying interpreter owns it). */
static void ts_destructor(void *v)
{
    if (!v || !alive_inc())
        return;
    /* Not PyGILState_Release: glibc has already cleared the other keys of
     * this thread, CPython's gilstate key among them. */
    PyEval_RestoreThread((PyThreadState *)v);
    PyThreadState_Clear((PyThreadState *)v);
    PyThreadState_DeleteCurrent(); /* releases the GIL */
    tl_ts = NULL;
    alive_dec();
}

static void ts_key_make(void) { pthread_key_create(&ts_key, ts_destructor); }

/* Takes the GIL if Python is alive; returns 0 (and takes nothing) if not. */
static int py_enter(py_token *t)
{
    if (!alive_inc())
        return 0;
    if (tl_depth++ > 0 || (!tl_ts && PyGILState_GetThisThreadState() != NULL)) {
        /* Nested, or a thread Python made itself: the ordinary way. */
        t->mode = 2;
        t->gs = PyGILState_Ensure();
    } else if (tl_ts) {
        t->mode = 1;
        PyEval_RestoreThread(tl_ts);
    } else {
        pthread_once(&ts_once, ts_key_make);
        t->mode = 1;
        (void)PyGILState_Ensure(); /* makes this thread's state; kept */
        tl_ts = PyThreadState_Get();
        pthread_setspecific(ts_key, tl_ts);
    }
    return 1;
}

static void py_leave(py_token *t)
{
    tl_depth--;
    if (t->mode == 1)
        PyEval_SaveThread();
    else
        PyGILState_Release(t->gs);
    alive_dec();
}

void shim_python_dying(void)
{
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&alive_mu);
    py_alive = 0;
    while (py_inflight > 0)
        pthread_cond_wait(&alive_cv, &alive_mu);
    pthread_mutex_unlock(&alive_mu);
    Py_END_ALLOW_THREADS
}

int shim_python_alive(void)
{
    pthread_mutex_lock(&alive_mu);
    int a = py_alive;
    pthread_mutex_unlock(&alive_mu);
    return a;
}

void shim_set_dispatch(PyObject *fn)
{
    Py_XINCREF(fn);
    Py_XSETREF(g_dispatch, fn);
}

/* ======================================================================== */
/* Python actors                                                            */
/* ======================================================================== */

/* Every Python actor class has the same C callbacks below. The C class's user
 * data (actor_class_userdata) is a shim_pyclass: the Python class, and one
 * dict per kind mapping int(type pointer) to the handler entry the
 * dispatcher gets (the Python side's (function, MsgType)). The struct is
 * written once, before the class is in use; the Python objects it points to
 * are touched with the GIL only. It is kept for the process, as the C class
 * may be (the registry, C code holding it). */
#define SHIM_CLASS_MAGIC 0x50794373u /* "PyCs" */
#define SHIM_STATE_MAGIC 0x50794163u /* "PyAc": a state block we allocated */

typedef struct shim_pyclass {
    uint32_t magic;
    PyObject *cls;         /* the Python Actor subclass */
    PyObject *handlers[2]; /* [0] events, [1] requests: dict int(type ptr) -> entry */
} shim_pyclass;

/* The state of a Python actor: the instance. A class spawned by name with
 * state NULL gets a zeroed block of this size from the runtime (magic 0,
 * instance made by init); shim_spawn passes a block of its own (magic set). */
typedef struct pystate {
    uint32_t magic;
    PyObject *inst;
} pystate;

/* The shim_pyclass of the actor whose callback runs (NULL if not ours). */
static shim_pyclass *pyclass_of(actor_ctx *ctx)
{
    shim_pyclass *pc = actor_class_userdata(actor_ctx_class(ctx));
    return pc && pc->magic == SHIM_CLASS_MAGIC ? pc : NULL;
}

/* With the GIL: calls the dispatcher (NULL arguments pass None); returns a
 * new reference or NULL. */
static PyObject *dispatch(int kind, PyObject *inst, PyObject *arg, actor_ctx *ctx,
                          PyObject *extra)
{
    if (!g_dispatch) {
        PyErr_SetString(PyExc_RuntimeError, "actor: no dispatcher");
        return NULL;
    }
    PyObject *k = PyLong_FromLong(kind);
    PyObject *c = PyLong_FromVoidPtr(ctx);
    PyObject *res = NULL;
    if (k && c) {
        PyObject *args[5] = {k, inst ? inst : Py_None, arg ? arg : Py_None, c,
                             extra ? extra : Py_None};
        res = PyObject_Vectorcall(g_dispatch, args, 5, NULL);
    }
    Py_XDECREF(k);
    Py_XDECREF(c);
    return res;
}

/* With the GIL: the int a dispatch returned; `failed` if it raised (the
 * exception is reported as unraisable) or returned something else. */
static int code_of(PyObject *res, int failed)
{
    int code = failed;
    if (!res) {
        PyErr_WriteUnraisable(g_dispatch);
    } else if (PyLong_Check(res)) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(res, &overflow);
        if (overflow || v < -2147483647L || v > 2147483647L)
            code = failed;
        else
            code = (int)v;
        if (PyErr_Occurred())
            PyErr_Clear();
    }
    Py_XDECREF(res);
    return code;
}

static int py_init(actor_ctx *ctx, void *state)
{
    pystate *st = state;
    shim_pyclass *pc = pyclass_of(ctx);
    py_token gs;
    if (!st || !pc)
        return ACTOR_EINVAL;
    if (!py_enter(&gs))
        return ACTOR_ECLOSED;
    int code = ACTOR_EINVAL;
    if (!st->inst) {
        /* Spawned by name (state made by the runtime): make the instance. */
        PyObject *inst = dispatch(SHIM_K_NEW, NULL, pc->cls, ctx, NULL);
        if (!inst)
            PyErr_WriteUnraisable(g_dispatch);
        else if (inst == Py_None)
            Py_DECREF(inst);
        else
            st->inst = inst;
    }
    if (st->inst)
        code = code_of(dispatch(SHIM_K_INIT, st->inst, NULL, ctx, NULL), ACTOR_EINVAL);
    py_leave(&gs);
    return code;
}

static void py_finalize(actor_ctx *ctx, void *state)
{
    pystate *st = state;
    py_token gs;
    if (!st || !st->inst || !py_enter(&gs))
        return;
    code_of(dispatch(SHIM_K_FINALIZE, st->inst, NULL, ctx, NULL), 0);
    py_leave(&gs);
}

static void py_interrupt(actor_ctx *ctx, void *state)
{
    pystate *st = state;
    py_token gs;
    if (!st || !st->inst || !py_enter(&gs)) {
        actor_ctx_stop(ctx); /* the default */
        return;
    }
    code_of(dispatch(SHIM_K_INTERRUPT, st->inst, NULL, ctx, NULL), 0);
    py_leave(&gs);
}

static void py_fallback(actor_ctx *ctx, void *state, const actor_msgtype *t, int err)
{
    pystate *st = state;
    py_token gs;
    if (!st || !st->inst || !py_enter(&gs))
        return;
    const char *name = actor_msgtype_name(t);
    PyObject *n = name ? PyUnicode_FromString(name) : (Py_INCREF(Py_None), Py_None);
    PyObject *e = PyLong_FromLong(err);
    if (n && e)
        code_of(dispatch(SHIM_K_FALLBACK, st->inst, e, ctx, n), 0);
    else
        PyErr_WriteUnraisable(g_dispatch);
    Py_XDECREF(n);
    Py_XDECREF(e);
    py_leave(&gs);
}

static void py_state_free(void *state)
{
    pystate *st = state;
    py_token gs;
    if (!st)
        return;
    if (st->inst && py_enter(&gs)) {
        Py_CLEAR(st->inst);
        py_leave(&gs);
    }
    /* else: Python is gone; the instance is left to the dying interpreter. */
    if (st->magic == SHIM_STATE_MAGIC) {
        st->magic = 0;
        free(st);
    }
}

/* With the GIL: a new reference to the entry of type t in pc's dict of
 * `kind` (0 events, 1 requests), or NULL (none; an error is reported). */
static PyObject *handler_of(shim_pyclass *pc, int kind, const actor_msgtype *t)
{
    if (!pc || !t)
        return NULL;
    PyObject *key = PyLong_FromVoidPtr((void *)t);
    PyObject *entry = key ? PyDict_GetItemWithError(pc->handlers[kind], key) : NULL;
    Py_XDECREF(key);
    if (entry)
        Py_INCREF(entry); /* a handler may not drop it from under its own call */
    else if (PyErr_Occurred())
        PyErr_WriteUnraisable(g_dispatch);
    return entry;
}

/* The one event (kind SHIM_K_EVENT) and request (SHIM_K_REQUEST) handler of
 * every Python class: the type comes from the context, its handler from the
 * class's dict. */
static int py_message(int kind, actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    pystate *st = state;
    py_token gs;
    /* Python gone: an event fails (fallback, which does nothing then); a
     * request returns 0 unanswered, which cancels it. */
    int gone = kind == SHIM_K_EVENT ? ACTOR_ECLOSED : 0;
    if (!st || !st->inst || !py_enter(&gs))
        return gone;
    int code;
    PyObject *entry = handler_of(pyclass_of(ctx), kind == SHIM_K_REQUEST,
                                 actor_ctx_msgtype(ctx));
    PyObject *bytes = NULL;
    if (!entry) {
        /* Cannot happen unless the mapping was tampered with: as C would. */
        code = ACTOR_ENOHANDLER;
    } else if (!(bytes = PyBytes_FromStringAndSize(len ? payload : "", (Py_ssize_t)len))) {
        PyErr_WriteUnraisable(g_dispatch);
        code = ACTOR_ENOMEM;
    } else {
        code = code_of(dispatch(kind, st->inst, entry, ctx, bytes), ACTOR_EHANDLER);
    }
    Py_XDECREF(bytes);
    Py_XDECREF(entry);
    py_leave(&gs);
    return code;
}

static int py_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    return py_message(SHIM_K_EVENT, ctx, state, payload, len);
}

static int py_request(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    return py_message(SHIM_K_REQUEST, ctx, state, payload, len);
}

static void pyclass_drop(shim_pyclass *pc)
{
    pc->magic = 0;
    Py_XDECREF(pc->cls);
    Py_XDECREF(pc->handlers[0]);
    Py_XDECREF(pc->handlers[1]);
    free(pc);
}

int shim_pyclass_new(const char *name, PyObject *pyclass, PyObject *events, PyObject *requests,
                     int with_interrupt, actor_class **out)
{
    if (!name || !pyclass || !out || !events || !requests || !PyDict_Check(events) ||
        !PyDict_Check(requests))
        return ACTOR_EINVAL;
    shim_pyclass *pc = calloc(1, sizeof *pc);
    if (!pc)
        return ACTOR_ENOMEM;
    actor_class *c = NULL;
    int rc = actor_class_new(name, &c);
    if (rc != ACTOR_OK) {
        free(pc);
        return rc;
    }
    pc->magic = SHIM_CLASS_MAGIC;
    Py_INCREF(pyclass);
    pc->cls = pyclass;
    Py_INCREF(events);
    pc->handlers[0] = events;
    Py_INCREF(requests);
    pc->handlers[1] = requests;
    if ((rc = actor_class_set_userdata(c, pc)) != ACTOR_OK ||
        (rc = actor_class_on_init(c, py_init)) != ACTOR_OK ||
        (rc = actor_class_on_finalize(c, py_finalize)) != ACTOR_OK ||
        (rc = actor_class_on_fallback(c, py_fallback)) != ACTOR_OK ||
        (rc = actor_class_set_state_free(c, py_state_free)) != ACTOR_OK ||
        (rc = actor_class_set_state_size(c, sizeof(pystate))) != ACTOR_OK ||
        (with_interrupt && (rc = actor_class_on_interrupt(c, py_interrupt)) != ACTOR_OK)) {
        actor_class_free(c);
        pyclass_drop(pc);
        return rc;
    }
    *out = c;
    return ACTOR_OK;
}

int shim_pyclass_on(actor_class *c, const actor_msgtype *t, int request, PyObject *handler)
{
    shim_pyclass *pc = actor_class_userdata(c);
    if (!c || !t || !handler || !pc || pc->magic != SHIM_CLASS_MAGIC)
        return ACTOR_EINVAL;
    int rc = request ? actor_class_on_request(c, t, py_request)
                     : actor_class_on_event(c, t, py_event);
    if (rc != ACTOR_OK)
        return rc;
    PyObject *key = PyLong_FromVoidPtr((void *)t);
    if (!key || PyDict_SetItem(pc->handlers[request != 0], key, handler) < 0) {
        Py_XDECREF(key);
        PyErr_Clear();
        /* Not in use (the setter above succeeded): take the C side back. */
        if (request)
            (void)actor_class_on_request(c, t, NULL);
        else
            (void)actor_class_on_event(c, t, NULL);
        return ACTOR_ENOMEM;
    }
    Py_DECREF(key);
    return ACTOR_OK;
}

void shim_pyclass_discard(actor_class *c)
{
    shim_pyclass *pc = actor_class_userdata(c);
    if (!pc || pc->magic != SHIM_CLASS_MAGIC ||
        actor_class_set_userdata(c, NULL) != ACTOR_OK) /* in use: keep it */
        return;
    actor_class_free(c);
    pyclass_drop(pc);
}

int shim_spawn(actor_runtime *rt, actor_class *cls, PyObject *instance, actor_addr **out)
{
    pystate *st = NULL;
    if (instance && instance != Py_None) {
        st = calloc(1, sizeof *st);
        if (!st)
            return ACTOR_ENOMEM;
        st->magic = SHIM_STATE_MAGIC;
        Py_INCREF(instance);
        st->inst = instance;
    }
    /* With the GIL held: actor_spawn runs no user code (init runs on the
     * worker), and holding it keeps the Runtime object from freeing rt under
     * us (Runtime.close clears its pointer with the GIL before freeing). */
    int rc = actor_spawn(rt, cls, st, out);
    if (rc != ACTOR_OK && st) {
        Py_DECREF(st->inst);
        free(st);
    }
    return rc;
}
