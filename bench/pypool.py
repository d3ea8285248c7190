#!/usr/bin/env python3
"""A pool of Python actors on 1 worker against 2: what the GIL does to scaling.

    PYTHONPATH=build/python python3 bench/pypool.py [--members 4] [--events 20000]
        [--rounds 3] [--handler-us 10] [--actorbench PATH | --no-c]

`rt.pool(cls, members=N)` (round robin) whose event handler does ~10 us of
work, fed M events by the main thread; the run ends when every member has
answered a request ("PoolCount", asked of each member after the events, with
a deadline: a member's mailbox is FIFO, so its answer comes after its share
of the events), and the counts must add up to M. A runtime with 1 worker
and one with 2 take turns, ROUNDS times. Two handlers:

  pypool          pure Python (xorshift64 on ints), holding the GIL throughout
  pypool_gilfree  hashlib.sha256 over a bytes object of a few KB (calibrated):
                  OpenSSL hashes with the GIL released for data of 2048 bytes
                  or more (HASHLIB_GIL_MINSIZE), so only the dispatch holds it

Both are calibrated at start by timing the same work in a loop on the main
thread (`alone_per_s`: that loop's rate, one thread's ceiling). Per run a
`RESULT pypool_run` line: events/s; process CPU time / wall time (getrusage:
about 1.0 means one CPU busy, 2.0 both); events per CPU second (what the
handling costs, whatever share of a busy machine the process got); how many
worker threads ran members; and `overlap`, the share of handlers whose work
began while another member's work was under way: high when the work
releases the GIL, low when it holds it, whatever the machine's load (then
only the interpreter's forced switch, after a thread has waited the switch
interval for the GIL, interleaves two handlers' work: time-sliced, not
parallel). Per handler
one summary RESULT line: the medians for 1 and 2 workers, their ratio
(2 workers / 1 worker; bench/run's figure), CPU / wall, events per CPU
second (median events/s / median CPU/wall) and the 2-worker overlap.
Then, for reference from the same sitting, the C pool of the same shape
(`actorbench pool M ROUNDS`: 4 members, ~10 us of xorshift in C), when the
binary is found next to the package's build (or given with --actorbench);
its RESULT lines are passed through as they are.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import ClassVar

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

WORK = actor.define("PoolWork", "q")
COUNT = actor.define("PoolCount", "", "q")
MASK64 = (1 << 64) - 1


def spin(x: int, iters: int) -> int:
    """Pure-Python work: `iters` rounds of xorshift64 (as actorbench's C spin)."""
    for _ in range(iters):
        x ^= (x << 13) & MASK64
        x ^= x >> 7
        x ^= (x << 17) & MASK64
    return x


def hash_once(x: int, blob: bytes) -> int:
    """GIL-releasing work: sha256 over `blob` (>= 2048 bytes: no GIL held)."""
    return x ^ int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")


class Params:
    """What the members' handlers do; set before each run."""

    iters: ClassVar[int] = 1
    blob: ClassVar[bytes] = b""


class Roster:
    """The members of the current run (their own addresses, from initialize)
    and the worker threads that ran their handlers."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.members: list[actor.Address] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()
        self.busy = 0  # members inside their work now
        self.overlapped = 0  # works begun while another member's was under way

    def join(self, addr: actor.Address) -> None:
        with self.cond:
            self.members.append(addr)
            self.cond.notify_all()

    def wait_members(self, n: int, timeout: float) -> list[actor.Address]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.members) >= n, timeout):
                raise SystemExit("pypool.py: %d of %d members started within %.0f s"
                                 % (len(self.members), n, timeout))
            return list(self.members)


ROSTER = Roster()


class Member(actor.Actor):
    """A pool member: counts the events it handled, answers PoolCount."""

    def initialize(self, ctx: actor.Context) -> None:
        self.n = 0
        self.x = 1
        ROSTER.join(ctx.self)

    def work(self, x: int) -> int:
        raise NotImplementedError

    @actor.on_event(WORK)
    def on_work(self, ctx: actor.Context, i: int) -> None:
        r = ROSTER
        with r.lock:
            r.busy += 1
            if r.busy > 1:
                r.overlapped += 1
        self.x = self.work(self.x + i)
        with r.lock:
            r.busy -= 1
        self.n += 1
        r.threads.add(threading.get_ident())  # set.add: atomic under the GIL

    @actor.on_request(COUNT)
    def on_count(self, ctx: actor.Context) -> int:
        return self.n


class PyMember(Member):
    def work(self, x: int) -> int:
        return spin(x, Params.iters)


class ShaMember(Member):
    def work(self, x: int) -> int:
        return hash_once(x, Params.blob)


def make_blob(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(size % 256)


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def per_call(fn: Callable[[], object], calls: int, reps: int = 5) -> float:
    """Seconds per call of fn, the best of `reps` loops of `calls` calls."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / calls


def calibrate(handler_us: float) -> tuple[int, float, int, float]:
    """(iters, seconds per spin call, blob size, seconds per hash call) for
    ~handler_us of work each, timed in a loop on the main thread: a first
    guess from a long loop, then one correction from the call itself."""
    target = handler_us * 1e-6
    probe = 20000
    iters = max(1, round(target / (per_call(lambda: spin(1, probe), 5) / probe)))
    t_spin = per_call(lambda: spin(1, iters), 2000)
    iters = max(1, round(iters * target / t_spin))
    t_spin = per_call(lambda: spin(1, iters), 2000)
    big = bytes(1 << 20)
    size = round(target / (per_call(lambda: hashlib.sha256(big).digest(), 5) / len(big)))
    size = max(4096, size // 64 * 64)
    t_hash = per_call(lambda: hash_once(1, make_blob(size)), 2000)
    size = max(4096, round(size * target / t_hash) // 64 * 64)
    blob = make_blob(size)
    t_hash = per_call(lambda: hash_once(1, blob), 2000)
    return iters, t_spin, size, t_hash


def one_run(cls: type[Member], variant: str, workers: int, members: int, events: int,
            deadline: float, show: bool = True) -> tuple[float, float, float]:
    """One pool on a fresh runtime of `workers` threads: (events/s, CPU/wall,
    overlap)."""
    global ROSTER
    ROSTER = Roster()
    with actor.Runtime(threads=workers) as rt:
        pool = rt.pool(cls, members=members, route="round_robin")
        t0, c0 = time.perf_counter(), cpu_s()
        for i in range(events):
            pool.send(WORK, i)
        end = time.monotonic() + deadline
        addrs = ROSTER.wait_members(members, deadline)
        left = max(0.001, end - time.monotonic())
        asks = [a.ask(COUNT, timeout=left) for a in addrs]
        counts = [r.result(left + 1.0) for r in asks]
        secs, cpu = time.perf_counter() - t0, cpu_s() - c0
        if sum(counts) != events:
            raise SystemExit("pypool.py: members counted %r, not %d in all" % (counts, events))
        if show:
                print("RESULT pypool_run variant=%s workers=%d members=%d events=%d secs=%.4f "
                  "events_per_s=%.0f cpu_per_wall=%.2f events_per_cpu_s=%.0f member_threads=%d "
                  "overlap=%.3f per_member=%s"
                  % (variant, workers, members, events, secs, events / secs, cpu / secs,
                     events / cpu,
                     len(ROSTER.threads), ROSTER.overlapped / events,
                     "/".join(str(c) for c in counts)), flush=True)
        for a in addrs:
            a.release()
        pool.interrupt()
        pool.join(deadline)
        pool.release()
        rt.shutdown(deadline)
    return events / secs, cpu / secs, ROSTER.overlapped / events


def compare(name: str, cls: type[Member], variant: str, detail: str, alone: float,
            args: argparse.Namespace) -> None:
    """ROUNDS runs on 1 worker and on 2, alternating; one summary RESULT line."""
    one_run(cls, variant, 1, args.members, min(args.events, 2000), args.deadline, False)  # warm-up
    runs: dict[int, list[tuple[float, float, float]]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for workers in (1, 2):
            runs[workers].append(one_run(cls, variant, workers, args.members, args.events,
                                         args.deadline))

    def med(workers: int, k: int) -> float:
        return statistics.median(run[k] for run in runs[workers])

    print("RESULT %s variant=%s members=%d route=round_robin handler_us=%g %s events=%d "
          "rounds=%d alone_per_s=%.0f w1_events_per_s=%.0f w2_events_per_s=%.0f ratio=%.3f "
          "w1_cpu_per_wall=%.2f w2_cpu_per_wall=%.2f w1_events_per_cpu_s=%.0f "
          "w2_events_per_cpu_s=%.0f w2_overlap=%.3f switchinterval_ms=%g python=%s"
          % (name, variant, args.members, args.handler_us, detail, args.events, args.rounds,
             alone, med(1, 0), med(2, 0), med(2, 0) / med(1, 0), med(1, 1), med(2, 1),
             med(1, 0) / med(1, 1), med(2, 0) / med(2, 1), med(2, 2),
             sys.getswitchinterval() * 1e3, sys.version.split()[0]), flush=True)


def find_actorbench(arg: str | None) -> str | None:
    if arg is not None:
        return arg or None
    pkg_build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        actor.__file__))))
    path = os.path.join(pkg_build, "bench", "actorbench")
    return path if os.access(path, os.X_OK) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--handler-us", type=float, default=10.0)
    ap.add_argument("--deadline", type=float, default=60.0,
                    help="seconds a run may take before it is declared failed")
    ap.add_argument("--only", choices=["python", "gilfree"],
                    help="one handler only (default: both)")
    ap.add_argument("--actorbench", help="the C reference's binary ('' for none; "
                    "default: bench/actorbench in the package's build directory)")
    ap.add_argument("--no-c", action="store_true", help="skip the C reference")
    args = ap.parse_args()

    iters, t_spin, size, t_hash = calibrate(args.handler_us)
    print("CALIBRATE spin iters=%d us=%.2f sha256 bytes=%d us=%.2f"
          % (iters, t_spin * 1e6, size, t_hash * 1e6), flush=True)
    Params.iters = iters
    Params.blob = make_blob(size)
    if args.only in (None, "python"):
        compare("pypool", PyMember, "python", "iters=%d" % iters, 1 / t_spin, args)
    if args.only in (None, "gilfree"):
        compare("pypool_gilfree", ShaMember, "sha256", "bytes=%d" % size, 1 / t_hash, args)
    bench = None if args.no_c else find_actorbench(args.actorbench)
    if bench is not None:
        p = subprocess.run([bench, "pool", str(args.events), str(args.rounds)],
                           capture_output=True, text=True, timeout=600)
        for line in p.stdout.splitlines():
            if line.startswith("RESULT"):
                print(line, flush=True)
        if p.returncode != 0:
            sys.exit("pypool.py: %s pool failed (exit %d)" % (bench, p.returncode))
    elif not args.no_c:
        print("# no actorbench next to the package: C reference skipped (--actorbench PATH)",
              flush=True)


if __name__ == "__main__":
    main()
