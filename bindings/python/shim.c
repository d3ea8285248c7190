/*
 * The hand-written C part of the Python binding; see shim.h for the design.
 */
#define PY_SSIZE_T_CLEAN
#include "shim.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
        long long began = now_ms();
        Py_BEGIN_ALLOW_THREADS
        rc = fn(obj, slice);
        if (rc == ACTOR_ETIMEDOUT && slice > 10 && now_ms() - began < slice / 2) {
            /* An idle manual runtime (1.1) answers at once: wait a little
             * instead of spinning until another thread moves it. */
            struct timespec nap = {0, 10 * 1000000L};
            nanosleep(&nap, NULL);
        }
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
    /* The workers inherit this thread's signal mask: with the signals a
     * script handles blocked there (Python runs handlers on its main thread
     * only), a Ctrl-C or a SIGTERM sent to the process goes to a Python
     * thread and interrupts the main thread's waits, instead of landing on
     * a worker, where CPython's handler would only set a flag. */
    static const int script_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
                                         SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH};
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof script_signals / sizeof script_signals[0]; i++)
        sigaddset(&block, script_signals[i]);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    int masked = pthread_sigmask(SIG_BLOCK, &block, &old) == 0;
    rc = actor_runtime_new(threads, out);
    if (masked)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
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

/* Forks so far (the child's count is the parent's + 1; shim_fork_generation). */
static atomic_uint fork_gen;

unsigned shim_fork_generation(void)
{
    return atomic_load_explicit(&fork_gen, memory_order_relaxed);
}

/* A queue made before a fork, seen in the child: its mutex may be held by a
 * thread that exists only in the parent, and its fd is shared with the
 * parent. The child never touches it again (it is leaked there). */
#define CQ_INHERITED(q) ((q)->gen != shim_fork_generation())

struct shim_cq {
    unsigned gen;             /* shim_fork_generation() at creation */
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
    if (CQ_INHERITED(q))
        return; /* the parent's: leaked in the child */
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
    q->gen = shim_fork_generation();
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
    if (CQ_INHERITED(q))
        return ACTOR_ECLOSED;
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
    if (CQ_INHERITED(q))
        return NULL;
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
    if (!q || CQ_INHERITED(q))
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
        if (CQ_INHERITED(n->q)) {
            *pp = n->deferred_next; /* the parent's: its callback may never end here */
        } else if (all || atomic_load_explicit(&n->finished, memory_order_acquire)) {
            *pp = n->deferred_next;
            shim_responder_free(n->deferred_r, n);
        } else {
            pp = &n->deferred_next;
        }
    }
}

