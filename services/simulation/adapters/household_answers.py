"""Household answers kept by content: the same household, policy and model, one calculation.

A household calculation is a pure function of the household as sent, the variables
asked for, the policy and the policyengine-us version, so a worker keeps each answer
it gave (up to `max_entries`, the least recently used leaving first) under the SHA-256
of those four, and answers a repeated calculation from memory. Only answers are kept,
not refusals: a 422 costs nothing to give again, and a 500 may not happen twice.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from typing import Any


def answer_key(
    household: Any, variables: list[str] | None, policy: dict[str, Any] | None, model: str
) -> str:
    text = json.dumps(
        [household, variables, policy or None, model],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class HouseholdAnswers:
    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> dict[str, Any] | None:
        answer = self._answers.get(key)
        if answer is None:
            return None
        self._answers.move_to_end(key)
        # A copy: whoever holds the answer may change it.
        return copy.deepcopy(answer)

    def put(self, key: str, household: dict[str, Any]) -> None:
        if self._max_entries < 1:
            return
        self._answers[key] = copy.deepcopy(household)
        self._answers.move_to_end(key)
        while len(self._answers) > self._max_entries:
            self._answers.popitem(last=False)
