"""No fixed limits on Python actors.

The shim once bound every (message type, kind) handled by Python actors to
one of 512 generated C functions per kind, and every Python Actor class to
one of 512 init functions, so a process could have at most 512 event types,
512 request types and 512 classes. Now every class shares one C function per
hook and finds its Python handler by the type being handled: here one class
handles 640 event types and 640 request types, and 640 classes (registered
by name, each spawned the way C spawns a class by name) run side by side.
"""

import asyncio
import logging
import unittest
from typing import Any, Callable, Optional, Union

import actor
import actor._core
import actor._runtime
from _util import RuntimeCase, limit, load_all, need_test_plugin

N_TYPES = 640    # > 512 of each kind
N_CLASSES = 640  # > 512

load_all()  # Relay.Inner (the test plugin's type) for the classes below, if built

for _i in range(N_TYPES):
    actor.define("Lim.E%03d" % _i, "q")
    actor.define("Lim.R%03d" % _i, "q", "q")
actor.define("Lim.Count", "", "q")
actor.define("Lim.Which", "q", "q")


def _many_types_class() -> Any:
    """A class with one event and one request handler per Lim type."""
    ns: dict[str, Any] = {}

    def event_handler(i: int) -> Callable[..., None]:
        @actor.on_event("Lim.E%03d" % i)
        def handler(self: Any, ctx: actor.Context, k: int) -> None:
            if k < 0:
                raise ValueError("event %d" % i)
            self.seen.append((i, k))
        return handler

    def request_handler(i: int) -> Callable[..., int]:
        @actor.on_request("Lim.R%03d" % i)
        def handler(self: Any, ctx: actor.Context, k: int) -> int:
            return i * 100000 + k
        return handler

    for i in range(N_TYPES):
        ns["on_e%03d" % i] = event_handler(i)
        ns["on_r%03d" % i] = request_handler(i)

    def initialize(self: Any, ctx: actor.Context) -> None:
        self.seen = []
        self.failed = []

    @actor.on_request("Lim.Count")
    def count(self: Any, ctx: actor.Context) -> int:
        return len(self.seen)

    def fallback(self: Any, ctx: actor.Context, type: Optional[actor.MsgType],
                 error: Union[BaseException, int]) -> None:
        assert type is not None
        self.failed.append((type.name, str(error)))

    ns.update(initialize=initialize, count=count, fallback=fallback)
    return type("ManyTypes", (actor.Actor,), ns)


ManyTypes = _many_types_class()
_HAVE_RELAY = actor.find("Relay.Inner") is not None


def _class_number(j: int) -> Any:
    """Class j: answers Lim.Which(k) (and Relay.Inner(k)) with j * 1000 + k."""
    def which(self: Any, ctx: actor.Context, k: int) -> int:
        return j * 1000 + k

    def __init__(self: Any) -> None:
        type(self).made += 1

    ns: dict[str, Any] = {"actor_name": "Lim.C%03d" % j, "made": 0, "__init__": __init__,
          "which": actor.on_request("Lim.Which")(which)}
    if _HAVE_RELAY:
        ns["inner"] = actor.on_request("Relay.Inner")(lambda self, ctx, k: which(self, ctx, k))
    return type("LimC%03d" % j, (actor.Actor,), ns)


CLASSES = [actor.register(_class_number(j)) for j in range(N_CLASSES)]


def spawn_by_name_as_c(rt: actor.Runtime, name: str) -> actor.Address:
    """Spawns registered class `name` as C code would (actor_class_find, then
    actor_spawn with state NULL): the shim's init makes the instance."""
    core = actor._core
    c = core.actor_class_find(name)
    rc, a = core.shim_spawn(rt._ptr, c, None, None)
    if rc:
        raise RuntimeError("spawn %s: %d" % (name, rc))
    return actor._runtime._address(a, rt)


class TestManyTypes(RuntimeCase):
    def test_one_class_handles_every_type(self) -> None:
        inst = ManyTypes()
        a = self.rt.spawn(inst)
        self.assertEqual(len(ManyTypes._actor_rec[1]), N_TYPES)      # events
        self.assertEqual(len(ManyTypes._actor_rec[2]), N_TYPES + 1)  # requests
        for i in range(N_TYPES):
            a.send("Lim.E%03d" % i, 7 * i)
        self.assertEqual(a.ask("Lim.Count").result(limit(5)), N_TYPES)
        self.assertEqual(inst.seen, [(i, 7 * i) for i in range(N_TYPES)])
        for i in range(N_TYPES):
            self.assertEqual(a.ask("Lim.R%03d" % i, i).result(limit(5)), i * 100000 + i)

        async def main() -> list[Any]:
            return await asyncio.gather(*(a.ask("Lim.R%03d" % i, 3) for i in range(N_TYPES)))
        self.assertEqual(asyncio.run(main()), [i * 100000 + 3 for i in range(N_TYPES)])

    def test_fallback_gets_the_type(self) -> None:
        inst = ManyTypes()
        a = self.rt.spawn(inst)
        for i in (0, 511, 512, N_TYPES - 1):
            a.send("Lim.E%03d" % i, -1)
        self.assertEqual(a.ask("Lim.Count").result(limit(5)), 0)
        self.assertEqual(inst.failed, [("Lim.E%03d" % i, "event %d" % i)
                                       for i in (0, 511, 512, N_TYPES - 1)])

    def test_several_actors_of_the_class(self) -> None:
        actors = [self.rt.spawn(ManyTypes) for _ in range(4)]

        async def main() -> list[Any]:
            return await asyncio.gather(*(a.ask("Lim.R%03d" % i, n)
                                          for n, a in enumerate(actors)
                                          for i in range(0, N_TYPES, 7)))
        self.assertEqual(asyncio.run(main()), [i * 100000 + n for n in range(len(actors))
                                               for i in range(0, N_TYPES, 7)])