void shim_responder_release(actor_responder *r, shim_cqnode *n)
{
    /* Watched before a fork, in the child: a callback a parent's thread had
     * started would never end here, and freeing would wait for it. Leaked. */
    if (n && CQ_INHERITED(n->q))
        return;
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
static _Thread_local int tl_handler;       /* callbacks running on this thread */

/* The atexit shutdown: sends from other threads are refused from then on. */
static atomic_int g_exiting;
static pthread_t g_exit_thread; /* written before g_exiting is set */

typedef shim_py_token py_token;

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

int shim_py_enter(shim_py_token *t) { return py_enter(t); }
void shim_py_leave(shim_py_token *t) { py_leave(t); }
void shim_handler_enter(void) { tl_handler++; }
void shim_handler_leave(void) { tl_handler--; }
int shim_in_handler(void) { return tl_handler > 0; }

void shim_exit_begin(void)
{
    g_exit_thread = pthread_self();
    atomic_store_explicit(&g_exiting, 1, memory_order_release);
}

int shim_send_refused(void)
{
    return atomic_load_explicit(&g_exiting, memory_order_acquire) && tl_handler == 0 &&
           !pthread_equal(pthread_self(), g_exit_thread);
}

int shim_python_dying(int timeout_ms)
{
    long left;
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    pthread_mutex_lock(&alive_mu);
    py_alive = 0;
    pthread_mutex_unlock(&alive_mu);
    for (;;) {
        int slice = SHIM_SLICE_MS;
        if (deadline >= 0) {
            long long rest = deadline - now_ms();
            if (rest < slice)
                slice = rest > 0 ? (int)rest : 0;
        }
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&alive_mu);
        if (py_inflight > 0 && slice > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += slice / 1000;
            ts.tv_nsec += (long)(slice % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            while (py_inflight > 0 &&
                   pthread_cond_timedwait(&alive_cv, &alive_mu, &ts) != ETIMEDOUT)
                ;
        }
        left = py_inflight;
        pthread_mutex_unlock(&alive_mu);
        Py_END_ALLOW_THREADS
        if (left == 0 || slice == 0)
            break;
        if (PyErr_CheckSignals() < 0) { /* Ctrl-C: stop waiting */
            PyErr_Clear();
            break;
        }
    }
    return (int)left;
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

/* ---- fork ----
 * In the child only the forking thread exists. What other threads were
 * doing there is void: none of them is inside Python any more, the
 * deferred frees wait for callbacks that will never finish, and the
 * completion queues (their fds, mutexes) are the parent's (CQ_INHERITED).
 * alive_mu is held across the fork, so the child gets it in a known state. */
static void fork_prepare(void) { pthread_mutex_lock(&alive_mu); }
static void fork_parent(void) { pthread_mutex_unlock(&alive_mu); }

static void fork_child(void)
{
    atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
    py_inflight = 0;
    deferred_head = NULL; /* leaked: freeing would wait for the parent's threads */
    atomic_store_explicit(&g_exiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&alive_mu);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void fork_watch(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }
void shim_fork_watch(void) { pthread_once(&fork_once, fork_watch); }

/* ======================================================================== */
/* Python actors                                                            */
/* ======================================================================== */

/* Every Python actor class has the same C callbacks below. The C class's
 * user data (actor_class_userdata) is a shim_pyclass: a magic number, and the
 * class record once the class is registered (so that C can spawn it by name
 * with state NULL). Otherwise the C class holds nothing of Python: each
 * actor's state holds its instance and its class record, a tuple (class,
 * events, requests, responses, owner, ...) whose dicts map int(type pointer)
 * to the dispatcher's entry. The record's owner (a Python object) gives the C
 * class back (shim_pyclass_free) when the record dies: when the Python class
 * and every actor of it are gone. No callback of an actor runs after its
 * state_free, so none reads the shim_pyclass after that. */
#define SHIM_CLASS_MAGIC 0x50794373u /* "PyCs" */
#define SHIM_STATE_MAGIC 0x50794163u /* "PyAc": a state block we allocated */

enum { REC_CLASS = 0, REC_EVENTS, REC_REQUESTS, REC_RESPONSES, REC_MIN };

typedef struct shim_pyclass {
    uint32_t magic;
    PyObject *record; /* a strong reference once registered, else NULL */
} shim_pyclass;

static atomic_long pyclass_live;

long shim_pyclass_live(void) { return atomic_load_explicit(&pyclass_live, memory_order_relaxed); }

/* The state of a Python actor: its instance and its class record. A class
 * spawned by name with state NULL gets a zeroed block of this size from the
 * runtime (magic 0, instance made by init); shim_spawn passes a block of its
 * own (magic set). */
typedef struct pystate {
    uint32_t magic;
    PyObject *inst;
    PyObject *record;
} pystate;

static int record_ok(PyObject *rec)
{
    if (!rec || !PyTuple_CheckExact(rec) || PyTuple_GET_SIZE(rec) < REC_MIN)
        return 0;
    for (int k = REC_EVENTS; k <= REC_RESPONSES; k++)
        if (!PyDict_CheckExact(PyTuple_GET_ITEM(rec, k)))
            return 0;
    return 1;
}

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
        tl_handler++;
        res = PyObject_Vectorcall(g_dispatch, args, 5, NULL);
        tl_handler--;
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
    py_token gs;
    if (!st)
        return ACTOR_EINVAL;
    if (!py_enter(&gs))
        return ACTOR_ECLOSED;
    int code = ACTOR_EINVAL;
    if (!st->inst) {
        /* Spawned by name (state made by the runtime): only a registered
         * class can be, and it holds its record. */
        shim_pyclass *pc = pyclass_of(ctx);
        if (pc && pc->record && !st->record) {
            Py_INCREF(pc->record);
            st->record = pc->record;
            PyObject *inst =
                dispatch(SHIM_K_NEW, NULL, PyTuple_GET_ITEM(st->record, REC_CLASS), ctx, NULL);
            if (!inst)
                PyErr_WriteUnraisable(g_dispatch);
            else if (inst == Py_None)
                Py_DECREF(inst);
            else
                st->inst = inst;
        }
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
    if ((st->inst || st->record) && py_enter(&gs)) {
        Py_CLEAR(st->inst);
        Py_CLEAR(st->record); /* may give the C class back (its owner dies) */
        py_leave(&gs);
    }
    /* else: Python is gone; the instance is left to the dying interpreter. */
    if (st->magic == SHIM_STATE_MAGIC) {
        st->magic = 0;
        free(st);
    }
}

/* With the GIL: a new reference to the entry of type t in the record's table
 * of `kind` (0 events, 1 requests, 2 responses), or NULL (none; an error is
 * reported). */
static PyObject *handler_of(PyObject *record, int kind, const actor_msgtype *t)
{
    if (!record || !t)
        return NULL;
    PyObject *table = PyTuple_GET_ITEM(record, REC_EVENTS + kind);
    PyObject *key = PyLong_FromVoidPtr((void *)t);
    PyObject *entry = key ? PyDict_GetItemWithError(table, key) : NULL;
    Py_XDECREF(key);
    if (entry)
        Py_INCREF(entry); /* a handler may not drop it from under its own call */
    else if (PyErr_Occurred())
        PyErr_WriteUnraisable(g_dispatch);
    return entry;
}

/* The one event (kind SHIM_K_EVENT) and request (SHIM_K_REQUEST) handler of
 * every Python class: the type comes from the context, its handler from the
 * record's table. */
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
    PyObject *entry = handler_of(st->record, kind == SHIM_K_REQUEST, actor_ctx_msgtype(ctx));
    PyObject *bytes = NULL;
    if (!entry) {
        /* Cannot happen unless the tables were tampered with: as C would. */
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

/* A forwarded responder's outcome: dispatch(RESPONSE, inst, entry, ctx,
 * (status, reply bytes or None)). */
static void py_response(actor_ctx *ctx, void *state, const actor_msgtype *t, int status,
                        const void *reply, size_t len)
{
    pystate *st = state;
    py_token gs;
    if (!st || !st->inst || !py_enter(&gs))
        return;
    PyObject *entry = handler_of(st->record, 2, t);
    PyObject *extra = NULL;
    if (entry) {
        if (status == ACTOR_OK)
            extra = Py_BuildValue("(iy#)", status, len ? (const char *)reply : "",
                                  (Py_ssize_t)len);
        else
            extra = Py_BuildValue("(iO)", status, Py_None);
        if (extra)
            code_of(dispatch(SHIM_K_RESPONSE, st->inst, entry, ctx, extra), 0);
        else
            PyErr_WriteUnraisable(g_dispatch);
    }
    Py_XDECREF(extra);
    Py_XDECREF(entry);
    py_leave(&gs);
}

int shim_pyclass_new(const char *name, int with_interrupt, actor_class **out)
{
    if (!name || !out)
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
    if ((rc = actor_class_set_userdata(c, pc)) != ACTOR_OK ||
        (rc = actor_class_on_init(c, py_init)) != ACTOR_OK ||
        (rc = actor_class_on_finalize(c, py_finalize)) != ACTOR_OK ||
        (rc = actor_class_on_fallback(c, py_fallback)) != ACTOR_OK ||
        (rc = actor_class_set_state_free(c, py_state_free)) != ACTOR_OK ||
        (rc = actor_class_set_state_size(c, sizeof(pystate))) != ACTOR_OK ||
        (with_interrupt && (rc = actor_class_on_interrupt(c, py_interrupt)) != ACTOR_OK)) {
        actor_class_free(c);
        pc->magic = 0;
        free(pc);
        return rc;
    }
    atomic_fetch_add_explicit(&pyclass_live, 1, memory_order_relaxed);
    *out = c;
    return ACTOR_OK;
}

static shim_pyclass *pyclass_get(actor_class *c)
{
    shim_pyclass *pc = c ? actor_class_userdata(c) : NULL;
    return pc && pc->magic == SHIM_CLASS_MAGIC ? pc : NULL;
}

int shim_pyclass_on(actor_class *c, const actor_msgtype *t, int kind)
{
    if (!pyclass_get(c) || !t)
        return ACTOR_EINVAL;
    switch (kind) {
    case 0: return actor_class_on_event(c, t, py_event);
    case 1: return actor_class_on_request(c, t, py_request);
    case 2: return actor_class_on_response(c, t, py_response);
    default: return ACTOR_EINVAL;
    }
}

int shim_pyclass_register(actor_class *c, PyObject *record)
{
    shim_pyclass *pc = pyclass_get(c);
    if (!pc || !record_ok(record))
        return ACTOR_EINVAL;
    int rc = actor_class_register(c);
    if (rc == ACTOR_OK) {
        Py_INCREF(record);
        Py_XSETREF(pc->record, record); /* kept for the process, as the registry keeps c */
    }
    return rc;
}

void shim_pyclass_free(actor_class *c)
{
    shim_pyclass *pc = pyclass_get(c);
    if (!pc)
        return;
    /* A registered class holds its record, whose owner calls this: never here
     * for one. No callback reads pc once every actor's state is freed. */
    pc->magic = 0;
    Py_CLEAR(pc->record);
    free(pc);
    atomic_fetch_sub_explicit(&pyclass_live, 1, memory_order_relaxed);
    actor_class_free(c);
}

int shim_spawn(actor_runtime *rt, actor_class *cls, PyObject *instance, PyObject *record,
               actor_addr **out)
{
    pystate *st = NULL;
    if ((!instance || instance == Py_None) && (!record || record == Py_None))
        return actor_spawn(rt, cls, NULL, out); /* by name: C, or a registered class */
    if (!record_ok(record) || !pyclass_get(cls))
        return ACTOR_EINVAL;
    st = calloc(1, sizeof *st);
    if (!st)
        return ACTOR_ENOMEM;
    st->magic = SHIM_STATE_MAGIC;
    if (instance && instance != Py_None) {
        Py_INCREF(instance);
        st->inst = instance;
    }
    Py_INCREF(record);
    st->record = record;
    /* With the GIL held: actor_spawn runs no user code (init runs on the
     * worker), and holding it keeps the Runtime object from freeing rt under
     * us (Runtime.close clears its pointer with the GIL before freeing). */
    int rc = actor_spawn(rt, cls, st, out);
    if (rc != ACTOR_OK) {
        Py_XDECREF(st->inst);
        Py_DECREF(st->record);
        free(st);
    }
    return rc;
}

/* ======================================================================== */
/* 1.1: time, flow, failure, composition                                    */
/* ======================================================================== */

int shim_runtime_new_manual(unsigned long long seed, actor_runtime **out)
{
    return actor_runtime_new_manual((uint64_t)seed, out);
}

int shim_runtime_step(actor_runtime *rt)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = actor_runtime_step(rt);
    Py_END_ALLOW_THREADS
    return rc;
}

long long shim_runtime_run(actor_runtime *rt, long long max_messages)
{
    size_t ran = 0;
    int rc;
    size_t max = max_messages < 0 ? SIZE_MAX : (size_t)max_messages;
    Py_BEGIN_ALLOW_THREADS
    rc = actor_runtime_run(rt, max, &ran);
    Py_END_ALLOW_THREADS
    return rc != ACTOR_OK ? rc : (long long)ran;
}

int shim_runtime_advance(actor_runtime *rt, unsigned long long ms)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = actor_runtime_advance(rt, (uint64_t)ms);
    Py_END_ALLOW_THREADS
    return rc;
}

int shim_addr_send_wait(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                        int timeout_ms)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = addr_send_wait(a, t, payload, len, timeout_ms);
    Py_END_ALLOW_THREADS
    return rc;
}

struct shim_room {
    int fd;          /* eventfd, nonblocking */
    atomic_int refs; /* the owner's + the callback's */
};

static void room_unref(shim_room *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
        close(w->fd);
        free(w);
    }
}

