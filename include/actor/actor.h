/*
 * libactor — actors for C: a stable C ABI over a multi-threaded libevent runtime.
 *
 * This header is the whole supported interface. Nothing outside it (internal
 * headers, unexported symbols, struct layouts) is part of the ABI.
 *
 * Conventions
 * - Functions that can fail return int: ACTOR_OK (0) or a negative ACTOR_E*
 *   code; results come back through out-parameters, which are left untouched
 *   on failure. A NULL handle or a bad argument is ACTOR_EINVAL, never a crash.
 * - Handles are opaque. "Counted" handles (actor_addr from actor_spawn or
 *   addr_ref) must be released once; "borrowed" ones must not.
 * - Threads: addr_* and actor_responder_* may be called from any thread;
 *   actor_ctx_* only inside the callbacks of the actor that ctx belongs to.
 *   Blocking calls (addr_join, actor_responder_wait with a nonzero timeout,
 *   actor_runtime_shutdown) return ACTOR_EDEADLK on a worker thread.
 * - fork(): a child process inherits the parent's runtimes only as dead
 *   handles. Their threads do not exist in the child and their event bases
 *   and fds are the parent's, so the child never touches them: every call on
 *   such a runtime or on its actors' addresses returns ACTOR_ECLOSED there
 *   (actor_runtime_shutdown too), and actor_runtime_free returns at once,
 *   leaving the memory to the child's exit. Runtimes made in the child work.
 * - Structs that cross the ABI (1.1) begin with `size_t size`, set by the
 *   caller to the sizeof it was compiled with; the library reads or writes
 *   only that many bytes.
 */
#ifndef ACTOR_ACTOR_H
#define ACTOR_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACTOR_STATIC)
#define ACTOR_API
#elif defined(__GNUC__) || defined(__clang__)
#define ACTOR_API __attribute__((visibility("default")))
#else
#define ACTOR_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ACTOR_NODISCARD __attribute__((warn_unused_result))
#else
#define ACTOR_NODISCARD
#endif

/* ------------------------------------------------------------------------ */
/* Errors and version                                                        */
/* ------------------------------------------------------------------------ */

/* Result codes: ACTOR_OK, or what went wrong (negative). */
enum {
    ACTOR_OK = 0,          /* success                                              */
    ACTOR_EINVAL = -1,     /* bad argument or NULL handle                          */
    ACTOR_ENOMEM = -2,     /* an allocation failed; nothing was done               */
    ACTOR_ECLOSED = -3,    /* the actor (or runtime) is stopping or done           */
    ACTOR_ETIMEDOUT = -4,  /* a wait ran out of time; the thing is still pending   */
    ACTOR_ECANCELED = -5,  /* the actor stopped, or dropped the request, unanswered */
    ACTOR_ENOHANDLER = -6, /* the actor's class has no handler for that type       */
    ACTOR_ETYPE = -7,      /* payload does not fit the type's layout; or a type
                              redefined with other layouts                          */
    ACTOR_EHANDLER = -8,   /* the request handler failed (see handler_error)       */
    ACTOR_EDEADLK = -9,    /* a blocking call on a worker thread of a runtime      */
    ACTOR_EBUSY = -10,     /* a class in use is changed; a registered name taken   */
    ACTOR_EAGAIN = -11,    /* not complete yet                                     */
    ACTOR_EFULL = -12,     /* a bounded mailbox refused the message (1.1, flow
                              control; unbounded mailboxes never answer it)         */
    ACTOR_ENOENT = -13,    /* no such name, key, child or subscription (1.1)       */
    ACTOR_EEXPIRED = -14   /* a request's deadline passed before it was answered;
                              final (ACTOR_ETIMEDOUT: a wait ran out, still pending) */
};

/* A short English description of `code`; never NULL, also for unknown codes. */
ACTOR_API const char *actor_strerror(int code);

/* The header's version, major, minor and patch (actor_version: the library's). */
#define ACTOR_VERSION_MAJOR 1
#define ACTOR_VERSION_MINOR 1
#define ACTOR_VERSION_PATCH 0

/* The library's version: (major << 16) | (minor << 8) | patch. */
ACTOR_API unsigned actor_version(void);
/* The library's version as "MAJOR.MINOR.PATCH"; a static string. */
ACTOR_API const char *actor_version_string(void);

/* ------------------------------------------------------------------------ */
/* Opaque handles                                                            */
/* ------------------------------------------------------------------------ */

/* A runtime: worker threads that run actors (actor_runtime_new). */
typedef struct actor_runtime actor_runtime;
/* An actor class: the behaviour of actors (actor_class_new). */
typedef struct actor_class actor_class;
/* A message type: a name and checked layouts (actor_msgtype_define). */
typedef struct actor_msgtype actor_msgtype;
/* An actor's address, counted (actor_spawn, addr_ref) or borrowed. */
typedef struct actor_addr actor_addr;
/* What a callback may do to its own actor; valid during the callback only. */
typedef struct actor_ctx actor_ctx;
/* The pending answer of a request (addr_interact). */
typedef struct actor_responder actor_responder;
/* A deferred request, answered later (actor_ctx_defer). */
typedef struct actor_promise actor_promise;

/* ------------------------------------------------------------------------ */
/* Runtime                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Starts a runtime of `threads` workers (0: one per online CPU; at most 1024),
 * each a thread driving its own libevent event_base.
 * Returns ACTOR_OK and *out, ACTOR_EINVAL (out NULL, threads too many),
 * ACTOR_ENOMEM, or ACTOR_ECLOSED if a worker thread could not be started.
 */
ACTOR_API int actor_runtime_new(unsigned threads, actor_runtime **out);

/*
 * Interrupts every live actor (behind what is already queued to it), waits
 * until all are Done, then stops the workers. From the call on, actor_spawn
 * on this runtime returns ACTOR_ECLOSED, even when the wait times out.
 * timeout_ms < 0 waits as long as needed. Returns ACTOR_OK once every actor
 * is Done and the workers stopped; ACTOR_ETIMEDOUT if the time ran out first
 * (call again to wait more); ACTOR_EDEADLK on a worker thread; ACTOR_EINVAL
 * for NULL. Idempotent. Any thread outside the runtime.
 */
ACTOR_API int actor_runtime_shutdown(actor_runtime *rt, int timeout_ms);

/*
 * Shuts the runtime down (waiting as long as needed) if that was not done,
 * then frees it. While it waits it logs a warning every 10 s naming the
 * classes of the actors still alive (an on_interrupt that never stops one
 * is the usual cause). Addresses and responders outlive it: every operation on them
 * then returns ACTOR_ECLOSED, every request still pending (deferred ones too)
 * completes with ACTOR_ECANCELED, a promise still held resolves to
 * ACTOR_ECLOSED; they must still be released or freed. NULL is fine.
 * Called on a worker thread it logs an error and does nothing (it would
 * deadlock).
 */
ACTOR_API void actor_runtime_free(actor_runtime *rt);

/* A runtime's counters (1.1), with the `size` convention of actor_stats
 * (at least up to `threads`). */
