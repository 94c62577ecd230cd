"""Records onto a dataset: what is there already, and the bulk upsert (gold spread among the new).

The bulk upsert is raw HTTP, not the argilla SDK's `records.log`: labelbook.publish uploads
1.2-1.3x faster (benchmarks/publish_throughput.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import labelbook.argilla._api as _api
from labelbook.argilla._client import Connection
from labelbook.argilla.gold import spread
from labelbook.argilla.records import Prepared
from labelbook.argilla.state import read_gold
from labelbook.errors import BackendError

if TYPE_CHECKING:
    from labelbook.argilla.result import PublishResult

MAX_BATCH = _api.MAX_BATCH
# Measured on the embedded server (benchmarks/publish_throughput.py): 256 records per request with
# two requests in flight beats both 500 per request and one request at a time.
BATCH = 256
LOCKED_RETRIES = 4


def existing_records(
    connection: Connection, dataset_id: str, external_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Fields and metadata of the dataset's records among `external_ids`, by external id."""
    listed = _api.records_by_external_id(
        connection,
        dataset_id,
        list(dict.fromkeys(external_ids)),
        doing="looking up the records already published",
    )
    return {str(r["external_id"]): dict(r) for r in listed if r.get("external_id") is not None}


def content_differs(payload: Mapping[str, Any], on_server: Mapping[str, Any]) -> bool:
    """Whether a prepared record's fields or metadata differ from the published record's."""
    return payload["fields"] != on_server.get("fields") or (payload.get("metadata") or {}) != (
        on_server.get("metadata") or {}
    )


def upload(
    connection: Connection,
    dataset_id: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = BATCH,
    workers: int = 2,
    progress: bool = True,
) -> int:
    """Upsert records by external id in batches, `workers` requests in flight; records sent."""
    from tqdm.auto import tqdm

    if not payloads:
        return 0
    batch_size = max(1, min(batch_size, MAX_BATCH))
    with connection.errors("reading the dataset's questions"):
        questions = connection.client.api.questions.list(dataset_id=UUID(dataset_id))
    question_ids = {q.name: str(q.id) for q in questions}

    def wire(body: Mapping[str, Any]) -> _api.RecordPayload:
        out: Any = dict(body)
        if "suggestions" not in body:
            return out
        out["suggestions"] = [
            {
                **{k: v for k, v in s.items() if k != "question_name"},
                "question_id": question_ids[s["question_name"]],
            }
            for s in body["suggestions"]
        ]
        return out

    batches = [payloads[i : i + batch_size] for i in range(0, len(payloads), batch_size)]

    def send(batch: Sequence[Mapping[str, Any]]) -> int:
        items = [wire(b) for b in batch]
        for attempt in range(1, LOCKED_RETRIES + 1):
            try:
                _api.upsert_records(connection, dataset_id, items)
                return len(batch)
            except BackendError as err:
                # A stock argilla-server on SQLite can refuse one of two concurrent bulk writes
                # ("database is locked"; the embedded server waits for the lock instead, see
                # server/_bootstrap.py); the refused batch was rolled back whole, and an upsert by
                # external id is safe to send again.
                if "database is locked" not in str(err) or attempt == LOCKED_RETRIES:
                    raise
                time.sleep(0.2 * attempt)
        return 0  # not reached

    sent = 0
    # Two requests in flight: the client builds and encodes one batch while the server stores the other.
    with (
        tqdm(total=len(payloads), unit="record", desc="publishing", disable=not progress) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        for done in pool.map(send, batches):
            sent += done
            bar.update(done)
    return sent


def send_records(
    conn: Connection,
    prepared: Prepared,
    gold_answers: Mapping[str, Any],
    folder: Path,
    result: PublishResult,
    *,
    gold_rate: float | None,
    update: bool,
    batch_size: int,
    workers: int,
    progress: bool,
) -> None:
    """Upload the records not on the server yet (and changed ones with `update`), gold spread among them."""
    dataset_id = result.dataset_id
    by_id = dict(zip(prepared.ids, prepared.payloads, strict=True))
    on_server = {} if result.created else existing_records(conn, dataset_id, prepared.ids)
    # Gold records published later still sit among regular ones: spread over the new records only.
    known_gold = set(gold_answers) | set(read_gold(folder))
    order, held = spread([i for i in prepared.ids if i not in on_server], known_gold, gold_rate)
    changed = [i for i in prepared.ids if i in on_server and content_differs(by_id[i], on_server[i])]
    resend = changed if update else []
    todo = [by_id[i] for i in [*order, *resend]]
    result.records_skipped = len(prepared.ids) - len(order) - len(held) - len(resend)
    result.records_updated = len(resend)
    result.records_changed = [] if update else changed
    result.gold_held_back = held
    result.ignored_columns = prepared.ignored_columns
    sent = upload(conn, dataset_id, todo, batch_size=batch_size, workers=workers, progress=progress)
    result.records_added = sent - len(resend)
    result.gold_published = sum(1 for i in order if i in known_gold)
