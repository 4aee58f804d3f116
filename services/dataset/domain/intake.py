"""How a population becomes a dataset's six files: generated, or uploaded and checked.

CPU-bound and blocking; callers run these in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from services.dataset.domain.archive import read_frames, read_population_archive
from services.dataset.domain.summary import PopulationSummary, summarize
from services.dataset.domain.synthetic import generate_population
from services.dataset.domain.validation import validate_population
from shared.population import ENTITIES, content_sha256, to_parquet_bytes
from shared.problems import FieldError


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
class CheckedUpload:
    """An upload's files when it is sound; otherwise every problem found in it."""

    population: PopulationFiles | None
    errors: list[FieldError]


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


def check_upload(archive: IO[bytes], *, max_uncompressed_bytes: int) -> CheckedUpload:
    """An uploaded zip's entity files, kept byte for byte when the population is sound."""
    content = read_population_archive(archive, max_uncompressed_bytes=max_uncompressed_bytes)
    if content.errors:
        return CheckedUpload(None, content.errors)
    population, errors = read_frames(content.files)
    if not errors:
        errors = validate_population(population)
    if errors:
        return CheckedUpload(None, errors)
    return CheckedUpload(PopulationFiles(content.files, summarize(population)), [])
