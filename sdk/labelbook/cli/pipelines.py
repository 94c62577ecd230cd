"""Pipelines: `labelbook pipeline run` and `labelbook pipeline status`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from labelbook.cli._shared import json_option, notebook_argument


@click.group()
def pipeline() -> None:
    """Run a pipeline (stages, steps, routing) declared in a notebook or .py file, or show its status.

    \b
    labelbook pipeline run book-qa.ipynb            # one idempotent pass
    labelbook pipeline run book-qa.ipynb --watch    # a pass on every completed record until Ctrl-C
    labelbook pipeline status book-qa.ipynb --json

    Exit 2 when the file declares no pipeline (or a stage cannot be used), 1 when the server fails
    or a step failed on some item after its retries.
    """


@pipeline.command("run")
@notebook_argument
@click.option(
    "--watch",
    is_flag=True,
    help="Keep going until Ctrl-C: a pass as soon as the server reports a completed record (its "
    "webhooks, when it runs on this machine) and every --interval seconds in any case.",
)
@click.option(
    "--interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="With --watch: the longest wait between passes (the only trigger on a remote server).",
)
def pipeline_run(notebook: Path, watch: bool, interval: float) -> None:
    """One idempotent pass, or with --watch one after every completed record and every INTERVAL
    seconds. Exit 1 when a step failed on some item after its retries.

    \b
    --watch on the embedded server (or any Argilla on this machine) subscribes a listener on
    127.0.0.1 to the server's `record.completed` webhook and deletes it on exit (one left by a
    killed watch is deleted by the next); on a remote server, or with a key that may not manage
    webhooks, it polls."""
    from labelbook.pipelines.declare import load_pipeline
    from labelbook.pipelines.nodes import RunResult
    from labelbook.pipelines.status import describe_run

    pipe = load_pipeline(notebook)
    last: list[RunResult] = []

    def report(result: RunResult) -> None:
        last[:] = [result]
        click.echo(describe_run(result))

    try:
        if watch:
            pipe.watch(interval, on_pass=report, on_start=lambda how: click.echo(f"watching: {how}"))
        else:
            report(pipe.run())
    except KeyboardInterrupt:
        pass
    finally:
        pipe.close()
    sys.exit(1 if last and last[0].failures else 0)


@pipeline.command("status")
@notebook_argument
@json_option
def pipeline_status(notebook: Path, as_json: bool) -> None:
    """Per stage: waiting, in progress, done, queued, done per hour, agreement, gold accuracy."""
    from labelbook.pipelines.declare import load_pipeline

    pipe = load_pipeline(notebook)
    try:
        table = pipe.status()
    finally:
        pipe.close()
    if as_json:
        click.echo(table.to_json(orient="records", indent=1))
    else:
        shown = table.drop(columns=["quality_at"])
        click.echo(shown.to_string(index=False, na_rep="-", float_format="{:.2f}".format))
