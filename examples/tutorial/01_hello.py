"""Tutorial 1: an actor and its lifecycle, in Python. A Greeter runs
initialize first, then its events one at a time, and finalize last, once its
last address is released and its mailbox is empty."""
import actor

actor.define("Greet")  # no layout: opaque bytes of any length


class Greeter(actor.Actor):
    def initialize(self, ctx: actor.Context) -> None:
        self.greeted = 0  # the actor's own state: only its callbacks touch it
        print("init")

    @actor.on_event("Greet")
    def greet(self, ctx: actor.Context, name: bytes) -> None:
        print("hello, %s" % name.decode())
        self.greeted += 1

    def finalize(self, ctx: actor.Context) -> None:
        print("finalize: greeted %d" % self.greeted)


with actor.Runtime(threads=2) as rt:  # leaving the block waits for every actor
    g = rt.spawn(Greeter)
    g.send("Greet", b"world")
    g.send("Greet", b"actors")
    g.release()  # the last address: it stops once its mailbox is empty
print("done")
