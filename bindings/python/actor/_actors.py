"""Actors written in Python.

Each Actor subclass gets a C class (made by the shim on first use) whose
callbacks run on the runtime's worker threads and call into Python with the
GIL, through _dispatch below. They do so only while the package is alive:
the atexit handler shuts every runtime down, then tells the shim to stop
entering Python, before the interpreter starts finalizing (gh-87135).

Every C class has the same C callbacks. Each actor's state holds its
instance and its class's record, cls._actor_rec = (cls, events, requests,
responses, owner, name): the three tables are dicts from the message type's
C pointer, as an int, to (function, MsgType); the entry of the type being
handled is what _dispatch gets as `arg`. The owner gives the C class back
when the record dies, i.e. when the Python class and all its actors are gone
(a class defined in a function and spawned per call is not kept forever);
a registered class is kept for the process.
"""

import logging
import threading
import weakref

from . import _core as _swig
_core = _swig.__core  # the extension itself: no Python wrapper per call
from ._errors import Busy, Closed, HandlerError, InvalidArgument, check, error
from ._layout import MsgType, find
from ._runtime import (Address, _Handle, _address, _new, _no_public_constructor, _short,
                       _track_c)
from . import _runtime

__all__ = ["Actor", "Context", "Promise", "on_event", "on_request", "on_response", "register"]

log = logging.getLogger("actor")

_K_NEW = _core.SHIM_K_NEW
_K_INIT = _core.SHIM_K_INIT
_K_FINALIZE = _core.SHIM_K_FINALIZE
_K_INTERRUPT = _core.SHIM_K_INTERRUPT
_K_EVENT = _core.SHIM_K_EVENT
_K_REQUEST = _core.SHIM_K_REQUEST
_K_FALLBACK = _core.SHIM_K_FALLBACK
_K_RESPONSE = _core.SHIM_K_RESPONSE
_KINDS = {"event": 0, "request": 1, "response": 2}

_lock = threading.RLock()
_registry = {}              # name -> Python Actor subclass (actor.register)
_event_exc = {}             # id(actor) -> (type name, exception) for its fallback
_alive = {}                 # (runtime key, class name) -> Python actors not finalized yet
_get_ident = threading.get_ident
_class_setup = []           # fn(cls, c, name) run on each new C class (_v11: mailbox, on_down...)
_more_kinds = {}            # dispatcher kind -> fn(inst, arg, ptr, extra) (_v11: DOWN, ANY)


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


def on_response(type):
    """Marks a method `f(self, ctx, status, value)` as the handler of the
    outcomes of requests of `type` forwarded to this actor
    (responder.forward(ctx) or responder.forward(address, tag=n)): `status`
    is 0 when the request succeeded, and `value` is then the reply (as
    result() returns it); otherwise `status` is the C code (negative) and
    `value` the exception result() would raise (Canceled, HandlerError...;
    a HandlerError's handler_code is None: libactor does not pass it with a
    forwarded outcome). ctx.tag is the forward's tag. An exception it raises
    is logged."""
    name = _type_name(type)

    def mark(fn):
        fn._actor_handler = ("response", name)
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
    @actor.on_event("Type") / @actor.on_request("Type") /
    @actor.on_response("Type") (forwarded outcomes), and optionally
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


class _CClass:
    """Owns the creator's reference of a Python class's C class (in the
    class record): gives it back when the record dies, i.e. when the Python
    class and every actor of it are gone."""

    __slots__ = ("c",)

    def __init__(self, c):
        self.c = c

    def __del__(self, _free=_core.shim_pyclass_free):
        c = self.c
        if c is not None:
            self.c = None
            _free(c)


def _record(cls):
    """cls's own class record, or None (not made yet, or tampered with)."""
    rec = cls.__dict__.get("_actor_rec")
    if type(rec) is tuple and len(rec) == 6 and rec[0] is cls and type(rec[4]) is _CClass \
            and rec[4].c is not None:
        return rec
    return None


def _cclass(cls, name=None):
    """The class record of Python Actor subclass `cls`, with its C class,
    made on first use: (cls, events, requests, responses, owner, name)."""
    rec = _record(cls)
    if rec is not None:
        if name is not None and name != rec[5]:
            raise InvalidArgument("class %s already has the C name %r"
                                  % (cls.__qualname__, rec[5]))
        return rec
    with _lock:
        rec = _record(cls)
        if rec is not None:
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
        rc, c = _core.shim_pyclass_new(name, int(with_interrupt))
        if rc == _core.ACTOR_EINVAL:
            raise InvalidArgument("bad actor class name %s: 1 to 64 characters of "
                                  "[A-Za-z0-9_.:-] (set actor_name)" % _short(name))
        check(rc, "actor class %r" % name)
        owner = _CClass(c)  # from here on, c is given back with the owner
        # Read by the shim's callbacks: not to be changed once the class is made.
        tables = ({}, {}, {})
        for kind, mt, fn in resolved:
            k = _KINDS[kind]
            rc = _core.shim_pyclass_on(c, mt._ptr, k)
            if rc:
                raise error(rc, "actor class %r: %s handler for %r" % (name, kind, mt.name))
            tables[k][int(mt._ptr)] = (fn, mt)
        for setup in _class_setup:
            setup(cls, c, name)
        rec = (cls, tables[0], tables[1], tables[2], owner, name)
        cls._actor_rec = rec
        cls._actor_cname = name
        return rec


