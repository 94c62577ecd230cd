"""The argilla SDK's everyday operations work against the embedded server as against an ES-backed Argilla."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import argilla as rg
import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def workspace(argilla_client: rg.Argilla) -> Iterator[rg.Workspace]:
    workspace = rg.Workspace(name=unique("sdk"), client=argilla_client).create()
    yield workspace


@pytest.fixture(scope="module")
def dataset(argilla_client: rg.Argilla, workspace: rg.Workspace) -> rg.Dataset:
    settings = rg.Settings(
        guidelines="Rate the answer.",
        fields=[rg.TextField("prompt"), rg.TextField("answer")],
        questions=[
            rg.LabelQuestion("quality", labels=["good", "bad"]),
            rg.RatingQuestion("stars", values=[1, 2, 3, 4, 5], required=False),
            rg.TextQuestion("note", required=False),
        ],
        metadata=[
            rg.TermsMetadataProperty("source"),
            rg.IntegerMetadataProperty("length"),
            rg.FloatMetadataProperty("difficulty"),
        ],
        vectors=[rg.VectorField("embedding", dimensions=3)],
    )
    dataset = rg.Dataset(
        name=unique("answers"), workspace=workspace, settings=settings, client=argilla_client
    )
    dataset.create()
    dataset.records.log(
        [
            {
                "id": f"r{number}",
                "prompt": prompt,
                "answer": answer,
                "source": source,
                "length": len(answer),
                "difficulty": difficulty,
                "embedding": vector,
                "quality": suggestion,
            }
            for number, (prompt, answer, source, difficulty, vector, suggestion) in enumerate(
                [
                    ("capital of France", "Paris is the capital", "wiki", 0.1, [1.0, 0.0, 0.0], "good"),
                    ("capital of Spain", "Madrid", "wiki", 0.2, [0.9, 0.1, 0.0], "good"),
                    ("largest ocean", "the Atlantic ocean", "forum", 0.7, [0.0, 1.0, 0.0], "bad"),
                    (
                        "boiling point of water",
                        "100 degrees at sea level",
                        "forum",
                        0.4,
                        [0.0, 0.0, 1.0],
                        "good",
                    ),
                ]
            )
        ]
    )
    return dataset


def external_ids(records: Any) -> set[str]:
    return {record.id for record in records}


def test_workspace_and_dataset_are_listed(argilla_client: rg.Argilla, workspace, dataset) -> None:  # type: ignore[no-untyped-def]
    assert argilla_client.workspaces(workspace.name) is not None
    assert argilla_client.datasets(dataset.name, workspace=workspace).id == dataset.id
    assert [question.name for question in dataset.settings.questions] == ["quality", "stars", "note"]


def test_records_round_trip_with_metadata_vectors_and_suggestions(dataset: rg.Dataset) -> None:
    records = {record.id: record for record in dataset.records(with_vectors=True, with_suggestions=True)}
    assert set(records) == {"r0", "r1", "r2", "r3"}
    first = records["r0"]
    assert first.fields["answer"] == "Paris is the capital"
    assert first.metadata["source"] == "wiki"
    assert first.metadata["length"] == len("Paris is the capital")
    assert first.vectors["embedding"] == pytest.approx([1.0, 0.0, 0.0])
    assert first.suggestions["quality"].value == "good"


def test_logging_the_same_ids_again_updates_instead_of_duplicating(dataset: rg.Dataset) -> None:
    dataset.records.log([{"id": "r1", "prompt": "capital of Spain", "answer": "Madrid, since 1561"}])
    records = list(dataset.records)
    assert len(records) == 4
    assert next(r for r in records if r.id == "r1").fields["answer"] == "Madrid, since 1561"


def test_text_search(dataset: rg.Dataset) -> None:
    assert external_ids(dataset.records(query=rg.Query(query="capital"))) == {"r0", "r1"}
    assert external_ids(dataset.records(query=rg.Query(query="ocean"))) == {"r2"}


def test_metadata_filters(dataset: rg.Dataset) -> None:
    assert external_ids(
        dataset.records(query=rg.Query(filter=rg.Filter(("metadata.source", "==", "forum"))))
    ) == {
        "r2",
        "r3",
    }
    harder = rg.Filter(("metadata.difficulty", ">=", 0.3))
    assert external_ids(dataset.records(query=rg.Query(filter=harder))) == {"r2", "r3"}


def test_suggestion_filter(dataset: rg.Dataset) -> None:
    bad = rg.Filter(("quality.suggestion", "==", "bad"))
    assert external_ids(dataset.records(query=rg.Query(filter=bad))) == {"r2"}


def test_similarity_search(dataset: rg.Dataset) -> None:
    similar = rg.Query(similar=rg.Similar(name="embedding", value=[1.0, 0.05, 0.0]))
    # With a similarity query the SDK yields (record, score) pairs, best first.
    ranked = [(record.id, score) for record, score in dataset.records(query=similar)]
    assert [record_id for record_id, _ in ranked[:2]] == ["r0", "r1"]
    assert ranked[0][1] >= ranked[1][1] >= ranked[-1][1]


def test_responses_and_response_filters(argilla_client: rg.Argilla, dataset: rg.Dataset) -> None:
    me = argilla_client.me
    records = {record.id: record for record in dataset.records}
    records["r3"].responses.add(rg.Response("quality", "bad", user_id=me.id, status="submitted"))
    dataset.records.log([records["r3"]])
    submitted = rg.Filter(("response.status", "==", "submitted"))
    assert external_ids(dataset.records(query=rg.Query(filter=submitted))) == {"r3"}
    said_bad = rg.Filter(("quality.response", "==", "bad"))
    assert external_ids(dataset.records(query=rg.Query(filter=said_bad))) == {"r3"}
    exported = dataset.records(with_responses=True).to_list(flatten=True)
    assert {row["id"]: row.get("quality.responses") for row in exported}["r3"] == ["bad"]


def test_users_join_workspaces_and_are_deleted(argilla_client: rg.Argilla, workspace: rg.Workspace) -> None:
    user = rg.User(
        username=unique("annotator"), password="a-long-password", role="annotator", client=argilla_client
    )
    user.create()
    workspace.add_user(user)
    assert user.username in {member.username for member in workspace.users}
    workspace.remove_user(user)
    user.delete()
    with pytest.warns(UserWarning, match="not found"):
        assert argilla_client.users(user.username) is None


def test_records_and_datasets_are_deleted(argilla_client: rg.Argilla, workspace: rg.Workspace) -> None:
    settings = rg.Settings(
        fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", labels=["a", "b"])]
    )
    doomed = rg.Dataset(name=unique("doomed"), workspace=workspace, settings=settings, client=argilla_client)
    doomed.create()
    doomed.records.log([{"id": "x", "text": "one"}, {"id": "y", "text": "two"}])
    doomed.records.delete([record for record in doomed.records if record.id == "x"])
    assert external_ids(doomed.records) == {"y"}
    assert external_ids(doomed.records(query=rg.Query(query="one"))) == set()
    doomed.delete()
    with pytest.warns(UserWarning, match="not found"):
        assert argilla_client.datasets(doomed.name, workspace=workspace) is None
