"""Annotators see their own answers, their own name and the metadata meant for them; nothing else.

argilla-server 2.8 lets any member of a workspace read every user's responses to a record
(`GET /api/v1/records/{id}`), every member's username (`/datasets/{id}/progress`,
`/datasets/{id}/users/progress`), and record metadata whose property is hidden from annotators
(record GET, and as filters or sort keys in their own record search). This ASGI wrapper, installed
around the app by the API process, closes those gaps for annotators. Owners and admins (leads)
see everything, as before.

It matches a request to the argilla route FastAPI will dispatch it to (the route's own path regex
and methods, first match wins, as Starlette routes), so every spelling of an id that reaches a
route is treated alike: hyphenated, 32 bare hex digits, `{...}`, `urn:uuid:...`, upper case,
percent-encoded. Every route of the API is classified (`RULES`); the API refuses to start when
argilla-server grows a route that is not. It fails closed: an annotator's reply on a filtered
route that cannot be parsed and filtered is withheld (500 with a JSON detail), a success reply to
an annotator on a route argilla reserves for leads is refused (403), and so is any reply to an
annotator on a path under /api/v1 that matches no known route.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/api/v1"
# A record search body is a query, filters and sort keys (a vector query at most a few 100 kB).
MAX_SEARCH_BODY = 16 * 1024 * 1024
PRIVILEGED_ROLES = frozenset({"owner", "admin"})

_log = logging.getLogger("labelbook.privacy")
T = TypeVar("T")


class Rule(enum.Enum):
    """What an annotator's reply on a route goes through."""

    PUBLIC = "public"  # no user data: status, version, login, API docs
    OWN = "own"  # argilla answers with the caller's own data, or data every member is meant to see
    LEADS = "leads"  # argilla allows owners and admins only: an annotator's success reply is refused
    RECORD = "record"  # one record: own responses, annotator-visible metadata only
    SEARCH = "search"  # the caller's record search: hidden metadata refused as filter/sort, stripped
    PROGRESS = "progress"  # dataset progress: totals and the caller's own entry only
    USERS_PROGRESS = "users-progress"  # per-user progress: the caller's own entry only
    DATASET = "dataset"  # dataset(s): no dataset-level metadata
    METADATA_PROPERTIES = "metadata-properties"  # properties visible to annotators only
    METADATA_METRICS = "metadata-metrics"  # a property's value counts, visible properties only
    UNKNOWN = "unknown"  # a path under /api/v1 no route matches