def register(cls, name=None):
    """Registers Python Actor subclass `cls` process-wide under `name`
    (default: cls.actor_name or its class name), so that rt.spawn(name) --
    and C code, through actor_class_find -- can spawn it. Raises Busy if the
    name is taken. Returns cls (usable as a class decorator). A registered
    class is kept for the process."""
    if not (isinstance(cls, type) and issubclass(cls, Actor)) or cls is Actor:
        raise TypeError("register takes an actor.Actor subclass")
    with _lock:
        rec = _cclass(cls, name)
        cname = rec[5]
        rc = _core.shim_pyclass_register(rec[4].c, rec)
        if rc == _core.ACTOR_EBUSY:
            raise Busy("an actor class named %r is already registered" % cname)
        check(rc, "register %r" % cname)
        _registry[cname] = cls
    return cls


def _alive_add(key, name):
    """One more Python actor of class `name` on runtime `key` (with _lock)."""
    k = (key, name)
    _alive[k] = _alive.get(k, 0) + 1
    return k


def _alive_done(inst):
    k = inst.__dict__.pop("_actor_alive", None)
    if k is not None:
        with _lock:
            n = _alive.get(k, 0) - 1
            if n > 0:
                _alive[k] = n
            else:
                _alive.pop(k, None)


def _alive_by_class(key):
    """{class name: count} of the Python actors of runtime `key` not finalized."""
    with _lock:
        return {name: n for (k, name), n in _alive.items() if k == key and n > 0}


def _alive_forget(key):
    with _lock:
        for k in [k for k in _alive if k[0] == key]:
            del _alive[k]


def _spawn_instance(rt, rt_ptr, inst):
    cls = type(inst)
    if cls is Actor:
        raise TypeError("spawn an actor.Actor subclass, not actor.Actor itself")
    rec = _cclass(cls)
    with _lock:
        if inst.__dict__.get("_actor_spawned"):
            raise InvalidArgument("this %s instance was already spawned: an actor's state "
                                  "belongs to one actor" % cls.__name__)
        inst.__dict__["_actor_spawned"] = True
        inst.__dict__["_actor_alive"] = _alive_add(int(rt_ptr), rec[5])
    rc, a = _core.shim_spawn(rt_ptr, rec[4].c, inst, rec)
    if rc:
        inst.__dict__["_actor_spawned"] = False
        _alive_done(inst)
        raise error(rc, "spawn %s" % cls.__name__)
    return _address(a, rt)


def _after_fork_in_child():
    """os.fork() child (from _runtime): locks a parent's thread may have held."""
    global _lock
    _lock = threading.RLock()
    _alive.clear()
    _fork_gen[0] += 1


# ---------------------------------------------------------------------------
# Context and Promise
# ---------------------------------------------------------------------------

class Context(_Handle):
    """What an actor's callback may do to its actor. Valid only during that
    callback, on its thread: afterwards every method raises Closed. The
    runtime passes one to each callback; scripts cannot make one."""

    __slots__ = ("_ptr", "_actor", "_type", "_answered", "_thread")

    __new__ = _no_public_constructor("Context", "the runtime passes one to each callback")

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
        return _address(_core.addr_ref(_core.actor_ctx_self(p)))

    @property
    def tag(self):
        """In an @actor.on_response handler: the tag the responder was
        forwarded with (responder.forward(..., tag=n)); 0 anywhere else."""
        return _core.actor_ctx_tag(self._p())

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
        return _promise(pr, self._type)

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
                raise InvalidArgument("no actor class registered as %s" % _short(what))
            rc, a = _core.shim_spawn(rt_ptr, cls, None, None)
            if rc:
                raise error(rc, "spawn %r" % what)
            a = _address(a)
            _track_c(int(rt_ptr), a, what)
            return a
        if isinstance(what, type) and issubclass(what, Actor):
            what = what()
        if isinstance(what, Actor):
            return _spawn_instance(None, rt_ptr, what)
        raise TypeError("spawn takes a class name, an actor.Actor instance or subclass")


def _context(ptr, inst, request_type=None):
    ctx = _new(Context)
    ctx._ptr = ptr
    ctx._actor = inst
    ctx._type = request_type
    ctx._answered = False
    ctx._thread = _get_ident()
    return ctx


