"""Zip archives of a population's six entity files: reading uploads, writing downloads.

An upload's archive holds `<entity>.parquet` for each entity, or `<entity>.csv`.

An upload is untrusted: entry names, declared sizes and compression are checked
before anything is decompressed, and decompression stops at the size limit whatever
the archive declares, so a zip bomb costs at most the limit.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from shared.population import ENTITIES, file_name
from shared.problems import FieldError

UPLOAD_FIELD = "file"
READ_CHUNK = 1024 * 1024
# Deflate's decompressor honours a size cap per call; bzip2 and LZMA do not, so a
# single read of theirs could expand without bound.
ACCEPTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# What a damaged or hostile archive or entry raises on reading: zipfile lets a corrupt deflate
# stream's zlib.error, and an unsupported version or encryption flag
# (NotImplementedError, RuntimeError), through unwrapped.
UNREADABLE_ZIP = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)
# A fixed timestamp keeps a dataset's download byte-identical from one request to the next.
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)
PARQUET, CSV = "parquet", "csv"


def entry_name(entity: str, kind: str = PARQUET) -> str:
    return f"{entity}.{kind}"


def _expected(kind: str) -> str:
    return ", ".join(entry_name(entity, kind) for entity in ENTITIES)


EXPECTED = f"{_expected(PARQUET)} (or the same names ending in .csv)"


@dataclass(frozen=True)
class ArchiveContent:
    """The six entity files read from an archive, or the problems that stopped it."""

    files: dict[str, bytes]
    errors: list[FieldError]
    kind: str = PARQUET


def read_population_archive(source: IO[bytes], *, max_uncompressed_bytes: int) -> ArchiveContent:
    """The entity files of a zip holding exactly `<entity>.parquet` (or `.csv`) for the six
    entities."""
    try:
        archive = zipfile.ZipFile(source)
    except UNREADABLE_ZIP as exc:
        return ArchiveContent({}, [_problem(f"is not a readable zip archive ({exc})")])
    with archive:
        kind = _kind(archive.infolist())
        entries, errors = _entries(archive.infolist(), kind)
        declared = sum(entry.file_size for entry in entries.values())
        if declared > max_uncompressed_bytes:
            errors.append(_too_large(declared, max_uncompressed_bytes))
        if errors:
            return ArchiveContent({}, errors)
        files: dict[str, bytes] = {}
        budget = max_uncompressed_bytes
        for entity, entry in entries.items():
            try:
                data = _read_capped(archive, entry, budget)
            except _OverBudget:
                return ArchiveContent({}, [_too_large(None, max_uncompressed_bytes)])
            except UNREADABLE_ZIP as exc:
                message = f"cannot be read from the archive ({exc})"
                field = entry_name(entity, kind)
                return ArchiveContent({}, [FieldError(field=field, message=message)], kind)
            budget -= len(data)
            files[entity] = data
    return ArchiveContent(files, [], kind)


def _kind(infos: list[zipfile.ZipInfo]) -> str:
    """CSV when an entry is named as an entity's CSV file, Parquet otherwise."""
    csv_names = {entry_name(entity, CSV) for entity in ENTITIES}
    return CSV if any(info.filename in csv_names for info in infos) else PARQUET


def _entries(
    infos: list[zipfile.ZipInfo], kind: str
) -> tuple[dict[str, zipfile.ZipInfo], list[FieldError]]:
    """The archive's entry for each entity, checking every entry's name and kind."""
    wanted = {entry_name(entity, kind): entity for entity in ENTITIES}
    expected = _expected(kind)
    entries: dict[str, zipfile.ZipInfo] = {}
    errors: list[FieldError] = []
    for info in infos:
        name = info.filename
        problem = _entry_problem(info)
        if problem is None and name not in wanted:
            problem = f"unexpected entry {name!r}: the archive must hold only {expected}"
        if problem is None and wanted[name] in entries:
            problem = f"entry {name!r} appears more than once"
        if problem is not None:
            errors.append(_problem(problem))
            continue
        entries[wanted[name]] = info
    for entity in ENTITIES:
        if entity not in entries and not any(_names(i.filename, entity, kind) for i in infos):
            field = entry_name(entity, kind)
            errors.append(FieldError(field=field, message="missing from the archive"))
    return entries, errors


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if not name:
        # An empty name (or one cut at a leading NUL); ZipInfo.is_dir() fails on it.
        return "an entry has an empty name"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or ":" in name or "\x00" in name:
        return f"entry {name!r} has an unsafe path"
    if info.is_dir():
        return f"entry {name!r} is a directory: put {EXPECTED} at the top of the archive"
    if len(parts) > 1:
        return f"entry {name!r} is inside a folder: put the files at the top of the archive"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"entry {name!r} is a symbolic link"
    if info.flag_bits & 0x1:
        return f"entry {name!r} is encrypted"
    if info.compress_type not in ACCEPTED_COMPRESSION:
        return f"entry {name!r} uses an unsupported compression method (use stored or deflate)"
    return None


def _names(name: str, entity: str, kind: str) -> bool:
    """Whether an entry is the entity's file, if perhaps a refused one (`data/person.parquet`).

    A refused entry is reported as such, not also as a missing file.
    """
    return name.replace("\\", "/").rsplit("/", 1)[-1] == entry_name(entity, kind)


class _OverBudget(Exception):
    """An entry decompressed to more than the archive declared or the limit allows."""


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Decompress one entry, refusing to produce more than `budget` bytes."""
    buffer = bytearray()
    with archive.open(info) as handle:
        while chunk := handle.read(READ_CHUNK):
            buffer.extend(chunk)
            if len(buffer) > budget:
                raise _OverBudget(info.filename)
    return bytes(buffer)


def _too_large(declared: int | None, limit: int) -> FieldError:
    size = f"{declared} bytes" if declared is not None else "more"
    return _problem(f"uncompressed content is {size}, over the limit of {limit} bytes")


def _problem(message: str) -> FieldError:
    return FieldError(field=UPLOAD_FIELD, message=message)


class _ChunkSink:
    """A write-only, unseekable stream whose output is handed on chunk by chunk."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        chunk, self._chunks = b"".join(self._chunks), []
        return chunk


def stream_population_archive(
    files: Iterable[tuple[str, int, Iterable[bytes]]],
) -> Iterator[bytes]:
    """A zip of `(entity, size, chunks)` files, produced as it is written.

    Parquet is already compressed, so entries are stored as they are.
    """
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entity, size, chunks in files:
            info = zipfile.ZipInfo(file_name(entity), date_time=ENTRY_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.file_size = size
            with archive.open(info, mode="w") as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    if pending := sink.drain():
                        yield pending
            if pending := sink.drain():
                yield pending
    if pending := sink.drain():
        yield pending
