"""Time `labelbook server start` as a whole process, cold and warm, against the import floor.

cold: a fresh data dir (schema migrations, owner account, credentials file).
warm: the same data dir again after `labelbook server stop` (nothing to migrate).
anchor: `python -c "import argilla_server._app"` (what `uvicorn argilla_server:app` imports) in
the server's own environment, measured in the same run: no start can be faster than the import
of the app it serves, so start/anchor says how much of a start is labelbook's own doing.

    python benchmarks/server_start.py              # 3 repetitions
    python benchmarks/server_start.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGETS_S = {"cold start": 8.0, "warm start": 5.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def labelbook(*args: str) -> float:
    """Run the `labelbook` CLI and return its wall time; fail loudly if it fails."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "labelbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(
            f"`labelbook {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return elapsed


def anchor(scratch: Path) -> float:
    """Wall time of importing argilla-server's app in the environment the launcher gives the API."""
    from labelbook.server.launcher import ServerPaths, child_environment

    paths = ServerPaths(scratch / "anchor")
    paths.argilla_home.mkdir(parents=True, exist_ok=True)
    env = child_environment(paths)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "import argilla_server._app"],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement (default 3)")
    args = parser.parse_args()

    timings: dict[str, list[float]] = {
        "anchor: import argilla_server._app": [],
        "cold start": [],
        "warm start": [],
    }
    with tempfile.TemporaryDirectory(prefix="lb-start-bench-") as scratch_name:
        scratch = Path(scratch_name)
        for rep in range(args.repeat):
            timings["anchor: import argilla_server._app"].append(anchor(scratch))
            data_dir = str(scratch / f"data-{rep}")
            port = str(free_port())
            try:
                timings["cold start"].append(
                    labelbook("server", "start", "--data-dir", data_dir, "--port", port)
                )
                labelbook("server", "stop", "--data-dir", data_dir)
                timings["warm start"].append(
                    labelbook("server", "start", "--data-dir", data_dir, "--port", port)
                )
            finally:
                subprocess.run(
                    [sys.executable, "-m", "labelbook.cli", "server", "stop", "--data-dir", data_dir],
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
            print(f"  repetition {rep + 1}/{args.repeat} done", flush=True)

    floor = statistics.median(timings["anchor: import argilla_server._app"])
    print()
    header = f"{'measurement':<38}{'median s':>10}{'min s':>8}{'max s':>8}"
    print(f"{header}{'target s':>10}{'/target':>9}{'/anchor':>9}")
    for name, values in timings.items():
        median = statistics.median(values)
        target = TARGETS_S.get(name)
        to_target = f"{median / target:.2f}" if target else "-"
        print(
            f"{name:<38}{median:>10.2f}{min(values):>8.2f}{max(values):>8.2f}"
            f"{(f'{target:.1f}' if target else '-'):>10}{to_target:>9}{median / floor:>9.2f}"
        )
    print(f"\n{args.repeat} repetitions, {os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f}")
    misses = [name for name, target in TARGETS_S.items() if statistics.median(timings[name]) > target]
    print("all starts within target" if not misses else f"over target: {', '.join(misses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