typedef struct actor_runtime_stats {
    size_t size;                          /* sizeof(actor_runtime_stats)         */
    unsigned long long actors_live;       /* spawned and not yet Done            */
    unsigned long long actors_spawned;    /* since the runtime started           */
    unsigned long long messages_handled;  /* events and requests handled         */
    unsigned long long wakeups;           /* a sleeping worker woken             */
    unsigned long long migrations;        /* actors moved between workers        */
    unsigned threads;                     /* worker threads (0: manual)          */
} actor_runtime_stats;
/* ACTOR_OK and *out, ACTOR_EINVAL (NULL, size too small). Any thread. */
ACTOR_API int actor_runtime_stats_get(actor_runtime *rt, actor_runtime_stats *out);

/*
 * Observability hooks (1.1), with the `size` convention (at least up to
 * `handled`). dead_letter gets every event that will not be handled, with
 * the reason: ACTOR_ECLOSED (sent to a stopping or Done actor, or queued to
 * it when it stopped) or ACTOR_EFULL (dropped by a DROP mailbox); `to` and
 * the payload are borrowed for the call; any thread, possibly concurrently.
 * handled runs after each event or request an actor handled, on its worker,
 * with the time the handler took in ns. A hook may send messages (also to a
 * full actor: it gets ACTOR_EFULL like anyone). Without hooks nothing is
 * timed: no clock is read on the message path.
 * actor_runtime_set_hooks copies *h; before the first spawn on rt, else
 * ACTOR_EBUSY; ACTOR_EINVAL for NULL or a size too small. No hook runs
 * after actor_runtime_free returned.
 */
typedef struct actor_hooks {
    size_t size; /* sizeof(actor_hooks) */
    void *ud;    /* passed to every hook */
    /* an event that will not be handled, and why (ACTOR_ECLOSED, ACTOR_EFULL) */
    void (*dead_letter)(void *ud, actor_addr *to, const actor_msgtype *t, const void *payload,
                        size_t len, int why);
    /* after each event or request an actor handled, with the handler's time */
    void (*handled)(void *ud, actor_addr *a, const actor_msgtype *t, unsigned long long ns);
} actor_hooks;
ACTOR_API int actor_runtime_set_hooks(actor_runtime *rt, const actor_hooks *h);

/* ------------------------------------------------------------------------ */
/* Time: the manual runtime (1.1)                                            */
/* ------------------------------------------------------------------------ */

/*
 * A runtime with no threads and a virtual clock that starts at 0 and moves
 * only with actor_runtime_advance. Its messages are handled only inside
 * actor_runtime_step, _run, _advance and the blocking calls (addr_join,
 * actor_responder_wait with a nonzero timeout, actor_runtime_shutdown and
 * _free), on the calling thread; other threads may send (that only queues).
 * The next actor to run is chosen among the ready ones by a PRNG seeded with
 * `seed`: the same program under the same seed handles the same messages in
 * the same order, every run. On it, the blocking calls run the runtime until
 * their condition holds; if it goes idle first they return ACTOR_ETIMEDOUT
 * at once, whatever their timeout, without moving the clock (if another
 * thread is running it at that moment, they wait as on a threaded runtime).
 * actor_runtime_free stops the actors that ignore its interrupt (finalize
 * runs; a warning names them): nothing else would ever run them.
 * Returns ACTOR_OK and *out, ACTOR_EINVAL (out NULL), ACTOR_ENOMEM.
 */
ACTOR_API int actor_runtime_new_manual(uint64_t seed, actor_runtime **out);
/* Fires what is due now, then runs one callback (init, one message, or
 * finalize) of a ready actor. Returns 1 if one ran, 0 if the runtime is
 * idle; ACTOR_EINVAL (NULL, a threaded runtime, or inside a handler);
 * ACTOR_EBUSY (another thread is running it right now). */
ACTOR_API int actor_runtime_step(actor_runtime *rt);
/* Steps until idle or max_messages ran (SIZE_MAX: no limit); *ran (may be
 * NULL) gets the count. ACTOR_OK, or the codes of actor_runtime_step. */
ACTOR_API int actor_runtime_run(actor_runtime *rt, size_t max_messages, size_t *ran);
/* Moves the virtual clock `ms` forward through every timer and deadline
 * due on the way, in time order, firing each at its own time and running
 * until idle after each. ACTOR_OK, ACTOR_EINVAL (as step, or ms over 2^42),
 * ACTOR_EBUSY (another thread is running it right now). */
ACTOR_API int actor_runtime_advance(actor_runtime *rt, uint64_t ms);
/* The runtime's clock in ms: virtual on a manual runtime, else monotonic
 * time since the runtime started. 0 for NULL. Any thread. */
ACTOR_API uint64_t actor_runtime_now_ms(const actor_runtime *rt);

/* ------------------------------------------------------------------------ */
/* Message types: named, with a checked layout; one mailbox carries them all */
/* ------------------------------------------------------------------------ */

/*
 * Defines (or finds) the process-wide type `name` (1 to 64 characters of
 * [A-Za-z0-9_.:-]). `layout` describes the payload, `reply_layout` the reply
 * of a request of this type. A layout is NULL (opaque bytes of any length),
 * "" (no fields, size 0) or a format of Python's struct module, always
 * little-endian, standard sizes, no padding: the characters x ? b B h H i I q
 * Q f d s, each with an optional decimal repeat count ("qq", "16s", "2id");
 * a layout of more than 1 GiB is refused.
 * Returns ACTOR_OK and *out (the same pointer for a name defined again with
 * the same layouts, compared as strings); ACTOR_ETYPE for a name already
 * defined with other layouts; ACTOR_EINVAL for a bad name or layout or NULL
 * out; ACTOR_ENOMEM. Types live as long as the process. Any thread.
 */
ACTOR_API int actor_msgtype_define(const char *name, const char *layout,
                                   const char *reply_layout, const actor_msgtype **out);
/* The type named `name`, or NULL if none (or name NULL). Any thread. */
ACTOR_API const actor_msgtype *actor_msgtype_find(const char *name);
/* The type's name; NULL for a NULL type. */
ACTOR_API const char *actor_msgtype_name(const actor_msgtype *t);
/* The payload layout; NULL for opaque bytes (and for a NULL type). */
ACTOR_API const char *actor_msgtype_layout(const actor_msgtype *t);
/* The reply layout; NULL for opaque bytes (and for a NULL type). */
ACTOR_API const char *actor_msgtype_reply_layout(const actor_msgtype *t);
/* The payload size in bytes the layout fixes; 0 when opaque (or "" or NULL). */
ACTOR_API size_t actor_msgtype_size(const actor_msgtype *t);
/* The reply size in bytes the reply layout fixes; 0 when opaque or "". */
ACTOR_API size_t actor_msgtype_reply_size(const actor_msgtype *t);

/* ------------------------------------------------------------------------ */
/* Actor classes: the behaviour                                              */
/* ------------------------------------------------------------------------ */

/* Runs first, before any message. Nonzero: logged; the actor processes
 * nothing, finalize runs, it is Done and its queued requests are canceled. */
typedef int (*actor_init_fn)(actor_ctx *ctx, void *state);
/* Runs last, once, whether init succeeded or not. */
typedef void (*actor_finalize_fn)(actor_ctx *ctx, void *state);
/* Runs for addr_interrupt and at runtime shutdown. Default: actor_ctx_stop. */
typedef void (*actor_interrupt_fn)(actor_ctx *ctx, void *state);
/* An event. Nonzero goes to the fallback with that very code. Payloads
 * (here and in requests) are 8-byte aligned and valid during the call. */
