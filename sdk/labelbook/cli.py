"""The `labelbook` command.

Exit codes: 0 ok, 1 findings or failure, 2 unusable input. `labelbook server status` follows
the init-script convention instead (0 running, 1 crashed, 3 stopped) so scripts can branch on it.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn

import click

from labelbook import __version__
from labelbook.errors import ChangedRecordsWarning, LabelbookError

DATA_DIR_HELP = "Folder holding the server's database, logs and credentials. [default: a per-user folder]"


def _fail(err: LabelbookError, code: int = 1) -> None:
    click.secho(f"error: {err}", fg="red", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labelbook")
def main() -> None:
    """labelbook: turn a notebook into labeling guidelines and an Argilla project, and pull the
    annotations back into pandas.

    Start here: `labelbook server start` runs a local Argilla (API and web UI) with no Docker.
    """


@main.group()
def server() -> None:
    """Run the embedded Argilla server (SQLite, bundled redis, labelbook's search engine).

    \b
    labelbook server start            # detached; prints the URL and the owner's login
    labelbook server status --json    # running / stopped / crashed, PIDs, versions
    labelbook server stop             # ends exactly what start started; keeps the data
    """


def _data_dir_option(func: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=DATA_DIR_HELP,
    )(func)


def _json_option(func: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def _print_status(info: Any, as_json: bool, *, with_credentials: bool = False) -> None:
    from labelbook.server import default_data_dir

    if as_json:
        click.echo(json.dumps(info.to_dict(with_credentials=with_credentials), indent=2))
        return
    colour = {"running": "green", "stopped": "yellow", "crashed": "red"}[info.state]
    click.echo(f"state:     {click.style(info.state, fg=colour, bold=True)}")
    if info.url:
        click.echo(f"url:       {info.url}")
    click.echo(f"data dir:  {info.data_dir}")
    click.echo(f"logs:      {info.data_dir / 'logs'}")
    if info.state != "stopped":
        click.echo("pids:      " + ", ".join(f"{name} {pid or '-'}" for name, pid in info.pids.items()))
    for problem in info.problems:
        click.echo(f"problem:   {problem}")
    click.echo("versions:  " + ", ".join(f"{name} {version}" for name, version in info.versions.items()))
    if info.state == "crashed":
        flag = "" if info.data_dir == default_data_dir() else f" --data-dir {info.data_dir}"
        click.echo(
            f"hint:      `labelbook server start{flag}` cleans up and starts it again on the same data."
        )


@server.command("start")
@_data_dir_option
@click.option(
    "--port", type=click.IntRange(1, 65535), default=6900, show_default=True, help="Port of the API and UI."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Anything beyond loopback exposes the server: only with non-default credentials.",
)
@click.option(
    "--foreground", is_flag=True, help="Stay attached (for containers); Ctrl-C or SIGTERM stops it."
)
@_json_option
def server_start(data_dir: Path | None, port: int, host: str, foreground: bool, as_json: bool) -> None:
    """Start the server, detached, and print its URL and the owner's login.

    The first start in a data dir runs the database migrations and creates the owner account
    (username `labelbook`, a generated password and API key, kept in credentials.json, readable
    only by you). Starting a server that is already running reports it, without the login.
    """
    from labelbook import server as lb_server

    try:
        if foreground:
            sys.exit(lb_server.run_foreground(data_dir, port=port, host=host))
        info = lb_server.start(data_dir, port=port, host=host)
    except LabelbookError as err:
        _fail(err)
    credentials_file = info.data_dir / "credentials.json"
    if info.already_running:
        # The login was shown when it started; printing it again puts it in more terminals and logs.
        if as_json:
            click.echo(json.dumps({**info.to_dict(), "already_running": True}, indent=2))
            return
        click.secho(f"Argilla is already running at {info.url}", fg="green", bold=True)
        click.echo(f"  data dir: {info.data_dir}")
        click.echo(f"The owner's login is in {credentials_file} (readable only by you).")
        return
    if as_json:
        _print_status(info, True, with_credentials=True)
        return
    assert info.credentials is not None
    click.secho(f"Argilla started at {info.url}", fg="green", bold=True)
    click.echo(f"  username: {info.credentials.username}")
    click.echo(f"  password: {info.credentials.password}")
    click.echo(f"  api key:  {info.credentials.api_key}")
    click.echo(f"  data dir: {info.data_dir}")
    click.echo(f"Connect the SDK with ARGILLA_API_URL={info.url} and the API key above.")


@server.command("stop")
@_data_dir_option
@_json_option
def server_stop(data_dir: Path | None, as_json: bool) -> None:
    """Stop the processes `start` started (checked by pid and start time); the data stays."""
    from labelbook import server as lb_server

    try:
        info = lb_server.stop(data_dir)
    except LabelbookError as err:
        _fail(err)
    if as_json:
        _print_status(info, True)
    else:
        click.echo(f"stopped (data kept in {info.data_dir})")


@server.command("status")
@_data_dir_option
@_json_option
def server_status(data_dir: Path | None, as_json: bool) -> None:
    """Say whether the server is running, stopped or crashed. Exit 0 running, 1 crashed, 3 stopped."""
    from labelbook import server as lb_server

    try:
        info = lb_server.status(data_dir)
    except LabelbookError as err:
        _fail(err)
    _print_status(info, as_json)
    sys.exit(info.exit_code)


# ---------------------------------------------------------------------------------------------
# Authoring: build and lint


def _skip_slow_optional_imports() -> None:
    """Keep jsonschema (imported by nbformat) from loading `rfc3987_syntax`, if it is installed.

    jsonschema imports it, when present, only to check "iri" formats, which no notebook schema
    uses; it compiles a grammar at import, ~0.7 s of every `labelbook build`. Only this command's
    own process is affected, and only when jsonschema is not loaded yet.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _unusable(err: LabelbookError) -> NoReturn:
    """Exit 2: the input cannot be used; the message names the file, the cell and the fix."""
    click.secho(f"error: {err}", fg="red", err=True)
    sys.exit(2)


def _print_findings(findings: list[Any], *, errors_only: bool = False, to_stderr: bool = False) -> None:
    colours = {"error": "red", "warning": "yellow", "hint": "cyan"}
    err = errors_only or to_stderr
    for finding in findings:
        if errors_only and finding.severity != "error":
            continue
        head = click.style(f"{finding.code} {finding.severity}", fg=colours[finding.severity], bold=True)
        click.echo(f"{finding.location()}: {head}: {finding.message}", err=err)
        click.echo(f"    fix: {finding.fix}", err=err)


def _summary(findings: list[Any]) -> str:
    from labelbook.lint import count

    counts = count(findings)
    return ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "hint"))


