"""The dataset of a publish, through the argilla SDK: created with the task's settings and the
project's mark, or claimed and updated in place (guidelines, question descriptions, label options,
metadata)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import labelbook.argilla.ownership as ownership
import labelbook.argilla.settings as settings
from labelbook.argilla._client import Connection, sdk_default
from labelbook.argilla.state import ProjectState
from labelbook.encoding import parse_utc
from labelbook.errors import BackendError, ReleaseError
from labelbook.releases import Release, Version, deployments, record_deployment
from labelbook.task import Task

if TYPE_CHECKING:
    import argilla as rg
    from argilla._models import DatasetModel

    from labelbook.argilla.result import PublishResult


def listed(connection: Connection) -> list[DatasetModel]:
    """Every dataset the key can see. The SDK's wire models (`client.api`), as `rg.Dataset` does not
    show a dataset's status (`draft` or `ready`)."""
    with connection.errors("listing datasets"):
        return list(connection.client.api.datasets.list())


def find(datasets: list[DatasetModel], name: str, workspace_id: str) -> DatasetModel | None:
    """The dataset named `name` in the workspace, if listed."""
    for item in datasets:
        if item.name == name and str(item.workspace_id) == workspace_id:
            return item
    return None


def handle(connection: Connection, model: DatasetModel) -> rg.Dataset:
    """The SDK's `rg.Dataset` for a listed dataset (no request)."""
    import argilla as rg

    return rg.Dataset.from_model(model, client=connection.client)


def _utc(moment: datetime | None) -> datetime:
    return parse_utc(moment.isoformat() if moment is not None else "")


def _add(connection: Connection, dataset: rg.Dataset, prop: Any, doing: str) -> None:
    """Create one field, question or metadata property of the dataset."""
    with connection.errors(doing):
        prop.dataset = dataset
        prop.create()


def create_dataset(
    connection: Connection,
    task: Task,
    name: str,
    workspace_id: str,
    guidelines: str,
    owner: tuple[str, Path] | None = None,
) -> tuple[rg.Dataset, datetime]:
    """Create, configure and publish a dataset for the task, marked first with `owner` (project id,
    release store); a half-made dataset is deleted again (a killed process leaves a draft, which
    the next publish of the project makes anew). The dataset, and when it went live (server time).

    Step by step with the SDK's objects rather than `rg.Dataset.create()`, which adds the fields and
    questions before anything can carry the project's mark: a publish killed in between would leave
    a draft no project could claim."""
    import argilla as rg
    from argilla._models import DatasetModel

    client = connection.client
    with connection.errors(f"creating dataset {name!r}"):
        draft = client.api.datasets.create(
            DatasetModel(
                name=name,
                workspace_id=UUID(workspace_id),
                guidelines=settings.fit_guidelines(guidelines),
                allow_extra_metadata=False,
                distribution=rg.OverlapTaskDistributionModel(strategy="overlap", min_submitted=task.overlap),
            )
        )
    dataset = handle(connection, draft)
    try:
        if owner is not None:
            ownership.mark(connection, dataset, *owner)
        for item in task.fields:
            _add(connection, dataset, settings.field(item, client), f"adding field {item.name!r}")
        for q in task.questions:
            _add(connection, dataset, settings.question(q, client), f"adding question {q.name!r}")
        for declared in task.metadata:
            _add(
                connection, dataset, settings.metadata(declared, client), f"adding metadata {declared.name!r}"
            )
        with connection.errors("publishing the dataset"):
            published = client.api.datasets.publish(dataset.id)
    except BackendError:
        with connection.errors(f"deleting the half-made dataset {name!r}"):
            client.api.datasets.delete(dataset.id)
        raise
    return dataset, _utc(published.updated_at)


def _deployed_version(store: Path, dataset_id: str) -> Version | None:
    live = [d for d in deployments(store) if d.dataset_id == dataset_id]
    return Version.parse(live[-1].version) if live else None


