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
 *   atexit handler shuts every runtime down (for a bounded time), then calls
 *   shim_python_dying(), which clears the flag and waits (GIL released, in
 *   slices, Ctrl-C ends it) until no worker is inside Python. Interpreter
 *   finalization starts after atexit, so no C thread can enter a finalizing
 *   interpreter (CPython gh-87135); one still inside Python when the wait is
 *   cut short leaves it only through CPython's own exit path.
 * - The C class of a Python class lives as long as the Python class or one
 *   of its actors does (shim_pyclass_free, from the class record's owner).
 * - Per thread: whether a Python actor callback (or a then() callback) runs
 *   on it (shim_in_handler), so waits that would deadlock are refused; at
 *   exit, whether sends from it are still accepted (shim_send_refused).
 * - fork(): a child forgets what belongs to the parent's threads (in-flight
 *   counts, deferred frees, completion queues).
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

/* ---- exit, fork, and where this thread is ---- */

/* The atexit shutdown begins on this thread: from now on sends, asks and
 * spawns from other threads are refused (shim_send_refused), unless they
 * come from inside an actor's callback. */
void shim_exit_begin(void);
/* 1 if a send or ask made on this thread now must be refused (exiting, and
 * neither the exiting thread nor inside a callback). */
int shim_send_refused(void);
/* 1 while a Python actor callback, or a then() callback, runs on this thread
 * (waiting there for a reply would block the worker: Deadlock). */
int shim_in_handler(void);
/* Times this process forked (the child's count is the parent's + 1): objects
 * made under another count belong to the parent. */
unsigned shim_fork_generation(void);

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

/* Taking the GIL from a C thread of libactor (then() callbacks): as the
 * actor callbacks do. shim_py_enter returns 0 (and takes nothing) once
 * Python is dying. shim_handler_enter/leave mark this thread as running a
 * callback (shim_in_handler). */
typedef struct shim_py_token {
    int mode;
    PyGILState_STATE gs;
} shim_py_token;
int shim_py_enter(shim_py_token *t);
void shim_py_leave(shim_py_token *t);
void shim_handler_enter(void);
void shim_handler_leave(void);
/* Installs the fork handlers (once; at import). */
void shim_fork_watch(void);
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
    SHIM_K_FALLBACK,  /* arg = the error code (int), extra = the type's name */
    SHIM_K_RESPONSE,  /* arg = the type's handler entry, extra = (status, reply
                         bytes or None); return value ignored */
    SHIM_K_DOWN,      /* (1.1) arg = the reason (int), extra = a counted address
                         (SWIG pointer) of the monitored actor */
    SHIM_K_ANY        /* (1.1) arg = the type's name, extra = payload bytes;
                         return a code */
};

/* Sets the Python callable that runs every Python actor callback:
 * dispatch(kind, instance, arg, ctx_as_int, extra). */
void shim_set_dispatch(PyObject *fn);
/* A new (unregistered) C class named `name` whose hooks call into Python.
 * with_interrupt: install an on_interrupt hook (otherwise the default,
 * actor_ctx_stop). The class holds no Python object: each actor holds its
 * class record (shim_spawn), a registered class holds it for the process
 * (shim_pyclass_register). ACTOR_OK, ACTOR_EINVAL (bad name), ACTOR_ENOMEM. */
int shim_pyclass_new(const char *name, int with_interrupt, actor_class **out);
/* Routes type t to Python on class c: kind 0 event, 1 request, 2 response
 * (a forwarded responder's outcome). The handler is looked up at each
 * message in the record's table of that kind under int(t's pointer).
 * Returns ACTOR_OK or a negative ACTOR_E* code (ACTOR_EBUSY once the class
 * is in use, ACTOR_EINVAL for a class not made by shim_pyclass_new). */
int shim_pyclass_on(actor_class *c, const actor_msgtype *t, int kind);
/* actor_class_register; on ACTOR_OK the class keeps `record` for the process
 * (so C can spawn it by name with state NULL). */
int shim_pyclass_register(actor_class *c, PyObject *record);
/* Drops the creator's reference of a class of shim_pyclass_new (its Python
 * class is gone; actors still alive keep the C class). */
