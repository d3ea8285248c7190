"""Tutorial 9 (1.1): composition, in Python. Topics: a Logger subscribed to
"orders.>" takes every type with a catch-all handler; a Shipping actor
subscribed to "orders.*.new" handles Order events only. A pool: three
Cashiers behind one address, the customer's number choosing the Cashier, so
the same customer always reaches the same one. A manual runtime keeps the
order of the lines the same every run."""
import itertools
from typing import Any, Union

import actor

actor.define("Order", "qq")       # customer, amount
actor.define("Paid", "q")         # customer
actor.define("Serve", "q", "q")   # customer; the Cashier's number back


class Logger(actor.Actor):
    def on_any_event(self, ctx: actor.Context, type: Union[actor.MsgType, str],
                     payload: bytes) -> None:
        """The catch-all handler: any event type without a handler of its own."""
        name = type.name if isinstance(type, actor.MsgType) else type
        print("  logger: %s, %d bytes" % (name, len(payload)))


class Shipping(actor.Actor):
    @actor.on_event("Order")
    def order(self, ctx: actor.Context, customer: int, amount: int) -> None:
        print("  shipping: customer %d, amount %d" % (customer, amount))


class Cashier(actor.Actor):
    numbers = itertools.count(1)  # the manual runtime runs every initialize on this thread

    def initialize(self, ctx: actor.Context) -> None:
        self.number = next(Cashier.numbers)

    @actor.on_request("Serve")
    def serve(self, ctx: actor.Context, customer: int) -> int:
        return self.number


def publish(rt: actor.Runtime, subject: str, type: str, *fields: Any) -> None:
    """Publishes one event and runs the runtime, so that its subscribers print."""
    delivered = rt.publish(subject, type, *fields)
    print("%s %s: delivered to %d" % (type, subject, delivered))
    rt.run()


with actor.Runtime(manual=True, seed=1) as rt:
    # Topics: '*' is exactly one token, '>' one or more at the end.
    logger = rt.spawn(Logger)
    logger.subscribe("orders.>")
    shipping = rt.spawn(Shipping)
    shipping.subscribe("orders.*.new")
    publish(rt, "orders.eu.new", "Order", 7, 100)
    publish(rt, "orders.us.new", "Order", 3, 250)
    publish(rt, "orders.eu.paid", "Paid", 7)

    # A pool routed by a hash of the payload's bytes 0 to 7: the customer.
    pool = rt.pool(Cashier, members=3, route="hash", key=(0, 8))
    for customer in [7, 3, 5, 7, 3, 5]:
        print("customer %d -> cashier %d" % (customer,
                                             pool.ask("Serve", customer).result(timeout=5.0)))
