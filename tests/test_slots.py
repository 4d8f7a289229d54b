"""The answer slots (rag/slots.py): a bounded number at once, a bounded line, first come first served,
"busy" at once beyond it, and a caller that leaves never keeps a slot."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from rag.errors import Busy, InputError
from rag.slots import Slots


def test_beyond_the_slots_and_the_line_it_is_busy_at_once():
    slots = Slots(concurrency=2, max_waiting=1)
    held = [slots.admit(), slots.admit()]
    assert slots.running == 2 and slots.waiting == 0
    waiting = slots.admit()
    assert slots.waiting == 1
    t = time.perf_counter()
    with pytest.raises(Busy, match=r"busy \(2 questions being answered, 1 waiting\)\. Please try again"):
        slots.admit()
    assert time.perf_counter() - t < 0.1
    held[0].close()  # the slot goes to the one waiting
    assert slots.running == 2 and slots.waiting == 0
    waiting.close()
    held[1].close()
    held[1].close()  # twice is harmless
    assert slots.running == 0


def test_others_waiting_elsewhere_count_against_the_line():
    elsewhere = [3]
    slots = Slots(concurrency=1, max_waiting=3, queued_elsewhere=lambda: elsewhere[0])
    ticket = slots.admit()  # 0 running + 0 waiting + 3 elsewhere < 4
    with pytest.raises(Busy):
        slots.admit()  # 1 running + 3 elsewhere
    elsewhere[0] = 0
    slots.admit().close()  # waiting, then out of the line
    assert slots.waiting == 0
    ticket.close()
    assert slots.running == 0


def test_slots_are_handed_over_first_come_first_served():
    slots = Slots(concurrency=1, max_waiting=8)
    order = []

    def worker(i):
        with slots.hold():
            order.append(i)
            time.sleep(0.01)

    first = slots.admit()
    threads = []
    for i in range(5):
        threads.append(threading.Thread(target=worker, args=(i,)))
        threads[-1].start()
        while slots.waiting < i + 1:  # each one in line before the next
            time.sleep(0.001)
    first.close()
    for t in threads:
        t.join(timeout=10)
    assert order == [0, 1, 2, 3, 4] and slots.running == 0


def test_hold_never_refuses_since_another_queue_let_the_caller_in():
    slots = Slots(concurrency=1, max_waiting=0)
    first = slots.admit()
    with pytest.raises(Busy):
        slots.admit()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (slots.hold().__enter__(), done.set()))
    thread.start()
    assert not done.wait(0.2)  # waiting for the slot, not refused
    first.close()
    assert done.wait(5)


def test_an_async_caller_that_gives_up_waiting_leaves_the_line():
    async def scenario():
        slots = Slots(concurrency=1, max_waiting=2)
        holder = slots.admit()
        await holder.wait()
        leaver = slots.admit()
        task = asyncio.create_task(leaver.wait())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        leaver.close()
        assert slots.waiting == 0
        stayer = slots.admit()
        holder.close()  # skips the one who left: the slot goes to the next in line
        await asyncio.wait_for(stayer.wait(), 1)
        assert slots.running == 1
        stayer.close()
        return slots.running

    assert asyncio.run(scenario()) == 0


@pytest.mark.parametrize("concurrency, waiting", [(0, 4), (4, -1)])
def test_bad_sizes_are_refused(concurrency, waiting):
    with pytest.raises(InputError, match="concurrency >= 1 and max_waiting >= 0"):
        Slots(concurrency, waiting)
