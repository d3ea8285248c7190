"""libactor for Python: actors on a multi-threaded C runtime.

    import actor

    actor.load("libcalculator.so")                # a plugin: types and classes
    Sum = actor.define("Sum", "qq", "q")          # a message type (a MsgType)

    with actor.Runtime(threads=2) as rt:
        calc = rt.spawn("Calculator")
        calc.ask("Sum", 1, 2).result(timeout=1.0)  # 3
        await calc.ask("Sum", 1, 2)                # 3, in asyncio

Actors may be written in Python too (actor.Actor, @actor.on_event,
@actor.on_request, @actor.on_response); C and Python actors talk to each
other freely. Inside an actor, use another actor's answer without blocking:
calc.ask("Sum", 1, 2).forward(ctx) (to an @actor.on_response handler) or
.then(fn).

Errors are exceptions, subclasses of ActorError with the C code in `.code`.
Runtimes still alive at exit are shut down by an atexit handler, which waits
a bounded time for their actors (actor.set_exit_timeout, default 5 s).
"""

import atexit as _atexit

from . import _core
from ._errors import (ActorError, Again, Busy, Canceled, Closed, Deadlock, Full,
                      HandlerError, InvalidArgument, NoHandler, NoMemory, Timeout,
                      TypeMismatch, Expired, NotFound)
from ._layout import MsgType, define, find
from ._runtime import Address, Responder, Runtime, load, set_exit_timeout, _shutdown_all
from ._actors import Actor, Context, Promise, on_event, on_request, on_response, register
from ._v11 import Supervisor, on_down  # 1.1: time, flow, failure, composition
from ._node import Node  # libactor-node, loaded when first used

__all__ = [
    "load", "define", "find", "register", "version", "set_exit_timeout",
    "MsgType", "Runtime", "Address", "Responder",
    "Actor", "Context", "Promise", "on_event", "on_request", "on_response",
    "ActorError", "InvalidArgument", "NoMemory", "Closed", "Timeout", "Canceled",
    "NoHandler", "TypeMismatch", "HandlerError", "Deadlock", "Busy", "Again", "Full",
    "Expired", "NotFound", "Supervisor", "on_down", "Node",
]

__version__ = _core.actor_version_string()


def version():
    """The C library's version string, "MAJOR.MINOR.PATCH"."""
    return _core.actor_version_string()


_atexit.register(_shutdown_all)
