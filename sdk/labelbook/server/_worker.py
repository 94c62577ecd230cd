"""The worker process: argilla-server's background jobs (rq), with the labelbook engine registered.

Run by `labelbook server start` as `python -m labelbook.server._worker`.

argilla-server retries a failed webhook delivery after 10 s, 60 s and 180 s. rq parks such a
retry in its scheduled-job registry, and only a scheduler moves it back to the queue. rq's own
scheduler is a forked process that would outlive a `kill -9` of the worker, so the worker runs
the same scheduling steps in a daemon thread instead: one process to start, watch and stop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from labelbook.server._bootstrap import prepare_process

SCHEDULER_INTERVAL = 1  # seconds between two looks at the scheduled-job registries (rq wants an int)

_log = logging.getLogger("labelbook.server.worker")


def run_scheduler(
    queues: list[Any], connection: Any, stop: threading.Event, interval: int = SCHEDULER_INTERVAL
) -> None:
    """Move due scheduled jobs (retries with an interval) of `queues` back to their queue until `stop`."""
    from rq.scheduler import RQScheduler

    scheduler = RQScheduler(queues, connection=connection, interval=interval)
    names = {queue.name for queue in queues}
    while not stop.is_set():
        try:
            # A lock left by a worker killed with -9 expires after `interval + 60` s; ask every turn.
            if scheduler.acquired_locks != names:
                scheduler.acquire_locks()
            if scheduler.acquired_locks:
                scheduler.enqueue_scheduled_jobs()
                scheduler.heartbeat()
        except Exception:  # a redis hiccup must not end retries for good; the next turn tries again
            _log.exception("scheduler turn failed; trying again in %.0f s", interval)
        stop.wait(interval)
    if scheduler.acquired_locks:
        scheduler.release_locks()


def main() -> None:
    prepare_process()
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import SimpleWorker

    queues = [HIGH_QUEUE, DEFAULT_QUEUE]
    stop = threading.Event()
    scheduler = threading.Thread(
        target=run_scheduler, args=(queues, REDIS_CONNECTION, stop), name="rq-scheduler", daemon=True
    )
    scheduler.start()
    try:
        # SimpleWorker runs jobs in this process: no fork after SQLite connections are open, and
        # the engine registration made above is the one the jobs see.
        SimpleWorker(queues, connection=REDIS_CONNECTION).work(with_scheduler=False)
    finally:
        stop.set()
        scheduler.join(timeout=5)


if __name__ == "__main__":
    main()
