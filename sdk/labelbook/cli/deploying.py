"""Deploy and observe: `labelbook publish` and `labelbook pull`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from labelbook.cli._shared import data_dir_option, notebook_argument, output_option
from labelbook.errors import ChangedRecordsWarning, LabelbookError

PUBLISH_HELP = """Publish a release to Argilla: workspace, dataset, guidelines, annotators, records, gold.

\b
The dataset gets the task's fields and questions (label definitions in the descriptions),
the overlap as its task distribution, and the release's guide.md (with the version banner and
the changelog) as its guidelines. Publishing a newer compatible release updates guidelines and
descriptions in place and adds a line to the deployment log; a major release is refused on a
dataset that has the old one unless --new-dataset.

\b
Records (.jsonl, .csv, .parquet): a column per field, `id` for the stable id (else a hash of the
content), metadata columns by name, suggestions in `<question>.suggestion[.score|.agent]`;
--mapping COLUMN=FIELD reads a column of another name. Every problem of the records, roster and
gold is reported at once, each with its file and row, before anything is uploaded.
Publishing the same rows again adds nothing; a publish that was interrupted resumes when run again.
Rows whose id is published but whose content changed are reported and left; --update overwrites them.
Gold records are spread among the regular records each publish adds; suggestions that would set
them apart are reported. A dataset belongs to the notebook that first published it: publishing a
copy of a notebook into it is refused unless --adopt.

\b
Examples:
  labelbook publish guide.ipynb --records records.jsonl
  labelbook publish guide.ipynb --records records.jsonl --annotators roster.csv --gold gold.jsonl
  labelbook publish guide.ipynb --version 2.0.0 --new-dataset --records records.jsonl
  labelbook publish guide.ipynb --records fixed-records.jsonl --update

The server: ARGILLA_API_URL / ARGILLA_API_KEY, else the one the project was last published to
(project.json), else the local `labelbook server start` one.
New annotators' passwords are printed once and kept in <notebook>.labelbook/credentials.csv (0600).
Exit 0 published, 1 refused or server error, 2 unusable input (nothing was uploaded).
"""


@click.command("publish", help=PUBLISH_HELP)
@notebook_argument
@click.option("--records", "records", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--version", "version", default=None, help="Release to publish. [default: the latest]")
@click.option("--workspace", default=None, help="Workspace. [default: as last published, else the task name]")
@click.option(
    "--dataset", default=None, help="Dataset name. [default: as last published, else the task name]"
)
@click.option(
    "--annotators",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Roster: username, vendor (or group), rate.",
)
@click.option(
    "--gold",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Expert answers (id + a column per question); kept local, never uploaded.",
)
@click.option(
    "--gold-rate",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Share of the queue that is gold (e.g. 0.05). [default: every gold record]",
)
@click.option("--id-column", default="id", show_default=True, help="Column holding the stable record id.")
@click.option(
    "--mapping",
    "mappings",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Read a records column into a field, metadata property or <question>.suggestion (repeatable).",
)
@click.option("--new-dataset", is_flag=True, help="Start a new dataset for an incompatible (major) release.")
@click.option(
    "--update",
    is_flag=True,
    help="Overwrite published records whose fields or metadata changed (same id); their answers stay.",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="Take over a dataset that another notebook or release store published (or a stopped draft).",
)
@data_dir_option
def publish_command(
    notebook: Path,
    records: Path | None,
    version: str | None,
    workspace: str | None,
    dataset: str | None,
    annotators: Path | None,
    gold: Path | None,
    gold_rate: float | None,
    id_column: str,
    mappings: tuple[str, ...],
    new_dataset: bool,
    update: bool,
    adopt: bool,
    data_dir: Path | None,
) -> None:
    from labelbook.errors import GoldLeakWarning

    try:
        from labelbook.argilla import publish
        from labelbook.argilla.roster import RosterWarning
    except ImportError as err:  # argilla is in the `server` extra
        raise LabelbookError(
            f"publishing needs the argilla SDK: pip install 'labelbook[server]' ({err})."
        ) from err
    with warnings.catch_warnings(record=True) as caught:  # the summary below says them, in colour
        warnings.simplefilter("ignore", ChangedRecordsWarning)
        warnings.simplefilter("always", RosterWarning)
        warnings.simplefilter("ignore", GoldLeakWarning)
        project = publish(
            notebook,
            records=records,
            version=version,
            workspace=workspace,
            dataset=dataset,
            annotators=annotators,
            gold=gold,
            gold_rate=gold_rate,
            id_column=id_column,
            mapping=_mapping(mappings) or None,
            new_dataset=new_dataset,
            update=update,
            adopt=adopt,
            data_dir=data_dir,
        )
    project.close()
    result = project.last_publish
    assert result is not None  # set by every publish
    _print_published(result, with_records=records is not None)
    for warning in caught:
        if issubclass(warning.category, RosterWarning):
            click.secho(f"  warning: {warning.message}", fg="yellow")
    _print_roster(result.roster)
    click.echo(f"  open: {project.url}")


def _mapping(items: tuple[str, ...]) -> dict[str, str]:
    """--mapping COLUMN=FIELD options as a dict."""
    mapping = {}
    for item in items:
        column, sep, target = item.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise LabelbookError(
                f"--mapping {item!r}: write it as COLUMN=FIELD, e.g. --mapping text=instruction."
            )
        mapping[column.strip()] = target.strip()
    return mapping


def _print_published(result: Any, *, with_records: bool) -> None:
    verb = "created" if result.created else "updated"
    click.secho(
        f"release {result.version} → dataset {result.dataset!r} ({verb}) in workspace {result.workspace!r}",
        fg="green",
        bold=True,
    )
    for notice in result.notices:
        click.echo(f"  {notice}")
    if result.deployed:
        click.echo(f"  deployment log: release {result.version} is live from now")
    if with_records:
        click.echo(
            f"  records: {result.records_added} added, {result.records_skipped} already there"
            + (f", {result.records_updated} updated" if result.records_updated else "")
            + (f", {result.gold_published} of them gold" if result.gold_published else "")
        )
    if result.changed_message:
        click.secho(f"  {result.changed_message}", fg="yellow")
    if result.gold_held_back:
        held = len(result.gold_held_back)
        click.secho(
            f"  {held} gold record{'s' if held != 1 else ''} held back (over --gold-rate, or too few new "
            "regular records to sit among): they go out with a later publish that adds records.",
            fg="yellow",
        )
    for tell in result.gold_tells:
        click.secho(f"  warning: gold records: {tell}", fg="yellow")
    if result.ignored_columns:
        click.echo(f"  not uploaded (not fields or metadata): {', '.join(result.ignored_columns)}")


def _print_roster(roster: Any) -> None:
    if roster is None:
        return
    click.echo(
        f"  annotators: {len(roster.created)} new, {len(roster.reused)} existing, "
        f"{len(roster.removed)} removed from the workspace"
    )
    if roster.new_passwords:
        click.echo(
            f"  new accounts (passwords shown once; kept in {roster.credentials_file}, readable only by you):"
        )
        for username, password in roster.new_passwords.items():
            click.echo(f"    {username}  {password}")


PULL_HELP = """Pull the annotations of the published dataset into a file (.parquet, .csv or .jsonl).

