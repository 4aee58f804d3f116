"""The `outputs` of a simulation request: in its content key and its result files."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE, household_columns, person_columns
from services.simulation.domain.keys import SimulationInputs, simulation_key
from services.simulation.domain.results import ResultShapeError, check_columns

INPUTS = SimulationInputs(
    dataset_sha256="a" * 64,
    policy_sha256="b" * 64,
    baseline_policy_sha256=None,
    year=2026,
    region="us",
    model_version="2.68.0",
    result_format_version=2,
)


def test_no_outputs_keep_the_key_it_had_before_outputs() -> None:
    assert simulation_key(replace(INPUTS, outputs=())) == simulation_key(INPUTS)


def test_outputs_change_the_key_whatever_their_order_or_repeats() -> None:
    with_outputs = simulation_key(replace(INPUTS, outputs=("aca_ptc", "medicaid")))
    assert with_outputs != simulation_key(INPUTS)
    assert with_outputs == simulation_key(
        replace(INPUTS, outputs=("medicaid", "aca_ptc", "aca_ptc"))
    )
    assert with_outputs != simulation_key(replace(INPUTS, outputs=("aca_ptc",)))


def test_result_files_may_carry_outputs_and_race_after_the_contracts_columns() -> None:
    outputs = ["baseline_aca_ptc", "reform_aca_ptc"]
    check_columns(HOUSEHOLDS_FILE, pd.DataFrame(columns=[*household_columns(), *outputs]))
    check_columns(PEOPLE_FILE, pd.DataFrame(columns=[*person_columns(), "race"]))
    check_columns(
        PEOPLE_FILE, pd.DataFrame(columns=[*person_columns(), "race", "reform_cliff_gap"])
    )
    wealth = ["household_net_worth", "household_wealth_decile", "congressional_district_geoid"]
    check_columns(HOUSEHOLDS_FILE, pd.DataFrame(columns=[*household_columns(), *wealth, *outputs]))
    with pytest.raises(ResultShapeError, match="unexpected"):
        check_columns(PEOPLE_FILE, pd.DataFrame(columns=[*person_columns(), "county"]))
    with pytest.raises(ResultShapeError, match="unexpected"):
        check_columns(HOUSEHOLDS_FILE, pd.DataFrame(columns=[*household_columns(), "aca_ptc"]))
    with pytest.raises(ResultShapeError):
        check_columns(HOUSEHOLDS_FILE, pd.DataFrame(columns=[*outputs, *household_columns()]))
