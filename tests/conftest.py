"""Shared test setup: tests never reach the internet, and never see the developer's Argilla settings."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for _name in ("ARGILLA_API_URL", "ARGILLA_API_KEY"):
    os.environ.pop(_name, None)
