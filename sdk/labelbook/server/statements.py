"""The SQL of one search: the records it selects, their order, the page and the count.

`search_statements` assembles a `Query`'s conditions and sort keys with the text query's FTS5
match (`labelbook.server.textquery`) into one statement for the page and one for the count;
`matching_ids` gives the records a filter and text query select, for similarity searches.
Without a sort, the order is argilla-server's: a per-user pseudo-random shuffle, multiplied into
the text relevance (docs/search-engine.md, "What a search runs").
"""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from argilla_server.search_engine.base import Order, TextQuery

from labelbook.server import textquery
from labelbook.server.query import Query

__all__ = ["SearchStatements", "matching_ids", "search_statements"]

_PRIME = 2**31 - 1


def _user_seed(user_id: Any) -> tuple[int, int]:
    """Two per-user constants in [1, 2^31 - 1) for `_random_key_sql`."""
    digest = user_id.int if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id)).int
    return 1 + (digest >> 64) % (_PRIME - 2), 1 + digest % (_PRIME - 2)


def _random_key_sql(rowid: str) -> str:
    """A per-user pseudo-random key of a record in plain integer SQL (no Python callback per row).

    An affine map of the rowid modulo the prime 2^31 - 1, then x * (x + b) to break its
    lattice pattern; every product stays below 2^63. Cheap enough for 100k rows per query.
    """
    x = f"((({rowid} & {_PRIME}) * :seed_a + :seed_b) % {_PRIME})"
    return f"(({x} * ({x} + :seed_b)) % {_PRIME})"


def _text_fields(conn: sqlite3.Connection, dataset_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, json_extract(settings, '$.type') FROM fields WHERE dataset_id = ?", (dataset_id,)
    ).fetchall()
    return {name: kind for name, kind in rows if kind in ("text", "chat", "custom")}


@dataclasses.dataclass(frozen=True)
class _TextMatch:
    join: str
    score: str | None


def _text_match(q: Query, text: TextQuery | str) -> _TextMatch:
    """The JOIN restricting `r` to the records matching a text query, and its relevance column."""
    query = TextQuery(q=text) if isinstance(text, str) else text
    fields = _text_fields(q.conn, q.dataset_id)
    field_filter = ""
    if query.field:
        if query.field not in fields:
            # A known field that is not searchable (an image) matches nothing, like Elasticsearch.
            return _TextMatch(join="JOIN (SELECT NULL AS record_id WHERE 0) AS tm ON 1", score=None)
        field_filter = f" AND d.field = {q.bind(query.field)}"
    per_doc = bool(query.field) or len(fields) == 1

    def match_sql(name: str) -> str:
        return (
            "SELECT d.record_id AS record_id "
            "FROM lb_text_fts JOIN lb_text_doc AS d ON d.docid = lb_text_fts.rowid "
            f"WHERE lb_text_fts MATCH :{name} AND d.dataset_id = :dataset_id{field_filter}"
        )

    node = textquery.parse(query.q)
    compiled = textquery.compile_query(
        node,
        match_sql=match_sql,
        universe_sql="SELECT id AS record_id FROM records WHERE dataset_id = :dataset_id",
        per_doc=per_doc,
        params=q.params,
    )
    if compiled.rank_match is None:
        # Only negations: Elasticsearch scores these with a constant (match_all) score.
        return _TextMatch(join=f"JOIN ({compiled.records_sql}) AS tm ON tm.record_id = r.id", score="1.0")
    rank = q.bind(compiled.rank_match)
    ranked = (
        "SELECT d.record_id AS record_id, sum(-lb_text_fts.rank) AS relevance "
        "FROM lb_text_fts JOIN lb_text_doc AS d ON d.docid = lb_text_fts.rowid "
        f"WHERE lb_text_fts MATCH {rank} AND d.dataset_id = :dataset_id{field_filter} GROUP BY d.record_id"
    )
    if compiled.rank_is_exact:
        return _TextMatch(join=f"JOIN ({ranked}) AS tm ON tm.record_id = r.id", score="tm.relevance")
    return _TextMatch(
        join=(
            f"JOIN ({compiled.records_sql}) AS tm ON tm.record_id = r.id "
            f"LEFT JOIN ({ranked}) AS tr ON tr.record_id = r.id"
        ),
        score="coalesce(tr.relevance, 0.0)",
    )


@dataclasses.dataclass(frozen=True)
class _Selection:
    """FROM/WHERE over `records AS r` for one search, with its relevance column (if any)."""

    from_where: str
    score: str | None
    params: dict[str, Any]


# A metadata index drives a search when its condition keeps at most this share of the dataset;
# past it, walking the index (in value order: the table at random for ranges) costs more than
# reading the dataset's records in order.
_DRIVING_SHARE = 0.2


