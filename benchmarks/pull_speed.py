"""Pull speed: `Project.annotations()` (the tidy frame) against the argilla SDK's
`dataset.records(with_responses=True).to_list(flatten=True)` alone, for N records x 3 annotators.

Starts an embedded server in a scratch folder, publishes N records, adds 3 submitted responses
per record, then times both reads on the same dataset, best of 3 each. Target: the tidy frame
in <= 1.2x the SDK's time. Each read's peak memory (resident set, sampled every 50 ms, above
what the process held before it) is printed beside its time, and the frame is written to
parquet as `labelbook pull` does.

    python benchmarks/pull_speed.py                  # 10k records x 3
    python benchmarks/pull_speed.py --records 2000   # a quick run
    nice -n 19 python benchmarks/pull_speed.py --records 1000000 --repeats 1   # issue 14's 1M x 3 point
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trajectory-rating"
ANNOTATORS = ["bench-a", "bench-b", "bench-c"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss(work: Callable[[], T]) -> tuple[T, float, int]:
    """(result, seconds, peak resident bytes above the level before) of `work()`."""
    import psutil

    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    try:
        result = work()
    finally:
        seconds = time.perf_counter() - began
        done.set()
        sampler.join()
    peak = max(peak, process.memory_info().rss)
    return result, seconds, peak - before


def mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed reads of each kind (best is kept)")
    parser.add_argument("--no-sdk", action="store_true", help="skip the SDK anchor (at 1M it may not fit)")
    args = parser.parse_args()

    import argilla as rg
    import pandas as pd

    import labelbook as lb
    from labelbook import server
    from labelbook.argilla import connect

    scratch = Path(tempfile.mkdtemp(prefix="lb-bench-pull-"))
    info = server.start(scratch / "server", port=free_port())
    assert info.url and info.credentials
    key = info.credentials.api_key
    try:
        notebook = scratch / "guide.py"
        shutil.copy(EXAMPLE / "guide.py", notebook)
        lb.release(notebook, "bench")
        data = [
            {
                "id": f"b{i:06d}",
                "instruction": f"task {i}",
                "trajectory": [{"role": "user", "content": f"do {i}"}],
            }
            for i in range(args.records)
        ]
        roster = pd.DataFrame({"username": ANNOTATORS, "vendor": ["v1", "v1", "v2"]})
        made = lb.publish(
            notebook,
            records=data,
            annotators=roster,
            workspace="bench",
            api_url=info.url,
            api_key=key,
            progress=False,
        ).last_publish
        with connect(info.url, key) as conn:
            users = {u["username"]: u["id"] for u in conn.request("GET", "/api/v1/users")["items"]}
            for start in range(0, args.records, 500):
                items = [
                    {
                        "external_id": f"b{i:06d}",
                        "responses": [
                            {
                                "user_id": users[name],
                                "status": "submitted",
                                "values": {"outcome": {"value": "success"}, "rationale": {"value": f"r{i}"}},
                            }
                            for name in ANNOTATORS
                        ],
                    }
                    for i in range(start, min(start + 500, args.records))
                ]
                conn.request("PUT", f"/api/v1/datasets/{made.dataset_id}/records/bulk", json={"items": items})

        client = rg.Argilla(api_url=info.url, api_key=key)
        dataset = client.datasets(made.dataset, workspace="bench")
        sdk_runs: list[tuple[float, int]] = []
        our_runs: list[tuple[float, int]] = []
        flat: list[Any] = []
        for _ in range(args.repeats):
            if not args.no_sdk:
                flat, seconds, memory = peak_rss(
                    lambda: dataset.records(with_responses=True).to_list(flatten=True)
                )
                sdk_runs.append((seconds, memory))
                del flat
            with lb.Project.open(notebook, api_url=info.url, api_key=key) as project:
                frame, seconds, memory = peak_rss(project.annotations)
                our_runs.append((seconds, memory))
        client.http_client.close()
        assert len(frame) == args.records * 3 * 2
        _, write_seconds, write_memory = peak_rss(lambda: frame.to_parquet(scratch / "pull.parquet"))
        ours, our_peak = min(our_runs)
        print(f"records x annotators:      {args.records} x {len(ANNOTATORS)} ({len(frame)} tidy rows)")
        print(f"load average:              {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        if sdk_runs:
            sdk, sdk_peak = min(sdk_runs)
            print(
                f"SDK to_list(flatten=True): {sdk:6.2f} s  peak +{mb(sdk_peak)} "
                f"(anchor, best of {args.repeats})"
            )
        print(f"Project.annotations():     {ours:6.2f} s  peak +{mb(our_peak)} (best of {args.repeats})")
        print(f"frame to parquet:          {write_seconds:6.2f} s  peak +{mb(write_memory)}")
        if sdk_runs:
            print(f"time ratio:                {ours / sdk:.2f}x the SDK (target <= 1.2)")
            print(f"memory ratio:              {our_peak / max(sdk_peak, 1):.2f}x the SDK's peak")
    finally:
        server.stop(scratch / "server")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
