"""Lineage: where a downstream record came from, read back from the pipeline's log.

Every `moved` line says which stage a record went into and from where; every `made` line says
which item (with its answers and annotators) a step or a stage-to-stage move made it from, and
the step's version. Following them back from a record reaches the source record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LineageIndex:
    """The log's `moved` and `made` lines, keyed for tracing."""

    moves: dict[tuple[str, str], str | None] = field(default_factory=dict)
    """(stage, record id) → the stage or step it was moved from (None: a source record)."""
    made: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(producer, record id) → the `made` line that produced it."""
    steps: frozenset[str] = frozenset()
    """The names of the pipeline's steps (a producer that is not one is a stage-to-stage move)."""

    @classmethod
    def read(cls, events: Iterable[dict[str, Any]], steps: Iterable[str]) -> LineageIndex:
        """The index of these log events (`moved` and `made` lines, oldest first)."""
        out = cls(steps=frozenset(steps))
        for event in events:
            if event.get("event") == "moved":
                for rid in event["ids"]:
                    out.moves[(event["stage"], rid)] = event["from"]
            elif event.get("event") == "made":
                for record in event["records"]:
                    out.made[(event["node"], record["id"])] = event
        return out

    def stage_of(self, record_id: str) -> str | None:
        """The last stage the record was moved into (a stage fed by a stage keeps ids)."""
        stages = [s for (s, rid) in self.moves if rid == record_id]
        return stages[-1] if stages else None

    def trace(self, record_id: str, stage: str | None) -> dict[str, Any]:
        """The record's ancestry: the step and its version, the item it was made from with that
        item's answers, and the same for that item, back to the source record."""
        origin = self.moves.get((stage or "", record_id))
        if origin is None:  # a source record (or one the log does not know)
            return {"stage": stage, "id": record_id, "source": True}
        is_step = origin in self.steps
        event = self.made.get((origin if is_step else f"{origin}>{stage}", record_id))
        if event is None:
            return {"stage": stage, "id": record_id, "source": False}
        return {
            "stage": stage,
            "id": record_id,
            "step": origin if is_step else None,
            "version": event["version"],
            "made_from": {**self.trace(event["item"], event["from"]), "answers": event["answers"]},
        }
