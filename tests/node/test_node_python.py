"""actor.Node (bindings/python/actor/_node.py) against a real nats-server on
127.0.0.1, two runtimes and two nodes in this process: a Python actor
exported by one node is asked (blocking and awaited) and sent events
through the other's ordinary Address; lookup of an absent name fails with
ACTOR_ENOENT; closing the exporting node makes the remote address Done.

    PYTHONPATH=<build>/python python3 tests/node/test_node_python.py <nats-server>

Until actor/__init__.py imports it, the module is loaded from the source
tree as actor._node (it only uses the package's public pieces and _core).
"""

import asyncio
import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
import unittest
from typing import Any

import actor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NATS_SERVER = sys.argv.pop(1) if len(sys.argv) > 1 else "nats-server"

Node: "type[actor.Node]"
try:
    Node = actor.Node
except AttributeError:
    spec = importlib.util.spec_from_file_location(
        "actor._node", os.path.join(ROOT, "bindings", "python", "actor", "_node.py"))
    assert spec is not None and spec.loader is not None
    _node = importlib.util.module_from_spec(spec)
    sys.modules["actor._node"] = _node
    spec.loader.exec_module(_node)
    Node = _node.Node

actor.define("PyNode.Get", "", "q")
actor.define("PyNode.Add", "q", "")


class Counter(actor.Actor):
    def __init__(self) -> None:
        self.n = 0

    @actor.on_event("PyNode.Add")
    def add(self, ctx: actor.Context, k: int) -> None:
        self.n += k

    @actor.on_request("PyNode.Get")
    def get(self, ctx: actor.Context) -> int:
        return self.n


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


class TestNode(unittest.TestCase):
    port: int
    server: subprocess.Popen[bytes]
    url: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.port = free_port()
        cls.server = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(cls.port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(cls.server.kill)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        cls.url = "nats://127.0.0.1:%d" % cls.port

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.kill()
        cls.server.wait()

    def test_remote_python_actor(self) -> None:
        with actor.Runtime(2) as rt_a, actor.Runtime(2) as rt_b:
            a = Node(rt_a, self.url, "pya")
            b = Node(rt_b, self.url, "pyb")
            counter = rt_a.spawn(Counter())
            a.export("counter", counter)
            remote = b.lookup("counter", timeout=5)
            self.assertIsInstance(remote, actor.Address)
            self.assertIs(type(b.lookup("counter", timeout=5)), actor.Address)
            for k in range(1, 101):
                remote.send("PyNode.Add", k)
            # ordered: the ask comes after the 100 events
            self.assertEqual(remote.ask("PyNode.Get").result(timeout=10), 5050)

            async def main() -> Any:
                return await remote.ask("PyNode.Get")
            self.assertEqual(asyncio.run(main()), 5050)

            with self.assertRaises(actor.ActorError) as cm:
                b.lookup("nobody", timeout=0.2)
            self.assertEqual(cm.exception.code, -13)  # ACTOR_ENOENT

            a.close()  # the exporting node leaves: the remote address is Done
            remote.join(timeout=10)
            self.assertTrue(remote.done)
            b.close()
            b.close()  # idempotent
            with self.assertRaises(actor.Closed):
                b.lookup("counter", timeout=1)

    def test_bad_arguments(self) -> None:
        with actor.Runtime(1) as rt:
            with self.assertRaises(actor.InvalidArgument):
                Node(rt, self.url, "bad.name")
            with self.assertRaises(TypeError):
                Node(object(), self.url, "x")  # type: ignore[arg-type]
            with Node(rt, self.url, "x") as n:
                with self.assertRaises(ValueError):
                    n.lookup("calc", timeout=0)
                with self.assertRaises(actor.InvalidArgument):
                    n.bridge("a.*")
                n.bridge("py.news")


if __name__ == "__main__":
    unittest.main()
