"""Authoring: `labelbook build` and `labelbook lint`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from labelbook.cli._shared import (
    json_option,
    notebook_argument,
    print_findings,
    skip_slow_optional_imports,
    summary,
)
from labelbook.lint import CODES

BUILD_HELP = """Build the guidelines from a notebook: guide.md, guide.html and task.json.

\b
  guide.md     markdown for the Argilla dataset's guidelines (template `argilla`)
  guide.html   one self-contained, printable page for contractors (template `contractor`)
  task.json    the task schema: fields, questions, labels with their definitions

The documents are always written, so a first draft can be read as contractors will read it;
the lint's errors and warnings are printed (to stderr) with the fix for each, and errors make the
exit code 1 (`labelbook release` refuses a guide with errors). Everything is rendered in memory,
then each file is written to a temp file and renamed, so an output is never half-written.

\b
Examples:
  labelbook build guide.ipynb -o build/
  labelbook build guide.py -o build/                       # a jupytext twin builds the same files
  labelbook build guide.ipynb -o build/ --template ./my_templates/contractor
  labelbook build guide.ipynb -o build/ --template plain   # instruction_templates/plain/ beside the notebook

Templates are found in this order: an explicit path, instruction_templates/NAME/ beside the
notebook, the templates packaged with labelbook. Exit 0 built (warnings allowed), 1 built but
the lint found errors, 2 unusable input (unreadable notebook, no or failing task cell, missing
template: nothing written).
"""


@click.command("build", help=BUILD_HELP)
@notebook_argument
@click.option(
    "-o",
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write guide.md, guide.html and task.json into (created if missing).",
)
@click.option(
    "--template",
    "templates",
    multiple=True,
    metavar="NAME_OR_PATH",
    help="A template folder (name or path) replacing the default for the files it holds; repeatable.",
)
@click.option("--skip-lint", is_flag=True, help="Do not lint: only write the documents.")
def build(notebook: Path, output_dir: Path, templates: tuple[str, ...], skip_lint: bool) -> None:
    skip_slow_optional_imports()
    from labelbook.build import build as build_guide

    built = build_guide(notebook, templates, lint_guide=not skip_lint)
    findings = list(built.findings)
    written = built.write(output_dir)
    for path in written:
        click.echo(f"wrote {path}")
    if findings:
        print_findings([f for f in findings if f.severity != "hint"], to_stderr=True)
        errors = any(f.severity == "error" for f in findings)
        advice = "fix the errors before `labelbook release`" if errors else "`labelbook release` allowed"
        click.secho(
            f"{notebook}: {summary(findings)}: {advice} (`labelbook lint` shows every finding).",
            fg="red" if errors else "yellow",
            err=True,
        )
        if errors:
            sys.exit(1)


def _codes_help() -> str:
    """The codes of `labelbook.lint.CODES`, grouped by severity, for the help text."""
    lines = []
    for severity in ("error", "warning", "hint"):
        for code, (level, meaning) in CODES.items():
            if level == severity:
                lines.append(f"  {code}  {severity:<7}  {meaning}")
    return "\n".join(lines)


LINT_HELP = f"""Check a guide notebook for what would confuse a contractor.

Errors (exit 1) are what a contractor cannot answer correctly by; warnings, what is probably
unclear or unfinished; hints, vague wording ("usually", "etc.", "use your judgement"...).

\b
{_codes_help()}

\b
Examples:
  labelbook lint guide.ipynb
  labelbook lint guide.py --json | jq '.findings[] | select(.severity == "error")'

Each finding has a code, a severity, the cell number and section id, a message and a suggested
fix. Exit 0 no errors (warnings and hints allowed), 1 errors, 2 unusable input (unreadable
notebook, no or failing task cell: reported as LB104, and `build` exits 2 too).
"""


@click.command("lint", help=LINT_HELP)
@notebook_argument
@json_option
def lint_command(notebook: Path, as_json: bool) -> None:
    skip_slow_optional_imports()
    from labelbook.build import lint_path

    guide, findings = lint_path(notebook)
    errors = sum(f.severity == "error" for f in findings)
    unusable = guide is None  # no task: nothing else could be checked, as `build` would say (exit 2)
    if as_json:
        payload = {
            "notebook": str(notebook),
            "ok": errors == 0,
            "counts": {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "hint")},
            "findings": [f.to_dict() for f in findings],
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        print_findings(findings)
        verdict = click.style(
            "unusable" if unusable else "errors" if errors else "ok",
            fg="green" if not errors else "red",
            bold=True,
        )
        click.echo(f"{notebook}: {verdict}: {summary(findings)}")
    sys.exit(2 if unusable else 1 if errors else 0)
