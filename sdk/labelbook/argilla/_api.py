"""The raw HTTP calls labelbook keeps where the argilla SDK is slower, with their wire payloads typed.

Each call names the benchmark that keeps it here; everything else goes through `Connection`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict

from labelbook.argilla._client import Connection

PAGE = 1000
"""argilla-server's largest page of records."""

MAX_BATCH = 500
"""argilla-server's largest bulk upsert."""


class SuggestionPayload(TypedDict, total=False):
    """A suggestion as the bulk upsert takes it."""

    question_id: str
    value: Any
    score: float | list[float] | None
    agent: str | None
    type: str | None


class RecordPayload(TypedDict, total=False):
    """A record as the bulk upsert takes it; `external_id` is labelbook's stable id."""

    external_id: str
    fields: dict[str, Any]
    metadata: dict[str, Any]
    suggestions: list[SuggestionPayload]


class RecordReply(TypedDict, total=False):
    """A record as the server lists it (with `responses` when asked for)."""

    id: str
    external_id: str | None
    fields: dict[str, Any]
    metadata: dict[str, Any] | None
    responses: list[dict[str, Any]]
    inserted_at: str
    updated_at: str


def records(connection: Connection, dataset_id: str, *, responses: bool, doing: str) -> list[RecordReply]:
    """Every record of a dataset, pages fetched two at a time.

    Raw HTTP: the pull takes about 0.5-0.7x the time of the SDK's `records.to_list`
    (benchmarks/pull_speed.py), as the server encodes one page while the client decodes the other.
    """
    path = f"/api/v1/datasets/{dataset_id}/records"
    params: dict[str, Any] = {"include": "responses"} if responses else {}

    def page(offset: int) -> dict[str, Any]:
        reply: dict[str, Any] = connection.request(
            "GET", path, params={**params, "offset": offset, "limit": PAGE}, doing=doing
        )
        return reply

    first = page(0)
    items: list[RecordReply] = list(first["items"])
    total = int(first.get("total") or len(items))
    if len(items) < PAGE:
        return items
    with ThreadPoolExecutor(max_workers=2) as pool:
        for reply in pool.map(page, range(PAGE, max(total, PAGE), PAGE)):
            items.extend(reply["items"])
    return items


def upsert_records(connection: Connection, dataset_id: str, items: list[RecordPayload]) -> None:
    """Create or update records by `external_id`, in one request (at most `MAX_BATCH`).

    Raw HTTP: with two requests in flight labelbook.publish uploads 1.2-1.3x faster than the SDK's
    `records.log` (benchmarks/publish_throughput.py).
    """
    connection.request(
        "PUT", f"/api/v1/datasets/{dataset_id}/records/bulk", doing="uploading records", json={"items": items}
    )
