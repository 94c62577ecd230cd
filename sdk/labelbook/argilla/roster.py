"""The roster: annotator accounts in the project's workspace, from a CSV or a DataFrame.

Columns: `username` (required), `vendor` or `group`, `rate` (optional). New users get a generated
password, returned once and kept in `<stem>.labelbook/credentials.csv` (mode 0600); existing users
are reused as they are; annotators of the workspace who are no longer on the roster are taken out
of it (their account and their answers stay).
"""

from __future__ import annotations

import re
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from labelbook.argilla._client import Connection
from labelbook.argilla.records import RecordsSource, missing_column_hint, read_rows
from labelbook.argilla.state import Annotator, add_credentials, remove_credentials
from labelbook.errors import BackendError, LabelbookError, RecordsError

if TYPE_CHECKING:
    import argilla as rg
    import pandas as pd

_USERNAME = re.compile(r"^(?!-|_)[A-Za-z0-9_-]+$")


class RosterWarning(UserWarning):
    """A roster row without a vendor: accepted, and past answers keep the vendor they were made under."""


def read_roster(source: RecordsSource, previous: list[Annotator] | None = None) -> list[Annotator]:
    """Annotators from a roster table; RecordsError names the row of any bad entry. A person without a
    vendor (or rate) keeps the one of the `previous` roster, with a RosterWarning."""
    rows, name, offset = read_rows(source, "roster")
    roster, problems, notes = check_roster(rows, name, offset, previous or [])
    if problems:
        raise RecordsError(
            f"{name}: {len(problems)} problem(s) in the roster; nothing was uploaded:\n  "
            + "\n  ".join(problems),
            problems,
        )
    for note in notes:
        warnings.warn(note, RosterWarning, stacklevel=2)
    return roster


def check_roster(
    rows: list[dict[str, Any]], name: str, offset: int = 0, previous: list[Annotator] | None = None
) -> tuple[list[Annotator], list[str], list[str]]:
    """The roster, every problem (each with its row) and the warnings (rows without a vendor).

    Usernames are trimmed and compared without case (`Alice ` and `alice` are one person: refused,
    both rows named). A missing or empty vendor or rate keeps the previous roster's for that person."""
    columns, problem = _roster_columns(rows, name)
    if columns is None:
        return [], [problem], []
    before = {a.username.lower(): a for a in previous or []}
    problems: list[str] = []
    notes: list[str] = []
    roster: list[Annotator] = []
    seen: dict[str, tuple[int, str]] = {}
    missing_vendor: list[str] = []
    for number, row in enumerate(rows, 1):
        where = f"{name}, row {number}" + (f" (line {number + offset})" if offset else "")
        username, problem = _username(row.get(columns.username), where, number, seen)
        if username is None:
            problems.append(problem)
            continue
        old = before.get(username.lower())
        vendor = row.get(columns.vendor) if columns.vendor else None
        vendor = str(vendor).strip() if vendor is not None else ""
        if not vendor:
            if old is not None and old.vendor:
                vendor = old.vendor
                notes.append(
                    f"{where}: no vendor for {username!r}; keeping {vendor!r} from the previous roster"
                )
            else:
                missing_vendor.append(f"{username!r} (row {number})")
        rate, problem = _rate(row.get(columns.rate) if columns.rate else None, old, where)
        if problem:
            problems.append(problem)
            continue
        roster.append(Annotator(username, vendor, rate))
    if missing_vendor:
        column = "" if columns.vendor else " (the roster has no 'vendor' column)"
        notes.append(
            f"{name}: no vendor for {', '.join(missing_vendor)}{column}; their answers will show vendor '' "
            "(answers made under an earlier roster keep the vendor they were made under)"
        )
    return roster, problems, notes


@dataclass(frozen=True)
class _RosterColumns:
    """The roster's columns as spelled in its header (matched without case)."""

    username: str
    vendor: str | None
    """`vendor`, else `group`, else none."""
    rate: str | None


