"""Fixtures of the browser tests: one Chromium per module, one user key per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import chromium
from tests.stack import RunningStack


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def user_key(stack: RunningStack) -> str:
    return stack.new_key("web page", "user")
