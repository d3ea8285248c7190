#!/usr/bin/env python3
"""The seed's Calculator flow with forward, from Python: a User actor (written
in Python) asks the C Calculator for Sum(1, 2) in its initialize and forwards
the responder to itself; the answer comes back as a message to its
@actor.on_response handler, which prints "Sum: 3" and stops the actor. No
thread blocks for the answer (.result() inside an actor is refused with
Deadlock), as in examples/calculator.c.

    PYTHONPATH=build/python python3 examples/calculator_forward.py [path/to/libcalculator.so]

The plugin is the first argument, else $ACTOR_CALCULATOR_PLUGIN, else looked
for in the build tree next to the `actor` package (build/examples/).
"""

import glob
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    import actor
except ImportError:  # not on PYTHONPATH: try the build trees of this checkout
    for cand in sorted(glob.glob(os.path.join(ROOT, "build*", "python"))):
        if os.path.isdir(os.path.join(cand, "actor")):
            sys.path.insert(0, cand)
            break
    import actor


def find_plugin() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    env = os.environ.get("ACTOR_CALCULATOR_PLUGIN")
    if env:
        return env
    pkg_build = os.path.dirname(os.path.dirname(os.path.dirname(actor.__file__)))
    candidates = [os.path.join(pkg_build, "examples", "libcalculator.so")]
    candidates += sorted(glob.glob(os.path.join(ROOT, "build*", "examples", "libcalculator.so")))
    for c in candidates:
        if os.path.exists(c):
            return c
    sys.exit("calculator_forward.py: libcalculator.so not found; pass its path as the "
             "first argument")


class User(actor.Actor):
    """Asks the Calculator in initialize; the answer arrives as a message."""

    def __init__(self, calculator: actor.Address) -> None:
        self.calculator = calculator  # an Address: released with the actor

    def initialize(self, ctx: actor.Context) -> None:
        self.calculator.ask("Sum", 1, 2).forward(ctx)  # the answer comes as a message

    @actor.on_response("Sum")
    def on_sum(self, ctx: actor.Context, status: int, value: Any) -> None:
        if status == 0:
            print("Sum: %d" % value, flush=True)
        else:
            print("Sum failed: %s" % value, flush=True)
        ctx.stop()


def main() -> None:
    actor.load(find_plugin())  # defines "Sum" ("qq" -> "q") and the class "Calculator"
    with actor.Runtime(threads=2) as rt:
        calculator = rt.spawn("Calculator")
        user = rt.spawn(User(calculator))
        user.join(timeout=5.0)  # the user stops once it has its answer


if __name__ == "__main__":
    main()