typedef int (*actor_event_fn)(actor_ctx *ctx, void *state, const void *payload, size_t len);
/* A request: answer with actor_ctx_reply or actor_ctx_defer. Returning
 * nonzero without answering completes it with ACTOR_EHANDLER (the code is
 * the responder's handler_error); 0 without answering: ACTOR_ECANCELED. */
typedef int (*actor_request_fn)(actor_ctx *ctx, void *state, const void *payload, size_t len);
/* A forwarded responder's outcome (see actor_responder_forward). */
typedef void (*actor_response_fn)(actor_ctx *ctx, void *state, const actor_msgtype *type,
                                  int status, const void *reply, size_t len);
/* An event handler's error. Default: log it. */
typedef void (*actor_fallback_fn)(actor_ctx *ctx, void *state, const actor_msgtype *type,
                                  int err);

/*
 * Creates a class named `name` (the type-name rule) with no hooks.
 * Returns ACTOR_OK and *out (the caller's reference, dropped by
 * actor_class_free), ACTOR_EINVAL or ACTOR_ENOMEM.
 *
 * Every setter below returns ACTOR_OK, ACTOR_EINVAL (NULL class or type), or
 * ACTOR_EBUSY once an actor was spawned from the class. A NULL fn removes the
 * hook. Classes are not thread-safe while being set up; once in use they are
 * read-only and may be spawned from any thread.
 */
ACTOR_API int actor_class_new(const char *name, actor_class **out);
ACTOR_API int actor_class_on_init(actor_class *c, actor_init_fn fn);
ACTOR_API int actor_class_on_finalize(actor_class *c, actor_finalize_fn fn);
ACTOR_API int actor_class_on_interrupt(actor_class *c, actor_interrupt_fn fn);
ACTOR_API int actor_class_on_fallback(actor_class *c, actor_fallback_fn fn);
ACTOR_API int actor_class_on_event(actor_class *c, const actor_msgtype *t, actor_event_fn fn);
ACTOR_API int actor_class_on_request(actor_class *c, const actor_msgtype *t, actor_request_fn fn);
ACTOR_API int actor_class_on_response(actor_class *c, const actor_msgtype *t,
                                      actor_response_fn fn);
/* Catch-all handlers (1.1): taken for any type without a handler of its
 * own (actor_ctx_msgtype tells which); with them sends of events (requests)
 * are never ACTOR_ENOHANDLER. Proxies, routers and bindings are built on
 * them with the public ABI alone. Setters as above. */
ACTOR_API int actor_class_on_any_event(actor_class *c, actor_event_fn fn);
ACTOR_API int actor_class_on_any_request(actor_class *c, actor_request_fn fn);
/* Runs after finalize, with the actor's state. For a state the caller
 * passed to actor_spawn it must free the state itself; for a block the
 * runtime made (spawn with state NULL and a state size), only what init put
 * into it: the runtime frees the block afterwards. */
ACTOR_API int actor_class_set_state_free(actor_class *c, void (*free_fn)(void *state));
/* For spawns with state NULL: the runtime makes a zeroed block of `size`
 * bytes (0: state stays NULL) and frees it after finalize and state_free. */
ACTOR_API int actor_class_set_state_size(actor_class *c, size_t size);
/* Registers the class process-wide by its name; the registry holds its own
 * reference. ACTOR_EBUSY if the name is taken (by this class or another). */
ACTOR_API int actor_class_register(actor_class *c);
/* The registered class named `name` (borrowed), or NULL. Any thread. */
ACTOR_API actor_class *actor_class_find(const char *name);
/* The class's name; NULL for NULL. */
ACTOR_API const char *actor_class_name(const actor_class *c);
/* Attaches a pointer of the user's to the class (bindings keep their own
 * class object there); ACTOR_OK, ACTOR_EINVAL, ACTOR_EBUSY once in use. */
ACTOR_API int actor_class_set_userdata(actor_class *c, void *userdata);
/* The class's user pointer (NULL if none or c NULL). Any thread. */
ACTOR_API void *actor_class_userdata(const actor_class *c);
/* Drops the caller's reference; actors spawned from it and the registry keep
 * it alive. NULL is fine. */
ACTOR_API void actor_class_free(actor_class *c);

/*
 * Bounded mailboxes (1.1). `capacity` (0: unbounded, the default; at most
 * ACTOR_MAILBOX_MAX, else ACTOR_EINVAL) counts the events and requests
 * queued to an actor of the class and not yet taken by a handler: at no
 * instant are more than `capacity` queued. Interrupts, forwarded responses,
 * timer ticks and the runtime's notices are never refused and not counted.
 * When full, under ACTOR_OVERFLOW_REJECT addr_send and addr_interact return
 * ACTOR_EFULL and nothing is sent; under ACTOR_OVERFLOW_DROP addr_send
 * returns ACTOR_OK and the event is dropped (counted in actor_stats.dropped
 * and given to the dead-letter hook), while addr_interact still returns
 * ACTOR_EFULL, so no requester is misled. Another `overflow` value:
 * ACTOR_EINVAL. ACTOR_EBUSY once the class is in use.
 */
enum { ACTOR_OVERFLOW_REJECT = 0, ACTOR_OVERFLOW_DROP = 1 };
#define ACTOR_MAILBOX_MAX 0xFFFFFFFEu
ACTOR_API int actor_class_set_mailbox(actor_class *c, size_t capacity, int overflow);

/* ------------------------------------------------------------------------ */
/* Spawning, addresses, context                                              */
/* ------------------------------------------------------------------------ */

/*
 * Spawns an actor of class `cls` on `rt`. Spawned from inside an actor, it
 * lives on the spawner's worker; from outside, workers take turns.
 * On ACTOR_OK the runtime owns `state` (NULL: a zeroed block of the class's
 * state size) and *out is one counted address. On failure the caller keeps
 * `state`: ACTOR_EINVAL, ACTOR_ENOMEM, ACTOR_ECLOSED (runtime shut down).
 */
ACTOR_API int actor_spawn(actor_runtime *rt, actor_class *cls, void *state, actor_addr **out);

/* One more counted reference to the actor; returns `a` (NULL for NULL). */
ACTOR_API actor_addr *addr_ref(actor_addr *a);
/* Drops a counted reference. When the last one goes and the mailbox is
 * empty, the actor stops (finalize, then Done). NULL is fine. */
ACTOR_API void addr_release(actor_addr *a);

/*
 * Sends an event (a copy of payload, at most 4 GiB - 64 bytes: larger is
 * ACTOR_ENOMEM) to the actor. Returns ACTOR_OK;
 * ACTOR_EINVAL (NULL a or t, payload NULL with len > 0); ACTOR_ETYPE (len
 * is not the layout's size); ACTOR_ENOHANDLER (no event handler for t);
 * ACTOR_ECLOSED (stopping or done); ACTOR_ENOMEM. Messages from one thread or
 * actor to one actor arrive in the order sent.
 */
ACTOR_API int addr_send(actor_addr *a, const actor_msgtype *t, const void *payload, size_t len);

/*
 * Sends a request; *out is a responder at once, which the caller must free
 * (or consume with actor_responder_forward). It completes exactly once.
 * Returns as addr_send (ENOHANDLER: no request handler for t); on failure
 * *out is untouched and nothing was sent.
 */
