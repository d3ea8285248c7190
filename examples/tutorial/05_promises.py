"""Tutorial 5: promises, in Python. ctx.defer() takes the request out of the
handler as a Promise, answered later (from any thread). The Gate holds
every Ticket request until an Open event; a promise dropped unanswered
cancels its request, so no requester hangs."""
import actor

actor.define("Ticket", "", "q")  # no fields; an int64 back
actor.define("Open", "")


class Gate(actor.Actor):
    def initialize(self, ctx: actor.Context) -> None:
        self.waiting: list[actor.Promise] = []

    @actor.on_request("Ticket")
    def ticket(self, ctx: actor.Context) -> None:
        self.waiting.append(ctx.defer())  # answered on Open

    @actor.on_event("Open")
    def open(self, ctx: actor.Context) -> None:
        for number, promise in enumerate(self.waiting, 1):
            promise.resolve(number)
        self.waiting = []

    def finalize(self, ctx: actor.Context) -> None:
        self.waiting = []  # dropped unanswered: their requests are canceled


def show(what: str, r: actor.Responder) -> None:
    try:
        print("%s: ticket %d" % (what, r.result(timeout=5.0)))
    except actor.ActorError as e:
        print("%s: %s" % (what, type(e).__name__))


with actor.Runtime(threads=2) as rt:
    gate = rt.spawn(Gate)
    r = [gate.ask("Ticket") for _ in range(3)]
    try:
        r[0].result(timeout=0.1)
    except actor.Timeout:
        print("before Open: Timeout")
    gate.send("Open")
    show("first", r[0])
    show("second", r[1])
    show("third", r[2])
    fourth = gate.ask("Ticket")  # no Open will come
    gate.release()               # the Gate stops: finalize drops the promise
    show("fourth", fourth)
