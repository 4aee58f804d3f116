"""Kept household answers: an identical calculation is answered without calculating."""

from __future__ import annotations

import copy
from typing import Any

from services.simulation.adapters.household_answers import HouseholdAnswers, answer_key
from services.simulation.adapters.warm_engine import WarmEngine
from services.simulation.domain.household_engine import HouseholdOutcome, HouseholdRequest
from services.simulation.domain.households import InvalidField
from services.simulation.workers.households import HouseholdBatcher

SINGLE = {"people": {"you": {"age": {"2026": 40}, "employment_income": {"2026": 30_000}}}}
CTC = {"gov.irs.credits.ctc.amount.base[0].amount": {"2026-01-01.2100-12-31": 3000}}


class CountingCalculator:
    """Answers each household with its own income doubled; counts what it calculated."""

    model_version = "2.68.0"

    def __init__(self) -> None:
        self.calculated: list[Any] = []

    def calculate(
        self, requests: list[HouseholdRequest], policy: dict[str, Any] | None
    ) -> list[HouseholdOutcome]:
        outcomes = []
        for request in requests:
            self.calculated.append(copy.deepcopy(request.household))
            if request.household.get("bad"):
                outcomes.append(HouseholdOutcome(errors=[InvalidField("bad", "no")], status=422))
                continue
            request.household["touched"] = True  # engines may change what they are given
            outcomes.append(HouseholdOutcome(household={"answer": len(self.calculated)}))
        return outcomes


def test_the_key_is_the_content_not_its_spelling() -> None:
    key = answer_key(SINGLE, ["ctc"], CTC, "2.68.0")
    assert key == answer_key(copy.deepcopy(SINGLE), ["ctc"], dict(CTC), "2.68.0")
    assert answer_key(SINGLE, None, None, "2.68.0") == answer_key(SINGLE, None, {}, "2.68.0")
    others = [
        answer_key({**SINGLE, "x": 1}, ["ctc"], CTC, "2.68.0"),
        answer_key(SINGLE, ["eitc"], CTC, "2.68.0"),
        answer_key(SINGLE, ["ctc"], None, "2.68.0"),
        answer_key(SINGLE, ["ctc"], CTC, "2.69.0"),
    ]
    assert len({key, *others}) == 5


def test_kept_answers_are_bounded_and_copied() -> None:
    answers = HouseholdAnswers(2)
    answers.put("a", {"v": [1]})
    answers.put("b", {"v": [2]})
    kept = answers.get("a")  # now the most recent
    assert kept == {"v": [1]}
    kept["v"].append(99)
    assert answers.get("a") == {"v": [1]}
    answers.put("c", {"v": [3]})  # b leaves
    assert (answers.get("b"), len(answers)) == (None, 2)
    HouseholdAnswers(0).put("a", {})


async def test_an_identical_calculation_is_answered_without_calculating() -> None:
    calculator = CountingCalculator()
    engine: WarmEngine[CountingCalculator] = WarmEngine(lambda: calculator)
    batcher = HouseholdBatcher(engine, 0.001, 8, HouseholdAnswers(100))  # type: ignore[arg-type]
    batcher.start()
    try:
        first = await batcher.calculate(HouseholdRequest(copy.deepcopy(SINGLE), None), CTC)
        again = await batcher.calculate(HouseholdRequest(copy.deepcopy(SINGLE), None), CTC)
        other = await batcher.calculate(HouseholdRequest(copy.deepcopy(SINGLE), None), None)
        bad = [
            await batcher.calculate(HouseholdRequest({"bad": True}, None), None) for _ in range(2)
        ]
    finally:
        await batcher.stop()
    assert first.household == again.household == {"answer": 1}
    assert other.household == {"answer": 2}
    # Refusals are not kept: each is calculated again.
    assert [outcome.status for outcome in bad] == [422, 422]
    assert len(calculator.calculated) == 4
