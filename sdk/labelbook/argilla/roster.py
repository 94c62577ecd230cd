"""The roster: annotator accounts in the project's workspace, from a CSV or a DataFrame.

Columns: `username` (required), `vendor` or `group`, `rate` (optional). New users get a generated
password, returned once and kept in `<stem>.labelbook/credentials.csv` (mode 0600); existing users
are reused as they are; annotators of the workspace who are no longer on the roster are taken out
of it (their account and their answers stay).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelbook.argilla._client import Connection
from labelbook.argilla.records import RecordsSource, read_rows
from labelbook.argilla.state import Annotator, add_credentials, remove_credentials
from labelbook.errors import BackendError, RecordsError

_USERNAME = re.compile(r"^(?!-|_)[A-Za-z0-9_-]+$")


def read_roster(source: RecordsSource) -> list[Annotator]:
    """Annotators from a roster table; RecordsError names the row of any bad entry."""
    rows, name, offset = read_rows(source, "roster")
    problems: list[str] = []
    roster: list[Annotator] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, 1):
        where = f"row {number}" + (f" (line {number + offset})" if offset else "")
        username = row.get("username")
        if not isinstance(username, str) or not _USERNAME.match(username.strip()):
            problems.append(
                f"{where}: username {username!r} is not allowed: letters, digits, '-' and '_', "
                "not starting with '-' or '_'"
            )
            continue
        username = username.strip()
        if username in seen:
            problems.append(f"{where}: {username!r} is listed twice")
            continue
        seen.add(username)
        vendor = row.get("vendor") if row.get("vendor") is not None else row.get("group")
        rate = row.get("rate")
        if rate is not None:
            try:
                rate = float(rate)
            except (TypeError, ValueError):
                problems.append(f"{where}: rate {rate!r} is not a number")
                continue
        roster.append(Annotator(username, str(vendor) if vendor is not None else "", rate))
    if problems:
        raise RecordsError(
            f"{name}: {len(problems)} problem(s) in the roster:\n  " + "\n  ".join(problems), problems
        )
    return roster


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


def sync_roster(
    connection: Connection, workspace_id: str, roster: list[Annotator], folder: Path
) -> RosterChanges:
    """Make the workspace's annotators match the roster."""
    changes = RosterChanges()
    users = connection.request("GET", "/api/v1/users", doing="listing users")["items"]
    by_name: dict[str, dict[str, Any]] = {u["username"]: u for u in users}
    members = connection.request(
        "GET", f"/api/v1/workspaces/{workspace_id}/users", doing="listing the workspace's users"
    )["items"]
    member_ids = {m["id"] for m in members}
    wanted = {a.username for a in roster}
    for annotator in roster:
        user = by_name.get(annotator.username)
        if user is None:
            password = secrets.token_urlsafe(12)
            # Saved before the account exists: a publish killed right after must not lose a password
            # nobody can see again. If the server refuses the account, the password is forgotten again.
            changes.credentials_file = add_credentials(folder, {annotator.username: password})
            try:
                user = connection.request(
                    "POST",
                    "/api/v1/users",
                    doing=f"creating user {annotator.username!r}",
                    json={
                        "username": annotator.username,
                        "first_name": annotator.username,
                        "password": password,
                        "role": "annotator",
                    },
                )
            except BackendError:
                remove_credentials(folder, [annotator.username])
                raise
            changes.created.append(annotator.username)
            changes.new_passwords[annotator.username] = password
        else:
            changes.reused.append(annotator.username)
        if user["id"] not in member_ids:
            connection.request(
                "POST",
                f"/api/v1/workspaces/{workspace_id}/users",
                doing=f"adding {annotator.username!r} to the workspace",
                json={"user_id": user["id"]},
            )
            changes.added.append(annotator.username)
    for member in members:
        if member["role"] == "annotator" and member["username"] not in wanted:
            connection.request(
                "DELETE",
                f"/api/v1/workspaces/{workspace_id}/users/{member['id']}",
                doing=f"removing {member['username']!r} from the workspace",
            )
            changes.removed.append(member["username"])
    return changes
