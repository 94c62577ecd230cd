"""Contractors see their own answers only.

argilla-server 2.8 answers `GET /api/v1/records/{id}` with every user's response to any member
of the workspace, so an annotator could read other annotators' user ids and answers. This ASGI
wrapper, installed around the app by the API process, keeps only the caller's own responses
when the caller is an annotator. Owners and admins see everything, as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_RECORD_PATH = re.compile(r"^/api/v1/records/[0-9a-fA-F-]{36}/?$")


class OwnResponsesOnly:
    """Filter `responses` of a single-record GET down to the calling annotator's own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _RECORD_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        # An uncompressed body is one we can read; the record endpoint's answers are small.
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = _filtered(b"".join(chunks), scope, start["status"])
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _filtered(body: bytes, scope: Scope, status: int) -> bytes:
    user = (scope.get("state") or {}).get("user")
    role = getattr(getattr(user, "role", None), "value", getattr(user, "role", None))
    if status != 200 or user is None or role != "annotator":
        return body
    try:
        record = json.loads(body)
    except ValueError:
        return body
    if not isinstance(record, dict) or not isinstance(record.get("responses"), list):
        return body
    own = str(user.id)
    record["responses"] = [r for r in record["responses"] if str(r.get("user_id")) == own]
    return json.dumps(record).encode()
