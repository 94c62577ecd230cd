"""The API process: migrations, the owner account, then argilla-server's API and UI under uvicorn.

Run by `labelbook server start` as `python -m labelbook.server._api`. Migrations and owner
creation share this process with the app so the ~3.6 s of argilla_server imports are paid once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from labelbook.server._bootstrap import enable_wal, prepare_process, remember_subscriptions
from labelbook.server.launcher import Credentials, ServerPaths, is_loopback

# Seconds an idle HTTP connection stays open (uvicorn's default is 5; nginx's 75).
KEEP_ALIVE_SECONDS = 75


def migrate() -> None:
    """Bring the database schema to argilla-server's head revision, in this process."""
    from alembic import command
    from alembic.config import Config
    from argilla_server.database import ALEMBIC_CONFIG_FILE

    command.upgrade(Config(ALEMBIC_CONFIG_FILE), "head")


async def ensure_owner(credentials: Credentials) -> None:
    """Create the owner (and its workspace) or bring its password and API key in line with the file."""
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.models import User, UserRole, Workspace
    from sqlalchemy import select

    async with AsyncSessionLocal() as session:
        workspace = (
            await session.execute(select(Workspace).filter_by(name=credentials.username))
        ).scalar_one_or_none()
        if workspace is None:
            workspace = Workspace(name=credentials.username)
            session.add(workspace)
        user = await accounts.get_user_by_username(session, credentials.username)
        if user is None:
            user = User(
                first_name="labelbook",
                username=credentials.username,
                role=UserRole.owner,
                api_key=credentials.api_key,
                password_hash=accounts.hash_password(credentials.password),
                workspaces=[workspace],
            )
            session.add(user)
        elif user.api_key != credentials.api_key or not accounts.verify_password(
            credentials.password, user.password_hash
        ):
            # The credentials file was deleted or replaced: the file is the source of truth.
            user.api_key = credentials.api_key
            user.password_hash = accounts.hash_password(credentials.password)
        await session.commit()


async def refuse_default_credentials() -> None:
    """Beyond loopback, refuse to serve while argilla's well-known default owner still works."""
    from argilla_server.constants import DEFAULT_API_KEY
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal

    async with AsyncSessionLocal() as session:
        user = await accounts.get_user_by_api_key(session, DEFAULT_API_KEY)
    if user is not None:
        sys.exit(
            f"Refusing to listen beyond loopback: user {user.username!r} still has argilla's default "
            "API key. Change it (or delete that user), or bind to 127.0.0.1."
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m labelbook.server._api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6900)
    args = parser.parse_args()

    paths = ServerPaths(Path(os.environ["LABELBOOK_SERVER_DATA_DIR"]))
    credentials = Credentials.read(paths.credentials)
    if credentials is None:
        sys.exit(
            f"No owner credentials at {paths.credentials}; start the server with `labelbook server start`."
        )
    started = time.perf_counter()

    def phase(name: str) -> None:
        # Start-up phases in the log, so a slow start can be read off api.log.
        print(f"labelbook: {name} done at {time.perf_counter() - started:.2f} s", flush=True)

    enable_wal(paths.database)
    prepare_process()
    remember_subscriptions()
    phase("imports")
    migrate()
    phase("migrations")
    from labelbook.server import engine

    engine.ensure_schema(paths.database)
    asyncio.run(ensure_owner(credentials))
    if not is_loopback(args.host):
        asyncio.run(refuse_default_credentials())
    phase("search schema and owner")
    # Similarity searches scan the table until their cache is in: no first-search stall.
    try:
        engine.warm_vector_caches(paths.database)
    except Exception as err:  # a cache is an optimisation: serve without it rather than not at all
        print(f"labelbook: could not start loading the vector caches: {err!r}", flush=True)

    import uvicorn
    from argilla_server import app
    from argilla_server.api.routes import api_v1

    from labelbook.server import _pull
    from labelbook.server._privacy import AnnotatorPrivacy

    _pull.install(api_v1)
    guarded = AnnotatorPrivacy(app, api_v1.routes)
    # An idle connection is kept longer than clients keep theirs (httpx: 5 s, uvicorn's own default
    # too): a client that sends on a connection the server is closing at that moment gets no reply
    # ("Server disconnected without sending a response"), and an SDK does not send a POST again.
    uvicorn.run(
        guarded,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="info",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
