"""Publish a release to Argilla: workspace, dataset settings, guidelines, roster, records, gold.

One pass, in this order, so that a failure leaves nothing half-explained to contractors:
1. everything given is read and validated (records, roster, gold) before any request, and
   suggestions that would set gold records apart are warned about (`gold`); the API key's role is
   checked (owner, or admin of an existing workspace) before anything changes; the rest runs
   under the project's publish lock (`state.publish_lock`);
2. the workspace and the dataset are created (marked as this project's, `ownership`), or, once
   the dataset is known to be this project's, its guidelines and question
   descriptions are updated in place for a compatible newer release (a major release on an
   existing dataset is refused unless `new_dataset=True`), and the deployment log records the
   moment (the server's clock, the same clock the responses are stamped with);
3. the roster is synced;
4. records are upserted in batches by their stable id, gold records spread among the regular
   records this publish adds, skipping the ids already on the server:
   publishing the same rows again adds nothing, and a publish that was killed resumes where it
   stopped when run again. A row whose id is published but whose fields or metadata differ is
   left as it is and reported (`records_changed`), or overwritten with `update=True` (its
   answers stay, made against the old content).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import labelbook.argilla.ownership as ownership
from labelbook.argilla._client import Connection, connect
from labelbook.argilla.dataset import Place, find, listed, place_dataset
from labelbook.argilla.gold import suggestion_tells
from labelbook.argilla.inputs import Inputs
from labelbook.argilla.inputs import check as check_inputs
from labelbook.argilla.project import Project
from labelbook.argilla.records import RecordsSource, Suggest
from labelbook.argilla.result import PublishResult
from labelbook.argilla.roster import record_roster, sync_roster
from labelbook.argilla.state import Annotator, ProjectState, publish_lock, read_gold, state_dir, write_gold
from labelbook.argilla.upload import BATCH, send_records
from labelbook.errors import BackendError, ChangedRecordsWarning, GoldLeakWarning, ReleaseError
from labelbook.releases import Release, latest_release, open_release
from labelbook.task import Task

if TYPE_CHECKING:
    import argilla as rg

_WORKSPACE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


def _workspace_name(name: str) -> str:
    slug = "".join(c if c in _WORKSPACE_CHARS else "-" for c in name.lower()).strip("-_")
    return slug or "labelbook"


def resolve_release(
    release_or_notebook: Release | str | os.PathLike[str], version: str | None = None
) -> Release:
    """A Release given, or the notebook's release `version` (default: its latest)."""
    if isinstance(release_or_notebook, Release):
        return release_or_notebook
    if version:
        return open_release(release_or_notebook, version)
    found = latest_release(release_or_notebook)
    if found is None:
        raise ReleaseError(
            f"{release_or_notebook}: no release to publish; make one with "
            f"`labelbook release {release_or_notebook} -m MESSAGE`."
        )
    return found


def publish(
    release_or_notebook: Release | str | os.PathLike[str],
    records: RecordsSource | None = None,
    *,
    version: str | None = None,
    workspace: str | None = None,
    dataset: str | None = None,
    annotators: RecordsSource | None = None,
    gold: RecordsSource | None = None,
    gold_rate: float | None = None,
    mapping: Mapping[str, str] | None = None,
    id_column: str = "id",
    suggest: Suggest | None = None,
    suggestion_agent: str | None = None,
    new_dataset: bool = False,
    update: bool = False,
    adopt: bool = False,
    batch_size: int = BATCH,
    workers: int = 2,
    progress: bool = True,
    api_url: str | None = None,
    api_key: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    connection: Connection | None = None,
) -> Project:
    """Publish a release (or a notebook's latest release) and records to Argilla; see the module doc.

    Returns the `Project`, what was published to, with what this publish did as `last_publish`.
    """
    release = resolve_release(release_or_notebook, version)
    task = Task.from_json(release.text("task.json"), source=str(release.path / "task.json"))
    # 1. Validate everything before the first request: every problem of every input, in one error.
    given = check_inputs(
        task,
        records,
        annotators,
        gold,
        folder=state_dir(release.path.parent),
        mapping=mapping,
        id_column=id_column,
        suggest=suggest,
        suggestion_agent=suggestion_agent,
    )
    prepared = given.prepared
    tells = suggestion_tells(task, prepared.ids, prepared.payloads, given.gold) if prepared else []
    for tell in tells:
        warnings.warn(f"gold records: {tell}", GoldLeakWarning, stacklevel=2)
    owned = connection is None
    conn = connection or _connect(release, api_url, api_key, data_dir)
    try:
        result = _publish(
            release,
            task,
            given,
            conn,
            workspace=workspace,
            dataset=dataset,
            gold_rate=gold_rate,
            new_dataset=new_dataset,
            update=update,
            adopt=adopt,
            batch_size=batch_size,
            workers=workers,
            progress=progress,
        )
        result.gold_tells = tells
    finally:
        if owned:
            conn.close()
    state = ProjectState.read(state_dir(release.path.parent))
    assert state is not None  # the publish wrote it
    # The project reconnects on first use with the same server and key: the connection publish
    # opened is closed, so a result left unused holds no sockets.
    fresh = conn if not owned else dataclasses.replace(conn, _client=None, _http=None)
    return Project(_notebook_of(release_or_notebook, release), state, fresh, last_publish=result)