class TestManyClasses(RuntimeCase):
    def test_every_class_spawned_by_name(self) -> None:
        addrs = [spawn_by_name_as_c(self.rt, "Lim.C%03d" % j) for j in range(N_CLASSES)]

        async def main() -> list[Any]:
            return await asyncio.gather(*(a.ask("Lim.Which", 5) for a in addrs))
        self.assertEqual(asyncio.run(main()), [j * 1000 + 5 for j in range(N_CLASSES)])
        for j, a in enumerate(addrs):
            self.assertEqual(a.ask("Lim.Which", j).result(limit(5)), j * 1001)
        self.assertTrue(all(cls.made >= 1 for cls in CLASSES))
        for a in addrs:
            a.interrupt()
        for a in addrs:
            a.join(limit(5))

    def test_every_class_spawned_from_python(self) -> None:
        addrs = [self.rt.spawn(cls) for cls in CLASSES]
        addrs += [self.rt.spawn(CLASSES[j].actor_name) for j in (0, 511, 512, N_CLASSES - 1)]
        got = [a.ask("Lim.Which", 1).result(limit(5)) for a in addrs]
        self.assertEqual(got, [j * 1000 + 1 for j in range(N_CLASSES)] +
                         [j * 1000 + 1 for j in (0, 511, 512, N_CLASSES - 1)])

    @need_test_plugin
    def test_spawned_by_name_from_c(self) -> None:
        for j in (0, 512, N_CLASSES - 1):
            relay = self.rt.spawn("Relay")
            relay.send("Relay.SpawnTarget", ("Lim.C%03d" % j).encode())
            self.assertEqual(relay.ask("Relay.Ask", 9).result(limit(5)), j * 1000 + 9)


class TestClassTables(RuntimeCase):
    """The per-class tables the shim's one event/request handler looks in."""

    def make(self) -> Any:
        class Tabled(actor.Actor):
            def initialize(self, ctx: actor.Context) -> None:
                self.errors: list[tuple[str, Union[BaseException, int]]] = []

            @actor.on_event("Lim.E000")
            def e(self, ctx: actor.Context, k: int) -> None:
                pass

            @actor.on_request("Lim.R000")
            def r(self, ctx: actor.Context, k: int) -> int:
                return k

            def fallback(self, ctx: actor.Context, type: Optional[actor.MsgType],
                         error: Union[BaseException, int]) -> None:
                assert type is not None
                self.errors.append((type.name, error))
        return Tabled

    def test_keys_are_type_pointers(self) -> None:
        cls = self.make()
        a = self.rt.spawn(cls)
        self.assertEqual(a.ask("Lim.R000", 4).result(limit(5)), 4)
        e, r = actor.find("Lim.E000"), actor.find("Lim.R000")
        assert e is not None and r is not None
        events, requests = cls._actor_rec[1], cls._actor_rec[2]
        self.assertEqual(list(events), [int(e._ptr)])
        self.assertEqual(list(requests), [int(r._ptr)])
        self.assertIs(events[int(e._ptr)][1], e)

    def test_missing_entry_is_no_handler(self) -> None:
        cls = self.make()
        inst = cls()
        a = self.rt.spawn(inst)
        cls._actor_rec[1].clear()  # tampering: the C handlers stay installed
        cls._actor_rec[2].clear()
        a.send("Lim.E000", 1)
        with self.assertRaises(actor.HandlerError) as cm:
            a.ask("Lim.R000", 1).result(limit(5))
        self.assertEqual(cm.exception.handler_code, actor._core.ACTOR_ENOHANDLER)
        self.assertEqual(inst.errors, [("Lim.E000", actor._core.ACTOR_ENOHANDLER)])

    def test_failed_setup_discards_the_class(self) -> None:
        from actor import _actors
        cls = self.make()
        real = _actors._core.shim_pyclass_on
        calls = []

        def failing(*args: Any) -> Any:
            calls.append(args)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(*args)
        _actors._core.shim_pyclass_on = failing
        try:
            with self.assertRaises(KeyboardInterrupt):
                self.rt.spawn(cls)
        finally:
            _actors._core.shim_pyclass_on = real
        self.assertNotIn("_actor_rec", cls.__dict__)
        a = self.rt.spawn(cls)  # made afresh
        self.assertEqual(a.ask("Lim.R000", 8).result(limit(5)), 8)


if __name__ == "__main__":
    logging.basicConfig()
    unittest.main()
