"""The C Calculator of examples/calculator_node.c, asked from Python on
another node:

    nats-server -a 127.0.0.1 -p 4222 &
    build/examples/calculator_node serve &
    PYTHONPATH=build/python python3 examples/calculator_node.py   # Sum: 3

It looks "calculator" up (an ordinary actor.Address), asks Sum {1, 2} and
awaits the answer in asyncio, as it would a local actor's. A first argument
is the NATS url (default nats://127.0.0.1:4222).
"""
import asyncio
import sys

import actor

try:
    Node = actor.Node
except AttributeError:  # until actor/__init__.py imports it
    from actor._node import Node


async def main(url: str) -> None:
    actor.define("Sum", "qq", "q")
    with actor.Runtime(threads=2) as rt:
        with Node(rt, url, "python") as node:
            calculator = node.lookup("calculator", timeout=5)
            print("Sum:", await calculator.ask("Sum", 1, 2))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "nats://127.0.0.1:4222"))
