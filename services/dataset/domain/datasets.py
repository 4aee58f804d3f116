"""A registered dataset as the API shows it, and what a client sends to register one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.pagination import Page

Source = Literal["synthetic", "upload"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Years PolicyEngine US has parameters for, generously: a sanity bound, not a model limit.
Year = Annotated[int, Field(ge=2000, le=2100)]
DEFAULT_YEAR = 2025
MAX_SYNTHETIC_HOUSEHOLDS = 200_000
# The bundled population's default size: what `make demo` generates.
DEFAULT_SYNTHETIC_HOUSEHOLDS = 3000


class SyntheticDatasetRequest(BaseModel):
    """Generate the built-in synthetic US population; one seed and size, one population."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    households: Annotated[int, Field(ge=1, le=MAX_SYNTHETIC_HOUSEHOLDS)] = (
        DEFAULT_SYNTHETIC_HOUSEHOLDS
    )
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    year: Year = DEFAULT_YEAR


class UploadFields(BaseModel):
    """The text fields of an upload, beside its zip `file`."""

    name: Name
    year: Year = DEFAULT_YEAR


class DatasetResource(BaseModel):
    """A registered dataset.

    `sha256` identifies the content: registering the same files again gives a new
    dataset with the same `sha256`.
    """

    id: str
    name: str
    source: Source
    year: int
    households: int
    people: int
    states: list[str] = Field(description="postal codes of the states the households live in")
    sha256: str = Field(description="SHA-256 over the six entity files' names and SHA-256s")
    storage_uri: str
    size_bytes: int = Field(description="total size of the six Parquet files")
    created_at: datetime
    seed: int | None = Field(None, description="the generator's seed, for synthetic datasets")
    owner: str | None = Field(None, description="the API key (or token subject) that registered it")


class DatasetPage(Page[DatasetResource]):
    """One page of datasets, newest first; pass `next_cursor` back for the next page."""


def resource_from_row(row: Mapping[Any, Any]) -> DatasetResource:
    return DatasetResource(
        id=row["id"],
        name=row["name"],
        source=row["source"],
        year=row["year"],
        households=row["households"],
        people=row["people"],
        states=list(row["states"]),
        sha256=row["sha256"],
        storage_uri=row["storage_uri"],
        size_bytes=row["size_bytes"],
        created_at=row["created_at"],
        seed=row["seed"],
        owner=row.get("owner"),
    )
