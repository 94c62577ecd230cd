"""The example project end to end: release the guide, publish it with simulated contractors and
gold items, let the simulation answer through the API, pull the answers and write the quality report.

Run by `make demo` after `labelbook server start`. Safe to run again: it reuses what exists.

    python examples/demo.py [--data-dir DIR] [--accuracy sim-acme-1=0.95 ...]

The contractors are a SIMULATION: accounts named `sim-…`, each answering correctly with its
configured probability. Real contractors log in to the web UI instead.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx

import labelbook as lb
from labelbook import server

EXAMPLE = Path(__file__).resolve().parent / "trajectory-rating"
ACCURACY = {"sim-acme-1": 0.95, "sim-acme-2": 0.8, "sim-bright-1": 0.9, "sim-bright-2": 0.6}
"""How often each simulated contractor picks the right outcome."""
OUTCOMES = ["success", "partial", "failure"]


def reference(record: dict[str, Any]) -> str:
    """The outcome a careful contractor would give these sample trajectories (the simulation's truth)."""
    last = [m for m in record["trajectory"] if m.get("role") == "shell"][-1]
    if last.get("exit_code"):
        return "failure"
    return "success" if "passed" in (last.get("output") or "") else "partial"


def simulate(
    url: str, api_key: str, dataset_id: str, truth: dict[str, str], accuracy: float, seed: str, limit: int
) -> int:
    """One simulated contractor answers its queue through the API with its own key; answers given."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": api_key}, timeout=60) as client:
        found = client.post(
            f"/api/v1/me/datasets/{dataset_id}/records/search",
            params={"include": "responses", "limit": 1000},
            json={},
        )
        found.raise_for_status()
        answers: list[dict[str, Any]] = []
        hits = found.json()["items"]
        rng.shuffle(hits)
        for hit in hits:
            if len(answers) >= limit:
                break
            record = hit["record"]
            if record["status"] != "pending" or record.get("responses"):
                continue  # enough answers already, or answered by this contractor
            right = truth[record["external_id"]]
            outcome = right if rng.random() < accuracy else rng.choice([o for o in OUTCOMES if o != right])
            answers.append(
                {
                    "record_id": record["id"],
                    "status": "submitted",
                    "values": {
                        "outcome": {"value": outcome},
                        "rationale": {"value": f"(simulated) looks like {outcome}"},
                    },
                }
            )
        if answers:
            client.post("/api/v1/me/responses/bulk", json={"items": answers}).raise_for_status()
        return len(answers)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data dir (default: per-user)"
    )
    parser.add_argument(
        "--accuracy", action="append", default=[], metavar="USER=P", help="a simulated accuracy"
    )
    args = parser.parse_args()
    accuracy = dict(ACCURACY)
    for item in args.accuracy:
        name, _, value = item.partition("=")
        accuracy[name] = float(value)

    info = server.status(args.data_dir)
    if info.state != "running" or info.credentials is None or info.url is None:
        print("The local server is not running: start it with `labelbook server start`.", file=sys.stderr)
        return 1

    # The project lives in the server's data dir, so the repository's example stays untouched.
    project_dir = info.data_dir / "demo-project"
    project_dir.mkdir(exist_ok=True)
    for name in ("guide.ipynb", "records.jsonl", "roster.csv", "gold.jsonl"):
        if not (project_dir / name).exists():
            shutil.copy(EXAMPLE / name, project_dir / name)
    notebook = project_dir / "guide.ipynb"

    print("1. release the guidelines")
    guide = lb.load(notebook)
    release = lb.release(guide, "Demo release")  # the latest release when nothing changed
    print(f"   release {release.version} ({'new' if release.created else 'unchanged'}) in {release.path}")

    print("2. publish: dataset, guidelines, simulated contractors, records with gold items")
    try:
        project = lb.publish(
            release,
            records=project_dir / "records.jsonl",
            workspace="demo",
            annotators=project_dir / "roster.csv",
            gold=project_dir / "gold.jsonl",
            data_dir=args.data_dir,
            progress=False,
        )
    except lb.LabelbookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    published = project.last_publish
    print(
        f"   dataset {published.dataset!r}: {published.records_added} records added, "
        f"{published.records_skipped} there"
    )

    print("3. the simulated contractors answer through the API, each with its own key")
    truth = {}
    for line in (project_dir / "records.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        truth[record["id"]] = reference(record)
    owner = {"X-Argilla-Api-Key": info.credentials.api_key}
    users = httpx.get(f"{info.url}/api/v1/users", headers=owner, timeout=30).json()["items"]
    keys = {u["username"]: u["api_key"] for u in users}
    # Each contractor takes a fair share of the queue (records × overlap / contractors).
    share = -(-len(truth) * 3 // len(accuracy))
    for username, p in accuracy.items():
        if username in keys:
            given = simulate(info.url, keys[username], project.state.dataset_id, truth, p, username, share)
            print(f"   {username} (accuracy {p:.0%}): {given} answer{'' if given == 1 else 's'}")

    print("4. pull the annotations and report on them")
    with project:  # what lb.publish returned
        frame = project.annotations()
        report = project.report()
    outcome = frame[(frame["question"] == "outcome") & (frame["status"] == "submitted")]
    print(f"   {len(frame)} rows; {outcome['record_id'].nunique()} records answered")
    shown = ["vendor", "items", "agreement", "gold_n", "gold_accuracy", "gold_low", "gold_high", "flagged"]
    print("\nAnnotators (agreement with the consensus; accuracy on gold items, 95 % interval):")
    print(report.annotators[shown].round(2).to_string())
    if len(report.agreement):
        row = report.agreement.iloc[0]
        print(
            f"\nKrippendorff's alpha ({row['question']}): {row['krippendorff_alpha']:.2f} "
            f"({row['krippendorff_alpha_low']:.2f}–{row['krippendorff_alpha_high']:.2f})"
        )
    if len(report.confusions):
        top = report.confusions.iloc[0]
        where = ", ".join(top["sections"][:2]) or "no section"
        print(f"Most confused: {top['label_a']} / {top['label_b']} ({top['count']} answer pairs) -> {where}")
    page = report.write(project_dir / "report.html")
    print(f"\nThe quality report: {page}")
    print(f"\nOpen {project.url}")
    print(f"  as the owner: {info.credentials.username} (password from `labelbook server start`)")
    print(f"  as a contractor: sim-… accounts; passwords in {published.state_dir}/credentials.csv")
    print(f"Pull again with: labelbook pull {notebook} -o annotations.parquet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
