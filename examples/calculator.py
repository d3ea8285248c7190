#!/usr/bin/env python3
"""The Calculator from Python: loads the C plugin libcalculator.so (class
"Calculator", type "Sum" with layout "qq" and reply "q") and asks it 1 + 2,
once blocking and once with asyncio.

    PYTHONPATH=build/python python3 examples/calculator.py [path/to/libcalculator.so]

The plugin is the first argument, else $ACTOR_CALCULATOR_PLUGIN, else looked
for in the build tree next to the `actor` package (build/examples/).
"""

import asyncio
import glob
import os
import sys

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
    sys.exit("calculator.py: libcalculator.so not found; pass its path as the first argument")


async def ask_async(calc: actor.Address) -> int:
    total: int = await calc.ask("Sum", 1, 2)
    return total


def main() -> None:
    actor.load(find_plugin())
    with actor.Runtime(threads=2) as rt:
        calc = rt.spawn("Calculator")
        print("Sum: %d" % calc.ask("Sum", 1, 2).result(timeout=5.0))
        print("Sum (asyncio): %d" % asyncio.run(ask_async(calc)))


if __name__ == "__main__":
    main()
