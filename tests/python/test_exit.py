"""Interpreter exit with runtimes, actors and requests still alive: the
atexit handler shuts every runtime down and stops C threads from entering
Python before finalization (gh-87135), so the process exits promptly with
its own status and no crash.

Bounded (issue 9): an actor that ignores its interrupt delays the exit by
the exit timeout at most, with a WARNING naming its class; a daemon thread
still sending is refused at exit; Ctrl-C while the exit waits ends the wait."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest
from typing import IO, Optional

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


def run_script(name: str) -> tuple[subprocess.CompletedProcess[str], float]:
    code = PRELUDE + textwrap.dedent(SCRIPTS[name])
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code],
                       env=subprocess_env(), capture_output=True, text=True,
                       timeout=limit(30))
    return p, time.monotonic() - start


class TestExit(unittest.TestCase):
    def check(self, name: str, status: int = 0, runs: int = 3,
              finalized: Optional[int] = None) -> subprocess.CompletedProcess[str]:
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

    def test_leave_running(self) -> None:
        p = self.check("leave_running", finalized=10)
        self.assertEqual(p.stdout.count("finalized 500"), 10)

    def test_busy_handlers(self) -> None:
        p = self.check("busy_handlers", finalized=4)
        self.assertEqual(p.stdout.count("finalized 5"), 4)

    def test_daemon_waiter(self) -> None:
        self.check("daemon_waiter", finalized=1)

    def test_asyncio_pending(self) -> None:
        self.check("asyncio_pending", finalized=1)

    def test_runtime_dropped_on_worker(self) -> None:
        self.check("runtime_dropped_on_worker", finalized=1)

    def test_uncaught_exception(self) -> None:
        self.check("uncaught_exception", status=3, finalized=1)

    def test_plugins_present(self) -> None:
        # The scenarios above are weaker without the plugins: say so.
        if not (CALCULATOR and TEST_PLUGIN):
            self.skipTest("plugins not built: exit scenarios ran without C actors")
        self.assertTrue(os.path.exists(CALCULATOR) and os.path.exists(TEST_PLUGIN))


BOUNDED = {
    # An actor whose interrupt handler ignores the interrupt: the exit waits
    # the exit timeout (1 s here), names the class, and exits.
    "stubborn": """
        class Stubborn(actor.Actor):
            def interrupt(self, ctx):
                pass  # ignores it: never stops
        assert actor.set_exit_timeout(1.0) == 5.0
        rt = actor.Runtime(threads=2)
        s = rt.spawn(Stubborn())
        h = rt.spawn(Holder())
        h.send("Exit.Add", 1)
        assert h.ask("Exit.Get").result(5) == 1
        print("exiting", flush=True)
    """,
    # A C actor (spawned from Python) that does not stop either is named too:
    # Relay forwards nothing here, it only stands for a C class; Stubborn
    # keeps the runtime from stopping.
    "stubborn_with_c": """
        class Stubborn(actor.Actor):
            def interrupt(self, ctx):
                pass
        actor.set_exit_timeout(0.5)
        rt = actor.Runtime(threads=2)
        s = rt.spawn(Stubborn())
        s2 = rt.spawn(Stubborn())
        print("exiting", flush=True)
    """,
    # A daemon thread still sending (events, or asks through the C fast
    # path) when the main thread ends: at exit it is refused (Closed), so the
    # shutdown is not queued behind an endless stream.
    "daemon_sender": """
        import resource
        rt = actor.Runtime(threads=2)
        h = rt.spawn(Holder())
        started = threading.Event()
        outcome = []
        def send_forever():
            started.set()
            try:
                while True:
                    h.send("Exit.Add", 1)
            except actor.Closed as e:
                outcome.append(e)
        def ask_forever():
            try:
                while True:
                    h.ask("Exit.Get")
            except actor.Closed as e:
                outcome.append(e)
        threading.Thread(target=send_forever, daemon=True).start()
        threading.Thread(target=ask_forever, daemon=True).start()
        started.wait()
        time.sleep(0.3)  # a backlog builds up
        print("exiting", flush=True)
    """,
}


def start_script(body: str) -> subprocess.Popen[str]:
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-X", "faulthandler", "-c", code],
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def bounded(seconds: float) -> float:
    return min(30.0, limit(seconds))


def pipes(p: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    """p's stdout and stderr (both pipes)."""
    assert p.stdout is not None and p.stderr is not None
    return p.stdout, p.stderr


