"""Message types and their layouts: packing Python values with `struct`.

A layout is None (opaque bytes), "" (no fields) or a format of the struct
module, always little-endian with standard sizes and no padding: "qq",
"16s", "2id". The payload of a type with a layout is its fields; of an
opaque type, one bytes-like object.
"""

import operator
import re
import struct
import threading

from . import _core as _swig
_core = _swig.__core  # the extension itself: no Python wrapper per call
from ._errors import InvalidArgument, TypeMismatch, check

__all__ = ["MsgType", "define", "find"]

_TOKEN = re.compile(r"(\d*)([x?bBhHiIqQfds])")

_INT_CODES = "bBhHiIqQ"  # fields the C fast path packs and unpacks itself

_INT_RANGE = {
    "b": (-(1 << 7), (1 << 7) - 1), "B": (0, (1 << 8) - 1),
    "h": (-(1 << 15), (1 << 15) - 1), "H": (0, (1 << 16) - 1),
    "i": (-(1 << 31), (1 << 31) - 1), "I": (0, (1 << 32) - 1),
    "q": (-(1 << 63), (1 << 63) - 1), "Q": (0, (1 << 64) - 1),
}


def _fields(layout):
    """[(code, size)]: one entry per field ('s' has its byte length; pads none)."""
    out = []
    pos = 0
    while pos < len(layout):
        m = _TOKEN.match(layout, pos)
        if m is None:
            raise InvalidArgument("bad layout %r at position %d" % (layout, pos))
        count = int(m.group(1)) if m.group(1) else 1
        code = m.group(2)
        if code == "s":
            out.append(("s", count))
        elif code != "x":
            out.extend([(code, 0)] * count)
        pos = m.end()
    return out


def _kind(value):
    return type(value).__name__


