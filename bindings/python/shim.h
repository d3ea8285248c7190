/*
 * The C side of the Python binding that SWIG cannot generate: compiled into
 * the extension module (actor._core) next to the SWIG wrapper.
 *
 * - Blocking calls (waits, joins, shutdown, free) with the GIL released,
 *   waiting in slices so that Ctrl-C (a pending signal) interrupts them.
 * - A completion queue for asyncio: an eventfd plus a mutex-protected list of
 *   watch nodes. A responder's actor_responder_then callback runs on the C
 *   thread that completes it, WITHOUT the GIL: it appends the node and writes
 *   the eventfd only when the list goes from empty to non-empty. The event
 *   loop watches the fd (loop.add_reader) and drains the list with the GIL.
 *   aio.c builds the asyncio side on it (Responder as a future, one queue per
 *   loop, Address.ask in C).
 * - Python actors: one C class per Python Actor subclass, all sharing the
 *   same C callbacks (one init, finalize, interrupt, fallback, event handler
 *   and request handler). A callback finds the Python class and the handler
 *   tables through the class's user data (actor_class_userdata of
 *   actor_ctx_class) and the handler through the type being handled
 *   (actor_ctx_msgtype), so there is no limit on classes or types. The
 *   callbacks run on the runtime's worker threads and take the GIL (a worker
 *   keeps one Python thread state for its life, dropped at thread exit), but
 *   only while a process-wide flag says Python is alive. The package's
 *   atexit handler shuts every runtime down, then calls shim_python_dying(),
 *   which clears the flag and waits (GIL released) until no worker is inside
 *   Python. Interpreter finalization starts after atexit, so no C thread can
 *   ever call into a finalizing interpreter (CPython gh-87135).
 *
 * Every function here is called from Python with the GIL held (SWIG wrapper).
 */
#ifndef ACTOR_PY_SHIM_H
#define ACTOR_PY_SHIM_H

#include <Python.h>
#include <actor/actor.h>

typedef struct shim_cq shim_cq;
typedef struct shim_cqnode shim_cqnode;

/* ---- blocking calls: GIL released, signals checked between slices ---- */

/* actor_responder_wait; returns the int status, or NULL with an exception
 * when a signal handler raised (KeyboardInterrupt). */
PyObject *shim_responder_wait(actor_responder *r, int timeout_ms);
/* addr_join; returns the int code, or NULL with an exception (signal). */
PyObject *shim_addr_join(actor_addr *a, int timeout_ms);
/* actor_runtime_shutdown; returns the int code, or NULL (signal). */
PyObject *shim_runtime_shutdown(actor_runtime *rt, int timeout_ms);
/* actor_runtime_free with the GIL released. */
void shim_runtime_free(actor_runtime *rt);
/* actor_runtime_new with the GIL released. */
int shim_runtime_new(unsigned threads, actor_runtime **out);
/* addr_release with the GIL released. */
void shim_addr_release(actor_addr *a);

/* The reply bytes of a responder complete with ACTOR_OK, else None. */
PyObject *shim_responder_bytes(actor_responder *r);
/* Frees r (pending is fine), then drops the watch node of shim_cq_watch
 * (NULL if never watched). */
void shim_responder_free(actor_responder *r, shim_cqnode *node);
/* Frees the responders whose free was deferred (shim_responder_release)
 * once their watch callback is done; all: every one, waiting if need be. */
void shim_responder_reap(int all);

/* ---- the asyncio completion queue ---- */

/* A new queue with its eventfd; NULL with an exception set on failure. */
shim_cq *shim_cq_new(void);
/* The fd to watch for readability; do not read it, call shim_cq_drain. */
int shim_cq_fd(shim_cq *q);
/* Arranges for `token` to be queued on q once r completes (at once if it is
 * complete). *out gets the node to pass to shim_responder_free. Returns
 * ACTOR_OK, ACTOR_EINVAL (r already has a callback), ACTOR_ENOMEM. */
int shim_cq_watch(shim_cq *q, actor_responder *r, unsigned long long token,
                  shim_cqnode **out);
/* Resets the fd, then takes every queued token: a list of ints. */
PyObject *shim_cq_drain(shim_cq *q);
/* The Python owner lets go: the queue is closed (later completions are
 * dropped), its fd closed when the last watch node is gone. */
void shim_cq_close(shim_cq *q);

#ifndef SWIG
/* ---- internal to the extension (aio.c), not wrapped ---- */

/* shim_cq_watch with an owner pointer (read back by shim_cqnode_owner)
 * instead of a token. */