# Every route argilla-server 2.8 serves under /api/v1, by (method, path template).
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): Rule.PUBLIC,
    ("HEAD", "/openapi.json"): Rule.PUBLIC,
    ("GET", "/docs"): Rule.PUBLIC,
    ("HEAD", "/docs"): Rule.PUBLIC,
    ("GET", "/docs/oauth2-redirect"): Rule.PUBLIC,
    ("HEAD", "/docs/oauth2-redirect"): Rule.PUBLIC,
    ("GET", "/redoc"): Rule.PUBLIC,
    ("HEAD", "/redoc"): Rule.PUBLIC,
    ("GET", "/version"): Rule.PUBLIC,
    ("GET", "/status"): Rule.PUBLIC,
    ("POST", "/token"): Rule.PUBLIC,
    ("GET", "/settings"): Rule.PUBLIC,
    ("GET", "/oauth2/providers"): Rule.PUBLIC,
    ("GET", "/oauth2/providers/{provider}/authentication"): Rule.PUBLIC,
    ("GET", "/oauth2/providers/{provider}/access-token"): Rule.PUBLIC,
    # The caller's own account, workspaces and answers.
    ("GET", "/me"): Rule.OWN,
    ("GET", "/me/workspaces"): Rule.OWN,
    ("GET", "/workspaces/{workspace_id}"): Rule.OWN,
    ("GET", "/me/datasets/{dataset_id}/metrics"): Rule.OWN,  # the caller's own counts and the total
    ("POST", "/records/{record_id}/responses"): Rule.OWN,  # the response just created, the caller's
    ("POST", "/me/responses/bulk"): Rule.OWN,
    ("PUT", "/responses/{response_id}"): Rule.OWN,  # argilla: the response's own user (or a lead)
    ("DELETE", "/responses/{response_id}"): Rule.OWN,
    # The task as every member sees it in the UI.
    ("GET", "/datasets/{dataset_id}/fields"): Rule.OWN,
    ("GET", "/datasets/{dataset_id}/questions"): Rule.OWN,
    ("GET", "/datasets/{dataset_id}/vectors-settings"): Rule.OWN,
    ("GET", "/records/{record_id}/suggestions"): Rule.OWN,  # suggestions carry no user
    ("GET", "/datasets/{dataset_id}/records/search/suggestions/options"): Rule.OWN,
    # Filtered for annotators.
    ("GET", "/records/{record_id}"): Rule.RECORD,
    ("POST", "/me/datasets/{dataset_id}/records/search"): Rule.SEARCH,
    ("GET", "/datasets/{dataset_id}/progress"): Rule.PROGRESS,
    ("GET", "/datasets/{dataset_id}/users/progress"): Rule.USERS_PROGRESS,
    ("GET", "/me/datasets"): Rule.DATASET,
    ("GET", "/datasets/{dataset_id}"): Rule.DATASET,
    ("GET", "/me/datasets/{dataset_id}/metadata-properties"): Rule.METADATA_PROPERTIES,
    ("GET", "/metadata-properties/{metadata_property_id}/metrics"): Rule.METADATA_METRICS,
    # Leads only (argilla's policies say owner, or admin of the workspace).
    ("POST", "/datasets"): Rule.LEADS,
    ("PATCH", "/datasets/{dataset_id}"): Rule.LEADS,
    ("DELETE", "/datasets/{dataset_id}"): Rule.LEADS,
    ("PUT", "/datasets/{dataset_id}/publish"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/fields"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/questions"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/metadata-properties"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/vectors-settings"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/import"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/export"): Rule.LEADS,
    ("GET", "/datasets/{dataset_id}/records"): Rule.LEADS,  # every user's responses
    ("DELETE", "/datasets/{dataset_id}/records"): Rule.LEADS,
    ("POST", "/datasets/{dataset_id}/records/search"): Rule.LEADS,  # every user's responses
    ("GET", "/labelbook/datasets/{dataset_id}/records"): Rule.LEADS,  # labelbook's, server/_pull.py
    ("POST", "/datasets/{dataset_id}/records/bulk"): Rule.LEADS,
    ("PUT", "/datasets/{dataset_id}/records/bulk"): Rule.LEADS,
    ("PATCH", "/fields/{field_id}"): Rule.LEADS,
    ("DELETE", "/fields/{field_id}"): Rule.LEADS,
    ("PATCH", "/questions/{question_id}"): Rule.LEADS,
    ("DELETE", "/questions/{question_id}"): Rule.LEADS,
    ("PATCH", "/metadata-properties/{metadata_property_id}"): Rule.LEADS,
    ("DELETE", "/metadata-properties/{metadata_property_id}"): Rule.LEADS,
    ("PATCH", "/records/{record_id}"): Rule.LEADS,
    ("DELETE", "/records/{record_id}"): Rule.LEADS,
    ("PUT", "/records/{record_id}/suggestions"): Rule.LEADS,
    ("DELETE", "/records/{record_id}/suggestions"): Rule.LEADS,
    ("DELETE", "/suggestions/{suggestion_id}"): Rule.LEADS,
    ("PATCH", "/vectors-settings/{vector_settings_id}"): Rule.LEADS,
    ("DELETE", "/vectors-settings/{vector_settings_id}"): Rule.LEADS,
    ("GET", "/users"): Rule.LEADS,
    ("POST", "/users"): Rule.LEADS,
    ("GET", "/users/{user_id}"): Rule.LEADS,
    ("PATCH", "/users/{user_id}"): Rule.LEADS,
    ("DELETE", "/users/{user_id}"): Rule.LEADS,
    ("GET", "/users/{user_id}/workspaces"): Rule.LEADS,
    ("POST", "/workspaces"): Rule.LEADS,
    ("DELETE", "/workspaces/{workspace_id}"): Rule.LEADS,
    ("GET", "/workspaces/{workspace_id}/users"): Rule.LEADS,
    ("POST", "/workspaces/{workspace_id}/users"): Rule.LEADS,
    ("DELETE", "/workspaces/{workspace_id}/users/{user_id}"): Rule.LEADS,
    ("GET", "/webhooks"): Rule.LEADS,
    ("POST", "/webhooks"): Rule.LEADS,
    ("PATCH", "/webhooks/{webhook_id}"): Rule.LEADS,
    ("DELETE", "/webhooks/{webhook_id}"): Rule.LEADS,
    ("POST", "/webhooks/{webhook_id}/ping"): Rule.LEADS,
    ("GET", "/jobs/{job_id}"): Rule.LEADS,
}


class UnfilterableReply(Exception):
    """An annotator's reply on a filtered route had a shape the filter does not know."""


@dataclass(frozen=True)
class _Route:
    regex: re.Pattern[str]
    methods: frozenset[str] | None
    rule_by_method: dict[str, Rule]
    param_names: tuple[str, ...]


