"""Releases: `labelbook release`, `versions` and `diff`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from labelbook.cli._shared import (
    json_option,
    notebook_argument,
    print_findings,
    skip_slow_optional_imports,
)

RELEASE_HELP = """Release the guidelines as they are now: an immutable, numbered version beside the notebook.

\b
The release is written to NOTEBOOK_STEM.releases/VERSION/ (task.json, guide.md, guide.html with
the "what changed" banner, guide.json, changelog.md, manifest.json with every file's sha256).
The version follows what changed since the latest release:
  major   old answers may be invalid: a question, label or field removed or renamed, a type
          or rating scale changed
  minor   the meaning changed: labels, questions or fields added; sections, rules, label
          definitions or worked examples added, removed or reworded
  patch   nothing an answer depends on: typos, case, punctuation, formatting
The first release is 1.0.0. --bump may raise the version, never lower it.

\b
Examples:
  labelbook release guide.ipynb -m "Clarify partial vs failure"
  labelbook release guide.ipynb -m "Start the 2025 batch" --bump major

Exit 0 released (or nothing changed: no release), 1 lint errors, a --bump lower than needed,
another release running, or a damaged store; 2 unusable input.
"""


@click.command("release", help=RELEASE_HELP)
@notebook_argument
@click.option("-m", "--message", required=True, help="What changed and why, for your colleagues.")
@click.option(
    "--bump",
    type=click.Choice(["major", "minor", "patch"]),
    default=None,
    help="Raise the version at least this much (never below what the changes need).",
)
def release_command(notebook: Path, message: str, bump: str | None) -> None:
    skip_slow_optional_imports()
    from labelbook import releases
    from labelbook.errors import ReleaseError

    try:
        made = releases.release(notebook, message, bump)  # type: ignore[arg-type]
    except ReleaseError as err:
        if err.findings:
            print_findings(list(err.findings), errors_only=True)
        raise
    if not made.created:
        click.echo(f"{notebook}: nothing changed since {made.version}; no release made.")
        return
    click.secho(f"released {made.version} ({made.bump}) → {made.path}", fg="green", bold=True)
    for line in made.changes:
        click.echo(f"  - {line.replace('**', '')}")


@click.command("versions")
@notebook_argument
@json_option
def versions_command(notebook: Path, as_json: bool) -> None:
    """List the releases of a notebook: number, date, message, hash and where each is deployed.

    Every release is checked against its manifest; a file edited by hand is an error (exit 1).
    """
    from labelbook import releases

    found = releases.list_releases(notebook)
    log = releases.deployments(notebook)
    rows = []
    for item in found:
        data = item.to_dict()
        data["deployments"] = [d.to_dict() for d in log if d.version == str(item.version)]
        rows.append(data)
    if as_json:
        click.echo(json.dumps({"notebook": str(notebook), "releases": rows}, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"{notebook}: no releases yet; make one with `labelbook release {notebook} -m MESSAGE`.")
        return
    for row in reversed(rows):
        where = ", ".join(f"{d['dataset_id']} @ {d['server_url']} ({d['at']})" for d in row["deployments"])
        click.echo(
            f"{click.style(row['version'], bold=True):<8}  {row['date']}  {row['hash'][:12]}  "
            f"{row['bump']:<5}  {row['message']}"
        )
        click.echo(f"          deployed: {where or 'not deployed'}")


DIFF_HELP = """Show what changed between two versions of the guidelines.

\b
OLD and NEW are release numbers (see `labelbook versions`) or `working`, the notebook as it is
now. Changes are listed by title, question, label definition, field, section, rule and worked
example, with word-level highlights inside changed text, and the version bump they need.

\b
Examples:
  labelbook diff guide.ipynb 1.0.0 1.1.0
  labelbook diff guide.ipynb 1.1.0 working --html diff.html    # one self-contained page
  labelbook diff guide.ipynb 1.0.0 2.0.0 --json

Exit 0 (with or without changes), 1 unknown version or damaged release, 2 unusable notebook.
"""


def _terminal_words(segments: list[Any], context: int = 12) -> str:
    """A word diff for the terminal: [-deleted-]{+inserted+}, long unchanged runs shortened."""
    parts: list[str] = []
    for index, (kind, text) in enumerate(segments):
        if kind == "insert":
            parts.append(click.style(f"{{+{text}+}}", fg="green"))
        elif kind == "delete":
            parts.append(click.style(f"[-{text}-]", fg="red"))
        else:
            words = text.split(" ")
            if len(words) > 2 * context:
                head = " ".join(words[:context]) if index else ""
                tail = " ".join(words[-context:]) if index < len(segments) - 1 else ""
                text = f"{head} … {tail}".strip() if head or tail else "…"
                text = (" " if index else "") + text + (" " if index < len(segments) - 1 else "")
            parts.append(text)
    return "".join(parts).replace("\n", "\n      ")


@click.command("diff", help=DIFF_HELP)
@notebook_argument
@click.argument("old")
@click.argument("new")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the diff as one self-contained HTML page.",
)
@json_option
def diff_command(notebook: Path, old: str, new: str, html_file: Path | None, as_json: bool) -> None:
    skip_slow_optional_imports()
    from labelbook import releases
    from labelbook.files import write_text

    changes = releases.diff_versions(notebook, old, new)
    if html_file is not None:
        page = releases.render_diff_html(changes, notebook_dir=notebook.resolve().parent)
        write_text(html_file, page)
    if as_json:
        click.echo(json.dumps(changes.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_diff(changes)
    if html_file is not None:
        click.echo(f"wrote {html_file}", err=as_json)


def _print_diff(changes: Any) -> None:
    from labelbook import releases

    bump = f"; needs a {changes.bump} bump" if changes.bump else ""
    count = len(changes.changes)
    click.secho(f"{changes.old} → {changes.new}: {count} change{'s' if count != 1 else ''}{bump}", bold=True)
    marks = {"added": "+", "removed": "-", "changed": "~", "renamed": "~", "moved": ">"}
    for heading, group in releases.grouped(changes):
        click.secho(f"\n{heading}", underline=True)
        for change in group:
            click.echo(f"  {marks[change.action]} {change.summary.replace('**', '')}  [{change.bump}]")
            if change.detail:
                click.echo(f"      {change.detail}")
            if change.action in ("changed", "renamed") and change.old is not None:
                click.echo(f"      {_terminal_words(change.segments)}")
