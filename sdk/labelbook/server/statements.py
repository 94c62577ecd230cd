"""The SQL of one search: the records it selects, their order, the page and the count.

`search_statements` assembles a `Query`'s conditions and sort keys with the text query's FTS5
match (`labelbook.server.textquery`) into one statement for the page and one for the count;
`matching_ids` gives the records a filter and text query select, for similarity searches.
Without a sort, the order is argilla-server's: a per-user shuffle, multiplied into the text
relevance when there is one. Without a text query the shuffle is an index's order (record ids are
random UUIDs) started at a per-user point, so a queue reads about a page of index entries instead
of every record (docs/search-engine.md, "What a search runs").
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from argilla_server.search_engine.base import (
    AndFilter,
    MetadataFilterScope,
    Order,
    RecordFilterScope,
    ResponseFilterScope,
    TermsFilter,
    TextQuery,
)

from labelbook.server import textquery
from labelbook.server.query import Query
from labelbook.server.schema import hex_id

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


# A dataset's records in id order, status covered (schema.py): the per-user queue order.
_ORDER_INDEX = "lb_ix_records_dataset_order"
_HEX_DIGITS = "0123456789abcdef"


def _user_start(user_id: Any, dataset_id: str) -> str:
    """Where a user's walk through a dataset's records in id order begins: a point among the ids.

    Different per user (and per dataset), the same on every request: the user's order is the
    dataset's id order rotated to start there, so annotators start at different places.
    """
    key = f"{hex_id(user_id)}:{dataset_id}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def _queue_score_sql(record_id: str, wrapped: str) -> str:
    """A score in (0, 1) that never rises along a user's order (Elasticsearch's random_score's range).

    From the id's first four hex digits: their distance past the user's start, `wrapped` (1 for
    the ids before the start, which come last) adding a turn.
    """
    prefix = " + ".join(
        f"(instr('{_HEX_DIGITS}', lower(substr({record_id}, {i + 1}, 1))) - 1) * {16 ** (3 - i)}"
        for i in range(4)
    )
    return f"((65537 - ({prefix} - :start_prefix + 65536 * {wrapped})) / 65538.0)"


@dataclasses.dataclass(frozen=True)
class _Walk:
    """A user-ordered search whose conditions a candidate can be checked against cheaply, one by one.

    `countable`: its total is the counts tables' (the dataset's records, with `statuses` if given,
    minus `pending_user`'s responses on them, if given) instead of a count of the matches.
    """

    countable: bool
    statuses: list[Any] | None
    pending_user: str | None


def _flatten(filter: Any) -> list[Any]:
    if filter is None:
        return []
    if isinstance(filter, AndFilter):
        return [f for part in filter.filters for f in _flatten(part)]
    return [filter]


def _own_status_terms(f: Any) -> str | None:
    """The user (hex id) when `f` is a terms filter on that user's own response status."""
    scope = f.scope
    own = (
        isinstance(scope, ResponseFilterScope)
        and scope.property == "status"
        and not scope.question
        and scope.user is not None
        and isinstance(f, TermsFilter)
    )
    return hex_id(scope.user.id) if own else None


def _walk(filter: Any) -> _Walk | None:
    """How a user-ordered search without a text query can walk the user's order, if it can.

    It can when no condition is selective by nature: record status, metadata (a selective
    metadata condition is found later, by its index), "pending" for the user. Other conditions
    (the user's own answers, ids, suggestions) select few records, which the old way finds faster.
    """
    countable, statuses, pending_user = True, None, None
    for f in _flatten(filter):
        scope = f.scope
        if isinstance(scope, RecordFilterScope) and str(scope.property) == "status":
            if isinstance(f, TermsFilter) and statuses is None:
                statuses = list(f.values)
            else:
                countable = False
        elif isinstance(scope, MetadataFilterScope):
            countable = False
        elif (user := _own_status_terms(f)) is not None and "pending" in [str(v) for v in f.values]:
            if {str(v) for v in f.values} == {"pending"} and pending_user in (None, user):
                pending_user = user
            else:
                countable = False
        else:
            return None
    return _Walk(countable=countable, statuses=statuses, pending_user=pending_user)


