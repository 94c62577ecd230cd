"""The embedded Argilla stack: argilla-server with SQLite, a bundled redis and labelbook's search engine.

from labelbook import server
info = server.start(data_dir, port=6900)   # detached; returns once the API answers
server.status(data_dir).state              # "running" | "stopped" | "crashed"
server.stop(data_dir)
server.backup("lb.tar", data_dir)         # consistent while annotators submit
server.restore("lb.tar", other_dir)       # into a stopped server's data dir
"""

from __future__ import annotations

from labelbook.server.backup import BackupInfo, RestoreInfo, backup, restore
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
    "BackupInfo",
    "Credentials",
    "RestoreInfo",
    "ServerPaths",
    "ServerStatus",
    "backup",
    "default_data_dir",
    "restore",
    "run_foreground",
    "start",
    "status",
    "stop",
]
