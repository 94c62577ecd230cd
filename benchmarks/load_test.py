"""70 annotators at once on a large dataset of the embedded server: next record, submit, repeat.

Issue 14's load test. Starts an embedded server in a scratch folder, fills one dataset with N
records straight into SQLite (`search_latency.populate`: text, metadata, a 256-d vector, one to
three answers on a share of the records), makes 70 annotators with their own API keys, then lets
each one, for `--seconds`, ask for its next record as the web UI does (its pending queue, one
record), read it for a while (`--think`, exponential around 10 s; a fast contractor on a simple
label) and submit an answer to it. Midway a `labelbook server backup` is taken while they work.

Afterwards it checks, and prints:
- p50/p95 of the next-record request and of a submit (targets: 50 ms at 100k, 100 ms at 1M);
- errors (any reply but 200/201, or none: a dropped connection; 0 expected);
- every acknowledged answer is on the server (read back from SQLite, per annotator);
- the backup, restored into a second folder, holds every answer acknowledged before it began and
  none that was not acknowledged by the time it ended.

    python benchmarks/load_test.py --records 100000 --seconds 180
    python benchmarks/load_test.py --records 1000000 --seconds 300     # the issue's point
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from search_latency import free_port, load, percentile, prepared_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_MS = {100_000: 50.0, 1_000_000: 100.0}
ANCHOR_MS = 182.0  # the pending queue's p50 at 100k before issue 14


class Annotator(threading.Thread):
    """One contractor: next record, answer, next record… until `stop`."""

    def __init__(
        self, url: str, key: str, dataset_id: str, stop: threading.Event, think: float, seed: int
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.dataset_id, self.stop = url, key, dataset_id, stop
        self.think = think
        self.rng = random.Random(seed)
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.acked: list[tuple[float, str]] = []  # (monotonic time of the 201, record id)
        self.errors: list[str] = []

    def run(self) -> None:
        headers = {"X-Argilla-Api-Key": self.key}
        search = f"/api/v1/me/datasets/{self.dataset_id}/records/search"
        pending = {
            "filters": {
                "and": [
                    {
                        "type": "terms",
                        "scope": {"entity": "response", "property": "status"},
                        "values": ["pending"],
                    }
                ]
            }
        }
        with httpx.Client(base_url=self.url, headers=headers, timeout=120, trust_env=False) as client:
            while not self.stop.is_set():
                began = time.perf_counter()
                try:
                    reply = client.post(search, json=pending, params={"limit": 1, "include": "responses"})
                except httpx.HTTPError as err:  # no reply at all (a dropped connection): an error too
                    self.errors.append(f"next record: {err!r}")
                    continue
                self.next_ms.append((time.perf_counter() - began) * 1000)
                if reply.status_code != 200:
                    self.errors.append(f"next record: {reply.status_code} {reply.text[:200]}")
                    continue
                items = reply.json()["items"]
                if not items:
                    return
                record_id = items[0]["record"]["id"]
                if self.think and self.stop.wait(self.rng.expovariate(1 / self.think)):
                    return  # reading the record: exponential think time around `think` seconds
                began = time.perf_counter()
                answer = {
                    "values": {"label": {"value": self.rng.choice(["yes", "no"])}},
                    "status": "submitted",
                }
                try:
                    reply = client.post(f"/api/v1/records/{record_id}/responses", json=answer)
                except httpx.HTTPError as err:
                    self.errors.append(f"submit: {err!r}")
                    continue
                self.submit_ms.append((time.perf_counter() - began) * 1000)
                if reply.status_code != 201:
                    self.errors.append(f"submit: {reply.status_code} {reply.text[:200]}")
                    continue
                self.acked.append((time.monotonic(), record_id))


def answers_by(database: Path, user_ids: dict[str, str]) -> dict[str, set[str]]:
    """user id (hex) → the record ids (hex) they answered, read from a server database."""
    found: dict[str, set[str]] = {user: set() for user in user_ids}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        for record_id, user_id in conn.execute("SELECT record_id, user_id FROM responses"):
            user = uuid.UUID(str(user_id)).hex
            if user in found:
                found[user].add(uuid.UUID(str(record_id)).hex)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=70)
    parser.add_argument("--seconds", type=float, default=180.0, help="how long the annotators work")
    parser.add_argument("--answered", type=float, default=0.33, help="share of records already answered")
    parser.add_argument(
        "--think",
        type=float,
        default=10.0,
        help="mean seconds an annotator reads a record before answering (exponential; 0: none, which "
        "measures the server saturated rather than a team's load)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="server folder, kept: a second run with the same parameters reuses its records (and the "
        "answers earlier runs added); benchmarks/search_latency.py --min-submitted 3 shares it",
    )
    args = parser.parse_args()

    import argilla as rg

    from labelbook import server

    with tempfile.TemporaryDirectory(prefix="labelbook-load-") as scratch:
        data_dir = args.data_dir or Path(scratch) / "server"
        info = server.start(data_dir, port=free_port())
        assert info.url and info.credentials
        try:
            return run(args, info, data_dir, Path(scratch), rg, server)
        finally:
            server.stop(data_dir)


def run(args: argparse.Namespace, info: Any, data_dir: Path, scratch: Path, rg: Any, server: Any) -> int:
    client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)
    owner = httpx.Client(
        base_url=info.url,
        headers={"X-Argilla-Api-Key": info.credentials.api_key},
        timeout=120,
        trust_env=False,
    )
    users, dataset = prepared_dataset(
        client,
        data_dir,
        records=args.records,
        annotators=args.annotators,
        answered=args.answered,
        seed=args.seed,
        min_submitted=3,
    )
    database = server.ServerPaths(data_dir).database
    before = answers_by(database, {u.id.hex: u.username for u in users})

    stop = threading.Event()
    keys = [owner.get(f"/api/v1/users/{u.id}").json()["api_key"] for u in users]
    workers = [
        Annotator(info.url, key, str(dataset.id), stop, args.think, args.seed + n)
        for n, key in enumerate(keys)
    ]
    print(
        f"load average before: {load()} ({os.cpu_count()} cores); {len(workers)} annotators for "
        f"{args.seconds:g} s, think time {args.think:g} s"
    )
    started = time.monotonic()
    for worker in workers:
        worker.start()
    time.sleep(args.seconds / 2)
    backup_began = time.monotonic()
    made = server.backup(scratch / "during-load.tar", data_dir)
    backup_ended = time.monotonic()
    time.sleep(max(0.0, args.seconds - (time.monotonic() - started)))
    stop.set()
    for worker in workers:
        worker.join(timeout=180)
    elapsed = time.monotonic() - started

    next_ms = [t for w in workers for t in w.next_ms]
    submit_ms = [t for w in workers for t in w.submit_ms]
    errors = [e for w in workers for e in w.errors]
    acked = sum(len(w.acked) for w in workers)
    after = answers_by(database, {u.id.hex: u.username for u in users})
    missing = sum(
        1
        for user, worker in zip(users, workers, strict=True)
        for _, record in worker.acked
        if uuid.UUID(record).hex not in after[user.id.hex]
    )

    restored_dir = scratch / "restored"
    server.restore(made.path, restored_dir)
    restored = answers_by(server.ServerPaths(restored_dir).database, {u.id.hex: u.username for u in users})
    lost, phantom = 0, 0
    for user, worker in zip(users, workers, strict=True):
        mine = restored[user.id.hex] - before[user.id.hex]
        early = {uuid.UUID(r).hex for t, r in worker.acked if t <= backup_began}
        by_end = {uuid.UUID(r).hex for t, r in worker.acked if t <= backup_ended}
        lost += len(early - mine)
        phantom += len(mine - by_end - {uuid.UUID(r).hex for _, r in worker.acked})

    target = TARGET_MS.get(args.records)
    p50, p95 = percentile(next_ms, 50), percentile(next_ms, 95)
    print(f"load average after: {load()}")
    print(
        f"records {args.records:,}; annotators {len(workers)}; {elapsed:.0f} s; "
        f"answers acknowledged {acked:,} "
        f"({acked / elapsed:.1f}/s)"
    )
    shown_target = f"  target {target:.0f} ms: {p50 / target:.2f}" if target else ""
    print(
        f"next record   p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{shown_target}  anchor {ANCHOR_MS:.0f} ms: "
        f"{p50 / ANCHOR_MS:.2f}"
    )
    print(f"submit        p50 {percentile(submit_ms, 50):7.1f} ms  p95 {percentile(submit_ms, 95):7.1f} ms")
    print(f"errors {len(errors)}; acknowledged but missing {missing}")
    print(
        f"backup during the load: {made.path.stat().st_size / 1e6:.0f} MB "
        f"in {backup_ended - backup_began:.1f} s; "
        f"restored: {lost} acknowledged before it began missing, {phantom} never acknowledged present"
    )
    for error in errors[:5]:
        print("  ", error)
    return 0 if not errors and not missing and not lost and not phantom else 1


if __name__ == "__main__":
    raise SystemExit(main())