void shim_pyclass_free(actor_class *c);
/* C classes of shim_pyclass_new not yet given to shim_pyclass_free. */
long shim_pyclass_live(void);
/* Spawns an actor of cls; `record` is the Python class's record, a tuple
 * (class, events, requests, responses, ...) whose tables map int(type
 * pointer) to the dispatcher's entry; a non-None `instance` becomes its state.
 * Strong references to both are taken (released after finalize). With
 * instance None the instance is made by init (a spawn by name). The GIL stays
 * held. ACTOR_EINVAL for a record of the wrong shape. */
int shim_spawn(actor_runtime *rt, actor_class *cls, PyObject *instance, PyObject *record,
               actor_addr **out);
/* Clears the alive flag and waits, GIL released, in slices, until no C
 * thread is inside Python, at most timeout_ms (< 0: no limit); a signal
 * (Ctrl-C) ends the wait too (the exception is dropped). From then on Python
 * actor callbacks do not enter Python: init fails, events return
 * ACTOR_ECLOSED, requests are canceled. Returns how many C threads were
 * still inside Python (0: none). */
int shim_python_dying(int timeout_ms);
/* 1 while Python actors may run. */
int shim_python_alive(void);

/* ---- 1.1: time, flow, failure, composition (end of shim.c) ---- */

/* Manual runtimes, run with the GIL released (Python actors run on this
 * thread and take it back). step: 1, 0 or a code; run: the count ran or a
 * negative code; advance: a code. */
int shim_runtime_new_manual(unsigned long long seed, actor_runtime **out);
int shim_runtime_step(actor_runtime *rt);
long long shim_runtime_run(actor_runtime *rt, long long max_messages);
int shim_runtime_advance(actor_runtime *rt, unsigned long long ms);
/* addr_send_wait with the GIL released. */
int shim_addr_send_wait(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len,
                        int timeout_ms);
/* A watch for room in a's bounded mailbox (addr_on_room), for send_async:
 * its eventfd becomes readable once there may be room (or a stopped). The
 * callback writes the fd without the GIL; the fd stays open until both the
 * callback has run and the owner has closed the watch (shim_room_close), so
 * a cancelled await never leaves the callback writing to a reused fd.
 * ACTOR_OK and *out; ACTOR_EINVAL (a is a pool's address); ACTOR_ENOMEM
 * (no memory, or no fd left). */
typedef struct shim_room shim_room;
int shim_room_watch(actor_addr *a, shim_room **out);
int shim_room_fd(shim_room *w);
void shim_room_close(shim_room *w);
/* The counters as dicts of the structs' field names; None for a bad handle
 * (the code is not kept: check the handle first). */
PyObject *shim_addr_stats(actor_addr *a);
PyObject *shim_runtime_stats(actor_runtime *rt);
/* (code, exit reason or None). */
PyObject *shim_addr_exit_reason(actor_addr *a);
/* actor_publish: (code, delivered). */
PyObject *shim_publish(actor_runtime *rt, const char *subject, const actor_msgtype *t,
                       const void *payload, size_t len);
/* Dead letters to fn(counted address pointer, type name, payload bytes,
 * reason), with the GIL; fn is kept for the process. ACTOR_EBUSY after the
 * first spawn. */
int shim_runtime_on_dead_letter(actor_runtime *rt, PyObject *fn);
/* Supervisor and pool spawns from plain arguments. */
int shim_supervisor_spawn(actor_runtime *rt, int strategy, unsigned intensity,
                          unsigned period_ms, unsigned backoff_ms, unsigned backoff_max_ms,
                          actor_addr **out);
int shim_supervisor_start_supervisor(actor_addr *sup, int strategy, unsigned intensity,
                                     unsigned period_ms, unsigned backoff_ms,
                                     unsigned backoff_max_ms, int restart, actor_addr **out);
int shim_pool_spawn(actor_runtime *rt, actor_class *cls, unsigned members, int route,
                    size_t key_offset, size_t key_len, actor_addr **out);
/* A Python class's C class keeps `record` for the process (as a registered
 * one does) so that the runtime may make its actors with state NULL
 * (supervisors, pools): each incarnation gets a fresh instance. */
int shim_pyclass_keep(actor_class *c, PyObject *record);
/* Installs the Down handler (SHIM_K_DOWN) / catch-all event handler
 * (SHIM_K_ANY) on a class of shim_pyclass_new. */
int shim_pyclass_on_down(actor_class *c);
int shim_pyclass_on_any_event(actor_class *c);
#ifndef SWIG
/* core.i: a SWIG pointer object of an address (new reference). */
PyObject *shim_addr_obj(actor_addr *a);
#endif

#endif
