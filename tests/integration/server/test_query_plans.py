"""The engine's SQL keeps the access paths that make it fast, on a real server's database.

SQLite's planner, left alone, answers response-status filters through the low-selectivity
`ix_responses_status` index (10k records: 14 s instead of 34 ms), and metadata filters by parsing
every record's JSON unless a query repeats its index's expression exactly. These tests read
EXPLAIN QUERY PLAN for the statements the engine runs and fail if a plan regresses.
"""

from __future__ import annotations

import json
import re
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

from labelbook.server import ServerPaths, statements
from labelbook.server.engine import ensure_schema, search_statements


@pytest.fixture(scope="module")
def planned(lb_server: Any, argilla_client: rg.Argilla) -> Iterator[tuple[sqlite3.Connection, str, Any]]:
    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.LabelQuestion(name="label", labels=["yes", "no"])],
        metadata=[
            rg.TermsMetadataProperty(name="lang"),
            rg.IntegerMetadataProperty(name="n"),
            rg.TermsMetadataProperty(name="tags"),
        ],
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
                # "de" and small n are rare enough (a tenth) for their indexes to drive a search.
                metadata={
                    "lang": "de" if i % 10 == 0 else "en" if i % 2 else "fr",
                    "n": i,
                    **({"tags": ["a", "b"] if i % 2 else "b"} if i % 5 == 0 else {}),
                },
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
    details: list[str] = []
    for sql in (statements.page, statements.count):
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", {**statements.params, "limit": 50, "offset": 0})
        details.extend(row[3] for row in rows)
    return details


def metadata(*filters: Any) -> AndFilter:
    return AndFilter(list(filters))


def status(values: list[str], user: Any = None) -> AndFilter:
    return AndFilter([TermsFilter(ResponseFilterScope(property="status", user=user), values)])