ACTOR_API ACTOR_NODISCARD int addr_interact(actor_addr *a, const actor_msgtype *t,
                                            const void *payload, size_t len,
                                            actor_responder **out);

/* Queues an interrupt behind what was sent before: the class's on_interrupt
 * runs (default: stop). ACTOR_OK, ACTOR_EINVAL, ACTOR_ECLOSED, ACTOR_ENOMEM. */
ACTOR_API int addr_interrupt(actor_addr *a);

/*
 * As addr_interact, with a deadline timeout_ms (>= 0, else ACTOR_EINVAL)
 * from the call, on the runtime's clock (virtual on a manual runtime). If it
 * passes before an answer, the responder completes at that moment with the
 * final status ACTOR_EEXPIRED and no reply (wait, fd, then and forward all
 * see it then); a request whose deadline passed before its handler would
 * start is not handled at all (0 ms: never handled). A late actor_ctx_reply,
 * actor_promise_resolve or _reject returns ACTOR_OK as usual (consuming the
 * promise); the answer goes nowhere. Deadlines fire on a clock thread of the
 * runtime (started at the first timer or deadline), so they are on time
 * even while the actor's worker is busy; a then-callback of an expired
 * responder runs on that thread.
 */
ACTOR_API ACTOR_NODISCARD int addr_interact_within(actor_addr *a, const actor_msgtype *t,
                                                   const void *payload, size_t len,
                                                   int timeout_ms, actor_responder **out);

/* Waits until the actor is Done. timeout_ms < 0: no limit; 0: just look.
 * ACTOR_OK once Done (also after its runtime was freed: every actor is Done
 * then), ACTOR_ETIMEDOUT, ACTOR_EINVAL, or ACTOR_EDEADLK on a worker thread
 * with a nonzero timeout. */
ACTOR_API int addr_join(actor_addr *a, int timeout_ms);
/* 1 if the actor is Done, else 0 (also for NULL). */
ACTOR_API int addr_is_done(const actor_addr *a);

/* How many events sent to the actor were accepted but dropped: because it
 * stopped first, or on overflow of a ACTOR_OVERFLOW_DROP mailbox (events
 * sent = events handled + this count). Exact once the actor is Done.
 * ACTOR_OK and *out, or ACTOR_EINVAL. Any thread. */
ACTOR_API int addr_dropped(const actor_addr *a, unsigned long long *out);

/*
 * As addr_send, but when the actor's bounded mailbox is full it waits up to
 * timeout_ms (< 0: no limit; 0: do not wait) for room, then sends; under
 * ACTOR_OVERFLOW_DROP too (it waits rather than drops). A sender that found
 * the mailbox full wakes once the actor has taken half of it (capacity / 2
 * messages or fewer left queued: one wake per half mailbox, not one per
 * message), or when the actor stops. ACTOR_ETIMEDOUT if no room came in time (nothing
 * sent); ACTOR_EDEADLK on a worker thread (actors never block: they get
 * ACTOR_EFULL from addr_send and decide); on a manual runtime it runs the
 * runtime for room (ACTOR_ETIMEDOUT at once if it idles). Otherwise as
 * addr_send. Any other thread.
 */
ACTOR_API int addr_send_wait(actor_addr *a, const actor_msgtype *t, const void *payload,
                             size_t len, int timeout_ms);

/* The callback of addr_on_room: a's mailbox may have room (try the send
 * again), or a stopped (the send answers ACTOR_ECLOSED). */
typedef void (*actor_room_fn)(actor_addr *a, void *arg);
/*
 * addr_send_wait for event loops, which must not block a thread (1.1;
 * libactor's own addition, used by the Python package's send_async): calls
 * fn(a, arg) exactly once, when a's bounded mailbox, found full, has room
 * again under addr_send_wait's rule (half of it taken), or a stops; at once,
 * on this thread, when there is room now, when a's mailbox is unbounded, or
 * when a is stopping or Done. Otherwise on the thread that made the room: an
 * actor's worker, inside the runtime, so fn must be short and must not
 * block (write to an eventfd or a pipe, post to a loop). It is a hint: the
 * room may be taken again by the time the send comes; then register again.
 * An actor that never takes a message again and never stops never calls
 * it. ACTOR_OK (registered or called); ACTOR_EINVAL (a or fn NULL, or a is
 * a pool's address: a pool has no mailbox of its own); ACTOR_ENOMEM (fn is
 * not called). Any thread, workers too.
 */
ACTOR_API int addr_on_room(actor_addr *a, actor_room_fn fn, void *arg);

/*
 * An actor's counters (1.1). `size` is set by the caller to sizeof of the
 * struct it was compiled with; the library writes only that many bytes (at
 * least up to `restarts`, else ACTOR_EINVAL).
 * `received` counts the events and requests senders put in the mailbox
 * (including events a DROP mailbox dropped on overflow); timer ticks,
 * forwarded responses, interrupts and the runtime's notices are neither
 * received nor handled. Once the actor is Done the counters are exact and
 *     received = handled + dropped + expired + canceled
 * (before, `queued` and a message being handled make up the difference).
 * `canceled` is not in the 1.1 design's struct: it is added at the end so
 * that the equation can be checked.
 * `queued` and `queued_peak` are counted for bounded mailboxes only (one
 * atomic operation per send and per take; unbounded mailboxes cost nothing
 * new, so theirs stay 0 and `received` counts what left the mailbox). To
 * watch an actor's queue without bounding it in practice, give its class
 * a capacity of ACTOR_MAILBOX_MAX.
 */
typedef struct actor_stats {
    size_t size;                     /* sizeof(actor_stats)                       */
    unsigned long long received;     /* events and requests accepted              */
    unsigned long long handled;      /* of them, those whose handler ran (or runs) */
    unsigned long long dropped;      /* events dropped: stopped first, DROP overflow */
    unsigned long long rejected;     /* sends refused with ACTOR_EFULL            */
    unsigned long long expired;      /* requests not handled: deadline passed     */
    unsigned long long queued;       /* in the mailbox now                        */
    unsigned long long queued_peak;  /* the most ever queued at once              */
    unsigned long long restarts;     /* in-place restarts by a supervisor         */
    unsigned long long canceled;     /* requests canceled, queued at the stop     */
} actor_stats;
/* ACTOR_OK and *out, ACTOR_EINVAL (NULL, size too small). Any thread. */
ACTOR_API int addr_stats(const actor_addr *a, actor_stats *out);

/* The actor's own address, borrowed (not counted). Only inside its callbacks. */
ACTOR_API actor_addr *actor_ctx_self(actor_ctx *ctx);
/* The runtime the actor runs on. */
ACTOR_API actor_runtime *actor_ctx_runtime(actor_ctx *ctx);
/* The actor's class (borrowed). Only inside its callbacks. */
ACTOR_API actor_class *actor_ctx_class(actor_ctx *ctx);
/* The type of the message being handled (event, request or response);
 * NULL in init, finalize and interrupt. Lets one handler serve many types. */
ACTOR_API const actor_msgtype *actor_ctx_msgtype(actor_ctx *ctx);
/* After the current callback the actor takes no more messages: finalize runs,
 * then it is Done. Queued events are dropped (and counted), queued requests
 * complete with ACTOR_ECANCELED. */
