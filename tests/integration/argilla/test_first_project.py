"""A researcher's first project against the embedded server: typed pulls that merge with gold,
rosters that keep past vendors, connection messages that say what was tried, bad inputs refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import labelbook as lb
from labelbook import annotations as tidy
from labelbook.argilla import connect
from labelbook.argilla.roster import RosterWarning
from labelbook.cli import main
from labelbook.errors import BackendError

PREFERENCE = """# %% [markdown]
# # Which answer is better
#
# Read the prompt and both answers, then say which answer is better and how sure you are.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="preference",
    fields=[lb.TextField("prompt", description="What was asked."),
            lb.ChatField("answer_a", description="The first answer."),
            lb.TextField("answer_b", description="The second answer.")],
    questions=[
        lb.LabelQuestion("preferred", labels={"a": "The first answer is better.",
                                              "b": "The second answer is better.",
                                              "tie": "Neither is better."},
                         description="The better answer."),
        lb.RatingQuestion("confidence", values=[1, 2, 3, 4, 5],
                          definitions={1: "A guess.", 5: "Certain."}, description="How sure you are."),
        lb.MultiLabelQuestion("flaws", labels={"wrong": "States something false.",
                                               "rude": "Impolite."},
                              description="Every flaw of the worse answer.", required=False),
        lb.TextQuestion("reason", description="Why, in one sentence.", required=False),
    ],
    overlap=2,
)
"""

RECORDS = [
    {
        "id": f"q{i}",
        "prompt": f"question {i}",
        "answer_a": [{"role": "assistant", "content": f"answer a {i}"}],
        "answer_b": f"answer b {i}",
    }
    for i in range(4)
]
GOLD = pd.DataFrame(
    {
        "id": ["q0", "q1"],
        "preferred": ["a", "tie"],
        "confidence": [4, 2],
        "flaws": ['["wrong", "rude"]', '["rude"]'],
        "reason": ["a is right", "both fine"],
    }
)


def preference(tmp_path: Path) -> Path:
    notebook = tmp_path / "guide.py"
    notebook.write_text(PREFERENCE)
    lb.release(notebook, "first")
    return notebook


def owner(server: Any) -> dict[str, Any]:
    return {"api_url": server.url, "api_key": server.api_key, "progress": False}


def env(server: Any) -> dict[str, str]:
    return {"ARGILLA_API_URL": server.url, "ARGILLA_API_KEY": server.api_key}


def answer_as(server: Any, dataset_id: str, username: str, answers: dict[str, dict[str, Any]]) -> None:
    """`username` submits `answers` (record id → {question: value}) with their own key."""
    with connect(server.url, server.api_key) as conn:
        users = {u["username"]: u for u in conn.request("GET", "/api/v1/users")["items"]}
        records = conn.request("GET", f"/api/v1/datasets/{dataset_id}/records", params={"limit": 1000})[
            "items"
        ]
    key = users[username]["api_key"]
    by_id = {r["external_id"]: r["id"] for r in records}
    for record_id, values in answers.items():
        body = {"values": {q: {"value": v} for q, v in values.items()}, "status": "submitted"}
        reply = httpx.post(
            f"{server.url}/api/v1/records/{by_id[record_id]}/responses",
            json=body,
            headers={"X-Argilla-Api-Key": key},
        )
        reply.raise_for_status()


def test_publish_returns_the_project_that_goes_on_to_pull(tmp_path: Path, lb_server: Any) -> None:
    notebook = preference(tmp_path)
    roster = pd.DataFrame({"username": ["fp-flow-1"], "vendor": ["acme"]})
    project = lb.publish(
        notebook, records=RECORDS, annotators=roster, workspace="fp-flow", **owner(lb_server)
    )
    with project:
        published = project.last_publish
        assert published is not None and published.records_added == len(RECORDS)
        assert (project.notebook, project.state.dataset_id) == (notebook, published.dataset_id)
        answer_as(lb_server, published.dataset_id, "fp-flow-1", {"q0": {"preferred": "b", "confidence": 3}})
        pulled = project.annotations()
        dataset = project.dataset  # the argilla SDK's, for researchers who go on with it
        assert (dataset.name, str(dataset.id)) == (published.dataset, published.dataset_id)
        assert sorted(r.id for r in dataset.records) == sorted(r["id"] for r in RECORDS)
    assert sorted(pulled.loc[pulled["record_id"] == "q0", "question"]) == ["confidence", "preferred"]
    assert project.url == f"{lb_server.url}/dataset/{published.dataset_id}/annotation-mode"
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as reopened:
        assert reopened.last_publish is None and reopened.state == project.state


def test_pulled_parquet_and_csv_merge_with_the_gold_file_on_value_without_decoding(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = preference(tmp_path)
    roster = pd.DataFrame({"username": ["fp-ann-1", "fp-ann-2"], "vendor": ["acme", "bright"]})
    result = lb.publish(
        notebook, records=RECORDS, annotators=roster, gold=GOLD, workspace="fp-merge", **owner(lb_server)
    ).last_publish
    # ann-1 agrees with gold on everything; ann-2 only on the label and the reason.
    answer_as(
        lb_server,
        result.dataset_id,
        "fp-ann-1",
        {
            "q0": {"preferred": "a", "confidence": 4, "flaws": ["wrong", "rude"], "reason": "a is right"},
            "q1": {"preferred": "tie", "confidence": 2, "flaws": ["rude"], "reason": "both fine"},
        },
    )
    answer_as(
        lb_server,
        result.dataset_id,
        "fp-ann-2",
        {"q0": {"preferred": "a", "confidence": 5, "flaws": ["rude"], "reason": "a is right"}},
    )
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        gold = project.gold()
    runner = CliRunner()
    for suffix, read in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        out = tmp_path / f"pulled{suffix}"
        done = runner.invoke(main, ["pull", str(notebook), "-o", str(out)], env=env(lb_server))
        assert done.exit_code == 0, done.output
        pulled = read(out)
        gold_file = tidy.write(gold, tmp_path / f"gold{suffix}")
        merged = pd.merge(pulled, read(gold_file), on=["record_id", "question", "value"])
        matched = sorted(zip(merged["annotator"], merged["record_id"], merged["question"], strict=True))
        assert matched == [
            ("fp-ann-1", "q0", "confidence"),
            ("fp-ann-1", "q0", "flaws"),
            ("fp-ann-1", "q0", "preferred"),
            ("fp-ann-1", "q0", "reason"),
            ("fp-ann-1", "q1", "confidence"),
            ("fp-ann-1", "q1", "flaws"),
            ("fp-ann-1", "q1", "preferred"),
            ("fp-ann-1", "q1", "reason"),
            ("fp-ann-2", "q0", "preferred"),
            ("fp-ann-2", "q0", "reason"),
        ]
        # The values themselves, without json.loads: labels and text plain, ratings numbers, lists lists.
        row = pulled.set_index(["annotator", "record_id", "question"])
        assert row.loc[("fp-ann-1", "q0", "preferred"), "value"] == "a"
        assert row.loc[("fp-ann-1", "q0", "reason"), "value"] == "a is right"
        assert row.loc[("fp-ann-2", "q0", "confidence"), "value_number"] == 5
        flaws = row.loc[("fp-ann-1", "q0", "flaws"), "value_list"]
        assert (list(flaws) if suffix == ".parquet" else json.loads(flaws)) == ["wrong", "rude"]
    # A hand-written long gold CSV (what a researcher types) merges with the pulled CSV the same way.
    typed = tmp_path / "my-gold.csv"
    typed.write_text("record_id,question,value\nq0,preferred,a\nq0,confidence,4\nq1,preferred,tie\n")
    merged = pd.merge(
        pd.read_csv(tmp_path / "pulled.csv"), pd.read_csv(typed), on=["record_id", "question", "value"]
    )
    assert len(merged) == 4  # ann-1: q0 preferred and confidence, q1 preferred; ann-2: q0 preferred

    wide = tmp_path / "wide.parquet"
    done = runner.invoke(
        main, ["pull", str(notebook), "-o", str(wide), "--wide", "--fields"], env=env(lb_server)
    )
    assert done.exit_code == 0, done.output
    table = pd.read_parquet(wide)
    assert len(table) == 3 and {"preferred", "confidence", "field.answer_a"} <= set(table.columns)
    assert str(table["confidence"].dtype) == "Int64" and table["preferred"].dtype != object
    chat = table.loc[table["record_id"] == "q0", "field.answer_a"].iloc[0]
    assert chat[0]["content"] == "answer a 0"
    wide_csv = tmp_path / "wide.csv"
    assert (
        runner.invoke(
            main, ["pull", str(notebook), "-o", str(wide_csv), "--wide", "--fields"], env=env(lb_server)
        ).exit_code
        == 0
    )


def test_answers_keep_the_vendor_they_were_made_under_and_usernames_match_without_case(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = preference(tmp_path)
    first = pd.DataFrame({"username": ["fp-vend-1"], "vendor": ["acme"]})
    result = lb.publish(
        notebook, records=RECORDS, annotators=first, workspace="fp-vendors", **owner(lb_server)
    ).last_publish
    answer_as(lb_server, result.dataset_id, "fp-vend-1", {"q0": {"preferred": "a", "confidence": 3}})
    moved = pd.DataFrame({"username": ["FP-Vend-1 "], "vendor": ["bright"]})
    again = lb.publish(notebook, annotators=moved, **owner(lb_server)).last_publish
    assert again.roster is not None and again.roster.created == [] and again.roster.reused == ["FP-Vend-1"]
    answer_as(lb_server, result.dataset_id, "fp-vend-1", {"q1": {"preferred": "b", "confidence": 3}})
    unknown = pd.DataFrame({"username": ["fp-vend-1"], "vendor": [None]})
    with pytest.warns(RosterWarning, match="keeping 'bright' from the previous roster"):
        lb.publish(notebook, annotators=unknown, **owner(lb_server))
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        frame = project.annotations()
    vendors = frame.drop_duplicates("record_id").set_index("record_id")["vendor"].to_dict()
    assert vendors == {"q0": "acme", "q1": "bright"}


def test_an_empty_roster_is_refused_and_the_workspace_keeps_its_annotators(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = preference(tmp_path)
    roster = pd.DataFrame({"username": ["fp-keep-1"], "vendor": ["acme"]})
    result = lb.publish(
        notebook, records=RECORDS, annotators=roster, workspace="fp-empty", **owner(lb_server)
    ).last_publish
    empty = tmp_path / "roster.csv"
    empty.write_text("username,vendor\n")
    done = CliRunner().invoke(
        main, ["publish", str(notebook), "--annotators", str(empty)], env=env(lb_server)
    )
    assert done.exit_code == 2
    assert f"{empty}: no annotators (the roster is empty)" in done.output
    assert "Traceback" not in done.output
    with connect(lb_server.url, lb_server.api_key) as conn:
        workspace = conn.request("GET", f"/api/v1/datasets/{result.dataset_id}")["workspace_id"]
        members = conn.request("GET", f"/api/v1/workspaces/{workspace}/users")["items"]
    assert "fp-keep-1" in {m["username"] for m in members}
    bare = tmp_path / "bare.csv"
    bare.write_text("username\nfp-keep-1\nfp-keep-2\n")
    done = CliRunner().invoke(main, ["publish", str(notebook), "--annotators", str(bare)], env=env(lb_server))
    assert done.exit_code == 0, done.output
    assert f"warning: {bare}, row 1 (line 2): no vendor for 'fp-keep-1'; keeping 'acme'" in done.output
    assert (
        f"warning: {bare}: no vendor for 'fp-keep-2' (row 2) (the roster has no 'vendor' column)"
        in done.output
    )


def test_bad_files_exit_2_naming_file_and_row_before_any_upload(tmp_path: Path, lb_server: Any) -> None:
    notebook = preference(tmp_path)
    records = tmp_path / "records.csv"
    records.write_bytes("id,prompt,answer_a,answer_b\nq1,caf\xe9,x,y\n".encode("latin-1"))
    roster = tmp_path / "roster.csv"
    roster.write_text("user,vendor\nalice,acme\n")
    gold = tmp_path / "gold.csv"
    gold.write_text("id,preferred\nq1,a\nq1,b\n")
    done = CliRunner().invoke(
        main,
        [
            "publish",
            str(notebook),
            "--records",
            str(records),
            "--annotators",
            str(roster),
            "--gold",
            str(gold),
        ],
        env=env(lb_server),
    )
    assert done.exit_code == 2, done.output
    assert "3 problems in the inputs; nothing was uploaded" in done.output
    assert f"{records}, line 2: not UTF-8 text (byte 0xe9)" in done.output
    assert f"{roster}: no 'username' column (columns found: user, vendor)" in done.output
    assert f"{gold}: row 2 (line 3): id 'q1' repeats row 1 (line 2)" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "guide.labelbook").exists()  # no request was made


def test_publish_mapping_reads_a_column_of_another_name(tmp_path: Path, lb_server: Any) -> None:
    notebook = preference(tmp_path)
    records = tmp_path / "records.jsonl"
    rows = [
        {"id": r["id"], "question": r["prompt"], "answer_a": r["answer_a"], "answer_b": r["answer_b"]}
        for r in RECORDS
    ]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    refused = runner.invoke(main, ["publish", str(notebook), "--records", str(records)], env=env(lb_server))
    assert refused.exit_code == 2
    assert (
        f"{records}: no column for required field 'prompt' (columns: id, question, answer_a, answer_b); "
        "rename a column to 'prompt', or map one: --mapping COLUMN=prompt"
    ) in refused.output
    done = runner.invoke(
        main,
        [
            "publish",
            str(notebook),
            "--records",
            str(records),
            "--mapping",
            "question=prompt",
            "--workspace",
            "fp-map",
        ],
        env=env(lb_server),
    )
    assert done.exit_code == 0, done.output
    assert "records: 4 added" in done.output
    bad = runner.invoke(main, ["publish", str(notebook), "--records", str(records), "--mapping", "question"])
    assert bad.exit_code == 2 and "--mapping 'question': write it as COLUMN=FIELD" in bad.output


def test_open_and_pull_reach_the_server_project_json_records(
    tmp_path: Path, lb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the default local server: stopped
    notebook = preference(tmp_path)
    result = lb.publish(
        notebook, records=RECORDS, workspace="fp-open", data_dir=lb_server.data_dir, progress=False
    ).last_publish
    state = json.loads((tmp_path / "guide.labelbook" / "project.json").read_text())
    assert state["server_url"] == lb_server.url and state["data_dir"] == str(lb_server.data_dir)
    with lb.Project.open(notebook) as project:  # no URL, no key, no data dir given
        assert project.state.dataset_id == result.dataset_id
        assert project.annotations().empty
    done = CliRunner().invoke(main, ["pull", str(notebook), "-o", str(tmp_path / "a.csv")], env={})
    assert done.exit_code == 0, done.output

    # A project.json from before the data dir was recorded: the message says what was tried.
    del state["data_dir"]
    (tmp_path / "guide.labelbook" / "project.json").write_text(json.dumps(state))
    default = tmp_path / "xdg" / "labelbook" / "server"
    with pytest.raises(BackendError) as caught:
        lb.Project.open(notebook)
    assert str(caught.value) == (
        f"no API key for the Argilla server at {lb_server.url} (recorded in the project's project.json): "
        f"ARGILLA_API_KEY is not set, and the local server of {default} is stopped. Set ARGILLA_API_KEY "
        "to an owner's API key of that server (the local server's key is only ever sent to the local "
        "server), or start its local server with `labelbook server start --data-dir DIR` (or pass "
        "--data-dir)."
    )
    with lb.Project.open(notebook, data_dir=lb_server.data_dir) as project:
        assert project.state.dataset_id == result.dataset_id


def test_connection_messages_say_what_was_tried(
    tmp_path: Path, lb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    default = tmp_path / "xdg" / "labelbook" / "server"
    notebook = preference(tmp_path)
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    with pytest.raises(BackendError) as caught:
        lb.publish(notebook, records=RECORDS, progress=False)
    message = str(caught.value)
    assert "ARGILLA_API_URL is not set" not in message
    assert message.startswith(
        "no API key for the Argilla server at http://127.0.0.1:9 (ARGILLA_API_URL): ARGILLA_API_KEY is not "
        f"set, and the local server of {default} is stopped."
    )
    monkeypatch.setenv("ARGILLA_API_URL", lb_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", "not-a-key")
    with pytest.raises(BackendError) as caught:
        lb.publish(notebook, records=RECORDS, progress=False)
    assert str(caught.value) == (
        f"the Argilla server at {lb_server.url} refused the API key (401 Unauthorized), from "
        "ARGILLA_API_KEY: check ARGILLA_API_KEY, or for the local server unset it so labelbook reads the key "
        "`labelbook server start` made."
    )
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    unreachable = (
        r"^cannot reach the Argilla server at http://127.0.0.1:9, from ARGILLA_API_URL \(ConnectError: .*\): "
        r"start that server or correct ARGILLA_API_URL; unset it to use the local server of "
        r"`labelbook server start`\.$"
    )
    with pytest.raises(BackendError, match=unreachable):
        lb.publish(notebook, records=RECORDS, progress=False)
    monkeypatch.delenv("ARGILLA_API_URL")
    monkeypatch.delenv("ARGILLA_API_KEY")
    with pytest.raises(BackendError) as caught:
        lb.publish(notebook, records=RECORDS, progress=False)
    assert str(caught.value) == (
        f"no Argilla server to publish to: ARGILLA_API_URL is not set and the local server of {default} is "
        "stopped; start the local one with `labelbook server start`, or set ARGILLA_API_URL to your server."
    )
    lb.publish(
        notebook, records=RECORDS, workspace="fp-messages", data_dir=lb_server.data_dir, progress=False
    )
    again = lb.publish(
        notebook, records=RECORDS, progress=False
    ).last_publish  # where project.json says it lives
    assert (again.url, again.records_skipped) == (lb_server.url, 4)
    state_file = tmp_path / "guide.labelbook" / "project.json"
    state_file.write_text(state_file.read_text().replace(lb_server.url, "http://127.0.0.1:9"))
    with pytest.raises(BackendError) as caught:
        lb.publish(notebook, records=RECORDS, progress=False)
    assert str(caught.value) == (
        "no API key for the Argilla server at http://127.0.0.1:9 (recorded in the project's project.json): "
        f"ARGILLA_API_KEY is not set, and the local server of {lb_server.data_dir} runs at {lb_server.url}, "
        f"not at http://127.0.0.1:9; the local server of {default} is stopped. Set ARGILLA_API_KEY to an "
        "owner's API key of that server (the local server's key is only ever sent to the local server), "
        "or start its local server with `labelbook server start --data-dir "
        "DIR` (or pass --data-dir)."
    )
    monkeypatch.setenv("ARGILLA_API_KEY", lb_server.api_key)
    recorded = (
        r"^cannot reach the Argilla server at http://127.0.0.1:9, recorded in the project's project.json"
    )
    with pytest.raises(BackendError, match=recorded + r" \(ConnectError: .*\): start it"):
        lb.Project.open(notebook)


def test_pull_reports_a_damaged_gold_file_and_a_bad_since_as_such(tmp_path: Path, lb_server: Any) -> None:
    notebook = preference(tmp_path)
    lb.publish(notebook, records=RECORDS, gold=GOLD, workspace="fp-damaged", **owner(lb_server))
    runner = CliRunner()
    bad_since = runner.invoke(
        main,
        ["pull", str(notebook), "-o", str(tmp_path / "a.csv"), "--since", "yesterday"],
        env=env(lb_server),
    )
    assert bad_since.exit_code == 2 and "--since 'yesterday': not a time" in bad_since.output
    gold_file = tmp_path / "guide.labelbook" / "gold.jsonl"
    gold_file.write_text(gold_file.read_text() + '{"id": "q3", "answers": \n')
    done = runner.invoke(main, ["pull", str(notebook), "-o", str(tmp_path / "a.csv")], env=env(lb_server))
    assert done.exit_code == 2
    assert f"{gold_file}, line 3: damaged gold answers" in done.output
    assert "--since" not in done.output and "Traceback" not in done.output
