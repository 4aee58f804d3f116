"""`POST /api/v1/households/calculate`: the simulation API, RabbitMQ request/reply, a warm worker.

The API process and the households worker run in this process, on the real Postgres
and RabbitMQ; the worker calculates with the session's policyengine-us engine.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated
from services.simulation.db.tables import metadata
from services.simulation.domain.engine import PopulationEngine
from services.simulation.domain.household_engine import (
    HouseholdEngine,
    HouseholdRequest,
    warmed,
)
from services.simulation.handlers.projections import ProjectionHandlers
from services.simulation.main import create_app, create_households_app
from shared.db import Database, create_engine
from shared.problems import PROBLEM_JSON
from shared.settings import Settings
from tests.service.household_cases import CTC_REFORM, HOUSEHOLDS, SINGLE, VARIABLES

pytestmark = pytest.mark.slow

PATH = "/api/v1/households/calculate"


@pytest.fixture(scope="module")
def engine(population_engine: PopulationEngine) -> HouseholdEngine:
    return HouseholdEngine(population_engine)


async def running_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://simulation") as client:
            yield client


async def wait_ready(app: FastAPI) -> None:
    for _ in range(9000):
        checks = await app.state.process.readiness()
        if all(value == "ok" for value in checks.values()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the households worker is not ready: {checks}")


async def test_no_worker_answers_504_in_time(migrated: Settings) -> None:
    settings = migrated.model_copy(update={"household_timeout_seconds": 1.0})
    async for client in running_api(settings):
        answer = await client.post(PATH, json={"household": SINGLE})
        assert answer.status_code == 504
        assert answer.headers["content-type"] == PROBLEM_JSON


@pytest.fixture(scope="module")
async def api(migrated: Settings, engine: HouseholdEngine) -> AsyncIterator[httpx.AsyncClient]:
    # Generous: this machine's load, and a reform's system built on first use.
    update = {"household_batch_ms": 20.0, "household_timeout_seconds": 300.0}
    settings = migrated.model_copy(update=update)

    def warm_engine() -> HouseholdEngine:
        # The year's parameters and the reform's system, before the first timed call.
        engine.calculate([HouseholdRequest(copy.deepcopy(SINGLE))], CTC_REFORM)
        return warmed(engine)

    worker = create_households_app(settings, warm_engine, exit_on_engine_failure=False)
    async with worker.router.lifespan_context(worker):
        await wait_ready(worker)
        async for client in running_api(settings):
            yield client


async def test_concurrent_households_are_batched_and_equal_each_alone(
    api: httpx.AsyncClient, engine: HouseholdEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.simulation.workers.households")
    bodies = [{"household": h, "variables": VARIABLES} for h in HOUSEHOLDS.values()]
    answers = await asyncio.gather(*(api.post(PATH, json=body) for body in bodies))
    assert [a.status_code for a in answers] == [200] * len(bodies), answers[0].text
    alone = [
        engine.calculate([HouseholdRequest(copy.deepcopy(h), VARIABLES)], None)[0].household
        for h in HOUSEHOLDS.values()
    ]
    assert [a.json()["household"] for a in answers] == alone
    assert answers[0].json()["model_version"] == engine.model_version
    # `households` is an extra field of the log record.
    sizes = [
        r.__dict__["households"]
        for r in caplog.records
        if r.getMessage() == "households calculated"
    ]
    assert max(sizes) > 1, sizes


async def test_a_stored_policy_is_calculated_by_id(
    api: httpx.AsyncClient, migrated: Settings, engine: HouseholdEngine
) -> None:
    database = Database(create_engine(migrated.service_database_url("simulation")), metadata)
    payload = PolicyCreated(policy_id="pol-ctc-3000", name="CTC", sha256="c" * 64, data=CTC_REFORM)
    event = CloudEvent.wrap(payload, source="/fiscus/policy", subject="pol-ctc-3000")
    await ProjectionHandlers(database).on_policy_created(event)
    await database.engine.dispose()
    household = HOUSEHOLDS["couple_with_kids"]

    by_id = await api.post(PATH, json={"household": household, "policy_id": "pol-ctc-3000"})
    by_value = await api.post(PATH, json={"household": household, "policy": CTC_REFORM})

    assert by_id.status_code == 200, by_id.text
    assert by_id.json() == by_value.json()
    (expected,) = engine.calculate([HouseholdRequest(copy.deepcopy(household))], CTC_REFORM)
    assert by_id.json()["household"] == expected.household


async def assert_problem(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert any(e["field"].startswith(field) for e in answer.json()["errors"]), answer.json()


async def test_bad_requests_are_422_naming_the_field_and_spare_the_others(
    api: httpx.AsyncClient,
) -> None:
    good = {"household": SINGLE, "variables": ["household_net_income"]}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"household": SINGLE, "variables": ["income_tax", "nope"]}, "variables[1]"),
        (
            {"household": {**SINGLE, "people": {"you": {"age": {"2026": "x"}}}}},
            "household.people.you.age",
        ),
        (
            {"household": {**SINGLE, "spm_units": {"u": {"members": ["me"]}}}},
            "household.spm_units.u.members[0]",
        ),
        (
            {"household": {**SINGLE, "people": {"you": {"age": {"20x6": 3}}}}},
            "household.people.you.age.20x6",
        ),
        ({"household": {**SINGLE, "pets": {}}}, "household.pets"),
        ({"household": SINGLE, "policy_id": "pol-unknown"}, "policy_id"),
        ({"household": [1, 2]}, "body.household"),
    ]
    answers = await asyncio.gather(
        api.post(PATH, json=good),
        *(api.post(PATH, json=b) for b, _ in bad),
        api.post(PATH, json=good),
    )
    assert answers[0].status_code == 200 and answers[-1].status_code == 200
    assert answers[0].json() == answers[-1].json()
    for (_, field), answer in zip(bad, answers[1:-1], strict=True):
        await assert_problem(answer, field)
