"""The search engine's side of the SQLite database: its helper structures, and the connections.

argilla-server's tables are the one source of truth. Three helper structures exist where scans
don't scale, all kept in step by SQLite triggers so that no crash can leave them out of sync:

- `lb_text_doc` + `lb_text_fts` (FTS5): one row per (record, searchable field);
- `lb_vector_log`: which vectors changed, so the per-process similarity matrix refreshes cheaply;
- `lb_record_count` + `lb_user_response_count`: records per (dataset, status) and each user's
  responses per (dataset, record status, response status), so a queue's total, or a user's
  answers', is one or two lookups, not a count of the dataset.

Metadata filters read one partial expression index per metadata property (`lb_ix_metadata_<id>`,
created when the property is configured) instead of parsing every record's JSON.
`ensure_schema()` creates all of these (idempotently) and the indexes the queries rely on.
Reads go through one reused read-only connection per thread (`read`), writes through a
short-lived connection in one `BEGIN IMMEDIATE` transaction (`write`). See docs/search-engine.md.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "SCHEMA_VERSION",
    "database_path",
    "ensure_schema",
    "hex_id",
    "json_path",
    "metadata_index_name",
    "metadata_index_sql",
    "metadata_value_sql",
    "read",
    "read_in_thread",
    "schema_ready",
    "sql_text",
    "sync_metadata_indexes",
    "write",
]

SCHEMA_VERSION = "1"

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

# Counts a queue's total is made of, so that it never counts a dataset's records one by one:
# records per (dataset, status), and each user's responses per (dataset, record status, response
# status). "Pending for user u" is then the dataset's records minus u's responses there (one response
# per record and user: argilla's unique constraint); "u's submitted answers" is one row. A record's
# delete is counted BEFORE it happens: its responses are deleted by the foreign key's cascade after
# the record's row is gone, when their trigger can no longer find the record's dataset (and so counts
# nothing). `ifnull(status, '')` keeps the NOT NULL keys from ever failing argilla's own write.
# (`lb_response_count`, without the response status, is what databases before it kept.)
_OLD_COUNT_OBJECTS = [
    "DROP TRIGGER IF EXISTS lb_count_records_bd",
    "DROP TRIGGER IF EXISTS lb_count_records_au",
    "DROP TRIGGER IF EXISTS lb_count_responses_ai",
    "DROP TRIGGER IF EXISTS lb_count_responses_ad",
    "DROP TRIGGER IF EXISTS lb_count_responses_au",
    "DROP TABLE IF EXISTS lb_response_count",
]

_COUNT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS lb_record_count (
        dataset_id CHAR(32) NOT NULL,
        status VARCHAR NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (dataset_id, status)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS lb_user_response_count (
        dataset_id CHAR(32) NOT NULL,
        user_id CHAR(32) NOT NULL,
        record_status VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (dataset_id, user_id, record_status, status)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS lb_count_records_ai AFTER INSERT ON records BEGIN
        INSERT INTO lb_record_count (dataset_id, status, n) VALUES (new.dataset_id, ifnull(new.status, ''), 1)
        ON CONFLICT (dataset_id, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_count_user_records_bd BEFORE DELETE ON records BEGIN
        UPDATE lb_record_count SET n = n - 1
        WHERE dataset_id = old.dataset_id AND status = ifnull(old.status, '');
        UPDATE lb_user_response_count SET n = n - 1
        WHERE dataset_id = old.dataset_id AND record_status = ifnull(old.status, '')
          AND (user_id, status) IN (
              SELECT user_id, ifnull(status, '') FROM responses WHERE record_id = old.id
          );
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_count_user_records_au AFTER UPDATE OF status, dataset_id ON records
    WHEN old.status IS NOT new.status OR old.dataset_id IS NOT new.dataset_id BEGIN
        UPDATE lb_record_count SET n = n - 1
        WHERE dataset_id = old.dataset_id AND status = ifnull(old.status, '');
        INSERT INTO lb_record_count (dataset_id, status, n) VALUES (new.dataset_id, ifnull(new.status, ''), 1)
        ON CONFLICT (dataset_id, status) DO UPDATE SET n = n + 1;
        UPDATE lb_user_response_count SET n = n - 1
        WHERE dataset_id = old.dataset_id AND record_status = ifnull(old.status, '')
          AND (user_id, status) IN (
              SELECT user_id, ifnull(status, '') FROM responses WHERE record_id = old.id
          );
        INSERT INTO lb_user_response_count (dataset_id, user_id, record_status, status, n)
        SELECT new.dataset_id, user_id, ifnull(new.status, ''), ifnull(status, ''), 1 FROM responses
        WHERE record_id = new.id AND user_id IS NOT NULL
        ON CONFLICT (dataset_id, user_id, record_status, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_count_user_responses_ai AFTER INSERT ON responses BEGIN
        INSERT INTO lb_user_response_count (dataset_id, user_id, record_status, status, n)
        SELECT r.dataset_id, new.user_id, ifnull(r.status, ''), ifnull(new.status, ''), 1 FROM records AS r
        WHERE r.id = new.record_id AND new.user_id IS NOT NULL
        ON CONFLICT (dataset_id, user_id, record_status, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_count_user_responses_ad AFTER DELETE ON responses BEGIN
        UPDATE lb_user_response_count SET n = n - 1
        WHERE user_id = old.user_id AND status = ifnull(old.status, '') AND (dataset_id, record_status) IN (
            SELECT r.dataset_id, ifnull(r.status, '') FROM records AS r WHERE r.id = old.record_id
        );
    END""",
    """CREATE TRIGGER IF NOT EXISTS lb_count_user_responses_au
    AFTER UPDATE OF record_id, user_id, status ON responses
    WHEN old.record_id IS NOT new.record_id OR old.user_id IS NOT new.user_id
      OR old.status IS NOT new.status BEGIN
        UPDATE lb_user_response_count SET n = n - 1
        WHERE user_id = old.user_id AND status = ifnull(old.status, '') AND (dataset_id, record_status) IN (
            SELECT r.dataset_id, ifnull(r.status, '') FROM records AS r WHERE r.id = old.record_id
        );
        INSERT INTO lb_user_response_count (dataset_id, user_id, record_status, status, n)
        SELECT r.dataset_id, new.user_id, ifnull(r.status, ''), ifnull(new.status, ''), 1 FROM records AS r
        WHERE r.id = new.record_id AND new.user_id IS NOT NULL
        ON CONFLICT (dataset_id, user_id, record_status, status) DO UPDATE SET n = n + 1;
    END""",
]

