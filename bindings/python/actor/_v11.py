"""The 1.1 interface of libactor, added onto the package's classes.

Time:        Context.start_timer / cancel_timer / timer_active; Address.ask(...,
             timeout=s) (in C, aio.c) raising Expired; Runtime(manual=True,
             seed=n) with step(), run(), advance(seconds), now().
Flow:        Runtime.stats(), Address.stats(); the class attribute
             `mailbox = (capacity, "reject" | "drop")`; Address.send(...,
             timeout=s); Address.send_async(...); Runtime.on_dead_letter(fn).
Failure:     Context.fail(code), Address.exit_reason, Address.restarts,
             @on_down handlers, Context.monitor / demonitor,
             Runtime.supervisor(...) -> Supervisor, Runtime.register /
             unregister / lookup.
Composition: Actor.on_any_event(ctx, type, payload), Address.subscribe /
             unsubscribe, Runtime.publish(...), Runtime.pool(...).
"""

import asyncio
import logging
import math
import numbers
import operator

from . import _core as _swig
_core = _swig.__core  # the extension itself
from ._errors import (Busy, Closed, Deadlock, InvalidArgument, NoHandler, NotFound, Timeout,
                      check)
from ._layout import find, resolve, _short
from . import _runtime, _actors
from ._runtime import Address, Runtime, _address, _addr_error, _ms, _new
from ._actors import Actor, Context, _cclass, _context, _event_exc, _registry

__all__ = ["on_down", "Supervisor"]

log = logging.getLogger("actor")

_U64 = (1 << 64) - 1


def _key(key):
    try:
        k = operator.index(key)
    except TypeError:
        raise TypeError("a timer key is an int, not %s" % type(key).__name__) from None
    if not 0 <= k <= _U64:
        raise ValueError("a timer key is an int from 0 to 2**64-1, not %d" % k)
    return k


