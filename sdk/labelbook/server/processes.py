"""The processes `labelbook server start` launches, and only those.

Each child is spawned detached (a session of its own, so its whole process group can be ended),
its output appended to a log file, and recorded in a pid file holding its pid *and* its creation
time. A pid file is trusted only while both still match a live process, so a recycled pid is
never adopted or signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from labelbook.errors import ServerError
from labelbook.files import write_text

# Children this Python process launched, by pid (see spawn).
_LAUNCHED: dict[int, subprocess.Popen[bytes]] = {}


def spawn(
    component: str, argv: list[str], env: dict[str, str], *, cwd: Path, log_file: Path, pid_file: Path
) -> psutil.Process:
    """Start `argv` detached, its output appended to `log_file`, and record it in `pid_file`."""
    log = open(log_file, "ab")  # noqa: SIM115 — handed over to the child
    log.write(f"\n--- {component} starting at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
    log.flush()
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as err:
        raise ServerError(f"Could not start {component} ({argv[0]}): {err}") from err
    finally:
        log.close()
    # Hold on to the handle: it reaps the child when it exits, and an in-process caller (tests, a
    # notebook) never sees Popen's "still running" warning when the handle is collected.
    _LAUNCHED[popen.pid] = popen
    proc = psutil.Process(popen.pid)
    record_pid(pid_file, proc)
    return proc


def record_pid(pid_file: Path, proc: psutil.Process) -> None:
    """Write `proc`'s pid, creation time and command to `pid_file` (0600)."""
    record = {"pid": proc.pid, "create_time": proc.create_time(), "cmdline": proc.cmdline()[:4]}
    write_text(pid_file, json.dumps(record) + "\n", 0o600)


def owned_process(pid_file: Path) -> tuple[bool, psutil.Process | None]:
    """(pid file present, the live process it names if it is still the one we started)."""
    try:
        record = json.loads(pid_file.read_text())
        pid, created = int(record["pid"]), float(record["create_time"])
    except FileNotFoundError:
        return False, None
    except (ValueError, KeyError, TypeError):
        return True, None
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - created) > 0.05 or proc.status() == psutil.STATUS_ZOMBIE:
            return True, None
    except psutil.Error:
        return True, None
    return True, proc


def terminate(proc: psutil.Process, timeout: float = 10.0) -> None:
    """SIGTERM the process group we created for this child, then SIGKILL whatever outlives the timeout."""
    try:
        group = os.getpgid(proc.pid) if os.getpgid(proc.pid) == proc.pid else None
        members = [proc, *proc.children(recursive=True)]
        if group is not None:
            os.killpg(group, signal.SIGTERM)
        else:
            proc.terminate()
    except (ProcessLookupError, psutil.Error):
        return
    _, alive = psutil.wait_procs(members, timeout=timeout)
    for straggler in alive:
        with contextlib.suppress(psutil.Error):
            straggler.kill()
    psutil.wait_procs(alive, timeout=5)
    launched = _LAUNCHED.pop(proc.pid, None)
    if launched is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            launched.wait(timeout=5)


def forget_exited() -> None:
    """Reap the children of this process that died on their own (a crash): until waited for, they
    stay zombies."""
    for pid, popen in list(_LAUNCHED.items()):
        if popen.poll() is not None:
            del _LAUNCHED[pid]


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log, for an error message."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text[-lines:])
