"""What the commands share: options, the findings printer, atomic writes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

DATA_DIR_HELP = "Folder holding the server's database, logs and credentials. [default: a per-user folder]"

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
output_option = click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)
notebook_argument = click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))


def skip_slow_optional_imports() -> None:
    """Keep jsonschema (imported by nbformat) from loading `rfc3987_syntax`, if it is installed.

    jsonschema imports it, when present, only to check "iri" formats, which no notebook schema
    uses; it compiles a grammar at import, ~0.7 s of every `labelbook build`. Only this command's
    own process is affected, and only when jsonschema is not loaded yet.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def print_findings(findings: list[Any], *, errors_only: bool = False, to_stderr: bool = False) -> None:
    colours = {"error": "red", "warning": "yellow", "hint": "cyan"}
    err = errors_only or to_stderr
    for finding in findings:
        if errors_only and finding.severity != "error":
            continue
        head = click.style(f"{finding.code} {finding.severity}", fg=colours[finding.severity], bold=True)
        click.echo(f"{finding.location()}: {head}: {finding.message}", err=err)
        click.echo(f"    fix: {finding.fix}", err=err)


def summary(findings: list[Any]) -> str:
    from labelbook.lint import count

    counts = count(findings)
    return ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "hint"))
