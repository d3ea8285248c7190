"""Using another actor's answer without blocking (ABI 1.1 part 0, issue 9):
responder.forward(ctx) / .forward(addr, tag=n) to an @actor.on_response
handler (with ctx.tag), and responder.then(fn) from any thread. Also the
docstrings that tell Address.done (a property) from Responder.done() (a
method)."""

import asyncio
import logging
import threading
import time
import unittest
from typing import Any, Callable

import actor
from actor import _core
from _util import RuntimeCase, limit, need_calculator, need_test_plugin

C = getattr(_core, "__core")

actor.define("Fw.Go", "q", "q")
actor.define("Fw.Get", "", "q")
actor.define("Fw.Hold", "", "q")
actor.define("Fw.Answer", "q")
actor.define("Fw.Tags", "", None)


def wait_until(cond: Callable[[], object], seconds: float = 5) -> None:
    deadline = time.monotonic() + limit(seconds)
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.001)


class Holder(actor.Actor):
    """Defers Fw.Hold; Fw.Answer(v) resolves what it holds (v < 0: rejects
    with code -v)."""

    def __init__(self) -> None:
        self.held: list[actor.Promise] = []

    @actor.on_request("Fw.Hold")
    def hold(self, ctx: actor.Context) -> None:
        self.held.append(ctx.defer())

    @actor.on_event("Fw.Answer")
    def answer(self, ctx: actor.Context, v: int) -> None:
        held, self.held = self.held, []
        for p in held:
            if v < 0:
                p.reject(-v)
            else:
                p.resolve(v)

    @actor.on_request("Fw.Get")
    def get(self, ctx: actor.Context) -> int:
        return 5


class Summer(actor.Actor):
    """Fw.Go(n): asks the calculator n sums, forwards each to itself with a
    tag, answers with the total once all came back (no thread blocks)."""

    def __init__(self, calc: actor.Address) -> None:
        self.calc = calc
        self.seen: list[tuple[int, int, Any]] = []
        self.tags_outside: list[int] = []

    @actor.on_request("Fw.Go")
    def go(self, ctx: actor.Context, n: int) -> None:
        self.tags_outside.append(ctx.tag)
        self.promise = ctx.defer()
        self.n = n
        for i in range(n):
            self.calc.ask("Sum", i, 1000).forward(ctx, tag=(1 << 64) - 1 - i)

    @actor.on_response("Sum")
    def on_sum(self, ctx: actor.Context, status: int, value: Any) -> None:
        self.seen.append((ctx.tag, status, value))
        if len(self.seen) == self.n:
            self.promise.resolve(sum(v for _, _, v in self.seen))


class Collector(actor.Actor):
    """Records forwarded outcomes of Fw.Hold and Fw.Get."""

    def __init__(self) -> None:
        self.got: list[tuple[int, int, Any]] = []

    @actor.on_response("Fw.Hold")
    def held(self, ctx: actor.Context, status: int, value: Any) -> None:
        self.got.append((ctx.tag, status, value))

    @actor.on_response("Fw.Get")
    def get(self, ctx: actor.Context, status: int, value: Any) -> None:
        self.got.append((ctx.tag, status, value))
        raise ValueError("a failing on_response is logged")


