/*
 * The asyncio fast path of the Python binding (README, "The completion path").
 *
 * - actor._core.ResponderBase: the C part of actor.Responder. A responder is
 *   an asyncio future (asyncio.isfuture is true: _asyncio_future_blocking,
 *   get_loop, add_done_callback, remove_done_callback, done, cancelled,
 *   cancel, result, exception), so asyncio.gather / wait / wait_for / shield
 *   use it as it is, without a Task per request. It binds lazily to the
 *   running loop on first use. result(timeout) still blocks outside asyncio.
 * - actor._core.AioQueue: the completion queue of one event loop (shim_cq:
 *   an eventfd and a list appended by C threads without the GIL). Its
 *   reader callback (_drain) takes the list and runs the done callbacks of
 *   the completed responders there and then; responders found complete when
 *   a callback is added (or cancelled) go to a ready list run by one
 *   loop.call_soon(_flush) per batch. Either way a callback never runs
 *   inside add_done_callback or cancel, always from the loop, in its
 *   context, with the responder as its argument; an exception it raises goes
 *   to the loop's exception handler, as from a loop Handle.
 * - Address.ask in C (a method descriptor installed on the Python class):
 *   type resolution (MsgType, or a name through the registry's dict), packing
 *   with the type's bound Struct.pack, addr_interact, a new Responder.
 *
 * Cancellation: cancel() on a pending responder cancels the asyncio wait,
 * never the request (libactor cannot withdraw one) and never frees anything:
 * the responder is then done and cancelled for asyncio, for good (result()
 * and exception() raise CancelledError, its callbacks run, `await` raises
 * CancelledError again), as an asyncio future stays done. again() gives a
 * fresh responder that takes the request over (a successor: the cancelled
 * one keeps a reference to it and reports its status).
 *
 * A pending request is waited for in one event loop at a time: a responder
 * watched by one loop refuses another loop (RuntimeError), and one watched
 * from inside an actor's callback is refused (Deadlock: the event loop would
 * block the worker that has to run the answer).
 *
 * then(fn): fn(responder) runs on the thread that completes the request
 * (with the GIL, like an actor callback), or at once if it is complete. Its
 * C callback (the "hub") holds a reference to the responder until it ran. A
 * responder has one C completion callback: the hub, the asyncio watch, or a
 * forward. An asyncio wait on a responder with a hub is told by the hub
 * (loop.call_soon_threadsafe); then() on one the asyncio watch has is
 * refused while it is pending, as forward() is on either.
 *
 * Lifetimes: a responder with callbacks waiting for its C completion is
 * registered with its queue (the queue holds a reference), so that awaiting
 * tasks stay alive as long as the request is pending; the watch node points
 * back at the responder (a borrowed pointer, cleared when it is freed), all
 * under the GIL. A queue holds its loop weakly.
 */
#define PY_SSIZE_T_CLEAN
#include "shim.h"

#include <limits.h>
#include <string.h>
#include <pthread.h>
#include <structmember.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Configuration (aio_setup, once at import)                                */
/* ------------------------------------------------------------------------ */

static struct {
    int ready;
    shim_get_ptr_fn get_ptr;
    shim_new_ptr_fn new_ptr;
    PyTypeObject *resp_type;    /* actor.Responder (a subclass of ResponderBase) */
    PyTypeObject *msgtype;      /* actor.MsgType */
    Py_ssize_t mt_ptr, mt_fpack, mt_funpack, mt_rmode, mt_fcodes; /* its slots */
    Py_ssize_t addr_ptr;        /* the slot Address._ptr */
    PyObject *by_name;          /* name -> MsgType */
    PyObject *resolve;          /* resolve(t) -> MsgType */
    PyObject *addr_error;       /* addr_error(rc, "ask", mt) -> exception */
    PyObject *outcome_error;    /* outcome_error(resp, status) -> exception */
    PyObject *wait;             /* wait(resp, timeout) -> value (blocking result) */
    PyObject *queue_for;        /* queue_for(loop) -> AioQueue */
    PyObject *callback_failed;  /* callback_failed(loop, fn, resp, exc) */
    PyObject *closed;           /* actor.Closed */
    PyObject *invalid;          /* actor.InvalidArgument */
    PyObject *running_loop;     /* asyncio.events._get_running_loop */
    PyObject *event_loop;       /* asyncio.get_event_loop */
    PyObject *cancelled_error;  /* asyncio.CancelledError */
    PyObject *deadlock;         /* actor.Deadlock */
    PyObject *then_failed;      /* then_failed(fn, resp): logs the exception set */
    PyObject *last_queue;       /* a weak reference to the queue found last, or NULL */
} A;

static PyObject *s_call_soon, *s_flush, *s_run, *s_pack, *s_payload, *s_reply,
    *s_unpack_value, *s_ptr, *kw_context, *s_call_soon_threadsafe, *s_deliver, *s_closed;

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* ---- the running loop, without a system call ----
 * CPython 3.11's _get_running_loop() calls getpid() every time (to notice a
 * fork), ~0.2 us here, and a responder asks for the loop at every
 * add_done_callback. So the loop found last is kept (weakly) and reused
 * while its _thread_id (set by asyncio's BaseEventLoop, and uvloop, only
 * while it runs) is this thread: one loop at most runs in a thread, so it
 * is the running one. Otherwise (another loop, none, a loop without
 * _thread_id) _get_running_loop() decides. A fork drops the cache. */
static PyObject *rl_ref;          /* weak reference to the loop found last, or NULL */
static PyObject *s_thread_id;
static volatile int rl_forked;    /* set in a forked child */

static void rl_atfork_child(void) { rl_forked = 1; }

static PyObject *weak_get(PyObject *ref);

/* A new reference to the running loop, or None. */
static PyObject *running_loop(void)
{
    if (rl_forked) {
        rl_forked = 0;
        Py_CLEAR(rl_ref);
    }
    if (rl_ref) {
        PyObject *loop = weak_get(rl_ref);
        if (loop != Py_None) {
            Py_INCREF(loop);
            PyObject *tid = PyObject_GetAttr(loop, s_thread_id);
            int same = 0;
            if (tid && PyLong_CheckExact(tid)) {
                unsigned long v = PyLong_AsUnsignedLong(tid);
                same = v == PyThread_get_thread_ident();
            }
            Py_XDECREF(tid);
            if (PyErr_Occurred())
                PyErr_Clear();
            if (same)
                return loop;
            Py_DECREF(loop);
        }
    }
    PyObject *loop = PyObject_CallNoArgs(A.running_loop);
    if (loop && loop != Py_None) {
        PyObject *ref = PyWeakref_NewRef(loop, NULL);
        if (ref)
            Py_XSETREF(rl_ref, ref);
        else
            PyErr_Clear();
    }
    return loop;
}

static PyObject *weak_get(PyObject *ref) { return PyWeakref_GetObject(ref); }

typedef struct {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc;
#else
    PyObject *t, *v, *tb;
#endif
} saved_exc;

static void exc_save(saved_exc *s)
{
#if PY_VERSION_HEX >= 0x030C0000
    s->exc = PyErr_GetRaisedException();
#else
    PyErr_Fetch(&s->t, &s->v, &s->tb);
#endif
}

static void exc_restore(saved_exc *s)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(s->exc);
#else
    PyErr_Restore(s->t, s->v, s->tb);
#endif
}

/* ------------------------------------------------------------------------ */
/* Objects                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct aio_queue aio_queue;
typedef struct aio_resp aio_resp;

struct aio_resp {
    PyObject_HEAD
    actor_responder *r;    /* NULL only if allocation half failed */
    PyObject *mt;          /* its MsgType */
    aio_queue *q;          /* bound: the queue of its loop, or NULL */
    shim_cqnode *node;     /* watch node (on the queue it was watched by), or NULL */
    PyObject *cb, *ctx;    /* the first done callback and its context */
    PyObject *more;        /* a list of further (callback, context), or NULL */
    PyObject *cancel_msg;  /* cancel(msg), or NULL */
    PyObject *weaklist;
    aio_resp *prev, *next; /* in q's registry */
    char registered;       /* in q's registry (a reference): waits for C */
    char queued;           /* in q's ready list (a reference): to be delivered */
    char cancelled;        /* cancelled for asyncio */
    char blocking;         /* _asyncio_future_blocking */
    char hub;              /* then(): 0 none, 1 the hub waits for C, 2 it ran */
    char forwarded;        /* r was consumed by forward() */
    int busy;              /* threads waiting on r with the GIL released */
    unsigned gen;          /* shim_fork_generation() at the ask */
    PyObject *then_cbs;    /* a list of then() callbacks not run yet, or NULL */
    aio_resp *successor;   /* again(): the responder that took r over (strong) */
    aio_resp *hub_root;    /* while hub == 1 on a successor: the responder whose hub
                              waits (kept alive by the hub); NULL on that one */
};

struct aio_queue {
    PyObject_HEAD
    shim_cq *cq;
    PyObject *loopref;  /* weak reference to the loop */
    PyObject *ready;    /* list of responders to deliver at the next flush, or NULL */
    aio_resp *reg;      /* registry head */
    char flush_scheduled;
    PyObject *weaklist;
};

static PyTypeObject Resp_Type;
static PyTypeObject Queue_Type;
static void resp_maybe_untrack(aio_resp *r);

static int resp_status(const aio_resp *r)
{
    while (!r->r && r->successor)
        r = r->successor;
    return r->r ? actor_responder_status(r->r) : ACTOR_EINVAL;
}

/* A request made before a fork, seen in the child: nobody there answers it. */
static int resp_inherited(const aio_resp *r)
{
    return r->gen != shim_fork_generation();
}