def _seconds_ms(seconds, what, rounding=math.ceil):
    """Seconds (>= 0, finite) as whole ms."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError("%s is a number of seconds, not %s" % (what, type(seconds).__name__))
    t = float(seconds)
    if not 0 <= t < math.inf:
        raise ValueError("%s must be a finite number of seconds >= 0, not %r" % (what, seconds))
    # 0.1 * 1000 is 100.00000000000001: round away float noise before rounding up.
    return int(rounding(round(t * 1000, 6)))


# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------

def start_timer(self, key, type, *fields, after=0.0, every=None):
    """Starts timer `key` (an int) of this actor: its own event `type` (with
    `fields`) arrives `after` seconds from now, then every `every` seconds
    (None: once), to the actor's event handler of that type. Starting an
    active key replaces that timer. Timers end when the actor stops and
    never keep it alive."""
    p = self._p()
    mt = resolve(type)
    data = mt._payload.pack(fields)
    after_ms = _seconds_ms(after, "after")
    every_ms = 0 if every is None else _seconds_ms(every, "every")
    if every is not None and every_ms == 0:
        raise ValueError("every must be > 0 seconds (or None: once)")
    rc = _core.actor_ctx_timer_start(p, _key(key), mt._ptr, data, after_ms, every_ms)
    if rc == _core.ACTOR_ENOHANDLER:
        raise NoHandler("start_timer: the actor's class has no event handler for %r" % mt.name)
    check(rc, "start_timer %r" % mt.name)


def cancel_timer(self, key):
    """Cancels timer `key`: after it returns no tick of it is handled, not
    even one already queued. True if it was active, False if not."""
    rc = _core.actor_ctx_timer_cancel(self._p(), _key(key))
    if rc == _core.ACTOR_ENOENT:
        return False
    check(rc, "cancel_timer")
    return True


def timer_active(self, key):
    """True while timer `key` is active."""
    return bool(_core.actor_ctx_timer_active(self._p(), _key(key)))


Context.start_timer = start_timer
Context.cancel_timer = cancel_timer
Context.timer_active = timer_active


def _manual(rt, what):
    p = rt._p()
    if not rt.manual:
        raise InvalidArgument("%s: only on a manual runtime (actor.Runtime(manual=True))" % what)
    return p


def _run_code(rc, what):
    if rc == _core.ACTOR_EBUSY:
        raise Busy("%s: another thread is running this runtime" % what)
    if rc == _core.ACTOR_EINVAL:
        raise InvalidArgument("%s: not on a manual runtime, or inside a handler" % what)
    check(rc, what)


def step(self):
    """Manual runtime: fires what is due, then runs one callback of a ready
    actor, on this thread. True if one ran, False if the runtime is idle."""
    rc = _core.shim_runtime_step(_manual(self, "step"))
    if rc < 0:
        _run_code(rc, "step")
    return rc == 1


def run(self, max_messages=None):
    """Manual runtime: steps until idle (or `max_messages` callbacks ran);
    returns how many ran."""
    n = -1 if max_messages is None else operator.index(max_messages)
    if max_messages is not None and n < 0:
        raise ValueError("max_messages must be >= 0 or None")
    rc = _core.shim_runtime_run(_manual(self, "run"), n)
    if rc < 0:
        _run_code(rc, "run")
    return rc


def advance(self, seconds):
    """Manual runtime: moves the virtual clock `seconds` forward (rounded to
    ms), firing every timer and deadline due on the way at its own time and
    running until idle after each."""
    ms = _seconds_ms(seconds, "seconds", round)
    _run_code(_core.shim_runtime_advance(_manual(self, "advance"), ms), "advance")


def now(self):
    """The runtime's clock in seconds: virtual on a manual runtime (it starts
    at 0 and moves only with advance), else the time since it started."""
    return _core.actor_runtime_now_ms(self._p()) / 1000.0


Runtime.step = step
Runtime.run = run
Runtime.advance = advance
Runtime.now = now


# ---------------------------------------------------------------------------
# Flow
# ---------------------------------------------------------------------------

def rt_stats(self):
    """The runtime's counters (actor_runtime_stats): a dict of actors_live,
    actors_spawned, messages_handled, wakeups, migrations, threads."""
    d = _core.shim_runtime_stats(self._p())
    if d is None:
        raise InvalidArgument("stats: the runtime is not valid")
    return d


def addr_stats(self):
    """The actor's counters (actor_stats): a dict of received, handled,
    dropped, rejected, expired, queued, queued_peak, restarts, canceled
    (queued and queued_peak are kept for bounded mailboxes only)."""
    d = _core.shim_addr_stats(self._p())
    if d is None:
        raise InvalidArgument("stats: the address is not valid")
    return d


Runtime.stats = rt_stats
Address.stats = addr_stats

_OVERFLOW = {"reject": _core.ACTOR_OVERFLOW_REJECT, "drop": _core.ACTOR_OVERFLOW_DROP}


def _mailbox_setup(cls, c, name):
    mb = getattr(cls, "mailbox", None)
    if mb is None:
        return
    if isinstance(mb, int):
        cap, mode = mb, "reject"
    else:
        try:
            cap, mode = mb
        except (TypeError, ValueError):
            raise TypeError("%s.mailbox is (capacity, \"reject\" | \"drop\")"
                            % cls.__qualname__) from None
    if mode not in _OVERFLOW:
        raise ValueError("%s.mailbox: the overflow is \"reject\" or \"drop\", not %r"
                         % (cls.__qualname__, mode))
    cap = operator.index(cap)
    if cap < 0:
        raise ValueError("%s.mailbox: the capacity is >= 0 (0: unbounded)" % cls.__qualname__)
    rc = _core.actor_class_set_mailbox(c, cap, _OVERFLOW[mode])
    check(rc, "actor class %r: mailbox %r" % (name, mb))


def _send_wait(addr, type, fields, timeout):
    mt = resolve(type)
    data = mt._payload.pack(fields)
    if _runtime._exiting and _core.shim_send_refused():
        raise Closed("send: the interpreter is exiting (sends from other threads are refused)")
    rc = _core.shim_addr_send_wait(addr._p(), mt._ptr, data, _ms(timeout))
    if rc == _core.ACTOR_ETIMEDOUT:
        raise Timeout("send %r: no room in the mailbox within %s s" % (mt.name, timeout))
    if rc == _core.ACTOR_EDEADLK:
        raise Deadlock("send with a timeout cannot wait on a worker thread (inside an actor): "
                       "send without one and handle Full")
    if rc:
        raise _addr_error(rc, "send", mt)


_runtime._send_wait = _send_wait


async def send_async(self, type, *fields):
    """Sends an event, waiting for room in a full bounded mailbox without
    blocking the event loop or parking a thread: the library calls back
    (addr_on_room) once the actor has taken half of its mailbox, through an
    eventfd the loop watches. A pool's address has no mailbox of its own:
    for it this retries every 0.5 ms at first, doubling up to 20 ms."""
    mt = resolve(type)
    data = mt._payload.pack(fields)
    loop = asyncio.get_running_loop()
    delay = 0.0005
    while True:
        if _runtime._exiting and _core.shim_send_refused():
            raise Closed("send: the interpreter is exiting")
        rc = _core.shim_addr_send_wait(self._p(), mt._ptr, data, 0)
        if rc != _core.ACTOR_ETIMEDOUT:
            break
        wrc, watch = _core.shim_room_watch(self._p())
        if wrc == _core.ACTOR_EINVAL:  # a pool
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
            continue
        if wrc:
            raise _addr_error(wrc, "send", mt)
        try:
            fd = _core.shim_room_fd(watch)
            room = loop.create_future()

            def ready():
                if not room.done():
                    room.set_result(None)

            loop.add_reader(fd, ready)
            try:
                await room
            finally:
                loop.remove_reader(fd)
        finally:
            _core.shim_room_close(watch)
    if rc:
        raise _addr_error(rc, "send", mt)


Address.send_async = send_async


def on_dead_letter(self, fn):
    """Calls fn(address, type_name, payload_bytes, reason) for every event
    that will not be handled: reason is actor.Closed.code (sent to a stopping
    or Done actor) or actor.Full.code (dropped by a "drop" mailbox). It runs
    on any thread, possibly concurrently, with the GIL; an exception is
    logged. Only before the first spawn on this runtime (else Busy)."""
    if not callable(fn):
        raise TypeError("on_dead_letter takes a callable")

    def hook(ptr, tname, payload, why):
        try:
            fn(_address(ptr), tname, payload, why)
        except BaseException:
            log.error("actor: the dead-letter hook %r raised", fn, exc_info=True)

    rc = _core.shim_runtime_on_dead_letter(self._p(), hook)
    if rc == _core.ACTOR_EBUSY:
        raise Busy("on_dead_letter: only before the first spawn on the runtime")
    check(rc, "on_dead_letter")


Runtime.on_dead_letter = on_dead_letter


# ---------------------------------------------------------------------------
# Failure
# ---------------------------------------------------------------------------

def fail(self, code):
    """Stops the actor (as stop) with exit reason `code`, a nonzero int: its
    monitors see it, and a supervisor restarts a "transient" child."""
    c = operator.index(code)
    if c == 0 or not -(1 << 31) <= c < (1 << 31):
        raise ValueError("a failure code is a nonzero 32-bit int")
    _core.actor_ctx_fail(self._p(), c)
    # The message it fails in is lost, as in C: a request in it is not
    # answered from the handler's return value (it completes Canceled).
    self._answered = True


def monitor(self, addr):
    """Watches `addr`: once it is Done, this actor's @actor.on_down handler
    gets (who, reason), once. Raises NoHandler without one."""
    if not isinstance(addr, Address):
        raise TypeError("monitor takes an Address")
    rc = _core.actor_ctx_monitor(self._p(), addr._p())
    if rc == _core.ACTOR_ENOHANDLER:
        raise NoHandler("monitor: the actor's class has no @actor.on_down handler")
    check(rc, "monitor")


def demonitor(self, addr):
    """Ends the monitor of `addr` (no Down of it is handled afterwards).
    Raises NotFound if this actor does not monitor it."""
    rc = _core.actor_ctx_demonitor(self._p(), addr._p())
    if rc == _core.ACTOR_ENOENT:
        raise NotFound("demonitor: not monitoring that actor")
    check(rc, "demonitor")


Context.fail = fail
Context.monitor = monitor
Context.demonitor = demonitor


def _exit_reason(self):
    """The reason the actor stopped with (0: normally; nonzero: it failed),
    or None until it is Done."""
    rc, reason = _core.shim_addr_exit_reason(self._p())
    if rc == _core.ACTOR_EAGAIN:
        return None
    check(rc, "exit_reason")
    return reason


def _restarts(self):
    """In-place restarts of the actor by a supervisor (or its pool)."""
    rc, n = _core.addr_restarts(self._p())
    check(rc, "restarts")
    return n


Address.exit_reason = property(_exit_reason)
Address.restarts = property(_restarts)


def on_down(fn):
    """Marks a method `f(self, ctx, who, reason)` as the actor's Down
    handler: an actor it monitors (ctx.monitor) is Done; `who` is an Address
    of it, `reason` its exit reason (0: stopped normally)."""
    fn._actor_down = True
    return fn


def _down_setup(cls, c, name):
    fn = None
    for klass in cls.__mro__:
        for attr, f in vars(klass).items():
            if getattr(f, "_actor_down", False) is True:
                fn = getattr(cls, attr)
                break
        if fn is not None:
            break
    cls._actor_down_fn = fn
    if fn is not None:
        check(_core.shim_pyclass_on_down(c), "actor class %r: on_down" % name)
    if callable(getattr(cls, "on_any_event", None)):
        check(_core.shim_pyclass_on_any_event(c), "actor class %r: on_any_event" % name)


def _down(inst, reason, ptr, who_ptr):
    who = _address(who_ptr)
    fn = type(inst).__dict__.get("_actor_down_fn")
    ctx = _context(ptr, inst)
    try:
        if fn is not None:
            fn(inst, ctx, who, reason)
    except BaseException:
        log.error("actor %s: the on_down handler raised", _actors._cls_name(inst),
                  exc_info=True)
    finally:
        ctx._ptr = None
    return 0


_STRATEGY = {"one_for_one": _core.ACTOR_ONE_FOR_ONE, "one_for_all": _core.ACTOR_ONE_FOR_ALL,
             "rest_for_one": _core.ACTOR_REST_FOR_ONE}
_RESTART = {"permanent": _core.ACTOR_PERMANENT, "transient": _core.ACTOR_TRANSIENT,
            "temporary": _core.ACTOR_TEMPORARY}


def _class_for_runtime_spawn(what):
    """The C class of `what` (a registered class name, or an Actor subclass)
    for a spawn by the runtime with state NULL (supervisors, pools): a Python
    class's C class then keeps its record for the process, so that each
    incarnation gets a fresh instance."""
    if isinstance(what, str):
        pycls = _registry.get(what)
        if pycls is not None:
            return _cclass(pycls)[4].c
        c = _core.actor_class_find(what)
        if c is None:
            raise InvalidArgument("no actor class registered as %s" % _short(what))
        return c
    if isinstance(what, type) and issubclass(what, Actor) and what is not Actor:
        rec = _cclass(what)
        check(_core.shim_pyclass_keep(rec[4].c, rec), "keep class %r" % rec[5])
        return rec[4].c
    raise TypeError("a class name or an actor.Actor subclass (not an instance: the runtime "
                    "makes one per incarnation), not %s" % type(what).__name__)


class Supervisor(Address):
    """The Address of a supervisor (Runtime.supervisor), which restarts its
    children in place (their addresses stay valid)."""

    __slots__ = ()

    def start_child(self, cls, restart="permanent"):
        """Starts a child of `cls` (a registered class name or an Actor
        subclass; a Python child gets a fresh instance at each restart),
        restarted as `restart` says: "permanent" (after any stop),
        "transient" (after a failure), "temporary" (never). Returns its
        Address."""
        if restart not in _RESTART:
            raise ValueError("restart is one of %s" % ", ".join(sorted(_RESTART)))
        c = _class_for_runtime_spawn(cls)
        rc, a = _core.actor_supervisor_start_child(self._p(), c, _RESTART[restart])
        check(rc, "start_child")
        return _address(a, self._rt)

    def start_supervisor(self, restart="permanent", strategy="one_for_one", intensity=3,
                         period=5.0, backoff=0, backoff_max=0):
        """Starts a supervisor under this one (a subtree: when it gives up,
        this one applies its own policy); the arguments as
        Runtime.supervisor. Returns its Supervisor."""
        if restart not in _RESTART:
            raise ValueError("restart is one of %s" % ", ".join(sorted(_RESTART)))
        args = _spec(strategy, intensity, period, backoff, backoff_max)
        rc, a = _core.shim_supervisor_start_supervisor(self._p(), *args, _RESTART[restart])
        check(rc, "start_supervisor")
        s = _new(Supervisor)
        s._ptr = a
        s._rt = self._rt
        return s

    def stop_child(self, child):
        """Stops a child for good (never restarted). Raises NotFound if it is
        not a child (any more)."""
        rc = _core.actor_supervisor_stop_child(self._p(), child._p())
        if rc == _core.ACTOR_ENOENT:
            raise NotFound("stop_child: not a child of this supervisor")
        check(rc, "stop_child")



def _spec(strategy="one_for_one", intensity=3, period=5.0, backoff=0, backoff_max=0):
    if strategy not in _STRATEGY:
        raise ValueError("strategy is one of %s" % ", ".join(sorted(_STRATEGY)))
    intensity = operator.index(intensity)
    if intensity < 0:
        raise ValueError("intensity must be >= 0")
    period_ms = _seconds_ms(period, "period")
    if period_ms == 0:
        raise ValueError("period must be > 0")
    return (_STRATEGY[strategy], intensity, period_ms, _seconds_ms(backoff, "backoff"),
            _seconds_ms(backoff_max, "backoff_max"))


def supervisor(self, strategy="one_for_one", intensity=3, period=5.0, backoff=0, backoff_max=0):
    """Spawns a supervisor: more than `intensity` restarts within `period`
    seconds and it gives up (fails). A restart round waits `backoff` seconds
    first, doubling up to `backoff_max`. Returns a Supervisor (an Address)."""
    args = _spec(strategy, intensity, period, backoff, backoff_max)
    rc, a = _core.shim_supervisor_spawn(self._p(), *args)
    check(rc, "supervisor")
    s = _new(Supervisor)
    s._ptr = a
    s._rt = self
    return s


def register_name(self, name, addr):
    """Registers `addr` under `name` on this runtime until it is Done (the
    registry holds an address: it does not stop at the release of the
    others). Raises Busy if the name is taken."""
    if not isinstance(addr, Address):
        raise TypeError("register takes a name and an Address")
    rc = _core.actor_name_register(self._p(), name, addr._p())
    if rc == _core.ACTOR_EBUSY:
        raise Busy("the name %s is taken" % _short(name))
    check(rc, "register %s" % _short(name))


def unregister_name(self, name):
    """Frees `name`; False if it was not registered."""
    rc = _core.actor_name_unregister(self._p(), name)
    if rc == _core.ACTOR_ENOENT:
        return False
    check(rc, "unregister %s" % _short(name))
    return True


def lookup(self, name):
    """The Address registered as `name`, or None."""
    rc, a = _core.actor_name_lookup(self._p(), name)
    if rc == _core.ACTOR_ENOENT:
        return None
    check(rc, "lookup %s" % _short(name))
    return _address(a, self)


Runtime.supervisor = supervisor
Runtime.register = register_name
Runtime.unregister = unregister_name
Runtime.lookup = lookup


# ---------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------

def _any(inst, tname, ptr, payload):
    ctx = _context(ptr, inst)
    try:
        mt = find(tname)
        inst.on_any_event(ctx, mt if mt is not None else tname, payload)
        return 0
    except BaseException as e:
        _event_exc[id(inst)] = (tname, e)
        return _core.ACTOR_EHANDLER
    finally:
        ctx._ptr = None


def subscribe(self, subject):
    """Subscribes the actor to `subject` (NATS syntax: "orders.*.new",
    "orders.>"): Runtime.publish delivers matching events to it. Raises Busy
    if it has this very subject already."""
    rc = _core.actor_subscribe(self._p(), subject)
    if rc == _core.ACTOR_EBUSY:
        raise Busy("subscribe: already subscribed to %s" % _short(subject))
    check(rc, "subscribe %s" % _short(subject))


def unsubscribe(self, subject):
    """Ends the subscription `subject`; False if there was none."""
    rc = _core.actor_unsubscribe(self._p(), subject)
    if rc == _core.ACTOR_ENOENT:
        return False
    check(rc, "unsubscribe %s" % _short(subject))
    return True


Address.subscribe = subscribe
Address.unsubscribe = unsubscribe


def publish(self, subject, type, *fields):
    """Sends the event to every actor subscribed to a match of `subject`
    that handles it (each at most once); returns how many took it."""
    mt = resolve(type)
    data = mt._payload.pack(fields)
    rc, n = _core.shim_publish(self._p(), subject, mt._ptr, data)
    check(rc, "publish %s" % _short(subject))
    return n


_ROUTE = {"round_robin": _core.ACTOR_ROUTE_ROUND_ROBIN,
          "least_queued": _core.ACTOR_ROUTE_LEAST_QUEUED,
          "hash": _core.ACTOR_ROUTE_HASH, "broadcast": _core.ACTOR_ROUTE_BROADCAST}


def pool(self, cls, members=4, route="round_robin", key=None):
    """Spawns a pool of `members` actors of `cls` (a registered class name or
    an Actor subclass: one fresh instance per member and per restart) behind
    one Address; `route`: "round_robin", "least_queued", "hash" (key =
    (offset, length) of the payload bytes) or "broadcast". Members that fail
    are restarted in place."""
    if route not in _ROUTE:
        raise ValueError("route is one of %s" % ", ".join(sorted(_ROUTE)))
    off, length = (0, 0) if key is None else key
    n = operator.index(members)
    if n < 0:
        raise ValueError("members must be >= 0 (0: one per worker)")
    c = _class_for_runtime_spawn(cls)
    rc, a = _core.shim_pool_spawn(self._p(), c, n, _ROUTE[route], off, length)
    check(rc, "pool")
    return _address(a, self)


Runtime.publish = publish
Runtime.pool = pool

_actors._class_setup.append(_mailbox_setup)
_actors._class_setup.append(_down_setup)
_actors._more_kinds[_core.SHIM_K_DOWN] = _down
_actors._more_kinds[_core.SHIM_K_ANY] = _any
