"""Actors written in Python, side by side with C actors on one runtime."""

import asyncio
import gc
import logging
import threading
import time
import unittest
import weakref
from typing import Any, Optional, Union

import actor
import actor._core
from _util import RuntimeCase, limit, load_all, need_calculator, need_test_plugin

actor.define("Py.Add", "q")
actor.define("Py.Get", "", "q")
actor.define("Py.Boom", "q", "q")
actor.define("Py.Fail", "i")
actor.define("Py.Defer", "", "q")
actor.define("Py.Stop", "")
actor.define("Py.Self", "q")
actor.define("Py.Note", None)


class Counter(actor.Actor):
    """PYTHON.md's Counter, with a few extras."""

    def initialize(self, ctx: actor.Context) -> None:
        self.n = 0
        self.inited = True
        self.thread = threading.get_ident()

    @actor.on_event("Py.Add")
    def add(self, ctx: actor.Context, k: int) -> None:
        self.n += k

    @actor.on_request("Py.Get")
    def get(self, ctx: actor.Context) -> int:
        return self.n

    def finalize(self, ctx: actor.Context) -> None:
        self.finalized = True


class TestCounter(RuntimeCase):
    def test_counter(self) -> None:
        inst = Counter()
        c = self.rt.spawn(inst)
        for i in range(1, 101):
            c.send("Py.Add", i)
        self.assertEqual(c.ask("Py.Get").result(limit(2)), 5050)
        self.assertTrue(inst.inited)
        self.assertNotEqual(inst.thread, threading.get_ident())  # on a worker
        c.interrupt()
        c.join(limit(2))
        self.assertTrue(c.done)
        self.assertTrue(inst.finalized)

    def test_spawn_by_class(self) -> None:
        c = self.rt.spawn(Counter)
        c.send("Py.Add", 3)
        self.assertEqual(c.ask("Py.Get").result(limit(2)), 3)

    def test_spawn_twice_is_refused(self) -> None:
        inst = Counter()
        self.rt.spawn(inst)
        with self.assertRaises(actor.InvalidArgument):
            self.rt.spawn(inst)

    def test_instance_released_after_finalize(self) -> None:
        inst = Counter()
        ref = weakref.ref(inst)
        c = self.rt.spawn(inst)
        del inst
        c.interrupt()
        c.join(limit(2))
        del c
        gc.collect()
        self.assertIsNone(ref())

    def test_undefined_type(self) -> None:
        class Strange(actor.Actor):
            @actor.on_event("Py.NeverDefined")
            def h(self, ctx: actor.Context) -> None:
                pass
        with self.assertRaises(actor.InvalidArgument) as cm:
            self.rt.spawn(Strange())
        self.assertIn("Py.NeverDefined", str(cm.exception))

    def test_bad_class_name(self) -> None:
        class Named(actor.Actor):
            actor_name = "not a valid name"
        with self.assertRaises(actor.InvalidArgument):
            self.rt.spawn(Named())

    def test_inherited_handlers(self) -> None:
        class Doubler(Counter):
            @actor.on_event("Py.Add")
            def add(self, ctx: actor.Context, k: int) -> None:
                self.n += 2 * k
        d = self.rt.spawn(Doubler())
        d.send("Py.Add", 5)
        self.assertEqual(d.ask("Py.Get").result(limit(2)), 10)
        class Plain(Counter):
            # overrides, undecorated: still the handler
            def add(self, ctx: actor.Context, k: int) -> None:
                self.n -= k
        p = self.rt.spawn(Plain())
        p.send("Py.Add", 5)
        self.assertEqual(p.ask("Py.Get").result(limit(2)), -5)
        c = self.rt.spawn(Counter())  # the base class is unchanged
        c.send("Py.Add", 5)
        self.assertEqual(c.ask("Py.Get").result(limit(2)), 5)

    def test_callbacks_never_concurrent(self) -> None:
        class Exclusive(actor.Actor):
            def initialize(self, ctx: actor.Context) -> None:
                self.inside = False
                self.overlaps = 0
                self.n = 0

            @actor.on_event("Py.Add")
            def add(self, ctx: actor.Context, k: int) -> None:
                if self.inside:
                    self.overlaps += 1
                self.inside = True
                for _ in range(50):
                    pass
                self.n += k
                self.inside = False

            @actor.on_request("Py.Get")
            def get(self, ctx: actor.Context) -> int:
                return self.overlaps * 1000000 + self.n

        rt = actor.Runtime(threads=4)
        try:
            ex = rt.spawn(Exclusive())

            def send() -> None:
                for _ in range(2000):
                    ex.send("Py.Add", 1)
            ts = [threading.Thread(target=send) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(ex.ask("Py.Get").result(limit(5)), 8000)
        finally:
            rt.close()


class Faulty(actor.Actor):
    def initialize(self, ctx: actor.Context) -> None:
        self.seen: list[tuple[str, Union[BaseException, int]]] = []
        self.n = 0

    @actor.on_event("Py.Add")
    def add(self, ctx: actor.Context, k: int) -> None:
        if k < 0:
            raise ValueError("negative %d" % k)
        self.n += k

    @actor.on_request("Py.Get")
    def get(self, ctx: actor.Context) -> int:
        return self.n

    @actor.on_request("Py.Boom")
    def boom(self, ctx: actor.Context, code: int) -> str:
        if code == 0:
            raise RuntimeError("boom")
        if code == 1:
            return "not an int"  # cannot be packed
        raise actor.HandlerError(handler_code=code)


class Recording(Faulty):
    def fallback(self, ctx: actor.Context, type: Optional[actor.MsgType],
                 error: Union[BaseException, int]) -> None:
        assert type is not None
        self.seen.append((type.name, error))


class TestExceptions(RuntimeCase):
    def test_event_exception_goes_to_fallback(self) -> None:
        inst = Recording()
        a = self.rt.spawn(inst)
        a.send("Py.Add", 1)
        a.send("Py.Add", -2)
        a.send("Py.Add", 3)  # the actor goes on
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 4)
        self.assertEqual(len(inst.seen), 1)
        name, err = inst.seen[0]
        self.assertEqual(name, "Py.Add")
        self.assertIsInstance(err, ValueError)
        assert isinstance(err, ValueError)
        self.assertIsNotNone(err.__traceback__)

    def test_default_fallback_logs_the_traceback(self) -> None:
        a = self.rt.spawn(Faulty())
        with self.assertLogs("actor", level="ERROR") as cm:
            a.send("Py.Add", -7)
            self.assertEqual(a.ask("Py.Get").result(limit(2)), 0)
        self.assertEqual(len(cm.records), 1)
        rec = cm.records[0]
        self.assertIsNotNone(rec.exc_info)
        assert rec.exc_info is not None
        self.assertIs(rec.exc_info[0], ValueError)
        self.assertIn("Traceback", cm.output[0])
        self.assertIn("negative -7", cm.output[0])

    def test_request_exception_is_handler_error(self) -> None:
        a = self.rt.spawn(Faulty())
        with self.assertLogs("actor", level="WARNING") as cm:
            with self.assertRaises(actor.HandlerError) as e:
                a.ask("Py.Boom", 0).result(limit(2))
        self.assertEqual(e.exception.handler_code, 1)
        self.assertIn("RuntimeError: boom", cm.output[0])
        with self.assertLogs("actor", level="WARNING"):
            with self.assertRaises(actor.HandlerError):
                a.ask("Py.Boom", 1).result(limit(2))  # unpackable return value
        with self.assertRaises(actor.HandlerError) as e:
            a.ask("Py.Boom", 77).result(limit(2))
        self.assertEqual(e.exception.handler_code, 77)
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 0)  # still alive

    def test_initialize_failure(self) -> None:
        class BadInit(Counter):
            def initialize(self, ctx: actor.Context) -> None:
                raise RuntimeError("no init")
        inst = BadInit()
        with self.assertLogs("actor", level="ERROR") as cm:
            a = self.rt.spawn(inst)
            r = a.ask("Py.Get")
            with self.assertRaises(actor.Canceled):
                r.result(limit(2))
            a.join(limit(2))
        self.assertTrue(inst.finalized)  # finalize runs anyway
        self.assertIn("no init", "\n".join(cm.output))


