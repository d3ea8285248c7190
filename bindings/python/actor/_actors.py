"""Actors written in Python.

Each Actor subclass gets a C class (made by the shim on first use) whose
callbacks run on the runtime's worker threads and call into Python with the
GIL, through _dispatch below. They do so only while the package is alive:
the atexit handler shuts every runtime down, then tells the shim to stop
entering Python, before the interpreter starts finalizing (gh-87135).

Every C class has the same C callbacks. The C class's user data leads them
to the Python class and its handler tables (cls._actor_events and
cls._actor_requests: dicts from the message type's C pointer, as an int, to
(function, MsgType)); the entry of the type being handled is what _dispatch
gets as `arg`.
"""

import logging
import threading

from . import _core as _swig
_core = _swig.__core  # the extension itself: no Python wrapper per call
from ._errors import Busy, Closed, HandlerError, InvalidArgument, check, error
from ._layout import MsgType, find
from ._runtime import Address, _Handle

__all__ = ["Actor", "Context", "Promise", "on_event", "on_request", "register"]

log = logging.getLogger("actor")

_K_NEW = _core.SHIM_K_NEW
_K_INIT = _core.SHIM_K_INIT
_K_FINALIZE = _core.SHIM_K_FINALIZE
_K_INTERRUPT = _core.SHIM_K_INTERRUPT
_K_EVENT = _core.SHIM_K_EVENT
_K_REQUEST = _core.SHIM_K_REQUEST
_K_FALLBACK = _core.SHIM_K_FALLBACK

_lock = threading.RLock()
_registry = {}              # name -> Python Actor subclass (actor.register)
_event_exc = {}             # id(actor) -> (type name, exception) for its fallback
_get_ident = threading.get_ident


# ---------------------------------------------------------------------------
# Decorators
# ---------------------------------------------------------------------------

def _type_name(t):
    if isinstance(t, MsgType):
        return t.name
    if isinstance(t, str):
        return t
    raise TypeError("a message type is a MsgType or its name, not %s" % type(t).__name__)


def on_event(type):
    """Marks a method `f(self, ctx, *fields)` as the handler of events of
    `type` (a MsgType or a name, defined by the time the class is first
    spawned). An exception it raises goes to the actor's fallback."""
    name = _type_name(type)

    def mark(fn):
        fn._actor_handler = ("event", name)
        return fn
    return mark


def on_request(type):
    """Marks a method `f(self, ctx, *fields)` as the handler of requests of
    `type`; its return value is the reply (one field: the value; several: a
    tuple; none: None; opaque: bytes), unless it answered with ctx.reply or
    ctx.defer. An exception completes the request with HandlerError (its
    handler_code is 1, or the one of a HandlerError raised)."""
    name = _type_name(type)

    def mark(fn):
        fn._actor_handler = ("request", name)
        return fn
    return mark


# ---------------------------------------------------------------------------
# Actor
# ---------------------------------------------------------------------------

class Actor:
    """Base of actors written in Python.

    Override initialize(ctx) and finalize(ctx) as needed, mark handlers with
    @actor.on_event("Type") / @actor.on_request("Type"), and optionally
    define interrupt(ctx) (default: ctx.stop()) and fallback(ctx, type,
    error). Spawn an instance with rt.spawn(instance); its callbacks run one
    at a time on a worker thread of the runtime.

    The class attribute `actor_name` names the C class (default: the Python
    class's name); actor.register(cls) makes it spawnable by that name from
    Python and from C.
    """

    actor_name = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # A handler is found by its method name, most derived class first: a
        # method overriding a decorated one (decorated or not) replaces it.
        marks = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                mark = getattr(fn, "_actor_handler", None)
                if isinstance(mark, tuple) and len(mark) == 2:
                    marks[attr] = mark
        handlers = {}
        for attr, mark in marks.items():
            fn = getattr(cls, attr, None)
            if callable(fn):
                handlers[mark] = fn
        cls._actor_handlers = handlers

    def initialize(self, ctx):
        """Runs first, before any message. An exception is logged and the
        actor then processes nothing (it is finalized at once)."""

    def finalize(self, ctx):
        """Runs last, once."""

    def fallback(self, ctx, type, error):
        """An event handler failed: `error` is the exception it raised (or
        the C code). Default: log it with its traceback."""
        if isinstance(error, BaseException):
            log.error("actor %s: the handler of event %r raised", _cls_name(self),
                      type.name if type is not None else None,
                      exc_info=(error.__class__, error, error.__traceback__))
        else:
            log.error("actor %s: the handler of event %r failed with code %r",
                      _cls_name(self), type.name if type is not None else None, error)


