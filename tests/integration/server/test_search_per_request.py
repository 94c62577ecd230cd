"""An annotator's record search: argilla-server's reply, byte for byte, at a cost bounded whatever the page.

labelbook shortens argilla-server 2.8's annotator search (`labelbook/server/_bootstrap.py`: the
caller's User loaded once, metadata visibility decided once per name instead of once per record,
workspace membership asked once) and its privacy filter's lookups (`_privacy.py`). These tests
replay the same requests on argilla-server's own code over the session server's database
(`argilla_in_process.py`, in a separate process) and compare the replies byte for byte, and
count the SQL statements a page costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argilla as rg
import httpx
import pytest

REPLAY = Path(__file__).with_name("argilla_in_process.py")
RECORDS = 12
INCLUDE = {"include": ["responses", "suggestions", "vectors"]}


@dataclass
class Project:
    data_dir: Path
    url: str
    dataset_id: str
    me_key: str  # an annotator of the workspace, who answered some records
    owner_key: str


@pytest.fixture(scope="module")
def project(lb_server: Any, argilla_client: rg.Argilla, make_team: Any) -> Project:
    team = make_team("page", 2)
    tag, workspace, annotators = team.tag, team.workspace, team.annotators
    dataset = rg.Dataset(
        name=f"page-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")],
            questions=[rg.LabelQuestion("label", labels=["yes", "no"])],
            metadata=[
                rg.TermsMetadataProperty("lang"),
                rg.IntegerMetadataProperty("cost", visible_for_annotators=False),
            ],
            vectors=[rg.VectorField("emb", dimensions=3)],
            allow_extra_metadata=True,
        ),
        client=argilla_client,
    ).create()
    records = []
    for n in range(RECORDS):
        # Even records: hidden and undeclared metadata, both annotators' answers. Odd: nothing to hide.
        hidden = n % 2 == 0
        metadata = {"lang": "en" if hidden else "plain"}
        responses = []
        if hidden:
            metadata |= {"cost": n, "note": f"internal {n}"}
            responses = [
                rg.Response("label", "yes", user_id=annotators[0].id, status="submitted"),
                rg.Response("label", "no", user_id=annotators[1].id, status="draft"),
            ]
        records.append(
            rg.Record(
                fields={"text": f"item {n} ünïcode"},
                metadata=metadata,
                vectors={"emb": [1.0, n / 10, 0.5]},
                suggestions=[rg.Suggestion("label", "no", score=0.25, agent="model-a")],
                responses=responses,
            )
        )
    dataset.records.log(records)
    with httpx.Client(base_url=lb_server.url, headers={"X-Argilla-Api-Key": lb_server.api_key}) as owner:
        me_key = owner.get(f"/api/v1/users/{annotators[0].id}").json()["api_key"]
    return Project(lb_server.data_dir, lb_server.url, str(dataset.id), me_key, lb_server.api_key)


def _searches(project: Project) -> dict[str, dict[str, Any]]:
    """The annotation UI's searches, as `argilla_in_process.py` requests."""
    path = f"/api/v1/me/datasets/{project.dataset_id}/records/search"
    status = {"entity": "response", "property": "status"}
    lang = {"entity": "metadata", "metadata_property": "lang"}
    bodies = {
        "pending queue": {"filters": {"and": [{"type": "terms", "scope": status, "values": ["pending"]}]}},
        "submitted": {"filters": {"and": [{"type": "terms", "scope": status, "values": ["submitted"]}]}},
        "metadata filter": {
            "filters": {"and": [{"type": "terms", "scope": lang, "values": ["en", "plain"]}]}
        },
        "text query": {"query": {"text": {"q": "item"}}},
        "similarity": {"query": {"vector": {"name": "emb", "value": [1.0, 0.3, 0.5]}}},
        "nothing to hide": {"filters": {"and": [{"type": "terms", "scope": lang, "values": ["plain"]}]}},
    }
    return {
        name: {
            "method": "POST",
            "path": path,
            "params": {**INCLUDE, "limit": 50},
            "json": body,
            "api_key": project.me_key,
        }
        for name, body in bodies.items()
    }


def _replay(project: Project, requests: list[dict[str, Any]], *flags: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(REPLAY), *flags],
        input=json.dumps({"data_dir": str(project.data_dir), "requests": requests}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    replies: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return replies


def _live(project: Project, request: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=project.url, timeout=60, trust_env=False) as client:
        return client.request(
            request["method"],
            request["path"],
            params=request["params"],
            json=request["json"],
            headers={"X-Argilla-Api-Key": request["api_key"]},
        )


def test_an_annotator_search_replies_byte_for_byte_as_argilla_server_behind_the_filter(
    project: Project,
) -> None:
    searches = _searches(project)
    reference = _replay(project, list(searches.values()), "--privacy")
    for (name, request), expected in zip(searches.items(), reference, strict=True):
        live = _live(project, request)
        assert expected["status"] == 200, (name, expected["body"][:500])
        assert live.status_code == 200, (name, live.text[:500])
        assert live.json()["items"], name
        assert live.content == expected["body"].encode("latin-1"), name
        for item in live.json()["items"]:
            record = item["record"]
            assert set(record["metadata"]) == {"lang"}, name  # hidden and undeclared names stripped
            assert len(record["responses"]) == (1 if record["metadata"]["lang"] == "en" else 0), name


def test_a_page_with_nothing_to_hide_reaches_the_annotator_as_argilla_sent_it(project: Project) -> None:
    request = _searches(project)["nothing to hide"]
    (unfiltered,) = _replay(project, [request])
    live = _live(project, request)
    assert live.status_code == 200 and len(live.json()["items"]) == RECORDS // 2
    assert "ünïcode" in live.text
    assert live.content == unfiltered["body"].encode("latin-1")


def test_a_search_page_costs_the_same_statements_whatever_its_size(project: Project) -> None:
    searches = _searches(project)
    requests = []
    for name in ("pending queue", "metadata filter", "similarity"):
        for limit in (1, 50):
            requests.append({**searches[name], "params": {**INCLUDE, "limit": limit}})
    ours = _replay(project, requests, "--labelbook", "--privacy")
    upstream = _replay(project, requests, "--privacy")
    counts = [reply["statements"] for reply in ours]
    assert all(reply["status"] == 200 for reply in ours + upstream)
    # Per request: the caller (2), the dataset with its fields and metadata properties (3),
    # membership (1), the page's records (1); and argilla's check of the filter's metadata property,
    # or the vector settings of a similarity search (1).
    assert counts == [7, 7, 8, 8, 8, 8], counts
    # argilla-server alone loads the caller twice and asks membership per record and metadata name.
    assert all(theirs["statements"] > mine for theirs, mine in zip(upstream, counts, strict=True))
    assert upstream[1]["statements"] > upstream[0]["statements"]  # grows with the page
