"""Tutorial 8 (1.1): failure, in Python. A Worker squares numbers and fails
on a negative one (ctx.fail: it stops with that exit reason). A Watcher
finds actors by their registered name and monitors them: it hears once,
through its mailbox, when one is Done and why. Alone, a failed Worker is
gone; under a one_for_one supervisor it is restarted in place: the same
address, the same name, a fresh instance. A manual runtime keeps the order
of the lines the same every run."""
from typing import Optional

import actor

actor.define("Square", "q", "q")
actor.define("Watch")  # opaque: a name
NEGATIVE = 7           # the Worker's exit reason when it fails


class Worker(actor.Actor):
    @actor.on_request("Square")
    def square(self, ctx: actor.Context, n: int) -> Optional[int]:
        if n < 0:
            ctx.fail(NEGATIVE)  # unanswered: this request is canceled
            return None
        return n * n


class Watcher(actor.Actor):
    def __init__(self, rt: actor.Runtime) -> None:
        self.rt = rt      # where the names are
        self.name = ""    # the name of the actor it watches

    @actor.on_event("Watch")
    def watch(self, ctx: actor.Context, name: bytes) -> None:
        self.name = name.decode()
        target = self.rt.lookup(self.name)
        if target is not None:
            ctx.monitor(target)  # a monitor does not need the address: it keeps none

    @actor.on_down
    def down(self, ctx: actor.Context, who: actor.Address, reason: int) -> None:
        print("watcher: %s is down, reason %d" % (self.name, reason))


def ask(name: str, a: actor.Address, n: int) -> None:
    """Asks Square(n) and prints the answer or why there is none."""
    try:
        print("%s: Square(%d) = %d" % (name, n, a.ask("Square", n).result(timeout=5.0)))
    except actor.Canceled:
        print("%s: Square(%d): Canceled" % (name, n))


with actor.Runtime(manual=True, seed=1) as rt:
    watcher = rt.spawn(Watcher(rt))

    # 1. A failure is a stop with a reason; the name goes with the actor.
    alone = rt.spawn(Worker)
    rt.register("alone", alone)
    watcher.send("Watch", b"alone")
    ask("alone", alone, 3)  # result() runs the manual runtime
    ask("alone", alone, -1)
    rt.run()  # the Watcher handles its Down
    print("alone: exit reason", alone.exit_reason)
    print('lookup "alone":', rt.lookup("alone"))

    # 2. Under a supervisor the Worker is restarted in place. "transient":
    # after a failure only; more than 3 restarts within 1 s and it would give up.
    sup = rt.supervisor(strategy="one_for_one", intensity=3, period=1.0)
    worker = sup.start_child(Worker, restart="transient")
    rt.register("worker", worker)
    watcher.send("Watch", b"worker")
    ask("worker", worker, -2)
    ask("worker", worker, 4)  # the same address; a restart is not Done: no Down
    found = rt.lookup("worker")  # the name stays too
    print('lookup "worker": restarted %d time(s)' % (found.restarts if found else -1))

    # Stopping the supervisor stops its children first: now it is Done.
    sup.interrupt()
    sup.join(timeout=5.0)
