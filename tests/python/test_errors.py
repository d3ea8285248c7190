"""Exceptions: one class per C code, and their mapping from real failures;
bad arguments never crash the interpreter."""

import threading
import unittest
from typing import Callable

import actor
from actor import _core
from _util import RuntimeCase, limit, need_calculator, need_test_plugin

C = getattr(_core, "__core")  # the raw extension


class TestHierarchy(unittest.TestCase):
    def test_codes(self) -> None:
        expect: dict[type[actor.ActorError], int] = {
            actor.InvalidArgument: C.ACTOR_EINVAL, actor.NoMemory: C.ACTOR_ENOMEM,
            actor.Closed: C.ACTOR_ECLOSED, actor.Timeout: C.ACTOR_ETIMEDOUT,
            actor.Canceled: C.ACTOR_ECANCELED, actor.NoHandler: C.ACTOR_ENOHANDLER,
            actor.TypeMismatch: C.ACTOR_ETYPE, actor.HandlerError: C.ACTOR_EHANDLER,
            actor.Deadlock: C.ACTOR_EDEADLK, actor.Busy: C.ACTOR_EBUSY,
            actor.Again: C.ACTOR_EAGAIN, actor.Full: C.ACTOR_EFULL,
        }
        for cls, code in expect.items():
            self.assertTrue(issubclass(cls, actor.ActorError), cls)
            self.assertEqual(cls.code, code, cls)
            self.assertEqual(cls().code, code)
            self.assertTrue(str(cls()), cls)  # a default message: actor_strerror

    def test_builtin_bases(self) -> None:
        self.assertTrue(issubclass(actor.TypeMismatch, TypeError))
        self.assertTrue(issubclass(actor.Timeout, TimeoutError))
        self.assertTrue(issubclass(actor.InvalidArgument, ValueError))
        self.assertFalse(issubclass(actor.Canceled, TypeError))

    def test_handler_error(self) -> None:
        e = actor.HandlerError(handler_code=42)
        self.assertEqual(e.handler_code, 42)
        self.assertEqual(e.code, C.ACTOR_EHANDLER)
        self.assertIn("42", str(e))

    def test_mapping(self) -> None:
        from actor._errors import error
        for code in range(-12, 0):
            e = error(code, "what")
            self.assertIsInstance(e, actor.ActorError)
            self.assertEqual(e.code, code)
            self.assertIn("what", str(e))
        e = error(-999)
        self.assertIs(type(e), actor.ActorError)
        self.assertEqual(e.code, -999)


class TestFromCalls(RuntimeCase):
    @need_calculator
    def test_no_handler(self) -> None:
        calc = self.rt.spawn("Calculator")
        with self.assertRaises(actor.NoHandler) as cm:
            calc.send("Sum", 1, 2)  # Sum has a request handler only
        self.assertIn("no event handler", str(cm.exception))
        actor.define("Err.Unhandled", "", "")
        with self.assertRaises(actor.NoHandler):
            calc.ask("Err.Unhandled")

    @need_calculator
    def test_unknown_type(self) -> None:
        calc = self.rt.spawn("Calculator")
        with self.assertRaises(actor.InvalidArgument):
            calc.send("Err.NeverDefined")
        with self.assertRaises(TypeError):
            calc.send(42)  # type: ignore[arg-type]

    @need_test_plugin
    def test_canceled(self) -> None:
        echo = self.rt.spawn("Echo")
        with self.assertRaises(actor.Canceled):
            echo.ask("Echo.Fail", 0).result(limit(1))  # returned 0 unanswered
        held = [echo.ask("Echo.Hold") for _ in range(3)]
        echo.interrupt()
        for r in held:
            with self.assertRaises(actor.Canceled):
                r.result(limit(2))
            self.assertIsInstance(r.exception(), actor.Canceled)

    @need_test_plugin
    def test_handler_error_codes(self) -> None:
        echo = self.rt.spawn("Echo")
        for code in (42, -5, 1, 2 ** 31 - 1):
            with self.assertRaises(actor.HandlerError) as cm:
                echo.ask("Echo.Fail", code).result(limit(1))
            self.assertEqual(cm.exception.handler_code, code)
            self.assertEqual(cm.exception.code, C.ACTOR_EHANDLER)

    @need_calculator
    def test_closed(self) -> None:
        calc = self.rt.spawn("Calculator")
        calc.interrupt()
        calc.join(limit(1))
        with self.assertRaises(actor.Closed):
            calc.ask("Sum", 1, 2)
        with self.assertRaises(actor.Closed):
            calc.interrupt()

    @need_test_plugin
    def test_timeout(self) -> None:
        echo = self.rt.spawn("Echo")
        r = echo.ask("Echo.Hold")
        with self.assertRaises(actor.Timeout) as cm:
            r.result(timeout=0.01)
        self.assertIsInstance(cm.exception, TimeoutError)
        with self.assertRaises(actor.InvalidArgument):
            r.exception()  # still pending

    @need_test_plugin
    def test_canceled_when_runtime_closes(self) -> None:
        rt = actor.Runtime(threads=1)
        r = rt.spawn("Echo").ask("Echo.Hold")
        rt.close()
        with self.assertRaises(actor.Canceled):
            r.result(limit(1))