@dataclasses.dataclass(frozen=True)
class _Answers:
    """A user-ordered search for one user's own answers (response statuses without "pending")."""

    user: str
    statuses: list[str]
    record_statuses: list[Any] | None


def _answers(filter: Any) -> _Answers | None:
    """The user and statuses when the filter is "this user's answers with these statuses" and at most
    a record status: those are read from the user's responses in the user's order, not sorted."""
    answers: _Answers | None = None
    record_statuses = None
    for f in _flatten(filter):
        scope = f.scope
        if isinstance(scope, RecordFilterScope) and str(scope.property) == "status":
            if not isinstance(f, TermsFilter) or record_statuses is not None:
                return None
            record_statuses = list(f.values)
        elif (user := _own_status_terms(f)) is not None and answers is None:
            statuses = [str(v) for v in f.values]
            if not statuses or "pending" in statuses:
                return None
            answers = _Answers(user, statuses, None)
        else:
            return None
    if answers is None:
        return None
    return dataclasses.replace(answers, record_statuses=record_statuses)


def _text_fields(conn: sqlite3.Connection, dataset_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, json_extract(settings, '$.type') FROM fields WHERE dataset_id = ?", (dataset_id,)
    ).fetchall()
    return {name: kind for name, kind in rows if kind in ("text", "chat", "custom")}


@dataclasses.dataclass(frozen=True)
class _TextMatch:
    """The records matching a text query as `FROM` clause before `records AS r`, and their relevance.

    `source` comes first and reaches `r` by id (`CROSS JOIN`: SQLite keeps that order), so a
    search reads its matches and looks their records up; the other way round it read every record
    of the dataset and probed the matches, 0.6 s at a million records for any text query.
    """

    source: str
    score: str | None


def _text_match(q: Query, text: TextQuery | str) -> _TextMatch:
    """The JOIN restricting `r` to the records matching a text query, and its relevance column."""
    query = TextQuery(q=text) if isinstance(text, str) else text
    fields = _text_fields(q.conn, q.dataset_id)
    field_filter = ""
    if query.field:
        if query.field not in fields:
            # A known field that is not searchable (an image) matches nothing, like Elasticsearch.
            return _TextMatch(source="(SELECT NULL AS record_id WHERE 0) AS tm", score=None)
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
        return _TextMatch(source=f"({compiled.records_sql}) AS tm", score="1.0")
    rank = q.bind(compiled.rank_match)
    # One document per record (one field searched): its rank is the record's, no grouping (a
    # sort of every match in a temporary tree); with several fields a record's ranks add up.
    relevance, group = (
        ("-lb_text_fts.rank", "") if per_doc else ("sum(-lb_text_fts.rank)", " GROUP BY d.record_id")
    )
    ranked = (
        f"SELECT d.record_id AS record_id, {relevance} AS relevance "
        "FROM lb_text_fts JOIN lb_text_doc AS d ON d.docid = lb_text_fts.rowid "
        f"WHERE lb_text_fts MATCH {rank} AND d.dataset_id = :dataset_id{field_filter}{group}"
    )
    if compiled.rank_is_exact:
        return _TextMatch(source=f"({ranked}) AS tm", score="tm.relevance")
    return _TextMatch(
        source=f"({compiled.records_sql}) AS tm LEFT JOIN ({ranked}) AS tr ON tr.record_id = tm.record_id",
        score="coalesce(tr.relevance, 0.0)",
    )


@dataclasses.dataclass(frozen=True)
class _Selection:
    """FROM/WHERE over `records AS r` for one search, with its relevance column (if any)."""

    from_where: str
    score: str | None
    params: dict[str, Any]
    where: str
    driving: str | None


# A metadata index drives a search when its condition keeps at most this share of the dataset;
# past it, walking the index (in value order: the table at random for ranges) costs more than
# reading the dataset's records in order.
_DRIVING_SHARE = 0.2


