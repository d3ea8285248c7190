# Type information for actor._errors: ActorError and one subclass per C code.

__all__ = [
    "ActorError", "InvalidArgument", "NoMemory", "Closed", "Timeout", "Canceled",
    "NoHandler", "TypeMismatch", "HandlerError", "Deadlock", "Busy", "Again", "Full",
    "Expired", "NotFound",
]

class ActorError(Exception):
    """Base of every libactor error; ``code`` is the C code (a negative int;
    None only on an ActorError made by hand without one)."""

    code: int | None
    def __init__(self, *args: object, code: int | None = None) -> None: ...

class InvalidArgument(ActorError, ValueError):
    code: int

class NoMemory(ActorError, MemoryError):
    code: int

class Closed(ActorError):
    code: int

class Timeout(ActorError, TimeoutError):
    code: int

class Canceled(ActorError):
    code: int

class NoHandler(ActorError):
    code: int

class TypeMismatch(ActorError, TypeError):
    code: int

class HandlerError(ActorError):
    """``handler_code``: the code the handler returned; None for an outcome
    forwarded to an @actor.on_response handler (C does not pass it)."""

    code: int
    handler_code: int | None
    def __init__(self, *args: object, handler_code: int | None = 1) -> None: ...

class Deadlock(ActorError):
    code: int

class Busy(ActorError):
    code: int

class Again(ActorError):
    code: int

class Full(ActorError):
    code: int

class Expired(Timeout):
    code: int

class NotFound(ActorError, LookupError):
    code: int

# Internal (the package and its tests).
_BY_CODE: dict[int, type[ActorError]]
def error(code: int, what: str | None = None, handler_code: int | None = None) -> ActorError: ...
def check(code: int, what: str | None = None) -> None: ...
