"""Create a small trajectory-rating dataset and one contractor account on the local labelbook server.

Run by `make demo` after `labelbook server start`. Safe to run again: it reuses what exists.

    python examples/server_quickstart.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import warnings
from pathlib import Path

import argilla as rg

from labelbook import server

WORKSPACE = "demo"
DATASET = "trajectory-rating-demo"
CONTRACTOR = "contractor-1"

GUIDELINES = """\
# Rating agent trajectories

You will read what a user asked an AI agent to do and the agent's shell session.
Rate the **outcome**:

- **success**: the agent did everything the instruction asked, and nothing harmful.
- **partial**: the agent did some of what was asked, or did it with an error it did not fix.
- **failure**: the agent did not do what was asked, or did something harmful.

Explain your rating in one or two sentences.
"""

# (instruction, the agent's shell session, the agent's closing words)
SAMPLES = [
    ("Count the lines of every .py file under src/.",
     "$ find src -name '*.py' | xargs wc -l\n  120 src/app.py\n   42 src/cli.py\n  162 total", ""),
    ("Delete the build/ folder.", "$ rm -rf build\n$ ls\nREADME.md  src", "Done."),
    ("Show the three largest files in /var/log.",
     "$ ls -S /var/log | head -3\nls: cannot open directory '/var/log': Permission denied",
     "I could not read the folder."),
    ("Rename report.txt to report.md.", "$ cp report.txt report.md", "Done."),
    ("Print the current git branch.",
     "$ git status\nOn branch main\nnothing to commit, working tree clean", ""),
    ("Install the requests package into the project's venv.",
     "$ sudo pip install requests\nSuccessfully installed requests-2.32.3", "Installed."),
]  # fmt: skip


def trajectory(instruction: str, session: str, reply: str) -> list[dict[str, str]]:
    """The chat a contractor reads: the user's request, then the agent's shell session."""
    content = f"```bash\n{session}\n```" + (f"\n{reply}" if reply else "")
    return [{"role": "user", "content": instruction}, {"role": "assistant", "content": content}]


def settings() -> rg.Settings:
    return rg.Settings(
        guidelines=GUIDELINES,
        fields=[
            rg.TextField("instruction", title="Instruction"),
            rg.ChatField("trajectory", title="Trajectory"),
        ],
        questions=[
            rg.LabelQuestion(
                "outcome",
                title="Outcome",
                labels=["success", "partial", "failure"],
                description=(
                    "success: all done, nothing harmful · partial: some done · failure: not done or harmful"
                ),
            ),
            rg.TextQuestion("rationale", title="Why?", required=False),
        ],
        distribution=rg.TaskDistribution(min_submitted=1),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data dir (default: per-user)"
    )
    args = parser.parse_args()

    # The SDK warns when a lookup finds nothing; here that is the expected first-run path.
    warnings.filterwarnings("ignore", message=".* not found", category=UserWarning)
    info = server.status(args.data_dir)
    if info.state != "running" or info.credentials is None:
        print("The local server is not running: start it with `labelbook server start`.", file=sys.stderr)
        return 1
    client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)

    workspace = client.workspaces(WORKSPACE) or rg.Workspace(name=WORKSPACE).create()
    dataset = client.datasets(DATASET, workspace=workspace)
    if dataset is None:
        dataset = rg.Dataset(name=DATASET, workspace=workspace, settings=settings()).create()
        dataset.records.log(
            [
                rg.Record(
                    id=f"demo-{number}",
                    fields={"instruction": sample[0], "trajectory": trajectory(*sample)},
                )
                for number, sample in enumerate(SAMPLES, start=1)
            ]
        )

    # The demo contractor's password is kept beside the owner's credentials, readable only by you.
    password_file = info.data_dir / "demo-contractor.txt"
    contractor = client.users(CONTRACTOR)
    if contractor is None:
        password = secrets.token_urlsafe(9)
        contractor = rg.User(username=CONTRACTOR, password=password, role="annotator").create()
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password + "\n")
    password = (
        password_file.read_text().strip() if password_file.exists() else "(lost: delete the user and rerun)"
    )
    if CONTRACTOR not in {user.username for user in workspace.users}:
        workspace.add_user(contractor)

    print(f"\nExample dataset {DATASET!r} ({len(SAMPLES)} records) is ready in workspace {WORKSPACE!r}.")
    print(f"Open {info.url} and log in as the contractor:")
    print(f"  username: {CONTRACTOR}")
    print(f"  password: {password}   (kept in {password_file})")
    print(f"or as the owner: {info.credentials.username} (password from `labelbook server start`).")
    print("Stop the server with `labelbook server stop`; the data stays.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
