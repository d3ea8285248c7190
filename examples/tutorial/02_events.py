"""Tutorial 2: events, interrupt and join, in Python. A Counter adds up Add
events; the interrupt queues behind them, so it sees all 100 before it
stops; join waits until it is Done."""
import actor

actor.define("Add", "q")  # one int64


class Counter(actor.Actor):
    def initialize(self, ctx: actor.Context) -> None:
        self.total = 0
        self.events = 0

    @actor.on_event("Add")
    def add(self, ctx: actor.Context, k: int) -> None:
        self.total += k
        self.events += 1

    def interrupt(self, ctx: actor.Context) -> None:
        print("interrupted after %d events, total %d" % (self.events, self.total))
        ctx.stop()  # what the default interrupt does


with actor.Runtime(threads=2) as rt:
    c = rt.spawn(Counter)
    for k in range(1, 101):
        c.send("Add", k)
    c.interrupt()  # behind the 100 events
    c.join(timeout=5.0)
    print("joined, done:", c.done)
    try:
        c.send("Add", 101)
    except actor.Closed:
        print("send after the stop: Closed")