CASES = {
    "pending for a user": lambda user: {"filter": status(["pending"], user), "user_id": user.id},
    "submitted for a user": lambda user: {"filter": status(["submitted"], user), "user_id": user.id},
    "pending or draft for a user": lambda user: {"filter": status(["pending", "draft"], user)},
    "pending or draft, in the user's order": lambda user: {
        "filter": status(["pending", "draft"], user),
        "user_id": user.id,
    },
    "pending records by metadata, in the user's order": lambda user: {
        "filter": metadata(
            TermsFilter(ResponseFilterScope(property="status", user=user), ["pending"]),
            TermsFilter(MetadataFilterScope("lang"), ["en", "fr"]),
        ),
        "user_id": user.id,
    },
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
    "rare metadata": lambda user: {"filter": metadata(TermsFilter(MetadataFilterScope("lang"), ["de"]))},
    "metadata range and terms": lambda user: {
        "filter": metadata(
            TermsFilter(MetadataFilterScope("lang"), ["en", "fr"]),
            RangeFilter(MetadataFilterScope("n"), ge=3),
        ),
        "user_id": user.id,
    },
    "list-valued metadata": lambda user: {
        "filter": metadata(TermsFilter(MetadataFilterScope("tags"), ["a"]))
    },
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


TEXT_SEARCHES = {
    "text in the user's order": lambda user: {"query": TextQuery(q="record"), "user_id": user.id},
    "text and a negation": lambda user: {"query": TextQuery(q="record -7"), "user_id": user.id},
    "text with a filter": lambda user: {
        "query": TextQuery(q="record"),
        "filter": status(["pending"], user),
        "user_id": user.id,
    },
    "text in one field": lambda user: {"query": TextQuery(q="record", field="text")},
}


@pytest.mark.parametrize("case", list(TEXT_SEARCHES))
def test_a_text_search_reads_its_matches_then_looks_their_records_up_by_id(
    planned: tuple[sqlite3.Connection, str, Any], case: str
) -> None:
    # Records read through the dataset and probed against the matches cost 0.6 s at a million
    # records for a query matching a few hundred (the planner's pick once an index on
    # (dataset_id, inserted_at) existed).
    conn, dataset_id, user = planned
    statements = search_statements(conn, dataset_id, **TEXT_SEARCHES[case](user))
    rows = conn.execute(
        f"EXPLAIN QUERY PLAN {statements.page}", {**statements.params, "limit": 50, "offset": 0}
    )
    details = [row[3] for row in rows]
    record_reads = [d for d in details if d.startswith(("SEARCH r ", "SCAN r"))]
    assert record_reads, details
    assert all(re.search(r"\bid=\?", d) for d in record_reads), details
    first_match = next(i for i, d in enumerate(details) if "lb_text_fts" in d)
    assert first_match < details.index(record_reads[0]), details


NAMED = {
    "external ids": lambda user: {
        "filter": AndFilter([TermsFilter(RecordFilterScope("external_id"), ["x1", "x2"])])
    },
    "ids, in the user's order": lambda user: {
        "filter": AndFilter([TermsFilter(RecordFilterScope("id"), [uuid.uuid4().hex])]),
        "user_id": user.id,
    },
    "external ids and metadata": lambda user: {
        "filter": metadata(
            TermsFilter(RecordFilterScope("external_id"), ["x1"]),
            TermsFilter(MetadataFilterScope("lang"), ["de"]),
        )
    },
}


@pytest.mark.parametrize("case", list(NAMED))
def test_records_named_by_id_or_external_id_are_read_through_those_indexes(
    planned: tuple[sqlite3.Connection, str, Any], case: str
) -> None:
    # The planner read the dataset's index in rowid order to save sorting the matches: every
    # record of the dataset for each publish's lookup of 200 external ids (0.78 s at 1M).
    conn, dataset_id, user = planned
    statements = search_statements(conn, dataset_id, **NAMED[case](user))
    rows = conn.execute(
        f"EXPLAIN QUERY PLAN {statements.page}", {**statements.params, "limit": 50, "offset": 0}
    )
    details = [row[3] for row in rows]
    record_reads = [d for d in details if d.startswith(("SEARCH r ", "SCAN r"))]
    assert record_reads and all(re.search(r"\b(external_)?id=\?", d) for d in record_reads), details


QUEUES = {
    "pending for a user": lambda user: {"filter": status(["pending"], user), "user_id": user.id},
    "pending records pending for a user": lambda user: {
        "filter": AndFilter(
            [
                TermsFilter(ResponseFilterScope(property="status", user=user), ["pending"]),
                TermsFilter(RecordFilterScope("status"), ["pending"]),
            ]
        ),
        "user_id": user.id,
    },
    "every record in a user's order": lambda user: {"user_id": user.id},
}


@pytest.mark.parametrize("case", list(QUEUES))
def test_a_users_queue_reads_a_page_of_the_order_index_and_counts_from_the_counts_tables(
    planned: tuple[sqlite3.Connection, str, Any], case: str
) -> None:
    conn, dataset_id, user = planned
    statements = search_statements(conn, dataset_id, **QUEUES[case](user))
    page = [
        row[3]
        for row in conn.execute(
            f"EXPLAIN QUERY PLAN {statements.page}", {**statements.params, "limit": 50, "offset": 0}
        )
    ]
    # Both parts of the rotated order read the order index from the user's start, in order: no
    # sort of the dataset's records, no read of their rows.
    walks = [d for d in page if d.startswith("SEARCH r ")]
    assert walks == [
        "SEARCH r USING COVERING INDEX lb_ix_records_dataset_order (dataset_id=? AND id>?)",
        "SEARCH r USING COVERING INDEX lb_ix_records_dataset_order (dataset_id=? AND id<?)",
    ], page
    if "filter" in QUEUES[case](user):
        # "No response from this user": one probe of the user's responses per candidate.
        assert (
            "SEARCH rs USING COVERING INDEX lb_ix_responses_user_record (user_id=? AND record_id=?)" in page
        )
    count = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statements.count}", statements.params)]
    assert not any("records" in d or d.startswith(("SEARCH r ", "SCAN r")) for d in count), count
    assert any("lb_record_count" in d for d in count), count