class Lifecycle(actor.Actor):
    def __init__(self, log: list[Union[str, int]]) -> None:
        self.log = log

    def initialize(self, ctx: actor.Context) -> None:
        self.log.append("init")

    def interrupt(self, ctx: actor.Context) -> None:
        self.log.append("interrupt")
        ctx.stop()

    @actor.on_event("Py.Stop")
    def stop(self, ctx: actor.Context) -> None:
        self.log.append("stop")
        ctx.stop()

    @actor.on_event("Py.Self")
    def self_(self, ctx: actor.Context, k: int) -> None:
        self.log.append(k)
        if k > 0:
            ctx.self.send("Py.Self", k - 1)

    @actor.on_request("Py.Defer")
    def defer(self, ctx: actor.Context) -> None:
        p = ctx.defer()

        def answer() -> None:
            time.sleep(0.01)
            p.resolve(123)
        threading.Thread(target=answer).start()

    @actor.on_request("Py.Get")
    def get(self, ctx: actor.Context) -> str:
        ctx.reply(len(self.log))
        return "ignored after reply"

    def finalize(self, ctx: actor.Context) -> None:
        self.log.append("finalize")


class TestContext(RuntimeCase):
    def test_interrupt_hook(self) -> None:
        log: list[Union[str, int]] = []
        a = self.rt.spawn(Lifecycle(log))
        a.interrupt()
        a.join(limit(2))
        self.assertEqual(log, ["init", "interrupt", "finalize"])

    def test_stop(self) -> None:
        log: list[Union[str, int]] = []
        a = self.rt.spawn(Lifecycle(log))
        a.send("Py.Stop")
        a.join(limit(2))
        self.assertEqual(log, ["init", "stop", "finalize"])
        with self.assertRaises(actor.Closed):
            a.send("Py.Stop")

    def test_dropped_events(self) -> None:
        gate = threading.Event()

        class Gated(actor.Actor):
            @actor.on_event("Py.Stop")
            def stop(self, ctx: actor.Context) -> None:
                gate.wait(limit(5))
                ctx.stop()

            @actor.on_event("Py.Add")
            def add(self, ctx: actor.Context, k: int) -> None:
                pass

        a = self.rt.spawn(Gated())
        a.send("Py.Stop")
        for i in range(5):
            a.send("Py.Add", i)  # queued behind the stop
        gate.set()
        a.join(limit(5))
        self.assertEqual(a.dropped, 5)

    def test_self_and_reply(self) -> None:
        log: list[Union[str, int]] = []
        a = self.rt.spawn(Lifecycle(log))
        a.send("Py.Self", 3)
        deadline = time.monotonic() + limit(2)
        while len(log) < 5 and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertEqual(log, ["init", 3, 2, 1, 0])
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 5)

    def test_defer(self) -> None:
        a = self.rt.spawn(Lifecycle([]))
        self.assertEqual(a.ask("Py.Defer").result(limit(2)), 123)

        async def main() -> Any:
            return await asyncio.gather(*(a.ask("Py.Defer") for _ in range(20)))
        self.assertEqual(asyncio.run(main()), [123] * 20)

    def test_dropped_promise_cancels(self) -> None:
        class Dropper(actor.Actor):
            @actor.on_request("Py.Defer")
            def defer(self, ctx: actor.Context) -> None:
                ctx.defer()  # dropped at once
        a = self.rt.spawn(Dropper())
        with self.assertRaises(actor.Canceled):
            a.ask("Py.Defer").result(limit(2))

    def test_reject(self) -> None:
        class Rejecter(actor.Actor):
            @actor.on_request("Py.Defer")
            def defer(self, ctx: actor.Context) -> None:
                ctx.defer().reject(31)
        a = self.rt.spawn(Rejecter())
        with self.assertRaises(actor.HandlerError) as cm:
            a.ask("Py.Defer").result(limit(2))
        self.assertEqual(cm.exception.handler_code, 31)

    @need_calculator
    def test_spawn_from_an_actor(self) -> None:
        class Parent(actor.Actor):
            @actor.on_request("Py.Get")
            def get(self, ctx: actor.Context) -> int:
                self.child = ctx.spawn("Calculator")
                self.pychild = ctx.spawn(Counter)
                self.pychild.send("Py.Add", 5)
                return 1
        p = Parent()
        a = self.rt.spawn(p)
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 1)
        self.assertEqual(p.child.ask("Sum", 2, 3).result(limit(2)), 5)
        self.assertEqual(p.pychild.ask("Py.Get").result(limit(2)), 5)


