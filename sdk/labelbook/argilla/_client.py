"""The connection to an Argilla server, and the one boundary where its errors become BackendError.

Every request labelbook makes runs inside `Connection.errors()` (the argilla SDK, `Connection.client`)
or goes through `Connection.request` (the few raw calls of `_api`, JSON in and out); both turn
transport failures, HTTP error statuses and argilla's exceptions into `BackendError`, raised `from`
the cause, with the same message for the same answer of the server.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from labelbook.errors import BackendError

if TYPE_CHECKING:
    import argilla as rg

START_HINT = "start the local one with `labelbook server start`, or set ARGILLA_API_URL to your server"


@dataclass
class Connection:
    """An authenticated connection to one Argilla server (its API key is never shown in the repr)."""

    url: str
    """The server's base URL, e.g. http://127.0.0.1:6900."""
    api_key: str = field(repr=False)
    """The API key requests are made with."""
    data_dir: str | None = None
    """The local server's data dir, when the key is the one `labelbook server start` made there."""
    key_from: str = "ARGILLA_API_KEY"
    """Where the key came from, for messages: `ARGILLA_API_KEY`, `given`, or the local server's data dir."""
    url_from: str = "given"
    """Where the URL came from, for messages: `given`, `ARGILLA_API_URL`, `project.json` or `local`."""
    _client: Any = field(default=None, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)
    _making: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    """Held while a client is made: the upload's threads may be the first to ask for one."""

    @property
    def http(self) -> httpx.Client:
        """An httpx client with the API key header, for the raw calls of `_api`."""
        with self._making:
            if self._http is None:
                self._http = httpx.Client(
                    base_url=self.url,
                    headers={"X-Argilla-Api-Key": self.api_key},
                    timeout=120,
                    transport=httpx.HTTPTransport(retries=2),
                )
        return self._http

    @property
    def client(self) -> rg.Argilla:
        """The argilla SDK's `rg.Argilla` for this server, made on first use (which checks the key)."""
        with self._making:
            if self._client is None:
                with self.errors("checking the API key"):
                    self._client = _sdk_client(self.url, self.api_key)
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
        """Turn what the argilla SDK or httpx raise inside the block into BackendError.

        The SDK's errors carry the HTTP error they were raised from (`SettingsError` one step further
        back): the message is made from that reply, word for word as for `request`."""
        try:
            yield
        except BackendError:
            raise
        except httpx.TransportError as err:
            raise BackendError(_unreachable(self, err)) from err
        except httpx.HTTPStatusError as err:
            raise _status_error(self.url, err.response, doing, self.key_from) from err
        except Exception as err:
            from argilla._exceptions import ArgillaCredentialsError, ArgillaError

            if not isinstance(err, ArgillaError):
                raise
            cause = _http_cause(err)
            if isinstance(cause, httpx.TransportError):
                raise BackendError(_unreachable(self, cause)) from err
            if isinstance(err, ArgillaCredentialsError):
                raise BackendError(_wrong_key(self.url, self.key_from)) from err
            if isinstance(cause, httpx.HTTPStatusError):
                raise _status_error(self.url, cause.response, doing, self.key_from) from err
            status = getattr(err, "status_code", None)
            what = f" while {doing}" if doing else ""
            answered = f"answered {status}" if status else "refused"
            raise BackendError(f"Argilla at {self.url} {answered}{what}: {err}") from err

    def request(self, method: str, path: str, doing: str = "", **kwargs: Any) -> Any:
        """One REST call; the decoded JSON reply (None for an empty body)."""
        with self.errors(doing):
            response = self.http.request(method, path, **kwargs)
            if response.status_code >= 400:
                raise _status_error(self.url, response, doing, self.key_from)
            if not response.content:
                return None
            return response.json()


@contextlib.contextmanager
def sdk_default(client: rg.Argilla) -> Iterator[None]:
    """`client` as the argilla SDK's default client inside the block.

    The SDK builds settings objects (`rg.LabelQuestion.from_dict`, those `dataset.settings.get()`
    reads) with its default client, and makes one from the environment when there is none; labelbook's
    client is not made the default otherwise, so a researcher's own `rg.Argilla` stays theirs."""
    import argilla as rg

    previous = rg.Argilla._default_client
    rg.Argilla._default_client = client
    try:
        yield
    finally:
        rg.Argilla._default_client = previous


def _sdk_client(url: str, api_key: str) -> rg.Argilla:
    """The SDK's client, which checks the key (GET /api/v1/me) as it is made. A subclass only so that
    it neither becomes the SDK's default client (`_set_default` sets it on the subclass) nor leaves its
    socket open when the key is refused."""
    import argilla as rg

    class Client(rg.Argilla):
        def _validate_connection(self) -> None:
            try:
                super()._validate_connection()
            except BaseException:
                # A refused key raises out of the constructor: no one could close this client's socket.
                self.http_client.close()
                raise

    return Client(api_url=url, api_key=api_key, retries=2)


