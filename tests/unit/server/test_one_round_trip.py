"""SQLAlchemy's aiosqlite adapter with labelbook's one-hand-off `execute` answers as before."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from labelbook.server._bootstrap import one_round_trip_per_statement


def test_statements_rows_counts_and_errors_come_back_as_from_the_stock_adapter(tmp_path: Path) -> None:
    one_round_trip_per_statement()
    one_round_trip_per_statement()  # a second call leaves the first in place
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_cursor

    assert getattr(AsyncAdapt_aiosqlite_cursor.execute, "one_round_trip", False)

    async def scenario() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
                inserted = await conn.execute(sa.text("INSERT INTO t (name) VALUES ('a')"))
                assert (inserted.rowcount, inserted.lastrowid) == (1, 1)
                await conn.execute(sa.text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
                updated = await conn.execute(sa.text("UPDATE t SET name = name || '!' WHERE id > 1"))
                assert updated.rowcount == 2
                returned = await conn.execute(sa.text("INSERT INTO t (name) VALUES ('d') RETURNING id, name"))
                assert returned.all() == [(4, "d")]
                rows = await conn.execute(
                    sa.text("SELECT id, name FROM t WHERE id >= :low ORDER BY id"), {"low": 2}
                )
                assert rows.all() == [(2, "b!"), (3, "c!"), (4, "d")]
                with pytest.raises(sa.exc.IntegrityError):
                    await conn.execute(sa.text("INSERT INTO t (name) VALUES ('a')"))
            async with engine.connect() as conn:
                with pytest.raises(sa.exc.OperationalError):
                    await conn.execute(sa.text("SELECT nope FROM t"))
                assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 4
        finally:
            await engine.dispose()

    asyncio.run(scenario())
