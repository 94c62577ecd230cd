"""Pipelines: `labelbook pipeline run` and `labelbook pipeline status`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from labelbook.cli._shared import json_option, notebook_argument


@click.group()
def pipeline() -> None:
    """Run a pipeline (stages, steps, routing) declared in a notebook or .py file, or show its status.

    \b
    labelbook pipeline run book-qa.ipynb            # one idempotent pass
    labelbook pipeline run book-qa.ipynb --watch    # a pass every --interval seconds until Ctrl-C
    labelbook pipeline status book-qa.ipynb --json

    Exit 2 when the file declares no pipeline (or a stage cannot be used), 1 when the server fails
    or a step failed on some item after its retries.
    """


@pipeline.command("run")
@notebook_argument
@click.option("--watch", is_flag=True, help="Keep going: a pass every --interval seconds until Ctrl-C.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes with --watch.")
def pipeline_run(notebook: Path, watch: bool, interval: float) -> None:
    """One idempotent pass (or, with --watch, one every INTERVAL seconds; polling, not webhooks).
    Exit 1 when a step failed on some item after its retries."""
    from labelbook.pipelines.declare import load_pipeline
    from labelbook.pipelines.status import describe_run

    pipe = load_pipeline(notebook)
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
    finally:
        pipe.close()
    sys.exit(1 if failed else 0)


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