/* Raises the exception of a wait that cannot be: inherited through fork,
 * or inside an actor's callback. 0 if the wait may go on. */
static int resp_wait_refused(const aio_resp *r)
{
    if (resp_inherited(r)) {
        PyErr_SetString(A.closed, "this request was made by the parent process (before "
                                  "fork()): nobody in this process answers it");
        return -1;
    }
    if (shim_in_handler()) {
        PyErr_SetString(A.deadlock,
                        "cannot wait for a reply inside an actor's callback (an event loop "
                        "there blocks the worker the answer may need): forward the responder "
                        "(responder.forward(ctx) and @actor.on_response) or use "
                        "responder.then(fn)");
        return -1;
    }
    return 0;
}

static int resp_done(const aio_resp *r)
{
    return r->cancelled || resp_status(r) != ACTOR_EAGAIN;
}

/* The loop r is bound to (borrowed), or NULL (unbound, or that loop is gone). */
static PyObject *resp_loop(const aio_resp *r)
{
    if (!r->q)
        return NULL;
    PyObject *l = weak_get(r->q->loopref);
    return l == Py_None ? NULL : l;
}

/* ---- the registry and the ready list (GIL) ---- */

static void q_register(aio_queue *q, aio_resp *r)
{
    Py_INCREF(r);
    r->prev = NULL;
    r->next = q->reg;
    if (q->reg)
        q->reg->prev = r;
    q->reg = r;
    r->registered = 1;
}

/* Drops the registry's reference: r may be freed unless the caller holds one. */
static void q_unregister(aio_resp *r)
{
    aio_queue *q = r->q;
    if (r->prev)
        r->prev->next = r->next;
    else
        q->reg = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->registered = 0;
    Py_DECREF(r);
}

static int q_schedule(aio_queue *q)
{
    if (q->flush_scheduled)
        return 0;
    PyObject *loop = q->loopref ? weak_get(q->loopref) : Py_None;
    if (loop == Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "the event loop of this Responder is gone");
        return -1;
    }
    Py_INCREF(loop);
    PyObject *flush = PyObject_GetAttr((PyObject *)q, s_flush);
    PyObject *res = flush ? PyObject_CallMethodOneArg(loop, s_call_soon, flush) : NULL;
    Py_XDECREF(flush);
    Py_DECREF(loop);
    if (!res)
        return -1;
    Py_DECREF(res);
    q->flush_scheduled = 1;
    return 0;
}

/* Queues r (done, neither registered nor queued) for the next flush. */
static int q_enqueue(aio_queue *q, aio_resp *r)
{
    if (q_schedule(q) < 0)
        return -1;
    if (!q->ready && !(q->ready = PyList_New(0)))
        return -1;
    if (PyList_Append(q->ready, (PyObject *)r) < 0)
        return -1;
    r->queued = 1;
    return 0;
}

/* ---- running callbacks ---- */

static void report_failure(aio_queue *q, aio_resp *r, PyObject *fn)
{
    saved_exc s;
    PyObject *exc;
#if PY_VERSION_HEX >= 0x030C0000
    exc_save(&s);
    exc = s.exc;
#else
    exc_save(&s);
    PyErr_NormalizeException(&s.t, &s.v, &s.tb);
    if (s.tb && s.v)
        PyException_SetTraceback(s.v, s.tb);
    exc = s.v;
#endif
    PyObject *loop = weak_get(q->loopref);
    PyObject *res = NULL;
    if (exc) {
        PyObject *args[4] = {loop, fn, (PyObject *)r, exc};
        res = PyObject_Vectorcall(A.callback_failed, args, 4, NULL);
    }
    if (!res)
        PyErr_WriteUnraisable(fn);
    Py_XDECREF(res);
#if PY_VERSION_HEX >= 0x030C0000
    Py_XDECREF(s.exc);
#else
    Py_XDECREF(s.t);
    Py_XDECREF(s.v);
    Py_XDECREF(s.tb);
#endif
}

/* Calls fn(r) in context ctx. 0, or -1 with SystemExit or KeyboardInterrupt
 * set (anything else is reported to the loop's exception handler). */
static int run_cb(aio_queue *q, aio_resp *r, PyObject *fn, PyObject *ctx)
{
    PyObject *res;
    if (PyContext_CheckExact(ctx)) {
        if (PyContext_Enter(ctx) < 0) {
            res = NULL;
        } else {
            res = PyObject_CallOneArg(fn, (PyObject *)r);
            saved_exc s;
            exc_save(&s);
            if (PyContext_Exit(ctx) < 0)
                PyErr_WriteUnraisable(ctx);
            exc_restore(&s);
        }
    } else {
        res = PyObject_CallMethodObjArgs(ctx, s_run, fn, (PyObject *)r, NULL);
    }
    if (res) {
        Py_DECREF(res);
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_SystemExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
        return -1;
    report_failure(q, r, fn);
    return 0;
}

/* After a SystemExit/KeyboardInterrupt: fn goes to loop.call_soon, as a
 * Future would have scheduled it. No exception is set on entry. */
static void resched(aio_queue *q, aio_resp *r, PyObject *fn, PyObject *ctx)
{
    PyObject *loop = weak_get(q->loopref);
    if (loop == Py_None)
        return;
    PyObject *args[4] = {loop, fn, (PyObject *)r, ctx};
    PyObject *res = PyObject_VectorcallMethod(s_call_soon, args, 3, kw_context);
    if (!res)
        PyErr_WriteUnraisable(fn);
    Py_XDECREF(res);
}

/* Runs (and drops) every callback r has now. The caller holds a reference
 * to r. 0, or -1 with SystemExit/KeyboardInterrupt set (the callbacks not
 * run yet are scheduled with loop.call_soon). */
static int deliver(aio_queue *q, aio_resp *r)
{
    PyObject *cb = r->cb, *ctx = r->ctx, *more = r->more;
    r->cb = r->ctx = r->more = NULL;
    int rc = 0;
    saved_exc s;
    if (cb) {
        if ((rc = run_cb(q, r, cb, ctx)) < 0)
            exc_save(&s);
        Py_DECREF(cb);
        Py_DECREF(ctx);
    }
    if (more) {
        Py_ssize_t n = PyList_GET_SIZE(more);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyList_GET_ITEM(more, i);
            PyObject *fn = PyTuple_GET_ITEM(item, 0), *c = PyTuple_GET_ITEM(item, 1);
            if (rc == 0) {
                if ((rc = run_cb(q, r, fn, c)) < 0)
                    exc_save(&s);
            } else {
                resched(q, r, fn, c);
            }
        }
        Py_DECREF(more);
    }
    resp_maybe_untrack(r);
    if (rc < 0)
        exc_restore(&s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* AioQueue                                                                 */
/* ------------------------------------------------------------------------ */

static PyObject *q_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    PyObject *loop;
    static char *kwlist[] = {"loop", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:AioQueue", kwlist, &loop))
        return NULL;
    aio_queue *q = (aio_queue *)type->tp_alloc(type, 0);
    if (!q)
        return NULL;
    if (!(q->loopref = PyWeakref_NewRef(loop, NULL)) || !(q->cq = shim_cq_new())) {
        Py_DECREF(q);
        return NULL;
    }
    return (PyObject *)q;
}

static int q_traverse(aio_queue *q, visitproc visit, void *arg)
{
    Py_VISIT(q->loopref);
    Py_VISIT(q->ready);
    for (aio_resp *r = q->reg; r; r = r->next)
        Py_VISIT((PyObject *)r);
    return 0;
}

static int q_clear(aio_queue *q)
{
    while (q->reg)
        q_unregister(q->reg);
    PyObject *ready = q->ready;
    q->ready = NULL;
    if (ready) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ready); i++)
            ((aio_resp *)PyList_GET_ITEM(ready, i))->queued = 0;
        Py_DECREF(ready);
    }
    return 0;
}

static void q_dealloc(aio_queue *q)
{
    PyObject_GC_UnTrack(q);
    if (q->weaklist)
        PyObject_ClearWeakRefs((PyObject *)q);
    q_clear(q);
    Py_CLEAR(q->loopref);
    if (q->cq) {
        shim_cq_close(q->cq);
        q->cq = NULL;
    }
    Py_TYPE(q)->tp_free((PyObject *)q);
}

/* The loop's reader callback: runs the callbacks of every responder
 * completed since the last time. */
