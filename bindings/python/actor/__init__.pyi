# Type information for the package `actor` (PEP 561: see py.typed). The
# package adds methods onto its classes at import time (actor._v11), so its
# types are given here, in stubs, one per module; scripts check against
# them with mypy (scripts/check-mypy runs `mypy --strict` over the stubs,
# the examples and the tests).
#
# Payload fields and reply values are Any: their types follow the message
# type's layout, a str known only at run time. RuntimeStats and ActorStats
# (what Runtime.stats() and Address.stats() return) exist for annotations
# only: at run time those values are plain dicts.
from ._actors import (Actor as Actor, Context as Context, Promise as Promise,
                      on_event as on_event, on_request as on_request,
                      on_response as on_response, register as register)
from ._errors import (ActorError as ActorError, Again as Again, Busy as Busy,
                      Canceled as Canceled, Closed as Closed, Deadlock as Deadlock,
                      Expired as Expired, Full as Full, HandlerError as HandlerError,
                      InvalidArgument as InvalidArgument, NoHandler as NoHandler,
                      NoMemory as NoMemory, NotFound as NotFound, Timeout as Timeout,
                      TypeMismatch as TypeMismatch)
from ._layout import MsgType as MsgType, define as define, find as find
from ._node import Node as Node
from ._runtime import (ActorStats as ActorStats, Address as Address, Responder as Responder,
                       Runtime as Runtime, RuntimeStats as RuntimeStats, load as load,
                       set_exit_timeout as set_exit_timeout)
from ._v11 import Supervisor as Supervisor, on_down as on_down

__all__ = [
    "load", "define", "find", "register", "version", "set_exit_timeout",
    "MsgType", "Runtime", "Address", "Responder",
    "Actor", "Context", "Promise", "on_event", "on_request", "on_response",
    "ActorError", "InvalidArgument", "NoMemory", "Closed", "Timeout", "Canceled",
    "NoHandler", "TypeMismatch", "HandlerError", "Deadlock", "Busy", "Again", "Full",
    "Expired", "NotFound", "Supervisor", "on_down", "Node",
]

__version__: str

def version() -> str:
    """The C library's version string, "MAJOR.MINOR.PATCH"."""
