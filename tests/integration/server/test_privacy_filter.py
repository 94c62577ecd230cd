"""The privacy filter fails closed: replies it cannot read are withheld from annotators, never passed on.

The filter wraps argilla-server's app in the API process (tests/integration/argilla/test_safety.py
checks it there, route by route). Here it wraps a stand-in that answers like argilla would but with
replies of a shape the filter does not know, which the real server cannot be made to send, routed
through argilla-server 2.8's own route table.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from labelbook.server._privacy import RULES, AnnotatorPrivacy, Rule, classify_routes, match

ANNOTATOR = SimpleNamespace(id=uuid.uuid4(), username="me", role=SimpleNamespace(value="annotator"))
OWNER = SimpleNamespace(id=uuid.uuid4(), username="boss", role=SimpleNamespace(value="owner"))
RECORD = "/api/v1/records/" + str(uuid.uuid4())


@pytest.fixture(scope="module")
def api_routes() -> list[Any]:
    from argilla_server.api.routes import api_v1

    from labelbook.server import _pull

    _pull.install(api_v1)  # as the API process does
    return list(api_v1.routes)


def argilla_like(
    body: bytes, user: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None
) -> Any:
    """An ASGI app that authenticates `user` the way argilla does (request.state.user) and sends `body`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if user is not None:
            scope.setdefault("state", {})["user"] = user
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers or [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body[:5], "more_body": True})
        await send({"type": "http.response.body", "body": body[5:]})

    return app


def ask(api_routes: list[Any], app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=AnnotatorPrivacy(app, api_routes))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_every_route_of_argilla_server_is_classified(api_routes: list[Any]) -> None:
    table, missing = classify_routes(api_routes)
    assert missing == []
    assert len(table) == len(api_routes)
    served = {(method, route.path) for route in api_routes for method in route.methods}
    assert served == set(RULES), "RULES names a route argilla-server does not serve"


def test_a_route_the_filter_does_not_know_stops_the_api_from_starting(api_routes: list[Any]) -> None:
    from fastapi.routing import APIRoute

    extra = APIRoute("/records/{record_id}/everything", endpoint=lambda record_id: {}, methods=["GET"])
    with pytest.raises(RuntimeError, match=r"GET /api/v1/records/\{record_id\}/everything"):
        AnnotatorPrivacy(argilla_like(b"{}", None), [*api_routes, extra])


@pytest.mark.parametrize(
    ("method", "path", "rule"),
    [
        ("GET", "/records/0B7E7A4B-1111-4222-8333-444455556666", Rule.RECORD),
        ("GET", "/records/{0b7e7a4b-1111-4222-8333-444455556666}", Rule.RECORD),
        ("GET", "/records/urn:uuid:0b7e7a4b-1111-4222-8333-444455556666", Rule.RECORD),
        ("GET", "/records/anything-at-all", Rule.RECORD),  # the shape decides, not the spelling
        ("GET", "/records/x/suggestions", Rule.OWN),
        ("POST", "/me/datasets/x/records/search", Rule.SEARCH),
        ("POST", "/datasets/x/records/search", Rule.LEADS),
        ("GET", "/datasets/x/progress", Rule.PROGRESS),
        ("GET", "/datasets/x/users/progress", Rule.USERS_PROGRESS),
        ("GET", "/me/datasets/x/records", Rule.UNKNOWN),
        ("GET", "/records/x/", Rule.UNKNOWN),
        ("HEAD", "/records/x", Rule.UNKNOWN),
    ],
)
def test_requests_are_matched_on_the_route_shape(
    api_routes: list[Any], method: str, path: str, rule: Rule
) -> None:
    table, _ = classify_routes(api_routes)
    assert match(table, method, path)[0] is rule


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (RECORD, b"<html>not json</html>"),
        (RECORD, b'{"responses": {"user_id": "someone"}}'),
        (RECORD, b'["a", "list"]'),
        ("/api/v1/datasets/x/progress", b'{"total": 3, "users": {"other": 1}}'),
        ("/api/v1/datasets/x/users/progress", b'{"people": []}'),
        ("/api/v1/datasets/x/users/progress", b'{"users": ["other-annotator"]}'),
        ("/api/v1/me/datasets", b'{"items": {"metadata": 1}}'),
    ],
)
def test_a_reply_the_filter_cannot_read_is_withheld_from_an_annotator(
    api_routes: list[Any], path: str, body: bytes
) -> None:
    withheld = ask(api_routes, argilla_like(body, ANNOTATOR), "GET", path)
    assert withheld.status_code == 500
    assert "withheld" in withheld.json()["detail"]
    assert b"other" not in withheld.content and b"someone" not in withheld.content
    # The owner gets argilla's reply as it was.
    assert ask(api_routes, argilla_like(body, OWNER), "GET", path).content == body


def test_an_unreadable_search_body_that_argilla_answered_is_withheld(api_routes: list[Any]) -> None:
    reply = json.dumps({"items": [], "total": 0}).encode()
    path = "/api/v1/me/datasets/x/records/search"
    withheld = ask(api_routes, argilla_like(reply, ANNOTATOR), "POST", path, content=b"{not json")
    assert withheld.status_code == 500


@pytest.mark.parametrize(
    ("user", "expected"),
    [(ANNOTATOR, 500), (None, 500), (OWNER, 200)],
    ids=["annotator", "no one authenticated", "owner"],
)
def test_a_compressed_or_anonymous_reply_is_not_passed_to_an_annotator(
    api_routes: list[Any], user: Any, expected: int
) -> None:
    compressed = [(b"content-type", b"application/json"), (b"content-encoding", b"br")]
    reply = ask(api_routes, argilla_like(b"\x0b\x02\x80{}\x03", user, headers=compressed), "GET", RECORD)
    assert reply.status_code == expected


def test_success_on_a_leads_route_or_an_unknown_path_is_refused_to_an_annotator(
    api_routes: list[Any],
) -> None:
    everyone = json.dumps({"items": [{"username": "other-annotator"}]}).encode()
    for method, path in (
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/datasets/x/records"),
        ("POST", "/api/v1/datasets/x/records/search"),
        ("GET", "/api/v1/records/x/everything"),
    ):
        refused = ask(api_routes, argilla_like(everyone, ANNOTATOR), method, path, json={})
        assert refused.status_code == 403, (method, path)
        assert b"other-annotator" not in refused.content
        assert ask(api_routes, argilla_like(everyone, OWNER), method, path, json={}).content == everyone
    # argilla's own refusals pass through unchanged.
    denied = ask(api_routes, argilla_like(b'{"detail": "no"}', ANNOTATOR, status=403), "GET", "/api/v1/users")
    assert (denied.status_code, denied.json()) == (403, {"detail": "no"})


def test_progress_keeps_the_totals_and_the_callers_own_entry(api_routes: list[Any]) -> None:
    progress = {
        "total": 9,
        "completed": 4,
        "pending": 5,
        "users": [{"username": "me"}, {"username": "other"}],
    }
    got = ask(
        api_routes,
        argilla_like(json.dumps(progress).encode(), ANNOTATOR),
        "GET",
        "/api/v1/datasets/x/progress",
    )
    assert got.json() == {"total": 9, "completed": 4, "pending": 5, "users": [{"username": "me"}]}
    assert int(got.headers["content-length"]) == len(got.content)
