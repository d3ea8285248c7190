"""Tutorial 7 (1.1): flow, in Python. A Worker's mailbox holds at most 2
messages: under "reject" a send to a full mailbox raises actor.Full, under
"drop" it is accepted and dropped (the dead-letter hook hears of it);
send(..., timeout=s) waits for room instead. The counters of an actor and
of the runtime tell what happened. A manual runtime keeps the messages
queued until the program runs it."""
from typing import Type

import actor

actor.define("Job", "")
REASONS = {actor.Full.code: "Full", actor.Closed.code: "Closed"}


class Rejecting(actor.Actor):
    mailbox = (2, "reject")  # capacity, overflow policy

    @actor.on_event("Job")
    def job(self, ctx: actor.Context) -> None:
        pass


class Dropping(Rejecting):
    mailbox = (2, "drop")


def dead_letter(to: actor.Address, type_name: str, payload: bytes, reason: int) -> None:
    print("dead letter: %s (%s)" % (type_name, REASONS[reason]))


def four_jobs(rt: actor.Runtime, cls: Type[actor.Actor]) -> None:
    """Spawns a Worker of `cls`, sends it 3 jobs at once and a 4th that
    waits for room, runs the runtime, prints its counters."""
    name = cls.__name__
    worker = rt.spawn(cls)
    for i in range(1, 4):
        try:
            worker.send("Job")
            print("%s: send %d: ok" % (name, i))
        except actor.Full:
            print("%s: send %d: Full" % (name, i))
    # Up to 1 s for room; on a manual runtime it runs the runtime until the
    # Worker has taken enough jobs.
    worker.send("Job", timeout=1.0)
    print("%s: send 4, waiting for room: ok" % name)
    rt.run()
    st = worker.stats()
    print("%s: received %d, handled %d, rejected %d, dropped %d, peak %d"
          % (name, st["received"], st["handled"], st["rejected"], st["dropped"],
             st["queued_peak"]))
    worker.release()


with actor.Runtime(manual=True, seed=1) as rt:
    rt.on_dead_letter(dead_letter)  # before the first spawn
    four_jobs(rt, Rejecting)
    four_jobs(rt, Dropping)
    rt.run()  # the released Workers stop
    rs = rt.stats()
    print("runtime: %d actors spawned, %d live, %d messages handled"
          % (rs["actors_spawned"], rs["actors_live"], rs["messages_handled"]))
