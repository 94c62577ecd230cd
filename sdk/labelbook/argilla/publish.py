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
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labelbook.argilla import ownership
from labelbook.argilla._client import Connection, connect
from labelbook.argilla.gold import spread, suggestion_tells
from labelbook.argilla.inputs import check as check_inputs
from labelbook.argilla.records import RecordsSource, Suggest
from labelbook.argilla.roster import RosterChanges, record_roster, sync_roster
from labelbook.argilla.settings import (
    dataset_payload,
    field_payload,
    fit_guidelines,
    metadata_payload,
    question_description,
    question_payload,
    question_settings,
)
from labelbook.argilla.state import ProjectState, publish_lock, read_gold, state_dir, write_gold
from labelbook.errors import BackendError, ChangedRecordsWarning, GoldLeakWarning, ReleaseError
from labelbook.releases import Release, Version, deployments, latest_release, open_release, record_deployment
from labelbook.task import Task

MAX_BATCH = 500  # argilla-server's limit per bulk upsert
# Measured on the embedded server (benchmarks/publish_throughput.py): 256 records per request with
# two requests in flight beats both 500 per request and one request at a time.
BATCH = 256
LOCKED_RETRIES = 4
_WORKSPACE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass
class PublishResult:
    """What a publish did (no secrets in the repr; `roster.new_passwords` holds the new ones)."""

    url: str
    """The Argilla server."""
    workspace: str
    """Workspace name."""
    dataset: str
    """Dataset name."""
    dataset_id: str
    """Dataset id."""
    version: str
    """The release now live in the dataset."""
    created: bool = False
    """Whether the dataset was created by this publish."""
    deployed: bool = False
    """Whether this publish changed the live release (a line was added to the deployment log)."""
    records_added: int = 0
    """Records uploaded now."""
    records_skipped: int = 0
    """Records already on the server (same id), left as they are."""
    records_updated: int = 0
    """Records already on the server whose fields or metadata were overwritten (`update=True`)."""
    records_changed: list[str] = field(default_factory=list)
    """Ids whose fields or metadata differ from the published record, left as they are (`update=False`)."""
    gold_published: int = 0
    """Gold records among the records uploaded now."""
    gold_held_back: list[str] = field(default_factory=list)
    """New gold records not uploaded: too few new regular records to sit among (or over `gold_rate`)."""
    gold_tells: list[str] = field(default_factory=list)
    """How the suggestions set gold records apart (each also a `GoldLeakWarning`)."""
    notices: list[str] = field(default_factory=list)
    """Things this publish did that are worth a line: a dataset adopted, a stopped draft made anew."""
    ignored_columns: list[str] = field(default_factory=list)
    """Input columns that fed nothing (answers are never uploaded)."""
    roster: RosterChanges | None = None
    """What the roster sync did."""
    state_dir: Path | None = None
    """`<stem>.labelbook/`: project.json, gold.jsonl, credentials.csv."""

    @property
    def changed_message(self) -> str | None:
        """What to do about `records_changed`, or None when there are none."""
        changed = self.records_changed
        if not changed:
            return None
        many = len(changed) != 1
        return (
            f"{len(changed)} published record{'s' if many else ''} changed fields or metadata under the same "
            f"id and {'were' if many else 'was'} left as published (first: {', '.join(changed[:3])}"
            f"{', …' if len(changed) > 3 else ''}). Publish again with update=True (--update) to overwrite "
            "them (their answers stay), or give the new rows new ids."
        )

    @property
    def ui_url(self) -> str:
        """The dataset in the Argilla web UI."""
        return f"{self.url}/dataset/{self.dataset_id}/annotation-mode"


def _workspace_name(name: str) -> str:
    slug = "".join(c if c in _WORKSPACE_CHARS else "-" for c in name.lower()).strip("-_")
    return slug or "labelbook"


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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