ACTOR_API void actor_ctx_stop(actor_ctx *ctx);
/* Answers the current request (once). ACTOR_OK; ACTOR_EINVAL outside a
 * request handler or after an answer; ACTOR_ETYPE (size does not fit the
 * reply layout; the request stays unanswered); ACTOR_ENOMEM. */
ACTOR_API int actor_ctx_reply(actor_ctx *ctx, const void *reply, size_t len);
/* Takes the current request out of the handler: *out answers it later from
 * any thread. ACTOR_OK, ACTOR_EINVAL (outside a request handler or after an
 * answer), ACTOR_ENOMEM. */
ACTOR_API int actor_ctx_defer(actor_ctx *ctx, actor_promise **out);

/* In a request handler: the ms left before the current request's deadline
 * (addr_interact_within), rounded up: 0 once passed; -1 when it has none, and outside
 * request handlers. */
ACTOR_API int64_t actor_ctx_deadline_left(actor_ctx *ctx);

/*
 * Timers (1.1). A timer belongs to the actor that starts it and sends that
 * actor its own event `t` (a copy of the payload) `after_ms` from now, then
 * every `every_ms` (0: once). `key` names it among the actor's timers:
 * starting a key that is active replaces that timer. After a cancel or a
 * replace returns, no event of the old timer is handled, not even one
 * already queued. A repeating timer has at most one tick queued at a time
 * (a slow actor gets no burst of catch-up ticks); a tick never arrives
 * before its time. Timers never keep an actor alive (releasing the last
 * address still stops it) and all of them end when it stops. Ticks are not
 * counted as received or dropped events. A million live timers is an
 * ordinary load.
 * actor_ctx_timer_start returns ACTOR_OK; ACTOR_EINVAL (NULL ctx or t,
 * payload NULL with len > 0, an interval over 2^42 ms); ACTOR_ETYPE (len
 * does not fit t); ACTOR_ENOHANDLER (no event handler for t); ACTOR_ECLOSED
 * (the actor is stopping: after actor_ctx_stop, in finalize); ACTOR_ENOMEM.
 * A one-shot timer is active until its event is taken (inside its own
 * handler it is no longer active, so the handler may start the key again).
 * Only inside the actor's callbacks (init included).
 */
ACTOR_API int actor_ctx_timer_start(actor_ctx *ctx, uint64_t key, const actor_msgtype *t,
                                    const void *payload, size_t len, uint64_t after_ms,
                                    uint64_t every_ms);
/* Cancels the timer `key`: ACTOR_OK, ACTOR_ENOENT (no such timer),
 * ACTOR_EINVAL (NULL). */
ACTOR_API int actor_ctx_timer_cancel(actor_ctx *ctx, uint64_t key);
/* 1 if the timer `key` is active, else 0 (also for NULL). */
ACTOR_API int actor_ctx_timer_active(actor_ctx *ctx, uint64_t key);

/* Answers a deferred request. Consumes p on ACTOR_OK, and only then:
 * ACTOR_ETYPE (wrong size), ACTOR_ENOMEM, ACTOR_EINVAL leave it the caller's.
 * ACTOR_ECLOSED when the runtime was freed meanwhile (the request was
 * canceled): p stays the caller's, every later resolve or reject answers
 * ACTOR_ECLOSED too, and actor_promise_free releases it. (1.0 consumed p on
 * ECLOSED, against the contract; 1.1 follows it.) One thread at a time per
 * promise: a consumed promise is freed memory. Any thread. */
ACTOR_API int actor_promise_resolve(actor_promise *p, const void *reply, size_t len);
/* Fails a deferred request: it completes with ACTOR_EHANDLER and handler
 * error `err` (nonzero, else ACTOR_EINVAL). Consumption as resolve. */
ACTOR_API int actor_promise_reject(actor_promise *p, int err);
/* Drops a promise; unanswered, its request completes with ACTOR_ECANCELED.
 * NULL is fine. */
ACTOR_API void actor_promise_free(actor_promise *p);

/* ------------------------------------------------------------------------ */
/* Responders: awaitable replies                                             */
/* ------------------------------------------------------------------------ */

/* Waits for completion. Returns the final status (ACTOR_OK, ACTOR_ECANCELED,
 * ACTOR_EHANDLER, ACTOR_EEXPIRED); ACTOR_ETIMEDOUT (timeout_ms >= 0 ran out; 0 just looks);
 * ACTOR_EDEADLK on a worker thread with a nonzero timeout; ACTOR_EINVAL. */
ACTOR_API int actor_responder_wait(actor_responder *r, int timeout_ms);
/* The final status, or ACTOR_EAGAIN while pending (ACTOR_EINVAL for NULL). */
ACTOR_API int actor_responder_status(const actor_responder *r);
/* The reply bytes once complete with ACTOR_OK (valid until free), else NULL;
 * *len (if len not NULL) gets their size, 0 when NULL is returned. */
ACTOR_API const void *actor_responder_data(const actor_responder *r, size_t *len);
/* The handler's own code when the status is ACTOR_EHANDLER, else 0. */
ACTOR_API int actor_responder_handler_error(const actor_responder *r);
/* The responder's type (NULL for NULL). */
ACTOR_API const actor_msgtype *actor_responder_type(const actor_responder *r);
/* A file descriptor that becomes readable once the responder is complete
 * (an eventfd made on the first call; owned by r, closed by free). Poll it,
 * do not read it. Returns the fd, ACTOR_EINVAL or ACTOR_ENOMEM. */
ACTOR_API int actor_responder_fd(actor_responder *r);
/* Calls cb(r, ud) exactly once, unless r is freed first: at once on this
 * thread if complete, else on the thread that completes it (keep it short,
 * never block; it may free r). After actor_responder_free returns, cb is not
 * running and never will. ACTOR_OK; ACTOR_EINVAL (NULL r or cb, a callback
 * already set). */
ACTOR_API int actor_responder_then(actor_responder *r, void (*cb)(actor_responder *, void *),
                                   void *ud);
/* Delivers (type, status, reply) to the on_response handler of `to` through
 * its mailbox. Consumes r on ACTOR_OK only, and holds a counted reference to
 * `to` until delivery. If `to` stops before handling it, the outcome is
 * dropped with its other queued messages (and counted in the log line of
 * that stop). ACTOR_ENOHANDLER if `to`'s class has no on_response
 * for the type; ACTOR_EINVAL (NULL, a callback already set); ACTOR_ECLOSED
 * (to is stopping or done); ACTOR_ENOMEM. */
ACTOR_API int actor_responder_forward(actor_responder *r, actor_addr *to);
/* As actor_responder_forward, and on_response then sees `tag` through
 * actor_ctx_tag: an actor with many requests in flight tells the answers
 * apart. actor_responder_forward(r, to) is this with tag 0. */
ACTOR_API int actor_responder_forward_tagged(actor_responder *r, actor_addr *to, uint64_t tag);
/* Inside an on_response handler: the tag its responder was forwarded with;
 * 0 anywhere else (and for NULL). */
ACTOR_API uint64_t actor_ctx_tag(actor_ctx *ctx);
/* Frees the responder; pending is fine (the reply is dropped). NULL is fine. */
ACTOR_API void actor_responder_free(actor_responder *r);

