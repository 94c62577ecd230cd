"""A stage's records as the server holds them, and the finished items among them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labelbook.pipelines.nodes import Answer, Item

if TYPE_CHECKING:
    from labelbook.argilla import Project

Pulled = list[tuple[dict[str, Any], str]]
"""(record as the server lists it, with responses; its labelbook id)."""


def pull(project: Project) -> Pulled:
    """Every record of the stage's dataset with its responses, and its id."""
    return [(r, r.get("external_id") or r["id"]) for r in project.records()]


def finished(pulled: Pulled, stage: str, names: Mapping[str, str]) -> list[Item]:
    """The completed records (the stage's overlap reached) as items with their submitted answers;
    `names`: user id → username."""
    items = []
    for record, rid in pulled:
        if record.get("status") != "completed":
            continue
        answers = [
            Answer(
                names.get(r["user_id"], r["user_id"]),
                {q: v.get("value") for q, v in (r.get("values") or {}).items()},
                r["updated_at"],
            )
            for r in record.get("responses") or ()
            if r["status"] == "submitted"
        ]
        items.append(Item(rid, stage, dict(record["fields"]), answers))
    return items


def in_progress(pulled: Pulled) -> int:
    """Records with a submitted answer that are not completed yet."""
    return sum(
        1
        for record, _ in pulled
        if record.get("status") != "completed"
        and any(x["status"] == "submitted" for x in record.get("responses") or ())
    )