_fork_gen = [0]  # os.fork() children so far (a promise of another count is the parent's)


class Promise(_Handle):
    """A deferred request (Context.defer): resolve(*fields) or reject(code)
    once, from any thread. Dropped unanswered, the request is canceled.

    Answers are serialized: when several threads answer at once, exactly one
    wins; the others get InvalidArgument ("already answered"). Once the
    runtime was freed (or in a process forked from the one that deferred),
    resolve and reject raise Closed. Promises are made by Context.defer."""

    __slots__ = ("_ptr", "_type", "_lock", "_busy", "_closed", "_gen", "__weakref__")

    __new__ = _no_public_constructor("Promise", "Context.defer makes them")

    @property
    def type(self):
        return self._type

    def _answer(self, what, call, arg):
        if self._gen != _fork_gen[0]:
            raise Closed("%s: this promise belongs to the parent process (fork())" % what)
        with self._lock:
            if self._busy:
                raise InvalidArgument("%s: this promise is being answered on this thread "
                                      "already (from a callback of its own answer)" % what)
            p = self._ptr
            if p is None:
                if self._closed:
                    raise Closed("%s: the runtime was freed: the request was canceled" % what)
                raise InvalidArgument("%s: this promise was already answered" % what)
            self._busy = True
            try:
                rc = call(p, arg)
                if rc == _core.ACTOR_OK:
                    self._ptr = None
                elif rc == _core.ACTOR_ECLOSED:
                    # The request was canceled with its runtime; the promise
                    # is still ours (1.1): give it back now.
                    self._ptr = None
                    self._closed = True
                    _core.actor_promise_free(p)
            finally:
                self._busy = False
        if rc == _core.ACTOR_ECLOSED:
            raise Closed("%s: the runtime was freed: the request was canceled" % what)
        check(rc, "%s %r" % (what, self._type.name))

    def resolve(self, *fields):
        """Answers the request with a reply made of `fields`."""
        data = self._type._reply.pack(fields)
        self._answer("resolve", _core.actor_promise_resolve, data)

    def reject(self, handler_code=1):
        """Fails the request: it completes with HandlerError(handler_code)."""
        if not isinstance(handler_code, int) or handler_code == 0 or \
                not -(1 << 31) <= handler_code < (1 << 31):
            raise ValueError("handler_code is a nonzero 32-bit int")
        self._answer("reject", _core.actor_promise_reject, handler_code)

    @property
    def answered(self):
        return self._ptr is None

    def __del__(self, _free=_core.actor_promise_free):
        p = getattr(self, "_ptr", None)
        if p is not None:
            self._ptr = None
            if self._gen == _fork_gen[0]:
                _free(p)


def _promise(ptr, mt):
    pr = _new(Promise)
    pr._ptr = ptr
    pr._type = mt
    pr._lock = threading.RLock()
    pr._busy = False
    pr._closed = False
    pr._gen = _fork_gen[0]
    return pr


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
    ctx = _context(ptr, inst)
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
    ctx = _context(ptr, inst, mt)
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


def _response(inst, entry, ptr, extra):
    fn, mt = entry
    status, data = extra
    ctx = _context(ptr, inst)
    try:
        if status == 0:
            value = mt._reply.unpack_value(data)
        elif status == _core.ACTOR_EHANDLER:
            value = HandlerError("request %r: %s (forwarded; the handler's code is not known)"
                                 % (mt.name, _core.actor_strerror(status)), handler_code=None)
        else:
            value = error(status, "request %r" % mt.name)
        fn(inst, ctx, status, value)
    except BaseException:
        log.error("actor %s: the on_response handler of %r raised", _cls_name(inst), mt.name,
                  exc_info=True)
    finally:
        ctx._ptr = None
    return 0


def _fallback(inst, code, ptr, tname):
    ctx = _context(ptr, inst)
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
    ctx = _context(ptr, inst)
    try:
        if kind == _K_INIT:
            inst.initialize(ctx)
        elif kind == _K_FINALIZE:
            _alive_done(inst)
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


def _make(cls, ptr):
    try:
        inst = cls()
        inst.__dict__["_actor_spawned"] = True
        name = cls.__dict__.get("_actor_cname") or cls.__name__
        with _lock:
            inst.__dict__["_actor_alive"] = _alive_add(int(_core.actor_ctx_runtime(ptr)), name)
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
        if kind == _K_RESPONSE:
            return _response(inst, arg, ptr, extra)
        if kind == _K_NEW:
            return _make(arg, ptr)
        more = _more_kinds.get(kind)
        if more is not None:
            return more(inst, arg, ptr, extra)
        return _lifecycle(kind, inst, ptr)
    except BaseException:
        try:
            log.error("actor: internal error in a Python actor callback", exc_info=True)
        except BaseException:
            pass
        return None if kind == _K_NEW else 1


_core.shim_set_dispatch(_dispatch)
