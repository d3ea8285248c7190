# Type information for actor._runtime: runtimes, addresses, responders,
# plugins; with the 1.1 methods that actor._v11 adds onto Runtime and
# Address at import time (time, flow, failure, composition).
import asyncio
import contextvars
import os
from collections.abc import Callable, Generator
from typing import Any, Literal, TypedDict, type_check_only

from typing_extensions import Self

from ._actors import Actor, Context
from ._layout import MsgType
from ._v11 import Supervisor

__all__ = ["Runtime", "Address", "Responder", "load", "set_exit_timeout"]

# Where a message type is expected, a MsgType or its name will do.
_Type = MsgType | str
# What Runtime.spawn and Context.spawn take: a registered class name, an
# Actor subclass (made with no arguments) or an instance.
_Spawnable = str | Actor | type[Actor]
# What runs by the runtime with state NULL (supervisors, pools) takes: a
# registered class name or an Actor subclass (a fresh instance each time).
_ActorClass = str | type[Actor]
_Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
_Restart = Literal["permanent", "transient", "temporary"]
_Route = Literal["round_robin", "least_queued", "hash", "broadcast"]

@type_check_only
class RuntimeStats(TypedDict):
    """Runtime.stats() (actor_runtime_stats). For annotations only: no such
    class exists at run time (the value is a plain dict)."""

    actors_live: int
    actors_spawned: int
    messages_handled: int
    wakeups: int
    migrations: int
    threads: int

@type_check_only
class ActorStats(TypedDict):
    """Address.stats() (actor_stats). For annotations only: no such class
    exists at run time (the value is a plain dict)."""

    received: int
    handled: int
    dropped: int
    rejected: int
    expired: int
    queued: int
    queued_peak: int
    restarts: int
    canceled: int

def load(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> None:
    """Loads a plugin (its message types and classes become usable by name)."""

def set_exit_timeout(seconds: float | None) -> float | None:
    """How long the atexit shutdown waits for actors (None: no limit);
    returns the previous value."""

class Responder:
    """The pending reply of a request (Address.ask); an asyncio future.
    Responders are made by Address.ask only."""

    @property
    def type(self) -> MsgType: ...
    @property
    def status(self) -> int:
        """ACTOR_OK, ACTOR_ECANCELED, ACTOR_EHANDLER, ACTOR_EEXPIRED, or
        ACTOR_EAGAIN while pending."""
    def result(self, timeout: float | None = None) -> Any:
        """Waits and returns the reply: its one field, a tuple of fields,
        None for no fields, bytes when opaque."""
    def exception(self) -> BaseException | None: ...
    def done(self) -> bool:
        """A method, as on every asyncio future (Address.done is a property)."""
    def cancelled(self) -> bool: ...
    def cancel(self, msg: Any | None = None) -> bool:
        """Cancels the asyncio wait, never the request."""
    def again(self) -> Responder: ...
    def then(self, fn: Callable[[Responder], object]) -> None:
        """fn(responder) runs on the thread that completes the request."""
    def forward(self, to: Context | Address, tag: int = 0) -> None:
        """The outcome goes to the actor's @actor.on_response handler."""
    def add_done_callback(self, fn: Callable[[Responder], object], *,
                          context: contextvars.Context | None = None) -> None: ...
    def remove_done_callback(self, fn: Callable[[Responder], object]) -> int: ...
    def get_loop(self) -> asyncio.AbstractEventLoop | None: ...
    def __await__(self) -> Generator[Any, None, Any]: ...
    def __iter__(self) -> Generator[Any, None, Any]: ...
    _asyncio_future_blocking: bool  # the asyncio future protocol
    _ptr: Any  # the C responder (internal)

class Address:
    """A counted reference to an actor. Made by Runtime.spawn, Context.spawn,
    Context.self, copy.copy (and Node.lookup)."""

    def send(self, type: _Type, *fields: Any, timeout: float | None = None) -> None: ...
    def ask(self, type: _Type, *fields: Any, timeout: float | None = None) -> Responder: ...
    async def send_async(self, type: _Type, *fields: Any) -> None: ...
    def interrupt(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...
    def release(self) -> None: ...
    @property
    def done(self) -> bool:
        """A property (Responder.done() is a method)."""
    @property
    def dropped(self) -> int: ...
    @property
    def exit_reason(self) -> int | None:
        """0 (stopped normally) or the failure code; None until Done."""
    @property
    def restarts(self) -> int: ...
    def stats(self) -> ActorStats: ...
    def subscribe(self, subject: str) -> None: ...
    def unsubscribe(self, subject: str) -> bool: ...
    def __copy__(self) -> Address: ...  # an Address, even of a Supervisor
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    _ptr: Any  # the C address; None once released (internal)

class Runtime:
    """A libactor runtime: `threads` worker threads (0: one per CPU), or a
    manual one (no threads, a virtual clock)."""

    manual: bool
    threads: int
    def __init__(self, threads: int = 0, manual: bool = False, seed: int = 0) -> None: ...
    def spawn(self, what: _Spawnable) -> Address: ...
    def shutdown(self, timeout: float | None = None) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    # Time (manual runtimes: step, run, advance)
    def step(self) -> bool: ...
    def run(self, max_messages: int | None = None) -> int: ...
    def advance(self, seconds: float) -> None: ...
    def now(self) -> float: ...
    # Flow
    def stats(self) -> RuntimeStats: ...
    def on_dead_letter(self, fn: Callable[[Address, str, bytes, int], object]) -> None:
        """fn(address, type_name, payload, reason) per event that will not be
        handled (reason: actor.Closed.code or actor.Full.code)."""
    # Failure
    def supervisor(self, strategy: _Strategy = "one_for_one", intensity: int = 3,
                   period: float = 5.0, backoff: float = 0,
                   backoff_max: float = 0) -> Supervisor: ...
    def register(self, name: str, addr: Address) -> None: ...
    def unregister(self, name: str) -> bool: ...
    def lookup(self, name: str) -> Address | None: ...
    # Composition
    def publish(self, subject: str, type: _Type, *fields: Any) -> int: ...
    def pool(self, cls: _ActorClass, members: int = 4, route: _Route = "round_robin",
             key: tuple[int, int] | None = None) -> Address: ...
    _ptr: Any  # the C runtime; None once closed (internal)

# Internal (the package and its tests).
_queues: Any
_exiting: bool
def _address(ptr: Any, rt: Runtime | None = None) -> Address: ...
