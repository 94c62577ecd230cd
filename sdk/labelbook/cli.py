"""The `labelbook` command.

Exit codes: 0 ok, 1 findings or failure, 2 unusable input. `labelbook server status` follows
the init-script convention instead (0 running, 1 crashed, 3 stopped) so scripts can branch on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from labelbook import __version__
from labelbook.errors import LabelbookError

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
    only by you). Starting a server that is already running reports it.
    """
    from labelbook import server as lb_server

    try:
        if foreground:
            sys.exit(lb_server.run_foreground(data_dir, port=port, host=host))
        info = lb_server.start(data_dir, port=port, host=host)
    except LabelbookError as err:
        _fail(err)
    if as_json:
        _print_status(info, True, with_credentials=True)
        return
    assert info.credentials is not None
    headline = "already running" if info.already_running else "started"
    click.secho(f"Argilla {headline} at {info.url}", fg="green", bold=True)
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


if __name__ == "__main__":
    main()
