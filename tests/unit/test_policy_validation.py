"""Reform validation, rule by rule, against the real policyengine-us 2.68 parameter tree."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from services.policy.domain.parameters import (
    ParameterTree,
    PolicyEngineParameterTree,
    ValueKind,
)
from services.policy.domain.validation import reform_errors
from shared.problems import FieldError
from tests.policy_fixtures import LOAD_TIMEOUT_SECONDS, US_PARAMETER_TREE

pytestmark = pytest.mark.slow

CTC = "gov.irs.credits.ctc.amount.base[0].amount"
FULLY_REFUNDABLE = "gov.irs.credits.ctc.refundable.fully_refundable"
INELIGIBLE_COVERAGE = "gov.aca.ineligible_coverage"
RANGE = "2026-01-01.2100-12-31"


@pytest.fixture(scope="session")
def tree() -> ParameterTree:
    return US_PARAMETER_TREE.wait(timeout=LOAD_TIMEOUT_SECONDS)


def only_error(data: Any, tree: ParameterTree) -> FieldError:
    errors = reform_errors(data, tree)
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_reform_has_no_errors(tree: ParameterTree) -> None:
    data = {
        CTC: {RANGE: 3000},
        FULLY_REFUNDABLE: {"2026": True},
        "gov.irs.income.bracket.rates.1": {"year:2026:3": 0.12, "2029-01-01": 0.1},
        INELIGIBLE_COVERAGE: {"ETERNITY": ["medicaid"]},
    }
    assert reform_errors(data, tree) == []


def test_leaves_know_their_kind(tree: ParameterTree) -> None:
    assert tree.leaf(CTC).kind is ValueKind.NUMBER
    assert tree.leaf(CTC).unit == "currency-USD"
    assert tree.leaf(FULLY_REFUNDABLE).kind is ValueKind.BOOLEAN
    coverage = tree.leaf(INELIGIBLE_COVERAGE)
    assert (coverage.kind, coverage.item_kind) == (ValueKind.LIST, ValueKind.STRING)


def test_unknown_parameter_is_named_with_a_suggestion(tree: ParameterTree) -> None:
    error = only_error({"gov.irs.credits.ctc.amount.bse[0].amount": {RANGE: 3000}}, tree)
    assert error.field == "data.gov.irs.credits.ctc.amount.bse[0].amount"
    assert error.message.startswith("unknown parameter")
    assert f"did you mean {CTC}?" in error.message


def test_unknown_top_level_name(tree: ParameterTree) -> None:
    error = only_error({"gv.irs.credits.ctc.amount.base[0].amount": {RANGE: 3000}}, tree)
    assert error.message.startswith("unknown parameter")
    assert CTC in error.message


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("gov.irs.credits.ctc", "is a group of parameters"),
        ("gov.irs.credits.ctc.amount.base", "is a scale of"),
        ("gov.irs.credits.ctc.amount.base[0]", "is a bracket, not a parameter"),
        ("gov.irs.credits.ctc.amount.base.amount", "is a scale: address one of its brackets"),
        (f"{CTC}.more", "is a parameter; nothing is below it"),
        ("gov.irs.credits.ctc.refundable[0].amount", "is not a scale"),
        ("gov.irs.credits.ctc.amount.base[7].amount", "bracket index 7 is out of range"),
        ("gov.irs..credits", "empty name"),
        ("", "empty name"),
    ],
)
def test_paths_that_are_not_parameters(tree: ParameterTree, path: str, reason: str) -> None:
    error = only_error({path: {RANGE: 1}}, tree)
    assert error.field == f"data.{path}"
    assert reason in error.message


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("2026-13-01", "not a date"),
        ("2026-02-30.2030-12-31", "not a date"),
        ("2030-01-01.2026-12-31", "is after the end"),
        ("next year", "not a period"),
        ("month:2026", "starts on a month"),
    ],
)
def test_malformed_periods(tree: ParameterTree, key: str, reason: str) -> None:
    error = only_error({CTC: {key: 3000}}, tree)
    assert error.field == f'data.{CTC}["{key}"]'
    assert reason in error.message


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (FULLY_REFUNDABLE, 1, "takes true or false; got a number (1)"),
        (FULLY_REFUNDABLE, "true", "takes true or false; got a string"),
        (CTC, "3000", 'takes a number (currency-USD); got a string ("3000")'),
        (CTC, True, "takes a number (currency-USD); got a boolean"),
        (CTC, "Infinity", "JSON has no infinity"),
        (CTC, float("inf"), "must be a finite number"),
        (CTC, float("nan"), "must be a finite number"),
        (CTC, None, "a value is required, not null"),
        (CTC, {"value": 3000}, "got an object"),
        (CTC, [3000], "got an array"),
        (INELIGIBLE_COVERAGE, "medicaid", "takes an array of strings"),
        (INELIGIBLE_COVERAGE, ["medicaid", 3], "item [1]: this list holds strings"),
        (INELIGIBLE_COVERAGE, [["medicaid"]], "item [0] must be a string, number or boolean"),
    ],
)
def test_wrong_value_types(tree: ParameterTree, path: str, value: Any, reason: str) -> None:
    error = only_error({path: {RANGE: value}}, tree)
    assert error.field == f'data.{path}["{RANGE}"]'
    assert reason in error.message


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({}, "data", "is empty"),
        ([], "data", "must be an object"),
        ({CTC: 3000}, f"data.{CTC}", "must be an object {period: value}"),
        ({CTC: {}}, f"data.{CTC}", "has no periods"),
    ],
)
def test_shapes(tree: ParameterTree, data: Any, field: str, reason: str) -> None:
    error = only_error(data, tree)
    assert (error.field, reason in error.message) == (field, True)


def test_periods_starting_on_the_same_day_are_ambiguous(tree: ParameterTree) -> None:
    error = only_error({CTC: {RANGE: 3000, "2026": 2000}}, tree)
    assert error.field == f"data.{CTC}"
    assert "start on the same day (2026-01-01)" in error.message


def test_every_error_is_collected(tree: ParameterTree) -> None:
    data = {
        "gov.irs.credits.ctc.amount.bse[0].amount": {RANGE: 3000},
        CTC: {"2030-01-01.2026-12-31": 3000, "2026": "lots"},
        FULLY_REFUNDABLE: {"2026": 1},
        "gov.irs.credits.ctc": {"2026": 1},
    }
    fields = [error.field for error in reform_errors(data, tree)]
    assert fields == [
        "data.gov.irs.credits.ctc.amount.bse[0].amount",
        f'data.{CTC}["2030-01-01.2026-12-31"]',
        f'data.{CTC}["2026"]',
        f'data.{FULLY_REFUNDABLE}["2026"]',
        "data.gov.irs.credits.ctc",
    ]


def test_applying_to_one_parameter_equals_applying_to_the_whole_system(
    tree: ParameterTree,
) -> None:
    """Validation applies each parameter's values on a copy of that parameter alone;
    the outcome is the one `Reform.from_dict` gives applied to the baseline system."""
    from policyengine_core.reforms import Reform

    assert isinstance(tree, PolicyEngineParameterTree)
    data: dict[str, dict[str, Any]] = {
        CTC: {RANGE: 3000, "2025": 2500},
        FULLY_REFUNDABLE: {"year:2027:2": True},
        "gov.irs.income.bracket.rates.1": {"ETERNITY": 0.11},
    }
    assert reform_errors(data, tree) == []
    before = history(tree.system.parameters.get_child(CTC))
    # The whole-system reform clones all 108k parameters first: seconds, done once here.
    reformed = Reform.from_dict(data, country_id="us")(tree.system)
    for path, values in data.items():
        expected = history(reformed.parameters.get_child(path))
        assert history(tree.reformed_parameter(path, values)) == expected
    assert reformed.parameters.get_child(CTC)("2030-06-01") == 3000
    assert history(tree.system.parameters.get_child(CTC)) == before


def history(parameter: Any) -> list[tuple[str, Any]]:
    return [(entry.instant_str, entry.value) for entry in parameter.values_list]


def fingerprint(system: Any) -> str:
    """A hash of every parameter's name and dated values in the system's tree."""
    from policyengine_core.parameters import Parameter

    digest = hashlib.sha256()
    for node in system.parameters.get_descendants():
        if isinstance(node, Parameter):
            digest.update(repr((node.name, history(node))).encode())
    return digest.hexdigest()


def test_the_tree_is_the_current_law_system_and_validation_never_changes_it(
    tree: ParameterTree,
) -> None:
    """The policy service reuses the system importing policyengine-us built (the one every
    simulation without a reform runs on), so nothing it does may change that system."""
    from policyengine_us.system import system as current_law

    assert isinstance(tree, PolicyEngineParameterTree)
    assert tree.system is current_law
    assert tree.root is current_law.parameters
    before = fingerprint(current_law)
    data: dict[str, Any] = {
        CTC: {RANGE: 3000, "2025": 2500},
        FULLY_REFUNDABLE: {"year:2027:2": True},
        "gov.irs.income.bracket.rates.1": {"ETERNITY": 0.11},
        INELIGIBLE_COVERAGE: {"ETERNITY": ["medicaid"]},
        "gov.irs.credits.ctc.amount.bse[0].amount": {RANGE: 1},
        "gov.irs.credits.ctc.amount.base[0].amount.x": {RANGE: 1},
    }
    reform_errors(data, tree)
    for path, values in list(data.items())[:3]:
        tree.reformed_parameter(path, values)
    assert fingerprint(current_law) == before
