"""Submit answers given outside the Argilla UI (a researcher's pilot in the notebook) as the API key's
own responses: the tidy frame in, one response per record × annotator out, through
`_api.submit_responses` (`/me/responses/bulk`, which the argilla SDK lacks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import labelbook.argilla._api as _api
from labelbook.errors import RecordsError

if TYPE_CHECKING:
    import pandas as pd

    from labelbook.argilla.project import Project

__all__ = ["submit"]

_STATUSES = ("submitted", "draft", "discarded")


def _wire(kind: str, value: Any) -> Any:
    if kind == "ranking" and isinstance(value, list | tuple):
        return [{"value": v, "rank": i} for i, v in enumerate(value, 1)]
    if isinstance(value, tuple):
        return list(value)
    return value


def submit(project: Project, answers: pd.DataFrame) -> int:
    """Send the tidy frame's answers as the connected user's own responses; the number of records answered.

    Every record_id must be a record of the project's dataset (RecordsError lists those that are not,
    and nothing is sent). A record answered again replaces the user's earlier response.
    """
    from labelbook.argilla.upload import existing_records
    from labelbook.releases import open_release
    from labelbook.task import Task

    release = open_release(project.notebook, project.state.version)
    task = Task.from_json(release.text("task.json"), source=str(release.path / "task.json"))
    kinds = {q.name: q.kind for q in task.questions}
    on_server = existing_records(
        project.connection, project.state.dataset_id, [str(r) for r in answers["record_id"]]
    )
    missing = sorted({str(r) for r in answers["record_id"]} - set(on_server))
    if missing:
        raise RecordsError(
            f"{len(missing)} answered record(s) are not in dataset {project.state.dataset!r} "
            f"(first: {', '.join(missing[:3])}); answer published records (publish them first).",
            missing,
        )
    responses: dict[str, _api.ResponsePayload] = {}
    for row in answers.to_dict("records"):
        record = on_server[str(row["record_id"])]
        status = row.get("status") if row.get("status") in _STATUSES else "submitted"
        item = responses.setdefault(record["id"], {"record_id": record["id"], "status": status, "values": {}})
        if row["question"] in kinds and row["value"] is not None and status != "discarded":
            item["values"][row["question"]] = {"value": _wire(kinds[row["question"]], row["value"])}
    items = list(responses.values())
    for start in range(0, len(items), _api.RESPONSES_BATCH):
        outcomes = _api.submit_responses(project.connection, items[start : start + _api.RESPONSES_BATCH])
        errors = [str(entry["error"]) for entry in outcomes if entry.get("error")]
        if errors:
            raise RecordsError(f"Argilla refused {len(errors)} response(s): {errors[0]}", errors)
    return len(items)
