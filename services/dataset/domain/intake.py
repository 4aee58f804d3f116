"""How a population becomes a dataset's six files: generated, or uploaded and checked.

An upload is a zip of the six entity files (Parquet or CSV) or one of PolicyEngine's
HDF5 datasets, told apart by their first bytes; whatever came in is stored as the six
Parquet files the engine reads. CPU-bound and blocking; callers run these in a worker
thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Literal

from services.dataset.domain.archive import CSV, entry_name, read_population_archive
from services.dataset.domain.frames import read_frames
from services.dataset.domain.hdf5 import SIGNATURE as HDF5_SIGNATURE
from services.dataset.domain.hdf5 import Hdf5Content, Layout, is_hdf5, read_hdf5
from services.dataset.domain.summary import PopulationSummary, summarize
from services.dataset.domain.synthetic import generate_population
from services.dataset.domain.validation import validate_population
from shared.population import ENTITIES, Population, content_sha256, to_parquet_bytes
from shared.problems import FieldError

# What an upload was, as the dataset records it.
UploadFormat = Literal["parquet-zip", "csv-zip"] | Layout
# Reads an HDF5 upload: `read_hdf5`, or the service's isolated_hdf5 that runs it in a child.
Hdf5Reader = Callable[..., Hdf5Content]


@dataclass(frozen=True)
class PopulationFiles:
    """The six entity files of a sound population, with what they hold."""

    files: dict[str, bytes]
    summary: PopulationSummary
    sha256: str = field(init=False)
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", content_sha256(self.files))
        object.__setattr__(self, "size_bytes", sum(len(data) for data in self.files.values()))


@dataclass(frozen=True)
class UploadRecord:
    """What a dataset records of its upload: the format, and the original file as kept."""

    format: UploadFormat
    original_name: str
    original_size_bytes: int
    original_sha256: str


@dataclass(frozen=True)
class CheckedUpload:
    """An upload's files when it is sound; otherwise every problem found in it."""

    population: PopulationFiles | None
    errors: list[FieldError]
    format: UploadFormat = "parquet-zip"
    # The year the file itself records (an HDF5 dataset's), if it does.
    year: int | None = None


class InvalidSyntheticPopulation(RuntimeError):
    """The generator produced a population that fails validation: a bug, not bad input."""


def synthesize(households: int, seed: int, year: int) -> PopulationFiles:
    """The built-in synthetic population as Parquet files."""
    population = generate_population(households=households, seed=seed, year=year)
    errors = validate_population(population)
    if errors:
        raise InvalidSyntheticPopulation("; ".join(f"{e.field}: {e.message}" for e in errors))
    files = {entity: to_parquet_bytes(population[entity]) for entity in ENTITIES}
    return PopulationFiles(files, summarize(population))


def check_upload(
    upload: IO[bytes],
    *,
    max_uncompressed_bytes: int,
    year: int | None = None,
    read_h5: Hdf5Reader = read_hdf5,
) -> CheckedUpload:
    """An upload's six entity files when the population is sound.

    A zip of Parquet files is kept byte for byte; CSV and HDF5 are converted to Parquet.
    `year` picks one year of a multi-year HDF5 file and must match a single-year one's.
    """
    head = upload.read(len(HDF5_SIGNATURE))
    upload.seek(0)
    if is_hdf5(head):
        content = read_h5(upload, year=year, max_bytes=max_uncompressed_bytes)
        if content.errors:
            return CheckedUpload(None, content.errors)
        return _converted(content.population, content.naming, content.layout, content.year)
    archive = read_population_archive(upload, max_uncompressed_bytes=max_uncompressed_bytes)
    if archive.errors:
        return CheckedUpload(None, archive.errors)
    population, errors = read_frames(archive.files, archive.kind)
    if errors:
        return CheckedUpload(None, errors)
    if archive.kind == CSV:
        return _converted(population, lambda entity: entry_name(entity, CSV), "csv-zip", None)
    errors = validate_population(population)
    if errors:
        return CheckedUpload(None, errors)
    return CheckedUpload(PopulationFiles(archive.files, summarize(population)), [])


def _converted(
    population: Population, naming: Callable[[str], str], layout: UploadFormat, year: int | None
) -> CheckedUpload:
    errors = validate_population(population, naming)
    if errors:
        return CheckedUpload(None, errors, layout)
    files = {entity: to_parquet_bytes(population[entity]) for entity in ENTITIES}
    return CheckedUpload(PopulationFiles(files, summarize(population)), [], layout, year)