class TestForward(RuntimeCase):
    @need_calculator
    def test_forward_to_self_with_tags(self) -> None:
        calc = self.rt.spawn("Calculator")
        inst = Summer(calc)
        s = self.rt.spawn(inst)
        n = 64
        self.assertEqual(s.ask("Fw.Go", n).result(limit(5)), sum(range(n)) + 1000 * n)
        self.assertEqual(sorted(t for t, _, _ in inst.seen),
                         sorted((1 << 64) - 1 - i for i in range(n)))
        for tag, status, value in inst.seen:  # each answer told apart by its tag
            self.assertEqual(status, 0)
            self.assertEqual(value, (1 << 64) - 1 - tag + 1000)
        self.assertEqual(inst.tags_outside, [0])  # ctx.tag is 0 outside on_response

    def test_forward_from_outside_with_tag(self) -> None:
        h = self.rt.spawn(Holder())
        inst = Collector()
        col = self.rt.spawn(inst)
        r = h.ask("Fw.Hold")
        r.forward(col, tag=7)
        self.assertTrue(r.done())
        with self.assertRaises(actor.InvalidArgument) as cm:
            r.result()
        self.assertIn("forwarded", str(cm.exception))
        self.assertIn("forwarded", repr(r))
        h.send("Fw.Answer", 11)
        wait_until(lambda: len(inst.got) == 1)
        self.assertEqual(inst.got, [(7, 0, 11)])

    def test_failures_reach_on_response(self) -> None:
        h = self.rt.spawn(Holder())
        inst = Collector()
        col = self.rt.spawn(inst)
        h.ask("Fw.Hold").forward(col, tag=1)
        h.send("Fw.Answer", -9)  # rejected: HandlerError
        h.ask("Fw.Hold").forward(col, tag=2)
        h.interrupt()  # stops with it held: Canceled
        wait_until(lambda: len(inst.got) == 2)
        (t1, s1, v1), (t2, s2, v2) = inst.got
        self.assertEqual((t1, s1), (1, C.ACTOR_EHANDLER))
        self.assertIsInstance(v1, actor.HandlerError)
        self.assertIsNone(v1.handler_code)  # not passed with a forwarded outcome
        self.assertEqual((t2, s2), (2, C.ACTOR_ECANCELED))
        self.assertIsInstance(v2, actor.Canceled)

    def test_failing_on_response_is_logged(self) -> None:
        h = self.rt.spawn(Holder())
        inst = Collector()
        col = self.rt.spawn(inst)
        with self.assertLogs("actor", level="ERROR") as logs:
            h.ask("Fw.Get").forward(col)
            wait_until(lambda: len(inst.got) == 1)
            h.ask("Fw.Get").forward(col, tag=2)  # the actor goes on
            wait_until(lambda: len(inst.got) == 2)
        self.assertIn("on_response handler of 'Fw.Get' raised", "\n".join(logs.output))
        self.assertEqual(inst.got, [(0, 0, 5), (2, 0, 5)])

    def test_forward_errors(self) -> None:
        h = self.rt.spawn(Holder())
        col = self.rt.spawn(Collector())
        r = h.ask("Fw.Get")
        with self.assertRaises(actor.NoHandler):
            r.forward(h)  # Holder has no on_response for Fw.Get
        self.assertEqual(r.result(limit(5)), 5)  # not consumed by the failure
        with self.assertRaises(TypeError):
            h.ask("Fw.Get").forward("not an address")  # type: ignore[arg-type]
        for bad in (-1, 1 << 64):
            with self.assertRaises(ValueError):
                h.ask("Fw.Get").forward(col, tag=bad)
        with self.assertRaises(TypeError):
            h.ask("Fw.Get").forward(col, tag=1.5)  # type: ignore[arg-type]
        r = h.ask("Fw.Hold")
        r.forward(col)
        with self.assertRaises(actor.InvalidArgument):
            r.forward(col)  # twice
        with self.assertRaises(actor.InvalidArgument):
            r.then(print)
        r = h.ask("Fw.Hold")
        r.then(lambda r: None)
        with self.assertRaises(actor.InvalidArgument):
            r.forward(col)  # its outcome goes to then() already
        released = h.ask("Fw.Hold")
        c2 = self.rt.spawn(Collector())
        c2.interrupt()
        c2.join(limit(5))
        with self.assertRaises(actor.Closed):
            released.forward(c2)

    def test_forward_of_an_awaited_responder_is_refused(self) -> None:
        h = self.rt.spawn(Holder())
        col = self.rt.spawn(Collector())

        async def main() -> None:
            r = h.ask("Fw.Hold")
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(r, 0.01)
            with self.assertRaises(actor.InvalidArgument):
                r.forward(col)  # the event loop watches it
        asyncio.run(main())

    @need_calculator
    def test_example_flow_in_process(self) -> None:
        # The flow of examples/calculator_forward.py (also run by ctest).
        out: list[str] = []

        class User(actor.Actor):
            def __init__(self, calc: actor.Address) -> None:
                self.calc = calc

            def initialize(self, ctx: actor.Context) -> None:
                self.calc.ask("Sum", 1, 2).forward(ctx)

            @actor.on_response("Sum")
            def on_sum(self, ctx: actor.Context, status: int, value: Any) -> None:
                out.append("Sum: %d" % value)
                ctx.stop()
        calc = self.rt.spawn("Calculator")
        u = self.rt.spawn(User(calc))
        u.join(limit(5))
        self.assertEqual(out, ["Sum: 3"])


