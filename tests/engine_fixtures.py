"""One PopulationEngine for the whole test session.

Building it imports policyengine-us (about 25 s) and every reform it is asked for
costs about 18 s more, so the suite shares one: a test module registers this file
with `pytest_plugins = ["tests.engine_fixtures"]`.
"""

from __future__ import annotations

import pytest

from services.simulation.domain.engine import PopulationEngine


@pytest.fixture(scope="session")
def population_engine() -> PopulationEngine:
    return PopulationEngine()
