"""labelbook's search engine for argilla-server: Elasticsearch's semantics, answered from SQLite.

argilla-server commits to SQL before it calls any engine hook, so every query reads the
server's own tables (records, responses, suggestions, vectors, fields, questions, metadata
properties) with SQLite's JSON1 functions: one source of truth, nothing to reindex. This module
wires argilla-server's `SearchEngine` interface to the parts, which import one way:

- `labelbook.server.schema`: the helper tables, triggers and indexes (`ensure_schema`), and the
  read and write connections;
- `labelbook.server.query`: filters and sort orders as SQL conditions and keys;
- `labelbook.server.statements`: one search's SQL (text match, order, page and count);
- `labelbook.server.vectors`: the per-process vector matrices and similarity scoring;
- `labelbook.server.textquery`: the text query syntax, compiled to FTS5.

See docs/search-engine.md. Registering this module (`import labelbook.server.engine`) and
`ARGILLA_SEARCH_ENGINE=labelbook` select it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from argilla_server.enums import MetadataPropertyType, SimilarityOrder
from argilla_server.search_engine import SearchEngine
from argilla_server.search_engine.base import (
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataMetrics,
    Order,
    SearchResponseItem,
    SearchResponses,
    TermsMetrics,
    TextQuery,
)

from labelbook.server import schema, vectors
from labelbook.server.query import Query
from labelbook.server.schema import (
    SCHEMA_VERSION,
    database_path,
    ensure_schema,
    hex_id,
    json_path,
    metadata_value_sql,
    sync_metadata_indexes,
)
from labelbook.server.statements import SearchStatements, matching_ids, search_statements
from labelbook.server.vectors import warm_vector_caches

__all__ = [
    "ENGINE_NAME",
    "LabelbookSearchEngine",
    "SearchStatements",
    "ensure_schema",
    "search_statements",
    "warm_vector_caches",
]

ENGINE_NAME = "labelbook"
# Elasticsearch's default `max_terms_size` for terms aggregations.
MAX_TERMS = 2**14

T = TypeVar("T")


@SearchEngine.register(ENGINE_NAME)
class LabelbookSearchEngine(SearchEngine):
    """argilla-server's SearchEngine over its own SQLite tables (see the module docstring)."""

    def __init__(self, database: Path | str) -> None:
        self.database = str(database)

    @classmethod
    async def new_instance(cls) -> LabelbookSearchEngine:
        # Called per request: everything costly (connections, schema check, caches) is module-level.
        return cls(database_path())

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await schema.read_in_thread(self.database, work)

    async def close(self) -> None:
        pass

    async def ping(self) -> bool:
        try:
            return await self._run(lambda conn: conn.execute("SELECT 1").fetchone() == (1,))
        except sqlite3.Error:
            return False

    async def info(self) -> dict:
        return {
            "engine": ENGINE_NAME,
            "database": self.database,
            "sqlite_version": sqlite3.sqlite_version,
            "schema_version": SCHEMA_VERSION,
        }

    # Index hooks: the triggers keep the helper structures in step with every commit.

    async def create_index(self, dataset: Any) -> None:
        # Called on publishing: the metadata properties configured while it was a draft get their indexes.
        await asyncio.to_thread(ensure_schema, self.database)
        await self._index_metadata(hex_id(dataset.id))

    async def delete_index(self, dataset: Any) -> None:
        dataset_id = hex_id(dataset.id)
        # Records normally cascade away first (and their triggers clean up); this covers the rest.
        # The dataset's metadata properties are gone too: their indexes go with them.
        await asyncio.to_thread(
            schema.write,
            self.database,
            [("DELETE FROM lb_text_doc WHERE dataset_id = ?", (dataset_id,))],
            lambda conn: sync_metadata_indexes(conn, dataset_id, remake=False),
        )
        vectors.forget_matrices(self.database)

    async def configure_metadata_property(self, dataset: Any, metadata_property: Any) -> None:
        await self._index_metadata(hex_id(dataset.id))

    async def _index_metadata(self, dataset_id: str) -> None:
        # Also drops the indexes of properties deleted since (argilla-server has no hook for that).
        await asyncio.to_thread(
            schema.write,
            self.database,
            [],
            lambda conn: sync_metadata_indexes(conn, dataset_id, remake=False),
        )

    async def configure_index_vectors(self, vector_settings: Any) -> None:
        pass

    async def index_records(self, dataset: Any, records: Iterable[Any]) -> None:
        pass

    async def partial_record_update(self, record: Any, **update: Any) -> None:
        pass

    async def delete_records(self, dataset: Any, records: Iterable[Any]) -> None:
        pass

    async def update_record_response(self, response: Any) -> None:
        pass

    async def delete_record_response(self, response: Any) -> None:
        pass

    async def update_record_suggestion(self, suggestion: Any) -> None:
        pass

    async def delete_record_suggestion(self, suggestion: Any) -> None:
        pass

    # Progress and metrics

    async def get_dataset_progress(self, dataset: Any) -> dict:
        if dataset.is_draft:
            return {}
        dataset_id = hex_id(dataset.id)

        def work(conn: sqlite3.Connection) -> dict:
            # The counts the triggers keep (schema.py): no pass over the dataset's records.
            rows = conn.execute(
                "SELECT status, n FROM lb_record_count WHERE dataset_id = ? AND n != 0", (dataset_id,)
            ).fetchall()
            return {"total": sum(count for _, count in rows), **dict(rows)}

        return await self._run(work)

    async def get_dataset_user_progress(self, dataset: Any, user: Any) -> dict:
        if dataset.is_draft:
            return {}
        dataset_id, user_id = hex_id(dataset.id), hex_id(user.id)

        def work(conn: sqlite3.Connection) -> dict:
            # The counts the triggers keep: the web UI asks after every answer, and a join of the
            # user's responses to the dataset's records read all 1M of them (6 s per request).
            rows = conn.execute(
                "SELECT status, sum(n) FROM lb_user_response_count WHERE dataset_id = ? AND user_id = ? "
                "AND n != 0 GROUP BY status",
                (dataset_id, user_id),
            ).fetchall()
            return {"total": sum(count for _, count in rows), **dict(rows)}

        return await self._run(work)

    async def compute_metrics_for(self, metadata_property: Any) -> MetadataMetrics:
        dataset_id = hex_id(metadata_property.dataset_id)
        name, kind = metadata_property.name, metadata_property.type
        return await self._run(lambda conn: _metadata_metrics(conn, dataset_id, name, kind))

    # Search

    async def search(
        self,
        dataset: Any,
        query: TextQuery | str | None = None,
        filter: Any = None,
        sort: list[Order] | None = None,
        offset: int = 0,
        limit: int = 100,
        user_id: Any = None,
    ) -> SearchResponses:
        dataset_id = hex_id(dataset.id)

        def work(conn: sqlite3.Connection) -> SearchResponses:
            statements = search_statements(conn, dataset_id, query, filter, sort, user_id)
            rows = conn.execute(
                statements.page, {**statements.params, "limit": limit, "offset": offset}
            ).fetchall()
            if statements.page_counts and rows:
                total = rows[0][2]
            elif statements.page_counts and offset == 0:
                total = 0
            else:
                total = conn.execute(statements.count, statements.params).fetchone()[0]
            return SearchResponses(
                items=[SearchResponseItem(record_id=uuid.UUID(row[0]), score=row[1]) for row in rows],
                total=total,
            )

        return await self._run(work)

    async def similarity_search(
        self,
        dataset: Any,
        vector_settings: Any,
        value: list[float] | None = None,
        record: Any = None,
        query: TextQuery | str | None = None,
        filter: Any = None,
        max_results: int = 100,
        order: SimilarityOrder = SimilarityOrder.most_similar,
        threshold: float | None = None,
    ) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        dataset_id = hex_id(dataset.id)
        settings_id = hex_id(vector_settings.id)
        excluded = hex_id(record.id) if record is not None else None

        def work(conn: sqlite3.Connection) -> SearchResponses:
            least_similar = order == SimilarityOrder.least_similar
            target = vectors.query_target(conn, settings_id, value, excluded, least_similar=least_similar)

            def allowed() -> set[str] | None:
                if filter is None and query is None:
                    return None
                return matching_ids(conn, dataset_id, query, filter)

            ids, scores = vectors.similar(
                conn, self.database, settings_id, target, max_results, allowed=allowed, excluded=excluded
            )
            # Like Elasticsearch, the threshold filters the hits after the k nearest were found,
            # and the total still counts those k.
            items = [
                SearchResponseItem(record_id=uuid.UUID(record_id), score=float(score))
                for record_id, score in zip(ids, scores, strict=True)
                if threshold is None or score >= threshold
            ]
            return SearchResponses(items=items, total=len(ids))

        return await self._run(work)