class TestThen(RuntimeCase):
    def test_then_runs_on_the_completing_thread(self) -> None:
        h = self.rt.spawn(Holder())
        r = h.ask("Fw.Hold")
        seen: list[tuple[Any, int]] = []
        r.then(lambda x: seen.append((x.result(), threading.get_ident())))
        r.then(lambda x: seen.append(("second", threading.get_ident())))
        self.assertEqual(seen, [])
        h.send("Fw.Answer", 3)
        wait_until(lambda: len(seen) == 2)
        self.assertEqual(seen[0][0], 3)
        self.assertEqual(seen[1][0], "second")  # in the order given
        self.assertNotEqual(seen[0][1], threading.get_ident())  # a worker of the runtime

    def test_then_on_complete_runs_at_once(self) -> None:
        h = self.rt.spawn(Holder())
        r = h.ask("Fw.Get")
        self.assertEqual(r.result(limit(5)), 5)
        seen: list[actor.Responder] = []
        r.then(seen.append)
        self.assertEqual(seen, [r])
        with self.assertRaises(TypeError):
            r.then(42)  # type: ignore[arg-type]

    def test_then_from_many_threads(self) -> None:
        h = self.rt.spawn(Holder())
        n_threads, per = 4, 200
        got: list[int] = []
        lock = threading.Lock()

        def add(r: actor.Responder) -> None:
            with lock:
                got.append(r.result())

        def ask_many() -> None:
            for _ in range(per):
                h.ask("Fw.Get").then(add)
        ts = [threading.Thread(target=ask_many) for _ in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(limit(10))
        wait_until(lambda: len(got) == n_threads * per)
        self.assertEqual(set(got), {5})

    def test_then_inside_a_handler(self) -> None:
        # The way to use an answer inside an actor without blocking: defer,
        # ask, answer from then().
        class Proxy(actor.Actor):
            def __init__(self, target: actor.Address) -> None:
                self.target = target

            @actor.on_request("Fw.Go")
            def go(self, ctx: actor.Context, k: int) -> None:
                p = ctx.defer()
                self.target.ask("Fw.Get").then(lambda r: p.resolve(r.result() * k))
        h = self.rt.spawn(Holder())
        px = self.rt.spawn(Proxy(h))
        self.assertEqual([px.ask("Fw.Go", k).result(limit(5)) for k in range(5)],
                         [5 * k for k in range(5)])

    def test_then_exceptions_are_logged(self) -> None:
        h = self.rt.spawn(Holder())
        r = h.ask("Fw.Hold")
        ran: list[int] = []

        def bad(x: actor.Responder) -> None:
            ran.append(1)
            raise RuntimeError("boom")
        with self.assertLogs("actor", level="ERROR") as logs:
            r.then(bad)
            r.then(lambda x: ran.append(2))
            h.send("Fw.Answer", 1)
            wait_until(lambda: len(ran) == 2)
        self.assertIn("then() callback", "\n".join(logs.output))
        self.assertEqual(ran, [1, 2])

    def test_then_then_await(self) -> None:
        h = self.rt.spawn(Holder())

        async def main() -> Any:
            r = h.ask("Fw.Hold")
            seen: list[actor.Responder] = []
            r.then(seen.append)
            asyncio.get_running_loop().call_later(0.01, h.send, "Fw.Answer", 8)
            v = await asyncio.wait_for(r, limit(5))
            return v, seen
        v, seen = asyncio.run(main())
        self.assertEqual(v, 8)
        self.assertEqual(len(seen), 1)

    def test_then_after_await_is_refused_while_pending(self) -> None:
        h = self.rt.spawn(Holder())

        async def main() -> None:
            r = h.ask("Fw.Hold")
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(r, 0.01)
            with self.assertRaises(actor.InvalidArgument):
                r.then(print)
            r2 = r.again()
            h.send("Fw.Answer", 4)
            self.assertEqual(await asyncio.wait_for(r2, limit(5)), 4)
            seen: list[actor.Responder] = []
            r2.then(seen.append)  # complete: at once
            self.assertEqual(seen, [r2])
        asyncio.run(main())

    def test_then_sees_the_outcome_after_a_cancel(self) -> None:
        # then() before a cancelled wait: fn gets a responder of the request
        # that is not cancelled (the real outcome).
        h = self.rt.spawn(Holder())
        seen: list[Any] = []

        async def main() -> None:
            r = h.ask("Fw.Hold")
            r.then(lambda x: seen.append(x.result()))
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(r, 0.01)
            self.assertTrue(r.cancelled())
        asyncio.run(main())
        h.send("Fw.Answer", 6)
        wait_until(lambda: seen)
        self.assertEqual(seen, [6])


class TestDocstrings(unittest.TestCase):
    def test_done_property_and_method(self) -> None:
        self.assertIsInstance(vars(actor.Address)["done"], property)
        self.assertIn("Responder.done()", actor.Address.done.__doc__ or "")
        self.assertIn("Address.done", actor.Responder.done.__doc__ or "")
        self.assertIn("property", actor.Responder.done.__doc__ or "")
        self.assertIn("done() is a method", actor.Responder.__doc__ or "")


if __name__ == "__main__":
    logging.basicConfig()
    unittest.main()