@dataclass(frozen=True)
class Caller:
    """Who the API authenticated for this request (from argilla's `request.state.user`)."""

    id: str
    username: str
    role: str

    @property
    def privileged(self) -> bool:
        return self.role in PRIVILEGED_ROLES


def classify_routes(routes: Iterable[Any]) -> tuple[list[_Route], list[str]]:
    """The API's routes in dispatch order with their rules, and the routes `RULES` does not name."""
    table: list[_Route] = []
    missing: list[str] = []
    for route in routes:
        path = getattr(route, "path", None)
        regex = getattr(route, "path_regex", None)
        if path is None or regex is None:
            missing.append(f"{type(route).__name__} {path}")
            continue
        methods = getattr(route, "methods", None)
        by_method: dict[str, Rule] = {}
        for method in sorted(methods or {"*"}):
            rule = RULES.get((method, path))
            if rule is None:
                missing.append(f"{method} {API_PREFIX}{path}")
            else:
                by_method[method] = rule
        table.append(
            _Route(
                regex=regex,
                methods=frozenset(methods) if methods else None,
                rule_by_method=by_method,
                param_names=tuple(getattr(route, "param_convertors", {}) or ()),
            )
        )
    return table, missing


def match(table: list[_Route], method: str, path: str) -> tuple[Rule, dict[str, str]]:
    """The rule of the route FastAPI dispatches `method path` to (path relative to /api/v1)."""
    for route in table:
        found = route.regex.match(path)
        if found is None:
            continue
        if route.methods is not None and method not in route.methods:
            continue  # Starlette keeps looking for a full match, then answers 405
        return route.rule_by_method.get(method, Rule.UNKNOWN), found.groupdict()
    return Rule.UNKNOWN, {}


def _caller(scope: Scope) -> Caller | None:
    user = (scope.get("state") or {}).get("user")
    if user is None:
        return None
    try:
        role = getattr(user.role, "value", user.role)
        return Caller(id=str(UUID(str(user.id))), username=str(user.username), role=str(role))
    except Exception:  # an object we do not know: treat as no one privileged
        return Caller(id="", username="", role="")


@functools.cache
def _uuid_adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(UUID)  # built once: building one costs more than a page of records' filtering


def _parse_uuid(value: Any) -> UUID:
    """Parse an id exactly as FastAPI parsed the path parameter (pydantic's UUID)."""
    return _uuid_adapter().validate_python(value)


