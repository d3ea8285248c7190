"""Exceptions: one class per libactor error code, all under ActorError."""

from . import _core as _swig
_core = _swig.__core  # the extension itself: no Python wrapper per call

__all__ = [
    "ActorError", "InvalidArgument", "NoMemory", "Closed", "Timeout", "Canceled",
    "NoHandler", "TypeMismatch", "HandlerError", "Deadlock", "Busy", "Again", "Full",
    "Expired", "NotFound",
]


class ActorError(Exception):
    """Base of every libactor error; ``code`` is the C code (a negative int)."""

    code = None

    def __init__(self, *args, code=None):
        super().__init__(*args)
        if code is not None:
            self.code = code
        if not args and self.code is not None:
            self.args = (_core.actor_strerror(self.code),)


class InvalidArgument(ActorError, ValueError):
    """ACTOR_EINVAL: a bad argument, or a handle that is not (or no longer) valid."""
    code = _core.ACTOR_EINVAL


class NoMemory(ActorError, MemoryError):
    """ACTOR_ENOMEM: an allocation failed; nothing was done."""
    code = _core.ACTOR_ENOMEM


class Closed(ActorError):
    """ACTOR_ECLOSED: the actor (or runtime) is stopping or done."""
    code = _core.ACTOR_ECLOSED


class Timeout(ActorError, TimeoutError):
    """ACTOR_ETIMEDOUT: a wait ran out of time; the thing is still pending."""
    code = _core.ACTOR_ETIMEDOUT


class Canceled(ActorError):
    """ACTOR_ECANCELED: the actor stopped, or dropped the request, unanswered."""
    code = _core.ACTOR_ECANCELED


class NoHandler(ActorError):
    """ACTOR_ENOHANDLER: the actor's class has no handler for that type."""
    code = _core.ACTOR_ENOHANDLER


class TypeMismatch(ActorError, TypeError):
    """ACTOR_ETYPE: the payload does not fit the type's layout (a wrong number
    of fields), or a type redefined with other layouts."""
    code = _core.ACTOR_ETYPE


class HandlerError(ActorError):
    """ACTOR_EHANDLER: the request handler failed; ``handler_code`` is the code
    it returned (a Python request handler that raises gives 1, unless it raised
    ``HandlerError(handler_code=n)`` itself)."""

    code = _core.ACTOR_EHANDLER

    def __init__(self, *args, handler_code=1):
        if not args:
            args = ("the request handler failed with code %d" % handler_code,)
        super().__init__(*args)
        self.handler_code = handler_code


class Deadlock(ActorError):
    """ACTOR_EDEADLK: a blocking call on a worker thread of a runtime (for
    instance ``.result()`` inside an actor's handler)."""
    code = _core.ACTOR_EDEADLK


class Busy(ActorError):
    """ACTOR_EBUSY: a class in use is changed, or a registered name is taken."""
    code = _core.ACTOR_EBUSY


class Again(ActorError):
    """ACTOR_EAGAIN: not complete yet."""
    code = _core.ACTOR_EAGAIN


class Full(ActorError):
    """ACTOR_EFULL: a bounded mailbox refused the message (1.1: a class's
    ``mailbox = (capacity, "reject")``)."""
    code = _core.ACTOR_EFULL


class Expired(Timeout):
    """ACTOR_EEXPIRED (1.1): a request's deadline (``ask(..., timeout=s)``)
    passed before it was answered; final, unlike Timeout (a wait ran out)."""
    code = _core.ACTOR_EEXPIRED


class NotFound(ActorError, LookupError):
    """ACTOR_ENOENT (1.1): no such name, key, child or subscription."""
    code = _core.ACTOR_ENOENT


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgument, NoMemory, Closed, Timeout, Canceled, NoHandler, TypeMismatch,
    HandlerError, Deadlock, Busy, Again, Full, Expired, NotFound)}


def error(code, what=None, handler_code=None):
    """The exception for C code `code` (an ActorError for an unknown code)."""
    cls = _BY_CODE.get(code, ActorError)
    msg = _core.actor_strerror(code)
    if what:
        msg = "%s: %s" % (what, msg)
    if cls is HandlerError:
        hc = 1 if handler_code is None else handler_code
        return HandlerError("%s (handler code %d)" % (msg, hc), handler_code=hc)
    if cls is ActorError:
        return ActorError(msg, code=code)
    return cls(msg)


def check(code, what=None):
    """Raises the exception for `code` unless it is ACTOR_OK."""
    if code != 0:
        raise error(code, what)
