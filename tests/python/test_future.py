"""A Responder is an asyncio future: gather, wait, wait_for, shield and
as_completed take it as it is (no Task per request). Callbacks run from the
event loop, in their context; cancel() cancels the wait, never the request;
nothing is freed or leaked by cancellation."""

import asyncio
import contextvars
import gc
import threading
import unittest
import weakref
from typing import Any, Awaitable, Callable, TypeVar

import actor
from actor import _core
from actor import _runtime
from _util import RuntimeCase, limit, need_calculator, need_test_plugin

C = getattr(_core, "__core")
T = TypeVar("T")


def run(coro: Awaitable[T], seconds: float = 10) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, limit(seconds))
    return asyncio.run(bounded())


def queue_pending() -> int:
    """Responders registered with the running loop's queue (waiting for C)."""
    q = _runtime._queues.get(asyncio.get_running_loop())
    n: int = 0 if q is None else q.pending
    return n


var = contextvars.ContextVar("var", default="unset")


class TestProtocol(RuntimeCase):
    @need_calculator
    def test_isfuture(self) -> None:
        calc = self.rt.spawn("Calculator")
        r = calc.ask("Sum", 1, 2)
        self.assertTrue(asyncio.isfuture(r))
        self.assertIs(r._asyncio_future_blocking, False)
        self.assertIsInstance(r, actor.Responder)

        async def main() -> Any:
            self.assertIs(asyncio.ensure_future(r), r)  # no Task made
            self.assertIs(r.get_loop(), asyncio.get_running_loop())
            return await r
        self.assertEqual(run(main()), 3)
        # still usable synchronously afterwards, outside any loop
        self.assertEqual(r.result(limit(1)), 3)
        self.assertTrue(r.done())
        self.assertFalse(r.cancelled())

    @need_calculator
    def test_gather_makes_no_task(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> Any:
            before = len(asyncio.all_tasks())
            rs = [calc.ask("Sum", i, 1) for i in range(500)]
            g = asyncio.gather(*rs)
            self.assertEqual(len(asyncio.all_tasks()), before)
            res = await g
            self.assertEqual(queue_pending(), 0)
            return res
        self.assertEqual(run(main()), [i + 1 for i in range(500)])

    @need_calculator
    def test_gather_same_responder_twice(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> Any:
            r = calc.ask("Sum", 2, 2)
            return await asyncio.gather(r, r, calc.ask("Sum", 1, 1))
        self.assertEqual(run(main()), [4, 4, 2])

    @need_test_plugin
    def test_gather_errors(self) -> None:
        echo = self.rt.spawn("Echo")

        async def main() -> None:
            rs = [echo.ask("Echo.Slow", 5), echo.ask("Echo.Fail", 7), echo.ask("Echo.Fail", 0)]
            out = await asyncio.gather(*rs, return_exceptions=True)
            self.assertEqual(out[0], 5)
            self.assertIsInstance(out[1], actor.HandlerError)
            self.assertEqual(out[1].handler_code, 7)
            self.assertIsInstance(out[2], actor.Canceled)
            with self.assertRaises(actor.HandlerError):
                await asyncio.gather(echo.ask("Echo.Slow", 1), echo.ask("Echo.Fail", 3))
        run(main())

    @need_test_plugin
    def test_wait(self) -> None:
        echo = self.rt.spawn("Echo")
        holder = self.rt.spawn("Echo")

        async def main() -> Any:
            fast = echo.ask("Echo.Slow", 1)
            held = holder.ask("Echo.Hold")
            done, pending = await asyncio.wait({fast, held}, timeout=limit(5),
                                              return_when=asyncio.FIRST_COMPLETED)
            self.assertEqual(done, {fast})
            self.assertEqual(pending, {held})
            self.assertFalse(held.cancelled())  # wait cancels nothing
            self.assertEqual(queue_pending(), 0)  # wait removed its callback
            done, pending = await asyncio.wait({held}, timeout=0.01)
            self.assertEqual((done, pending), (set(), {held}))
            holder.interrupt()
            done, pending = await asyncio.wait({held}, timeout=limit(5))
            self.assertEqual(done, {held})
            self.assertIsInstance(held.exception(), actor.Canceled)
            return fast.result()
        self.assertEqual(run(main()), 1)

    @need_test_plugin
    def test_wait_for_timeout_then_the_reply(self) -> None:
        echo = self.rt.spawn("Echo")
        ms = int(limit(200))

        async def main() -> Any:
            r = echo.ask("Echo.Slow", ms)
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(r, 0.01)
            # the wait was cancelled, not the request; nothing was freed
            self.assertTrue(r.cancelled())
            self.assertTrue(r.done())
            self.assertEqual(r.status, C.ACTOR_EAGAIN)
            with self.assertRaises(asyncio.CancelledError):
                r.result()
            self.assertEqual(queue_pending(), 0)
            with self.assertRaises(asyncio.CancelledError):
                await r  # done stays done (asyncio's rule)
            r2 = r.again()  # a fresh responder for the same request
            self.assertIs(r.again(), r2)
            self.assertEqual(await r2, ms)
            self.assertFalse(r2.cancelled())
            self.assertTrue(r.cancelled())
            self.assertEqual(r.status, C.ACTOR_OK)  # reported through r2
            return r2
        r = run(main())
        self.assertEqual(r.status, C.ACTOR_OK)
        self.assertEqual(r.result(), ms)

    @need_test_plugin
    def test_wait_for_timeout_then_sync_wait(self) -> None:
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            r = echo.ask("Echo.Slow", int(limit(100)))
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(r, 0.005)
            return r
        r = run(main())
        # the loop is gone; the request completes all the same
        while r.status == C.ACTOR_EAGAIN:
            C.shim_responder_wait(r._ptr, 10)
        self.assertEqual(r.status, C.ACTOR_OK)

        async def again() -> Any:
            return await r.again()  # another loop: an idle responder moves to it
        self.assertEqual(run(again()), int(limit(100)))

    @need_test_plugin
    def test_cancel_the_awaiting_task(self) -> None:
        echo = self.rt.spawn("Echo")
        held = self.rt.spawn("Echo")

        async def main() -> None:
            r = held.ask("Echo.Hold")
            t = asyncio.ensure_future(self._await(r))
            await asyncio.sleep(0)
            self.assertEqual(queue_pending(), 1)
            t.cancel("stop")
            with self.assertRaises(asyncio.CancelledError):
                await t
            self.assertTrue(r.cancelled())
            self.assertEqual(queue_pending(), 0)
            self.assertEqual(r.status, C.ACTOR_EAGAIN)
            r2 = echo.ask("Echo.Slow", 3)
            t2 = asyncio.ensure_future(self._await(r2))
            await asyncio.sleep(0)
            t2.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await t2
            self.assertEqual(await r2.again(), 3)  # a fresh wait: the reply
            held.interrupt()
            with self.assertRaises(actor.Canceled):
                await r.again()
        run(main())

    async def _await(self, r: actor.Responder) -> Any:
        return await r

    @need_test_plugin
    def test_timeout_context_manager(self) -> None:
        if not hasattr(asyncio, "timeout"):
            self.skipTest("asyncio.timeout is 3.11+")
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            r = echo.ask("Echo.Slow", int(limit(100)))
            with self.assertRaises(TimeoutError):
                async with asyncio.timeout(0.005):  # type: ignore[attr-defined]  # 3.11+
                    await r
            return await r.again()
        self.assertEqual(run(main()), int(limit(100)))

    @need_test_plugin
    def test_shield(self) -> None:
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            r = echo.ask("Echo.Slow", int(limit(50)))
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(r), 0.005)
            self.assertFalse(r.cancelled())
            return await r
        self.assertEqual(run(main()), int(limit(50)))

    @need_calculator
    def test_as_completed(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> Any:
            out: list[int] = []
            for f in asyncio.as_completed([calc.ask("Sum", i, 1) for i in range(50)]):
                out.append(await f)
            return sorted(out)
        self.assertEqual(run(main()), [i + 1 for i in range(50)])


class TestCallbacks(RuntimeCase):
    @need_calculator
    def test_called_from_the_loop_once(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> None:
            r = calc.ask("Sum", 1, 1)
            r.result(limit(1))  # complete already
            calls = []
            r.add_done_callback(lambda f: calls.append((f, threading.get_ident())))
            self.assertEqual(calls, [])  # never inside add_done_callback
            await asyncio.sleep(0)
            self.assertEqual(calls, [(r, threading.get_ident())])
            p = calc.ask("Sum", 2, 2)
            p.add_done_callback(lambda f: calls.append((f, threading.get_ident())))
            await p  # may return before the loop has run p's callbacks
            for _ in range(int(limit(1000))):
                if len(calls) > 1:
                    break
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.01)
            self.assertEqual(calls[1], (p, threading.get_ident()))  # the loop's thread
            self.assertEqual(len(calls), 2)
        run(main())

    @need_test_plugin
    def test_order_context_and_remove(self) -> None:
        echo = self.rt.spawn("Echo")

        async def main() -> None:
            r = echo.ask("Echo.Slow", 20)
            seen: list[tuple[str, str, Any]] = []

            def cb(tag: str) -> Callable[[actor.Responder], None]:
                return lambda f: seen.append((tag, var.get(), f.result()))
            var.set("A")
            a = cb("a")
            r.add_done_callback(a)
            var.set("B")
            b = cb("b")
            r.add_done_callback(b)
            r.add_done_callback(cb("c"), context=contextvars.Context())
            r.add_done_callback(b)
            self.assertEqual(r.remove_done_callback(b), 2)
            self.assertEqual(r.remove_done_callback(b), 0)
            await r
            await asyncio.sleep(0)
            self.assertEqual(seen, [("a", "A", 20), ("c", "unset", 20)])
        run(main())

    @need_test_plugin
    def test_remove_lets_it_go(self) -> None:
        holder = self.rt.spawn("Echo")

        async def main() -> None:
            r = holder.ask("Echo.Hold")
            cb = lambda f: None  # noqa: E731
            r.add_done_callback(cb)
            self.assertEqual(queue_pending(), 1)  # kept alive while waited for
            r.remove_done_callback(cb)
            self.assertEqual(queue_pending(), 0)
            ref = weakref.ref(r)
            del r
            gc.collect()
            self.assertIsNone(ref())  # freed while pending
        run(main())
        holder.interrupt()
        holder.join(limit(2))

    @need_calculator
    def test_raising_callback_goes_to_the_handler(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> None:
            loop = asyncio.get_running_loop()
            errors: list[dict[str, Any]] = []
            loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
            r = calc.ask("Sum", 1, 2)
            seen: list[actor.Responder] = []

            def bad(f: actor.Responder) -> None:
                raise ValueError("boom")
            r.add_done_callback(bad)
            r.add_done_callback(seen.append)
            self.assertEqual(await r, 3)  # may return before the callbacks run
            for _ in range(int(limit(1000))):
                if seen:
                    break
                await asyncio.sleep(0.001)
            self.assertEqual(seen, [r])  # the next callback still ran
            self.assertEqual(len(errors), 1)
            self.assertIsInstance(errors[0]["exception"], ValueError)
            self.assertIs(errors[0]["future"], r)
        run(main())

    @need_calculator
    def test_system_exit_in_a_callback(self) -> None:
        calc = self.rt.spawn("Calculator")
        loop = asyncio.new_event_loop()
        try:
            rs = [calc.ask("Sum", i, 0) for i in range(3)]
            for r in rs:
                r.result(limit(1))
            seen: list[actor.Responder] = []

            def leave(f: actor.Responder) -> None:
                raise SystemExit(5)
            asyncio.set_event_loop(loop)
            rs[0].add_done_callback(seen.append)
            rs[0].add_done_callback(leave)
            rs[0].add_done_callback(seen.append)
            rs[1].add_done_callback(seen.append)
            with self.assertRaises(SystemExit):
                loop.run_until_complete(asyncio.sleep(0.01))
            self.assertEqual(seen, [rs[0]])
            loop.run_until_complete(asyncio.sleep(0.01))  # the rest runs later
            self.assertEqual(sorted(map(id, seen)), sorted(map(id, [rs[0], rs[0], rs[1]])))
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def test_bad_arguments(self) -> None:
        a = self.rt.spawn(Answerer())
        r = a.ask("Fut.Get")
        with self.assertRaises(TypeError):
            r.add_done_callback()  # type: ignore[call-arg]
        with self.assertRaises(TypeError):
            r.add_done_callback(print, ctx=None)  # type: ignore[call-arg]
        with self.assertRaises(TypeError):
            r.cancel(1, 2)  # type: ignore[call-arg]
        with self.assertRaises(TypeError):
            r.result(1, 2)  # type: ignore[call-arg]
        self.assertEqual(r.result(limit(1)), 1)


actor.define("Fut.Get", "", "q")


class Answerer(actor.Actor):
    @actor.on_request("Fut.Get")
    def get(self, ctx: actor.Context) -> int:
        return 1


class TestCancel(RuntimeCase):
    @need_test_plugin
    def test_cancel_states(self) -> None:
        holder = self.rt.spawn("Echo")

        async def main() -> None:
            r = holder.ask("Echo.Hold")
            seen: list[bool] = []
            r.add_done_callback(lambda f: seen.append(f.cancelled()))
            self.assertTrue(r.cancel("why"))
            self.assertFalse(r.cancel())  # already
            self.assertTrue(r.done() and r.cancelled())
            self.assertEqual(seen, [])  # from the loop, not from cancel()
            with self.assertRaises(asyncio.CancelledError) as cm:
                r.result()
            self.assertEqual(cm.exception.args, ("why",))
            with self.assertRaises(asyncio.CancelledError):
                r.exception()
            await asyncio.sleep(0)
            self.assertEqual(seen, [True])
            late: list[actor.Responder] = []
            r.add_done_callback(late.append)  # cancelled: scheduled at once
            await asyncio.sleep(0)
            self.assertEqual(late, [r])
            holder.interrupt()
            with self.assertRaises(asyncio.CancelledError):
                await r  # a cancelled responder stays done
            with self.assertRaises(actor.Canceled):
                await r.again()  # a fresh one: the real outcome
            self.assertFalse(r.cancel())  # already cancelled
            self.assertFalse(r.again().cancel())  # complete now
        run(main())

    @need_calculator
    def test_cancel_complete_is_false(self) -> None:
        calc = self.rt.spawn("Calculator")
        r = calc.ask("Sum", 1, 1)
        r.result(limit(1))
        self.assertFalse(r.cancel())
        self.assertFalse(r.cancelled())

    @need_test_plugin
    def test_cancelled_gather_leaks_nothing(self) -> None:
        holders = [self.rt.spawn("Echo") for _ in range(4)]
        refs: list[weakref.ref[actor.Responder]] = []

        async def main() -> None:
            rs = [h.ask("Echo.Hold") for h in holders for _ in range(50)]
            refs.extend(weakref.ref(r) for r in rs)
            g = asyncio.gather(*rs)
            await asyncio.sleep(0)
            self.assertEqual(queue_pending(), 200)
            g.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await g
            self.assertTrue(all(r.cancelled() for r in rs))
            self.assertEqual(queue_pending(), 0)
            del rs, g
        run(main())
        gc.collect()
        self.assertEqual([r for r in refs if r() is not None], [])  # freed, pending
        for h in holders:
            h.interrupt()
            h.join(limit(2))

    @need_test_plugin
    def test_pending_waiters_stay_alive(self) -> None:
        # A task awaiting a responder that nobody else references is kept
        # alive by the loop's queue until the reply comes.
        echo = self.rt.spawn("Echo")
        out: list[int] = []

        async def waiter() -> None:
            out.append(await echo.ask("Echo.Slow", int(limit(30))))

        async def main() -> None:
            asyncio.ensure_future(waiter())  # no reference kept
            await asyncio.sleep(0)
            gc.collect()
            for _ in range(int(limit(500))):
                if out:
                    break
                await asyncio.sleep(0.002)
        run(main())
        self.assertEqual(out, [int(limit(30))])

    @need_test_plugin
    def test_two_awaiters_one_cancelled(self) -> None:
        # Like two tasks awaiting one asyncio future: cancelling one awaiter
        # cancels the shared wait; r.again() waits for the request again.
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            r = echo.ask("Echo.Slow", int(limit(50)))

            async def wait() -> Any:
                return await r
            t1, t2 = asyncio.ensure_future(wait()), asyncio.ensure_future(wait())
            await asyncio.sleep(0)
            t1.cancel()
            res = await asyncio.gather(t1, t2, return_exceptions=True)
            self.assertIsInstance(res[0], asyncio.CancelledError)
            self.assertIsInstance(res[1], asyncio.CancelledError)
            r2 = r.again()

            async def wait2() -> Any:
                return await r2
            return await asyncio.gather(wait2(), wait2())
        self.assertEqual(run(main()), [int(limit(50))] * 2)

    @need_test_plugin
    def test_again_right_after_a_cancel(self) -> None:
        # cancel() then at once a fresh responder awaited by another task:
        # the first awaiter still sees its CancelledError; the second gets
        # the reply.
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            r = echo.ask("Echo.Slow", int(limit(30)))

            async def wait() -> Any:
                return await r
            t1 = asyncio.ensure_future(wait())
            await asyncio.sleep(0)
            t1.cancel()  # r.cancel(): t1's wake-up is queued
            r2 = r.again()

            async def wait2() -> Any:
                return await r2
            t2 = asyncio.ensure_future(wait2())
            res = await asyncio.gather(t1, t2, return_exceptions=True)
            self.assertIsInstance(res[0], asyncio.CancelledError)
            return res[1]
        self.assertEqual(run(main()), int(limit(30)))


class TestLoops(RuntimeCase):
    @need_calculator
    def test_complete_responder_moves_between_loops(self) -> None:
        calc = self.rt.spawn("Calculator")
        r = calc.ask("Sum", 3, 4)

        async def main() -> Any:
            return await asyncio.gather(calc.ask("Sum", 0, 0), r)
        self.assertEqual(run(main()), [0, 7])
        self.assertEqual(run(main()), [0, 7])  # another loop

    @need_calculator
    def test_alternating_live_loops(self) -> None:
        # Two loops alive in one thread, run in turn: each responder binds to
        # the loop running when it is first used there, never to the other.
        calc = self.rt.spawn("Calculator")
        loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]
        try:
            async def main(k: int) -> Any:
                loop = asyncio.get_running_loop()
                rs = [calc.ask("Sum", k, j) for j in range(100)]
                out = await asyncio.gather(*rs)
                self.assertTrue(all(r.get_loop() is loop for r in rs))
                return out
            for k in range(10):
                self.assertEqual(loops[k % 2].run_until_complete(main(k)),
                                 [k + j for j in range(100)])
        finally:
            for lp in loops:
                lp.close()

    @need_calculator
    def test_run_until_complete_with_the_current_loop(self) -> None:
        # Outside a running loop a responder binds to the thread's current
        # event loop (as asyncio.Future() does), so run_until_complete(r)
        # works with that loop.
        calc = self.rt.spawn("Calculator")
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.assertEqual(loop.run_until_complete(calc.ask("Sum", 2, 3)), 5)
            r = calc.ask("Sum", 4, 4)
            r.result(limit(1))
            self.assertEqual(loop.run_until_complete(r), 8)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    @need_test_plugin
    def test_pending_responder_is_watched_by_one_loop(self) -> None:
        holder = self.rt.spawn("Echo")
        r = holder.ask("Echo.Hold")

        async def first() -> None:
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(self._await(r), 0.005)
        run(first())

        async def second() -> None:
            await r.again()
        with self.assertRaises(RuntimeError):  # watched by a loop that is gone
            run(second())
        holder.interrupt()
        with self.assertRaises(asyncio.CancelledError):
            r.result(limit(2))
        with self.assertRaises(actor.Canceled):
            r.again().result(limit(2))

    async def _await(self, r: actor.Responder) -> Any:
        return await r

    @need_calculator
    def test_loops_in_threads(self) -> None:
        calc = self.rt.spawn("Calculator")
        results: dict[int, Any] = {}

        def worker(k: int) -> None:
            async def main() -> Any:
                out: list[int] = []
                for b in range(5):
                    out += await asyncio.gather(*(calc.ask("Sum", k, j) for j in range(200)))
                return out
            results[k] = run(main())

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(limit(30))
        for k in range(4):
            self.assertEqual(results[k], [k + j for j in range(200)] * 5)


_BOUNDS = {"b": (-128, 127), "B": (0, 255), "h": (-32768, 32767), "H": (0, 65535),
           "i": (-2 ** 31, 2 ** 31 - 1), "I": (0, 2 ** 32 - 1),
           "q": (-2 ** 63, 2 ** 63 - 1), "Q": (0, 2 ** 64 - 1)}
for _c in _BOUNDS:
    actor.define("Fut.Int." + _c, _c + _c, _c)  # two fields in, one back


def _echo(self: Any, ctx: actor.Context, a: int, b: int) -> int:
    return a if b == 0 else b


IntEcho = type("IntEcho", (actor.Actor,), {
    "echo_" + c: actor.on_request("Fut.Int." + c)(
        lambda self, ctx, a, b: _echo(self, ctx, a, b)) for c in _BOUNDS})


class TestAsk(RuntimeCase):
    def test_integer_fields_every_code(self) -> None:
        # ask packs exact ints in C and a one-integer reply is unpacked in C:
        # the same values and errors as struct.
        a = self.rt.spawn(IntEcho())
        for c, (lo, hi) in _BOUNDS.items():
            name = "Fut.Int." + c
            for v in (lo, hi, 0, 1, lo + 1, hi - 1, True):
                self.assertEqual(a.ask(name, v, 0).result(limit(2)), v, (c, v))
                self.assertEqual(a.ask(name, 0, v).result(limit(2)), v, (c, v))
            with self.assertRaises(OverflowError):
                a.ask(name, hi + 1, 0)
            with self.assertRaises(OverflowError):
                a.ask(name, 0, lo - 1)
            with self.assertRaises(TypeError):
                a.ask(name, 1.0, 0)
            with self.assertRaises(actor.TypeMismatch):
                a.ask(name, 1)

class TestAskErrors(RuntimeCase):
    @need_calculator
    def test_ask_errors(self) -> None:
        calc = self.rt.spawn("Calculator")
        with self.assertRaises(actor.TypeMismatch):
            calc.ask("Sum", 1)
        with self.assertRaises(TypeError):
            calc.ask("Sum", 1, "x")
        with self.assertRaises(OverflowError):
            calc.ask("Sum", 1, 2 ** 64)
        with self.assertRaises(actor.InvalidArgument):
            calc.ask("No.Such.Type", 1)
        with self.assertRaises(TypeError):
            calc.ask(42)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            calc.ask()  # type: ignore[call-arg]
        with self.assertRaises(TypeError):
            actor.Address.ask(object(), "Sum", 1, 2)  # type: ignore[arg-type]
        sum_type = actor.find("Sum")
        assert sum_type is not None
        self.assertEqual(calc.ask(sum_type, 1, 2).result(limit(1)), 3)
        calc.release()
        with self.assertRaises(actor.Closed):
            calc.ask("Sum", 1, 2)


if __name__ == "__main__":
    unittest.main()
