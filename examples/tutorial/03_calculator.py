"""Tutorial 3: request-response, in Python. The Calculator answers Sum(a, b)
with a + b and Div(a, b) with a // b, failing a division by zero with its
own code. ask() gives a Responder at once: result() blocks until the answer
is there, and `await` waits for it inside asyncio."""
import asyncio

import actor

actor.define("Sum", "qq", "q")  # two int64, an int64 back
actor.define("Div", "qq", "q")
DIV_BY_ZERO = 1                 # the handler's own error code


class Calculator(actor.Actor):
    @actor.on_request("Sum")
    def sum(self, ctx: actor.Context, a: int, b: int) -> int:
        return a + b            # the return value is the reply

    @actor.on_request("Div")
    def div(self, ctx: actor.Context, a: int, b: int) -> int:
        if b == 0:
            raise actor.HandlerError(handler_code=DIV_BY_ZERO)
        return a // b


def ask(calc: actor.Address, op: str, a: int, b: int) -> None:
    try:
        print("%s(%d, %d) = %d" % (op, a, b, calc.ask(op, a, b).result(timeout=5.0)))
    except actor.HandlerError as e:
        print("%s(%d, %d) failed: HandlerError, handler error %s" % (op, a, b, e.handler_code))


async def ask_async(calc: actor.Address) -> int:
    total: int = await calc.ask("Sum", 20, 22)  # no thread is parked per request
    return total


with actor.Runtime(threads=2) as rt:
    calc = rt.spawn(Calculator)
    ask(calc, "Sum", 1, 2)
    ask(calc, "Div", 7, 2)
    ask(calc, "Div", 7, 0)
    print("Sum(20, 22) in asyncio = %d" % asyncio.run(ask_async(calc)))
