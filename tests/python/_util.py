"""Shared helpers of the Python tests.

Environment (set by ctest, see bindings/python/tests.cmake):
  PYTHONPATH               the build tree's python/ directory (package `actor`)
  ACTOR_CALCULATOR_PLUGIN  examples' libcalculator.so ("Calculator", "Sum")
  ACTOR_TEST_PLUGIN        tests/python/pytest_plugin.c ("Relay", "Echo")
  ACTOR_TEST_SLOW          a factor for time limits (sanitizer builds)
"""

import faulthandler
import os
import sys
import unittest
from typing import Callable, TypeVar

import actor

_T = TypeVar("_T", bound=Callable[..., object])

SLOW = float(os.environ.get("ACTOR_TEST_SLOW", "1") or 1)
CALCULATOR = os.environ.get("ACTOR_CALCULATOR_PLUGIN", "")
TEST_PLUGIN = os.environ.get("ACTOR_TEST_PLUGIN", "")

# A hung test dumps every thread's stack before ctest's TIMEOUT kills it.
faulthandler.dump_traceback_later(100 * SLOW, exit=True)


def limit(seconds: float) -> float:
    """A time limit scaled for slow (sanitizer) builds."""
    return seconds * SLOW


def need_calculator(test: _T) -> _T:
    return unittest.skipUnless(CALCULATOR and os.path.exists(CALCULATOR),
                               "ACTOR_CALCULATOR_PLUGIN not set (examples not built)")(test)


def need_test_plugin(test: _T) -> _T:
    return unittest.skipUnless(TEST_PLUGIN and os.path.exists(TEST_PLUGIN),
                               "ACTOR_TEST_PLUGIN not set")(test)


def load_all() -> None:
    """Loads the plugins that exist (idempotent)."""
    if CALCULATOR and os.path.exists(CALCULATOR):
        actor.load(CALCULATOR)
    if TEST_PLUGIN and os.path.exists(TEST_PLUGIN):
        actor.load(TEST_PLUGIN)


def subprocess_env() -> dict[str, str]:
    """The environment for a child Python running the package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


class RuntimeCase(unittest.TestCase):
    """A test case with self.rt: a 2-thread runtime, closed after each test."""

    threads = 2

    def setUp(self) -> None:
        load_all()
        self.rt = actor.Runtime(threads=self.threads)

    def tearDown(self) -> None:
        self.rt.close()
