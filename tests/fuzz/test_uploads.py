"""Population uploads to the dataset service: bytes that are no zip, damaged archives,
entries outside the archive, zip bombs, oversize files, wrong column types and broken
links, each refused as a 4xx problem naming the file, and a refusal stores nothing."""

from __future__ import annotations

import io
import math
import tracemalloc
import zipfile
from typing import Any

import httpx
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dataset.domain.archive import read_population_archive
from shared.population import ENTITIES as POPULATION_ENTITIES
from shared.population import file_name, to_parquet_bytes
from shared.settings import Settings
from tests.fuzz.hostile import FEW, MEASURED, SOME, TALLY, fields_of, problem_of, seen
from tests.population_files import rezip
from tests.service.dataset_fixtures import (
    PATH as DATASETS,
)
from tests.service.dataset_fixtures import SMALL_LIMIT, stored_state

ARCHIVE_FIELDS = {"file", *(file_name(entity) for entity in POPULATION_ENTITIES)}


async def upload(
    client: httpx.AsyncClient, content: bytes, name: str = "population.zip"
) -> httpx.Response:
    return await client.post(
        DATASETS,
        data={"name": "hostile", "year": "2025"},
        files={"file": (name, content, "application/zip")},
    )


@settings(max_examples=SOME, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=3000),
        st.binary(max_size=500).map(lambda b: b"PK\x03\x04" + b),
        st.binary(max_size=500).map(lambda b: b"PK\x05\x06" + b.ljust(18, b"\0")),
        st.text(max_size=500).map(lambda t: ("id,household_id\n1,2\n" + t).encode()),
    )
)
async def test_bytes_that_are_no_zip_are_refused_naming_the_file(
    api: httpx.AsyncClient, admin: AsyncEngine, dataset_settings: Settings, content: bytes
) -> None:
    before = await stored_state(admin, dataset_settings)
    answer = await upload(api, content, name="population.csv")
    seen("not a zip", answer)
    # An empty zip is a zip: it is then each entity file that is missing.
    assert set(fields_of(problem_of(answer, 422))) <= ARCHIVE_FIELDS
    assert await stored_state(admin, dataset_settings) == before


@settings(max_examples=SOME, deadline=None)
@given(
    flips=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
    cut=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
)
async def test_a_damaged_archive_is_refused_or_stored_never_a_server_error(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
    flips: list[tuple[float, int]],
    cut: float | None,
) -> None:
    damaged = bytearray(synthetic_zip)
    for where, value in flips:
        damaged[int(where * len(damaged))] = value
    if cut is not None:
        damaged = damaged[: int(cut * len(damaged))]
    before = await stored_state(admin, dataset_settings)
    answer = await upload(api, bytes(damaged))
    seen("damaged zip", answer)
    if answer.status_code in (200, 201):
        return
    fields = fields_of(problem_of(answer, 422))
    assert set(fields) <= ARCHIVE_FIELDS, fields
    assert await stored_state(admin, dataset_settings) == before


UNSAFE_NAMES = st.one_of(
    st.sampled_from(
        [
            "../person.parquet",
            "../../../../tmp/fiscus-hostile",
            "/etc/passwd",
            "/person.parquet",
            "\\person.parquet",
            "..\\..\\person.parquet",
            "C:\\person.parquet",
            "C:person.parquet",
            "a/../person.parquet",
            "./person.parquet",
            "data/person.parquet",
            "person.parquet/",
            "person.parquet\x00.txt",
            "..",
            "....//person.parquet",
        ]
    ),
    st.text(min_size=1, max_size=40).map(lambda t: "../" + t),
    st.text(min_size=1, max_size=40).map(lambda t: "/" + t),
)


@settings(max_examples=SOME, deadline=None)
@given(name=UNSAFE_NAMES, replaces=st.booleans())
async def test_entries_outside_the_archive_top_level_are_refused(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
    name: str,
    replaces: bool,
) -> None:
    entry = zipfile.ZipInfo(name)

    def change(entries: dict[str, bytes]) -> dict[str, bytes]:
        if replaces:
            entries = {k: v for k, v in entries.items() if k != "person.parquet"}
        return entries

    archive = io.BytesIO(rezip(synthetic_zip, change))
    with zipfile.ZipFile(archive, "a") as editable:
        editable.writestr(entry, b"* * * * * root true")
    before = await stored_state(admin, dataset_settings)
    answer = await upload(api, archive.getvalue())
    seen("unsafe entry", answer)
    problem = problem_of(answer, 422)
    fields = fields_of(problem)
    # zipfile cuts a name at its first NUL, on writing as on reading: such an entry is
    # then the entity file it names, judged as one.
    stored = entry.filename
    assert set(fields) <= ARCHIVE_FIELDS, problem
    if stored not in ARCHIVE_FIELDS:
        assert "file" in fields, problem
    unsafe = stored.startswith(("/", "\\")) or ".." in stored.replace("\\", "/").split("/")
    if unsafe:
        assert any("unsafe path" in e["message"] for e in problem["errors"]), problem
    assert await stored_state(admin, dataset_settings) == before
    assert not (dataset_settings.data_dir.parent / "fiscus-hostile").exists()


