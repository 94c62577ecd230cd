"""Throughput of the argilla SDK's `dataset.records.log` against the embedded server, and where the time goes.

Starts an embedded server in a scratch folder and logs N records (two text fields, three
metadata properties, a suggestion with score and agent) through `dataset.records.log`.

Client side, the SDK's phases are timed by wrapping them: turning dicts into records
(`_ingest_records`), the HTTP round trips (`httpx.Client.send`: server time + transfer), and the
rest (dumping request models, JSON, parsing the replies). Server side, py-spy samples the API
process during the log (if py-spy is installed: `pip install py-spy`) and the samples are
grouped by the phase of argilla-server's bulk upsert they fall in.

The anchor, measured in the same run: the same records sent as pre-built JSON straight to
`PUT /api/v1/datasets/{id}/records/bulk` (no SDK), i.e. what the server alone can take.

    python benchmarks/records_log.py                  # 10k records
    python benchmarks/records_log.py --records 2000   # a quick run
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = [
    "the",
    "agent",
    "ran",
    "the",
    "command",
    "and",
    "read",
    "the",
    "output",
    "before",
    "it",
    "edited",
    "a",
    "file",
    "then",
    "the",
    "tests",
    "passed",
    "or",
    "failed",
]

# Where a server-side sample belongs: the deepest (closest to the leaf) marker found in its stack.
PHASES: list[tuple[str, str]] = [
    ("fastapi/routing.py", "HTTP framework, request parsing, response serialisation"),
    ("upsert_records_bulk", "argilla bulk upsert: other"),
    ("Validator.validate", "argilla validation of the records"),
    ("_fetch_existing_dataset_records", "lookup of existing records (upsert)"),
    ("_upsert_records_relationships", "SQL: suggestions / vectors / responses"),
    ("upsert_many", "SQL: upsert records"),
    ("unsafe_update_records_status", "SQL: record status (distribution)"),
    ("Session.commit", "SQL: commit"),
    ("_preload_records_relationships_before_index", "reload of the records before indexing"),
    ("index_records", "search engine: index_records"),
    ("labelbook/server/engine.py", "search engine: index_records"),
    ("notify_record_event", "webhook events (built per record)"),
    ("_notify_upsert_record_events", "webhook events (built per record)"),
    ("get_current_user", "authentication"),
]
IDLE_LEAVES = ("aiosqlite/core.py:107", "concurrent/futures/thread.py:81", "threading.py:")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for number in range(count):
        words = rng.choices(WORDS, k=rng.randint(20, 120))
        records.append(
            {
                "id": f"rec-{number}",
                "prompt": f"Task {number}: " + " ".join(words[:12]),
                "answer": " ".join(words),
                "source": rng.choice(["vendor-a", "vendor-b", "gold"]),
                "length": len(words),
                "difficulty": round(rng.random(), 3),
                "outcome": rng.choice(["success", "partial", "failure"]),
                "outcome.score": round(rng.random(), 3),
                "outcome.agent": "heuristic-v1",
            }
        )
    return records


def as_bulk_items(records: list[dict[str, Any]], question_id: str) -> list[dict[str, Any]]:
    """The same records in the REST API's own wire format."""
    return [
        {
            "external_id": f"raw-{record['id']}",
            "fields": {"prompt": record["prompt"], "answer": record["answer"]},
            "metadata": {key: record[key] for key in ("source", "length", "difficulty")},
            "suggestions": [
                {
                    "question_id": question_id,
                    "value": record["outcome"],
                    "score": record["outcome.score"],
                    "agent": record["outcome.agent"],
                }
            ],
        }
        for record in records
    ]


