# Type information for actor._v11: its public names. The methods it adds
# onto Runtime, Address and Context at import time are declared on those
# classes (_runtime.pyi, _actors.pyi).
from collections.abc import Callable
from typing import Any, TypeVar

from ._runtime import Address, _ActorClass, _Restart, _Strategy

__all__ = ["on_down", "Supervisor"]

_F = TypeVar("_F", bound=Callable[..., Any])

def on_down(fn: _F) -> _F:
    """Marks a method f(self, ctx, who, reason) as the actor's Down handler
    (who: an Address; reason: an int, 0 when it stopped normally)."""

class Supervisor(Address):
    """The Address of a supervisor (Runtime.supervisor)."""

    def start_child(self, cls: _ActorClass, restart: _Restart = "permanent") -> Address: ...
    def start_supervisor(self, restart: _Restart = "permanent",
                         strategy: _Strategy = "one_for_one", intensity: int = 3,
                         period: float = 5.0, backoff: float = 0,
                         backoff_max: float = 0) -> Supervisor: ...
    def stop_child(self, child: Address) -> None: ...

# Internal (the package and its tests).
_core: Any
