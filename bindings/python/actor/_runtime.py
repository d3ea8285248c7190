"""Runtimes, addresses and responders; plugin loading; the atexit shutdown;
what a forked child does with the parent's runtimes."""

import asyncio
import logging
import math
import numbers
import operator
import os
import threading
import time
import weakref

from . import _core as _swig
_core = _swig.__core  # the extension itself: no Python wrapper per call
from ._errors import (Closed, Deadlock, InvalidArgument, NoHandler, Timeout, check, error)
from ._layout import MsgType, _by_name, _short, resolve

__all__ = ["Runtime", "Address", "Responder", "load", "set_exit_timeout"]

log = logging.getLogger("actor")

_OK = _core.ACTOR_OK
_EAGAIN = _core.ACTOR_EAGAIN
_ETIMEDOUT = _core.ACTOR_ETIMEDOUT
_EDEADLK = _core.ACTOR_EDEADLK
_EHANDLER = _core.ACTOR_EHANDLER
_INT_MAX = (1 << 31) - 1
_PATH_MAX = 4096            # the longest plugin path, in bytes with its NUL (Linux PATH_MAX)
_new = object.__new__       # makes handles without their (refusing) constructors


def _ms(timeout):
    """Milliseconds for the C API: None (or inf) -> -1 (no limit)."""
    if timeout is None:
        return -1
    if type(timeout) not in (int, float) and not isinstance(timeout, numbers.Real):
        raise TypeError("timeout is a number of seconds or None, not %s"
                        % type(timeout).__name__)
    t = float(timeout)
    if t != t:
        raise ValueError("timeout is NaN")
    if t < 0:
        raise ValueError("timeout must be >= 0 or None, not %r" % timeout)
    if t == math.inf:
        return -1
    return min(math.ceil(t * 1000), _INT_MAX)


class _Handle:
    """Owns a C handle: copying or pickling one would free it twice."""

    __slots__ = ()

    def __copy__(self):
        raise TypeError("a %s cannot be copied" % type(self).__name__)

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce_ex__(self, protocol):
        raise TypeError("a %s cannot be pickled" % type(self).__name__)


def _no_public_constructor(cls, how):
    """A __new__ for classes whose objects only the package makes (they own
    C handles: a raw pointer from a script could crash the interpreter)."""
    def __new__(klass, *args, **kw):
        raise TypeError("actor.%s objects cannot be made directly: %s" % (cls, how))
    return staticmethod(__new__)




# ---------------------------------------------------------------------------
# Plugins
# ---------------------------------------------------------------------------