/* ------------------------------------------------------------------------ */
/* Composition: topics (1.1)                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Publish/subscribe by subject, with the syntax of NATS subjects: tokens of
 * one or more [A-Za-z0-9_:-] separated by '.', at most 4096 bytes and 256
 * tokens ("orders.eu.new"). In a subscription a token may be '*' (exactly
 * one token) and the last token may be '>' (one or more tokens):
 * "orders.*.new" and "orders.>" match "orders.eu.new"; "orders.>" does not
 * match "orders". Anything else (an empty subject or token, a leading,
 * trailing or doubled '.', another character, '>' not last, '*' or '>'
 * inside a token as in "a*") is ACTOR_EINVAL, checked before anything is
 * allocated. Subscriptions belong to the actor's runtime; they end when
 * the actor is Done and never keep it alive (releasing its last address
 * still stops it). Matching does not look at every subscription: it walks
 * a trie of tokens once. Any thread, concurrently.
 *
 * actor_subscribe: ACTOR_OK; ACTOR_EBUSY if `a` has this very subject
 * already (each subscription is one subject string; "a.*" and "a.b" are two
 * that may both match); ACTOR_EINVAL (NULL, a bad subject); ACTOR_ECLOSED
 * (the actor is stopping or Done); ACTOR_ENOMEM.
 */
ACTOR_API int actor_subscribe(actor_addr *a, const char *subject);
/* Ends a's subscription `subject` (the same string it subscribed with).
 * ACTOR_OK; ACTOR_ENOENT if a has no such subscription (also once a is
 * Done: its subscriptions ended); ACTOR_EINVAL (NULL, a bad subject). */
ACTOR_API int actor_unsubscribe(actor_addr *a, const char *subject);
/*
 * Sends the event (t, a copy of payload) to every actor of rt with a
 * subscription matching `subject` (no wildcards here) and an event handler
 * for t (its own or a catch-all; actors without one are skipped, not an
 * error): each actor at most once, however many of its subscriptions
 * match. Each delivery is an addr_send from this thread: one publisher's
 * events reach each subscriber in the order published; a bounded mailbox
 * applies (a full REJECT mailbox refuses, a full DROP mailbox drops to the
 * dead-letter hook; a stopping subscriber's copy goes there too). *delivered
 * (may be NULL) gets the number of actors whose mailbox took it: refusals,
 * drops and copies that found no memory are not counted.
 * ACTOR_OK; ACTOR_EINVAL (NULL rt, subject or t, payload NULL with len > 0,
 * a bad subject or one with a wildcard); ACTOR_ETYPE (len does not fit t:
 * nothing is delivered); ACTOR_ECLOSED (rt is shutting down); ACTOR_ENOMEM
 * (nothing delivered).
 */
ACTOR_API int actor_publish(actor_runtime *rt, const char *subject, const actor_msgtype *t,
                            const void *payload, size_t len, size_t *delivered);

/* ------------------------------------------------------------------------ */
/* Composition: pools (1.1)                                                  */
/* ------------------------------------------------------------------------ */

/* How a pool chooses the member for a message. */
enum {
    ACTOR_ROUTE_ROUND_ROBIN, /* each member in turn                              */
    ACTOR_ROUTE_LEAST_QUEUED,/* the member with the fewest messages queued        */
    ACTOR_ROUTE_HASH,        /* payload bytes [key_offset, +key_len) choose: the
                                same key always reaches the same member          */
    ACTOR_ROUTE_BROADCAST    /* every member (requests: ACTOR_EINVAL)            */
};
#define ACTOR_POOL_MAX_MEMBERS 65536u
/* A pool's shape, with the `size` convention (the whole 1.1 struct). */
typedef struct actor_pool_spec {
    size_t size;                /* sizeof(actor_pool_spec)                         */
    actor_class *cls;           /* the members' class; spawned with state NULL     */
    unsigned members;           /* how many (0: one per worker thread)             */
    int route;                  /* ACTOR_ROUTE_*                                   */
    size_t key_offset, key_len; /* ACTOR_ROUTE_HASH: the key's bytes (key_len > 0) */
} actor_pool_spec;
/*
 * Spawns a pool: `members` actors of `cls` behind one address that behaves
 * like an actor's. addr_send, addr_send_wait and addr_interact(_within) go
 * to one member, as `route` chooses (BROADCAST: every member; a send then
 * returns ACTOR_OK when every member took it, else the first refusal's code,
 * the others having taken it; addr_interact on a BROADCAST pool is
 * ACTOR_EINVAL; a HASH key that does not fit the payload is ACTOR_EINVAL at
 * the send); addr_interrupt interrupts every member; the pool is Done once
 * every member is (so addr_join waits for all); addr_stats sums the
 * members' counters; releasing the pool's last address stops the members,
 * the last started first. Members are spread over the worker threads and
 * stay where they are put; a member that fails is restarted in place, as a
 * supervised child is (without a limit), so nothing sent to the pool
 * meanwhile is refused. Returns ACTOR_OK and *out; ACTOR_EINVAL (NULL, a
 * spec size below the 1.1 struct, route out of range, HASH with key_len 0,
 * members over ACTOR_POOL_MAX_MEMBERS, members 0 on a manual runtime, a
 * class whose state the spawner provides); ACTOR_ECLOSED; ACTOR_ENOMEM.
 */
ACTOR_API int actor_pool_spawn(actor_runtime *rt, const actor_pool_spec *spec, actor_addr **out);

/* ------------------------------------------------------------------------ */
/* Failure: exit reasons, monitors, supervisors, names (1.1)                 */
/* ------------------------------------------------------------------------ */

/*
 * An actor stops normally (reason 0: actor_ctx_stop, an interrupt, its last
 * address released, the runtime's shutdown) or fails with a nonzero reason:
 * its init returned that code, or it called actor_ctx_fail, which stops it
 * as actor_ctx_stop does. A reason of 0 given to actor_ctx_fail is logged
 * and taken as ACTOR_EINVAL. The first failure of an incarnation is its
 * reason.
 */
ACTOR_API void actor_ctx_fail(actor_ctx *ctx, int reason);
/* The reason the actor stopped with: ACTOR_OK and *reason once it is Done;
 * ACTOR_EAGAIN until then; ACTOR_EINVAL for NULL. Any thread. */
ACTOR_API int addr_exit_reason(const actor_addr *a, int *reason);

/* A monitored actor is Done (through the watcher's mailbox). `who` is
 * borrowed for the call: addr_ref it to keep it. */
typedef void (*actor_down_fn)(actor_ctx *ctx, void *state, actor_addr *who, int reason);
/* Sets the class's Down handler (the setters' rules of actor classes). */
ACTOR_API int actor_class_on_down(actor_class *c, actor_down_fn fn);
/*
 * The calling actor watches `target`: once target is Done, on_down(who =
 * target, its exit reason) is delivered through the watcher's mailbox, at
 * once (queued) if it is Done already. Exactly one Down per monitor; a
 * second monitor of the same target by the same actor is the same monitor
 * (ACTOR_OK). A monitor does not keep the target running, and ends with
 * the watcher's incarnation (at its stop or restart). A supervised
 * target's restarts are not Done: no Down for them. Returns ACTOR_OK;
 * ACTOR_EINVAL (NULL, or target is the actor itself); ACTOR_ENOHANDLER (the
 * watcher's class has no on_down); ACTOR_ENOMEM. Inside the watcher's
 * callbacks only.
 */
