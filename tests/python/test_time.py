"""1.1 Time from Python: timers, request deadlines (actor.Expired), the
manual runtime (virtual clock, deterministic order)."""

import asyncio
import unittest
from typing import Any, Optional

import actor
import actor._core
from _util import limit, load_all

actor.define("Tm.Tick", "q")
actor.define("Tm.Get", "", "q")
actor.define("Tm.Hold", "", "q")
actor.define("Tm.Stop", "")


class Ticker(actor.Actor):
    """Starts a repeating timer in initialize; counts ticks and when."""

    def initialize(self, ctx: actor.Context) -> None:
        self.ticks: list[int] = []
        self.promise: Optional[actor.Promise] = None
        ctx.start_timer(1, "Tm.Tick", 5, after=0.5, every=0.25)

    @actor.on_event("Tm.Tick")
    def tick(self, ctx: actor.Context, v: int) -> None:
        self.ticks.append(v)
        if len(self.ticks) == 4:
            self.cancelled = ctx.cancel_timer(1)
            self.again = ctx.cancel_timer(1)

    @actor.on_request("Tm.Get")
    def get(self, ctx: actor.Context) -> int:
        return len(self.ticks)

    @actor.on_request("Tm.Hold")
    def hold(self, ctx: actor.Context) -> None:
        self.promise = ctx.defer()  # never answered: the deadline decides


class TimeTest(unittest.TestCase):

    def setUp(self) -> None:
        load_all()
        self.rt = actor.Runtime(manual=True, seed=7)

    def tearDown(self) -> None:
        self.rt.close()

    def test_manual_runtime_clock(self) -> None:
        rt = self.rt
        self.assertTrue(rt.manual)
        self.assertEqual(rt.now(), 0.0)
        self.assertEqual(rt.stats()["threads"], 0)
        self.assertFalse(rt.step())  # idle
        rt.advance(1.25)
        self.assertEqual(rt.now(), 1.25)
        with actor.Runtime(threads=1) as threaded:
            with self.assertRaises(actor.InvalidArgument):
                threaded.step()

    def test_repeating_timer(self) -> None:
        rt = self.rt
        inst = Ticker()
        a = rt.spawn(inst)
        self.assertEqual(rt.run(), 1)          # initialize
        rt.advance(0.499)
        self.assertEqual(inst.ticks, [])       # never before its time
        rt.advance(0.001)
        self.assertEqual(inst.ticks, [5])      # at 0.5
        rt.advance(0.5)
        self.assertEqual(len(inst.ticks), 3)   # 0.75, 1.0
        self.assertEqual(a.ask("Tm.Get").result(), 3)  # result() runs the runtime
        rt.advance(10)
        self.assertEqual(len(inst.ticks), 4)   # cancelled at the 4th
        self.assertTrue(inst.cancelled)
        self.assertFalse(inst.again)

    def test_request_expires_at_its_deadline(self) -> None:
        rt = self.rt
        inst = Ticker()
        a = rt.spawn(inst)
        r = a.ask("Tm.Hold", timeout=0.3)
        rt.run()
        self.assertIsNotNone(inst.promise)     # handled, deferred, unanswered
        rt.advance(0.299)
        self.assertFalse(r.done())
        rt.advance(0.001)
        self.assertTrue(r.done())
        with self.assertRaises(actor.Expired) as cm:
            r.result()
        self.assertIsInstance(cm.exception, actor.Timeout)
        self.assertEqual(cm.exception.code, -14)
        # A late answer goes nowhere.
        assert inst.promise is not None
        inst.promise.resolve(1)
        # A deadline of 0: never handled.
        r0 = a.ask("Tm.Get", timeout=0)
        rt.run()
        with self.assertRaises(actor.Expired):
            r0.result()
        self.assertGreaterEqual(a.stats()["expired"], 1)

    def test_expired_when_awaited(self) -> None:
        with actor.Runtime(threads=2) as rt:
            a = rt.spawn(Ticker)

            async def main() -> Any:
                with self.assertRaises(actor.Expired):
                    await a.ask("Tm.Hold", timeout=0.05)
                return await a.ask("Tm.Get", timeout=limit(5))

            self.assertIsInstance(asyncio.run(asyncio.wait_for(main(), limit(10))), int)

    def test_bad_arguments(self) -> None:
        a = self.rt.spawn(Ticker)
        with self.assertRaises(ValueError):
            a.ask("Tm.Get", timeout=-1)
        with self.assertRaises(TypeError):
            a.ask("Tm.Get", timeout="1")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            a.ask("Tm.Get", deadline=1)  # type: ignore[call-arg]
        self.rt.run()

    def test_error_classes(self) -> None:
        from actor._errors import error
        self.assertEqual(actor.Expired.code, actor._core.ACTOR_EEXPIRED)
        self.assertTrue(issubclass(actor.Expired, actor.Timeout))
        self.assertTrue(issubclass(actor.Expired, TimeoutError))
        self.assertIs(type(error(-14)), actor.Expired)
        self.assertIs(type(error(-13)), actor.NotFound)
        self.assertTrue(issubclass(actor.NotFound, LookupError))

    def test_same_seed_same_order(self) -> None:
        def trace(seed: int) -> list[int]:
            order: list[int] = []

            class Rec(actor.Actor):
                @actor.on_event("Tm.Tick")
                def tick(self, ctx: actor.Context, v: int) -> None:
                    order.append(v)

            with actor.Runtime(manual=True, seed=seed) as rt:
                addrs = [rt.spawn(Rec) for _ in range(8)]
                for i, a in enumerate(addrs):
                    a.send("Tm.Tick", i)
                rt.run()
            return order

        self.assertEqual(trace(3), trace(3))
        self.assertEqual(sorted(trace(3)), list(range(8)))


if __name__ == "__main__":
    unittest.main()
