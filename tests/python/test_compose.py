"""1.1 Composition from Python: catch-all event handlers (on_any_event),
topics (subscribe / publish; a C publisher), pools of Python actors."""

import threading
import unittest
from typing import Optional, Union

import actor
from _util import limit, load_all, need_test_plugin

actor.define("Co.Note", "q")
actor.define("Co.Who", "", "q")
actor.define("Co.Work", "q", "q")


class Listener(actor.Actor):
    def initialize(self, ctx: actor.Context) -> None:
        self.heard: list[tuple[str, bytes]] = []
        self.failed: list[tuple[str, Union[BaseException, int]]] = []

    def on_any_event(self, ctx: actor.Context, type: actor.MsgType, payload: bytes) -> None:
        if type.name == "Co.Note" and payload == (13).to_bytes(8, "little"):
            raise RuntimeError("unlucky")
        self.heard.append((type.name, payload))

    def fallback(self, ctx: actor.Context, type: Optional[actor.MsgType],
                 error: Union[BaseException, int]) -> None:
        assert type is not None
        self.failed.append((type.name, error))


class Member(actor.Actor):
    made = 0
    lock = threading.Lock()

    def initialize(self, ctx: actor.Context) -> None:
        with Member.lock:
            Member.made += 1
            self.serial = Member.made

    @actor.on_request("Co.Who")
    def who(self, ctx: actor.Context) -> int:
        return self.serial

    @actor.on_request("Co.Work")
    def work(self, ctx: actor.Context, n: int) -> int:
        return n * 2


class ComposeTest(unittest.TestCase):

    def setUp(self) -> None:
        load_all()

    def test_on_any_event(self) -> None:
        with actor.Runtime(manual=True, seed=5) as rt:
            inst = Listener()
            a = rt.spawn(inst)
            a.send("Co.Note", 1)
            a.send("Co.Note", 13)
            rt.run()
            self.assertEqual(inst.heard, [("Co.Note", (1).to_bytes(8, "little"))])
            self.assertEqual(len(inst.failed), 1)
            self.assertEqual(inst.failed[0][0], "Co.Note")
            self.assertIsInstance(inst.failed[0][1], RuntimeError)
            # Requests are not caught by it: still NoHandler.
            with self.assertRaises(actor.NoHandler):
                a.ask("Co.Who")

    @need_test_plugin
    def test_python_subscriber_c_publisher(self) -> None:
        with actor.Runtime(manual=True, seed=5) as rt:
            inst = Listener()
            sub = rt.spawn(inst)
            sub.subscribe("news.*")
            with self.assertRaises(actor.Busy):
                sub.subscribe("news.*")
            with self.assertRaises(actor.InvalidArgument):
                sub.subscribe("news..x")
            pub = rt.spawn("Pub")     # C: Pub.Go publishes Pub.News on "news.c"
            pub.send("Pub.Go", 42)
            rt.run()
            self.assertEqual(inst.heard, [("Pub.News", (42).to_bytes(8, "little"))])
            # From Python too: the count of actors that took it.
            self.assertEqual(rt.publish("news.py", "Pub.News", 7), 1)
            self.assertEqual(rt.publish("other.py", "Pub.News", 8), 0)
            rt.run()
            self.assertEqual([p for _, p in inst.heard][1:], [(7).to_bytes(8, "little")])
            self.assertTrue(sub.unsubscribe("news.*"))
            self.assertFalse(sub.unsubscribe("news.*"))
            self.assertEqual(rt.publish("news.py", "Pub.News", 9), 0)

    def test_pool_of_python_actors(self) -> None:
        with actor.Runtime(manual=True, seed=5) as rt:
            Member.made = 0
            p = rt.pool(Member, members=4, route="round_robin")
            rt.run()
            serials = [p.ask("Co.Who").result() for _ in range(8)]
            self.assertEqual(sorted(set(serials)), [1, 2, 3, 4])  # one instance each
            self.assertEqual(serials[:4], serials[4:])            # in turn
            self.assertEqual(p.stats()["handled"], 8)
            with self.assertRaises(ValueError):
                rt.pool(Member, route="random")  # type: ignore[arg-type]

    def test_pool_threaded(self) -> None:
        with actor.Runtime(threads=2) as rt:
            p = rt.pool(Member, members=4)
            rs = [p.ask("Co.Work", i) for i in range(200)]
            self.assertEqual([r.result(timeout=limit(10)) for r in rs],
                             [2 * i for i in range(200)])


if __name__ == "__main__":
    unittest.main()