static PyObject *q_drain(aio_queue *q, PyObject *unused)
{
    (void)unused;
    if (!q->cq)
        Py_RETURN_NONE;
    shim_responder_reap(0);
    shim_cqnode *n = shim_cq_take(q->cq);
    int failed = 0;
    saved_exc s;
    while (n) {
        shim_cqnode *next = shim_cqnode_next(n);
        aio_resp *r = shim_cqnode_owner(n);
        if (r && r->registered && r->q == q) {
            Py_INCREF(r);
            q_unregister(r);
            if (!failed) {
                if (deliver(q, r) < 0) {
                    failed = 1;
                    exc_save(&s);
                }
            } else if (q_enqueue(q, r) < 0) { /* for the next flush */
                PyErr_WriteUnraisable((PyObject *)q);
            }
            Py_DECREF(r);
        }
        shim_cqnode_release(n);
        n = next;
    }
    if (failed) {
        exc_restore(&s);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* loop.call_soon'ed: delivers the responders of the ready list. */
static PyObject *q_flush(aio_queue *q, PyObject *unused)
{
    (void)unused;
    q->flush_scheduled = 0;
    PyObject *ready = q->ready;
    q->ready = NULL;
    if (!ready)
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(ready), i;
    for (i = 0; i < n; i++) {
        aio_resp *r = (aio_resp *)PyList_GET_ITEM(ready, i);
        r->queued = 0;
        if (deliver(q, r) < 0)
            break;
    }
    if (i < n) { /* SystemExit/KeyboardInterrupt: the rest at the next flush */
        saved_exc s;
        exc_save(&s);
        for (Py_ssize_t j = i + 1; j < n; j++) {
            aio_resp *r = (aio_resp *)PyList_GET_ITEM(ready, j);
            r->queued = 0;
            if (q_enqueue(q, r) < 0)
                PyErr_WriteUnraisable((PyObject *)q);
        }
        exc_restore(&s);
        Py_DECREF(ready);
        return NULL;
    }
    Py_DECREF(ready);
    Py_RETURN_NONE;
}

/* loop.call_soon_threadsafe'd by a then() hub (aio_hub) once the request is
 * complete: delivers r if it still waits in this queue. */
static PyObject *q_deliver(aio_queue *q, PyObject *arg)
{
    if (!PyObject_TypeCheck(arg, &Resp_Type))
        Py_RETURN_NONE;
    aio_resp *r = (aio_resp *)arg;
    if (!r->registered || r->q != q)
        Py_RETURN_NONE;
    Py_INCREF(r);
    q_unregister(r);
    int rc = deliver(q, r);
    Py_DECREF(r);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *q_get_fd(aio_queue *q, void *c)
{
    (void)c;
    return PyLong_FromLong(shim_cq_fd(q->cq));
}

static PyObject *q_get_loop(aio_queue *q, void *c)
{
    (void)c;
    PyObject *l = q->loopref ? weak_get(q->loopref) : Py_None;
    Py_INCREF(l);
    return l;
}

static PyObject *q_get_pending(aio_queue *q, void *c)
{
    (void)c;
    long n = 0;
    for (aio_resp *r = q->reg; r; r = r->next)
        n++;
    return PyLong_FromLong(n);
}

static PyMethodDef q_methods[] = {
    {"_drain", (PyCFunction)q_drain, METH_NOARGS,
     "The loop's reader callback: runs the callbacks of the completed responders."},
    {"_flush", (PyCFunction)q_flush, METH_NOARGS,
     "Runs the callbacks of the responders found complete (or cancelled)."},
    {"_deliver", (PyCFunction)q_deliver, METH_O,
     "Runs the callbacks of one responder completed under a then() hub."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef q_getset[] = {
    {"fd", (getter)q_get_fd, NULL, "The eventfd the loop watches.", NULL},
    {"loop", (getter)q_get_loop, NULL, "The event loop (None once gone).", NULL},
    {"pending", (getter)q_get_pending, NULL,
     "How many responders wait here for their C completion.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject Queue_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "actor._core.AioQueue",
    .tp_doc = "The completion queue of one event loop (actor._runtime makes one per loop).",
    .tp_basicsize = sizeof(aio_queue),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = q_new,
    .tp_dealloc = (destructor)q_dealloc,
    .tp_traverse = (traverseproc)q_traverse,
    .tp_clear = (inquiry)q_clear,
    .tp_weaklistoffset = offsetof(aio_queue, weaklist),
    .tp_methods = q_methods,
    .tp_getset = q_getset,
};

/* The queue of `loop`, made (and its reader added) on first use. */
static aio_queue *queue_for(PyObject *loop)
{
    if (A.last_queue) {
        PyObject *q = weak_get(A.last_queue);
        if (q != Py_None && ((aio_queue *)q)->loopref &&
            weak_get(((aio_queue *)q)->loopref) == loop) {
            Py_INCREF(q);
            return (aio_queue *)q;
        }
    }
    PyObject *q = PyObject_CallOneArg(A.queue_for, loop);
    if (!q)
        return NULL;
    if (!Py_IS_TYPE(q, &Queue_Type)) {
        Py_DECREF(q);
        PyErr_SetString(PyExc_TypeError, "queue_for did not return an AioQueue");
        return NULL;
    }
    PyObject *ref = PyWeakref_NewRef(q, NULL);
    if (ref)
        Py_XSETREF(A.last_queue, ref);
    else
        PyErr_Clear();
    return (aio_queue *)q;
}

/* ------------------------------------------------------------------------ */
/* ResponderBase                                                            */
/* ------------------------------------------------------------------------ */

/* No callbacks, no registration, and no watch that C may still fire. */
static int resp_idle(const aio_resp *r)
{
    return !r->registered && !r->queued && !r->cb && !r->more &&
           ((!r->node && r->hub != 1) || resp_status(r) != ACTOR_EAGAIN);
}

/* A loop that was closed (asyncio's `_closed`, read without running any
 * Python code; a loop without it counts as open). */
static int loop_closed(PyObject *loop)
{
    PyObject *v = PyObject_GetAttr(loop, s_closed);
    if (!v) {
        PyErr_Clear();
        return 0;
    }
    int closed = v == Py_True;
    Py_DECREF(v);
    return closed;
}

/* A loop that is not running now (asyncio's `_thread_id` is None; read
 * without running Python code; a loop without it counts as running). */
static int loop_idle(PyObject *loop)
{
    PyObject *v = PyObject_GetAttr(loop, s_thread_id);
    if (!v) {
        PyErr_Clear();
        return 0;
    }
    int idle = v == Py_None;
    Py_DECREF(v);
    return idle;
}

/* r may be bound to another loop: it is unbound, or idle and complete (no C
 * watch is needed), or idle, pending and its loop is gone, closed or not
 * running. A pending responder stays with the running loop it was first
 * used in, idle or not, as an asyncio future stays with its loop: so a Task
 * of a loop running in another thread sees "attached to a different loop"
 * (get_loop) instead of racing for it. Decided with no Python code run in
 * between (the GIL could move). */
static int resp_movable(aio_resp *r)
{
    if (!r->q)
        return 1;
    if (!resp_idle(r))
        return 0;
    if (resp_status(r) != ACTOR_EAGAIN)
        return 1;
    PyObject *cur = resp_loop(r);
    return !cur || loop_closed(cur) || loop_idle(cur);
}

/* Binds r to the running loop (or, with none running, keeps its loop, else
 * takes the thread's event loop) when it may move (resp_movable). The loop
 * and its queue are found first (Python code runs there: another thread may
 * use r meanwhile), then the binding is decided. */
static int resp_bind(aio_resp *r)
{
    PyObject *loop = running_loop();
    if (!loop)
        return -1;
    if (loop == Py_None) {
        Py_DECREF(loop);
        if (resp_loop(r) || !resp_movable(r))
            return 0;
        if (!(loop = PyObject_CallNoArgs(A.event_loop)))
            return -1;
    }
    if (resp_loop(r) == loop || !resp_movable(r)) {
        Py_DECREF(loop);
        return 0;
    }
    aio_queue *q = queue_for(loop);
    if (!q) {
        Py_DECREF(loop);
        return -1;
    }
    if (resp_loop(r) != loop && resp_movable(r))
        Py_XSETREF(r->q, q);
    else
        Py_DECREF(q);
    Py_DECREF(loop);
    return 0;
}

static int resp_bound_loop_alive(aio_resp *r)
{
    if (resp_loop(r))
        return 0;
    PyErr_SetString(PyExc_RuntimeError,
                    "this Responder is pending in an event loop that is gone "
                    "(a pending request is awaited in one event loop only)");
    return -1;
}

static PyObject *make_cancelled(aio_resp *r)
{
    if (r->cancel_msg && r->cancel_msg != Py_None)
        return PyObject_CallOneArg(A.cancelled_error, r->cancel_msg);
    return PyObject_CallNoArgs(A.cancelled_error);
}

static PyObject *raise_cancelled(aio_resp *r)
{
    PyObject *exc = make_cancelled(r);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *raise_outcome(aio_resp *r, int st)
{
    PyObject *st_obj = PyLong_FromLong(st);
    if (!st_obj)
        return NULL;
    PyObject *args[2] = {(PyObject *)r, st_obj};
    PyObject *exc = PyObject_Vectorcall(A.outcome_error, args, 2, NULL);
    Py_DECREF(st_obj);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* ---- integer fields, little-endian standard sizes (struct's "<bBhHiIqQ") ---- */

static int int_size(char c)
{
    switch (c) {
    case 'b': case 'B': return 1;
    case 'h': case 'H': return 2;
    case 'i': case 'I': return 4;
    case 'q': case 'Q': return 8;
    default: return 0;
    }
}

/* Packs exact ints into buf as struct.pack("<" + codes) would. 1 done; 0 not
 * for this fast path (a count mismatch, not an exact int, out of range: the
 * caller goes the general way, which raises the right error). */
static int pack_ints(const char *codes, Py_ssize_t nc, PyObject *const *fields, Py_ssize_t n,
                     unsigned char *buf, size_t cap, size_t *len)
{
    if (n != nc)
        return 0;
    size_t off = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = fields[i];
        char c = codes[i];
        int sz = int_size(c);
        if (!PyLong_CheckExact(v) || sz == 0 || off + (size_t)sz > cap)
            return 0;
        unsigned long long u;
        if (c == 'Q') {
            u = PyLong_AsUnsignedLongLong(v);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                return 0;
            }
        } else {
            int ovf = 0;
            long long x = PyLong_AsLongLongAndOverflow(v, &ovf);
            if (ovf || (x == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                return 0;
            }
            long long lo, hi;
            switch (c) {
            case 'b': lo = -128; hi = 127; break;
            case 'B': lo = 0; hi = 255; break;
            case 'h': lo = -32768; hi = 32767; break;
            case 'H': lo = 0; hi = 65535; break;
            case 'i': lo = -2147483648LL; hi = 2147483647LL; break;
            case 'I': lo = 0; hi = 4294967295LL; break;
            default: lo = LLONG_MIN; hi = LLONG_MAX; break; /* 'q' */
            }
            if (x < lo || x > hi)
                return 0;
            u = (unsigned long long)x;
        }
        for (int k = 0; k < sz; k++)
            buf[off + (size_t)k] = (unsigned char)(u >> (8 * k));
        off += (size_t)sz;
    }
    *len = off;
    return 1;
}

/* One integer field of code c from data (len must fit); NULL without an
 * exception if it does not. */
static PyObject *unpack_int(char c, const unsigned char *d, size_t len)
{
    int sz = int_size(c);
    if (sz == 0 || len != (size_t)sz)
        return NULL;
    unsigned long long u = 0;
    for (int k = 0; k < sz; k++)
        u |= (unsigned long long)d[k] << (8 * k);
    switch (c) {
    case 'b': return PyLong_FromLong((signed char)u);
    case 'B': return PyLong_FromLong((long)u);
    case 'h': return PyLong_FromLong((short)u);
    case 'H': return PyLong_FromLong((long)u);
    case 'i': return PyLong_FromLong((int)(unsigned)u);
    case 'I': return PyLong_FromUnsignedLong((unsigned long)u);
    case 'q': return PyLong_FromLongLong((long long)u);
    default: return PyLong_FromUnsignedLongLong(u);
    }
}

/* The reply of a responder complete with ACTOR_OK, as a Python value. */
static PyObject *resp_value(aio_resp *r)
{
    size_t len = 0;
    const void *data = actor_responder_data(r->r, &len);
    if (!data) {
        data = "";
        len = 0;
    }
    PyObject *mt = r->mt;
    if (Py_IS_TYPE(mt, A.msgtype)) {
        PyObject *mode = SLOT(mt, A.mt_rmode), *fn = SLOT(mt, A.mt_funpack);
        long m = mode && PyLong_CheckExact(mode) ? PyLong_AsLong(mode) : -1;
        if (m >= 16) {
            PyObject *v = unpack_int((char)(m - 16), data, len);
            if (v || PyErr_Occurred())
                return v;
            m = 2; /* a size that does not fit: struct says what is wrong */
        }
        if (m == 1)
            Py_RETURN_NONE;
        if (m == 0)
            return PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
        if ((m == 2 || m == 3) && fn && fn != Py_None) {
            PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
            if (!b)
                return NULL;
            PyObject *t = PyObject_CallOneArg(fn, b);
            Py_DECREF(b);
            if (!t || m == 3)
                return t;
            PyObject *v;
            if (PyTuple_CheckExact(t) && PyTuple_GET_SIZE(t) >= 1) {
                v = PyTuple_GET_ITEM(t, 0);
                Py_INCREF(v);
            } else {
                v = PySequence_GetItem(t, 0);
            }
            Py_DECREF(t);
            return v;
        }
    }
    /* The general way: mt._reply.unpack_value(bytes). */
    PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    PyObject *reply = b ? PyObject_GetAttr(mt, s_reply) : NULL;
    PyObject *v = reply ? PyObject_CallMethodOneArg(reply, s_unpack_value, b) : NULL;
    Py_XDECREF(reply);
    Py_XDECREF(b);
    return v;
}

static PyObject *resp_outcome(aio_resp *r, int st)
{
    if (st == ACTOR_OK)
        return resp_value(r);
    return raise_outcome(r, st);
}

/* Adds (fn, ctx) after the callbacks r has; steals ctx. */
static int resp_add_cb(aio_resp *r, PyObject *fn, PyObject *ctx)
{
    if (!r->cb && (!r->more || PyList_GET_SIZE(r->more) == 0)) {
        Py_INCREF(fn);
        r->cb = fn;
        r->ctx = ctx;
        return 0;
    }
    if (!r->more && !(r->more = PyList_New(0))) {
        Py_DECREF(ctx);
        return -1;
    }
    PyObject *t = PyTuple_Pack(2, fn, ctx);
    Py_DECREF(ctx);
    if (!t)
        return -1;
    int rc = PyList_Append(r->more, t);
    Py_DECREF(t);
    return rc;
}

/* Takes back the callback just added by resp_add_cb. */
static void resp_pop_cb(aio_resp *r)
{
    if (r->more && PyList_GET_SIZE(r->more) > 0) {
        Py_ssize_t n = PyList_GET_SIZE(r->more);
        saved_exc s;
        exc_save(&s);
        (void)PyList_SetSlice(r->more, n - 1, n, NULL);
        exc_restore(&s);
    } else {
        Py_CLEAR(r->cb);
        Py_CLEAR(r->ctx);
    }
}

static int resp_has_cbs(const aio_resp *r)
{
    return r->cb || (r->more && PyList_GET_SIZE(r->more) > 0);
}

/* The collector must see a responder that references callbacks (or a
 * cancel message), or that its queue references (registered, queued): a
 * cycle may go through them. Otherwise it references only its MsgType and
 * queue and nothing references it back but its users, so it goes untracked
 * (fewer objects for each young collection). */
static void resp_track(aio_resp *r)
{
    if (!PyObject_GC_IsTracked((PyObject *)r))
        PyObject_GC_Track(r);
}

static void resp_maybe_untrack(aio_resp *r)
{
    if (!r->cb && !r->more && !r->cancel_msg && !r->registered && !r->queued &&
        !r->then_cbs && !r->successor && PyObject_GC_IsTracked((PyObject *)r))
        PyObject_GC_UnTrack(r);
}

/* fn positional, context keyword-only. */
static int parse_fn_ctx(const char *name, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames, PyObject **fn, PyObject **ctx)
{
    *ctx = Py_None;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly one positional argument (%zd given)",
                     name, nargs);
        return -1;
    }
    *fn = args[0];
    if (kwnames) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (!PyUnicode_Check(k) || PyUnicode_CompareWithASCIIString(k, "context") != 0) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R",
                             name, k);
                return -1;
            }
            *ctx = args[nargs + i];
        }
    }
    return 0;
}

/* One optional argument, positional or by keyword `kw`. */
static int parse_opt(const char *name, const char *kw, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, PyObject **out)
{
    *out = Py_None;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", name, nargs);
        return -1;
    }
    if (nargs == 1)
        *out = args[0];
    if (kwnames) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (!PyUnicode_Check(k) || PyUnicode_CompareWithASCIIString(k, kw) != 0 || nargs) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R",
                             name, k);
                return -1;
            }
            *out = args[nargs + i];
        }
    }
    return 0;
}

