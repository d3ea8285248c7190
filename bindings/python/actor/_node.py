"""actor.Node: actors on several machines over NATS (libactor-node).

    import actor
    with actor.Runtime(2) as rt:
        node = actor.Node(rt, "nats://127.0.0.1:4222", "py")
        calc = node.lookup("calculator", timeout=5)   # an ordinary Address
        print(calc.ask("Sum", 1, 2).result(timeout=5))  # or: await calc.ask(...)
        node.close()

A thin ctypes layer over libactor-node.so.1 (<actor/node.h>), which is a
library of its own: importing this module never loads NATS unless a Node is
made. The addresses it gives are ordinary actor.Address objects: ask, send,
interrupt, join, await and monitors work on them as on local ones.

The library is found, in order: $ACTOR_NODE_LIBRARY; beside the libactor.so.1
this process loaded (they are installed together); the build tree
(<build>/lib/node); the dynamic linker's search path.
"""

import ctypes
import itertools
import os
import threading

from . import _core as _swig
from ._errors import Closed, InvalidArgument, check
from ._runtime import Address, Runtime, _address

_core = _swig.__core

__all__ = ["Node"]

_lib = None
_actor = None
_lib_lock = threading.Lock()
_tmp_names = itertools.count(1)


def _loaded_libactor_dir():
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                if os.path.basename(path).startswith("libactor.so"):
                    return os.path.dirname(path)
    except OSError:
        pass
    return None


def _candidates():
    env = os.environ.get("ACTOR_NODE_LIBRARY")
    if env:
        yield env
    d = _loaded_libactor_dir()
    if d:
        yield os.path.join(d, "libactor-node.so.1")
        yield os.path.join(d, "node", "libactor-node.so.1")  # the build tree: lib/node
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "lib", "node", "libactor-node.so.1")
    yield "libactor-node.so.1"


def _load():
    """libactor-node and libactor (the one _core uses), typed, once."""
    global _lib, _actor
    with _lib_lock:
        if _lib is not None:
            return _lib, _actor
        errors = []
        lib = None
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError as e:
                errors.append("%s: %s" % (path, e))
        if lib is None:
            raise ImportError("libactor-node.so.1 not found (is it built? libnats-dev "
                              "installed?): " + "; ".join(errors))
        vp, cp, ci = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        pp = ctypes.POINTER(ctypes.c_void_p)
        lib.actor_node_connect.argtypes = [vp, cp, cp, pp]
        lib.actor_node_export.argtypes = [vp, cp, vp]
        lib.actor_node_unexport.argtypes = [vp, cp]
        lib.actor_node_lookup.argtypes = [vp, cp, ci, pp]
        lib.actor_node_bridge.argtypes = [vp, cp]
        lib.actor_node_close.argtypes = [vp]
        lib.actor_node_close.restype = None
        for f in ("connect", "export", "unexport", "lookup", "bridge"):
            getattr(lib, "actor_node_" + f).restype = ci
        # The very libactor _core is linked with (same soname: the same copy).
        act = ctypes.CDLL("libactor.so.1") if _loaded_libactor_dir() is None else \
            ctypes.CDLL(os.path.join(_loaded_libactor_dir(), "libactor.so.1"))
        act.actor_name_register.argtypes = [vp, cp, vp]
        act.actor_name_register.restype = ci
        act.actor_name_unregister.argtypes = [vp, cp]
        act.actor_name_unregister.restype = ci
        act.addr_release.argtypes = [vp]
        act.addr_release.restype = None
        _lib, _actor = lib, act
        return lib, act


def _text(s, what):
    if not isinstance(s, str):
        raise TypeError("%s is a str, not %s" % (what, type(s).__name__))
    b = s.encode()
    if b"\0" in b:
        raise InvalidArgument("%s contains a NUL character" % what)
    return b


class Node:
    """A connection of a Runtime to a NATS cluster, as the node `name`.

    `url`: "nats://127.0.0.1:4222", or a comma-separated list (the first
    that answers is used, the others are where it reconnects to). Blocks
    until connected. Use it as a context manager, or call close()."""

    def __init__(self, rt, url, name):
        if not isinstance(rt, Runtime):
            raise TypeError("rt is an actor.Runtime, not %s" % type(rt).__name__)
        lib, _ = _load()
        self._rt = rt
        self._lock = threading.Lock()
        self._n = None
        out = ctypes.c_void_p()
        rc = lib.actor_node_connect(int(rt._p()), _text(url, "url"), _text(name, "name"),
                                    ctypes.byref(out))
        check(rc, "actor_node_connect(%r, %r)" % (url, name))
        self._n = out.value
        self.name = name

    def _p(self):
        n = self._n
        if n is None:
            raise Closed("the node is closed")
        return n

    def export(self, name, addr):
        """Makes the actor at `addr` (an Address of this node's runtime)
        reachable as `name` from every node."""
        if not isinstance(addr, Address):
            raise TypeError("addr is an actor.Address, not %s" % type(addr).__name__)
        lib, _ = _load()
        check(lib.actor_node_export(self._p(), _text(name, "name"), int(addr._p())),
              "export %r" % name)

    def unexport(self, name):
        """Withdraws the export `name` (its remote addresses become Done)."""
        lib, _ = _load()
        check(lib.actor_node_unexport(self._p(), _text(name, "name")), "unexport %r" % name)

    def lookup(self, name, timeout=5.0):
        """An Address of the actor exported as `name` on any node, waiting up
        to `timeout` seconds (> 0) for one to answer; an ActorError with code
        ACTOR_ENOENT (-13) when none does."""
        ms = int(round(float(timeout) * 1000))
        if ms <= 0:
            raise ValueError("timeout must be > 0 seconds")
        lib, act = _load()
        out = ctypes.c_void_p()
        rc = lib.actor_node_lookup(self._p(), _text(name, "name"), min(ms, 0x7FFFFFFF),
                                   ctypes.byref(out))
        check(rc, "lookup %r" % name)
        return self._as_address(out.value, act)

    def _as_address(self, raw, act):
        # The SWIG module makes Address pointers only from its own calls: the
        # counted address goes through the runtime's name registry under a
        # name of our own for a moment (actor_name_lookup hands it to _core).
        rt_raw = int(self._rt._p())
        tmp = ("_actor_node.py.%d.%d" % (os.getpid(), next(_tmp_names))).encode()
        try:
            rc = act.actor_name_register(rt_raw, tmp, raw)
            check(rc, "a remote address for Python")
            try:
                rc, ptr = _core.actor_name_lookup(self._rt._p(), tmp.decode())
                check(rc, "a remote address for Python")
            finally:
                act.actor_name_unregister(rt_raw, tmp)
        finally:
            act.addr_release(raw)
        return _address(ptr, self._rt)

    def bridge(self, subject):
        """Joins the topic `subject` with the NATS subject of that name: what
        is published on it here also reaches the other nodes that bridge it,
        and theirs comes here."""
        lib, _ = _load()
        check(lib.actor_node_bridge(self._p(), _text(subject, "subject")),
              "bridge %r" % subject)

    def close(self):
        """Leaves the cluster (idempotent): pending remote asks complete
        Canceled, remote addresses are Done, exports stay alive locally."""
        with self._lock:
            n, self._n = self._n, None
        if n is not None:
            lib, _ = _load()
            lib.actor_node_close(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return "<Node %r%s>" % (self.name, "" if self._n is not None else " closed")
