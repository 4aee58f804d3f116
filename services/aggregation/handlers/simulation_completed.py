"""When a simulation completes: build its impact report and announce it."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from contracts.envelope import CloudEvent
from contracts.events.report.v1 import ReportCompleted
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted
from services.aggregation.db import reports as store
from services.aggregation.domain.report import Report, ResultsError, build_report, build_window
from services.aggregation.domain.results import ResultFileContent, read_results, years_of
from shared import storage
from shared.broker import EventHandler
from shared.db import Database

log = logging.getLogger(__name__)

CONSUMER = "aggregation.simulation-completed"


def result_contents(results: list[ResultFile]) -> list[ResultFileContent]:
    """The bytes of each result file (blocking)."""
    return [
        ResultFileContent(
            uri=file.uri,
            sha256=file.sha256,
            data=storage.read_bytes(file.uri),
            name=file.name,
            year=file.year,
            partition=file.partition,
        )
        for file in results
    ]


def reports_from_results(results: list[ResultFile], year: int) -> dict[int, Report]:
    """Read the result files and build each year's report (blocking: run it in a thread).

    Files without a year are `year`'s.
    """
    return {
        file_year: build_report(*read_results(files))
        for file_year, files in years_of(result_contents(results), year).items()
    }


def handle_simulation_completed(database: Database, source: str) -> EventHandler:
    """The consumer of `simulation.completed`, writing through `database`."""

    async def on_simulation_completed(event: CloudEvent) -> None:
        completed: SimulationCompleted = event.payload(SimulationCompleted)
        async with database.unit_of_work() as uow:
            if not await uow.first_delivery(CONSUMER, event):
                return
            if await store.has_report(uow, completed.simulation_id):
                # Another completion event of the same simulation: its report stands.
                await uow.commit()
                return
            started = time.perf_counter()
            by_year = await asyncio.to_thread(
                reports_from_results, completed.results, completed.year
            )
            if completed.year not in by_year:
                raise ResultsError(f"the results hold no files of year {completed.year}")
            report = by_year[completed.year]
            several = len(by_year) > 1
            report_id = str(uuid.uuid4())
            await store.insert_report(
                uow,
                id=report_id,
                simulation_id=completed.simulation_id,
                dataset_id=completed.dataset_id,
                policy_id=completed.policy_id,
                baseline_policy_id=completed.baseline_policy_id,
                year=completed.year,
                model_version=completed.model_version,
                source_event_id=event.id,
                report=report,
                reports_by_year={str(y): r for y, r in by_year.items()} if several else None,
                budget_window=build_window(by_year) if several else None,
                results=[file.model_dump(mode="json") for file in completed.results],
            )
            budget = report["budget"]
            if budget["budgetary_impact"] is None or budget["households"] is None:
                raise ResultsError("the results give no finite budgetary impact")
            await uow.publish(
                CloudEvent.wrap(
                    ReportCompleted(
                        simulation_id=completed.simulation_id,
                        report_id=report_id,
                        budgetary_impact=budget["budgetary_impact"],
                        households=budget["households"],
                    ),
                    source=source,
                    subject=completed.simulation_id,
                )
            )
            await uow.commit()
        log.info(
            "report built",
            extra={
                "simulation_id": completed.simulation_id,
                "report_id": report_id,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    return on_simulation_completed
