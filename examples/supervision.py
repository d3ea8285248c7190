"""Supervision, the Python twin of examples/supervision.c: a Worker that
fails on every 3rd message of its life runs under a one_for_one
supervisor, which restarts it in place. The client keeps the one address it
got and asks 7 squares at once: every request is answered, or canceled when
the Worker failed on it; the requests queued behind a failure are answered
by the restarted Worker. A manual runtime (no threads, a virtual clock)
keeps the output the same every run. Run from the top of the checkout:

    PYTHONPATH=build/python python3 examples/supervision.py
"""
from typing import Optional

import actor

actor.define("Square", "i", "i")   # a request of one int32, an int32 reply


class Worker(actor.Actor):
    def initialize(self, ctx: actor.Context) -> None:
        self.seen = 0               # a fresh instance per restart: 0 again

    @actor.on_request("Square")
    def square(self, ctx: actor.Context, n: int) -> Optional[int]:
        self.seen += 1
        if self.seen == 3:
            ctx.fail(3)             # the message it fails in is lost:
            return None             # its request is canceled
        return n * n


with actor.Runtime(manual=True, seed=1) as rt:
    # one_for_one; more than 5 restarts within 1 s would make it give up.
    sup = rt.supervisor(strategy="one_for_one", intensity=5, period=1.0)
    w = sup.start_child(Worker, restart="permanent")

    # Seven requests at once, all to the one address.
    asks = [w.ask("Square", n) for n in range(1, 8)]
    for n, r in enumerate(asks, start=1):
        try:
            print("square(%d) = %d" % (n, r.result()))   # runs the manual runtime
        except actor.Canceled:
            print("square(%d): canceled (the worker failed)" % n)
    print("the same address throughout; the worker was restarted %d times" % w.restarts)

    # Stopping the supervisor stops its children first.
    sup.interrupt()
    sup.join()
    print("worker done:", "yes" if w.done else "no")
