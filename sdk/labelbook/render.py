"""Render a Guide into the documents contractors and Argilla read, through Jinja2 templates.

Three outputs, all rendered in memory by `render_all` (so a caller can write them atomically):

    guide.md     the `argilla` template: markdown for the dataset's guidelines in Argilla
    guide.html   the `contractor` template: one self-contained, printable HTML file
    task.json    `Task.to_json()`

Templates are folders of Jinja2 files (`guide.md.j2`, `guide.html.j2`) found like nbconvert's:
an explicit path, then `instruction_templates/<name>/` beside the notebook, then the templates
packaged with labelbook; a missing one raises `TemplateNotFound` listing every path searched.
Every folder on that path is also on the Jinja2 loader's path, so a template may
`{% extends "contractor/guide.html.j2" %}` and override only the blocks it changes.

Markdown goes through markdown-it-py with the preset of `labelbook.markup` (`commonmark` + tables)
and the mdit-py-plugins front matter, footnote and anchors plugins. The notebook is untrusted
text: HTML output is rendered with raw HTML allowed, then sanitized (`labelbook.sanitize`), and
Jinja2 autoescapes everything else; markdown output goes through `sanitize.clean_markdown`.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.errors import TaskError, TemplateNotFound
from labelbook.guide import CellOutput, Guide, Markdown, Section, WorkedExample
from labelbook.markup import FENCE_OPENING, RULE_MARK, commonmark, fence, inline_code, slugify
from labelbook.sanitize import clean_markdown, safe_url, sanitize_html
from labelbook.task import (
    ChatField,
    ChatMessage,
    Field,
    ImageField,
    MultiLabelQuestion,
    Question,
    RankingQuestion,
    SpanQuestion,
    TextField,
    TextQuestion,
)

if TYPE_CHECKING:
    import jinja2
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore

__all__ = [
    "OUTPUTS",
    "Output",
    "clean_markdown",
    "find_template",
    "markdown_to_html",
    "packaged_templates",
    "render",
    "render_all",
    "render_template",
    "safe_url",
    "sanitize_html",
    "template_macros",
    "template_search_path",
]


@dataclass(frozen=True)
class Output:
    """One document `labelbook build` writes from a template."""

    filename: str
    """File written in the output folder, e.g. "guide.md"."""
    template: str
    """The template file inside a template folder, e.g. "guide.md.j2"."""
    default: str
    """Name of the template folder used unless overridden, e.g. "argilla"."""


OUTPUTS: tuple[Output, ...] = (
    Output("guide.md", "guide.md.j2", "argilla"),
    Output("guide.html", "guide.html.j2", "contractor"),
)
"""The templated outputs, in build order (task.json is written straight from the Task)."""

TASK_JSON = "task.json"


# ---------------------------------------------------------------------------------------------
# Template lookup


def packaged_templates() -> Path:
    """The templates shipped with labelbook: inside the wheel, or the source tree's in an editable install."""
    here = Path(__file__).resolve().parent
    wheel = here / "instruction_templates"
    if wheel.is_dir():
        return wheel
    return here.parent.parent / "instruction_templates"  # sdk/labelbook/ → repository root


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or value.startswith(".") or value.endswith(".j2")


def find_template(
    name_or_path: str | os.PathLike[str], filename: str, notebook_dir: Path | None = None
) -> Path:
    """The template file `filename` of a template given by name or folder path, in lookup order.

    A path (anything with a slash, or an existing folder or .j2 file) is used as given; a name is
    looked up in `<notebook_dir>/instruction_templates/<name>/`, then in the packaged templates.
    """
    value = os.fspath(name_or_path)
    searched: list[Path] = []
    explicit = Path(value).expanduser()
    if _looks_like_path(value) or explicit.exists():
        candidate = explicit if explicit.suffix == ".j2" else explicit / filename
        if candidate.is_file():
            return candidate
        searched.append(candidate)
    else:
        if notebook_dir is not None:
            searched.append(notebook_dir / "instruction_templates" / value / filename)
        searched.append(packaged_templates() / value / filename)
        for candidate in searched:
            if candidate.is_file():
                return candidate
    where = "\n".join(f"  {path}" for path in searched)
    raise TemplateNotFound(
        f"template {value!r} has no {filename}; searched:\n{where}\n"
        f"Pass a template folder holding {filename} (--template PATH), put one in "
        "instruction_templates/<name>/ beside the notebook, or use a packaged name "
        f"({', '.join(_packaged_names())}).",
        searched,
    )