static PyObject *resp_add_done_callback(aio_resp *r, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames)
{
    PyObject *fn, *ctx;
    if (parse_fn_ctx("add_done_callback", args, nargs, kwnames, &fn, &ctx) < 0)
        return NULL;
    int done = resp_done(r);
    if (!done && resp_wait_refused(r) < 0)
        return NULL;
    /* The running loop: a responder in use by another loop refuses it, as an
     * asyncio future does; an idle one moves to it (asyncio calls get_loop
     * first, which moves it already). With no loop running: the loop it is
     * bound to, else the thread's event loop. */
    PyObject *running = running_loop();
    if (!running)
        return NULL;
    if (running != Py_None) {
        aio_queue *q = NULL;
        if (resp_loop(r) != running && !(q = queue_for(running))) {
            Py_DECREF(running);
            return NULL;
        }
        /* Decided now, with no Python code run until r is registered. */
        PyObject *cur = resp_loop(r);
        if (cur != running) {
            if (!resp_movable(r)) {
                if (cur)
                    PyErr_Format(PyExc_RuntimeError,
                                 "this Responder belongs to another event loop (%R): a "
                                 "pending request is awaited in one event loop at a time",
                                 cur);
                else
                    PyErr_SetString(PyExc_RuntimeError,
                                    "this Responder is pending in an event loop that is gone "
                                    "(a pending request is awaited in one event loop only)");
                Py_XDECREF(q);
                Py_DECREF(running);
                return NULL;
            }
            Py_XSETREF(r->q, q);
            q = NULL;
        }
        Py_XDECREF(q);
        Py_DECREF(running);
    } else {
        Py_DECREF(running);
        if ((!resp_loop(r) && resp_bind(r) < 0) || resp_bound_loop_alive(r) < 0)
            return NULL;
    }
    done = resp_done(r);
    if (!done && !r->node && r->hub != 1) {
        int rc = shim_cq_watch_owner(r->q->cq, r->r, r, &r->node);
        if (rc == ACTOR_ENOMEM)
            return PyErr_NoMemory();
        if (rc != ACTOR_OK) {
            PyErr_SetString(PyExc_RuntimeError,
                            rc == ACTOR_ECLOSED
                                ? "this event loop's completion queue belongs to the parent "
                                  "process (fork)"
                                : "cannot watch this request (it has another completion "
                                  "callback: it was forwarded)");
            return NULL;
        }
    }
    if (ctx == Py_None) {
        if (!(ctx = PyContext_CopyCurrent()))
            return NULL;
    } else {
        Py_INCREF(ctx);
    }
    if (resp_add_cb(r, fn, ctx) < 0)
        return NULL;
    resp_track(r);
    if (done) {
        /* Registered: the drain delivers it (its completion is queued). */
        if (!r->registered && !r->queued && q_enqueue(r->q, r) < 0) {
            resp_pop_cb(r);
            return NULL;
        }
    } else if (!r->registered) {
        /* Told by the drain (asyncio watch) or by the then() hub. */
        q_register(r->q, r);
    }
    Py_RETURN_NONE;
}

