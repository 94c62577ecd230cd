"""The raw HTTP calls labelbook keeps where the argilla SDK falls short, with their wire payloads typed.

Each call says why it is here: the benchmark it wins, or the operation the SDK lacks. Everything
else goes through the argilla SDK (`Connection.client`, inside `Connection.errors`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict

from labelbook.argilla._client import Connection

PAGE = 1000
"""argilla-server's largest page of records."""

MAX_BATCH = 500
"""argilla-server's largest bulk upsert."""

MAX_TERMS = 250
"""argilla-server's largest list of values in one terms filter."""


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


RESPONSES_BATCH = 100
"""argilla-server's largest bulk of responses."""


class ResponseValue(TypedDict):
    """One question's answer in a response."""

    value: Any


class ResponsePayload(TypedDict):
    """The key's own response to one record, as `/me/responses/bulk` takes it."""

    record_id: str
    status: str
    values: dict[str, ResponseValue]


class ResponseOutcome(TypedDict, total=False):
    """What the bulk endpoint says of one response: `item` when saved, `error` when refused."""

    item: dict[str, Any] | None
    error: str | None


def submit_responses(connection: Connection, items: list[ResponsePayload]) -> list[ResponseOutcome]:
    """Create or replace the key's own responses to up to `RESPONSES_BATCH` records, one request.

    Raw HTTP: the SDK has no bulk or update of one's own responses (only
    `RecordsAPI.create_record_response`, one record per request, which refuses a second answer).
    """
    reply = connection.request(
        "POST", "/api/v1/me/responses/bulk", json={"items": items}, doing="submitting responses"
    )
    outcomes: list[ResponseOutcome] = list(reply.get("items", []))
    return outcomes


def records_by_external_id(
    connection: Connection, dataset_id: str, external_ids: list[str], *, doing: str
) -> list[RecordReply]:
    """The dataset's records among `external_ids` (fields and metadata, no responses).

    Raw HTTP: the SDK cannot search on a record's external id. A search per `MAX_TERMS` ids reads only
    those records, where listing the dataset read all of it on every publish: publishing 2,000
    records into a dataset of 50,000 took 0.24x the time of publishing into an empty one
    (benchmarks/publish_throughput.py --grown).
    """
    path = f"/api/v1/datasets/{dataset_id}/records/search"
    scope = {"entity": "record", "property": "external_id"}

    def search(chunk: list[str]) -> list[RecordReply]:
        body = {"filters": {"and": [{"type": "terms", "scope": scope, "values": chunk}]}}
        reply = connection.request("POST", path, params={"limit": PAGE}, json=body, doing=doing)
        return [item["record"] for item in reply["items"]]

    chunks = [external_ids[start : start + MAX_TERMS] for start in range(0, len(external_ids), MAX_TERMS)]
    found: list[RecordReply] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for records in pool.map(search, chunks):
            found.extend(records)
    return found
