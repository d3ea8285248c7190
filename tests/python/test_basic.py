"""The basics: load, define, find, Runtime, spawn, send, ask/result,
interrupt, join, done; blocking calls release the GIL."""

import gc
import os
import pathlib
import signal
import threading
import time
import unittest
import weakref

import actor
import actor._core
from _util import (CALCULATOR, TEST_PLUGIN, RuntimeCase, limit, load_all, need_calculator,
                   need_test_plugin)


class TestModule(unittest.TestCase):
    def test_version(self) -> None:
        self.assertRegex(actor.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(actor.__version__, actor.version())

    def test_public_names(self) -> None:
        for name in ("load", "define", "find", "Runtime", "Address", "Responder", "MsgType",
                     "Actor", "on_event", "on_request", "ActorError", "Closed", "Canceled",
                     "NoHandler", "TypeMismatch", "HandlerError", "Deadlock", "Full",
                     "Timeout", "InvalidArgument"):
            self.assertTrue(hasattr(actor, name), name)


class TestLoad(unittest.TestCase):
    @need_calculator
    def test_load_twice(self) -> None:
        actor.load(CALCULATOR)
        actor.load(CALCULATOR)  # loading again is fine
        actor.load(pathlib.Path(CALCULATOR))  # path-like
        self.assertIsNotNone(actor.find("Sum"))

    def test_load_missing(self) -> None:
        with self.assertRaises(actor.InvalidArgument) as cm:
            actor.load("/nonexistent/libnothing.so")
        self.assertIn("no such file", str(cm.exception))
        self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(cm.exception.code, actor._core.ACTOR_EINVAL)

    def test_load_not_a_plugin(self) -> None:
        # A shared object without actor_plugin_init: the extension module itself.
        with self.assertRaises(actor.InvalidArgument):
            actor.load(getattr(actor._core, "__core").__file__)
        with self.assertRaises(actor.InvalidArgument):
            actor.load(__file__)  # not a shared object at all

    def test_load_bad_argument(self) -> None:
        with self.assertRaises(TypeError):
            actor.load(42)  # type: ignore[arg-type]
        with self.assertRaises(actor.InvalidArgument):
            actor.load("a\0b")


class TestMsgTypes(unittest.TestCase):
    def test_define_and_find(self) -> None:
        t = actor.define("Basic.Pair", "qd", "q")
        self.assertIsInstance(t, actor.MsgType)
        self.assertEqual((t.name, t.layout, t.reply_layout), ("Basic.Pair", "qd", "q"))
        self.assertEqual((t.size, t.reply_size), (16, 8))
        self.assertIs(actor.define("Basic.Pair", "qd", "q"), t)
        self.assertIs(actor.find("Basic.Pair"), t)
        self.assertIn("Basic.Pair", repr(t))

    def test_opaque_and_empty(self) -> None:
        o = actor.define("Basic.Opaque")
        self.assertIsNone(o.layout)
        self.assertIsNone(o.reply_layout)
        self.assertEqual(o.size, 0)
        e = actor.define("Basic.Empty", "", "")
        self.assertEqual((e.layout, e.reply_layout, e.size), ("", "", 0))

    def test_find_unknown(self) -> None:
        self.assertIsNone(actor.find("Basic.NeverDefined"))

    def test_redefine_other_layouts(self) -> None:
        actor.define("Basic.Fixed", "i", "i")
        with self.assertRaises(actor.TypeMismatch) as cm:
            actor.define("Basic.Fixed", "q", "i")
        self.assertIsInstance(cm.exception, TypeError)
        self.assertEqual(cm.exception.code, actor._core.ACTOR_ETYPE)
        with self.assertRaises(actor.TypeMismatch):
            actor.define("Basic.Fixed", "i", None)
        # "2i" and "ii" differ as strings
        with self.assertRaises(actor.TypeMismatch):
            actor.define("Basic.Fixed", "1i", "i")

    def test_bad_names_and_layouts(self) -> None:
        for name in ("", "has space", "x" * 65, "semi;colon", "é"):
            with self.assertRaises(actor.InvalidArgument, msg=repr(name)):
                actor.define(name, "q")
        for layout in ("<q", "q q", "z", "qq!", "@i", "p"):
            with self.assertRaises(actor.InvalidArgument, msg=repr(layout)):
                actor.define("Basic.BadLayout", layout)
        with self.assertRaises(TypeError):
            actor.define(12, "q")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            actor.define("Basic.X", 5)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            actor.find(None)  # type: ignore[arg-type]

    def test_pack(self) -> None:
        t = actor.define("Basic.Packed", "hB", "q")
        self.assertEqual(t.pack(-2, 255), b"\xfe\xff\xff")
        self.assertEqual(t.unpack_reply((7).to_bytes(8, "little")), 7)


@need_calculator
class TestRuntime(unittest.TestCase):
    def setUp(self) -> None:
        load_all()

    def test_context_manager(self) -> None:
        with actor.Runtime(threads=2) as rt:
            self.assertFalse(rt.closed)
            calc = rt.spawn("Calculator")
            self.assertEqual(calc.ask("Sum", 1, 2).result(timeout=limit(1.0)), 3)
        self.assertTrue(rt.closed)
        self.assertTrue(calc.done)
        with self.assertRaises(actor.Closed):
            rt.spawn("Calculator")
        with self.assertRaises(actor.Closed):
            calc.ask("Sum", 1, 2)
        rt.close()  # idempotent

    def test_default_threads(self) -> None:
        with actor.Runtime() as rt:
            self.assertEqual(rt.spawn("Calculator").ask("Sum", 2, 2).result(limit(1)), 4)

    def test_bad_threads(self) -> None:
        with self.assertRaises(ValueError):
            actor.Runtime(threads=-1)
        with self.assertRaises(TypeError):
            actor.Runtime(threads="2")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            actor.Runtime(threads=2.0)  # type: ignore[arg-type]
        with self.assertRaises(actor.InvalidArgument):
            actor.Runtime(threads=100000)

    def test_shutdown_then_close(self) -> None:
        rt = actor.Runtime(threads=1)
        calc = rt.spawn("Calculator")
        rt.shutdown(timeout=limit(2))
        self.assertTrue(calc.done)
        with self.assertRaises(actor.Closed):
            rt.spawn("Calculator")
        rt.close()

    def test_dropped_runtime_is_shut_down(self) -> None:
        rt = actor.Runtime(threads=1)
        calc = rt.spawn("Calculator")
        ref = weakref.ref(rt)
        del rt
        gc.collect()
        # the address keeps its runtime alive
        self.assertIsNotNone(ref())
        self.assertEqual(calc.ask("Sum", 1, 1).result(limit(1)), 2)
        del calc
        gc.collect()
        self.assertIsNone(ref())

    def test_spawn_errors(self) -> None:
        with actor.Runtime(threads=1) as rt:
            with self.assertRaises(actor.InvalidArgument):
                rt.spawn("NoSuchClass")
            with self.assertRaises(TypeError):
                rt.spawn(42)  # type: ignore[arg-type]
            with self.assertRaises(TypeError):
                rt.spawn(actor.Actor)


class TestAddress(RuntimeCase):
    @need_calculator
    def test_many_sequential_asks(self) -> None:
        calc = self.rt.spawn("Calculator")
        Sum = actor.find("Sum")
        assert Sum is not None
        for i in range(5000):
            self.assertEqual(calc.ask(Sum, i, -2 * i).result(limit(2)), -i)

    @need_test_plugin
    def test_send(self) -> None:
        echo = self.rt.spawn("Echo")
        echo.send("Echo.Print", b"hello")
        print_type = actor.find("Echo.Print")
        assert print_type is not None
        echo.send(print_type, bytearray(b"abc"))
        echo.send("Echo.Print", memoryview(b"0123456789")[2:4])
        self.assertEqual(echo.ask("Echo.Count").result(limit(1)), 10)

    @need_calculator
    def test_interrupt_join_done(self) -> None:
        calc = self.rt.spawn("Calculator")
        self.assertFalse(calc.done)
        with self.assertRaises(actor.Timeout) as cm:
            calc.join(timeout=0.05)
        self.assertIsInstance(cm.exception, TimeoutError)
        calc.interrupt()
        calc.join(timeout=limit(1.0))
        self.assertTrue(calc.done)
        with self.assertRaises(actor.Closed):
            calc.interrupt()
        with self.assertRaises(actor.Closed):
            calc.ask("Sum", 1, 2)

    @need_calculator
    def test_release(self) -> None:
        calc = self.rt.spawn("Calculator")
        other = self.rt.spawn("Calculator")
        self.assertEqual(calc, calc)
        self.assertNotEqual(calc, other)
        self.assertEqual(len({calc, other}), 2)
        calc.release()
        calc.release()  # idempotent
        self.assertIn("released", repr(calc))
        self.assertFalse(calc.done)
        with self.assertRaises(actor.Closed):
            calc.ask("Sum", 1, 2)
        with self.assertRaises(actor.Closed):
            calc.join(0)
        # the last address gone, the actor stops by itself
        with other:
            pass
        self.assertIsNone(other._ptr)

    @need_test_plugin
    def test_result_timeout_then_value(self) -> None:
        echo = self.rt.spawn("Echo")
        r = echo.ask("Echo.Slow", int(limit(300)))
        self.assertFalse(r.done())
        self.assertEqual(r.status, actor._core.ACTOR_EAGAIN)
        with self.assertRaises(actor.Timeout):
            r.result(timeout=0.01)
        with self.assertRaises(actor.Timeout):
            r.result(timeout=0)
        self.assertEqual(r.result(timeout=limit(5)), int(limit(300)))
        self.assertTrue(r.done())
        self.assertEqual(r.result(), int(limit(300)))  # again: the same value
        self.assertIsNone(r.exception())
        self.assertIn("ok", repr(r))

    @need_test_plugin
    def test_result_releases_the_gil(self) -> None:
        echo = self.rt.spawn("Echo")
        stop = threading.Event()
        count = [0]

        def spin() -> None:
            while not stop.is_set():
                count[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        try:
            deadline = time.monotonic() + limit(5)
            while count[0] == 0 and time.monotonic() < deadline:
                pass  # until the spinner runs
            before = count[0]
            echo.ask("Echo.Slow", 200).result(timeout=limit(5))
            during = count[0] - before
        finally:
            stop.set()
            t.join()
        # With the GIL held for 200 ms the other thread could not count at all.
        self.assertGreater(during, 1000)

    @need_test_plugin
    def test_join_releases_the_gil(self) -> None:
        echo = self.rt.spawn("Echo")
        echo.ask("Echo.Slow", 500)
        echo.interrupt()
        ticks: list[None] = []

        def tick() -> None:
            for _ in range(10):
                time.sleep(0.005)
                ticks.append(None)
        t = threading.Thread(target=tick)
        t.start()
        echo.join(timeout=limit(5))
        at_join = len(ticks)  # 50 ms of ticks fit in a 500 ms join without the GIL
        t.join()
        self.assertEqual(at_join, 10)

    @need_test_plugin
    def test_ctrl_c_interrupts_a_wait(self) -> None:
        echo = self.rt.spawn("Echo")
        r = echo.ask("Echo.Hold")  # never answered while the actor lives
        timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
        start = time.monotonic()
        timer.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                r.result()
        finally:
            timer.cancel()
        self.assertLess(time.monotonic() - start, limit(3))
        self.assertFalse(r.done())
        echo.interrupt()
        with self.assertRaises(actor.Canceled):
            r.result(timeout=limit(2))


if __name__ == "__main__":
    unittest.main()
