"""The simulation service's tables (schema `simulation`).

`simulations` is the service's own state. `datasets` and `policies` are projections
of other services' events (event-carried state transfer): they hold exactly what a
simulation needs, so that nothing on a simulation's path calls another service.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import service_metadata

metadata = service_metadata("simulation")

ID = sa.String(64)

simulations = sa.Table(
    "simulations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("dataset_id", ID, nullable=False),
    sa.Column("policy_id", ID, nullable=False),
    sa.Column("baseline_policy_id", ID),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("region", sa.String(8), nullable=False, server_default="us"),
    # Content address (domain/keys.py); null on rows older than it.
    sa.Column("key", sa.String(64)),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    # Deliveries that reached the calculation: bounds retries of a job that kills its worker.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_type", sa.String(128)),
    sa.Column("error_reason", sa.Text),
    sa.Column("results", pg.JSONB),
    sa.Column("timings", pg.JSONB),
    sa.Column("model_version", sa.String(64)),
    sa.Column("dataset_sha256", sa.String(64)),
    # A budget window, first year first; null is `year` alone.
    sa.Column("years", pg.ARRAY(sa.Integer)),
    # Extra policyengine-us variables to store per household; null is none.
    sa.Column("outputs", pg.ARRAY(sa.String(128))),
    # Progress, set when a worker plans the partitions; counted up as they finish.
    sa.Column("partitions_total", sa.Integer),
    sa.Column("partitions_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("households_total", sa.Integer),
    sa.Column("households_done", sa.Integer, nullable=False, server_default="0"),
    # The key or token subject that first requested it (shared.principals), and every
    # one that requested it since: an equal request is answered with this simulation,
    # which its requester may then read. Null and empty on rows older than owners.
    sa.Column("owner", sa.String(64)),
    sa.Column(
        "requesters",
        pg.ARRAY(sa.String(64)),
        nullable=False,
        server_default=sa.text("'{}'::varchar[]"),
    ),
    sa.CheckConstraint(
        "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
        name="status_known",
    ),
    sa.Index("ix_simulations_newest", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_simulations_requesters", "requesters", postgresql_using="gin"),
    # At most one simulation per key that answers new requests (see domain REUSABLE).
    sa.Index(
        "ux_simulations_key_reusable",
        "key",
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running', 'completed')"),
    ),
)

# One group of states in one year of a simulation; any worker computes any partition.
partitions = sa.Table(
    "partitions",
    metadata,
    sa.Column("simulation_id", ID, primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("states", pg.ARRAY(sa.String(2)), nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
    # Deliveries that started the calculation, counted by the application.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("results", pg.JSONB),
    sa.Column("timings", pg.JSONB),
    sa.CheckConstraint("status IN ('queued', 'running', 'done')", name="status_known"),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("dataset_id", ID, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("storage_uri", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("people", sa.Integer, nullable=False),
    # The caller the dataset is private to (an upload); null: every caller may use it.
    sa.Column("owner", sa.String(64)),
    # Set by `dataset.deleted`: no new simulation may use it.
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    # Time of the event that last set this row: an older event arriving late loses.
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("policy_id", ID, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("data", pg.JSONB, nullable=False),
    # The caller the policy belongs to; null: stored from inside the deployment.
    sa.Column("owner", sa.String(64)),
    # Public: every caller may simulate it. Set by `policy.created`, then by
    # `policy.visibility.changed`, whose time is kept so that an older change loses.
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("visibility_changed_at", sa.DateTime(timezone=True)),
    # Set by `policy.deleted`: no new simulation may use it.
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
