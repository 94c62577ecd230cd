"""Pipelines against the embedded server: stages, steps, exactly-once moves across a SIGKILL,
lineage, a reviewer who cannot see whose answers they review, qualification by gold accuracy."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from book_qa_pipeline import PASSAGES, build, guides
from pipeline_workers import answer, keys, watch_webhooks

import labelbook as lb
from labelbook.argilla.webhooks import listen
from labelbook.pipelines import Item, Pipeline, Qualify


def _prefix() -> str:
    return f"t{secrets.token_hex(3)}"


def _writers_answer(pipe: Pipeline, server: Any, prefix: str) -> None:
    dataset = pipe.project("answer").state.dataset_id
    found = keys(server.url, server.api_key)
    for n in (1, 2, 3):
        name = f"{prefix}-w{n}"
        assert (
            answer(
                server.url,
                found[name],
                dataset,
                lambda r, n=n: {"answerable": "yes", "answer": f"at dawn ({n})"},
            )
            > 0
        )


def test_items_move_once_with_lineage_and_reviewers_see_no_writer(tmp_path: Path, lb_server: Any) -> None:
    prefix = _prefix()
    pipe = build(tmp_path, prefix, lb_server.url, lb_server.api_key)
    first = pipe.run()
    assert first.published == {"answer": len(PASSAGES), "review": 0}
    _writers_answer(pipe, lb_server, prefix)
    second = pipe.run()
    assert second.made == {"draft": len(PASSAGES)} and second.published["review"] == len(PASSAGES)
    third = pipe.run()
    assert third.made == {} and third.published == {"answer": 0, "review": 0}

    # w3 is in both teams, but answered in `answer`: kept out of `review`, with the reason logged.
    excluded = [d for d in pipe.decisions() if d["action"] == "exclude"]
    assert {d["worker"] for d in excluded} == {f"{prefix}-w1", f"{prefix}-w2", f"{prefix}-w3"}
    assert all("answered in stage 'answer'" in d["reason"] for d in excluded)

    trace = pipe.lineage("p1~draft")
    assert trace["stage"] == "review" and trace["step"] == "draft" and trace["version"] == "stand-in-1"
    source = trace["made_from"]
    assert source["stage"] == "answer" and source["id"] == "p1" and source["source"] is True
    assert sorted(a["annotator"] for a in source["answers"]) == [f"{prefix}-w{n}" for n in (1, 2, 3)]

    # The reviewer answers, and the pulled frame carries the lineage.
    found = keys(lb_server.url, lb_server.api_key)
    review_id = pipe.project("review").state.dataset_id
    assert f"{prefix}-w3" not in _members(lb_server, pipe, "review")
    answer(lb_server.url, found[f"{prefix}-r1"], review_id, lambda r: {"verdict": "good"})
    frame = pipe.annotations("review")
    assert len(frame) == len(PASSAGES) and frame["annotator"].eq(f"{prefix}-r1").all()
    lineage = json.loads(frame.loc[frame["record_id"] == "p2~draft", "lineage"].iloc[0])
    assert lineage["made_from"]["id"] == "p2" and len(lineage["made_from"]["answers"]) == 3

    # Through the API with the reviewer's own key: no writer's name or user id anywhere.
    with httpx.Client(
        base_url=f"{lb_server.url}/api/v1", headers={"X-Argilla-Api-Key": found[f"{prefix}-r1"]}, timeout=30
    ) as client:
        seen = [
            client.post(
                f"/me/datasets/{review_id}/records/search",
                params={"include": ["responses", "suggestions"]},
                json={},
            ).text
        ]
        for hit in json.loads(seen[0])["items"]:
            seen.append(client.get(f"/records/{hit['record']['id']}").text)
            seen.append(client.get(f"/records/{hit['record']['id']}/suggestions").text)
        seen.append(client.get(f"/datasets/{review_id}").text)
        seen.append(client.get(f"/me/datasets/{review_id}/metadata-properties").text)
        mine = client.get("/me/datasets").json()["items"]
        assert [d["id"] for d in mine] == [review_id]
        assert client.get(f"/datasets/{pipe.project('answer').state.dataset_id}").status_code == 403
    owner = httpx.get(
        f"{lb_server.url}/api/v1/users", headers={"X-Argilla-Api-Key": lb_server.api_key}
    ).json()["items"]
    writer_ids = {u["id"] for u in owner if u["username"].startswith(f"{prefix}-w")}
    text = "\n".join(seen)
    assert "at dawn (1)" in text  # the answers are shown, without who gave them
    for n in (1, 2, 3):
        assert f"{prefix}-w{n}" not in text
    assert not any(uid in text for uid in writer_ids)
    pipe.close()


def _members(server: Any, pipe: Pipeline, stage: str) -> set[str]:
    workspace = pipe.project(stage).state.workspace_id
    reply = httpx.get(
        f"{server.url}/api/v1/workspaces/{workspace}/users", headers={"X-Argilla-Api-Key": server.api_key}
    )
    return {u["username"] for u in reply.json()["items"]}


def test_watch_killed_midway_and_run_again_moves_every_item_exactly_once(
    tmp_path: Path, lb_server: Any
) -> None:
    prefix = _prefix()
    pipe = build(tmp_path, prefix, lb_server.url, lb_server.api_key)
    pipe.run()
    _writers_answer(pipe, lb_server, prefix)
    calls = tmp_path / "calls.txt"
    env = {
        **os.environ,
        "PIPE_CALLS": str(calls),
        "PIPE_HANG_AT": "4",
        "PIPE_DIR": str(tmp_path),
        "PIPE_PREFIX": prefix,
        "PIPE_URL": lb_server.url,
        "PIPE_KEY": lb_server.api_key,
    }
    script = Path(__file__).with_name("book_qa_pipeline.py")
    watch = [
        sys.executable,
        "-m",
        "labelbook.cli",
        "pipeline",
        "run",
        str(script),
        "--watch",
        "--interval",
        "0.2",
    ]
    child = subprocess.Popen(watch, env=env)
    deadline = time.monotonic() + 120
    while not (calls.exists() and len(calls.read_text().splitlines()) >= 4):
        assert child.poll() is None, "the run ended before it was killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    # The killed watch's webhook is still subscribed; the next watch of the pipeline deletes it.
    left = watch_webhooks(lb_server.url, lb_server.api_key, prefix)
    assert [w["description"] for w in left] == [f"labelbook watch: {prefix} (pid {child.pid})"]
    listen(pipe.connection, prefix).close()
    assert watch_webhooks(lb_server.url, lb_server.api_key, prefix) == []
    logged = [e for e in pipe.log.events("made")]
    assert len(logged) == 3  # three drafts logged before the kill, none moved yet
    assert pipe.project("review").state is not None

    os.environ["PIPE_CALLS"] = str(calls)
    try:
        again = pipe.run()
    finally:
        del os.environ["PIPE_CALLS"]
    # The logged drafts are not made again; the one cut short and the rest are.
    assert again.made == {"draft": len(PASSAGES) - 3}
    assert len(calls.read_text().splitlines()) == 4 + len(PASSAGES) - 3
    assert again.published["review"] == len(PASSAGES)
    assert pipe.run().published == {"answer": 0, "review": 0}
    review = pipe.items("review")
    assert sorted(rid for _, rid in review) == sorted(f"{p['id']}~draft" for p in PASSAGES)
    assert len(pipe.items("answer")) == len(PASSAGES)
    moved = [rid for e in pipe.log.events("moved") if e["stage"] == "review" for rid in e["ids"]]
    assert sorted(moved) == sorted(f"{p['id']}~draft" for p in PASSAGES)
    pipe.close()


def test_a_failing_step_is_retried_then_listed_and_tried_again_next_run(
    tmp_path: Path, lb_server: Any
) -> None:
    prefix = _prefix()
    pipe = build(tmp_path, prefix, lb_server.url, lb_server.api_key)
    attempts: dict[str, int] = {}
    healthy = pipe.nodes["draft"].run

    def flaky(item: Item) -> Any:
        attempts[item.id] = attempts.get(item.id, 0) + 1
        if item.id == "p1" or (item.id == "p2" and attempts[item.id] < 3):
            raise RuntimeError(f"model timeout on {item.id}")
        return healthy(item)

    pipe.nodes["draft"].run = flaky  # type: ignore[union-attr]
    pipe.run()
    _writers_answer(pipe, lb_server, prefix)
    result = pipe.run()
    assert [(f.step, f.item, f.attempts) for f in result.failures] == [("draft", "p1", 4)]
    assert "RuntimeError: model timeout on p1" in result.failures[0].error
    assert attempts["p2"] == 3 and result.published["review"] == len(PASSAGES) - 1
    pipe.nodes["draft"].run = healthy  # type: ignore[union-attr]
    assert pipe.run().published["review"] == 1
    pipe.close()


def test_qualification_admits_the_workers_above_the_bar_and_not_the_one_below(
    tmp_path: Path, lb_server: Any
) -> None:
    prefix = _prefix()
    guides(tmp_path)
    items = [
        {"id": f"{prefix}-g{n}", "passage": f"Gold passage {n}.", "question": "Is it answerable?"}
        for n in range(10)
    ]
    truth = {row["id"]: ("yes" if n % 2 else "no") for n, row in enumerate(items)}
    gold = pd.DataFrame({"id": list(truth), "answerable": list(truth.values())})
    # publish sends no more gold records than regular ones (gold sits among them, unrecognisable)
    fillers = [
        {"id": f"{prefix}-f{n}", "passage": f"Practice passage {n}.", "question": "Is it answerable?"}
        for n in range(10)
    ]
    people = {"good": 1.0, "fair": 0.9, "poor": 0.3}
    roster = [{"username": f"{prefix}-{who}", "vendor": "acme", "teams": "candidates"} for who in people]
    pipe = Pipeline(
        prefix, roster=roster, folder=tmp_path / "pipe", api_url=lb_server.url, api_key=lb_server.api_key
    )
    pipe.stage(
        "qualify",
        guide=tmp_path / "qualify.py",
        source=items + fillers,
        team="candidates",
        overlap=3,
        gold=gold,
    )
    pipe.route(Qualify("qualify", team="writers", bar=0.7, min_items=10, question="answerable"))
    assert pipe.run().decisions == []
    found = keys(lb_server.url, lb_server.api_key)
    dataset = pipe.project("qualify").state.dataset_id
    order = sorted(truth)
    for who, accuracy in people.items():
        wrong = round((1 - accuracy) * len(items))

        def give(record: dict[str, Any], wrong: int = wrong) -> dict[str, Any]:
            if record["external_id"] not in truth:
                return {"answerable": "yes"}
            right = truth[record["external_id"]]
            flip = order.index(record["external_id"]) < wrong
            return {"answerable": ("no" if right == "yes" else "yes") if flip else right}

        assert answer(lb_server.url, found[f"{prefix}-{who}"], dataset, give) == len(items) + len(fillers)
    decided = pipe.run().decisions
    assert {(d.worker, d.action) for d in decided} == {
        (f"{prefix}-good", "join"),
        (f"{prefix}-fair", "join"),
        (f"{prefix}-poor", "stay-out"),
    }
    assert pipe.teams()["writers"] == {f"{prefix}-good", f"{prefix}-fair"}
    reasons = {d.worker: d.reason for d in decided}
    assert "gold accuracy 90%" in reasons[f"{prefix}-fair"] and ">= bar 70%" in reasons[f"{prefix}-fair"]
    assert "not admitted: gold accuracy 30%" in reasons[f"{prefix}-poor"]
    assert pipe.run().decisions == []  # decided once, logged once
    pipe.assign(f"{prefix}-poor", "writers", reason="trial week")
    assert f"{prefix}-poor" in pipe.teams()["writers"]
    assert pipe.decisions()[-1]["reason"] == "trial week"
    with pytest.raises(lb.LabelbookError, match="not on the pipeline's roster"):
        pipe.assign("nobody-here", "writers")
    pipe.close()


def test_a_stage_fed_by_a_stage_with_when_and_a_sampler_source(tmp_path: Path, lb_server: Any) -> None:
    prefix = _prefix()
    guides(tmp_path)
    drawn: list[int] = []

    def sampler() -> list[dict[str, Any]]:
        drawn.append(1)
        return [{"id": f"s{n}", "passage": f"Sampled passage {n}.", "question": "Q?"} for n in range(4)]

    roster = [
        {"username": f"{prefix}-a", "vendor": "acme", "teams": "first"},
        {"username": f"{prefix}-b", "vendor": "acme", "teams": "second"},
    ]
    pipe = Pipeline(
        prefix, roster=roster, folder=tmp_path / "pipe", api_url=lb_server.url, api_key=lb_server.api_key
    )
    first = pipe.stage("first", guide=tmp_path / "qualify.py", source=sampler, team="first", overlap=1)
    pipe.stage(
        "second",
        guide=tmp_path / "answer.py",
        source=first,
        team="second",
        when=lambda i: i.values("answerable") == ["no"],
    )
    assert pipe.run().published == {"first": 4, "second": 0}
    found = keys(lb_server.url, lb_server.api_key)
    dataset = pipe.project("first").state.dataset_id
    answer(
        lb_server.url,
        found[f"{prefix}-a"],
        dataset,
        lambda r: {"answerable": "no" if r["external_id"] in {"s1", "s3"} else "yes"},
    )
    assert pipe.run().published == {"first": 0, "second": 2}
    assert sorted(rid for _, rid in pipe.items("second")) == ["s1", "s3"]
    assert pipe.lineage("s3", stage="second")["made_from"]["answers"][0]["values"] == {"answerable": "no"}
    assert pipe.run().published == {"first": 0, "second": 0} and len(drawn) == 3
    status = pipe.status().set_index("stage")
    assert status.loc["first", ["records", "done", "waiting"]].tolist() == [4, 4, 0]
    assert status.loc["second", ["records", "done", "waiting", "queued"]].tolist() == [
        2,
        0,
        2,
        2,
    ]  # 2 left out by when=
    pipe.close()


def test_demotion_and_caps_take_people_out_with_the_reason(tmp_path: Path, lb_server: Any) -> None:
    from labelbook.pipelines import Cap, Demote

    prefix = _prefix()
    guides(tmp_path)
    items = [{"id": f"{prefix}-d{n}", "passage": f"P {n}.", "question": "Q?"} for n in range(8)]
    gold = pd.DataFrame({"id": [i["id"] for i in items], "answerable": ["yes"] * 8})
    items += [{"id": f"{prefix}-f{n}", "passage": f"F {n}.", "question": "Q?"} for n in range(8)]  # not gold
    roster = [
        {"username": f"{prefix}-{w}", "vendor": "acme", "teams": "writers"} for w in ("ok", "bad", "busy")
    ]
    pipe = Pipeline(
        prefix, roster=roster, folder=tmp_path / "pipe", api_url=lb_server.url, api_key=lb_server.api_key
    )
    pipe.stage("work", guide=tmp_path / "qualify.py", source=items, team="writers", overlap=3, gold=gold)
    pipe.route(Demote("work", team="writers", bar=0.8, min_items=8), Cap("work", per_worker=8))
    pipe.run()
    found = keys(lb_server.url, lb_server.api_key)
    dataset = pipe.project("work").state.dataset_id
    answer(lb_server.url, found[f"{prefix}-ok"], dataset, lambda r: {"answerable": "yes"})
    answer(lb_server.url, found[f"{prefix}-bad"], dataset, lambda r: {"answerable": "no"})
    decided = {(d.worker, d.action, d.rule.split("(")[0]) for d in pipe.run().decisions}
    assert decided == {
        (f"{prefix}-bad", "leave", "demote"),
        (f"{prefix}-ok", "exclude", "cap"),
        (f"{prefix}-bad", "exclude", "cap"),
    }
    assert pipe.teams()["writers"] == {f"{prefix}-ok", f"{prefix}-busy"}
    assert _members(lb_server, pipe, "work") >= {f"{prefix}-busy"}
    assert not _members(lb_server, pipe, "work") & {f"{prefix}-ok", f"{prefix}-bad"}
    reason = next(d["reason"] for d in pipe.decisions() if d["action"] == "leave")
    assert "gold accuracy 0%" in reason and "upper end under the bar 80%" in reason
    pipe.close()