static PyObject *resp_remove_done_callback(aio_resp *r, PyObject *fn)
{
    Py_ssize_t removed = 0;
    if (r->cb) {
        PyObject *cb = r->cb;
        Py_INCREF(cb);
        int eq = PyObject_RichCompareBool(cb, fn, Py_EQ);
        int same = r->cb == cb; /* __eq__ may have changed the callbacks */
        Py_DECREF(cb);
        if (eq < 0)
            return NULL;
        if (eq && same) {
            Py_CLEAR(r->cb);
            Py_CLEAR(r->ctx);
            removed++;
        }
    }
    if (r->more) {
        PyObject *old = r->more;
        Py_INCREF(old);
        PyObject *keep = PyList_New(0);
        if (!keep) {
            Py_DECREF(old);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(old); i++) {
            PyObject *item = PyList_GET_ITEM(old, i);
            Py_INCREF(item);
            int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(item, 0), fn, Py_EQ);
            if (eq < 0 || (!eq && PyList_Append(keep, item) < 0)) {
                Py_DECREF(item);
                Py_DECREF(keep);
                Py_DECREF(old);
                return NULL;
            }
            if (eq)
                removed++;
            Py_DECREF(item);
        }
        if (r->more == old) {
            if (PyList_GET_SIZE(keep) == 0) {
                Py_CLEAR(r->more);
                Py_DECREF(keep);
            } else {
                Py_SETREF(r->more, keep);
            }
        } else {
            Py_DECREF(keep);
        }
        Py_DECREF(old);
    }
    /* Nobody waits any more: let it go (it can be collected). */
    if (removed && r->registered && !resp_has_cbs(r))
        q_unregister(r);
    if (removed && !resp_has_cbs(r)) {
        Py_CLEAR(r->more);
        resp_maybe_untrack(r);
    }
    return PyLong_FromSsize_t(removed);
}