def _cls_name(obj):
    cls = obj.__class__
    return cls.__dict__.get("_actor_cname") or cls.__name__


def _cclass(cls, name=None):
    """The C class of Python Actor subclass `cls`, made on first use."""
    c = cls.__dict__.get("_actor_c")
    if c is not None:
        if name is not None and name != cls.__dict__["_actor_cname"]:
            raise InvalidArgument("class %s already has the C name %r"
                                  % (cls.__qualname__, cls.__dict__["_actor_cname"]))
        return c
    with _lock:
        c = cls.__dict__.get("_actor_c")
        if c is not None:
            return _cclass(cls, name)
        if name is None:
            name = cls.__dict__.get("actor_name") or cls.__name__
        if not isinstance(name, str) or "\0" in name:
            raise TypeError("an actor class name is a str")
        resolved = []
        for (kind, tname), fn in cls._actor_handlers.items():
            mt = find(tname)
            if mt is None:
                raise InvalidArgument("%s.%s handles %r, which is not defined (actor.define "
                                      "it, or load its plugin, before spawning)"
                                      % (cls.__qualname__, fn.__name__, tname))
            resolved.append((kind, mt, fn))
        with_interrupt = callable(getattr(cls, "interrupt", None))
        # Filled by the shim (keyed by the type's pointer), read by its
        # callbacks: not to be changed once the class is made.
        events, requests = {}, {}
        rc, c = _core.shim_pyclass_new(name, cls, events, requests, int(with_interrupt))
        if rc == _core.ACTOR_EINVAL:
            raise InvalidArgument("bad actor class name %r: 1 to 64 characters of "
                                  "[A-Za-z0-9_.:-] (set actor_name)" % name)
        check(rc, "actor class %r" % name)
        try:
            for kind, mt, fn in resolved:
                rc = _core.shim_pyclass_on(c, mt._ptr, int(kind == "request"), (fn, mt))
                if rc:
                    raise error(rc, "actor class %r: handler for %r" % (name, mt.name))
        except BaseException:
            _core.shim_pyclass_discard(c)
            raise
        cls._actor_events = events
        cls._actor_requests = requests
        cls._actor_cname = name
        cls._actor_c = c
        return c


