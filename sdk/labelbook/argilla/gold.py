"""Gold records stay indistinguishable from the rest: in their suggestions and in their queue position.

Two tells are checked before anything is uploaded:
- **suggestions**: a question suggested on most regular rows but on few gold rows (or the other
  way round), an agent that suggests on gold rows only, or suggestions that equal the expert's
  answer on the gold rows (answers copied into the suggestion column give the answer away) ->
  `GoldLeakWarning`, one message per tell;
- **insertion order**: Argilla stamps records with the time they were inserted; the web UI shows a
  contractor's queue in a per-user shuffled order, but a contractor may sort by that time, and
  the API returns it. So the gold records of each publish are spread evenly among the regular
  records that publish adds, never appended after them; gold records with no new regular records
  to sit among wait for a publish that brings some (`PublishResult.gold_held_back`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from labelbook.argilla.records import interleave
from labelbook.errors import GoldLeakWarning
from labelbook.task import Task

__all__ = ["GoldLeakWarning", "spread", "suggestion_tells"]

COVERAGE_GAP = 0.25
"""Suggestion coverage of gold rows and of the other rows may differ by this share before it is a tell."""
MIN_EQUAL = 3
"""Suggestions equal to the expert answer on every gold row are a tell from this many rows on
(fewer agree by chance too often); for a free-text question one exact copy is enough."""


def _native(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, Mapping) and "rank" in v for v in value):
        return [v["value"] for v in sorted(value, key=lambda v: v["rank"])]
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list) and not any(isinstance(v, Mapping | list) for v in a + b):
        return sorted(map(str, a)) == sorted(map(str, b)) if len(a) == len(b) else False
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def suggestion_tells(
    task: Task,
    ids: Sequence[str],
    payloads: Sequence[Mapping[str, Any]],
    gold: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """What about the suggestions would let a contractor tell the gold records apart, or read their answer."""
    gold_ids = [i for i in ids if i in gold]
    other_ids = [i for i in ids if i not in gold]
    if not gold_ids or not other_ids:
        return []
    by_id = {
        i: {s["question_name"]: s for s in p.get("suggestions") or ()}
        for i, p in zip(ids, payloads, strict=True)
    }
    tells: list[str] = []
    for question in task.questions:
        q = question.name
        on_gold = [i for i in gold_ids if q in by_id[i]]
        on_other = [i for i in other_ids if q in by_id[i]]
        if not on_gold and not on_other:
            continue
        gold_share, other_share = len(on_gold) / len(gold_ids), len(on_other) / len(other_ids)
        if abs(gold_share - other_share) > COVERAGE_GAP:
            tells.append(
                f"question {q!r} has a suggestion on {gold_share:.0%} of the gold records but on "
                f"{other_share:.0%} of the others: contractors can tell the gold records by it. Suggest on "
                "gold records exactly as on the others (same model, same columns)."
            )
        gold_agents = {by_id[i][q].get("agent") for i in on_gold}
        other_agents = {by_id[i][q].get("agent") for i in on_other}
        only_gold = sorted(str(a) for a in gold_agents - other_agents if a)
        if only_gold and on_other:
            tells.append(
                f"question {q!r}: suggestions by {', '.join(only_gold)} appear on gold records only; "
                "contractors see the agent. Let the same agents suggest on every record."
            )
        answered = [i for i in on_gold if q in gold[i]]
        equal = [i for i in answered if _same(_native(by_id[i][q].get("value")), gold[i][q])]
        copied = (question.kind == "text" and equal) or (
            len(equal) >= MIN_EQUAL and len(equal) == len(answered)
        )
        if copied:
            tells.append(
                f"question {q!r}: the suggestion equals the expert answer on {len(equal)} of {len(answered)} "
                "gold records: if the suggestions were made from the gold answers, contractors copy them "
                "and gold accuracy measures nothing. Make suggestions without the gold answers."
            )
    return tells


def spread(new_ids: Sequence[str], gold: set[str], rate: float | None) -> tuple[list[str], list[str]]:
    """Upload order of the records a publish adds, and the gold records held back for a later one.

    Gold records are spread evenly among the new regular records, each followed by a regular one:
    at most `rate` of the queue when given, never more gold than new regular records. With no new
    regular record, every new gold record waits.
    """
    others = [i for i in new_ids if i not in gold]
    golden = [i for i in new_ids if i in gold]
    if not golden:
        return list(new_ids), []
    if not others:
        return [], golden
    wanted = min(len(golden), len(others))
    if rate is not None:
        wanted = min(wanted, max(1, math.ceil(rate * len(others) / (1 - rate) - 1e-9)))  # 0.95/0.95 > 1
    # interleave() at exactly this share keeps `wanted` gold records, each before a regular one.
    order = interleave([*others, *golden[:wanted]], gold, wanted / (wanted + len(others)))
    return order, golden[wanted:]
