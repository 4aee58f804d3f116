"""The policy API's request and response bodies: policies, parameters and variables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from services.policy.domain.validation import EXAMPLE, holds_nul
from shared.pagination import Page
from shared.problems import NUL_MESSAGE

Visibility = Literal["private", "public"]
# The parameter the metadata examples show.
CTC = "gov.irs.credits.ctc.amount.base[0].amount"

ReformData = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "object",
            "description": "A reform in PolicyEngine's format: {parameter path: {period: value}}",
            "additionalProperties": {"type": "object"},
            "example": {
                "gov.irs.credits.ctc.amount.base[0].amount": {"2026-01-01.2100-12-31": 3000}
            },
        }
    ),
]


def _storable(text: str) -> str:
    if holds_nul(text):
        raise ValueError(NUL_MESSAGE)
    return text


# Text Postgres can store: no NUL character.
StorableText = Annotated[str, AfterValidator(_storable)]


class PolicyCreate(BaseModel):
    """A reform to validate and store."""

    model_config = ConfigDict(extra="forbid")

    name: StorableText = Field(min_length=1, max_length=200)
    description: StorableText | None = Field(default=None, max_length=5000)
    # Checked by domain/validation.py rather than by the model, so that every error in
    # it is reported at once, each at its parameter path.
    data: ReformData = Field(description=f"e.g. {EXAMPLE}")
    visibility: Visibility = Field(
        default="private",
        description="`public`: anyone may find it, read it and simulate it; only its owner "
        "changes it. A public policy with the same content as a live public one is that one "
        "(200 with it, nothing stored)",
    )


class PolicyResource(BaseModel):
    """A stored reform."""

    id: str
    name: str
    description: str | None = None
    data: dict[str, Any]
    sha256: str = Field(description="SHA-256 of the canonical JSON of `data`")
    owner: str | None = Field(
        default=None, description="The API key (or token subject) that stored it"
    )
    visibility: Visibility = "private"
    created_at: datetime
    updated_at: datetime


class PolicyChange(BaseModel):
    """The fields of a policy to change; its reform (`data`) never changes."""

    model_config = ConfigDict(extra="forbid")

    name: StorableText | None = Field(default=None, min_length=1, max_length=200)
    description: StorableText | None = Field(default=None, max_length=5000)
    visibility: Visibility | None = Field(
        default=None, description="make it `public`, or `private` again (its owner only)"
    )


class PolicyPage(Page[PolicyResource]):
    """One page of policies, newest first; pass `next_cursor` back for the next page."""


def resource_from_row(row: sa.RowMapping) -> PolicyResource:
    return PolicyResource(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        data=row["data"],
        sha256=row["sha256"],
        owner=row["owner"],
        visibility=row["visibility"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ValueFromResource(BaseModel):
    """A parameter's value from `start` on, until the next entry's start."""

    start: str = Field(description="ISO date", examples=["2025-01-01"])
    value: Any = Field(description="A number, boolean, string or list", examples=[2200])


class ParameterSummary(BaseModel):
    """A parameter a reform can set, as lists show it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": CTC,
                    "label": "Child Tax Credit base amount (bracket 1): amount",
                    "description": "Base value of the Child Tax Credit, by child age.",
                    "unit": "currency-USD",
                    "period": "year",
                }
            ]
        }
    )

    name: str
    label: str | None = None
    description: str | None = None
    unit: str | None = None
    period: str | None = None


class ParameterResource(ParameterSummary):
    """A parameter with its current-law values over time, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": CTC,
                    "label": "Child Tax Credit base amount (bracket 1): amount",
                    "description": "Base value of the Child Tax Credit, by child age.",
                    "unit": "currency-USD",
                    "period": "year",
                    "values": [
                        {"start": "2018-01-01", "value": 2000},
                        {"start": "2025-01-01", "value": 2200},
                    ],
                }
            ]
        }
    )

    values: list[ValueFromResource]


class VariableResource(BaseModel):
    """A policyengine-us variable: what it is, for whom, over which period."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "household_net_income",
                    "label": "net income",
                    "entity": "household",
                    "unit": "currency-USD",
                    "definition_period": "year",
                    "value_type": "float",
                    "documentation": None,
                    "default_value": 0,
                    "possible_values": None,
                }
            ]
        }
    )

    name: str
    label: str | None = None
    entity: str = Field(description="person, tax_unit, spm_unit, family, household, ...")
    unit: str | None = None
    definition_period: str = Field(description="year, month or eternity")
    value_type: str = Field(description="float, int, bool, str, Enum or date")
    documentation: str | None = None
    default_value: Any = None
    possible_values: list[str] | None = Field(
        default=None, description="The names an Enum variable may take"
    )


class ParameterPage(BaseModel):
    """One page of parameters in name order; pass `next_cursor` back for the next page."""

    items: list[ParameterSummary]
    next_cursor: str | None = None


class VariablePage(BaseModel):
    """One page of variables in name order; pass `next_cursor` back for the next page."""

    items: list[VariableResource]
    next_cursor: str | None = None
