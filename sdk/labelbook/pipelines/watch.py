"""Keep a pipeline moving: a pass whenever the server says a record of one of its stages is
complete (Argilla's webhooks, on a server on this machine), and every `interval` seconds in any
case (polling: a remote server, a key that may not manage webhooks, a delivery lost)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from labelbook.errors import BackendError

if TYPE_CHECKING:
    from labelbook.argilla import Connection
    from labelbook.argilla.webhooks import Wakeups
    from labelbook.pipelines.nodes import RunResult


class Watched(Protocol):
    """What a watch needs of a `Pipeline`."""

    name: str

    @property
    def connection(self) -> Connection: ...

    def dataset_ids(self) -> set[str]: ...

    def run(self, *, snapshot: bool = True) -> RunResult: ...


SETTLE = 1.0
"""Seconds to gather a burst of completions (a batch of answers) into one pass."""


def wakeups(pipe: Watched) -> tuple[Wakeups | None, str]:
    """The webhook listener for `pipe`'s stages, or None and why the watch polls instead."""
    from labelbook.argilla.webhooks import listen

    def wanted(dataset_id: str) -> bool:
        return dataset_id in pipe.dataset_ids()

    try:
        return listen(pipe.connection, pipe.name, wanted), ""
    except BackendError as err:
        return None, str(err)


def watch(
    pipe: Watched,
    interval: float = 10.0,
    *,
    on_pass: Callable[[RunResult], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Passes until `stop` is set (or KeyboardInterrupt): one now, then one after each wake-up from
    a webhook and at least every `interval` seconds. `on_start` is told how the watch is woken,
    `on_pass` gets each pass's result. The last pass's result."""
    stop = stop or threading.Event()
    listener, why_not = wakeups(pipe)
    if on_start is not None:
        on_start(
            f"a pass when a record of a stage is complete (webhook at {listener.url}) "
            f"and every {interval:g} s"
            if listener is not None
            else f"a pass every {interval:g} s (polling: {why_not})"
        )
    try:
        while True:
            result = pipe.run()
            if on_pass is not None:
                on_pass(result)
            _sleep(listener, stop, interval)
            if stop.is_set():
                return result
    finally:
        if listener is not None:
            listener.close()


def _sleep(listener: Wakeups | None, stop: threading.Event, interval: float) -> None:
    """Until `interval` seconds passed, `stop` is set, or (then SETTLE seconds more) a webhook woke."""
    deadline = time.monotonic() + interval
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        if listener is None:
            stop.wait(left)
        elif listener.wait(min(left, 0.5)):
            stop.wait(SETTLE)
            listener.wait(0)  # what arrived while settling is this pass's
            return
