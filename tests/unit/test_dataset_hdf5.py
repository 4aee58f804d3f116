"""HDF5 uploads: the two PolicyEngine layouts read, and hostile files refused by name.

Sound files are written the way PolicyEngine writes them (pandas tables with data
columns, as `USSingleYearDataset.save()` does; `/<variable>/<year>` arrays, as
policyengine-us-data does) without importing policyengine-us, which this package must
not; tests/service/test_dataset_formats.py uploads files made by policyengine-us's own
classes. Hostile files are built with h5py.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dataset.adapters.isolated_hdf5 import read_hdf5_isolated
from services.dataset.domain.hdf5 import read_hdf5
from services.dataset.domain.intake import check_upload
from services.dataset.domain.synthetic import generate_population
from shared.population import ENTITIES, Population
from tests.population_files import variable_arrays_h5

LIMIT = 50_000_000


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(12, seed=5, year=2025)


def entity_tables(population: Population, path: Path, years: tuple[int, ...] = ()) -> bytes:
    with pd.HDFStore(path, mode="w") as store:
        for entity in ENTITIES:
            if years:
                for year in years:
                    store.put(
                        f"{entity}/{year}", population[entity], format="table", data_columns=True
                    )
            else:
                store.put(entity, population[entity], format="table", data_columns=True)
        if not years:
            store.put("_time_period", pd.Series([2025]), format="table")
    return path.read_bytes()


def read(
    content: bytes, year: int | None = None, limit: int = LIMIT
) -> tuple[Population, list[tuple[str, str]]]:
    result = read_hdf5(io.BytesIO(content), year=year, max_bytes=limit)
    return result.population, [(e.field, e.message) for e in result.errors]


def assert_same(read_population: Population, population: Population) -> None:
    for entity in ENTITIES:
        got, expected = read_population[entity], population[entity]
        assert sorted(got.columns) == sorted(expected.columns)
        for column in expected.columns:
            assert got[column].to_numpy().tolist() == expected[column].to_numpy().tolist(), column
            assert got[column].dtype.kind == expected[column].dtype.kind or (
                got[column].dtype == object
            ), column


def test_entity_tables_are_read_with_their_types(population: Population, tmp_path: Path) -> None:
    content = read_hdf5(
        io.BytesIO(entity_tables(population, tmp_path / "s.h5")), year=None, max_bytes=LIMIT
    )
    assert (content.errors, content.layout, content.year) == ([], "h5-entity-tables", 2025)
    assert_same(content.population, population)
    assert content.population["person"]["is_female"].dtype == bool
    assert (
        content.population["household"]["county_fips"].iloc[0]
        == population["household"]["county_fips"].iloc[0]
    )


def test_a_multi_year_file_gives_the_year_asked_for(population: Population, tmp_path: Path) -> None:
    content = entity_tables(population, tmp_path / "m.h5", years=(2024, 2026))
    chosen = read_hdf5(io.BytesIO(content), year=2026, max_bytes=LIMIT)
    assert (chosen.errors, chosen.year, chosen.naming("person")) == ([], 2026, "file:/person/2026")
    assert_same(chosen.population, population)
    assert read(content)[1] == [("body.year", "the file holds the years 2024, 2026: choose one")]
    assert read(content, year=2025)[1] == [("body.year", "the file holds 2024, 2026, not 2025")]


def test_variable_arrays_are_read_by_each_variables_entity(
    population: Population, tmp_path: Path
) -> None:
    content = read_hdf5(
        io.BytesIO(variable_arrays_h5(population, tmp_path / "a.h5")), year=None, max_bytes=LIMIT
    )
    assert (content.errors, content.layout, content.year) == ([], "h5-variable-arrays", 2025)
    assert_same(content.population, population)
    flat = read_hdf5(
        io.BytesIO(variable_arrays_h5(population, tmp_path / "f.h5", year=None)),
        year=2027,
        max_bytes=LIMIT,
    )
    assert (flat.errors, flat.year) == ([], 2027)
    assert_same(flat.population, population)


def test_check_upload_converts_an_hdf5_file_and_names_problems_where_they_are(
    population: Population, tmp_path: Path
) -> None:
    checked = check_upload(
        io.BytesIO(entity_tables(population, tmp_path / "s.h5")), max_uncompressed_bytes=LIMIT
    )
    assert (checked.errors, checked.format, checked.year) == ([], "h5-entity-tables", 2025)
    assert checked.population is not None and checked.population.summary.households == 12
    unknown = {**population, "person": population["person"].assign(made_up_income=1.0)}
    refused = check_upload(
        io.BytesIO(variable_arrays_h5(unknown, tmp_path / "b.h5")), max_uncompressed_bytes=LIMIT
    )
    assert [(e.field, e.message) for e in refused.errors] == [
        ("file", "arrays that are not policyengine-us variables: made_up_income")
    ]
    misplaced = {
        **population,
        "household": population["household"].drop(columns="household_weight"),
        "person": population["person"].assign(state_fips=1),
    }
    refused = check_upload(
        io.BytesIO(entity_tables(misplaced, tmp_path / "c.h5")), max_uncompressed_bytes=LIMIT
    )
    assert [(e.field, e.message) for e in refused.errors] == [
        ("file:/person", "column state_fips is a household variable: put it in file:/household"),
        ("file:/household", "missing column household_weight"),
    ]


def hostile(tmp_path: Path, build: object) -> bytes:
    path = tmp_path / "hostile.h5"
    with h5py.File(path, "w") as file:
        build(file)  # type: ignore[operator]
    return path.read_bytes()


def test_links_out_of_the_file_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret.h5").write_bytes(b"")
    soft = hostile(tmp_path, lambda f: f.__setitem__("person_id", h5py.SoftLink("/elsewhere")))
    assert read(soft)[1] == [("file:/person_id", "is a SoftLink: only hard links are followed")]
    external = hostile(
        tmp_path, lambda f: f.__setitem__("person", h5py.ExternalLink("/etc/passwd.h5", "/person"))
    )
    assert read(external)[1] == [
        ("file:/person", "is a ExternalLink: only hard links are followed")
    ]


def test_data_kept_outside_the_file_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(bytes(800))
    external = hostile(
        tmp_path,
        lambda f: f.create_dataset(
            "person_id", shape=(100,), dtype="i8", external=[(str(outside), 0, 800)]
        ),
    )
    assert read(external)[1] == [("file:/person_id", "keeps its data outside the file")]


def test_a_dataset_larger_than_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # 80 MB of zeros compress to almost nothing: the declared size is what counts.
    bomb = hostile(
        tmp_path,
        lambda f: f.create_dataset(
            "person_id", shape=(10_000_000,), dtype="i8", compression="gzip", chunks=True
        ),
    )
    assert len(bomb) < 1_000_000
    assert read(bomb, year=2025)[1] == [
        (
            "file:/person_id",
            f"holds 80000000 bytes uncompressed: the file is over the limit of {LIMIT} bytes",
        )
    ]


def test_tables_whose_column_names_would_need_unpickling_are_refused(
    population: Population, tmp_path: Path
) -> None:
    path = tmp_path / "blocks.h5"
    with pd.HDFStore(path, mode="w") as store:
        store.put("person", population["person"], format="table")
    _, errors = read(path.read_bytes())
    assert errors[0][0] == "file:/person" and "data_columns=True" in errors[0][1]


def test_arrays_of_other_shapes_or_types_are_refused(tmp_path: Path) -> None:
    square = hostile(tmp_path, lambda f: f.create_dataset("person_id/2025", data=np.zeros((3, 3))))
    assert read(square)[1] == [
        ("file:/person_id/2025", "must be a one-dimensional array, found shape (3, 3)")
    ]
    compound = hostile(
        tmp_path, lambda f: f.create_dataset("age/2025", data=np.zeros(3, dtype=[("a", "i8")]))
    )
    assert read(compound)[1][0][0] == "file:/age/2025"
    uneven = hostile(
        tmp_path,
        lambda f: (
            f.create_dataset("person_id/2025", data=np.arange(3)),
            f.create_dataset("age/2025", data=np.arange(4)),
        ),
    )
    assert read(uneven)[1] == [("file:/age", "has 4 values, but there are 3 person ids")]


def test_bytes_that_only_start_like_hdf5_are_refused(tmp_path: Path) -> None:
    content = b"\x89HDF\r\n\x1a\n" + bytes(100)
    assert read(content)[1][0][0] == "file"
    assert read(content)[1][0][1].startswith("is not a readable HDF5 file")


def test_the_isolated_reader_reads_what_the_reader_reads(
    population: Population, tmp_path: Path
) -> None:
    content = variable_arrays_h5(population, tmp_path / "a.h5")
    isolated = read_hdf5_isolated(io.BytesIO(content), year=None, max_bytes=LIMIT)
    assert (isolated.errors, isolated.layout, isolated.year) == ([], "h5-variable-arrays", 2025)
    assert_same(isolated.population, population)


def test_a_file_that_needs_more_memory_than_the_reader_has_is_refused(tmp_path: Path) -> None:
    big = hostile(
        tmp_path,
        lambda f: f.create_dataset(
            "person_id", shape=(100_000_000,), dtype="i8", compression="gzip", chunks=True
        ),
    )
    refused = read_hdf5_isolated(
        io.BytesIO(big), year=2025, max_bytes=10**9, memory_bytes=600_000_000
    )
    assert [e.field for e in refused.errors] == ["file"]
    assert "memory limit of 600000000 bytes" in refused.errors[0].message
    slow = read_hdf5_isolated(io.BytesIO(big), year=2025, max_bytes=10**9, timeout_seconds=0.01)
    assert [e.message for e in slow.errors] == ["could not be read within 0.01 seconds"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 8), cut=st.booleans())
def test_damaged_files_are_read_or_refused_never_raised(
    population: Population, tmp_path: Path, seed: int, flips: int, cut: bool
) -> None:
    """Bytes flipped in the headers (the first 6 kB), the file perhaps cut short: in the
    child, under its limits, as uploads are read."""
    sound = variable_arrays_h5(population, tmp_path / "sound.h5")
    damaged = bytearray(sound)
    chance = random.Random(seed)
    for _ in range(flips):
        damaged[chance.randrange(min(len(damaged), 6000))] = chance.randrange(256)
    if cut:
        damaged = damaged[: chance.randrange(len(damaged))]
    result = read_hdf5_isolated(io.BytesIO(bytes(damaged)), year=None, max_bytes=LIMIT)
    assert all(error.field.startswith(("file", "body.year")) for error in result.errors)
    assert bool(result.errors) != bool(result.population)
