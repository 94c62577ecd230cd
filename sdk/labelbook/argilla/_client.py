"""The connection to an Argilla server, and the one boundary where its errors become BackendError.

Every request labelbook makes goes through `Connection.request` (the REST API, JSON in and out)
or runs inside `Connection.errors()` (the argilla SDK); both turn transport failures, HTTP error
statuses and argilla's exceptions into `BackendError`, raised `from` the cause.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from labelbook.errors import BackendError

START_HINT = "start the local one with `labelbook server start`, or set ARGILLA_API_URL to your server"


@dataclass
class Connection:
    """An authenticated connection to one Argilla server (its API key is never shown in the repr)."""

    url: str
    """The server's base URL, e.g. http://127.0.0.1:6900."""
    api_key: str = field(repr=False)
    """The API key requests are made with."""
    _client: Any = field(default=None, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)

    @property
    def http(self) -> httpx.Client:
        """An httpx client with the API key header (shared with the argilla SDK client, once made)."""
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.url,
                headers={"X-Argilla-Api-Key": self.api_key},
                timeout=120,
                transport=httpx.HTTPTransport(retries=2),
            )
        return self._http

    @property
    def client(self) -> Any:
        """The argilla SDK's `rg.Argilla` for this server (made on first use)."""
        if self._client is None:
            import argilla as rg

            with self.errors():
                self._client = rg.Argilla(api_url=self.url, api_key=self.api_key, retries=2)
        return self._client

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.http_client.close()
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def errors(self, doing: str = "") -> Iterator[None]:
        """Turn what the argilla SDK or httpx raise inside the block into BackendError."""
        try:
            yield
        except BackendError:
            raise
        except httpx.TransportError as err:
            raise BackendError(
                f"cannot reach the Argilla server at {self.url} ({type(err).__name__}: {err}); {START_HINT}."
            ) from err
        except httpx.HTTPStatusError as err:
            raise _status_error(self.url, err.response, doing) from err
        except Exception as err:
            from argilla._exceptions import ArgillaCredentialsError
            from argilla._exceptions._api import ArgillaAPIError

            if isinstance(err, ArgillaCredentialsError):
                raise BackendError(_wrong_key(self.url)) from err
            if isinstance(err, ArgillaAPIError):
                status = getattr(err, "status_code", 500)
                if status == 401:
                    raise BackendError(_wrong_key(self.url)) from err
                what = f" while {doing}" if doing else ""
                raise BackendError(f"Argilla at {self.url} answered {status}{what}: {err}") from err
            raise

    def request(self, method: str, path: str, doing: str = "", **kwargs: Any) -> Any:
        """One REST call; the decoded JSON reply (None for an empty body)."""
        with self.errors(doing):
            response = self.http.request(method, path, **kwargs)
            if response.status_code >= 400:
                raise _status_error(self.url, response, doing)
            if not response.content:
                return None
            return response.json()


def _wrong_key(url: str) -> str:
    return (
        f"the Argilla server at {url} refused the API key (401 Unauthorized): check ARGILLA_API_KEY, or "
        "for the local server unset it so labelbook reads the key `labelbook server start` made."
    )


def _status_error(url: str, response: httpx.Response, doing: str) -> BackendError:
    if response.status_code == 401:
        return BackendError(_wrong_key(url))
    try:
        detail: Any = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if isinstance(detail, dict):
        detail = detail.get("message") or detail
    what = f" while {doing}" if doing else ""
    hint = ""
    if response.status_code == 403:
        hint = " (this API key's user is not allowed to do that: use an owner's or admin's key)"
    return BackendError(f"Argilla at {url} answered {response.status_code}{what}: {str(detail)[:500]}{hint}")


def same_server(a: str, b: str) -> bool:
    """Whether two base URLs name the same server (loopback names are one host)."""
    from urllib.parse import urlsplit

    loopback = {"localhost", "127.0.0.1", "::1"}
    x, y = urlsplit(a.rstrip("/")), urlsplit(b.rstrip("/"))
    hosts = {(x.hostname or "").lower(), (y.hostname or "").lower()}
    same_host = len(hosts) == 1 or hosts <= loopback
    return x.scheme == y.scheme and same_host and (x.port or 0) == (y.port or 0) and x.path == y.path


def connect(
    api_url: str | None = None, api_key: str | None = None, *, data_dir: str | os.PathLike[str] | None = None
) -> Connection:
    """Connect as the argilla SDK would: explicit arguments, then ARGILLA_API_URL / ARGILLA_API_KEY,
    then the local server started by `labelbook server start` (its data dir, default per-user)."""
    url = api_url or os.environ.get("ARGILLA_API_URL")
    key = api_key or os.environ.get("ARGILLA_API_KEY")
    if not url or not key:
        from labelbook import server

        info = server.status(Path(data_dir) if data_dir is not None else None)
        if url and not key and (info.state != "running" or not info.url or not same_server(url, info.url)):
            # The local owner's key opens every project on this machine: it never leaves for another server.
            raise BackendError(
                f"ARGILLA_API_URL is {url} but ARGILLA_API_KEY is not set: set the API key for that server "
                "(the local server's key is only ever sent to the local server)."
            )
        if info.state != "running" or info.url is None or info.credentials is None:
            where = f" (data dir {info.data_dir})" if data_dir is not None else ""
            raise BackendError(
                f"no Argilla server to publish to: ARGILLA_API_URL is not set and the local server is "
                f"{info.state}{where}; {START_HINT}."
            )
        url = url or info.url
        key = key or info.credentials.api_key
    connection = Connection(url.rstrip("/"), key)
    try:
        connection.request("GET", "/api/v1/me", doing="checking the API key")
    except BaseException:
        connection.close()
        raise
    return connection