def zip_bomb(sound: bytes, inflated: int, *, lie: bool) -> bytes | None:
    """A sound archive whose person.parquet is zeros deflated into a few hundred KB;
    `lie`: its headers declare 1 byte instead (None when that cannot be patched)."""
    raw = bytearray(rezip(sound, lambda entries: {**entries, "person.parquet": bytes(inflated)}))
    if lie:
        true_size = inflated.to_bytes(4, "little")
        if raw.count(true_size) != 2:
            return None
        raw = raw.replace(true_size, (1).to_bytes(4, "little"))
    return bytes(raw)


@settings(max_examples=FEW, deadline=None)
@given(factor=st.integers(min_value=2, max_value=60), lie=st.booleans())
async def test_a_zip_bomb_is_refused_without_inflating_it(
    small_api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
    factor: int,
    lie: bool,
) -> None:
    inflated = factor * SMALL_LIMIT
    bomb = zip_bomb(synthetic_zip, inflated, lie=lie)
    assume(bomb is not None)
    assert bomb is not None and len(bomb) < SMALL_LIMIT
    before = await stored_state(admin, dataset_settings)
    tracemalloc.start()
    try:
        answer = await upload(small_api, bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seen("zip bomb", answer)
    problem = problem_of(answer, 422)
    (error,) = problem["errors"]
    if lie:
        # Declared 1 byte: zipfile reads no more than that, and the entry fails its check.
        assert error["field"] == "person.parquet", problem
        assert error["message"].startswith("cannot be read from the archive"), problem
    else:
        assert error["field"] == "file", problem
        assert error["message"].endswith(f"over the limit of {SMALL_LIMIT} bytes"), problem
    # Nothing near the inflated size is ever held: reading stops at the limit.
    assert peak < 8 * 1024 * 1024, (peak, inflated)
    most = MEASURED["zip bomb max inflated bytes"]
    MEASURED["zip bomb max inflated bytes"] = max(most, inflated)
    most = MEASURED["zip bomb max peak traced bytes"]
    MEASURED["zip bomb max peak traced bytes"] = max(most, peak)
    assert await stored_state(admin, dataset_settings) == before


@settings(max_examples=FEW, deadline=None)
@given(extra=st.integers(min_value=1, max_value=2 * SMALL_LIMIT))
async def test_an_upload_over_the_limit_is_413_naming_the_file(
    small_api: httpx.AsyncClient, admin: AsyncEngine, dataset_settings: Settings, extra: int
) -> None:
    before = await stored_state(admin, dataset_settings)
    answer = await upload(small_api, bytes(SMALL_LIMIT + extra))
    seen("oversize", answer)
    assert fields_of(problem_of(answer, 413)) == ["file"]
    assert await stored_state(admin, dataset_settings) == before


COLUMN_VALUES = st.sampled_from(
    [
        "text",
        "floats with NaN",
        "booleans",
        "nulls",
        "huge",
        "negative",
        "fractions",
        "mixed objects",
    ]
)


def replaced(frame: pd.DataFrame, column: str, kind: str) -> pd.DataFrame:
    rows = len(frame)
    values: Any = {
        "text": [f"id-{i}" for i in range(rows)],
        "floats with NaN": [math.nan if i % 2 else 1.0 * i for i in range(rows)],
        "booleans": [i % 2 == 0 for i in range(rows)],
        "nulls": [None] * rows,
        "huge": [2**62 + i for i in range(rows)],
        "negative": [-1 - i for i in range(rows)],
        "fractions": [i + 0.5 for i in range(rows)],
        "mixed objects": [str(i) if i % 2 else i for i in range(rows)],
    }[kind]
    return frame.assign(
        **{column: pd.Series(values, dtype=object if kind.startswith("m") else None)}
    )


@settings(max_examples=SOME, deadline=None)
@given(data=st.data(), kind=COLUMN_VALUES)
async def test_wrong_column_types_are_refused_naming_the_file(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
    data: st.DataObject,
    kind: str,
) -> None:
    with zipfile.ZipFile(io.BytesIO(synthetic_zip)) as archive:
        frames = {
            entity: pd.read_parquet(io.BytesIO(archive.read(file_name(entity))))
            for entity in POPULATION_ENTITIES
        }
    entity = data.draw(st.sampled_from(POPULATION_ENTITIES), label="entity")
    column = data.draw(st.sampled_from(sorted(frames[entity].columns)), label="column")
    try:
        changed = to_parquet_bytes(replaced(frames[entity], column, kind))
    except Exception:  # pyarrow cannot write this mix at all: nothing to upload
        return
    target = file_name(entity)
    before = await stored_state(admin, dataset_settings)
    answer = await upload(api, rezip(synthetic_zip, lambda e: {**e, target: changed}))
    seen("column types", answer)
    if answer.status_code in (200, 201):
        return
    fields = fields_of(problem_of(answer, 422))
    assert set(fields) <= {file_name(e) for e in POPULATION_ENTITIES}, fields
    assert await stored_state(admin, dataset_settings) == before


@settings(max_examples=SOME, deadline=None)
@given(
    link=st.sampled_from(
        [
            "person_household_id",
            "person_tax_unit_id",
            "person_family_id",
            "person_spm_unit_id",
            "person_marital_unit_id",
        ]
    ),
    missing=st.integers(min_value=10**9, max_value=2**53),
    rows=st.sets(st.integers(min_value=0, max_value=39), min_size=1, max_size=10),
)
async def test_links_to_ids_that_do_not_exist_are_refused_naming_them(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic_zip: bytes,
    link: str,
    missing: int,
    rows: set[int],
) -> None:
    with zipfile.ZipFile(io.BytesIO(synthetic_zip)) as archive:
        person = pd.read_parquet(io.BytesIO(archive.read("person.parquet")))
    links = person[link].copy()
    for row in rows:
        links.iloc[row % len(links)] = missing
    broken = to_parquet_bytes(person.assign(**{link: links}))
    before = await stored_state(admin, dataset_settings)
    answer = await upload(api, rezip(synthetic_zip, lambda e: {**e, "person.parquet": broken}))
    seen("broken links", answer)
    problem = problem_of(answer, 422)
    assert "person.parquet" in fields_of(problem)
    assert any(str(missing) in e["message"] and link in e["message"] for e in problem["errors"])
    assert await stored_state(admin, dataset_settings) == before


@settings(max_examples=SOME, deadline=None)
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        [
            "multipart/form-data; boundary=fiscus",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "text/csv",
            "application/zip",
        ]
    ),
)
async def test_garbage_upload_bodies_are_4xx_problems(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    body: bytes,
    content_type: str,
) -> None:
    before = await stored_state(admin, dataset_settings)
    answer = await api.post(DATASETS, content=body, headers={"content-type": content_type})
    seen("garbage body", answer)
    problem_of(answer, 400, 413, 415, 422)
    assert await stored_state(admin, dataset_settings) == before