def _packaged_names() -> list[str]:
    root = packaged_templates()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def template_search_path(template_file: Path, notebook_dir: Path | None) -> tuple[Path, ...]:
    """Folders on the Jinja2 loader's path: the template's own, its parent, beside the notebook, packaged."""
    folders = [template_file.parent, template_file.parent.parent]
    if notebook_dir is not None:
        folders.append(notebook_dir / "instruction_templates")
    folders.append(packaged_templates())
    unique: list[Path] = []
    for folder in folders:
        if folder.is_dir() and folder not in unique:
            unique.append(folder)
    return tuple(unique)


# ---------------------------------------------------------------------------------------------
# Markdown


def _rule_marks(state: StateCore) -> None:
    """Turn `[R-id]` into an anchor where a rule is stated and into a link where it is cited.

    A known rule's id written without brackets ("the test passes (R-verified)") is a citation too.
    """
    from markdown_it.token import Token

    defined: set[str] = state.env.get("rules", set())
    for index, block in enumerate(state.tokens):
        if block.type != "inline" or not block.children:
            continue
        opens_paragraph = index > 0 and state.tokens[index - 1].type == "paragraph_open"
        children: list[Token] = []
        in_link = 0
        for position, child in enumerate(block.children):
            in_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
            if child.type != "text" or "R" not in child.content or in_link:
                children.append(child)
                continue
            text, start = child.content, 0
            for match in RULE_MARK.finditer(text):
                rule_id = match.group(1) or match.group(2)
                if match.group(2) and rule_id not in defined:
                    continue  # a bare word that only looks like an id
                if match.start() > start:
                    children.append(Token("text", "", 0, content=text[start : match.start()]))
                if opens_paragraph and position == 0 and match.start() == 0 and rule_id in defined:
                    anchor = f'<span class="rule-id" id="{rule_id}">{rule_id}</span>'
                    children.append(Token("html_inline", "", 0, content=anchor))
                else:
                    link = Token("link_open", "a", 1, attrs={"href": f"#{rule_id}", "class": "rule-ref"})
                    children += [link, Token("text", "", 0, content=rule_id), Token("link_close", "a", -1)]
                start = match.end()
            if start < len(text):
                children.append(Token("text", "", 0, content=text[start:]))
        block.children = children


class _Slugger(threading.local):
    """Anchors for headings inside a section (levels 4–6), prefixed with the section's id.

    The prefix is per thread, so documents can be rendered in parallel by one shared parser.
    """

    prefix = ""

    def __call__(self, title: str) -> str:
        return f"{self.prefix}-{slugify(title)}" if self.prefix else slugify(title)


_SLUGGER = _Slugger()


@functools.cache
def _html_parser() -> MarkdownIt:
    from mdit_py_plugins.anchors import anchors_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = commonmark().use(front_matter_plugin).use(footnote_plugin)
    md.use(anchors_plugin, min_level=1, max_level=6, slug_func=_SLUGGER)
    md.core.ruler.push("labelbook_rules", _rule_marks)
    return md


def markdown_to_html(text: str, *, doc_id: str = "", rules: Sequence[str] = ()) -> str:
    """Sanitized HTML for a markdown string. `doc_id` keeps footnote and heading ids unique per block."""
    _SLUGGER.prefix = doc_id
    env: dict[str, Any] = {"rules": set(rules)}
    if doc_id:
        env["docId"] = doc_id
    try:
        rendered = _html_parser().render(text, env)
    finally:
        _SLUGGER.prefix = ""
    return sanitize_html(rendered)


# ---------------------------------------------------------------------------------------------
# Helpers the templates call


def _chat_messages(field: Field, value: object) -> tuple[ChatMessage, ...] | None:
    """The messages of a chat value, or None when the value is malformed (shown as JSON instead)."""
    if not isinstance(field, ChatField):
        return None
    try:
        return field.messages(value)
    except TaskError:
        return None