def test_a_queue_page_reads_no_more_than_the_pages_up_to_it(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    conn, dataset_id, user = planned
    statements = search_statements(conn, dataset_id, **QUEUES["pending for a user"](user))
    # Each part of the order stops after `limit + offset` matches.
    assert statements.page.count("ORDER BY r.id LIMIT :limit + :offset") == 2
    assert not statements.page_counts


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


def metadata_indexes(conn: sqlite3.Connection, dataset_id: str) -> dict[str, str]:
    """{property name: index name} for the dataset's metadata indexes that exist."""
    rows = conn.execute(
        "SELECT p.name, m.name FROM metadata_properties AS p "
        "JOIN sqlite_master AS m ON m.name = 'lb_ix_metadata_' || p.id WHERE p.dataset_id = ?",
        (dataset_id,),
    ).fetchall()
    return dict(rows)


def test_every_metadata_property_gets_a_partial_index_on_its_dataset(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    conn, dataset_id, _ = planned
    indexes = metadata_indexes(conn, dataset_id)
    assert {"lang", "n", "tags"} <= set(indexes)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (indexes["n"],)).fetchone()[0]
    assert "json_extract(metadata, '$.\"n\"')" in sql
    assert sql.endswith(f"WHERE dataset_id = '{dataset_id}'")


@pytest.mark.parametrize(
    ("filter", "property", "constraint"),
    [
        (TermsFilter(MetadataFilterScope("lang"), ["de"]), "lang", "(<expr>=?)"),
        (RangeFilter(MetadataFilterScope("n"), ge=2, le=4), "n", "(<expr>>? AND <expr><?)"),
        # Without an upper bound `< ''` keeps text out and the lookup one range.
        (RangeFilter(MetadataFilterScope("n"), ge=27), "n", "(<expr>>? AND <expr><?)"),
        (RangeFilter(MetadataFilterScope("n"), le=2), "n", "(<expr><?)"),
    ],
)
def test_a_selective_metadata_filter_reads_its_index(
    planned: tuple[sqlite3.Connection, str, Any], filter: Any, property: str, constraint: str
) -> None:
    conn, dataset_id, user = planned
    index = metadata_indexes(conn, dataset_id)[property]
    # With another, unselective, metadata condition beside it: the selective one drives.
    everything = {"lang": ["en", "fr", "de"], "n": [str(i) for i in range(30)]}
    unselective = "lang" if property == "n" else "n"
    other = TermsFilter(MetadataFilterScope(unselective), everything[unselective])
    for search in ({"filter": metadata(filter)}, {"filter": metadata(other, filter), "user_id": user.id}):
        details = plan(conn, dataset_id, **search)
        searches = [d for d in details if d.startswith("SEARCH r ")]
        # The index seeks its own condition (and, in the user's order, the other condition too:
        # every metadata index carries the dataset's other properties' values).
        assert len(searches) == 2, details
        assert all(d.startswith(f"SEARCH r USING INDEX {index} {constraint[:-1]}") for d in searches), details


def test_an_unselective_metadata_filter_leaves_the_dataset_index_to_the_planner(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    conn, dataset_id, _ = planned
    statements = search_statements(
        conn, dataset_id, filter=metadata(TermsFilter(MetadataFilterScope("lang"), ["en", "fr"]))
    )
    assert "INDEXED BY" not in statements.page


def test_metadata_holding_lists_keeps_matching_elements(planned: tuple[sqlite3.Connection, str, Any]) -> None:
    conn, dataset_id, _ = planned
    counts = {}
    for term in ("a", "b"):
        statements = search_statements(
            conn, dataset_id, filter=metadata(TermsFilter(MetadataFilterScope("tags"), [term]))
        )
        # A list's index entry is its JSON text: the engine falls back to matching elements.
        assert "INDEXED BY" not in statements.page
        counts[term] = conn.execute(statements.count, statements.params).fetchone()[0]
    # tags: i % 5 == 0 -> ["a", "b"] for odd i (5, 15, 25), "b" for even i (0, 10, 20).
    assert counts == {"a": 3, "b": 6}


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        (TermsFilter(MetadataFilterScope("lang"), ["de"]), {0, 10, 20}),
        (TermsFilter(MetadataFilterScope("n"), ["3", "4.0"]), {3, 4}),
        (RangeFilter(MetadataFilterScope("n"), ge=27), {27, 28, 29}),
        (RangeFilter(MetadataFilterScope("n"), ge=2.5, le=4), {3, 4}),
        (RangeFilter(MetadataFilterScope("n"), le=1), {0, 1}),
    ],
)
def test_metadata_filters_read_through_indexes_find_the_right_records(
    planned: tuple[sqlite3.Connection, str, Any], filter: Any, expected: set[int]
) -> None:
    conn, dataset_id, user = planned
    statements = search_statements(conn, dataset_id, filter=metadata(filter), user_id=user.id)
    assert "INDEXED BY lb_ix_metadata_" in statements.page
    rows = conn.execute(
        f"SELECT json_extract(r.metadata, '$.n') FROM records AS r WHERE r.id IN "
        f"(SELECT id FROM ({statements.page}))",
        {**statements.params, "limit": 100, "offset": 0},
    ).fetchall()
    assert {row[0] for row in rows} == expected
    assert conn.execute(statements.count, statements.params).fetchone()[0] == len(expected)


