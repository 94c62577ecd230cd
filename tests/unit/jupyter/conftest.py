"""Fixtures for the widget tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from widget_guides import write_guide


@pytest.fixture
def guide_path(tmp_path: Path) -> Path:
    return write_guide(tmp_path)
