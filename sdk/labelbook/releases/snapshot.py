"""Snapshot: a guide's structure as plain JSON data; what a release stores in guide.json and `diff`
compares, so old releases never need the notebook."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, TypedDict

from labelbook.encoding import jsonable
from labelbook.markup import RULE_STATEMENT

if TYPE_CHECKING:
    from labelbook.guide import Guide

__all__ = ["SNAPSHOT_SCHEMA", "ExampleData", "OutputData", "RuleData", "SectionData", "Snapshot", "snapshot"]

SNAPSHOT_SCHEMA = 1

# The snapshot is typed as it is stored: JSON objects (TypedDicts, not dataclasses), so guide.json
# written by any labelbook is read back without conversion and `diff` compares it key by key.


class RuleData(TypedDict):
    """A rule: `[R-id] text`."""

    id: str
    text: str


class OutputData(TypedDict):
    """A stored cell output shown in the guide: compared by content hash and alt text."""

    kind: str
    sha256: str
    alt: str


class SectionData(TypedDict):
    """A section: its prose without the rules, which are compared by id."""

    id: str
    title: str
    level: int
    prose: str
    rules: list[RuleData]
    examples: list[str]
    outputs: list[OutputData]


class ExampleData(TypedDict):
    """A worked example: record and answers as JSON, where it sits, why."""

    id: str
    section: str
    title: str
    record: dict[str, Any]
    answers: dict[str, Any]
    explanation: str


class Snapshot(TypedDict):
    """guide.json: the guide's structure; `task` is `Task.to_dict()` (task.json's shape)."""

    schema: int
    title: str
    task: dict[str, Any]
    sections: list[SectionData]
    examples: list[ExampleData]


def _prose(body: str) -> str:
    """A section's markdown without its rule paragraphs and list items (rules are compared by id)."""
    item = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+")
    out: list[str] = []
    in_rule = False
    for line in body.split("\n"):
        marker = item.match(line)
        rest = line[marker.end() :] if marker else line.lstrip()
        if RULE_STATEMENT.match(rest):
            in_rule = True
            continue
        if in_rule and line.strip() and not marker and not line.lstrip().startswith("#"):
            continue  # continuation of the rule's paragraph or list item
        in_rule = False
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def snapshot(guide: Guide) -> Snapshot:
    """The guide's structure as JSON data: what a release stores in guide.json and `diff` compares."""
    sections: list[SectionData] = []
    for section in guide.sections:
        sections.append(
            {
                "id": section.id,
                "title": section.title,
                "level": section.level,
                "prose": _prose(section.body),
                "rules": [{"id": rule.id, "text": rule.text} for rule in section.rules],
                "examples": [example.id for example in section.examples],
                "outputs": [
                    {"kind": o.kind, "sha256": hashlib.sha256(o.data.encode()).hexdigest(), "alt": o.alt}
                    for o in section.outputs
                ],
            }
        )
    examples: list[ExampleData] = [
        {
            "id": worked.id,
            "section": worked.section_id,
            "title": worked.title,
            "record": jsonable(dict(worked.record)),
            "answers": jsonable(dict(worked.answers)),
            "explanation": worked.explanation,
        }
        for worked in guide.examples
    ]
    return {
        "schema": SNAPSHOT_SCHEMA,
        "title": guide.title,
        "task": guide.task.to_dict(),
        "sections": sections,
        "examples": examples,
    }