int shim_cq_watch_owner(shim_cq *q, actor_responder *r, void *owner, shim_cqnode **out);
/* Resets the fd, then takes every queued node: a list linked by
 * shim_cqnode_next, each to be released with shim_cqnode_release. */
shim_cqnode *shim_cq_take(shim_cq *q);
shim_cqnode *shim_cqnode_next(const shim_cqnode *n);
/* The owner given to shim_cq_watch_owner; written and read with the GIL only. */
void *shim_cqnode_owner(const shim_cqnode *n);
void shim_cqnode_set_owner(shim_cqnode *n, void *owner);
/* Drops the list's reference to a node taken by shim_cq_take. */
void shim_cqnode_release(shim_cqnode *n);
/* shim_responder_free that never blocks: while the completing thread is
 * still inside the watch callback, the free is deferred to a later call of
 * this or of shim_responder_reap. With the GIL. */
void shim_responder_release(actor_responder *r, shim_cqnode *node);

/* aio.c: the asyncio fast path (actor._core.ResponderBase, AioQueue, ...),
 * added to the module by its init. `get_ptr(obj, kind)` converts a SWIG
 * pointer object (NULL with an exception if it is not one of that kind);
 * `new_ptr(ptr, kind)` makes one. Returns 0, or -1 with an exception. */
enum { SHIM_PTR_ADDR = 0, SHIM_PTR_MSGTYPE, SHIM_PTR_RESPONDER };
typedef void *(*shim_get_ptr_fn)(PyObject *obj, int kind);
typedef PyObject *(*shim_new_ptr_fn)(void *ptr, int kind);
int shim_aio_init(PyObject *module, shim_get_ptr_fn get_ptr, shim_new_ptr_fn new_ptr);
#endif

/* ---- Python actors ---- */

/* The `kind` argument of the dispatcher. */
enum {
    SHIM_K_NEW = 0,   /* instance None, arg = the Python class: return a new instance */
    SHIM_K_INIT,      /* return 0 or a nonzero code (init failed) */
    SHIM_K_FINALIZE,  /* return value ignored */
    SHIM_K_INTERRUPT, /* return value ignored */
    SHIM_K_EVENT,     /* arg = the type's handler entry, extra = payload bytes;
                         return a code */
    SHIM_K_REQUEST,   /* arg = the type's handler entry, extra = payload bytes;
                         return a code (0: answered or deferred; nonzero:
                         handler error) */
    SHIM_K_FALLBACK   /* arg = the error code (int), extra = the type's name */
};

/* Sets the Python callable that runs every Python actor callback:
 * dispatch(kind, instance, arg, ctx_as_int, extra). */
void shim_set_dispatch(PyObject *fn);
/* A new (unregistered) C class named `name` whose hooks call into Python for
 * instances of `pyclass`. `events` and `requests` are the class's handler
 * tables (dicts, filled by shim_pyclass_on); the class keeps references to
 * the three for the process. with_interrupt: install an on_interrupt hook
 * (otherwise the default, actor_ctx_stop). ACTOR_OK, ACTOR_EINVAL (bad name,
 * not dicts), ACTOR_ENOMEM. */
int shim_pyclass_new(const char *name, PyObject *pyclass, PyObject *events, PyObject *requests,
                     int with_interrupt, actor_class **out);
/* Routes type t to Python on class c (request != 0: as a request handler):
 * `handler` is stored in the class's table of that kind under the key
 * int(t's pointer) and is the `arg` the dispatcher receives for messages of
 * that type. Returns ACTOR_OK or a negative ACTOR_E* code (ACTOR_EBUSY once
 * the class is in use, ACTOR_EINVAL for a class not made by
 * shim_pyclass_new, ACTOR_ENOMEM). */
int shim_pyclass_on(actor_class *c, const actor_msgtype *t, int request, PyObject *handler);
/* Frees a class of shim_pyclass_new that was never spawned nor registered
 * (its setup failed); does nothing to a class in use. */
void shim_pyclass_discard(actor_class *c);
/* Spawns an actor of cls; a non-None `instance` becomes its state (a strong
 * reference is taken; released after finalize). The GIL stays held. */
int shim_spawn(actor_runtime *rt, actor_class *cls, PyObject *instance, actor_addr **out);
/* Clears the alive flag and waits, GIL released, until no C thread is inside
 * Python. From then on Python actor callbacks do not enter Python: init
 * fails, events return ACTOR_ECLOSED, requests are canceled. */
void shim_python_dying(void);
/* 1 while Python actors may run. */
int shim_python_alive(void);

#endif
