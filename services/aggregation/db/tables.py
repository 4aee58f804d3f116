"""The aggregation service's tables (schema `aggregation`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import service_metadata

metadata = service_metadata("aggregation")

# One impact report per simulation, built from its `simulation.completed` event.
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("simulation_id", sa.String(64), nullable=False, unique=True),
    sa.Column("dataset_id", sa.String(64), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("baseline_policy_id", sa.String(64)),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("model_version", sa.String(128), nullable=False),
    # The `simulation.completed` event the report was built from.
    sa.Column("source_event_id", sa.String(64), nullable=False),
    # The report of `year`, the window's first year.
    sa.Column("report", pg.JSONB, nullable=False),
    # With a budget window: {"<year>": report} for every year, and the window table.
    sa.Column("reports_by_year", pg.JSONB),
    sa.Column("budget_window", pg.JSONB),
    # The result files of the event (ResultFile dumps): downloads and custom aggregates.
    sa.Column("results", pg.JSONB),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

# Custom aggregates computed on request over a simulation's stored results.
aggregates = sa.Table(
    "aggregates",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("simulation_id", sa.String(64), nullable=False, index=True),
    sa.Column("request", pg.JSONB, nullable=False),
    sa.Column("result", pg.JSONB, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
