"""Pull speed and memory: `labelbook pull` to parquet (streamed) and `Project.annotations()` against the
argilla SDK's `dataset.records(with_responses=True).to_list(flatten=True)`, N records x 3 annotators.

Starts an embedded server in a scratch folder. The anchor point (`--sdk-records`, default
min(N, 10k)) is published through the API with 3 submitted responses a record, and read by the
SDK, by `Project.annotations()` and by `Project.pull(parquet)`. The large point (`--records`) is
a second project whose records and responses are inserted straight into the server's SQLite
(benchmarks/search_latency.py's `populate`: publishing 1M through the API takes too long), and
only pulled to parquet. Every read runs in its own process, so its peak resident set
(VmHWM) is its own; the level after imports is printed beside it.

Targets: the tidy frame in <= 1.2x the SDK's time; the streamed pull's peak resident set
<= 512 MB whatever N (it holds two pages and one row group, not the dataset).

    python benchmarks/pull_speed.py                      # 10k x 3 (anchor and pull)
    nice -n 19 python benchmarks/pull_speed.py --records 1000000   # issue 14's 1M x 3 point
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trajectory-rating"
ANNOTATORS = ["bench-a", "bench-b", "bench-c"]
TIME_TARGET = 1.2
PEAK_BOUND_MB = 512.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_mb() -> float:
    """This process's peak resident set. Not ru_maxrss: Linux carries the forking parent's peak into
    it across exec, so every child would report at least the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def resident_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(kind: str, url: str, notebook: str, out: str) -> None:
    """One measured read in this process; prints {seconds, rows, base_mb, peak_mb} as JSON."""
    import argilla as rg
    import pandas as pd  # noqa: F401  (imported before the base level, as both sides need it)
    import pyarrow.parquet  # noqa: F401

    import labelbook as lb

    key = os.environ["LB_BENCH_API_KEY"]
    base = resident_mb()
    began = time.perf_counter()
    if kind == "sdk":
        client = rg.Argilla(api_url=url, api_key=key)
        dataset = client.datasets(
            json.loads(notebook)["dataset"], workspace=json.loads(notebook)["workspace"]
        )
        rows = len(dataset.records(with_responses=True).to_list(flatten=True))
    else:
        with lb.Project.open(notebook, api_url=url, api_key=key) as project:
            if kind == "frame":
                rows = len(project.annotations())
            else:
                rows = project.pull(out, since=os.environ.get("LB_BENCH_SINCE") if kind == "since" else None)
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "rows": rows, "base_mb": base, "peak_mb": peak_mb()}))


