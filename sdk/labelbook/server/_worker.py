"""The worker process: argilla-server's background jobs (rq), with the labelbook engine registered.

Run by `labelbook server start` as `python -m labelbook.server._worker`.
"""

from __future__ import annotations

from labelbook.server._bootstrap import prepare_process


def main() -> None:
    prepare_process()
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import SimpleWorker

    # SimpleWorker runs jobs in this process: no fork after SQLite connections are open, and
    # the engine registration made above is the one the jobs see.
    SimpleWorker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION).work(with_scheduler=False)


if __name__ == "__main__":
    main()
