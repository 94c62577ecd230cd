"""Gold records cannot be told apart in a contractor's queue: not by position when published in a
later batch (the web UI's default per-user order and the inserted_at order a contractor may pick),
and suggestions that set them apart are warned about."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import labelbook as lb
from labelbook.cli import main

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"


def released(tmp_path: Path) -> Path:
    notebook = tmp_path / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "first")
    return notebook


def rows(ids: list[str]) -> list[dict[str, Any]]:
    return [
        {"id": i, "instruction": f"task {i}", "trajectory": [{"role": "user", "content": f"do {i}"}]}
        for i in ids
    ]


def regular(start: int, n: int) -> list[str]:
    return [f"rec-{i:03d}" for i in range(start, start + n)]


def gold_of(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "outcome": ["success"] * len(ids)})


def queue(server: Any, key: str, dataset_id: str, sort: list[dict[str, Any]] | None = None) -> list[str]:
    """A contractor's pending records as the Argilla UI asks for them (its filters; sort when picked)."""
    body: dict[str, Any] = {
        "query": {},
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "response", "property": "status"},
                    "values": ["pending"],
                },
                {"type": "terms", "scope": {"entity": "record", "property": "status"}, "values": ["pending"]},
            ]
        },
    }
    if sort:
        body["sort"] = sort
    reply = httpx.post(
        f"{server.url}/api/v1/me/datasets/{dataset_id}/records/search",
        headers={"X-Argilla-Api-Key": key},
        params={"limit": 1000},
        json=body,
        timeout=30,
    )
    reply.raise_for_status()
    return [hit["record"]["external_id"] for hit in reply.json()["items"]]


def test_gold_published_in_a_later_batch_is_not_clustered_at_the_end_of_a_queue(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    owner = {"api_url": lb_server.url, "api_key": lb_server.api_key, "progress": False}
    first = lb.publish(
        notebook,
        records=rows(regular(0, 40)),
        workspace="gold-queue",
        annotators=pd.DataFrame({"username": ["gold-queue-ann"], "vendor": ["acme"]}),
        **owner,
    ).last_publish
    # The second batch: 20 new regular records, then 5 gold records listed last.
    golden = [f"gq-{i}" for i in range(5)]
    second = lb.publish(
        notebook, records=rows(regular(0, 60) + golden), gold=gold_of(golden), **owner
    ).last_publish
    assert (second.records_added, second.records_skipped, second.gold_published) == (25, 40, 5)

    users = httpx.get(
        f"{lb_server.url}/api/v1/users", headers={"X-Argilla-Api-Key": lb_server.api_key}
    ).json()
    key = next(u["api_key"] for u in users["items"] if u["username"] == "gold-queue-ann")
    by_time = queue(
        lb_server,
        key,
        first.dataset_id,
        [{"scope": {"entity": "record", "property": "inserted_at"}, "order": "asc"}],
    )
    default = queue(lb_server, key, first.dataset_id)
    assert sorted(by_time) == sorted(default) and len(by_time) == 65
    for order in (by_time, default):
        at = [i for i, record in enumerate(order) if record in golden]
        assert at != list(range(60, 65)), order  # not the tail of the queue
    at = [i for i, record in enumerate(by_time) if record in golden]
    # In insertion order they sit among the second batch, each followed by a regular record.
    assert all(40 <= i < 64 and by_time[i + 1].startswith("rec-") for i in at), by_time

    # Gold with no new regular record to sit among waits for a publish that brings some.
    later = [f"gq-{i}" for i in range(5, 8)]
    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    records_file, gold_file = tmp_path / "records.jsonl", tmp_path / "gold.csv"
    records_file.write_text("".join(json.dumps(r) + "\n" for r in rows(regular(0, 60) + golden + later)))
    gold_of(later).to_csv(gold_file, index=False)
    held = CliRunner().invoke(
        main, ["publish", str(notebook), "--records", str(records_file), "--gold", str(gold_file)], env=env
    )
    assert held.exit_code == 0, held.output
    assert "0 added, 65 already there" in held.output and "3 gold records held back" in held.output
    third = lb.publish(notebook, records=rows(regular(0, 66) + golden + later), **owner).last_publish
    assert (third.records_added, third.gold_published, third.gold_held_back) == (9, 3, [])
    tail = queue(
        lb_server,
        key,
        first.dataset_id,
        [{"scope": {"entity": "record", "property": "inserted_at"}, "order": "asc"}],
    )[65:]
    assert (
        len(tail) == 9
        and tail[-1].startswith("rec-")
        and {r for r in tail if r.startswith("gq-")} == set(later)
    )


def test_suggestions_that_set_gold_apart_are_warned_about(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    golden = ["gs-1", "gs-2", "gs-3"]
    records = rows(regular(0, 12) + golden)
    for record in records[:12]:  # a model suggested on every regular record, on no gold record
        record["outcome.suggestion"] = "partial"
    owner = {"api_url": lb_server.url, "api_key": lb_server.api_key, "progress": False}
    with pytest.warns(lb.GoldLeakWarning, match="0% of the gold records but on 100% of the others"):
        result = lb.publish(
            notebook, records=records, gold=gold_of(golden), workspace="gold-tells", **owner
        ).last_publish
    assert len(result.gold_tells) == 1

    records_file, gold_file = tmp_path / "records.jsonl", tmp_path / "gold.csv"
    for record in records[12:]:  # now the gold answers themselves, copied into the suggestion column
        record["outcome.suggestion"] = "success"
    records_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    gold_of(golden).to_csv(gold_file, index=False)
    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    shown = CliRunner().invoke(
        main, ["publish", str(notebook), "--records", str(records_file), "--gold", str(gold_file)], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert "warning: gold records: question 'outcome': the suggestion equals the expert answer on 3 of 3" in (
        shown.output
    )
