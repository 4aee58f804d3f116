"""The client's pure parts: reading an event stream, typed reports and their frames."""

from __future__ import annotations

import httpx
import pytest

from fiscus_client.events import events_of, is_final
from fiscus_client.models import Report
from fiscus_client.transport import FiscusError, batch_items, resolve_config, simulation_event

STREAM = [
    "retry: 3000",
    "",
    "id: state-running",
    "event: status",
    'data: {"simulation_id": "s-1", "status": "running",',
    'data:  "simulation": {"id": "s-1"}}',
    "",
    ": heartbeat",
    "",
    "id: e-2",
    "event: progress",
    'data: {"simulation_id": "s-1", "partitions_done": 1, "partitions_total": 4}',
    "",
    "event: completed",
    'data: {"simulation_id": "s-1", "status": "completed", "seconds": 12.5}',
    "",
]


def test_the_stream_reader_reads_events_and_skips_comments_and_retry() -> None:
    answer = httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=("\n".join(STREAM) + "\n").encode(),
    )
    events = list(events_of(answer))
    assert [e.event for e in events] == ["status", "progress", "completed"]
    assert events[0].json()["simulation"] == {"id": "s-1"}
    assert [e.id for e in events] == ["state-running", "e-2", "e-2"]
    assert [is_final(e) for e in events] == [False, False, True]
    progress = simulation_event(events[1].event, events[1].json())
    assert (progress.partitions_done, progress.partitions_total) == (1, 4)
    final = simulation_event(events[2].event, events[2].json())
    assert final.model_extra == {"seconds": 12.5}


REPORT = {
    "report_id": "r-1",
    "simulation_id": "s-1",
    "report": {
        "budget": {"budgetary_impact": -5.0e9, "tax_revenue_impact": -4.0e9, "households": 1e8},
        "decile": {
            "average": {str(d): 10.0 * d for d in range(1, 11)},
            "relative": {str(d): 0.01 * d for d in range(1, 11)},
        },
        "poverty": {
            "poverty": {"all": {"baseline": 0.12, "reform": 0.11}},
            "deep_poverty": {"child": {"baseline": 0.05, "reform": None}},
        },
        "inequality": {"gini": {"baseline": 0.41, "reform": 0.40}},
        "state_impact": {"TX": {"budgetary_impact": -1.0}},
    },
}


def test_a_report_is_typed_and_keeps_sections_it_does_not_name() -> None:
    report = Report.model_validate(REPORT)
    assert report.report.budget is not None
    assert report.report.budget.budgetary_impact == -5.0e9
    assert report.report.model_extra == {"state_impact": {"TX": {"budgetary_impact": -1.0}}}
    deciles = report.deciles_frame()
    assert list(deciles.index) == list(range(1, 11))
    assert deciles.loc[3, "average"] == 30.0 and deciles.loc[10, "relative"] == 0.1
    poverty = report.poverty_frame()
    assert poverty.loc[("poverty", "all"), "change"] == pytest.approx(-0.01)
    assert poverty["reform"].isna().sum() == 1
    assert report.inequality_frame().loc["gini", "reform"] == 0.40
    assert report.budget_frame().loc["households", "value"] == 1e8


def test_a_batch_answer_gives_its_simulations_in_order() -> None:
    simulation = {"status": "queued", "dataset_id": "d", "policy_id": "p", "year": 2026}
    answer = {
        "items": [
            {"index": 0, "status": 202, "simulation": {**simulation, "id": "a"}},
            {"index": 1, "status": 200, "simulation": {**simulation, "id": "b"}},
        ],
        "accepted": 1,
        "existing": 1,
    }
    assert [s.id for s in batch_items(answer)] == ["a", "b"]
    with pytest.raises(FiscusError):
        batch_items({"unexpected": True})


def test_configuration_comes_from_arguments_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FISCUS_URL", "http://fiscus.example:8000/")
    monkeypatch.setenv("FISCUS_API_KEY", "fk_env")
    assert resolve_config(None, None) == ("http://fiscus.example:8000", "fk_env")
    assert resolve_config("http://other", "fk_arg") == ("http://other", "fk_arg")
    monkeypatch.delenv("FISCUS_API_KEY")
    with pytest.raises(ValueError, match="FISCUS_API_KEY"):
        resolve_config(None, None)
