#!/usr/bin/env python3
"""Asks per second from Python against the C Calculator plugin.

    PYTHONPATH=build/python python3 bench/python_asks.py [--plugin PATH] [--threads N]

Modes (one RESULT line each):
  w6a  sequential  calc.ask("Sum", i, 1).result()            (--seq, default 100000)
  w6b  gather      asks awaited in asyncio.gather batches     (--total 100000, --batch 1000)
  w6c  await       sequential `await calc.ask("Sum", i, 1)`   (--awaits, default 50000)
Each mode checks every reply. As the pure-asyncio anchor does: 1,000 un-timed
warm-up asks (in the same event loop for w6b/w6c), then --reps timed
repetitions (default 3); the RESULT figure is their median (a REP line per
repetition). The plugin is --plugin, else $ACTOR_CALCULATOR_PLUGIN, else
build*/examples/libcalculator.so.
"""

import argparse
import asyncio
import glob
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    import actor
except ImportError:
    for cand in sorted(glob.glob(os.path.join(ROOT, "build*", "python"))):
        if os.path.isdir(os.path.join(cand, "actor")):
            sys.path.insert(0, cand)
            break
    import actor


def find_plugin(arg):
    if arg:
        return arg
    env = os.environ.get("ACTOR_CALCULATOR_PLUGIN")
    if env:
        return env
    pkg_build = os.path.dirname(os.path.dirname(os.path.dirname(actor.__file__)))
    for c in [os.path.join(pkg_build, "examples", "libcalculator.so")] + \
            sorted(glob.glob(os.path.join(ROOT, "build*", "examples", "libcalculator.so"))):
        if os.path.exists(c):
            return c
    sys.exit("python_asks.py: libcalculator.so not found (--plugin PATH)")


def report(tag, mode, n, times):
    """times: the seconds of each repetition; the figure is the median."""
    rates = []
    for rep, seconds in enumerate(times):
        rates.append(n / seconds)
        print("REP %s rep=%d asks_per_s=%.0f seconds=%.3f" % (tag, rep, n / seconds, seconds),
              flush=True)
    print("RESULT %s asks_per_s=%.0f mode=%s asks=%d seconds=%.3f reps=%d "
          "min_asks_per_s=%.0f max_asks_per_s=%.0f python=%s"
          % (tag, statistics.median(rates), mode, n, statistics.median(times), len(times),
             min(rates), max(rates), sys.version.split()[0]), flush=True)


def bench_sequential(calc, Sum, n):
    start = time.perf_counter()
    for i in range(n):
        if calc.ask(Sum, i, 1).result() != i + 1:
            raise SystemExit("wrong reply")
    return time.perf_counter() - start


async def warm_up(calc, Sum):
    for i in range(1000):
        if await calc.ask(Sum, i, 1) != i + 1:
            raise SystemExit("wrong reply")
    await asyncio.gather(*[calc.ask(Sum, j, 1) for j in range(1000)])


async def reps(fn, n, *args):
    await warm_up(args[0], args[1])
    return [await fn(*args) for _ in range(n)]


async def bench_gather(calc, Sum, total, batch):
    start = time.perf_counter()
    done = 0
    while done < total:
        k = min(batch, total - done)
        rs = await asyncio.gather(*[calc.ask(Sum, done + j, 1) for j in range(k)])
        if rs[0] != done + 1 or rs[-1] != done + k:
            raise SystemExit("wrong reply")
        done += k
    return time.perf_counter() - start


async def bench_await(calc, Sum, n):
    start = time.perf_counter()
    for i in range(n):
        if await calc.ask(Sum, i, 1) != i + 1:
            raise SystemExit("wrong reply")
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seq", type=int, default=100000)
    ap.add_argument("--total", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--awaits", type=int, default=50000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    actor.load(find_plugin(args.plugin))
    Sum = actor.find("Sum")
    with actor.Runtime(threads=args.threads) as rt:
        calc = rt.spawn("Calculator")
        bench_sequential(calc, Sum, 1000)  # warm-up
        report("w6a", "sequential_result", args.seq,
               [bench_sequential(calc, Sum, args.seq) for _ in range(args.reps)])
        report("w6b", "gather_batch%d" % args.batch, args.total,
               asyncio.run(reps(bench_gather, args.reps, calc, Sum, args.total, args.batch)))
        report("w6c", "sequential_await", args.awaits,
               asyncio.run(reps(bench_await, args.reps, calc, Sum, args.awaits)))


if __name__ == "__main__":
    main()