class TestBoundedExit(unittest.TestCase):
    def finish(self, p: subprocess.Popen[str], seconds: float,
               max_rss: int = 1 << 30) -> tuple[str, str, float, int]:
        """Waits for p (killed after `seconds`, or once its RSS passes
        `max_rss`); returns (stdout, stderr, elapsed, max RSS in bytes).
        Only os.wait4 reaps p (for its rusage); threads read its pipes."""
        start = time.monotonic()
        stdout, stderr = pipes(p)
        timer = threading.Timer(seconds, p.kill)
        timer.start()
        stop = threading.Event()

        def watch_rss() -> None:
            page = os.sysconf("SC_PAGE_SIZE")
            while not stop.wait(0.05):
                try:
                    with open("/proc/%d/statm" % p.pid) as f:
                        rss = int(f.read().split()[1]) * page
                except (OSError, ValueError, IndexError):
                    return
                if rss > max_rss:
                    p.kill()
                    return
        out, err = [], []
        readers = [threading.Thread(target=lambda: out.append(stdout.read())),
                   threading.Thread(target=lambda: err.append(stderr.read())),
                   threading.Thread(target=watch_rss, daemon=True)]
        for t in readers:
            t.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            for t in readers[:2]:
                t.join(seconds)
        finally:
            timer.cancel()
            stop.set()
            stdout.close()
            stderr.close()
        return "".join(out), "".join(err), time.monotonic() - start, ru.ru_maxrss * 1024

    def check_clean(self, p: subprocess.Popen[str], out: str, err: str) -> str:
        detail = "status %s\n--- stdout\n%s--- stderr\n%s" % (p.returncode, out, err)
        self.assertNotEqual(p.returncode, -signal.SIGKILL, "hung: killed\n" + detail)
        for bad in ("Fatal Python error", "Segmentation", "AddressSanitizer",
                    "ThreadSanitizer", "runtime error"):
            self.assertNotIn(bad, err, detail)
        return detail

    def test_stubborn_actor_bounded(self) -> None:
        p = start_script(BOUNDED["stubborn"])
        out, err, elapsed, _ = self.finish(p, bounded(20))
        detail = self.check_clean(p, out, err)
        self.assertEqual(p.returncode, 0, detail)
        self.assertIn("exiting", out, detail)
        self.assertIn("finalized 1", out, detail)  # the other actor stopped as usual
        self.assertIn("did not stop within 1 s: Stubborn (1)", err, detail)
        self.assertLess(elapsed, limit(1) + limit(4), detail)

    def test_stubborn_actors_named_with_counts(self) -> None:
        p = start_script(BOUNDED["stubborn_with_c"])
        out, err, elapsed, _ = self.finish(p, bounded(20))
        detail = self.check_clean(p, out, err)
        self.assertEqual(p.returncode, 0, detail)
        self.assertIn("Stubborn (2)", err, detail)
        self.assertEqual(err.count("did not stop"), 1, detail)

    def test_daemon_sender_refused_at_exit(self) -> None:
        # Was: the interrupt queued behind ~0.5 M events while the sender
        # added ~2 M/s: a minute to exit, RSS growing ~100 MB/s. The exit
        # now drains what was queued and is done: well within the exit
        # timeout (so no "did not stop" warning), memory bounded.
        p = start_script(BOUNDED["daemon_sender"])
        out, err, elapsed, maxrss = self.finish(p, bounded(20), max_rss=1 << 30)
        detail = self.check_clean(p, out, err)
        self.assertEqual(p.returncode, 0, detail)  # not killed (time, or RSS over 1 GiB)
        self.assertIn("exiting", out, detail)
        self.assertIn("finalized", out, detail)
        self.assertNotIn("did not stop", err, detail)  # within the exit timeout
        self.assertLess(elapsed, limit(10), detail)
        self.assertLess(maxrss, 1 << 30, detail)

    def test_second_ctrl_c_ends_the_exit_wait(self) -> None:
        # Exit while a handler still runs (a long sleep inside it): the
        # first Ctrl-C ends the script, the exit waits for the handler (no
        # time limit set), a second Ctrl-C ends that wait and the process.
        # Was: the first SIGINT was swallowed inside the atexit handler and
        # later ones were never looked at.
        p = start_script("""
            import logging, signal
            # Ctrl-C raises KeyboardInterrupt, even if this was started with
            # SIGINT ignored (a background job of a shell).
            signal.signal(signal.SIGINT, signal.default_int_handler)
            logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
            actor.set_exit_timeout(None)
            rt = actor.Runtime(threads=2)
            h = rt.spawn(Holder())
            h.send("Exit.Sleep", 25.0)
            print("ready", flush=True)
            threading.Event().wait()
        """)
        lines, errs = [], []
        stdout, stderr = pipes(p)
        err_reader = threading.Thread(target=lambda: errs.append(stderr.read()))
        err_reader.start()

        def wait_line(text: str, seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                line = stdout.readline()
                if not line:
                    break
                lines.append(line)
                if text in line:
                    return True
            return False
        timer = threading.Timer(bounded(25), p.kill)
        timer.start()
        try:
            self.assertTrue(wait_line("ready", bounded(20)), "".join(lines))
            p.send_signal(signal.SIGINT)  # first: KeyboardInterrupt ends the script
            if not wait_line("waiting for the actors", bounded(20)):
                p.kill()
                err_reader.join(bounded(5))
                self.fail("no exit wait\n--- stdout\n%s--- stderr\n%s"
                          % ("".join(lines), "".join(errs)))
            start = time.monotonic()
            p.send_signal(signal.SIGINT)  # second: ends the exit's wait
            out = stdout.read()
            p.wait(bounded(20))
            elapsed = time.monotonic() - start
            err_reader.join(bounded(5))
        finally:
            timer.cancel()
        out, err = "".join(lines) + out, "".join(errs)
        detail = self.check_clean(p, out, err)
        self.assertIn("cut short by Ctrl-C", err + out, detail)
        self.assertLess(elapsed, limit(3), detail)


if __name__ == "__main__":
    unittest.main()
