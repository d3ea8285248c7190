"""Interpreter exit with runtimes, actors and requests still alive: the
atexit handler shuts every runtime down and stops C threads from entering
Python before finalization (gh-87135), so the process exits promptly with
its own status and no crash."""

import os
import subprocess
import sys
import textwrap
import time
import unittest

from _util import CALCULATOR, TEST_PLUGIN, limit, subprocess_env

PRELUDE = textwrap.dedent("""
    import asyncio, os, sys, threading, time
    import actor
    CALC = os.environ.get("ACTOR_CALCULATOR_PLUGIN")
    PLUG = os.environ.get("ACTOR_TEST_PLUGIN")
    if CALC: actor.load(CALC)
    if PLUG: actor.load(PLUG)
    actor.define("Exit.Add", "q")
    actor.define("Exit.Hold", "", "q")
    actor.define("Exit.Get", "", "q")
    actor.define("Exit.Sleep", "d")

    class Holder(actor.Actor):
        def initialize(self, ctx):
            self.n = 0
            self.held = []
        @actor.on_event("Exit.Add")
        def add(self, ctx, k):
            self.n += k
        @actor.on_event("Exit.Sleep")
        def sleep(self, ctx, s):
            time.sleep(s)
        @actor.on_request("Exit.Hold")
        def hold(self, ctx):
            self.held.append(ctx.defer())
        @actor.on_request("Exit.Get")
        def get(self, ctx):
            return self.n
        @actor.on_request("Relay.Inner")
        def inner(self, ctx, v):
            return v
        def finalize(self, ctx):
            print("finalized %d" % self.n, flush=True)
""")

SCRIPTS = {
    # Actors alive, events queued, asks pending everywhere, no shutdown.
    "leave_running": """
        rt = actor.Runtime(threads=2)
        hs = [rt.spawn(Holder()) for _ in range(10)]
        pending = []
        for h in hs:
            for _ in range(500):
                h.send("Exit.Add", 1)
            pending += [h.ask("Exit.Hold") for _ in range(20)]
            pending += [h.ask("Exit.Get") for _ in range(20)]
        if PLUG:
            echo = rt.spawn("Echo")
            pending += [echo.ask("Echo.Hold") for _ in range(20)]
            relay = rt.spawn("Relay")
            relay.send("Relay.Target", int(actor._core.addr_ref(hs[0]._ptr)))
            pending += [relay.ask("Relay.Ask", i) for i in range(200)]
        if CALC:
            calc = rt.spawn("Calculator")
            pending += [calc.ask("Sum", i, i) for i in range(1000)]
        print("exiting", flush=True)
    """,
    # Handlers still running (GIL released in sleep) when the main thread ends.
    "busy_handlers": """
        rt = actor.Runtime(threads=2)
        hs = [rt.spawn(Holder()) for _ in range(4)]
        for h in hs:
            for _ in range(5):
                h.send("Exit.Sleep", 0.02)
                h.send("Exit.Add", 1)
        time.sleep(0.01)
        print("exiting", flush=True)
    """,
    # A daemon thread blocked in result() on a request nobody answers.
    "daemon_waiter": """
        rt = actor.Runtime(threads=1)
        h = rt.spawn(Holder())
        r = h.ask("Exit.Hold")
        started = threading.Event()
        def wait():
            started.set()
            try:
                r.result()
            except actor.Canceled:
                pass
        threading.Thread(target=wait, daemon=True).start()
        started.wait()
        print("exiting", flush=True)
    """,
    # Pending awaits when asyncio.run ends (its tasks are cancelled), then exit.
    "asyncio_pending": """
        rt = actor.Runtime(threads=2)
        h = rt.spawn(Holder())
        async def main():
            tasks = [asyncio.ensure_future(h.ask("Exit.Hold")) for _ in range(500)]
            if CALC:
                calc = rt.spawn("Calculator")
                tasks += [asyncio.ensure_future(calc.ask("Sum", i, 1)) for i in range(500)]
            await asyncio.sleep(0.01)
            print("exiting", flush=True)
        asyncio.run(main())
    """,
    # A runtime dropped on a worker thread (it cannot be freed there).
    "runtime_dropped_on_worker": """
        class Maker(actor.Actor):
            @actor.on_request("Exit.Get")
            def get(self, ctx):
                inner = actor.Runtime(threads=1)
                inner.spawn(Holder()).send("Exit.Add", 5)
                del inner
                return 1
        rt = actor.Runtime(threads=1)
        m = rt.spawn(Maker())
        assert m.ask("Exit.Get").result(5) == 1
        print("exiting", flush=True)
    """,
    # An unhandled exception ends the script: its status, no crash.
    "uncaught_exception": """
        rt = actor.Runtime(threads=2)
        h = rt.spawn(Holder())
        r = h.ask("Exit.Hold")
        h.send("Exit.Add", 1)
        print("exiting", flush=True)
        raise SystemExit(3)
    """,
}


def run_script(name):
    code = PRELUDE + textwrap.dedent(SCRIPTS[name])
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code],
                       env=subprocess_env(), capture_output=True, text=True,
                       timeout=limit(30))
    return p, time.monotonic() - start


class TestExit(unittest.TestCase):
    def check(self, name, status=0, runs=3, finalized=None):
        for _ in range(runs):
            p, elapsed = run_script(name)
            detail = "%s: status %s\n--- stdout\n%s--- stderr\n%s" % (
                name, p.returncode, p.stdout, p.stderr)
            self.assertEqual(p.returncode, status, detail)
            self.assertIn("exiting", p.stdout, detail)
            for bad in ("Fatal Python error", "Segmentation", "Exception ignored",
                        "Traceback", "AddressSanitizer", "ThreadSanitizer", "runtime error"):
                self.assertNotIn(bad, p.stderr, detail)
            self.assertLess(elapsed, limit(10), detail)
            if finalized is not None:
                self.assertEqual(p.stdout.count("finalized"), finalized, detail)
        return p

    def test_leave_running(self):
        p = self.check("leave_running", finalized=10)
        self.assertEqual(p.stdout.count("finalized 500"), 10)

    def test_busy_handlers(self):
        p = self.check("busy_handlers", finalized=4)
        self.assertEqual(p.stdout.count("finalized 5"), 4)

    def test_daemon_waiter(self):
        self.check("daemon_waiter", finalized=1)

    def test_asyncio_pending(self):
        self.check("asyncio_pending", finalized=1)

    def test_runtime_dropped_on_worker(self):
        self.check("runtime_dropped_on_worker", finalized=1)

    def test_uncaught_exception(self):
        self.check("uncaught_exception", status=3, finalized=1)

    def test_plugins_present(self):
        # The scenarios above are weaker without the plugins: say so.
        if not (CALCULATOR and TEST_PLUGIN):
            self.skipTest("plugins not built: exit scenarios ran without C actors")
        self.assertTrue(os.path.exists(CALCULATOR) and os.path.exists(TEST_PLUGIN))


if __name__ == "__main__":
    unittest.main()
