"""Uploads the dataset service refuses: each names its problem and stores nothing."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import h5py
import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.population import file_name, to_parquet_bytes
from shared.settings import Settings
from tests.population_files import rezip
from tests.problems import assert_problem
from tests.service.dataset_fixtures import PATH, SMALL_LIMIT, stored_state


def with_frame(
    entity: str, edit: Callable[[pd.DataFrame], pd.DataFrame]
) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    def change(entries: dict[str, bytes]) -> dict[str, bytes]:
        frame = pd.read_parquet(io.BytesIO(entries[file_name(entity)]))
        return {**entries, file_name(entity): to_parquet_bytes(edit(frame))}

    return change


def assign(column: str, values: Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], Any]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{column: values(frame)})

    return edit


def without(name: str) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda entries: {k: v for k, v in entries.items() if k != name}


def adding(name: str, data: bytes) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda entries: {**entries, name: data}


def as_csv(parquet: bytes) -> bytes:
    return pd.read_parquet(io.BytesIO(parquet)).to_csv(index=False).encode()


def first_person_in_group(column: str, group: int) -> Callable[[pd.DataFrame], Any]:
    return lambda frame: [group, *frame[column].iloc[1:]]


BAD_UPLOADS: dict[str, tuple[Callable[[dict[str, bytes]], dict[str, bytes]], str, str]] = {
    "missing file": (without("family.parquet"), "family.parquet", "missing from the archive"),
    "unreadable parquet": (
        adding("person.parquet", b"PAR1 this is not parquet"),
        "person.parquet",
        "is not a readable Parquet file",
    ),
    "missing column": (
        with_frame("person", lambda f: f.drop(columns=["person_household_id"])),
        "person.parquet",
        "missing column person_household_id",
    ),
    "missing weight": (
        with_frame("household", lambda f: f.drop(columns=["household_weight"])),
        "household.parquet",
        "missing column household_weight",
    ),
    "missing state": (
        with_frame("household", lambda f: f.drop(columns=["state_fips"])),
        "household.parquet",
        "missing column state_fips",
    ),
    "non-numeric ids": (
        with_frame("tax_unit", assign("tax_unit_id", lambda f: f["tax_unit_id"].astype(str))),
        "tax_unit.parquet",
        "column tax_unit_id must be numeric",
    ),
    "non-numeric weights": (
        with_frame(
            "household", assign("household_weight", lambda f: f["household_weight"].astype(str))
        ),
        "household.parquet",
        "column household_weight must be numeric",
    ),
    "duplicate ids": (
        with_frame("household", assign("household_id", lambda f: [1] * len(f))),
        "household.parquet",
        "duplicate household_id values: 1",
    ),
    "broken link": (
        with_frame(
            "person",
            assign("person_spm_unit_id", first_person_in_group("person_spm_unit_id", 10**9)),
        ),
        "person.parquet",
        "person_spm_unit_id refers to spm_unit ids missing from spm_unit.parquet: 1000000000",
    ),
    "empty group": (
        with_frame(
            "marital_unit",
            lambda f: pd.concat([f, pd.DataFrame({"marital_unit_id": [10**9]})], ignore_index=True),
        ),
        "marital_unit.parquet",
        "marital_unit_id values with no member in person.parquet: 1000000000",
    ),
    "negative weight": (
        with_frame("household", assign("household_weight", lambda f: -f["household_weight"])),
        "household.parquet",
        "with negative weights",
    ),
    "NaN weight": (
        with_frame("household", assign("household_weight", lambda f: float("nan"))),
        "household.parquet",
        "column household_weight has 40 rows with missing or NaN values",
    ),
    "unknown variable": (
        with_frame("person", assign("employment_incme", lambda f: 1.0)),
        "person.parquet",
        "columns that are not policyengine-us 2.68.0 variables: employment_incme",
    ),
    "variable of another entity": (
        with_frame("household", assign("age", lambda f: 40)),
        "household.parquet",
        "column age is a person variable: put it in person.parquet",
    ),
    "mixed parquet and csv": (
        adding("person.csv", b"person_id\n1\n"),
        "file",
        "unexpected entry 'person.parquet'",
    ),
    "unreadable csv": (
        lambda entries: {
            name.replace(".parquet", ".csv"): (
                b'"tax_unit_id\n1' if "tax_unit" in name else as_csv(data)
            )
            for name, data in entries.items()
        },
        "tax_unit.csv",
        "is not a readable CSV file",
    ),
    "path traversal": (
        adding("../../etc/cron.d/fiscus", b"* * * * * root true"),
        "file",
        "entry '../../etc/cron.d/fiscus' has an unsafe path",
    ),
    "directory": (adding("extra/", b""), "file", "entry 'extra/' is a directory"),
    "unexpected file": (adding("README.txt", b"hi"), "file", "unexpected entry 'README.txt'"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
async def test_a_bad_upload_is_refused_naming_the_problem_and_stores_nothing(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
    case: str,
) -> None:
    change, field, message = BAD_UPLOADS[case]
    before = await stored_state(admin, dataset_settings)
    answer = await api.post(
        PATH,
        data={"name": case, "year": "2025"},
        files={"file": ("population.zip", rezip(synthetic_zip, change), "application/zip")},
    )
    problem = assert_problem(answer, 422)
    assert problem["type"] == "urn:fiscus:problem:validation"
    assert any(
        error["field"] == field and message in error["message"] for error in problem["errors"]
    ), problem
    assert f"{field}: " in problem["detail"]
    assert await stored_state(admin, dataset_settings) == before


async def test_a_zip_bomb_is_refused_and_stores_nothing(
    small_api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
) -> None:
    bomb = rezip(synthetic_zip, adding("person.parquet", bytes(50 * SMALL_LIMIT)))
    assert len(bomb) < SMALL_LIMIT
    before = await stored_state(admin, dataset_settings)
    answer = await small_api.post(
        PATH, data={"name": "bomb"}, files={"file": ("bomb.zip", bomb, "application/zip")}
    )
    problem = assert_problem(answer, 422)
    (error,) = problem["errors"]
    assert error["field"] == "file"
    assert error["message"].endswith(f"over the limit of {SMALL_LIMIT} bytes")
    assert await stored_state(admin, dataset_settings) == before


async def test_an_oversize_upload_is_refused_and_stores_nothing(
    small_api: httpx.AsyncClient, admin: AsyncEngine, dataset_settings: Settings
) -> None:
    before = await stored_state(admin, dataset_settings)
    answer = await small_api.post(
        PATH,
        data={"name": "huge"},
        files={"file": ("huge.zip", bytes(SMALL_LIMIT + 1), "application/zip")},
    )
    problem = assert_problem(answer, 413)
    assert problem["errors"] == [{"field": "file", "message": f"larger than {SMALL_LIMIT} bytes"}]
    assert await stored_state(admin, dataset_settings) == before

    async def chunked() -> AsyncIterator[bytes]:
        """A body without Content-Length: the limit holds while it streams."""
        boundary = b"--fiscus"
        yield boundary + b'\r\nContent-Disposition: form-data; name="name"\r\n\r\nhuge\r\n'
        yield (
            boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\n'
        )
        for _ in range(10):
            yield bytes(SMALL_LIMIT // 4)
        yield b"\r\n" + boundary + b"--\r\n"

    answer = await small_api.post(
        PATH,
        content=chunked(),
        headers={"content-type": "multipart/form-data; boundary=fiscus"},
    )
    assert_problem(answer, 413)
    assert await stored_state(admin, dataset_settings) == before


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"),
    [
        (
            {"data": {"year": "2025"}, "files": {"file": ("a.zip", b"x", "application/zip")}},
            422,
            "body.name",
        ),
        (
            {"data": {"name": "no file"}, "files": {"other": ("a.zip", b"x", "application/zip")}},
            422,
            "body.file",
        ),
        (
            {
                "data": {"name": "x", "year": "soon"},
                "files": {"file": ("a.zip", b"x", "application/zip")},
            },
            422,
            "body.year",
        ),
        (
            {
                "data": {"name": "not a zip"},
                "files": {"file": ("a.zip", b"PK? no", "application/zip")},
            },
            422,
            "file",
        ),
        ({"json": {"name": "json"}}, 415, None),
    ],
)
async def test_a_malformed_upload_request_is_refused(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    request_kwargs: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    before = await stored_state(admin, dataset_settings)
    problem = assert_problem(await api.post(PATH, **request_kwargs), status)
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    assert await stored_state(admin, dataset_settings) == before


def hdf5_file(build: Callable[[h5py.File], Any]) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        build(file)
    return buffer.getvalue()


HOSTILE_HDF5: dict[str, tuple[bytes, str, str]] = {
    "a link out of the file": (
        hdf5_file(lambda f: f.__setitem__("person_id", h5py.ExternalLink("/etc/x.h5", "/a"))),
        "file:/person_id",
        "only hard links are followed",
    ),
    "a compressed bomb": (
        hdf5_file(
            lambda f: f.create_dataset(
                "person_id", shape=(SMALL_LIMIT,), dtype="i8", compression="gzip", chunks=True
            )
        ),
        "file:/person_id",
        f"over the limit of {SMALL_LIMIT} bytes",
    ),
    "an unknown variable": (
        hdf5_file(lambda f: f.create_dataset("made_up/2025", data=np.arange(3))),
        "file",
        "not policyengine-us variables: made_up",
    ),
    "a damaged file": (
        b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8,
        "file",
        "is not a readable HDF5 file",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_HDF5))
async def test_a_hostile_hdf5_upload_is_refused_naming_the_problem_and_stores_nothing(
    small_api: httpx.AsyncClient, admin: AsyncEngine, dataset_settings: Settings, case: str
) -> None:
    content, field, message = HOSTILE_HDF5[case]
    assert len(content) < SMALL_LIMIT
    before = await stored_state(admin, dataset_settings)
    answer = await small_api.post(
        PATH, data={"name": case}, files={"file": ("data.h5", content, "application/x-hdf5")}
    )
    problem = assert_problem(answer, 422)
    assert any(
        error["field"] == field and message in error["message"] for error in problem["errors"]
    ), problem
    assert await stored_state(admin, dataset_settings) == before