ACTOR_API int actor_ctx_monitor(actor_ctx *ctx, actor_addr *target);
/* Ends the monitor: after it returns no Down of it is handled, not even one
 * already queued. ACTOR_OK, ACTOR_ENOENT (not monitoring it), ACTOR_EINVAL. */
ACTOR_API int actor_ctx_demonitor(actor_ctx *ctx, actor_addr *target);

/* Restart types and strategies (Erlang/OTP's). */
enum {
    ACTOR_PERMANENT,   /* restarted after any stop        */
    ACTOR_TRANSIENT,   /* restarted after a failure only  */
    ACTOR_TEMPORARY    /* never restarted                 */
};
enum {
    ACTOR_ONE_FOR_ONE, /* the failed child alone          */
    ACTOR_ONE_FOR_ALL, /* all children                    */
    ACTOR_REST_FOR_ONE /* it and those started after it   */
};
/* A supervisor's policy, with the `size` convention (the whole 1.1 struct:
 * a smaller size is ACTOR_EINVAL). */
typedef struct actor_supervisor_spec {
    size_t size;             /* sizeof(actor_supervisor_spec)                  */
    int strategy;            /* ACTOR_ONE_FOR_ONE, _ONE_FOR_ALL, _REST_FOR_ONE */
    unsigned intensity;      /* more restarts than this within period_ms: the
                                supervisor gives up (0: at the first restart) */
    unsigned period_ms;      /* the window of intensity, > 0                   */
    unsigned backoff_ms;     /* delay before a restart round, doubling; 0: none */
    unsigned backoff_max_ms; /* the most the delay doubles to                  */
} actor_supervisor_spec;
/*
 * Spawns a supervisor: an actor whose children (spawned with state NULL,
 * so the class's state size) are restarted in place: finalize and
 * state_free run, a fresh zeroed state is made, init runs again, and the
 * child's address, every copy of it, stays valid. What was queued stays
 * queued for the new incarnation; the message being handled when it failed
 * is lost (a request in it completes ACTOR_ECANCELED, or as its handler's
 * return says). A restart is not Done: joiners and monitors see only the
 * final stop; its name (actor_name_register) stays.
 * PERMANENT children restart after any stop, TRANSIENT after a failure
 * only, TEMPORARY never; a child stopped by actor_supervisor_stop_child, by
 * its supervisor's stop or by the runtime's shutdown is never restarted.
 * ONE_FOR_ONE restarts the child alone, ONE_FOR_ALL all children, and
 * REST_FOR_ONE the child and those started after it: the others are
 * stopped (after at most a batch of 100 of their queued messages; the rest
 * stays queued for their next incarnation) and all restarted in start order (scheduled in that order: inits on
 * different workers may overlap). A restart round waits backoff_ms first,
 * doubling at each round up to backoff_max_ms, back to backoff_ms after a
 * period without restarts.
 * More than `intensity` restarts within `period_ms`: the supervisor gives
 * up and fails with the last child's reason (ACTOR_ECANCELED if that child
 * stopped normally: a PERMANENT one; a warning is logged), so a supervisor
 * above it applies its own policy: trees escalate. The child that made it
 * give up is kept for the supervisor's own restart in place, like the
 * others. A supervisor restarted in place starts with a fresh restart
 * history. A TEMPORARY sibling stopped for a ONE_FOR_ALL or REST_FOR_ONE
 * round is not restarted (it is Done).
 * When a supervisor stops (interrupt, its last address released, giving
 * up, shutdown) it stops its children in reverse start order, each Done
 * (or, when it is itself to be restarted in place, stopped for that
 * restart) before the next, and only then is Done itself (or restarted,
 * with its children restarted in place after it). The supervisor holds a
 * counted address of each child until the child is Done.
 * Returns ACTOR_OK and *out; ACTOR_EINVAL (NULL, a strategy out of range,
 * period_ms 0, a spec size below the 1.1 struct); ACTOR_ECLOSED;
 * ACTOR_ENOMEM.
 */
ACTOR_API int actor_supervisor_spawn(actor_runtime *rt, const actor_supervisor_spec *spec,
                                     actor_addr **out);
/*
 * Starts a child of class `cls` under `sup` with a restart type; *child is
 * a counted address for the caller. ACTOR_EINVAL (NULL, sup not a
 * supervisor (a pool's address is none), restart type out of range, a class whose state the spawner
 * must provide: a state_free but no state size); ACTOR_ECLOSED (the
 * supervisor is stopping or Done, or the runtime shuts down); ACTOR_ENOMEM.
 * Any thread.
 */
ACTOR_API int actor_supervisor_start_child(actor_addr *sup, actor_class *cls, int restart,
                                           actor_addr **child);
/* As start_child, for a supervisor under `sup`: a subtree. */
ACTOR_API int actor_supervisor_start_supervisor(actor_addr *sup,
                                                const actor_supervisor_spec *spec, int restart,
                                                actor_addr **child);
/* Stops a child for good (after at most a batch of 100 of its queued
 * messages; the rest is drained at its Done; never restarted).
 * Returns at once: join the child to wait for it. ACTOR_OK; ACTOR_ENOENT
 * (not a child of sup: a stranger, or Done already); ACTOR_EINVAL (NULL,
 * sup not a supervisor). Any thread. */
ACTOR_API int actor_supervisor_stop_child(actor_addr *sup, actor_addr *child);
/* In-place restarts of the actor so far (0 for one never supervised).
 * ACTOR_OK and *out, or ACTOR_EINVAL. Any thread. */
ACTOR_API int addr_restarts(const actor_addr *a, unsigned long long *out);

/*
 * Names, per runtime, following the type-name rule (1 to 64 characters of
 * [A-Za-z0-9_.:-]; else ACTOR_EINVAL). The registry holds a counted address
 * until the actor is Done (then the name is free again) or the name is
 * unregistered: a registered actor does not stop at the release of the
 * other addresses. A restarted child keeps its name.
 * register: ACTOR_OK; ACTOR_EBUSY (taken); ACTOR_EINVAL (NULL, bad name, an
 * actor of another runtime); ACTOR_ECLOSED (Done); ACTOR_ENOMEM.
 * unregister: ACTOR_OK or ACTOR_ENOENT. lookup: ACTOR_OK and a counted
 * *out, or ACTOR_ENOENT. Any thread.
 */
ACTOR_API int actor_name_register(actor_runtime *rt, const char *name, actor_addr *a);
ACTOR_API int actor_name_unregister(actor_runtime *rt, const char *name);
ACTOR_API int actor_name_lookup(actor_runtime *rt, const char *name, actor_addr **out);

/* ------------------------------------------------------------------------ */
/* I/O: actors that own connections; a runtime on the user's event base    */
/* (1.1)                                                                     */
/* ------------------------------------------------------------------------ */

/* A frame the actor's connection received, between its other messages
 * (`data` valid during the call). Nonzero fails the actor with that code. */
