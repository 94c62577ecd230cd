"""An idle connection outlives a client's own idle limit, so a request sent on it always gets a reply.

httpx (the argilla SDK's and labelbook's client) drops an idle connection after 5 s; uvicorn's
default closed it after 5 s too, and a contractor's client that sent its answer just as the server
closed got "Server disconnected without sending a response" (the load test's simulated annotators
think ~10 s between requests). The server keeps idle connections 75 s (`KEEP_ALIVE_SECONDS`).
"""

from __future__ import annotations

import http.client
import time
from typing import Any
from urllib.parse import urlsplit

IDLE = 6.5  # seconds: past uvicorn's and httpx's 5 s


def test_a_connection_idle_for_longer_than_a_client_keeps_one_still_answers(lb_server: Any) -> None:
    url = urlsplit(lb_server.url)
    assert url.hostname is not None and url.port is not None
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/version")
        first = conn.getresponse()
        assert first.status == 200 and not first.will_close
        first.read()
        kept = conn.sock
        time.sleep(IDLE)
        # On a connection the server closed, this raises RemoteDisconnected (or a reset).
        conn.request("GET", "/api/v1/version")
        again = conn.getresponse()
        assert again.status == 200
        again.read()
        assert conn.sock is kept  # the same connection, not a new one
    finally:
        conn.close()
