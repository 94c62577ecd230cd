"""One embedded Argilla server per test session, started through the same code path as the CLI."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labelbook import server


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
def argilla_client(lb_server: RunningServer):  # type: ignore[no-untyped-def]
    import argilla as rg

    return rg.Argilla(api_url=lb_server.url, api_key=lb_server.api_key)