def _roster_columns(rows: list[dict[str, Any]], name: str) -> tuple[_RosterColumns | None, str]:
    """The roster's columns, or None and the problem: no rows, or no username column."""
    columns: list[str] = []
    for row in rows:
        columns.extend(str(key) for key in row if key not in columns)
    header = {c.strip().lower(): c for c in columns}
    if not rows:
        return None, (
            f"{name}: no annotators (the roster is empty); an empty roster would take every annotator "
            "out of the workspace, so it is refused: list the annotators, or publish without --annotators"
        )
    if "username" not in header:
        hint = missing_column_hint("username", columns, set(), option="rename")
        if "did you mean" not in hint:
            hint = "; name the column with the annotators' logins `username`"
        return None, f"{name}: no 'username' column (columns found: {', '.join(columns)}){hint}"
    vendor = header.get("vendor") or header.get("group")
    return _RosterColumns(header["username"], vendor, header.get("rate")), ""


def _username(raw: Any, where: str, number: int, seen: dict[str, tuple[int, str]]) -> tuple[str | None, str]:
    """The row's username, trimmed, or None and the problem: not a valid login, or a person already
    listed (without case). `seen` (lowered username → row and spelling) learns the new ones."""
    username = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(username, str) or not _USERNAME.match(username):
        return None, (
            f"{where}: username {raw!r} is not allowed: letters, digits, '-' and '_', "
            "not starting with '-' or '_'"
        )
    key = username.lower()
    if key in seen:
        first, spelled = seen[key]
        same = "is listed twice" if spelled == username else f"and {spelled!r} are one person"
        return None, (
            f"{where}: {username!r} {same} (row {first}; usernames are compared without case and "
            "spaces): keep one row"
        )
    seen[key] = (number, username)
    return username, ""


def _rate(raw: Any, old: Annotator | None, where: str) -> tuple[Any, str]:
    """The row's rate as a float (an empty cell keeps the previous roster's), or the problem."""
    rate = None if isinstance(raw, str) and not raw.strip() else raw
    if rate is not None:
        try:
            return float(rate), ""
        except (TypeError, ValueError):
            return None, f"{where}: rate {rate!r} is not a number"
    return (old.rate if old is not None else None), ""


@dataclass
class RosterChanges:
    """What a roster sync did. Passwords are not in the repr; print `new_passwords` once, on purpose."""

    created: list[str] = field(default_factory=list)
    """Accounts made now."""
    reused: list[str] = field(default_factory=list)
    """Accounts that existed already."""
    added: list[str] = field(default_factory=list)
    """Users added to the workspace."""
    removed: list[str] = field(default_factory=list)
    """Annotators taken out of the workspace (no longer on the roster)."""
    new_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    """username → generated password, for accounts created now."""
    credentials_file: Path | None = None
    """Where the generated passwords are kept (0600)."""


def usernames(connection: Connection, workspace_id: str | None = None) -> dict[str, str]:
    """user id → username for every user the key may list; with `workspace_id`, an owner's key that
    may not list every user falls back to that workspace's members (enough to name its answers)."""
    import argilla as rg

    client = connection.client
    try:
        with connection.errors("listing users"):
            users = client.users.list()
    except BackendError:
        if workspace_id is None:
            raise
        workspace = rg.Workspace(id=UUID(workspace_id), client=client)
        with connection.errors("listing the workspace's users"):
            users = client.users.list(workspace=workspace)
    return {str(u.id): u.username for u in users}


