"""The load scenarios run on the session's stack (tests/stack_fixtures.py): two workers
share a burst, as a small deployment would, and the households worker answers."""

from __future__ import annotations

import pytest

from tests.stack import RunningStack


@pytest.fixture(scope="package")
def load_stack(stack: RunningStack) -> RunningStack:
    return stack
