"""labelbook's search engine for argilla-server: Elasticsearch's semantics, answered from SQLite.

argilla-server commits to SQL before it calls any engine hook, so every query reads the
server's own tables (records, responses, suggestions, vectors, fields, questions, metadata
properties) with SQLite's JSON1 functions: one source of truth, nothing to reindex. Two helper
structures exist where scans don't scale, both kept in step by SQLite triggers so that no crash
can leave them out of sync:

- `lb_text_doc` + `lb_text_fts` (FTS5): one row per (record, searchable field);
- `lb_vector_log`: which vectors changed, so the per-process similarity matrix refreshes cheaply.

Metadata filters read one partial expression index per metadata property (`lb_ix_metadata_<id>`,
created when the property is configured) instead of parsing every record's JSON.
`ensure_schema()` creates all of these (idempotently) and the indexes the queries rely on.
See docs/search-engine.md. Registering
this module (`import labelbook.server.engine`) and `ARGILLA_SEARCH_ENGINE=labelbook` select it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from argilla_server.enums import MetadataPropertyType, SimilarityOrder, SortOrder
from argilla_server.search_engine import SearchEngine
from argilla_server.search_engine.base import (
    AndFilter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    MetadataMetrics,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)

from labelbook.server import textquery

__all__ = [
    "ENGINE_NAME",
    "LabelbookSearchEngine",
    "SearchStatements",
    "ensure_schema",
    "search_statements",
    "warm_vector_caches",
]

ENGINE_NAME = "labelbook"
SCHEMA_VERSION = "1"
# Elasticsearch's default `max_terms_size` for terms aggregations.
MAX_TERMS = 2**14
_PRIME = 2**31 - 1

T = TypeVar("T")

# --- schema ------------------------------------------------------------------------------------------

# The text each searchable field contributes: text fields as is, chat fields their messages'
# contents, custom fields their JSON. Image fields are not searchable (Elasticsearch stores
# them with indexing disabled).
_FIELD_TEXT = """
CASE json_extract(f.settings, '$.type')
    WHEN 'chat' THEN (
        SELECT group_concat(json_extract(m.value, '$.content'), char(10))
        FROM json_each({fields}, '$."' || f.name || '"') AS m
        WHERE m.type = 'object'
    )
    ELSE json_extract({fields}, '$."' || f.name || '"')
