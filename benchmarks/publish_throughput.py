"""Publish throughput: `labelbook.publish` against the argilla SDK's `dataset.records.log`.

Starts an embedded server in a scratch folder, then logs the same N records (two text fields
plus a chat field of three messages) into two fresh datasets with the same settings: once with
`dataset.records.log` (the anchor) and once with `labelbook.publish`. Prints both throughputs and
the ratio (target: publish >= 0.95 x the SDK).

    python benchmarks/publish_throughput.py                  # 10k records
    python benchmarks/publish_throughput.py --records 2000   # a quick run

`--grown 500000,1000000` then measures whether publishing stays as fast as a dataset grows (issue
14: flat from 0 to 1M records): the labelbook dataset is filled straight through SQLite up to each
size (the engine's triggers index those records as any insert), and the next N records are
published into it, and N into a new empty dataset at the same moment; each point prints the
ratio of the two (the dataset's size alone), and the ratio to the first publish (0 records,
minutes earlier: the database's growth and the machine's drift as well).

    python benchmarks/publish_throughput.py --grown 500000,1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trajectory-rating"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rows(n: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"b{i:06d}",
            "instruction": f"Fix the failing test number {i} in the parser module.",
            "trajectory": [
                {"role": "user", "content": f"Fix test {i}."},
                {"role": "assistant", "content": "I will run the tests first, then edit the parser."},
                {"role": "assistant", "content": "```bash\n$ pytest -q\n3 passed\n```"},
            ],
        }
        for i in range(n)
    ]


def fill(database: Path, dataset_id: str, start: int, stop: int) -> None:
    """Records `start`..`stop` of the dataset written straight into the server's SQLite, in batches."""
    conn = sqlite3.connect(database, timeout=60, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=60000")
    moment = dt.datetime.utcnow().isoformat(sep=" ")
    for offset in range(start, stop, 10_000):
        batch = rows(min(10_000, stop - offset))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO records (id, fields, external_id, dataset_id, inserted_at, updated_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
            [
                (uuid.uuid4().hex, json.dumps(row), f"fill-{offset + n}", dataset_id, moment, moment)
                for n, row in enumerate(batch)
            ],
        )
        conn.execute("COMMIT")
        print(f"\r  filled {offset + len(batch):,}/{stop:,} records", end="", flush=True)
    print()
    conn.close()


def grown(notebook: Path, info: Any, database: Path, sizes: list[int], n: int, first: float) -> None:
    """Publish `n` more records after filling the dataset to each size, and `n` into a new dataset.

    Both publishes run at the same moment on the same server (which goes first alternates), so
    their ratio is the dataset's size alone; the ratio to `first` (the publish into an empty
    dataset at the start) adds the database's growth and the machine's drift since.
    """
    import labelbook as lb

    project = lb.Project.open(notebook, api_url=info.url, api_key=info.credentials.api_key)
    dataset_id = project.state.dataset_id.replace("-", "")
    workspace, name = project.state.workspace, project.state.dataset
    project.close()
    there = n

    def publish(dataset: str, start: int) -> float:
        began = time.perf_counter()
        result = lb.publish(
            notebook,
            records=rows_from(start, n),
            workspace=workspace,
            dataset=dataset,
            api_url=info.url,
            api_key=info.credentials.api_key,
            progress=False,
        ).last_publish
        assert result.records_added == n, result
        return time.perf_counter() - began

    for point, size in enumerate(sizes):
        fill(database, dataset_id, there, size)
        if point % 2 == 0:
            into_grown, into_empty = publish(name, size), publish(f"{name}-empty-{size}", size)
        else:
            into_empty, into_grown = publish(f"{name}-empty-{size}", size), publish(name, size)
        there = size + n
        print(
            f"publish {n:,} into {size:>9,} records: {into_grown:6.2f} s  {n / into_grown:6.0f} records/s; "
            f"into a new dataset now {n / into_empty:6.0f} records/s: "
            f"{into_empty / into_grown:.2f}x (target: flat, >= 0.9); "
            f"{(n / into_grown) / first:.2f}x the first publish"
        )


def rows_from(start: int, n: int) -> list[dict[str, object]]:
    """`n` records with ids after `start` (not those of `rows`)."""
    return [{**row, "id": f"g{start + i:08d}"} for i, row in enumerate(rows(n))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256, help="records per request (max 500)")
    parser.add_argument("--workers", type=int, default=2, help="requests in flight")
    parser.add_argument(
        "--grown",
        default="",
        help="comma-separated dataset sizes to publish into after the first (e.g. 500000,1000000)",
    )
    args = parser.parse_args()

    import argilla as rg

    import labelbook as lb
    from labelbook import server

    scratch = Path(tempfile.mkdtemp(prefix="lb-bench-publish-"))
    info = server.start(scratch / "server", port=free_port())
    assert info.url and info.credentials
    try:
        notebook = scratch / "guide.py"
        shutil.copy(EXAMPLE / "guide.py", notebook)
        lb.release(notebook, "bench")
        data = rows(args.records)
        # Anchor: the SDK into a dataset with the same settings (made by a publish without records).
        made = lb.publish(
            notebook,
            workspace="bench",
            dataset="sdk-log",
            api_url=info.url,
            api_key=info.credentials.api_key,
            progress=False,
        ).last_publish
        client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)
        dataset = client.datasets(made.dataset, workspace="bench")
        start = time.perf_counter()
        dataset.records.log(data)
        sdk = time.perf_counter() - start
        client.http_client.close()

        start = time.perf_counter()
        result = lb.publish(
            notebook,
            records=data,
            workspace="bench",
            dataset="labelbook-publish",
            api_url=info.url,
            api_key=info.credentials.api_key,
            progress=False,
            batch_size=args.batch_size,
            workers=args.workers,
        ).last_publish
        ours = time.perf_counter() - start
        assert result.records_added == args.records
        print(f"records:                 {args.records}")
        print(f"dataset.records.log:     {sdk:6.2f} s  {args.records / sdk:8.0f} records/s  (anchor)")
        print(
            f"labelbook.publish:       {ours:6.2f} s  {args.records / ours:8.0f} records/s  "
            f"(batches of {args.batch_size}, {args.workers} in flight)"
        )
        print(f"throughput ratio:        {sdk / ours:.2f}x the SDK (target >= 0.95)")
        if args.grown:
            sizes = [int(size) for size in args.grown.split(",")]
            grown(
                notebook,
                info,
                server.ServerPaths(scratch / "server").database,
                sizes,
                args.records,
                args.records / ours,
            )
    finally:
        server.stop(scratch / "server")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