def _pretty(value: object) -> str:
    """JSON, indented; a string that holds JSON (some APIs log tool arguments so) is decoded first."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False)


def answer_text(question: Question, value: object) -> str:
    """An answer as a contractor would say it."""
    if isinstance(question, RankingQuestion) and isinstance(value, list | tuple):
        return " > ".join(map(str, value))
    if isinstance(question, MultiLabelQuestion) and isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(question, SpanQuestion) and isinstance(value, list | tuple):
        spans = [
            f"{s.get('label')} [{s.get('start')}:{s.get('end')}]" for s in value if isinstance(s, Mapping)
        ]
        return "; ".join(spans)
    return str(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _answer_groups(
    guide: Guide, answers: Mapping[str, Any]
) -> tuple[list[tuple[Question | None, str, Any]], list[tuple[Question, str, str]]]:
    """A worked example's answers split in two: the choices (labels, ratings, rankings, spans;
    "Correct answers") and the free-text answers, which read as the example's rationale."""
    choices: list[tuple[Question | None, str, Any]] = []
    notes: list[tuple[Question, str, str]] = []
    for name, value in answers.items():
        question = _task_question(guide, name)
        if isinstance(question, TextQuestion) and isinstance(value, str):
            notes.append((question, name, value))
        else:
            choices.append((question, name, value))
    return choices, notes


def _definitions(question: Question) -> Mapping[str, str]:
    return question.meanings()


def _glossary(guide: Guide) -> list[tuple[Question, list[tuple[str, str]]]]:
    return [(q, list(_definitions(q).items())) for q in guide.task.questions if _definitions(q)]


def _heading_offset(sections: Sequence[Section]) -> int:
    """Shift so that the guide's top section level becomes <h2> (the title is the only <h1>)."""
    levels = [s.level for s in sections if s.level > 0]
    return 2 - min(levels) if levels else 1


def _task_field(guide: Guide, name: str) -> Field | None:
    return next((f for f in guide.task.fields if f.name == name), None)


def _task_question(guide: Guide, name: str) -> Question | None:
    return next((q for q in guide.task.questions if q.name == name), None)


# ---------------------------------------------------------------------------------------------
# Rendering


@functools.cache
def _environment(search_path: tuple[Path, ...], html_output: bool) -> jinja2.Environment:
    """One environment per loader path; autoescape follows the output (HTML), not the file name."""
    import jinja2
    from markupsafe import Markup

    # "labelbook/<name>/<file>" always means the packaged template, so an override beside the
    # notebook can extend the template it replaces.
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([str(p) for p in search_path]),
            jinja2.PrefixLoader({"labelbook": jinja2.FileSystemLoader(str(packaged_templates()))}),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=html_output,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

    @jinja2.pass_context
    def markdown_filter(context: jinja2.runtime.Context, text: str, doc_id: str = "") -> Markup:
        rules = context.get("rule_ids", ())
        return Markup(markdown_to_html(str(text), doc_id=doc_id, rules=rules))

    env.filters.update(
        markdown=markdown_filter,
        clean_markdown=clean_markdown,
        sanitize_html=lambda fragment: Markup(sanitize_html(str(fragment))),
        safe_url=safe_url,
        fence=fence,
        inline_code=inline_code,
        pretty=_pretty,
        tojson_pretty=_pretty,
    )
    env.tests.update(
        markdown_block=lambda block: isinstance(block, Markdown),
        worked_example=lambda block: isinstance(block, WorkedExample),
        cell_output=lambda block: isinstance(block, CellOutput),
        chat_field=lambda field: isinstance(field, ChatField),
        text_field=lambda field: isinstance(field, TextField),
        image_field=lambda field: isinstance(field, ImageField),
    )
    env.globals.update(
        chat_messages=_chat_messages,
        tool_command=lambda call: call.command,
        answer_text=answer_text,
        definitions=_definitions,
    )
    return env


def _context(guide: Guide, release: Mapping[str, Any] | None) -> dict[str, Any]:
    offset = _heading_offset(guide.sections)
    return {
        "guide": guide,
        "title": guide.title,
        "metadata": guide.metadata,
        "task": guide.task,
        "sections": guide.sections,
        "release": release,
        "glossary": _glossary(guide),
        "rule_ids": tuple(rule.id for rule in guide.rules),
        "heading_level": lambda section: min(section.level + offset, 6) if section.level else 2,
        "field": functools.partial(_task_field, guide),
        "question": functools.partial(_task_question, guide),
        "answer_groups": functools.partial(_answer_groups, guide),
    }


def _default_filename(template: str | os.PathLike[str]) -> str:
    """The file of the output whose default template is `template` (`contractor` → guide.html.j2)."""
    by_name = {o.default: o.template for o in OUTPUTS}
    return by_name.get(os.fspath(template), OUTPUTS[0].template)


