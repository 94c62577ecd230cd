"""Shared test setup.

Tests never reach the internet and never see the developer's Argilla settings. Tests that need
Argilla share one embedded server per session (`lb_server`, `argilla_client`), started through
the same code path as `labelbook server start`, on a free port and a temporary data dir.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labelbook import server

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for _name in ("ARGILLA_API_URL", "ARGILLA_API_KEY"):
    os.environ.pop(_name, None)


def free_port() -> int:
    """A TCP port nobody listens on right now (the server refuses busy ports, so a race fails loudly)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    """What a test needs to reach the session's server."""

    url: str
    api_key: str
    username: str
    password: str
    data_dir: Path


@pytest.fixture(scope="session")
def lb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("argilla-server")
    info = server.start(data_dir, port=free_port())
    assert info.url is not None and info.credentials is not None
    try:
        yield RunningServer(
            url=info.url,
            api_key=info.credentials.api_key,
            username=info.credentials.username,
            password=info.credentials.password,
            data_dir=data_dir,
        )
    finally:
        server.stop(data_dir)


@pytest.fixture(scope="session")
def argilla_client(lb_server: RunningServer) -> Iterator[Any]:
    """The argilla SDK as the server's owner; closed at the end so no socket is left to the collector."""
    import argilla as rg

    client = rg.Argilla(api_url=lb_server.url, api_key=lb_server.api_key)
    try:
        yield client
    finally:
        client.http_client.close()
