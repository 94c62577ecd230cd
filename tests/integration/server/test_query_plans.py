"""The engine's SQL keeps the access paths that make it fast, on a real server's database.

SQLite's planner, left alone, answers response-status filters through the low-selectivity
`ix_responses_status` index (10k records: 14 s instead of 34 ms). These tests read EXPLAIN
QUERY PLAN for the statements the engine runs and fail if a plan regresses.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import argilla as rg
import pytest
from argilla_server.search_engine.base import (
    AndFilter,
    MetadataFilterScope,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SuggestionFilterScope,
    TermsFilter,
    TextQuery,
)

from labelbook.server import ServerPaths
from labelbook.server.engine import ensure_schema, search_statements


@pytest.fixture(scope="module")
def planned(lb_server: Any, argilla_client: rg.Argilla) -> Iterator[tuple[sqlite3.Connection, str, Any]]:
    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.LabelQuestion(name="label", labels=["yes", "no"])],
        metadata=[rg.TermsMetadataProperty(name="lang")],
    )
    suffix = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"plans-{suffix}", client=argilla_client).create()
    dataset = rg.Dataset(
        name=f"plans-{suffix}", workspace=workspace, settings=settings, client=argilla_client
    ).create()
    owner = argilla_client.me.id
    dataset.records.log(
        [
            rg.Record(
                fields={"text": f"record {i}"},
                metadata={"lang": "en" if i % 2 else "fr"},
                suggestions=[rg.Suggestion("label", "yes", agent="a", type="model")],
                responses=[rg.Response("label", "yes", user_id=owner)] if i % 3 == 0 else [],
            )
            for i in range(30)
        ]
    )
    database = ServerPaths(lb_server.data_dir).database
    ensure_schema(database)
    conn = sqlite3.connect(database)
    try:
        yield conn, dataset.id.hex, SimpleNamespace(id=owner)
    finally:
        conn.close()


def plan(conn: sqlite3.Connection, dataset_id: str, **search: Any) -> list[str]:
    statements = search_statements(conn, dataset_id, **search)
    details = []
    for sql in (statements.page, statements.count):
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", {**statements.params, "limit": 50, "offset": 0})
        details.extend(row[3] for row in rows)
    return details


def status(values: list[str], user: Any = None) -> AndFilter:
    return AndFilter([TermsFilter(ResponseFilterScope(property="status", user=user), values)])


CASES = {
    "pending for a user": lambda user: {"filter": status(["pending"], user), "user_id": user.id},
    "submitted for a user": lambda user: {"filter": status(["submitted"], user), "user_id": user.id},
    "pending or draft for a user": lambda user: {"filter": status(["pending", "draft"], user)},
    "submitted by anyone": lambda user: {"filter": status(["submitted"])},
    "pending for everyone": lambda user: {"filter": status(["pending"])},
    "a user's answers": lambda user: {
        "filter": AndFilter([TermsFilter(ResponseFilterScope(question="label", user=user), ["yes"])])
    },
    "record status": lambda user: {
        "filter": AndFilter([TermsFilter(RecordFilterScope("status"), ["pending"])])
    },
    "suggestion type": lambda user: {
        "filter": AndFilter([TermsFilter(SuggestionFilterScope("label", "type"), ["model"])])
    },
    "metadata": lambda user: {"filter": AndFilter([TermsFilter(MetadataFilterScope("lang"), ["en"])])},
    "text": lambda user: {"query": TextQuery(q="record -7")},
    "metadata range and text": lambda user: {
        "query": TextQuery(q="record"),
        "filter": AndFilter([RangeFilter(RecordFilterScope("inserted_at"), ge="2000-01-01")]),
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_plans_never_use_the_response_status_index_or_scan_whole_tables(
    planned: tuple[sqlite3.Connection, str, Any], case: str
) -> None:
    conn, dataset_id, user = planned
    details = plan(conn, dataset_id, **CASES[case](user))
    assert not any("ix_responses_status" in d for d in details), details
    assert not any("ix_suggestions_type" in d for d in details), details
    # Responses and suggestions are only ever reached through an index, never scanned.
    assert not any(
        d.startswith(("SCAN rs", "SCAN responses", "SCAN s ", "SCAN suggestions")) for d in details
    ), details
    # Records are reached through the dataset (or by id from a text match), never scanned.
    assert not any(d.startswith("SCAN r ") or d == "SCAN r" for d in details), details


def test_a_users_queue_reads_responses_through_the_user_index(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    conn, dataset_id, user = planned
    details = plan(conn, dataset_id, **CASES["pending for a user"](user))
    assert any(
        d.startswith("SEARCH rs USING COVERING INDEX lb_ix_responses_user_record (user_id=?)")
        for d in details
    )
    assert any("(dataset_id=?)" in d and d.startswith("SEARCH r ") for d in details), details


def test_ensure_schema_is_idempotent_and_indexes_existing_records(
    tmp_path: Any, lb_server: Any, planned: tuple[sqlite3.Connection, str, Any]
) -> None:
    # A copy of the server's database without the engine's tables, as an older install would have.
    source = sqlite3.connect(ServerPaths(lb_server.data_dir).database)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE lb_text_fts")
        conn.execute("DROP TABLE lb_text_doc")
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    ensure_schema(copy)
    ensure_schema(copy)
    with sqlite3.connect(copy) as conn:
        indexed = conn.execute("SELECT count(DISTINCT record_id) FROM lb_text_doc").fetchone()[0]
        found = conn.execute("SELECT count(*) FROM lb_text_fts WHERE lb_text_fts MATCH 'record'").fetchone()[
            0
        ]
    assert records > 0
    assert indexed == records
    assert found >= 30