class Stopwatch:
    """Accumulates the wall time spent inside wrapped callables."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - began

        setattr(owner, name, timed)


def start_py_spy(pid: int, output: Path) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(binary).exists():
        return None
    # --nonblocking: sample without pausing the server, so the profile does not slow what it measures.
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--rate", "200", "--nonblocking", "--format", "raw",
         "--output", str(output), "--duration", "3600"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def server_breakdown(folded: Path, rate: int = 200) -> tuple[dict[str, float], float]:
    """Seconds of server-side samples per phase, and seconds the event loop thread was busy."""
    phases: collections.Counter[str] = collections.Counter()
    loop_busy = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        count = int(count_text)
        leaf = frames[-1]
        if any(marker in leaf for marker in IDLE_LEAVES):
            continue
        in_sqlite_thread = any("aiosqlite/core.py:115" in frame for frame in frames)
        if in_sqlite_thread:
            phases["SQLite executing (aiosqlite threads, GIL released)"] += count
            continue
        if frames[-1].startswith("Runner.run (asyncio/runners.py"):
            phases["event loop: uvloop I/O and waiting"] += count
            continue
        loop_busy += count
        # SQLAlchemy's async layer runs ORM work in greenlets, which py-spy shows without their caller.
        label = (
            "SQLAlchemy ORM/core (in greenlets: caller not visible)"
            if any("sqlalchemy/" in frame for frame in frames)
            else "other Python on the event loop"
        )
        for frame in reversed(frames):
            match = next((name for marker, name in PHASES if marker in frame), None)
            if match:
                label = match
                break
        phases[label] += count
    return {name: count / rate for name, count in phases.items()}, loop_busy / rate


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000, help="records to log (default 10000)")
    parser.add_argument("--batch-size", type=int, default=256, help="SDK batch size (default 256, the SDK's)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and its server logs")
    args = parser.parse_args()

    import argilla as rg
    import httpx
    from argilla.records._dataset_records import DatasetRecords

    from labelbook import server

    scratch = Path(tempfile.mkdtemp(prefix="lb-log-bench-"))
    data_dir = scratch / "server"
    began = time.perf_counter()
    info = server.start(data_dir, port=free_port())
    api_pid = info.pids.get("api")
    assert info.url and info.credentials and api_pid
    print(f"server up in {time.perf_counter() - began:.1f}s at {info.url}")
    client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)
    try:
        settings = rg.Settings(
            fields=[rg.TextField("prompt"), rg.TextField("answer")],
            questions=[rg.LabelQuestion("outcome", labels=["success", "partial", "failure"])],
            metadata=[
                rg.TermsMetadataProperty("source"),
                rg.IntegerMetadataProperty("length"),
                rg.FloatMetadataProperty("difficulty"),
            ],
        )
        records = make_records(args.records)

        # Anchor: pre-built JSON straight to the REST bulk endpoint.
        raw = rg.Dataset(
            name=f"raw-{uuid.uuid4().hex[:6]}", workspace="labelbook", settings=settings, client=client
        )
        raw.create()
        question_id = str(raw.settings.questions["outcome"].id)
        items = as_bulk_items(records, question_id)
        headers = {"X-Argilla-Api-Key": info.credentials.api_key}
        with httpx.Client(base_url=info.url, headers=headers, timeout=120, trust_env=False) as http:
            began = time.perf_counter()
            for start in range(0, len(items), args.batch_size):
                reply = http.put(
                    f"/api/v1/datasets/{raw.id}/records/bulk",
                    json={"items": items[start : start + args.batch_size]},
                )
                reply.raise_for_status()
            raw_seconds = time.perf_counter() - began

        # The SDK, timed by phase, with the server sampled.
        dataset = rg.Dataset(
            name=f"sdk-{uuid.uuid4().hex[:6]}", workspace="labelbook", settings=settings, client=client
        )
        dataset.create()
        watch = Stopwatch()
        watch.wrap(DatasetRecords, "_ingest_records", "SDK: dicts -> records (_ingest_records)")
        watch.wrap(httpx.Client, "send", "HTTP round trips (httpx send: server + transfer)")
        spy = start_py_spy(api_pid, scratch / "api.folded")
        if spy is not None:
            time.sleep(1.0)  # let py-spy attach before the work starts
        began = time.perf_counter()
        dataset.records.log(records, batch_size=args.batch_size)
        sdk_seconds = time.perf_counter() - began
        if spy is not None:
            stop_py_spy(spy)

        listed = client.http_client.get(f"/api/v1/datasets/{dataset.id}/records", params={"limit": 1})
        listed.raise_for_status()
        assert listed.json()["total"] == args.records, listed.json()["total"]
    finally:
        client.http_client.close()
        server.stop(data_dir)

    n = args.records
    print(f"\n{n:,} records, batch size {args.batch_size}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print(f"{'path':<52}{'seconds':>9}{'records/s':>11}{'/anchor':>9}")
    anchor_label = "anchor: pre-built JSON to PUT /records/bulk"
    print(f"{anchor_label:<52}{raw_seconds:>9.2f}{n / raw_seconds:>11.0f}{1:>9.2f}")
    print(f"{'SDK dataset.records.log':<52}{sdk_seconds:>9.2f}{n / sdk_seconds:>11.0f}"
          f"{sdk_seconds / raw_seconds:>9.2f}")  # fmt: skip

    print(f"\n{'client side (wall time of the SDK log)':<62}{'seconds':>9}{'share':>8}")
    accounted = 0.0
    for label, seconds in sorted(watch.seconds.items(), key=lambda item: -item[1]):
        accounted += seconds
        print(f"  {label:<60}{seconds:>9.2f}{seconds / sdk_seconds:>8.0%}")
    rest = sdk_seconds - accounted
    print(
        f"  {'SDK: model_dump + JSON + parsing replies (the rest)':<60}{rest:>9.2f}{rest / sdk_seconds:>8.0%}"
    )

    folded = scratch / "api.folded"
    if spy is None or not folded.exists():
        print("\n(server side: py-spy is not installed; `pip install py-spy` for the server breakdown)")
    else:
        phases, loop_busy = server_breakdown(folded)
        http_seconds = watch.seconds["HTTP round trips (httpx send: server + transfer)"]
        print(f"\n{'server side (py-spy samples of the API process)':<62}{'seconds':>9}{'/HTTP':>8}")
        for label, seconds in sorted(phases.items(), key=lambda item: -item[1]):
            print(f"  {label:<60}{seconds:>9.2f}{seconds / http_seconds:>8.0%}")
        busy_label = "(event loop thread busy running Python)"
        print(f"  {busy_label:<60}{loop_busy:>9.2f}{loop_busy / http_seconds:>8.0%}")
    if args.keep:
        print(f"\nscratch folder kept: {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
