"""Quality: `labelbook report`, `export` and `feedback`."""

from __future__ import annotations

from pathlib import Path

import click

from labelbook.cli._shared import data_dir_option, notebook_argument, output_option
from labelbook.errors import LabelbookError

REPORT_HELP = """Write the disagreement report of a published notebook as one self-contained HTML file.

\b
  labelbook report guide.ipynb -o report.html

Pulls the answers, reads the guide and the gold answers, and writes agreement (per question and
release, with intervals), the label confusions with the guideline sections that contrast them,
contested records with rationales, annotators needing attention and the vendor table. The page
makes no network requests. Exit 0 written, 1 server error, 2 not published yet or bad input.
"""


@click.command("report", help=REPORT_HELP)
@notebook_argument
@output_option
@data_dir_option
def report_command(notebook: Path, output: Path, data_dir: Path | None) -> None:
    from labelbook.argilla import Project

    with Project.open(notebook, data_dir=data_dir) as project:
        made = project.report()
    made.write(output, notebook_dir=notebook.resolve().parent)
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


@click.command("export", help=EXPORT_HELP)
@notebook_argument
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
@data_dir_option
def export_command(
    notebook: Path,
    consensus_file: Path | None,
    pairs_file: Path | None,
    question: str | None,
    method: str,
    group: str | None,
    data_dir: Path | None,
) -> None:
    if (consensus_file is None) == (pairs_file is None):
        raise LabelbookError("give exactly one of --consensus FILE or --pairs FILE.")
    target = consensus_file or pairs_file
    assert target is not None
    if target.suffix.lower() not in (".jsonl", ".parquet"):
        raise LabelbookError(f"{target}: export to a .jsonl or .parquet file.")
    if pairs_file is not None and question is None:
        raise LabelbookError("--pairs needs --question NAME (a ranking or rating question).")
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
    click.echo(f"wrote {len(table)} rows to {target}")


FEEDBACK_HELP = """Write one contractor's feedback page: their misses on gold items, each with the expert
answer, their answer and the guideline rule or section that decides it.

\b
  labelbook feedback guide.ipynb --annotator alice -o alice.html

The gold items shown are retired (kept in the project's state folder): they still score the
answers given before, never the ones after. --keep-gold leaves them hidden (a dry run).
Exit 0 written, 1 server error, 2 not published yet or unknown annotator.
"""


@click.command("feedback", help=FEEDBACK_HELP)
@notebook_argument
@click.option("--annotator", required=True, help="The contractor's username.")
@output_option
@click.option("--keep-gold", is_flag=True, help="Do not retire the gold items shown.")
@data_dir_option
def feedback_command(
    notebook: Path, annotator: str, output: Path, keep_gold: bool, data_dir: Path | None
) -> None:
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
    retired = "kept hidden" if keep_gold else "retired"
    click.echo(
        f"wrote {output}: {len(sent.misses)} misses of {sent.scored} gold answers; "
        f"{len(sent.record_ids)} gold items {retired}"
    )