def _http_cause(err: BaseException) -> BaseException | None:
    """The httpx error an argilla SDK error was raised from (by `raise ... from` or inside `except`)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, httpx.HTTPStatusError | httpx.TransportError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _unreachable(connection: Connection, err: Exception) -> str:
    cause = f"({type(err).__name__}: {err})"
    where = connection.url
    if connection.url_from == "ARGILLA_API_URL":
        return (
            f"cannot reach the Argilla server at {where}, from ARGILLA_API_URL {cause}: start that server or "
            "correct ARGILLA_API_URL; unset it to use the local server of `labelbook server start`."
        )
    if connection.url_from == "project.json":
        return (
            f"cannot reach the Argilla server at {where}, recorded in the project's project.json {cause}: "
            "start it (for a local one, `labelbook server start --data-dir DIR` with the data dir it was "
            "started with), or set ARGILLA_API_URL / pass --data-dir to pull from another."
        )
    if connection.url_from == "local":
        return (
            f"cannot reach the local Argilla server at {where} (data dir {connection.data_dir}) {cause}, "
            "though its state says running: restart it with `labelbook server stop` and `labelbook server "
            "start`."
        )
    return f"cannot reach the Argilla server at {where} {cause}; {START_HINT}."


def _wrong_key(url: str, key_from: str = "ARGILLA_API_KEY") -> str:
    refused = f"the Argilla server at {url} refused the API key (401 Unauthorized)"
    if key_from == "ARGILLA_API_KEY":
        return (
            f"{refused}, from ARGILLA_API_KEY: check ARGILLA_API_KEY, or for the local server unset it so "
            "labelbook reads the key `labelbook server start` made."
        )
    if key_from == "given":
        return f"{refused}, the one given (api_key=): pass an owner's API key of that server."
    return (
        f"{refused}, the one `labelbook server start` made in {key_from}: another server answers at that "
        "address; stop it, or set ARGILLA_API_KEY to its key."
    )


def _status_error(
    url: str, response: httpx.Response, doing: str, key_from: str = "ARGILLA_API_KEY"
) -> BackendError:
    if response.status_code == 401:
        return BackendError(_wrong_key(url, key_from))
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
    api_url: str | None = None,
    api_key: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    recorded_url: str | None = None,
    recorded_data_dir: str | os.PathLike[str] | None = None,
    purpose: str = "connect to",
) -> Connection:
    """Connect as the argilla SDK would: explicit arguments, then ARGILLA_API_URL / ARGILLA_API_KEY,
    then the server a project recorded (`recorded_url`), with the key of the local server started by
    `labelbook server start` (`data_dir`, else the recorded one, else the default per-user one).

    When no server can be reached the message says where the URL and key were looked for and what
    was found (which variables are set, which local server is running where)."""
    from labelbook import server

    env_url, env_key = os.environ.get("ARGILLA_API_URL"), os.environ.get("ARGILLA_API_KEY")
    if data_dir is not None:  # an explicit local server wins over the one a project recorded
        recorded_url = recorded_data_dir = None
    url = api_url or env_url or recorded_url
    source = (
        "given"
        if api_url
        else "ARGILLA_API_URL"
        if env_url
        else "recorded in the project's project.json"
        if recorded_url
        else ""
    )
    key = api_key or env_key
    local_dir: str | None = None
    found: list[str] = []
    if not url or not key:
        candidates: list[Path | None] = (
            [Path(data_dir)]
            if data_dir is not None
            else [*([Path(recorded_data_dir)] if recorded_data_dir else []), None]
        )
        checked: set[Path] = set()
        for candidate in candidates:
            info = server.status(candidate)
            if info.data_dir in checked:
                continue
            checked.add(info.data_dir)
            running = info.state == "running" and info.url is not None and info.credentials is not None
            if running and info.url is not None and (url is None or same_server(url, info.url)):
                url = url or info.url
                key = key or (info.credentials.api_key if info.credentials else None)
                local_dir = str(info.data_dir)
                break
            if running:
                found.append(f"the local server of {info.data_dir} runs at {info.url}, not at {url}")
            else:
                found.append(f"the local server of {info.data_dir} is {info.state}")
    if not url:
        keyed = " (ARGILLA_API_KEY is set)" if env_key and not api_key else ""
        raise BackendError(
            f"no Argilla server to {purpose}: ARGILLA_API_URL is not set{keyed} and {'; '.join(found)}; "
            f"{START_HINT}."
        )
    if not key:
        raise BackendError(
            f"no API key for the Argilla server at {url} ({source}): ARGILLA_API_KEY is not set, and "
            f"{'; '.join(found)}. "
            "Set ARGILLA_API_KEY to an owner's API key of that server (the local server's key is only ever "
            "sent to the local server), or start its local server with "
            "`labelbook server start --data-dir DIR` (or pass --data-dir)."
        )
    key_from = "given" if api_key else "ARGILLA_API_KEY" if env_key else str(local_dir)
    url_from = {"given": "given", "ARGILLA_API_URL": "ARGILLA_API_URL", "": "local"}.get(
        source, "project.json"
    )
    connection = Connection(url.rstrip("/"), key, data_dir=local_dir, key_from=key_from, url_from=url_from)
    try:
        connection.client  # noqa: B018 -- made now: the SDK's client checks the key (GET /api/v1/me)
    except BaseException:
        connection.close()
        raise
    return connection