# A metadata condition matching at most 1/this of the dataset is selective: its index drives the
# search (and counts), rather than the first terms condition's index counting every match of it.
_SELECTIVE_SHARE = 64


def _has_selective_condition(q: Query, cap: int) -> bool:
    """Whether some indexed metadata condition matches at most `cap` records (each count stops there)."""
    for index, condition, _ in q.indexed:
        matches = q.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM records AS r INDEXED BY {index} WHERE {condition} "
            f"LIMIT {cap + 1})",
            q.params,
        ).fetchone()[0]
        if matches <= cap:
            return True
    return False


def _dataset_size(conn: sqlite3.Connection, dataset_id: str) -> int:
    """The dataset's records, from the counts table (a count of them reads the whole index)."""
    row = conn.execute("SELECT sum(n) FROM lb_record_count WHERE dataset_id = ?", (dataset_id,)).fetchone()
    return int(row[0] or 0)


def _driving_index(q: Query) -> str | None:
    """The metadata index whose condition matches fewest records, if few enough to be worth walking.

    Without statistics SQLite rates every equality alike, so between `dataset_id = ?` and a
    metadata equality (or a wide range and a narrow one) its pick is a coin toss; counting the
    matches in the indexes themselves costs well under a millisecond per 10k entries. Each count
    stops past the best so far, and terms (usually the narrower) are counted first.
    """
    if not q.indexed:
        return None
    cap = int(_dataset_size(q.conn, q.dataset_id) * _DRIVING_SHARE)
    best: tuple[int, str] | None = None
    for index, condition, _ in sorted(q.indexed, key=lambda entry: not entry[2]):
        limit = cap if best is None else min(cap, best[0] - 1)
        if limit < 0:
            break
        matches = q.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM records AS r INDEXED BY {index} WHERE {condition} "
            f"LIMIT {limit + 1})",
            q.params,
        ).fetchone()[0]
        if matches <= limit:
            best = (matches, index)
    return best[1] if best else None


def _select(q: Query, query: TextQuery | str | None, filter: Any, *, drive: bool = True) -> _Selection:
    source = "records AS r"
    score = None
    if query is not None:
        text = _text_match(q, query)
        source, score = f"{text.source} CROSS JOIN records AS r ON r.id = tm.record_id", text.score
    named = _names_records(filter)
    # Records named by id or external id are found through those columns' unique indexes: `+`
    # keeps the planner off the dataset's indexes, which it took to save sorting the few matches
    # (reading every record of the dataset: 0.78 s at 1M for each publish's lookup of 200 ids).
    conditions = ["+r.dataset_id = :dataset_id" if named else "r.dataset_id = :dataset_id"]
    if filter is not None:
        conditions.append(q.condition(filter))
    # With a text query the matches come from FTS5 and records are read by id instead.
    index = _driving_index(q) if query is None and drive and not named else None
    where = " AND ".join(conditions)
    selection = _Selection(f"FROM {source} WHERE {where}", score, q.params, where, None)
    return _with_index(selection, index)


def _names_records(filter: Any) -> bool:
    """Whether the filter names its records: a terms condition on their id or external id."""
    return any(
        isinstance(f, TermsFilter)
        and isinstance(f.scope, RecordFilterScope)
        and str(f.scope.property) in ("id", "external_id")
        for f in _flatten(filter)
    )


