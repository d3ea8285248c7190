"""Tutorial 4: forward and on_response, in Python. An actor never blocks on
an answer (result() inside an actor raises Deadlock): the User asks the
Calculator from its initialize and forwards each responder to itself; the
answers come back as messages to its @actor.on_response handler, told
apart by their tags. The Calculator is the C one, from the plugin
libcalculator.so that the build makes (examples/calculator_plugin.c)."""
import os
from typing import Any

import actor

actor.load(os.environ.get("ACTOR_CALCULATOR_PLUGIN", "build/examples/libcalculator.so"))


class User(actor.Actor):
    def __init__(self, calculator: actor.Address) -> None:
        self.calculator = calculator  # an Address
        self.answers = 0

    def initialize(self, ctx: actor.Context) -> None:
        for tag, (a, b) in enumerate([(1, 2), (20, 22)]):
            self.calculator.ask("Sum", a, b).forward(ctx, tag=tag)

    @actor.on_response("Sum")
    def on_sum(self, ctx: actor.Context, status: int, value: Any) -> None:
        if status == 0:
            print("answer %d: %d" % (ctx.tag, value))
        else:
            print("answer %d failed: %r" % (ctx.tag, value))
        self.answers += 1
        if self.answers == 2:
            ctx.stop()


with actor.Runtime(threads=2) as rt:
    calc = rt.spawn("Calculator")  # the C class, by the name the plugin registered
    user = rt.spawn(User(calc))
    user.join(timeout=5.0)
    print("joined:", user.done)
