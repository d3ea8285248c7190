"""A taste of the Python package: a C actor from a plugin, and an actor
written in Python. Run from the top of the checkout after scripts/setup:

    PYTHONPATH=build/python python3 examples/taste.py
"""
import asyncio
import os

import actor

# A C plugin: it defines the type Sum ("qq", reply "q") and the class Calculator.
actor.load(os.environ.get("ACTOR_CALCULATOR_PLUGIN", "build/examples/libcalculator.so"))
actor.define("Add", "q")          # an event of one int64
actor.define("Get", "", "q")      # a request with no fields, an int64 reply


class Counter(actor.Actor):       # an actor written in Python
    def initialize(self, ctx: actor.Context) -> None:
        self.n = 0

    @actor.on_event("Add")
    def add(self, ctx: actor.Context, k: int) -> None:
        self.n += k

    @actor.on_request("Get")
    def get(self, ctx: actor.Context) -> int:
        return self.n


async def ask_async(calc: actor.Address) -> int:
    total: int = await calc.ask("Sum", 3, 4)  # no thread is parked per request
    return total


with actor.Runtime(threads=2) as rt:      # leaving the block shuts it down
    calc = rt.spawn("Calculator")
    r = calc.ask("Sum", 1, 2)             # a Responder, at once
    print("Sum:", r.result(timeout=5.0))  # blocks, the GIL released
    print("Sum (asyncio):", asyncio.run(ask_async(calc)))

    counter = rt.spawn(Counter)
    for k in range(1, 101):
        counter.send("Add", k)
    print("Counter:", counter.ask("Get").result(timeout=5.0))
    counter.interrupt()                   # queued behind the events
    counter.join(timeout=5.0)
    print("done:", r.done(), counter.done)   # Responder.done() a method, Address.done a property
