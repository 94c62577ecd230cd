"""A labelbook Task as Argilla dataset settings, the argilla SDK's objects: fields, questions (label
definitions in the descriptions and on each option), overlap as the task distribution, metadata
with its visibility."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labelbook import task as lb

if TYPE_CHECKING:
    import argilla as rg

# Argilla's limits (argilla_server.api.schemas.v1): longer values are refused.
DESCRIPTION_LIMIT = 1000
GUIDELINES_LIMIT = 10000


def question_description(question: lb.Question) -> str:
    """The question's help text followed by each label's definition, within Argilla's 1,000 characters."""
    parts = [question.description.strip()] if question.description.strip() else []
    defined = [(name, text.strip()) for name, text in question.meanings().items() if text.strip()]
    lines = [f"- **{name}**: {text}" for name, text in defined]
    text = "\n\n".join([*parts, "\n".join(lines)] if lines else parts)
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    # Too long for Argilla: keep the help text and the start of each definition; the guidelines
    # (and the contractor page) carry the full definitions.
    budget = max(40, (DESCRIPTION_LIMIT - len(parts[0] if parts else "") - 60) // max(1, len(lines)))
    short = [line if len(line) <= budget else line[: budget - 1].rstrip() + "…" for line in lines]
    text = "\n\n".join([*parts, "\n".join(short), "(Full definitions: see the guidelines.)"])
    return text[:DESCRIPTION_LIMIT]


def fit_guidelines(markdown: str) -> str:
    """The release's guide.md, cut at a section boundary if it exceeds Argilla's 10,000 characters."""
    if len(markdown) <= GUIDELINES_LIMIT:
        return markdown
    note = "\n\n---\n*The guidelines continue in the contractor page (guide.html) you were given.*\n"
    head = markdown[: GUIDELINES_LIMIT - len(note)]
    cut = head.rfind("\n## ")
    return (head[:cut] if cut > GUIDELINES_LIMIT // 2 else head).rstrip() + note


def _options(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"value": name, "text": name, "description": (text.strip()[:DESCRIPTION_LIMIT] or None)}
        for name, text in labels.items()
    ]


def question_settings(q: lb.Question) -> dict[str, Any]:
    """A question's `settings` as Argilla takes them (labels carry their definitions)."""
    if isinstance(q, lb.MultiLabelQuestion):
        return {"type": "multi_label_selection", "options": _options(q.labels), "options_order": "natural"}
    if isinstance(q, lb.LabelQuestion):
        return {"type": "label_selection", "options": _options(q.labels)}
    if isinstance(q, lb.RatingQuestion):
        return {"type": "rating", "options": [{"value": v} for v in q.values]}
    if isinstance(q, lb.RankingQuestion):
        return {"type": "ranking", "options": _options(q.values)}
    if isinstance(q, lb.TextQuestion):
        return {"type": "text", "use_markdown": q.use_markdown}
    return {
        "type": "span",
        "field": q.field,
        "options": _options(q.labels),
        "allow_overlapping": q.allow_overlapping,
    }


_FIELDS = {"text": "TextField", "chat": "ChatField", "image": "ImageField"}
_QUESTIONS = {
    "label_selection": "LabelQuestion",
    "multi_label_selection": "MultiLabelQuestion",
    "rating": "RatingQuestion",
    "ranking": "RankingQuestion",
    "text": "TextQuestion",
    "span": "SpanQuestion",
}


def field(item: lb.Field, client: rg.Argilla) -> rg.Field:
    """The field as the SDK's `rg.TextField`, `rg.ChatField` or `rg.ImageField`."""
    import argilla as rg

    from labelbook.argilla._client import sdk_default

    settings: dict[str, Any] = {"type": item.kind}
    if isinstance(item, lb.TextField | lb.ChatField):
        settings["use_markdown"] = item.use_markdown
    with sdk_default(client):  # the constructors do not all take a client (some call it `_client`)
        made: rg.Field = getattr(rg, _FIELDS[item.kind]).from_dict(
            {"name": item.name, "title": item.title, "required": item.required, "settings": settings}
        )
    return made


def question(q: lb.Question, client: rg.Argilla, question_id: Any = None) -> rg.QuestionType:
    """The question as the SDK's question of its kind (`question_id`: the one on the server it updates).

    Made `from_dict`, as the SDK's constructors take labels without their per-option descriptions."""
    import argilla as rg

    from labelbook.argilla._client import sdk_default

    wanted = question_settings(q)
    with sdk_default(client):
        made: rg.QuestionType = getattr(rg, _QUESTIONS[wanted["type"]]).from_dict(
            {
                "name": q.name,
                "title": q.title,
                "description": question_description(q) or None,
                "required": q.required,
                "settings": wanted,
                **({"id": question_id} if question_id is not None else {}),
            }
        )
    return made


def metadata(item: lb.Metadata, client: rg.Argilla) -> rg.MetadataType:
    """The metadata property as the SDK's `rg.TermsMetadataProperty`, `rg.IntegerMetadataProperty` or
    `rg.FloatMetadataProperty`, visible to annotators or not as declared."""
    import argilla as rg

    if isinstance(item, lb.TermsMetadata):
        return rg.TermsMetadataProperty(
            item.name,
            options=list(item.options) if item.options else None,
            title=item.title,
            visible_for_annotators=item.visible_for_annotators,
            client=client,
        )
    kind = rg.IntegerMetadataProperty if isinstance(item, lb.IntegerMetadata) else rg.FloatMetadataProperty
    return kind(
        item.name,
        min=item.min,
        max=item.max,
        title=item.title,
        visible_for_annotators=item.visible_for_annotators,
        client=client,
    )
