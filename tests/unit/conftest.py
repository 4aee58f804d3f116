"""The fixtures of the unit tests, found by name in every module of tests/unit.

No database, broker or policyengine-us here: the domain objects are built by
tests/factories.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.simulation.domain.lifecycle import Planned
from tests.factories import planned_partitions, queued_simulation


@pytest.fixture
def now() -> datetime:
    """The moment a step happens."""
    return datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def planned(now: datetime) -> Planned:
    """A simulation planned as two partitions (CA and TX, one household each), running."""
    return queued_simulation(attempts=1).plan(planned_partitions(("CA",), ("TX",)), now)