# --- metadata metrics ---------------------------------------------------------------------------------

# A property's values in every record's JSON; list values count once per element, like a
# multi-valued keyword field.
_JSON_VALUES = (
    "SELECT j.value AS value FROM records AS r, json_each(r.metadata, :path) AS j "
    "WHERE r.dataset_id = :dataset_id AND r.metadata IS NOT NULL "
    "AND j.type NOT IN ('null', 'object', 'array')"
)


def _metadata_metrics(conn: sqlite3.Connection, dataset_id: str, name: str, kind: Any) -> MetadataMetrics:
    """Elasticsearch's metrics of a metadata property: its terms and their counts, or a number's range.

    The web UI asks for them when an annotator opens the metadata filter: parsing every record's JSON
    took 8.6 s at 1M records; the property's metadata index is read instead where it can answer.
    """
    params = {"path": json_path(name), "dataset_id": dataset_id, "limit": MAX_TERMS}
    indexed = _indexed_values(conn, dataset_id, name)
    if kind == MetadataPropertyType.terms:
        counts = _term_counts(indexed)
        rows = conn.execute(
            f"SELECT CAST(value AS TEXT), sum(n) FROM ({counts}) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT :limit",
            params,
        ).fetchall()
        total = conn.execute(f"SELECT ifnull(sum(n), 0) FROM ({counts})", params).fetchone()[0]
        return TermsMetrics(
            total=total, values=[TermsMetrics.TermCount(term=term, count=count) for term, count in rows]
        )
    if indexed is None:
        low, high = conn.execute(
            f"SELECT min(value), max(value) FROM ({_JSON_VALUES}) WHERE typeof(value) IN ('integer', 'real')",
            params,
        ).fetchone()
    else:
        # SQLite orders NULL < numbers < text: the numbers are the index range below '', and its
        # ends are one seek each.
        source, value = indexed
        ends = [
            conn.execute(
                f"SELECT {value} {source} AND {value} < '' ORDER BY {value} {order} LIMIT 1", params
            ).fetchone()
            for order in ("ASC", "DESC")
        ]
        low, high = (end[0] if end else None for end in ends)
    if kind == MetadataPropertyType.integer:
        return IntegerMetadataMetrics(
            min=None if low is None else int(low), max=None if high is None else int(high)
        )
    return FloatMetadataMetrics(
        min=None if low is None else float(low), max=None if high is None else float(high)
    )