@need_test_plugin
class TestWithC(RuntimeCase):
    """C actors (the test plugin's Relay) send to and ask Python actors."""

    def setUp(self) -> None:
        super().setUp()
        load_all()

    def relay_to(self, target: actor.Address) -> actor.Address:
        relay = self.rt.spawn("Relay")
        relay.send("Relay.Target", int(actor._core.addr_ref(target._ptr)))
        return relay

    def test_c_actor_asks_python_actor(self) -> None:
        class Doubler(actor.Actor):
            def initialize(self, ctx: actor.Context) -> None:
                self.events: list[int] = []

            @actor.on_request("Relay.Inner")
            def inner(self, ctx: actor.Context, v: int) -> int:
                if v == 13:
                    raise ValueError("unlucky")
                if v == 14:
                    raise actor.HandlerError(handler_code=14)
                return 2 * v

            @actor.on_event("Relay.InnerEvent")
            def event(self, ctx: actor.Context, v: int) -> None:
                self.events.append(v)

        inst = Doubler()
        target = self.rt.spawn(inst)
        relay = self.relay_to(target)
        self.assertEqual(relay.ask("Relay.Ask", 21).result(limit(2)), 42)
        with self.assertLogs("actor", level="WARNING"):
            with self.assertRaises(actor.HandlerError) as cm:
                relay.ask("Relay.Ask", 13).result(limit(2))
        self.assertEqual(cm.exception.handler_code, 1)
        with self.assertRaises(actor.HandlerError) as cm:
            relay.ask("Relay.Ask", 14).result(limit(2))
        self.assertEqual(cm.exception.handler_code, 14)
        for v in range(5):
            relay.send("Relay.Tell", v)
        self.assertEqual(relay.ask("Relay.Ask", 1).result(limit(2)), 2)
        self.assertEqual(inst.events, [0, 1, 2, 3, 4])

        async def main() -> Any:
            return await asyncio.gather(*(relay.ask("Relay.Ask", i) for i in range(100, 1100)))
        self.assertEqual(asyncio.run(main()), [2 * i for i in range(100, 1100)])

    def test_c_actor_asks_python_actor_without_handler(self) -> None:
        target = self.rt.spawn(Counter())
        relay = self.relay_to(target)
        with self.assertRaises(actor.HandlerError) as cm:
            relay.ask("Relay.Ask", 1).result(limit(2))
        self.assertEqual(cm.exception.handler_code, actor._core.ACTOR_ENOHANDLER)

    def test_registered_python_class_spawned_from_c(self) -> None:
        class Tripler(actor.Actor):
            actor_name = "PyTest.Tripler"
            made = 0

            def __init__(self) -> None:
                Tripler.made += 1

            @actor.on_request("Relay.Inner")
            def inner(self, ctx: actor.Context, v: int) -> int:
                return 3 * v

        actor.register(Tripler)
        with self.assertRaises(actor.Busy):
            actor.register(Tripler)
        # by name from Python
        t = self.rt.spawn("PyTest.Tripler")
        relay1 = self.relay_to(t)
        self.assertEqual(relay1.ask("Relay.Ask", 5).result(limit(2)), 15)
        # by name from C: actor_class_find + actor_spawn with state NULL
        relay2 = self.rt.spawn("Relay")
        relay2.send("Relay.SpawnTarget", b"PyTest.Tripler")
        self.assertEqual(relay2.ask("Relay.Ask", 7).result(limit(2)), 21)
        self.assertEqual(Tripler.made, 2)

    @need_calculator
    def test_python_and_c_side_by_side(self) -> None:
        calc = self.rt.spawn("Calculator")
        counters = [self.rt.spawn(Counter()) for _ in range(8)]

        def client(k: int) -> None:
            for i in range(300):
                counters[k].send("Py.Add", 1)
                assert calc.ask("Sum", k, i).result(limit(5)) == k + i

        ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual([c.ask("Py.Get").result(limit(2)) for c in counters], [300] * 8)

    def test_python_actor_opaque_event(self) -> None:
        got: list[bytes] = []

        class Note(actor.Actor):
            @actor.on_event("Py.Note")
            def note(self, ctx: actor.Context, data: bytes) -> None:
                got.append(data)

            @actor.on_request("Py.Get")
            def get(self, ctx: actor.Context) -> int:
                return len(got)

        a = self.rt.spawn(Note())
        a.send("Py.Note", b"one")
        a.send("Py.Note", bytearray(b"two"))
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 2)
        self.assertEqual(got, [b"one", b"two"])


if __name__ == "__main__":
    logging.basicConfig()
    unittest.main()
