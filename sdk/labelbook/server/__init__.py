"""The embedded Argilla stack: argilla-server with SQLite, a bundled redis and labelbook's search engine.

from labelbook import server
info = server.start(data_dir, port=6900)   # detached; returns once the API answers
server.status(data_dir).state              # "running" | "stopped" | "crashed"
server.stop(data_dir)
"""

from __future__ import annotations

from labelbook.server.launcher import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Credentials,
    ServerPaths,
    ServerStatus,
    default_data_dir,
    run_foreground,
    start,
    status,
    stop,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Credentials",
    "ServerPaths",
    "ServerStatus",
    "default_data_dir",
    "run_foreground",
    "start",
    "status",
    "stop",
]
