"""The dataset API's request and response bodies, and how a row reads as a dataset."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.dataset.domain.datasets import (
    DEFAULT_SYNTHETIC_HOUSEHOLDS,
    DEFAULT_YEAR,
    MAX_SYNTHETIC_HOUSEHOLDS,
    Name,
    Source,
    Year,
)
from services.dataset.domain.intake import UploadFormat
from shared.pagination import Page


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
    """The text fields of an upload, beside its `file`.

    `year` defaults to the year an HDF5 file records, else to DEFAULT_YEAR; for a
    multi-year file it picks the year to register.
    """

    name: Name
    year: Year | None = None


# An upload is multipart, read by api/upload_form.py rather than by FastAPI, so its
# body is described here by hand; its text fields are UploadFields.
UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "name"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "a zip holding exactly person.parquet, household.parquet, "
                        "tax_unit.parquet, spm_unit.parquet, family.parquet, marital_unit.parquet "
                        "(or the same six as .csv); or a PolicyEngine HDF5 dataset (.h5): entity "
                        "tables as USSingleYearDataset or USMultiYearDataset save them, or "
                        "variable arrays as policyengine-us-data publishes them",
                    },
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "year": {
                        "type": "integer",
                        "description": "the year to register: by default the one an HDF5 file "
                        "records, else 2025; a multi-year file's year to take",
                    },
                },
            }
        }
    },
}


class OriginalFile(BaseModel):
    """An uploaded file as it came, kept for download beside the Parquet files."""

    name: str = Field(description="the file name the upload gave")
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the file's bytes")


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
    upload_format: UploadFormat | None = Field(
        None,
        description="what was uploaded: a zip of Parquet or CSV files, or a PolicyEngine HDF5 "
        "dataset of entity tables or of variable arrays; null for synthetic datasets",
    )
    original: OriginalFile | None = Field(
        None,
        description="the uploaded file as it came (GET .../original), for uploads since it is kept",
    )


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
        upload_format=row.get("upload_format"),
        original=(
            OriginalFile(
                name=row["original_name"],
                size_bytes=row["original_size_bytes"],
                sha256=row["original_sha256"],
            )
            if row.get("original_name") is not None
            else None
        ),
    )
