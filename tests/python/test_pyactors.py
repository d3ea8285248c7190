"""Actors written in Python, side by side with C actors on one runtime."""

import asyncio
import gc
import logging
import threading
import time
import unittest
import weakref

import actor
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

    def initialize(self, ctx):
        self.n = 0
        self.inited = True
        self.thread = threading.get_ident()

    @actor.on_event("Py.Add")
    def add(self, ctx, k):
        self.n += k

    @actor.on_request("Py.Get")
    def get(self, ctx):
        return self.n

    def finalize(self, ctx):
        self.finalized = True


class TestCounter(RuntimeCase):
    def test_counter(self):
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

    def test_spawn_by_class(self):
        c = self.rt.spawn(Counter)
        c.send("Py.Add", 3)
        self.assertEqual(c.ask("Py.Get").result(limit(2)), 3)

    def test_spawn_twice_is_refused(self):
        inst = Counter()
        self.rt.spawn(inst)
        with self.assertRaises(actor.InvalidArgument):
            self.rt.spawn(inst)

    def test_instance_released_after_finalize(self):
        inst = Counter()
        ref = weakref.ref(inst)
        c = self.rt.spawn(inst)
        del inst
        c.interrupt()
        c.join(limit(2))
        del c
        gc.collect()
        self.assertIsNone(ref())

    def test_undefined_type(self):
        class Strange(actor.Actor):
            @actor.on_event("Py.NeverDefined")
            def h(self, ctx):
                pass
        with self.assertRaises(actor.InvalidArgument) as cm:
            self.rt.spawn(Strange())
        self.assertIn("Py.NeverDefined", str(cm.exception))

    def test_bad_class_name(self):
        class Named(actor.Actor):
            actor_name = "not a valid name"
        with self.assertRaises(actor.InvalidArgument):
            self.rt.spawn(Named())

    def test_inherited_handlers(self):
        class Doubler(Counter):
            @actor.on_event("Py.Add")
            def add(self, ctx, k):
                self.n += 2 * k
        d = self.rt.spawn(Doubler())
        d.send("Py.Add", 5)
        self.assertEqual(d.ask("Py.Get").result(limit(2)), 10)
        class Plain(Counter):
            def add(self, ctx, k):  # overrides, undecorated: still the handler
                self.n -= k
        p = self.rt.spawn(Plain())
        p.send("Py.Add", 5)
        self.assertEqual(p.ask("Py.Get").result(limit(2)), -5)
        c = self.rt.spawn(Counter())  # the base class is unchanged
        c.send("Py.Add", 5)
        self.assertEqual(c.ask("Py.Get").result(limit(2)), 5)

    def test_callbacks_never_concurrent(self):
        class Exclusive(actor.Actor):
            def initialize(self, ctx):
                self.inside = False
                self.overlaps = 0
                self.n = 0

            @actor.on_event("Py.Add")
            def add(self, ctx, k):
                if self.inside:
                    self.overlaps += 1
                self.inside = True
                for _ in range(50):
                    pass
                self.n += k
                self.inside = False

            @actor.on_request("Py.Get")
            def get(self, ctx):
                return self.overlaps * 1000000 + self.n

        rt = actor.Runtime(threads=4)
        try:
            ex = rt.spawn(Exclusive())

            def send():
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
    def initialize(self, ctx):
        self.seen = []
        self.n = 0

    @actor.on_event("Py.Add")
    def add(self, ctx, k):
        if k < 0:
            raise ValueError("negative %d" % k)
        self.n += k

    @actor.on_request("Py.Get")
    def get(self, ctx):
        return self.n

    @actor.on_request("Py.Boom")
    def boom(self, ctx, code):
        if code == 0:
            raise RuntimeError("boom")
        if code == 1:
            return "not an int"  # cannot be packed
        raise actor.HandlerError(handler_code=code)


class Recording(Faulty):
    def fallback(self, ctx, type, error):
        self.seen.append((type.name, error))


class TestExceptions(RuntimeCase):
    def test_event_exception_goes_to_fallback(self):
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
        self.assertIsNotNone(err.__traceback__)

    def test_default_fallback_logs_the_traceback(self):
        a = self.rt.spawn(Faulty())
        with self.assertLogs("actor", level="ERROR") as cm:
            a.send("Py.Add", -7)
            self.assertEqual(a.ask("Py.Get").result(limit(2)), 0)
        self.assertEqual(len(cm.records), 1)
        rec = cm.records[0]
        self.assertIsNotNone(rec.exc_info)
        self.assertIs(rec.exc_info[0], ValueError)
        self.assertIn("Traceback", cm.output[0])
        self.assertIn("negative -7", cm.output[0])

    def test_request_exception_is_handler_error(self):
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

    def test_initialize_failure(self):
        class BadInit(Counter):
            def initialize(self, ctx):
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
    def __init__(self, log):
        self.log = log

    def initialize(self, ctx):
        self.log.append("init")

    def interrupt(self, ctx):
        self.log.append("interrupt")
        ctx.stop()

    @actor.on_event("Py.Stop")
    def stop(self, ctx):
        self.log.append("stop")
        ctx.stop()

    @actor.on_event("Py.Self")
    def self_(self, ctx, k):
        self.log.append(k)
        if k > 0:
            ctx.self.send("Py.Self", k - 1)

    @actor.on_request("Py.Defer")
    def defer(self, ctx):
        p = ctx.defer()
        threading.Thread(target=lambda: (time.sleep(0.01), p.resolve(123))).start()

    @actor.on_request("Py.Get")
    def get(self, ctx):
        ctx.reply(len(self.log))
        return "ignored after reply"

    def finalize(self, ctx):
        self.log.append("finalize")