def measure(
    kind: str, url: str, key: str, target: str, out: Path, repeats: int, since: str = ""
) -> dict[str, Any]:
    """The best of `repeats` runs of one read, each in a fresh process."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, url, target, str(out)],
            env={**os.environ, "LB_BENCH_API_KEY": key, "LB_BENCH_SINCE": since},
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda run: run["seconds"])


def project(scratch: Path, name: str, records: list[dict[str, Any]], url: str, key: str) -> tuple[Path, Any]:
    import pandas as pd

    import labelbook as lb

    folder = scratch / name
    folder.mkdir()
    notebook = folder / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "bench")
    roster = pd.DataFrame({"username": ANNOTATORS, "vendor": ["v1", "v1", "v2"]})
    made = lb.publish(
        notebook, records=records, annotators=roster, workspace=name, api_url=url, api_key=key, progress=False
    ).last_publish
    return notebook, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="records of the streamed-pull point")
    parser.add_argument("--sdk-records", type=int, default=None, help="records of the SDK anchor point")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each anchor-point read (best kept)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    small = args.sdk_records or min(args.records, 10_000)

    from labelbook import server
    from labelbook.argilla import connect
    from search_latency import populate

    scratch = Path(tempfile.mkdtemp(prefix="lb-bench-pull-"))
    info = server.start(scratch / "server", port=free_port())
    assert info.url and info.credentials
    key = info.credentials.api_key
    try:
        data = [
            {
                "id": f"b{i:07d}",
                "instruction": f"task {i}",
                "trajectory": [{"role": "user", "content": f"do {i}"}],
            }
            for i in range(small)
        ]
        notebook, made = project(scratch, "bench-small", data, info.url, key)
        with connect(info.url, key) as conn:
            users = {u["username"]: u["id"] for u in conn.request("GET", "/api/v1/users")["items"]}
            for start in range(0, small, 500):
                items = [
                    {
                        "external_id": f"b{i:07d}",
                        "responses": [
                            {
                                "user_id": users[name],
                                "status": "submitted",
                                "values": {"outcome": {"value": "success"}, "rationale": {"value": f"r{i}"}},
                            }
                            for name in ANNOTATORS
                        ],
                    }
                    for i in range(start, min(start + 500, small))
                ]
                conn.request("PUT", f"/api/v1/datasets/{made.dataset_id}/records/bulk", json={"items": items})
        sdk_target = json.dumps({"dataset": made.dataset, "workspace": "bench-small"})
        out = scratch / "pull.parquet"
        sdk = measure("sdk", info.url, key, sdk_target, out, args.repeats)
        frame = measure("frame", info.url, key, str(notebook), out, args.repeats)
        small_pull = measure("pull", info.url, key, str(notebook), out, args.repeats)
        assert frame["rows"] == small_pull["rows"] == small * 3 * 2, (frame, small_pull)

        big_pull = None
        if args.records > small:
            big_notebook, big = project(scratch, "bench-big", data[:1], info.url, key)
            began = time.perf_counter()
            populate(
                server.ServerPaths(scratch / "server").database,
                type("Dataset", (), {"id": uuid.UUID(big.dataset_id)})(),
                [uuid.UUID(users[name]) for name in ANNOTATORS],
                args.records - 1,
                ["alpha", "beta", "gamma", "delta", "epsilon"],
                seed=7,
                vectors=False,
                every_user=True,
            )
            print(f"populated {args.records - 1:,} records x 3 in {time.perf_counter() - began:.0f} s")
            big_pull = measure("pull", info.url, key, str(big_notebook), out, 1)
            size = out.stat().st_size
            # The answers of the last 1% of the records: the server sends those records only.
            with sqlite3.connect(server.ServerPaths(scratch / "server").database) as db:
                (since,) = db.execute(
                    "SELECT updated_at FROM responses ORDER BY updated_at DESC LIMIT 1 OFFSET ?",
                    (args.records * 3 // 100,),
                ).fetchone()
            big_since = measure("since", info.url, key, str(big_notebook), out, 1, since=since)

        print(f"load average:                 {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"anchor point:                 {small:,} records x 3 ({frame['rows']:,} tidy rows)")

        def line(name: str, run: dict[str, Any], note: str = "") -> None:
            print(
                f"{name:29} {run['seconds']:7.2f} s  peak RSS {run['peak_mb']:6.0f} MB "
                f"(resident after imports {run['base_mb']:4.0f} MB){note}"
            )

        line("SDK to_list(flatten=True):", sdk, "  anchor")
        line("Project.annotations():", frame)
        line("pull to parquet (streamed):", small_pull)
        ratio = frame["seconds"] / sdk["seconds"]
        print(f"time ratio, frame:            {ratio:.2f}x the SDK (target <= {TIME_TARGET})")
        print(f"time ratio, pull to parquet:  {small_pull['seconds'] / sdk['seconds']:.2f}x the SDK")
        print(f"peak ratio, pull / SDK:       {small_pull['peak_mb'] / sdk['peak_mb']:.2f}x")
        if big_pull is not None:
            rows = big_pull["rows"]
            print(
                f"large point:                  {args.records:,} records x 3 "
                f"({rows:,} tidy rows, {size / 2**20:,.0f} MB parquet)"
            )
            line("pull to parquet (streamed):", big_pull)
            line("pull --since (last 1%):", big_since, f"  {big_since['rows']:,} rows")
            print(
                f"peak RSS bound:               {big_pull['peak_mb']:.0f} MB vs <= {PEAK_BOUND_MB:.0f} MB "
                f"({'met' if big_pull['peak_mb'] <= PEAK_BOUND_MB else 'MISSED'}); "
                f"{rows / big_pull['seconds']:,.0f} rows/s vs "
                f"{small_pull['rows'] / small_pull['seconds']:,.0f} at the anchor point"
            )
    finally:
        server.stop(scratch / "server")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
