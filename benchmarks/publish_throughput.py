"""Publish throughput: `labelbook.publish` against the argilla SDK's `dataset.records.log`.

Starts an embedded server in a scratch folder, then logs the same N records (two text fields
plus a chat field of three messages) into two fresh datasets with the same settings: once with
`dataset.records.log` (the anchor) and once with `labelbook.publish`. Prints both throughputs and
the ratio (target: publish >= 0.95 x the SDK).

    python benchmarks/publish_throughput.py                  # 10k records
    python benchmarks/publish_throughput.py --records 2000   # a quick run
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256, help="records per request (max 500)")
    parser.add_argument("--workers", type=int, default=2, help="requests in flight")
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
    finally:
        server.stop(scratch / "server")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
