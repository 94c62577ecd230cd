"""Publishing releases and records to the embedded server: settings, idempotence, resume, errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import labelbook as lb
from labelbook.argilla import connect
from labelbook.cli import main
from labelbook.errors import BackendError, RecordsError, ReleaseError

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"


def released(tmp_path: Path) -> Path:
    """A copy of the example guide with release 1.0.0."""
    notebook = tmp_path / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "first")
    return notebook


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i:05d}",
            "instruction": f"task {i}",
            "trajectory": [{"role": "user", "content": f"do {i}"}],
        }
        for i in range(start, start + n)
    ]


def count(server: Any, dataset_id: str) -> int:
    reply = httpx.get(
        f"{server.url}/api/v1/datasets/{dataset_id}/progress", headers={"X-Argilla-Api-Key": server.api_key}
    )
    reply.raise_for_status()
    return int(reply.json()["total"])


def options(server: Any) -> dict[str, Any]:
    return {"api_url": server.url, "api_key": server.api_key, "progress": False}


def test_publish_makes_the_dataset_from_the_release(
    tmp_path: Path, lb_server: Any, argilla_client: Any
) -> None:
    notebook = released(tmp_path)
    result = lb.publish(
        notebook, records=EXAMPLE / "records.jsonl", workspace="pub-settings", **options(lb_server)
    ).last_publish
    assert result.created and result.deployed and result.records_added == 30
    dataset = argilla_client.datasets(result.dataset, workspace="pub-settings")
    assert dataset.settings.distribution.min_submitted == 3
    assert "1.0.0" in dataset.settings.guidelines  # the release banner
    outcome = dataset.settings.questions["outcome"]
    assert "**partial**: Some required part is done" in outcome.description
    assert [f.name for f in dataset.settings.fields] == ["instruction", "trajectory"]
    log = lb.releases.deployments(notebook)
    assert [(d.version, d.dataset_id) for d in log] == [("1.0.0", result.dataset_id)]
    record = next(iter(dataset.records(query=lb_query("traj-001"))))
    assert record.id == "traj-001"
    assert any("```bash" in m.content for m in record.fields["trajectory"])  # shell steps in the content


def lb_query(external_id: str) -> Any:
    import argilla as rg

    return rg.Query(filter=rg.Filter(("id", "==", external_id)))


def test_newer_release_updates_in_place_and_a_major_one_is_refused(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    first = lb.publish(notebook, records=rows(5), workspace="pub-update", **options(lb_server)).last_publish
    text = notebook.read_text()
    notebook.write_text(text.replace("Read the whole trajectory once", "Read the whole trajectory twice"))
    assert lb.release(notebook, "reading twice").version == lb.Version(1, 1, 0)
    second = lb.publish(notebook, records=rows(5), **options(lb_server)).last_publish
    assert (second.dataset_id, second.created, second.deployed) == (first.dataset_id, False, True)
    assert second.records_added == 0
    with connect(lb_server.url, lb_server.api_key) as conn:
        guidelines = conn.request("GET", f"/api/v1/datasets/{first.dataset_id}")["guidelines"]
    assert "twice" in guidelines and "1.1.0" in guidelines
    assert [d.version for d in lb.releases.deployments(notebook)] == ["1.0.0", "1.1.0"]

    notebook.write_text(notebook.read_text().replace("Read the whole trajectory twice", "Read it all"))
    assert lb.release(notebook, "new batch", bump="major").version == lb.Version(2, 0, 0)
    with pytest.raises(ReleaseError, match=r"2\.0\.0 is incompatible with 1\.1\.0.*--new-dataset"):
        lb.publish(notebook, records=rows(5), **options(lb_server))
    third = lb.publish(notebook, records=rows(5), new_dataset=True, **options(lb_server)).last_publish
    assert third.created and third.dataset == "trajectory-rating-v2" and third.records_added == 5


def test_invalid_records_are_refused_with_row_numbers_before_any_upload(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    bad = rows(4)
    del bad[1]["trajectory"]
    bad[2]["instruction"] = 42
    bad[3]["outcome.suggestion"] = "maybe"
    with pytest.raises(RecordsError) as caught:
        lb.publish(notebook, records=bad, workspace="pub-invalid", **options(lb_server))
    message = str(caught.value)
    assert "nothing was uploaded" in message
    assert "row 2: the record has no value for required field 'trajectory'" in message
    assert "row 3: field 'instruction' must be a string" in message
    assert "row 4: suggestion: 'maybe' is not a label of question 'outcome'" in message
    assert not (tmp_path / "guide.labelbook").exists()  # no request was made

    csv = tmp_path / "records.csv"
    csv.write_text("id,instruction\nx1,hello\n")
    result = CliRunner().invoke(
        main,
        ["publish", str(notebook), "--records", str(csv)],
        env={"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key},
    )
    assert result.exit_code == 2
    assert "no column for required field 'trajectory'" in result.output


def test_suggestions_from_columns_and_a_callable(tmp_path: Path, lb_server: Any, argilla_client: Any) -> None:
    notebook = released(tmp_path)
    given = rows(3)
    given[0]["outcome.suggestion"] = "success"
    given[0]["outcome.suggestion.score"] = 0.9
    given[0]["outcome.suggestion.agent"] = "judge-v1"

    def judge(fields: dict[str, Any]) -> dict[str, Any]:
        return {"rationale": (f"looks fine: {fields['instruction']}", 0.5)}

    result = lb.publish(
        notebook, records=given, suggest=judge, workspace="pub-suggest", **options(lb_server)
    ).last_publish
    with connect(lb_server.url, lb_server.api_key) as conn:
        items = conn.request(
            "GET", f"/api/v1/datasets/{result.dataset_id}/records", params={"include": "suggestions"}
        )["items"]
    first = next(r for r in items if r["external_id"] == "r00000")
    agents = sorted((s["agent"], s["value"], s["score"]) for s in first["suggestions"])
    assert agents == [("judge", "looks fine: task 0", 0.5), ("judge-v1", "success", 0.9)]


def test_changed_rows_under_a_published_id_are_reported_then_updated_on_request(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    first = rows(6)
    result = lb.publish(notebook, records=first, workspace="pub-changed", **options(lb_server)).last_publish
    owner = {"X-Argilla-Api-Key": lb_server.api_key}

    def published() -> dict[str, dict[str, Any]]:
        reply = httpx.get(
            f"{lb_server.url}/api/v1/datasets/{result.dataset_id}/records",
            params={"include": "responses"},
            headers=owner,
        )
        reply.raise_for_status()
        return {item["external_id"]: item for item in reply.json()["items"]}

    answered = published()["r00002"]["id"]
    answer = {
        "values": {"outcome": {"value": "success"}, "rationale": {"value": "ok"}},
        "status": "submitted",
    }
    httpx.post(
        f"{lb_server.url}/api/v1/records/{answered}/responses", json=answer, headers=owner
    ).raise_for_status()

    edited = [dict(row) for row in first] + rows(1, start=6)
    edited[2]["instruction"] = "task 2, reworded"
    edited[4]["trajectory"] = [{"role": "user", "content": "do 4 differently"}]
    with pytest.warns(
        lb.ChangedRecordsWarning, match=r"2 published records changed .*\(first: r00002, r00004\)"
    ):
        kept = lb.publish(notebook, records=edited, **options(lb_server)).last_publish
    assert (kept.records_added, kept.records_skipped, kept.records_updated) == (1, 6, 0)
    assert kept.records_changed == ["r00002", "r00004"]
    assert published()["r00002"]["fields"]["instruction"] == "task 2"  # left as published

    runner = CliRunner()
    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    records = tmp_path / "edited.jsonl"
    records.write_text("".join(json.dumps(row) + "\n" for row in edited))
    shown = runner.invoke(main, ["publish", str(notebook), "--records", str(records)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "2 published records changed fields or metadata under the same id" in shown.output
    assert "--update" in shown.output

    updated = runner.invoke(main, ["publish", str(notebook), "--records", str(records), "--update"], env=env)
    assert updated.exit_code == 0, updated.output
    assert "0 added, 5 already there, 2 updated" in updated.output
    after = published()
    assert len(after) == 7
    assert after["r00002"]["fields"]["instruction"] == "task 2, reworded"
    assert after["r00004"]["fields"]["trajectory"][0]["content"] == "do 4 differently"
    assert after["r00002"]["id"] == answered and len(after["r00002"]["responses"]) == 1  # the answer stays
    again = lb.publish(notebook, records=edited, **options(lb_server)).last_publish  # nothing left to report
    assert (again.records_added, again.records_skipped, again.records_changed) == (0, 7, [])


@pytest.mark.load
def test_publishing_5000_twice_and_resuming_a_killed_publish_gives_5000(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in rows(5000)))
    first = lb.publish(
        notebook, records=records, workspace="pub-5000", batch_size=250, **options(lb_server)
    ).last_publish
    assert first.records_added == 5000 and count(lb_server, first.dataset_id) == 5000
    again = lb.publish(notebook, records=records, **options(lb_server)).last_publish
    assert (again.records_added, again.records_skipped) == (0, 5000)
    assert count(lb_server, first.dataset_id) == 5000

    # A second dataset, published by a process killed halfway, then published again.
    other = tmp_path / "other"
    other.mkdir()
    notebook2 = released(other)
    env = {**os.environ, "ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    script = (
        "import labelbook as lb, sys; "
        "lb.publish(sys.argv[1], records=sys.argv[2], workspace='pub-killed', batch_size=100, workers=1)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(notebook2), str(records)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        state = other / "guide.labelbook" / "project.json"
        deadline = time.monotonic() + 120
        seen = 0
        while time.monotonic() < deadline and proc.poll() is None:
            log = lb.releases.deployments(notebook2)
            if log:
                seen = count(lb_server, log[0].dataset_id)
                if seen >= 1000:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the publish finished before it could be killed"
        proc.kill()
    finally:
        proc.wait(timeout=30)
    dataset_id = lb.releases.deployments(notebook2)[0].dataset_id
    # The server still finishes a batch that was in flight when the client died: wait until it has.
    partial, settled_at = count(lb_server, dataset_id), time.monotonic()
    while time.monotonic() - settled_at < 3:
        time.sleep(0.25)
        now = count(lb_server, dataset_id)
        if now != partial:
            partial, settled_at = now, time.monotonic()
    assert 1000 <= partial < 5000
    assert not state.exists()  # killed before the end
    resumed = lb.publish(
        notebook2, records=records, workspace="pub-killed", **options(lb_server)
    ).last_publish
    assert resumed.dataset_id == dataset_id and not resumed.created
    assert resumed.records_skipped == partial and resumed.records_added == 5000 - partial
    assert count(lb_server, dataset_id) == 5000


def test_a_server_that_is_down_and_a_wrong_key_are_explained(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(
        BackendError, match=rf"cannot reach the Argilla server at {down}.*labelbook server start"
    ):
        lb.publish(notebook, records=rows(1), api_url=down, api_key="x", progress=False)
    with pytest.raises(BackendError, match=r"refused the API key \(401 Unauthorized\)"):
        lb.publish(notebook, records=rows(1), api_url=lb_server.url, api_key="not-a-key", progress=False)
    result = CliRunner().invoke(
        main,
        ["publish", str(notebook), "--records", str(EXAMPLE / "records.jsonl")],
        env={"ARGILLA_API_URL": down, "ARGILLA_API_KEY": "x"},
    )
    assert result.exit_code == 1 and "labelbook server start" in result.output
    assert "Traceback" not in result.output
