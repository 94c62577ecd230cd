"""An annotator's record searches through the REST API, one code tree against another, on one database.

Reuses a data folder that `benchmarks/search_latency.py --data-dir DIR` filled (its newest
`bench-*` dataset; annotator 0 searches, as with `--as-annotator`), so no populating. Each
round starts the server once per code tree (`--sdk DIR`, put first on the server's PYTHONPATH;
`.` for this checkout), warms it (vector cache, first queries), times the searches and stops it;
rounds alternate the trees so that the load of a shared machine falls on both alike. Prints each
tree's p50 per search over all rounds, its ratio to the 50 ms target of issue 14 (and to the 182 ms
anchor for the queue), and the API process's CPU time per search (all its threads, from `/proc`):
the figure the machine's load changes least.

    python benchmarks/search_latency.py --records 100000 --annotators 70 --answered 1 --data-dir /tmp/srv
    git archive main sdk | tar -x -C /tmp/main-tree
    python benchmarks/annotator_search_ab.py --data-dir /tmp/srv --sdk /tmp/main-tree/sdk --sdk .

`--profile FILE` samples the API process with py-spy (raw format) while the last tree's searches run.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_MS = 50.0
ANCHOR_MS = {"pending queue (user order)": 182.0}
LANGS = ["en", "fr", "de", "es", "it", "nl", "pt", "pl"]
DIMENSIONS = 256


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def metadata_filter(i: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "terms",
            "scope": {"entity": "metadata", "metadata_property": "lang"},
            "values": [LANGS[i % 8]],
        },
        {"type": "range", "scope": {"entity": "metadata", "metadata_property": "n"}, "ge": 100, "le": 600},
    ]


def searches(post: Callable[[dict[str, Any]], Any], seed: int) -> dict[str, Callable[[int], Any]]:
    """The five searches of benchmarks/search_latency.py (the text query with fixed words)."""
    rng = np.random.default_rng(seed)
    status = {"entity": "response", "property": "status"}
    return {
        "pending queue (user order)": lambda i: post(
            {"filters": {"and": [{"type": "terms", "scope": status, "values": ["pending"]}]}}
        ),
        "metadata filter": lambda i: post({"filters": {"and": metadata_filter(i)}}),
        "response status filter": lambda i: post(
            {"filters": {"and": [{"type": "terms", "scope": status, "values": ["submitted"]}]}}
        ),
        "text query": lambda i: post({"query": {"text": {"q": ["kalo", "mine", "ruti"][i % 3]}}}),
        "similarity k=50": lambda i: post(
            {"query": {"vector": {"name": "embedding", "value": rng.standard_normal(DIMENSIONS).tolist()}}}
        ),
    }


def run_tree(
    data_dir: Path, sdk: str, repeats: int, profile: Path | None, only: list[str] | None = None
) -> tuple[dict[str, list[float]], str]:
    """Start the server with `sdk` first on its path, time each search `repeats` times, stop it."""
    from labelbook import server

    saved = os.environ.get("PYTHONPATH")
    if sdk != ".":
        os.environ["PYTHONPATH"] = str(Path(sdk).resolve())
    try:
        info = server.start(data_dir, port=free_port())
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    assert info.url and info.credentials
    spy = None
    try:
        owner = httpx.Client(
            base_url=info.url, headers={"X-Argilla-Api-Key": info.credentials.api_key}, timeout=120
        )
        datasets = [
            d for d in owner.get("/api/v1/me/datasets").json()["items"] if d["name"].startswith("bench-")
        ]
        dataset = max(datasets, key=lambda d: d["inserted_at"])
        users = owner.get("/api/v1/users").json()["items"]
        annotator = next(u for u in users if u["username"] == f"{dataset['name']}-0")
        me = httpx.Client(base_url=info.url, headers={"X-Argilla-Api-Key": annotator["api_key"]}, timeout=300)
        path = f"/api/v1/me/datasets/{dataset['id']}/records/search"

        def post(body: dict[str, Any]) -> Any:
            reply = me.post(path, json=body, params={"limit": 50})
            reply.raise_for_status()
            return reply.json()

        calls = searches(post, seed=8)
        for call in calls.values():  # warm-up: the vector cache, first-use work
            call(0)
            call(1)
        calls = {name: call for name, call in calls.items() if not only or name.startswith(tuple(only))}
        if profile is not None:
            sys.path.insert(0, str(Path(__file__).parent))
            from records_log import start_py_spy

            api_pid = server.status(data_dir).pids["api"]
            spy = start_py_spy(int(api_pid), profile) if api_pid else None
        timings: dict[str, list[float]] = {name: [] for name in calls}
        api = psutil.Process(int(server.status(data_dir).pids["api"] or 0))
        for name, call in calls.items():  # one search at a time, as search_latency.py times them
            cpu = api.cpu_times()
            for i in range(repeats):
                began = time.perf_counter()
                call(i)
                timings[name].append((time.perf_counter() - began) * 1000)
            spent = api.cpu_times()
            # The API process's CPU time per search (all its threads): what load does not change.
            timings[f"{name} (cpu)"] = [(spent.user + spent.system - cpu.user - cpu.system) * 1000 / repeats]
        me.close()
        owner.close()
        return timings, f"{dataset['name']}"
    finally:
        if spy is not None:
            from records_log import stop_py_spy

            stop_py_spy(spy)
        server.stop(data_dir)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a folder search_latency.py filled")
    parser.add_argument(
        "--sdk", action="append", required=True, help="a code tree's sdk/ folder ('.': this one)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15, help="timings per search, tree and round")
    parser.add_argument("--profile", type=Path, help="py-spy raw profile of the last tree's last round")
    parser.add_argument("--only", action="append", help="time only the searches whose name starts so")
    args = parser.parse_args()

    results: dict[str, dict[str, list[float]]] = {sdk: {} for sdk in args.sdk}
    for round_ in range(args.rounds):
        for n, sdk in enumerate(args.sdk):
            last = round_ == args.rounds - 1 and n == len(args.sdk) - 1
            print(f"round {round_ + 1}, tree {sdk}: load average {load()}", flush=True)
            timings, dataset = run_tree(
                args.data_dir, sdk, args.repeats, args.profile if last else None, args.only
            )
            for name, values in timings.items():
                results[sdk].setdefault(name, []).extend(values)
    print(f"\ndataset {dataset}; load average after: {load()} ({os.cpu_count()} cores)")
    names = [name for name in results[args.sdk[0]] if not name.endswith(" (cpu)")]
    labels = [sdk if sdk == "." else Path(sdk).resolve().parent.name for sdk in args.sdk]
    header = f"{'search (annotator, limit=50)':<30}" + "".join(
        f"{'p50, API cpu ms/search ' + label:>32}" for label in labels
    )
    print(header)
    for name in names:
        row = f"{name:<30}"
        for sdk in args.sdk:
            p50 = float(np.percentile(results[sdk][name], 50))
            anchor = f" {p50 / ANCHOR_MS[name]:.2f}a" if name in ANCHOR_MS else ""
            cpu = float(np.mean(results[sdk][f"{name} (cpu)"]))
            row += f"{f'{p50:.1f} ms {p50 / TARGET_MS:.2f}t{anchor} cpu {cpu:.1f}':>32}"
        print(row)
    print("(t: p50 / 50 ms target; a: p50 / the 182 ms anchor; cpu: the API process's CPU ms per search)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