def _connect(
    release: Release, api_url: str | None, api_key: str | None, data_dir: str | os.PathLike[str] | None
) -> Connection:
    recorded = ProjectState.read(state_dir(release.path.parent))  # publish again where it lives
    return connect(
        api_url,
        api_key,
        data_dir=data_dir,
        recorded_url=recorded.server_url if recorded else None,
        recorded_data_dir=recorded.data_dir if recorded else None,
        purpose="publish to",
    )


def _notebook_of(given: Release | str | os.PathLike[str], release: Release) -> Path:
    """The notebook a publish was given, or the one beside the release's store."""
    if not isinstance(given, Release):
        return Path(given)
    store = release.path.parent
    stem = store.name.removesuffix(".releases")
    for suffix in (".ipynb", ".py"):
        if (store.parent / f"{stem}{suffix}").exists():
            return store.parent / f"{stem}{suffix}"
    return store


def _publish(
    release: Release,
    task: Task,
    given: Inputs,
    conn: Connection,
    *,
    workspace: str | None,
    dataset: str | None,
    gold_rate: float | None,
    new_dataset: bool,
    update: bool,
    adopt: bool,
    batch_size: int,
    workers: int,
    progress: bool,
) -> PublishResult:
    """Steps 2 to 4 of the module doc, with inputs already checked."""
    store = release.path.parent
    folder = state_dir(store)
    guidelines = release.text("guide.md")
    prepared, roster, gold_answers = given.prepared, given.roster, given.gold
    held_lock = contextlib.ExitStack()
    try:
        role = _publisher_role(conn)
        held_lock.enter_context(publish_lock(folder))  # one publish of a project at a time
        state = ProjectState.read(folder)
        project = ownership.project_id(folder)
        # 2. Workspace and dataset.
        workspace_name = workspace or (state.workspace if state else _workspace_name(task.name))
        found_workspace = _workspace(conn, role, workspace_name, enrolling=roster is not None)
        workspace_id = str(found_workspace.id)
        dataset_name = dataset or (
            state.dataset
            if state and state.workspace == workspace_name and state.server_url == conn.url
            else task.name
        )
        datasets = listed(conn)
        existing = find(datasets, name=dataset_name, workspace_id=workspace_id)
        result = PublishResult(
            conn.url, workspace_name, dataset_name, "", str(release.version), state_dir=folder
        )
        place = Place(state, project, store, guidelines, workspace_name, workspace_id, dataset_name)
        at = place_dataset(
            conn, release, task, place, existing, datasets, result, new_dataset=new_dataset, adopt=adopt
        )

        # 3. Roster.
        if roster is not None:
            result.roster = sync_roster(conn, found_workspace, roster, folder)
            # Answers from now on carry this roster's vendors; earlier ones keep theirs.
            record_roster(folder, roster, at, previous=state.roster if state else None)
        # 4. Gold answers stay local; then the records.
        if gold_answers:
            write_gold(folder, {**read_gold(folder), **gold_answers})
        if prepared is not None:
            send_records(
                conn,
                prepared,
                gold_answers,
                folder,
                result,
                gold_rate=gold_rate,
                update=update,
                batch_size=batch_size,
                workers=workers,
                progress=progress,
            )

        if result.changed_message:
            warnings.warn(result.changed_message, ChangedRecordsWarning, stacklevel=3)
        kept = roster if roster is not None else state.roster if state else []
        _save_state(folder, conn, result, workspace_id, roster=kept)
        return result
    finally:
        held_lock.close()


def _save_state(
    folder: Path, conn: Connection, result: PublishResult, workspace_id: str, *, roster: list[Annotator]
) -> None:
    """Write project.json: where the project now lives and with whom."""
    ProjectState(
        server_url=conn.url,
        workspace=result.workspace,
        workspace_id=workspace_id,
        dataset=result.dataset,
        dataset_id=result.dataset_id,
        version=result.version,
        roster=roster,
        data_dir=conn.data_dir,
    ).write(folder)


def _workspace(conn: Connection, role: str, workspace_name: str, *, enrolling: bool) -> rg.Workspace:
    """The workspace, created if missing (an admin may neither create it nor enrol annotators)."""
    import argilla as rg

    with conn.errors("listing workspaces"):
        # `client.workspaces(name)` would warn when there is none; the list is the same request.
        found_ws = next((w for w in conn.client.workspaces.list() if w.name == workspace_name), None)
    if role != "owner" and (found_ws is None or enrolling):
        raise BackendError(
            "an admin's API key cannot "
            + (f"create workspace {workspace_name!r}" if found_ws is None else "create or enrol annotators")
            + f" on {conn.url}; nothing was changed. Publish with an owner's key"
            + (", or ask an owner to create the workspace and add you to it." if found_ws is None else ".")
        )
    if found_ws is None:
        with conn.errors(f"creating workspace {workspace_name!r}"):
            found_ws = rg.Workspace(name=workspace_name, client=conn.client).create()
    return found_ws


def _publisher_role(conn: Connection) -> str:
    """The key's role; a key that is neither an owner's nor an admin's is refused before anything changes."""
    with conn.errors("checking the API key's role"):
        me = conn.client.me
    role = str(getattr(me.role, "value", me.role) or "")
    if role not in ("owner", "admin"):
        raise BackendError(
            f"the API key of {me.username or 'this user'!r} on {conn.url} has the role {role!r}: "
            "publishing takes an owner's key (or an admin's, for a workspace they belong to). Nothing was "
            "changed; set ARGILLA_API_KEY to an owner's key."
        )
    return role
