"""A throw-away virtualenv for reference implementations the benchmarks compare against.

The `krippendorff` package and crowd-kit are anchors, not dependencies of labelbook (crowd-kit
pulls transformers, ~775 MB): they live in their own virtualenv under /tmp (override with
LABELBOOK_BENCH_VENV), created on first use, and run in a subprocess on the same input file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

VENV = Path(os.environ.get("LABELBOOK_BENCH_VENV", "/tmp/labelbook-bench-venv"))
MODULES = {"crowd-kit": "crowdkit"}
"""Distributions whose module is named otherwise."""


def python_with(*packages: str) -> Path | None:
    """The bench virtualenv's python with `packages` installed (installed now if missing), or None
    when they cannot be installed here (no network, no wheel for this Python)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating the reference virtualenv {VENV} (once) ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    modules = [MODULES.get(p, p.replace("-", "_")) for p in (p.split("==")[0] for p in packages)]
    check = subprocess.run([str(python), "-c", f"import {', '.join(modules)}"], capture_output=True)
    if check.returncode == 0:
        return python
    print(f"installing {' '.join(packages)} into {VENV} (once) ...", file=sys.stderr)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *packages, "pandas", "pyarrow"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"cannot install {' '.join(packages)}: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return python


def run(python: Path, code: str, *args: str) -> str:
    """Run `code` with the reference python; its stdout (the script prints its own timings)."""
    done = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"reference run failed:\n{done.stderr[-2000:]}")
    return done.stdout
