"""Pulling annotations into the tidy frame: usernames, native values, statuses, release attribution."""

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
from labelbook import annotations as tidy
from labelbook.argilla import Connection, connect
from labelbook.cli import main

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"
ROSTER = pd.DataFrame(
    {"username": ["pull-ann-a", "pull-ann-b", "pull-ann-c"], "vendor": ["acme", "acme", "bright"]}
)
OUTCOMES = ["success", "partial", "failure"]


def released(tmp_path: Path) -> Path:
    notebook = tmp_path / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "first")
    return notebook


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{i:05d}",
            "instruction": f"task {i}",
            "trajectory": [{"role": "user", "content": f"do {i}"}],
        }
        for i in range(n)
    ]


def answer(i: int, k: int) -> str:
    return OUTCOMES[(i + k) % 3]


def status(i: int, k: int) -> str:
    return "draft" if (i + k) % 50 == 0 else "discarded" if (i + k) % 97 == 0 else "submitted"


def respond(conn: Connection, dataset_id: str, users: dict[str, str], ids: range) -> None:
    """Each of the three annotators answers records `ids` (as the owner, through the bulk API)."""
    names = list(ROSTER["username"])
    for start in range(ids.start, ids.stop, 500):
        items = []
        for i in range(start, min(start + 500, ids.stop)):
            responses = []
            for k, name in enumerate(names):
                state = status(i, k)
                values = (
                    None
                    if state == "discarded"
                    else {"outcome": {"value": answer(i, k)}, "rationale": {"value": f"because {i}/{k}"}}
                )
                responses.append({"user_id": users[name], "values": values, "status": state})
            items.append({"external_id": f"p{i:05d}", "responses": responses})
        conn.request("PUT", f"/api/v1/datasets/{dataset_id}/records/bulk", json={"items": items})


def user_ids(conn: Connection) -> dict[str, str]:
    return {u["username"]: u["id"] for u in conn.request("GET", "/api/v1/users")["items"]}


def options(server: Any) -> dict[str, Any]:
    return {"api_url": server.url, "api_key": server.api_key, "progress": False}


def test_pull_small_project_tidy_wide_since_and_files(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    gold = pd.DataFrame({"id": ["p00001"], "outcome": ["success"]})
    result = lb.publish(
        notebook, records=rows(6), annotators=ROSTER, gold=gold, workspace="pull-small", **options(lb_server)
    ).last_publish
    with connect(lb_server.url, lb_server.api_key) as conn:
        respond(conn, result.dataset_id, user_ids(conn), range(0, 3))
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        frame = project.annotations(fields=["instruction"])
        assert list(frame.columns) == [*tidy.COLUMNS, "field.instruction"]
        assert len(frame) == 3 * 3 * 2
        assert frame.loc[
            (frame["record_id"] == "p00000") & (frame["annotator"] == "pull-ann-a"), "status"
        ].tolist() == [
            "draft",
            "draft",
        ]
        assert set(frame["annotator"]) == set(ROSTER["username"])
        assert dict(zip(frame["annotator"], frame["vendor"], strict=True))["pull-ann-c"] == "bright"
        assert set(frame.loc[frame["record_id"] == "p00001", "is_gold"]) == {True}
        assert str(frame["submitted_at"].dt.tz) == "UTC"
        assert set(frame["release"]) == {"1.0.0"}
        assert project.gold().to_dict("records") == [
            {"record_id": "p00001", "question": "outcome", "value": "success"}
        ]
        wide = project.annotations(wide=True)
        assert len(wide) == 9 and {"outcome", "rationale"} <= set(wide.columns)
        later = project.annotations(since=frame["submitted_at"].max())
        assert later.empty
    runner = CliRunner()
    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    for name in ("a.parquet", "a.csv", "a.jsonl"):
        out = tmp_path / name
        done = runner.invoke(main, ["pull", str(notebook), "-o", str(out)], env=env)
        assert done.exit_code == 0, done.output
        assert out.stat().st_size > 0
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])
    assert set(first) == set(tidy.COLUMNS)
    assert pd.read_parquet(tmp_path / "a.parquet").shape[0] == len(frame)


