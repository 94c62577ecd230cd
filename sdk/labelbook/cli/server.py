"""`labelbook server`: start, stop and inspect the embedded Argilla server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from labelbook.cli._shared import data_dir_option, json_option


@click.group()
def server() -> None:
    """Run the embedded Argilla server (SQLite, bundled redis, labelbook's search engine).

    \b
    labelbook server start            # detached; prints the URL and the owner's login
    labelbook server status --json    # running / stopped / crashed, PIDs, versions
    labelbook server stop             # ends exactly what start started; keeps the data
    labelbook server backup -o FILE   # one consistent file, while annotators keep working
    labelbook server restore FILE     # into a stopped server; the replaced data is kept aside
    """


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
@data_dir_option
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
@json_option
def server_start(data_dir: Path | None, port: int, host: str, foreground: bool, as_json: bool) -> None:
    """Start the server, detached, and print its URL and the owner's login.

    The first start in a data dir runs the database migrations and creates the owner account
    (username `labelbook`, a generated password and API key, kept in credentials.json, readable
    only by you). Starting a server that is already running reports it, without the login.
    """
    from labelbook import server as lb_server

    if foreground:
        sys.exit(lb_server.run_foreground(data_dir, port=port, host=host))
    info = lb_server.start(
        data_dir, port=port, host=host, announce=lambda message: click.echo(message, err=True)
    )
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
@data_dir_option
@json_option
def server_stop(data_dir: Path | None, as_json: bool) -> None:
    """Stop the processes `start` started (checked by pid and start time); the data stays."""
    from labelbook import server as lb_server

    info = lb_server.stop(data_dir)
    if as_json:
        _print_status(info, True)
    else:
        click.echo(f"stopped (data kept in {info.data_dir})")


@server.command("status")
@data_dir_option
@json_option
def server_status(data_dir: Path | None, as_json: bool) -> None:
    """Say whether the server is running, stopped or crashed. Exit 0 running, 1 crashed, 3 stopped."""
    from labelbook import server as lb_server

    info = lb_server.status(data_dir)
    _print_status(info, as_json)
    sys.exit(info.exit_code)


@server.command("backup")
@data_dir_option
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The backup file."
)
def server_backup(data_dir: Path | None, output: Path) -> None:
    """Write the server's data to one file (a running server keeps serving while it is copied).

    The file holds a consistent copy of the database, the owner's login and the web-UI token
    key: keep it as private as the data dir. Logs, pid files and redis's queue are left out.
    """
    from labelbook import server as lb_server

    info = lb_server.backup(output, data_dir)
    counts = ", ".join(f"{count} {table}" for table, count in info.counts.items())
    click.echo(f"backed up to {info.path} (as of {info.created_at}): {counts}")
    click.echo(f"  files: {', '.join(info.files)} (readable only by you)")
    click.echo(f"  left out: {'; '.join(info.left_out)}")


@server.command("restore")
@data_dir_option
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
def server_restore(data_dir: Path | None, backup_file: Path) -> None:
    """Put a backup in place as the data of a stopped server; the data it replaces is moved aside."""
    from labelbook import server as lb_server

    info = lb_server.restore(backup_file, data_dir)
    counts = ", ".join(f"{count} {table}" for table, count in info.counts.items())
    click.echo(f"restored the backup of {info.created_at} into {info.data_dir}: {counts}")
    if info.previous is not None:
        click.echo(f"  the data it replaced is in {info.previous}")
    flag = "" if info.data_dir == lb_server.default_data_dir() else f" --data-dir {info.data_dir}"
    click.echo(f"Start it with `labelbook server start{flag}`; the owner's login is the backup's.")