/* addr_on_room's callback: any thread (a worker, usually), no GIL. */
static void room_ready(actor_addr *a, void *arg)
{
    (void)a;
    shim_room *w = arg;
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(w->fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    room_unref(w);
}

int shim_room_watch(actor_addr *a, shim_room **out)
{
    if (a == NULL || out == NULL)
        return ACTOR_EINVAL;
    shim_room *w = malloc(sizeof *w);
    if (w == NULL)
        return ACTOR_ENOMEM;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0) {
        free(w);
        return ACTOR_ENOMEM;
    }
    atomic_init(&w->refs, 2);
    int rc = addr_on_room(a, room_ready, w);
    if (rc != ACTOR_OK) {
        close(w->fd);
        free(w);
        return rc;
    }
    *out = w;
    return ACTOR_OK;
}

int shim_room_fd(shim_room *w) { return w != NULL ? w->fd : -1; }

void shim_room_close(shim_room *w)
{
    if (w != NULL)
        room_unref(w);
}

#define STAT(d, s, f)                                                                          \
    do {                                                                                       \
        PyObject *v_ = PyLong_FromUnsignedLongLong((unsigned long long)(s).f);                 \
        if (!v_ || PyDict_SetItemString(d, #f, v_) < 0) {                                      \
            Py_XDECREF(v_);                                                                    \
            Py_DECREF(d);                                                                      \
            return NULL;                                                                       \
        }                                                                                      \
        Py_DECREF(v_);                                                                         \
    } while (0)

PyObject *shim_addr_stats(actor_addr *a)
{
    actor_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    if (addr_stats(a, &s) != ACTOR_OK)
        Py_RETURN_NONE;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    STAT(d, s, received);
    STAT(d, s, handled);
    STAT(d, s, dropped);
    STAT(d, s, rejected);
    STAT(d, s, expired);
    STAT(d, s, queued);
    STAT(d, s, queued_peak);
    STAT(d, s, restarts);
    STAT(d, s, canceled);
    return d;
}

PyObject *shim_runtime_stats(actor_runtime *rt)
{
    actor_runtime_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    if (actor_runtime_stats_get(rt, &s) != ACTOR_OK)
        Py_RETURN_NONE;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    STAT(d, s, actors_live);
    STAT(d, s, actors_spawned);
    STAT(d, s, messages_handled);
    STAT(d, s, wakeups);
    STAT(d, s, migrations);
    STAT(d, s, threads);
    return d;
}
#undef STAT

PyObject *shim_addr_exit_reason(actor_addr *a)
{
    int reason = 0;
    int rc = addr_exit_reason(a, &reason);
    if (rc == ACTOR_OK)
        return Py_BuildValue("(ii)", rc, reason);
    return Py_BuildValue("(iO)", rc, Py_None);
}

PyObject *shim_publish(actor_runtime *rt, const char *subject, const actor_msgtype *t,
                       const void *payload, size_t len)
{
    size_t n = 0;
    int rc;
    /* Without the GIL: a delivery may run the dead-letter hook, which takes it. */
    Py_BEGIN_ALLOW_THREADS
    rc = actor_publish(rt, subject, t, payload, len, &n);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(in)", rc, (Py_ssize_t)n);
}

static void py_dead_letter(void *ud, actor_addr *to, const actor_msgtype *t, const void *payload,
                           size_t len, int why)
{
    py_token gs;
    if (!ud || !py_enter(&gs))
        return;
    PyObject *a = to ? shim_addr_obj(addr_ref(to)) : (Py_INCREF(Py_None), Py_None);
    const char *name = actor_msgtype_name(t);
    PyObject *res = NULL;
    if (a)
        res = PyObject_CallFunction((PyObject *)ud, "Osy#i", a, name ? name : "",
                                    len ? (const char *)payload : "", (Py_ssize_t)len, why);
    if (!res)
        PyErr_WriteUnraisable((PyObject *)ud);
    Py_XDECREF(res);
    Py_XDECREF(a);
    py_leave(&gs);
}

int shim_runtime_on_dead_letter(actor_runtime *rt, PyObject *fn)
{
    if (!rt || !fn || !PyCallable_Check(fn))
        return ACTOR_EINVAL;
    actor_hooks h;
    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    h.ud = fn;
    h.dead_letter = py_dead_letter;
    int rc = actor_runtime_set_hooks(rt, &h);
    if (rc == ACTOR_OK)
        Py_INCREF(fn); /* kept for the process: a hook may run until the runtime is freed */
    return rc;
}

int shim_supervisor_spawn(actor_runtime *rt, int strategy, unsigned intensity,
                          unsigned period_ms, unsigned backoff_ms, unsigned backoff_max_ms,
                          actor_addr **out)
{
    actor_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.strategy = strategy;
    s.intensity = intensity;
    s.period_ms = period_ms;
    s.backoff_ms = backoff_ms;
    s.backoff_max_ms = backoff_max_ms;
    return actor_supervisor_spawn(rt, &s, out);
}

int shim_supervisor_start_supervisor(actor_addr *sup, int strategy, unsigned intensity,
                                     unsigned period_ms, unsigned backoff_ms,
                                     unsigned backoff_max_ms, int restart, actor_addr **out)
{
    actor_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.strategy = strategy;
    s.intensity = intensity;
    s.period_ms = period_ms;
    s.backoff_ms = backoff_ms;
    s.backoff_max_ms = backoff_max_ms;
    return actor_supervisor_start_supervisor(sup, &s, restart, out);
}

int shim_pool_spawn(actor_runtime *rt, actor_class *cls, unsigned members, int route,
                    size_t key_offset, size_t key_len, actor_addr **out)
{
    actor_pool_spec s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.cls = cls;
    s.members = members;
    s.route = route;
    s.key_offset = key_offset;
    s.key_len = key_len;
    return actor_pool_spawn(rt, &s, out);
}

int shim_pyclass_keep(actor_class *c, PyObject *record)
{
    shim_pyclass *pc = pyclass_get(c);
    if (!pc || !record_ok(record))
        return ACTOR_EINVAL;
    if (!pc->record) {
        Py_INCREF(record);
        pc->record = record; /* kept for the process (a cycle through the owner) */
    }
    return ACTOR_OK;
}

static void py_down(actor_ctx *ctx, void *state, actor_addr *who, int reason)
{
    pystate *st = state;
    py_token gs;
    if (!st || !st->inst || !py_enter(&gs))
        return;
    PyObject *w = shim_addr_obj(addr_ref(who));
    PyObject *r = PyLong_FromLong(reason);
    if (w && r)
        code_of(dispatch(SHIM_K_DOWN, st->inst, r, ctx, w), 0);
    else
        PyErr_WriteUnraisable(g_dispatch);
    Py_XDECREF(w);
    Py_XDECREF(r);
    py_leave(&gs);
}

static int py_any_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    pystate *st = state;
    py_token gs;
    if (!st || !st->inst || !py_enter(&gs))
        return ACTOR_ECLOSED;
    const char *name = actor_msgtype_name(actor_ctx_msgtype(ctx));
    PyObject *n = PyUnicode_FromString(name ? name : "");
    PyObject *b = PyBytes_FromStringAndSize(len ? payload : "", (Py_ssize_t)len);
    int code = ACTOR_ENOMEM;
    if (n && b)
        code = code_of(dispatch(SHIM_K_ANY, st->inst, n, ctx, b), ACTOR_EHANDLER);
    else
        PyErr_WriteUnraisable(g_dispatch);
    Py_XDECREF(n);
    Py_XDECREF(b);
    py_leave(&gs);
    return code;
}

int shim_pyclass_on_down(actor_class *c)
{
    return pyclass_get(c) ? actor_class_on_down(c, py_down) : ACTOR_EINVAL;
}

int shim_pyclass_on_any_event(actor_class *c)
{
    return pyclass_get(c) ? actor_class_on_any_event(c, py_any_event) : ACTOR_EINVAL;
}
