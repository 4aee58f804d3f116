"""Reading uploaded population zips safely, and writing download zips."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from services.dataset.domain.archive import (
    ArchiveContent,
    read_population_archive,
    stream_population_archive,
)
from services.dataset.domain.intake import check_upload
from shared.population import ENTITIES, file_name, to_parquet_bytes
from shared.problems import FieldError
from tests.unit.population_cases import sound_population

LIMIT = 1024 * 1024


def entity_files() -> dict[str, bytes]:
    return {entity: to_parquet_bytes(frame) for entity, frame in sound_population().items()}


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def sound_entries() -> dict[str, bytes]:
    return {file_name(entity): data for entity, data in entity_files().items()}


def read(source: io.BytesIO, limit: int = LIMIT) -> ArchiveContent:
    return read_population_archive(source, max_uncompressed_bytes=limit)


def test_a_sound_archive_yields_the_six_files_unchanged() -> None:
    content = read(zipped(sound_entries()))
    assert content.errors == []
    assert content.files == entity_files()


def test_stored_entries_are_read_too() -> None:
    content = read(zipped(sound_entries(), compression=zipfile.ZIP_STORED))
    assert content.errors == []


def test_not_a_zip() -> None:
    content = read(io.BytesIO(b"PAR1 not a zip at all"))
    assert [e.field for e in content.errors] == ["file"]
    assert content.errors[0].message.startswith("is not a readable zip archive")


def test_a_missing_file_is_named() -> None:
    entries = sound_entries()
    del entries["spm_unit.parquet"]
    assert read(zipped(entries)).errors == [
        FieldError(field="spm_unit.parquet", message="missing from the archive")
    ]


def test_an_unexpected_entry_is_refused() -> None:
    entries = {**sound_entries(), "notes.txt": b"hello"}
    (error,) = read(zipped(entries)).errors
    assert error.field == "file"
    assert error.message.startswith("unexpected entry 'notes.txt'")


@pytest.mark.parametrize(
    "name", ["../person.parquet", "/person.parquet", "a/../../person.parquet", "C:person.parquet"]
)
def test_unsafe_paths_are_refused(name: str) -> None:
    entries = {**sound_entries(), name: b"x"}
    errors = read(zipped(entries)).errors
    assert FieldError(field="file", message=f"entry {name!r} has an unsafe path") in errors


def test_directories_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.mkdir("data")
        for name, data in sound_entries().items():
            archive.writestr(name, data)
    buffer.seek(0)
    (error,) = read(buffer).errors
    assert error.field == "file"
    assert error.message.startswith("entry 'data/' is a directory")


def test_files_inside_a_folder_are_refused_once() -> None:
    entries = {f"data/{name}": data for name, data in sound_entries().items()}
    errors = read(zipped(entries)).errors
    assert len(errors) == len(ENTITIES)
    assert all("is inside a folder" in e.message for e in errors)


def test_a_repeated_entry_is_refused() -> None:
    buffer = zipped(sound_entries())
    with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning):
        archive.writestr("person.parquet", b"again")
    buffer.seek(0)
    assert read(buffer).errors == [
        FieldError(field="file", message="entry 'person.parquet' appears more than once")
    ]


def test_symbolic_links_are_refused() -> None:
    entries = sound_entries()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if name == "household.parquet":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = b"/etc/passwd"
            archive.writestr(info, data)
    buffer.seek(0)
    assert read(buffer).errors == [
        FieldError(field="file", message="entry 'household.parquet' is a symbolic link")
    ]


def test_compression_without_a_size_cap_is_refused() -> None:
    (error, *_) = read(zipped(sound_entries(), compression=zipfile.ZIP_BZIP2)).errors
    assert "unsupported compression method" in error.message


def test_a_zip_bomb_is_refused_before_decompressing() -> None:
    entries = {**sound_entries(), "person.parquet": bytes(20 * LIMIT)}
    bomb = zipped(entries)
    assert len(bomb.getvalue()) < LIMIT / 10
    (error,) = read(bomb).errors
    assert error.field == "file"
    assert error.message.startswith("uncompressed content is ")
    assert error.message.endswith(f"over the limit of {LIMIT} bytes")


def test_an_entry_larger_than_it_declares_is_cut_off() -> None:
    """Declared sizes are lies in a crafted bomb: decompression stops at the limit anyway."""
    entries = {**sound_entries(), "person.parquet": bytes(4 * LIMIT)}
    buffer = zipped(entries)
    raw = bytearray(buffer.getvalue())
    # Rewrite the person entry's declared size to 1 byte, in its local and central headers.
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo("person.parquet")
        true_size = info.file_size
    true_field = true_size.to_bytes(4, "little")
    assert raw.count(true_field) == 2
    raw = raw.replace(true_field, (1).to_bytes(4, "little"))
    content = read(io.BytesIO(bytes(raw)))
    assert content.files == {}
    (error,) = content.errors
    assert error.field == "person.parquet"
    assert error.message.startswith("cannot be read from the archive")


def test_check_upload_names_an_unreadable_parquet_file() -> None:
    entries = {**sound_entries(), "family.parquet": b"PAR1 garbage"}
    checked = check_upload(zipped(entries), max_uncompressed_bytes=LIMIT)
    assert checked.population is None
    (error,) = checked.errors
    assert error.field == "family.parquet"
    assert error.message.startswith("is not a readable Parquet file")


def test_check_upload_accepts_a_sound_archive() -> None:
    checked = check_upload(zipped(sound_entries()), max_uncompressed_bytes=LIMIT)
    assert checked.errors == []
    assert checked.population is not None
    assert checked.population.files == entity_files()
    assert checked.population.summary.states == ("CA", "NY")


def test_a_streamed_download_holds_the_six_files_and_is_reproducible() -> None:
    files = entity_files()

    def sources() -> list[tuple[str, int, list[bytes]]]:
        # Several chunks per file, as storage hands them over.
        return [
            (entity, len(data), [data[i : i + 100] for i in range(0, len(data), 100)])
            for entity, data in files.items()
        ]

    chunks = list(stream_population_archive(sources()))
    assert len(chunks) > len(files)
    body = b"".join(chunks)
    assert body == b"".join(stream_population_archive(sources()))
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [file_name(entity) for entity in files]
        assert {n: archive.read(n) for n in archive.namelist()} == sound_entries()
    # The download is itself a sound upload.
    assert read(io.BytesIO(body)).files == files
