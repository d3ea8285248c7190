"""1.1 Failure from Python: exit reasons, ctx.fail, monitors (@actor.on_down),
supervisors (a Python class next to a C class in one tree), names."""

import itertools
import unittest
from typing import Optional

import actor
from _util import load_all, need_test_plugin

actor.define("Fa.Crash", "i")
actor.define("Fa.Get", "", "q")
actor.define("Fa.Watch", "")
actor.define("Fa.Unwatch", "")

_made = itertools.count(1)


class Worker(actor.Actor):
    """Each instance gets a serial number: a restart makes a fresh one."""

    def initialize(self, ctx: actor.Context) -> None:
        self.serial = next(_made)
        self.calls = 0

    @actor.on_event("Fa.Crash")
    def crash(self, ctx: actor.Context, code: int) -> None:
        if code:
            ctx.fail(code)
        else:
            ctx.stop()

    @actor.on_request("Fa.Get")
    def get(self, ctx: actor.Context) -> int:
        self.calls += 1
        return self.serial * 1000 + self.calls


class Watcher(actor.Actor):
    def __init__(self, target: actor.Address) -> None:
        self.target = target
        self.downs: list[tuple[actor.Address, int]] = []

    @actor.on_event("Fa.Watch")
    def watch(self, ctx: actor.Context) -> None:
        ctx.monitor(self.target)

    @actor.on_event("Fa.Unwatch")
    def unwatch(self, ctx: actor.Context) -> None:
        ctx.demonitor(self.target)

    @actor.on_down
    def down(self, ctx: actor.Context, who: actor.Address, reason: int) -> None:
        self.downs.append((who, reason))


class NoDown(actor.Actor):
    def __init__(self, target: actor.Address) -> None:
        self.target = target
        self.error: Optional[actor.ActorError] = None

    @actor.on_event("Fa.Watch")
    def watch(self, ctx: actor.Context) -> None:
        try:
            ctx.monitor(self.target)
        except actor.ActorError as e:
            self.error = e


class FailureTest(unittest.TestCase):

    def setUp(self) -> None:
        load_all()
        self.rt = actor.Runtime(manual=True, seed=11)

    def tearDown(self) -> None:
        self.rt.close()

    def test_exit_reason_and_fail(self) -> None:
        rt = self.rt
        a = rt.spawn(Worker)
        b = rt.spawn(Worker)
        rt.run()
        self.assertIsNone(a.exit_reason)
        a.send("Fa.Crash", 7)
        b.send("Fa.Crash", 0)
        rt.run()
        self.assertEqual(a.exit_reason, 7)
        self.assertEqual(b.exit_reason, 0)
        self.assertTrue(a.done and b.done)

    def test_monitor(self) -> None:
        rt = self.rt
        target = rt.spawn(Worker)
        w = Watcher(target)
        wa = rt.spawn(w)
        wa.send("Fa.Watch")
        rt.run()
        target.send("Fa.Crash", 9)
        rt.run()
        self.assertEqual(len(w.downs), 1)
        who, reason = w.downs[0]
        self.assertEqual(who, target)
        self.assertEqual(reason, 9)
        # Monitoring one that is Done already: Down at once.
        wa.send("Fa.Watch")
        rt.run()
        self.assertEqual([r for _, r in w.downs], [9, 9])
        # demonitor: no Down afterwards; NotFound when not monitoring.
        t2 = rt.spawn(Worker)
        w.target = t2
        wa.send("Fa.Watch")
        wa.send("Fa.Unwatch")
        rt.run()
        t2.send("Fa.Crash", 3)
        rt.run()
        self.assertEqual(len(w.downs), 2)
        # A class without @on_down cannot monitor.
        n = NoDown(t2)
        rt.spawn(n).send("Fa.Watch")
        rt.run()
        self.assertIsInstance(n.error, actor.NoHandler)

    @need_test_plugin
    def test_supervisor_python_and_c_children(self) -> None:
        rt = self.rt
        sup = rt.supervisor(strategy="one_for_one", intensity=5, period=10.0)
        self.assertIsInstance(sup, actor.Address)
        py = sup.start_child(Worker)
        c = sup.start_child("Pub")
        rt.run()
        first = py.ask("Fa.Get").result()
        self.assertEqual(first % 1000, 1)
        c.send("Pub.Go", 1)
        self.assertEqual(c.ask("Pub.Ping").result(), 1)
        # The Python child fails: restarted in place with a fresh instance.
        py.send("Fa.Crash", 5)
        rt.run()
        again = py.ask("Fa.Get").result()
        self.assertEqual(again % 1000, 1)            # a fresh instance: calls from 1
        self.assertGreater(again // 1000, first // 1000)  # another serial
        self.assertEqual(py.restarts, 1)
        self.assertIsNone(py.exit_reason)
        # The C child fails: restarted with a fresh (zeroed) state.
        c.send("Pub.Crash")
        rt.run()
        self.assertEqual(c.ask("Pub.Ping").result(), 0)
        self.assertEqual(c.restarts, 1)
        self.assertEqual(py.restarts, 1)             # one_for_one: the other untouched
        # "temporary" children are not restarted; stop_child stops for good.
        tmp = sup.start_child(Worker, restart="temporary")
        rt.run()
        tmp.send("Fa.Crash", 4)
        rt.run()
        self.assertEqual(tmp.exit_reason, 4)
        sup.stop_child(py)
        rt.run()
        self.assertTrue(py.done)
        with self.assertRaises(actor.NotFound):
            sup.stop_child(py)
        with self.assertRaises(ValueError):
            sup.start_child(Worker, restart="sometimes")  # type: ignore[arg-type]

    def test_supervisor_gives_up(self) -> None:
        rt = self.rt
        sup = rt.supervisor(intensity=1, period=10.0)
        child = sup.start_child(Worker)
        rt.run()
        child.send("Fa.Crash", 2)
        rt.run()
        child.send("Fa.Crash", 2)  # a second restart within the period: too many
        rt.run()
        self.assertTrue(sup.done)
        self.assertEqual(sup.exit_reason, 2)
        self.assertTrue(child.done)

    def test_supervision_tree_escalates(self) -> None:
        rt = self.rt
        top = rt.supervisor(intensity=3, period=10.0)
        sub = top.start_supervisor(intensity=0, period=10.0)
        self.assertIsInstance(sub, actor.Supervisor)
        child = sub.start_child(Worker)
        rt.run()
        first = child.ask("Fa.Get").result()
        child.send("Fa.Crash", 6)  # sub gives up at once; top restarts sub in place
        rt.run()
        self.assertFalse(sub.done)
        self.assertEqual(sub.restarts, 1)
        again = child.ask("Fa.Get").result()  # the same address, a fresh instance
        self.assertGreater(again // 1000, first // 1000)
        self.assertEqual(again % 1000, 1)

    def test_names(self) -> None:
        rt = self.rt
        a = rt.spawn(Worker)
        b = rt.spawn(Worker)
        rt.register("svc.worker", a)
        with self.assertRaises(actor.Busy):
            rt.register("svc.worker", b)
        self.assertEqual(rt.lookup("svc.worker"), a)
        self.assertIsNone(rt.lookup("svc.none"))
        with self.assertRaises(actor.InvalidArgument):
            rt.register("bad name", b)
        self.assertTrue(rt.unregister("svc.worker"))
        self.assertFalse(rt.unregister("svc.worker"))
        self.assertIsNone(rt.lookup("svc.worker"))


if __name__ == "__main__":
    unittest.main()