class Blocker(actor.Actor):
    """Tries blocking calls on a worker thread."""

    def __init__(self, target: actor.Address, rt: actor.Runtime) -> None:
        self.target = target
        self.rt = rt

    @actor.on_request("Err.Try")
    def try_(self, ctx: actor.Context, what: int) -> int:
        try:
            if what == 0:
                self.target.ask("Sum", 1, 2).result(timeout=limit(1))
            elif what == 1:
                self.target.join(timeout=limit(1))
            elif what == 2:
                self.rt.close()
            elif what == 3:
                ctx.self.ask("Err.Try", 9).result()
        except actor.Deadlock:
            return 1
        return 0


class TestDeadlock(RuntimeCase):
    @need_calculator
    def test_blocking_calls_in_a_handler(self) -> None:
        actor.define("Err.Try", "i", "i")
        calc = self.rt.spawn("Calculator")
        b = self.rt.spawn(Blocker(calc, self.rt))
        for what in range(4):
            self.assertEqual(b.ask("Err.Try", what).result(limit(2)), 1, what)
        self.assertFalse(self.rt.closed)
        # A zero timeout only looks: fine on a worker thread.
        self.assertEqual(calc.ask("Sum", 2, 2).result(limit(1)), 4)


class TestBadArguments(RuntimeCase):
    @need_test_plugin
    def test_timeouts(self) -> None:
        echo = self.rt.spawn("Echo")
        r = echo.ask("Echo.Hold")
        with self.assertRaises(ValueError):
            r.result(timeout=-1)
        with self.assertRaises(TypeError):
            r.result(timeout="1")  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            r.result(timeout=float("nan"))
        with self.assertRaises(actor.Timeout):
            r.result(timeout=1e-9)  # rounds up to 1 ms

    def test_define_names_what_is_wrong(self) -> None:
        # The message names the bad character or count (issue 9), and long
        # names or layouts are shortened in it.
        cases = [
            (("Bad.A", "qq<"), "'<' at position 2 is not a field character"),
            (("Bad.B", "q", "q d"), "bad reply_layout 'q d': ' ' at position 1"),
            (("Bad.C", "q3"), "a count at position 1 is not followed by a field character"),
            (("Bad name",), "bad message type name 'Bad name'"),
            (("x" * 100000, "q"), "(100000 characters)"),
        ]
        for args, text in cases:
            with self.assertRaises(actor.InvalidArgument) as cm:
                actor.define(*args)
            self.assertIn(text, str(cm.exception))
            self.assertLess(len(str(cm.exception)), 300)

    def test_null_handles_in_the_raw_module(self) -> None:
        # NULL handles are ACTOR_EINVAL (or None), never a crash.
        self.assertEqual(C.addr_send(None, None, None), C.ACTOR_EINVAL)
        self.assertEqual(C.addr_interact(None, None, None), [C.ACTOR_EINVAL, None])
        self.assertEqual(C.addr_interrupt(None), C.ACTOR_EINVAL)
        self.assertEqual(C.addr_is_done(None), 0)
        self.assertIsNone(C.actor_msgtype_name(None))
        self.assertEqual(C.actor_responder_status(None), C.ACTOR_EINVAL)
        self.assertEqual(C.shim_responder_wait(None, 10), C.ACTOR_EINVAL)
        self.assertEqual(C.shim_addr_join(None, 10), C.ACTOR_EINVAL)
        self.assertEqual(C.shim_runtime_shutdown(None, 10), C.ACTOR_EINVAL)
        self.assertEqual(C.shim_spawn(None, None, None, None), [C.ACTOR_EINVAL, None])
        self.assertEqual(C.actor_plugin_load(None), C.ACTOR_EINVAL)
        C.shim_responder_free(None, None)
        C.shim_addr_release(None)
        C.shim_runtime_free(None)
        with self.assertRaises(TypeError):
            C.addr_send("not a handle", None, None)
        with self.assertRaises(TypeError):
            C.addr_send(None, None, 12)  # not a buffer

    @need_calculator
    def test_handles_are_not_copied_behind_our_back(self) -> None:
        import copy
        import pickle
        calc = self.rt.spawn("Calculator")
        twin = copy.copy(calc)  # a counted reference of its own
        self.assertEqual(twin, calc)
        calc.release()
        self.assertEqual(twin.ask("Sum", 1, 1).result(limit(1)), 2)
        r = twin.ask("Sum", 2, 2)
        for obj in (r, self.rt, twin):
            with self.assertRaises(TypeError):
                pickle.dumps(obj)
        for obj in (r, self.rt):
            with self.assertRaises(TypeError):
                copy.copy(obj)
            with self.assertRaises(TypeError):
                copy.deepcopy(obj)
        self.assertEqual(r.result(limit(1)), 4)

    def test_context_outside_its_callback(self) -> None:
        actor.define("Err.Keep", "", "")
        kept: list[actor.Context] = []

        class Keeper(actor.Actor):
            @actor.on_request("Err.Keep")
            def keep(self, ctx: actor.Context) -> None:
                kept.append(ctx)

        a = self.rt.spawn(Keeper())
        a.ask("Err.Keep").result(limit(1))
        ctx = kept[0]
        import copy
        with self.assertRaises(TypeError):
            copy.copy(ctx)
        calls: list[Callable[[], object]] = [ctx.stop, lambda: ctx.self, ctx.defer,
                                             lambda: ctx.reply(), lambda: ctx.spawn("Calculator")]
        for call in calls:
            with self.assertRaises(actor.Closed):
                call()

    def test_context_from_another_thread(self) -> None:
        actor.define("Err.Thread", "", "i")
        errors: list[int] = []

        class Threaded(actor.Actor):
            @actor.on_request("Err.Thread")
            def thread(self, ctx: actor.Context) -> int:
                def use() -> None:
                    try:
                        ctx.stop()
                    except actor.Closed:
                        errors.append(1)
                t = threading.Thread(target=use)
                t.start()
                t.join()
                return len(errors)

        self.assertEqual(self.rt.spawn(Threaded()).ask("Err.Thread").result(limit(2)), 1)

    def test_promise_misuse(self) -> None:
        actor.define("Err.Defer", "", "q")
        promises: list[actor.Promise] = []

        class Deferrer(actor.Actor):
            @actor.on_request("Err.Defer")
            def defer(self, ctx: actor.Context) -> None:
                promises.append(ctx.defer())
                with self_test.assertRaises(actor.InvalidArgument):
                    ctx.defer()  # already answered
                with self_test.assertRaises(actor.InvalidArgument):
                    ctx.reply(1)

        self_test = self
        a = self.rt.spawn(Deferrer())
        r = a.ask("Err.Defer")
        while not promises:
            r.done()
        p = promises[0]
        with self.assertRaises(actor.TypeMismatch):
            p.resolve()  # wrong count: still usable
        with self.assertRaises(OverflowError):
            p.resolve(2 ** 64)
        with self.assertRaises(ValueError):
            p.reject(0)
        p.resolve(5)
        self.assertTrue(p.answered)
        with self.assertRaises(actor.InvalidArgument):
            p.resolve(6)
        with self.assertRaises(actor.InvalidArgument):
            p.reject(1)
        self.assertEqual(r.result(limit(1)), 5)


if __name__ == "__main__":
    unittest.main()
