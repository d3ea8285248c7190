"""Tutorial 6 (1.1): time, in Python. A Heartbeat actor starts a repeating
timer in its initialize; a Slow actor never answers, so a request to it with
a deadline expires. On a manual runtime nothing runs by itself: the program
steps it and moves its virtual clock, so every run prints the same."""
from typing import Callable, List

import actor

actor.define("Tick", "")
actor.define("Ask", "", "q")
HEARTBEAT = 1  # the timer's key among the actor's timers


def ms(seconds: float) -> int:
    return round(seconds * 1000)


class Heartbeat(actor.Actor):
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock  # the runtime's clock (rt.now), read in the handler
        self.ticks = 0

    def initialize(self, ctx: actor.Context) -> None:
        # the event Tick to itself after 0.1 s, then every 0.1 s
        ctx.start_timer(HEARTBEAT, "Tick", after=0.1, every=0.1)

    @actor.on_event("Tick")
    def tick(self, ctx: actor.Context) -> None:
        self.ticks += 1
        print("tick %d at %d ms" % (self.ticks, ms(self.clock())))
        if self.ticks == 3:
            ctx.cancel_timer(HEARTBEAT)  # no tick of it is handled after this


held: List[actor.Promise] = []  # the Slow actor's unanswered request


class Slow(actor.Actor):
    @actor.on_request("Ask")
    def ask(self, ctx: actor.Context) -> None:
        print("Slow: asked")
        held.append(ctx.defer())  # and never resolves it


# No threads; a virtual clock at 0; 42 seeds the choice of the next actor.
with actor.Runtime(manual=True, seed=42) as rt:
    hb = rt.spawn(Heartbeat(rt.now))  # kept: timers do not keep an actor alive
    slow = rt.spawn(Slow)
    rt.run()          # the initializes
    rt.advance(1.0)   # one virtual second: three ticks

    r = slow.ask("Ask", timeout=0.25)  # a deadline 0.25 s from now
    rt.run()
    rt.advance(0.249)
    print("at %d ms: done: %s" % (ms(rt.now()), r.done()))
    rt.advance(0.001)
    try:
        r.result()
    except actor.Expired:
        print("at %d ms: Expired" % ms(rt.now()))
    # A late answer is accepted (the promise is consumed) and goes nowhere.
    held[0].resolve(0)
    print("late resolve: accepted")