_COUNT_BACKFILL = [
    "DELETE FROM lb_record_count",
    "DELETE FROM lb_user_response_count",
    "INSERT INTO lb_record_count (dataset_id, status, n) "
    "SELECT dataset_id, ifnull(status, ''), count(*) FROM records GROUP BY 1, 2",
    "INSERT INTO lb_user_response_count (dataset_id, user_id, record_status, status, n) "
    "SELECT r.dataset_id, rs.user_id, ifnull(r.status, ''), ifnull(rs.status, ''), count(*) "
    "FROM responses AS rs JOIN records AS r ON r.id = rs.record_id "
    "WHERE rs.user_id IS NOT NULL GROUP BY 1, 2, 3, 4",
]

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
    # The per-user queue order: a dataset's records in id order (argilla's ids are random UUIDs, so
    # this is a shuffle), with the status covered, so a queue page reads a page of index entries.
    "CREATE INDEX IF NOT EXISTS lb_ix_records_dataset_order ON records (dataset_id, id, status)",
    # argilla's record listing (`GET /datasets/{id}/records`, what a pull pages through) orders a
    # dataset's records by inserted_at with OFFSET: with only argilla's index on dataset_id every
    # page sorted the whole dataset (0.4-0.7 s a page at 200k records); in this order a page skips
    # index entries and reads its own rows.
    "CREATE INDEX IF NOT EXISTS lb_ix_records_dataset_inserted ON records (dataset_id, inserted_at, id)",
    *_COUNT_SCHEMA,
]

