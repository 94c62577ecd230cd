"""Publishing into a grown dataset, one code tree against another, on one kept server folder.

Issue 14 asks publishing throughput to stay flat from 0 to 1M records. `publish_throughput.py
--grown` measures it once per size; this script finds out what a change does to it. The first
run fills a dataset of the example project to `--size` records straight through SQLite (as
`publish_throughput.py --grown` does; the engine's triggers index them) in `--data-dir` and
keeps it. Each round then starts the server once per code tree (`--sdk DIR`, put first on the
server's PYTHONPATH; `.` for this checkout) and publishes `--records` new records twice: into the
grown dataset and into a new empty one. Rounds alternate the trees, so that a shared machine's load
falls on both alike, and which of the two publishes goes first alternates too; each tree's figure
is its grown/empty throughput ratio (target: >= 0.9).

    git archive main sdk | tar -x -C /tmp/main-tree
    python benchmarks/publish_grown_ab.py --data-dir /tmp/grown --sdk /tmp/main-tree/sdk --sdk .
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from publish_throughput import EXAMPLE, fill, free_port, rows_from


def start(data_dir: Path, sdk: str):  # type: ignore[no-untyped-def]
    """The embedded server on `data_dir`, its API process importing labelbook from `sdk`."""
    from labelbook import server

    saved = os.environ.get("PYTHONPATH")
    if sdk != ".":
        os.environ["PYTHONPATH"] = str(Path(sdk).resolve())
    try:
        return server.start(data_dir, port=free_port())
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def prepare(folder: Path, size: int) -> Path:
    """The kept folder's notebook, its `grown` dataset filled to `size` records the first time."""
    import labelbook as lb
    from labelbook import server

    notebook = folder / "guide.py"
    mark = folder / "grown.json"
    if mark.exists() and json.loads(mark.read_text())["size"] == size:
        print(f"reusing the grown dataset of {size:,} records in {folder}")
        return notebook
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "bench")
    info = start(folder / "server", ".")
    assert info.url and info.credentials
    try:
        lb.publish(
            notebook,
            workspace="bench",
            dataset="grown",
            api_url=info.url,
            api_key=info.credentials.api_key,
            progress=False,
        )
        project = lb.Project.open(notebook, api_url=info.url, api_key=info.credentials.api_key)
        dataset_id = project.state.dataset_id.replace("-", "")
        project.close()
    finally:
        server.stop(folder / "server")
    fill(server.ServerPaths(folder / "server").database, dataset_id, 0, size)
    mark.write_text(json.dumps({"size": size}))
    return notebook


def publish(notebook: Path, info: object, dataset: str, first: int, n: int) -> float:
    """Seconds to publish `n` new records (ids from `first`) into `dataset` of workspace bench."""
    import labelbook as lb

    began = time.perf_counter()
    result = lb.publish(
        notebook,
        records=rows_from(first, n),
        workspace="bench",
        dataset=dataset,
        api_url=info.url,  # type: ignore[attr-defined]
        api_key=info.credentials.api_key,  # type: ignore[attr-defined]
        progress=False,
    ).last_publish
    took = time.perf_counter() - began
    assert result.records_added == n, f"{result.records_added} of {n} records added to {dataset}"
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="kept folder (filled on the first run)")
    parser.add_argument("--size", type=int, default=1_000_000, help="records in the grown dataset")
    parser.add_argument("--records", type=int, default=10_000, help="records per publish")
    parser.add_argument("--sdk", action="append", required=True, help="a code tree's sdk folder, or '.'")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from labelbook import server

    notebook = prepare(args.data_dir, args.size)
    ratios: dict[str, list[float]] = {sdk: [] for sdk in args.sdk}
    stamp = int(time.time())
    for round_ in range(args.rounds):
        trees = args.sdk if round_ % 2 == 0 else list(reversed(args.sdk))
        for t, sdk in enumerate(trees):
            load = " ".join(f"{v:.2f}" for v in os.getloadavg())
            info = start(args.data_dir / "server", sdk)
            try:
                # Ids no earlier run used: a tenth of a millisecond's count (a publish takes seconds).
                first = time.time_ns() // 100_000
                # Which goes first alternates, so that neither has the warm-up to itself.
                if round_ % 2 == 0:
                    empty = publish(notebook, info, f"empty-{stamp}-{round_}-{t}", first, args.records)
                    grown = publish(notebook, info, "grown", first, args.records)
                else:
                    grown = publish(notebook, info, "grown", first, args.records)
                    empty = publish(notebook, info, f"empty-{stamp}-{round_}-{t}", first, args.records)
            finally:
                server.stop(args.data_dir / "server")
            ratio = empty / grown
            ratios[sdk].append(ratio)
            print(
                f"round {round_ + 1}, tree {sdk}: empty {args.records / empty:6.0f} records/s, "
                f"grown {args.records / grown:6.0f} records/s: {ratio:.2f}x (load before {load})"
            )
    print(f"\npublish {args.records:,} records into {args.size:,} against into 0 (target >= 0.9):")
    for sdk, values in ratios.items():
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {sdk:<40} median {statistics.median(values):.2f}x  ({each})")


if __name__ == "__main__":
    main()
