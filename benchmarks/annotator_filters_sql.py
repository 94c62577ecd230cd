"""The SQL alone of an annotator's metadata filter and response status filter, on a benchmark database.

Runs the statements the engine builds (`search_statements`, a page of 50 and the total, in one
read transaction, as `LabelbookSearchEngine.search` does) straight on a database that
`benchmarks/search_latency.py --data-dir DIR` filled, as its annotator 0 in their own order (the
web UI's searches): no server, so the engine's share of a request without the API's. Prints each
p50 against issue 14's target for the whole request (50 ms at 100k records, 100 ms at 1M).

    python benchmarks/annotator_filters_sql.py DIR/argilla.db
    python benchmarks/annotator_filters_sql.py DIR/argilla.db --repeats 30 --ensure-schema

`--ensure-schema` first applies this code's schema (indexes, counts) to the database: it writes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

LANGS = ["en", "fr", "de", "es", "it", "nl", "pt", "pl"]
TARGET_MS = {100_000: 50.0, 1_000_000: 100.0}


def filters(user: Any) -> dict[str, Callable[[int], Any]]:
    """The searches of benchmarks/search_latency.py, as the engine receives them."""
    from argilla_server.search_engine.base import (
        AndFilter,
        MetadataFilterScope,
        RangeFilter,
        ResponseFilterScope,
        TermsFilter,
    )

    status = ResponseFilterScope(property="status", user=user)
    return {
        "metadata filter": lambda i: AndFilter(
            [
                TermsFilter(MetadataFilterScope(metadata_property="lang"), [LANGS[i % 8]]),
                RangeFilter(MetadataFilterScope(metadata_property="n"), ge=100, le=600),
            ]
        ),
        "response status filter": lambda i: AndFilter([TermsFilter(status, ["submitted"])]),
        "pending queue": lambda i: AndFilter([TermsFilter(status, ["pending"])]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", type=Path)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--ensure-schema", action="store_true", help="apply this code's schema first (writes)"
    )
    args = parser.parse_args()

    from labelbook.server.engine import ensure_schema, search_statements

    if args.ensure_schema:
        began = time.perf_counter()
        ensure_schema(args.database)
        print(f"ensure_schema: {time.perf_counter() - began:.1f} s")
    conn = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA mmap_size=4294967296")  # as the engine's read connections
    dataset_id, name = conn.execute(
        "SELECT id, name FROM datasets WHERE name LIKE 'bench-%' ORDER BY inserted_at DESC"
    ).fetchone()
    user_id = uuid.UUID(conn.execute("SELECT id FROM users WHERE username = ?", (f"{name}-0",)).fetchone()[0])
    size = conn.execute("SELECT count(*) FROM records WHERE dataset_id = ?", (dataset_id,)).fetchone()[0]
    target = TARGET_MS.get(round(size, -5), 100.0)
    user = type("User", (), {"id": user_id})()
    print(f"{size:,} records; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"{'search (SQL alone)':<24} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8} {'target':>7} "
        f"{'p50/target':>10}"
    )
    for label, make in filters(user).items():

        def once(i: int, make: Callable[[int], Any] = make) -> int:
            conn.execute("BEGIN")
            try:
                found = search_statements(conn, dataset_id, filter=make(i), user_id=user_id)
                rows = conn.execute(found.page, {**found.params, "limit": 50, "offset": 0}).fetchall()
                if found.page_counts and rows:
                    return int(rows[0][2])
                return int(conn.execute(found.count, found.params).fetchone()[0])
            finally:
                conn.execute("COMMIT")

        total = once(0)  # warm-up
        timings = []
        for i in range(args.repeats):
            began = time.perf_counter()
            once(i)
            timings.append((time.perf_counter() - began) * 1000)
        p50, p95 = np.percentile(timings, 50), np.percentile(timings, 95)
        print(f"{label:<24} {total:>8,} {p50:>8.1f} {p95:>8.1f} {target:>7.0f} {p50 / target:>10.3f}")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
