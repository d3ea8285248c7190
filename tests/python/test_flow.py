"""1.1 Flow from Python: bounded mailboxes (class attribute `mailbox`),
send with a timeout, send_async, stats, the dead-letter hook."""

import asyncio
import threading
import time
import unittest
from typing import Any

import actor
from _util import limit, load_all

actor.define("Fl.Ev", "q")
actor.define("Fl.Sum", "", "q")


class Small(actor.Actor):
    mailbox = (2, "reject")

    def initialize(self, ctx: actor.Context) -> None:
        self.got: list[int] = []

    @actor.on_event("Fl.Ev")
    def ev(self, ctx: actor.Context, v: int) -> None:
        self.got.append(v)

    @actor.on_request("Fl.Sum")
    def sum(self, ctx: actor.Context) -> int:
        return sum(self.got)


class Dropping(Small):
    mailbox = (1, "drop")


class Gate(Small):
    """A bounded actor whose handler waits for a threading.Event: keeps its
    mailbox full until the test opens the gate."""
    gate = threading.Event()  # each test sets its own

    @actor.on_event("Fl.Ev")
    def ev(self, ctx: actor.Context, v: int) -> None:
        self.gate.wait(limit(10))
        self.got.append(v)


class FlowTest(unittest.TestCase):

    def setUp(self) -> None:
        load_all()

    def test_reject_mailbox_and_stats(self) -> None:
        with actor.Runtime(manual=True, seed=1) as rt:
            inst = Small()
            a = rt.spawn(inst)
            rt.run()
            a.send("Fl.Ev", 1)
            a.send("Fl.Ev", 2)
            with self.assertRaises(actor.Full):
                a.send("Fl.Ev", 3)
            with self.assertRaises(actor.Full):
                a.ask("Fl.Sum")
            st = a.stats()
            self.assertEqual(st["queued"], 2)
            self.assertEqual(st["rejected"], 2)
            # With a timeout, send waits for room: on a manual runtime it runs it.
            a.send("Fl.Ev", 3, timeout=1.0)
            rt.run()
            self.assertEqual(inst.got, [1, 2, 3])
            st = a.stats()
            self.assertEqual((st["received"], st["handled"], st["queued_peak"]), (3, 3, 2))
            self.assertEqual(set(st), {"received", "handled", "dropped", "rejected", "expired",
                                       "queued", "queued_peak", "restarts", "canceled"})
            rs = rt.stats()
            self.assertEqual(rs["actors_live"], 1)
            self.assertGreaterEqual(rs["messages_handled"], 3)

    def test_send_timeout_runs_out(self) -> None:
        Gate.gate = threading.Event()
        try:
            with actor.Runtime(threads=1) as rt:
                a = rt.spawn(Gate)
                a.send("Fl.Ev", 1)  # taken by the handler, which waits at the gate
                while a.stats()["handled"] < 1:
                    threading.Event().wait(0.001)
                a.send("Fl.Ev", 2)
                a.send("Fl.Ev", 3)
                with self.assertRaises(actor.Timeout):
                    a.send("Fl.Ev", 4, timeout=0.05)
                opener = threading.Timer(0.05, Gate.gate.set)
                opener.start()
                a.send("Fl.Ev", 4, timeout=limit(10))  # room comes once the gate opens
                opener.join()
                while a.stats()["handled"] < 4:  # room for the ask
                    threading.Event().wait(0.001)
                self.assertEqual(a.ask("Fl.Sum").result(timeout=limit(10)), 10)
        finally:
            Gate.gate.set()

    def test_send_async_waits_for_room(self) -> None:
        with actor.Runtime(threads=2) as rt:
            a = rt.spawn(Small)

            async def main() -> Any:
                for i in range(100):
                    await a.send_async("Fl.Ev", i)
                while True:
                    try:
                        return await a.ask("Fl.Sum")
                    except actor.Full:
                        await asyncio.sleep(0.001)

            self.assertEqual(asyncio.run(asyncio.wait_for(main(), limit(20))), sum(range(100)))
            self.assertEqual(a.stats()["rejected"] >= 0, True)

    def test_send_async_waits_without_polling(self) -> None:
        """On a full mailbox send_async tries once, then waits for the room
        notification (an eventfd): no retry until the actor has taken half
        of its mailbox, then exactly one."""
        from actor import _v11
        core = _v11._core
        real_send_wait, real_watch = core.shim_addr_send_wait, core.shim_room_watch
        tries, watches = [], []

        def counting_send_wait(*args):  # type: ignore[no-untyped-def]
            tries.append(1)
            return real_send_wait(*args)

        def counting_watch(*args):  # type: ignore[no-untyped-def]
            watches.append(1)
            return real_watch(*args)

        Gate.gate = threading.Event()
        core.shim_addr_send_wait, core.shim_room_watch = counting_send_wait, counting_watch
        try:
            with actor.Runtime(threads=1) as rt:
                a = rt.spawn(Gate)
                a.send("Fl.Ev", 1)  # taken: its handler waits at the gate
                while a.stats()["handled"] < 1:
                    threading.Event().wait(0.001)
                a.send("Fl.Ev", 2)
                a.send("Fl.Ev", 3)  # full (2)

                async def main() -> None:
                    task = asyncio.ensure_future(a.send_async("Fl.Ev", 4))
                    deadline = asyncio.get_running_loop().time() + limit(10)
                    while not watches and len(tries) < 2:
                        self.assertLess(asyncio.get_running_loop().time(), deadline)
                        await asyncio.sleep(0.001)
                    await asyncio.sleep(0.1)  # a poll would have retried ~7 times
                    self.assertEqual((len(tries), len(watches)), (1, 1))
                    self.assertFalse(task.done())
                    Gate.gate.set()
                    await asyncio.wait_for(task, limit(10))
                    self.assertEqual((len(tries), len(watches)), (2, 1))

                asyncio.run(main())
                # The mailbox holds 2: ask once the last event is taken.
                deadline = time.monotonic() + limit(10)
                while a.stats()["handled"] < 4:
                    self.assertLess(time.monotonic(), deadline)
                    threading.Event().wait(0.001)
                self.assertEqual(a.ask("Fl.Sum").result(timeout=limit(10)), 10)
        finally:
            core.shim_addr_send_wait, core.shim_room_watch = real_send_wait, real_watch
            Gate.gate.set()

    def test_dead_letters(self) -> None:
        letters: list[tuple[actor.Address, str, bytes, int]] = []
        with actor.Runtime(manual=True, seed=2) as rt:
            rt.on_dead_letter(lambda addr, t, payload, why: letters.append(
                (addr, t, payload, why)))
            d = rt.spawn(Dropping)
            rt.run()
            d.send("Fl.Ev", 1)
            d.send("Fl.Ev", 2)  # dropped: the mailbox holds one
            rt.run()
            self.assertEqual(len(letters), 1)
            addr, t, payload, why = letters[0]
            self.assertEqual(addr, d)
            self.assertEqual(t, "Fl.Ev")
            self.assertEqual(payload, (2).to_bytes(8, "little"))
            self.assertEqual(why, actor.Full.code)
            self.assertEqual(d.stats()["dropped"], 1)
            with self.assertRaises(actor.Busy):
                rt.on_dead_letter(print)  # only before the first spawn
            del addr, letters[:]
            # An event still queued when the actor stops is a dead letter.
            s = rt.spawn(Small)
            rt.run()
            s.send("Fl.Ev", 5)
            s.interrupt()
            s.send("Fl.Ev", 6)
            rt.run()
            self.assertEqual([(t, w) for _, t, _, w in letters], [("Fl.Ev", actor.Closed.code)])

    def test_bad_mailbox(self) -> None:
        class Bad(actor.Actor):
            mailbox = (4, "lose")

        with actor.Runtime(threads=1) as rt:
            with self.assertRaises(ValueError):
                rt.spawn(Bad)


if __name__ == "__main__":
    unittest.main()