def _update_in_place(connection: Connection, dataset: rg.Dataset, task: Task, guidelines: str) -> datetime:
    """New guidelines, titles, descriptions, labels and metadata on a live dataset; the server's time."""
    import argilla as rg
    from argilla._models import DatasetModel

    client = connection.client
    with connection.errors(f"reading the settings of dataset {dataset.name!r}"), sdk_default(client):
        current = dataset.settings.get()
    missing_fields = [f.name for f in task.fields if current.fields[f.name] is None]
    if missing_fields:
        raise BackendError(
            f"this release adds field(s) {', '.join(missing_fields)}, which Argilla cannot add to a dataset "
            "that already has records; publish with --new-dataset to start a new dataset."
        )
    for item in task.fields:
        field = current.fields[item.name]
        if field.title != item.title:
            with connection.errors(f"updating field {item.name!r}"):
                field.title = item.title
                field.update()
    for q in task.questions:
        existing = current.questions[q.name]
        if existing is None:
            raise BackendError(
                f"this release adds question {q.name!r}, which Argilla cannot add to a published dataset; "
                "publish with --new-dataset to start a new dataset for it."
            )
        with connection.errors(f"updating question {q.name!r}"):
            wanted = settings.question(q, client, existing.id)
            wanted.dataset = dataset
            wanted.update()
    for declared in task.metadata:
        if current.metadata[declared.name] is None:
            _add(
                connection, dataset, settings.metadata(declared, client), f"adding metadata {declared.name!r}"
            )
    # The dataset's own attributes: `Settings.update()` would send every field, question and metadata
    # property again (questions twice), so only the dataset is patched, as the SDK itself does it.
    with connection.errors("updating the guidelines"):
        updated = client.api.datasets.update(
            DatasetModel(
                id=dataset.id,
                name=dataset.name,
                guidelines=settings.fit_guidelines(guidelines),
                distribution=rg.OverlapTaskDistributionModel(strategy="overlap", min_submitted=task.overlap),
            )
        )
    return _utc(updated.updated_at)


def set_overlap(connection: Connection, dataset_id: str, overlap: int, doing: str) -> None:
    """Ask for `overlap` submitted answers per record of the dataset (its task distribution), leaving
    the rest of the dataset as it is."""
    import argilla as rg
    from argilla._models import DatasetModel

    client = connection.client
    with connection.errors(doing):
        current = client.api.datasets.get(UUID(dataset_id))
        client.api.datasets.update(
            DatasetModel(
                id=current.id,
                name=current.name,
                distribution=rg.OverlapTaskDistributionModel(strategy="overlap", min_submitted=overlap),
            )
        )


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
    listed_as: DatasetModel | None,
    datasets: list[DatasetModel],
    result: PublishResult,
    *,
    new_dataset: bool,
    adopt: bool,
) -> datetime:
    """Create the dataset, or claim and update the existing one (`listed_as`); `result` gets its name
    and id.

    Returns the moment the release went live (the server's clock).
    """
    state, project, store, guidelines = place.state, place.project, place.store, place.guidelines
    workspace_name, workspace_id, dataset_name = place.workspace, place.workspace_id, place.dataset
    existing = handle(conn, listed_as) if listed_as is not None else None
    if existing is not None and listed_as is not None and listed_as.status == "draft":
        result.notices.append(
            ownership.take_draft(conn, existing, workspace_name, project=project, store=store, adopt=adopt)
        )
        with conn.errors("deleting the stopped draft"):
            conn.client.api.datasets.delete(existing.id)
        existing = None
    if existing is not None:
        _claim(conn, existing, place, result, state=state, adopt=adopt)
        live = _deployed_version(store, str(existing.id))
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
            dataset_name = f"{task.name}-v{release.version.major}"
            found = find(datasets, name=dataset_name, workspace_id=workspace_id)
            existing = handle(conn, found) if found is not None else None
            if existing is not None:
                _claim(conn, existing, place, result, state=None, adopt=adopt)
    if existing is None:
        created, at = create_dataset(conn, task, dataset_name, workspace_id, guidelines, (project, store))
        dataset_id = str(created.id)
        result.created = True
        record_deployment(store, release.version, conn.url, dataset_id, at)
        result.deployed = True
    else:
        dataset_id = str(existing.id)
        live = _deployed_version(store, dataset_id)
        at = _update_in_place(conn, existing, task, guidelines)
        if live != release.version:
            record_deployment(store, release.version, conn.url, dataset_id, at)
            result.deployed = True
    result.dataset, result.dataset_id = dataset_name, dataset_id
    return at


def _claim(
    conn: Connection,
    existing: rg.Dataset,
    place: Place,
    result: PublishResult,
    *,
    state: ProjectState | None,
    adopt: bool,
) -> None:
    """Claim an existing dataset for the project (`ownership.claim`); its notice goes in `result`."""
    points_here = ownership.points_at(state, deployments(place.store), conn.url, str(existing.id))
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
