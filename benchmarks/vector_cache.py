"""Time from `labelbook server start` to the first similarity search answered from the vector cache,
with the cache's snapshot on disk and without it, through the REST API.

Fills one dataset of N records with 256-d vectors (benchmarks/search_latency.py's `populate`),
then starts the server again and again: "without" after deleting `<data dir>/vector-cache/`
(the cache parses every vector's JSON from the table, as every start did before the snapshot),
"with" from the snapshot the previous start saved (load, check, catch up through the log). Each
time is measured from the start command to the answer of a similarity search sent once the API
log says the cache is in; the anchor is the "without" start of the same run.

    python benchmarks/vector_cache.py                    # 100k records
    python benchmarks/vector_cache.py --records 10000    # a quick run
    python benchmarks/vector_cache.py --records 1000000 --data-dir DIR   # DIR kept and reused
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from search_latency import DIMENSIONS, free_port, prepared_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The issue: no cold stall a contractor can feel. With the snapshot, the cache should be in within
# a second of the API answering, whatever the record count (the start itself is ~6-10 s here, most
# of it importing argilla-server: benchmarks/server_start.py).
TARGET_STALL_S = 1.0


def wait_for_line(log: Path, text: str, after: int, limit: float) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with log.open("rb") as handle:
            handle.seek(after)
            for line in handle.read().decode(errors="replace").splitlines():
                if text in line:
                    return line
        time.sleep(0.05)
    raise SystemExit(f"{log} never said {text!r} within {limit:.0f} s")


def one_start(
    data_dir: Path, dataset_id: Any, settings_id: str, *, snapshot: bool, limit: float
) -> dict[str, Any]:
    """Start, wait for the cache, search once; stop. Returns the seconds of each step and the log line."""
    from labelbook import server
    from labelbook.server import ServerPaths
    from labelbook.server.vectors import SNAPSHOT_DIR

    paths = ServerPaths(data_dir)
    if not snapshot:
        shutil.rmtree(data_dir / SNAPSHOT_DIR, ignore_errors=True)
    elif not (data_dir / SNAPSHOT_DIR / f"{settings_id}.npz").is_file():
        raise SystemExit("no snapshot to start from: the previous start did not save one")
    log = paths.log_file("api")
    offset = log.stat().st_size if log.exists() else 0
    began = time.perf_counter()
    info = server.start(data_dir, port=free_port())
    try:
        assert info.url and info.credentials
        up = time.perf_counter() - began
        line = wait_for_line(log, f"vector cache {settings_id} (", offset, limit)
        ready = time.perf_counter() - began
        with httpx.Client(
            base_url=info.url, headers={"X-Argilla-Api-Key": info.credentials.api_key}, timeout=limit
        ) as client:
            query = np.random.default_rng(3).standard_normal(DIMENSIONS).tolist()
            sent = time.perf_counter()
            response = client.post(
                f"/api/v1/me/datasets/{dataset_id}/records/search",
                json={"query": {"vector": {"name": "embedding", "value": query}}},
                params={"limit": 50},
            )
            response.raise_for_status()
            answered = time.perf_counter()
        if not snapshot:
            # The next "with" start needs the snapshot this load saves in the background.
            wait_for_line(log, f"saved the vector cache {settings_id}", offset, limit)
        return {
            "up": up,
            "ready": ready,
            "search": answered - sent,
            "total": answered - began,
            "line": line.split("labelbook: ", 1)[-1],
            # The API's own account of the load (from the table, or snapshot + catch-up).
            "load": float(re.findall(r" in ([0-9.]+) s", line)[-1]),
        }
    finally:
        server.stop(data_dir)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="starts of each kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=float, default=1800.0, help="seconds a start may take to load")
    parser.add_argument(
        "--data-dir", type=Path, help="server folder, kept and reused (default: a temporary one)"
    )
    args = parser.parse_args()

    import argilla as rg

    from labelbook import server

    scratch = None
    data_dir = args.data_dir
    if data_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="labelbook-bench-")
        data_dir = Path(scratch.name)
    try:
        info = server.start(data_dir, port=free_port())
        assert info.url and info.credentials
        try:
            client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)
            _, dataset = prepared_dataset(
                client, data_dir, records=args.records, annotators=1, answered=0.0, seed=args.seed,
                min_submitted=1,
            )  # fmt: skip
            settings_id = dataset.settings.vectors["embedding"].id.hex
            dataset_id = dataset.id
            client.http_client.close()
        finally:
            server.stop(data_dir)

        runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
        for _ in range(args.repeat):
            for kind in ("without", "with"):
                run = one_start(data_dir, dataset_id, settings_id, snapshot=kind == "with", limit=args.limit)
                runs[kind].append(run)
                print(
                    f"{kind:>7} snapshot: server up {run['up']:.1f} s, cache in {run['ready']:.1f} s, "
                    f"search {run['search'] * 1000:.0f} ms, start to answer {run['total']:.1f} s  "
                    f"({run['line']})",
                    flush=True,
                )
        snapshot_file = data_dir / "vector-cache" / f"{settings_id}.npz"
        size = snapshot_file.stat().st_size / 2**20 if snapshot_file.exists() else 0.0
        with_s = statistics.median(r["total"] for r in runs["with"])
        without_s = statistics.median(r["total"] for r in runs["without"])
        ratio = with_s / without_s
        load_with = statistics.median(r["load"] for r in runs["with"])
        load_without = statistics.median(r["load"] for r in runs["without"])
        stall_with = statistics.median(r["ready"] - r["up"] for r in runs["with"])
        stall_without = statistics.median(r["ready"] - r["up"] for r in runs["without"])
        print()
        print(
            f"{args.records:,} records x {DIMENSIONS}-d ({size:.0f} MiB snapshot), "
            f"medians of {args.repeat}; anchor: the start without the snapshot, same run\n"
            f"  start to the first search answered from the cache: with the snapshot {with_s:.1f} s, "
            f"without {without_s:.1f} s: with/without {ratio:.2f}\n"
            f"  the cache's load alone (api.log): with {load_with:.2f} s, without {load_without:.2f} s: "
            f"with/without {load_with / max(load_without, 1e-9):.3f}\n"
            f"  cache in after the API is up: with {stall_with:.2f} s, without {stall_without:.2f} s "
            f"(target <= {TARGET_STALL_S:.0f} s with)"
        )
        return 0 if stall_with <= TARGET_STALL_S else 1
    finally:
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    sys.exit(main())
