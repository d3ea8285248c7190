"""examples/calculator.py prints "Sum: 3" (blocking and asyncio) and exits 0;
so does examples/calculator_forward.py (a Python actor, the answer forwarded
to its on_response); bench/python_asks.py runs (tiny counts: a smoke test,
not a benchmark)."""

import os
import subprocess
import sys
import tempfile
import unittest

from _util import CALCULATOR, limit, need_calculator, subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@need_calculator
class TestExample(unittest.TestCase):
    def run_script(self, *argv: str) -> list[str]:
        p = subprocess.run([sys.executable] + list(argv), env=subprocess_env(),
                           capture_output=True, text=True, timeout=min(30, limit(60)))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout.splitlines()

    def test_calculator(self) -> None:
        lines = self.run_script(os.path.join(ROOT, "examples", "calculator.py"), CALCULATOR)
        self.assertIn("Sum: 3", lines)
        self.assertIn("Sum (asyncio): 3", lines)

    def test_calculator_forward(self) -> None:
        lines = self.run_script(os.path.join(ROOT, "examples", "calculator_forward.py"),
                                CALCULATOR)
        self.assertEqual(lines, ["Sum: 3"])

    def test_calculator_plugin_from_env(self) -> None:
        lines = self.run_script(os.path.join(ROOT, "examples", "calculator.py"))
        self.assertIn("Sum: 3", lines)

    def test_bench_smoke(self) -> None:
        lines = self.run_script(os.path.join(ROOT, "bench", "python_asks.py"), "--plugin",
                                CALCULATOR, "--seq", "200", "--total", "2000", "--batch",
                                "500", "--awaits", "200")
        tags = [ln.split()[1] for ln in lines if ln.startswith("RESULT ")]
        self.assertEqual(tags, ["w6a", "w6b", "w6c"])
        for ln in lines:
            if ln.startswith("RESULT "):
                self.assertRegex(ln, r"asks_per_s=\d+")


class TestInstall(unittest.TestCase):
    """`cmake --install` puts an importable package under site-packages."""

    @unittest.skipUnless(os.environ.get("ACTOR_BUILD_DIR") and os.environ.get("ACTOR_CMAKE"),
                         "not run from ctest")
    def test_install(self) -> None:
        # cmake is not ours: no sanitizer runtime preloaded into it.
        cmake_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        with tempfile.TemporaryDirectory() as prefix:
            p = subprocess.run([os.environ["ACTOR_CMAKE"], "--install",
                                os.environ["ACTOR_BUILD_DIR"], "--prefix", prefix],
                               capture_output=True, text=True, timeout=30, env=cmake_env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            site = os.path.join(prefix, os.environ["ACTOR_PYTHON_SITEDIR"])
            self.assertTrue(os.path.isfile(os.path.join(site, "actor", "__init__.py")))
            env = dict(os.environ, PYTHONPATH=site)
            code = ("import actor, sys; print(actor.__file__); "
                    "actor.load(sys.argv[1]) if len(sys.argv) > 1 else None; "
                    "rt = actor.Runtime(1); "
                    "print(rt.spawn('Calculator').ask('Sum', 1, 2).result(5) "
                    "if len(sys.argv) > 1 else 3)")
            argv = [sys.executable, "-c", code] + ([CALCULATOR] if CALCULATOR else [])
            p = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=prefix,
                               timeout=min(30, limit(60)))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertTrue(p.stdout.startswith(site), p.stdout)
            self.assertEqual(p.stdout.splitlines()[-1], "3")


if __name__ == "__main__":
    unittest.main()
