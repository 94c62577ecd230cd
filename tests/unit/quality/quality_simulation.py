"""A simulated crowd with known truths, shared by the quality tests.

Seven contractors from three vendors with accuracies from .95 down to .55, one spammer answering at
random, and one label pair (partial / failure) made systematically ambiguous: on a quarter of the
records whose truth is one of them, even careful contractors pick between the two at near coin-flip
odds, and most mistakes on such records land on the other label of the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labelbook.guide import Guide, Markdown, Rule, Section
from labelbook.task import LabelQuestion, Task, TextField, TextQuestion

LABELS = ["success", "partial", "failure", "blocked"]
PAIR = ("partial", "failure")
PEOPLE = {
    # annotator: (vendor, accuracy)
    "acme-1": ("acme", 0.95),
    "acme-2": ("acme", 0.92),
    "bright-1": ("bright", 0.82),
    "bright-2": ("bright", 0.78),
    "cheap-1": ("cheap", 0.60),
    "cheap-2": ("cheap", 0.55),
    "cheap-spam": ("cheap", None),  # answers at random
}
RATES = {"acme": 30.0, "bright": 20.0, "cheap": 10.0}


@dataclass
class Crowd:
    frame: pd.DataFrame
    truth: pd.Series
    gold: pd.DataFrame
    guide: Guide


def simulate(n_records: int = 900, overlap: int = 3, n_gold: int = 200, seed: int = 7) -> Crowd:
    rng = np.random.default_rng(seed)
    records = [f"rec-{i:04d}" for i in range(n_records)]
    truth = rng.choice(LABELS, size=n_records, p=[0.35, 0.25, 0.25, 0.15])
    ambiguous = np.isin(truth, PAIR) & (rng.random(n_records) < 0.25)
    names = list(PEOPLE)
    rows = []
    clock = {
        name: pd.Timestamp("2025-03-03T09:00:00Z") + pd.Timedelta(minutes=5 * i)
        for i, name in enumerate(names)
    }
    for i, record in enumerate(records):
        for name in rng.choice(names, size=overlap, replace=False):
            vendor, accuracy = PEOPLE[name]
            right = truth[i]
            if accuracy is None:
                answer = rng.choice(LABELS)
            else:
                p = min(accuracy, 0.55) if ambiguous[i] else accuracy
                if rng.random() < p:
                    answer = right
                elif right in PAIR and rng.random() < 0.85:
                    answer = PAIR[1 - PAIR.index(right)]
                else:
                    answer = rng.choice([label for label in LABELS if label != right])
            # About a minute per record, and a long break every 40 records.
            step = pd.Timedelta(seconds=float(rng.uniform(40, 80)))
            if rng.random() < 1 / 40:
                step += pd.Timedelta(hours=2)
            clock[name] += step
            base = {"record_id": record, "annotator": name, "vendor": vendor, "status": "submitted"}
            base.update(submitted_at=clock[name], release="1.0.0" if i < n_records // 2 else "1.1.0")
            rows.append({**base, "question": "outcome", "value": str(answer)})
            rows.append({**base, "question": "rationale", "value": f"{name} thinks {answer} ({i})"})
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype(object)
    frame["is_gold"] = frame["record_id"].isin(records[:n_gold])
    gold = pd.DataFrame({"record_id": records[:n_gold], "question": "outcome", "value": truth[:n_gold]})
    return Crowd(frame, pd.Series(truth, index=pd.Index(records, name="record_id")), gold, guide())


def guide() -> Guide:
    task = Task(
        "sim",
        fields=[TextField("text")],
        questions=[
            LabelQuestion(
                "outcome",
                labels={
                    "success": "The instruction was carried out and verified.",
                    "partial": "Some of the work was done.",
                    "failure": "Nothing useful was done, or the project is worse.",
                    "blocked": "The agent could not start.",
                },
            ),
            TextQuestion("rationale", required=False),
        ],
    )

    def section(id: str, title: str, text: str, rules: list[tuple[str, str]], cell: int) -> Section:
        return Section(
            id=id,
            title=title,
            level=2,
            blocks=(Markdown(text, cell),),
            rules=tuple(Rule(rule_id, rule_text, id, cell) for rule_id, rule_text in rules),
            cells=(cell,),
        )

    sections = (
        section("reading", "How to read a trajectory", "Read it all before you decide.", [], 2),
        section(
            "success",
            "When it is a success",
            "- [R-verified] Call it success only when a test run shows it works.",
            [("R-verified", "Call it success only when a test run shows it works.")],
            3,
        ),
        section(
            "partial-or-failure",
            "Partial or failure?",
            "- [R-partial-progress] If some files changed for the better, it is partial, not failure.\n"
            "- [R-made-worse] If the project is worse than before, it is failure even with partial progress.",
            [
                ("R-partial-progress", "If some files changed for the better, it is partial, not failure."),
                (
                    "R-made-worse",
                    "If the project is worse than before, it is failure even with partial progress.",
                ),
            ],
            4,
        ),
        section(
            "blocked",
            "Blocked",
            "- [R-blocked] No command ran: blocked.",
            [("R-blocked", "No command ran: blocked.")],
            5,
        ),
    )
    return Guide("Sim", {}, task, 1, sections, Path("sim.ipynb"), "0" * 64)