def test_damaged_archives_never_raise_out_of_the_reader() -> None:
    """The archive reader alone, on many more damaged zips than the API sees above."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entity in POPULATION_ENTITIES:
            archive.writestr(file_name(entity), bytes(range(256)) * 20 + b"a" * 5000)
    sound = buffer.getvalue()

    @settings(max_examples=400, deadline=None)
    @given(
        flips=st.lists(
            st.tuples(st.integers(0, len(sound) - 1), st.integers(0, 255)), min_size=1, max_size=8
        )
    )
    def reads(flips: list[tuple[int, int]]) -> None:
        damaged = bytearray(sound)
        for where, value in flips:
            damaged[where] = value
        content = read_population_archive(io.BytesIO(bytes(damaged)), max_uncompressed_bytes=10**6)
        TALLY["archive reader"] += 1
        assert content.files or content.errors

    reads()


async def test_a_nul_character_in_stored_text_is_422_not_500(
    api: httpx.AsyncClient, admin: AsyncEngine, dataset_settings: Settings
) -> None:
    """Postgres holds no NUL character: a field stored unchecked is still refused as input."""
    before = await stored_state(admin, dataset_settings)
    answer = await api.post(
        f"{DATASETS}/synthetic", json={"name": "nul\x00name", "households": 10, "seed": 1}
    )
    seen("nul text", answer)
    assert fields_of(problem_of(answer, 422)) == ["body"]
    assert (await stored_state(admin, dataset_settings))[:2] == before[:2]
