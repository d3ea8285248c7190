"""await on replies: native asyncio through one eventfd per event loop, no
thread parked per pending request, completions pushed by C threads without
the GIL."""

import asyncio
import ctypes
import os
import select
import sys
import threading
import time
import unittest
from typing import Any, Awaitable, TypeVar

import actor
from actor import _core
from _util import RuntimeCase, limit, need_calculator, need_test_plugin

C = getattr(_core, "__core")
T = TypeVar("T")


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def run(coro: Awaitable[T], seconds: float = 10) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, limit(seconds))
    return asyncio.run(bounded())


actor.define("Aio.Get", "", "q")


class Answerer(actor.Actor):
    def __init__(self) -> None:
        self.n = 41

    @actor.on_request("Aio.Get")
    def get(self, ctx: actor.Context) -> int:
        self.n += 1
        return self.n


class TestAwait(RuntimeCase):
    @need_calculator
    def test_await(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> Any:
            return await calc.ask("Sum", 1, 2)
        self.assertEqual(run(main()), 3)

    @need_calculator
    def test_thousand_concurrent_asks(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> Any:
            rs = await asyncio.gather(*(calc.ask("Sum", i, 1000) for i in range(1000)))
            return rs
        self.assertEqual(run(main()), [i + 1000 for i in range(1000)])

    @need_calculator
    def test_many_batches(self) -> None:
        calc = self.rt.spawn("Calculator")

        async def main() -> Any:
            total = 0
            for b in range(20):
                rs = await asyncio.gather(*(calc.ask("Sum", b, i) for i in range(1000)))
                self.assertEqual(rs, [b + i for i in range(1000)])
                total += len(rs)
            for i in range(2000):
                self.assertEqual(await calc.ask("Sum", i, i), 2 * i)
                total += 1
            return total
        self.assertEqual(run(main(), 60), 22000)

    @need_test_plugin
    def test_no_thread_per_pending_request(self) -> None:
        echo = self.rt.spawn("Echo")
        holders = [self.rt.spawn("Echo") for _ in range(16)]
        base = os_threads()

        async def main() -> Any:
            rs = [h.ask("Echo.Hold") for h in holders for _ in range(62)]  # 992 pending
            rs += [echo.ask("Echo.Slow", 1) for _ in range(8)]
            tasks = [asyncio.ensure_future(r) for r in rs]
            await asyncio.sleep(0)  # every task has run its first step: all wait
            await asyncio.sleep(0)
            # nothing parked per request (a thread of an earlier test may
            # still be ending: at most as many as before)
            self.assertLessEqual(os_threads(), base)
            self.assertEqual(sum(t.done() for t in tasks[:992]), 0)
            for h in holders:
                h.interrupt()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            return results
        results = run(main())
        self.assertTrue(all(isinstance(r, actor.Canceled) for r in results[:992]))
        self.assertEqual(results[992:], [1] * 8)

    @need_test_plugin
    def test_exceptions_through_await(self) -> None:
        echo = self.rt.spawn("Echo")

        async def main() -> None:
            with self.assertRaises(actor.HandlerError) as cm:
                await echo.ask("Echo.Fail", 9)
            self.assertEqual(cm.exception.handler_code, 9)
            with self.assertRaises(actor.Canceled):
                await echo.ask("Echo.Fail", 0)
            r = echo.ask("Echo.Hold")
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(r, 0.02)
        run(main())

    @need_calculator
    def test_await_completed_responder(self) -> None:
        calc = self.rt.spawn("Calculator")
        r = calc.ask("Sum", 2, 3)
        r.result(limit(1))

        async def main() -> Any:
            return await r, await r
        self.assertEqual(run(main()), (5, 5))

    @need_test_plugin
    def test_two_awaiters(self) -> None:
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            r = echo.ask("Echo.Slow", 20)

            async def wait() -> Any:
                return await r
            return await asyncio.gather(wait(), wait(), wait())
        self.assertEqual(run(main()), [20, 20, 20])

    @need_test_plugin
    def test_cancelled_awaiter_then_again(self) -> None:
        echo = self.rt.spawn("Echo")

        async def wait(r: actor.Responder) -> Any:
            return await r

        async def main() -> Any:
            r = echo.ask("Echo.Slow", int(limit(100)))
            t = asyncio.ensure_future(wait(r))  # a task awaiting r
            await asyncio.sleep(0)
            t.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await t
            self.assertTrue(r.cancelled())  # the task's cancel reached r's wait
            self.assertEqual(r.status, C.ACTOR_EAGAIN)  # the request goes on
            with self.assertRaises(asyncio.CancelledError):
                await r  # a cancelled responder stays done (asyncio's rule)
            return await r.again()  # a fresh wait for the same request
        self.assertEqual(run(main()), int(limit(100)))

    @need_test_plugin
    def test_abandoned_awaits(self) -> None:
        # Tasks cancelled while pending: their responders are freed before
        # completing; the completions that still come are ignored.
        echo = self.rt.spawn("Echo")

        async def main() -> Any:
            tasks = [asyncio.ensure_future(echo.ask("Echo.Slow", 1)) for _ in range(200)]
            tasks += [asyncio.ensure_future(echo.ask("Echo.Hold")) for _ in range(50)]
            await asyncio.sleep(0)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # behind every abandoned request in the mailbox: they all completed
            return await echo.ask("Echo.Slow", 2)
        self.assertEqual(run(main()), 2)
        echo.interrupt()
        echo.join(limit(2))

    @need_calculator
    def test_many_loops(self) -> None:
        calc = self.rt.spawn("Calculator")
        for i in range(20):
            async def main() -> Any:
                return await asyncio.gather(*(calc.ask("Sum", i, j) for j in range(50)))
            self.assertEqual(run(main()), [i + j for j in range(50)])

    @need_calculator
    def test_loops_in_threads(self) -> None:
        calc = self.rt.spawn("Calculator")
        results = {}

        def worker(k: int) -> None:
            async def main() -> Any:
                return await asyncio.gather(*(calc.ask("Sum", k, j) for j in range(300)))
            results[k] = run(main())

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(limit(30))
        for k in range(4):
            self.assertEqual(results[k], [k + j for j in range(300)])

    def test_await_python_actor(self) -> None:
        a = self.rt.spawn(Answerer())

        async def main() -> Any:
            return await asyncio.gather(*(a.ask("Aio.Get") for _ in range(100)))
        self.assertEqual(sorted(run(main())), list(range(42, 142)))

    @need_calculator
    def test_await_outside_a_loop(self) -> None:
        calc = self.rt.spawn("Calculator")
        r = calc.ask("Sum", 1, 1)
        r.result(limit(1))
        # complete: await returns at once, even driven by hand
        gen = r.__await__()
        with self.assertRaises(StopIteration) as cm:
            next(gen)
        self.assertEqual(cm.exception.value, 2)


def raw_ask(addr: actor.Address, name: str, *fields: Any) -> Any:
    """A bare C responder (a SWIG pointer), not a Responder: for the tests of
    the shim's queue itself, which watch and free it by hand."""
    mt = actor.find(name)
    assert mt is not None
    rc, p = C.addr_interact(addr._ptr, mt._ptr, mt.pack(*fields))
    assert rc == 0, rc
    return p


class TestCompletionQueue(RuntimeCase):
    """The shim's queue itself: the fd is written on the empty-to-non-empty
    transition only, and completions need no GIL."""

    @need_test_plugin
    def test_fd_written_once_per_transition(self) -> None:
        echo = self.rt.spawn("Echo")
        q = C.shim_cq_new()
        fd = C.shim_cq_fd(q)
        rs = [raw_ask(echo, "Echo.Hold") for _ in range(3)]
        nodes = []
        for tok, r in enumerate(rs, 1):
            rc, node = C.shim_cq_watch(q, r, tok)
            self.assertEqual(rc, 0)
            nodes.append(node)
        self.assertEqual(select.select([fd], [], [], 0)[0], [])
        # a second callback on the same responder is refused
        self.assertEqual(C.shim_cq_watch(q, rs[0], 99)[0], C.ACTOR_EINVAL)
        echo.interrupt()  # cancels all three
        for r in rs:
            self.assertEqual(C.shim_responder_wait(r, int(limit(2000))), C.ACTOR_ECANCELED)
        self.assertEqual(select.select([fd], [], [], limit(1))[0], [fd])
        # three completions, one write: the eventfd counter is 1
        self.assertEqual(int.from_bytes(os.read(fd, 8), sys.byteorder), 1)
        self.assertEqual(sorted(C.shim_cq_drain(q)), [1, 2, 3])
        self.assertEqual(C.shim_cq_drain(q), [])
        self.assertEqual(select.select([fd], [], [], 0)[0], [])
        for r, node in zip(rs, nodes):
            C.shim_responder_free(r, node)
        C.shim_cq_close(q)

    @need_calculator
    def test_completion_needs_no_gil(self) -> None:
        # Hold the GIL in a C call (ctypes.PyDLL keeps it) while the workers
        # complete the requests: had the callbacks needed the GIL, the
        # responders would still be pending right after.
        calc = self.rt.spawn("Calculator")
        q = C.shim_cq_new()
        fd = C.shim_cq_fd(q)
        usleep = ctypes.PyDLL(None).usleep
        old = sys.getswitchinterval()
        sys.setswitchinterval(30)  # no forced GIL hand-off during the check
        try:
            rs = [raw_ask(calc, "Sum", i, i) for i in range(200)]
            nodes = [C.shim_cq_watch(q, r, i)[1] for i, r in enumerate(rs)]
            # The GIL stays with this thread throughout: usleep keeps it, the
            # status checks do not release it, and nothing else asks for it.
            for _ in range(int(limit(5) / 0.05)):
                usleep(50000)
                if all(C.actor_responder_status(r) == 0 for r in rs):
                    break
            done = [C.actor_responder_status(r) == 0 for r in rs]
        finally:
            sys.setswitchinterval(old)
        self.assertTrue(all(done))
        self.assertEqual(select.select([fd], [], [], 0)[0], [fd])
        self.assertEqual(sorted(C.shim_cq_drain(q)), list(range(200)))
        for r, node in zip(rs, nodes):
            C.shim_responder_free(r, node)
        C.shim_cq_close(q)

    @need_calculator
    def test_completion_of_responders_needs_no_gil(self) -> None:
        # The same through the package: Responders watched by the loop's
        # queue complete while this thread keeps the GIL; the loop then runs
        # their callbacks from its reader.
        calc = self.rt.spawn("Calculator")
        usleep = ctypes.PyDLL(None).usleep

        async def main() -> Any:
            rs = [calc.ask("Sum", i, i) for i in range(200)]
            seen: list[actor.Responder] = []
            old = sys.getswitchinterval()
            sys.setswitchinterval(30)
            try:
                for r in rs:
                    if not r.done():
                        r.add_done_callback(seen.append)
                for _ in range(int(limit(5) / 0.05)):
                    usleep(50000)
                    if all(r.status == 0 for r in rs):
                        break
                done = [r.status == 0 for r in rs]
            finally:
                sys.setswitchinterval(old)
            self.assertTrue(all(done))
            self.assertEqual(await asyncio.gather(*rs), [2 * i for i in range(200)])
            return len(seen)
        run(main())

    @need_test_plugin
    def test_close_with_watches_pending(self) -> None:
        echo = self.rt.spawn("Echo")
        q = C.shim_cq_new()
        r = raw_ask(echo, "Echo.Hold")
        r2 = raw_ask(echo, "Echo.Hold")
        rc, node = C.shim_cq_watch(q, r, 1)
        rc2, node2 = C.shim_cq_watch(q, r2, 2)
        C.shim_cq_close(q)           # the owner goes first
        C.shim_responder_free(r, node)  # freed pending: never fires
        echo.interrupt()              # r2 fires into a closed queue
        self.assertEqual(C.shim_responder_wait(r2, int(limit(2000))), C.ACTOR_ECANCELED)
        C.shim_responder_free(r2, node2)


if __name__ == "__main__":
    unittest.main()
