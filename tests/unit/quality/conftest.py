"""The simulated crowd (quality_simulation.py) as a fixture for the quality tests."""

from __future__ import annotations

import pytest
from quality_simulation import Crowd, simulate


@pytest.fixture(scope="session")
def crowd() -> Crowd:
    return simulate()