def sync_roster(
    connection: Connection, workspace: rg.Workspace, roster: list[Annotator], folder: Path
) -> RosterChanges:
    """Make the workspace's annotators match the roster (the SDK's `rg.User` and `rg.Workspace`)."""
    import argilla as rg

    client = connection.client
    changes = RosterChanges()
    with connection.errors("listing users"):
        by_name = {u.username.lower(): u for u in client.users.list()}  # `Alice` is `alice`
    with connection.errors("listing the workspace's users"):
        members = client.users.list(workspace=workspace)
    member_ids = {m.id for m in members}
    wanted = {a.username.lower() for a in roster}
    for annotator in roster:
        user = by_name.get(annotator.username.lower())
        if user is None:
            password = secrets.token_urlsafe(12)
            # Saved before the account exists: a publish killed right after must not lose a password
            # nobody can see again. If the server refuses the account, the password is forgotten again.
            changes.credentials_file = add_credentials(folder, {annotator.username: password})
            try:
                with connection.errors(f"creating user {annotator.username!r}"):
                    user = rg.User(
                        username=annotator.username,
                        first_name=annotator.username,
                        password=password,
                        role="annotator",
                        client=client,
                    ).create()
            except BackendError:
                remove_credentials(folder, [annotator.username])
                raise
            changes.created.append(annotator.username)
            changes.new_passwords[annotator.username] = password
        else:
            changes.reused.append(annotator.username)
        if user.id not in member_ids:
            with connection.errors(f"adding {annotator.username!r} to the workspace"):
                workspace.add_user(user)  # the reply replaces the User's model: its password is dropped
            changes.added.append(annotator.username)
    for member in members:
        if member.role == "annotator" and member.username.lower() not in wanted:
            with connection.errors(f"removing {member.username!r} from the workspace"):
                workspace.remove_user(member)
            changes.removed.append(member.username)
    return changes


ROSTERS = "rosters.jsonl"
"""Every roster published, with the server's time it took effect: vendors and rates per roster version."""
_BEFORE_ANY = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the roster of project.json before this log


def record_roster(
    folder: Path, roster: list[Annotator], at: datetime, previous: list[Annotator] | None = None
) -> Path:
    """Append this roster version (one O_APPEND write), so answers made under it keep its vendors.
    The first time, the `previous` roster (from project.json) is kept as the one live before it."""
    import json
    import os
    from dataclasses import asdict

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ROSTERS
    versions = [(at, roster)]
    if previous and not path.exists():
        versions.insert(0, (_BEFORE_ANY, previous))
    line = "".join(
        json.dumps({"at": when.isoformat(), "roster": [asdict(a) for a in people]}, ensure_ascii=False) + "\n"
        for when, people in versions
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return path


def roster_versions(folder: Path, current: list[Annotator]) -> list[tuple[datetime, list[Annotator]]]:
    """(from, roster) for every roster published, oldest first; before this log existed, `current` always."""
    import json

    path = folder / ROSTERS
    if not path.is_file():
        return [(_BEFORE_ANY, current)] if current else []
    versions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["at"])
            versions.append((at, [Annotator(**a) for a in entry["roster"]]))
        except (ValueError, KeyError, TypeError) as err:
            raise LabelbookError(
                f"{path}, line {number}: damaged ({type(err).__name__}: {err}); remove that line."
            ) from err
    return sorted(versions, key=lambda version: version[0])


def vendors_at(
    annotators: pd.Series, times: pd.Series, versions: list[tuple[datetime, list[Annotator]]]
) -> pd.Series:
    """Each answer's vendor: the annotator's vendor in the roster live when it was saved (the first
    roster that lists them for answers older than it; '' for people on no roster)."""
    import pandas as pd

    from labelbook.annotations import attribute_releases

    out = pd.Series([""] * len(annotators), index=annotators.index, dtype=object)
    keys = annotators.astype(str).str.lower()
    for key, rows in keys.groupby(keys, sort=False).groups.items():
        live = [
            (at, person.vendor)
            for at, roster in versions
            for person in roster
            if person.username.lower() == key
        ]
        if not live:
            continue
        found = attribute_releases(times.loc[rows], live)
        out.loc[rows] = found.where(found.notna(), min(live, key=lambda v: v[0])[1])
    return out