\b
The tidy form has one row per record × annotator × question: record_id, argilla_record_id,
question, annotator (username), vendor, value, status, submitted_at (UTC), release (the one
live when the response was saved), is_gold. --wide gives one row per record × annotator with a
column per question. In .parquet and .csv every column has one type: in the tidy form `value` is
the answer as text (a label as is, a rating as its number, a list as JSON: files merge on it),
`value_number` the ratings as numbers, `value_list` multi-label and ranking answers as lists.
The tidy form is streamed to the file a page of records at a time (memory bounded, whatever the
size); --wide, --fields and --metadata build the frame in memory first. --since is answered by
labelbook's embedded server (only the records answered since are sent); other servers send every
record and the pull filters them.

\b
Examples:
  labelbook pull guide.ipynb -o annotations.parquet
  labelbook pull guide.ipynb -o wide.csv --wide --fields
  labelbook pull guide.ipynb -o new.jsonl --since 2025-06-01T00:00:00Z

The server: the one project.json records (with the key of its local data dir), unless
ARGILLA_API_URL / ARGILLA_API_KEY or --data-dir say otherwise.
Exit 0 written, 1 server error, 2 not published yet, a damaged gold or project file, a bad
output name or --since.
"""


@click.command("pull", help=PULL_HELP)
@notebook_argument
@output_option
@click.option("--wide", is_flag=True, help="One row per record × annotator, a column per question.")
@click.option("--fields", "with_fields", is_flag=True, help="Add the records' fields (field.<name>).")
@click.option(
    "--metadata", "with_metadata", is_flag=True, help="Add the records' metadata (metadata.<name>)."
)
@click.option("--since", default=None, help="Only responses saved after this time (ISO 8601; naive is UTC).")
@data_dir_option
def pull_command(
    notebook: Path,
    output: Path,
    wide: bool,
    with_fields: bool,
    with_metadata: bool,
    since: str | None,
    data_dir: Path | None,
) -> None:
    if output.suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        raise LabelbookError(f"{output}: write annotations to a .parquet, .csv or .jsonl file.")
    if since is not None:
        import pandas as pd

        try:
            pd.Timestamp(since)
        except ValueError as err:
            raise LabelbookError(
                f"--since {since!r}: not a time ({err}); write it like 2025-06-01T00:00:00Z."
            ) from err
    from labelbook import annotations as tidy
    from labelbook.argilla import Project

    with Project.open(notebook, data_dir=data_dir) as project:
        if wide or with_fields or with_metadata:
            # Their column sets and types are known only once every record is in: built in memory.
            frame = project.annotations(wide=wide, fields=with_fields, metadata=with_metadata, since=since)
            tidy.write(frame, output)
            written = len(frame)
        else:
            written = project.pull(output, since=since)
    what = "rows (record × annotator)" if wide else "rows (record × annotator × question)"
    click.echo(f"wrote {written} {what} to {output}")