static PyObject *resp_cancel(aio_resp *r, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    PyObject *msg;
    if (parse_opt("cancel", "msg", args, nargs, kwnames, &msg) < 0)
        return NULL;
    if (resp_done(r))
        Py_RETURN_FALSE;
    r->cancelled = 1;
    Py_INCREF(msg);
    Py_XSETREF(r->cancel_msg, msg);
    resp_track(r);
    if (r->registered)
        q_unregister(r); /* the caller holds a reference */
    if (resp_has_cbs(r) && !r->queued && r->q && q_enqueue(r->q, r) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *resp_done_m(aio_resp *r, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(resp_done(r));
}

static PyObject *resp_cancelled_m(aio_resp *r, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(r->cancelled);
}

static PyObject *resp_result(aio_resp *r, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    PyObject *timeout;
    if (parse_opt("result", "timeout", args, nargs, kwnames, &timeout) < 0)
        return NULL;
    if (r->cancelled)
        return raise_cancelled(r);
    int st = resp_status(r);
    if (st == ACTOR_EAGAIN || timeout != Py_None) {
        if (st == ACTOR_EAGAIN && resp_inherited(r)) {
            PyErr_SetString(A.closed, "this request was made by the parent process (before "
                                      "fork()): nobody in this process answers it");
            return NULL;
        }
        PyObject *a[2] = {(PyObject *)r, timeout};
        return PyObject_Vectorcall(A.wait, a, 2, NULL);
    }
    return resp_outcome(r, st);
}

static PyObject *resp_exception(aio_resp *r, PyObject *unused)
{
    (void)unused;
    if (r->cancelled)
        return raise_cancelled(r);
    int st = resp_status(r);
    if (st == ACTOR_OK)
        Py_RETURN_NONE;
    if (st == ACTOR_EAGAIN) {
        PyErr_SetString(A.invalid, "the request is still pending");
        return NULL;
    }
    PyObject *st_obj = PyLong_FromLong(st);
    if (!st_obj)
        return NULL;
    PyObject *a[2] = {(PyObject *)r, st_obj};
    PyObject *exc = PyObject_Vectorcall(A.outcome_error, a, 2, NULL);
    Py_DECREF(st_obj);
    return exc;
}

static PyObject *resp_get_loop(aio_resp *r, PyObject *unused)
{
    (void)unused;
    /* A loop that is gone: None, which a Task reports as "attached to a
     * different loop" into its coroutine (raising here would stall it). */
    if (resp_bind(r) < 0)
        return NULL;
    PyObject *l = resp_loop(r);
    l = l ? l : Py_None;
    Py_INCREF(l);
    return l;
}

static PyObject *resp_make_cancelled_error(aio_resp *r, PyObject *unused)
{
    (void)unused;
    return make_cancelled(r);
}

static PyObject *resp_outcome_m(aio_resp *r, PyObject *unused)
{
    (void)unused;
    int st = resp_status(r);
    if (st == ACTOR_EAGAIN) {
        PyErr_SetString(A.invalid, "the request is still pending");
        return NULL;
    }
    return resp_outcome(r, st);
}

static PyObject *resp_wait_ms(aio_resp *r, PyObject *arg)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    int ms = v < 0 ? -1 : v > INT_MAX ? INT_MAX : (int)v;
    while (!r->r && r->successor)
        r = r->successor;
    if (!r->r)
        return PyLong_FromLong(ACTOR_EINVAL);
    /* busy: forward() and again() leave r->r alone meanwhile (the GIL is
     * released in the wait); the caller's reference keeps r alive. */
    Py_INCREF(r);
    r->busy++;
    PyObject *res = shim_responder_wait(r->r, ms);
    r->busy--;
    Py_DECREF(r);
    return res;
}

/* ---- a short poll before an await yields ----
 * A C actor on a worker that is awake answers within a microsecond or two:
 * less than one turn of the event loop (a wake-up through the eventfd, the
 * reader, the task's step). So a pending await first polls the status for
 * at most SPIN_NS. The poll adapts: after failures it is skipped, and only
 * one await in SPIN_PROBE tries again, so slow requests lose (almost)
 * nothing. With the GIL held (it is short). */
#define SPIN_NS 2000
#define SPIN_PROBE 64
static int spin_score = 1; /* > 0: poll; <= 0: poll only as a probe */
static unsigned spin_skips;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int spin_until_complete(aio_resp *r)
{
    if (spin_score <= 0 && (++spin_skips % SPIN_PROBE) != 0)
        return 0;
    long long deadline = 0;
    for (unsigned i = 1;; i++) {
        if (resp_status(r) != ACTOR_EAGAIN) {
            spin_score = spin_score <= 0 ? 1 : (spin_score < 16 ? spin_score + 1 : 16);
            return 1;
        }
        cpu_relax();
        if ((i & 31) == 0) {
            long long now = mono_ns();
            if (deadline == 0) {
                deadline = now + SPIN_NS;
            } else if (now >= deadline) {
                spin_score = spin_score > -16 ? spin_score - 4 : -16;
                return 0;
            }
        }
    }
}

/* For __await__: 0 done (the result, or the cancellation, is there); 1
 * pending: yield the responder to the task. A cancelled responder stays
 * done (asyncio's rule): awaiting it again raises CancelledError; again()
 * gives a fresh one for the same request. */
static PyObject *resp_await_state(aio_resp *r, PyObject *unused)
{
    (void)unused;
    if (r->cancelled || resp_status(r) != ACTOR_EAGAIN)
        return PyLong_FromLong(0);
    if (resp_wait_refused(r) < 0)
        return NULL;
    return PyLong_FromLong(spin_until_complete(r) ? 0 : 1);
}

/* ---- then(): fn(responder) on the completing thread ---- */

/* Runs fn(arg) with the GIL; an exception goes to A.then_failed (logged). */
static void then_call(PyObject *fn, aio_resp *arg)
{
    PyObject *res = PyObject_CallOneArg(fn, (PyObject *)arg);
    if (res) {
        Py_DECREF(res);
        return;
    }
    saved_exc s;
    PyObject *exc;
    exc_save(&s);
#if PY_VERSION_HEX >= 0x030C0000
    exc = s.exc;
#else
    PyErr_NormalizeException(&s.t, &s.v, &s.tb);
    if (s.tb && s.v)
        PyException_SetTraceback(s.v, s.tb);
    exc = s.v;
#endif
    PyObject *lr = NULL;
    if (exc) {
        PyObject *a[3] = {fn, (PyObject *)arg, exc};
        lr = PyObject_Vectorcall(A.then_failed, a, 3, NULL);
    }
    if (!lr)
        PyErr_WriteUnraisable(fn);
    Py_XDECREF(lr);
#if PY_VERSION_HEX >= 0x030C0000
    Py_XDECREF(s.exc);
#else
    Py_XDECREF(s.t);
    Py_XDECREF(s.v);
    Py_XDECREF(s.tb);
#endif
}

static PyObject *resp_again_impl(aio_resp *r);

/* The C completion callback of a responder with then() callbacks: on the
 * completing thread (a worker, or whoever answered), without the GIL. It
 * takes the GIL as an actor callback does (nothing once Python is dying:
 * the references are left to the dying interpreter), runs the callbacks in
 * order with the responder of the request (a successor if it was cancelled
 * for asyncio), tells an asyncio wait on it through its loop, and drops the
 * reference then() took. */
static void aio_hub(actor_responder *cr, void *ud)
{
    (void)cr;
    aio_resp *root = ud;
    shim_py_token t;
    if (!shim_py_enter(&t))
        return;
    shim_handler_enter();
    saved_exc s;
    exc_save(&s);
    for (aio_resp *x = root; x; x = x->successor)
        x->hub = 2;
    /* Callbacks added while this one waited for the GIL are in the list too. */
    while (root->then_cbs) {
        PyObject *cbs = root->then_cbs;
        root->then_cbs = NULL;
        aio_resp *last = root;
        while (last->successor)
            last = last->successor;
        PyObject *target = last->cancelled ? resp_again_impl(last) : (Py_INCREF(last), (PyObject *)last);
        if (!target) {
            PyErr_WriteUnraisable((PyObject *)root);
            target = (Py_INCREF(last), (PyObject *)last);
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(cbs); i++)
            then_call(PyList_GET_ITEM(cbs, i), (aio_resp *)target);
        Py_DECREF(target);
        Py_DECREF(cbs);
    }
    for (aio_resp *x = root; x; x = x->successor) {
        if (!x->registered || !x->q)
            continue;
        PyObject *loop = weak_get(x->q->loopref);
        if (loop == Py_None)
            continue;
        Py_INCREF(loop);
        PyObject *deliver_m = PyObject_GetAttr((PyObject *)x->q, s_deliver);
        PyObject *res = deliver_m ? PyObject_CallMethodObjArgs(loop, s_call_soon_threadsafe,
                                                               deliver_m, (PyObject *)x, NULL)
                                  : NULL;
        if (!res)
            PyErr_WriteUnraisable((PyObject *)x); /* a closed loop: nobody waits */
        Py_XDECREF(res);
        Py_XDECREF(deliver_m);
        Py_DECREF(loop);
    }
    exc_restore(&s);
    shim_handler_leave();
    Py_DECREF(root); /* then()'s: may free the responder (allowed in its callback) */
    shim_py_leave(&t);
}

static PyObject *resp_then(aio_resp *r, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "then() takes a callable, not %.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    if (r->forwarded) {
        PyErr_SetString(A.invalid, "this responder was forwarded: its outcome goes to an "
                                   "on_response handler");
        return NULL;
    }
    if (!r->r) {
        if (r->successor) /* cancelled and taken over: the successor has the request */
            return resp_then(r->successor, fn);
        PyErr_SetString(A.invalid, "this responder has no request");
        return NULL;
    }
    if (r->hub == 1) {
        /* The hub waits (this responder's, or the one of the responder it
         * took the request over from): after the callbacks given before. */
        aio_resp *h = r->hub_root ? r->hub_root : r;
        if (!h->then_cbs && !(h->then_cbs = PyList_New(0)))
            return NULL;
        if (PyList_Append(h->then_cbs, fn) < 0)
            return NULL;
        resp_track(h);
        Py_RETURN_NONE;
    }
    if (actor_responder_status(r->r) != ACTOR_EAGAIN) {
        then_call(fn, r); /* complete: at once, on this thread */
        Py_RETURN_NONE;
    }
    if (r->node) {
        PyErr_SetString(A.invalid, "this responder is awaited in an event loop (its "
                                   "completion goes there): call then() before awaiting it, "
                                   "or use add_done_callback");
        return NULL;
    }
    if (resp_inherited(r)) {
        PyErr_SetString(A.closed, "this request was made by the parent process (before "
                                  "fork()): nobody in this process answers it");
        return NULL;
    }
    if (!(r->then_cbs = PyList_New(0)) || PyList_Append(r->then_cbs, fn) < 0) {
        Py_CLEAR(r->then_cbs);
        return NULL;
    }
    resp_track(r);
    r->hub = 1;
    Py_INCREF(r); /* the hub's, dropped when it ran */
    int rc = actor_responder_then(r->r, aio_hub, r);
    if (rc != ACTOR_OK) {
        r->hub = 0;
        Py_CLEAR(r->then_cbs);
        Py_DECREF(r);
        PyErr_SetString(A.invalid, "this responder has another completion callback (it was "
                                   "forwarded)");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* again(): self unless cancelled; else the responder that took the request
 * over (made on the first call). */
static PyObject *resp_again_impl(aio_resp *r)
{
    while (r->cancelled && r->successor)
        r = r->successor;
    if (!r->cancelled) {
        Py_INCREF(r);
        return (PyObject *)r;
    }
    if (!r->r) {
        PyErr_SetString(A.invalid, r->forwarded ? "this responder was forwarded: its outcome "
                                                  "goes to an on_response handler"
                                                : "this responder has no request");
        return NULL;
    }
    if (r->busy) {
        PyErr_SetString(A.invalid, "a thread is still blocked in result() on this cancelled "
                                   "responder");
        return NULL;
    }
    aio_resp *n = PyObject_GC_New(aio_resp, Py_TYPE(r));
    if (!n)
        return NULL;
    memset((char *)n + sizeof(PyObject), 0, (size_t)Py_TYPE(r)->tp_basicsize - sizeof(PyObject));
    n->r = r->r;
    r->r = NULL;
    n->node = r->node;
    r->node = NULL;
    if (n->node)
        shim_cqnode_set_owner(n->node, n);
    Py_XINCREF(r->mt);
    n->mt = r->mt;
    Py_XINCREF(r->q);
    n->q = r->q;
    n->gen = r->gen;
    n->hub = r->hub;
    if (r->hub == 1)
        n->hub_root = r->hub_root ? r->hub_root : r;
    Py_INCREF(n);
    r->successor = n;
    resp_track(r);
    return (PyObject *)n;
}

static PyObject *resp_again(aio_resp *r, PyObject *unused)
{
    (void)unused;
    return resp_again_impl(r);
}

/* _forward(address pointer, tag): actor_responder_forward_tagged; on
 * ACTOR_OK the request is the library's (r is consumed). Returns the code;
 * raises when this responder's outcome already goes elsewhere. */
static PyObject *resp_forward(aio_resp *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_forward(address, tag)");
        return NULL;
    }
    while (!r->r && r->successor)
        r = r->successor;
    if (!r->r) {
        PyErr_SetString(A.invalid, r->forwarded ? "this responder was forwarded already"
                                                : "this responder has no request");
        return NULL;
    }
    if (r->busy) {
        PyErr_SetString(A.invalid, "a thread is waiting for this responder (result()): it "
                                   "cannot be forwarded");
        return NULL;
    }
    if (r->node || r->hub || r->registered || r->queued || resp_has_cbs(r)) {
        PyErr_SetString(A.invalid, "this responder is awaited (an event loop or "
                                   "add_done_callback) or has then() callbacks: its outcome "
                                   "goes there, it cannot be forwarded too");
        return NULL;
    }
    if (resp_inherited(r)) {
        PyErr_SetString(A.closed, "this request was made by the parent process (before "
                                  "fork()): it cannot be forwarded here");
        return NULL;
    }
    actor_addr *to = A.get_ptr(args[0], SHIM_PTR_ADDR);
    if (!to)
        return NULL;
    unsigned long long tag = PyLong_AsUnsignedLongLong(args[1]);
    if (tag == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    int rc = actor_responder_forward_tagged(r->r, to, (uint64_t)tag);
    if (rc == ACTOR_OK) {
        r->r = NULL;
        r->forwarded = 1;
    }
    return PyLong_FromLong(rc);
}

static PyObject *resp_get_forwarded(aio_resp *r, void *c)
{
    (void)c;
    return PyBool_FromLong(r->forwarded);
}

static PyObject *resp_get_type(aio_resp *r, void *c)
{
    (void)c;
    PyObject *mt = r->mt ? r->mt : Py_None;
    Py_INCREF(mt);
    return mt;
}

static PyObject *resp_get_status(aio_resp *r, void *c)
{
    (void)c;
    return PyLong_FromLong(resp_status(r));
}

static PyObject *resp_get_ptr(aio_resp *r, void *c)
{
    (void)c;
    if (!r->r)
        Py_RETURN_NONE;
    return A.new_ptr(r->r, SHIM_PTR_RESPONDER);
}

static PyObject *resp_get_handler_error(aio_resp *r, void *c)
{
    (void)c;
    return PyLong_FromLong(r->r ? actor_responder_handler_error(r->r) : 0);
}

static PyObject *resp_get_loop_attr(aio_resp *r, void *c)
{
    (void)c;
    PyObject *l = resp_loop(r);
    l = l ? l : Py_None;
    Py_INCREF(l);
    return l;
}

static PyObject *resp_get_cancel_message(aio_resp *r, void *c)
{
    (void)c;
    PyObject *m = r->cancel_msg ? r->cancel_msg : Py_None;
    Py_INCREF(m);
    return m;
}

static int resp_set_cancel_message(aio_resp *r, PyObject *v, void *c)
{
    (void)c;
    Py_XINCREF(v);
    Py_XSETREF(r->cancel_msg, v);
    if (v)
        resp_track(r);
    return 0;
}

static int resp_traverse(aio_resp *r, visitproc visit, void *arg)
{
    Py_VISIT(r->mt);
    Py_VISIT((PyObject *)r->q);
    Py_VISIT(r->cb);
    Py_VISIT(r->ctx);
    Py_VISIT(r->more);
    Py_VISIT(r->cancel_msg);
    Py_VISIT(r->then_cbs);
    Py_VISIT((PyObject *)r->successor);
    return 0;
}

static int resp_clear(aio_resp *r)
{
    if (r->registered)
        q_unregister(r); /* the collector holds a reference */
    Py_CLEAR(r->cb);
    Py_CLEAR(r->ctx);
    Py_CLEAR(r->more);
    Py_CLEAR(r->cancel_msg);
    Py_CLEAR(r->then_cbs);
    Py_CLEAR(r->successor);
    if (!r->queued)
        Py_CLEAR(r->q);
    return 0;
}

static void resp_dealloc(aio_resp *r)
{
    PyObject_GC_UnTrack(r);
    if (r->weaklist)
        PyObject_ClearWeakRefs((PyObject *)r);
    resp_clear(r);
    Py_CLEAR(r->q);
    if (r->r) {
        /* The drain must not see it any more; then the C side goes. */
        if (r->node)
            shim_cqnode_set_owner(r->node, NULL);
        shim_responder_release(r->r, r->node);
        r->r = NULL;
        r->node = NULL;
    }
    Py_CLEAR(r->mt);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyMethodDef resp_methods[] = {
    {"done", (PyCFunction)resp_done_m, METH_NOARGS,
     "done() -> bool\n\n"
     "True once complete (or cancelled for asyncio, or forwarded). A method, as on "
     "asyncio futures (asyncio calls it); Address.done, by contrast, is a property (the "
     "binding contract: `addr.done`)."},
    {"cancelled", (PyCFunction)resp_cancelled_m, METH_NOARGS,
     "True if the asyncio wait was cancelled (cancel()); the request itself never is."},
    {"result", (PyCFunction)(void (*)(void))resp_result, METH_FASTCALL | METH_KEYWORDS,
     "result(timeout=None)\n--\n\n"
     "Waits (at most `timeout` seconds; None: no limit) and returns the reply: its one "
     "field, a tuple of fields, None for no fields, bytes when opaque. Raises Timeout "
     "(the request is still pending), Canceled, HandlerError, Deadlock when called "
     "inside an actor's handler without a zero timeout, or asyncio.CancelledError "
     "after cancel()."},
    {"exception", (PyCFunction)resp_exception, METH_NOARGS,
     "The exception result() would raise once complete, or None. Raises "
     "InvalidArgument while pending, asyncio.CancelledError after cancel()."},
    {"add_done_callback", (PyCFunction)(void (*)(void))resp_add_done_callback,
     METH_FASTCALL | METH_KEYWORDS,
     "add_done_callback(fn, *, context=None)\n--\n\n"
     "asyncio: fn(responder) runs from the event loop (in `context`) once done."},
    {"remove_done_callback", (PyCFunction)resp_remove_done_callback, METH_O,
     "Removes every callback equal to fn; returns how many."},
    {"cancel", (PyCFunction)(void (*)(void))resp_cancel, METH_FASTCALL | METH_KEYWORDS,
     "cancel(msg=None)\n--\n\n"
     "asyncio: cancels the wait, not the request (which goes on). The responder stays "
     "done and cancelled, as an asyncio future does; r.again() gives a fresh responder "
     "for the same request. False if complete or already cancelled."},
    {"again", (PyCFunction)resp_again, METH_NOARGS,
     "again() -> Responder\n\n"
     "A responder for the same request that is not cancelled: this one unless cancel() "
     "was called; after a cancel, a new one that takes the request over (pending or "
     "complete: its reply is kept), made once (later calls return it too)."},
    {"then", (PyCFunction)resp_then, METH_O,
     "then(fn)\n--\n\n"
     "fn(responder) runs once the request is complete: on the thread that completes it "
     "(a worker thread of the runtime, or whoever answered; keep it short, never block "
     "there), or at once on this thread if it is complete already. From any thread; "
     "several callbacks run in the order given. An exception fn raises is logged. "
     "The way to use an answer inside an actor without blocking (or forward())."},
    {"_forward", (PyCFunction)(void (*)(void))resp_forward, METH_FASTCALL, NULL},
    {"get_loop", (PyCFunction)resp_get_loop, METH_NOARGS,
     "asyncio: the event loop the responder is bound to (the running one on first use; "
     "None if a pending request is watched by a loop that is gone)."},
    {"_make_cancelled_error", (PyCFunction)resp_make_cancelled_error, METH_NOARGS, NULL},
    {"_outcome", (PyCFunction)resp_outcome_m, METH_NOARGS, NULL},
    {"_wait_ms", (PyCFunction)resp_wait_ms, METH_O, NULL},
    {"_await_state", (PyCFunction)resp_await_state, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef resp_getset[] = {
    {"type", (getter)resp_get_type, NULL, "The request's MsgType.", NULL},
    {"status", (getter)resp_get_status, NULL,
     "The C status: ACTOR_OK, ACTOR_ECANCELED, ACTOR_EHANDLER, or ACTOR_EAGAIN while "
     "pending (cancel() does not change it).", NULL},
    {"_ptr", (getter)resp_get_ptr, NULL, NULL, NULL},
    {"_handler_error", (getter)resp_get_handler_error, NULL, NULL, NULL},
    {"_loop", (getter)resp_get_loop_attr, NULL, NULL, NULL},
    {"_forwarded", (getter)resp_get_forwarded, NULL, NULL, NULL},
    {"_cancel_message", (getter)resp_get_cancel_message, (setter)resp_set_cancel_message, NULL,
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef resp_members[] = {
    {"_asyncio_future_blocking", T_BOOL, offsetof(aio_resp, blocking), 0, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject Resp_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "actor._core.ResponderBase",
    .tp_doc = "The C part of actor.Responder (made by Address.ask only).",
    .tp_basicsize = sizeof(aio_resp),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)resp_dealloc,
    .tp_traverse = (traverseproc)resp_traverse,
    .tp_clear = (inquiry)resp_clear,
    .tp_weaklistoffset = offsetof(aio_resp, weaklist),
    .tp_methods = resp_methods,
    .tp_getset = resp_getset,
    .tp_members = resp_members,
};

/* ------------------------------------------------------------------------ */
/* Address.ask                                                              */
/* ------------------------------------------------------------------------ */

static PyObject *resolve(PyObject *t)
{
    if (Py_IS_TYPE(t, A.msgtype)) {
        Py_INCREF(t);
        return t;
    }
    if (PyUnicode_CheckExact(t)) {
        PyObject *mt = PyDict_GetItemWithError(A.by_name, t);
        if (mt) {
            Py_INCREF(mt);
            return mt;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_CallOneArg(A.resolve, t);
}

/* The payload of `fields` for mt: a new reference to a bytes-like object. */
static PyObject *pack(PyObject *mt, PyObject *const *fields, Py_ssize_t n)
{
    if (Py_IS_TYPE(mt, A.msgtype)) {
        PyObject *fp = SLOT(mt, A.mt_fpack);
        if (fp && fp != Py_None) {
            PyObject *data = PyObject_Vectorcall(fp, fields, (size_t)n, NULL);
            if (data || !PyErr_ExceptionMatches(PyExc_Exception))
                return data;
            PyErr_Clear(); /* the slow way says what is wrong */
        }
    }
    PyObject *tuple = PyTuple_New(n);
    if (!tuple)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(fields[i]);
        PyTuple_SET_ITEM(tuple, i, fields[i]);
    }
    PyObject *payload = PyObject_GetAttr(mt, s_payload);
    PyObject *data = payload ? PyObject_CallMethodOneArg(payload, s_pack, tuple) : NULL;
    Py_XDECREF(payload);
    Py_DECREF(tuple);
    return data;
}

/* The last SWIG pointer objects converted (held, so that an identity match
 * means the same, immutable, pointer). */
static PyObject *last_addr_obj, *last_mt_obj;
static void *last_addr, *last_mt;

static void *swig_ptr(PyObject *obj, int kind, PyObject **last_obj, void **last)
{
    if (obj == *last_obj)
        return *last;
    void *p = A.get_ptr(obj, kind);
    if (p) {
        Py_INCREF(obj);
        Py_XSETREF(*last_obj, obj);
        *last = p;
    }
    return p;
}

/* addr_interact, or addr_interact_within when within_ms >= 0 (1.1). */
static int ask_interact(actor_addr *a, const actor_msgtype *t, const void *p, size_t len,
                        int within_ms, actor_responder **out)
{
    if (within_ms >= 0)
        return addr_interact_within(a, t, p, len, within_ms, out);
    return addr_interact(a, t, p, len, out);
}

/* ask's keyword `timeout` (seconds; None or inf: no deadline) as ms, -1 for
 * none; -2 with an exception. */
static int ask_timeout(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int ms = -1;
    for (Py_ssize_t i = 0; kwnames && i < PyTuple_GET_SIZE(kwnames); i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i), *v = args[nargs + i];
        if (!PyUnicode_Check(k) || PyUnicode_CompareWithASCIIString(k, "timeout") != 0) {
            PyErr_Format(PyExc_TypeError, "ask() got an unexpected keyword argument '%S'", k);
            return -2;
        }
        if (v == Py_None)
            continue;
        if (PyBool_Check(v) || !(PyFloat_Check(v) || PyLong_Check(v))) {
            PyErr_Format(PyExc_TypeError, "timeout is a number of seconds or None, not %s",
                         Py_TYPE(v)->tp_name);
            return -2;
        }
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred())
            return -2;
        if (d != d || d < 0) {
            PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 or None");
            return -2;
        }
        if (d == Py_HUGE_VAL)
            continue;
        double m = d * 1000.0;
        ms = m >= 2147483647.0 ? 2147483647 : (int)m;
        if (ms < m && ms < 2147483647)
            ms++; /* rounded up */
    }
    return ms;
}

static PyObject *aio_ask(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    int within_ms = ask_timeout(args, nargs, kwnames);
    if (within_ms == -2)
        return NULL;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "ask() missing 1 required positional argument: 'type'");
        return NULL;
    }
    if (shim_send_refused()) {
        PyErr_SetString(A.closed, "ask: the interpreter is exiting (requests from other "
                                  "threads are refused)");
        return NULL;
    }
    PyObject *p = SLOT(self, A.addr_ptr);
    if (!p || p == Py_None) {
        PyErr_SetString(A.closed, "this address was released");
        return NULL;
    }
    Py_INCREF(p); /* alive across the Python calls below */
    PyObject *mt = NULL, *data = NULL, *res = NULL;
    actor_addr *a = swig_ptr(p, SHIM_PTR_ADDR, &last_addr_obj, &last_addr);
    if (!a || !(mt = resolve(args[0])))
        goto out;
    const actor_msgtype *t;
    unsigned char ibuf[64];
    size_t ilen = 0;
    int ints = 0;
    if (Py_IS_TYPE(mt, A.msgtype)) {
        PyObject *tp = SLOT(mt, A.mt_ptr);
        if (!tp) {
            PyErr_SetString(PyExc_AttributeError, "_ptr");
            goto out;
        }
        t = swig_ptr(tp, SHIM_PTR_MSGTYPE, &last_mt_obj, &last_mt);
        PyObject *codes = SLOT(mt, A.mt_fcodes);
        if (t && codes && PyBytes_CheckExact(codes))
            ints = pack_ints(PyBytes_AS_STRING(codes), PyBytes_GET_SIZE(codes), args + 1,
                             nargs - 1, ibuf, sizeof ibuf, &ilen);
    } else {
        PyObject *tp = PyObject_GetAttr(mt, s_ptr);
        t = tp ? A.get_ptr(tp, SHIM_PTR_MSGTYPE) : NULL;
        Py_XDECREF(tp); /* the MsgType keeps the type alive */
    }
    if (!t || (!ints && !(data = pack(mt, args + 1, nargs - 1))))
        goto out;
    actor_responder *resp = NULL;
    int rc;
    if (ints) {
        rc = ask_interact(a, t, ibuf, ilen, within_ms, &resp);
    } else if (PyBytes_CheckExact(data)) {
        rc = ask_interact(a, t, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data), within_ms,
                          &resp);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
            goto out;
        rc = ask_interact(a, t, view.buf, (size_t)view.len, within_ms, &resp);
        PyBuffer_Release(&view);
    }
    if (rc != ACTOR_OK) {
        PyObject *rc_obj = PyLong_FromLong(rc), *what = PyUnicode_FromString("ask");
        if (rc_obj && what) {
            PyObject *ea[3] = {rc_obj, what, mt};
            PyObject *exc = PyObject_Vectorcall(A.addr_error, ea, 3, NULL);
            if (exc) {
                PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
                Py_DECREF(exc);
            }
        }
        Py_XDECREF(rc_obj);
        Py_XDECREF(what);
        goto out;
    }
    /* Not tracked by the cycle collector while it holds only its MsgType
     * (and queue): tracked from the first callback (resp_track). */
    aio_resp *r = PyObject_GC_New(aio_resp, A.resp_type);
    if (!r) {
        actor_responder_free(resp);
        goto out;
    }
    memset((char *)r + sizeof(PyObject), 0, (size_t)A.resp_type->tp_basicsize - sizeof(PyObject));
    r->r = resp;
    r->mt = mt;
    r->gen = shim_fork_generation();
    mt = NULL;
    res = (PyObject *)r;
out:
    Py_XDECREF(data);
    Py_XDECREF(mt);
    Py_DECREF(p);
    return res;
}

static PyMethodDef aio_ask_def = {
    "ask", (PyCFunction)(void (*)(void))aio_ask, METH_FASTCALL | METH_KEYWORDS,
    "ask(type, *fields, timeout=None)\n--\n\n"
    "Sends a request and returns its Responder at once (`type`: a MsgType or its name; "
    "`fields` fit its layout, one bytes-like object when opaque). With `timeout` (seconds) "
    "the request has a deadline on the runtime's clock (addr_interact_within): past it, the "
    "responder completes with actor.Expired."};

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */
/* ------------------------------------------------------------------------ */

static int slot_offset(PyObject *cls, const char *name, Py_ssize_t *out)
{
    PyObject *d = PyObject_GetAttrString(cls, name);
    if (!d)
        return -1;
    int ok = Py_IS_TYPE(d, &PyMemberDescr_Type) &&
             ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
    if (ok)
        *out = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);
    if (!ok)
        PyErr_Format(PyExc_TypeError, "%R.%s is not a slot", cls, name);
    return ok ? 0 : -1;
}

static int cfg_get(PyObject *cfg, const char *key, PyObject **out)
{
    PyObject *v = PyDict_GetItemString(cfg, key);
    if (!v) {
        PyErr_Format(PyExc_KeyError, "aio_setup: %s", key);
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(*out, v);
    return 0;
}

static PyObject *aio_setup(PyObject *module, PyObject *cfg)
{
    (void)module;
    if (!PyDict_Check(cfg)) {
        PyErr_SetString(PyExc_TypeError, "aio_setup takes a dict");
        return NULL;
    }
    PyObject *resp = NULL, *msgtype = NULL, *address = NULL;
    if (cfg_get(cfg, "responder", &resp) < 0 || cfg_get(cfg, "msgtype", &msgtype) < 0 ||
        cfg_get(cfg, "address", &address) < 0)
        goto fail;
    if (!PyType_Check(resp) || !PyType_IsSubtype((PyTypeObject *)resp, &Resp_Type) ||
        ((PyTypeObject *)resp)->tp_itemsize != 0 ||
        ((PyTypeObject *)resp)->tp_dictoffset != 0 ||
        !PyType_Check(msgtype) || !PyType_Check(address)) {
        PyErr_SetString(PyExc_TypeError, "aio_setup: bad classes");
        goto fail;
    }
    if (slot_offset(msgtype, "_ptr", &A.mt_ptr) < 0 ||
        slot_offset(msgtype, "_fpack", &A.mt_fpack) < 0 ||
        slot_offset(msgtype, "_funpack", &A.mt_funpack) < 0 ||
        slot_offset(msgtype, "_rmode", &A.mt_rmode) < 0 ||
        slot_offset(msgtype, "_fcodes", &A.mt_fcodes) < 0 ||
        slot_offset(address, "_ptr", &A.addr_ptr) < 0)
        goto fail;
    if (cfg_get(cfg, "by_name", &A.by_name) < 0 || cfg_get(cfg, "resolve", &A.resolve) < 0 ||
        cfg_get(cfg, "addr_error", &A.addr_error) < 0 ||
        cfg_get(cfg, "outcome_error", &A.outcome_error) < 0 ||
        cfg_get(cfg, "wait", &A.wait) < 0 || cfg_get(cfg, "queue_for", &A.queue_for) < 0 ||
        cfg_get(cfg, "callback_failed", &A.callback_failed) < 0 ||
        cfg_get(cfg, "closed", &A.closed) < 0 || cfg_get(cfg, "invalid", &A.invalid) < 0 ||
        cfg_get(cfg, "running_loop", &A.running_loop) < 0 ||
        cfg_get(cfg, "event_loop", &A.event_loop) < 0 ||
        cfg_get(cfg, "cancelled_error", &A.cancelled_error) < 0 ||
        cfg_get(cfg, "deadlock", &A.deadlock) < 0 ||
        cfg_get(cfg, "then_failed", &A.then_failed) < 0)
        goto fail;
    if (!PyDict_Check(A.by_name)) {
        PyErr_SetString(PyExc_TypeError, "aio_setup: by_name is a dict");
        goto fail;
    }
    /* Address.ask: a method descriptor, called without a bound method. */
    PyObject *descr = PyDescr_NewMethod((PyTypeObject *)address, &aio_ask_def);
    if (!descr)
        goto fail;
    int rc = PyObject_SetAttrString(address, "ask", descr);
    Py_DECREF(descr);
    if (rc < 0)
        goto fail;
    Py_XSETREF(A.resp_type, (PyTypeObject *)resp);
    Py_XSETREF(A.msgtype, (PyTypeObject *)msgtype);
    Py_DECREF(address);
    A.ready = 1;
    Py_RETURN_NONE;
fail:
    Py_XDECREF(resp);
    Py_XDECREF(msgtype);
    Py_XDECREF(address);
    return NULL;
}

static PyMethodDef aio_functions[] = {
    {"aio_setup", (PyCFunction)aio_setup, METH_O,
     "Connects the fast path to the package (actor._runtime, at import)."},
    {NULL, NULL, 0, NULL}};

int shim_aio_init(PyObject *module, shim_get_ptr_fn get_ptr, shim_new_ptr_fn new_ptr)
{
    A.get_ptr = get_ptr;
    A.new_ptr = new_ptr;
    if (!(s_call_soon = PyUnicode_InternFromString("call_soon")) ||
        !(s_flush = PyUnicode_InternFromString("_flush")) ||
        !(s_run = PyUnicode_InternFromString("run")) ||
        !(s_pack = PyUnicode_InternFromString("pack")) ||
        !(s_payload = PyUnicode_InternFromString("_payload")) ||
        !(s_reply = PyUnicode_InternFromString("_reply")) ||
        !(s_unpack_value = PyUnicode_InternFromString("unpack_value")) ||
        !(s_ptr = PyUnicode_InternFromString("_ptr")) ||
        !(kw_context = Py_BuildValue("(s)", "context")) ||
        !(s_thread_id = PyUnicode_InternFromString("_thread_id")) ||
        !(s_call_soon_threadsafe = PyUnicode_InternFromString("call_soon_threadsafe")) ||
        !(s_deliver = PyUnicode_InternFromString("_deliver")) ||
        !(s_closed = PyUnicode_InternFromString("_closed")))
        return -1;
    pthread_atfork(NULL, NULL, rl_atfork_child);
    shim_fork_watch();
    if (PyType_Ready(&Resp_Type) < 0 || PyType_Ready(&Queue_Type) < 0)
        return -1;
    Py_INCREF(&Resp_Type);
    if (PyModule_AddObject(module, "ResponderBase", (PyObject *)&Resp_Type) < 0) {
        Py_DECREF(&Resp_Type);
        return -1;
    }
    Py_INCREF(&Queue_Type);
    if (PyModule_AddObject(module, "AioQueue", (PyObject *)&Queue_Type) < 0) {
        Py_DECREF(&Queue_Type);
        return -1;
    }
    return PyModule_AddFunctions(module, aio_functions);
}