def _write_atomically(directory: Path, documents: dict[str, str]) -> list[Path]:
    """Write every document to a temp file beside its target, then rename each into place."""
    import os
    import tempfile

    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in documents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            staged.append((tmp, directory / name))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [target for _, target in staged]


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


@main.command("build", help=BUILD_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
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
    _skip_slow_optional_imports()
    from labelbook.lint import lint
    from labelbook.notebook import load
    from labelbook.render import render_all

    try:
        guide = load(notebook)
        findings = [] if skip_lint else lint(guide)
        documents = render_all(guide, templates)
    except LabelbookError as err:
        _unusable(err)
    written = _write_atomically(output_dir, documents)
    for path in written:
        click.echo(f"wrote {path}")
    if findings:
        _print_findings([f for f in findings if f.severity != "hint"], to_stderr=True)
        errors = any(f.severity == "error" for f in findings)
        advice = "fix the errors before `labelbook release`" if errors else "`labelbook release` allowed"
        click.secho(
            f"{notebook}: {_summary(findings)}: {advice} (`labelbook lint` shows every finding).",
            fg="red" if errors else "yellow",
            err=True,
        )
        if errors:
            sys.exit(1)


LINT_HELP = """Check a guide notebook for what would confuse a contractor.

\b
Errors (exit 1) where a contractor cannot answer correctly: a label without a definition, a
reference to a label that does not exist, a worked example whose answer or record is not
valid, duplicate ids, links or rule citations that point nowhere.
Warnings: a question without a description, a rating scale without meanings, a label without
a worked example, two labels never discussed in the same section, an image without alt text,
very long sections, TODO/TBD/FIXME markers. Hints: vague wording ("usually", "etc.", "use
your judgement"...).

\b
Examples:
  labelbook lint guide.ipynb
  labelbook lint guide.py --json | jq '.findings[] | select(.severity == "error")'

Each finding has a code (LB101...), a severity, the cell number and section id, a message and
a suggested fix. Exit 0 no errors (warnings and hints allowed), 1 errors, 2 unusable input
(unreadable notebook, no or failing task cell: reported as LB104, and `build` exits 2 too).
"""


@main.command("lint", help=LINT_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@_json_option
def lint_command(notebook: Path, as_json: bool) -> None:
    _skip_slow_optional_imports()
    from labelbook.lint import lint_path

    try:
        guide, findings = lint_path(notebook)
    except LabelbookError as err:
        _unusable(err)
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
        _print_findings(findings)
        verdict = click.style(
            "unusable" if unusable else "errors" if errors else "ok",
            fg="green" if not errors else "red",
            bold=True,
        )
        click.echo(f"{notebook}: {verdict}: {_summary(findings)}")
    sys.exit(2 if unusable else 1 if errors else 0)


# ---------------------------------------------------------------------------------------------
# Releases: release, versions, diff


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


@main.command("release", help=RELEASE_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-m", "--message", required=True, help="What changed and why, for your colleagues.")
@click.option(
    "--bump",
    type=click.Choice(["major", "minor", "patch"]),
    default=None,
    help="Raise the version at least this much (never below what the changes need).",
)
def release_command(notebook: Path, message: str, bump: str | None) -> None:
    _skip_slow_optional_imports()
    from labelbook import releases
    from labelbook.errors import NotebookError, ReleaseError, TaskError, TemplateNotFound

    try:
        made = releases.release(notebook, message, bump)  # type: ignore[arg-type]
    except ReleaseError as err:
        if err.findings:
            _print_findings(list(err.findings), errors_only=True)
        _fail(err)
    except (NotebookError, TaskError, TemplateNotFound) as err:
        _unusable(err)
    if made is None:
        latest = releases.latest_release(notebook)
        click.echo(f"{notebook}: nothing changed since {latest.version if latest else '?'}; no release made.")
        return
    click.secho(f"released {made.version} ({made.bump}) → {made.path}", fg="green", bold=True)
    for line in made.changes:
        click.echo(f"  - {line.replace('**', '')}")


@main.command("versions")
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@_json_option
def versions_command(notebook: Path, as_json: bool) -> None:
    """List the releases of a notebook: number, date, message, hash and where each is deployed.

    Every release is checked against its manifest; a file edited by hand is an error (exit 1).
    """
    from labelbook import releases
    from labelbook.errors import ReleaseError

    try:
        found = releases.list_releases(notebook)
        log = releases.deployments(notebook)
    except ReleaseError as err:
        _fail(err)
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


@main.command("diff", help=DIFF_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("old")
@click.argument("new")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the diff as one self-contained HTML page.",
)
@_json_option
def diff_command(notebook: Path, old: str, new: str, html_file: Path | None, as_json: bool) -> None:
    _skip_slow_optional_imports()
    from labelbook import releases
    from labelbook.errors import ReleaseError

    try:
        changes = releases.diff_versions(notebook, old, new)
        if html_file is not None:
            page = releases.render_diff_html(changes, notebook_dir=notebook.resolve().parent)
            _write_atomically(
                html_file.parent if str(html_file.parent) else Path("."), {html_file.name: page}
            )
    except ReleaseError as err:
        _fail(err)
    except LabelbookError as err:
        _unusable(err)
    if as_json:
        click.echo(json.dumps(changes.to_dict(), indent=2, ensure_ascii=False))
    else:
        bump = f"; needs a {changes.bump} bump" if changes.bump else ""
        count = len(changes.changes)
        click.secho(
            f"{changes.old} → {changes.new}: {count} change{'s' if count != 1 else ''}{bump}", bold=True
        )
        for heading, group in releases.grouped(changes):
            click.secho(f"\n{heading}", underline=True)
            marks = {"added": "+", "removed": "-", "changed": "~", "renamed": "~", "moved": ">"}
            for change in group:
                click.echo(f"  {marks[change.action]} {change.summary.replace('**', '')}  [{change.bump}]")
                if change.detail:
                    click.echo(f"      {change.detail}")
                if change.action in ("changed", "renamed") and change.old is not None:
                    click.echo(f"      {_terminal_words(change.segments)}")
    if html_file is not None:
        click.echo(f"wrote {html_file}", err=as_json)


# ---------------------------------------------------------------------------------------------
# Deploy and observe: publish, pull


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


@main.command("publish", help=PUBLISH_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
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
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP
)
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
    data_dir: Path | None,
) -> None:
    from labelbook.errors import BackendError, RecordsError, ReleaseError, TaskError

    mapping = {}
    for item in mappings:
        column, sep, target = item.partition("=")
        if not sep or not column.strip() or not target.strip():
            _unusable(
                LabelbookError(
                    f"--mapping {item!r}: write it as COLUMN=FIELD, e.g. --mapping text=instruction."
                )
            )
        mapping[column.strip()] = target.strip()

    try:
        from labelbook.argilla import publish
        from labelbook.argilla.roster import RosterWarning
    except ImportError as err:  # argilla is in the `server` extra
        _unusable(
            LabelbookError(f"publishing needs the argilla SDK: pip install 'labelbook[server]' ({err}).")
        )
    try:
        with warnings.catch_warnings(record=True) as caught:  # the summary below says them, in colour
            warnings.simplefilter("ignore", ChangedRecordsWarning)
            warnings.simplefilter("always", RosterWarning)
            result = publish(
                notebook,
                records=records,
                version=version,
                workspace=workspace,
                dataset=dataset,
                annotators=annotators,
                gold=gold,
                gold_rate=gold_rate,
                id_column=id_column,
                mapping=mapping or None,
                new_dataset=new_dataset,
                update=update,
                data_dir=data_dir,
            )
    except (RecordsError, TaskError) as err:
        _unusable(err)
    except (BackendError, ReleaseError) as err:
        _fail(err)
    except LabelbookError as err:
        _fail(err)
    verb = "created" if result.created else "updated"
    click.secho(
        f"release {result.version} → dataset {result.dataset!r} ({verb}) in workspace {result.workspace!r}",
        fg="green",
        bold=True,
    )
    if result.deployed:
        click.echo(f"  deployment log: release {result.version} is live from now")
    if records is not None:
        click.echo(
            f"  records: {result.records_added} added, {result.records_skipped} already there"
            + (f", {result.records_updated} updated" if result.records_updated else "")
            + (f", {result.gold_published} of them gold" if result.gold_published else "")
        )
    if result.changed_message:
        click.secho(f"  {result.changed_message}", fg="yellow")
    if result.ignored_columns:
        click.echo(f"  not uploaded (not fields or metadata): {', '.join(result.ignored_columns)}")
    for warning in caught:
        if issubclass(warning.category, RosterWarning):
            click.secho(f"  warning: {warning.message}", fg="yellow")
    if result.roster is not None:
        roster = result.roster
        click.echo(
            f"  annotators: {len(roster.created)} new, {len(roster.reused)} existing, "
            f"{len(roster.removed)} removed from the workspace"
        )
        if roster.new_passwords:
            click.echo(
                "  new accounts (passwords shown once; kept in "
                f"{roster.credentials_file}, readable only by you):"
            )
            for username, password in roster.new_passwords.items():
                click.echo(f"    {username}  {password}")
    click.echo(f"  open: {result.ui_url}")


PULL_HELP = """Pull the annotations of the published dataset into a file (.parquet, .csv or .jsonl).

\b
The tidy form has one row per record × annotator × question: record_id, argilla_record_id,
question, annotator (username), vendor, value, status, submitted_at (UTC), release (the one
live when the response was saved), is_gold. --wide gives one row per record × annotator with a
column per question. In .parquet and .csv every column has one type: in the tidy form `value` is
the answer as text (a label as is, a rating as its number, a list as JSON: files merge on it),
`value_number` the ratings as numbers, `value_list` multi-label and ranking answers as lists.

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


@main.command("pull", help=PULL_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--wide", is_flag=True, help="One row per record × annotator, a column per question.")
@click.option("--fields", "with_fields", is_flag=True, help="Add the records' fields (field.<name>).")
@click.option(
    "--metadata", "with_metadata", is_flag=True, help="Add the records' metadata (metadata.<name>)."
)
@click.option("--since", default=None, help="Only responses saved after this UTC time (ISO 8601).")
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP
)
def pull_command(
    notebook: Path,
    output: Path,
    wide: bool,
    with_fields: bool,
    with_metadata: bool,
    since: str | None,
    data_dir: Path | None,
) -> None:
    from labelbook.errors import BackendError

    if output.suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        _unusable(LabelbookError(f"{output}: write annotations to a .parquet, .csv or .jsonl file."))
    if since is not None:
        import pandas as pd

        try:
            pd.Timestamp(since)
        except ValueError as err:
            _unusable(
                LabelbookError(f"--since {since!r}: not a time ({err}); write it like 2025-06-01T00:00:00Z.")
            )
    try:
        from labelbook import annotations as tidy
        from labelbook.argilla import Project

        with Project.open(notebook, data_dir=data_dir) as project:
            frame = project.annotations(wide=wide, fields=with_fields, metadata=with_metadata, since=since)
        tidy.write(frame, output)
    except BackendError as err:
        _fail(err)
    except LabelbookError as err:
        _unusable(err)
    what = "rows (record × annotator)" if wide else "rows (record × annotator × question)"
    click.echo(f"wrote {len(frame)} {what} to {output}")


REPORT_HELP = """Write the disagreement report of a published notebook as one self-contained HTML file.

\b
  labelbook report guide.ipynb -o report.html

Pulls the answers, reads the guide and the gold answers, and writes agreement (per question and
release, with intervals), the label confusions with the guideline sections that contrast them,
contested records with rationales, annotators needing attention and the vendor table. The page
makes no network requests. Exit 0 written, 1 server error, 2 not published yet or bad input.
"""


def _output_option(func: Any) -> Any:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="File to write.",
    )(func)


@main.command("report", help=REPORT_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@_output_option
@_data_dir_option
def report_command(notebook: Path, output: Path, data_dir: Path | None) -> None:
    from labelbook.errors import BackendError

    try:
        from labelbook.argilla import Project

        with Project.open(notebook, data_dir=data_dir) as project:
            made = project.report()
        made.write(output, notebook_dir=notebook.resolve().parent)
    except BackendError as err:
        _fail(err)
    except LabelbookError as err:
        _unusable(err)
    flagged = int(made.annotators["flagged"].sum()) if len(made.annotators) else 0
    click.echo(f"wrote {output}: {len(made.confusions)} label confusions, {flagged} annotators flagged")


EXPORT_HELP = """Export training data from a published notebook's answers (.jsonl or .parquet).

\b
  labelbook export guide.ipynb --consensus labels.jsonl            # one settled answer per record
  labelbook export guide.ipynb --pairs pairs.parquet --question rank

--consensus: record_id, question, value, confidence, n_answers, release (Dawid-Skene by default;
--method majority). --pairs: chosen/rejected pairs from a ranking question (or a rating question
with --group COLUMN). Exit 0 written, 1 server error, 2 not published yet or bad input.
"""


@main.command("export", help=EXPORT_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--consensus", "consensus_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--question", default=None, help="The question to export (required for --pairs).")
@click.option(
    "--method",
    type=click.Choice(["dawid-skene", "majority", "mean", "median"]),
    default="dawid-skene",
    show_default=True,
)
@click.option(
    "--group", default=None, help="For --pairs from ratings: the column grouping comparable records."
)
@_data_dir_option
def export_command(
    notebook: Path,
    consensus_file: Path | None,
    pairs_file: Path | None,
    question: str | None,
    method: str,
    group: str | None,
    data_dir: Path | None,
) -> None:
    from labelbook.errors import BackendError

    if (consensus_file is None) == (pairs_file is None):
        _unusable(LabelbookError("give exactly one of --consensus FILE or --pairs FILE."))
    target = consensus_file or pairs_file
    assert target is not None
    if target.suffix.lower() not in (".jsonl", ".parquet"):
        _unusable(LabelbookError(f"{target}: export to a .jsonl or .parquet file."))
    if pairs_file is not None and question is None:
        _unusable(LabelbookError("--pairs needs --question NAME (a ranking or rating question)."))
    try:
        import pandas as pd

        from labelbook import annotations as tidy
        from labelbook import quality
        from labelbook.argilla import Project
        from labelbook.releases import store_path
        from labelbook.task import Task

        with Project.open(notebook, data_dir=data_dir) as project:
            frame = project.annotations(metadata=bool(group and group.startswith("metadata.")))
            task_json = store_path(notebook) / project.state.version / "task.json"
        if consensus_file is not None:
            # Free-text questions (rationales) have no consensus: the task says which they are.
            task = Task.from_json(task_json.read_text(encoding="utf-8"), source=str(task_json))
            asked = [question] if question else [q.name for q in task.questions if q.kind != "text"]
            present = set(pd.unique(frame["question"]))
            parts = [quality.consensus(frame, method=method, question=q) for q in asked if q in present]
            table = pd.concat(parts, ignore_index=True) if parts else quality.consensus(frame.iloc[:0])
        else:
            assert question is not None
            table = quality.preference_pairs(frame, question, group=group)
        tidy.write(table, target)
    except BackendError as err:
        _fail(err)
    except LabelbookError as err:
        _unusable(err)
    click.echo(f"wrote {len(table)} rows to {target}")


FEEDBACK_HELP = """Write one contractor's feedback page: their misses on gold items, each with the expert
answer, their answer and the guideline rule or section that decides it.

\b
  labelbook feedback guide.ipynb --annotator alice -o alice.html

The gold items shown are retired (kept in the project's state folder): they still score the
answers given before, never the ones after. --keep-gold leaves them hidden (a dry run).
Exit 0 written, 1 server error, 2 not published yet or unknown annotator.
"""


@main.command("feedback", help=FEEDBACK_HELP)
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--annotator", required=True, help="The contractor's username.")
@_output_option
@click.option("--keep-gold", is_flag=True, help="Do not retire the gold items shown.")
@_data_dir_option
def feedback_command(
    notebook: Path, annotator: str, output: Path, keep_gold: bool, data_dir: Path | None
) -> None:
    from labelbook.errors import BackendError

    try:
        from labelbook import quality
        from labelbook.argilla import Project
        from labelbook.notebook import load

        with Project.open(notebook, data_dir=data_dir) as project:
            frame = project.annotations(fields=True)
            gold = project.gold_status()
        sent = quality.feedback(frame, gold, load(notebook), annotator)
        sent.write(output, notebook_dir=notebook.resolve().parent)
        if not keep_gold and sent.record_ids:
            project.retire_gold(sent.record_ids, annotator)
    except BackendError as err:
        _fail(err)
    except LabelbookError as err:
        _unusable(err)
    retired = "kept hidden" if keep_gold else "retired"
    click.echo(
        f"wrote {output}: {len(sent.misses)} misses of {sent.scored} gold answers; "
        f"{len(sent.record_ids)} gold items {retired}"
    )


@main.group()
def pipeline() -> None:
    """Run a pipeline (stages, steps, routing) declared in a notebook or .py file, or show its status."""


@pipeline.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--watch", is_flag=True, help="Keep going: a pass every --interval seconds until Ctrl-C.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes with --watch.")
def pipeline_run(notebook: Path, watch: bool, interval: float) -> None:
    """One idempotent pass (or, with --watch, one every INTERVAL seconds; polling, not webhooks).
    Exit 1 when a step failed on some item after its retries."""
    from labelbook.pipelines.declare import load_pipeline
    from labelbook.pipelines.status import describe_run

    try:
        pipe = load_pipeline(notebook)
    except LabelbookError as err:
        _unusable(err)
    failed = False
    try:
        while True:
            result = pipe.run()
            click.echo(describe_run(result))
            failed = bool(result.failures)
            if not watch:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    except LabelbookError as err:
        _fail(err)
    finally:
        pipe.close()
    sys.exit(1 if failed else 0)


@pipeline.command("status")
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@_json_option
def pipeline_status(notebook: Path, as_json: bool) -> None:
    """Per stage: waiting, in progress, done, queued, done per hour, agreement, gold accuracy."""
    from labelbook.pipelines.declare import load_pipeline

    try:
        pipe = load_pipeline(notebook)
    except LabelbookError as err:
        _unusable(err)
    try:
        table = pipe.status()
    except LabelbookError as err:
        _fail(err)
    finally:
        pipe.close()
    if as_json:
        click.echo(table.to_json(orient="records", indent=1))
    else:
        click.echo(
            table.drop(columns=["quality_at"]).to_string(
                index=False, na_rep="-", float_format="{:.2f}".format
            )
        )


if __name__ == "__main__":
    main()