def test_ensure_schema_creates_missing_metadata_indexes_and_drops_those_of_deleted_properties(
    tmp_path: Any, lb_server: Any, planned: tuple[sqlite3.Connection, str, Any]
) -> None:
    _, dataset_id, _ = planned
    source = sqlite3.connect(ServerPaths(lb_server.data_dir).database)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    with sqlite3.connect(copy) as conn:
        indexes = metadata_indexes(conn, dataset_id)
        conn.execute(f"DROP INDEX {indexes['lang']}")
        conn.execute("DELETE FROM metadata_properties WHERE dataset_id = ? AND name = 'tags'", (dataset_id,))
    ensure_schema(copy)
    with sqlite3.connect(copy) as conn:
        rebuilt = metadata_indexes(conn, dataset_id)
        assert rebuilt["lang"] == indexes["lang"]
        assert "tags" not in rebuilt
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (indexes["tags"],)).fetchone()


def test_a_property_added_to_a_published_dataset_gets_its_index(
    planned: tuple[sqlite3.Connection, str, Any], argilla_client: rg.Argilla
) -> None:
    conn, dataset_id, user = planned
    before = index_sql(conn, metadata_indexes(conn, dataset_id))
    response = argilla_client.http_client.post(
        f"/api/v1/datasets/{uuid.UUID(dataset_id)}/metadata-properties",
        json={"name": "late", "title": "Late", "settings": {"type": "float"}},
    )
    assert response.status_code == 201, response.text
    indexes = metadata_indexes(conn, dataset_id)
    assert "late" in indexes
    # The other properties' indexes are kept as they were: remaking them all held the write lock
    # for 10-40 s at a million records. Their conditions read the records for "late" instead.
    assert index_sql(conn, {name: indexes[name] for name in before}) == before
    search = {
        "filter": metadata(
            TermsFilter(MetadataFilterScope("lang"), ["en", "fr"]),
            RangeFilter(MetadataFilterScope("late"), le=1),
        ),
        "user_id": user.id,
    }
    given = {}
    for record_id, stored in conn.execute(
        "SELECT id, metadata FROM records WHERE dataset_id = ? AND metadata ->> 'n' IN (1, 2, 10)",
        (dataset_id,),
    ).fetchall():
        values = {**json.loads(stored), "late": 0.5}
        given[record_id] = values["lang"]
        reply = argilla_client.http_client.patch(
            f"/api/v1/records/{uuid.UUID(record_id)}", json={"metadata": values}
        )
        assert reply.status_code == 200, reply.text
    conn.commit()
    statements = search_statements(conn, dataset_id, **search)
    page = conn.execute(statements.page, {**statements.params, "limit": 50, "offset": 0}).fetchall()
    total = conn.execute(statements.count, statements.params).fetchone()[0]
    wanted = {record_id for record_id, lang in given.items() if lang in ("en", "fr")}
    assert {row[0] for row in page} == wanted and total == len(wanted) == 2, (given, page)
    assert "SCAN r" not in " ".join(plan(conn, dataset_id, **search))


def index_sql(conn: sqlite3.Connection, indexes: dict[str, str]) -> dict[str, str]:
    return {
        name: conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
        for name, index in indexes.items()
    }


