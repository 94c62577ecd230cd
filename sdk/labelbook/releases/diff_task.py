"""The task's part of a diff: fields, questions, labels and their definitions, metadata."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from labelbook.releases.changes import Change, by_key, shorten
from labelbook.releases.version import Bump
from labelbook.releases.wording import text_bump

__all__ = ["diff_task"]


_TEXT_KEYS = ("title", "description")
_ANSWER_KEYS = frozenset({"values", "field", "allow_overlapping"})  # changing these invalidates answers


def _diff_item(
    kind: Literal["field", "question", "metadata"], old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[Change]:
    name = str(new["name"])
    noun = {"field": "Field", "question": "Question", "metadata": "Metadata property"}[kind]
    if old.get("type") != new.get("type"):
        yield Change(
            kind,
            name,
            "changed",
            "major" if kind != "metadata" else "minor",
            f"{noun} **{name}** is now of type {new.get('type')} (was {old.get('type')}).",
            detail=f"type {old.get('type')} → {new.get('type')}",
        )
        return
    for key in sorted(set(old) | set(new)):
        if key in ("name", "type") or old.get(key) == new.get(key):
            continue
        before, after = old.get(key), new.get(key)
        if key == "definitions":  # what the values of a rating scale mean
            yield from _diff_meanings(name, before or [], after or [])
        elif (
            isinstance(before, list)
            and before
            and isinstance(before[0], Mapping)
            and "definition" in before[0]
        ):
            yield from _diff_labels(name, key, before, after or [])
        elif key in _TEXT_KEYS:
            bump = text_bump(str(before or ""), str(after or ""))
            words = "typo fixed in" if bump == "patch" else "changed:"
            yield Change(
                kind,
                name,
                "changed",
                bump,
                f"{noun} **{name}** {key} {words} {shorten(str(after))}",
                detail=key,
                old=str(before or ""),
                new=str(after or ""),
            )
        elif kind == "metadata":
            yield Change(
                kind,
                name,
                "changed",
                "minor",
                f"{noun} **{name}**: {key} changed.",
                detail=f"{key} {before!r} → {after!r}",
            )
        elif key in _ANSWER_KEYS:
            yield Change(
                kind,
                name,
                "changed",
                "major",
                f"{noun} **{name}**: {key} changed from {before} to {after}.",
                detail=f"{key} {before!r} → {after!r}",
            )
        elif key == "required":
            state = "required" if after else "optional"
            yield Change(
                kind,
                name,
                "changed",
                "minor",
                f"{noun} **{name}** is now {state}.",
                detail=f"required {before!r} → {after!r}",
            )
        else:
            yield Change(
                kind,
                name,
                "changed",
                "patch",
                f"{noun} **{name}**: display of {key} changed.",
                detail=f"{key} {before!r} → {after!r}",
            )


def _diff_meanings(
    question: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> Iterator[Change]:
    before = {int(e["value"]): str(e.get("definition", "")) for e in old}
    after = {int(e["value"]): str(e.get("definition", "")) for e in new}
    for value in sorted(set(before) | set(after)):
        was, now = before.get(value, ""), after.get(value, "")
        if was == now:
            continue
        bump: Bump = text_bump(was, now) if was and now else "minor"
        if not now:
            words = "is no longer defined"
        else:
            words = "typo fixed in its meaning:" if bump == "patch" else "now means:"
        yield Change(
            "label",
            f"{question}.{value}",
            "changed" if was and now else "removed" if was else "added",
            bump,
            f"Value **{value}** of *{question}* {words} {shorten(now)}".rstrip(),
            old=was,
            new=now,
        )


def _diff_labels(
    question: str, key: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> Iterator[Change]:
    before = {str(e["name"]): str(e.get("definition", "")) for e in old}
    after = {str(e["name"]): str(e.get("definition", "")) for e in new}
    removed = [name for name in before if name not in after]
    added = [name for name in after if name not in before]
    renamed: dict[str, str] = {}
    for gone in removed:
        same = [name for name in added if after[name] == before[gone] and name not in renamed.values()]
        if len(same) == 1:
            renamed[gone] = same[0]
    for gone in removed:
        label_id = f"{question}.{gone}"
        if gone in renamed:
            yield Change(
                "label",
                label_id,
                "renamed",
                "major",
                f"Label **{gone}** of *{question}* renamed to **{renamed[gone]}**.",
                detail=f"{gone} → {renamed[gone]}",
            )
        else:
            yield Change(
                "label",
                label_id,
                "removed",
                "major",
                f"Label **{gone}** of *{question}* removed: do not use it any more.",
                old=before[gone],
            )
    for name in added:
        if name in renamed.values():
            continue
        yield Change(
            "label",
            f"{question}.{name}",
            "added",
            "minor",
            f"New label **{name}** for *{question}*: {shorten(after[name])}",
            new=after[name],
        )
    for name in after:
        if name in before and before[name] != after[name]:
            bump = text_bump(before[name], after[name])
            words = "typo fixed in definition" if bump == "patch" else "definition changed"
            yield Change(
                "label",
                f"{question}.{name}",
                "changed",
                bump,
                f"Label **{name}** {words}: {shorten(after[name])}",
                old=before[name],
                new=after[name],
            )
    common_old = [name for name in before if name in after]
    common_new = [name for name in after if name in before]
    if common_old != common_new:
        yield Change(
            "label",
            f"{question}.*",
            "moved",
            "patch",
            f"Labels of *{question}* reordered.",
            detail=f"{key}: {', '.join(common_old)} → {', '.join(common_new)}",
        )


def diff_task(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    if old.get("name") != new.get("name"):
        yield Change(
            "task",
            "name",
            "changed",
            "minor",
            f"Task renamed to **{new.get('name')}**.",
            detail=f"{old.get('name')} → {new.get('name')}",
        )
    if old.get("overlap") != new.get("overlap"):
        yield Change(
            "task",
            "overlap",
            "changed",
            "patch",
            f"Each record is now labeled by {new.get('overlap')} people.",
            detail=f"overlap {old.get('overlap')} → {new.get('overlap')}",
        )
    groups: tuple[tuple[Literal["field", "question", "metadata"], str], ...] = (
        ("field", "fields"),
        ("question", "questions"),
        ("metadata", "metadata"),
    )
    for kind, key in groups:
        before, after = by_key(old.get(key, [])), by_key(new.get(key, []))
        noun = {"field": "field", "question": "question", "metadata": "metadata property"}[kind]
        for name in before:
            if name not in after:
                bump: Bump = "minor" if kind == "metadata" else "major"
                yield Change(
                    kind,
                    name,
                    "removed",
                    bump,
                    f"The {noun} **{name}** was removed.",
                    old=str(before[name].get("description", "")),
                )
        for name, item in after.items():
            if name not in before:
                described = f": {shorten(str(item['description']))}" if item.get("description") else "."
                yield Change(
                    kind,
                    name,
                    "added",
                    "minor",
                    f"New {noun} **{name}**{described}",
                    new=str(item.get("description", "")),
                )
            else:
                yield from _diff_item(kind, before[name], item)
        if [n for n in before if n in after] != [n for n in after if n in before]:
            yield Change(kind, f"{key}.*", "moved", "patch", f"The {key} are shown in a new order.")
