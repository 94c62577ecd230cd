"""The CLI's one error boundary: every LabelbookError exits by its class, the same from every command."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from labelbook import errors
from labelbook.argilla import ProjectConflict, PublishLocked
from labelbook.cli import EXIT_CODES, exit_code, main
from labelbook.cli._boundary import LabelbookGroup
from labelbook.cli.authoring import LINT_HELP
from labelbook.lint import CODES


class _VendorFileError(errors.RecordsError):
    """A subclass the table does not list: it takes its nearest listed class's code."""


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.LabelbookError("not published yet"), 2),
        (errors.NotebookError("cell 3 is not JSON"), 2),
        (errors.TaskError("no such question"), 2),
        (errors.TemplateNotFound("no template 'x'"), 2),
        (errors.RecordsError("row 2: no prompt"), 2),
        (_VendorFileError("row 9: no vendor"), 2),
        (errors.ReleaseError("lint errors"), 1),
        (errors.BackendError("server unreachable"), 1),
        (errors.ServerError("port taken"), 1),
        (ProjectConflict("belongs to another notebook"), 1),
        (PublishLocked("another publish is running"), 1),
    ],
)
def test_an_error_exits_by_its_nearest_class_in_the_table(error: errors.LabelbookError, code: int) -> None:
    assert exit_code(error) == code


def test_the_table_holds_only_the_two_documented_codes_and_the_root() -> None:
    assert set(EXIT_CODES.values()) == {1, 2}
    assert EXIT_CODES[errors.LabelbookError] == 2


def _group_raising(error: Exception) -> click.Group:
    group = LabelbookGroup()

    @group.command("first")
    def first() -> None:
        raise error

    @group.group("nested")
    def nested() -> None:
        pass

    @nested.command("second")
    def second() -> None:
        raise error

    return group


@pytest.mark.parametrize("path", [["first"], ["nested", "second"]])
@pytest.mark.parametrize(
    ("error", "code"), [(errors.BackendError("server at x: 502"), 1), (errors.TaskError("bad task"), 2)]
)
def test_every_command_of_the_group_exits_the_same_way_with_the_message_on_stderr(
    path: list[str], error: errors.LabelbookError, code: int
) -> None:
    result = CliRunner(mix_stderr=False).invoke(_group_raising(error), path)
    assert result.exit_code == code
    assert result.stderr == f"error: {error}\n" and result.stdout == ""
    assert "Traceback" not in result.output


def test_an_error_that_is_not_ours_is_not_hidden() -> None:
    result = CliRunner().invoke(_group_raising(KeyError("bug")), ["first"])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


def test_the_same_error_exits_2_from_pull_and_publish() -> None:
    runner = CliRunner(mix_stderr=False)
    pulled = runner.invoke(main, ["pull", "guide.ipynb", "-o", "out.txt"])
    published = runner.invoke(main, ["publish", "guide.ipynb", "--mapping", "nothing"])
    assert (pulled.exit_code, published.exit_code) == (2, 2)
    assert pulled.stderr.startswith("error: out.txt: write annotations to a .parquet")
    assert published.stderr.startswith("error: --mapping 'nothing': write it as COLUMN=FIELD")


def test_lint_help_lists_every_code_with_its_severity() -> None:
    listed = [line.split() for line in LINT_HELP.splitlines() if line.strip().startswith("LB")]
    assert {(words[0], words[1]) for words in listed} == {(c, s) for c, (s, _) in CODES.items()}
    result = CliRunner().invoke(main, ["lint", "--help"])
    assert all(code in result.output for code in CODES)
