"""The raw HTTP calls labelbook keeps where the argilla SDK falls short, with their wire payloads typed.

Each call says why it is here: the benchmark it wins, or the operation the SDK lacks. Everything
else goes through the argilla SDK (`Connection.client`, inside `Connection.errors`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any, TypedDict

from labelbook.argilla._client import Connection
from labelbook.errors import BackendError

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


def record_pages(
    connection: Connection,
    dataset_id: str,
    *,
    responses: bool,
    doing: str,
    answered_since: str | None = None,
    page_size: int = PAGE,
) -> Iterator[list[RecordReply]]:
    """The records of a dataset a page at a time, the next page fetched while this one is used.

    Raw HTTP: the pull takes about 0.5-0.7x the time of the SDK's `records.to_list`
    (benchmarks/pull_speed.py), as the server encodes one page while the client decodes the other.
    At most two pages are held or in flight, so a caller that drops each page runs in bounded memory.

    On labelbook's embedded server the pages come from its own route (`labelbook.server._pull`),
    each after the previous page's last record, so every page costs the server the same; argilla's
    listing pages by offset, each page walking the ones before it (O(N^2) for a pull of N).

    `answered_since` (ISO 8601, UTC): only the records with a response saved after it, with all their
    responses, where the server can say (labelbook's route); every record otherwise (argilla-server's
    own filters cannot: a response does not change its record's `updated_at`). The caller filters
    the responses either way.
    """
    if responses:
        pages = _cursor_pages(connection, dataset_id, answered_since, page_size, doing)
        first = next(pages, None)
        if first is not None:
            yield first
            yield from pages
            return
    yield from _offset_pages(connection, dataset_id, responses, page_size, doing)


def _cursor_pages(
    connection: Connection, dataset_id: str, answered_since: str | None, page_size: int, doing: str
) -> Iterator[list[RecordReply]]:
    """labelbook's route, page after page; nothing at all if the server has no such route (404; or
    422 without `since` from an embedded server older than the cursor, whose route needs it)."""
    path = f"/api/v1/labelbook/datasets/{dataset_id}/records"
    params: dict[str, Any] = {"limit": page_size}
    if answered_since is not None:
        params["since"] = answered_since
    with connection.errors(doing):
        probe = connection.http.get(path, params=params)
    if probe.status_code == 404 or (probe.status_code == 422 and answered_since is None):
        return
    if probe.status_code != 200:  # a real refusal: said the adapter's way
        connection.request("GET", path, params=params, doing=doing)

    def page(after: str) -> list[RecordReply]:
        reply: dict[str, Any] = connection.request(
            "GET", path, params={**params, "after": after}, doing=doing
        )
        items: list[RecordReply] = reply["items"]
        if any(item["id"] == after for item in items):  # an older route, which ignores `after`
            raise BackendError(
                f"{doing}: the server at {connection.url} runs an older labelbook, whose pages cannot "
                "follow a cursor; upgrade labelbook there and restart its server "
                "(`labelbook server stop`, then `labelbook server start`)"
            )
        return items

    items: list[RecordReply] = list(probe.json()["items"])
    first = True
    with ThreadPoolExecutor(max_workers=1) as pool:
        while len(items) == page_size:
            ahead = pool.submit(page, items[-1]["id"])
            yield items
            items, first = ahead.result(), False
    if items or first:  # the first page even if empty; no empty last page
        yield items


def _offset_pages(
    connection: Connection, dataset_id: str, responses: bool, page_size: int, doing: str
) -> Iterator[list[RecordReply]]:
    """argilla's own listing, by offset, two pages in flight."""
    path = f"/api/v1/datasets/{dataset_id}/records"
    params: dict[str, Any] = {"include": "responses"} if responses else {}

    def page(offset: int) -> dict[str, Any]:
        reply: dict[str, Any] = connection.request(
            "GET", path, params={**params, "offset": offset, "limit": page_size}, doing=doing
        )
        return reply

    first = page(0)
    total = int(first.get("total") or len(first["items"]))
    yield list(first["items"])
    if len(first["items"]) < page_size:
        return
    # A record that joins the listing before the current offset while we page shifts the rest by
    # one: the previous page's last records come again. Drop them.
    previous = {item["id"] for item in first["items"]}
    offsets = iter(range(page_size, max(total, page_size), page_size))
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead = deque(pool.submit(page, offset) for offset in islice(offsets, 2))
        while ahead:
            reply = ahead.popleft().result()
            for offset in islice(offsets, 1):
                ahead.append(pool.submit(page, offset))
            items: list[RecordReply] = [item for item in reply["items"] if item["id"] not in previous]
            previous = {item["id"] for item in reply["items"]}
            yield items


def records(connection: Connection, dataset_id: str, *, responses: bool, doing: str) -> list[RecordReply]:
    """Every record of a dataset, in one list (see `record_pages`)."""
    return [
        item
        for items in record_pages(connection, dataset_id, responses=responses, doing=doing)
        for item in items
    ]


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