def load(path):
    """Loads a plugin (a shared object with `int actor_plugin_init(void)`),
    which defines message types and registers classes. Loading it again does
    nothing. Raises InvalidArgument if it cannot be loaded (the reason is
    logged), HandlerError if its init failed."""
    p = os.fspath(path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if not isinstance(p, str):
        raise TypeError("a plugin path is a str or path-like, not %s" % type(path).__name__)
    if not p:
        raise InvalidArgument("a plugin path is not empty")
    if "\0" in p:
        raise InvalidArgument("a plugin path has no NUL character")
    # Checked before any use of it (the file system, dlopen, the log): a path
    # longer than PATH_MAX names no file.
    if len(p) >= _PATH_MAX or len(os.fsencode(p)) >= _PATH_MAX:
        raise InvalidArgument("cannot load plugin %s: the path is longer than %d bytes"
                              % (_short(p), _PATH_MAX - 1))
    if os.path.exists(p):
        p = os.path.abspath(p)  # dlopen searches the library path for a bare name
        if len(os.fsencode(p)) >= _PATH_MAX:
            raise InvalidArgument("cannot load plugin %s: its absolute path is longer than "
                                  "%d bytes" % (_short(p), _PATH_MAX - 1))
    elif os.sep in p:
        raise InvalidArgument("cannot load plugin %s: no such file" % _short(p))
    rc = _core.actor_plugin_load(p)
    if rc == _core.ACTOR_EINVAL:
        raise InvalidArgument("cannot load plugin %s (not a loadable libactor plugin; "
                              "the reason is in the log)" % _short(p))
    if rc == _EHANDLER:
        raise error(rc, "plugin %s: actor_plugin_init failed" % _short(p))
    check(rc, "actor_plugin_load(%s)" % _short(p))


# ---------------------------------------------------------------------------
# Completions for asyncio: one queue (an eventfd) per event loop
# ---------------------------------------------------------------------------

_queues = weakref.WeakKeyDictionary()  # loop -> _core.AioQueue


def _queue_for(loop):
    """The completion queue of `loop` (made, and its fd watched, on first use).
    C threads append completed responders to it without the GIL and write its
    eventfd on the empty-to-non-empty transition; the reader callback runs
    the responders' done callbacks (aio.c)."""
    q = _queues.get(loop)
    if q is None:
        q = _core.AioQueue(loop)
        loop.add_reader(q.fd, q._drain)
        _queues[loop] = q
    return q


def _callback_failed(loop, fn, fut, exc):
    """A done callback raised: the loop's exception handler hears of it, as
    of an exception in a loop Handle."""
    msg = "Exception in callback %r(%r)" % (fn, fut)
    if loop is None:
        raise exc
    loop.call_exception_handler({"message": msg, "exception": exc, "future": fut})


# ---------------------------------------------------------------------------
# Responder
# ---------------------------------------------------------------------------

class Responder(_core.ResponderBase, _Handle):
    """The pending reply of a request (Address.ask). Complete exactly once:
    with the reply, or Canceled, or HandlerError.

    Four ways to use the answer:
    - r.result(timeout=None) blocks (GIL released) and returns the reply
      (refused with Deadlock inside an actor's callback);
    - `await r` waits in asyncio without parking a thread;
    - r.then(fn): fn(r) runs on the thread that completes the request (or
      at once if it is complete), from any thread, inside actors too;
    - r.forward(ctx) / r.forward(addr, tag=n): the outcome goes to the
      actor's @actor.on_response handler as a message (the seed's
      forward_to): how an actor uses another actor's answer.

    A Responder is an asyncio future (asyncio.isfuture(r) is true): gather,
    wait, wait_for, shield, as_completed take it as it is, with no Task per
    request. It binds to the event loop it is first awaited in; while the
    request is pending, another loop is refused (RuntimeError), as for an
    asyncio future. cancel() cancels the asyncio wait only: the request goes
    on (libactor cannot withdraw it) and nothing is freed; the responder is
    then done and cancelled for good (result() and `await` raise
    asyncio.CancelledError), as an asyncio future stays done. r.again()
    returns a fresh responder for the same request, to wait for it again.

    done() is a method here, as on every asyncio future (asyncio calls it);
    Address.done is a property (the binding contract). result(),
    exception(), status, type: see the methods (ResponderBase, in C).
    Responders are made by Address.ask only."""

    __slots__ = ()

    __new__ = _no_public_constructor("Responder", "Address.ask makes them")

    def __await__(self):
        if self._await_state():  # pending (Deadlock inside an actor's callback)
            self._asyncio_future_blocking = True
            yield self           # the Task waits for it (add_done_callback)
            if not self.done():
                raise RuntimeError("await wasn't used with future")
        return self.result()

    __iter__ = __await__

    def forward(self, to, tag=0):
        """Hands the request over to an actor: its outcome arrives there as a
        message, to the handler marked @actor.on_response(type), which sees
        `tag` as ctx.tag (an int, 0 to 2**64-1: tells apart many requests in
        flight). `to` is a Context (inside a callback: this very actor) or an
        Address. The responder is consumed: result() raises InvalidArgument
        afterwards. Raises NoHandler if the actor's class has no on_response
        for the type, Closed if it is stopping, InvalidArgument if the
        outcome already goes elsewhere (awaited, then(), forwarded)."""
        if isinstance(to, Address):
            p = to._p()
        else:
            ctx_cls = _actors_mod().Context
            if not isinstance(to, ctx_cls):
                raise TypeError("forward takes a Context or an Address, not %s"
                                % type(to).__name__)
            p = _core.actor_ctx_self(to._p())
        try:
            t = operator.index(tag)
        except TypeError:
            raise TypeError("tag is an int, not %s" % type(tag).__name__) from None
        if not 0 <= t < (1 << 64):
            raise ValueError("tag is an int from 0 to 2**64-1, not %d" % t)
        rc = self._forward(p, t)
        if rc == _core.ACTOR_ENOHANDLER:
            raise NoHandler("forward: the actor's class has no on_response handler for %r"
                            % self.type.name)
        if rc == _core.ACTOR_ECLOSED:
            raise Closed("forward: the actor is stopping or done")
        check(rc, "forward %r" % self.type.name)

    def __repr__(self):
        if self._forwarded:
            return "<Responder %r forwarded>" % self.type.name
        st = self.status
        state = "pending" if st == _EAGAIN else ("ok" if st == _OK else _core.actor_strerror(st))
        if self.cancelled():
            state += " (wait cancelled)"
        return "<Responder %r %s>" % (self.type.name, state)


def _actors_mod():
    global _actors
    if _actors is None:
        from . import _actors as mod
        _actors = mod
    return _actors


def _outcome_error(r, st):
    """The exception of a responder complete with status `st` (not ACTOR_OK)."""
    if r._forwarded:
        return InvalidArgument("this responder of %r was forwarded: its outcome went to an "
                               "on_response handler" % r.type.name)
    if st == _EHANDLER:
        return error(st, "request %r" % r.type.name, handler_code=r._handler_error)
    return error(st, "request %r" % r.type.name)


def _then_failed(fn, r, exc):
    """A then() callback raised: logged (it ran on some thread of the runtime)."""
    log.error("actor: the then() callback %r of %r raised", fn, r,
              exc_info=(type(exc), exc, exc.__traceback__))


def _wait(r, timeout):
    """Responder.result on a pending request, or with a timeout: waits with
    the GIL released, in slices (Ctrl-C works)."""
    ms = _ms(timeout)
    st = r.status
    if st == _EAGAIN:
        st = r._wait_ms(ms)
        if st == _ETIMEDOUT:
            raise Timeout("no reply to %r within %s s" % (r.type.name, timeout))
        if st == _EDEADLK:
            raise Deadlock("cannot block for a reply on a worker thread of a runtime "
                           "(inside an actor): defer the request instead")
    return r._outcome()


# ---------------------------------------------------------------------------
# Address
# ---------------------------------------------------------------------------

def _addr_error(rc, what, mt=None):
    if rc == _core.ACTOR_ENOHANDLER and mt is not None:
        return error(rc, "%s: the actor's class has no %s handler for %r"
                     % (what, "request" if what == "ask" else "event", mt.name))
    if rc == _core.ACTOR_ECLOSED:
        return error(rc, "%s: the actor is stopping or done" % what)
    return error(rc, what if mt is None else "%s %r" % (what, mt.name))


class Address(_Handle):
    """A counted reference to an actor: send it events, ask it requests.

    Releasing the last address of an actor (release(), or garbage
    collection) lets it stop once its mailbox is empty. Addresses are made
    by Runtime.spawn, Context.spawn, Context.self and copy.copy."""

    __slots__ = ("_ptr", "_rt", "__weakref__")

    __new__ = _no_public_constructor("Address", "Runtime.spawn, Context.spawn and "
                                     "Context.self make them")

    def _p(self):
        p = self._ptr
        if p is None:
            raise Closed("this address was released")
        return p

    def send(self, type, *fields, timeout=None):
        """Sends an event: `fields` fit the type's layout (one bytes-like
        object for an opaque type). Raises NoHandler, Closed, TypeMismatch...
        With `timeout` (seconds) a full bounded mailbox is waited on for room
        (addr_send_wait, GIL released): Timeout if none came."""
        if timeout is not None:
            return _send_wait(self, type, fields, timeout)
        mt = resolve(type)
        data = mt._payload.pack(fields)
        if _exiting and _core.shim_send_refused():
            raise Closed("send: the interpreter is exiting (sends from other threads are "
                         "refused)")
        rc = _core.addr_send(self._p(), mt._ptr, data)
        if rc:
            raise _addr_error(rc, "send", mt)

    # ask(type, *fields): in C (aio.c), installed below by _core.aio_setup.

    def interrupt(self):
        """Queues an interrupt behind what was sent before (the actor's
        interrupt hook runs; by default it stops)."""
        if _exiting and _core.shim_send_refused():
            raise Closed("interrupt: the interpreter is exiting (refused from other threads)")
        rc = _core.addr_interrupt(self._p())
        if rc:
            raise _addr_error(rc, "interrupt")

    def join(self, timeout=None):
        """Waits until the actor is Done; raises Timeout if `timeout` seconds
        pass first, Deadlock on a worker thread."""
        p = _core.addr_ref(self._p())  # alive even if released meanwhile
        try:
            rc = _core.shim_addr_join(p, _ms(timeout))
        finally:
            _core.shim_addr_release(p)
        if rc == _ETIMEDOUT:
            raise Timeout("the actor is not done after %s s" % timeout)
        if rc == _EDEADLK:
            raise Deadlock("cannot join on a worker thread of a runtime (inside an actor)")
        check(rc, "join")

    @property
    def done(self):
        """True once the actor is Done (finalized). A property (the binding
        contract: `addr.done`), whereas Responder.done() is a method, as on
        every asyncio future."""
        p = self._ptr
        return p is not None and bool(_core.addr_is_done(p))

    @property
    def dropped(self):
        """How many events sent to the actor were accepted but dropped because
        it stopped first (exact once it is Done)."""
        rc, n = _core.addr_dropped(self._p())
        check(rc, "dropped")
        return n

    def release(self):
        """Drops this reference now (instead of at garbage collection)."""
        p = self._ptr
        if p is not None:
            self._ptr = None
            _core.shim_addr_release(p)

    def __copy__(self):
        """Another counted reference to the same actor."""
        return _address(_core.addr_ref(self._p()), self._rt)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __eq__(self, other):
        if not isinstance(other, Address):
            return NotImplemented
        return self._ptr is not None and other._ptr is not None and \
            int(self._ptr) == int(other._ptr)

    def __hash__(self):
        return 0 if self._ptr is None else hash(int(self._ptr))

    def __repr__(self):
        if self._ptr is None:
            return "<Address released>"
        return "<Address 0x%x%s>" % (int(self._ptr), " done" if self.done else "")

    def __del__(self, _release=_core.shim_addr_release):
        p = self._ptr
        if p is not None:
            self._ptr = None
            _release(p)


def _address(ptr, rt=None):
    """A new Address owning the counted reference `ptr`; `rt` (a Runtime
    object, kept alive by it) or None."""
    a = _new(Address)
    a._ptr = ptr
    a._rt = rt
    return a


_exiting = False  # the atexit shutdown began (shim_send_refused says for whom)
_send_wait = None  # Address.send(..., timeout=s): set by _v11


_core.aio_setup({
    "responder": Responder,
    "msgtype": MsgType,
    "address": Address,
    "by_name": _by_name,
    "resolve": resolve,
    "addr_error": _addr_error,
    "outcome_error": _outcome_error,
    "wait": _wait,
    "queue_for": _queue_for,
    "callback_failed": _callback_failed,
    "closed": Closed,
    "invalid": InvalidArgument,
    "running_loop": asyncio.events._get_running_loop,
    "event_loop": asyncio.get_event_loop,
    "cancelled_error": asyncio.CancelledError,
    "deadlock": Deadlock,
    "then_failed": _then_failed,
})


# ---------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------

_live = weakref.WeakSet()  # runtimes to shut down at exit
_graveyard = []            # (key, pointer) of runtimes dropped on a worker thread: freed later
_graveyard_lock = threading.Lock()
_actors = None             # the _actors module (imported late: it imports us)
_exit_timeout = 5.0        # set_exit_timeout
# C actors spawned from Python, per runtime key: {id(address): (weak reference
# to the spawn's Address, class name)}, to name the ones still alive when the
# exit wait runs out (Python actors are counted by _actors).
_c_spawned = {}


def set_exit_timeout(seconds):
    """How long the atexit shutdown waits for the actors of the runtimes still
    alive to stop (default 5 seconds; None: as long as it takes). When the
    time runs out (or Ctrl-C is pressed while it waits), a WARNING on the
    "actor" logger names the classes of the actors that did not stop, and
    the interpreter exits without them (their runtimes are left as they
    are). Returns the previous value."""
    global _exit_timeout
    if seconds is not None:
        if type(seconds) not in (int, float) and not isinstance(seconds, numbers.Real):
            raise TypeError("the exit timeout is a number of seconds or None, not %s"
                            % type(seconds).__name__)
        seconds = float(seconds)
        if not seconds >= 0:  # NaN too
            raise ValueError("the exit timeout must be >= 0 or None, not %r" % seconds)
    old, _exit_timeout = _exit_timeout, seconds
    return old


def _track_c(key, addr, name):
    d = _c_spawned.setdefault(key, {})
    k = id(addr)
    d[k] = (weakref.ref(addr, lambda _r, k=k, d=d: d.pop(k, None)), name)


def _forget(key):
    _c_spawned.pop(key, None)
    if _actors is not None:
        _actors._alive_forget(key)


def _bury(key, ptr):
    with _graveyard_lock:
        _graveyard.append((key, ptr))


def _free_graveyard():
    with _graveyard_lock:
        dead = _graveyard[:]
        del _graveyard[:]
    for key, ptr in dead:
        rc = _core.shim_runtime_shutdown(ptr, -1)
        if rc == _EDEADLK:
            _bury(key, ptr)
        else:
            _core.shim_runtime_free(ptr)
            _forget(key)


class Runtime(_Handle):
    """A libactor runtime: `threads` worker threads (0: one per CPU).

    Use it as a context manager: leaving the block shuts it down (every
    actor is interrupted and finalized) and frees it. Runtimes still alive
    at interpreter exit are shut down by an atexit handler, which waits for
    their actors a bounded time (set_exit_timeout). In a child made by
    os.fork() the parent's runtimes are closed: spawn and shutdown raise
    Closed, and nothing of the parent's is touched."""

    def __init__(self, threads=0, manual=False, seed=0):
        try:
            n = operator.index(threads)
        except TypeError:
            raise TypeError("threads is an int, not %s" % type(threads).__name__) from None
        if n < 0:
            raise ValueError("threads must be >= 0 (0: one per CPU), not %d" % n)
        if n > 0xFFFFFFFF:
            raise InvalidArgument("too many threads: %d" % n)
        self._ptr = None
        self._inherited = False
        self._lock = threading.Lock()
        if _exiting:
            raise Closed("the interpreter is exiting: no new runtime")
        if _graveyard:
            _free_graveyard()
        self.manual = bool(manual)  # 1.1: no threads, a virtual clock (_v11: step, advance)
        if self.manual:
            rc, ptr = _core.shim_runtime_new_manual(operator.index(seed) & (2**64 - 1))
        else:
            rc, ptr = _core.shim_runtime_new(n)
        check(rc, "actor_runtime_new(%d)" % n)
        self._ptr = ptr
        self._key = int(ptr)
        self.threads = n
        _live.add(self)

    def _p(self):
        p = self._ptr
        if p is None:
            if self._inherited:
                raise Closed("this runtime belongs to the parent process (inherited through "
                             "fork()): it cannot be used here")
            raise Closed("the runtime is closed")
        return p

    def spawn(self, what):
        """Spawns an actor and returns its Address. `what` is the name of a
        registered class (a C class from a plugin, or a Python class given to
        actor.register), an actor.Actor instance, or an Actor subclass (an
        instance is made with no arguments)."""
        actors = _actors_mod()
        if _exiting and _core.shim_send_refused():
            raise Closed("spawn: the interpreter is exiting (refused from other threads)")
        p = self._p()
        if isinstance(what, str):
            pycls = actors._registry.get(what)
            if pycls is not None:
                return actors._spawn_instance(self, p, pycls())
            cls = _core.actor_class_find(what)
            if cls is None:
                raise InvalidArgument("no actor class registered as %s (load the plugin "
                                      "that registers it, or actor.register a Python class)"
                                      % _short(what))
            rc, a = _core.shim_spawn(p, cls, None, None)
            if rc:
                raise error(rc, "spawn %r" % what)
            a = _address(a, self)
            _track_c(self._key, a, what)
            return a
        if isinstance(what, type) and issubclass(what, actors.Actor):
            what = what()
        if isinstance(what, actors.Actor):
            return actors._spawn_instance(self, p, what)
        raise TypeError("spawn takes a class name, an actor.Actor instance or subclass, not %s"
                        % type(what).__name__)

    def shutdown(self, timeout=None):
        """Interrupts every actor and waits until all are Done (then stops the
        workers). From the call on, spawn raises Closed. Raises Timeout if
        `timeout` seconds pass first (call again to wait more)."""
        if self._inherited:
            self._p()
        with self._lock:
            p = self._ptr
            if p is None:
                return
            rc = _core.shim_runtime_shutdown(p, _ms(timeout))
        if rc == _ETIMEDOUT:
            raise Timeout("the runtime's actors are not all done after %s s" % timeout)
        if rc == _EDEADLK:
            raise Deadlock("cannot shut a runtime down on one of its worker threads")
        check(rc, "shutdown")

    def close(self):
        """Shuts down (waiting as long as needed) and frees the runtime.
        Addresses and responders stay usable: operations raise Closed, pending
        requests complete with Canceled. Idempotent."""
        with self._lock:
            p = self._ptr
            if p is None:
                return
            rc = _core.shim_runtime_shutdown(p, -1)
            if rc == _EDEADLK:
                raise Deadlock("cannot close a runtime on one of its worker threads")
            self._ptr = None
        _live.discard(self)
        _core.shim_runtime_free(p)
        _forget(self._key)

    def _take(self, timeout):
        """At exit: takes the C runtime out of this object (None if closed, or
        if a thread holds it longer than `timeout` seconds)."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return None
        try:
            p, self._ptr = self._ptr, None
        finally:
            self._lock.release()
        return p

    def _inherit(self):
        """In a forked child: the C runtime is the parent's; forget it."""
        self._lock = threading.Lock()  # may have been held by a thread of the parent
        self._ptr = None
        self._inherited = True

    @property
    def closed(self):
        return self._ptr is None

    def __enter__(self):
        self._p()
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = " inherited (fork)" if self._inherited else \
            " closed" if self._ptr is None else ""
        return "<Runtime threads=%d%s>" % (self.threads, state)

    def __del__(self):
        p = getattr(self, "_ptr", None)
        if p is None:
            return
        self._ptr = None
        key = self._key
        try:
            rc = _core.shim_runtime_shutdown(p, -1)
        except BaseException:  # a signal while waiting: finish at exit
            _bury(key, p)
            return
        if rc == _EDEADLK:  # collected on a worker thread: free it later
            _bury(key, p)
        else:
            _core.shim_runtime_free(p)
            _forget(key)


# ---------------------------------------------------------------------------
# Exit and fork
# ---------------------------------------------------------------------------

def _alive_names(key):
    """'Stubborn (1), Calculator (2)': the classes of the actors of runtime
    `key` that Python knows to be alive."""
    counts = dict(_actors._alive_by_class(key)) if _actors is not None else {}
    for ref, name in list(_c_spawned.get(key, {}).values()):
        a = ref()
        if a is not None and a._ptr is not None and not _core.addr_is_done(a._ptr):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "classes unknown to Python (actors spawned from C)"
    return ", ".join("%s (%d)" % kv for kv in sorted(counts.items()))


def _stop_at_exit():
    """Shuts every runtime down, waiting at most _exit_timeout in all (Ctrl-C
    ends the wait); frees the ones that stopped and logs the others. Returns
    how long shim_python_dying may still wait (ms; -1: no limit)."""
    timeout = _exit_timeout
    deadline = None if timeout is None else time.monotonic() + timeout

    def left():
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    targets = []
    for rt in list(_live):
        busy = rt._ptr is not None
        p = rt._take(left())
        _live.discard(rt)
        if p is not None:
            targets.append((rt._key, p))
        elif busy and rt._ptr is not None:
            log.warning("actor: at exit, another thread still closes %r: the interpreter "
                        "exits without waiting for it", rt)
    with _graveyard_lock:
        targets += _graveyard
        del _graveyard[:]
    # Every runtime interrupts its actors at once; then wait for each.
    pending = []
    for key, p in targets:
        if _core.shim_runtime_shutdown(p, 0) == _ETIMEDOUT:
            pending.append((key, p))
        else:
            _core.shim_runtime_free(p)
            _forget(key)
    interrupted = False
    stuck = []
    try:  # Ctrl-C anywhere in here ends the wait
        if pending:
            log.info("actor: at exit, waiting for the actors of %d runtimes to stop (%s; "
                     "Ctrl-C stops waiting)", len(pending),
                     "no limit" if timeout is None else "at most %g s" % timeout)
        while pending:
            key, p = pending[0]
            if _core.shim_runtime_shutdown(p, _ms(left())) == _ETIMEDOUT:
                stuck.append(pending.pop(0))
            else:
                pending.pop(0)
                _core.shim_runtime_free(p)
                _forget(key)
    except KeyboardInterrupt:
        interrupted = True
    stuck += pending
    for key, p in stuck:
        # The runtime stays as it is (freeing it would wait for them).
        log.warning("actor: at exit, actors did not stop %s: %s; the interpreter exits "
                    "without them (a handler still running, or an interrupt handler that "
                    "does not stop its actor? actor.set_exit_timeout sets the wait)",
                    "(the wait was cut short by Ctrl-C)" if interrupted else
                    "within %g s" % timeout, _alive_names(key))
    _core.shim_responder_reap(1)
    if interrupted:
        return 0
    rest = left()
    return -1 if rest is None else max(250, _ms(rest))


def _shutdown_all():
    """atexit: refuse sends from other threads, shut every runtime down
    (bounded: set_exit_timeout), then stop C threads from entering Python
    before the interpreter starts finalizing (gh-87135)."""
    global _exiting
    wait_ms = 0
    try:
        _exiting = True
        _core.shim_exit_begin()
        wait_ms = _stop_at_exit()
    except BaseException:  # a signal while stopping: exit at once
        wait_ms = 0
    finally:
        still = _core.shim_python_dying(wait_ms)
        if still:
            try:
                log.warning("actor: at exit, %d actor callbacks still run in Python; the "
                            "interpreter exits without waiting for them", still)
            except BaseException:
                pass


def _after_fork_in_child():
    """os.fork() child: the parent's runtimes, completion queues and locks
    are not ours. Forget them without touching them (no shutdown, no free,
    no fd or event loop of theirs), so the child exits promptly and the
    parent's runtimes go on. (The C library and the shim do their part:
    calls on inherited handles answer ACTOR_ECLOSED.)"""
    global _graveyard_lock, _exiting
    for rt in list(_live):
        rt._inherit()
    _live.clear()
    _graveyard_lock = threading.Lock()
    del _graveyard[:]
    _queues.clear()
    _c_spawned.clear()
    _exiting = False
    from . import _layout
    _layout._lock = threading.Lock()
    if _actors is not None:
        _actors._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