typedef int (*actor_data_fn)(actor_ctx *ctx, void *state, const void *data, size_t len);
/* How a connection's bytes are cut into frames. */
enum {
    ACTOR_FRAME_RAW,  /* chunks as they arrive, at most max_frame bytes each  */
    ACTOR_FRAME_LINE, /* lines without their "\n" (nor a "\r" before it)       */
    ACTOR_FRAME_LEN32 /* each frame behind its length, 4 bytes little-endian   */
};
/* The most a frame may be (max_frame); 0 in set_framing means 64 KiB. */
#define ACTOR_FRAME_MAX ((size_t)1 << 30)
/* Sets the class's frame handler (the setters' rules of actor classes). */
ACTOR_API int actor_class_on_data(actor_class *c, actor_data_fn fn);
/* Sets the framing (ACTOR_FRAME_*) and the largest frame a connection of
 * the class accepts (0: 64 KiB; at most ACTOR_FRAME_MAX). A received frame
 * over it ends the connection (reason ACTOR_EFULL). ACTOR_EINVAL for an
 * unknown framing or a size over the limit; ACTOR_EBUSY once in use. */
ACTOR_API int actor_class_set_framing(actor_class *c, int framing, size_t max_frame);

/*
 * Listens on `hostport` ("127.0.0.1:8080", "[::1]:0"; port 0 picks a free
 * port, and `bound` (if not NULL) gets the address really bound, as
 * "host:port", cut to bound_len). Each accepted socket is owned by a new
 * actor of class `conn` (state NULL), driven by a libevent bufferevent on
 * that actor's worker, which it never leaves. Received bytes reach its
 * on_data one frame at a time, between its other messages (a class without
 * on_data just drops them). The peer closing stops the actor (reason 0) once
 * what it wrote, also in answer to the last frames, is sent; a
 * socket error (ACTOR_ECLOSED) or a frame over max_frame (ACTOR_EFULL)
 * fails it; on_data returning nonzero fails it with that code. A connection
 * actor lives until its connection ends (or it stops: its socket closes
 * then, unsent bytes lost: actor_ctx_close flushes first). Reading pauses
 * while more than 1 MiB (or 4 frames of max_frame, if larger) of received
 * frames wait in its mailbox, so a slow actor slows its peer down instead of
 * growing memory.
 * The listener is an actor too (*listener, counted): interrupting it, or
 * releasing its last address, closes the socket; its connections go on.
 * Returns ACTOR_OK; ACTOR_EINVAL (NULL, a bad hostport, a manual runtime);
 * ACTOR_EBUSY (the address is in use); ACTOR_ECLOSED (the runtime shuts
 * down, or the socket could not be opened: logged); ACTOR_ENOMEM.
 */
ACTOR_API int actor_tcp_listen(actor_runtime *rt, const char *hostport, actor_class *conn,
                               actor_addr **listener, char *bound, size_t bound_len);
/* Connects to `hostport`; *out (counted) is a new actor of class `conn`
 * owning the connection, as an accepted one. It returns at once: a refused
 * or failed connection stops the actor with reason ACTOR_ECLOSED. Codes as
 * actor_tcp_listen. */
ACTOR_API int actor_tcp_connect(actor_runtime *rt, const char *hostport, actor_class *conn,
                                actor_addr **out);
/* Inside a connection actor's callbacks: queues one frame with the class's
 * framing (a "\n" after it; a length before it). ACTOR_OK; ACTOR_EFULL when
 * more than the high-water mark (1 MiB) of written bytes are still unsent:
 * nothing is queued (backpressure: retry later, or drop); ACTOR_EINVAL
 * (NULL, not a connection actor, a frame over max_frame); ACTOR_ECLOSED
 * (the connection is closing or gone); ACTOR_ENOMEM. */
ACTOR_API int actor_ctx_write(actor_ctx *ctx, const void *data, size_t len);
/* Closes the connection once what was written is sent (reading stops now);
 * then the actor stops with reason 0. ACTOR_OK, ACTOR_EINVAL (not a
 * connection actor), ACTOR_ECLOSED (closing already). */
ACTOR_API int actor_ctx_close(actor_ctx *ctx);

struct event_base;
/*
 * A one-worker runtime whose actors run on the user's own libevent base, on
 * whichever thread dispatches it; other threads send as usual (they wake
 * the base with event_active, so the base must have locking: call
 * evthread_use_pthreads() before event_base_new()). Nothing of it runs
 * while the base is not dispatched, and its handlers share the base's
 * thread with the user's callbacks: never block there (addr_join and the
 * like would wait forever). Free it after the user's loop stopped, from
 * that thread: actor_runtime_free then runs the base itself until every
 * actor is Done. ACTOR_OK and *out, ACTOR_EINVAL (NULL), ACTOR_ENOMEM.
 */
ACTOR_API int actor_runtime_new_on_base(struct event_base *base, actor_runtime **out);

/* ------------------------------------------------------------------------ */
/* Plugins and logging                                                       */
/* ------------------------------------------------------------------------ */

/*
 * Loads the shared object at `path` and runs its `int actor_plugin_init(void)`,
 * which defines types and registers classes. Loading the same object again
 * does not run init again (not even from inside its own init) and returns
 * what the first load returned. The object stays loaded.
 * Returns ACTOR_OK; ACTOR_EINVAL (NULL or empty path, a path longer than
 * PATH_MAX (4096 bytes), no such file, not loadable, no actor_plugin_init
 * symbol); ACTOR_EHANDLER if init returned nonzero. Every failure is also
 * logged with its reason (long paths shortened in the log). Any thread.
 */
ACTOR_API int actor_plugin_load(const char *path);

/* Declares a plugin's entry point, exported whatever -fvisibility the
 * plugin is built with (and with C linkage from C++):
 *     ACTOR_PLUGIN_INIT { define types, register classes; return 0; }
 */
#if defined(__GNUC__) || defined(__clang__)
#define ACTOR_PLUGIN_VISIBLE __attribute__((visibility("default")))
#else
#define ACTOR_PLUGIN_VISIBLE
#endif
#ifdef __cplusplus
#define ACTOR_PLUGIN_INIT extern "C" ACTOR_PLUGIN_VISIBLE int actor_plugin_init(void)
#else
#define ACTOR_PLUGIN_INIT ACTOR_PLUGIN_VISIBLE int actor_plugin_init(void)
#endif

/* Log levels, most severe first. */
enum {
    ACTOR_LOG_ERROR, /* something failed                        */
    ACTOR_LOG_WARN,  /* something is wrong, the library goes on */
    ACTOR_LOG_INFO,  /* worth knowing                           */
    ACTOR_LOG_DEBUG  /* details                                 */
};
/* A log handler: one line of `level` (ACTOR_LOG_*), without its newline. */
typedef void (*actor_log_fn)(int level, const char *msg, void *ud);
/* Takes every log line of the library from now on (NULL: back to stderr).
 * fn may be called from any thread, concurrently; msg is valid during the
 * call only. */
ACTOR_API void actor_set_log_handler(actor_log_fn fn, void *ud);

/* ------------------------------------------------------------------------ */
/* Memory                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Routes every allocation of the library (and of libevent inside it) through
 * these functions, which behave as malloc, calloc, realloc and free. Call it
 * once, before any other call of the library; not thread-safe with other
 * calls. Returns ACTOR_OK; ACTOR_EINVAL if a function is NULL; ACTOR_EBUSY
 * when it was called before or the library has allocated already.
 */
ACTOR_API int actor_set_allocator(void *(*malloc_fn)(size_t), void *(*calloc_fn)(size_t, size_t),
                                  void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *));

#ifdef __cplusplus
}
#endif

#endif /* ACTOR_ACTOR_H */
