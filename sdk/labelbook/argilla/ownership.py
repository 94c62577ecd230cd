"""A project owns its dataset: the mark a publish leaves on it, and the check before publishing into it.

Each project (a notebook's `<stem>.labelbook/` folder beside its `<stem>.releases/` store) gets an
id once, in `<stem>.labelbook/project-id`. The first publish marks the dataset with it: a metadata
property `labelbook_project`, hidden from annotators, whose terms are the project id and where the
release store was (`host:path`). argilla-server lists a hidden metadata property only to owners and
to admins of the workspace (`MetadataPropertyPolicy.get`), on every Argilla deployment, and no record
ever carries a value for it, so annotators cannot read the mark or filter anything with it.

Before a publish changes a dataset it reads the mark:
- this project's → go on;
- another project's → refused (`ProjectConflict`), naming both release stores, unless `adopt=True`
  (`--adopt`), which puts this project's mark in its place;
- no mark (published before labelbook marked datasets) → marked and adopted, with a notice, when
  this project's state already points at it (project.json or the deployment log); refused otherwise.
A draft dataset (a publish killed while creating it; no records can be in a draft) is replaced when
it carries this project's mark, and otherwise refused with what to do.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.argilla._client import Connection
from labelbook.argilla.state import private_dir
from labelbook.errors import LabelbookError
from labelbook.files import write_text

if TYPE_CHECKING:
    import argilla as rg

MARKER = "labelbook_project"
"""The hidden metadata property that marks a dataset as a labelbook project's (a reserved name)."""
PROJECT_ID = "project-id"
_ID, _AT = "project:", "store:"


class ProjectConflict(LabelbookError):
    """The dataset belongs to another notebook or release store (or to no labelbook project)."""

    def __init__(self, message: str, owner: Owner | None = None) -> None:
        super().__init__(message)
        self.owner = owner
        """The mark found on the dataset (None: no mark)."""


@dataclass(frozen=True)
class Owner:
    """What the mark on a dataset says."""

    project_id: str
    """The owning project's id."""
    store: str
    """Where its release store was when it last published: `host:/path/to/guide.releases`."""
    property_id: str = ""
    """The marker property's id on the server."""


def project_id(folder: Path) -> str:
    """This project's id: read from `<folder>/project-id`, made (once) when missing."""
    path = folder / PROJECT_ID
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if text:
        return text
    made = uuid.uuid4().hex
    private_dir(folder)
    write_text(path, made + "\n", 0o600)
    return made


def store_label(store: Path) -> str:
    """`host:/absolute/path` of a release store, as the mark records it."""
    return f"{socket.gethostname()}:{os.path.abspath(store)}"


def read_owner(connection: Connection, dataset: rg.Dataset) -> Owner | None:
    """The mark on a dataset, or None when it has none."""
    with connection.errors("reading which project owns the dataset"):
        # The SDK's wire models: one request, where `dataset.settings.get()` makes five.
        properties = connection.client.api.metadata.list(dataset_id=dataset.id)
    for item in properties:
        if item.name == MARKER:
            terms = [str(v) for v in getattr(item.settings, "values", None) or []]
            found = {t.split(":", 1)[0] + ":": t.split(":", 1)[1] for t in terms if ":" in t}
            return Owner(found.get(_ID, ""), found.get(_AT, "an unknown place"), str(item.id))
    return None


def mark(
    connection: Connection, dataset: rg.Dataset, project: str, store: Path, old: Owner | None = None
) -> None:
    """Put this project's mark on the dataset (replacing `old`): a terms metadata property that
    annotators cannot see."""
    import argilla as rg

    if old is not None and old.property_id:
        with connection.errors("removing the old project mark"):
            connection.client.api.metadata.delete(uuid.UUID(old.property_id))
    marker = rg.TermsMetadataProperty(
        MARKER,
        options=[f"{_ID}{project}", f"{_AT}{store_label(store)}"],
        title="labelbook project (owner's mark; do not delete)",
        visible_for_annotators=False,
        client=connection.client,
    )
    with connection.errors("marking the dataset as this project's"):
        marker.dataset = dataset
        marker.create()


def points_at(state: Any, deployments: list[Any], url: str, dataset_id: str) -> bool:
    """Whether this project's state (project.json or its deployment log) names the dataset."""
    if state is not None and state.dataset_id == dataset_id and state.server_url == url:
        return True
    return any(d.dataset_id == dataset_id and d.server_url == url for d in deployments)


def _where(dataset: rg.Dataset, workspace: str) -> str:
    return f"dataset {dataset.name!r} in workspace {workspace!r}"


def claim(
    connection: Connection,
    dataset: rg.Dataset,
    workspace: str,
    *,
    project: str,
    store: Path,
    points_here: bool,
    adopt: bool,
) -> str | None:
    """Check that the existing dataset is this project's before anything changes; mark it when it
    may be taken. Returns a notice to show, or None; raises ProjectConflict when it is not ours."""
    owner = read_owner(connection, dataset)
    here = store_label(store)
    where = _where(dataset, workspace)
    if owner is not None and owner.project_id == project:
        if owner.store != here:  # the project moved: keep the mark's path true
            mark(connection, dataset, project, store, owner)
        return None
    what_to_do = (
        "Publish this notebook to its own dataset (rename the task, or pass --dataset NAME / "
        "dataset=...), or take this dataset over on purpose with --adopt (adopt=True): its "
        "guidelines, roster and records then follow this notebook"
    )
    if owner is not None:
        if not adopt:
            raise ProjectConflict(
                f"{where} belongs to another labelbook project: the one of {owner.store}; this notebook's "
                f"releases are in {here}. {what_to_do}, and the other project can no longer publish to it.",
                owner,
            )
        mark(connection, dataset, project, store, owner)
        return f"{where} adopted from the project of {owner.store}; that project can no longer publish to it."
    if points_here or adopt:
        mark(connection, dataset, project, store)
        if points_here:
            return (
                f"{where} was published before labelbook marked datasets; it is now marked as this project's."
            )
        return f"{where} had no labelbook project; it is now this project's (adopted)."
    raise ProjectConflict(
        f"{where} exists but was not published from this notebook ({here}): it carries no labelbook "
        f"project mark and this project's state does not point at it. {what_to_do}.",
        None,
    )


def take_draft(
    connection: Connection, dataset: rg.Dataset, workspace: str, *, project: str, store: Path, adopt: bool
) -> str:
    """A draft dataset (never published, so no records and no annotator saw it) may be made anew
    when it is this project's, or on `adopt`; a notice, or ProjectConflict saying what to do."""
    owner = read_owner(connection, dataset)
    where = _where(dataset, workspace)
    if owner is not None and owner.project_id != project and not adopt:
        raise ProjectConflict(
            f"{where} is a draft being made by another labelbook project, the one of {owner.store} (a "
            f"publish that is running or was stopped); this notebook's releases are in {store_label(store)}. "
            "Publish to another dataset (rename the task, or --dataset NAME), or replace the draft with "
            "--adopt.",
            owner,
        )
    if owner is None and not adopt:
        raise ProjectConflict(
            f"{where} is a draft (never published, no records) with no labelbook project mark: a publish "
            "stopped the moment it created the dataset, or a dataset being set up in the Argilla UI. If it "
            "is a leftover of this notebook's publish, publish again with --adopt (adopt=True): the draft "
            "is deleted and the dataset made anew. Otherwise publish to another dataset (--dataset NAME).",
            None,
        )
    return f"{where} was a draft left by a publish that stopped while creating it; it was made anew."
