"""Reform period keys and content hashes: pure, fast."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import Any

import pytest

from services.policy.domain.parameters import PolicyEngineParameterTree, ReformApplicationError
from services.policy.domain.periods import PeriodKeyError, check_period_key, period_start
from services.policy.domain.policies import canonical_json, content_hash
from services.policy.domain.validation import reform_errors

ACCEPTED = [
    "2025-01-01.2100-12-31",
    "2025-01-01.2025-01-01",
    "2025.2026",
    "2025-06.2025-12",
    "2025-01-01",
    "2025-06",
    "2025",
    "year:2026",
    "year:2026:5",
    "year:2026-02:1",
    "month:2026-01:3",
    "day:2026-01-15:10",
    "ETERNITY",
]

REFUSED = {
    "": "not a period",
    "2025-13-01": "not a date",
    "2025-02-30": "not a date",
    "0000": "not a date",
    "2025-1-1": "not a date",
    "25": "not a period",
    "2025/01/01": "not a period",
    "next year": "not a period",
    "eternity": "not a period",
    "2026-01-01.2025-12-31": "is after the end",
    "2025-01-01.2030-01-01.2040-01-01": "one dot",
    "2025-01-01.": "not a date",
    "2025-01-01.9999-12-31": "before 9999-12-31",
    "month:2026": "starts on a month",
    "day:2026-01": "starts on a day",
    "year:2026:0": "whole number from 1",
    "year:2026:-3": "whole number from 1",
    "year:2026:x": "whole number from 1",
    "week:2026:1": "not a period",
    "year:2026:1:1": "not a period",
}


@pytest.mark.parametrize("key", ACCEPTED)
def test_accepts_the_forms_reform_from_dict_reads(key: str) -> None:
    check_period_key(key)


@pytest.mark.parametrize(("key", "reason"), REFUSED.items())
def test_refuses_malformed_or_misleading_keys(key: str, reason: str) -> None:
    with pytest.raises(PeriodKeyError, match=reason):
        check_period_key(key)


def test_content_hash_is_the_sha256_of_sorted_compact_json() -> None:
    data = {"b.x": {"2026": 1}, "a.y": {"2025-01-01.2100-12-31": 3000, "2024": True}}
    expected = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    assert canonical_json(data) == expected
    assert content_hash(data) == hashlib.sha256(expected).hexdigest()


def test_content_hash_ignores_key_order_and_integral_float_spelling() -> None:
    first = {"a": {"2026": 3000, "2027": 0.5}, "b": {"2026": [1, "x"]}}
    second = {"b": {"2026": [1.0, "x"]}, "a": {"2027": 0.5, "2026": 3000.0}}
    assert content_hash(first) == content_hash(second)
    assert content_hash(first) != content_hash({"a": {"2026": 3001}, "b": {"2026": [1, "x"]}})


def test_content_hash_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError):
        content_hash({"a": {"2026": float("inf")}})


def small_root() -> Any:
    """A hand-made policyengine-core tree: enough to run `Reform.from_dict` for real."""
    from policyengine_core.parameters import ParameterNode

    return ParameterNode(
        "",
        data={"gov": {"amount": {"values": {"2020-01-01": 2000, "2030-01-01": 2500}}}},
    )


@pytest.mark.parametrize("key", ACCEPTED)
def test_every_accepted_key_is_one_reform_from_dict_applies(key: str) -> None:
    """`Reform.from_dict` applies it, and from the day `period_start` names: the reformed
    value holds on that day, and the baseline's the day before."""
    parameter = PolicyEngineParameterTree(small_root()).reformed_parameter(
        "gov.amount", {key: 3000}
    )
    start = period_start(key)
    if start == date.min:  # ETERNITY
        assert parameter("2020-01-01") == parameter("2035-01-01") == 3000
        return
    assert parameter(start.isoformat()) == 3000
    before = start - timedelta(days=1)
    assert parameter(before.isoformat()) == (2000 if before < date(2030, 1, 1) else 2500)


@pytest.mark.parametrize("key", ["2025-02-30", "0000", "month:2026", "2025-01-01.9999-12-31"])
def test_keys_reform_from_dict_refuses_are_refused_by_both(key: str) -> None:
    with pytest.raises(PeriodKeyError):
        check_period_key(key)
    with pytest.raises(ReformApplicationError, match="PolicyEngine refused it"):
        PolicyEngineParameterTree(small_root()).apply("gov.amount", {key: 3000})


def test_applying_a_reform_leaves_the_baseline_untouched() -> None:
    root = small_root()
    PolicyEngineParameterTree(root).apply(
        "gov.amount", {"2025-01-01.2100-12-31": 3000, "ETERNITY": 1}
    )
    assert [(v.instant_str, v.value) for v in root.gov.amount.values_list] == [
        ("2030-01-01", 2500),
        ("2020-01-01", 2000),
    ]
    assert not getattr(root, "modified", False)


@pytest.mark.parametrize(
    ("key", "start"),
    [
        ("ETERNITY", date.min),
        ("2026", date(2026, 1, 1)),
        ("2026-07", date(2026, 7, 1)),
        ("2026-07-04.2027-01-01", date(2026, 7, 4)),
        ("year:2026-02:3", date(2026, 2, 1)),
    ],
)
def test_period_start_is_where_from_dict_orders_the_key(key: str, start: date) -> None:
    assert period_start(key) == start


def test_periods_sharing_a_start_are_refused_whatever_their_order() -> None:
    tree = PolicyEngineParameterTree(small_root())
    for values in (
        {"2026-01-01.2030-12-31": 1, "2026": 2},
        {"2026": 2, "2026-01-01.2030-12-31": 1},
        {"2026-01": 2, "year:2026:2": 1},
    ):
        errors = reform_errors({"gov.amount": values}, tree)
        assert [error.field for error in errors] == ["data.gov.amount"]
        assert "start on the same day (2026-01-01)" in errors[0].message
    assert reform_errors({"gov.amount": {"2026": 2, "2026-01-02.2030-12-31": 1}}, tree) == []