def _find(items: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for item in items:
        if all(item.get(k) == v for k, v in match.items()):
            return item
    return None


def create_dataset(
    connection: Connection,
    task: Task,
    name: str,
    workspace_id: str,
    guidelines: str,
    owner: tuple[str, Path] | None = None,
) -> dict[str, Any]:
    """Create, configure and publish a dataset for the task, marked first with `owner` (project id,
    release store); a half-made dataset is deleted again (a killed process leaves a draft, which
    the next publish of the project makes anew)."""
    created: dict[str, Any] = connection.request(
        "POST",
        "/api/v1/datasets",
        doing=f"creating dataset {name!r}",
        json=dataset_payload(task, name, workspace_id, guidelines),
    )
    base = f"/api/v1/datasets/{created['id']}"
    try:
        if owner is not None:
            ownership.mark(connection, str(created["id"]), *owner)
        for item in task.fields:
            connection.request(
                "POST", f"{base}/fields", doing=f"adding field {item.name!r}", json=field_payload(item)
            )
        for q in task.questions:
            connection.request(
                "POST", f"{base}/questions", doing=f"adding question {q.name!r}", json=question_payload(q)
            )
        for declared in task.metadata:
            connection.request(
                "POST",
                f"{base}/metadata-properties",
                doing=f"adding metadata {declared.name!r}",
                json=metadata_payload(declared),
            )
        published: dict[str, Any] = connection.request(
            "PUT", f"{base}/publish", doing="publishing the dataset"
        )
        return published
    except BackendError:
        connection.request("DELETE", base)
        raise


def _deployed_version(store: Path, dataset_id: str) -> Version | None:
    live = [d for d in deployments(store) if d.dataset_id == dataset_id]
    return Version.parse(live[-1].version) if live else None


def _update_in_place(connection: Connection, dataset_id: str, task: Task, guidelines: str) -> datetime:
    """New guidelines, titles, descriptions, labels and metadata on a live dataset; the server's time."""
    questions = connection.request("GET", f"/api/v1/datasets/{dataset_id}/questions")["items"]
    by_name = {q["name"]: q for q in questions}
    fields = {
        f["name"]: f for f in connection.request("GET", f"/api/v1/datasets/{dataset_id}/fields")["items"]
    }
    missing_fields = [f.name for f in task.fields if f.name not in fields]
    if missing_fields:
        raise BackendError(
            f"this release adds field(s) {', '.join(missing_fields)}, which Argilla cannot add to a dataset "
            "that already has records; publish with --new-dataset to start a new dataset."
        )
    for item in task.fields:
        if fields[item.name]["title"] != item.title:
            connection.request(
                "PATCH", f"/api/v1/fields/{fields[item.name]['id']}", json={"title": item.title}
            )
    for q in task.questions:
        body: dict[str, Any] = {"title": q.title, "description": question_description(q) or None}
        existing = by_name.get(q.name)
        if existing is None:
            raise BackendError(
                f"this release adds question {q.name!r}, which Argilla cannot add to a published dataset; "
                "publish with --new-dataset to start a new dataset for it."
            )
        wanted = question_settings(q)
        if "options" in wanted and existing["settings"].get("options") != wanted["options"]:
            body["settings"] = {"type": wanted["type"], "options": wanted["options"]}
        connection.request(
            "PATCH", f"/api/v1/questions/{existing['id']}", doing=f"updating question {q.name!r}", json=body
        )
    properties = connection.request("GET", f"/api/v1/me/datasets/{dataset_id}/metadata-properties")["items"]
    known = {p["name"] for p in properties}
    for declared in task.metadata:
        if declared.name not in known:
            connection.request(
                "POST",
                f"/api/v1/datasets/{dataset_id}/metadata-properties",
                doing=f"adding metadata {declared.name!r}",
                json=metadata_payload(declared),
            )
    updated = connection.request(
        "PATCH",
        f"/api/v1/datasets/{dataset_id}",
        doing="updating the guidelines",
        json={
            "guidelines": fit_guidelines(guidelines),
            "distribution": {"strategy": "overlap", "min_submitted": task.overlap},
        },
    )
    return _utc(updated["updated_at"])


def existing_records(connection: Connection, dataset_id: str) -> dict[str, dict[str, Any]]:
    """Fields and metadata of every record of the dataset, by external id."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = connection.request(
            "GET",
            f"/api/v1/datasets/{dataset_id}/records",
            params={"offset": offset, "limit": 1000},
            doing="listing the records already published",
        )["items"]
        for record in page:
            if record.get("external_id") is not None:
                found[record["external_id"]] = record
        if len(page) < 1000:
            return found
        offset += len(page)


def content_differs(payload: Mapping[str, Any], on_server: Mapping[str, Any]) -> bool:
    """Whether a prepared record's fields or metadata differ from the published record's."""
    return payload["fields"] != on_server.get("fields") or (payload.get("metadata") or {}) != (
        on_server.get("metadata") or {}
    )


def upload(
    connection: Connection,
    dataset_id: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = BATCH,
    workers: int = 2,
    progress: bool = True,
) -> int:
    """Upsert records by external id in batches, `workers` requests in flight; records sent."""
    from tqdm.auto import tqdm

    if not payloads:
        return 0
    batch_size = max(1, min(batch_size, MAX_BATCH))
    questions = connection.request("GET", f"/api/v1/datasets/{dataset_id}/questions")["items"]
    question_ids = {q["name"]: q["id"] for q in questions}

    def wire(body: Mapping[str, Any]) -> dict[str, Any]:
        if "suggestions" not in body:
            return dict(body)
        out = dict(body)
        out["suggestions"] = [
            {
                **{k: v for k, v in s.items() if k != "question_name"},
                "question_id": question_ids[s["question_name"]],
            }
            for s in body["suggestions"]
        ]
        return out

    batches = [payloads[i : i + batch_size] for i in range(0, len(payloads), batch_size)]

    def send(batch: Sequence[Mapping[str, Any]]) -> int:
        body = {"items": [wire(b) for b in batch]}
        for attempt in range(1, LOCKED_RETRIES + 1):
            try:
                connection.request(
                    "PUT", f"/api/v1/datasets/{dataset_id}/records/bulk", doing="uploading records", json=body
                )
                return len(batch)
            except BackendError as err:
                # The embedded server (SQLite) can refuse one of two concurrent bulk writes into a
                # dataset with metadata properties ("database is locked"); the refused batch was
                # rolled back whole, and an upsert by external id is safe to send again.
                if "database is locked" not in str(err) or attempt == LOCKED_RETRIES:
                    raise
                time.sleep(0.2 * attempt)
        return 0  # not reached

    sent = 0
    # Two requests in flight: the client builds and encodes one batch while the server stores the other.
    with (
        tqdm(total=len(payloads), unit="record", desc="publishing", disable=not progress) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        for done in pool.map(send, batches):
            sent += done
            bar.update(done)
    return sent


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
) -> PublishResult:
    """Publish a release (or a notebook's latest release) and records to Argilla; see the module doc."""
    release = resolve_release(release_or_notebook, version)
    store = release.path.parent
    folder = state_dir(store)
    task = Task.from_json(release.text("task.json"), source=str(release.path / "task.json"))
    guidelines = release.text("guide.md")

    # 1. Validate everything before the first request: every problem of every input, in one error.
    given = check_inputs(
        task,
        records,
        annotators,
        gold,
        folder=folder,
        mapping=mapping,
        id_column=id_column,
        suggest=suggest,
        suggestion_agent=suggestion_agent,
    )
    prepared, roster, gold_answers = given.prepared, given.roster, given.gold

    tells = suggestion_tells(task, prepared.ids, prepared.payloads, gold_answers) if prepared else []
    for tell in tells:
        warnings.warn(f"gold records: {tell}", GoldLeakWarning, stacklevel=2)

    owned = connection is None
    recorded = ProjectState.read(folder)  # publish again where the project lives, unless told otherwise
    conn = connection or connect(
        api_url,
        api_key,
        data_dir=data_dir,
        recorded_url=recorded.server_url if recorded else None,
        recorded_data_dir=recorded.data_dir if recorded else None,
        purpose="publish to",
    )
    held_lock = contextlib.ExitStack()
    try:
        role = _publisher_role(conn)
        held_lock.enter_context(publish_lock(folder))  # one publish of a project at a time
        state = ProjectState.read(folder)
        project = ownership.project_id(folder)
        # 2. Workspace and dataset.
        workspace_name = workspace or (state.workspace if state else _workspace_name(task.name))
        workspaces = conn.request("GET", "/api/v1/me/workspaces", doing="listing workspaces")["items"]
        found_ws = _find(workspaces, name=workspace_name)
        if role != "owner" and (found_ws is None or roster is not None):
            raise BackendError(
                "an admin's API key cannot "
                + (
                    f"create workspace {workspace_name!r}"
                    if found_ws is None
                    else "create or enrol annotators"
                )
                + f" on {conn.url}; nothing was changed. Publish with an owner's key"
                + (
                    ", or ask an owner to create the workspace and add you to it."
                    if found_ws is None
                    else "."
                )
            )
        if found_ws is None:
            found_ws = conn.request(
                "POST",
                "/api/v1/workspaces",
                doing=f"creating workspace {workspace_name!r}",
                json={"name": workspace_name},
            )
        workspace_id = str(found_ws["id"])
        dataset_name = dataset or (
            state.dataset
            if state and state.workspace == workspace_name and state.server_url == conn.url
            else task.name
        )
        datasets = conn.request("GET", "/api/v1/me/datasets", doing="listing datasets")["items"]
        existing = _find(datasets, name=dataset_name, workspace_id=workspace_id)
        result = PublishResult(
            conn.url,
            workspace_name,
            dataset_name,
            "",
            str(release.version),
            state_dir=folder,
            gold_tells=tells,
        )
        if existing is not None and existing.get("status") == "draft":
            result.notices.append(
                ownership.take_draft(
                    conn, existing, workspace_name, project=project, store=store, adopt=adopt
                )
            )
            conn.request("DELETE", f"/api/v1/datasets/{existing['id']}", doing="deleting the stopped draft")
            existing = None
        if existing is not None:
            points_here = ownership.points_at(state, deployments(store), conn.url, str(existing["id"]))
            notice = ownership.claim(
                conn,
                existing,
                workspace_name,
                project=project,
                store=store,
                points_here=points_here,
                adopt=adopt,
            )
            if notice:
                result.notices.append(notice)
            dataset_id = str(existing["id"])
            live = _deployed_version(store, dataset_id)
            if live is not None and release.version.major > live.major and not new_dataset:
                raise ReleaseError(
                    f"release {release.version} is incompatible with {live}, live in dataset "
                    f"{dataset_name!r}: answers given under the old guidelines may not fit the new "
                    "questions. Publish it to a new dataset with --new-dataset (the old one stays as "
                    f"it is), or publish a {live.major}.x release."
                )
            if live is not None and release.version < live and not new_dataset:
                raise ReleaseError(
                    f"release {release.version} is older than {live}, live in dataset {dataset_name!r}; "
                    "publish the latest release, or make a new release that reverts the change."
                )
            if new_dataset and live is not None and release.version.major > live.major:
                existing = None
                dataset_name = f"{task.name}-v{release.version.major}"
                existing = _find(datasets, name=dataset_name, workspace_id=workspace_id)
                if existing is not None:
                    notice = ownership.claim(
                        conn,
                        existing,
                        workspace_name,
                        project=project,
                        store=store,
                        points_here=ownership.points_at(
                            None, deployments(store), conn.url, str(existing["id"])
                        ),
                        adopt=adopt,
                    )
                    if notice:
                        result.notices.append(notice)
        if existing is None:
            created = create_dataset(conn, task, dataset_name, workspace_id, guidelines, (project, store))
            dataset_id = str(created["id"])
            result.created = True
            at = _utc(conn.request("GET", f"/api/v1/datasets/{dataset_id}")["updated_at"])
            record_deployment(store, release.version, conn.url, dataset_id, at)
            result.deployed = True
        else:
            dataset_id = str(existing["id"])
            live = _deployed_version(store, dataset_id)
            at = _update_in_place(conn, dataset_id, task, guidelines)
            if live != release.version:
                record_deployment(store, release.version, conn.url, dataset_id, at)
                result.deployed = True
        result.dataset, result.dataset_id = dataset_name, dataset_id

        # 3. Roster.
        if roster is not None:
            result.roster = sync_roster(conn, workspace_id, roster, folder)
            # Answers from now on carry this roster's vendors; earlier ones keep theirs.
            record_roster(folder, roster, at, previous=state.roster if state else None)
        # 4. Gold answers stay local; then the records.
        if gold_answers:
            write_gold(folder, {**read_gold(folder), **gold_answers})
        if prepared is not None:
            by_id = dict(zip(prepared.ids, prepared.payloads, strict=True))
            on_server = {} if result.created else existing_records(conn, dataset_id)
            # Gold records published later still sit among regular ones: spread over the new records only.
            known_gold = set(gold_answers) | set(read_gold(folder))
            order, held = spread([i for i in prepared.ids if i not in on_server], known_gold, gold_rate)
            changed = [i for i in prepared.ids if i in on_server and content_differs(by_id[i], on_server[i])]
            resend = changed if update else []
            todo = [by_id[i] for i in [*order, *resend]]
            result.records_skipped = len(prepared.ids) - len(order) - len(held) - len(resend)
            result.records_updated = len(resend)
            result.records_changed = [] if update else changed
            result.gold_held_back = held
            result.ignored_columns = prepared.ignored_columns
            sent = upload(conn, dataset_id, todo, batch_size=batch_size, workers=workers, progress=progress)
            result.records_added = sent - len(resend)
            result.gold_published = sum(1 for i in order if i in known_gold)

        if result.changed_message:
            warnings.warn(result.changed_message, ChangedRecordsWarning, stacklevel=2)
        previous = state.roster if state and roster is None else []
        ProjectState(
            server_url=conn.url,
            workspace=workspace_name,
            workspace_id=workspace_id,
            dataset=dataset_name,
            dataset_id=dataset_id,
            version=str(release.version),
            roster=roster if roster is not None else previous,
            data_dir=conn.data_dir,
        ).write(folder)
        return result
    finally:
        held_lock.close()
        if owned:
            conn.close()


def _publisher_role(conn: Connection) -> str:
    """The key's role; a key that is neither an owner's nor an admin's is refused before anything changes."""
    me = conn.request("GET", "/api/v1/me", doing="checking the API key's role")
    role = str(me.get("role", ""))
    if role not in ("owner", "admin"):
        raise BackendError(
            f"the API key of {me.get('username', 'this user')!r} on {conn.url} has the role {role!r}: "
            "publishing takes an owner's key (or an admin's, for a workspace they belong to). Nothing was "
            "changed; set ARGILLA_API_KEY to an owner's key."
        )
    return role
