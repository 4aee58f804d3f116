"""The reduced reform arm's pure parts: the dependency record, the plan, the prefill and
the kept baselines, on stand-ins for policyengine-core's simulations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from services.simulation.adapters.baselines import (
    MEMORY,
    STORAGE,
    StoredBaselines,
    remove_dataset_baselines,
)
from services.simulation.domain import reform_arm
from services.simulation.domain.baselines import (
    Constant,
    baseline_key,
    from_bytes,
    take,
    to_bytes,
)
from services.simulation.domain.dependencies import (
    DependencyRecord,
    DependencyTracer,
    definition_parameter_reads,
    names_parameter,
)


def record(
    reads: dict[str, set[str]], parameters: dict[str, set[str]], calculated: Sequence[str] = ()
) -> DependencyRecord:
    return DependencyRecord(
        variable_reads={k: frozenset(v) for k, v in reads.items()},
        parameter_reads={k: frozenset(v) for k, v in parameters.items()},
        calculated=tuple((name, "2025") for name in calculated),
    )


@pytest.mark.parametrize(
    ("recorded", "changed", "matches"),
    [
        ("gov.irs.credits.ctc.amount.base", "gov.irs.credits.ctc.amount.base[0].amount", True),
        ("gov.irs.income.bracket.rates", "gov.irs.income.bracket.rates.2", True),
        ("gov.irs.income.bracket.rates.2", "gov.irs.income.bracket.rates.2", True),
        ("gov.irs.income.bracket.rates.2", "gov.irs.income.bracket", True),
        ("gov.irs.credits.ctc", "gov.irs.credits.ctc_extra.amount", False),
        ("gov.irs.income.bracket.rates.2", "gov.irs.income.bracket.rates.3", False),
        ("gov.usda.snap", "gov.usda.snapshot", False),
    ],
)
def test_a_changed_parameter_is_matched_by_path_not_by_text(
    recorded: str, changed: str, matches: bool
) -> None:
    assert names_parameter(recorded, changed) is matches


def test_affected_is_every_reader_of_a_changed_parameter_transitively() -> None:
    deps = record(
        reads={"net_income": {"tax", "benefits"}, "tax": {"ctc", "agi"}, "ctc": {"agi"}},
        parameters={"ctc": {"gov.irs.credits.ctc.amount.base"}, "agi": {"gov.irs.ald"}},
    )
    changed = ["gov.irs.credits.ctc.amount.base[0].amount"]
    assert deps.affected(changed) == {"ctc", "tax", "net_income"}
    assert deps.affected(["gov.irs.ald.student_loan"]) == {"agi", "ctc", "tax", "net_income"}
    assert deps.affected(["gov.usda.snap.max"]) == set()
    # An abolition names the variable it zeroes; a replaced variable is affected as such.
    assert deps.affected(["gov.abolitions.benefits"]) == {"benefits", "net_income"}
    assert deps.affected([], replaced_variables=["agi"]) == {"agi", "ctc", "tax", "net_income"}


def test_the_tracer_records_who_read_what_and_nothing_else() -> None:
    tracer = DependencyTracer()
    tracer.record_parameter_access("gov.outside", "2025", "default", 1)  # no formula running
    tracer.record_calculation_start("net_income", "2025")
    tracer.record_calculation_start("tax", "2025")
    tracer.record_parameter_access("gov.irs.rate", "2025", "default", 0.1)
    tracer.record_calculation_result(np.zeros(3))
    tracer.record_calculation_end()
    tracer.record_calculation_start("snap", "2025-01")
    tracer.record_calculation_end()
    tracer.record_calculation_start("tax", "2025")  # read again: one entry
    tracer.record_calculation_end()
    tracer.record_calculation_end()
    assert tracer.stack == []
    system = SimpleNamespace(
        variables={
            "net_income": SimpleNamespace(adds=["tax", "gov.household.net_income.sources"]),
            "tax": SimpleNamespace(subtracts="gov.irs.offsets", uprating=None),
            "snap": SimpleNamespace(uprating="gov.bls.cpi"),
        }
    )
    deps = tracer.record(system)
    assert deps.variable_reads == {"net_income": {"tax", "snap"}}
    assert deps.parameter_reads == {
        "tax": {"gov.irs.rate", "gov.irs.offsets"},
        "net_income": {"gov.household.net_income.sources"},
        "snap": {"gov.bls.cpi"},
    }
    assert [name for name, _ in deps.calculated] == ["net_income", "tax", "snap"]
    assert tracer.get_nb_requests("tax") == 1
    assert definition_parameter_reads(system)["snap"] == {"gov.bls.cpi"}


def test_the_plan_names_the_path_and_why() -> None:
    deps = record(reads={}, parameters={"ctc": {"gov.irs.credits.ctc"}})
    ctc = {"gov.irs.credits.ctc.amount": {"2025": 3000}}
    elasticity = {"gov.simulation.labor_supply_responses.elasticities.income": {"2025": -0.1}}
    assert reform_arm.plan(deps, ctc, ctc, structural=False) == reform_arm.SAME_AS_BASELINE
    assert reform_arm.plan(deps, None, {}, structural=False).path == reform_arm.NONE
    reduced = reform_arm.plan(deps, ctc, None, structural=False)
    assert (reduced.path, reduced.reason, reduced.affected) == ("reduced", None, frozenset({"ctc"}))
    full = reform_arm.plan(deps, ctc, None, structural=True)
    assert (full.path, full.reason) == ("full", reform_arm.STRUCTURAL)
    full = reform_arm.plan(deps, elasticity, None, structural=False)
    assert (full.path, full.reason) == ("full", reform_arm.BEHAVIOURAL_RESPONSES)
    full = reform_arm.plan(None, ctc, None, structural=False)
    assert (full.path, full.reason) == ("full", reform_arm.REQUESTED)
    # Over a baseline policy: what differs from it, wherever either sets it.
    other = {"gov.irs.credits.ctc.amount": {"2025": 2000}, "gov.x": {"2025": 1}}
    assert reform_arm.changed_parameters(ctc, other) == ["gov.irs.credits.ctc.amount", "gov.x"]
    assert reform_arm.changed_parameters(other, other) == []


class Holder:
    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values = dict(values or {})
        self.cached: dict[str, Any] = {}

    def get_array(self, period: str) -> Any:
        return self.values.get(period)

    def put_in_cache(self, values: Any, period: str, derived: bool = False) -> None:
        assert derived
        self.cached[period] = values


class FakeSimulation:
    def __init__(self, holders: dict[str, Holder], inputs: list[str]) -> None:
        self.holders = holders
        self.input_variables = inputs
        self.tax_benefit_system = SimpleNamespace(
            variables={name: SimpleNamespace(value_type=float) for name in holders}
        )

    def get_holder(self, name: str) -> Holder:
        return self.holders.setdefault(name, Holder())


def test_the_prefill_gives_the_reform_every_unaffected_calculated_value() -> None:
    deps = record(reads={}, parameters={}, calculated=["age", "agi", "ctc", "gone"])
    baseline = FakeSimulation(
        {
            "age": Holder({"2025": np.ones(2)}),
            "agi": Holder({"2025": np.full(2, 5.0)}),
            "ctc": Holder({"2025": np.full(2, 7.0)}),
            "gone": Holder(),
        },
        inputs=["age"],
    )
    reform = FakeSimulation({}, inputs=["age"])
    arm = reform_arm.ReformArm(reform_arm.REDUCED, affected=frozenset({"ctc"}))
    prefilled = reform_arm.prefill(arm, deps, baseline, reform)
    assert prefilled.reused == 1
    assert set(reform.holders["agi"].cached) == {"2025"}
    assert reform.get_holder("ctc").cached == {} and reform.get_holder("age").cached == {}


def test_a_snapshot_keeps_constants_as_values_and_each_array_once(tmp_path: Path) -> None:
    deps = record(reads={"b": {"a"}}, parameters={"a": {"gov.p"}}, calculated=["a", "b", "c"])
    same = np.array([1.5, 2.5], dtype=np.float32)
    simulation = FakeSimulation(
        {
            "a": Holder({"2025": same}),
            "b": Holder({"2025": same.copy()}),
            "c": Holder({"2025": np.zeros(2, dtype=bool)}),
        },
        inputs=[],
    )
    snapshot = take(deps, simulation)
    assert len(snapshot.arrays) == 1 and not snapshot.arrays[0].flags.writeable
    assert snapshot.values[("c", "2025")] == Constant(False, "|b1", 2)
    restored = from_bytes(to_bytes(snapshot))
    assert restored.values == snapshot.values
    assert restored.record.variable_reads == deps.variable_reads
    assert restored.record.parameter_reads == deps.parameter_reads
    assert [(name, str(period)) for name, period in restored.record.calculated] == [
        ("a", "2025"),
        ("b", "2025"),
        ("c", "2025"),
    ]
    items = {name: values for name, _, values in restored.items()}
    assert items["b"].dtype == np.float32 and np.array_equal(items["b"], same)
    assert items["c"].dtype == bool and not items["c"].any()


def test_a_baseline_key_changes_with_everything_that_determines_the_values() -> None:
    parts = ("sha", 2025, "all", "policy", "2.68.0")
    key = baseline_key(*parts)
    assert key == baseline_key(*parts)
    folder, digest = key.split("/")
    assert folder == "sha" and len(digest) == 64
    for index, other in enumerate(("sha2", 2026, "states:CA", "policy2", "2.69.0")):
        changed: list[Any] = list(parts)
        changed[index] = other
        assert baseline_key(*changed) != key


def test_kept_baselines_survive_a_restart_and_memory_stays_bounded(tmp_path: Path) -> None:
    deps = record(reads={}, parameters={}, calculated=["a"])
    big = take(deps, FakeSimulation({"a": Holder({"2025": np.arange(100.0)})}, inputs=[]))
    root = f"file://{tmp_path}"
    store = StoredBaselines(root, memory_bytes=big.nbytes)
    store.put("k1", big)
    assert store.get("k1") == (big, MEMORY)
    store.put("k2", big)  # k1 leaves memory, not storage
    assert store.kept_in_memory == 1
    again = store.get("k1")
    assert again is not None and again[1] == STORAGE
    restarted = StoredBaselines(root, memory_bytes=big.nbytes)
    found = restarted.get("k2")
    assert found is not None and found[1] == STORAGE
    assert restarted.get("unknown") is None
    Path(restarted.uri("k2").removeprefix("file://")).write_bytes(b"damaged")
    assert StoredBaselines(root, memory_bytes=0).get("k2") is None


def test_a_datasets_kept_baselines_are_removed_together_and_only_they(tmp_path: Path) -> None:
    deps = record(reads={}, parameters={}, calculated=["a"])
    snapshot = take(deps, FakeSimulation({"a": Holder({"2025": np.arange(3.0)})}, inputs=[]))
    root = f"file://{tmp_path}"
    store = StoredBaselines(root, memory_bytes=0)
    for key in ("aaa/k1", "aaa/k2", "bbb/k1"):
        store.put(key, snapshot)
    assert remove_dataset_baselines(root, "aaa")
    assert not remove_dataset_baselines(root, "aaa")  # nothing left to remove
    assert store.get("aaa/k1") is None and store.get("aaa/k2") is None
    assert store.get("bbb/k1") is not None
    for digest in ("", "..", "aaa/k1", ".hidden"):
        with pytest.raises(ValueError, match="not a dataset digest"):
            remove_dataset_baselines(root, digest)
    assert store.get("bbb/k1") is not None
