"""Results do not depend on how a simulation is partitioned: to the bit.

The real worker (planner, partitions, income and wealth decile ranking over partitions)
runs the real policyengine-us engine on a small synthetic population, once as one
partition and once as several; every column of every household and person must be equal.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pandas as pd
import pytest

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated
from contracts.events.simulation.v1 import (
    SimulationCompleted,
    SimulationFailed,
)
from services.dataset.domain.synthetic import generate_population
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.db.tables import metadata
from services.simulation.domain.engine import PopulationEngine
from services.simulation.domain.simulations import SimulationRequest, requested_event
from services.simulation.main import create_worker_app
from shared import storage
from shared.db import Database, create_engine
from shared.population import ENTITIES, to_parquet_bytes, write_population
from shared.settings import Settings
from tests.service.bus import event_tap
from tests.service.simulation_fixtures import purge_requests

pytestmark = pytest.mark.slow

YEAR = 2025
HOUSEHOLDS = 240
CTC = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}


async def simulate(
    settings: Settings, engine: PopulationEngine, inputs: tuple[str, str], region: str = "us"
) -> SimulationCompleted:
    """One simulation through a real worker; its completed event."""
    database = Database(create_engine(settings.service_database_url("simulation")), metadata)
    await purge_requests(settings.amqp_url)
    app = create_worker_app(settings, lambda: engine, exit_on_engine_failure=False)
    keys = (SimulationCompleted.event_type, SimulationFailed.event_type)
    try:
        async with app.router.lifespan_context(app), event_tap(settings.amqp_url, *keys) as tap:
            request = SimulationRequest(
                dataset_id=inputs[0], policy_id=inputs[1], year=YEAR, region=region
            )
            simulation_id = str(uuid.uuid4())
            async with database.unit_of_work() as uow:
                await store.insert_simulation(uow, simulation_id, request)
                await uow.publish(
                    CloudEvent.wrap(
                        requested_event(simulation_id, request),
                        source="/fiscus/simulation",
                        subject=simulation_id,
                    )
                )
                await uow.commit()
            message = await tap.message_about(simulation_id, timeout=1500)
    finally:
        await database.engine.dispose()
    document = CloudEvent.model_validate_json(message.body)
    assert document.type == SimulationCompleted.event_type, document.data
    return document.payload(SimulationCompleted)


def stacked(completed: SimulationCompleted, name: str, key: str) -> pd.DataFrame:
    frames = [
        pd.read_parquet(io.BytesIO(storage.read_bytes(f.uri)))
        for f in completed.results
        if f.name == name
    ]
    return (
        pd.concat(frames, ignore_index=True).sort_values(key, kind="stable").reset_index(drop=True)
    )


@pytest.fixture
async def inputs(migrated: Settings) -> AsyncIterator[tuple[str, str]]:
    """A synthetic population and the CTC reform, registered in the projections."""
    generated = generate_population(HOUSEHOLDS, seed=7, year=YEAR)
    # Wealth (whose deciles are ranked over the whole population too) and districts.
    rng = np.random.default_rng(7)
    household = generated["household"]
    household["net_worth"] = np.round(rng.lognormal(11, 1.5, HOUSEHOLDS))
    household["congressional_district_geoid"] = household["state_fips"] * 100 + 1
    dataset_id, policy_id = f"ds-{uuid.uuid4().hex[:12]}", f"pol-{uuid.uuid4().hex[:12]}"
    uri = storage.join(migrated.resolved_storage_url, "datasets", dataset_id)
    write_population(uri, {entity: to_parquet_bytes(generated[entity]) for entity in ENTITIES})
    database = Database(create_engine(migrated.service_database_url("simulation")), metadata)
    digest = hashlib.sha256(dataset_id.encode()).hexdigest()
    dataset = DatasetRegistered(
        dataset_id=dataset_id,
        name=dataset_id,
        storage_uri=uri,
        sha256=digest,
        year=YEAR,
        households=HOUSEHOLDS,
        people=len(generated["person"]),
        states=[],
    )
    policy = PolicyCreated(policy_id=policy_id, name=policy_id, sha256=digest, data=CTC)
    async with database.unit_of_work() as uow:
        now = CloudEvent.wrap(dataset, source="/tests").time
        await projections.record_dataset(uow, dataset, now)
        await projections.record_policy(uow, policy, now)
        await uow.commit()
    await database.engine.dispose()
    yield dataset_id, policy_id


async def test_results_are_identical_for_any_partition_count_and_region_rows_too(
    migrated: Settings, population_engine: PopulationEngine, inputs: tuple[str, str]
) -> None:
    whole = await simulate(migrated, population_engine, inputs)
    california = await simulate(migrated, population_engine, inputs, region="CA")
    split = await simulate(
        migrated.model_copy(update={"partition_households": 120}), population_engine, inputs
    )

    assert whole.partitions == 1 and split.partitions >= 2
    for name, key in (("households.parquet", "household_id"), ("people.parquet", "person_id")):
        one, several = stacked(whole, name, key), stacked(split, name, key)
        assert list(one.columns) == list(several.columns)
        assert len(one) == len(several) > 0
        for column in one.columns:
            assert one[column].dtype == several[column].dtype, column
            np.testing.assert_array_equal(
                one[column].to_numpy(), several[column].to_numpy(), err_msg=column
            )
    # The deciles were ranked over the whole population, not per partition.
    split_households = stacked(split, "households.parquet", "household_id")
    assert set(split_households["household_income_decile"]) - {-1} == set(range(1, 11))
    assert set(split_households["household_wealth_decile"]) == set(range(1, 11))

    # A region is its states' households, computed alone: the same values as in the whole.
    households = stacked(whole, "households.parquet", "household_id")
    state = stacked(california, "households.parquet", "household_id")
    assert california.region == "CA" and set(state["state_code"]) == {"CA"}
    expected = households[households["state_code"] == "CA"].reset_index(drop=True)
    assert len(state) == len(expected) > 0
    for column in ("household_id", "baseline_household_net_income", "reform_household_net_income"):
        np.testing.assert_array_equal(state[column].to_numpy(), expected[column].to_numpy())
