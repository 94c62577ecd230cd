"""Replay API requests on argilla-server's app in this process, over a running server's database.

Run by tests/integration/server/test_search_per_request.py as a separate process, because
labelbook's changes to argilla-server are made to its modules and cannot be undone in the test
process. `--labelbook`: the app as labelbook's API process runs it (`prepare_process`);
without it, argilla-server's own code paths with only the search engine registered (which
argilla-server needs to answer a search at all). `--privacy`: behind labelbook's privacy filter.

Reads `{"data_dir": ..., "requests": [{"method", "path", "params", "json", "api_key"}]}` as JSON
on stdin; writes one JSON list as the last line on stdout: per request its status, body (latin-1
text, byte for byte) and the number of SQL statements argilla-server ran through SQLAlchemy for it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labelbook", action="store_true")
    parser.add_argument("--privacy", action="store_true")
    args = parser.parse_args()
    task = json.load(sys.stdin)

    from labelbook.server.launcher import ServerPaths, child_environment

    os.environ.update(child_environment(ServerPaths(Path(task["data_dir"]))))
    if args.labelbook:
        from labelbook.server._bootstrap import prepare_process, remember_subscriptions

        prepare_process()
        remember_subscriptions()
    else:
        import labelbook.server.engine  # noqa: F401 — registers the "labelbook" search engine

    import httpx
    from argilla_server import app
    from argilla_server.api.routes import api_v1
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from labelbook.server import _pull
    from labelbook.server._privacy import AnnotatorPrivacy

    statements = [0]

    @event.listens_for(Engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    _pull.install(api_v1)
    served = AnnotatorPrivacy(app, api_v1.routes) if args.privacy else app

    async def replay() -> list[dict[str, Any]]:
        replies = []
        transport = httpx.ASGITransport(app=served)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://labelbook.test") as client:
            for request in task["requests"]:
                statements[0] = 0
                reply = await client.request(
                    request["method"],
                    request["path"],
                    params=request.get("params"),
                    json=request.get("json"),
                    headers={"X-Argilla-Api-Key": request["api_key"]},
                )
                replies.append(
                    {
                        "status": reply.status_code,
                        "body": reply.content.decode("latin-1"),
                        "statements": statements[0],
                    }
                )
        return replies

    replies = asyncio.run(replay())
    sys.stdout.write("\n" + json.dumps(replies) + "\n")  # the last line: argilla-server logs to stdout too


if __name__ == "__main__":
    main()
