# Type information for actor._actors: actors written in Python, their
# Context and Promise, the handler decorators; with the 1.1 methods that
# actor._v11 adds onto Context at import time (timers, failure, monitors).
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from ._layout import MsgType
from ._runtime import Address, _Spawnable, _Type

__all__ = ["Actor", "Context", "Promise", "on_event", "on_request", "on_response", "register"]

_F = TypeVar("_F", bound=Callable[..., Any])
_A = TypeVar("_A", bound=type[Actor])

def on_event(type: _Type) -> Callable[[_F], _F]:
    """Marks a method f(self, ctx, *fields) as the handler of events of `type`."""
def on_request(type: _Type) -> Callable[[_F], _F]:
    """Marks a method f(self, ctx, *fields) as the handler of requests of
    `type`; its return value is the reply."""
def on_response(type: _Type) -> Callable[[_F], _F]:
    """Marks a method f(self, ctx, status, value) as the handler of the
    outcomes of requests of `type` forwarded to this actor."""
def register(cls: _A, name: str | None = None) -> _A:
    """Registers an Actor subclass by name (spawnable from Python and C);
    returns it (usable as a class decorator)."""

class Actor:
    """Base of actors written in Python. Optional hooks a subclass may
    define, not declared here because their absence matters:
    interrupt(self, ctx) (default: stop) and on_any_event(self, ctx, type,
    payload) (type: a MsgType, or the name of a type Python does not know;
    payload: bytes)."""

    # The C class's name (default: the Python class's name).
    actor_name: ClassVar[str | None]
    # Bounded mailboxes (1.1): a capacity (0: unbounded; "reject"), or
    # (capacity, "reject" | "drop"). Not set on Actor itself.
    mailbox: ClassVar[int | tuple[int, str] | None]
    def initialize(self, ctx: Context) -> None: ...
    def finalize(self, ctx: Context) -> None: ...
    def fallback(self, ctx: Context, type: MsgType | None, error: BaseException | int) -> None:
        """An event handler failed: `error` is the exception it raised (or
        the C code). Default: log it."""

class Context:
    """What an actor's callback may do to its actor; valid only during that
    callback, on its thread (afterwards every method raises Closed)."""

    @property
    def actor(self) -> Actor:
        """The actor instance."""
    @property
    def self(self) -> Address:
        """A new counted Address of this actor."""
    @property
    def tag(self) -> int:
        """In an @actor.on_response handler: the forward's tag; else 0."""
    def stop(self) -> None: ...
    def reply(self, *fields: Any) -> None: ...
    def defer(self) -> Promise: ...
    def spawn(self, what: _Spawnable) -> Address: ...
    # Time (1.1)
    def start_timer(self, key: int, type: _Type, *fields: Any, after: float = 0.0,
                    every: float | None = None) -> None: ...
    def cancel_timer(self, key: int) -> bool: ...
    def timer_active(self, key: int) -> bool: ...
    # Failure (1.1)
    def fail(self, code: int) -> None: ...
    def monitor(self, addr: Address) -> None: ...
    def demonitor(self, addr: Address) -> None: ...

class Promise:
    """A deferred request (Context.defer): resolve(*fields) or
    reject(handler_code) once, from any thread."""

    @property
    def type(self) -> MsgType: ...
    @property
    def answered(self) -> bool: ...
    def resolve(self, *fields: Any) -> None: ...
    def reject(self, handler_code: int = 1) -> None: ...

# Internal (the package and its tests).
_core: Any
