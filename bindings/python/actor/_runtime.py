"""Runtimes, addresses and responders; plugin loading; the atexit shutdown."""

import asyncio
import math
import numbers
import operator
import os
import threading
import weakref

from . import _core as _swig
_core = _swig.__core  # the extension itself: no Python wrapper per call
from ._errors import (Closed, Deadlock, InvalidArgument, Timeout, check, error)
from ._layout import MsgType, _by_name, resolve

__all__ = ["Runtime", "Address", "Responder", "load"]

_OK = _core.ACTOR_OK
_EAGAIN = _core.ACTOR_EAGAIN
_ETIMEDOUT = _core.ACTOR_ETIMEDOUT
_EDEADLK = _core.ACTOR_EDEADLK
_EHANDLER = _core.ACTOR_EHANDLER
_INT_MAX = (1 << 31) - 1


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
    if "\0" in p:
        raise InvalidArgument("a plugin path has no NUL character")
    if os.path.exists(p):
        p = os.path.abspath(p)  # dlopen searches the library path for a bare name
    elif os.sep in p:
        raise InvalidArgument("cannot load plugin %r: no such file" % p)
    rc = _core.actor_plugin_load(p)
    if rc == _core.ACTOR_EINVAL:
        raise InvalidArgument("cannot load plugin %r (not a loadable libactor plugin; "
                              "the reason is in the log)" % p)
    if rc == _EHANDLER:
        raise error(rc, "plugin %r: actor_plugin_init failed" % p)
    check(rc, "actor_plugin_load(%r)" % p)


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

    r.result(timeout=None) blocks (GIL released) and returns the reply;
    `await r` waits in asyncio without parking a thread.

    A Responder is an asyncio future (asyncio.isfuture(r) is true): gather,
    wait, wait_for, shield, as_completed take it as it is, with no Task per
    request. It binds to the running event loop when first used there.
    cancel() cancels the asyncio wait only: the request goes on (libactor
    cannot withdraw it) and nothing is freed; the responder then reports
    cancelled() and done(), and result() raises asyncio.CancelledError, until
    it is awaited again: `await r` clears the cancellation and waits for the
    same request. done(), result(), exception(), status, type: see the
    methods (ResponderBase, in C)."""

    __slots__ = ()

    def __await__(self):
        state = self._await_state()
        while state == 2:  # a cancellation still on its way to its callbacks
            yield          # one loop iteration
            state = self._await_state()
        if state:
            self._asyncio_future_blocking = True
            yield self     # the Task waits for it (add_done_callback)
            if not self.done():
                raise RuntimeError("await wasn't used with future")
        return self.result()

    __iter__ = __await__

    def __repr__(self):
        st = self.status
        state = "pending" if st == _EAGAIN else ("ok" if st == _OK else _core.actor_strerror(st))
        if self.cancelled():
            state += " (wait cancelled)"
        return "<Responder %r %s>" % (self.type.name, state)


def _outcome_error(r, st):
    """The exception of a responder complete with status `st` (not ACTOR_OK)."""
    if st == _EHANDLER:
        return error(st, "request %r" % r.type.name, handler_code=r._handler_error)
    return error(st, "request %r" % r.type.name)


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
    collection) lets it stop once its mailbox is empty."""

    __slots__ = ("_ptr", "_rt", "__weakref__")

    def __init__(self, ptr, rt=None):
        self._ptr = ptr
        self._rt = rt  # keeps a Runtime object (not its actors) alive

    def _p(self):
        p = self._ptr
        if p is None:
            raise Closed("this address was released")
        return p

    def send(self, type, *fields):
        """Sends an event: `fields` fit the type's layout (one bytes-like
        object for an opaque type). Raises NoHandler, Closed, TypeMismatch..."""
        mt = resolve(type)
        data = mt._payload.pack(fields)
        rc = _core.addr_send(self._p(), mt._ptr, data)
        if rc:
            raise _addr_error(rc, "send", mt)

    # ask(type, *fields): in C (aio.c), installed below by _core.aio_setup.

    def interrupt(self):
        """Queues an interrupt behind what was sent before (the actor's
        interrupt hook runs; by default it stops)."""
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
        """True once the actor is Done (finalized)."""
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
        return Address(_core.addr_ref(self._p()), self._rt)

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
})


