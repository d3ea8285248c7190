# Type information for actor._layout: message types and their layouts.
#
# A payload's fields and a reply's value are typed Any: what they are (ints,
# floats, bools, bytes, a tuple of them, None) depends on the layout, a str
# known only at run time.
from typing import Any

__all__ = ["MsgType", "define", "find"]

class MsgType:
    """A message type of the process-wide registry: actor.define and
    actor.find return them (scripts cannot make one)."""

    @property
    def name(self) -> str: ...
    @property
    def layout(self) -> str | None:
        """None (opaque bytes), "" (no fields) or a struct format ("qq")."""
    @property
    def reply_layout(self) -> str | None: ...
    @property
    def size(self) -> int:
        """The payload size in bytes (0 when opaque)."""
    @property
    def reply_size(self) -> int:
        """The reply size in bytes (0 when opaque)."""
    def pack(self, *fields: Any) -> bytes:
        """The payload bytes for `fields`."""
    def unpack_reply(self, data: bytes | bytearray | memoryview) -> Any:
        """A reply's bytes as a value (one field), a tuple, None or bytes."""
    _ptr: Any  # the C pointer (internal)

def define(name: str, layout: str | None = None, reply_layout: str | None = None) -> MsgType:
    """Defines (or finds) the process-wide message type `name` and returns it."""
def find(name: str) -> MsgType | None:
    """The message type named `name`, or None."""

# Internal.
def resolve(t: MsgType | str) -> MsgType: ...
def from_ptr(ptr: Any) -> MsgType: ...
