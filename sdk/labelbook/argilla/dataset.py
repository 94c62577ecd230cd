"""The dataset of a publish: created with the task's settings and the project's mark, or claimed
and updated in place (guidelines, question descriptions, label options, metadata)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import labelbook.argilla.ownership as ownership
from labelbook.argilla._client import Connection
from labelbook.argilla.settings import (
    dataset_payload,
    field_payload,
    fit_guidelines,
    metadata_payload,
    question_description,
    question_payload,
    question_settings,
)
from labelbook.argilla.state import ProjectState
from labelbook.encoding import parse_utc
from labelbook.errors import BackendError, ReleaseError
from labelbook.releases import Release, Version, deployments, record_deployment
from labelbook.task import Task

if TYPE_CHECKING:
    from labelbook.argilla.result import PublishResult


def find(items: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
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
    return parse_utc(updated["updated_at"])


@dataclass(frozen=True)
class Place:
    """Where a publish goes: the project's state and mark, its store, the workspace and dataset named."""

    state: ProjectState | None
    project: str
    store: Path
    guidelines: str
    workspace: str
    workspace_id: str
    dataset: str


def place_dataset(
    conn: Connection,
    release: Release,
    task: Task,
    place: Place,
    existing: dict[str, Any] | None,
    datasets: list[dict[str, Any]],
    result: PublishResult,
    *,
    new_dataset: bool,
    adopt: bool,
) -> datetime:
    """Create the dataset, or claim and update the existing one; `result` gets its name and id.

    Returns the moment the release went live (the server's clock).
    """
    state, project, store, guidelines = place.state, place.project, place.store, place.guidelines
    workspace_name, workspace_id, dataset_name = place.workspace, place.workspace_id, place.dataset
    if existing is not None and existing.get("status") == "draft":
        result.notices.append(
            ownership.take_draft(conn, existing, workspace_name, project=project, store=store, adopt=adopt)
        )
        conn.request("DELETE", f"/api/v1/datasets/{existing['id']}", doing="deleting the stopped draft")
        existing = None
    if existing is not None:
        _claim(conn, existing, place, result, state=state, adopt=adopt)
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
            existing = find(datasets, name=dataset_name, workspace_id=workspace_id)
            if existing is not None:
                _claim(conn, existing, place, result, state=None, adopt=adopt)
    if existing is None:
        created = create_dataset(conn, task, dataset_name, workspace_id, guidelines, (project, store))
        dataset_id = str(created["id"])
        result.created = True
        at = parse_utc(conn.request("GET", f"/api/v1/datasets/{dataset_id}")["updated_at"])
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
    return at


def _claim(
    conn: Connection,
    existing: dict[str, Any],
    place: Place,
    result: PublishResult,
    *,
    state: ProjectState | None,
    adopt: bool,
) -> None:
    """Claim an existing dataset for the project (`ownership.claim`); its notice goes in `result`."""
    points_here = ownership.points_at(state, deployments(place.store), conn.url, str(existing["id"]))
    notice = ownership.claim(
        conn,
        existing,
        place.workspace,
        project=place.project,
        store=place.store,
        points_here=points_here,
        adopt=adopt,
    )
    if notice:
        result.notices.append(notice)