def register(cls, name=None):
    """Registers Python Actor subclass `cls` process-wide under `name`
    (default: cls.actor_name or its class name), so that rt.spawn(name) --
    and C code, through actor_class_find -- can spawn it. Raises Busy if the
    name is taken. Returns cls (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Actor)) or cls is Actor:
        raise TypeError("register takes an actor.Actor subclass")
    with _lock:
        c = _cclass(cls, name)
        cname = cls.__dict__["_actor_cname"]
        rc = _core.actor_class_register(c)
        if rc == _core.ACTOR_EBUSY:
            raise Busy("an actor class named %r is already registered" % cname)
        check(rc, "register %r" % cname)
        _registry[cname] = cls
    return cls


def _spawn_instance(rt, rt_ptr, inst):
    cls = type(inst)
    if cls is Actor:
        raise TypeError("spawn an actor.Actor subclass, not actor.Actor itself")
    c = _cclass(cls)
    with _lock:
        if inst.__dict__.get("_actor_spawned"):
            raise InvalidArgument("this %s instance was already spawned: an actor's state "
                                  "belongs to one actor" % cls.__name__)
        inst.__dict__["_actor_spawned"] = True
    rc, a = _core.shim_spawn(rt_ptr, c, inst)
    if rc:
        inst.__dict__["_actor_spawned"] = False
        raise error(rc, "spawn %s" % cls.__name__)
    return Address(a, rt)


# ---------------------------------------------------------------------------
# Context and Promise
# ---------------------------------------------------------------------------

class Context(_Handle):
    """What an actor's callback may do to its actor. Valid only during that
    callback, on its thread: afterwards every method raises Closed."""

    __slots__ = ("_ptr", "_actor", "_type", "_answered", "_thread")

    def __init__(self, ptr, inst, request_type=None):
        self._ptr = ptr
        self._actor = inst
        self._type = request_type
        self._answered = False
        self._thread = _get_ident()

    def _p(self):
        p = self._ptr
        if p is None or self._thread != _get_ident():
            raise Closed("an actor context is valid only during its callback, on its thread")
        return p

    @property
    def actor(self):
        """The actor instance."""
        return self._actor

    @property
    def self(self):
        """A new counted Address of this actor."""
        p = self._p()
        return Address(_core.addr_ref(_core.actor_ctx_self(p)))

    def stop(self):
        """After this callback the actor takes no more messages: finalize
        runs, then it is Done. Queued events are dropped, queued requests
        are canceled."""
        _core.actor_ctx_stop(self._p())

    def reply(self, *fields):
        """Answers the current request now (the handler's return value is then
        ignored)."""
        p = self._p()
        if self._type is None or self._answered:
            raise InvalidArgument("reply: not in a request handler, or already answered")
        data = self._type._reply.pack(fields)
        rc = _core.actor_ctx_reply(p, data)
        check(rc, "reply to %r" % self._type.name)
        self._answered = True

    def defer(self):
        """Takes the current request out of the handler: returns a Promise to
        answer it later, from any thread."""
        p = self._p()
        if self._type is None or self._answered:
            raise InvalidArgument("defer: not in a request handler, or already answered")
        rc, pr = _core.actor_ctx_defer(p)
        check(rc, "defer %r" % self._type.name)
        self._answered = True
        return Promise(pr, self._type)

    def spawn(self, what):
        """Spawns an actor on this actor's runtime, on its worker thread."""
        p = self._p()
        rt_ptr = _core.actor_ctx_runtime(p)
        if isinstance(what, str):
            pycls = _registry.get(what)
            if pycls is not None:
                return _spawn_instance(None, rt_ptr, pycls())
            cls = _core.actor_class_find(what)
            if cls is None:
                raise InvalidArgument("no actor class registered as %r" % what)
            rc, a = _core.shim_spawn(rt_ptr, cls, None)
            if rc:
                raise error(rc, "spawn %r" % what)
            return Address(a)
        if isinstance(what, type) and issubclass(what, Actor):
            what = what()
        if isinstance(what, Actor):
            return _spawn_instance(None, rt_ptr, what)
        raise TypeError("spawn takes a class name, an actor.Actor instance or subclass")


class Promise(_Handle):
    """A deferred request (Context.defer): resolve(*fields) or reject(code)
    once, from any thread. Dropped unanswered, the request is canceled."""

    __slots__ = ("_ptr", "_type", "__weakref__")

    def __init__(self, ptr, mt):
        self._ptr = ptr
        self._type = mt

    @property
    def type(self):
        return self._type

    def _p(self):
        p = self._ptr
        if p is None:
            raise InvalidArgument("this promise was already answered")
        return p

    def resolve(self, *fields):
        """Answers the request with a reply made of `fields`."""
        p = self._p()
        data = self._type._reply.pack(fields)
        rc = _core.actor_promise_resolve(p, data)
        if rc in (_core.ACTOR_OK, _core.ACTOR_ECLOSED):
            self._ptr = None
        if rc == _core.ACTOR_ECLOSED:
            raise Closed("the runtime was freed: the request was canceled")
        check(rc, "resolve %r" % self._type.name)

    def reject(self, handler_code=1):
        """Fails the request: it completes with HandlerError(handler_code)."""
        p = self._p()
        if not isinstance(handler_code, int) or handler_code == 0 or \
                not -(1 << 31) <= handler_code < (1 << 31):
            raise ValueError("handler_code is a nonzero 32-bit int")
        rc = _core.actor_promise_reject(p, handler_code)
        if rc in (_core.ACTOR_OK, _core.ACTOR_ECLOSED):
            self._ptr = None
        if rc == _core.ACTOR_ECLOSED:
            raise Closed("the runtime was freed: the request was canceled")
        check(rc, "reject %r" % self._type.name)

    @property
    def answered(self):
        return self._ptr is None

    def __del__(self, _free=_core.actor_promise_free):
        p = self._ptr
        if p is not None:
            self._ptr = None
            _free(p)


