"""PolicyEngine's own dataset files uploaded as they are, and simulated as the same numbers.

One synthetic population is written in each format a PolicyEngine user has, with
policyengine-us's and policyengine-core's own classes: `USSingleYearDataset.save()`,
`USMultiYearDataset.save()`, a policyengine-core `Dataset` of time-period arrays (the
layout of policyengine-us-data's published files), and a zip of one CSV per entity.
Each is uploaded through the dataset API; the simulation of what it registered must
equal the simulation of the population given as Parquet, number for number, and the
file must come back as it was sent.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from services.dataset.domain import variables
from services.dataset.domain.synthetic import generate_population
from services.simulation.domain.engine import PopulationEngine, SimulationResults
from shared.population import ENTITIES, Population, read_population
from tests.population_files import csv_zip, parquet_zip, variable_arrays
from tests.service.dataset_fixtures import PATH

# policyengine-us in the test process: the engine lane.
pytestmark = pytest.mark.slow

YEAR = 2025
HOUSEHOLDS = 30


@pytest.fixture(scope="module")
def generated() -> Population:
    return generate_population(HOUSEHOLDS, seed=11, year=YEAR)


def single_year_h5(population: Population, folder: Path) -> bytes:
    from policyengine_us.data.dataset_schema import USSingleYearDataset

    path = folder / "single_year.h5"
    USSingleYearDataset(**population, time_period=YEAR).save(str(path))
    return path.read_bytes()


def multi_year_h5(population: Population, folder: Path) -> bytes:
    from policyengine_us.data.dataset_schema import USMultiYearDataset, USSingleYearDataset

    years = [USSingleYearDataset(**population, time_period=year) for year in (YEAR - 1, YEAR)]
    path = folder / "multi_year.h5"
    USMultiYearDataset(datasets=years).save(str(path))
    return path.read_bytes()


def variable_arrays_h5(population: Population, folder: Path) -> bytes:
    """Time-period arrays, text as byte strings, as policyengine-us-data saves them."""
    from policyengine_core.data import Dataset

    path = folder / "variable_arrays.h5"

    class Arrays(Dataset):  # type: ignore[misc]
        name = "uploaded"
        label = "uploaded"
        data_format = Dataset.TIME_PERIOD_ARRAYS
        file_path = path
        time_period = YEAR

    data = {name: {str(YEAR): array} for name, array in variable_arrays(population).items()}
    Arrays().save_dataset(data)
    return path.read_bytes()


@pytest.fixture(scope="module")
def files(generated: Population, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("formats")
    return {
        "parquet-zip": parquet_zip(generated),
        "csv-zip": csv_zip(generated),
        "h5-entity-tables": single_year_h5(generated, folder),
        "h5-entity-tables (multi-year)": multi_year_h5(generated, folder),
        "h5-variable-arrays": variable_arrays_h5(generated, folder),
    }


FILE_NAMES = {
    "parquet-zip": "population.zip",
    "csv-zip": "population_csv.zip",
    "h5-entity-tables": "single_year.h5",
    "h5-entity-tables (multi-year)": "multi_year.h5",
    "h5-variable-arrays": "enhanced_cps_like.h5",
}


async def register(api: httpx.AsyncClient, label: str, content: bytes) -> dict[str, Any]:
    data = {"name": label, **({"year": str(YEAR)} if "multi-year" in label else {})}
    answer = await api.post(
        PATH, data=data, files={"file": (FILE_NAMES[label], content, "application/octet-stream")}
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
async def registered(api: httpx.AsyncClient, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {label: await register(api, label, content) for label, content in files.items()}


@pytest.fixture(scope="module")
def simulated(
    population_engine: PopulationEngine, registered: dict[str, dict[str, Any]]
) -> dict[str, SimulationResults]:
    return {
        label: population_engine.run(read_population(dataset["storage_uri"]), YEAR, {})
        for label, dataset in registered.items()
    }


@pytest.mark.parametrize("label", list(FILE_NAMES)[1:])
async def test_an_uploaded_file_simulates_as_the_same_population_given_as_parquet(
    label: str, registered: dict[str, dict[str, Any]], simulated: dict[str, SimulationResults]
) -> None:
    dataset, reference = registered[label], registered["parquet-zip"]
    assert dataset["upload_format"] == label.removesuffix(" (multi-year)")
    assert dataset["year"] == YEAR
    for key in ("households", "people", "states"):
        assert dataset[key] == reference[key]
    expected, actual = simulated["parquet-zip"], simulated[label]
    assert len(expected.households) == HOUSEHOLDS
    pd.testing.assert_frame_equal(actual.households, expected.households, check_exact=True)
    pd.testing.assert_frame_equal(actual.people, expected.people, check_exact=True)


@pytest.mark.parametrize("label", list(FILE_NAMES))
async def test_the_uploaded_file_is_kept_and_downloads_byte_for_byte(
    label: str,
    api: httpx.AsyncClient,
    files: dict[str, bytes],
    registered: dict[str, dict[str, Any]],
) -> None:
    dataset, content = registered[label], files[label]
    assert dataset["original"] == {
        "name": FILE_NAMES[label],
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    answer = await api.get(f"{PATH}/{dataset['id']}/original")
    assert answer.status_code == 200, answer.text
    assert answer.content == content
    assert answer.headers["x-content-sha256"] == hashlib.sha256(content).hexdigest()
    assert FILE_NAMES[label] in answer.headers["content-disposition"]
    # The normalised Parquet files are there beside it, as for every dataset.
    parquet = await api.get(f"{PATH}/{dataset['id']}/download")
    assert parquet.status_code == 200
    with zipfile.ZipFile(io.BytesIO(parquet.content)) as archive:
        assert sorted(archive.namelist()) == sorted(f"{e}.parquet" for e in ENTITIES)


async def test_a_multi_year_file_registers_the_year_asked_for_and_names_them_otherwise(
    api: httpx.AsyncClient, files: dict[str, bytes]
) -> None:
    content = files["h5-entity-tables (multi-year)"]
    upload = {"file": ("multi_year.h5", content, "application/octet-stream")}
    earlier = await api.post(PATH, data={"name": "earlier", "year": str(YEAR - 1)}, files=upload)
    assert earlier.status_code == 201, earlier.text
    assert earlier.json()["year"] == YEAR - 1
    unchosen = await api.post(PATH, data={"name": "which year"}, files=upload)
    assert unchosen.status_code == 422
    assert unchosen.json()["errors"] == [
        {
            "field": "body.year",
            "message": f"the file holds the years {YEAR - 1}, {YEAR}: choose one",
        }
    ]


async def test_a_single_year_file_refuses_another_year(
    api: httpx.AsyncClient, files: dict[str, bytes]
) -> None:
    answer = await api.post(
        PATH,
        data={"name": "wrong year", "year": str(YEAR + 3)},
        files={"file": ("single_year.h5", files["h5-entity-tables"], "application/x-hdf5")},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "body.year", "message": f"the file holds {YEAR}, not {YEAR + 3}"}
    ]


async def test_a_synthetic_dataset_has_no_original_file(api: httpx.AsyncClient) -> None:
    created = await api.post(f"{PATH}/synthetic", json={"name": "generated", "households": 3})
    assert created.status_code == 201
    assert (created.json()["upload_format"], created.json()["original"]) == (None, None)
    answer = await api.get(f"{PATH}/{created.json()['id']}/original")
    assert answer.status_code == 404
    assert "has no original file" in answer.json()["detail"]


def test_the_variable_catalog_is_the_installed_policyengine_us() -> None:
    """`us_variables.json` is regenerated when policyengine-us changes (the module's
    `__main__` writes it): uploads are checked against the model that simulates them."""
    assert variables.CATALOG_PATH.read_text(encoding="utf-8") == variables.render(
        variables.installed_model()
    )