def _indexed_values(conn: sqlite3.Connection, dataset_id: str, name: str) -> tuple[str, str] | None:
    """(FROM/WHERE over property `name`'s metadata index, its value), when it has one and no lists."""
    q = Query(conn, dataset_id)
    index = q.metadata_index(name)
    if index is None:
        return None
    value = metadata_value_sql("metadata", name)
    return f"FROM records INDEXED BY {index} WHERE {q.dataset_literal()} AND {value} IS NOT NULL", value


def _term_counts(indexed: tuple[str, str] | None) -> str:
    """A SELECT of (value, n): each value and how many times it occurs (0.4 s from the index at 1M)."""
    if indexed is None:
        return f"SELECT value, count(*) AS n FROM ({_JSON_VALUES}) GROUP BY value"
    source, value = indexed
    # The index answers alone (no record read) but for values that read like a JSON object, which
    # may be strings starting with `{` (values) or objects (not values): a short range.
    plain = f"{source} AND {value} NOT BETWEEN '{{' AND '|'"
    like_objects = f"{source} AND {value} BETWEEN '{{' AND '|' AND json_type(metadata, :path) != 'object'"
    return (
        f"SELECT {value} AS value, count(*) AS n {plain} GROUP BY {value} "
        f"UNION ALL SELECT {value}, count(*) {like_objects} GROUP BY {value}"
    )
