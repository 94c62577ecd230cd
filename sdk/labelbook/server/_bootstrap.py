"""What both server processes (API and worker) do before argilla_server's app or queue start.

The search engine must be registered before argilla_server resolves `ARGILLA_SEARCH_ENGINE`,
and SQLite must run in WAL mode so the API, the worker and the engine's readers never block
each other's reads.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def enable_wal(database: Path) -> None:
    """Switch the database to WAL (a persistent property of the file) before anything opens it."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database, timeout=30) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def prepare_process() -> None:
    """Register the labelbook search engine and tune every SQLite connection argilla_server opens."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import labelbook.server.engine  # noqa: F401 — registers the "labelbook" search engine

    reuse_settings_adapters()

    @event.listens_for(Engine, "connect")
    def _tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL + NORMAL survives a killed process without losing a committed transaction.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def reuse_settings_adapters() -> None:
    """Build argilla_server's two settings TypeAdapters once instead of on every `parsed_settings` call.

    argilla-server 2.8 constructs `TypeAdapter(QuestionSettings)` / `TypeAdapter(MetadataPropertySettings)`
    (pydantic schema generation for a discriminated union, ~1 ms) each time a question's or a
    metadata property's settings are read: per record, per suggestion and per metadata value
    during a bulk log, per response when answers are validated. Same validation, built once.
    """
    from argilla_server.models import database
    from pydantic import TypeAdapter

    question_settings = TypeAdapter(database.QuestionSettings)
    metadata_settings = TypeAdapter(database.MetadataPropertySettings)
    database.Question.parsed_settings = property(
        lambda self: question_settings.validate_python(self.settings)
    )
    database.MetadataProperty.parsed_settings = property(
        lambda self: metadata_settings.validate_python(self.settings)
    )