END
"""

_DOCS_FOR_RECORD = f"""
INSERT INTO lb_text_doc (record_id, dataset_id, field, body)
SELECT record_id, dataset_id, field, body FROM (
    SELECT {{record}}.id AS record_id, {{record}}.dataset_id AS dataset_id, f.name AS field,
           {_FIELD_TEXT.format(fields="{record}.fields")} AS body
    FROM {{source}}
    JOIN fields AS f ON f.dataset_id = {{record}}.dataset_id
    WHERE json_extract(f.settings, '$.type') IN ('text', 'chat', 'custom')
      AND json_valid({{record}}.fields)
) WHERE body IS NOT NULL
"""

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS lb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS lb_text_doc (
        docid INTEGER PRIMARY KEY,
        record_id CHAR(32) NOT NULL,
        dataset_id CHAR(32) NOT NULL,
        field VARCHAR NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS lb_ix_text_doc_record ON lb_text_doc (record_id)",
    # remove_diacritics 0: Elasticsearch's standard analyzer does not fold accents either.
    """CREATE VIRTUAL TABLE IF NOT EXISTS lb_text_fts USING fts5(
        body, content='lb_text_doc', content_rowid='docid',
        tokenize='unicode61 remove_diacritics 0', prefix='2 3'
    )""",
    """CREATE TRIGGER IF NOT EXISTS lb_text_doc_ai AFTER INSERT ON lb_text_doc BEGIN
        INSERT INTO lb_text_fts (rowid, body) VALUES (new.docid, new.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_text_doc_ad AFTER DELETE ON lb_text_doc BEGIN
        INSERT INTO lb_text_fts (lb_text_fts, rowid, body) VALUES ('delete', old.docid, old.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS lb_records_ai AFTER INSERT ON records BEGIN
        {_DOCS_FOR_RECORD.format(record="new", source="(SELECT 1)")};
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS lb_records_au AFTER UPDATE OF fields, dataset_id ON records
    WHEN old.fields IS NOT new.fields OR old.dataset_id IS NOT new.dataset_id BEGIN
        DELETE FROM lb_text_doc WHERE record_id = old.id;
        {_DOCS_FOR_RECORD.format(record="new", source="(SELECT 1)")};
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_records_ad AFTER DELETE ON records BEGIN
        DELETE FROM lb_text_doc WHERE record_id = old.id;
    END""",
    """CREATE TABLE IF NOT EXISTS lb_vector_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        vector_settings_id CHAR(32) NOT NULL,
        record_id CHAR(32) NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS lb_ix_vector_log ON lb_vector_log (vector_settings_id, seq)",
    """CREATE TRIGGER IF NOT EXISTS lb_vectors_ai AFTER INSERT ON vectors BEGIN
        INSERT INTO lb_vector_log (vector_settings_id, record_id)
        VALUES (new.vector_settings_id, new.record_id);
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_vectors_au AFTER UPDATE ON vectors BEGIN
        INSERT INTO lb_vector_log (vector_settings_id, record_id)
        VALUES (new.vector_settings_id, new.record_id);
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_vectors_ad AFTER DELETE ON vectors BEGIN
        INSERT INTO lb_vector_log (vector_settings_id, record_id)
        VALUES (old.vector_settings_id, old.record_id);
    END""",
    # The queries' access paths. A dataset's records by status, with the id covered, so queues and
    # progress never touch the (large) record rows; a user's responses by record.
    "CREATE INDEX IF NOT EXISTS lb_ix_records_dataset_status ON records (dataset_id, status, id)",
    "CREATE INDEX IF NOT EXISTS lb_ix_responses_user_record ON responses (user_id, record_id, status)",
]

_BACKFILL = _DOCS_FOR_RECORD.format(record="r", source="records AS r")

# One partial expression index per metadata property: `json_extract(metadata, '$."<name>"')` over
# its dataset's records only. Partial rather than (dataset_id, value): inserts elsewhere never
# compute it, and it can never serve a plain `dataset_id = ?` lookup (which, walked in value
# order, reads the table at random). SQLite uses it only where a query repeats the expression
# character for character, so `_metadata_value_sql` is the one place that spells it.
_METADATA_INDEX_PREFIX = "lb_ix_metadata_"


def _sql_text(value: str) -> str:
    """`value` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _metadata_value_sql(document: str, name: str) -> str:
    """The JSON value of metadata property `name`, exactly as the metadata indexes spell it."""
    return f"json_extract({document}, {_sql_text(_json_path(name))})"


def _metadata_index_name(property_id: str) -> str:
    return _METADATA_INDEX_PREFIX + property_id


def _sync_metadata_indexes(conn: sqlite3.Connection, dataset_id: str | None = None) -> None:
    """Create the missing metadata indexes (of one dataset, or all) and drop those of deleted properties.

    Runs inside the caller's write transaction; `IF NOT EXISTS` makes a concurrent creator harmless.
    """
    rows = conn.execute(
        "SELECT id, dataset_id, name FROM metadata_properties WHERE ? IS NULL OR dataset_id = ?",
        (dataset_id, dataset_id),
    ).fetchall()
    for property_id, property_dataset_id, name in rows:
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {_metadata_index_name(_hex(property_id))} "
            f"ON records ({_metadata_value_sql('metadata', name)}) "
            f"WHERE dataset_id = {_sql_text(_hex(property_dataset_id))}"
        )
    live = {_metadata_index_name(_hex(row[0])) for row in conn.execute("SELECT id FROM metadata_properties")}
    existing = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' "
        "AND substr(name, 1, ?) = ?",
        (len(_METADATA_INDEX_PREFIX), _METADATA_INDEX_PREFIX),
    )
    for (index,) in list(existing):
        if index not in live:
            conn.execute(f'DROP INDEX IF EXISTS "{index}"')


_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def database_path() -> Path:
    """The SQLite file argilla-server uses (from `ARGILLA_DATABASE_URL`)."""
    from argilla_server.settings import settings
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        raise RuntimeError(
            f"The labelbook search engine needs a SQLite database file; ARGILLA_DATABASE_URL is {url!r}."
        )
    return Path(url.database)


def ensure_schema(database: Path | str) -> None:
    """Create the engine's helper tables, triggers and indexes if missing, and index existing records.

    Idempotent and cheap once done; the launcher calls it at startup, the engine on first use.
    """
    key = str(database)
    with _schema_lock:
        if key in _schema_ready:
            return
        conn = sqlite3.connect(key, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("BEGIN IMMEDIATE")
            try:
                has_docs = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'lb_text_doc'").fetchone()
                for statement in _SCHEMA:
                    conn.execute(statement)
                if not has_docs:
                    conn.execute(_BACKFILL)
                _sync_metadata_indexes(conn)
                conn.execute(
                    "INSERT OR REPLACE INTO lb_meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        _schema_ready.add(key)


# --- connections -------------------------------------------------------------------------------------

_local = threading.local()


def _reader(database: str) -> sqlite3.Connection:
    """This thread's read-only connection to `database` (one per worker thread, reused)."""
    connections: dict[str, sqlite3.Connection] = getattr(_local, "connections", None) or {}
    _local.connections = connections
    conn = connections.get(database)
    if conn is None:
        conn = sqlite3.connect(database, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA query_only=1")
        # Reads through the OS page cache instead of copying pages into each connection's cache.
        conn.execute("PRAGMA mmap_size=4294967296")
        conn.execute("PRAGMA temp_store=MEMORY")
        connections[database] = conn
    return conn


def _read(database: str, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` in one read transaction: all its queries see the same snapshot."""
    conn = _reader(database)
    conn.execute("BEGIN")
    try:
        return work(conn)
    finally:
        conn.execute("COMMIT")


def _write(
    database: str,
    statements: Sequence[tuple[str, Sequence[Any]]],
    then: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """Run `statements`, then `then(conn)`, in one write transaction (waiting out other writers)."""
    conn = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                conn.execute(sql, params)
            if then is not None:
                then(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


# --- values ------------------------------------------------------------------------------------------


def _hex(value: Any) -> str:
    """The CHAR(32) form argilla-server stores UUIDs in."""
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def _json_path(name: str) -> str:
    return '$."' + name.replace('"', '\\"') + '"'


def _term_values(values: Iterable[Any]) -> list[Any]:
    """Each term as text and, when it reads as a number, as that number too.

    Elasticsearch coerces terms to the field's type; SQLite compares 1 and '1' as different.
    """
    out: list[Any] = []
    for value in values:
        out.append(str(value))
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(int(number) if number.is_integer() else number)
            out.append(number)
    return list(dict.fromkeys(out))


_DATE_ONLY_LEN = len("2024-01-01")


def _db_datetime(value: Any, *, upper: bool) -> str:
    """A filter bound on inserted_at/updated_at, in the text form SQLAlchemy stores (naive UTC).

    Numbers are epoch milliseconds, as Elasticsearch reads them; a date without a time covers
    the whole day when it is an upper bound (Elasticsearch rounds `lte` up).
    """
    if isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    else:
        text = str(value).strip()
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if upper and len(text) <= _DATE_ONLY_LEN:
            moment += dt.timedelta(days=1, microseconds=-1)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


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


# --- query building ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Question:
    id: str
    type: str


class _Query:
    """SQL conditions and sort keys over `records AS r`, with their named parameters."""

    def __init__(self, conn: sqlite3.Connection, dataset_id: str) -> None:
        self.conn = conn
        self.dataset_id = dataset_id
        self.params: dict[str, Any] = {"dataset_id": dataset_id}
        self._questions: dict[str, _Question | None] = {}
        self._metadata_indexes: dict[str, str | None] = {}
        # (index, condition): conditions a metadata index answers, any of which may drive the search.
        self.indexed: list[tuple[str, str]] = []

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def bind_list(self, values: Iterable[Any]) -> str:
        names = [self.bind(v) for v in values]
        return "(" + ", ".join(names) + ")" if names else "(NULL)"

    def question(self, name: str) -> _Question | None:
        if name not in self._questions:
            row = self.conn.execute(
                "SELECT id, json_extract(settings, '$.type') FROM questions "
                "WHERE dataset_id = ? AND name = ?",
                (self.dataset_id, name),
            ).fetchone()
            self._questions[name] = _Question(row[0], row[1]) if row else None
        return self._questions[name]

    def metadata_index(self, name: str) -> str | None:
        """The index on metadata property `name`, unless it is missing or the property holds lists here.

        A list matches when any element does, which its index (one entry per record, the list's
        JSON text) cannot answer; such properties keep the per-record JSON match.
        """
        if name not in self._metadata_indexes:
            self._metadata_indexes[name] = None
            row = self.conn.execute(
                "SELECT id FROM metadata_properties WHERE dataset_id = ? AND name = ?",
                (self.dataset_id, name),
            ).fetchone()
            index = _metadata_index_name(_hex(row[0])) if row else None
            if (
                index
                and self.conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
                ).fetchone()
            ):
                # json_extract returns a list as its JSON text, '[...]': one short range of the index.
                value = _metadata_value_sql("metadata", name)
                has_lists = self.conn.execute(
                    f"SELECT 1 FROM records INDEXED BY {index} WHERE {self.dataset_literal()} "
                    f"AND {value} >= '[' AND {value} < '\\' AND json_type(metadata, ?) = 'array' LIMIT 1",
                    (_json_path(name),),
                ).fetchone()
                self._metadata_indexes[name] = None if has_lists else index
        return self._metadata_indexes[name]

    def dataset_literal(self) -> str:
        """`dataset_id = '<id>'` with the id inline: the condition of the dataset's partial indexes."""
        return f"dataset_id = {_sql_text(_hex(self.dataset_id))}"

    # filters

    def condition(self, filter: Any) -> str:
        if isinstance(filter, AndFilter):
            parts = [self.condition(f) for f in filter.filters]
            return "(" + " AND ".join(parts) + ")" if parts else "1"
        scope = filter.scope
        if isinstance(scope, MetadataFilterScope):
            return self._metadata_condition(filter, scope.metadata_property)
        if isinstance(scope, SuggestionFilterScope):
            return self._suggestion_condition(filter, scope)
        if isinstance(scope, RecordFilterScope):
            return self._record_condition(filter, str(scope.property))
        if isinstance(scope, ResponseFilterScope):
            return self._response_condition(filter, scope)
        raise ValueError(f"Cannot filter on scope {scope!r}")

    def _match(self, value_sql: str, filter: Any) -> str:
        """`value_sql` matches a terms filter (any term) or lies within a range filter."""
        if isinstance(filter, TermsFilter):
            return f"{value_sql} IN {self.bind_list(_term_values(filter.values))}"
        if isinstance(filter, RangeFilter):
            parts = [f"typeof({value_sql}) IN ('integer', 'real')"]
            if filter.ge is not None:
                parts.append(f"{value_sql} >= {self.bind(float(filter.ge))}")
            if filter.le is not None:
                parts.append(f"{value_sql} <= {self.bind(float(filter.le))}")
            return "(" + " AND ".join(parts) + ")"
        raise ValueError(f"Cannot process filter {filter!r}")

    def _json_match(self, document: str, path: str, filter: Any) -> str:
        """A JSON value (or any element of a JSON array) matches the filter."""
        path_param = self.bind(path)
        return (
            f"(CASE json_type({document}, {path_param}) WHEN 'array' THEN "
            f"EXISTS (SELECT 1 FROM json_each({document}, {path_param}) AS j "
            f"WHERE {self._match('j.value', filter)})"
            f" ELSE {self._match(f'json_extract({document}, {path_param})', filter)} END)"
        )

    def _metadata_condition(self, filter: Any, name: str) -> str:
        index = self.metadata_index(name)
        if index is None:
            return self._json_match("r.metadata", _json_path(name), filter)
        value = _metadata_value_sql("r.metadata", name)
        if isinstance(filter, TermsFilter):
            match = f"{value} IN {self.bind_list(_term_values(filter.values))}"
        elif isinstance(filter, RangeFilter):
            # SQLite orders NULL < numbers < text, so bounds alone keep numbers only (as typeof() does
            # in `_match`) and stay one range of the index: `< ''` stands in for a missing upper bound.
            parts = []
            if filter.ge is not None:
                parts.append(f"{value} >= {self.bind(float(filter.ge))}")
            parts.append(
                f"{value} <= {self.bind(float(filter.le))}" if filter.le is not None else f"{value} < ''"
            )
            match = " AND ".join(parts)
        else:
            raise ValueError(f"Cannot process filter {filter!r}")
        condition = f"(r.{self.dataset_literal()} AND {match})"
        self.indexed.append((index, condition))
        return condition

    def _suggestion_condition(self, filter: Any, scope: SuggestionFilterScope) -> str:
        question = self.question(scope.question)
        if question is None:
            return "0"
        prop = str(scope.property)
        if prop in ("value", "score"):
            match = self._json_match(f"s.{prop}", "$", filter)
        elif prop in ("agent", "type"):
            # `+` keeps the planner off the low-selectivity ix_suggestions_type.
            match = self._match(f"+s.{prop}", filter)
        else:
            raise ValueError(f"Cannot filter on suggestion property {prop!r}")
        return (
            "EXISTS (SELECT 1 FROM suggestions AS s WHERE s.record_id = r.id "
            f"AND s.question_id = {self.bind(question.id)} AND {match})"
        )

    def _record_condition(self, filter: Any, prop: str) -> str:
        if prop in ("inserted_at", "updated_at"):
            column = f"r.{prop}"
            if isinstance(filter, RangeFilter):
                parts = []
                if filter.ge is not None:
                    parts.append(f"{column} >= {self.bind(_db_datetime(filter.ge, upper=False))}")
                if filter.le is not None:
                    parts.append(f"{column} <= {self.bind(_db_datetime(filter.le, upper=True))}")
                return "(" + " AND ".join(parts) + ")"
            values = [_db_datetime(v, upper=False) for v in filter.values]
            return f"{column} IN {self.bind_list(values)}"
        if prop == "id":
            if isinstance(filter, RangeFilter):
                raise ValueError("Cannot filter record ids by range")
            ids = []
            for value in filter.values:
                try:
                    ids.append(_hex(value))
                except ValueError:
                    continue
            return f"r.id IN {self.bind_list(ids)}"
        if prop in ("external_id", "status"):
            if isinstance(filter, RangeFilter):
                return self._match(f"r.{prop}", filter)
            return f"r.{prop} IN {self.bind_list(filter.values)}"
        raise ValueError(f"Cannot filter on record property {prop!r}")

    def _response_condition(self, filter: Any, scope: ResponseFilterScope) -> str:
        user = self.bind(_hex(scope.user.id)) if scope.user is not None else None
        if scope.question:
            match = self._json_match('rs."values"', _json_path(scope.question) + ".value", filter)
            if user is not None:
                # Non-correlated: the user's responses are read once through their index.
                return (
                    f"r.id IN (SELECT rs.record_id FROM responses AS rs "
                    f"WHERE rs.user_id = {user} AND {match})"
                )
            return f"EXISTS (SELECT 1 FROM responses AS rs WHERE rs.record_id = r.id AND {match})"
        if scope.property == "status" and isinstance(filter, TermsFilter):
            return self._response_status_condition([str(v) for v in filter.values], user)
        raise ValueError(f"Cannot process filter scope {scope!r}")

    def _response_status_condition(self, statuses: list[str], user: str | None) -> str:
        """Elasticsearch's `_response_status_filter_to_es_filter`, with "pending" meaning no response.

        Without a user, pending is "nobody responded"; with one, "this user did not respond".
        `+rs.status` keeps SQLite off ix_responses_status, which it would otherwise pick.
        """
        parts = []
        if "pending" in statuses:
            statuses = [s for s in statuses if s != "pending"]
            if user is not None:
                parts.append(
                    f"r.id NOT IN (SELECT rs.record_id FROM responses AS rs WHERE rs.user_id = {user})"
                )
            else:
                parts.append("NOT EXISTS (SELECT 1 FROM responses AS rs WHERE rs.record_id = r.id)")
            if not statuses:
                return parts[0]
        status_match = f" AND +rs.status IN {self.bind_list(statuses)}" if statuses else ""
        if user is not None:
            parts.append(
                f"r.id IN (SELECT rs.record_id FROM responses AS rs WHERE rs.user_id = {user}{status_match})"
            )
        elif statuses:
            parts.append(f"EXISTS (SELECT 1 FROM responses AS rs WHERE rs.record_id = r.id{status_match})")
        else:
            parts.append("1")
        return "(" + " OR ".join(parts) + ")"

    # sort

    def sort_key(self, order: Order) -> tuple[str, bool]:
        """(SQL value to sort by, descending?) Multi-valued fields sort by min ascending, max descending."""
        descending = order.order == SortOrder.desc
        pick = "max" if descending else "min"
        scope = order.scope
        if isinstance(scope, RecordFilterScope):
            prop = str(scope.property)
            if prop not in ("id", "external_id", "inserted_at", "updated_at", "status"):
                raise ValueError(f"Cannot sort by record property {prop!r}")
            return f"r.{prop}", descending
        if isinstance(scope, MetadataFilterScope):
            path = self.bind(_json_path(scope.metadata_property))
            return self._json_sort_value("r.metadata", path, pick), descending
        if isinstance(scope, SuggestionFilterScope):
            question = self.question(scope.question)
            prop = str(scope.property)
            if question is None or prop not in ("value", "score", "agent", "type"):
                return "NULL", descending
            q = self.bind(question.id)
            if prop in ("value", "score"):
                value = f"(SELECT {pick}(j.value) FROM json_each(s.{prop}) AS j WHERE j.type != 'object')"
            else:
                value = f"s.{prop}"
            return (
                f"(SELECT {value} FROM suggestions AS s WHERE s.record_id = r.id AND s.question_id = {q})",
                descending,
            )
        if isinstance(scope, ResponseFilterScope):
            # Elasticsearch sorts on the average over the (user's) responses.
            user_match = (
                f" AND rs.user_id = {self.bind(_hex(scope.user.id))}" if scope.user is not None else ""
            )
            if scope.question:
                question = self.question(scope.question)
                path = self.bind(_json_path(scope.question) + ".value")
                numeric = question is not None and question.type == "rating"
                agg = "avg" if numeric else pick
                value = f'{agg}(json_extract(rs."values", {path}))'
            else:
                value = f"{pick}(rs.status)"
            return (
                f"(SELECT {value} FROM responses AS rs WHERE rs.record_id = r.id{user_match})",
                descending,
            )
        raise ValueError(f"Cannot sort by scope {scope!r}")

    def _json_sort_value(self, document: str, path: str, pick: str) -> str:
        return (
            f"(CASE json_type({document}, {path}) WHEN 'array' THEN "
            f"(SELECT {pick}(j.value) FROM json_each({document}, {path}) AS j) "
            f"ELSE json_extract({document}, {path}) END)"
        )


def _text_fields(conn: sqlite3.Connection, dataset_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, json_extract(settings, '$.type') FROM fields WHERE dataset_id = ?", (dataset_id,)
    ).fetchall()
    return {name: kind for name, kind in rows if kind in ("text", "chat", "custom")}


@dataclasses.dataclass(frozen=True)
class _TextMatch:
    join: str
    score: str | None


def _text_match(q: _Query, text: TextQuery | str) -> _TextMatch:
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


def _driving_index(q: _Query) -> str | None:
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


def _select(q: _Query, query: TextQuery | str | None, filter: Any) -> _Selection:
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
    q = _Query(conn, dataset_id)
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


# --- vectors -----------------------------------------------------------------------------------------


_VECTOR_ROWS = (
    "SELECT r.rowid, v.record_id, v.value FROM vectors AS v JOIN records AS r ON r.id = v.record_id "
    "WHERE v.vector_settings_id = ?"
)
# Rows parsed per step: numpy's parser holds the GIL for one chunk only, so other requests keep going.
_CHUNK = 2048


class _VectorMatrix:
    """One vector settings' normalised vectors (float32 rows) and their record ids.

    Loaded in a background thread (`_start_loading`): until `ready`, similarity searches scan the
    vectors table instead (correct, slower), so no request ever waits for a load.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = -1
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.ready = False
        self.loading = False

    def refresh(self, conn: sqlite3.Connection, settings_id: str) -> bool:
        """Catch up with small changes through lb_vector_log; False when a full reload is needed."""
        last = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM lb_vector_log WHERE vector_settings_id = ?", (settings_id,)
        ).fetchone()[0]
        if last == self.seq:
            return True
        changed = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT record_id FROM lb_vector_log WHERE vector_settings_id = ? AND seq > ?",
                (settings_id, self.seq),
            )
        ]
        if len(changed) <= max(1000, len(self.ids) // 5):
            self._apply(conn, settings_id, changed)
            self.seq = last
            return True
        self.ready = False
        return False

    def install(self, seq: int, ids: list[str], matrix: np.ndarray) -> None:
        self.ids = ids
        self.rows = {record_id: i for i, record_id in enumerate(ids)}
        self.matrix = matrix
        self.seq = seq
        self.ready = True

    def _apply(self, conn: sqlite3.Connection, settings_id: str, record_ids: list[str]) -> None:
        current: dict[str, list[float]] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for record_id, value in conn.execute(
                "SELECT record_id, value FROM vectors "
                f"WHERE vector_settings_id = ? AND record_id IN ({marks})",
                (settings_id, *chunk),
            ):
                current[record_id] = _parse_vector(value)
        gone = [r for r in record_ids if r not in current and r in self.rows]
        if gone:
            keep = np.ones(len(self.ids), dtype=bool)
            keep[[self.rows[r] for r in gone]] = False
            self.ids = [r for r, k in zip(self.ids, keep, strict=True) if k]
            self.matrix = self.matrix[keep]
            self.rows = {record_id: i for i, record_id in enumerate(self.ids)}
        new = [r for r in current if r not in self.rows]
        for record_id, value in current.items():
            if record_id in self.rows:
                self.matrix[self.rows[record_id]] = _normalise(np.array([value], dtype=np.float32))[0]
        if new:
            block = _normalise(np.array([current[r] for r in new], dtype=np.float32))
            self.matrix = block if self.matrix.size == 0 else np.vstack([self.matrix, block])
            for record_id in new:
                self.rows[record_id] = len(self.ids)
                self.ids.append(record_id)


def _vector_chunks(
    conn: sqlite3.Connection, settings_id: str
) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
    """(rowids, record ids, normalised vectors) of one vector settings, a chunk at a time."""
    cursor = conn.execute(_VECTOR_ROWS, (settings_id,))
    while rows := cursor.fetchmany(_CHUNK):
        rowids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        yield rowids, [row[1] for row in rows], _normalise(_parse_vectors([row[2] for row in rows]))


def _load_matrix(database: str, settings_id: str) -> tuple[int, list[str], np.ndarray]:
    """One vector settings' vectors as of one snapshot: (log position, ids, matrix), insertion order."""

    def work(conn: sqlite3.Connection) -> tuple[int, list[str], np.ndarray]:
        seq = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM lb_vector_log WHERE vector_settings_id = ?", (settings_id,)
        ).fetchone()[0]
        rowids: list[np.ndarray] = []
        ids: list[str] = []
        blocks: list[np.ndarray] = []
        for chunk_rowids, chunk_ids, block in _vector_chunks(conn, settings_id):
            rowids.append(chunk_rowids)
            ids.extend(chunk_ids)
            blocks.append(block)
        if not ids:
            return seq, [], np.zeros((0, 0), dtype=np.float32)
        # Insertion order; sorted here because SQLite's sorter would copy every (kB-long) value.
        order = np.argsort(np.concatenate(rowids), kind="stable")
        return seq, [ids[i] for i in order], np.vstack(blocks)[order]

    return _read(database, work)


def _start_loading(database: str, settings_id: str, matrix: _VectorMatrix) -> None:
    """Load `matrix` in a daemon thread unless it is ready or already loading."""
    with matrix.lock:
        if matrix.ready or matrix.loading:
            return
        matrix.loading = True

    def load() -> None:
        try:
            started = time.perf_counter()
            seq, ids, vectors = _load_matrix(database, settings_id)
            with matrix.lock:
                matrix.install(seq, ids, vectors)
            took = time.perf_counter() - started
            print(f"labelbook: vector cache {settings_id} ({len(ids)} vectors) in {took:.1f} s", flush=True)
        except Exception as err:  # the searches keep scanning; the next one tries again
            print(f"labelbook: loading the vector cache {settings_id} failed: {err!r}", flush=True)
        finally:
            with matrix.lock:
                matrix.loading = False

    threading.Thread(target=load, name=f"lb-vectors-{settings_id[:8]}", daemon=True).start()


def warm_vector_caches(database: Path | str) -> list[str]:
    """Start loading every vector settings' cache in the background; returns their ids."""
    database = str(database)
    settings_ids = _read(
        database, lambda conn: [row[0] for row in conn.execute("SELECT id FROM vectors_settings")]
    )
    for settings_id in settings_ids:
        _start_loading(database, settings_id, _matrix_for(database, settings_id))
    return settings_ids


def _scan_scores(
    conn: sqlite3.Connection, settings_id: str, target: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Every vector's cosine score against `target`, read straight from the table (no cache needed)."""
    rowids: list[np.ndarray] = []
    ids: list[str] = []
    scores: list[np.ndarray] = []
    for chunk_rowids, chunk_ids, block in _vector_chunks(conn, settings_id):
        rowids.append(chunk_rowids)
        ids.extend(chunk_ids)
        scores.append((1.0 + block @ target) / 2.0)
    if not ids:
        return [], np.zeros(0, dtype=np.float32)
    order = np.argsort(np.concatenate(rowids), kind="stable")
    return [ids[i] for i in order], np.concatenate(scores)[order]


def _parse_vector(value: str) -> list[float]:
    # The JSON is a flat list of numbers: numpy parses it much faster than json.loads.
    return np.fromstring(value.strip()[1:-1], sep=",", dtype=np.float32)  # type: ignore[return-value]


def _parse_vectors(values: list[str]) -> np.ndarray:
    """JSON number lists as the rows of one float32 matrix, parsed in one pass of numpy's C reader."""
    if not values:
        return np.zeros((0, 0), dtype=np.float32)
    text = "\n".join(value.strip()[1:-1] for value in values)
    matrix = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=2)
    if matrix.shape[0] != len(values):
        # loadtxt skips blank lines: an empty vector would shift every row after it.
        return np.array([_parse_vector(value) for value in values], dtype=np.float32)
    return matrix


def _normalise(matrix: np.ndarray) -> np.ndarray:
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        return matrix.reshape(matrix.shape[0], -1) if matrix.ndim == 2 else np.zeros((0, 0), np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


_matrices: dict[tuple[str, str], _VectorMatrix] = {}
_matrices_lock = threading.Lock()


def _matrix_for(database: str, settings_id: str) -> _VectorMatrix:
    with _matrices_lock:
        return _matrices.setdefault((database, settings_id), _VectorMatrix())


# --- the engine --------------------------------------------------------------------------------------


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
        if self.database not in _schema_ready:
            await asyncio.to_thread(ensure_schema, self.database)
        return await asyncio.to_thread(_read, self.database, work)

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
        await self._index_metadata(_hex(dataset.id))

    async def delete_index(self, dataset: Any) -> None:
        dataset_id = _hex(dataset.id)
        # Records normally cascade away first (and their triggers clean up); this covers the rest.
        # The dataset's metadata properties are gone too: their indexes go with them.
        await asyncio.to_thread(
            _write,
            self.database,
            [("DELETE FROM lb_text_doc WHERE dataset_id = ?", (dataset_id,))],
            lambda conn: _sync_metadata_indexes(conn, dataset_id),
        )
        with _matrices_lock:
            for key in [k for k in _matrices if k[0] == self.database]:
                # Dropping a cache is cheap; the next similarity search rebuilds what it needs.
                del _matrices[key]

    async def configure_metadata_property(self, dataset: Any, metadata_property: Any) -> None:
        await self._index_metadata(_hex(dataset.id))

    async def _index_metadata(self, dataset_id: str) -> None:
        # Also drops the indexes of properties deleted since (argilla-server has no hook for that).
        await asyncio.to_thread(
            _write, self.database, [], lambda conn: _sync_metadata_indexes(conn, dataset_id)
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
        dataset_id = _hex(dataset.id)

        def work(conn: sqlite3.Connection) -> dict:
            rows = conn.execute(
                "SELECT status, count(*) FROM records WHERE dataset_id = ? GROUP BY status", (dataset_id,)
            ).fetchall()
            return {"total": sum(count for _, count in rows), **dict(rows)}

        return await self._run(work)

    async def get_dataset_user_progress(self, dataset: Any, user: Any) -> dict:
        if dataset.is_draft:
            return {}
        dataset_id, user_id = _hex(dataset.id), _hex(user.id)

        def work(conn: sqlite3.Connection) -> dict:
            rows = conn.execute(
                "SELECT rs.status, count(*) FROM responses AS rs JOIN records AS r ON r.id = rs.record_id "
                "WHERE rs.user_id = ? AND r.dataset_id = ? GROUP BY rs.status",
                (user_id, dataset_id),
            ).fetchall()
            return {"total": sum(count for _, count in rows), **dict(rows)}

        return await self._run(work)

    async def compute_metrics_for(self, metadata_property: Any) -> MetadataMetrics:
        dataset_id = _hex(metadata_property.dataset_id)
        path = _json_path(metadata_property.name)
        kind = metadata_property.type

        # Array values count once per element, like a multi-valued keyword field.
        values_sql = (
            "SELECT j.value AS value FROM records AS r, json_each(r.metadata, ?) AS j "
            "WHERE r.dataset_id = ? AND r.metadata IS NOT NULL AND j.type NOT IN ('null', 'object', 'array')"
        )

        def terms(conn: sqlite3.Connection) -> TermsMetrics:
            rows = conn.execute(
                f"SELECT CAST(value AS TEXT), count(*) FROM ({values_sql}) "
                "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
                (path, dataset_id, MAX_TERMS),
            ).fetchall()
            total = conn.execute(f"SELECT count(*) FROM ({values_sql})", (path, dataset_id)).fetchone()[0]
            return TermsMetrics(
                total=total, values=[TermsMetrics.TermCount(term=term, count=count) for term, count in rows]
            )

        def numeric(conn: sqlite3.Connection) -> IntegerMetadataMetrics | FloatMetadataMetrics:
            low, high = conn.execute(
                f"SELECT min(value), max(value) FROM ({values_sql}) "
                "WHERE typeof(value) IN ('integer', 'real')",
                (path, dataset_id),
            ).fetchone()
            if kind == MetadataPropertyType.integer:
                return IntegerMetadataMetrics(
                    min=None if low is None else int(low), max=None if high is None else int(high)
                )
            return FloatMetadataMetrics(
                min=None if low is None else float(low), max=None if high is None else float(high)
            )

        if kind == MetadataPropertyType.terms:
            return await self._run(terms)
        return await self._run(numeric)

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
        dataset_id = _hex(dataset.id)

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
        dataset_id = _hex(dataset.id)
        settings_id = _hex(vector_settings.id)
        excluded = _hex(record.id) if record is not None else None

        def work(conn: sqlite3.Connection) -> SearchResponses:
            query_vector = value
            if excluded is not None:
                row = conn.execute(
                    "SELECT value FROM vectors WHERE record_id = ? AND vector_settings_id = ?",
                    (excluded, settings_id),
                ).fetchone()
                query_vector = _parse_vector(row[0]) if row else None
            if query_vector is None or len(query_vector) == 0:
                raise ValueError("Cannot find a vector value to apply with provided info")
            target = np.asarray(query_vector, dtype=np.float32)
            norm = float(np.linalg.norm(target))
            if norm == 0:
                raise ValueError("Cannot search by similarity to a zero vector")
            target = target / norm
            if order == SimilarityOrder.least_similar:
                # Elasticsearch inverts the query vector.
                target = -target
            matrix = _matrix_for(self.database, settings_id)
            # Held while scoring: a refresh by another thread mutates the matrix in place. A cache
            # still loading is never waited for: the search scans the table instead.
            with matrix.lock:
                if matrix.ready and matrix.refresh(conn, settings_id):
                    # Elasticsearch's cosine score: (1 + cosine) / 2, in [0, 1].
                    return _nearest(conn, matrix.ids, (1.0 + matrix.matrix @ target) / 2.0)
            _start_loading(self.database, settings_id, matrix)
            ids, scores = _scan_scores(conn, settings_id, target)
            return _nearest(conn, ids, scores)

        def _nearest(conn: sqlite3.Connection, ids: list[str], scores: np.ndarray) -> SearchResponses:
            if not ids:
                return SearchResponses(items=[], total=0)
            candidates = np.ones(len(ids), dtype=bool)
            if filter is not None or query is not None:
                q = _Query(conn, dataset_id)
                selection = _select(q, query, filter)
                allowed = {
                    row[0] for row in conn.execute(f"SELECT r.id {selection.from_where}", selection.params)
                }
                candidates = np.fromiter((i in allowed for i in ids), dtype=bool, count=len(ids))
            if excluded is not None and excluded in ids:
                candidates[ids.index(excluded)] = False
            pool = np.flatnonzero(candidates)
            k = min(max_results, len(pool))
            if k == 0:
                return SearchResponses(items=[], total=0)
            top = pool
            if k < len(pool):
                # The k best; among equal scores at the cut, the earliest records (a stable order).
                values = scores[pool]
                kth = np.partition(values, len(values) - k)[len(values) - k]
                above = pool[values > kth]
                top = np.concatenate([above, pool[values == kth][: k - len(above)]])
            top = top[np.lexsort((top, -scores[top]))]
            # Like Elasticsearch, the threshold filters the hits after the k nearest were found,
            # and the total still counts those k.
            items = [
                SearchResponseItem(record_id=uuid.UUID(ids[i]), score=float(scores[i]))
                for i in top
                if threshold is None or scores[i] >= threshold
            ]
            return SearchResponses(items=items, total=int(k))

        return await self._run(work)
