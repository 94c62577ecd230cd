# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Rating agent trajectories
#
# You will read what a coding agent did in a terminal to carry out an instruction, and say
# whether it succeeded. Each record shows:
#
# - **the instruction** the agent was given, as a user would write it;
# - **the trajectory**: the agent's messages, the shell commands it ran and what they printed.
#
# For every record, pick one **outcome** (success, partial or failure) and write a short
# **rationale** that cites the step and the rule that decided it. The [glossary](#glossary)
# defines every label; the sections below say how to apply them, with a worked example for each.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="trajectory-rating",
    fields=[
        lb.TextField(
            "instruction",
            title="Instruction",
            description="What the agent was asked to do.",
        ),
        lb.ChatField(
            "trajectory",
            title="Trajectory",
            description="The agent's messages, tool calls, shell commands and their output, in order.",
        ),
    ],
    questions=[
        lb.LabelQuestion(
            "outcome",
            title="Did the agent do what it was asked?",
            description="Judge the state the agent left behind, not what it says it did.",
            labels={
                "success": "Every part of the instruction is done, and the trajectory shows evidence that "
                "it works: the relevant tests or commands ran and passed after the last change.",
                "partial": "Some required part is done and nothing that worked before is broken, but a "
                "part is missing or was never verified.",
                "failure": "Nothing required is done, or the agent left the project worse than it found "
                "it (broken build, failing tests it caused, deleted work).",
            },
        ),
        lb.TextQuestion(
            "rationale",
            title="Rationale",
            description="One to three sentences: the step that decided the outcome and the rule id, "
            "for example `R-verified`.",
        ),
    ],
    overlap=3,
)

# %% [markdown]
# ## How to read a trajectory {#reading}
#
# Read the whole trajectory once before you decide. Agents often announce success early and
# then keep working, or keep working after an error they did not notice.
#
# - [R-final-state] Rate the state at the end of the trajectory. A command that failed early
#   and was fixed later does not count against the agent.
# - [R-claims] The agent's own summary is not evidence. Look for a command whose output shows
#   the result, such as a test run or the program's output.
# - [R-exit-codes] A shell step with a non-zero exit code failed, whatever the agent says
#   about it. Read its output to see why.

# %% [markdown]
# ## Success {#success}
#
# - [R-verified] **success** needs evidence: after the agent's last change to the code, a test
#   run or a command that exercises the change ran and passed.
# - [R-all-parts] Every part of the instruction counts. If the instruction asks for a fix *and*
#   a test, a fix without the test is **partial**, not success.

