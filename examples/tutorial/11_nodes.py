"""Tutorial 11 (1.1): several machines, in Python. actor.Node connects a
runtime to a NATS server as a named node. Node "paris" exports a Calculator
by name; node "tokyo" looks it up and gets an ordinary Address: it asks
through it as it would a local actor. When paris leaves, tokyo's address of
the Calculator becomes Done with the reason ACTOR_NODE_LOST (Closed). The
two nodes share this one process so that the program is self-contained; on
two machines each would run its half, with the same calls.
The server: $ACTOR_NATS_URL, else nats://127.0.0.1:4222."""
import os

import actor

actor.define("Sum", "qq", "q")
URL = os.environ.get("ACTOR_NATS_URL", "nats://127.0.0.1:4222")


class Calculator(actor.Actor):
    @actor.on_request("Sum")
    def sum(self, ctx: actor.Context, a: int, b: int) -> int:
        return a + b


# Each node is a runtime connected to the server (blocks until it is).
with actor.Runtime(threads=2) as paris_rt, actor.Runtime(threads=2) as tokyo_rt:
    with actor.Node(paris_rt, URL, "paris") as paris, \
            actor.Node(tokyo_rt, URL, "tokyo") as tokyo:
        # paris: a Calculator, reachable by name from every node.
        paris.export("calculator", paris_rt.spawn(Calculator))

        # tokyo: finds it (waiting up to 5 s for a node to answer) and asks.
        calc = tokyo.lookup("calculator", timeout=5.0)
        print("tokyo: Sum(1, 2) = %d, answered in paris"
              % calc.ask("Sum", 1, 2).result(timeout=5.0))

        # paris leaves the cluster: tokyo's address of the Calculator is Done.
        paris.close()
        calc.join(timeout=5.0)
        print("tokyo: the calculator is Done, reason:",
              "Closed" if calc.exit_reason == actor.Closed.code else calc.exit_reason)