# ---------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------

_live = weakref.WeakSet()  # runtimes to shut down at exit
_graveyard = []            # runtimes dropped on a worker thread: freed later
_graveyard_lock = threading.Lock()
_actors = None             # the _actors module (imported late: it imports us)


def _bury(ptr):
    with _graveyard_lock:
        _graveyard.append(ptr)


def _free_graveyard():
    with _graveyard_lock:
        dead = _graveyard[:]
        del _graveyard[:]
    for ptr in dead:
        rc = _core.shim_runtime_shutdown(ptr, -1)
        if rc == _EDEADLK:
            _bury(ptr)
        else:
            _core.shim_runtime_free(ptr)


class Runtime(_Handle):
    """A libactor runtime: `threads` worker threads (0: one per CPU).

    Use it as a context manager: leaving the block shuts it down (every
    actor is interrupted and finalized) and frees it. Runtimes still alive
    at interpreter exit are shut down by an atexit handler."""

    def __init__(self, threads=0):
        try:
            n = operator.index(threads)
        except TypeError:
            raise TypeError("threads is an int, not %s" % type(threads).__name__) from None
        if n < 0:
            raise ValueError("threads must be >= 0 (0: one per CPU), not %d" % n)
        if n > 0xFFFFFFFF:
            raise InvalidArgument("too many threads: %d" % n)
        self._ptr = None
        self._lock = threading.Lock()
        if _graveyard:
            _free_graveyard()
        rc, ptr = _core.shim_runtime_new(n)
        check(rc, "actor_runtime_new(%d)" % n)
        self._ptr = ptr
        self.threads = n
        _live.add(self)

    def _p(self):
        p = self._ptr
        if p is None:
            raise Closed("the runtime is closed")
        return p

    def spawn(self, what):
        """Spawns an actor and returns its Address. `what` is the name of a
        registered class (a C class from a plugin, or a Python class given to
        actor.register), an actor.Actor instance, or an Actor subclass (an
        instance is made with no arguments)."""
        global _actors
        if _actors is None:
            from . import _actors as mod
            _actors = mod
        p = self._p()
        if isinstance(what, str):
            pycls = _actors._registry.get(what)
            if pycls is not None:
                return _actors._spawn_instance(self, p, pycls())
            cls = _core.actor_class_find(what)
            if cls is None:
                raise InvalidArgument("no actor class registered as %r (load the plugin "
                                      "that registers it, or actor.register a Python class)"
                                      % what)
            rc, a = _core.shim_spawn(p, cls, None)
            if rc:
                raise error(rc, "spawn %r" % what)
            return Address(a, self)
        if isinstance(what, type) and issubclass(what, _actors.Actor):
            what = what()
        if isinstance(what, _actors.Actor):
            return _actors._spawn_instance(self, p, what)
        raise TypeError("spawn takes a class name, an actor.Actor instance or subclass, not %s"
                        % type(what).__name__)

    def shutdown(self, timeout=None):
        """Interrupts every actor and waits until all are Done (then stops the
        workers). From the call on, spawn raises Closed. Raises Timeout if
        `timeout` seconds pass first (call again to wait more)."""
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

    @property
    def closed(self):
        return self._ptr is None

    def __enter__(self):
        self._p()
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<Runtime threads=%d%s>" % (self.threads, " closed" if self._ptr is None else "")

    def __del__(self):
        p = getattr(self, "_ptr", None)
        if p is None:
            return
        self._ptr = None
        try:
            rc = _core.shim_runtime_shutdown(p, -1)
        except BaseException:  # a signal while waiting: finish at exit
            _bury(p)
            return
        if rc == _EDEADLK:  # collected on a worker thread: free it later
            _bury(p)
        else:
            _core.shim_runtime_free(p)


def _shutdown_all():
    """atexit: shut down every runtime, then stop C threads from entering
    Python (before the interpreter starts finalizing: gh-87135)."""
    try:
        for rt in list(_live):
            try:
                rt.close()
            except BaseException:
                pass
        _free_graveyard()
        _core.shim_responder_reap(1)
    finally:
        _core.shim_python_dying()
