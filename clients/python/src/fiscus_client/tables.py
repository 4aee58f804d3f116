"""How the `fiscus` command prints what Fiscus answers: rich tables, or JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from fiscus_client.models import ApiKey, Report, Simulation

# Columns a list shows, per kind of item, when it has them.
SHOWN = (
    "id",
    "name",
    "label",
    "role",
    "status",
    "year",
    "households",
    "people",
    "entity",
    "unit",
    "definition_period",
    "period",
    "created_at",
)


def print_json(console: Console, value: BaseModel | Any) -> None:
    """Print a model or JSON value as indented JSON."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    console.print_json(json.dumps(value, default=str))


def cell(value: Any) -> str:
    """One table cell: numbers with thousands separators, nothing for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _id_column(column: str) -> dict[str, Any]:
    # Ids are what people copy from a table: never cut or wrapped, however narrow.
    if column == "id" or column.endswith("_id"):
        return {"no_wrap": True, "min_width": 36}
    return {}


def rows_table(title: str, items: Sequence[BaseModel]) -> Table:
    """A table of models, with the SHOWN columns that any of them has."""
    dumped = [item.model_dump() for item in items]
    columns = [c for c in SHOWN if any(row.get(c) is not None for row in dumped)]
    table = Table(title=title)
    for column in columns:
        table.add_column(column, **_id_column(column))
    for row in dumped:
        table.add_row(*(cell(row.get(column)) for column in columns))
    return table


def keys_table(keys: Sequence[ApiKey]) -> Table:
    """API keys, without secrets."""
    table = Table(title="API keys")
    for column in ("id", "name", "role", "prefix", "rate_limit", "quota", "revoked"):
        table.add_column(column, **_id_column(column))
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            key.role,
            key.prefix or "",
            key.rate_limit or "",
            cell(key.daily_simulation_quota),
            cell(key.revoked_at),
        )
    return table


def simulation_table(simulations: Sequence[Simulation]) -> Table:
    """Simulations with their status and, for failed ones, why."""
    table = Table(title="simulations")
    for column in ("id", "status", "dataset", "policy", "year", "created", "error"):
        table.add_column(column, **_id_column(column))
    for simulation in simulations:
        table.add_row(
            simulation.id,
            simulation.status,
            simulation.dataset_id,
            simulation.policy_id,
            str(simulation.year),
            cell(simulation.created_at),
            simulation.error.reason if simulation.error else "",
        )
    return table


def frame_table(title: str, frame: pd.DataFrame) -> Table:
    """A table of a DataFrame, its index as the first column(s)."""
    table = Table(title=title)
    shown = frame.reset_index()
    for column in shown.columns:
        table.add_column(str(column), justify="right")
    for row in shown.itertuples(index=False):
        table.add_row(*(cell(value) for value in row))
    return table


def print_report(console: Console, report: Report) -> None:
    """The impact report's budget, deciles, poverty and inequality as tables."""
    console.print(f"[bold]Impact report[/bold] of simulation {report.simulation_id}")
    console.print(frame_table("budget (USD per year)", report.budget_frame()))
    console.print(frame_table("net income change by decile", report.deciles_frame()))
    if report.report.poverty:
        console.print(frame_table("poverty rates", report.poverty_frame()))
    if report.report.inequality:
        console.print(frame_table("inequality", report.inequality_frame()))