class AnnotatorPrivacy:
    """The ASGI wrapper: see the module docstring."""

    def __init__(self, app: ASGIApp, api_routes: Iterable[Any]) -> None:
        self.app = app
        self.table, missing = classify_routes(api_routes)
        if missing:
            raise RuntimeError(
                "argilla-server serves routes labelbook's privacy filter does not classify: "
                + ", ".join(missing)
                + f". Add them to RULES in {__name__} before serving annotators."
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        rule, params = match(self.table, scope["method"], path[len(API_PREFIX) :])
        if rule is Rule.PUBLIC:
            await self.app(scope, receive, send)
            return
        request_body: bytes | None = None
        if rule is Rule.SEARCH:
            request_body, receive = await _buffer_request(receive)
            if request_body is None:
                await _reply(send, 413, "The search request is too large.")
                return
        if rule not in (Rule.OWN, Rule.LEADS, Rule.UNKNOWN):
            # An uncompressed body is one we can read and filter.
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        guard = _Guard(scope, send, rule, params, request_body)
        await self.app(scope, receive, guard.send)
        await guard.finish()


class _Guard:
    """Sees the reply of one request on a non-public route and decides what the caller gets."""

    def __init__(
        self, scope: Scope, send: Send, rule: Rule, params: dict[str, str], request_body: bytes | None
    ) -> None:
        self.scope = scope
        self.downstream = send
        self.rule = rule
        self.params = params
        self.request_body = request_body
        self.mode = "undecided"  # "pass", "filter", "refused", "sent"
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    @functools.cached_property
    def metadata_names(self) -> set[Any] | None:
        """`_metadata_names` of the search body, read once per request."""
        return _metadata_names(self.request_body or b"")

    async def send(self, message: Message) -> None:
        if self.mode == "pass":
            await self.downstream(message)
            return
        if self.mode in ("refused", "sent"):
            return
        if message["type"] == "http.response.start":
            self.start = message
            await self._decide(message)
            return
        if message["type"] != "http.response.body":
            return
        self.chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            await self._filter_and_send()

    async def finish(self) -> None:
        """After the app returned: a reply it left unfinished is withheld, not half sent."""
        if self.mode == "filter":
            self.mode = "refused"
            await _reply(self.downstream, 500, _WITHHELD)

    async def _decide(self, start: Message) -> None:
        status = int(start["status"])
        caller = _caller(self.scope)
        if caller is not None and caller.privileged:
            return await self._pass(start)
        if self.rule is Rule.OWN:
            return await self._pass(start)
        if self.rule is Rule.UNKNOWN:
            if caller is None and status >= 300:
                return await self._pass(start)  # a redirect, 404 or 405 before anyone was authenticated
            return await self._refuse(403, "This path is not available to annotators.")
        if self.rule is Rule.LEADS:
            if status >= 300:
                return await self._pass(start)
            return await self._refuse(403, "Only the project's leads may do this.")
        if self.rule is Rule.SEARCH and caller is not None and status not in (401, 403, 404):
            # Also over argilla's own 422 for an undeclared key: one answer for every name not shown.
            refusal = await self._hidden_metadata_in_query()
            if refusal:
                return await self._refuse(422, refusal)
        if not 200 <= status < 300:
            return await self._pass(start)
        if caller is None:
            return await self._refuse(500, "The server could not tell who asked; the reply is withheld.")
        if self.rule is Rule.METADATA_METRICS:
            # argilla checks the property's roles too; a hidden property's values stay hidden either way.
            try:
                property_id = _parse_uuid(self.params.get("metadata_property_id"))
            except ValueError:
                property_id = None
            visible = property_id is not None and await _metadata_property_visible(property_id)
            if visible:
                return await self._pass(start)
            return await self._refuse(403, "This metadata property is not visible to annotators.")
        headers = dict((k.lower(), v) for k, v in start.get("headers", []))
        if headers.get(b"content-encoding", b"identity") != b"identity":
            _log.error("privacy: a %s reply came compressed; withheld", self.rule.value)
            return await self._refuse(500, _WITHHELD)
        self.mode = "filter"

    async def _pass(self, start: Message) -> None:
        self.mode = "pass"
        await self.downstream(start)

    async def _refuse(self, status: int, detail: str) -> None:
        self.mode = "refused"
        await _reply(self.downstream, status, detail)

    async def _hidden_metadata_in_query(self) -> str | None:
        """A reason to refuse, when the search filters or sorts on metadata hidden from annotators."""
        names = self.metadata_names
        if not names:
            # None (not JSON): argilla answers 422 itself; should it answer 200, the reply is withheld.
            return None
        try:
            dataset_id = _parse_uuid(self.params.get("dataset_id"))
        except ValueError:
            return None  # not a dataset id: argilla answers 422
        visible = await _annotator_metadata(dataset_id)
        for name in sorted(names):
            if not isinstance(name, str) or name not in visible:
                return (
                    f"Filtering or sorting on metadata property {name!r} is not available to annotators "
                    "in this dataset. Filter on the properties shown in the dataset's metadata filter."
                )
        return None

    async def _filter_and_send(self) -> None:
        assert self.start is not None
        body = b"".join(self.chunks)
        try:
            caller = _caller(self.scope)
            if caller is None:
                raise UnfilterableReply("no caller")
            if self.rule is Rule.SEARCH and self.metadata_names is None:
                raise UnfilterableReply("the search body was not JSON, yet argilla answered it")
            filtered = await _filter(self.rule, json.loads(body), caller)
            body = _render(filtered)
        except (UnfilterableReply, ValueError, TypeError, KeyError, AttributeError) as err:
            _log.error("privacy: withheld an annotator's %s reply (%s)", self.rule.value, type(err).__name__)
            self.mode = "refused"
            await _reply(self.downstream, 500, _WITHHELD)
            return
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        self.mode = "sent"
        await self.downstream(
            {**self.start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        )
        await self.downstream({"type": "http.response.body", "body": body, "more_body": False})


_WITHHELD = (
    "labelbook could not filter this reply for an annotator, so it is withheld. "
    "The server's api.log says which route; tell the project lead."
)


def _render(content: Any) -> bytes:
    """JSON as Starlette's `JSONResponse` writes it: a reply left whole is argilla's, byte for byte."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _buffer_request(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole request body, and a `receive` that replays it to the app."""
    chunks: list[bytes] = []
    size = 0
    pending: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending.append(message)
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_SEARCH_BODY:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replay: list[Message] = [*pending, {"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if replay:
            return replay.pop()
        return await receive()

    return body, replayed


def _metadata_names(body: bytes) -> set[Any] | None:
    """Every value under a `metadata_property` key anywhere in a JSON body (duplicate keys too).

    Reading every occurrence, not pydantic's model, means no spelling of the query reaches argilla
    with a hidden property the check did not see. None when the body is not JSON.
    """
    names: set[Any] = set()

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        for key, value in pairs:
            if key == "metadata_property":
                names.add(value if isinstance(value, str) else repr(value))
        return dict(pairs)

    if not body.strip():
        return names
    try:
        json.loads(body, object_pairs_hook=collect)
    except ValueError:
        return None
    return names


async def _annotator_metadata(dataset_id: UUID) -> frozenset[str]:
    """Names of the dataset's metadata properties annotators may see (visible_for_annotators)."""

    def work(conn: sqlite3.Connection) -> frozenset[str]:
        rows = conn.execute(
            "SELECT name, allowed_roles FROM metadata_properties WHERE dataset_id = ?", (dataset_id.hex,)
        ).fetchall()
        return frozenset(name for name, roles in rows if _annotators_allowed(roles))

    return await _read(work)


async def _metadata_property_visible(property_id: UUID) -> bool:
    def work(conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT allowed_roles FROM metadata_properties WHERE id = ?", (property_id.hex,)
        ).fetchone()
        return row is not None and _annotators_allowed(row[0])

    return await _read(work)


async def _read(work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` on the engine's read-only connection, in a thread (an SQLAlchemy session cost more)."""
    from labelbook.server import schema

    return await asyncio.to_thread(schema.read, str(schema.database_path()), work)


def _annotators_allowed(stored: Any) -> bool:
    """Whether a property's `allowed_roles`, as argilla stores them (a JSON list), include annotators."""
    roles = json.loads(stored) if isinstance(stored, str | bytes) else stored
    if not isinstance(roles, list):
        raise UnfilterableReply(f"allowed_roles is not a list: {type(roles).__name__}")
    return "annotator" in {str(getattr(role, "value", role)) for role in roles}


class _MetadataCache:
    """Visible metadata names per dataset, for the records of one reply."""

    def __init__(self) -> None:
        self.by_dataset: dict[UUID, frozenset[str]] = {}
        self.by_spelling: dict[str, frozenset[str]] = {}

    async def visible(self, dataset_id: Any) -> frozenset[str]:
        if isinstance(dataset_id, str) and dataset_id in self.by_spelling:
            return self.by_spelling[dataset_id]  # the records of a page name their dataset alike
        key = _parse_uuid(dataset_id)
        if key not in self.by_dataset:
            self.by_dataset[key] = await _annotator_metadata(key)
        if isinstance(dataset_id, str):
            self.by_spelling[dataset_id] = self.by_dataset[key]
        return self.by_dataset[key]


async def _filter(rule: Rule, data: Any, caller: Caller) -> Any:
    if rule is Rule.RECORD:
        return await _own_record(_object(data), caller, _MetadataCache())
    if rule is Rule.SEARCH:
        result = _object(data)
        cache = _MetadataCache()
        for item in _list(result.get("items")):
            _object(item)["record"] = await _own_record(_object(item.get("record")), caller, cache)
        return result
    if rule is Rule.PROGRESS:
        progress = _object(data)
        progress["users"] = _own_entries(progress.get("users", []), caller)
        return progress
    if rule is Rule.USERS_PROGRESS:
        progress = _object(data)
        progress["users"] = _own_entries(progress.get("users"), caller)
        return progress
    if rule is Rule.DATASET:
        datasets = _object(data)
        for dataset in _list(datasets["items"]) if "items" in datasets else [datasets]:
            _object(dataset)["metadata"] = None
        return datasets
    if rule is Rule.METADATA_PROPERTIES:
        listing = _object(data)
        listing["items"] = [
            p for p in _list(listing.get("items")) if _object(p).get("visible_for_annotators") is True
        ]
        return listing
    raise UnfilterableReply(f"no filter for {rule}")


async def _own_record(record: dict[str, Any], caller: Caller, cache: _MetadataCache) -> dict[str, Any]:
    responses = record.get("responses")
    if responses is not None:
        record["responses"] = [r for r in _list(responses) if str(_object(r).get("user_id")) == caller.id]
    metadata = record.get("metadata")
    if metadata is not None:
        visible = await cache.visible(record["dataset_id"])
        record["metadata"] = {k: v for k, v in _object(metadata).items() if k in visible}
    return record


def _own_entries(entries: Any, caller: Caller) -> list[Any]:
    return [e for e in _list(entries) if _object(e).get("username") == caller.username]


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnfilterableReply(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UnfilterableReply(f"expected a list, got {type(value).__name__}")
    return value