_BACKFILL = _DOCS_FOR_RECORD.format(record="r", source="records AS r")

# One partial expression index per metadata property: `json_extract(metadata, '$."<name>"')` over
# its dataset's records only. Partial rather than (dataset_id, value): inserts elsewhere never
# compute it, and it can never serve a plain `dataset_id = ?` lookup (which, walked in value
# order, reads the table at random). SQLite uses it only where a query repeats the expression
# character for character, so `metadata_value_sql` is the one place that spells it.
_METADATA_INDEX_PREFIX = "lb_ix_metadata_"


def sql_text(value: str) -> str:
    """`value` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def metadata_value_sql(document: str, name: str) -> str:
    """The JSON value of metadata property `name`, exactly as the metadata indexes spell it."""
    return f"json_extract({document}, {sql_text(json_path(name))})"


def metadata_index_name(property_id: str) -> str:
    return _METADATA_INDEX_PREFIX + property_id


def metadata_index_sql(name: str, others: Sequence[str], dataset_id: str, index: str) -> str:
    """The CREATE INDEX of property `name`'s index: its value, then the dataset's other properties' values.

    The other values (in the order the properties were made) let a count of records matching
    several metadata conditions stay in the index: a condition on the next column is part of the
    seek after the first's equality, and the others are compared in the index entries.
    """
    columns = ", ".join(metadata_value_sql("metadata", n) for n in [name, *others])
    return f"CREATE INDEX {index} ON records ({columns}) WHERE dataset_id = {sql_text(dataset_id)}"


def sync_metadata_indexes(
    conn: sqlite3.Connection, dataset_id: str | None = None, *, remake: bool = True
) -> None:
    """Create the missing metadata indexes (of one dataset, or all) and drop those of deleted properties.

    With `remake`, an index whose columns no longer match its dataset's properties (one was added
    or deleted, or it predates the other properties' columns) is made again. Without it (a property
    added or deleted while the server runs) such an index is kept: it still answers its property's
    conditions, reading the records for the other properties' values it lacks, and remaking every
    index of a million-record dataset held the write lock for 10-40 s, past the 30 s other writers
    (annotators submitting) wait. The next start remakes them. Runs inside the caller's write
    transaction; `IF NOT EXISTS` makes a concurrent creator harmless.
    """
    for statement in _metadata_index_changes(conn, dataset_id, remake=remake):
        conn.execute(statement)


def _metadata_index_changes(
    conn: sqlite3.Connection, dataset_id: str | None = None, *, remake: bool = True
) -> list[str]:
    """The DROP and CREATE INDEX statements that bring the metadata indexes in line (see above)."""
    rows = conn.execute(
        "SELECT id, dataset_id, name FROM metadata_properties WHERE ? IS NULL OR dataset_id = ? "
        "ORDER BY inserted_at, rowid",
        (dataset_id, dataset_id),
    ).fetchall()
    names: dict[str, list[str]] = {}
    for _, property_dataset_id, name in rows:
        names.setdefault(hex_id(property_dataset_id), []).append(name)
    existing = dict(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' "
            "AND substr(name, 1, ?) = ?",
            (len(_METADATA_INDEX_PREFIX), _METADATA_INDEX_PREFIX),
        ).fetchall()
    )
    changes: list[str] = []
    for property_id, property_dataset_id, name in rows:
        dataset = hex_id(property_dataset_id)
        index = metadata_index_name(hex_id(property_id))
        others = [n for n in names[dataset] if n != name]
        wanted = metadata_index_sql(name, others, dataset, index)
        if index in existing and existing[index] != wanted and remake:
            changes.append(f'DROP INDEX IF EXISTS "{index}"')
        if index not in existing or (existing[index] != wanted and remake):
            changes.append(wanted.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
    live = {metadata_index_name(hex_id(row[0])) for row in conn.execute("SELECT id FROM metadata_properties")}
    changes.extend(f'DROP INDEX IF EXISTS "{index}"' for index in existing if index not in live)
    return changes


_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def schema_ready(database: str) -> bool:
    """Whether `ensure_schema(database)` already ran in this process."""
    return database in _schema_ready


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


def ensure_schema(database: Path | str, *, announce: Callable[[str], None] | None = None) -> None:
    """Create the engine's helper tables, triggers and indexes if missing, and index existing records.

    Idempotent and cheap once done; the launcher calls it at startup, the engine on first use.
    `announce(message)` is told, before it starts, what an upgrade of an existing database will
    build: at a million records that takes minutes, during which a start would otherwise be silent.
    """
    key = str(database)
    with _schema_lock:
        if key in _schema_ready:
            return
        write(key, [], then=lambda conn: _create_schema(conn, announce))
        _schema_ready.add(key)


def _create_schema(conn: sqlite3.Connection, announce: Callable[[str], None] | None = None) -> None:
    """The tables, triggers and indexes, and the backfills a database made before them needs."""
    has_docs = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'lb_text_doc'").fetchone()
    # The counts and their triggers come together (one transaction): filled here once.
    has_counts = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'lb_count_user_responses_au'"
    ).fetchone()
    if announce is not None:
        _announce_upgrade(conn, announce, text=not has_docs, counts=not has_counts)
    if not has_counts:
        for statement in _OLD_COUNT_OBJECTS:
            conn.execute(statement)
    for statement in _SCHEMA:
        conn.execute(statement)
    if not has_docs:
        conn.execute(_BACKFILL)
    if not has_counts:
        for statement in _COUNT_BACKFILL:
            conn.execute(statement)
    sync_metadata_indexes(conn)
    conn.execute(
        "INSERT OR REPLACE INTO lb_meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
    )


_NEW_INDEX = re.compile(r"\s*CREATE INDEX IF NOT EXISTS (\w+) ON ")


def _announce_upgrade(
    conn: sqlite3.Connection, announce: Callable[[str], None], *, text: bool, counts: bool
) -> None:
    """Tell `announce` what the upgrade builds over how many records, when it builds anything."""
    work = ["the text search index"] if text else []
    if counts:
        work.append("the record and response counts")
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    indexes = sum(change.startswith("CREATE") for change in _metadata_index_changes(conn)) + sum(
        match.group(1) not in present
        for match in (_NEW_INDEX.match(statement) for statement in _SCHEMA)
        if match is not None
    )
    if indexes:
        work.append(f"{indexes} index{'es' if indexes > 1 else ''}")
    if work:
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        announce(
            f"Upgrading the search engine's tables for {records:,} records ({', '.join(work)}): "
            "minutes at a million records; the server starts when it is done."
        )


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


def read(database: str, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` in one read transaction: all its queries see the same snapshot."""
    conn = _reader(database)
    conn.execute("BEGIN")
    try:
        return work(conn)
    finally:
        conn.execute("COMMIT")


async def read_in_thread(database: str, work: Callable[[sqlite3.Connection], T]) -> T:
    """`read(database, work)` on a worker thread, for the API's event loop; the engine's tables are
    made first if this process has not made them yet (`ensure_schema`)."""
    if not schema_ready(database):
        await asyncio.to_thread(ensure_schema, database)
    return await asyncio.to_thread(read, database, work)


def write(
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


def hex_id(value: Any) -> str:
    """The CHAR(32) form argilla-server stores UUIDs in."""
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def json_path(name: str) -> str:
    """The JSON path of key `name` (quoted: names may hold dots and spaces)."""
    return '$."' + name.replace('"', '\\"') + '"'
