"""The quality report and training-data export of a published project: the CLI and `project.report()`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner

import labelbook as lb
from labelbook.argilla import connect
from labelbook.cli import main

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"
ROSTER = pd.DataFrame(
    {
        "username": ["rep-ann-a", "rep-ann-b", "rep-ann-c"],
        "vendor": ["acme", "acme", "bright"],
        "rate": [20.0, 20.0, 15.0],
    }
)
OUTCOMES = ["success", "partial", "failure"]


def test_report_and_export_of_a_published_project(tmp_path: Path, lb_server: Any) -> None:
    notebook = tmp_path / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "first")
    records = [
        {
            "id": f"q{i:03d}",
            "instruction": f"task {i}",
            "trajectory": [{"role": "user", "content": f"do {i}"}],
        }
        for i in range(30)
    ]
    gold = pd.DataFrame({"id": ["q000", "q001"], "outcome": ["success", "partial"]})
    result = lb.publish(
        notebook,
        records=records,
        annotators=ROSTER,
        gold=gold,
        workspace="quality-report",
        api_url=lb_server.url,
        api_key=lb_server.api_key,
        progress=False,
    ).last_publish
    with connect(lb_server.url, lb_server.api_key) as conn:
        users = {u["username"]: u["id"] for u in conn.request("GET", "/api/v1/users")["items"]}
        items = []
        for i in range(30):
            responses = []
            for k, name in enumerate(ROSTER["username"]):
                # a and b agree; c calls every 'partial' a 'failure'.
                outcome = OUTCOMES[i % 3]
                if k == 2 and outcome == "partial":
                    outcome = "failure"
                values = {"outcome": {"value": outcome}, "rationale": {"value": f"{name}: R-final-state"}}
                responses.append({"user_id": users[name], "values": values, "status": "submitted"})
            items.append({"external_id": f"q{i:03d}", "responses": responses})
        conn.request("PUT", f"/api/v1/datasets/{result.dataset_id}/records/bulk", json={"items": items})

    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        made = project.report()
    top = made.confusions.iloc[0]
    assert {top["label_a"], top["label_b"]} == {"partial", "failure"} and top["count"] == 20
    assert top["sections"], "the example guide contrasts partial and failure"
    assert made.contested["url"].str.startswith(lb_server.url).all()
    assert made.vendors is not None and set(made.vendors.index) == {"acme", "bright"}

    runner = CliRunner()
    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    page = tmp_path / "report.html"
    done = runner.invoke(main, ["report", str(notebook), "-o", str(page)], env=env)
    assert done.exit_code == 0, done.output
    assert "label confusions" in done.output and "<svg" in page.read_text(encoding="utf-8")

    labels = tmp_path / "labels.jsonl"
    done = runner.invoke(main, ["export", str(notebook), "--consensus", str(labels)], env=env)
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    assert len(rows) == 30 and {r["question"] for r in rows} == {"outcome"}
    assert {r["release"] for r in rows} == {"1.0.0"}
    by_id = {r["record_id"]: r["value"] for r in rows}
    assert by_id["q001"] == "partial"  # two careful annotators outvote the third

    done = runner.invoke(main, ["export", str(notebook), "--pairs", str(tmp_path / "p.jsonl")], env=env)
    assert done.exit_code == 2 and "--question" in done.output
    done = runner.invoke(
        main,
        ["export", str(notebook), "--pairs", str(tmp_path / "p.jsonl"), "--question", "outcome"],
        env=env,
    )
    assert done.exit_code == 2 and "ranking" in done.output

    sheet = tmp_path / "c.html"
    done = runner.invoke(
        main, ["feedback", str(notebook), "--annotator", "rep-ann-c", "-o", str(sheet)], env=env
    )
    assert done.exit_code == 0, done.output
    assert "1 misses of 2 gold answers; 1 gold items retired" in done.output
    page = sheet.read_text(encoding="utf-8")
    assert "q001" in page and "rep-ann-a" not in page and "rep-ann-b" not in page
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        status = project.gold_status().set_index("record_id")
    assert not status.loc["q001", "live"].any() and status.loc["q000", "live"].all()
    done = runner.invoke(
        main, ["feedback", str(notebook), "--annotator", "nobody", "-o", str(sheet)], env=env
    )
    assert done.exit_code == 2 and "no answers from 'nobody'" in done.output