# ---------------------------------------------------------------------------
# The dispatcher: every C callback of a Python actor lands here (GIL held,
# on a worker thread). It never lets an exception escape.
# ---------------------------------------------------------------------------

def _handler_code(exc):
    hc = getattr(exc, "handler_code", 1)
    if not isinstance(hc, int) or hc == 0 or not -(1 << 31) <= hc < (1 << 31):
        hc = 1
    return hc


def _event(inst, entry, ptr, payload):
    fn, mt = entry
    ctx = Context(ptr, inst)
    try:
        fn(inst, ctx, *mt._payload.unpack_args(payload))
        return 0
    except BaseException as e:
        _event_exc[id(inst)] = (mt.name, e)
        return _core.ACTOR_EHANDLER
    finally:
        ctx._ptr = None


def _request(inst, entry, ptr, payload):
    fn, mt = entry
    ctx = Context(ptr, inst, mt)
    try:
        ret = fn(inst, ctx, *mt._payload.unpack_args(payload))
        if ctx._answered:
            return 0
        rc = _core.actor_ctx_reply(ptr, mt._reply.pack_value(ret))
        check(rc, "reply to %r" % mt.name)
        return 0
    except HandlerError as e:
        return _handler_code(e)
    except BaseException:
        log.warning("actor %s: the handler of request %r raised (the requester gets "
                    "HandlerError)", _cls_name(inst), mt.name, exc_info=True)
        return 1
    finally:
        ctx._ptr = None


def _fallback(inst, code, ptr, tname):
    ctx = Context(ptr, inst)
    try:
        exc = _event_exc.pop(id(inst), None)
        err = code
        if exc is not None and exc[0] == tname:
            err = exc[1]
        mt = find(tname) if tname is not None else None
        inst.fallback(ctx, mt, err)
    except BaseException:
        log.error("actor %s: fallback raised", _cls_name(inst), exc_info=True)
    finally:
        ctx._ptr = None
    return 0


def _lifecycle(kind, inst, ptr):
    ctx = Context(ptr, inst)
    try:
        if kind == _K_INIT:
            inst.initialize(ctx)
        elif kind == _K_FINALIZE:
            inst.finalize(ctx)
        else:
            inst.interrupt(ctx)
        return 0
    except BaseException:
        what = {_K_INIT: "initialize", _K_FINALIZE: "finalize"}.get(kind, "interrupt")
        log.error("actor %s: %s raised%s", _cls_name(inst), what,
                  " (the actor stops)" if kind != _K_FINALIZE else "", exc_info=True)
        if kind == _K_INTERRUPT:
            _core.actor_ctx_stop(ptr)
        return 1
    finally:
        ctx._ptr = None


def _new(cls):
    try:
        inst = cls()
        inst.__dict__["_actor_spawned"] = True
        return inst
    except BaseException:
        log.error("actor class %s: making an instance raised", cls.__name__, exc_info=True)
        return None


def _dispatch(kind, inst, arg, ptr, extra):
    try:
        if kind == _K_EVENT:
            return _event(inst, arg, ptr, extra)
        if kind == _K_REQUEST:
            return _request(inst, arg, ptr, extra)
        if kind == _K_FALLBACK:
            return _fallback(inst, arg, ptr, extra)
        if kind == _K_NEW:
            return _new(arg)
        return _lifecycle(kind, inst, ptr)
    except BaseException:
        try:
            log.error("actor: internal error in a Python actor callback", exc_info=True)
        except BaseException:
            pass
        return None if kind == _K_NEW else 1


_core.shim_set_dispatch(_dispatch)
