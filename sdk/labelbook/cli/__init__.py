"""The `labelbook` command.

Exit codes, the same from every command (`labelbook.cli._boundary.EXIT_CODES`): 0 ok, 1 findings,
refusal or failure, 2 unusable input. `labelbook server status` follows the LSB init-script
convention instead (0 running, 1 crashed, 3 stopped) so scripts can branch on it.

Modules: `server`, `authoring` (build, lint), `releasing` (release, versions, diff), `deploying`
(publish, pull), `quality` (report, export, feedback), `pipelines` (pipeline run, status);
`_boundary` (errors → exit codes) and `_shared` (options and printers every command uses).
"""

from __future__ import annotations

import click

from labelbook import __version__
from labelbook.cli import authoring, deploying, pipelines, quality, releasing
from labelbook.cli._boundary import EXIT_CODES, LabelbookGroup, exit_code
from labelbook.cli.server import server

__all__ = ["EXIT_CODES", "exit_code", "main"]


@click.group(cls=LabelbookGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labelbook")
def main() -> None:
    """labelbook: turn a notebook into labeling guidelines and an Argilla project, and pull the
    annotations back into pandas.

    Start here: `labelbook server start` runs a local Argilla (API and web UI) with no Docker.
    """


for _command in (
    server,
    authoring.build,
    authoring.lint_command,
    releasing.release_command,
    releasing.versions_command,
    releasing.diff_command,
    deploying.publish_command,
    deploying.pull_command,
    quality.report_command,
    quality.export_command,
    quality.feedback_command,
    pipelines.pipeline,
):
    main.add_command(_command)