def _driving_index(q: Query) -> str | None:
    """The metadata index whose condition matches fewest records, if few enough to be worth walking.

    Without statistics SQLite rates every equality alike, so between `dataset_id = ?` and a
    metadata equality (or a wide range and a narrow one) its pick is a coin toss; counting the
    matches in the indexes themselves costs well under a millisecond per 10k entries.
    """
    if not q.indexed:
        return None
    size = q.conn.execute("SELECT count(*) FROM records WHERE dataset_id = ?", (q.dataset_id,)).fetchone()[0]
    cap = int(size * _DRIVING_SHARE)
    best: tuple[int, str] | None = None
    for index, condition in q.indexed:
        matches = q.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM records AS r INDEXED BY {index} WHERE {condition} "
            f"LIMIT {cap + 1})",
            q.params,
        ).fetchone()[0]
        if matches <= cap and (best is None or matches < best[0]):
            best = (matches, index)
    return best[1] if best else None


def _select(q: Query, query: TextQuery | str | None, filter: Any) -> _Selection:
    joins = ""
    score = None
    if query is not None:
        text = _text_match(q, query)
        joins, score = " " + text.join, text.score
    conditions = ["r.dataset_id = :dataset_id"]
    if filter is not None:
        conditions.append(q.condition(filter))
    # With a text query the matches come from FTS5 and records are read by id instead.
    index = _driving_index(q) if query is None else None
    records = f"records AS r INDEXED BY {index}" if index else "records AS r"
    return _Selection(f"FROM {records}{joins} WHERE {' AND '.join(conditions)}", score, q.params)


@dataclasses.dataclass(frozen=True)
class SearchStatements:
    """The SQL behind one search: a page (`:limit`, `:offset`) and the count of all matches.

    When `page_counts`, the page's third column is the total already (`count(*) OVER ()`): a
    search that orders by a computed key reads every match anyway, and counting them in the same
    pass saves evaluating the filters a second time. `count` is then needed only for a page past
    the end. The page's columns are the record id, its score, then the total if `page_counts`.
    """

    page: str
    count: str
    params: dict[str, Any]
    page_counts: bool


def search_statements(
    conn: sqlite3.Connection,
    dataset_id: str,
    query: TextQuery | str | None = None,
    filter: Any = None,
    sort: Sequence[Order] | None = None,
    user_id: Any = None,
) -> SearchStatements:
    """Build the SQL for `LabelbookSearchEngine.search` (public so tests can check its query plans)."""
    q = Query(conn, dataset_id)
    selection = _select(q, query, filter)
    params = selection.params
    total = ", count(*) OVER () AS total"
    if sort:
        # Elasticsearch returns no score when sorting on fields; ties keep insertion order.
        keys: list[tuple[str, str, bool]] = []
        for order in sort:
            value, descending = q.sort_key(order)
            keys.append((f"k{len(keys)}", value, descending))
        columns = "".join(f", {value} AS {column}" for column, value, _ in keys)
        order_by = ", ".join(
            f"({column} IS NULL), {column} {'DESC' if descending else 'ASC'}"
            for column, _, descending in keys
        )
        page = (
            f"SELECT r.id, NULL AS score{total}{columns} {selection.from_where} ORDER BY {order_by}, r.rowid"
        )
    else:
        relevance = selection.score
        if user_id is not None:
            # Elasticsearch's random_score seeded by the user: a stable shuffle per user,
            # multiplied into the text relevance (function_score's default boost mode).
            params["seed_a"], params["seed_b"] = _user_seed(user_id)
            random = f"({_random_key_sql('r.rowid')} / {float(_PRIME)})"
            relevance = f"({relevance}) * {random}" if relevance else random
        if relevance is None:
            # Elasticsearch's match_all order: insertion order, which can stop at the page's end.
            total = ""
            page = f"SELECT r.id, 1.0 AS score {selection.from_where} ORDER BY r.rowid"
        else:
            page = (
                f"SELECT r.id, {relevance} AS score{total} {selection.from_where} "
                "ORDER BY score DESC, r.rowid"
            )
    return SearchStatements(
        page=page + " LIMIT :limit OFFSET :offset",
        count=f"SELECT count(*) {selection.from_where}",
        params=params,
        page_counts=bool(total),
    )


def matching_ids(
    conn: sqlite3.Connection, dataset_id: str, query: TextQuery | str | None, filter: Any
) -> set[str]:
    """The ids of the dataset's records that `query` and `filter` select: a similarity search's candidates."""
    selection = _select(Query(conn, dataset_id), query, filter)
    return {row[0] for row in conn.execute(f"SELECT r.id {selection.from_where}", selection.params)}