# %% tags=["labelbook:example"]
example = lb.Example(
    title="Fix verified by the test suite",
    record={
        "instruction": "The test `test_parse_date` fails on dates before 1970. Fix the parser.",
        "trajectory": [
            {
                "role": "user",
                "content": "The test `test_parse_date` fails on dates before 1970. Fix the parser.",
            },
            {
                "role": "assistant",
                "content": "Let me run the failing test first.",
                "tool_calls": [
                    {"id": "c1", "name": "bash", "arguments": {"command": "pytest -q tests/test_dates.py"}}
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "name": "bash",
                "content": "F.\n"
                "FAILED tests/test_dates.py::test_parse_date - OSError: [Errno 75] Value too large\n"
                "1 failed, 1 passed",
            },
            {
                "role": "assistant",
                "content": "`time.mktime` rejects negative timestamps here. "
                "I will use `datetime` arithmetic instead.",
            },
            {
                "role": "shell",
                "command": "sed -i 's/time.mktime(t)/(datetime(*t[:6]) - EPOCH).total_seconds()/' "
                "dates/parse.py",
                "output": "",
                "exit_code": 0,
            },
            {
                "role": "shell",
                "command": "pytest -q tests/test_dates.py",
                "output": "..\n2 passed in 0.04s",
                "exit_code": 0,
            },
            {"role": "assistant", "content": "The parser now handles dates before 1970; both tests pass."},
        ],
    },
    answers={
        "outcome": "success",
        "rationale": "The last test run, after the edit, passes (R-verified); "
        "the fix is all the instruction asked for.",
    },
    explanation="The first test run fails, but that is before the fix [R-final-state]. The run after the "
    "last edit passes, which is the evidence [R-verified] asks for. This is not **partial**: nothing the "
    "instruction asked for is missing.",
)

# %% [markdown]
# ## Partial {#partial}
#
# - [R-unverified] Changes that look right but were never run are **partial**, not success:
#   the agent edited the code and stopped without running the tests or the program.
# - [R-some-parts] The agent did one part of a multi-part instruction and not the others:
#   **partial**.
# - [R-partial-not-worse] **partial** requires that nothing is worse than before. If the agent
#   broke something that worked, the outcome is **failure**, even if some part is done.

# %% tags=["labelbook:example"]
example = lb.Example(
    title="Plausible edit, never run",
    record={
        "instruction": "Add a `--verbose` flag to the `sync` command and a test for it.",
        "trajectory": [
            {"role": "user", "content": "Add a `--verbose` flag to the `sync` command and a test for it."},
            {
                "role": "shell",
                "command": "grep -n 'def sync' -r cli/",
                "output": "cli/main.py:42:def sync(source, dest):",
                "exit_code": 0,
            },
            {
                "role": "assistant",
                "content": "I added the option with `@click.option('--verbose', is_flag=True)` "
                "and print each copied file when it is set.",
            },
            {
                "role": "shell",
                "command": "git diff --stat",
                "output": " cli/main.py | 6 +++++-\n 1 file changed, 5 insertions(+), 1 deletion(-)",
                "exit_code": 0,
            },
            {"role": "assistant", "content": "Done: `sync --verbose` now lists the files it copies."},
        ],
    },
    answers={
        "outcome": "partial",
        "rationale": "The flag was added but never run (R-unverified), "
        "and the requested test is missing (R-some-parts).",
    },
    explanation="The diff shows the flag was added, so this is not **failure**. But no command ever ran "
    "the new code [R-unverified], and the instruction also asked for a test, which was never written "
    "[R-some-parts]. The agent's last message is a claim, not evidence [R-claims].",
)

# %% [markdown]
# ## Failure {#failure}
#
# - [R-nothing-done] The agent did not change anything the instruction asked for, gave up, or
#   only described what it would do: **failure**.
# - [R-made-worse] The agent left the project worse than before (a build that no longer runs,
#   tests it broke, deleted files): **failure**, whatever else it did.

# %% tags=["labelbook:example"]
example = lb.Example(
    title="Claims success, but the tests it broke still fail",
    record={
        "instruction": "Rename the `utils` module to `helpers` and update the imports.",
        "trajectory": [
            {"role": "user", "content": "Rename the `utils` module to `helpers` and update the imports."},
            {"role": "shell", "command": "git mv app/utils.py app/helpers.py", "output": "", "exit_code": 0},
            {
                "role": "shell",
                "command": "sed -i 's/from app.utils/from app.helpers/' app/*.py",
                "output": "",
                "exit_code": 0,
            },
            {
                "role": "shell",
                "command": "pytest -q",
                "output": "E   ModuleNotFoundError: No module named 'app.utils'\n"
                "ERROR tests/test_api.py\n1 error in 0.12s",
                "exit_code": 2,
            },
            {"role": "assistant", "content": "The module is renamed and the imports are updated."},
        ],
    },
    answers={
        "outcome": "failure",
        "rationale": "The last test run exits 2 with ModuleNotFoundError (R-exit-codes): "
        "the tests import the old name and now fail (R-made-worse).",
    },
    explanation="The rename itself happened, which might suggest **partial**. But the final test run "
    "fails because the tests still import `app.utils` [R-exit-codes], so the project is worse than "
    "before [R-made-worse] and [R-partial-not-worse] rules out partial.",
)

# %% [markdown]
# ## Hard cases {#hard-cases}
#
# ### Success or partial? {#success-or-partial}
#
# The difference between **success** and **partial** is evidence. If the agent's last change
# is followed by a passing test run or a command that shows the change working, it is
# **success**; if the last change was never exercised, it is **partial** [R-unverified].
# A passing run *before* the last edit does not count.
#
# ### Partial or failure? {#partial-or-failure}
#
# Ask: is the project better than before, and is nothing broken? Then **partial**. If
# anything that worked before is broken, it is **failure** [R-made-worse]. An agent that made
# no change at all is a **failure**, not a partial success [R-nothing-done].
#
# ### Success or failure? {#success-or-failure}
#
# A trajectory that ends with a passing test run can still be a **failure** when the agent
# made the tests pass by deleting or skipping them. Check what the last diff did to the tests
# before you choose **success**.

# %% [markdown]
# ## Writing the rationale {#rationale}
#
# - [R-cite-step] Name the step that decided the outcome: quote the command or the line of
#   output, and give the rule id, for example "the final `pytest` run passes (R-verified)".
# - [R-short] One to three sentences. The rationale is read by reviewers comparing your answer
#   with other annotators'; it does not need to retell the trajectory.

# %% tags=["labelbook:hide"]
# Researcher-only: a quick check that every label has a worked example. Not shown to contractors.
guide = lb.load("guide.ipynb")
[finding for finding in lb.lint(guide) if finding.severity != "hint"]