def _short(text, limit=80):
    """repr(text), cut in the middle beyond `limit` characters (for messages:
    a script may pass a name or path of any length)."""
    r = repr(text)
    if len(r) <= limit:
        return r
    return "%s...%s (%d characters)" % (r[:limit // 2], r[-(limit // 4):], len(text))


class _Layout:
    """One layout (payload or reply) of a type: how to pack and unpack it."""

    __slots__ = ("layout", "struct", "fields", "nfields", "strings", "what")

    def __init__(self, layout, what):
        self.layout = layout
        self.what = what
        if layout is None:
            self.struct = None
            self.fields = None
            self.nfields = 1
            self.strings = ()
        else:
            self.struct = struct.Struct("<" + layout)
            self.fields = _fields(layout)
            self.nfields = len(self.fields)
            self.strings = tuple((i, size) for i, (code, size) in enumerate(self.fields)
                                 if code == "s")

    def describe(self):
        return "opaque bytes" if self.layout is None else "layout %r" % self.layout

    # ---- packing ---------------------------------------------------------
    def pack(self, args):
        """bytes (or a bytes-like object) for the field values `args` (a tuple)."""
        st = self.struct
        if st is None:
            if len(args) != 1:
                raise TypeMismatch("%s takes one bytes-like object (opaque), got %d arguments"
                                   % (self.what, len(args)))
            return _as_buffer(args[0], self.what)
        if self.strings:
            self._check_strings(args)
        try:
            return st.pack(*args)
        except (struct.error, TypeError, ValueError, OverflowError) as e:
            self._diagnose(args, e)
            raise  # not reached: _diagnose always raises

    def pack_value(self, value):
        """bytes for a reply value: the value itself for one field, a tuple (or
        list) for several, None for none, bytes-like for opaque."""
        if self.struct is None:
            return _as_buffer(value, self.what)
        n = self.nfields
        if n == 0:
            if value is not None:
                raise TypeMismatch("%s has no fields (layout %r): return None, not %s"
                                   % (self.what, self.layout, _kind(value)))
            return self.struct.pack()
        if n == 1:
            return self.pack((value,))
        if not isinstance(value, (tuple, list)):
            raise TypeMismatch("%s has %d fields (layout %r): return a tuple, not %s"
                               % (self.what, n, self.layout, _kind(value)))
        return self.pack(tuple(value))

    def _check_strings(self, args):
        if len(args) != self.nfields:
            self._count_error(len(args))
        for i, size in self.strings:
            v = args[i]
            if isinstance(v, (bytes, bytearray)) and len(v) > size:
                raise ValueError("%s: field %d (format '%ds') takes at most %d bytes, got %d"
                                 % (self.what, i, size, size, len(v)))

    def _count_error(self, got):
        raise TypeMismatch("%s takes %d field%s (layout %r), got %d"
                           % (self.what, self.nfields, "" if self.nfields == 1 else "s",
                              self.layout, got))

    def _diagnose(self, args, exc):
        if len(args) != self.nfields:
            self._count_error(len(args))
        for i, ((code, size), v) in enumerate(zip(self.fields, args)):
            where = "%s: field %d (format %r)" % (self.what, i, code if code != "s" else
                                                   "%ds" % size)
            if code in _INT_RANGE:
                try:
                    n = operator.index(v)
                except TypeError:
                    raise TypeError("%s must be an integer, not %s" % (where, _kind(v))) from None
                lo, hi = _INT_RANGE[code]
                if not lo <= n <= hi:
                    raise OverflowError("%s: %d is out of range [%d, %d]" % (where, n, lo, hi))
            elif code in "fd":
                if isinstance(v, (str, bytes, bytearray)) or not (
                        hasattr(type(v), "__float__") or hasattr(type(v), "__index__")):
                    raise TypeError("%s must be a number, not %s" % (where, _kind(v)))
                try:
                    struct.pack("<" + code, v)
                except OverflowError:
                    raise OverflowError("%s: %r is out of range for a %s" % (
                        where, v, "float" if code == "f" else "double")) from None
                except (struct.error, TypeError, ValueError) as e:
                    raise TypeError("%s: %s" % (where, e)) from None
            elif code == "s":
                if not isinstance(v, (bytes, bytearray)):
                    raise TypeError("%s must be bytes, not %s" % (where, _kind(v)))
        raise ValueError("%s: cannot pack %r with layout %r: %s"
                         % (self.what, args, self.layout, exc)) from exc

    # ---- unpacking -------------------------------------------------------
    def unpack_args(self, data):
        """The field values of a payload, as a tuple of arguments."""
        if self.struct is None:
            return (bytes(data),)
        return self.struct.unpack(data)

    def unpack_value(self, data):
        """A reply as one value: the field, a tuple of fields, None, or bytes."""
        if self.struct is None:
            return bytes(data)
        n = self.nfields
        if n == 0:
            return None
        vals = self.struct.unpack(data)
        return vals[0] if n == 1 else vals


def _as_buffer(obj, what):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return obj
    if isinstance(obj, str):
        raise TypeError("%s: an opaque payload is bytes-like, not str (encode it first)" % what)
    try:
        return memoryview(obj)
    except TypeError:
        raise TypeError("%s: an opaque payload is bytes-like, not %s" % (what, _kind(obj))) \
            from None


class MsgType:
    """A message type of the process-wide registry: actor.define and
    actor.find return them (scripts cannot make one from a C pointer)."""

    __slots__ = ("_ptr", "name", "layout", "reply_layout", "_payload", "_reply",
                 "_fpack", "_funpack", "_rmode", "_fcodes", "__weakref__")

    def __new__(cls, *args, **kw):
        raise TypeError("actor.MsgType objects cannot be made directly: actor.define "
                        "and actor.find return them")

    def _init(self, ptr):
        self._ptr = ptr
        self.name = _core.actor_msgtype_name(ptr)
        self.layout = _core.actor_msgtype_layout(ptr)
        self.reply_layout = _core.actor_msgtype_reply_layout(ptr)
        self._payload = _Layout(self.layout, "message %r" % self.name)
        self._reply = _Layout(self.reply_layout, "reply of %r" % self.name)
        # For the C fast path (Address.ask, Responder.result; aio.c):
        # _fpack: the payload's Struct.pack when it needs no checks of its
        # own (no 's' fields: struct pads or cuts those silently), else None
        # (then _payload.pack runs). _funpack/_rmode: how a reply unpacks:
        # 0 opaque bytes, 1 no fields (None), 2 one field, 3 a tuple.
        # _fcodes: the payload layout as bytes when it is integer fields only
        # ("qq"), which C packs itself from exact ints in range (anything
        # else goes through _fpack). _rmode 16 + ord(code): a reply of one
        # integer field, which C unpacks itself.
        p, rp = self._payload, self._reply
        self._fpack = p.struct.pack if p.struct is not None and not p.strings else None
        self._funpack = rp.struct.unpack if rp.struct is not None else None
        self._rmode = (0 if rp.struct is None else 1 if rp.nfields == 0 else
                       2 if rp.nfields == 1 else 3)
        lay, rlay = self.layout, self.reply_layout
        self._fcodes = (lay.encode() if lay and len(lay) <= 8 and
                        all(c in _INT_CODES for c in lay) else None)
        if rlay and len(rlay) == 1 and rlay in _INT_CODES:
            self._rmode = 16 + ord(rlay)

    @property
    def size(self):
        """The payload size in bytes (0 when opaque)."""
        return _core.actor_msgtype_size(self._ptr)

    @property
    def reply_size(self):
        """The reply size in bytes (0 when opaque)."""
        return _core.actor_msgtype_reply_size(self._ptr)

    def pack(self, *fields):
        """The payload bytes for `fields`."""
        return bytes(self._payload.pack(fields))

    def unpack_reply(self, data):
        """A reply's bytes as a value (one field), a tuple, None or bytes."""
        return self._reply.unpack_value(data)

    def __repr__(self):
        return "MsgType(%r, %r, %r)" % (self.name, self.layout, self.reply_layout)

    def __reduce__(self):
        return (define, (self.name, self.layout, self.reply_layout))


_lock = threading.Lock()
_by_name = {}


def _wrap(ptr):
    name = _core.actor_msgtype_name(ptr)
    with _lock:
        mt = _by_name.get(name)
        if mt is None:
            mt = object.__new__(MsgType)
            mt._init(ptr)
            _by_name[name] = mt
        return mt


def _check_name(name, what="name"):
    if not isinstance(name, str):
        raise TypeError("a message type %s is a str, not %s" % (what, _kind(name)))
    if "\0" in name:
        raise InvalidArgument("a message type %s has no NUL character" % what)


def _check_layout(layout, what):
    if layout is not None:
        if not isinstance(layout, str):
            raise TypeError("%s is a str or None, not %s" % (what, _kind(layout)))
        if "\0" in layout:
            raise InvalidArgument("%s has no NUL character" % what)


_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")


def _layout_problem(layout, what):
    """What is wrong with `layout` (a str the C library refused), naming the
    character or count, or None if this side sees nothing wrong."""
    pos = 0
    while pos < len(layout):
        m = _TOKEN.match(layout, pos)
        if m is None:
            c = layout[pos]
            if c.isdigit():
                return "%s %s: a count at position %d is not followed by a field " \
                       "character" % (what, _short(layout), pos)
            return "%s %s: %r at position %d is not a field character (x ? b B h H i I q " \
                   "Q f d s, with counts; no byte order, no spaces)" % (
                       what, _short(layout), c, pos)
        if m.group(1) and (int(m.group(1)) == 0 or int(m.group(1)) > (1 << 30)):
            return "%s %s: the count %s at position %d is out of range" % (
                what, _short(layout), _short(m.group(1), 20), pos)
        pos = m.end()
    return None


def _define_problem(name, layout, reply_layout):
    """The message of an ACTOR_EINVAL from actor_msgtype_define."""
    if not _NAME.match(name):
        return ("bad message type name %s: 1 to 64 characters of [A-Za-z0-9_.:-]"
                % _short(name))
    for lay, what in ((layout, "layout"), (reply_layout, "reply_layout")):
        if lay is not None:
            problem = _layout_problem(lay, "bad " + what)
            if problem:
                return "message type %r: %s" % (name, problem)
    return ("bad message type %r: layouts %s, %s (the reason is in the log: too large?)"
            % (name, _short(layout), _short(reply_layout)))


def define(name, layout=None, reply_layout=None):
    """Defines (or finds) the process-wide message type `name` and returns it.

    `layout` describes the payload and `reply_layout` the reply of a request:
    None (opaque bytes), "" (no fields) or a struct format such as "qq".
    Defining a name again with the same layouts returns the same MsgType;
    with other layouts raises TypeMismatch; a bad name or layout raises
    InvalidArgument.
    """
    _check_name(name)
    _check_layout(layout, "layout")
    _check_layout(reply_layout, "reply_layout")
    rc, ptr = _core.actor_msgtype_define(name, layout, reply_layout)
    if rc == _core.ACTOR_ETYPE:
        old = find(name)
        raise TypeMismatch("message type %r is already defined with other layouts (%r, %r)"
                           % (name, old and old.layout, old and old.reply_layout))
    if rc == _core.ACTOR_EINVAL:
        raise InvalidArgument(_define_problem(name, layout, reply_layout))
    check(rc, "actor_msgtype_define(%s)" % _short(name))
    return _wrap(ptr)


def find(name):
    """The message type named `name`, or None."""
    _check_name(name)
    mt = _by_name.get(name)
    if mt is not None:
        return mt
    ptr = _core.actor_msgtype_find(name)
    return None if ptr is None else _wrap(ptr)


def resolve(t):
    """A MsgType from a MsgType or a name; raises InvalidArgument if unknown."""
    if type(t) is MsgType:
        return t
    if isinstance(t, str):
        mt = _by_name.get(t)
        if mt is None:
            mt = find(t)
            if mt is None:
                raise InvalidArgument("no message type named %s (actor.define it first, or "
                                      "load the plugin that does)" % _short(t))
        return mt
    if isinstance(t, MsgType):
        return t
    raise TypeError("a message type is a MsgType or its name, not %s" % _kind(t))


def from_ptr(ptr):
    """The MsgType of a C pointer (never NULL)."""
    return _wrap(ptr)

