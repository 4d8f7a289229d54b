"""Answer slots shared by every way to ask: a few answers at once, a bounded line waiting, then "busy".

    slots = Slots(concurrency=4, max_waiting=64)
    ticket = slots.admit()         # an API request: Busy at once when the line is full
    await ticket.wait(); ...; ticket.close()
    with slots.hold():             # the chat: already let in by gradio's own queue, so it only waits
        ...

Slots are handed over first come, first served. `queued_elsewhere` counts requests waiting in another
queue for the same slots (gradio's), so that a full line is full for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from concurrent.futures import Future
from typing import Callable, Iterator

from .errors import Busy, InputError


class Slots:
    def __init__(self, concurrency: int = 4, max_waiting: int = 64,
                 queued_elsewhere: Callable[[], int] = lambda: 0):
        if concurrency < 1 or max_waiting < 0:
            raise InputError(f"Slots needs concurrency >= 1 and max_waiting >= 0, not {concurrency} and {max_waiting}")
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self.queued_elsewhere = queued_elsewhere
        self.running = 0
        self._waiters: deque[Future] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _request(self, check: bool) -> Future:
        """A future that is done once this caller holds a slot; Busy (when `check`) if the line is full."""
        with self._lock:
            if check:
                queued = self.running + len(self._waiters) + self.queued_elsewhere()
                if queued >= self.concurrency + self.max_waiting:
                    raise Busy(f"This application is currently busy ({self.running} questions being answered, "
                               f"{queued - self.running} waiting). Please try again.")
            granted: Future = Future()
            if self.running < self.concurrency and not self._waiters:
                self.running += 1
                granted.set_result(None)
            else:
                self._waiters.append(granted)
            return granted

    def _release(self) -> None:
        """Hand the slot to the first caller still waiting, or free it."""
        with self._lock:
            while self._waiters:
                nxt = self._waiters.popleft()
                if nxt.set_running_or_notify_cancel():  # False: that caller gave up
                    nxt.set_result(None)
                    return
            self.running -= 1

    def _leave(self, granted: Future) -> None:
        """A caller is done: out of the line if it is still waiting, else its slot goes to the next."""
        with self._lock:
            if granted in self._waiters:
                self._waiters.remove(granted)
                return
        if granted.done() and not granted.cancelled():
            self._release()

    def admit(self) -> "Ticket":
        """A place in line for an API request: Busy at once, before any waiting, when the line is full."""
        return Ticket(self, self._request(check=True))

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a slot for the block (a thread), waiting as long as it takes: for callers that another
        queue (gradio's, with its own size limit) has let in already."""
        ticket = Ticket(self, self._request(check=False))
        try:
            ticket.wait_here()
            yield
        finally:
            ticket.close()


class Ticket:
    """One caller's place: waiting, then holding a slot, until `close()` (safe to call twice)."""

    def __init__(self, slots: Slots, granted: Future):
        self._slots, self._granted, self._closed = slots, granted, False

    async def wait(self) -> None:
        """Until the slot is this caller's (asyncio)."""
        await asyncio.wrap_future(self._granted)

    def wait_here(self) -> None:
        """Until the slot is this caller's (a thread)."""
        self._granted.result()

    def close(self) -> None:
        """Out of the line, or the slot given back."""
        if not self._closed:
            self._closed = True
            self._slots._leave(self._granted)