def _load_template(
    template: str | os.PathLike[str], filename: str, notebook_dir: Path | None
) -> jinja2.Template:
    """Find a template file and compile it in labelbook's environment (its own folder first on the path)."""
    path = find_template(template, filename, notebook_dir)
    env = _environment(template_search_path(path, notebook_dir), ".htm" in filename)
    try:
        return env.get_template(path.name)
    except Exception as err:  # jinja2's TemplateSyntaxError, TemplateNotFound for an extended base
        raise TemplateNotFound(f"{path}: cannot load the template: {err}", [path]) from err


def render(
    guide: Guide,
    template: str | os.PathLike[str] = "argilla",
    *,
    filename: str | None = None,
    release: Mapping[str, Any] | None = None,
) -> str:
    """Render one document: `template` is a template name or folder path (see `find_template`).

    `filename` picks the file inside the folder; by default the one of the output whose default
    template is `template` (`argilla` → guide.md.j2, `contractor` → guide.html.j2).
    `release` fills the release banner and "what changed" slot (None: no banner).
    """
    filename = filename or _default_filename(template)
    notebook_dir = guide.source_path.resolve().parent
    compiled = _load_template(template, filename, notebook_dir)
    text = compiled.render(_context(guide, release))
    return text if ".htm" in filename else _tidy_markdown(text)


def render_template(
    template: str | os.PathLike[str],
    filename: str,
    context: Mapping[str, Any],
    *,
    notebook_dir: Path | None = None,
) -> str:
    """Render any template file with labelbook's lookup and environment (filters, tests, autoescape).

    Used for documents that are not a Guide (the release changelog, the release diff): `context` is
    passed as is. HTML (".htm" in `filename`) is autoescaped; markdown is tidied like guide.md.
    """
    compiled = _load_template(template, filename, notebook_dir)
    text = compiled.render(dict(context))
    return text if ".htm" in filename else _tidy_markdown(text)


def _tidy_markdown(text: str) -> str:
    """One blank line between blocks, outside top-level code fences; one trailing newline."""
    out: list[str] = []
    fence = ""
    for line in text.split("\n"):
        line = line.rstrip() if not fence else line
        match = FENCE_OPENING.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
        elif match:
            fence = match.group(1)
        elif not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def render_all(
    guide: Guide,
    templates: Sequence[str | os.PathLike[str]] = (),
    *,
    release: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every output as text, keyed by file name: guide.md, guide.html and task.json.

    Each of `templates` (a name or a folder path) replaces the defaults for the files it holds;
    one that holds none of them raises TemplateNotFound.
    """
    notebook_dir = guide.source_path.resolve().parent
    chosen: dict[str, str | os.PathLike[str]] = {o.filename: o.default for o in OUTPUTS}
    for template in templates:
        matched = False
        errors: list[TemplateNotFound] = []
        for output in OUTPUTS:
            try:
                find_template(template, output.template, notebook_dir)
            except TemplateNotFound as err:
                errors.append(err)
                continue
            chosen[output.filename] = template
            matched = True
        if not matched:
            searched = [path for err in errors for path in err.searched]
            listing = "\n".join(f"  {path}" for path in searched)
            raise TemplateNotFound(
                f"template {os.fspath(template)!r} holds none of "
                f"{', '.join(o.template for o in OUTPUTS)}; searched:\n{listing}",
                searched,
            )
    documents = {
        output.filename: render(guide, chosen[output.filename], filename=output.template, release=release)
        for output in OUTPUTS
    }
    documents[TASK_JSON] = guide.task.to_json()
    return documents


def template_macros(
    guide: Guide,
    template: str | os.PathLike[str] = "contractor",
    *,
    filename: str | None = None,
    release: Mapping[str, Any] | None = None,
) -> Any:
    """A template's macros (the contractor page's `record_value(field, value)`, `example_block`, ...)
    bound to the guide's context, found and configured exactly as `render` finds them.

    The template is run once with no sections (cheap even for a long guide), so the notebook widgets
    render records through the very markup `labelbook build` writes into guide.html.
    """
    filename = filename or _default_filename(template)
    notebook_dir = guide.source_path.resolve().parent
    compiled = _load_template(template, filename, notebook_dir)
    return compiled.make_module({**_context(guide, release), "sections": ()})