def _with_index(selection: _Selection, index: str | None) -> _Selection:
    """The selection reading its records through `index` (a metadata index), if one is given."""
    if index is None:
        return selection
    from_where = selection.from_where.replace("FROM records AS r", f"FROM records AS r INDEXED BY {index}", 1)
    return dataclasses.replace(selection, from_where=from_where, driving=index)


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
    user_ordered = user_id is not None and not sort and query is None
    answers = _answers(filter) if user_ordered else None
    if answers is not None:
        return _answers_statements(Query(conn, dataset_id), answers, _user_start(user_id, dataset_id))
    walk = _walk(filter) if user_ordered else None
    q = Query(conn, dataset_id, probe_responses=walk is not None)
    selection = _select(q, query, filter, drive=walk is None)
    params = selection.params
    if user_ordered:
        params["start"] = _user_start(user_id, dataset_id)
        params["start_prefix"] = int(params["start"][:4], 16)
    if walk is not None and q.indexed:
        # Metadata conditions: the exact total is counted now in one metadata index (a terms
        # condition's, first: they carry every property's value, so the other conditions are
        # compared in its entries, not the records). Many matches are then walked in the user's
        # order, as a queue; few are read through the most selective index and sorted.
        size = _dataset_size(conn, dataset_id)
        if not _has_selective_condition(q, size // _SELECTIVE_SHARE):
            first = sorted(q.indexed, key=lambda entry: not entry[2])[0][0]
            counted = _with_index(selection, first)
            total = conn.execute(f"SELECT count(*) {counted.from_where}", params).fetchone()[0]
            if total * total >= _WALK_PAGE * size:
                return _queue_statements(q, selection, walk, filter, total=total)
        selection = _with_index(selection, _driving_index(q))
    if walk is not None and selection.driving is None:
        return _queue_statements(q, selection, walk, filter)
    total = ", count(*) OVER () AS total"
    if sort:
        page = _sorted_page(q, selection, sort, total)
    elif user_id is not None and query is None:
        # The user's order (see `_queue_statements`) over matches read another way: a selective
        # metadata index, the user's own answers, ids, suggestions.
        # The score is computed for the page only: per match it cost more than the sort.
        ordered = (
            f"SELECT r.id AS id, (r.id < :start) AS wrapped{total} {selection.from_where} "
            "ORDER BY wrapped, r.id LIMIT :limit OFFSET :offset"
        )
        return SearchStatements(
            page=(
                f"SELECT id, {_queue_score_sql('id', 'wrapped')} AS score, total FROM ({ordered}) "
                "ORDER BY wrapped, id"
            ),
            count=f"SELECT count(*) {selection.from_where}",
            params=params,
            page_counts=True,
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


def _sorted_page(q: Query, selection: _Selection, sort: Sequence[Order], total: str) -> str:
    """A page sorted on fields: Elasticsearch returns no score then; ties keep insertion order."""
    keys: list[tuple[str, str, bool]] = []
    for order in sort:
        value, descending = q.sort_key(order)
        keys.append((f"k{len(keys)}", value, descending))
    columns = "".join(f", {value} AS {column}" for column, value, _ in keys)
    order_by = ", ".join(
        f"({column} IS NULL), {column} {'DESC' if descending else 'ASC'}" for column, _, descending in keys
    )
    return f"SELECT r.id, NULL AS score{total}{columns} {selection.from_where} ORDER BY {order_by}, r.rowid"


def _queue_statements(
    q: Query, selection: _Selection, walk: _Walk, filter: Any, total: int | None = None
) -> SearchStatements:
    """A user's queue: their order read from the order index, a page's worth of entries at a time.

    The order is the dataset's records by id from the user's start to the end, then from the
    beginning to the start; each part reads its index range in order and stops after `limit +
    offset` matches (a page deep into the queue reads the pages before it, as Elasticsearch does).
    Conditions are checked per candidate ("no response from this user" is one index probe). The
    total comes from the counts tables when the filter allows, else from a count of the matches
    (`total`, when the caller counted them already).
    """
    params = selection.params

    def part(wrapped: int, comparison: str) -> str:
        return (
            f"SELECT * FROM (SELECT r.id AS id, {wrapped} AS wrapped "
            f"FROM records AS r INDEXED BY {_ORDER_INDEX} "
            f"WHERE {selection.where} AND r.id {comparison} :start ORDER BY r.id LIMIT :limit + :offset)"
        )

    page = (
        f"SELECT id, {_queue_score_sql('id', 'wrapped')} AS score "
        f"FROM ({part(0, '>=')} UNION ALL {part(1, '<')}) ORDER BY wrapped, id LIMIT :limit OFFSET :offset"
    )
    if walk.countable:
        statuses = f" AND status IN {q.bind_list(walk.statuses)}" if walk.statuses is not None else ""
        count = (
            f"SELECT ifnull((SELECT sum(n) FROM lb_record_count WHERE dataset_id = :dataset_id{statuses}), 0)"
        )
        if walk.pending_user is not None:
            record_statuses = (
                f" AND record_status IN {q.bind_list(walk.statuses)}" if walk.statuses is not None else ""
            )
            count += (
                " - ifnull((SELECT sum(n) FROM lb_user_response_count WHERE dataset_id = :dataset_id "
                f"AND user_id = {q.bind(walk.pending_user)}{record_statuses}), 0)"
            )
    elif total is not None:
        params["total"] = total
        count = "SELECT :total"
    else:
        # Counting every match: the user's responses read once into a set beats a probe per record.
        counting = Query(q.conn, q.dataset_id, prefix="c")
        condition = counting.condition(filter)
        params.update(counting.params)
        count = f"SELECT count(*) FROM records AS r WHERE r.dataset_id = :dataset_id AND {condition}"
    return SearchStatements(page=page, count=count, params=params, page_counts=False)


def _answers_statements(q: Query, answers: _Answers, start: str) -> SearchStatements:
    """A user's own answers in the user's order: their responses read in record id order.

    `lb_ix_responses_user_record` holds each user's responses by record id, status covered: each
    part of the rotation (from the user's start to the end, then from the beginning) reads its
    range until `limit + offset` responses have the statuses and their records are in the dataset
    (one probe of the order index each). The total is a lookup in the counts table.
    """
    params = q.params
    params["start"] = start
    params["start_prefix"] = int(start[:4], 16)
    user = q.bind(answers.user)
    statuses = q.bind_list(answers.statuses)
    record_statuses = ""
    if answers.record_statuses is not None:
        record_statuses = f" AND r.status IN {q.bind_list(answers.record_statuses)}"

    def part(wrapped: int, comparison: str) -> str:
        return (
            f"SELECT * FROM (SELECT rs.record_id AS id, {wrapped} AS wrapped "
            "FROM responses AS rs INDEXED BY lb_ix_responses_user_record "
            f"WHERE rs.user_id = {user} AND rs.record_id {comparison} :start AND +rs.status IN {statuses} "
            f"AND EXISTS (SELECT 1 FROM records AS r INDEXED BY {_ORDER_INDEX} "
            f"WHERE r.dataset_id = :dataset_id AND r.id = rs.record_id{record_statuses}) "
            "ORDER BY rs.record_id LIMIT :limit + :offset)"
        )

    page = (
        f"SELECT id, {_queue_score_sql('id', 'wrapped')} AS score "
        f"FROM ({part(0, '>=')} UNION ALL {part(1, '<')}) ORDER BY wrapped, id LIMIT :limit OFFSET :offset"
    )
    record_status_match = (
        f" AND record_status IN {q.bind_list(answers.record_statuses)}"
        if answers.record_statuses is not None
        else ""
    )
    count = (
        "SELECT ifnull((SELECT sum(n) FROM lb_user_response_count WHERE dataset_id = :dataset_id "
        f"AND user_id = {user} AND status IN {statuses}{record_status_match}), 0)"
    )
    return SearchStatements(page=page, count=count, params=params, page_counts=False)


# A selective metadata filter's matches are walked in the user's order (a queue's reads) when a
# page of this many is expected within fewer candidates than there are matches to sort.
_WALK_PAGE = 50


def matching_ids(
    conn: sqlite3.Connection, dataset_id: str, query: TextQuery | str | None, filter: Any
) -> set[str]:
    """The ids of the dataset's records that `query` and `filter` select: a similarity search's candidates."""
    selection = _select(Query(conn, dataset_id), query, filter)
    return {row[0] for row in conn.execute(f"SELECT r.id {selection.from_where}", selection.params)}
