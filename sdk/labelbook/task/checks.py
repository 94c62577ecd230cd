"""Validation shared by every part of the task schema: names, types, label definitions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from labelbook.errors import TaskError

__all__ = [
    "EXAMPLE_ID",
    "NAME",
    "TASK_NAME",
    "as_tuple",
    "check_definitions",
    "check_keys",
    "check_name",
    "check_type",
    "describe_allowed",
    "readable_name",
    "suggest_name",
]

# Argilla's own rule for field, question and metadata names.
NAME = re.compile(r"^(?=.*[a-z0-9])[a-z0-9_-]+$")
# Argilla's rule for dataset names.
TASK_NAME = re.compile(r"^(?![-_ ])[a-zA-Z0-9_ -]+$")
EXAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def suggest_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_") or "name"


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TaskError(f"{what} has an empty name: give it a short lowercase name such as 'outcome'.")
    if not NAME.match(name):
        raise TaskError(
            f"{what} name {name!r} is not allowed: use lowercase letters, digits, '_' and '-' only "
            f"(for example {suggest_name(name)!r})."
        )
    return name


def readable_name(name: str) -> str:
    """A name as a heading: `answer_a` → "Answer A", `final-state` → "Final state"."""
    words = [word for word in re.split(r"[_-]+", name) if word]
    if not words:
        return name
    if len(words) > 1 and len(words[-1]) == 1:  # answer_a, response_b: the letter is a name
        words[-1] = words[-1].upper()
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def check_type(value: object, kind: type | tuple[type, ...], where: str, expected: str) -> None:
    # bool is an int subclass; a flag is never a count.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in as_tuple(kind)):
        raise TaskError(f"{where} must be {expected}, got {type(value).__name__} {value!r}.")


def as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_definitions(value: object, where: str, minimum: int) -> dict[str, str]:
    """Normalize labels: a mapping name → definition, or a list of names (no definitions yet)."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str):
        pairs = [(name, "") for name in value]
    else:
        raise TaskError(f"{where} must be a dict of name → definition, got {type(value).__name__} {value!r}.")
    labels: dict[str, str] = {}
    for name, definition in pairs:
        if not isinstance(name, str) or not name.strip():
            raise TaskError(f"{where} has an empty label name: every label needs a name.")
        if name != name.strip():
            raise TaskError(f"{where}: label {name!r} has leading or trailing spaces: remove them.")
        if name in labels:
            raise TaskError(
                f"{where}: duplicate label {name!r}. Label names must be unique: "
                "merge the two definitions or rename one."
            )
        check_type(definition, str, f"{where}: the definition of {name!r}", "a string")
        labels[name] = definition
    if len(labels) < minimum:
        raise TaskError(f"{where} needs at least {minimum} labels, got {len(labels)}: {list(labels)}.")
    return labels


def describe_allowed(values: Sequence[object]) -> str:
    return ", ".join(repr(v) for v in values)


def check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise TaskError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {describe_allowed(sorted(allowed))}."
        )