def test_a_user_ordered_search_counts_its_matches_in_the_page_pass(
    planned: tuple[sqlite3.Connection, str, Any], argilla_client: rg.Argilla
) -> None:
    conn, dataset_id, user = planned
    filter = metadata(TermsFilter(MetadataFilterScope("lang"), ["de"]))
    statements = search_statements(conn, dataset_id, filter=filter, user_id=user.id)
    assert statements.page_counts
    rows = conn.execute(statements.page, {**statements.params, "limit": 2, "offset": 0}).fetchall()
    assert [row[2] for row in rows] == [3, 3]
    # Past the last page there is no row to read the total from: the count statement answers.
    body = {
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "metadata", "metadata_property": "lang"},
                    "values": ["de"],
                }
            ]
        }
    }
    for offset, items in ((0, 3), (2, 1), (5, 0)):
        response = argilla_client.http_client.post(
            f"/api/v1/me/datasets/{uuid.UUID(dataset_id)}/records/search",
            json=body,
            params={"limit": 50, "offset": offset},
        )
        assert response.status_code == 200, response.text
        assert (len(response.json()["items"]), response.json()["total"]) == (items, 3)


def test_a_record_listing_page_walks_the_dataset_in_insertion_order_without_sorting_it(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    """argilla's `GET /datasets/{id}/records` (what a pull pages through) orders by inserted_at with
    OFFSET; sorting the dataset for every page cost 0.4-0.7 s a page at 200k records."""
    from argilla_server.contexts.records import _build_list_records_query
    from sqlalchemy.dialects import sqlite

    conn, dataset_id, _ = planned
    query = _build_list_records_query(dataset_id=uuid.UUID(dataset_id), offset=10, limit=5)
    compiled = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    details = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {compiled}")]
    assert details == ["SEARCH records USING INDEX lb_ix_records_dataset_inserted (dataset_id=?)"], details
    ordered = conn.execute(
        "SELECT id FROM records WHERE dataset_id = ? ORDER BY inserted_at, id", (dataset_id,)
    ).fetchall()
    page = conn.execute(str(compiled))
    column = [name for name, *_ in page.description].index("id")
    assert [row[column] for row in page] == [row[0] for row in ordered][10:15]


def test_labelbooks_pull_pages_seek_their_cursor_in_the_insertion_order_index(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    """The pull's own route (server/_pull.py) starts each page at the previous page's last record:
    an index seek, so page k costs what page 1 does (OFFSET walked k pages of entries first)."""
    import datetime as dt

    from sqlalchemy.dialects import sqlite

    from labelbook.server._pull import page_statements

    conn, dataset_id, _ = planned
    ordered = conn.execute(
        "SELECT id, inserted_at FROM records WHERE dataset_id = ? ORDER BY inserted_at, id", (dataset_id,)
    ).fetchall()
    last_id, last_inserted = ordered[9]
    cursor = (dt.datetime.fromisoformat(last_inserted), uuid.UUID(last_id))
    query, _ = page_statements(uuid.UUID(dataset_id), cursor=cursor)
    compiled = query.limit(5).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    details = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {compiled}")]
    assert details == [
        "SEARCH records USING INDEX lb_ix_records_dataset_inserted (dataset_id=? AND (inserted_at,id)>(?,?))"
    ], details
    page = conn.execute(str(compiled))
    column = [name for name, *_ in page.description].index("id")
    assert [row[column] for row in page] == [row[0] for row in ordered][10:15]


def run(
    conn: sqlite3.Connection, dataset_id: str, limit: int, offset: int, **search: Any
) -> tuple[list[str], int]:
    """(the page's record ids, the total) as the engine reads them."""
    found = search_statements(conn, dataset_id, **search)
    rows = conn.execute(found.page, {**found.params, "limit": limit, "offset": offset}).fetchall()
    if found.page_counts and rows:
        return [row[0] for row in rows], rows[0][2]
    return [row[0] for row in rows], conn.execute(found.count, found.params).fetchone()[0]


def test_a_users_own_answers_are_read_from_their_responses_in_the_users_order(
    planned: tuple[sqlite3.Connection, str, Any],
) -> None:
    conn, dataset_id, user = planned
    found = search_statements(conn, dataset_id, filter=status(["draft"], user), user_id=user.id)
    page = [
        row[3]
        for row in conn.execute(
            f"EXPLAIN QUERY PLAN {found.page}", {**found.params, "limit": 50, "offset": 0}
        )
    ]
    # Both parts of the rotation read the user's responses from the user's start, in record id
    # order, each candidate's record probed once: no read of all the answers, no sort of them.
    walks = [d for d in page if d.startswith("SEARCH rs ")]
    assert walks == [
        "SEARCH rs USING COVERING INDEX lb_ix_responses_user_record (user_id=? AND record_id>?)",
        "SEARCH rs USING COVERING INDEX lb_ix_responses_user_record (user_id=? AND record_id<?)",
    ], page
    assert (
        page.count("SEARCH r USING COVERING INDEX lb_ix_records_dataset_order (dataset_id=? AND id=?)") == 2
    )
    count = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {found.count}", found.params)]
    assert not any("records" in d or "responses" in d for d in count), count
    assert any("lb_user_response_count" in d for d in count), count


USER_ORDERED = {
    # The owner's answers here are drafts.
    "draft": lambda user: status(["draft"], user),
    "draft or discarded": lambda user: status(["draft", "discarded"], user),
    "draft, pending records": lambda user: AndFilter(
        [
            TermsFilter(ResponseFilterScope(property="status", user=user), ["draft"]),
            TermsFilter(RecordFilterScope("status"), ["pending"]),
        ]
    ),
    "metadata": lambda user: metadata(
        TermsFilter(MetadataFilterScope("lang"), ["en", "fr"]), RangeFilter(MetadataFilterScope("n"), ge=3)
    ),
    "rare metadata": lambda user: metadata(TermsFilter(MetadataFilterScope("lang"), ["de"])),
    "pending, by metadata": lambda user: metadata(
        TermsFilter(ResponseFilterScope(property="status", user=user), ["pending"]),
        TermsFilter(MetadataFilterScope("lang"), ["en"]),
        RangeFilter(MetadataFilterScope("n"), le=20),
    ),
}


@pytest.mark.parametrize("case", list(USER_ORDERED))
def test_walked_searches_answer_what_reading_and_sorting_every_match_answers(
    planned: tuple[sqlite3.Connection, str, Any], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    conn, dataset_id, user = planned
    search = {"filter": USER_ORDERED[case](user), "user_id": user.id}
    # The user's whole order restricted to the matches, as reading every match and sorting does.
    monkeypatch.setattr(statements, "_answers", lambda filter: None)
    monkeypatch.setattr(statements, "_WALK_PAGE", 10**9)
    sorted_pages = [run(conn, dataset_id, 4, offset, **search) for offset in range(0, 32, 4)]
    whole, total = run(conn, dataset_id, 100, 0, **search)
    assert [i for page, _ in sorted_pages for i in page] == whole and total == len(whole) > 0
    monkeypatch.undo()
    monkeypatch.setattr(statements, "_WALK_PAGE", 0)  # walk whenever metadata could
    walked = search_statements(conn, dataset_id, **search)
    assert not walked.page_counts and "ORDER BY wrapped, id" in walked.page
    assert [run(conn, dataset_id, 4, offset, **search) for offset in range(0, 32, 4)] == sorted_pages
    # Past the end: no rows, the total still exact.
    assert run(conn, dataset_id, 4, 100, **search) == ([], total)


def test_many_metadata_matches_are_walked_in_the_users_order_and_counted_in_one_index(
    planned: tuple[sqlite3.Connection, str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, dataset_id, user = planned
    monkeypatch.setattr(statements, "_WALK_PAGE", 1)  # 30 records: "many" is more than sqrt(30)
    indexes = metadata_indexes(conn, dataset_id)
    found = search_statements(conn, dataset_id, filter=USER_ORDERED["metadata"](user), user_id=user.id)
    page = [
        row[3]
        for row in conn.execute(
            f"EXPLAIN QUERY PLAN {found.page}", {**found.params, "limit": 50, "offset": 0}
        )
    ]
    assert [d for d in page if d.startswith("SEARCH r ")] == [
        "SEARCH r USING INDEX lb_ix_records_dataset_order (dataset_id=? AND id>?)",
        "SEARCH r USING INDEX lb_ix_records_dataset_order (dataset_id=? AND id<?)",
    ], page
    # The total was counted while building the statements: in lang's index, which seeks n's range too.
    assert found.count == "SELECT :total" and found.params["total"] == 25
    counted = search_statements(
        conn, dataset_id, filter=USER_ORDERED["metadata"](user), user_id=None
    ).count.replace("FROM records AS r", f"FROM records AS r INDEXED BY {indexes['lang']}")
    plan_rows = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {counted}", found.params)]
    # n's range is part of the seek: n is lang's index's next column (properties in the order they
    # were made; "late", added since, comes last).
    assert plan_rows == [f"SEARCH r USING INDEX {indexes['lang']} (<expr>=? AND <expr>>? AND <expr><?)"], (
        plan_rows
    )


def test_a_metadata_index_carries_the_other_properties_and_is_made_again_when_they_change(
    tmp_path: Any, lb_server: Any, planned: tuple[sqlite3.Connection, str, Any]
) -> None:
    _, dataset_id, _ = planned
    source = sqlite3.connect(ServerPaths(lb_server.data_dir).database)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    with sqlite3.connect(copy) as conn:
        indexes = metadata_indexes(conn, dataset_id)
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (indexes["lang"],)).fetchone()[0]
        assert sql.index("'$.\"lang\"'") < sql.index("'$.\"n\"'") < sql.index("'$.\"tags\"'")
        if "'$.\"late\"'" in sql:  # added to the published dataset by another test
            assert sql.index("'$.\"tags\"'") < sql.index("'$.\"late\"'")
        # An index of the layout before (its own value only) is made again.
        conn.execute(f"DROP INDEX {indexes['n']}")
        conn.execute(
            f"CREATE INDEX {indexes['n']} ON records (json_extract(metadata, '$.\"n\"')) "
            f"WHERE dataset_id = '{dataset_id}'"
        )
    ensure_schema(copy)
    with sqlite3.connect(copy) as conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (indexes["n"],)).fetchone()[0]
        assert "'$.\"lang\"'" in sql and "'$.\"tags\"'" in sql, sql


def test_a_selective_metadata_condition_drives_even_beside_an_unselective_terms_condition(
    planned: tuple[sqlite3.Connection, str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, dataset_id, user = planned
    monkeypatch.setattr(statements, "_WALK_PAGE", 0)  # a walk, were nothing selective
    monkeypatch.setattr(statements, "_SELECTIVE_SHARE", 10)  # 30 records: 3 matches are few
    indexes = metadata_indexes(conn, dataset_id)
    unselective = TermsFilter(MetadataFilterScope("lang"), ["en", "fr", "de"])
    for rare, index in (
        (RangeFilter(MetadataFilterScope("n"), ge=2, le=4), indexes["n"]),
        (TermsFilter(MetadataFilterScope("lang"), ["de"]), indexes["lang"]),
    ):
        found = search_statements(conn, dataset_id, filter=metadata(unselective, rare), user_id=user.id)
        # Not counted in the terms condition's index (all 30 entries) and walked: read through the
        # rare condition's index and sorted.
        assert found.page_counts and f"INDEXED BY {index}" in found.page, found.page


def test_metadata_metrics_read_from_the_indexes_equal_those_of_every_records_json(
    planned: tuple[sqlite3.Connection, str, Any], argilla_client: rg.Argilla
) -> None:
    # The web UI asks for these when an annotator opens the metadata filter: parsing every record's
    # JSON took 8.6 s at 1M records. "lang" and "n" are read from their indexes, "tags" (lists) not.
    conn, dataset_id, _ = planned
    conn.commit()
    from labelbook.server.query import Query

    readers = Query(conn, dataset_id)
    assert (
        readers.metadata_index("lang") and readers.metadata_index("n") and not readers.metadata_index("tags")
    )
    values: dict[str, list[Any]] = {}
    for (stored,) in conn.execute("SELECT metadata FROM records WHERE dataset_id = ?", (dataset_id,)):
        for name, value in json.loads(stored or "{}").items():
            values.setdefault(name, []).extend(value if isinstance(value, list) else [value])
    properties = argilla_client.http_client.get(
        f"/api/v1/me/datasets/{uuid.UUID(dataset_id)}/metadata-properties"
    )
    for prop in properties.json()["items"]:
        reply = argilla_client.http_client.get(f"/api/v1/metadata-properties/{prop['id']}/metrics")
        assert reply.status_code == 200, reply.text
        metrics, seen = reply.json(), values.get(prop["name"], [])
        if prop["settings"]["type"] == "terms":
            counts = {str(v): seen.count(v) for v in seen}
            assert metrics["total"] == len(seen)
            assert {v["term"]: v["count"] for v in metrics["values"]} == counts
            assert [v["count"] for v in metrics["values"]] == sorted(counts.values(), reverse=True)
        else:
            assert (metrics["min"], metrics["max"]) == ((min(seen), max(seen)) if seen else (None, None))
