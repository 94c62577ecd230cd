"""`pipe.status()`: per stage, where items are and how well they are done.

Counts are live (argilla-server's progress counters: two small requests per stage, no records
downloaded). Quality and throughput come from the snapshot every `pipe.run()` writes after it has
pulled the stage anyway (`<name>.pipeline/snapshot.json`), with its time in `quality_at`: pulling
every answer of every stage on each status call would take seconds per 10,000 records.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.encoding import jsonable, parse_utc
from labelbook.files import write_text

if TYPE_CHECKING:
    import pandas as pd

SNAPSHOT = "snapshot.json"
COLUMNS = [
    "stage",
    "team",
    "records",
    "waiting",
    "in_progress",
    "done",
    "queued",
    "done_per_hour",
    "agreement",
    "gold_accuracy",
    "gold_low",
    "gold_high",
    "quality_at",
]
QUALITY = ("done_per_hour", "agreement", "gold_accuracy", "gold_low", "gold_high", "quality_at")
"""The columns read from the last run's snapshot."""


def describe_run(result: Any) -> str:
    """One line per run for the CLI: what moved, what failed, what was decided."""
    moved = ", ".join(f"{stage} +{n}" for stage, n in result.published.items()) or "nothing to publish"
    made = ", ".join(f"{step} {n}" for step, n in result.made.items())
    parts = [f"published: {moved}"] + ([f"made: {made}"] if made else [])
    parts += [f"routing: {d.worker} {d.action} {d.target} ({d.reason})" for d in result.decisions]
    parts += [f"FAILED {f.step} on {f.item} after {f.attempts} attempts: {f.error}" for f in result.failures]
    return "\n".join(parts)


def tidy(records: list[dict[str, Any]], names: dict[str, str], gold_ids: set[str]) -> pd.DataFrame:
    """A minimal tidy frame (record_id, annotator, question, value, status, submitted_at, is_gold)
    from raw records with responses."""
    import pandas as pd

    rows = [
        (
            record.get("external_id") or record["id"],
            names.get(r["user_id"], r["user_id"]),
            question,
            holder.get("value"),
            r["status"],
            r["updated_at"],
        )
        for record in records
        for r in record.get("responses") or ()
        for question, holder in (r.get("values") or {}).items()
    ]
    frame = pd.DataFrame(
        rows, columns=["record_id", "annotator", "question", "value", "status", "submitted_at"]
    )
    frame["is_gold"] = frame["record_id"].isin(gold_ids)
    return frame


def measure(
    records: list[dict[str, Any]], names: dict[str, str], gold: pd.DataFrame, kinds: dict[str, str]
) -> dict[str, Any]:
    """Agreement (mean percent agreement over the label and rating questions), gold accuracy with its
    interval, and records finished per hour over the last day."""
    from labelbook import quality

    frame = tidy(records, names, set(gold["record_id"]) if len(gold) else set())
    submitted = frame[
        (frame["status"] == "submitted") & frame["question"].map(kinds).isin(["label", "rating"])
    ]
    out: dict[str, Any] = {"agreement": None, "gold_accuracy": None, "gold_low": None, "gold_high": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined coefficients on small stages are reported as None
        if len(submitted):
            try:
                table = quality.agreement(submitted.assign(value=submitted["value"].astype(str)), ci=None)
                value = float(table["percent_agreement"].mean())
                out["agreement"] = None if math.isnan(value) else value
            except Exception:  # a stage whose answers no coefficient fits (one answer each): no number
                out["agreement"] = None
        if len(submitted) and len(gold):
            scored = submitted.assign(stage="all")
            try:
                acc = quality.gold_accuracy(scored, gold, by="stage")
            except Exception:  # no gold answer for these questions
                acc = None
            if acc is not None and len(acc):
                row = acc.iloc[0]
                out.update(
                    gold_accuracy=float(row.accuracy), gold_low=float(row.low), gold_high=float(row.high)
                )
    now = datetime.now(timezone.utc)
    finished = [
        max(r["updated_at"] for r in record.get("responses") or ())
        for record in records
        if record.get("status") == "completed" and record.get("responses")
    ]
    since = now - timedelta(days=1)
    out["done_per_hour"] = sum(1 for at in finished if parse_utc(at) >= since) / 24
    out["quality_at"] = now.isoformat()
    return out


def read_snapshot(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / SNAPSHOT
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_snapshot(folder: Path, stages: dict[str, dict[str, Any]]) -> None:
    """Merge these stages' numbers into the snapshot (atomic)."""
    merged = {**read_snapshot(folder), **stages}
    write_text(folder / SNAPSHOT, json.dumps(jsonable(merged), indent=1) + "\n")
