"""Layout-aware payloads: packing arguments and unpacking replies, and the
errors for arguments that do not fit."""

import unittest
from typing import Any

import actor
from _util import RuntimeCase, limit, need_calculator, need_test_plugin

ALL = "?bBhHiIqQfd4s2x"  # every field kind, and padding

actor.define("Pay.All", ALL, ALL)
actor.define("Pay.Opaque", None, None)
actor.define("Pay.Empty", "", "")
actor.define("Pay.Three", "iii", "iii")
actor.define("Pay.Event", "hd")


class Mirror(actor.Actor):
    """Replies with its payload's fields."""

    def initialize(self, ctx: actor.Context) -> None:
        self.events: list[tuple[int, float]] = []

    @actor.on_request("Pay.All")
    def all(self, ctx: actor.Context, *fields: Any) -> tuple[Any, ...]:
        return fields

    @actor.on_request("Pay.Opaque")
    def opaque(self, ctx: actor.Context, data: bytes) -> bytes:
        assert isinstance(data, bytes)
        return data[::-1]

    @actor.on_request("Pay.Empty")
    def empty(self, ctx: actor.Context) -> None:
        return None

    @actor.on_request("Pay.Three")
    def three(self, ctx: actor.Context, a: int, b: int, c: int) -> list[int]:
        return [c, b, a]  # a list is fine for several fields

    @actor.on_event("Pay.Event")
    def event(self, ctx: actor.Context, h: int, d: float) -> None:
        self.events.append((h, d))


class TestFromC(RuntimeCase):
    @need_test_plugin
    def test_pair(self) -> None:
        echo = self.rt.spawn("Echo")
        self.assertEqual(echo.ask("Echo.Pair", 7, 2.5).result(limit(1)), (2.5, 7))
        self.assertEqual(echo.ask("Echo.Pair", -1, -0.0).result(limit(1)), (-0.0, -1))

    @need_test_plugin
    def test_opaque(self) -> None:
        echo = self.rt.spawn("Echo")
        self.assertEqual(echo.ask("Echo.Bytes", b"abc").result(limit(1)), b"abc")
        self.assertEqual(echo.ask("Echo.Bytes", b"").result(limit(1)), b"")
        self.assertEqual(echo.ask("Echo.Bytes", bytearray(300)).result(limit(1)), bytes(300))
        self.assertEqual(echo.ask("Echo.Bytes", memoryview(b"xyz")).result(limit(1)), b"xyz")
        with self.assertRaises(TypeError):
            echo.ask("Echo.Bytes", "text")
        with self.assertRaises(TypeError):
            echo.ask("Echo.Bytes", 12)
        with self.assertRaises(actor.TypeMismatch):
            echo.ask("Echo.Bytes")
        with self.assertRaises(actor.TypeMismatch):
            echo.ask("Echo.Bytes", b"a", b"b")

    @need_test_plugin
    def test_empty(self) -> None:
        echo = self.rt.spawn("Echo")
        self.assertIsNone(echo.ask("Echo.Nothing").result(limit(1)))
        with self.assertRaises(actor.TypeMismatch):
            echo.ask("Echo.Nothing", 1)

    @need_test_plugin
    def test_strings(self) -> None:
        echo = self.rt.spawn("Echo")
        self.assertEqual(echo.ask("Echo.Str", b"abc").result(limit(1)), b"abc\0\0\0\0\0")
        self.assertEqual(echo.ask("Echo.Str", b"12345678").result(limit(1)), b"12345678")
        with self.assertRaises(ValueError) as cm:
            echo.ask("Echo.Str", b"123456789")
        self.assertIn("at most 8 bytes", str(cm.exception))
        with self.assertRaises(TypeError):
            echo.ask("Echo.Str", "abc")

    @need_calculator
    def test_sum_arguments(self) -> None:
        calc = self.rt.spawn("Calculator")
        with self.assertRaises(actor.TypeMismatch) as cm:
            calc.ask("Sum", 1)
        self.assertIsInstance(cm.exception, TypeError)
        self.assertIn("2 fields", str(cm.exception))
        with self.assertRaises(actor.TypeMismatch):
            calc.ask("Sum", 1, 2, 3)
        with self.assertRaises(actor.TypeMismatch):
            calc.send("Sum")
        with self.assertRaises(TypeError) as tcm:
            calc.ask("Sum", "1", 2)
        self.assertNotIsInstance(tcm.exception, actor.TypeMismatch)
        self.assertIn("field 0", str(tcm.exception))
        self.assertIn("'Sum'", str(tcm.exception))
        with self.assertRaises(TypeError):
            calc.ask("Sum", 1.5, 2)
        with self.assertRaises(TypeError):
            calc.ask("Sum", None, 2)
        with self.assertRaises(OverflowError) as ocm:
            calc.ask("Sum", 1, 2 ** 63)
        self.assertIn("field 1", str(ocm.exception))
        with self.assertRaises(OverflowError):
            calc.ask("Sum", -2 ** 63 - 1, 0)
        self.assertEqual(calc.ask("Sum", -2 ** 63, 2 ** 63 - 1).result(limit(1)), -1)
        self.assertEqual(calc.ask("Sum", True, 1).result(limit(1)), 2)  # bool is an int


