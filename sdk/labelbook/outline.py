"""The Guide's outline, from a preprocessed notebook: sections split at headings (levels 1-3),
rules (`[R-id]` paragraphs and list items), worked examples and shown outputs in their place, and
an id for every section (an explicit `{#id}`, else a unique slug of its title).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from labelbook.guide import Block, Guide, Markdown, Rule, Section, WorkedExample
from labelbook.markup import RULE_STATEMENT, block_parser, slugify
from labelbook.task import Example

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["INTRODUCTION_ID", "build_guide"]

INTRODUCTION_ID = "introduction"
"""The id of the text before the first section heading."""
_EXPLICIT_ID = re.compile(r"[ \t]*\{#([A-Za-z0-9][A-Za-z0-9_.:-]*)\}[ \t]*$")


class _Draft:
    """A section being assembled; examples get their ids once the section's id is known."""

    def __init__(self, title: str, level: int, id: str | None, cell: int) -> None:
        self.title, self.level, self.explicit_id = title, level, id
        self.blocks: list[Block | tuple[Example, int]] = []
        self.rules: list[tuple[str, str, int]] = []
        self.cells: list[int] = [cell] if cell else []

    def add(self, block: Block | tuple[Example, int], cell: int) -> None:
        self.blocks.append(block)
        if not self.cells or self.cells[-1] != cell:
            self.cells.append(cell)


def _parse_markdown(source: str) -> tuple[list[tuple[int, int, int, str]], list[tuple[int, str, str]]]:
    """Headings (start line, end line, level, text) and rules (line, id, text) of one markdown cell."""
    tokens = block_parser().parse(source)
    headings, rules = [], []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map and token.level == 0:  # not in a list or quote
            level = int(token.tag[1])
            if level <= 3:
                headings.append((token.map[0], token.map[1], level, tokens[i + 1].content))
        elif token.type == "paragraph_open" and token.map:
            content = tokens[i + 1].content
            match = RULE_STATEMENT.match(content)
            if match:
                rules.append((token.map[0], match.group(1), content[match.end() :].strip()))
    return headings, rules


def _clean(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def build_guide(nb: NotebookNode, resources: dict[str, Any]) -> Guide:
    """Assemble the Guide from the preprocessed notebook."""
    metadata: dict[str, Any] = resources.get("metadata", {})
    title: str | None = metadata.get("title")
    drafts: list[_Draft] = []
    current = _Draft("", 0, None, 0)
    seen_heading = False

    for cell in nb.cells:
        number = cell["cell_number"]
        if cell.cell_type == "markdown":
            headings, rules = _parse_markdown(cell.source)
            # Split as markdown-it counts lines (str.splitlines also breaks at \f, \v, U+2028...).
            lines = cell.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            start = 0
            rule_index = 0
            bounds = [*headings, (len(lines), len(lines), 0, "")]
            for h_start, h_end, level, text in bounds:
                chunk = _clean(lines[start:h_start])
                while rule_index < len(rules) and rules[rule_index][0] < h_start:
                    _, rule_id, rule_text = rules[rule_index]
                    current.rules.append((rule_id, rule_text, number))
                    rule_index += 1
                if chunk:
                    current.add(Markdown(chunk, number), number)
                if level == 0:
                    break
                explicit = _EXPLICIT_ID.search(text)
                heading = text[: explicit.start()].strip() if explicit else text.strip()
                if not seen_heading and level == 1 and title in (None, heading):
                    # The document's title, not a section; what follows is the introduction.
                    title = heading
                else:
                    drafts.append(current)
                    current = _Draft(heading, level, explicit.group(1) if explicit else None, number)
                seen_heading = True
                start = h_end
        elif cell.cell_type == "code":
            for example in resources.get("examples", {}).get(number, []):
                current.add((example, number), number)
            for output in resources.get("outputs", {}).get(number, []):
                current.add(output, number)
    drafts.append(current)

    sections = _finish_sections([d for d in drafts if d.level > 0 or d.blocks])
    return Guide(
        title=title or resources["path"].stem,
        metadata=metadata,
        task=resources["task"],
        task_cell=resources["task_cell"],
        sections=tuple(sections),
        source_path=resources["path"],
        source_hash=resources["source_hash"],
    )


def _finish_sections(drafts: list[_Draft]) -> list[Section]:
    """Give every section its id (explicit ids first, then unique slugs) and place examples."""
    taken = {d.explicit_id for d in drafts if d.explicit_id}
    sections = []
    for draft in drafts:
        if draft.explicit_id:
            section_id = draft.explicit_id
        else:
            base = slugify(draft.title) if draft.level else INTRODUCTION_ID
            section_id, n = base, 1
            while section_id in taken:
                n += 1
                section_id = f"{base}-{n}"
            taken.add(section_id)
        blocks: list[Block] = []
        for block in draft.blocks:
            if isinstance(block, tuple):
                example, cell = block
                count = sum(isinstance(b, WorkedExample) for b in blocks) + 1
                blocks.append(
                    WorkedExample(example.id or f"{section_id}-example-{count}", section_id, cell, example)
                )
            else:
                blocks.append(block)
        rules = tuple(Rule(rule_id, text, section_id, cell) for rule_id, text, cell in draft.rules)
        sections.append(
            Section(
                id=section_id,
                title=draft.title,
                level=draft.level,
                blocks=tuple(blocks),
                rules=rules,
                cells=tuple(draft.cells),
                explicit_id=draft.explicit_id is not None,
            )
        )
    return sections
