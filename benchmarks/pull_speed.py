"""Pull speed: `Project.annotations()` (the tidy frame) against the argilla SDK's
`dataset.records(with_responses=True).to_list(flatten=True)` alone, for N records x 3 annotators.

Starts an embedded server in a scratch folder, publishes N records, adds 3 submitted responses
per record, then times both reads on the same dataset, best of 3 each. Target: the tidy frame
in <= 1.2x the SDK's time.

    python benchmarks/pull_speed.py                  # 10k records x 3
    python benchmarks/pull_speed.py --records 2000   # a quick run
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trajectory-rating"
ANNOTATORS = ["bench-a", "bench-b", "bench-c"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
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
        sdk_times, our_times = [], []
        for _ in range(3):
            start = time.perf_counter()
            flat = dataset.records(with_responses=True).to_list(flatten=True)
            sdk_times.append(time.perf_counter() - start)
            with lb.Project.open(notebook, api_url=info.url, api_key=key) as project:
                start = time.perf_counter()
                frame = project.annotations()
                our_times.append(time.perf_counter() - start)
        client.http_client.close()
        assert len(flat) == args.records and len(frame) == args.records * 3 * 2
        sdk, ours = min(sdk_times), min(our_times)
        print(f"records x annotators:      {args.records} x {len(ANNOTATORS)} ({len(frame)} tidy rows)")
        print(f"SDK to_list(flatten=True): {sdk:6.2f} s  (anchor, best of 3)")
        print(f"Project.annotations():     {ours:6.2f} s  (best of 3)")
        print(f"time ratio:                {ours / sdk:.2f}x the SDK (target <= 1.2)")
    finally:
        server.stop(scratch / "server")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
