"""Diff two snapshots of a guide: title, task, sections, rules and worked examples."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Sequence

from labelbook.releases.changes import Change, GuideDiff, by_key, emphasis, shorten
from labelbook.releases.diff_task import diff_task
from labelbook.releases.snapshot import ExampleData, SectionData, Snapshot
from labelbook.releases.wording import text_bump

__all__ = ["diff"]


def _pair_renamed_sections(removed: list[SectionData], added: list[SectionData]) -> dict[str, SectionData]:
    """Removed section id → the added section that is the same section under a new title/id."""
    pairs: dict[str, SectionData] = {}
    taken: set[str] = set()
    for gone in removed:
        best, best_ratio = None, 0.6
        for candidate in added:
            if candidate["id"] in taken:
                continue
            ratio = difflib.SequenceMatcher(None, gone["prose"], candidate["prose"], autojunk=False).ratio()
            rules_same = [r["id"] for r in gone["rules"]] == [r["id"] for r in candidate["rules"]] and gone[
                "rules"
            ]
            if rules_same and ratio < best_ratio:
                ratio = best_ratio + 0.01
            if ratio > best_ratio:
                best, best_ratio = candidate, ratio
        if best is not None:
            pairs[str(gone["id"])] = best
            taken.add(str(best["id"]))
    return pairs


def _diff_sections(old: Sequence[SectionData], new: Sequence[SectionData]) -> Iterator[Change]:
    before, after = by_key(old, "id"), by_key(new, "id")
    removed = [s for s in old if s["id"] not in after]
    added = [s for s in new if s["id"] not in before]
    renamed = _pair_renamed_sections(removed, added)
    renamed_to = {str(s["id"]): gone for gone, s in renamed.items()}
    for section in old:
        if section["id"] not in after and section["id"] not in renamed:
            yield Change(
                "section",
                str(section["id"]),
                "removed",
                "minor",
                f"Section {emphasis(section['title'])} removed.",
                old=str(section["prose"]),
                section=str(section["id"]),
            )
    for section in new:
        sid = str(section["id"])
        if sid not in before and sid not in renamed_to:
            yield Change(
                "section",
                sid,
                "added",
                "minor",
                f"New section {emphasis(section['title'])}.",
                new=str(section["prose"]),
                section=sid,
            )
            continue
        previous = before[sid] if sid in before else before[renamed_to[sid]]
        yield from _section_edits(previous, section)
    kept_old = [renamed[str(s["id"])]["id"] if s["id"] in renamed else s["id"] for s in old]
    kept_old = [sid for sid in kept_old if sid in after]
    kept_new = [s["id"] for s in new if s["id"] in before or s["id"] in renamed_to]
    if kept_old != kept_new:
        yield Change(
            "section", "*", "moved", "patch", "Sections reordered.", detail=" → ".join(map(str, kept_new))
        )


def _section_edits(previous: SectionData, section: SectionData) -> Iterator[Change]:
    """What changed in a section kept (or renamed) between two versions: title, prose, level, outputs."""
    sid = str(section["id"])
    if previous["title"] != section["title"] or previous["id"] != sid:
        bump = text_bump(str(previous["title"]), str(section["title"]))
        yield Change(
            "section",
            sid,
            "renamed",
            bump,
            f"Section {emphasis(previous['title'])} is now called {emphasis(section['title'])}.",
            detail=f"id {previous['id']} → {sid}" if previous["id"] != sid else "title",
            old=str(previous["title"]),
            new=str(section["title"]),
            section=sid,
        )
    if previous["prose"] != section["prose"]:
        bump = text_bump(str(previous["prose"]), str(section["prose"]))
        words = "typos fixed" if bump == "patch" else "reworded"
        yield Change(
            "section",
            sid,
            "changed",
            bump,
            f"Section {emphasis(section['title'])} {words}.",
            old=str(previous["prose"]),
            new=str(section["prose"]),
            section=sid,
        )
    if previous["level"] != section["level"]:
        yield Change(
            "section",
            sid,
            "moved",
            "patch",
            f"Section {emphasis(section['title'])} moved to heading level {section['level']}.",
            section=sid,
        )
    if previous["outputs"] != section["outputs"]:
        same_data = [(o["kind"], o["sha256"]) for o in previous["outputs"]] == [
            (o["kind"], o["sha256"]) for o in section["outputs"]
        ]
        yield Change(
            "section",
            sid,
            "changed",
            "patch" if same_data else "minor",
            f"Section {emphasis(section['title'])}: "
            + ("image descriptions updated." if same_data else "tables or figures changed."),
            detail="outputs",
            section=sid,
        )


def _diff_rules(old: Sequence[SectionData], new: Sequence[SectionData]) -> Iterator[Change]:
    def rules(sections: Sequence[SectionData]) -> dict[str, tuple[str, str]]:
        return {str(r["id"]): (str(r["text"]), str(s["id"])) for s in sections for r in s["rules"]}

    before, after = rules(old), rules(new)
    titles = {str(s["id"]): str(s["title"]) for s in new}
    for rid, (text, sid) in before.items():
        if rid not in after:
            yield Change("rule", rid, "removed", "minor", f"Rule {rid} removed.", old=text, section=sid)
    for rid, (text, sid) in after.items():
        if rid not in before:
            yield Change(
                "rule", rid, "added", "minor", f"New rule {rid}: {shorten(text)}", new=text, section=sid
            )
            continue
        old_text, old_sid = before[rid]
        if old_text != text:
            bump = text_bump(old_text, text)
            words = "typo fixed" if bump == "patch" else "changed"
            yield Change(
                "rule",
                rid,
                "changed",
                bump,
                f"Rule {rid} {words}: {shorten(text)}",
                old=old_text,
                new=text,
                section=sid,
            )
        if old_sid != sid:
            yield Change(
                "rule",
                rid,
                "moved",
                "patch",
                f"Rule {rid} moved to section {emphasis(titles.get(sid, sid))}.",
                detail=f"{old_sid} → {sid}",
                section=sid,
            )


def _example_name(example: ExampleData) -> str:
    return f"{emphasis(example['title'])} ({example['id']})" if example.get("title") else str(example["id"])


def _diff_examples(old: Sequence[ExampleData], new: Sequence[ExampleData]) -> Iterator[Change]:
    before, after = by_key(old, "id"), by_key(new, "id")
    for eid, example in before.items():
        if eid not in after:
            yield Change(
                "example",
                eid,
                "removed",
                "minor",
                f"Worked example {_example_name(example)} removed.",
                old=str(example["explanation"]),
                section=str(example["section"]),
            )
    for eid, example in after.items():
        sid = str(example["section"])
        if eid not in before:
            yield Change(
                "example",
                eid,
                "added",
                "minor",
                f"New worked example {_example_name(example)}.",
                new=str(example["explanation"]),
                section=sid,
            )
            continue
        yield from _example_edits(before[eid], example)


def _example_edits(previous: ExampleData, example: ExampleData) -> Iterator[Change]:
    """What changed in a worked example kept between versions: answers, record, explanation, title, place."""
    eid, sid = str(example["id"]), str(example["section"])
    if previous["answers"] != example["answers"]:
        answers = ", ".join(
            f"{q} = {json.dumps(v, ensure_ascii=False)}"
            for q, v in example["answers"].items()
            if previous["answers"].get(q) != v
        )
        yield Change(
            "example",
            eid,
            "changed",
            "minor",
            f"Worked example {_example_name(example)}: correct answer changed ({answers or 'removed'}).",
            detail="answers",
            section=sid,
        )
    if previous["record"] != example["record"]:
        yield Change(
            "example",
            eid,
            "changed",
            "minor",
            f"Worked example {_example_name(example)}: the record changed.",
            detail="record",
            section=sid,
        )
    if previous["explanation"] != example["explanation"]:
        bump = text_bump(str(previous["explanation"]), str(example["explanation"]))
        words = "typo fixed in the explanation" if bump == "patch" else "explanation changed"
        yield Change(
            "example",
            eid,
            "changed",
            bump,
            f"Worked example {_example_name(example)}: {words}.",
            old=str(previous["explanation"]),
            new=str(example["explanation"]),
            section=sid,
        )
    if previous["title"] != example["title"]:
        yield Change(
            "example",
            eid,
            "renamed",
            text_bump(str(previous["title"]), str(example["title"])),
            f"Worked example now titled {emphasis(example['title'])}.",
            old=str(previous["title"]),
            new=str(example["title"]),
            section=sid,
        )
    if previous["section"] != sid:
        yield Change(
            "example",
            eid,
            "moved",
            "minor",
            f"Worked example {_example_name(example)} moved.",
            detail=f"{previous['section']} → {sid}",
            section=sid,
        )


def diff(old: Snapshot, new: Snapshot, *, old_label: str = "old", new_label: str = "new") -> GuideDiff:
    """Compare two snapshots (see `snapshot`) by title, task, section, rule and worked example."""
    changes: list[Change] = []
    if old["title"] != new["title"]:
        changes.append(
            Change(
                "title",
                "title",
                "changed",
                text_bump(str(old["title"]), str(new["title"])),
                f"The guide is now called {emphasis(new['title'])}.",
                old=str(old["title"]),
                new=str(new["title"]),
            )
        )
    changes += diff_task(old["task"], new["task"])
    changes += _diff_sections(old["sections"], new["sections"])
    changes += _diff_rules(old["sections"], new["sections"])
    changes += _diff_examples(old["examples"], new["examples"])
    return GuideDiff(old_label, new_label, tuple(changes), str(new["title"]))