@pytest.mark.load
def test_pull_4000_records_x_3_annotators_across_pages_with_release_attribution(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    n = 4_000  # four pages of 1,000 and a release in the middle; speed at scale is benchmarks/pull_speed.py
    result = lb.publish(
        notebook, records=rows(n), annotators=ROSTER, workspace="pull-4k", **options(lb_server)
    ).last_publish
    with connect(lb_server.url, lb_server.api_key) as conn:
        users = user_ids(conn)
        respond(conn, result.dataset_id, users, range(0, n // 2))
        # The guidelines change while annotation is under way.
        text = notebook.read_text().replace(
            "Read the whole trajectory once", "Read the whole trajectory twice"
        )
        notebook.write_text(text)
        lb.release(notebook, "read twice")
        update = lb.publish(notebook, **options(lb_server)).last_publish
        assert update.deployed and update.version == "1.1.0"
        respond(conn, result.dataset_id, users, range(n // 2, n))

    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        frame = project.annotations()
    assert len(frame) == n * 3 * 2  # a discarded response has a row per question, value None
    assert frame["record_id"].nunique() == n
    by_response = frame.drop_duplicates(["record_id", "annotator"])
    assert len(by_response) == n * 3
    number = by_response["record_id"].str[1:].astype(int)
    expected_release = number.map(lambda i: "1.0.0" if i < n // 2 else "1.1.0")
    assert (by_response["release"] == expected_release).all()
    k = by_response["annotator"].map({name: j for j, name in enumerate(ROSTER["username"])})
    expected_status = [status(i, j) for i, j in zip(number, k, strict=True)]
    assert list(by_response["status"]) == expected_status
    outcomes = frame[frame["question"] == "outcome"]
    oi = outcomes["record_id"].str[1:].astype(int)
    ok = outcomes["annotator"].map({name: j for j, name in enumerate(ROSTER["username"])})
    expected = [None if status(i, j) == "discarded" else answer(i, j) for i, j in zip(oi, ok, strict=True)]
    assert list(outcomes["value"]) == expected
    assert set(frame["vendor"]) == {"acme", "bright"}


SIX_KINDS = """# %% [markdown]
# # Six kinds of answer
#
# Read the text and answer every question; the glossary defines each option.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="six-kinds",
    fields=[lb.TextField("text", description="A sentence.")],
    questions=[
        lb.LabelQuestion("tone", labels={"calm": "No urgency.", "urgent": "Asks for action now."},
                         description="The tone of the sentence."),
        lb.MultiLabelQuestion("topics", labels={"work": "About a job.", "travel": "About a trip."},
                              description="Every topic the sentence touches."),
        lb.RatingQuestion("clarity", values=[1, 2, 3], definitions={1: "Unclear.", 3: "Clear."},
                          description="How clear the sentence is."),
        lb.RankingQuestion("order", values={"short": "The short reply.", "long": "The long reply."},
                           description="Best reply first."),
        lb.SpanQuestion("names", field="text", labels={"person": "A person's name."},
                        description="Mark every person's name."),
        lb.TextQuestion("note", description="Anything odd.", required=False),
    ],
)
"""


def test_every_question_kind_comes_back_as_a_native_value(tmp_path: Path, lb_server: Any) -> None:
    notebook = tmp_path / "six.py"
    notebook.write_text(SIX_KINDS)
    lb.release(notebook, "first")
    result = lb.publish(
        notebook, records=[{"id": "s1", "text": "Ada flies to Paris for work."}], workspace="pull-kinds",
        **options(lb_server),
    ).last_publish  # fmt: skip
    with connect(lb_server.url, lb_server.api_key) as conn:
        questions = conn.request("GET", f"/api/v1/datasets/{result.dataset_id}/questions")["items"]
        clarity = next(q for q in questions if q["name"] == "clarity")
        assert [option["value"] for option in clarity["settings"]["options"]] == [1, 2, 3]
        assert "- **1**: Unclear.\n- **3**: Clear." in clarity["description"]  # the scale's meanings
        (record,) = conn.request("GET", f"/api/v1/datasets/{result.dataset_id}/records")["items"]
        values = {
            "tone": {"value": "urgent"},
            "topics": {"value": ["work", "travel"]},
            "clarity": {"value": 3},
            "order": {"value": [{"value": "long", "rank": 2}, {"value": "short", "rank": 1}]},
            "names": {"value": [{"start": 0, "end": 3, "label": "person"}]},
            "note": {"value": "fine"},
        }
        conn.request(
            "POST",
            f"/api/v1/records/{record['id']}/responses",
            json={"values": values, "status": "submitted"},
        )

    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        frame = project.annotations()
    got = dict(zip(frame["question"], frame["value"], strict=True))
    assert got == {
        "tone": "urgent",
        "topics": ["work", "travel"],
        "clarity": 3,
        "order": ["short", "long"],  # best first, as the Task describes a ranking
        "names": [{"start": 0, "end": 3, "label": "person"}],
        "note": "fine",
    }
    assert isinstance(got["clarity"], int) and set(frame["record_id"]) == {"s1"}
    back = pd.read_json(tidy.write(frame, tmp_path / "six.jsonl"), lines=True)
    values_back = dict(zip(back["question"], back["value"], strict=True))
    assert values_back["order"] == ["short", "long"] and values_back["names"][0]["label"] == "person"
    typed = pd.read_parquet(tidy.write(frame, tmp_path / "six.parquet")).set_index("question")
    assert typed.loc["tone", "value"] == "urgent" and typed.loc["note", "value"] == "fine"
    assert typed.loc["clarity", "value_number"] == 3 and typed.loc["clarity", "value"] == "3"
    assert list(typed.loc["order", "value_list"]) == ["short", "long"]
    assert list(typed.loc["topics", "value_list"]) == ["work", "travel"]
    assert json.loads(typed.loc["names", "value"])[0]["label"] == "person"  # spans: JSON, the one text form


def test_pull_streams_the_file_the_frame_writes_and_since_is_answered_by_the_server(
    tmp_path: Path, lb_server: Any
) -> None:
    import pyarrow.parquet as pq

    from labelbook.argilla import _api

    notebook = released(tmp_path)
    result = lb.publish(
        notebook, records=rows(12), annotators=ROSTER, workspace="pull-stream", **options(lb_server)
    ).last_publish
    with connect(lb_server.url, lb_server.api_key) as conn:
        users = user_ids(conn)
        respond(conn, result.dataset_id, users, range(0, 8))
        with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
            before = project.annotations()["submitted_at"].max()
        respond(conn, result.dataset_id, users, range(8, 10))  # answered after `before`
        respond(conn, result.dataset_id, users, range(0, 1))  # answered again: its responses change

    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        whole = project.annotations()
        for suffix in (".parquet", ".csv", ".jsonl"):
            # Six responses a row group: several row groups, pages turned into rows as they come.
            written = project.pull(tmp_path / f"streamed{suffix}", rows_per_group=6)
            expected = tidy.write(whole, tmp_path / f"whole{suffix}")
            assert written == len(whole) == 10 * 3 * 2
            streamed = tmp_path / f"streamed{suffix}"
            if suffix == ".parquet":
                assert pq.ParquetFile(streamed).num_row_groups > 1
                assert pq.read_schema(streamed).equals(pq.read_schema(expected), check_metadata=False)
                pd.testing.assert_frame_equal(pd.read_parquet(streamed), pd.read_parquet(expected))
            else:
                assert streamed.read_text() == expected.read_text()

        # --since: the server sends only the records answered after `before` (3 of 12), and the
        # frame is the one the local filter makes of the full download.
        answered = [
            record
            for page in _api.record_pages(
                project.connection,
                project.state.dataset_id,
                responses=True,
                doing="test",
                answered_since=before.isoformat(),
            )
            for record in page
        ]
        assert sorted(r["external_id"] for r in answered) == ["p00000", "p00008", "p00009"]
        local = tidy.since(whole, before)
        assert set(local["record_id"]) == {"p00000", "p00008", "p00009"}
        pd.testing.assert_frame_equal(project.annotations(since=before), local)
        assert project.pull(tmp_path / "since.parquet", since=before) == len(local)
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "since.parquet"),
            pd.read_parquet(tidy.write(local, tmp_path / "local.parquet")),
        )
        # A moment after every answer: nothing, with the file's columns.
        assert project.pull(tmp_path / "none.parquet", since=whole["submitted_at"].max()) == 0
        assert list(pd.read_parquet(tmp_path / "none.parquet").columns) == list(
            pd.read_parquet(tmp_path / "local.parquet").columns
        )
    # Every user's answers: not for annotators (argilla's policy for listing them, and the privacy filter).
    with connect(lb_server.url, lb_server.api_key) as conn:
        annotator = conn.request("GET", f"/api/v1/users/{user_ids(conn)['pull-ann-a']}")
    with httpx.Client(base_url=lb_server.url, headers={"X-Argilla-Api-Key": annotator["api_key"]}) as client:
        refused = client.get(
            f"/api/v1/labelbook/datasets/{result.dataset_id}/records", params={"since": before.isoformat()}
        )
    assert refused.status_code == 403 and "p0000" not in refused.text


def test_pull_pages_follow_a_cursor_on_the_embedded_server(tmp_path: Path, lb_server: Any) -> None:
    """labelbook's route pages after the previous page's last record (argilla's listing pages by
    offset, each page walking the ones before it): the same records and responses, once each."""
    from labelbook.argilla import _api

    notebook = released(tmp_path)
    result = lb.publish(
        notebook, records=rows(12), annotators=ROSTER, workspace="pull-cursor", **options(lb_server)
    ).last_publish
    with connect(lb_server.url, lb_server.api_key) as conn:
        respond(conn, result.dataset_id, user_ids(conn), range(0, 9))
        before = pd.Timestamp.now(tz="UTC").isoformat()
        respond(conn, result.dataset_id, user_ids(conn), range(10, 12))

        def pages(**since: Any) -> list[list[dict[str, Any]]]:
            listed = _api.record_pages(
                conn, result.dataset_id, responses=True, doing="test", page_size=5, **since
            )
            return [list(page) for page in listed]

        by_cursor = pages()
        assert [len(page) for page in by_cursor] == [5, 5, 2]
        by_offset = list(_api._offset_pages(conn, result.dataset_id, True, 5, "test"))
        flat = [record for page in by_cursor for record in page]
        assert len({r["id"] for r in flat}) == 12
        key = {r["id"]: sorted((x["user_id"], x["status"]) for x in r.get("responses", [])) for r in flat}
        assert key == {
            r["id"]: sorted((x["user_id"], x["status"]) for x in r.get("responses", []))
            for page in by_offset
            for r in page
        }
        assert sum(len(responses) for responses in key.values()) == 11 * 3
        since = pages(answered_since=before)
        assert sorted(r["external_id"] for page in since for r in page) == ["p00010", "p00011"]

        path = f"/api/v1/labelbook/datasets/{result.dataset_id}/records"
        first = conn.http.get(path, params={"limit": 5}).json()
        later = conn.http.get(path, params={"limit": 5, "after": first["items"][-1]["id"]}).json()
        assert first["total"] == 12 and "total" not in later  # counted once, on the first page
        assert [r["id"] for r in later["items"]] == [r["id"] for r in by_cursor[1]]
        unknown = conn.http.get(path, params={"after": "00000000-0000-0000-0000-000000000001"})
        assert unknown.status_code == 422 and "no such record" in unknown.text