class TestPython(RuntimeCase):
    def setUp(self) -> None:
        super().setUp()
        self.m = self.rt.spawn(Mirror())

    def test_all_kinds_round_trip(self) -> None:
        vals = (True, -128, 255, -32768, 65535, -2 ** 31, 2 ** 32 - 1, -2 ** 63, 2 ** 64 - 1,
                1.5, -2.25, b"abcd")
        self.assertEqual(self.m.ask("Pay.All", *vals).result(limit(1)), vals)
        t = actor.find("Pay.All")
        assert t is not None
        self.assertEqual(t.size, 1 + 1 + 1 + 2 + 2 + 4 + 4 + 8 + 8 + 4 + 8 + 4 + 2)

    def test_each_int_out_of_range(self) -> None:
        base = [False, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, b""]
        ranges = [(1, -2 ** 7, 2 ** 7 - 1), (2, 0, 2 ** 8 - 1), (3, -2 ** 15, 2 ** 15 - 1),
                  (4, 0, 2 ** 16 - 1), (5, -2 ** 31, 2 ** 31 - 1), (6, 0, 2 ** 32 - 1),
                  (7, -2 ** 63, 2 ** 63 - 1), (8, 0, 2 ** 64 - 1)]
        for i, lo, hi in ranges:
            for bad in (lo - 1, hi + 1):
                args = list(base)
                args[i] = bad
                with self.assertRaises(OverflowError, msg=(i, bad)) as cm:
                    self.m.ask("Pay.All", *args)
                self.assertIn("field %d" % i, str(cm.exception))
            for good in (lo, hi):
                args = list(base)
                args[i] = good
                self.assertEqual(self.m.ask("Pay.All", *args).result(limit(1))[i], good)

    def test_float_fields(self) -> None:
        args = [False, 0, 0, 0, 0, 0, 0, 0, 0, 1e300, 0.0, b""]
        with self.assertRaises(OverflowError):
            self.m.ask("Pay.All", *args)  # too large for 'f'
        args[9] = 3  # an int is a number
        args[10] = "1.0"
        with self.assertRaises(TypeError) as cm:
            self.m.ask("Pay.All", *args)
        self.assertIn("field 10", str(cm.exception))
        args[10] = float("inf")
        self.assertEqual(self.m.ask("Pay.All", *args).result(limit(1))[9:11], (3.0, float("inf")))

    def test_bool_field_takes_any_truth(self) -> None:
        args = [[1], 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, b""]
        self.assertIs(self.m.ask("Pay.All", *args).result(limit(1))[0], True)

    def test_opaque(self) -> None:
        self.assertEqual(self.m.ask("Pay.Opaque", b"abc").result(limit(1)), b"cba")

    def test_empty(self) -> None:
        self.assertIsNone(self.m.ask("Pay.Empty").result(limit(1)))

    def test_several_fields_from_a_list(self) -> None:
        self.assertEqual(self.m.ask("Pay.Three", 1, 2, 3).result(limit(1)), (3, 2, 1))

    def test_event_fields(self) -> None:
        inst = Mirror()
        a = self.rt.spawn(inst)
        a.send("Pay.Event", -5, 0.5)
        a.send("Pay.Event", 7, 1e10)
        a.interrupt()
        a.join(limit(2))
        self.assertEqual(inst.events, [(-5, 0.5), (7, 1e10)])
        with self.assertRaises(actor.TypeMismatch):
            self.m.send("Pay.Event", 1)
        with self.assertRaises(OverflowError):
            self.m.send("Pay.Event", 1 << 20, 0.0)


if __name__ == "__main__":
    unittest.main()