class TestContext(RuntimeCase):
    def test_interrupt_hook(self):
        log = []
        a = self.rt.spawn(Lifecycle(log))
        a.interrupt()
        a.join(limit(2))
        self.assertEqual(log, ["init", "interrupt", "finalize"])

    def test_stop(self):
        log = []
        a = self.rt.spawn(Lifecycle(log))
        a.send("Py.Stop")
        a.join(limit(2))
        self.assertEqual(log, ["init", "stop", "finalize"])
        with self.assertRaises(actor.Closed):
            a.send("Py.Stop")

    def test_dropped_events(self):
        gate = threading.Event()

        class Gated(actor.Actor):
            @actor.on_event("Py.Stop")
            def stop(self, ctx):
                gate.wait(limit(5))
                ctx.stop()

            @actor.on_event("Py.Add")
            def add(self, ctx, k):
                pass

        a = self.rt.spawn(Gated())
        a.send("Py.Stop")
        for i in range(5):
            a.send("Py.Add", i)  # queued behind the stop
        gate.set()
        a.join(limit(5))
        self.assertEqual(a.dropped, 5)

    def test_self_and_reply(self):
        log = []
        a = self.rt.spawn(Lifecycle(log))
        a.send("Py.Self", 3)
        deadline = time.monotonic() + limit(2)
        while len(log) < 5 and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertEqual(log, ["init", 3, 2, 1, 0])
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 5)

    def test_defer(self):
        a = self.rt.spawn(Lifecycle([]))
        self.assertEqual(a.ask("Py.Defer").result(limit(2)), 123)

        async def main():
            return await asyncio.gather(*(a.ask("Py.Defer") for _ in range(20)))
        self.assertEqual(asyncio.run(main()), [123] * 20)

    def test_dropped_promise_cancels(self):
        class Dropper(actor.Actor):
            @actor.on_request("Py.Defer")
            def defer(self, ctx):
                ctx.defer()  # dropped at once
        a = self.rt.spawn(Dropper())
        with self.assertRaises(actor.Canceled):
            a.ask("Py.Defer").result(limit(2))

    def test_reject(self):
        class Rejecter(actor.Actor):
            @actor.on_request("Py.Defer")
            def defer(self, ctx):
                ctx.defer().reject(31)
        a = self.rt.spawn(Rejecter())
        with self.assertRaises(actor.HandlerError) as cm:
            a.ask("Py.Defer").result(limit(2))
        self.assertEqual(cm.exception.handler_code, 31)

    @need_calculator
    def test_spawn_from_an_actor(self):
        class Parent(actor.Actor):
            @actor.on_request("Py.Get")
            def get(self, ctx):
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

    def setUp(self):
        super().setUp()
        load_all()

    def relay_to(self, target):
        relay = self.rt.spawn("Relay")
        relay.send("Relay.Target", int(actor._core.addr_ref(target._ptr)))
        return relay

    def test_c_actor_asks_python_actor(self):
        class Doubler(actor.Actor):
            def initialize(self, ctx):
                self.events = []

            @actor.on_request("Relay.Inner")
            def inner(self, ctx, v):
                if v == 13:
                    raise ValueError("unlucky")
                if v == 14:
                    raise actor.HandlerError(handler_code=14)
                return 2 * v

            @actor.on_event("Relay.InnerEvent")
            def event(self, ctx, v):
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

        async def main():
            return await asyncio.gather(*(relay.ask("Relay.Ask", i) for i in range(100, 1100)))
        self.assertEqual(asyncio.run(main()), [2 * i for i in range(100, 1100)])

    def test_c_actor_asks_python_actor_without_handler(self):
        target = self.rt.spawn(Counter())
        relay = self.relay_to(target)
        with self.assertRaises(actor.HandlerError) as cm:
            relay.ask("Relay.Ask", 1).result(limit(2))
        self.assertEqual(cm.exception.handler_code, actor._core.ACTOR_ENOHANDLER)

    def test_registered_python_class_spawned_from_c(self):
        class Tripler(actor.Actor):
            actor_name = "PyTest.Tripler"
            made = 0

            def __init__(self):
                Tripler.made += 1

            @actor.on_request("Relay.Inner")
            def inner(self, ctx, v):
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
    def test_python_and_c_side_by_side(self):
        calc = self.rt.spawn("Calculator")
        counters = [self.rt.spawn(Counter()) for _ in range(8)]

        def client(k):
            for i in range(300):
                counters[k].send("Py.Add", 1)
                assert calc.ask("Sum", k, i).result(limit(5)) == k + i

        ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual([c.ask("Py.Get").result(limit(2)) for c in counters], [300] * 8)

    def test_python_actor_opaque_event(self):
        got = []

        class Note(actor.Actor):
            @actor.on_event("Py.Note")
            def note(self, ctx, data):
                got.append(data)

            @actor.on_request("Py.Get")
            def get(self, ctx):
                return len(got)

        a = self.rt.spawn(Note())
        a.send("Py.Note", b"one")
        a.send("Py.Note", bytearray(b"two"))
        self.assertEqual(a.ask("Py.Get").result(limit(2)), 2)
        self.assertEqual(got, [b"one", b"two"])


if __name__ == "__main__":
    logging.basicConfig()
    unittest.main()
